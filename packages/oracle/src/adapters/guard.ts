import { either as E, taskEither as TE, function as F } from 'fp-ts'
import type { OracleError } from '../errors.js'
import type { Matrix } from '../matrix.js'
import type { OracleInfo, Prediction } from '../oracle.js'
import { validateClasses, validateQuery } from '../validate.js'

/**
 * The prediction for a query with no rows: nothing is sent anywhere.
 *
 * @example
 * import { emptyPrediction } from '@sonde/oracle'
 *
 * const empty = emptyPrediction({ id: 'm', inputDim: 4, numClasses: 3, output: 'probabilities' }) // labels: 0, scores: 0×3
 */
export const emptyPrediction = (info: OracleInfo): Prediction =>
  info.output === 'label'
    ? { labels: new Int32Array(0) }
    : { labels: new Int32Array(0), scores: { rows: 0, cols: info.numClasses, data: new Float64Array(0) } }

/**
 * The boundary every adapter puts around its model: validate the query (nothing is sent if it
 * is invalid), answer a zero-row query without calling the model, then `send`. Use it when you
 * write an oracle by hand.
 *
 * @example
 * import { taskEither as TE } from 'fp-ts'
 * import { guardPredict, type Oracle, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'always-0', inputDim: 2, numClasses: 2, output: 'label' }
 * const oracle: Oracle = { info, predict: guardPredict(info, (q) => TE.right({ labels: new Int32Array(q.rows) })) }
 */
export const guardPredict =
  (info: OracleInfo, send: (q: Matrix) => TE.TaskEither<OracleError, Prediction>) =>
  (x: Matrix): TE.TaskEither<OracleError, Prediction> =>
    F.pipe(
      TE.fromEither(validateQuery(info, x)),
      TE.chain((q) => (q.rows === 0 ? TE.right(emptyPrediction(info)) : send(q))),
    )

/**
 * {@link guardPredict} for gradient queries: also checks the classes and expands a single class
 * to one per row.
 *
 * @example
 * import { taskEither as TE } from 'fp-ts'
 * import { guardGradient, matrix, type OracleInfo } from '@sonde/oracle'
 *
 * // logits [0, x₀ + x₁]: the gradient of logit 1 is [1, 1], that of logit 0 is [0, 0]
 * const info: OracleInfo = { id: 'sum', inputDim: 2, numClasses: 2, output: 'logits' }
 * const gradient = guardGradient(info, (q, cls) => TE.right(matrix(q.rows, 2, new Float64Array(q.rows * 2).map((_, k) => cls[Math.floor(k / 2)]!))))
 */
export const guardGradient =
  (info: OracleInfo, send: (q: Matrix, cls: Int32Array) => TE.TaskEither<OracleError, Matrix>) =>
  (x: Matrix, cls: number | Int32Array): TE.TaskEither<OracleError, Matrix> =>
    F.pipe(
      TE.fromEither(validateQuery(info, x)),
      TE.chainEitherK((q) => F.pipe(validateClasses(info, q.rows, cls), E.map((c) => [q, c] as const))),
      TE.chain(([q, c]) =>
        q.rows === 0 ? TE.right<OracleError, Matrix>({ rows: 0, cols: info.inputDim, data: new Float64Array(0) }) : send(q, c),
      ),
    )
