import { either as E, taskEither as TE } from 'fp-ts'
import {
  addUsage,
  createRng,
  errors,
  permutation,
  schemas,
  z,
  type Capability,
  type GradientOracle,
  type Matrix,
  type MissingCapability,
  type Oracle,
  type Probe,
  type ProbeContext,
  type ProbeError,
  type ProbeResult,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { guarded } from './boundary.js'
import { compareOracles, type Fidelity } from './extraction.js'
import { extractLinear, type LinearExtraction } from './linear.js'
import { linearFields, matchingFields, reluFields } from './options.js'
import { linearReport, matchingReport, reluReport } from './report.js'
import { extractReluNetwork, type ReluExtraction } from './relu.js'

const controlOf = (ctx: ProbeContext): RunControl => ({ ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}), progress: ctx.progress, log: ctx.log })

// ---------------------------------------------------------------------------------------------
// linear

const linearOptions = z.object(linearFields).strict()

/** Options of {@link linearExtractionProbe}. */
export type LinearExtractionProbeOptions = z.output<typeof linearOptions>

/** What {@link linearExtractionProbe} returns: the extraction, and its check at random points. */
export interface LinearExtractionProbeResult extends LinearExtraction {
  /** The extraction's queries plus the check's. */
  readonly queries: QueryUsage
  /** What the extraction alone spent (K gradient rows, 1 value row). */
  readonly extractionQueries: QueryUsage
  /** The comparison with the oracle at `verifyPoints` random points; absent when it is 0. */
  readonly verification?: Fidelity
}

/**
 * Registry descriptor of {@link extractLinear}: K gradient rows + 1 value row, then a check of the answer at
 * `verifyPoints` random points (value rows, drawn with the context's seed).
 *
 * @example
 * import { makeContext, runProbe, toPromise } from '@sonde/oracle'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { linearExtractionProbe } from '@sonde/gradient-extraction'
 *
 * const explanationApi = SoftmaxRegression.random(784, 10, 1)
 * const r = await toPromise(runProbe(linearExtractionProbe, explanationApi, { verifyPoints: 8 }, makeContext({ seed: 1 })))
 * const error = r.verification?.maxRelativeError // ~1e-15 for a linear model
 */
export const linearExtractionProbe: Probe<GradientOracle, LinearExtractionProbeOptions, LinearExtractionProbeResult> = {
  id: 'sonde/gradient-extraction/linear',
  summary: 'rebuild a linear or softmax model exactly from one gradient explanation per class and one score query, then check it at random points',
  requires: ['gradients', 'scores'],
  options: linearOptions,
  run: (oracle, options, ctx) =>
    guarded('the linear extraction probe', async () => {
      const ex = await extractLinear(oracle, { seed: ctx.seed, ...controlOf(ctx) })()
      if (E.isLeft(ex)) return ex
      if (options.verifyPoints === 0) return E.right({ ...ex.right, extractionQueries: ex.right.queries })
      const fid = await ex.right.fidelity({ count: options.verifyPoints, seed: ctx.seed })()
      if (E.isLeft(fid)) return fid
      ctx.progress({ stage: 'verifying', done: options.verifyPoints, total: options.verifyPoints })
      return E.right({ ...ex.right, queries: addUsage(ex.right.queries, fid.right.queries), extractionQueries: ex.right.queries, verification: fid.right })
    }),
  report: linearReport,
}

// ---------------------------------------------------------------------------------------------
// relu

const reluOptions = z.object(reluFields).strict()

/** Options of {@link reluExtractionProbe}: those of {@link extractReluNetwork} but the seed (from the context). */
export type ReluExtractionProbeOptions = z.output<typeof reluOptions>

/**
 * Registry descriptor of {@link extractReluNetwork}; the seed, signal and progress come from the probe
 * context. It requires gradients, and logits too with `hiddenBias: true` (the default).
 *
 * @example
 * import { makeContext, runProbe, toPromise } from '@sonde/oracle'
 * import { randomTwoLayerRelu } from '@sonde/models'
 * import { reluExtractionProbe } from '@sonde/gradient-extraction'
 *
 * const explanationApi = randomTwoLayerRelu({ inputDim: 20, hidden: 4, seed: 1 })
 * const r = await toPromise(runProbe(reluExtractionProbe, explanationApi, { budget: 50_000 }, makeContext({ seed: 1 })))
 * const { hidden } = r.model // 4
 */
