import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, featureBounds, meter, validateGradient, validatePrediction, type GradientOracle, type Matrix, type ProbeError } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression } from '@sonde/models'
import { compareOracles, type Extraction } from './extraction.js'

const referencePoint = (oracle: GradientOracle): Float64Array => {
  const d = oracle.info.inputDim
  const x = new Float64Array(d)
  for (let j = 0; j < d; j++) {
    const [lo, hi] = featureBounds(oracle.info, j)
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
 * Gotcha: it trusts the oracle to be linear — check `fidelity()` on points you care about; a
 * nonlinear oracle yields its local linearisation at the reference point.
 *
 * @example
 * const ex = await toPromise(extractLinear(explanationApi))
 * ex.queries // { gradientRows: K, valueRows: 1 }
 */
export const extractLinear = (oracle: GradientOracle): TE.TaskEither<ProbeError, Extraction<SoftmaxRegression | LogisticRegression>> => {
  const { info } = oracle
  if (info.output === 'label') {
    return TE.left(errors.missingCapability('scores', info.id, 'the biases need one value query that reveals logits or probabilities'))
  }
  if (info.topK !== undefined) return TE.left(errors.missingCapability('scores', info.id, 'every class score is needed (the oracle reveals only the top-k)'))
  const k = info.numClasses
  const d = info.inputDim
  const x0 = referencePoint(oracle)
  const counted = meter(oracle)
  const rows = k === 1 ? 1 : k
  const xs: Matrix = { rows, cols: d, data: new Float64Array(rows * d) }
  for (let r = 0; r < rows; r++) xs.data.set(x0, r * d)
  const outputOptions = { output: info.output, id: `extracted:${info.id}`, ...(info.domain !== undefined ? { domain: info.domain } : {}) }
  return F.pipe(
    TE.Do,
    // Checked here too, for hand-written oracles: a NaN gradient is a BadResponse, not a thrown constructor.
    TE.apS('g', F.pipe(counted.gradient(xs, Int32Array.from({ length: rows }, (_, c) => c)), TE.chainEitherK((g) => validateGradient(info, rows, g)))),
    TE.apS('p', F.pipe(counted.predict({ rows: 1, cols: d, data: x0 }), TE.chainEitherK((p) => validatePrediction(info, 1, p)))),
    TE.chainEitherK(({ g, p }) => {
      const s = p.scores!
      const score = (c: number): number => s.data[c]!
      const dot = (c: number): number => {
        let acc = 0
        for (let j = 0; j < d; j++) acc += g.data[c * d + j]! * x0[j]!
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
        return E.left<ProbeError>(
          errors.badResponse(`the score of class ${bad} at the reference point is ${score(bad)}: its log is not finite, so the bias cannot be recovered there`),
        )
      }
      const model =
        k === 1
          ? new LogisticRegression({ weights: g.data.slice(0, d), bias: bias[0]! }, outputOptions)
          : new SoftmaxRegression({ weights: { rows: k, cols: d, data: g.data.slice() }, bias }, outputOptions)
      const usage = counted.usage()
      return E.right<ProbeError, Extraction<SoftmaxRegression | LogisticRegression>>({
        model,
        queries: { gradientRows: usage.gradientRows, valueRows: usage.predictRows },
        fidelity: (points) => compareOracles(oracle, model, points),
      })
    }),
  )
}
