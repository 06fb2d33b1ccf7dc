/**
 * Fuzz of the `sonde` compositions from a JavaScript caller: junk options and inputs, bad seeds, and
 * misbehaving oracles (throw, reject, hang — bounded by `timeout` — wrong shapes, NaN). Invariants: no throw,
 * no rejection, no hang; every `Left` has a known tag; every `Right` reports finite numbers and stays within
 * its budget; bad options are refused with 0 oracle calls.
 */
import { either as E } from 'fp-ts'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { fromFunction, labelOnly, meter, timeout, type ErrorTag, type GradientOracle, type Matrix, type Oracle } from '@sonde/oracle'
import { audit, blackBoxCounterfactual, defaultRegistry, explanationLeakAudit } from '../src/index.js'

let cases = 0
afterAll(() => console.log(`sonde fuzz: ${cases} cases`))
const tags = new Set<ErrorTag>(['InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'BudgetExhausted', 'Transport', 'BadResponse', 'Timeout', 'Aborted', 'NotConverged', 'Infeasible', 'Unidentifiable', 'TrainingFailed', 'PluginFailed', 'MissingCapability'])

const junk = fc.oneof(
  fc.constant(null), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-1), fc.constant(0), fc.constant(1.5),
  fc.constant(2 ** 53), fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 400 }), fc.constant([]), fc.constant({}),
)

const W = [[0.5, -1, 0.25], [-0.5, 1, 0.75]]
type Behaviour = 'good' | 'throws' | 'rejects' | 'hangs' | 'short' | 'nan'
const model = (b: Behaviour): GradientOracle => {
  const logits = (x: Matrix): Matrix | Promise<Matrix> => {
    if (b === 'throws') throw new Error('boom')
    if (b === 'rejects') return Promise.reject(new Error('late'))
    if (b === 'hangs') return new Promise<Matrix>(() => undefined)
    const rows = b === 'short' ? Math.max(0, x.rows - 1) : x.rows
    return { rows, cols: 2, data: Float64Array.from({ length: 2 * rows }, (_, k) => (b === 'nan' ? Number.NaN : W[k % 2]!.reduce((s, v, j) => s + v * x.data[3 * Math.floor(k / 2) + j]!, 0))) }
  }
  return timeout(200)(
    fromFunction({ id: `fuzz:${b}`, inputDim: 3, numClasses: 2, output: 'logits', domain: { lower: -1, upper: 1 } }, logits, {
      gradient: (x, cls) => {
        if (b !== 'good') return logits(x) as never
        const g = new Float64Array(3 * x.rows)
        for (let i = 0; i < x.rows; i++) g.set(W[cls[i]!]!, 3 * i)
        return { rows: x.rows, cols: 3, data: g }
      },
    }),
  )
}

const settle = async (f: () => Promise<E.Either<{ _tag: ErrorTag }, unknown>>): Promise<E.Either<{ _tag: ErrorTag }, unknown>> => {
  cases++
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('hung')), 20_000)))
  try {
    return await Promise.race([f(), hung])
  } finally {
    clearTimeout(timer)
  }
}

const finiteNumbers = (v: unknown, path = 'result'): void => {
  if (typeof v === 'number') expect(Number.isFinite(v), path).toBe(true)
  else if (v instanceof Float64Array) expect(v.every(Number.isFinite), path).toBe(true)
  else if (Array.isArray(v)) v.forEach((x, i) => finiteNumbers(x, `${path}[${i}]`))
  else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) finiteNumbers(x, `${path}.${k}`)
}

describe('sonde fuzz', () => {
  it('the compositions given junk options, bad seeds and misbehaving oracles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Behaviour>('good', 'good', 'throws', 'rejects', 'hangs', 'short', 'nan'),
        fc.oneof(junk, fc.integer({ min: 20, max: 300 })),
        fc.oneof(junk, fc.integer({ min: 0, max: 5 })),
        fc.oneof(junk, fc.integer({ min: 0, max: 1 })),
        fc.oneof(junk, fc.constant(Float64Array.of(0.2, -0.3, 0.1)), fc.constant(Float64Array.of(Number.NaN, 0, 0))),
        fc.constantFrom('counterfactual', 'leak', 'audit'),
        async (b, budget, seed, target, x0, which) => {
          const m = meter(model(b))
          const o: Oracle = which === 'counterfactual' ? labelOnly(m) : m
          const r = await settle(
            () =>
              (which === 'counterfactual'
                ? blackBoxCounterfactual(o, x0 as Float64Array, { target: target as number, budget: budget as number, seed: seed as number })
                : which === 'leak'
                  ? explanationLeakAudit(o as GradientOracle, { budget: budget as number, seed: seed as number, checkPoints: 10, epochs: 2, hidden: [4] })
                  : audit(o, { budget: (typeof budget === 'number' ? budget * 5 : budget) as number, seed: seed as number, counterfactuals: 1 }))() as Promise<E.Either<{ _tag: ErrorTag }, unknown>>,
          )
          if (E.isLeft(r)) {
            expect(tags.has(r.left._tag), r.left._tag).toBe(true)
            if (r.left._tag === 'InvalidOptions') expect(m.usage().predictCalls + m.usage().gradientCalls).toBe(0)
            return
          }
          const v = r.right as { queries: { predictRows: number; gradientRows: number }; seed: number; distance?: number }
          expect(v.seed).toBe(seed)
          const limit = which === 'audit' ? (budget as number) * 5 : (budget as number)
          expect(v.queries.predictRows + v.queries.gradientRows).toBeLessThanOrEqual(limit)
          finiteNumbers(v.queries)
          if (v.distance !== undefined) expect(Number.isFinite(v.distance)).toBe(true)
        },
      ),
      { seed: 42, numRuns: 60 },
    )
  }, 120_000)

  it('defaultRegistry given junk plugins never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(junk, fc.record({ id: fc.string(), summary: fc.string() })), { maxLength: 3 }), (ps) => {
        cases++
        expect(() => defaultRegistry(ps as never)).not.toThrow()
        expect(E.isLeft(defaultRegistry(ps as never))).toBe(ps.length > 0)
      }),
      { seed: 3, numRuns: 100 },
    )
  })
})
