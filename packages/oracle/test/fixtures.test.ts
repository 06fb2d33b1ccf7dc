import { either as E, function as F, taskEither as TE } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { batch, budget, cache, errors, extendOracle, fromFunction, isRetryable, retry, SondeError, timeout, topK, type Matrix, type OracleInfo } from '../src/index.js'

// Inputs that once broke us (a fuzz run against the built packages), each with what went wrong.
const info: OracleInfo = { id: 'fixture', inputDim: 3, numClasses: 2, output: 'probabilities' }
const x = (rows: number): Matrix => ({ rows, cols: 3, data: Float64Array.from({ length: rows * 3 }, (_, k) => k / 10) })
const tagOf = <A>(r: E.Either<{ readonly _tag: string }, A>): string => (E.isLeft(r) ? r.left._tag : 'Right')
const half = (q: Matrix): Matrix => ({ rows: q.rows, cols: 2, data: new Float64Array(2 * q.rows).fill(0.5) })

describe('fixtures: remote-style failures keep their meaning', () => {
  it('a thrown SondeError(Transport, retryable) stays a retryable Transport error, and retry() gets through it', async () => {
    // Was: BadResponse "the predict function threw", not retryable, so retry() gave up after one call.
    let calls = 0
    const flaky = fromFunction(info, (q) => {
      calls++
      if (calls < 3) throw new SondeError(errors.transport('HTTP 503', true))
      return half(q)
    })
    const once = await flaky.predict(x(2))()
    expect(E.isLeft(once) && once.left._tag === 'Transport' && isRetryable(once.left)).toBe(true)
    const robust = F.pipe(flaky, retry({ retries: 3, baseDelayMs: 1 }))
    expect(tagOf(await robust.predict(x(2))())).toBe('Right')
    expect(calls).toBe(3)
  })

  it('a rejected SondeError keeps its tag too; any other throw is a BadResponse', async () => {
    const rejecting = fromFunction(info, async () => Promise.reject(new SondeError(errors.timeout(50, 'the server'))))
    expect(tagOf(await rejecting.predict(x(1))())).toBe('Timeout')
    const plain = fromFunction(info, () => {
      throw new Error('boom')
    })
    expect(tagOf(await plain.predict(x(1))())).toBe('BadResponse')
  })

  it('a call that never settles ends in Timeout (retryable), from fromFunction’s timeoutMs and from the timeout middleware', async () => {
    // Was: nothing timed out; an oracle task that never settled hung every middleware and probe.
    const never = fromFunction(info, () => new Promise<Matrix>(() => undefined), { timeoutMs: 30 })
    const r = await never.predict(x(1))()
    expect(E.isLeft(r) && r.left._tag === 'Timeout' && isRetryable(r.left)).toBe(true)
    const hanging = extendOracle(fromFunction(info, half), { predict: () => () => new Promise(() => undefined) })
    const t0 = Date.now()
    const bounded = await F.pipe(hanging, timeout(30)).predict(x(1))()
    expect(tagOf(bounded)).toBe('Timeout')
    // Generous: the point is that it returns at all, not how fast.
    expect(Date.now() - t0).toBeLessThan(10_000)
  })
})

