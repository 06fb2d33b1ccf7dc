import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeWith, describeProbe, fromFunction, makeContext, meter, notJsonSafe, runProbe, type Matrix, type Oracle, type ProgressEvent } from '@sonde/oracle'
import { useFastestBackend } from '@sonde/models/tfjs'
import { downsampleImages, loadMnist } from '@sonde/datasets'
import { defuseProbe, type DefuseProbeResult } from '../src/index.js'
import { identity, model, planeSources } from './plane.js'

beforeAll(async () => {
  await useFastestBackend()
})

const sources = planeSources(150)
const rows = (m: Matrix): number[][] => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)))
const json = <A>(v: A): A => JSON.parse(JSON.stringify(v)) as A

// The plane of plane.ts from JSON: sources as rows, a small Gaussian VAE trained inside the probe.
const planeOptions = json({
  data: { x: rows(sources.x), y: Array.from(sources.y) },
  vae: { latentDim: 2, hidden: [8], epochs: 3, likelihood: 'gaussian', trainingRows: 150 },
  perturbations: 8,
  scale: 1.5,
  regions: { maxComponents: 6 },
})

const usageOf = (m: ReturnType<typeof meter>) => {
  const u = m.usage()
  return { predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 }
}

const expectContract = (r: DefuseProbeResult, box: ReturnType<typeof meter>, seed: number): void => {
  // (a) every query counted, against an independent meter around the oracle
  expect(r.queries).toEqual(usageOf(box))
  // (b) the seed echoes the context's
  expect(r.seed).toBe(seed)
  // (c) the report is JSON and round-trips unchanged
  const report = defuseProbe.report(r)
  expect(notJsonSafe(report)).toBeUndefined()
  expect(json(report)).toEqual(report)
  expect(report.queries).toEqual(r.queries)
  expect(report.headline.length).toBeGreaterThan(0)
}

/** A nearest-centroid digit classifier on 14×14 images (the class means of all 10,000 digits): a label-only box. */
const digitBox = (): Oracle => {
  const digits = downsampleImages(loadMnist(), { width: 28, height: 28, factor: 2 })
  const d = 196
  const centres = new Float64Array(10 * d)
  const counts = new Float64Array(10)
  for (let i = 0; i < digits.x.rows; i++) {
    counts[digits.y[i]!]!++
    for (let j = 0; j < d; j++) centres[digits.y[i]! * d + j]! += digits.x.data[i * d + j]!
  }
  for (let c = 0; c < 10; c++) for (let j = 0; j < d; j++) centres[c * d + j]! /= counts[c]!
  return fromFunction({ id: 'centroids-14', inputDim: d, numClasses: 10, output: 'label', inputShape: [14, 14, 1], domain: { lower: 0, upper: 1 } }, (x) =>
    Int32Array.from({ length: x.rows }, (_, i) => {
      let best = 0
      let bestD = Infinity
      for (let c = 0; c < 10; c++) {
        let s = 0
        for (let j = 0; j < d; j++) s += (x.data[i * d + j]! - centres[c * d + j]!) ** 2
        if (s < bestD) [best, bestD] = [c, s]
      }
      return best
    }),
  )
}

