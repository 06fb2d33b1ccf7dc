import { either as E, function as F } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { budget, cache, createRng, labelOnly, makeContext, makeRegistry, meter, runProbe, toPromise, type Matrix } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { counterfactual, inverseClassificationProbe, inverseSoftmax } from '../src/index.js'

const model = SoftmaxRegression.random(20, 4, 11, { domain: { lower: -3, upper: 3 } })
const x0 = Float64Array.from({ length: 20 }, (_, i) => 0.5 * Math.sin(i))
const labelOf = async (m: SoftmaxRegression, x: Float64Array) => (await toPromise(m.predict({ rows: 1, cols: x.length, data: x }))).labels[0]!
const current = await labelOf(model, x0)
const target = (current + 1) % 4

// A surrogate that is close to, but not the same as, the black box: weights off by ~10 %.
const rng = createRng(5)
const perturbed = {
  weights: { ...model.weights, data: model.weights.data.map((v) => v * (1 + 0.1 * rng.normal())) } as Matrix,
  bias: model.bias.map((v) => v + 0.05 * rng.normal()),
}

describe('counterfactual', () => {
  it('with an exact surrogate: confirmed by one query, equal to the exact solution', async () => {
    const box = labelOnly(model)
    const r = await toPromise(counterfactual(box, model, x0, { target }))
    const exact = inverseSoftmax(model, x0, { target, domain: { lower: -3, upper: 3 } })
    expect(E.isRight(exact)).toBe(true)
    expect(r.confirmed).toBe(true)
    expect(r.repaired).toBe(false)
    expect(r.queries).toEqual({ predictRows: 1, gradientRows: 0, calls: 1, cacheHits: 0 })
    expect(r.seed).toBe(0)
    expect(r.labelAtSurrogateAnswer).toBe(target)
    if (E.isRight(exact)) expect(r.distance).toBe(exact.right.distance)
  })

  it('with an approximate surrogate: repairs along the ray, the oracle confirms, queries are counted', async () => {
    // Find a target the perturbed surrogate gets wrong at its own optimum, so repair is exercised.
    let found = false
    for (let t = 0; t < 4 && !found; t++) {
      if (t === current) continue
      const exact = inverseSoftmax(perturbed, x0, { target: t, margin: 0 })
      if (E.isLeft(exact) || (await labelOf(model, exact.right.x)) === t) continue
      found = true
      const watched = meter(labelOnly(model))
      const r = await toPromise(counterfactual(watched, perturbed, x0, { target: t, margin: 0, budget: 30 }))
      expect(r.repaired).toBe(true)
      expect(r.confirmed).toBe(true)
      expect(await labelOf(model, r.x)).toBe(t) // checked independently of the oracle wrapper
      const u = watched.usage()
      expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
      expect(r.queries.predictRows).toBeLessThanOrEqual(30)
      expect(r.labelAtSurrogateAnswer).not.toBe(t)
      // The repaired point is not closer than the true optimum on the box's own model.
      const truth = inverseSoftmax(model, x0, { target: t, margin: 0, domain: { lower: -3, upper: 3 } })
      if (E.isRight(truth)) expect(r.distance).toBeGreaterThanOrEqual(truth.right.distance - 1e-9)
    }
    expect(found).toBe(true)
  })

  it('never spends more than the budget: an exhausted budget ends the search early with what it has, confirmed only where the box agreed', async () => {
    // A target where the surrogate's exact answer is wrong on the box, so the repair needs queries.
    let checked = 0
    for (let t = 0; t < 4; t++) {
      if (t === current) continue
      const exact = inverseSoftmax(perturbed, x0, { target: t, margin: 0 })
      if (E.isLeft(exact) || (await labelOf(model, exact.right.x)) === t) continue
      const limited = F.pipe(labelOnly(model), budget(2))
      const r = await toPromise(counterfactual(limited, perturbed, x0, { target: t, margin: 0 }))
      expect(r.queries.predictRows).toBeLessThanOrEqual(2)
      expect(limited.budgetState().predict.used).toBeLessThanOrEqual(2)
      // The search stopped early: a confirmed answer is one the box itself puts in the target class,
      // no closer than the unlimited search's (which bisects further inward); an unconfirmed one is the
      // surrogate's own answer with the box's label beside it.
      const unlimited = await toPromise(counterfactual(labelOnly(model), perturbed, x0, { target: t, margin: 0 }))
      expect(unlimited.queries.predictRows).toBeGreaterThan(2)
      expect(r.oracleLabel).toBe(await labelOf(model, r.x))
      if (r.confirmed) {
        expect(r.oracleLabel).toBe(t)
        expect(r.distance).toBeGreaterThanOrEqual(unlimited.distance - 1e-12)
      } else {
        expect(Array.from(r.x)).toEqual(Array.from(exact.right.x))
        expect(r.oracleLabel).not.toBe(t)
      }
      checked++
    }
    // At least one target needs the repair, so the budget is what ends its search.
    expect(checked).toBeGreaterThan(0)
  })

  it('refuses a surrogate of the wrong width', async () => {
    const r = await counterfactual(model, SoftmaxRegression.random(5, 4, 1), x0, { target })()
    expect(E.isLeft(r) && r.left._tag).toBe('ShapeMismatch')
  })
})

