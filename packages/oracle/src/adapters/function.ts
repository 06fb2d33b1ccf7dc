import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, isOracleError, SondeError, type OracleError } from '../errors.js'
import { labelsFromScores, type Matrix } from '../matrix.js'
import type { GradientOracle, Oracle, OracleInfo, Prediction } from '../oracle.js'
import { validateGradient, validateInfo, validateLabels, validateScores } from '../validate.js'
import { guardGradient, guardPredict } from './guard.js'
import { withTimeout } from '../middleware/timeout.js'

/** A model as a function: rows in, a score matrix (rows × numClasses) or one label per row out. */
export type PredictFunction = (x: Matrix) => Matrix | Int32Array | Promise<Matrix | Int32Array>

/** Gradients of logit `cls[i]` with respect to row `i` of `x`: a rows × inputDim matrix. */
export type GradientFunction = (x: Matrix, cls: Int32Array) => Matrix | Promise<Matrix>

/** Options of {@link fromFunction}. */
export interface FromFunctionOptions {
  /** Makes the oracle a {@link GradientOracle}. */
  readonly gradient?: GradientFunction
  /**
   * Longest wait for one call of `predict` or `gradient`, in ms: past it the query fails with `Timeout`
   * (retryable). The function's late answer is dropped. Default: no limit.
   */
  readonly timeoutMs?: number
}

/**
 * The score above which a single-column oracle says `1`: 0 for a logit, 0.5 for a probability.
 *
 * @example
 * import { labelThreshold } from '@sonde/oracle'
 *
 * const threshold = labelThreshold({ id: 'p', inputDim: 4, numClasses: 1, output: 'probabilities' }) // 0.5
 */
export const labelThreshold = (info: OracleInfo): number => (info.output === 'probabilities' ? 0.5 : 0)

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Turn a function that may throw or reject into a task. A thrown {@link SondeError} whose error an oracle
 * can return keeps its tag and data — `new SondeError(errors.transport('HTTP 503', true))` stays a
 * retryable `Transport` error, so `retry()` works through it; anything else becomes a `BadResponse`.
 */
export const attempt = <A>(what: string, f: () => A | Promise<A>): TE.TaskEither<OracleError, A> =>
  TE.tryCatch(
    async () => await f(),
    (cause) =>
      cause instanceof SondeError && isOracleError(cause.error)
        ? cause.error
        : errors.badResponse(`${what} threw: ${describe(cause)}`, cause),
  )

const toPrediction = (info: OracleInfo, rows: number, out: Matrix | Int32Array): E.Either<OracleError, Prediction> => {
  if (out instanceof Int32Array) {
    if (info.output !== 'label') {
      return E.left(
        errors.badResponse(`oracle '${info.id}' returned labels, but its info promises ${info.output}; return a rows × numClasses score matrix`),
      )
    }
    return F.pipe(validateLabels(info, rows, out), E.map((labels) => ({ labels })))
  }
  return F.pipe(
    validateScores(info, rows, out),
    E.map((scores) => {
      const labels = labelsFromScores(scores, labelThreshold(info))
      return info.output === 'label' ? { labels } : { labels, scores }
    }),
  )
}

/**
 * Wrap any function as an oracle: your own model, a closure over a remote client, a test double.
 *
 * The oracle validates every query (shape, finite values, `info.domain`) before calling your
 * function, checks what it returns against `info` (`BadResponse` otherwise), and turns a throw
 * or a rejection into an error value: a thrown {@link SondeError} keeps its error — throw
 * `new SondeError(errors.transport('HTTP 503', true))` to mark a failure retryable for `retry()` —
 * anything else becomes a `BadResponse`. `timeoutMs` bounds each call (`Timeout`, retryable).
 * A query with zero rows never calls it.
 *
 * Gotcha: `info` is checked here and a bad one throws a {@link SondeError} at once — a wrong
 * description is a programming error, better seen at start-up than at the first query.
 *
 * @example
 * import { fromFunction } from '@sonde/oracle'
 *
 * const oracle = fromFunction(
 *   { id: 'fn:threshold', inputDim: 2, numClasses: 2, output: 'probabilities' },
 *   (x) => {
 *     const p = new Float64Array(x.rows * 2)
 *     for (let i = 0; i < x.rows; i++) {
 *       const s = 1 / (1 + Math.exp(-(x.data[2 * i]! + x.data[2 * i + 1]!)))
 *       p[2 * i] = 1 - s
 *       p[2 * i + 1] = s
 *     }
 *     return { rows: x.rows, cols: 2, data: p }
 *   },
 * )
 */
export function fromFunction(info: OracleInfo, predict: PredictFunction): Oracle
export function fromFunction(
  info: OracleInfo,
  predict: PredictFunction,
  options: FromFunctionOptions & { readonly gradient: GradientFunction },
): GradientOracle
export function fromFunction(info: OracleInfo, predict: PredictFunction, options?: FromFunctionOptions): Oracle
export function fromFunction(info: OracleInfo, predict: PredictFunction, options: FromFunctionOptions = {}): Oracle {
  const checked = validateInfo(info)
  if (E.isLeft(checked)) throw new SondeError(checked.left)
  const limit = options.timeoutMs
  if (limit !== undefined && !(limit > 0)) throw new SondeError(errors.invalidInput(`timeoutMs is ${limit}; expected a positive number of milliseconds`, 'options.timeoutMs'))
  const bounded = <A>(what: string, task: TE.TaskEither<OracleError, A>): TE.TaskEither<OracleError, A> => (limit === undefined ? task : withTimeout(task, limit, what))
  const oracle: Oracle = {
    info,
    predict: guardPredict(info, (q) =>
      F.pipe(
        bounded(`the predict function of '${info.id}'`, attempt(`the predict function of '${info.id}'`, () => predict(q))),
        TE.chainEitherK((out) => toPrediction(info, q.rows, out)),
      ),
    ),
  }
  const gradient = options.gradient
  if (gradient === undefined) return oracle
  const withGradient: GradientOracle = {
    ...oracle,
    gradient: guardGradient(info, (q, c) =>
      F.pipe(
        bounded(`the gradient function of '${info.id}'`, attempt(`the gradient function of '${info.id}'`, () => gradient(q, c))),
        TE.chainEitherK((g) => validateGradient(info, q.rows, g)),
      ),
    ),
  }
  return withGradient
}
