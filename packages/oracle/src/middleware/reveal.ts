import { taskEither as TE, function as F } from 'fp-ts'
import { errors } from '../errors.js'
import { refusing } from './extend.js'
import type { Oracle, Prediction } from '../oracle.js'

/**
 * Reveal only labels: the oracle an outsider of a label-only API sees. Gradients and any
 * white-box methods of the original are *not* reachable through the result.
 *
 * Use it to test a probe against what real APIs reveal.
 *
 * @example
 * import { fromFunction, fromRows, labelOnly } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'p', inputDim: 2, numClasses: 2, output: 'probabilities' }, (x) => fromRows(Array.from({ length: x.rows }, () => [0.3, 0.7])))
 * const blackBox = labelOnly(model) // info.output === 'label', no scores, no gradient
 */
export const labelOnly = (oracle: Oracle): Oracle => ({
  info: { ...oracle.info, output: 'label' },
  predict: (x) => F.pipe(oracle.predict(x), TE.map((p): Prediction => ({ labels: p.labels }))),
})

/**
 * Reveal only the `k` largest scores of each row, as many prediction APIs do ("top-5
 * classes with their probabilities"); the other entries of `scores` are `NaN` and
 * `info.topK` is `k`. Labels are unchanged. Gradients are not reachable through the result.
 *
 * Gotcha: for a label-only oracle — there is nothing to reveal the top of — every query fails with
 * `MissingCapability`, and for `k` outside 1..numClasses with `InvalidInput` (nothing is thrown).
 *
 * @example
 * import { fromFunction, fromRows, topK } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'p', inputDim: 2, numClasses: 3, output: 'probabilities' }, (x) => fromRows(Array.from({ length: x.rows }, () => [0.2, 0.5, 0.3])))
 * const top1 = topK(1)(model) // scores [NaN, 0.5, NaN]: the winning probability, NaN elsewhere
 */
export const topK =
  (k: number) =>
  (oracle: Oracle): Oracle => {
    const { info } = oracle
    if (info.output === 'label') return refusing(oracle, errors.missingCapability('scores', info.id, 'topK needs an oracle that reveals scores'))
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > info.numClasses) return refusing(oracle, errors.invalidInput(`topK k is ${typeof k === 'number' ? k : typeof k}; expected an integer in 1..${info.numClasses}`, 'k'))
    return {
      info: { ...info, topK: k },
      predict: (x) =>
        F.pipe(
          oracle.predict(x),
          TE.map((p): Prediction => {
            if (p.scores === undefined) return p
            const { rows, cols, data } = p.scores
            const out = new Float64Array(rows * cols).fill(Number.NaN)
            const order = Array.from({ length: cols }, (_, j) => j)
            for (let i = 0; i < rows; i++) {
              const r = data.subarray(i * cols, (i + 1) * cols)
              order.sort((a, b) => r[b]! - r[a]! || a - b)
              for (let t = 0; t < k; t++) out[i * cols + order[t]!] = r[order[t]!]!
            }
            return { labels: p.labels, scores: { rows, cols, data: out } }
          }),
        ),
    }
  }
