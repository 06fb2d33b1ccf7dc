import type { Oracle } from './oracle.js'
import { meter } from './middleware/meter.js'
import type { Usage } from './middleware/meter.js'

/**
 * The queries a run spent, as every probe's and every family function's result reports them.
 *
 * - `predictRows` / `gradientRows`: rows answered by `predict` / `gradient` (what the run asked for and got);
 * - `calls`: successful oracle calls of either kind;
 * - `cacheHits`: how many of those rows a `cache` or `journal` under the oracle answered without asking
 *   the model (0 when there is none). The rows that reached the model are `predictRows + gradientRows - cacheHits`.
 */
export interface QueryUsage {
  readonly predictRows: number
  readonly gradientRows: number
  readonly calls: number
  readonly cacheHits: number
}

/**
 * No queries at all (a white-box or pure computation).
 *
 * @example
 * import { noQueries, type QueryUsage } from '@sonde/oracle'
 *
 * const queries: QueryUsage = noQueries // a closed-form result reports this
 */
export const noQueries: QueryUsage = Object.freeze({ predictRows: 0, gradientRows: 0, calls: 0, cacheHits: 0 })

/**
 * The sum of two usages (a run in stages adds its stages).
 *
 * @example
 * import { addUsage } from '@sonde/oracle'
 *
 * const total = addUsage({ predictRows: 10, gradientRows: 0, calls: 1, cacheHits: 0 }, { predictRows: 5, gradientRows: 5, calls: 2, cacheHits: 1 })
 * // { predictRows: 15, gradientRows: 5, calls: 3, cacheHits: 1 }
 */
export const addUsage = (a: QueryUsage, b: QueryUsage): QueryUsage => ({
  predictRows: a.predictRows + b.predictRows,
  gradientRows: a.gradientRows + b.gradientRows,
  calls: a.calls + b.calls,
  cacheHits: a.cacheHits + b.cacheHits,
})

/**
 * The `QueryUsage` of a meter's `Usage` (what a result reports).
 *
 * @example
 * import { fromFunction, matrix, meter, toPromise, usageOf } from '@sonde/oracle'
 *
 * const metered = meter(fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1)))
 * await toPromise(metered.predict(matrix(3, 2)))
 * const queries = usageOf(metered.usage()) // { predictRows: 3, gradientRows: 0, calls: 1, cacheHits: 0 }
 */
export const usageOf = (u: Usage): QueryUsage => ({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: u.cacheHits })

/** What {@link trackQueries} returns: the oracle to query through, and what has gone through it. */
export interface Tracked<O extends Oracle> {
  readonly oracle: O
  readonly usage: () => QueryUsage
}

/**
 * Count what a run asks of `oracle`: query through `tracked.oracle` (same type, same members), read
 * `tracked.usage()` for the result's `queries`. Cache hits are read from a `cache`/`journal` under the oracle
 * (their change since tracking began; a cache shared with concurrent runs counts their hits too).
 *
 * @example
 * import { fromFunction, matrix, toPromise, trackQueries } from '@sonde/oracle'
 *
 * const tracked = trackQueries(fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1)))
 * await toPromise(tracked.oracle.predict(matrix(4, 2)))
 * const queries = tracked.usage() // { predictRows: 4, gradientRows: 0, calls: 1, cacheHits: 0 }
 */
export const trackQueries = <O extends Oracle>(oracle: O): Tracked<O> => {
  const metered = meter(oracle)
  return {
    oracle: metered,
    usage: () => usageOf(metered.usage()),
  }
}