export const reluExtractionProbe: Probe<GradientOracle, ReluExtractionProbeOptions, ReluExtraction> = {
  id: 'sonde/gradient-extraction/relu',
  summary: 'rebuild a two-layer ReLU network exactly from gradient explanations (queries flat in the input dimension), verified at random points',
  requires: (options) => (options.hiddenBias ? ['gradients', 'logits'] : ['gradients']),
  options: reluOptions,
  run: (oracle, options, ctx) =>
    extractReluNetwork(oracle, {
      seed: ctx.seed,
      hiddenBias: options.hiddenBias,
      verifyPoints: options.verifyPoints,
      tolerance: options.tolerance,
      strategy: options.strategy,
      bisection: options.bisection,
      ...(options.budget !== undefined ? { budget: options.budget } : {}),
      ...(options.hiddenUnits !== undefined ? { hiddenUnits: options.hiddenUnits } : {}),
      ...controlOf(ctx),
    }),
  report: reluReport,
}

// ---------------------------------------------------------------------------------------------
// gradient matching

const matchingOptions = z
  .object({
    pool: schemas
      .matrix({ description: 'unlabelled points to query, rows of numbers (one column per input feature); without it, points are drawn from the oracle domain' })
      .optional(),
    ...matchingFields,
    evaluationPoints: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(500)
      .describe('points at which the copy is compared with the oracle (value rows): pool rows not queried when there are any, else random points of the domain; 0 skips it'),
  })
  .strict()

/** Options of {@link gradientMatchingProbe}: the pool as rows of numbers (optional), the copy's settings, and the evaluation. */
export type GradientMatchingProbeOptions = z.output<typeof matchingOptions>

/** How the copy of {@link gradientMatchingProbe} agrees with the oracle. */
export interface CopyEvaluation extends Fidelity {
  /** Pool rows that were not queried, or random points of the oracle's domain. */
  readonly source: 'held-out pool rows' | 'domain'
}

/** What {@link gradientMatchingProbe} returns. */
export interface GradientMatchingProbeResult extends ProbeResult {
  /** The copy as an oracle (a tfjs model underneath: call `dispose()` when done). */
  readonly copy: GradientOracle
  readonly dispose: () => void
  /** Training and evaluation queries together. */
  readonly queries: QueryUsage
  /** What training the copy asked (the points queried). */
  readonly trainingQueries: QueryUsage
  readonly pointsQueried: number
  readonly source: 'pool' | 'domain'
  readonly fit: 'logits' | 'labels'
  readonly lambda: number
  readonly hidden: readonly number[]
  readonly losses: readonly number[]
  /** Absent when `evaluationPoints` is 0. */
  readonly evaluation?: CopyEvaluation
}

const missingTfjs = (cause: unknown): MissingCapability => ({
  _tag: 'MissingCapability',
  capability: '@tensorflow/tfjs',
  message: `gradient matching trains a tfjs copy, and @sonde/gradient-extraction/tfjs could not be loaded (${cause instanceof Error ? cause.message : String(cause)}): install it with \`npm install @tensorflow/tfjs\` (and @tensorflow/tfjs-backend-wasm for speed)`,
})

const takeRows = (m: Matrix, rows: ArrayLike<number>): Matrix => {
  const out: Matrix = { rows: rows.length, cols: m.cols, data: new Float64Array(rows.length * m.cols) }
  for (let i = 0; i < rows.length; i++) out.data.set(m.data.subarray(rows[i]! * m.cols, (rows[i]! + 1) * m.cols), i * m.cols)
  return out
}

