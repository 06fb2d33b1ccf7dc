import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, type OracleError } from '../errors.js'
import { row, type Matrix } from '../matrix.js'
import { hasGradients, type Oracle, type Prediction } from '../oracle.js'
import { validateClasses, validateGradient, validatePrediction, validateQuery } from '../validate.js'
import { extendOracle, refusing } from './extend.js'

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

/**
 * Entries keyed by a row's exact bytes (and a class tag): a 64-bit hash picks the bucket, and a
 * byte comparison confirms the hit, so two rows share an entry only if they are bit-identical.
 */
class RowStore<V> {
  private readonly buckets = new Map<string, Array<{ readonly row: Uint32Array; readonly value: V }>>()
  private count = 0

  get size(): number {
    return this.count
  }

  static hash(row: Float64Array, tag: number): string {
    const u = new Uint32Array(row.buffer, row.byteOffset, row.length * 2)
    // Two independent 32-bit multiplicative hashes (FNV-1a style mixing per word).
    let h1 = 0x811c9dc5 ^ tag
    let h2 = 0x9747b28c ^ Math.imul(tag, 0x5bd1e995)
    for (let i = 0; i < u.length; i++) {
      const w = u[i]!
      h1 = Math.imul(h1 ^ w, 0x01000193)
      h2 = Math.imul(h2 ^ w, 0x5bd1e995) ^ (h2 >>> 15)
    }
    return `${h1 >>> 0}:${h2 >>> 0}`
  }

