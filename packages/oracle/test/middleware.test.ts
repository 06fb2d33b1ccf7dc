import { either as E, function as F } from 'fp-ts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { describeOracleContract } from '../src/testing/index.js'
import {
  batch,
  budget,
  cache,
  errors,
  fromFunction,
  fromRows,
  labelOnly,
  meter,
  retry,
  toPromise,
  topK,
  type Matrix,
  type OracleError,
} from '../src/index.js'
import { linearModel } from './helpers.js'

// The whole stack, in the recommended order, must still satisfy the contract.
describeOracleContract('retry + budget + cache + batch + meter over fromFunction', () =>
  F.pipe(linearModel(5, 3, 11).oracle, retry(), budget(1_000_000), cache(), batch(2), meter),
)
describeOracleContract('labelOnly', () => labelOnly(linearModel(4, 3, 12).oracle))
describeOracleContract('topK(2) of probabilities', () => F.pipe(linearModel(4, 5, 13, 'probabilities').oracle, topK(2)))

const randomRows = (n: number, d: number, offset = 0): Matrix =>
  ({ rows: n, cols: d, data: Float64Array.from({ length: n * d }, (_, k) => Math.sin(k + offset)) })

describe('meter', () => {
  it('counts rows and calls of each kind, and failures apart', async () => {
    const m = meter(linearModel(3, 2, 1).oracle)
    await toPromise(m.predict(randomRows(4, 3)))
    await toPromise(m.gradient(randomRows(2, 3), 1))
    await m.predict(randomRows(1, 4))()
    expect(m.usage()).toMatchObject({ predictRows: 4, predictCalls: 1, gradientRows: 2, gradientCalls: 1, failedCalls: 1, failedRows: 1 })
    expect(m.usage().wallTimeMs).toBeGreaterThanOrEqual(0)
    m.resetUsage()
    expect(m.usage().predictRows).toBe(0)
  })
})

describe('budget', () => {
  it('refuses the query that would exceed the limit, charging nothing of it', async () => {
    const base = linearModel(3, 2, 1)
    const b = budget(10)(base.oracle)
    await toPromise(b.predict(randomRows(7, 3)))
    const r = await b.predict(randomRows(4, 3))()
    expect(E.isLeft(r) && r.left).toMatchObject({ _tag: 'BudgetExhausted', used: 7, limit: 10, requested: 4 })
    expect(base.calls()).toBe(1)
    expect(b.budgetState().predict).toEqual({ limit: 10, used: 7, remaining: 3 })
    await toPromise(b.predict(randomRows(3, 3)))
    expect(b.budgetState().predict.remaining).toBe(0)
  })

  it('counts predict and gradient rows together under one limit, apart under two', async () => {
    const shared = budget(5)(linearModel(3, 2, 1).oracle)
    await toPromise(shared.gradient(randomRows(3, 3), 0))
    expect(E.isLeft(await shared.predict(randomRows(3, 3))())).toBe(true)
    const apart = budget({ predictRows: 5, gradientRows: 2 })(linearModel(3, 2, 1).oracle)
    await toPromise(apart.predict(randomRows(5, 3)))
    await toPromise(apart.gradient(randomRows(2, 3), 0))
    expect(E.isLeft(await apart.gradient(randomRows(1, 3), 0)())).toBe(true)
  })

  it('keeps the charge of a query that failed after being sent, refunds one that was never sent', async () => {
    let fail = true
    const flaky = fromFunction({ id: 'flaky', inputDim: 1, numClasses: 2, output: 'label' }, (x) => {
      if (fail) throw new Error('503')
      return new Int32Array(x.rows)
    })
    const b = budget(10)(flaky)
    await b.predict(randomRows(4, 1))()
    expect(b.budgetState().predict.used).toBe(4)
    await b.predict(randomRows(4, 2))()
    expect(b.budgetState().predict.used).toBe(4)
    fail = false
    await toPromise(b.predict(randomRows(6, 1)))
    expect(b.budgetState().predict.used).toBe(10)
  })

  it('is never exceeded under any interleaving of concurrent callers (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 25 }),
        async (limit, queries) => {
          // Each query answers after a random number of microtask hops, so completions interleave.
          const slow = fromFunction({ id: 'slow', inputDim: 1, numClasses: 2, output: 'label' }, async (x) => {
            for (let i = 0; i < (x.data[0]! | 0); i++) await Promise.resolve()
            return new Int32Array(x.rows)
          })
          const m = meter(slow)
          const b = budget(limit)(m)
          const results = await Promise.all(
            queries.map(([rows, delay]) => b.predict({ rows, cols: 1, data: new Float64Array(rows).fill(delay) })()),
          )
          const granted = queries.filter((_, i) => E.isRight(results[i]!)).reduce((a, [r]) => a + r, 0)
          expect(m.usage().predictRows).toBe(granted)
          expect(granted).toBeLessThanOrEqual(limit)
          expect(b.budgetState().predict.used).toBe(granted)
          // Refusals are only ever for queries that did not fit.
          results.forEach((r) => {
            if (E.isLeft(r)) expect(r.left._tag).toBe('BudgetExhausted')
          })
        },
      ),
      { seed: 42, numRuns: 200 },
    )
  })

  it('refuses a bad limit', async () => {
    // A bad argument is a typed error at the first query, never a throw while the stack is built.
    const refused = await budget(-1)(linearModel(1, 2, 1).oracle).predict({ rows: 1, cols: 1, data: Float64Array.of(0) })()
    expect(refused._tag === 'Left' && refused.left.message).toMatch(/non-negative integer/)
  })
})

