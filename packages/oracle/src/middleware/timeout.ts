import { taskEither as TE } from 'fp-ts'
import { errors, type OracleError } from '../errors.js'
import { hasGradients, type Oracle } from '../oracle.js'
import { extendOracle, refusing } from './extend.js'

/**
 * `task`, or `Timeout` if it has not settled within `ms` milliseconds. The late answer, if it ever comes,
 * is dropped; the timer never outlives the race.
 *
 * @example
 * import { taskEither as TE } from 'fp-ts'
 * import { withTimeout } from '@sonde/oracle'
 *
 * const never = TE.fromTask(() => new Promise<number>(() => undefined))
 * const result = await withTimeout(never, 20, 'the slow service')() // Left(Timeout): 'the slow service did not answer within 20 ms'
 */
export const withTimeout =
  <A>(task: TE.TaskEither<OracleError, A>, ms: number, what = 'the oracle'): TE.TaskEither<OracleError, A> =>
  () =>
    new Promise((resolve) => {
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        resolve({ _tag: 'Left', left: errors.timeout(ms, what) })
      }, ms)
      task().then(
        (result) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve(result)
        },
        (cause: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve({ _tag: 'Left', left: errors.badResponse(`${what} rejected: ${cause instanceof Error ? cause.message : String(cause)}`, cause) })
        },
      )
    })

/**
 * Bound every query: one that has not answered within `ms` milliseconds fails with `Timeout`, which
 * `retry()` treats as retryable. Put it right above a remote adapter, under `retry`, so each attempt has
 * its own limit: `pipe(remote, timeout(5_000), retry(), budget(n))`.
 *
 * Gotcha: the slow call is not cancelled (an oracle has no cancel); its answer is dropped when it comes.
 * A budget below the timeout has charged it, as for any query that may have reached the model.
 *
 * @example
 * // fragment: needs a remote oracle
 * import { function as F } from 'fp-ts'
 * import { timeout, type Oracle } from '@sonde/oracle'
 *
 * declare const remote: Oracle
 * const bounded = F.pipe(remote, timeout(2_000)) // each call fails with a retryable Timeout after 2 s
 */
export const timeout =
  (ms: number) =>
  <O extends Oracle>(oracle: O): O => {
    if (typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms)) return refusing(oracle, errors.invalidInput(`timeout is ${String(typeof ms === 'symbol' ? 'a symbol' : ms)} ms; expected a positive finite number`, 'ms'))
    const what = `oracle '${oracle.info.id}'`
    return extendOracle(oracle, {
      predict: (x) => withTimeout(oracle.predict(x), ms, what),
      ...(hasGradients(oracle) ? { gradient: (x, cls) => withTimeout(oracle.gradient(x, cls), ms, what) } : {}),
    })
  }
