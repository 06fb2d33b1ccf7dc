import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { createRng, meter, randomQueries, toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu, TwoLayerRelu } from '@sonde/models'
import { extractReluNetwork, type ReluExtractionOptions } from '../src/index.js'
import { unitMismatch } from './relu-grid.js'

/** Per logit: max |f̂_k − f_k| / max |f_k| at `count` fresh random points (not the extraction's own check points). */
const perLogitError = (victim: TwoLayerRelu, found: TwoLayerRelu, count: number, seed: number): number[] => {
  const x = randomQueries(victim.info, count, createRng(seed))
  const a = victim.evaluate(x)
  const b = found.evaluate(x)
  const k = a.cols
  return Array.from({ length: k }, (_, c) => {
    let diff = 0
    let scale = 0
    for (let r = 0; r < x.rows; r++) {
      diff = Math.max(diff, Math.abs(a.data[r * k + c]! - b.data[r * k + c]!))
      scale = Math.max(scale, Math.abs(a.data[r * k + c]!))
    }
    return diff / scale
  })
}

/** The bound of issue 16: 2·h·log₂h gradient rows to find the kinks, K·(h + 1) to read the logits. */
const bound = (h: number, k: number): number => 2 * h * Math.log2(h) + (k > 1 ? k * (h + 1) : 0)

const expectMinimalAndExact = async (victim: TwoLayerRelu, options: ReluExtractionOptions) => {
  const ex = await toPromise(extractReluNetwork(victim, options))
  expect(ex.model.hidden).toBe(victim.hidden)
  // Functionally the victim: each unit a positive multiple of one of the victim's, output weights scaled back.
  expect(unitMismatch(victim, ex.model)).toBeLessThanOrEqual(1e-9)
  for (const e of perLogitError(victim, ex.model, 1000, 123 + options.seed)) expect(e).toBeLessThanOrEqual(1e-9)
  return ex
}

