import { either as E, function as F } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { budget, fromFunction, meter, toPromise, type ProgressEvent } from '@sonde/oracle'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs } from '@sonde/datasets'
import { correctModel, defuse, findMisclassificationRegions, findMisclassifications, fitDirichletProcessGmm, labelRegions, trainVae } from '../src/index.js'
import { identity, model, planeSources } from './plane.js'

beforeAll(async () => {
  await useFastestBackend()
})

const sources = planeSources(200)
const usageOf = (m: ReturnType<typeof meter>) => {
  const u = m.usage()
  return { predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 }
}

describe('results carry queries and seed', () => {
  it('findMisclassifications: budget caps the rows (source by source), queries match a meter', async () => {
    const box = meter(model)
    const r = await toPromise(findMisclassifications(box, identity, sources.x, sources.y, { perturbations: 10, budget: 555, batchSize: 100, scale: 1.5, seed: 5 }))
    expect(r.queries).toEqual(usageOf(box))
    expect(r.queries.predictRows).toBe(555)
    expect(r.queries.calls).toBe(6)
    expect(r.seed).toBe(5)
    expect(Math.max(...r.sources)).toBeLessThan(Math.ceil(555 / 10))
    expect(r.stoppedEarly).toBeUndefined()
  })

  it('defuse: budget bounds every label query; regions that no longer fit are counted, not measured', async () => {
    const box = meter(model)
    const opts = { perturbations: 12, scale: 1.5, seed: 2, samplesPerRegion: 40, regions: { maxComponents: 8 } }
    const free = await toPromise(defuse(meter(model), identity, sources, opts))
    expect(free.regions.length).toBeGreaterThan(1)
    const cap = 200 * 12 + 40 // room for exactly one region's samples
    const r = await toPromise(defuse(box, identity, sources, { ...opts, budget: cap }))
    expect(r.queries).toEqual(usageOf(box))
    expect(r.queries.predictRows).toBe(cap)
    expect(r.regions.length).toBe(1)
    expect(r.unmeasuredRegions).toBe(free.regions.length - 1)
    expect(r.seed).toBe(2)
  })

  it('defuse keeps what it paid for when the oracle stops answering during the regions', async () => {
    const box = F.pipe(model, budget(200 * 12 + 50))
    const r = await toPromise(defuse(box, identity, sources, { perturbations: 12, scale: 1.5, seed: 2, samplesPerRegion: 40, regions: { maxComponents: 8 } }))
    expect(r.stoppedEarly?._tag).toBe('BudgetExhausted')
    expect(r.regions.length).toBe(1)
    expect(r.queries.predictRows).toBe(200 * 12 + 40)
  })

  it('trainVae, fitDirichletProcessGmm, findMisclassificationRegions and correctModel echo the seed and spend no queries', async () => {
    const ds = gaussianBlobs({ n: 60, dim: 3, classes: 2, seed: 1 })
    const vae = await toPromise(trainVae(ds.x, { likelihood: 'gaussian', latentDim: 2, hidden: [4], epochs: 1, seed: 9 }))
    expect([vae.seed, vae.queries.predictRows, vae.queries.calls]).toEqual([9, 0, 0])
    vae.dispose()
    const gmm = await toPromise(fitDirichletProcessGmm(ds.x, { maxComponents: 4, seed: 8 }))
    expect(gmm.seed).toBe(8)
    const regions = await toPromise(findMisclassificationRegions(sources.x, { maxComponents: 4, seed: 7 }))
    expect([regions.seed, regions.queries.calls]).toEqual([7, 0])
    const labelled = await toPromise(labelRegions(regions.regions, identity, () => 1, { seed: 1, samples: 4 }))
    const net = buildMlp({ inputDim: 2, hidden: [4], numClasses: 2, seed: 1 })
    const c = await toPromise(correctModel(net, sources, labelled, identity, { seed: 6, epochs: 1, samplesPerRegion: 8 }))
    expect([c.seed, c.queries.calls]).toEqual([6, 0])
    net.dispose()
  })

  it('renamed options: tol is refused with a pointer to tolerance; tolerance is honoured', async () => {
    const r = await fitDirichletProcessGmm(sources.x, { seed: 1, maxComponents: 3, tol: 1 } as never)()
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.message).toContain('tolerance')
    const loose = await toPromise(fitDirichletProcessGmm(sources.x, { seed: 1, maxComponents: 3, tolerance: 10 }))
    expect(loose.iterations).toBe(2) // the second sweep changes the evidence by less than 10
  })
})

