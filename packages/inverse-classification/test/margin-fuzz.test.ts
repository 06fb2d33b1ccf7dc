import { either as E } from 'fp-ts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { inverseSoftmax } from '../src/index.js'
import { bruteForceProjection } from './reference.js'

// Degenerate margin problems of the kind a fuzz run found wrong answers on: x0 on or outside the box, more
// competitors than free features, weights on a coarse grid (so constraints are often parallel or dependent).
// Every answer is compared with the brute-force enumeration of faces: Infeasible exactly when it finds no
// feasible point, otherwise the same distance.
const quarter = fc.integer({ min: -12, max: 12 }).map((v) => v / 4)

const problem = fc
  .record({ d: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 2, max: 5 }) })
  .chain(({ d, k }) =>
    fc.record({
      d: fc.constant(d),
      k: fc.constant(k),
      w: fc.array(quarter, { minLength: d * k, maxLength: d * k }),
      b: fc.array(quarter, { minLength: k, maxLength: k }),
      x0: fc.array(quarter, { minLength: d, maxLength: d }),
      target: fc.integer({ min: 0, max: k - 1 }),
      margin: fc.constantFrom(0, 0.5, 3),
      lower: fc.option(fc.array(fc.option(fc.integer({ min: -8, max: 0 }).map((v) => v / 4), { nil: undefined }), { minLength: d, maxLength: d }), { nil: undefined }),
      upper: fc.option(fc.array(fc.option(fc.integer({ min: 0, max: 8 }).map((v) => v / 4), { nil: undefined }), { minLength: d, maxLength: d }), { nil: undefined }),
    }),
  )

type Problem = typeof problem extends fc.Arbitrary<infer P> ? P : never

const check = (p: Problem): void => {
  const lower = Float64Array.from({ length: p.d }, (_, i) => p.lower?.[i] ?? -Infinity)
  const upper = Float64Array.from({ length: p.d }, (_, i) => p.upper?.[i] ?? Infinity)
  const model = { weights: { rows: p.k, cols: p.d, data: Float64Array.from(p.w) }, bias: Float64Array.from(p.b) }
  const r = inverseSoftmax(model, Float64Array.from(p.x0), { target: p.target, margin: p.margin, domain: { lower, upper } })
  const rows = Array.from({ length: p.k }, (_, c) => c)
    .filter((c) => c !== p.target)
    .map((c) => Array.from({ length: p.d }, (_, i) => p.w[p.target * p.d + i]! - p.w[c * p.d + i]!))
  const consts = Array.from({ length: p.k }, (_, c) => c)
    .filter((c) => c !== p.target)
    .map((c) => p.b[p.target]! - p.b[c]! - p.margin)
  const ref = bruteForceProjection(rows, consts, p.x0, Array.from(lower), Array.from(upper))
  if (ref === undefined) {
    expect(E.isLeft(r) ? r.left._tag : 'Right').toBe('Infeasible')
    return
  }
  expect(E.isRight(r) ? 'Right' : `${r.left._tag}: ${r.left.message}`).toBe('Right')
  if (E.isLeft(r)) return
  expect(Math.abs(r.right.distance - ref.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.distance))
  // The certificate, relative to the multipliers' size (complementarity is a product).
  expect(r.right.kktResidual).toBeLessThanOrEqual(1e-9 * Math.max(1, ...Array.from(r.right.multipliers)) * Math.max(1, ref.distance))
}

describe('inverseSoftmax (margin) on degenerate problems, against brute force', () => {
  it('the fuzz reproducers: x0 on the lower bound; more competitors than features', () => {
    // Was Infeasible; x = (2/3, 0) is feasible (margin 0 here, the fuzz run used the default).
    const a = inverseSoftmax({ weights: { rows: 2, cols: 2, data: Float64Array.of(0, 0, 3, 0) }, bias: Float64Array.of(0, -2) }, Float64Array.of(0, 0), { target: 1, domain: { lower: 0, upper: Infinity }, margin: 0 })
    expect(E.isRight(a) && Array.from(a.right.x)).toEqual([2 / 3, 0])
    // Was Infeasible with no bounds; the answer is x = 1.125.
    const b = inverseSoftmax({ weights: { rows: 4, cols: 1, data: Float64Array.of(0.5, -0.25, 2.5, -0.25) }, bias: Float64Array.of(-0.25, -1.25, 0.5, 0.5) }, Float64Array.of(-0.75), { target: 2, margin: 3 })
    expect(E.isRight(b) && b.right.x[0]).toBeCloseTo(1.125, 12)
  })

  it('a problem on which changing every violating coordinate at once cycles: the one-at-a-time rounds end it', () => {
    // Found with fast-check seed 8 (4,000 runs); without the fallback it ended in NotConverged.
    check({ d: 3, k: 5, w: [0, 2, 0.75, 0, 0, 0, -1, 0, 0, -1.25, 2.25, 2, 2.75, -0.25, -2.25], b: [0, 0, 0, 0.75, 0], x0: [0, 0, 0], target: 0, margin: 0.5, lower: undefined, upper: [1, 1, 0.25] })
  })

  it('500 random problems (seeded): Infeasible exactly when brute force finds no point, else the same distance', () => {
    fc.assert(fc.property(problem, check), { seed: 20261201, numRuns: 500 })
  })
})
