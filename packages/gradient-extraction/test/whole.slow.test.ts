import { describe, expect, it } from 'vitest'
import { createRng, randomQueries, toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu } from '@sonde/models'
import { extractReluNetwork } from '../src/index.js'
import { unitMismatch } from './relu-grid.js'

// Issue 16's goals at full size: (d, h, K) = (784, 32, 10) within 2·h·log₂h + K·(h + 1) = 650 gradient rows,
// and one output within 2·h·log₂h at h = 16 … 128 — each at several seeds (victim and line), the minimal network,
// every logit exact to 1e-9 at fresh random points.

const everyLogitExact = (victim: ReturnType<typeof randomTwoLayerRelu>, found: ReturnType<typeof randomTwoLayerRelu>) => {
  const x = randomQueries(victim.info, 2000, createRng(777))
  const a = victim.evaluate(x)
  const b = found.evaluate(x)
  const k = a.cols
  for (let c = 0; c < k; c++) {
    let diff = 0
    let scale = 0
    for (let r = 0; r < x.rows; r++) {
      diff = Math.max(diff, Math.abs(a.data[r * k + c]! - b.data[r * k + c]!))
      scale = Math.max(scale, Math.abs(a.data[r * k + c]!))
    }
    expect(diff / scale).toBeLessThanOrEqual(1e-9)
  }
}

describe('whole-network extraction at the sizes of issue 16', () => {
  it.each([1, 2, 3, 4, 5])('(784, 32, 10), seed %i: 32 units, ≤ 650 gradient rows, every logit exact', async (seed) => {
    const victim = randomTwoLayerRelu({ inputDim: 784, hidden: 32, numClasses: 10, seed: 1000 + seed })
    const ex = await toPromise(extractReluNetwork(victim, { seed }))
    expect(ex.strategy).toBe('whole-network')
    expect(ex.model.hidden).toBe(32)
    expect(ex.queries.gradientRows).toBeLessThanOrEqual(2 * 32 * 5 + 10 * 33)
    expect(unitMismatch(victim, ex.model)).toBeLessThanOrEqual(1e-9)
    everyLogitExact(victim, ex.model)
  })

  const single: Array<[number, number]> = []
  for (const h of [16, 32, 64, 128]) for (const seed of [1, 2, 3]) single.push([h, seed])
  it.each(single)('one output, h = %i, seed %i: h units within 2·h·log₂h gradient rows, exact', async (h, seed) => {
    const victim = randomTwoLayerRelu({ inputDim: 784, hidden: h, seed: 2000 + 10 * h + seed })
    const ex = await toPromise(extractReluNetwork(victim, { seed }))
    expect(ex.model.hidden).toBe(h)
    expect(ex.queries.gradientRows).toBeLessThanOrEqual(2 * h * Math.log2(h))
    expect(unitMismatch(victim, ex.model)).toBeLessThanOrEqual(1e-9)
    everyLogitExact(victim, ex.model)
  })
})