describe('sonde/debugging/defuse through runProbe, from JSON alone', () => {
  it('labelled rows and a VAE trained inside: queries match a meter, the seed echoes, the report round-trips', async () => {
    const box = meter(model)
    const r = await runProbe(defuseProbe, box, planeOptions, makeContext({ seed: 4 }))()
    if (E.isLeft(r)) throw new Error(r.left.message)
    expectContract(r.right, box, 4)
    expect(r.right.generator).toBe('trained')
    expect(r.right.vaeLosses.length).toBe(3)
    // Identification asks n·Q rows; each measured region 32 more.
    expect(r.right.queries.predictRows).toBe(150 * 8 + 32 * r.right.regions.length)
  })

  it('tabular rows need no likelihood: values outside [0, 1] train a Gaussian VAE', async () => {
    const { likelihood: _l, ...vae } = planeOptions.vae
    const r = await runProbe(defuseProbe, model, { ...planeOptions, vae: { ...vae, epochs: 1 } }, makeContext({ seed: 4 }))()
    expect(E.isRight(r) && r.right.generator).toBe('trained')
  })

  it('the mnist dataset at 14×14 with the default VAE architecture: regions in seconds, pictures in the report', { timeout: 30_000 }, async () => {
    const box = meter(digitBox())
    const t0 = Date.now()
    const r = await runProbe(defuseProbe, box, json({ dataset: { name: 'mnist', sources: 30 }, vae: { trainingRows: 600 } }), makeContext({ seed: 1 }))()
    const seconds = (Date.now() - t0) / 1000
    if (E.isLeft(r)) throw new Error(r.left.message)
    expectContract(r.right, box, 1)
    console.log(`defuse probe on 14×14 mnist (default VAE on 600 digits, 30 sources): ${seconds.toFixed(1)} s, ${r.right.queries.predictRows} queries, ${r.right.regions.length} regions; ${defuseProbe.report(r.right).headline}`)
    expect(r.right.imageShape).toEqual([14, 14])
    expect(r.right.identification.found).toBeGreaterThan(0)
    expect(r.right.regions.length).toBeGreaterThan(0)
    const report = defuseProbe.report(r.right)
    const images = report.figures.filter((f) => f.kind === 'image')
    expect(images.length).toBe(Math.min(6, r.right.regions.length))
    for (const f of images) if (f.kind === 'image') expect(f.pixels.length).toBe(f.width * f.height)
    expect(report.tables[0]!.rows.length).toBe(r.right.regions.length)
    // The table's error rates are recounted from the oracle's labels of each region's samples.
    for (const g of r.right.regions) expect(g.errorRate).toBeCloseTo(Array.from(g.oracleLabels).filter((l) => l !== g.sourceLabel).length / g.samples.rows, 12)
  })

  it('describeProbe is JSON Schema whose defaults decode (with the one required choice: data or dataset)', () => {
    const schema = describeProbe(defuseProbe)
    expect(json(schema)).toEqual(schema)
    const props = schema.properties as Record<string, { default?: unknown }>
    for (const key of ['perturbations', 'keepPerSource', 'scale', 'batchSize', 'samplesPerRegion', 'vae', 'regions']) expect(props[key], key).toBeDefined()
    const defaults = Object.fromEntries(Object.entries(props).flatMap(([k, v]) => (v.default !== undefined ? [[k, v.default]] : [])))
    expect(defaults.perturbations).toBe(20)
    const decoded = decodeWith(defuseProbe.options, json({ ...defaults, dataset: { name: 'mnist' } }))
    expect(E.isRight(decoded)).toBe(true)
    if (E.isRight(decoded)) expect(decoded.right.vae.latentDim).toBe(4)
    const neither = decodeWith(defuseProbe.options, json(defaults))
    expect(E.isLeft(neither) && neither.left.message).toContain('options.data')
  })

  it('bad options — the mixture’s included — are refused before the VAE trains or any query', async () => {
    let calls = 0
    const counting = fromFunction({ id: 'count', inputDim: 2, numClasses: 2, output: 'label' }, (x) => {
      calls++
      return new Int32Array(x.rows).fill(1)
    })
    const progress: ProgressEvent[] = []
    for (const bad of [
      { ...planeOptions, regions: { degreesOfFreedom: 0.5 } }, // ν₀ must exceed latentDim − 1 = 1: known only with the latent dimension
      { ...planeOptions, perturbations: 0 },
      { ...planeOptions, regions: { tol: 1e-3 } },
      { ...planeOptions, data: { x: [[0, 1]], y: [7] } }, // a class the oracle does not have
      { ...planeOptions, data: { x: [[0, 1, 2]], y: [1] } }, // the wrong width
      { ...planeOptions, budget: 1.5 },
    ]) {
      const r = await runProbe(defuseProbe, counting, json(bad), makeContext({ seed: 1, progress: (e) => progress.push(e) }))()
      expect(E.isLeft(r) && ['InvalidOptions', 'InvalidInput', 'ShapeMismatch'].includes(r.left._tag), JSON.stringify(bad.regions ?? bad.perturbations)).toBe(true)
    }
    expect(calls).toBe(0)
    expect(progress).toEqual([]) // not even the VAE started
  })
})

describe('abort', () => {
  it('on the first progress event (the VAE’s first batch): Aborted within 1 s, no query answered after it', async () => {
    const box = meter(model)
    const controller = new AbortController()
    let atAbort = -1
    let abortedAt = 0
    const ctx = makeContext({
      seed: 1,
      signal: controller.signal,
      progress: () => {
        if (atAbort < 0) {
          atAbort = box.usage().predictRows
          abortedAt = Date.now()
          controller.abort()
        }
      },
    })
    const r = await runProbe(defuseProbe, box, planeOptions, ctx)()
    expect(Date.now() - abortedAt).toBeLessThan(1000)
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(box.usage().predictRows).toBe(atAbort)
  })

  for (const at of ['identification', 'mixture sweeps', 'region samples']) {
    it(`during '${at}' (a generator from code): Aborted within 1 s, and the meter shows no query after it`, async () => {
      const box = meter(model)
      const controller = new AbortController()
      let atAbort = -1
      let abortedAt = 0
      const ctx = makeContext({
        seed: 2,
        signal: controller.signal,
        progress: (e) => {
          // Mid-way through identification, or at the first event of the later stages.
          if (atAbort < 0 && e.stage === at && (at !== 'identification' || e.done > 0)) {
            atAbort = box.usage().predictRows
            abortedAt = Date.now()
            controller.abort()
          }
        },
      })
      const r = await runProbe(defuseProbe, box, { data: sources, generator: identity, perturbations: 12, scale: 1.5, batchSize: 200, regions: { maxComponents: 8 } }, ctx)()
      expect(atAbort).toBeGreaterThan(0)
      expect(Date.now() - abortedAt).toBeLessThan(1000)
      expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
      expect(box.usage().predictRows).toBe(atAbort)
    })
  }
})
