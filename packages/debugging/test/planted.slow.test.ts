import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { meter, takeRows, toPromise, type Matrix } from '@sonde/oracle'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { correctModel, defuse, labelRegions, majorityLabeller, regionSamples, type DefuseResult } from '../src/index.js'
import { accuracy, blackBox, buildPlanted, labelsOf, type Planted } from './planted.js'

let p: Planted
let result: DefuseResult
let sources: { x: Matrix; y: Int32Array }
/** Latent perturbation scale of the from-all-sources run. */
const ALL_SCALE = 0.5

beforeAll(async () => {
  await useFastestBackend()
  // Trains the buggy model, the judge and the VAE on 8,000 digits: ≈ 100 s alone (timeout 600 s).
  p = await buildPlanted(1)
  // The held-out digits labelled 6: where a user would look after seeing 6s misread.
  const sixes = Array.from(p.held.y.keys()).filter((i) => p.held.y[i] === 6)
  sources = { x: takeRows(p.held.x, sixes), y: Int32Array.from(sixes, () => 6) }
}, 600_000)

/** Share of a region's samples the judge (trained on the true labels) calls 6 and the buggy model calls 1. */
const bugShare = (samples: Matrix, oracleLabels: Int32Array): number => {
  const judged = labelsOf(p.judge, samples)
  let c = 0
  for (let i = 0; i < samples.rows; i++) if (judged[i] === 6 && oracleLabels[i] === 1) c++
  return c / samples.rows
}

/** Share of 500 fresh samples of a region the judge calls 6 and the buggy model (as it is now) calls 1. */
const freshBugShare = (r: DefuseResult['regions'][number]): number => {
  const fresh = E.getOrElseW((e: { message: string }) => { throw new Error(e.message) })(regionSamples(r.region, p.vae, 500, 999, { lower: 0, upper: 1 }))
  return bugShare(fresh, labelsOf(p.buggy, fresh))
}

describe('Defuse from all 2,000 held-out digits (a user who does not know the bug)', () => {
  it('the top-ranked region is the planted bug (≥ 80 % of 500 fresh samples are 6s the model calls 1) in ≤ 25,000 label queries; correcting from the 10 top-ranked regions (samples from their cores) brings it to ≥ 95 % right at no cost in clean accuracy', { timeout: 900_000 }, async () => {
    const box = meter(blackBox(p.buggy))
    const all = await toPromise(defuse(box, p.vae, p.held, { seed: 1, perturbations: 10, scale: ALL_SCALE, budget: 25_000, regions: { maxComponents: 30 } }))
    expect(box.usage().predictRows).toBe(all.queries.predictRows)
    expect(all.queries.predictRows).toBeLessThanOrEqual(25_000)
    expect(all.mixtures.length).toBe(10)
    const top = all.ranked[0]!
    const topShare = freshBugShare(top)
    console.log(`from all: ${all.queries.predictRows} queries, ${all.regions.length} regions; top ${top.sourceLabel} → ${top.predictedLabel} share ${top.share.toFixed(3)} error ${top.errorRate.toFixed(2)} likeness ${top.sourceLikeness.toFixed(2)}, bug share ${topShare.toFixed(3)}`)
    expect(top.sourceLabel).toBe(6)
    expect(top.predictedLabel).toBe(1)
    expect(topShare).toBeGreaterThanOrEqual(0.8)
    // The score as documented, recomputed from the model itself.
    const read = labelsOf(p.buggy, top.samples)
    expect(top.errorRate).toBeCloseTo(read.reduce((a, l) => a + (l !== 6 ? 1 : 0), 0) / read.length, 12)
    expect(top.score).toBeCloseTo(top.share * top.errorRate * Math.max(0, 2 * top.sourceLikeness - 1), 12)
    expect(all.ranked.every((r) => r.score <= top.score)).toBe(true)
    // Correction on a copy of the buggy model: the judge labels the top-ranked regions it is sure of.
    const copy = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 11 })
    copy.setWeights(p.buggy.getWeights())
    const labelled = await toPromise(labelRegions(all.ranked.slice(0, 10).map((r) => r.region), p.vae, majorityLabeller((samples) => labelsOf(p.judge, samples)), { seed: 5, domain: { lower: 0, upper: 1 } }))
    const fresh = E.getOrElseW((e: { message: string }) => { throw new Error(e.message) })(regionSamples(top.region, p.vae, 500, 999, { lower: 0, upper: 1 }))
    const truth = labelsOf(p.judge, fresh)
    const before = { region: accuracy(labelsOf(copy, fresh), truth), test: accuracy(labelsOf(copy, p.held.x), p.held.y) }
    await toPromise(correctModel(copy, { x: p.train.x, y: p.buggyLabels }, labelled, p.vae, { seed: 3, epochs: 2, spread: 0.5, domain: { lower: 0, upper: 1 } }))
    const after = { region: accuracy(labelsOf(copy, fresh), truth), test: accuracy(labelsOf(copy, p.held.x), p.held.y) }
    copy.dispose()
    console.log(`from all, correction (${labelled.length} regions labelled): top region ${before.region.toFixed(3)} → ${after.region.toFixed(3)}, clean test ${before.test.toFixed(4)} → ${after.test.toFixed(4)}`)
    expect(after.region).toBeGreaterThanOrEqual(0.95)
    expect(after.test).toBeGreaterThanOrEqual(before.test)
  })
})

