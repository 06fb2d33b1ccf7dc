import { either as E, function as F } from 'fp-ts'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cache, createRng, meter, type Matrix, type Oracle, type OracleError, type Prediction } from '../src/index.js'
import { fromHttp, type HttpOracle, type HttpOracleOptions } from '../src/http.js'
import { journal } from '../src/journal.js'
import { D, startModelServer, type ModelServer } from './http-server.js'

const connect = async (options: HttpOracleOptions): Promise<HttpOracle> => {
  const r = await fromHttp(options)()
  if (E.isLeft(r)) throw new Error(`${r.left._tag}: ${r.left.message}`)
  return r.right
}

/**
 * A probe-like workload: 12 queries of 40 rows, each half new rows and half rows of the query before (which a
 * cache or journal answers), 260 distinct rows in all. Returns every answer's bits.
 */
const workload = async (oracle: Oracle): Promise<number[]> => {
  const rng = createRng(11)
  const distinct = Array.from({ length: 260 }, () => Array.from({ length: D }, () => rng.normal()))
  const out: number[] = []
  for (let step = 0; step < 12; step++) {
    const rows = [...distinct.slice(step * 20, step * 20 + 20), ...distinct.slice(step * 20 + 20, step * 20 + 40)]
    const x: Matrix = { rows: rows.length, cols: D, data: Float64Array.from(rows.flat()) }
    const p = await oracle.predict(x)()
    if (E.isLeft(p)) throw new Error(`step ${step}: ${p.left._tag}: ${p.left.message}`)
    out.push(...p.right.scores!.data, ...p.right.labels)
  }
  return out
}

const bits = (v: readonly number[]): string => Buffer.from(Float64Array.from(v).buffer).toString('hex')