describe('batch', () => {
  it('splits into chunks of at most maxRows and preserves order, for predict and gradient', async () => {
    const base = linearModel(3, 4, 2)
    const sizes: number[] = []
    const spy = meter(base.oracle)
    const inner = { ...spy, info: spy.info, predict: (x: Matrix) => (sizes.push(x.rows), spy.predict(x)), gradient: spy.gradient }
    const chunked = batch(4)(inner)
    const x = randomRows(10, 3)
    const whole = await toPromise(base.oracle.predict(x))
    const split = await toPromise(chunked.predict(x))
    expect(sizes).toEqual([4, 4, 2])
    expect(Array.from(split.labels)).toEqual(Array.from(whole.labels))
    expect(Array.from(split.scores!.data)).toEqual(Array.from(whole.scores!.data))
    const cls = Int32Array.from({ length: 10 }, (_, i) => i % 4)
    const g1 = await toPromise(base.oracle.gradient(x, cls))
    const g2 = await toPromise(chunked.gradient(x, cls))
    expect(Array.from(g2.data)).toEqual(Array.from(g1.data))
  })
})

describe('cache', () => {
  it('sends only unseen rows, each distinct row once, and counts hits apart', async () => {
    const base = meter(linearModel(3, 2, 3).oracle)
    const c = cache()(base)
    const x = randomRows(5, 3)
    const dup: Matrix = { rows: 7, cols: 3, data: Float64Array.from([...x.data, ...x.data.subarray(0, 6)]) }
    const first = await toPromise(c.predict(dup))
    expect(base.usage().predictRows).toBe(5)
    const again = await toPromise(c.predict(x))
    expect(base.usage().predictRows).toBe(5)
    expect(c.cacheStats()).toMatchObject({ predictHits: 2 + 5, predictMisses: 5 })
    expect(Array.from(again.scores!.data)).toEqual(Array.from(first.scores!.data.subarray(0, 10)))
    await toPromise(c.gradient(x, 1))
    await toPromise(c.gradient(x, 1))
    await toPromise(c.gradient(x, 0))
    expect(base.usage().gradientRows).toBe(10)
    expect(c.cacheStats()).toMatchObject({ gradientHits: 5, gradientMisses: 10 })
  })

  it('under a budget, charges only the misses; rows of a failed chunk above it are not lost', async () => {
    const base = linearModel(2, 2, 4)
    const limited = F.pipe(base.oracle, budget(6), cache(), batch(3))
    const x = randomRows(9, 2)
    const r = await limited.predict(x)()
    expect(E.isLeft(r) && r.left._tag).toBe('BudgetExhausted')
    // The first two chunks (6 rows) were paid and are served from the cache now.
    const firstSix: Matrix = { rows: 6, cols: 2, data: x.data.slice(0, 12) }
    await toPromise(limited.predict(firstSix))
    expect(limited.cacheStats().predictHits).toBe(6)
  })

  it('evicts the oldest entries past maxEntries', async () => {
    const base = meter(linearModel(2, 2, 5).oracle)
    const c = cache({ maxEntries: 3 })(base)
    await toPromise(c.predict(randomRows(5, 2)))
    expect(c.cacheStats().size).toBe(3)
  })
})

describe('labelOnly and topK', () => {
  it('labelOnly reveals labels only and no gradient', async () => {
    const o = labelOnly(linearModel(3, 3, 6).oracle)
    const p = await toPromise(o.predict(randomRows(2, 3)))
    expect(p.scores).toBeUndefined()
    expect('gradient' in o).toBe(false)
    expect(o.info.output).toBe('label')
  })

  it('topK keeps the k largest scores per row and hides the rest as NaN', async () => {
    const { oracle } = linearModel(3, 5, 7, 'probabilities')
    const full = await toPromise(oracle.predict(randomRows(4, 3)))
    const top = await toPromise(topK(2)(oracle).predict(randomRows(4, 3)))
    for (let i = 0; i < 4; i++) {
      const r = Array.from(full.scores!.data.subarray(i * 5, i * 5 + 5))
      const sorted = [...r].sort((a, b) => b - a)
      const t = Array.from(top.scores!.data.subarray(i * 5, i * 5 + 5))
      expect(t.filter((v) => !Number.isNaN(v)).sort((a, b) => b - a)).toEqual(sorted.slice(0, 2))
    }
    const x1 = { rows: 1, cols: oracle.info.inputDim, data: new Float64Array(oracle.info.inputDim) }
    const noScores = await topK(1)(labelOnly(oracle)).predict(x1)()
    expect(noScores._tag === 'Left' && noScores.left._tag).toBe('MissingCapability')
    const tooMany = await topK(6)(oracle).predict(x1)()
    expect(tooMany._tag === 'Left' && tooMany.left.message).toMatch(/1\.\.5/)
  })
})

describe('retry', () => {
  it('retries retryable failures only, then succeeds', async () => {
    let attempts = 0
    const flaky = fromFunction({ id: 'flaky', inputDim: 1, numClasses: 2, output: 'label' }, (x) => new Int32Array(x.rows))
    const failing = {
      ...flaky,
      predict: (x: Matrix) => async () => {
        attempts++
        if (attempts < 3) return E.left<OracleError>(errors.transport('connection reset', true))
        return flaky.predict(x)()
      },
    }
    const r = retry({ retries: 3, baseDelayMs: 1 })(failing)
    await toPromise(r.predict(fromRows([[1]])))
    expect(attempts).toBe(3)
    let permanent = 0
    const fatal = { ...flaky, predict: (_x: Matrix) => async () => (permanent++, E.left<OracleError>(errors.transport('401 unauthorized', false))) }
    expect(E.isLeft(await retry({ baseDelayMs: 1 })(fatal).predict(fromRows([[1]]))())).toBe(true)
    expect(permanent).toBe(1)
  })
})
