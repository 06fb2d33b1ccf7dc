import { taskEither as TE, function as F } from 'fp-ts'
import type { Matrix } from '../matrix.js'
import { hasGradients, type Oracle } from '../oracle.js'
import { extendOracle } from './extend.js'
import type { CacheStats } from './cache.js'

/** What a metered oracle has been asked, since it was made or last reset. */
export interface Usage {
  /** Rows answered by successful `predict` calls. */
  readonly predictRows: number
  readonly predictCalls: number
  /** Rows answered by successful `gradient` calls. */
  readonly gradientRows: number
  readonly gradientCalls: number
  /** Calls (of either kind) that returned an error; their rows are in `failedRows`. */
  readonly failedCalls: number
  readonly failedRows: number
  /** Total time spent inside calls, in milliseconds (concurrent calls add up). */
  readonly wallTimeMs: number
  /**
   * Rows answered by a `cache` or `journal` *below* the meter without reaching the model (the change in its
   * hit count since the meter was made or reset; 0 when there is none). Paid rows are
   * `predictRows + gradientRows - cacheHits`.
   */
  readonly cacheHits: number
}

/** The methods {@link meter} adds. */
export interface Metered {
  readonly usage: () => Usage
  readonly resetUsage: () => void
}

const zero: Usage = {
  predictRows: 0,
  predictCalls: 0,
  gradientRows: 0,
  gradientCalls: 0,
  failedCalls: 0,
  failedRows: 0,
  wallTimeMs: 0,
  cacheHits: 0,
}

const hitsBelow = (oracle: Oracle): number => {
  const stats = (oracle as { readonly cacheStats?: () => CacheStats }).cacheStats
  if (typeof stats !== 'function') return 0
  const s = stats.call(oracle)
  return s.predictHits + s.gradientHits
}

// A malformed query (from a JavaScript caller) is refused below; it counts as 0 rows here.
const rowsOf = (x: Matrix): number => (x !== null && typeof x === 'object' && Number.isSafeInteger(x.rows) && x.rows > 0 ? x.rows : 0)

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now())

/**
 * Count every query that passes through: rows and calls of `predict` and `gradient`, failures,
 * and wall time. Place it outermost to count what a probe asked for; below a `cache` to count
 * what reached the model. A cache or journal below it counts its hits in `cacheHits`.
 *
 * @example
 * import { function as F } from 'fp-ts'
 * import { budget, fromFunction, matrix, meter, toPromise } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const metered = F.pipe(model, budget(1_000), meter)
 * await toPromise(metered.predict(matrix(5, 2)))
 * const rows = metered.usage().predictRows // 5
 */
export const meter = <O extends Oracle>(oracle: O): O & Metered => {
  let u: Usage = zero
  let hits0 = hitsBelow(oracle)
  const timed = <E, A>(kind: 'predict' | 'gradient', rows: number, task: TE.TaskEither<E, A>): TE.TaskEither<E, A> =>
    async () => {
      const t0 = now()
      const result = await task()
      const dt = now() - t0
      if (result._tag === 'Right') {
        u =
          kind === 'predict'
            ? { ...u, predictRows: u.predictRows + rows, predictCalls: u.predictCalls + 1, wallTimeMs: u.wallTimeMs + dt }
            : { ...u, gradientRows: u.gradientRows + rows, gradientCalls: u.gradientCalls + 1, wallTimeMs: u.wallTimeMs + dt }
      } else {
        u = { ...u, failedCalls: u.failedCalls + 1, failedRows: u.failedRows + rows, wallTimeMs: u.wallTimeMs + dt }
      }
      return result
    }
  const metered = extendOracle(oracle, {
    predict: (x) => F.pipe(oracle.predict(x), (t) => timed('predict', rowsOf(x), t)),
    ...(hasGradients(oracle) ? { gradient: (x, cls) => timed('gradient', rowsOf(x), oracle.gradient(x, cls)) } : {}),
  })
  Object.defineProperty(metered, 'usage', { value: (): Usage => ({ ...u, cacheHits: hitsBelow(oracle) - hits0 }), enumerable: true })
  Object.defineProperty(metered, 'resetUsage', {
    value: () => {
      u = zero
      hits0 = hitsBelow(oracle)
    },
    enumerable: true,
  })
  return metered as O & Metered
}
