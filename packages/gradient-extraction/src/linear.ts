import { either as E, taskEither as TE } from 'fp-ts'
import { checkSignal, errors, featureBounds, stage, type GradientOracle, type Matrix, type OracleInfo, type ProbeError, type RunControl } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression } from '@sonde/models'
import { checked, checkOracle, guarded } from './boundary.js'
import { compareOracles, type Extraction } from './extraction.js'
import { controlFrom, decodeOptions, linearFunctionSchema } from './options.js'

/** Options of {@link extractLinear}: nothing but an optional seed (recorded; no random choice is made) and RunControl. */
export interface LinearExtractionOptions extends RunControl {
  /** Echoed in the result; extractLinear makes no random choice. Default 0. */
  readonly seed?: number
}

/** What {@link extractLinear} returns: the model, and the reference point it was read at. */
export interface LinearExtraction extends Extraction<SoftmaxRegression | LogisticRegression> {
  /** Where the gradients and the value were read: the centre of the domain (0 on an unbounded side). */
  readonly referencePoint: Float64Array
}

const referencePoint = (info: OracleInfo): Float64Array => {
  const d = info.inputDim
  const x = new Float64Array(d)
  for (let j = 0; j < d; j++) {
    const [lo, hi] = featureBounds(info, j)
    x[j] = Number.isFinite(lo) && Number.isFinite(hi) ? (lo + hi) / 2 : Number.isFinite(lo) ? lo : Number.isFinite(hi) ? hi : 0
  }
  return x
}

/**
 * Extract a linear model exactly from its gradient explanations: for logits W x + b, the
 * gradient of logit k is W_k everywhere, so one gradient row per class gives W (K rows for
 * softmax; 1 for a one-logit oracle, which becomes a {@link LogisticRegression}) and one value row
 * gives b.
 *
 * From logits, b is exact. From probabilities, b_k = log p_k(x) − W_k·x is exact up to one common
 * shift (log Σ exp z), which changes no probability and no prediction.
 *
 * Deterministic: `seed` (default 0) is only recorded. Gotcha: it trusts the oracle to be linear — check
 * `fidelity()` on points you care about; a nonlinear oracle yields its local linearisation at the reference point.
 *
 * @example
 * import { toPromise } from '@sonde/oracle'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { extractLinear } from '@sonde/gradient-extraction'
 *
 * const explanationApi = SoftmaxRegression.random(784, 10, 1) // reveals logits and their gradients
 * const ex = await toPromise(extractLinear(explanationApi))
 * const { queries } = ex // { predictRows: 1, gradientRows: 10, calls: 2, cacheHits: 0 }
 */
export const extractLinear = (oracle: GradientOracle, options: LinearExtractionOptions = {}): TE.TaskEither<ProbeError, LinearExtraction> =>
  guarded('extractLinear', async () => {
    const opts = decodeOptions(linearFunctionSchema, options)
    if (E.isLeft(opts)) return opts
    const ok = checkOracle(oracle, true)
    if (E.isLeft(ok)) return ok
    const { info } = oracle
    if (info.output === 'label') {
      return E.left(errors.missingCapability('scores', info.id, 'the biases need one value query that reveals logits or probabilities'))
    }
    if (info.topK !== undefined) return E.left(errors.missingCapability('scores', info.id, 'every class score is needed (the oracle reveals only the top-k)'))
    const { seed } = opts.right
    const k = info.numClasses
    const d = info.inputDim
    const x0 = referencePoint(info)
    const q = checked(oracle)
    const rows = k === 1 ? 1 : k
    const xs: Matrix = { rows, cols: d, data: new Float64Array(rows * d) }
    for (let r = 0; r < rows; r++) xs.data.set(x0, r * d)
    const control = controlFrom(opts.right)
    const s = stage(control, 'extracting a linear model', 2)
    const started = checkSignal(control.signal, 'extractLinear')
    if (E.isLeft(started)) return started
    const g = await q.gradient(xs, Int32Array.from({ length: rows }, (_, c) => c))
    if (E.isLeft(g)) return g
    const half = s.check(1)
    if (E.isLeft(half)) return half
    const p = await q.predict({ rows: 1, cols: d, data: x0 })
    if (E.isLeft(p)) return p
    s.check(2)
    const sc = p.right.scores!
    const score = (c: number): number => sc.data[c]!
    const dot = (c: number): number => {
      let acc = 0
      for (let j = 0; j < d; j++) acc += g.right.data[c * d + j]! * x0[j]!
      return acc
    }
    const logitOf = (c: number): number => {
      const v = score(c)
      if (info.output === 'logits') return v
      // Probabilities: log p (up to a common shift); one column: the logit of the positive class.
      return k === 1 ? Math.log(v / (1 - v)) : Math.log(v)
    }
    const bias = Float64Array.from({ length: rows }, (_, c) => logitOf(c) - dot(c))
    const bad = bias.findIndex((b) => !Number.isFinite(b))
    if (bad >= 0) {
      return E.left(errors.badResponse(`the score of class ${bad} at the reference point is ${score(bad)}: its log is not finite, so the bias cannot be recovered there`))
    }
    const outputOptions = { output: info.output, id: `extracted:${info.id}`, ...(info.domain !== undefined ? { domain: info.domain } : {}) }
    const model =
      k === 1
        ? new LogisticRegression({ weights: g.right.data.slice(0, d), bias: bias[0]! }, outputOptions)
        : new SoftmaxRegression({ weights: { rows: k, cols: d, data: g.right.data.slice() }, bias }, outputOptions)
    return E.right({
      model,
      queries: q.usage(),
      seed,
      referencePoint: x0,
      fidelity: (points) => compareOracles(oracle, model, points),
    })
  })
