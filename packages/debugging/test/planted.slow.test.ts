import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { meter, takeRows, toPromise, type Matrix } from '@sonde/oracle'
import { useFastestBackend } from '@sonde/models/tfjs'
import { correctModel, defuse, labelRegions, majorityLabeller, regionSamples, type DefuseResult } from '../src/index.js'
import { accuracy, blackBox, buildPlanted, labelsOf, type Planted } from './planted.js'

let p: Planted
let result: DefuseResult
let sources: { x: Matrix; y: Int32Array }

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
