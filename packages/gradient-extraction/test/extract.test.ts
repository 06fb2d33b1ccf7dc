import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { createRng, fromFunction, labelOnly, meter, toPromise, type Matrix } from '@sonde/oracle'
import { LogisticRegression, randomTwoLayerRelu, SoftmaxRegression, TwoLayerRelu } from '@sonde/models'
import { extractLinear, extractReluNetwork } from '../src/index.js'
import { exactWithinBudget, relErr } from './relu-grid.js'

describe('extractLinear', () => {
  it('recovers a random softmax model (D = 784, K = 10) from logits to 1e-9 with exactly K gradient rows + 1 value row', async () => {
    const victim = SoftmaxRegression.random(784, 10, 1, { output: 'logits' })
    const watched = meter(victim)
    const ex = await toPromise(extractLinear(watched))
    expect(ex.queries).toEqual({ predictRows: 1, gradientRows: 10, calls: 2, cacheHits: 0 })
    expect(ex.seed).toBe(0)
    expect(watched.usage()).toMatchObject({ gradientRows: 10, predictRows: 1 })
    const m = ex.model as SoftmaxRegression
    expect(relErr(m.weights.data, victim.weights.data)).toBeLessThanOrEqual(1e-9)
    expect(relErr(m.bias, victim.bias)).toBeLessThanOrEqual(1e-9)
    const fid = await toPromise(ex.fidelity({ count: 500, seed: 2 }))
    expect(fid.agreement).toBe(1)
    expect(fid.maxRelativeError).toBeLessThanOrEqual(1e-9)
  })

  it('from probabilities: weights exact, biases up to one common shift, every prediction identical', async () => {
    const victim = SoftmaxRegression.random(50, 5, 2, { output: 'probabilities' })
    const ex = await toPromise(extractLinear(victim))
    const m = ex.model as SoftmaxRegression
    expect(relErr(m.weights.data, victim.weights.data)).toBeLessThanOrEqual(1e-9)
    const shift = m.bias[0]! - victim.bias[0]!
    m.bias.forEach((b, i) => expect(Math.abs(b - shift - victim.bias[i]!)).toBeLessThanOrEqual(1e-9))
    const fid = await toPromise(ex.fidelity({ count: 500, seed: 3 }))
    expect(fid.agreement).toBe(1)
    expect(fid.maxAbsError).toBeLessThanOrEqual(1e-12)
  })

  it('a one-logit oracle becomes a logistic model with 1 gradient row + 1 value row', async () => {
    const w = Float64Array.from({ length: 20 }, (_, i) => Math.sin(i))
    const oracle = fromFunction(
      { id: 'one-logit', inputDim: 20, numClasses: 1, output: 'logits' },
      (x) => ({ rows: x.rows, cols: 1, data: Float64Array.from({ length: x.rows }, (_, r) => 0.3 + w.reduce((s, wj, j) => s + wj * x.data[r * 20 + j]!, 0)) }),
      { gradient: (x) => ({ rows: x.rows, cols: 20, data: Float64Array.from({ length: x.rows * 20 }, (_, k) => w[k % 20]!) }) },
    )
    const ex = await toPromise(extractLinear(oracle))
    expect(ex.queries).toEqual({ predictRows: 1, gradientRows: 1, calls: 2, cacheHits: 0 })
    const m = ex.model as LogisticRegression
    expect(relErr(m.weights, w)).toBeLessThanOrEqual(1e-12)
    expect(m.bias).toBeCloseTo(0.3, 12)
    expect((await toPromise(ex.fidelity({ count: 200, seed: 1 }))).agreement).toBe(1)
  })

  it('needs scores for the biases', async () => {
    const victim = SoftmaxRegression.random(5, 3, 1)
    const r = await extractLinear({ ...labelOnly(victim), gradient: victim.gradient })()
    expect(E.isLeft(r) && r.left._tag).toBe('MissingCapability')
  })
})

