import { either as E, taskEither as TE } from 'fp-ts'
import { errors, isRetryable, type OracleError } from '../errors.js'
import { hasGradients, type Oracle } from '../oracle.js'
import { extendOracle, refusing } from './extend.js'

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Further attempts after the first. Default 3. */
  readonly retries?: number
  /** Delay before the first retry, doubled each time. Default 100 ms. */
  readonly baseDelayMs?: number
  /** Longest delay between attempts. Default 5,000 ms. */
  readonly maxDelayMs?: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Try a query again when it fails with a retryable error (a `Transport` error marked
 * `retryable`, or a `Timeout`), with exponential back-off and no randomness. Other errors
 * return at once. Place it right above a remote adapter, below `budget`, so a retried query
 * is charged once.
 *
 * @example
 * // fragment: needs a remote oracle
 * import { function as F } from 'fp-ts'
 * import { budget, retry, timeout, type Oracle } from '@sonde/oracle'
 *
 * declare const remote: Oracle
 * const robust = F.pipe(remote, timeout(5_000), retry({ retries: 5 }), budget(10_000))
 */
export const retry =
  (options: RetryOptions = {}) =>
  <O extends Oracle>(oracle: O): O => {
    if (options === null || typeof options !== 'object') return refusing(oracle, errors.invalidInput(`retry options are ${options === null ? 'null' : typeof options}; expected an object such as { retries: 3 }`, 'options'))
    const retries = options.retries ?? 3
    const base = options.baseDelayMs ?? 100
    const maxDelay = options.maxDelayMs ?? 5000
    if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0) {
      return refusing(oracle, errors.invalidInput(`retries is ${typeof retries === 'number' ? retries : typeof retries}; expected a non-negative integer`, 'options.retries'))
    }
    for (const [name, v] of [['baseDelayMs', base], ['maxDelayMs', maxDelay]] as const) {
      if (typeof v !== 'number' || !(v >= 0 && Number.isFinite(v))) return refusing(oracle, errors.invalidInput(`${name} is ${typeof v === 'number' ? v : typeof v}; expected a finite number of milliseconds ≥ 0`, `options.${name}`))
    }
    const withRetry =
      <A>(task: () => TE.TaskEither<OracleError, A>): TE.TaskEither<OracleError, A> =>
      async () => {
        let result = await task()()
        for (let attempt = 0; attempt < retries && E.isLeft(result) && isRetryable(result.left); attempt++) {
          await sleep(Math.min(maxDelay, base * 2 ** attempt))
          result = await task()()
        }
        return result
      }
    return extendOracle(oracle, {
      predict: (x) => withRetry(() => oracle.predict(x)),
      ...(hasGradients(oracle) ? { gradient: (x, cls) => withRetry(() => oracle.gradient(x, cls)) } : {}),
    })
  }