describe('counterfactual options', () => {
  it('its own budget: never more rows than budget, however far the repair would go', async () => {
    for (let t = 0; t < 4; t++) {
      if (t === current) continue
      for (const b of [1, 2, 3, 5]) {
        const watched = meter(labelOnly(model))
        const r = await toPromise(counterfactual(watched, perturbed, x0, { target: t, margin: 0, budget: b, bisectionSteps: 50 }))
        expect(watched.usage().predictRows).toBeLessThanOrEqual(b)
        expect(r.queries.predictRows).toBe(watched.usage().predictRows)
      }
    }
  })

  it('echoes a seed (deterministic: recorded only) and refuses a bad one before any query', async () => {
    const r = await toPromise(counterfactual(labelOnly(model), model, x0, { target, seed: 2 ** 40 }))
    expect(r.seed).toBe(2 ** 40)
    expect(r.surrogate.seed).toBe(2 ** 40)
    for (const seed of [Number.NaN, 1.5, 2 ** 53, '1' as unknown as number]) {
      const watched = meter(labelOnly(model))
      const bad = await counterfactual(watched, model, x0, { target, seed })()
      expect(E.isLeft(bad) && bad.left._tag).toBe('InvalidOptions')
      expect(watched.usage().predictCalls).toBe(0)
    }
  })

  it('refuses every bad option before any query, the old names included (lower/upper → domain, maxQueries → budget)', async () => {
    const cases: [object, string[]][] = [
      [{ target, budget: 0 }, ['options.budget']],
      [{ target, budget: 1.5, bisectionSteps: -1, maxScale: 0.5 }, ['options.budget', 'options.bisectionSteps', 'options.maxScale']],
      [{ target, maxQueries: 30 }, ['options.maxQueries']],
      [{ target, lower: -1, upper: 1 }, ['options.lower', 'options.upper']],
      [{ target, domain: { lower: 1, upper: 0 } }, ['options.domain.lower']],
      [{ target, domain: { lower: 5, upper: 6 } }, ['options.domain']], // disjoint from the box's own [-3, 3]
      [{ target, domain: { lower: Float64Array.of(0), upper: 1 } }, ['options.domain.lower']],
      [{ target, progress: 'often' }, ['options.progress']],
      [{ target, signal: {} }, ['options.signal']],
      [{ target: 9 }, ['options.target']],
      [{ target: 1, margin: 1, probability: 0.5 }, ['options']],
    ]
    for (const [opts, paths] of cases) {
      const watched = meter(labelOnly(model))
      const r = await counterfactual(watched, model, x0, opts as never)()
      expect(E.isLeft(r) && r.left._tag, JSON.stringify(opts)).toBe('InvalidOptions')
      if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(r.left.issues.map((i) => i.path)).toEqual(paths)
      expect(watched.usage().predictCalls).toBe(0)
    }
  })

  it('a user domain is intersected with the oracle\'s: every query stays inside both', async () => {
    const seen: number[] = []
    const watched = meter(labelOnly(model))
    const spy = { ...watched, predict: (x: Matrix) => (seen.push(...x.data), watched.predict(x)) }
    const r = await toPromise(counterfactual(spy, perturbed, x0, { target: (current + 2) % 4, margin: 0, domain: { lower: -1, upper: Infinity } }))
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((v) => v >= -1 && v <= 3)).toBe(true)
    expect(r.x.every((v) => v >= -1 && v <= 3)).toBe(true)
  })

  it('a cache under the oracle: a second identical run is answered from it, and queries.cacheHits says so', async () => {
    const cached = F.pipe(labelOnly(model), cache())
    const first = await toPromise(counterfactual(cached, perturbed, x0, { target: (current + 2) % 4, margin: 0 }))
    expect(first.queries.cacheHits).toBe(0)
    const second = await toPromise(counterfactual(cached, perturbed, x0, { target: (current + 2) % 4, margin: 0 }))
    expect(second.queries.predictRows).toBe(first.queries.predictRows)
    expect(second.queries.cacheHits).toBe(second.queries.predictRows) // every row came from the cache
    expect(Array.from(second.x)).toEqual(Array.from(first.x))
  })

  it('reports progress per stage, and a throwing progress callback is PluginFailed, not a throw', async () => {
    const events: string[] = []
    await toPromise(counterfactual(labelOnly(model), model, x0, { target, progress: (e) => events.push(`${e.stage} ${e.done}/${e.total}`) }))
    expect(events).toEqual(['solve on the surrogate 0/1', 'solve on the surrogate 1/1', 'verify with the oracle 0/1', 'verify with the oracle 1/1'])
    const r = await counterfactual(labelOnly(model), model, x0, { target, progress: () => { throw new Error('boom') } })()
    expect(E.isLeft(r) && r.left._tag).toBe('PluginFailed')
  })
})

describe('inverseClassificationProbe', () => {
  it('decodes JSON-like options and runs through the registry', async () => {
    const reg = makeRegistry([inverseClassificationProbe])
    expect(E.isRight(reg)).toBe(true)
    const weights = Array.from({ length: 4 }, (_, c) => Array.from(model.weights.data.subarray(c * 20, (c + 1) * 20)))
    const r = await toPromise(
      runProbe(inverseClassificationProbe, labelOnly(model), { x0: Array.from(x0), surrogate: { weights, bias: Array.from(model.bias) }, target }, makeContext({ seed: 3 })),
    )
    expect(r.confirmed).toBe(true)
    expect(r.seed).toBe(3)
  })

  it('lists every bad option path', async () => {
    const r = await runProbe(inverseClassificationProbe, model, { x0: [1, 'a'], surrogate: { weights: [[1]], bias: [0] }, target: -1 }, makeContext({ seed: 0 }))()
    expect(E.isLeft(r) && r.left._tag).toBe('InvalidOptions')
    if (E.isLeft(r) && r.left._tag === 'InvalidOptions') {
      expect(r.left.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['options.x0[1]', 'options.surrogate.weights', 'options.target']))
    }
  })
})