describe('fixtures: middleware never makes up or mis-slices rows', () => {
  it('cache: a short answer from below is a BadResponse, not invented label-0 rows', async () => {
    const short = extendOracle(fromFunction(info, half), { predict: (q: Matrix) => TE.right({ labels: new Int32Array(q.rows - 1), scores: { rows: q.rows - 1, cols: 2, data: new Float64Array(2 * (q.rows - 1)).fill(0.5) } }) })
    const r = await F.pipe(short, cache()).predict(x(3))()
    expect(tagOf(r)).toBe('BadResponse')
  })

  it('batch: a 4×3 matrix with 13 values is refused before it is cut', async () => {
    const chunked = F.pipe(fromFunction(info, half), batch(2))
    const r = await chunked.predict({ rows: 4, cols: 3, data: new Float64Array(13) })()
    expect(tagOf(r)).toBe('ShapeMismatch')
  })

  it('batch: a chunk answered short is a BadResponse', async () => {
    const short = extendOracle(fromFunction(info, half), { predict: (q: Matrix) => TE.right({ labels: new Int32Array(Math.max(0, q.rows - 1)), scores: { rows: Math.max(0, q.rows - 1), cols: 2, data: new Float64Array(2 * Math.max(0, q.rows - 1)).fill(0.5) } }) })
    expect(tagOf(await F.pipe(short, batch(2)).predict(x(5))())).toBe('BadResponse')
  })
})

describe('fixtures: what an implementation returns is checked against its info', () => {
  it.each([
    ['negative', Float64Array.of(-0.2, 1.2)],
    ['infinite', Float64Array.of(Infinity, 0)],
    ['not summing to 1', Float64Array.of(0.3, 0.3)],
    ['NaN', Float64Array.of(Number.NaN, 1)],
  ])('probabilities that are %s are a BadResponse', async (_, row) => {
    const bad = fromFunction(info, (q) => ({ rows: q.rows, cols: 2, data: Float64Array.from({ length: 2 * q.rows }, (__, k) => row[k % 2]!) }))
    const r = await bad.predict(x(2))()
    expect(E.isLeft(r) && r.left._tag === 'BadResponse' && r.left.message.includes('scores[0]') || (E.isLeft(r) && r.left.message.includes('row 0'))).toBe(true)
  })

  it('infinite logits are a BadResponse', async () => {
    const bad = fromFunction({ ...info, output: 'logits' }, (q) => ({ rows: q.rows, cols: 2, data: new Float64Array(2 * q.rows).fill(-Infinity) }))
    expect(tagOf(await bad.predict(x(1))())).toBe('BadResponse')
  })

  it('a NaN gradient is a BadResponse naming its row and column', async () => {
    // Was: accepted at the boundary; extraction then paid for 16,385 rows before a misleading error.
    const g = fromFunction({ ...info, output: 'logits' }, (q) => ({ rows: q.rows, cols: 2, data: new Float64Array(2 * q.rows) }), {
      gradient: (q) => ({ rows: q.rows, cols: 3, data: Float64Array.from({ length: 3 * q.rows }, (_, k) => (k === 5 ? Number.NaN : 1)) }),
    })
    const r = await g.gradient(x(2), 0)()
    expect(E.isLeft(r) && r.left._tag === 'BadResponse' && r.left.message.includes('gradient[1][2]')).toBe(true)
  })

  it('a domain with lower > upper, or NaN bounds, is refused', () => {
    // Was: accepted, and every query outside an empty box.
    for (const domain of [{ lower: 1, upper: 0 }, { lower: Float64Array.of(0, 0, Number.NaN), upper: 1 }]) {
      let thrown: unknown
      try {
        fromFunction({ ...info, domain }, half)
      } catch (e) {
        thrown = e
      }
      expect(thrown instanceof SondeError && thrown.error._tag === 'InvalidInput' && thrown.error.message.includes('domain')).toBe(true)
    }
  })
})

describe('fixtures: middleware arguments', () => {
  it('budget, batch, cache, retry, timeout and topK never throw on a bad argument: the first query is the typed error', async () => {
    // Was: each threw while the stack was being built.
    const base = fromFunction(info, half)
    const stacks = [budget(Number.NaN)(base), batch(0)(base), cache({ maxEntries: 0 })(base), retry({ retries: -1 })(base), retry({ baseDelayMs: Number.NaN })(base), timeout(0)(base), topK(9)(base)]
    for (const o of stacks) {
      const r = await o.predict(x(1))()
      expect(r._tag === 'Left' && r.left._tag).toBe('InvalidInput')
    }
  })
})
