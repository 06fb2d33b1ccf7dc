import * as tf from '@tensorflow/tfjs'
import { createRng, labelAgreement, meter, takeRows, toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
import { loadMnist, plantThinSlice, stratifiedSplit } from '@sonde/datasets'
import { correctModel, defuse, findMisclassifications, labelRegions, majorityLabeller, regionSamples, trainVae, type DefuseResult, type RegionReport } from '@sonde/debugging'
import { table, type SuiteResult } from '../measure.js'

/** Top-ranked regions the judge is asked to label in the from-all-sources correction. */
const ALL_LABELLED = 10

const labelsOf = (m: tf.LayersModel, images: Matrix): Int32Array =>
  tf.tidy(() => Int32Array.from((m.predict(tf.tensor2d(Float32Array.from(images.data), [images.rows, images.cols])) as tf.Tensor).argMax(-1).dataSync()))

/**
 * Defuse on a planted bug (MNIST, the thinnest quarter of the training 6s labelled 1): yield per
 * query of latent perturbations against pixel noise at equal queries, how much of what each finds
 * is the planted bug, the regions, and the correction — from the held-out 6s, and from all 2,000
 * held-out digits (a user who does not know where the bug is), today's one mixture against one mixture
 * per source label with the regions ranked by `score`.
 */
export const debugging = async (): Promise<SuiteResult> => {
  const mnist = loadMnist()
  const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 1 })
  const x = takeRows(mnist.x, train)
  const y = Int32Array.from(train, (i) => mnist.y[i]!)
  const held = { x: takeRows(mnist.x, test), y: Int32Array.from(test, (i) => mnist.y[i]!) }
  const planted = plantThinSlice({ x, y }, { from: 6, to: 1, fraction: 0.25 })
  let t = performance.now()
  const model = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 11 })
  await toPromise(trainClassifier(model, x, planted.y, { epochs: 10, seed: 11, learningRate: 2e-3 }))
  const judge = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 21 })
  await toPromise(trainClassifier(judge, x, y, { epochs: 10, seed: 21, learningRate: 2e-3 }))
  const modelsMs = performance.now() - t
  t = performance.now()
  const vae = await toPromise(trainVae(x, { latentDim: 8, epochs: 10, seed: 31 }))
  const vaeMs = performance.now() - t
  const box = fromTfjsModel(model, { output: 'label', id: 'suspect', domain: { lower: 0, upper: 1 } })
  const sixes = Array.from(held.y.keys()).filter((i) => held.y[i] === 6)
  const sources = { x: takeRows(held.x, sixes), y: new Int32Array(sixes.length).fill(6) }
  const accBefore = labelAgreement(labelsOf(model, held.x), held.y)

  // Identification: latent ladders at several scales, against pixel noise at equal queries.
  const Q = 10
  const isBug = (images: Matrix, predicted: Int32Array): number => {
    const judged = labelsOf(judge, images)
    let c = 0
    for (let i = 0; i < images.rows; i++) if (judged[i] === 6 && predicted[i] === 1) c++
    return c
  }
  const rows: Array<Array<string | number>> = []
  for (const scale of [0.5, 1, 2]) {
    const r = await toPromise(findMisclassifications(box, vae, sources.x, sources.y, { perturbations: Q, keepPerSource: Q, scale, seed: 1 }))
    rows.push([`latent, scale ${scale}`, String(r.queries.predictRows), String(r.found), r.yieldPerQuery, r.found === 0 ? 0 : isBug(r.inputs, r.predicted) / r.found])
  }
  for (const sigma of [0.1, 0.3]) {
    const rng = createRng(2)
    const n = sources.x.rows * Q
    const data = new Float64Array(n * 784)
    for (let r = 0; r < n; r++) {
      const i = Math.floor(r / Q)
      const s = (sigma * ((r % Q) + 1)) / Q
      for (let j = 0; j < 784; j++) data[r * 784 + j] = Math.min(1, Math.max(0, sources.x.data[i * 784 + j]! + s * rng.normal()))
    }
    const noisy = { rows: n, cols: 784, data }
    const predicted = (await toPromise(box.predict(noisy))).labels
    const wrongRows = Array.from(predicted.keys()).filter((r) => predicted[r] !== 6)
    const wrong = takeRows(noisy, wrongRows)
    rows.push([`pixel noise, σ up to ${sigma}`, String(n), String(wrongRows.length), wrongRows.length / n, wrongRows.length === 0 ? 0 : isBug(wrong, Int32Array.from(wrongRows, (r) => predicted[r]!)) / wrongRows.length])
  }

  // From all 2,000 held-out digits: the user does not know the bug. Today's run (one mixture over every
  // kept code, regions by weight) beside one mixture per source label with the regions ranked by score.
  const bugShare = (r: RegionReport): { shown: number; fresh: number } => {
    const judgedShown = labelsOf(judge, r.samples)
    let shown = 0
    for (let i = 0; i < r.samples.rows; i++) if (judgedShown[i] === 6 && r.oracleLabels[i] === 1) shown++
    const f = regionSamples(r.region, vae, 500, 999, { lower: 0, upper: 1 })
    if (f._tag === 'Left') throw new Error(f.left.message)
    const judged = labelsOf(judge, f.right)
    const read = labelsOf(model, f.right)
    let fresh = 0
    for (let i = 0; i < 500; i++) if (judged[i] === 6 && read[i] === 1) fresh++
    return { shown: shown / r.samples.rows, fresh: fresh / 500 }
  }
  const allBudget = 25_000
  const runs = new Map<string, { result: DefuseResult; ms: number }>()
  const runOf = async (scale: number, groupBySource: boolean) => {
    const key = `${scale} ${groupBySource}`
    const known = runs.get(key)
    if (known !== undefined) return known
    const t0 = performance.now()
    const result = await toPromise(defuse(meter(box), vae, held, { seed: 1, perturbations: Q, scale, budget: allBudget, groupBySource, regions: { maxComponents: 30 } }))
    const run = { result, ms: performance.now() - t0 }
    runs.set(key, run)
    return run
  }
  const allRows: Array<Array<string | number>> = []
  for (const [name, scale, groupBySource, byScore] of [
    ['today: one mixture, regions by weight', 1, false, false],
    ['one mixture, ranked by score', 1, false, true],
    ['one mixture per source label, ranked by score (default)', 1, true, true],
    ['today: one mixture, regions by weight', 0.5, false, false],
    ['one mixture per source label, ranked by score (default)', 0.5, true, true],
  ] as const) {
    const { result, ms } = await runOf(scale, groupBySource)
    const order = byScore ? result.ranked : result.regions
    const shares = order.map(bugShare)
    const top = order[0]!
    const best = shares.reduce((b, s, i) => (s.fresh > shares[b]!.fresh ? i : b), 0)
    allRows.push([name, String(scale), String(result.mixtures.length), String(order.length), String(result.queries.predictRows), `${top.sourceLabel} → ${top.predictedLabel}`, shares[0]!.shown, shares[0]!.fresh, shares[best]!.fresh, String(best + 1), (ms / 1000).toFixed(0)])
  }
  // Correction from the default runs: the judge labels the top-ranked regions it is sure of, on a copy of the model.
  const corrections: Array<Array<string | number>> = []
  for (const scale of [1, 0.5]) {
    const ranked = (await runOf(scale, true)).result.ranked
    const fresh = regionSamples(ranked[0]!.region, vae, 500, 999, { lower: 0, upper: 1 })
    if (fresh._tag === 'Left') throw new Error(fresh.left.message)
    const truth = labelsOf(judge, fresh.right)
    const labelled = await toPromise(
      labelRegions(
        ranked.slice(0, ALL_LABELLED).map((r) => r.region),
        vae,
        majorityLabeller((samples) => labelsOf(judge, samples), { agreement: 0.8 }),
        { seed: 5, domain: { lower: 0, upper: 1 } },
      ),
    )
    for (const spread of [1, 0.5]) {
      const copy = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 11 })
      copy.setWeights(model.getWeights())
      const before = labelAgreement(labelsOf(copy, fresh.right), truth)
      await toPromise(correctModel(copy, { x, y: planted.y }, labelled, vae, { seed: 3, epochs: 2, spread, domain: { lower: 0, upper: 1 } }))
      corrections.push([String(scale), `${labelled.length} (${labelled.map((l) => l.label).join(', ')})`, String(spread), before, labelAgreement(labelsOf(copy, fresh.right), truth), accBefore, labelAgreement(labelsOf(copy, held.x), held.y)])
      copy.dispose()
    }
  }

  // Defuse end to end, then correction with the judge as the labeller.
  const metered = meter(box)
  t = performance.now()
  const result = await toPromise(defuse(metered, vae, sources, { seed: 1, perturbations: Q, regions: { maxComponents: 30 } }))
  const defuseMs = performance.now() - t
  const regionRows = result.regions.map((r) => {
    const judged = labelsOf(judge, r.samples)
    let bug = 0
    for (let i = 0; i < r.samples.rows; i++) if (judged[i] === 6 && r.oracleLabels[i] === 1) bug++
    return { r, bug: bug / r.samples.rows }
  })
  const labelled = await toPromise(
    labelRegions(
      result.regions.map((r) => r.region),
      vae,
      majorityLabeller((samples) => labelsOf(judge, samples), { agreement: 0.8 }),
      { seed: 5, domain: { lower: 0, upper: 1 } },
    ),
  )
  const bugRegion = [...regionRows].sort((a, b) => b.bug - a.bug)[0]!.r
  const sampled = regionSamples(bugRegion.region, vae, 500, 999, { lower: 0, upper: 1 })
  if (sampled._tag === 'Left') throw new Error(sampled.left.message)
  const fresh = sampled.right
  const truth = labelsOf(judge, fresh)
  const regionBefore = labelAgreement(labelsOf(model, fresh), truth)
  t = performance.now()
  await toPromise(correctModel(model, { x, y: planted.y }, labelled, vae, { seed: 3, epochs: 2, domain: { lower: 0, upper: 1 } }))
  const correctMs = performance.now() - t
  const regionAfter = labelAgreement(labelsOf(model, fresh), truth)
  const accAfter = labelAgreement(labelsOf(model, held.x), held.y)
  vae.dispose()

  const markdown = [
    `Planted bug: ${planted.changed.length} of the ${y.filter((l) => l === 6).length} training 6s (the thinnest quarter by ink) labelled 1; the 784-128-10 model trained on it scores ${(100 * accBefore).toFixed(1)} % on 2,000 held-out digits. Judge: the same architecture on the true labels. VAE: latent 8, 10 epochs (${(vaeMs / 1000).toFixed(0)} s; the two classifiers ${(modelsMs / 1000).toFixed(0)} s). Sources: the ${sixes.length} held-out 6s, Q = ${Q} perturbations each.`,
    '',
    '**Identification** — label queries, misread inputs found, yield per query, and the share of the found inputs that are the planted bug (the judge says 6, the model says 1):',
    '',
    table(['search', 'queries', 'found', 'yield per query', 'share that is the bug'], rows),
    '',
    `**Regions** (Dirichlet-process mixture, upper bound 30, weight > 0.01; ${result.regions.length} regions; Defuse end to end ${(defuseMs / 1000).toFixed(1)} s and ${metered.usage().predictRows} label queries):`,
    '',
    table(
      ['region', 'weight', 'members', 'source → model', 'error rate', 'judge 6 & model 1'],
      regionRows.slice(0, 10).map(({ r, bug }) => [String(r.region.id), r.region.weight, String(r.region.members.length), `${r.sourceLabel} → ${r.predictedLabel}`, r.errorRate, bug]),
    ),
    '',
    `**From all ${held.x.rows.toLocaleString('en')} held-out digits** (the user does not know the bug; Q = ${Q}, budget ${allBudget.toLocaleString('en')} label queries, mixtures with upper bound 30). Score = share × error rate × max(0, 2·source likeness − 1) (share: the region's part of all kept misread codes; error rate: its fresh samples the model reads as another class; source likeness: mean share of the 10 nearest encoded sources with the region's source label). Bug share: judge 6 & model 1, on the 32 samples Defuse queried and on 500 fresh ones; "best" is the region with the highest bug share (500 fresh), at its rank in the run's order:`,
    '',
    table(['run', 'scale', 'mixtures', 'regions', 'label queries', 'first region: source → model', 'its bug share (32)', 'its bug share (500)', 'best bug share (500)', 'rank of the best', 'Defuse s'], allRows),
    '',
    `Correction from the default runs: the judge labels the ${ALL_LABELLED} top-ranked regions (unsure ones, < 80 % agreement, skipped), CE(train) + 1·CE(region samples), 2 epochs, on a copy of the model; spread 0.5 draws the correction samples from the regions' cores. "Right" is agreement with the judge on 500 fresh samples of the top-ranked region:`,
    '',
    table(['scale', 'regions labelled', 'spread', 'top region right before', 'after', 'clean accuracy before', 'after'], corrections),
    '',
    `**Correction** (${labelled.length} regions labelled by the judge, unsure regions skipped; CE(train) + 1·CE(region samples), 2 epochs, ${(correctMs / 1000).toFixed(1)} s): the bug region's fresh samples ${(100 * regionBefore).toFixed(1)} % → ${(100 * regionAfter).toFixed(1)} % right; clean held-out accuracy ${(100 * accBefore).toFixed(1)} % → ${(100 * accAfter).toFixed(1)} %.`,
  ].join('\n')
  return { title: 'Debugging: Defuse on a planted "skinny 6" bug (MNIST)', description: 'All seeded; the model is queried as a label-only black box.', markdown }
}