describe('extractReluNetwork', () => {
  // h = 128 (every d) is the paper-scale half of this grid: extract.slow.test.ts.
  const grid: Array<[number, number]> = []
  for (const h of [16, 64]) for (const d of [128, 784, 5000]) grid.push([h, d])
  const counts = new Map<number, number[]>()

  // Measured alone: ≤ 3.1 s each (h = 64, d = 5000).
  it.each(grid)('h = %i, d = %i: the minimal network (h units), exact to 1e-9 on 2,000 random inputs within 2·h·log₂h gradient rows', async (h, d) => {
    counts.set(h, [...(counts.get(h) ?? []), await exactWithinBudget(h, d)])
  })

  it('the gradient-row count is flat in d (within ±25 % across d = 128 … 5000 for each h)', () => {
    expect(counts.size).toBe(2)
    for (const [, cs] of counts) {
      expect(cs.length).toBe(3)
      expect(Math.max(...cs) / Math.min(...cs)).toBeLessThanOrEqual(1.25)
    }
  })

  it('recovers the units up to permutation and positive rescaling', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 30, hidden: 6, seed: 4 })
    const ex = await toPromise(extractReluNetwork(victim, { seed: 2 }))
    const found = ex.model
    for (let i = 0; i < 6; i++) {
      const wi = victim.hiddenWeights.data.subarray(i * 30, (i + 1) * 30)
      // Some extracted unit is a positive multiple of (wᵢ, bᵢ).
      const match = Array.from({ length: found.hidden }, (_, j) => j).some((j) => {
        const wj = found.hiddenWeights.data.subarray(j * 30, (j + 1) * 30)
        const s = wj[0]! / wi[0]!
        return s > 0 && wj.every((v, k) => Math.abs(v - s * wi[k]!) <= 1e-9 * Math.abs(s)) && Math.abs(found.hiddenBias[j]! - s * victim.hiddenBias[i]!) <= 1e-8 * Math.abs(s)
      })
      expect(match).toBe(true)
    }
  })

  it('several outputs: each logit extracted, the whole network reproduced', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 40, hidden: 8, numClasses: 3, seed: 5 })
    const ex = await toPromise(extractReluNetwork(victim, { seed: 3 }))
    const fid = await toPromise(ex.fidelity({ count: 500, seed: 1 }))
    expect(fid.maxRelativeError).toBeLessThanOrEqual(1e-9)
    // Where every hidden unit is off all three logits are exactly 0 (no output bias): a true tie,
    // which rounding in the copy (~1e-16) breaks either way. 2 of these 500 points are such ties.
    expect(fid.agreement).toBeGreaterThanOrEqual(0.99)
  })

  it('without hidden biases, from gradient queries alone', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 100, hidden: 16, seed: 6, hiddenBias: false })
    const ex = await toPromise(extractReluNetwork(victim, { seed: 1, hiddenBias: false }))
    expect(ex.queries.predictRows).toBe(0)
    expect(ex.verification?.on).toBe('gradients')
    const fid = await toPromise(ex.fidelity({ count: 1000, seed: 2 }))
    expect(fid.maxRelativeError).toBeLessThanOrEqual(1e-9)
  })

  it('h > d gives the documented error, not a model', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 5, hidden: 12, seed: 7 })
    const r = await extractReluNetwork(victim, { seed: 1 })()
    expect(E.isLeft(r)).toBe(true)
    if (E.isLeft(r)) expect(r.left.message).toMatch(/h > d|not identifiable|not a 0\/−1 combination|two-layer/)
    if (E.isLeft(r)) expect(['Unidentifiable', 'NotConverged']).toContain(r.left._tag)
  })

  it('a smooth (not piecewise-linear) oracle gives NotConverged with the real residual of the check, not a model', async () => {
    const rng = createRng(1)
    const w = Float64Array.from({ length: 10 * 4 }, () => rng.normal())
    const f = (x: Matrix) => ({
      rows: x.rows,
      cols: 1,
      data: Float64Array.from({ length: x.rows }, (_, r) => {
        let s = 0
        for (let i = 0; i < 4; i++) s += Math.tanh(w.subarray(i * 10, i * 10 + 10).reduce((acc, wj, j) => acc + wj * x.data[r * 10 + j]!, 0))
        return s
      }),
    })
    const smooth = fromFunction({ id: 'tanh', inputDim: 10, numClasses: 1, output: 'logits' }, f, {
      gradient: (x) => {
        const out = new Float64Array(x.rows * 10)
        for (let r = 0; r < x.rows; r++)
          for (let i = 0; i < 4; i++) {
            const wi = w.subarray(i * 10, i * 10 + 10)
            const z = wi.reduce((acc, wj, j) => acc + wj * x.data[r * 10 + j]!, 0)
            const dz = 1 - Math.tanh(z) ** 2
            for (let j = 0; j < 10; j++) out[r * 10 + j]! += dz * wi[j]!
          }
        return { rows: x.rows, cols: 10, data: out }
      },
    })
    const watched = meter(smooth)
    const r = await extractReluNetwork(watched, { seed: 1, budget: 2000 })()
    // tanh saturates at both ends of the line (equal, zero gradients): the walk sees no kink, and the check
    // at random points refuses the constant it found, on both lines.
    expect(E.isLeft(r) && r.left._tag).toBe('NotConverged')
    if (E.isLeft(r) && r.left._tag === 'NotConverged') {
      expect(r.left.residual).toBeGreaterThan(1e-3)
      expect(r.left.tolerance).toBe(1e-7)
    }
    expect(watched.usage().gradientRows + watched.usage().predictRows).toBeLessThanOrEqual(2000)
  })

  it('budget (was maxGradientRows) bounds every row, the verification included: BudgetExhausted, nothing past it sent', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 30, hidden: 16, seed: 2 })
    for (const budget of [2, 20, 60]) {
      const watched = meter(victim)
      const r = await extractReluNetwork(watched, { seed: 1, budget })()
      expect(E.isLeft(r) && r.left._tag).toBe('BudgetExhausted')
      if (E.isLeft(r) && r.left._tag === 'BudgetExhausted') {
        expect(r.left.limit).toBe(budget)
        expect(r.left.used + r.left.requested).toBeGreaterThan(budget)
      }
      expect(watched.usage().gradientRows + watched.usage().predictRows).toBeLessThanOrEqual(budget)
    }
    // And enough budget succeeds, spending no more than it.
    const watched = meter(victim)
    const ok = await toPromise(extractReluNetwork(watched, { seed: 1, budget: 2000 }))
    expect(ok.queries.gradientRows + ok.queries.predictRows).toBeLessThanOrEqual(2000)
    expect(ok.queries).toEqual({ predictRows: watched.usage().predictRows, gradientRows: watched.usage().gradientRows, calls: watched.usage().predictCalls + watched.usage().gradientCalls, cacheHits: 0 })
  })

  it('hiddenBias: false is verified too: a network that has biases is not silently answered without them', async () => {
    // Was: never checked, though the docs say every answer is.
    const withBiases = randomTwoLayerRelu({ inputDim: 20, hidden: 5, seed: 3 })
    const r = await extractReluNetwork(withBiases, { seed: 1, hiddenBias: false })()
    expect(E.isLeft(r) ? r.left._tag : 'Right').not.toBe('Right')
  })

  it('a linear oracle is refused with a pointer to extractLinear', async () => {
    const linear = fromFunction({ id: 'lin', inputDim: 3, numClasses: 1, output: 'logits' }, (x) => ({ rows: x.rows, cols: 1, data: Float64Array.from({ length: x.rows }, (_, r) => x.data[3 * r]!) }), {
      gradient: (x) => ({ rows: x.rows, cols: 3, data: Float64Array.from({ length: 3 * x.rows }, (_, k) => (k % 3 === 0 ? 1 : 0)) }),
    })
    const r = await extractReluNetwork(linear, { seed: 1 })()
    expect(E.isLeft(r) && r.left._tag).toBe('Unidentifiable')
    expect(E.isLeft(r) && r.left.message).toContain('extractLinear')
  })

  it('reports progress per bisection level and stops within 1 s of an abort, nothing queried after it', async () => {
    const victim = meter(randomTwoLayerRelu({ inputDim: 40, hidden: 12, numClasses: 2, seed: 8 }))
    const controller = new AbortController()
    let at: { rows: number; time: number } | undefined
    const stages = new Set<string>()
    const r = await extractReluNetwork(victim, {
      seed: 1,
      signal: controller.signal,
      progress: (e) => {
        stages.add(e.stage)
        if (at === undefined) {
          at = { rows: victim.usage().gradientRows + victim.usage().predictRows, time: Date.now() }
          controller.abort()
        }
      },
    })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(Date.now() - at!.time).toBeLessThan(1000)
    expect(victim.usage().gradientRows + victim.usage().predictRows).toBe(at!.rows)
    expect([...stages]).toEqual(['logit 0: bisection'])
  })

  it('is seeded: the same seed spends the same queries and gives the same model', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 50, hidden: 10, seed: 9 })
    const a = await toPromise(extractReluNetwork(victim, { seed: 4 }))
    const b = await toPromise(extractReluNetwork(victim, { seed: 4 }))
    expect(a.queries).toEqual(b.queries)
    expect(Array.from(a.model.hiddenWeights.data)).toEqual(Array.from(b.model.hiddenWeights.data))
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: extraction', () => {
  const nanGradient = (victim: SoftmaxRegression) => ({ ...victim, info: victim.info, predict: victim.predict.bind(victim), gradient: (x: Matrix, cls: number | Int32Array) => async () => {
    const g = await victim.gradient(x, cls)()
    if (E.isLeft(g)) return g
    const data = g.right.data.slice()
    data[3] = Number.NaN
    return E.right({ ...g.right, data })
  } })

  it('extractLinear: one NaN gradient from a hand-written oracle is a BadResponse naming it, not a rejection', async () => {
    const victim = SoftmaxRegression.random(6, 3, 1, { output: 'logits' })
    const r = await extractLinear(nanGradient(victim))()
    expect(E.isLeft(r) && r.left._tag === 'BadResponse' && r.left.message.includes('gradient[0][3]')).toBe(true)
  })

  it('extractReluNetwork: a NaN budget (was maxGradientRows: NaN, once a hang) and other bad options are refused before any query', async () => {
    const victim = meter(randomTwoLayerRelu({ inputDim: 10, hidden: 3, seed: 1 }))
    const r = await extractReluNetwork(victim, { seed: 1.5, budget: Number.NaN, verifyPoints: -1, tolerance: 0 })()
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path).sort()).toEqual(['options.budget', 'options.seed', 'options.tolerance', 'options.verifyPoints'])
    expect(victim.usage().gradientRows + victim.usage().predictRows).toBe(0)
  })

  it('extractReluNetwork: NaN gradients are a BadResponse at the first answer (once 16,385 paid rows before a misleading error)', async () => {
    const net = randomTwoLayerRelu({ inputDim: 10, hidden: 3, seed: 1 })
    const watched = meter({
      info: net.info,
      predict: net.predict,
      gradient: (x: Matrix, cls: number | Int32Array) => async () => {
        const g = await net.gradient(x, cls)()
        return E.isLeft(g) ? g : E.right({ ...g.right, data: g.right.data.map(() => Number.NaN) })
      },
    })
    const r = await extractReluNetwork(watched, { seed: 1 })()
    expect(E.isLeft(r) && r.left._tag).toBe('BadResponse')
    expect(watched.usage().gradientRows).toBe(2)
  })

  it('extractReluNetwork: the old maxGradientRows from a JavaScript caller is refused by name, before any query', async () => {
    const victim = meter(randomTwoLayerRelu({ inputDim: 10, hidden: 3, seed: 1 }))
    const r = await extractReluNetwork(victim, { seed: 1, maxGradientRows: Number.NaN } as never)()
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.message).toContain('maxGradientRows')
    expect(victim.usage().gradientCalls + victim.usage().predictCalls).toBe(0)
  })

  it('extractReluNetwork: dependent units are Unidentifiable (was InvalidInput at path "oracle")', async () => {
    // Two units with parallel weights (w and 2w, different biases): their gradient jumps are dependent.
    const net = new TwoLayerRelu({
      hiddenWeights: { rows: 2, cols: 3, data: Float64Array.of(1, 0, 0, 2, 0, 0) },
      hiddenBias: Float64Array.of(0.5, -1),
      outputWeights: { rows: 1, cols: 2, data: Float64Array.of(1, 1) },
    })
    const r = await extractReluNetwork(net, { seed: 1 })()
    expect(E.isLeft(r) && r.left._tag).toBe('Unidentifiable')
  })

  it('an oracle that throws or rejects is a BadResponse, not a rejection', async () => {
    const victim = SoftmaxRegression.random(4, 2, 1, { output: 'logits' })
    const throwing = { info: victim.info, predict: victim.predict, gradient: () => { throw new Error('explanations are down') } }
    const rejecting = { info: victim.info, predict: () => () => Promise.reject(new Error('scores are down')), gradient: victim.gradient }
    for (const o of [throwing, rejecting]) {
      const r = await extractLinear(o as never)()
      expect(E.isLeft(r) && r.left._tag).toBe('BadResponse')
      expect(E.isLeft(r) && r.left.message).toMatch(/down/)
    }
  })
})

