import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { decoders as d, errors, type Decoder, type GradientOracle, type Matrix, type Probe, type ProbeError } from '@sonde/oracle'
import type { LogisticRegression, SoftmaxRegression, TwoLayerRelu } from '@sonde/models'
import type { Extraction } from './extraction.js'
import { extractLinear } from './linear.js'
import { gradientMatchingCopy, type GradientMatchingResult } from './matching.js'
import { extractReluNetwork, type ReluExtractionOptions } from './relu.js'

const noOptions: Decoder<Record<string, never>> = (u, path = 'options') =>
  u === undefined || (typeof u === 'object' && u !== null && Object.keys(u).length === 0)
    ? E.right({})
    : E.left(errors.invalidOptions([{ path, message: 'takes no options' }]))

/**
 * Registry descriptor of {@link extractLinear}: K gradient rows + 1 value row.
 *
 * @example
 * const registry = makeRegistry([linearExtractionProbe, reluExtractionProbe, gradientMatchingProbe])
 */
export const linearExtractionProbe: Probe<GradientOracle, Record<string, never>, Extraction<SoftmaxRegression | LogisticRegression> & { readonly seed: number }> = {
  id: 'sonde/gradient-extraction/linear',
  summary: 'rebuild a linear or softmax model exactly from one gradient explanation per class and one score query',
  requires: ['gradients', 'scores'],
  options: noOptions,
  run: (oracle, _options, ctx) => F.pipe(extractLinear(oracle), TE.map((r) => ({ ...r, seed: ctx.seed }))),
}

const reluOptions = d.struct({
  hiddenUnits: d.optional(d.number({ integer: true, min: 1 })),
  hiddenBias: d.optional(d.boolean),
  maxGradientRows: d.optional(d.number({ integer: true, min: 1 })),
  verifyPoints: d.optional(d.number({ integer: true, min: 0 })),
  tolerance: d.optional(d.number({ greaterThan: 0 })),
})

/**
 * Registry descriptor of {@link extractReluNetwork}; the seed comes from the probe context.
 *
 * @example
 * await toPromise(runProbe(reluExtractionProbe, explanationApi, {}, makeContext({ seed: 1 })))
 */
export const reluExtractionProbe: Probe<GradientOracle, Omit<ReluExtractionOptions, 'seed'>, Extraction<TwoLayerRelu> & { readonly seed: number }> = {
  id: 'sonde/gradient-extraction/relu',
  summary: 'rebuild a two-layer ReLU network exactly from gradient explanations (queries flat in the input dimension)',
  requires: ['gradients'],
  options: reluOptions as Decoder<Omit<ReluExtractionOptions, 'seed'>>,
  run: (oracle, options, ctx) => F.pipe(extractReluNetwork(oracle, { ...options, seed: ctx.seed }), TE.map((r) => ({ ...r, seed: ctx.seed }))),
}

const matchingOptions = d.struct({
  pool: d.array(d.array(d.number()), { minLength: 1 }),
  queries: d.optional(d.number({ integer: true, min: 1 })),
  fit: d.optional(d.literal('logits', 'labels')),
  lambda: d.optional(d.number({ min: 0 })),
  hidden: d.optional(d.array(d.number({ integer: true, min: 1 }))),
  epochs: d.optional(d.number({ integer: true, min: 1 })),
  learningRate: d.optional(d.number({ greaterThan: 0 })),
  batchSize: d.optional(d.number({ integer: true, min: 1 })),
})

/** Options of {@link gradientMatchingProbe}: the pool as rows of numbers, plus the copy's settings. */
export type GradientMatchingProbeOptions = typeof matchingOptions extends Decoder<infer A> ? A : never

const toMatrix = (rows: readonly (readonly number[])[]): E.Either<ProbeError, Matrix> => {
  const cols = rows[0]!.length
  if (rows.some((r) => r.length !== cols)) return E.left(errors.invalidOptions([{ path: 'options.pool', message: 'rows have different lengths' }]))
  return E.right({ rows: rows.length, cols, data: Float64Array.from(rows.flat()) })
}

/**
 * Registry descriptor of {@link gradientMatchingCopy}; the seed comes from the probe context.
 *
 * @example
 * await toPromise(runProbe(gradientMatchingProbe, explanationApi, { pool, queries: 50 }, makeContext({ seed: 1 })))
 */
export const gradientMatchingProbe: Probe<GradientOracle, GradientMatchingProbeOptions, GradientMatchingResult> = {
  id: 'sonde/gradient-extraction/gradient-matching',
  summary: 'copy a classifier from values and gradient explanations at pool points (a tfjs MLP trained to match both)',
  requires: ['gradients'],
  options: matchingOptions,
  run: (oracle, options, ctx) =>
    F.pipe(
      TE.fromEither(toMatrix(options.pool)),
      TE.chain((pool) => {
        const { pool: _pool, ...rest } = options
        return gradientMatchingCopy(oracle, pool, { ...rest, seed: ctx.seed })
      }),
    ),
}
