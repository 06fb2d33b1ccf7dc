import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { decoders as d, errors, type Decoder, type Matrix, type Oracle, type Probe, type ProbeError } from '@sonde/oracle'
import type { TwiceDifferentiable } from '@sonde/models'
import { influenceOnTest, mostInfluential, type InfluenceScores } from './influence.js'
import type { InverseHvpOptions } from './inverse-hvp.js'

const examples = d.struct({
  x: d.array(d.array(d.number()), { minLength: 1 }),
  y: d.array(d.number({ integer: true, min: 0 })),
})

const options = d.struct({
  train: examples,
  test: examples,
  method: d.optional(d.literal('exact', 'cg', 'lissa')),
  damping: d.optional(d.number({ min: 0 })),
  tol: d.optional(d.number({ greaterThan: 0 })),
  maxIter: d.optional(d.number({ integer: true, min: 1 })),
  scale: d.optional(d.number({ greaterThan: 0 })),
  depth: d.optional(d.number({ integer: true, min: 1 })),
  repeats: d.optional(d.number({ integer: true, min: 1 })),
  batchSize: d.optional(d.number({ integer: true, min: 1 })),
  top: d.optional(d.number({ integer: true, min: 1 })),
})

/** Options of {@link influenceProbe}: training and test examples as rows of numbers, plus the solver's settings. */
export type InfluenceProbeOptions = typeof options extends Decoder<infer A> ? A : never

/** What {@link influenceProbe} returns: the scores, and per test point its most helpful and harmful training rows. */
export interface InfluenceProbeResult extends InfluenceScores {
  readonly helpful: readonly Int32Array[]
  readonly harmful: readonly Int32Array[]
  readonly seed: number
}

const toExamples = (e: { readonly x: readonly (readonly number[])[]; readonly y: readonly number[] }, path: string): E.Either<ProbeError, { x: Matrix; y: Int32Array }> => {
  const cols = e.x[0]!.length
  if (e.x.some((r) => r.length !== cols)) return E.left(errors.invalidOptions([{ path: `${path}.x`, message: 'rows have different lengths' }]))
  if (e.y.length !== e.x.length) return E.left(errors.invalidOptions([{ path: `${path}.y`, message: `has ${e.y.length} labels for ${e.x.length} rows` }]))
  return E.right({ x: { rows: e.x.length, cols, data: Float64Array.from(e.x.flat()) }, y: Int32Array.from(e.y) })
}

/**
 * Registry descriptor of {@link influenceOnTest}: needs a white-box model (one that is also
 * {@link TwiceDifferentiable}); LiSSA's seed comes from the probe context. Spends no oracle queries.
 *
 * @example
 * const r = await toPromise(runProbe(influenceProbe, model, { train, test, method: 'cg', top: 5 }, makeContext({ seed: 1 })))
 */
export const influenceProbe: Probe<Oracle & TwiceDifferentiable, InfluenceProbeOptions, InfluenceProbeResult> = {
  id: 'sonde/influence',
  summary: 'which training points raise or lower each test loss (influence functions: exact, CG or LiSSA inverse Hessian)',
  requires: ['whitebox'],
  options,
  run: (model, o, ctx) =>
    F.pipe(
      E.Do,
      E.bind('train', () => toExamples(o.train, 'options.train')),
      E.bind('test', () => toExamples(o.test, 'options.test')),
      E.chain(({ train, test }) => {
        const { train: _t, test: _s, top, ...solver } = o
        return influenceOnTest(model, train, test, { ...(solver as InverseHvpOptions), seed: ctx.seed })
      }),
      E.map((scores) => {
        const k = o.top ?? 10
        const rows = Array.from({ length: scores.scores.rows }, (_, a) => a)
        return {
          ...scores,
          helpful: rows.map((a) => mostInfluential(scores, a, k, 'helpful')),
          harmful: rows.map((a) => mostInfluential(scores, a, k, 'harmful')),
          seed: ctx.seed,
        }
      }),
      TE.fromEither,
    ),
}
