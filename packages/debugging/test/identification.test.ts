import { either as E, function as F, taskEither as TE } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { budget, fromFunction, makeContext, makeRegistry, meter, runProbe, toPromise, type Matrix } from '@sonde/oracle'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { correctModel, defuse, defuseProbe, findMisclassificationRegions, findMisclassifications, labelRegions, majorityLabeller, type Generator } from '../src/index.js'
import { identity, model, planeSources } from './plane.js'

const sources = planeSources(300)

describe('findMisclassifications', () => {
  it('spends n·Q label queries, keeps only misclassified decodes, at most N per source, smallest perturbation first', async () => {
    const box = meter(model)
    const r = await toPromise(findMisclassifications(box, identity, sources.x, sources.y, { perturbations: 12, keepPerSource: 3, scale: 1.5, seed: 2 }))
    expect(r.queries).toEqual({ predictRows: 300 * 12, gradientRows: 0, calls: Math.ceil((300 * 12) / 500), cacheHits: 0 })
    expect(r.seed).toBe(2)
    expect(box.usage().predictRows).toBe(300 * 12)
    expect(r.found).toBeGreaterThan(0)
    expect(r.yieldPerQuery).toBeCloseTo(r.found / r.queries.predictRows, 12)
    const labels = await toPromise(model.predict(r.inputs))
    for (let i = 0; i < r.codes.rows; i++) {
      expect(labels.labels[i]).not.toBe(r.sourceLabels[i])
      expect(labels.labels[i]).toBe(r.predicted[i])
    }
    const perSource = new Map<number, number[]>()
    r.sources.forEach((s, i) => perSource.set(s, [...(perSource.get(s) ?? []), r.perturbationNorms[i]!]))
    for (const norms of perSource.values()) {
      expect(norms.length).toBeLessThanOrEqual(3)
      expect([...norms].sort((a, b) => a - b)).toEqual(norms)
    }
    const again = await toPromise(findMisclassifications(model, identity, sources.x, sources.y, { perturbations: 12, keepPerSource: 3, scale: 1.5, seed: 2 }))
    expect(Array.from(again.codes.data)).toEqual(Array.from(r.codes.data))
  })

  it('keeps what was answered when the budget runs out, and says so', async () => {
    const box = F.pipe(model, budget(1000))
    const r = await toPromise(findMisclassifications(box, identity, sources.x, sources.y, { perturbations: 12, batchSize: 300, seed: 2 }))
    expect(r.stoppedEarly?._tag).toBe('BudgetExhausted')
    expect(r.queries.predictRows).toBe(900)
    expect(Math.max(...r.sources)).toBeLessThan(900 / 12)
  })

  it('refuses bad options and mismatched labels', async () => {
    const r1 = await findMisclassifications(model, identity, sources.x, sources.y, { perturbations: 0, seed: 1 })()
    expect(E.isLeft(r1) && r1.left._tag === 'InvalidOptions').toBe(true)
    const r2 = await findMisclassifications(model, identity, sources.x, sources.y.subarray(1), { seed: 1 })()
    expect(E.isLeft(r2) && r2.left._tag === 'ShapeMismatch').toBe(true)
    const r3 = await findMisclassifications(model, identity, sources.x, new Int32Array(300).fill(5), { seed: 1 })()
    expect(E.isLeft(r3) && r3.left._tag === 'InvalidInput').toBe(true)
  })
})

