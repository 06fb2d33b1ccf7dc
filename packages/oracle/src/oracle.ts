import type { taskEither as TE } from 'fp-ts'
import type { OracleError } from './errors.js'
import type { Matrix } from './matrix.js'

/** What `predict` reveals: only labels, class probabilities, or raw logits. */
export type OutputKind = 'label' | 'probabilities' | 'logits'

/** Box bounds of the input space: one number for every feature, or one per feature. */
export interface Domain {
  readonly lower: number | Float64Array
  readonly upper: number | Float64Array
}

/**
 * What an outsider knows about an oracle before querying it.
 *
 * `numClasses: 1` means a single score per row (one logit, or the positive class's
 * probability): the label is `1` above 0 (logits) or 0.5 (probabilities), else `0`.
 */
export interface OracleInfo {
  /** A stable identifier, e.g. `'tfjs:mnist-mlp'`, `'http:models/credit'`. */
  readonly id: string
  /** Number of input features (the product of `inputShape` when given). */
  readonly inputDim: number
  /** The natural shape of one input, e.g. `[28, 28, 1]` for images. */
  readonly inputShape?: readonly number[]
  readonly numClasses: number
  readonly output: OutputKind
  /** Queries outside these bounds are refused with `InvalidInput` before anything is spent. */
  readonly domain?: Domain
  readonly classNames?: readonly string[]
  /** Set by {@link topK}: only the `topK` largest scores of each row are revealed; the others are NaN. */
  readonly topK?: number
}

/**
 * The answer to a query: one label per row, and the score matrix (rows × numClasses) unless
 * `info.output === 'label'`.
 */
export interface Prediction {
  readonly labels: Int32Array
  readonly scores?: Matrix
}

/**
 * The contract every model speaks: describe yourself, and predict a batch of rows.
 *
 * `predict` is lazy (a `TaskEither`): nothing is sent until the task runs, and it never
 * throws — every failure is an {@link OracleError} value.
 *
 * @example
 * // fragment: needs an oracle
 * import { fromRows, toPromise, type Oracle } from '@sonde/oracle'
 *
 * declare const oracle: Oracle
 * const { labels, scores } = await toPromise(oracle.predict(fromRows([[0.1, 0.2]])))
 */
export interface Oracle {
  readonly info: OracleInfo
  readonly predict: (x: Matrix) => TE.TaskEither<OracleError, Prediction>
}

/**
 * An oracle that also answers gradient queries, as an explanation API does: the gradient of
 * logit `cls` with respect to the input, one row per input row. `cls` is one class for every
 * row or one per row.
 *
 * Gotcha: these are gradients of *logits*, not of probabilities; for `numClasses: 1` the only
 * valid class is 0 (the single score).
 */
export interface GradientOracle extends Oracle {
  readonly gradient: (x: Matrix, cls: number | Int32Array) => TE.TaskEither<OracleError, Matrix>
}

/**
 * Narrow an oracle to a {@link GradientOracle} at run time.
 *
 * @example
 * // fragment: needs an oracle and a query
 * import { hasGradients, toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 *
 * declare const oracle: Oracle
 * declare const x: Matrix
 * const gradients = hasGradients(oracle) ? await toPromise(oracle.gradient(x, 0)) : undefined
 */
export const hasGradients = (oracle: Oracle): oracle is GradientOracle =>
  typeof (oracle as Partial<GradientOracle>).gradient === 'function'

/** What a probe can require of an oracle. */
export type Capability = 'labels' | 'scores' | 'logits' | 'gradients' | 'whitebox'

/**
 * The capabilities an oracle offers, derived from its info and its methods. `whitebox`
 * (parameters, loss gradients, Hessian-vector products; defined by `@sonde/models`) is
 * reported for an oracle that carries a truthy `whitebox` member.
 *
 * @example
 * import { capabilitiesOf, fromFunction, matrix } from '@sonde/oracle'
 *
 * const oracle = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const capabilities = capabilitiesOf(oracle) // ['labels', 'scores', 'logits']
 */
export const capabilitiesOf = (oracle: Oracle): readonly Capability[] => {
  const caps: Capability[] = ['labels']
  if (oracle.info.output !== 'label') caps.push('scores')
  if (oracle.info.output === 'logits') caps.push('logits')
  if (hasGradients(oracle)) caps.push('gradients')
  if ((oracle as { readonly whitebox?: unknown }).whitebox) caps.push('whitebox')
  return caps
}