describe('progress and abort in the long loops', () => {
  const abortOnFirst = (what: string) => {
    const controller = new AbortController()
    const events: ProgressEvent[] = []
    let at = 0
    return {
      signal: controller.signal,
      progress: (e: ProgressEvent) => {
        events.push(e)
        if (e.stage === what && events.length === 1) {
          at = Date.now()
          controller.abort()
        }
      },
      events,
      elapsed: () => Date.now() - at,
    }
  }

  it('trainVae: progress per batch, Aborted within 1 s', async () => {
    const ds = gaussianBlobs({ n: 400, dim: 6, classes: 2, seed: 1 })
    const seen: ProgressEvent[] = []
    await toPromise(trainVae(ds.x, { likelihood: 'gaussian', latentDim: 2, hidden: [8], epochs: 2, batchSize: 100, seed: 1, progress: (e) => seen.push(e) }))
    expect(seen[0]).toEqual({ stage: 'vae epochs', done: 0, total: 8 })
    expect(seen.at(-1)).toEqual({ stage: 'vae epochs', done: 8, total: 8 })
    const c = abortOnFirst('vae epochs')
    const r = await trainVae(ds.x, { likelihood: 'gaussian', latentDim: 2, hidden: [8], epochs: 50, seed: 1, signal: c.signal, progress: c.progress })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(c.elapsed()).toBeLessThan(1000)
  })

  it('fitDirichletProcessGmm: progress per sweep, Aborted within 1 s', async () => {
    const ds = gaussianBlobs({ n: 400, dim: 3, classes: 3, seed: 1 })
    const c = abortOnFirst('mixture sweeps')
    const r = await fitDirichletProcessGmm(ds.x, { maxComponents: 30, maxIter: 5000, tolerance: 0, seed: 1, signal: c.signal, progress: c.progress })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(c.elapsed()).toBeLessThan(1000)
    expect(c.events[0]).toEqual({ stage: 'mixture sweeps', done: 0, total: 5000 })
  })

  it('correctModel: Aborted within 1 s, and the model gets its weights back', async () => {
    const regions = await toPromise(findMisclassificationRegions(sources.x, { maxComponents: 3, seed: 1 }))
    const labelled = await toPromise(labelRegions(regions.regions, identity, () => 1, { seed: 1, samples: 4 }))
    const net = buildMlp({ inputDim: 2, hidden: [4], numClasses: 2, seed: 1 })
    const before = net.getWeights().map((w) => Array.from(w.dataSync()))
    const c = abortOnFirst('correction')
    const r = await correctModel(net, sources, labelled, identity, { seed: 1, epochs: 100, batchSize: 8, samplesPerRegion: 8, signal: c.signal, progress: c.progress })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(c.elapsed()).toBeLessThan(1000)
    expect(net.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before)
    net.dispose()
  })

  it('findMisclassifications: progress between oracle calls (throttled to 100 ms); an abort stops before the next call', async () => {
    // A slow oracle (110 ms a call), so that every call gets its own progress event.
    const slow = { info: model.info, predict: (x: Parameters<typeof model.predict>[0]) => async () => { await new Promise((r) => setTimeout(r, 110)); return model.predict(x)() } }
    const box = meter(slow)
    const controller = new AbortController()
    const seen: ProgressEvent[] = []
    let rowsAtAbort = -1
    const r = await findMisclassifications(box, identity, sources.x, sources.y, {
      perturbations: 10,
      batchSize: 100,
      seed: 1,
      signal: controller.signal,
      progress: (e) => {
        seen.push(e)
        if (e.done >= 300 && rowsAtAbort < 0) {
          rowsAtAbort = box.usage().predictRows
          controller.abort()
        }
      },
    })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(box.usage().predictRows).toBe(rowsAtAbort)
    expect(rowsAtAbort).toBe(300)
  })
})

describe('fixtures: validate before paying', () => {
  it('defuse refuses bad region options before the first query (was: after 2,400 paid rows)', async () => {
    let calls = 0
    const counting = fromFunction(model.info, (x) => {
      calls++
      return new Int32Array(x.rows).fill(1)
    })
    for (const regions of [{ maxComponents: 0 }, { degreesOfFreedom: 0.5 }, { regCovar: -1 }, { init: 'dirichlet' as 'random' }, { weightThreshold: 1 }, { maxIter: 1.5 }, { tolerance: Number.NaN }]) {
      const r = await defuse(counting, identity, sources, { perturbations: 12, seed: 1, regions })()
      expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.message).toContain('options.regions.')
    }
    expect(calls).toBe(0)
  })

  it('findMisclassifications does not count missing rows as misclassified (an always-agreeing oracle that drops rows finds 0)', async () => {
    // Was: "1,200 queries, 1,197 found" — unanswered rows compared as label −1.
    const agreeing = fromFunction(model.info, (x) => new Int32Array(x.rows).fill(1))
    const dropping = { info: agreeing.info, predict: (x: Parameters<typeof agreeing.predict>[0]) => F.pipe(agreeing.predict(x), (t) => async () => { const p = await t(); return E.isRight(p) ? E.right({ labels: p.right.labels.subarray(0, Math.max(0, p.right.labels.length - 3)) }) : p }) }
    const r = await toPromise(findMisclassifications(dropping, identity, sources.x, sources.y, { perturbations: 6, seed: 1 }))
    expect(r.found).toBe(0)
    expect(r.codes.rows).toBe(0)
    expect(r.stoppedEarly?._tag).toBe('BadResponse')
    const full = await toPromise(findMisclassifications(agreeing, identity, sources.x, sources.y, { perturbations: 6, seed: 1 }))
    expect([full.found, full.queries.predictRows]).toEqual([0, 1200])
  })

  it('digamma returns NaN for x ≤ 0 and −∞ instead of looping forever', async () => {
    const { digamma } = await import('../src/index.js')
    expect(Number.isNaN(digamma(-Infinity))).toBe(true)
    expect(Number.isNaN(digamma(-1e300))).toBe(true)
    expect(Number.isNaN(digamma(0))).toBe(true)
  })
})