describe('regions on the plane', () => {
  it('the largest region sits on the planted bug and its samples are misclassified', async () => {
    const r = await toPromise(defuse(model, identity, sources, { perturbations: 12, keepPerSource: 3, scale: 1.5, seed: 2, samplesPerRegion: 200, regions: { maxComponents: 10 } }))
    const top = r.regions[0]!
    expect(Math.hypot(top.region.mean[0]! - 2, top.region.mean[1]! - 3)).toBeLessThanOrEqual(0.3)
    expect(top.sourceLabel).toBe(1)
    expect(top.predictedLabel).toBe(0)
    expect(top.errorRate).toBeGreaterThanOrEqual(0.7)
    const { regions } = await toPromise(findMisclassificationRegions(r.identification.codes, { seed: 2, maxComponents: 10 }))
    expect(regions.length).toBeGreaterThanOrEqual(1)
  })

  it('labelRegions asks once per region, skips undefined answers and refuses nonsense', async () => {
    const r = await toPromise(defuse(model, identity, sources, { perturbations: 12, scale: 1.5, seed: 2, regions: { maxComponents: 10 } }))
    let asked = 0
    const labelled = await toPromise(labelRegions(r.regions.map((x) => x.region), identity, (samples) => (asked++ === 0 ? (samples.rows === 16 ? 1 : 0) : undefined), { seed: 1 }))
    expect(asked).toBe(r.regions.length)
    expect(labelled.map((l) => l.label)).toEqual([1])
    const bad = await labelRegions(r.regions.map((x) => x.region), identity, () => -3, { seed: 1 })()
    expect(E.isLeft(bad) && bad.left._tag === 'PluginFailed' && bad.left.what === 'the labeller').toBe(true)
  })

  it('majorityLabeller votes with a reference model and abstains when it is unsure', async () => {
    const samples: Matrix = { rows: 5, cols: 1, data: new Float64Array(5) }
    expect(await majorityLabeller(() => Int32Array.of(3, 3, 3, 3, 1))(samples, undefined as never)).toBe(3)
    expect(await majorityLabeller(() => Int32Array.of(3, 3, 3, 1, 1))(samples, undefined as never)).toBeUndefined()
    expect(await majorityLabeller(() => Int32Array.of(3, 3, 3, 1, 1), { agreement: 0.6 })(samples, undefined as never)).toBe(3)
  })

  it('defuseProbe runs from a registry with the generator in its options', async () => {
    const registry = makeRegistry([defuseProbe])
    expect(E.isRight(registry)).toBe(true)
    const r = await toPromise(runProbe(defuseProbe, model, { generator: identity, data: sources, perturbations: 12, scale: 1.5 }, makeContext({ seed: 2 })))
    expect(r.seed).toBe(2)
    expect(r.regions.length).toBeGreaterThan(0)
    const bad = await runProbe(defuseProbe, model, { generator: { latentDim: 2 }, data: sources }, makeContext({ seed: 2 }))()
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.message.includes('options.generator')).toBe(true)
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: identification', () => {
  it('an oracle that answers too few rows is a BadResponse, never counted as misclassifications', async () => {
    // Was: an always-agreeing oracle that dropped rows gave "1,200 queries, 1,197 found".
    const agreeing = fromFunction({ id: 'agree', inputDim: 2, numClasses: 2, output: 'label' }, (x) => new Int32Array(x.rows).fill(1))
    const short = { info: agreeing.info, predict: (x: Matrix) => F.pipe(agreeing.predict(x), TE.map((p) => ({ labels: p.labels.subarray(0, p.labels.length - 3) }))) }
    const r = await toPromise(findMisclassifications(short, identity, sources.x, sources.y, { perturbations: 4, seed: 1 }))
    expect(r.found).toBe(0)
    expect(r.stoppedEarly?._tag).toBe('BadResponse')
  })

  it('a generator that throws or returns the wrong shape is PluginFailed, before any query', async () => {
    const box = meter(model)
    const throwing: Generator = { ...identity, decode: () => { throw new Error('decoder broke') } }
    const wrong: Generator = { ...identity, encode: (x) => ({ rows: x.rows - 1, cols: 2, data: new Float64Array(2 * (x.rows - 1)) }) }
    for (const g of [throwing, wrong]) {
      const r = await findMisclassifications(box, g, sources.x, sources.y, { seed: 1 })()
      expect(E.isLeft(r) && r.left._tag).toBe('PluginFailed')
    }
    expect(box.usage().predictRows).toBe(0)
  })
})

describe('fixtures: correction', () => {
  it('a NaN learning rate is refused before training, and the user’s weights stay as they were', async () => {
    // Was: accepted; the model's weights became NaN in place.
    await useFastestBackend()
    const r = await toPromise(defuse(model, identity, sources, { perturbations: 12, scale: 1.5, seed: 2, regions: { maxComponents: 10 } }))
    const labelled = await toPromise(labelRegions(r.regions.map((x) => x.region), identity, () => 1, { seed: 1 }))
    const net = buildMlp({ inputDim: 2, hidden: [4], numClasses: 2, seed: 1 })
    const before = net.getWeights().map((w) => Array.from(w.dataSync()))
    const bad = await correctModel(net, sources, labelled, identity, { seed: 1, learningRate: Number.NaN })()
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.message.includes('options.learningRate')).toBe(true)
    expect(net.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before)
    net.dispose()
  })
})
