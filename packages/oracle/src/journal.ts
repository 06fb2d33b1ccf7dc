/**
 * `@sonde/oracle/journal`: a durable, append-only record of every answered row, in Node.
 *
 * @packageDocumentation
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { errors } from './errors.js'
import { refusing } from './middleware/extend.js'
import { cacheWith, type Cached, type CacheOptions, type PredictEntry } from './middleware/cache.js'
import type { Oracle, OracleInfo } from './oracle.js'

/** Options of {@link journal}. */
export interface JournalOptions extends CacheOptions {
  /** The journal file; created if missing. Its lock is `path + '.lock'`. */
  readonly path: string
}

/** The methods {@link journal} adds to those of a cache. */
export interface Journaled extends Cached {
  /** Rows read back from the file when it was opened, and records dropped as torn. */
  readonly journalStats: () => { readonly loadedRows: number; readonly tornRecords: number; readonly appendedRows: number }
  /** Release the lock and close the file (also done when the process exits). */
  readonly closeJournal: () => void
}

const bytesOf = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
const floatsOf = (s: string): Float64Array => {
  const b = Buffer.from(s, 'base64')
  const copy = new Uint8Array(b.byteLength)
  copy.set(b)
  return new Float64Array(copy.buffer)
}

/** What identifies the oracle a journal belongs to: its info, with typed arrays as plain arrays. */
const identity = (info: OracleInfo): string =>
  JSON.stringify(info, (_k, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'
  }
}

/**
 * A durable cache: every answered row (predictions and gradients) is appended to `path` and flushed to disk
 * (`fsync`) before the answer is returned; a later run with the same journal is answered from it for every
 * row it holds, so a deterministic probe rerun after a crash pays for no row twice. Sits where `cache()` sits:
 * `pipe(remote, retry(), budget(n), journal({ path }), batch(256), meter)`; `cacheStats()` counts its hits.
 *
 * Safe against what happens to files: a torn last record (a kill in mid-write) is detected and dropped; a
 * second process opening the same journal is refused (a lock file naming the live owner; a dead owner's
 * lock is taken over); the journal records the oracle's `info` and refuses a different oracle. Refusals are
 * typed errors at the first query (`InvalidInput`), never a throw.
 *
 * @example
 * // fragment: needs a remote oracle, and writes a file
 * import { function as F } from 'fp-ts'
 * import { budget, meter, type Oracle } from '@sonde/oracle'
 * import { journal } from '@sonde/oracle/journal'
 *
 * declare const remote: Oracle
 * const durable = F.pipe(remote, budget(10_000), journal({ path: 'out/queries.journal' }), meter)
 * const { loadedRows } = durable.journalStats() // rows a rerun will not pay for again
 */
export const journal =
  (options: JournalOptions) =>
  <O extends Oracle>(oracle: O): O & Journaled => {
    const { path } = options
    const stats = { loadedRows: 0, tornRecords: 0, appendedRows: 0 }
    const inert = { journalStats: () => ({ ...stats }), closeJournal: () => undefined, cacheStats: () => ({ predictHits: 0, predictMisses: 0, gradientHits: 0, gradientMisses: 0, size: 0 }), clearCache: () => undefined }
    const refuse = (message: string) => refusing(oracle, errors.invalidInput(message, 'options.path'), inert) as O & Journaled

    const lock = `${path}.lock`
    try {
      const fd = openSync(lock, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') return refuse(`cannot create the journal lock ${lock}: ${(e as Error).message}`)
      const owner = Number(readFileSync(lock, 'utf8'))
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) return refuse(`the journal ${path} is open in process ${owner}; one process at a time`)
      writeFileSync(lock, String(process.pid)) // a dead owner's lock (a kill -9): take it over
    }
    const release = (): void => {
      try {
        if (existsSync(lock) && readFileSync(lock, 'utf8') === String(process.pid)) unlinkSync(lock)
      } catch {
        // already gone
      }
    }

    const header = JSON.stringify({ sondeJournal: 1, info: JSON.parse(identity(oracle.info)) as unknown })
    const predictRecords: Array<[Float64Array, PredictEntry]> = []
    const gradientRecords: Array<[Float64Array, number, Float64Array]> = []
    let fd: number
    // Where the next record goes: records are written at explicit offsets (the file is opened r+).
    let end = 0
    try {
      fd = openSync(path, existsSync(path) ? 'r+' : 'w+')
      const text = readFileSync(path, 'utf8')
      if (text.length === 0) {
        end = writeSync(fd, `${header}\n`, 0, 'utf8')
        fsyncSync(fd)
      } else {
        const lines = text.split('\n')
        if (lines[0] !== header) {
          closeSync(fd)
          release()
          return refuse(`the journal ${path} belongs to another oracle (${(lines[0] ?? '').slice(0, 200)}); this one is ${header.slice(0, 200)}`)
        }
        // Every complete record ends with a newline; the last one may be torn (no newline, or not JSON).
        let good = Buffer.byteLength(`${lines[0]}\n`)
        const d = oracle.info.inputDim
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i]!
          const complete = i < lines.length - 1
          if (line === '' && !complete) break
          try {
            if (!complete) throw new Error('torn')
            const r = JSON.parse(line) as { k: 'p' | 'g'; r: string; l?: number; s?: string | null; c?: number; g?: string }
            const row = floatsOf(r.r)
            if (row.length !== d) throw new Error('width')
            if (r.k === 'p') predictRecords.push([row, { label: r.l!, scores: r.s === null || r.s === undefined ? undefined : floatsOf(r.s) }])
            else gradientRecords.push([row, r.c!, floatsOf(r.g!)])
            good += Buffer.byteLength(`${line}\n`)
          } catch {
            stats.tornRecords++
            break
          }
        }
        // Drop a torn tail so that the next record starts on a line of its own.
        ftruncateSync(fd, good)
        end = good
      }
    } catch (e) {
      release()
      return refuse(`cannot open the journal ${path}: ${(e as Error).message}`)
    }
    stats.loadedRows = predictRecords.length + gradientRecords.length
    let open = true
    const closeJournal = (): void => {
      if (!open) return
      open = false
      closeSync(fd)
      release()
      process.off('exit', closeJournal)
    }
    process.on('exit', closeJournal)

    const out = cacheWith(oracle, options, {
      preload: (put) => {
        for (const [row, entry] of predictRecords) put.predict(row, entry)
        for (const [row, cls, g] of gradientRecords) put.gradient(row, cls, g)
      },
      record: (fresh) => {
        if (!open) return
        const lines: string[] = []
        for (const [row, e] of fresh.predict) lines.push(JSON.stringify({ k: 'p', r: bytesOf(row), l: e.label, s: e.scores === undefined ? null : bytesOf(e.scores) }))
        for (const [row, cls, g] of fresh.gradient) lines.push(JSON.stringify({ k: 'g', r: bytesOf(row), c: cls, g: bytesOf(g) }))
        // One write and one fsync per answer: on disk before anyone sees the rows.
        end += writeSync(fd, `${lines.join('\n')}\n`, end, 'utf8')
        fsyncSync(fd)
        stats.appendedRows += lines.length
      },
    })
    Object.defineProperty(out, 'journalStats', { value: () => ({ ...stats }), enumerable: true })
    Object.defineProperty(out, 'closeJournal', { value: closeJournal, enumerable: true })
    return out as O & Journaled
  }
