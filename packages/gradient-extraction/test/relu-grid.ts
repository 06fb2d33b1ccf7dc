import { expect } from 'vitest'
import { toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu, type TwoLayerRelu } from '@sonde/models'
import { extractReluNetwork } from '../src/index.js'

/** Largest absolute difference over the largest magnitude of `b`. */
export const relErr = (a: Float64Array, b: Float64Array): number => {
  let diff = 0
  let scale = 0
  a.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - b[i]!))
    scale = Math.max(scale, Math.abs(b[i]!))
  })
  return diff / scale
}

/**
 * One cell of the extraction grid: a random h-unit, d-input ReLU network is extracted exactly (1e-9 on 2,000
 * random inputs, every label the same) as the minimal network (h units) within 2·h·log₂h gradient rows.
 * Returns the gradient rows spent.
 */
export const exactWithinBudget = async (h: number, d: number): Promise<number> => {
  const victim = randomTwoLayerRelu({ inputDim: d, hidden: h, seed: 10 * h + d })
  const ex = await toPromise(extractReluNetwork(victim, { seed: 1 }))
  expect(ex.model.hidden).toBe(h)
  expect(ex.queries.gradientRows).toBeLessThanOrEqual(2 * h * Math.log2(h))
  const fid = await toPromise(ex.fidelity({ count: 2000, seed: 7 }))
  expect(fid.maxRelativeError).toBeLessThanOrEqual(1e-9)
  expect(fid.agreement).toBe(1)
  return ex.queries.gradientRows
}

/**
 * Match an extracted network to its victim unit by unit: every victim unit (wᵢ, bᵢ) has exactly one extracted
 * unit that is a positive multiple s·(wᵢ, bᵢ), and that unit's output weights are A[:, i] / s (so the logits are
 * the same function). Returns the largest relative mismatch found (weights, biases, output weights).
 */
export const unitMismatch = (victim: TwoLayerRelu, found: TwoLayerRelu): number => {
  const d = victim.info.inputDim
  const k = victim.info.numClasses
  const h = victim.hidden
  expect(found.hidden).toBe(h)
  const used = new Set<number>()
  let worst = 0
  for (let i = 0; i < h; i++) {
    const wi = victim.hiddenWeights.data.subarray(i * d, (i + 1) * d)
    let best = -1
    let bestErr = Infinity
    let bestScale = 0
    for (let j = 0; j < h; j++) {
      const wj = found.hiddenWeights.data.subarray(j * d, (j + 1) * d)
      let dot = 0
      let nn = 0
      for (let c = 0; c < d; c++) {
        dot += wj[c]! * wi[c]!
        nn += wi[c]! * wi[c]!
      }
      const s = dot / nn
      if (!(s > 0)) continue
      let err = Math.abs(found.hiddenBias[j]! - s * victim.hiddenBias[i]!) / (s * (Math.abs(victim.hiddenBias[i]!) + 1))
      for (let c = 0; c < d; c++) err = Math.max(err, Math.abs(wj[c]! - s * wi[c]!) / (s * Math.sqrt(nn)))
      if (err < bestErr) {
        bestErr = err
        best = j
        bestScale = s
      }
    }
    expect(best).toBeGreaterThanOrEqual(0)
    expect(used.has(best)).toBe(false)
    used.add(best)
    let aScale = 0
    for (let c = 0; c < k; c++) aScale = Math.max(aScale, Math.abs(victim.outputWeights.data[c * h + i]!))
    for (let c = 0; c < k; c++) {
      const want = victim.outputWeights.data[c * h + i]! / bestScale
      bestErr = Math.max(bestErr, Math.abs(found.outputWeights.data[c * h + best]! - want) / (aScale / bestScale))
    }
    worst = Math.max(worst, bestErr)
  }
  return worst
}