/**
 * Registry descriptor of `gradientMatchingCopy` (from `@sonde/gradient-extraction/tfjs`, loaded only when it
 * runs: this entry imports no tfjs; without tfjs installed it ends in `MissingCapability` naming what to
 * install). With a pool, `budget` of its rows are queried and the copy is compared with the oracle on rows not
 * queried; without one, points are drawn from the oracle's domain with the context's seed. Requires gradients
 * when `lambda > 0`, and logits with `fit: 'logits'`.
 *
 * @example
 * // fragment: loads tfjs when it runs; an explanation API and unlabelled inputs as rows of numbers
 * import { makeContext, runProbe, toPromise, type GradientOracle } from '@sonde/oracle'
 * import { gradientMatchingProbe } from '@sonde/gradient-extraction'
 *
 * declare const explanationApi: GradientOracle
 * declare const pool: number[][]
 * const r = await toPromise(runProbe(gradientMatchingProbe, explanationApi, { pool, budget: 50 }, makeContext({ seed: 1 })))
 */
export const gradientMatchingProbe: Probe<Oracle, GradientMatchingProbeOptions, GradientMatchingProbeResult> = {
  id: 'sonde/gradient-extraction/gradient-matching',
  summary: 'copy a classifier from values and gradient explanations (a tfjs MLP trained to match both) and measure how often the copy agrees with it',
  requires: (options) => [...(options.lambda > 0 ? (['gradients'] as Capability[]) : []), options.fit === 'logits' ? 'logits' : 'labels'],
  options: matchingOptions,
  run: (oracle, options, ctx) =>
    guarded('the gradient-matching probe', async () => {
      const { pool, evaluationPoints, ...copyOptions } = options
      if (pool !== undefined && pool.cols !== oracle.info.inputDim) {
        return E.left(errors.invalidOptions([{ path: 'options.pool', message: `has ${pool.cols} columns; the oracle takes ${oracle.info.inputDim} (info.inputDim)` }]))
      }
      const n = options.budget ?? pool?.rows ?? 100
      if (pool !== undefined && n > pool.rows) return E.left(errors.invalidOptions([{ path: 'options.budget', message: `is ${n}; the pool has only ${pool.rows} rows` }]))
      let side: typeof import('./tfjs/index.js')
      try {
        side = await import('./tfjs/index.js')
      } catch (cause) {
        return E.left(missingTfjs(cause))
      }
      // With a pool: the queried rows and the held-out rows come from one seeded shuffle.
      let trainPool: Matrix | undefined
      let heldOut: Matrix | undefined
      if (pool !== undefined) {
        const order = permutation(pool.rows, createRng(ctx.seed))
        trainPool = takeRows(pool, order.subarray(0, n))
        const rest = Math.min(evaluationPoints, pool.rows - n)
        if (rest > 0) heldOut = takeRows(pool, order.subarray(n, n + rest))
      }
      const r = await side.gradientMatchingCopy(oracle, trainPool, { ...copyOptions, budget: n, seed: ctx.seed, ...controlOf(ctx) })()
      if (E.isLeft(r)) return r
      const base = {
        copy: r.right.copy,
        dispose: () => r.right.model.dispose(),
        trainingQueries: r.right.queries,
        pointsQueried: n,
        source: pool !== undefined ? ('pool' as const) : ('domain' as const),
        fit: options.fit,
        lambda: options.lambda,
        hidden: [...options.hidden],
        losses: r.right.losses,
        seed: ctx.seed,
      }
      if (evaluationPoints === 0) return E.right({ ...base, queries: r.right.queries })
      const points = heldOut ?? { count: evaluationPoints, seed: ctx.seed + (ctx.seed < 0 ? 1 : -1) }
      const fid = await compareOracles(oracle, r.right.copy, points)()
      if (E.isLeft(fid)) {
        r.right.model.dispose()
        return fid
      }
      ctx.progress({ stage: 'evaluating', done: fid.right.rows, total: fid.right.rows })
      return E.right({
        ...base,
        queries: addUsage(r.right.queries, fid.right.queries),
        evaluation: { ...fid.right, source: heldOut !== undefined ? ('held-out pool rows' as const) : ('domain' as const) },
      })
    }) as TE.TaskEither<ProbeError, GradientMatchingProbeResult>,
  report: matchingReport,
}
