import { describe, expect, it } from 'vitest'
import { describeOracleContract } from '@sonde/oracle/testing'
import { createRng, SondeError, toPromise, type Matrix } from '@sonde/oracle'
import { randomTwoLayerRelu, TwoLayerRelu } from '../src/index.js'

describeOracleContract('TwoLayerRelu (one logit)', () => randomTwoLayerRelu({ inputDim: 8, hidden: 6, seed: 1 }))
describeOracleContract('TwoLayerRelu (4 logits)', () => randomTwoLayerRelu({ inputDim: 10, hidden: 12, numClasses: 4, seed: 2 }))

describe('TwoLayerRelu', () => {
  it('evaluates a hand-computed network exactly', async () => {
    // f(x) = 2·ReLU(x₁ − x₂ + 1) − 1·ReLU(x₂) + 0.5
    const net = new TwoLayerRelu({
      hiddenWeights: { rows: 2, cols: 2, data: Float64Array.of(1, -1, 0, 1) },
      hiddenBias: Float64Array.of(1, 0),
      outputWeights: { rows: 1, cols: 2, data: Float64Array.of(2, -1) },
      outputBias: Float64Array.of(0.5),
    })
    const x: Matrix = { rows: 3, cols: 2, data: Float64Array.of(0, 0, 1, 3, -2, 1) }
    expect(Array.from(net.evaluate(x).data)).toEqual([2.5, -2.5, -0.5])
    const g = await toPromise(net.gradient(x, 0))
    expect(Array.from(g.data)).toEqual([2, -2, 0, -1, 0, -1])
    expect(Array.from((await toPromise(net.predict(x))).labels)).toEqual([1, 0, 0])
  })

  it('is seeded: the same seed gives the same net, another seed another', () => {
    const a = randomTwoLayerRelu({ inputDim: 5, hidden: 3, seed: 9 })
    const b = randomTwoLayerRelu({ inputDim: 5, hidden: 3, seed: 9 })
    const c = randomTwoLayerRelu({ inputDim: 5, hidden: 3, seed: 10 })
    expect(Array.from(a.hiddenWeights.data)).toEqual(Array.from(b.hiddenWeights.data))
    expect(Array.from(a.hiddenWeights.data)).not.toEqual(Array.from(c.hiddenWeights.data))
  })

  it('gradients of a wide net match central differences away from kinks', async () => {
    const net = randomTwoLayerRelu({ inputDim: 50, hidden: 30, numClasses: 2, seed: 4 })
    const rng = createRng(5)
    const x: Matrix = { rows: 1, cols: 50, data: Float64Array.from({ length: 50 }, () => rng.normal()) }
    const g = await toPromise(net.gradient(x, 1))
    const h = 1e-7
    for (let j = 0; j < 50; j += 7) {
      const p = x.data.slice()
      const m = x.data.slice()
      p[j]! += h
      m[j]! -= h
      const fd = (net.evaluate({ rows: 1, cols: 50, data: p }).data[1]! - net.evaluate({ rows: 1, cols: 50, data: m }).data[1]!) / (2 * h)
      // Piecewise linear: exact up to rounding unless a kink lies within h (probability ~1e-6).
      expect(Math.abs(fd - g.data[j]!)).toBeLessThanOrEqual(1e-7)
    }
  })

  it('refuses inconsistent parameters', () => {
    expect(
      () =>
        new TwoLayerRelu({
          hiddenWeights: { rows: 2, cols: 2, data: new Float64Array(4) },
          hiddenBias: new Float64Array(3),
          outputWeights: { rows: 1, cols: 2, data: new Float64Array(2) },
        }),
    ).toThrow(SondeError)
    expect(() => randomTwoLayerRelu({ inputDim: 0, hidden: 2, seed: 1 })).toThrow(/inputDim is 0/)
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: TwoLayerRelu', () => {
  it('refuses NaN and short weights with a SondeError naming them', () => {
    const m = (rows: number, cols: number, data: Float64Array) => ({ rows, cols, data })
    const cases = [
      { hiddenWeights: m(2, 2, Float64Array.of(1, Number.NaN, 0, 1)), hiddenBias: new Float64Array(2), outputWeights: m(1, 2, Float64Array.of(1, 1)) },
      { hiddenWeights: m(2, 2, Float64Array.of(1, 0, 0, 1)), hiddenBias: new Float64Array(2), outputWeights: m(1, 2, Float64Array.of(1)) },
    ]
    for (const [i, params] of cases.entries()) {
      let thrown: unknown
      try {
        new TwoLayerRelu(params)
      } catch (e) {
        thrown = e
      }
      expect(thrown instanceof SondeError && thrown.error.message.includes(i === 0 ? 'hiddenWeights[1] is NaN' : 'outputWeights.data')).toBe(true)
    }
  })
})
