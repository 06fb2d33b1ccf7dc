import { describe, expect, it } from 'vitest'
import { createRng, fromFunction, meter, toPromise, type Matrix } from '@sonde/oracle'
import { correctModel, defuse, type Generator } from '../src/index.js'
import { labelShareNearby } from '../src/defuse.js'

/**
 * Three classes on the plane, each the nearest of three centres; the model is right everywhere but in a
 * planted disc inside class 0, which it reads as 1. Sources of every class: the user does not know where
 * the bug is. Perturbations that cross a class boundary are misread relative to their source label,
 * but there the model is right (the input became the other class): those are the regions the score must
 * rank below the bug.
 */
const centres = [
  [0, 0],
  [4, 0],
  [2, 3.5],
] as const
const truth = (a: number, b: number): number => {
  let best = 0
  for (let c = 1; c < 3; c++) if (Math.hypot(a - centres[c]![0], b - centres[c]![1]) < Math.hypot(a - centres[best]![0], b - centres[best]![1])) best = c
  return best
}
const bug = { centre: [-0.6, -0.6] as const, radius: 0.8 }
const inBug = (a: number, b: number): boolean => Math.hypot(a - bug.centre[0], b - bug.centre[1]) < bug.radius
const model = fromFunction({ id: 'three-planted', inputDim: 2, numClasses: 3, output: 'label' }, (x) =>
  Int32Array.from({ length: x.rows }, (_, i) => {
    const [a, b] = [x.data[2 * i]!, x.data[2 * i + 1]!]
    return inBug(a, b) ? 1 : truth(a, b)
  }),
)
const identity: Generator = { latentDim: 2, encode: (x) => x, decode: (z) => z }
const sources = (() => {
  const rng = createRng(4)
  const n = 450
  const x = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    const c = centres[i % 3]!
    x[2 * i] = c[0] + 1.1 * rng.normal()
    x[2 * i + 1] = c[1] + 1.1 * rng.normal()
  }
  // Each source labelled by the truth at its point (what a correct labeller says).
  return { x: { rows: n, cols: 2, data: x }, y: Int32Array.from({ length: n }, (_, i) => truth(x[2 * i]!, x[2 * i + 1]!)) }
})()
const bugShare = (samples: Matrix, oracle: Int32Array): number => {
  let c = 0
  for (let i = 0; i < samples.rows; i++) if (inBug(samples.data[2 * i]!, samples.data[2 * i + 1]!) && truth(samples.data[2 * i]!, samples.data[2 * i + 1]!) === 0 && oracle[i] === 1) c++
  return c / samples.rows
}

describe('labelShareNearby', () => {
  it('is the mean share of same-label rows among the k nearest, as a full sort of all distances says', () => {
    const rng = createRng(9)
    const ref: Matrix = { rows: 60, cols: 3, data: Float64Array.from({ length: 180 }, () => rng.normal()) }
    const labels = Int32Array.from({ length: 60 }, () => rng.int(3))
    const codes: Matrix = { rows: 7, cols: 3, data: Float64Array.from({ length: 21 }, () => rng.normal()) }
    for (const k of [1, 5, 60, 100]) {
      let expected = 0
      for (let i = 0; i < codes.rows; i++) {
        const byDistance = Array.from({ length: 60 }, (_, j) => ({ j, d: Math.hypot(...[0, 1, 2].map((a) => codes.data[3 * i + a]! - ref.data[3 * j + a]!)) })).sort((p, q) => p.d - q.d)
        const near = byDistance.slice(0, Math.min(k, 60))
        expected += near.filter((p) => labels[p.j] === 2).length / near.length / codes.rows
      }
      expect(labelShareNearby(codes, ref, labels, 2, k)).toBeCloseTo(expected, 12)
    }
    // Two far-apart clusters: a code inside cluster 0 has only label-0 neighbours.
    const two: Matrix = { rows: 4, cols: 1, data: Float64Array.of(0, 0.1, 10, 10.1) }
    expect(labelShareNearby({ rows: 1, cols: 1, data: Float64Array.of(0.05) }, two, Int32Array.of(0, 0, 1, 1), 0, 2)).toBe(1)
    expect(labelShareNearby({ rows: 1, cols: 1, data: Float64Array.of(0.05) }, two, Int32Array.of(0, 0, 1, 1), 1, 2)).toBe(0)
  })
})

describe('defuse from sources of every class: the planted bug is the top-ranked region', () => {
  it('ranked[0] is the planted disc (≥ 70 % of its fresh samples, of at most ≈ 86 %, are class 0 inside the disc read as 1); share × errorRate alone ranks a boundary region first', async () => {
    const box = meter(model)
    const r = await toPromise(defuse(box, identity, sources, { perturbations: 10, keepPerSource: 3, scale: 3, seed: 3, samplesPerRegion: 100, regions: { maxComponents: 10 } }))
    expect(box.usage().predictRows).toBe(r.queries.predictRows)
    expect(r.mixtures.map((m) => m.sourceLabel)).toEqual([0, 1, 2])
    expect(r.mixture).toBeUndefined()
    const top = r.ranked[0]!
    expect(top.sourceLabel).toBe(0)
    expect(top.predictedLabel).toBe(1)
    // A Gaussian fitted to a uniform disc (σ = r/2 per axis) puts 1 − e⁻² ≈ 86 % of its mass inside it:
    // the most a region's fresh samples can be the bug here.
    expect(bugShare(top.samples, top.oracleLabels)).toBeGreaterThanOrEqual(0.7)
    for (const x of r.ranked) {
      // The score as documented, recomputed: the likeness from a full sort, the error rate from the model.
      let wrong = 0
      for (const l of x.oracleLabels) if (l !== x.sourceLabel) wrong++
      expect(x.errorRate).toBeCloseTo(wrong / 100, 12)
      expect(x.sourceLikeness).toBeCloseTo(labelShareNearby(x.samples, sources.x, sources.y, x.sourceLabel, 10), 12)
      expect(x.score).toBeCloseTo(x.share * x.errorRate * Math.max(0, 2 * x.sourceLikeness - 1), 12)
      // Members are rows of identification.codes with the region's source label.
      for (const m of x.region.members) expect(r.identification.sourceLabels[m]).toBe(x.sourceLabel)
    }
    expect(r.ranked.map((x) => x.score)).toEqual([...r.ranked.map((x) => x.score)].sort((a, b) => b - a))
    expect(r.regions.reduce((a, x) => a + x.share, 0)).toBeLessThanOrEqual(1 + 1e-9)
    // Without the likeness the ranking would put a boundary crossing first: the term is what finds the bug.
    const byErrorAndShare = [...r.regions].sort((a, b) => b.share * b.errorRate - a.share * a.errorRate)[0]!
    expect(bugShare(byErrorAndShare.samples, byErrorAndShare.oracleLabels)).toBeLessThan(0.5)
  })
})

describe('correctModel spread', () => {
  it('refuses a spread that is not a positive finite number before anything runs', async () => {
    for (const spread of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const r = await correctModel(undefined as never, undefined as never, [], identity, { seed: 1, spread })()
      expect(r._tag === 'Left' && r.left._tag === 'InvalidOptions' && r.left.message.includes('options.spread')).toBe(true)
    }
  })
})
