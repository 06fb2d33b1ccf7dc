import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, SondeError, type OracleError } from '../errors.js'
import { row, type Matrix } from '../matrix.js'
import { hasGradients, type Oracle, type Prediction } from '../oracle.js'
import { validateClasses, validateQuery } from '../validate.js'
import { extendOracle } from './extend.js'

/** Hits and misses of a {@link cache}, by kind of query. Misses are the rows sent below. */
export interface CacheStats {
  readonly predictHits: number
  readonly predictMisses: number
  readonly gradientHits: number
  readonly gradientMisses: number
  /** Entries held now (predict and gradient rows). */
  readonly size: number
}

/** The methods {@link cache} adds. */
export interface Cached {
  readonly cacheStats: () => CacheStats
  readonly clearCache: () => void
}

/** Options of {@link cache}. */
export interface CacheOptions {
  /** Most entries kept; the oldest are evicted first. Default: unbounded. */
  readonly maxEntries?: number
}

// The key of a row is its exact bytes: two rows share an entry only if they are bit-identical.
const keyOf = (x: Float64Array): string => {
  const u16 = new Uint16Array(x.buffer, x.byteOffset, x.length * 4)
  let s = ''
  for (let i = 0; i < u16.length; i += 4096) s += String.fromCharCode(...u16.subarray(i, i + 4096))
  return s
}

interface PredictEntry {
  readonly label: number
  readonly scores: Float64Array | undefined
}

/**
 * Remember answers row by row, keyed by the row's exact bytes (and the class, for gradients);
 * only rows not seen before are sent below, in one query, each distinct row once.
 *
 * Hits are counted apart from misses (`cacheStats()`), so paid rows are the misses. Put the
 * budget *below* the cache to charge only paid rows.
 *
 * @example
 * const cached = pipe(oracle, budget(1000), cache())
 * await toPromise(cached.predict(x)); await toPromise(cached.predict(x)) // the second is free
 * cached.cacheStats().predictHits // x.rows
 */
export const cache =
  (options: CacheOptions = {}) =>
  <O extends Oracle>(oracle: O): O & Cached => {
    const max = options.maxEntries ?? Infinity
    if (!(max >= 1)) throw new SondeError(errors.invalidInput(`maxEntries is ${max}; expected at least 1`, 'options.maxEntries'))
    const predictions = new Map<string, PredictEntry>()
    const gradients = new Map<string, Float64Array>()
    let stats = { predictHits: 0, predictMisses: 0, gradientHits: 0, gradientMisses: 0 }
    const evict = <V>(m: Map<string, V>): void => {
      while (predictions.size + gradients.size > max && m.size > 0) {
        const first = m.keys().next().value as string
        m.delete(first)
      }
    }
    const info = oracle.info

    // Shared by predict and gradient: look up each row, send the distinct misses, fill in order.
    const lookup = <V>(
      x: Matrix,
      keys: readonly string[],
      store: Map<string, V>,
      send: (missRows: Int32Array) => TE.TaskEither<OracleError, ReadonlyArray<V>>,
      count: (hits: number, misses: number) => void,
    ): TE.TaskEither<OracleError, ReadonlyArray<V>> => {
      const firstIndex = new Map<string, number>()
      const missRows: number[] = []
      let hits = 0
      for (let i = 0; i < x.rows; i++) {
        const k = keys[i]!
        if (store.has(k)) hits++
        else if (!firstIndex.has(k)) {
          firstIndex.set(k, missRows.length)
          missRows.push(i)
        } else hits++
      }
      const finish = (fresh: ReadonlyArray<V>): ReadonlyArray<V> => {
        count(hits, missRows.length)
        const out = keys.map((k) => {
          const m = firstIndex.get(k)
          return m !== undefined ? fresh[m]! : store.get(k)!
        })
        missRows.forEach((_, m) => store.set(keys[missRows[m]!]!, fresh[m]!))
        evict(store)
        return out
      }
      if (missRows.length === 0) return TE.right(finish([]))
      return F.pipe(send(Int32Array.from(missRows)), TE.map(finish))
    }

    const subset = (x: Matrix, rows: Int32Array): Matrix => {
      const data = new Float64Array(rows.length * x.cols)
      rows.forEach((r, k) => data.set(row(x, r), k * x.cols))
      return { rows: rows.length, cols: x.cols, data }
    }

    const predict = (x: Matrix): TE.TaskEither<OracleError, Prediction> =>
      F.pipe(
        TE.fromEither(validateQuery(info, x)),
        TE.chain((q) => {
          const keys = Array.from({ length: q.rows }, (_, i) => keyOf(row(q, i)))
          return lookup(
            q,
            keys,
            predictions,
            (miss) =>
              F.pipe(
                oracle.predict(subset(q, miss)),
                TE.map((p) =>
                  Array.from(miss, (_, m): PredictEntry => ({
                    label: p.labels[m]!,
                    scores: p.scores?.data.slice(m * p.scores.cols, (m + 1) * p.scores.cols),
                  })),
                ),
              ),
            (h, m) => (stats = { ...stats, predictHits: stats.predictHits + h, predictMisses: stats.predictMisses + m }),
          )
        }),
        TE.map((entries): Prediction => {
          const labels = Int32Array.from(entries, (e) => e.label)
          if (info.output === 'label' || entries.some((e) => e.scores === undefined)) return { labels }
          const k = info.numClasses
          const data = new Float64Array(entries.length * k)
          entries.forEach((e, i) => data.set(e.scores!, i * k))
          return { labels, scores: { rows: entries.length, cols: k, data } }
        }),
      )

    const gradient = (x: Matrix, cls: number | Int32Array): TE.TaskEither<OracleError, Matrix> => {
      if (!hasGradients(oracle)) return TE.left(errors.missingCapability('gradients', info.id))
      const base = oracle
      return F.pipe(
        TE.fromEither(
          F.pipe(
            validateQuery(info, x),
            E.chain((q) => F.pipe(validateClasses(info, q.rows, cls), E.map((c) => [q, c] as const))),
          ),
        ),
        TE.chain(([q, c]) => {
          const keys = Array.from({ length: q.rows }, (_, i) => `${c[i]}:${keyOf(row(q, i))}`)
          return F.pipe(
            lookup(
              q,
              keys,
              gradients,
              (miss) =>
                F.pipe(
                  base.gradient(subset(q, miss), Int32Array.from(miss, (r) => c[r]!)),
                  TE.map((g) => Array.from(miss, (_, m) => g.data.slice(m * g.cols, (m + 1) * g.cols))),
                ),
              (h, m) => (stats = { ...stats, gradientHits: stats.gradientHits + h, gradientMisses: stats.gradientMisses + m }),
            ),
            TE.map((rowsOut) => {
              const data = new Float64Array(q.rows * q.cols)
              rowsOut.forEach((r, i) => data.set(r, i * q.cols))
              return { rows: q.rows, cols: q.cols, data }
            }),
          )
        }),
      )
    }

    const out = extendOracle(oracle, { predict, ...(hasGradients(oracle) ? { gradient } : {}) })
    Object.defineProperty(out, 'cacheStats', {
      value: (): CacheStats => ({ ...stats, size: predictions.size + gradients.size }),
      enumerable: true,
    })
    Object.defineProperty(out, 'clearCache', {
      value: () => {
        predictions.clear()
        gradients.clear()
        stats = { predictHits: 0, predictMisses: 0, gradientHits: 0, gradientMisses: 0 }
      },
      enumerable: true,
    })
    return out as O & Cached
  }
