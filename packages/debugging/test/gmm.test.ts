import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { createRng, toPromise, type Matrix } from '@sonde/oracle'
import { digamma, fitDirichletProcessGmm, sampleComponent } from '../src/index.js'


/** Planted clusters: `sizes[c]` points around `centres[c]` with per-cluster scale and a shear. */
const planted = (centres: number[][], sizes: number[], scale: number[], seed: number): { x: Matrix; label: Int32Array } => {
  const rng = createRng(seed)
  const d = centres[0]!.length
  const n = sizes.reduce((a, b) => a + b, 0)
  const data = new Float64Array(n * d)
  const label = new Int32Array(n)
  let i = 0
  for (const [c, size] of sizes.entries()) {
    for (let s = 0; s < size; s++, i++) {
      label[i] = c
      let prev = 0
      for (let j = 0; j < d; j++) {
        const z = rng.normal()
        data[i * d + j] = centres[c]![j]! + scale[c]! * (z + 0.5 * prev) // correlated coordinates
        prev = z
      }
    }
  }
  return { x: { rows: n, cols: d, data }, label }
}

describe('digamma', () => {
  it('matches known values and the recurrence ψ(x+1) = ψ(x) + 1/x', () => {
    expect(Math.abs(digamma(1) + 0.5772156649015329)).toBeLessThanOrEqual(1e-12)
    expect(Math.abs(digamma(0.5) - (-0.5772156649015329 - 2 * Math.LN2))).toBeLessThanOrEqual(1e-12)
    for (const x of [0.1, 0.7, 2.3, 9.5, 40]) expect(Math.abs(digamma(x + 1) - digamma(x) - 1 / x)).toBeLessThanOrEqual(1e-12)
  })
})

describe('Dirichlet-process Gaussian mixture (Domino-style planted clusters)', () => {
  const centres = [
    [0, 0, 0, 0],
    [6, 0, 0, 0],
    [0, 6, 3, 0],
    [-5, -5, 0, 4],
  ]
  const { x, label } = planted(centres, [400, 250, 150, 80], [1, 0.7, 1.2, 0.5], 3)

  it('recovers the number of planted clusters from an upper bound of 20, their means and their members', async () => {
    const gmm = await toPromise(fitDirichletProcessGmm(x, { maxComponents: 20, seed: 1 }))
    expect(gmm.converged).toBe(true)
    const big = gmm.components.filter((c) => c.weight > 0.01)
    expect(big.length).toBe(4)
    const nearest = new Set<number>()
    for (const centre of centres) {
      // The nearest big component's mean is within 0.3 of each planted centre …
      const dists = big.map((b) => Math.hypot(...centre.map((v, j) => v - b.mean[j]!)))
      const k = dists.indexOf(Math.min(...dists))
      expect(dists[k]!).toBeLessThanOrEqual(0.3)
      nearest.add(k)
    }
    // … and no component serves two centres: the match is one to one.
    expect(nearest.size).toBe(centres.length)
    // Weights close to the planted proportions.
    const weights = big.map((b) => b.weight).sort((a, b) => b - a)
    const planted = [400, 250, 150, 80].map((s) => s / 880)
    for (const [k, w] of weights.entries()) expect(Math.abs(w - planted[k]!)).toBeLessThanOrEqual(0.02)
    // Hard assignments agree with the planted labels up to renaming (purity ≥ 0.99).
    const a = gmm.assign(x)
    let agree = 0
    for (let c = 0; c < centres.length; c++) {
      const counts = new Map<number, number>()
      for (let i = 0; i < x.rows; i++) if (label[i] === c) counts.set(a[i]!, (counts.get(a[i]!) ?? 0) + 1)
      agree += Math.max(...counts.values())
    }
    expect(agree / x.rows).toBeGreaterThanOrEqual(0.99)
  })

  it('samples a component with its mean and covariance (seeded)', async () => {
    const gmm = await toPromise(fitDirichletProcessGmm(x, { maxComponents: 10, seed: 2 }))
    const c = [...gmm.components].sort((p, q) => q.weight - p.weight)[0]!
    const s = sampleComponent(c, 20_000, createRng(4))
    const d = 4
    for (let j = 0; j < d; j++) {
      let m = 0
      for (let i = 0; i < s.rows; i++) m += s.data[i * d + j]! / s.rows
      expect(Math.abs(m - c.mean[j]!)).toBeLessThanOrEqual(0.05)
      let v = 0
      for (let i = 0; i < s.rows; i++) v += (s.data[i * d + j]! - m) ** 2 / s.rows
      expect(Math.abs(v - c.covariance[j * d + j]!) / c.covariance[j * d + j]!).toBeLessThanOrEqual(0.05)
    }
    expect(Array.from(sampleComponent(c, 3, createRng(4)).data)).toEqual(Array.from(s.data.subarray(0, 12)))
  })

  it('one planted cluster gives one component; bad input is refused', async () => {
    const one = planted([[1, 2]], [300], [1], 5)
    const gmm = await toPromise(fitDirichletProcessGmm(one.x, { maxComponents: 10, seed: 1 }))
    expect(gmm.components.filter((c) => c.weight > 0.01).length).toBe(1)
    const r = await fitDirichletProcessGmm({ rows: 2, cols: 1, data: Float64Array.of(1, Number.NaN) }, { seed: 1 })()
    expect(E.isLeft(r) && r.left._tag === 'InvalidInput').toBe(true)
    const km = await toPromise(fitDirichletProcessGmm(one.x, { maxComponents: 10, seed: 1, init: 'kmeans' }))
    expect(km.converged).toBe(true)
    expect(Math.hypot(...[1, 2].map((v, j) => v - [...km.components].sort((a, b) => b.weight - a.weight)[0]!.mean[j]!))).toBeLessThanOrEqual(0.2)
    const r2 = await fitDirichletProcessGmm(one.x, { seed: 1, concentration: -1 })()
    expect(E.isLeft(r2) && r2.left._tag === 'InvalidOptions').toBe(true)
  })
})
