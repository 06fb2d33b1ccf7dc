/**
 * Every reason a query or a probe can fail, as one tagged union. Each member carries a
 * `message` a person can act on (what was wrong, where, what was expected) and the data
 * behind it, so code can branch on `_tag` and people can read `message`.
 *
 * {@link OracleError} is the part an oracle itself can return; {@link ProbeError} adds the
 * reasons only a probe (an algorithm) has.
 */

/** A value in a query or an argument is not acceptable (NaN, outside the domain, out of range). */
export interface InvalidInput {
  readonly _tag: 'InvalidInput'
  readonly message: string
  /** Where: `x[3][17]`, `cls[2]`, `options.target`. */
  readonly path: string
}

/** A matrix or array has the wrong shape. */
export interface ShapeMismatch {
  readonly _tag: 'ShapeMismatch'
  readonly message: string
  readonly path: string
  readonly expected: string
  readonly actual: string
}

/** Options given to a probe or an adapter failed to decode; every bad path is listed. */
export interface InvalidOptions {
  readonly _tag: 'InvalidOptions'
  readonly message: string
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>
}

/** The query would take the spent rows past the budget; nothing of it was charged or sent. */
export interface BudgetExhausted {
  readonly _tag: 'BudgetExhausted'
  readonly message: string
  readonly used: number
  readonly limit: number
  readonly requested: number
}

/** The transport to a remote oracle failed. `retryable` says whether trying again may help. */
export interface Transport {
  readonly _tag: 'Transport'
  readonly message: string
  readonly retryable: boolean
  readonly cause?: unknown
}

/** The oracle answered, but not with what its `info` promises (shape, NaN scores, labels out of range). */
export interface BadResponse {
  readonly _tag: 'BadResponse'
  readonly message: string
  readonly cause?: unknown
}

/** The oracle did not answer in time. */
export interface Timeout {
  readonly _tag: 'Timeout'
  readonly message: string
  readonly afterMs: number
}

/** The caller's `AbortSignal` fired. */
export interface Aborted {
  readonly _tag: 'Aborted'
  readonly message: string
}

/** An iterative algorithm stopped before meeting its tolerance. */
export interface NotConverged {
  readonly _tag: 'NotConverged'
  readonly message: string
  readonly iterations: number
  readonly residual: number
  readonly tolerance: number
}

/** The problem has no solution: e.g. no point in the box reaches the target class. */
export interface Infeasible {
  readonly _tag: 'Infeasible'
  readonly message: string
}

/** The oracle lacks a capability the probe needs (`scores`, `gradients`, `whitebox`, …). */
export interface MissingCapability {
  readonly _tag: 'MissingCapability'
  readonly message: string
  readonly capability: string
}

/**
 * The oracle's answers cannot determine what was asked: e.g. a ReLU network with more hidden units than
 * inputs (h > d) from its gradients, or a linear model handed to a ReLU extraction.
 */
export interface Unidentifiable {
  readonly _tag: 'Unidentifiable'
  readonly message: string
}

/** Training a model (a copy, a VAE, a classifier) failed: its loss became non-finite, or the trainer threw. */
export interface TrainingFailed {
  readonly _tag: 'TrainingFailed'
  readonly message: string
  readonly cause?: unknown
}

/**
 * Code you supplied — a sampler, a generator, a labeller, a copy family, a plugin probe — threw or returned
 * what it must not (the wrong number of rows, non-finite values).
 */
export interface PluginFailed {
  readonly _tag: 'PluginFailed'
  readonly message: string
  /** Which piece of supplied code: `'sampler jitter'`, `'the generator’s decode'`, … */
  readonly what: string
  readonly cause?: unknown
}

/** What an oracle's `predict` or `gradient` can fail with. */
export type OracleError =
  | InvalidInput
  | ShapeMismatch
  | BudgetExhausted
  | Transport
  | BadResponse
  | Timeout
  | Aborted
  | MissingCapability

/** What a probe can fail with: any oracle error, plus the algorithm's own reasons. */
export type ProbeError = OracleError | InvalidOptions | NotConverged | Infeasible | Unidentifiable | TrainingFailed | PluginFailed

/** The tag of each error: a union of string literals, for exhaustive switches. */
export type ErrorTag = ProbeError['_tag']

/**
 * Constructors for every error, so a message is written once, where the facts are known.
 *
 * @example
 * import { errors } from '@sonde/oracle'
 *
 * const nan = errors.invalidInput('x[0][3] is NaN; queries must be finite', 'x[0][3]')
 * const unavailable = errors.transport('HTTP 503 from /v2/models/credit/infer', true) // retryable
 */