  private static same(a: Uint32Array, row: Float64Array): boolean {
    const b = new Uint32Array(row.buffer, row.byteOffset, row.length * 2)
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  get(key: string, row: Float64Array): V | undefined {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return undefined
    for (const e of bucket) if (RowStore.same(e.row, row)) return e.value
    return undefined
  }

  set(key: string, row: Float64Array, value: V): void {
    if (this.get(key, row) !== undefined) return
    const copy = new Uint32Array(row.length * 2)
    copy.set(new Uint32Array(row.buffer, row.byteOffset, row.length * 2))
    const bucket = this.buckets.get(key)
    if (bucket === undefined) this.buckets.set(key, [{ row: copy, value }])
    else bucket.push({ row: copy, value })
    this.count++
  }

  /** Drop the oldest bucket (insertion order). */
  evictOldest(): void {
    const first = this.buckets.keys().next()
    if (first.done === true) return
    this.count -= this.buckets.get(first.value)!.length
    this.buckets.delete(first.value)
  }

  clear(): void {
    this.buckets.clear()
    this.count = 0
  }
}

/** One remembered prediction row. */
export interface PredictEntry {
  readonly label: number
  readonly scores: Float64Array | undefined
}

/**
 * How a durable cache keeps its entries (the journal's hooks): `preload` fills it at the start; `record`
 * is called once per answer from below, with every fresh row, before the answer is returned — so a
 * durable store is written before anyone sees the rows.
 */
export interface CacheStore {
  readonly preload?: (put: { readonly predict: (row: Float64Array, entry: PredictEntry) => void; readonly gradient: (row: Float64Array, cls: number, g: Float64Array) => void }) => void
  readonly record: (fresh: { readonly predict: ReadonlyArray<readonly [Float64Array, PredictEntry]>; readonly gradient: ReadonlyArray<readonly [Float64Array, number, Float64Array]> }) => void
}

/**
 * Remember answers row by row, keyed by the row's exact bytes (and the class, for gradients);
 * only rows not seen before are sent below, in one query, each distinct row once.
 *
 * Hits are counted apart from misses (`cacheStats()`), so paid rows are the misses. Put the
 * budget *below* the cache to charge only paid rows.
 *
 * @example
 * import { function as F } from 'fp-ts'
 * import { budget, cache, fromFunction, fromRows, matrix, toPromise } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const cached = F.pipe(model, budget(1_000), cache())
 * const x = fromRows([[0, 1], [2, 3]])
 * await toPromise(cached.predict(x))
 * await toPromise(cached.predict(x)) // answered from the cache: not charged
 * const stats = cached.cacheStats() // predictHits 2, predictMisses 2
 */
export const cache =
  (options: CacheOptions = {}) =>
  <O extends Oracle>(oracle: O): O & Cached =>
    cacheWith(oracle, options)

/** {@link cache} with an optional durable {@link CacheStore} (what `journal` builds on); internal, not exported by the package. */
export const cacheWith = <O extends Oracle>(oracle: O, options: CacheOptions = {}, durable?: CacheStore): O & Cached => {
  {
    const max = options === null || typeof options !== 'object' ? Number.NaN : (options.maxEntries ?? Infinity)
    if (typeof max !== 'number' || !(max >= 1)) {
      return refusing(oracle, errors.invalidInput(options === null || typeof options !== 'object' ? `cache options are ${options === null ? 'null' : typeof options}; expected an object such as { maxEntries: 10000 }` : `maxEntries is ${typeof max === 'number' ? max : typeof max}; expected at least 1`, 'options.maxEntries'), {
        cacheStats: (): CacheStats => ({ predictHits: 0, predictMisses: 0, gradientHits: 0, gradientMisses: 0, size: 0 }),
        clearCache: () => undefined,
      }) as O & Cached
    }
    const predictions = new RowStore<PredictEntry>()
    const gradients = new RowStore<Float64Array>()
    let stats = { predictHits: 0, predictMisses: 0, gradientHits: 0, gradientMisses: 0 }
    const evict = <V>(m: RowStore<V>): void => {
      while (predictions.size + gradients.size > max && m.size > 0) m.evictOldest()
    }
    const info = oracle.info
    durable?.preload?.({
      predict: (r, entry) => predictions.set(RowStore.hash(r, -1), r, entry),
      gradient: (r, cls, g) => gradients.set(RowStore.hash(r, cls), r, g),
    })

    // Shared by predict and gradient: look up each row, send the distinct misses, fill in order.
    const lookup = <V>(
      x: Matrix,
      tags: Int32Array | undefined,
      store: RowStore<V>,
      send: (missRows: Int32Array) => TE.TaskEither<OracleError, ReadonlyArray<V>>,
      count: (hits: number, misses: number) => void,
      onFresh?: (rows: Float64Array[], tags: number[], values: ReadonlyArray<V>) => void,
    ): TE.TaskEither<OracleError, ReadonlyArray<V>> => {
      const found: Array<V | undefined> = new Array<V | undefined>(x.rows)
      const keys: string[] = new Array<string>(x.rows)
      // Misses are deduplicated within the query: `pending` maps to the first row with those bytes.
      const pending = new RowStore<number>()
      const missOf = new Int32Array(x.rows).fill(-1)
      const missRows: number[] = []
      let hits = 0
      for (let i = 0; i < x.rows; i++) {
        const r = row(x, i)
        const key = RowStore.hash(r, tags?.[i] ?? -1)
        keys[i] = key
        const v = store.get(key, r)
        if (v !== undefined) {
          found[i] = v
          hits++
          continue
        }
        const earlier = pending.get(key, r)
        if (earlier !== undefined) {
          missOf[i] = earlier
          hits++
          continue
        }
        pending.set(key, r, missRows.length)
        missOf[i] = missRows.length
        missRows.push(i)
      }
      const finish = (fresh: ReadonlyArray<V>): ReadonlyArray<V> => {
        count(hits, missRows.length)
        if (missRows.length > 0) onFresh?.(Array.from(missRows, (i) => row(x, i).slice()), Array.from(missRows, (i) => tags?.[i] ?? -1), fresh)
        missRows.forEach((i, m) => store.set(keys[i]!, row(x, i), fresh[m]!))
        evict(store)
        return Array.from(found, (v, i) => (v !== undefined ? v : fresh[missOf[i]!]!))
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
        TE.chain((q) =>
          lookup(
            q,
            undefined,
            predictions,
            (miss) =>
              F.pipe(
                oracle.predict(subset(q, miss)),
                // A short or malformed answer from below is a BadResponse, never rows made up here.
                TE.chainEitherK((p) => validatePrediction(info, miss.length, p)),
                TE.map((p) =>
                  Array.from(miss, (_, m): PredictEntry => ({
                    label: p.labels[m]!,
                    scores: p.scores?.data.slice(m * p.scores.cols, (m + 1) * p.scores.cols),
                  })),
                ),
              ),
            (h, m) => (stats = { ...stats, predictHits: stats.predictHits + h, predictMisses: stats.predictMisses + m }),
            durable === undefined ? undefined : (rows, _tags, values) => durable.record({ predict: rows.map((r, i) => [r, values[i]!] as const), gradient: [] }),
          ),
        ),
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
        TE.chain(([q, c]) =>
          F.pipe(
            lookup(
              q,
              c,
              gradients,
              (miss) =>
                F.pipe(
                  base.gradient(subset(q, miss), Int32Array.from(miss, (r) => c[r]!)),
                  TE.chainEitherK((g) => validateGradient(info, miss.length, g)),
                  TE.map((g) => Array.from(miss, (_, m) => g.data.slice(m * g.cols, (m + 1) * g.cols))),
                ),
              (h, m) => (stats = { ...stats, gradientHits: stats.gradientHits + h, gradientMisses: stats.gradientMisses + m }),
              durable === undefined ? undefined : (rows, tags, values) => durable.record({ predict: [], gradient: rows.map((r, i) => [r, tags[i]!, values[i]!] as const) }),
            ),
            TE.map((rowsOut) => {
              const data = new Float64Array(q.rows * q.cols)
              rowsOut.forEach((r, i) => data.set(r, i * q.cols))
              return { rows: q.rows, cols: q.cols, data }
            }),
          ),
        ),
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
}
