import { either as E } from 'fp-ts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cholesky, choleskyTask, gram, gramBlocks, luFactor, luSolve, solve, solveCholesky, solveLower, solveLowerTransposed } from '../src/index.js'

/** Anything a JavaScript caller might pass where a Matrix or a vector is expected. */
const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.array(fc.double(), { maxLength: 6 }),
  fc.record({ rows: fc.integer({ min: -2, max: 5 }), cols: fc.integer({ min: -2, max: 5 }), data: fc.array(fc.double(), { maxLength: 30 }) }),
  fc.record({ rows: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), fc.constant(Number.NaN)), cols: fc.integer({ min: 0, max: 5 }), data: fc.float64Array({ maxLength: 30 }) }),
  fc.integer({ min: 0, max: 5 }).chain((n) => fc.record({ rows: fc.constant(n), cols: fc.constant(n), data: fc.float64Array({ minLength: n * n, maxLength: n * n }) })),
)
const tags = new Set(['InvalidInput', 'ShapeMismatch', 'Infeasible'])

/** Never a throw; a Left is one of the documented tags; a Right is finite. */
const total = (r: E.Either<{ readonly _tag: string }, unknown>): void => {
  if (E.isLeft(r)) expect(tags.has(r.left._tag)).toBe(true)
}

describe('bad input is a typed Left, never a throw (fast-check)', () => {
  it('cholesky, luFactor, solve, gram on anything', () => {
    fc.assert(
      fc.property(junk, junk, junk, (a, b, o) => {
        total(cholesky(a as never, o as never))
        total(luFactor(a as never))
        total(solve(a as never, b as never))
        total(gram(a as never, { weights: b as never }))
        total(solveLower(a as never, b as never))
        total(solveLowerTransposed(a as never, b as never))
        total(solveCholesky(a as never, b as never))
        total(luSolve(a as never, b as never))
      }),
      { numRuns: 400, seed: 16 },
    )
  })

  it('choleskyTask and gramBlocks on anything', async () => {
    await fc.assert(
      fc.asyncProperty(junk, junk, async (a, w) => {
        total(await choleskyTask(a as never, { parallel: false }))
        total(await gramBlocks(a as never, [w] as never, () => undefined, { parallel: false }))
        total(await gramBlocks(a as never, w as never, () => undefined, { parallel: false }))
      }),
      { numRuns: 150, seed: 17 },
    )
  })

  it('bad options are InvalidInput naming the option', () => {
    const a = { rows: 2, cols: 2, data: Float64Array.of(2, 0, 0, 2) }
    for (const [o, path] of [
      [{ shift: Number.NaN }, 'options.shift'],
      [{ shift: '1' }, 'options.shift'],
      [{ pivotTolerance: -1 }, 'options.pivotTolerance'],
      [{ pivotTolerance: 1 }, 'options.pivotTolerance'],
    ] as const) {
      const r = cholesky(a, o as never)
      expect(E.isLeft(r) && r.left._tag === 'InvalidInput' && r.left.path).toBe(path)
    }
  })

  it('a symmetric matrix with random signs: either L with L Lᵀ = A (1e-10) or a failed pivot, at every size across the blocked path', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 140 }), fc.integer({ min: 0, max: 1000 }), fc.double({ min: -2, max: 2, noNaN: true }), (p, seed, diag) => {
        let s = seed + 1
        const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1
        const a = new Float64Array(p * p)
        for (let i = 0; i < p; i++) {
          for (let j = 0; j < i; j++) a[i * p + j] = a[j * p + i] = rnd() / p
          a[i * p + i] = diag + rnd() * 0.5
        }
        const r = cholesky({ rows: p, cols: p, data: a })
        if (E.isLeft(r)) {
          expect(r.left._tag).toBe('Infeasible')
          return
        }
        const l = r.right.data
        for (let i = 0; i < p; i += Math.max(1, Math.floor(p / 9))) {
          for (let j = 0; j <= i; j++) {
            let v = 0
            for (let k = 0; k <= j; k++) v += l[i * p + k]! * l[j * p + k]!
            expect(Math.abs(v - a[i * p + j]!)).toBeLessThanOrEqual(1e-10)
          }
        }
      }),
      { numRuns: 60, seed: 18 },
    )
  })
})
