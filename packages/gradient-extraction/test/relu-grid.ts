import { expect } from 'vitest'
import { toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu } from '@sonde/models'
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
 * random inputs, every label the same) within 3·h·log₂h gradient rows. Returns the gradient rows spent.
 */
export const exactWithinBudget = async (h: number, d: number): Promise<number> => {
  const victim = randomTwoLayerRelu({ inputDim: d, hidden: h, seed: 10 * h + d })
  const ex = await toPromise(extractReluNetwork(victim, { seed: 1 }))
  expect(ex.model.hidden).toBe(h)
  expect(ex.queries.gradientRows).toBeLessThanOrEqual(3 * h * Math.log2(h))
  const fid = await toPromise(ex.fidelity({ count: 2000, seed: 7 }))
  expect(fid.maxRelativeError).toBeLessThanOrEqual(1e-9)
  expect(fid.agreement).toBe(1)
  return ex.queries.gradientRows
}