describe('Defuse on a planted bug: the thinnest quarter of the training 6s labelled 1 ("skinny 6")', () => {
  it('finds the bug as a region: ≥ 80 % of its decoded samples are 6s (by an independent judge) the model calls 1', { timeout: 300_000 }, async () => {
    const box = meter(blackBox(p.buggy))
    result = await toPromise(defuse(box, p.vae, sources, { seed: 1, perturbations: 10, imageShape: [28, 28], regions: { maxComponents: 30 } }))
    // Every query counted: identification plus the regions' samples, and nothing else.
    expect(box.usage().predictRows).toBe(result.queries.predictRows)
    expect(result.identification.queries.predictRows).toBe(sources.x.rows * 10)
    expect(result.identification.yieldPerQuery).toBeCloseTo(result.identification.found / result.identification.queries.predictRows, 12)
    const shares = result.regions.map((r) => bugShare(r.samples, r.oracleLabels))
    for (const [i, r] of result.regions.entries()) {
      console.log(`region ${r.region.id}: weight ${r.region.weight.toFixed(3)}, ${r.sourceLabel} → ${r.predictedLabel}, purity ${r.purity.toFixed(2)}, judge-6 & model-1 ${shares[i]!.toFixed(2)}`)
      // Purity is the share of the region's fresh samples the box puts outside the source class: recount it
      // from the buggy model itself, not from the labels the result carries.
      const truthLabels = labelsOf(p.buggy, r.samples)
      expect(Array.from(r.oracleLabels)).toEqual(Array.from(truthLabels))
      expect(r.purity).toBeCloseTo(truthLabels.reduce((a, l) => a + (l !== r.sourceLabel ? 1 : 0), 0) / r.samples.rows, 12)
      // A 6 the model calls 1 is a sample outside the source class, so purity bounds the bug share.
      if (r.sourceLabel === 6) expect(r.purity).toBeGreaterThanOrEqual(shares[i]! - 1e-12)
      expect(r.grid!.width).toBe(8 * 29 - 1)
    }
    console.log(`identification: ${result.identification.queries.predictRows} queries, ${result.identification.found} misclassified (yield ${result.identification.yieldPerQuery.toFixed(3)} per query), ${result.identification.codes.rows} kept, ${result.regions.length} regions`)
    expect(Math.max(...shares)).toBeGreaterThanOrEqual(0.8)
  })

  it('correction from judge-labelled regions: the bug region’s fresh samples ≥ 90 % right, clean test accuracy down ≤ 1 point', { timeout: 300_000 }, async () => {
    const labelled = await toPromise(labelRegions(result.regions.map((r) => r.region), p.vae, majorityLabeller((samples) => labelsOf(p.judge, samples)), { seed: 5, domain: { lower: 0, upper: 1 } }))
    expect(labelled.length).toBeGreaterThan(0)
    const bug = result.regions[result.regions.map((r) => bugShare(r.samples, r.oracleLabels)).reduce((b, s, i, all) => (s > all[b]! ? i : b), 0)]!
    const fresh = E.getOrElseW((e: { message: string }) => { throw new Error(e.message) })(regionSamples(bug.region, p.vae, 500, 999, { lower: 0, upper: 1 }))
    const truth = labelsOf(p.judge, fresh)
    const before = { region: accuracy(labelsOf(p.buggy, fresh), truth), test: accuracy(labelsOf(p.buggy, p.held.x), p.held.y) }
    await toPromise(correctModel(p.buggy, { x: p.train.x, y: p.buggyLabels }, labelled, p.vae, { seed: 3, epochs: 2, domain: { lower: 0, upper: 1 } }))
    const after = { region: accuracy(labelsOf(p.buggy, fresh), truth), test: accuracy(labelsOf(p.buggy, p.held.x), p.held.y) }
    console.log(`correction (${labelled.length} regions labelled): bug region ${before.region.toFixed(3)} → ${after.region.toFixed(3)}, clean test ${before.test.toFixed(4)} → ${after.test.toFixed(4)}`)
    expect(before.region).toBeLessThan(0.5)
    expect(after.region).toBeGreaterThanOrEqual(0.9)
    expect(after.test).toBeGreaterThanOrEqual(before.test - 0.01)
  })
})
