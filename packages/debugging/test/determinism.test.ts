import { beforeAll, describe, expect, it } from 'vitest'
import { createRng, meter, toPromise } from '@sonde/oracle'
import { expectSeeded } from '@sonde/oracle/testing'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs } from '@sonde/datasets'
import { correctModel, defuse, findMisclassifications, fitDirichletProcessGmm, labelRegions, regionSamples, sampleComponent, trainVae } from '../src/index.js'
import { identity, model, planeSources } from './plane.js'

beforeAll(async () => {
  await useFastestBackend()
})

// The planted bug of identification.test.ts (plane.ts).
const sources = planeSources(120)
const defuseOptions = { perturbations: 10, keepPerSource: 3, scale: 1.5, samplesPerRegion: 40, regions: { maxComponents: 8 } }

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/debugging', () => {
  it('trainVae: losses and encodings', async () => {
    const ds = gaussianBlobs({ n: 120, dim: 5, classes: 2, seed: 1 })
    await expectSeeded(async (seed) => {
      const vae = await toPromise(trainVae(ds.x, { likelihood: 'gaussian', latentDim: 2, hidden: [8], epochs: 2, seed }))
      const out = [vae.losses, vae.encode(ds.x), vae.decode({ rows: 3, cols: 2, data: Float64Array.of(0, 0, 1, -1, 0.5, 2) })]
      vae.dispose()
      return out
    })
  })

  it('fitDirichletProcessGmm and sampleComponent', async () => {
    const ds = gaussianBlobs({ n: 200, dim: 2, classes: 3, spread: 0.5, seed: 2 })
    await expectSeeded(async (seed) => {
      const gmm = await toPromise(fitDirichletProcessGmm(ds.x, { maxComponents: 8, seed }))
      const top = [...gmm.components].sort((a, b) => b.weight - a.weight)[0]!
      return [gmm.components, gmm.assign(ds.x), sampleComponent(top, 10, createRng(seed))]
    })
  })

  it('findMisclassifications', async () => {
    await expectSeeded((seed) => toPromise(findMisclassifications(model, identity, sources.x, sources.y, { ...defuseOptions, seed })))
  })

  it('defuse, regionSamples and labelRegions', async () => {
    await expectSeeded(async (seed) => {
      const r = await toPromise(defuse(model, identity, sources, { ...defuseOptions, seed }))
      const regions = r.regions.map((x) => x.region)
      const labelled = await toPromise(labelRegions(regions, identity, (samples) => (samples.data[0]! > 0 ? 1 : 0), { seed, samples: 8 }))
      return [r.queries, r.identification, r.regions.map(({ region, ...rest }) => ({ rest, mean: region.mean, weight: region.weight })), regions.map((g) => regionSamples(g, identity, 5, seed)), labelled.map((l) => [l.label, l.samples])]
    })
  })

  it('correctModel: the fine-tuned weights (fixed initial weights, seeded batches)', async () => {
    const r = await toPromise(defuse(model, identity, sources, { ...defuseOptions, seed: 1 }))
    const labelled = await toPromise(labelRegions(r.regions.map((x) => x.region), identity, () => 1, { seed: 1, samples: 8 }))
    await expectSeeded(async (seed) => {
      const net = buildMlp({ inputDim: 2, hidden: [6], numClasses: 2, seed: 1 })
      const report = await toPromise(correctModel(net, sources, labelled, identity, { seed, epochs: 2, batchSize: 16, samplesPerRegion: 20 }))
      const out = [report.losses, net.getWeights().map((w) => w.dataSync())]
      net.dispose()
      return out
    })
  })
})

describe('seeds are checked before any work or query', () => {
  it('trainVae, fitDirichletProcessGmm, findMisclassifications and defuse refuse NaN, Infinity and "1"', async () => {
    const ds = gaussianBlobs({ n: 40, dim: 2, classes: 2, seed: 1 })
    const watched = meter(model)
    for (const seed of [Number.NaN, Infinity, '1'] as unknown as number[]) {
      const tags = [
        await trainVae(ds.x, { likelihood: 'gaussian', latentDim: 1, epochs: 1, seed })(),
        await fitDirichletProcessGmm(ds.x, { maxComponents: 3, seed })(),
        await findMisclassifications(watched, identity, sources.x, sources.y, { seed })(),
        await defuse(watched, identity, sources, { seed })(),
      ].map((r) => (r._tag === 'Left' ? r.left._tag : 'Right'))
      expect(tags).toEqual(['InvalidOptions', 'InvalidOptions', 'InvalidOptions', 'InvalidOptions'])
    }
    expect(watched.usage().predictRows).toBe(0)
  })
})
