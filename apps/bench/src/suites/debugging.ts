import * as tf from '@tensorflow/tfjs'
import { createRng, labelAgreement, meter, takeRows, toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
import { loadMnist, plantThinSlice, stratifiedSplit } from '@sonde/datasets'
import { correctModel, defuse, findMisclassifications, labelRegions, majorityLabeller, regionSamples, trainVae } from '@sonde/debugging'
import { table, type SuiteResult } from '../measure.js'

const labelsOf = (m: tf.LayersModel, images: Matrix): Int32Array =>
  tf.tidy(() => Int32Array.from((m.predict(tf.tensor2d(Float32Array.from(images.data), [images.rows, images.cols])) as tf.Tensor).argMax(-1).dataSync()))

/**
 * Defuse on a planted bug (MNIST, the thinnest quarter of the training 6s labelled 1): yield per
 * query of latent perturbations against pixel noise at equal queries, how much of what each finds
 * is the planted bug, the regions, and the correction.
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
    `**Correction** (${labelled.length} regions labelled by the judge, unsure regions skipped; CE(train) + 1·CE(region samples), 2 epochs, ${(correctMs / 1000).toFixed(1)} s): the bug region's fresh samples ${(100 * regionBefore).toFixed(1)} % → ${(100 * regionAfter).toFixed(1)} % right; clean held-out accuracy ${(100 * accBefore).toFixed(1)} % → ${(100 * accAfter).toFixed(1)} %.`,
  ].join('\n')
  return { title: 'Debugging: Defuse on a planted "skinny 6" bug (MNIST)', description: 'All seeded; the model is queried as a label-only black box.', markdown }
}