export const errors = {
  invalidInput: (message: string, path: string): InvalidInput => ({ _tag: 'InvalidInput', message, path }),
  shapeMismatch: (path: string, expected: string, actual: string, message?: string): ShapeMismatch => ({
    _tag: 'ShapeMismatch',
    message: message ?? `${path} is ${actual}; expected ${expected}`,
    path,
    expected,
    actual,
  }),
  invalidOptions: (issues: ReadonlyArray<{ readonly path: string; readonly message: string }>): InvalidOptions => ({
    _tag: 'InvalidOptions',
    message: `invalid options: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  }),
  budgetExhausted: (used: number, limit: number, requested: number): BudgetExhausted => ({
    _tag: 'BudgetExhausted',
    message: `the query asks for ${requested} rows but only ${limit - used} of the budget of ${limit} remain (${used} spent); nothing was charged`,
    used,
    limit,
    requested,
  }),
  transport: (message: string, retryable: boolean, cause?: unknown): Transport =>
    cause === undefined ? { _tag: 'Transport', message, retryable } : { _tag: 'Transport', message, retryable, cause },
  badResponse: (message: string, cause?: unknown): BadResponse =>
    cause === undefined ? { _tag: 'BadResponse', message } : { _tag: 'BadResponse', message, cause },
  timeout: (afterMs: number, what = 'the oracle'): Timeout => ({
    _tag: 'Timeout',
    message: `${what} did not answer within ${afterMs} ms`,
    afterMs,
  }),
  aborted: (what = 'the operation'): Aborted => ({ _tag: 'Aborted', message: `${what} was aborted by its AbortSignal` }),
  notConverged: (what: string, iterations: number, residual: number, tolerance: number): NotConverged => ({
    _tag: 'NotConverged',
    message: `${what} did not converge: residual ${residual.toExponential(3)} after ${iterations} iterations; the tolerance is ${tolerance.toExponential(3)}`,
    iterations,
    residual,
    tolerance,
  }),
  infeasible: (message: string): Infeasible => ({ _tag: 'Infeasible', message }),
  unidentifiable: (message: string): Unidentifiable => ({ _tag: 'Unidentifiable', message }),
  trainingFailed: (message: string, cause?: unknown): TrainingFailed =>
    cause === undefined ? { _tag: 'TrainingFailed', message } : { _tag: 'TrainingFailed', message, cause },
  pluginFailed: (what: string, message: string, cause?: unknown): PluginFailed =>
    cause === undefined ? { _tag: 'PluginFailed', message: `${what}: ${message}`, what } : { _tag: 'PluginFailed', message: `${what}: ${message}`, what, cause },
  missingCapability: (capability: string, oracleId: string, hint = ''): MissingCapability => ({
    _tag: 'MissingCapability',
    message: `oracle '${oracleId}' lacks the '${capability}' capability${hint === '' ? '' : `; ${hint}`}`,
    capability,
  }),
} as const

const oracleTags: ReadonlySet<string> = new Set<OracleError['_tag']>(['InvalidInput', 'ShapeMismatch', 'BudgetExhausted', 'Transport', 'BadResponse', 'Timeout', 'Aborted', 'MissingCapability'])

/**
 * Whether an error is one an oracle itself may return (an {@link OracleError}), not only a probe.
 *
 * @example
 * import { errors, isOracleError, type OracleError, type ProbeError } from '@sonde/oracle'
 *
 * const e: ProbeError = errors.timeout(5_000)
 * const forAnOracle: OracleError | undefined = isOracleError(e) ? e : undefined // fits an oracle's TaskEither
 */
export const isOracleError = (e: ProbeError): e is OracleError => oracleTags.has(e._tag)

/**
 * The error a caught `cause` stands for: a thrown {@link SondeError}'s own error, else `orElse` with the
 * cause's message. For the one `tryCatch` around code that may throw.
 *
 * @example
 * // fragment: needs a training function that may throw
 * import { taskEither as TE } from 'fp-ts'
 * import { errorFromThrown, errors } from '@sonde/oracle'
 *
 * declare const train: () => Promise<Float64Array>
 * const weights = TE.tryCatch(train, (cause) => errorFromThrown(cause, (m) => errors.trainingFailed(`training failed: ${m}`, cause)))
 */
export const errorFromThrown = (cause: unknown, orElse: (message: string) => ProbeError): ProbeError =>
  cause instanceof SondeError ? cause.error : orElse(cause instanceof Error ? cause.message : String(cause))

/**
 * Whether trying the same query again may succeed: retryable transport failures and timeouts.
 *
 * @example
 * import { errors, isRetryable } from '@sonde/oracle'
 *
 * const again = isRetryable(errors.transport('HTTP 503', true)) // true
 * const never = isRetryable(errors.budgetExhausted(100, 100, 1)) // false
 */
export const isRetryable = (e: ProbeError): boolean =>
  (e._tag === 'Transport' && e.retryable) || e._tag === 'Timeout'

/**
 * The `Error` that {@link toPromise} rejects with; the typed error is in `.error`.
 *
 * @example
 * // fragment: needs an oracle and a query
 * import { SondeError, toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 *
 * declare const oracle: Oracle
 * declare const x: Matrix
 * try {
 *   await toPromise(oracle.predict(x))
 * } catch (e) {
 *   if (e instanceof SondeError && e.error._tag === 'BudgetExhausted') console.log(`${e.error.used} of ${e.error.limit} rows spent`)
 * }
 */
export class SondeError extends Error {
  readonly error: ProbeError
  constructor(error: ProbeError) {
    super(`${error._tag}: ${error.message}`)
    this.name = 'SondeError'
    this.error = error
  }
}