describe('fromHttp through faults', () => {
  let clean: ModelServer
  let faulty: ModelServer
  beforeAll(async () => {
    ;[clean, faulty] = await Promise.all([startModelServer(), startModelServer()])
  })
  afterAll(async () => {
    await Promise.all([clean.close(), faulty.close()])
  })

  const base = (url: string): HttpOracleOptions => ({ protocol: 'open-inference', url, model: 'mlp', maxBatchRows: 8, concurrency: 4, timeoutMs: 400, retries: 6, retryBaseDelayMs: 5, retryMaxDelayMs: 2000 })

  it('503s, 429s with Retry-After, slow answers past the timeout and dropped connections: bit-identical results, no row answered twice under a cache', async () => {
    const reference = await workload(F.pipe(await connect({ ...base(clean.url), timeoutMs: 30_000 }), cache()))
    expect(clean.rowsAnswered()).toBe(260)
    faulty.reset()

    faulty.faults = { every503: 5, every429: 7, retryAfterS: 0.02, slowEvery: 17, slowMs: 1200, dropEvery: 13 }
    const cached = await connect(base(faulty.url))
    const metered = F.pipe(cached, cache(), meter)
    const t0 = Date.now()
    const got = await workload(metered)
    const ms = Date.now() - t0
    expect(bits(got)).toBe(bits(reference))
    const f = faulty.stats.faults
    const injected = f['503'] + f['429'] + f.slow + f.drop
    // Every fault kind fired; each became one retry, and nothing else was retried.
    for (const kind of ['503', '429', 'slow', 'drop'] as const) expect(f[kind]).toBeGreaterThan(0)
    expect(cached.httpStats().retries).toBe(injected)
    expect(faulty.rowsAnswered()).toBe(260)
    expect(faulty.rowsAnsweredTwice()).toBe(0)
    expect(metered.usage().predictRows).toBe(480)
    console.log(`faults (cache): ${faulty.stats.inferRequests} inference requests, ${JSON.stringify(f)} injected, ${cached.httpStats().retries} retries, ${faulty.rowsAnsweredTwice()} rows answered twice, ${ms} ms`)
    faulty.faults = {}
    faulty.reset()
  })

  it('the same faults under a journal: bit-identical results, every row answered once', async () => {
    const reference = await workload(F.pipe(await connect({ ...base(clean.url), timeoutMs: 30_000 }), cache()))
    faulty.reset()
    faulty.faults = { every503: 5, every429: 7, retryAfterS: 0.02, slowEvery: 17, slowMs: 1200, dropEvery: 13 }
    const path = join(mkdtempSync(join(tmpdir(), 'sonde-http-')), 'q.journal')
    const remote = await connect(base(faulty.url))
    const durable = F.pipe(remote, journal({ path }))
    const again = await workload(durable)
    durable.closeJournal()
    expect(bits(again)).toBe(bits(reference))
    expect(faulty.rowsAnswered()).toBe(260)
    expect(faulty.rowsAnsweredTwice()).toBe(0)
    console.log(`faults (journal): ${faulty.stats.inferRequests} inference requests, ${JSON.stringify(faulty.stats.faults)} injected, ${remote.httpStats().retries} retries, ${faulty.rowsAnsweredTwice()} rows answered twice`)
    faulty.faults = {}
    faulty.reset()
  })

  it('honours Retry-After: a 429 asking 1 s is waited for; one asking more than retryMaxDelayMs is returned at once', async () => {
    faulty.reset()
    faulty.faults = { every429: 2, retryAfterS: 1 }
    const o = await connect({ ...base(faulty.url), timeoutMs: 2000 })
    const x: Matrix = { rows: 1, cols: D, data: Float64Array.of(0.1, 0.2, 0.3, 0.4) }
    expect(E.isRight(await o.predict(x)())).toBe(true) // request 1: no fault
    const t0 = Date.now()
    const r = await o.predict(x)() // request 2: 429, Retry-After 1; request 3 answers
    const waited = Date.now() - t0
    expect(E.isRight(r)).toBe(true)
    expect(waited).toBeGreaterThanOrEqual(990)
    faulty.faults = { every429: 1, retryAfterS: 60 }
    const t1 = Date.now()
    const refused = await o.predict(x)()
    expect(Date.now() - t1).toBeLessThan(500)
    expect(E.isLeft(refused) && refused.left).toMatchObject({ _tag: 'Transport', retryable: true })
    expect(E.isLeft(refused) && refused.left.message).toContain('Retry-After')
    faulty.faults = {}
  })

  const within = async (limitMs: number, task: () => Promise<E.Either<OracleError, Prediction>>): Promise<OracleError> => {
    const t0 = Date.now()
    const r = await task()
    expect(Date.now() - t0).toBeLessThan(limitMs)
    if (E.isRight(r)) throw new Error('expected a failure')
    return r.left
  }

  it('non-retryable answers surface as typed BadResponse values at once, naming what was wrong and where', async () => {
    const x: Matrix = { rows: 3, cols: D, data: Float64Array.from({ length: 3 * D }, (_, k) => Math.sin(k)) }
    for (const protocol of ['open-inference', 'tf-serving'] as const) {
      const o = await connect({ ...base(faulty.url), protocol } as HttpOracleOptions)
      faulty.reset()
      faulty.faults = { malformedEvery: 1 }
      const malformed = await within(1000, o.predict(x))
      expect(malformed._tag).toBe('BadResponse')
      expect(malformed.message).toContain('malformed JSON')
      faulty.faults = { wrongShapeEvery: 1 }
      const shape = await within(1000, o.predict(x))
      expect(shape._tag).toBe('BadResponse')
      expect(shape.message).toMatch(/row 0 has 2 values; expected 3|shape \[3, 2\]|has 8 entries/)
      faulty.faults = { nanEvery: 1 }
      const nan = await within(1000, o.predict(x))
      expect(nan._tag).toBe('BadResponse')
      expect(nan.message).toContain('row 0, column 0 is NaN')
      expect(faulty.stats.inferRequests).toBe(3) // none retried
    }
    faulty.faults = {}
  })

  it('retryable faults past the retries, and the timeout, are typed values within the time they allow; abort is Aborted; nothing hangs', async () => {
    const x: Matrix = { rows: 2, cols: D, data: new Float64Array(2 * D) }
    faulty.faults = { every503: 1 }
    const o = await connect({ ...base(faulty.url), retries: 2, retryBaseDelayMs: 10 })
    const e503 = await within(1000, o.predict(x))
    expect(e503).toMatchObject({ _tag: 'Transport', retryable: true })
    expect(e503.message).toContain('HTTP 503')
    expect(e503.message).toContain('model server overloaded')
    expect(e503.message).toContain('after 3 attempts')
    faulty.faults = { slowEvery: 1, slowMs: 3000 }
    const slow = await within(1500, connectAndPredict({ ...base(faulty.url), retries: 1, timeoutMs: 200 }, x))
    expect(slow).toMatchObject({ _tag: 'Timeout', afterMs: 200 })
    faulty.faults = { dropEvery: 1 }
    const dropped = await within(1000, o.predict(x))
    expect(dropped).toMatchObject({ _tag: 'Transport', retryable: true })
    faulty.faults = { slowEvery: 1, slowMs: 3000 }
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const aborted = await within(1000, connectAndPredict({ ...base(faulty.url), timeoutMs: 5000, signal: controller.signal }, x))
    expect(aborted._tag).toBe('Aborted')
    faulty.faults = {}
    // A port nobody listens on: refused connections are retryable transport errors, reported after the retries.
    const closed = await startModelServer()
    const url = closed.url
    await closed.close()
    const refused = await within(2000, async () => fromHttp({ ...base(url), retries: 1 })() as Promise<E.Either<OracleError, Prediction>>)
    expect(refused).toMatchObject({ _tag: 'Transport', retryable: true })
  })

  const connectAndPredict =
    (options: HttpOracleOptions, x: Matrix) =>
    async (): Promise<E.Either<OracleError, Prediction>> => {
      // Connect while the faults spare metadata (they apply to inference requests only), then query.
      const o = await connect(options)
      return o.predict(x)()
    }
})