describe('extractReluNetwork: the whole network from one line', () => {
  it.each([1, 2, 3])('(d, h, K) = (200, 16, 10), seed %i: exactly 16 units, every logit exact, ≤ 2·h·log₂h + K·(h + 1) gradient rows', async (seed) => {
    const victim = randomTwoLayerRelu({ inputDim: 200, hidden: 16, numClasses: 10, seed: 40 + seed })
    const ex = await expectMinimalAndExact(victim, { seed })
    expect(ex.strategy).toBe('whole-network')
    expect(ex.lines).toBe(1)
    expect(ex.unitsFound).toBe(16)
    expect(ex.unitsPerLogit).toEqual(Array(10).fill(16))
    expect(ex.queries.gradientRows).toBeLessThanOrEqual(bound(16, 10)) // 298
  })

  it("per-logit strategy: 10 × 16 units found, merged to the 16 distinct ones; the same function", async () => {
    const victim = randomTwoLayerRelu({ inputDim: 100, hidden: 16, numClasses: 10, seed: 44 })
    const ex = await expectMinimalAndExact(victim, { seed: 1, strategy: 'per-logit' })
    expect(ex.strategy).toBe('per-logit')
    expect(ex.unitsFound).toBe(160)
    expect(ex.unitsPerLogit).toEqual(Array(10).fill(16))
  })

  it("Milli et al.'s fixed-width bisection (today's rule) stays available and exact, and costs more gradient rows", async () => {
    const victim = randomTwoLayerRelu({ inputDim: 100, hidden: 16, numClasses: 3, seed: 45 })
    const fixed = await expectMinimalAndExact(victim, { seed: 1, bisection: 'fixed-width' })
    const confirmed = await expectMinimalAndExact(victim, { seed: 1 })
    expect(confirmed.queries.gradientRows).toBeLessThan(fixed.queries.gradientRows)
  })

  it('a unit logit 0 does not use is caught (the other logits do not fit), and the fallback logit by logit recovers it', async () => {
    const base = randomTwoLayerRelu({ inputDim: 60, hidden: 8, numClasses: 3, seed: 46 })
    const a = base.outputWeights.data.slice()
    a[5] = 0 // logit 0 ignores unit 5
    const victim = new TwoLayerRelu({ hiddenWeights: base.hiddenWeights, hiddenBias: base.hiddenBias, outputWeights: { rows: 3, cols: 8, data: a } })
    const logs: string[] = []
    const ex = await expectMinimalAndExact(victim, { seed: 1, log: (m) => logs.push(m) })
    expect(ex.strategy).toBe('per-logit')
    expect(ex.unitsPerLogit).toEqual([7, 8, 8])
    expect(ex.lines).toBe(2 + 3) // two whole-network lines failed, then one line per logit
    expect(logs.some((m) => m.includes('logit by logit'))).toBe(true)
    // The same victim with strategy 'whole-network' and no fallback possible (one logit) is not at issue: K = 3.
  })

  it('a non-minimal victim (a unit and its positive multiple) comes back minimal, both strategies', async () => {
    const base = randomTwoLayerRelu({ inputDim: 40, hidden: 6, numClasses: 2, seed: 47 })
    const d = 40
    // Unit 6 = 2.5 × unit 2 (weights and bias): the same hyperplane, ReLU(2.5 z) = 2.5 ReLU(z).
    const w = new Float64Array(7 * d)
    w.set(base.hiddenWeights.data)
    for (let j = 0; j < d; j++) w[6 * d + j] = 2.5 * base.hiddenWeights.data[2 * d + j]!
    const b = Float64Array.of(...base.hiddenBias, 2.5 * base.hiddenBias[2]!)
    const a = new Float64Array(2 * 7)
    for (let c = 0; c < 2; c++) for (let i = 0; i < 6; i++) a[c * 7 + i] = base.outputWeights.data[c * 6 + i]!
    a[6] = 0.3
    a[7 + 6] = -0.2
    const victim = new TwoLayerRelu({ hiddenWeights: { rows: 7, cols: d, data: w }, hiddenBias: b, outputWeights: { rows: 2, cols: 7, data: a } })
    // The minimal equivalent: unit 2 with output weights A[:, 2] + 2.5·A[:, 6].
    const a6 = new Float64Array(2 * 6)
    for (let c = 0; c < 2; c++) for (let i = 0; i < 6; i++) a6[c * 6 + i] = a[c * 7 + i]! + (i === 2 ? 2.5 * a[c * 7 + 6]! : 0)
    const minimal = new TwoLayerRelu({ hiddenWeights: base.hiddenWeights, hiddenBias: base.hiddenBias, outputWeights: { rows: 2, cols: 6, data: a6 } })
    for (const strategy of ['whole-network', 'per-logit'] as const) {
      const ex = await toPromise(extractReluNetwork(victim, { seed: 2, strategy }))
      expect(ex.model.hidden).toBe(6)
      expect(unitMismatch(minimal, ex.model)).toBeLessThanOrEqual(1e-9)
      for (const e of perLogitError(victim, ex.model, 500, 9)) expect(e).toBeLessThanOrEqual(1e-9)
    }
  })

  it('without hidden biases: gradient rows only, every logit of a K = 3 network exact', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 80, hidden: 12, numClasses: 3, seed: 48, hiddenBias: false })
    const watched = meter(victim)
    const ex = await toPromise(extractReluNetwork(watched, { seed: 1, hiddenBias: false }))
    expect(ex.queries.predictRows).toBe(0)
    expect(ex.model.hidden).toBe(12)
    expect(unitMismatch(victim, ex.model)).toBeLessThanOrEqual(1e-9)
    for (const e of perLogitError(victim, ex.model, 500, 10)) expect(e).toBeLessThanOrEqual(1e-9)
    // The bound plus the check: 8 random points × 3 logits.
    expect(ex.queries.gradientRows).toBeLessThanOrEqual(bound(12, 3) + 24)
  })

  it('budget bounds the whole-network run too: BudgetExhausted, nothing past it sent', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 50, hidden: 10, numClasses: 4, seed: 49 })
    const full = await toPromise(extractReluNetwork(victim, { seed: 1 }))
    const needed = full.queries.gradientRows + full.queries.predictRows
    for (const budget of [5, Math.floor(needed / 2), needed - 1]) {
      const watched = meter(victim)
      const r = await extractReluNetwork(watched, { seed: 1, budget })()
      expect(E.isLeft(r) && r.left._tag).toBe('BudgetExhausted')
      expect(watched.usage().gradientRows + watched.usage().predictRows).toBeLessThanOrEqual(budget)
    }
    // Exactly enough succeeds.
    const exact = await toPromise(extractReluNetwork(victim, { seed: 1, budget: needed }))
    expect(exact.queries).toEqual(full.queries)
  })

  it('is seeded: the same seed, the same queries and model; another seed, another line', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 50, hidden: 10, numClasses: 4, seed: 50 })
    const a = await toPromise(extractReluNetwork(victim, { seed: 4 }))
    const b = await toPromise(extractReluNetwork(victim, { seed: 4 }))
    const c = await toPromise(extractReluNetwork(victim, { seed: 5 }))
    expect(a.queries).toEqual(b.queries)
    expect(Array.from(a.model.hiddenWeights.data)).toEqual(Array.from(b.model.hiddenWeights.data))
    expect(Array.from(a.model.hiddenBias)).not.toEqual(Array.from(c.model.hiddenBias))
  })
})
