/**
 * Recipe: why did the model call this a 9?
 *
 * Fit softmax regression on 3,000 MNIST digits (float64, to ‖∇F‖ ≤ 1e-10), take a test digit it
 * calls "9" — a wrong call if there is one — and ask which training digits are responsible:
 * influence functions (Koh & Liang 2017) predict, for every training digit, how the loss on
 * this test digit would change if that digit were removed and the model refit. One
 * conjugate-gradient solve, then one product over the whole training set.
 *
 * Writes a grid to docs/recipes/output/why-a-nine.png: the test digit, then the 8 most helpful
 * training digits (removing them would raise the loss on its true label: they pull toward the
 * truth), then the 8 most harmful (removing them would lower it). On this seed the digit is a
 * closed-top "4": the helpful digits are 4s drawn like it; the harmful ones are a 6, a 9, a 7 and
 * 4s drawn open-topped — the model learned "4" from them, and that is what this one lacks.
 *
 * Run: `node --import tsx docs/recipes/why-a-nine.ts`
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { either as E } from 'fp-ts'
import { concatRows, takeRows, toPromise } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { encodeGrayPng, imageGrid, loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { influenceOnTest, mostInfluential } from '@sonde/influence'

const mnist = loadMnist()
const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.1, seed: 3, limit: 3300 })
const trainSet = subset(mnist, train)
const testSet = subset(mnist, test)

const fitted = SoftmaxRegression.fit(trainSet.x, trainSet.y, { numClasses: 10, l2: 0.01 })
if (E.isLeft(fitted)) throw new Error(fitted.left.message)
const model = fitted.right.model

// A test digit the model calls 9: preferably one that is not a 9.
const { labels } = await toPromise(model.predict(testSet.x))
const wrong = labels.findIndex((l, i) => l === 9 && testSet.y[i] !== 9)
const index = wrong >= 0 ? wrong : labels.findIndex((l) => l === 9)
const digit = { x: takeRows(testSet.x, [index]), y: testSet.y.slice(index, index + 1) }
console.log(`test digit ${index}: labelled ${digit.y[0]}, the model says 9`)

const t0 = performance.now()
// Async: it reports progress (CG iterations, at most every 100 ms) and would stop on an AbortSignal (`signal`).
let events = 0
const scores = await toPromise(influenceOnTest(model, trainSet, digit, { method: 'cg', progress: () => void events++ }))
const solve = scores.solves[0]!
console.log(`s_test by CG: ${solve.iterations} iterations, relative residual ${solve.relativeResidual.toExponential(1)}, ${(performance.now() - t0).toFixed(0)} ms in all; ${events} progress events; ${scores.queries.calls} oracle queries (white-box)`)

const top = (direction: 'helpful' | 'harmful'): Int32Array => {
  const ranked = mostInfluential(scores, 0, 8, direction)
  if (E.isLeft(ranked)) throw new Error(ranked.left.message)
  return ranked.right
}
const helpful = top('helpful')
const harmful = top('harmful')
const show = (idx: Int32Array) => Array.from(idx, (j) => `${trainSet.y[j]} (${scores.scores.data[j]!.toExponential(1)})`).join(', ')
console.log(`most helpful (label, predicted loss change if removed): ${show(helpful)}`)
console.log(`most harmful: ${show(harmful)}`)

const out = join(import.meta.dirname, 'output')
mkdirSync(out, { recursive: true })
const images = concatRows([takeRows(testSet.x, [index]), takeRows(trainSet.x, helpful), takeRows(trainSet.x, harmful)])
const grid = imageGrid(images, { width: 28, height: 28, columns: 17 })
writeFileSync(join(out, 'why-a-nine.png'), encodeGrayPng(grid.pixels, grid.width, grid.height))
console.log('wrote docs/recipes/output/why-a-nine.png (test digit | 8 most helpful | 8 most harmful)')

// The most helpful digits carry the test digit's true label.
const helpfulSameLabel = Array.from(helpful).filter((j) => trainSet.y[j] === digit.y[0]).length
if (!(solve.relativeResidual <= 1e-10) || !(scores.scores.data[harmful[0]!]! < 0 && scores.scores.data[helpful[0]!]! > 0) || helpfulSameLabel < 6) {
  throw new Error('recipe expectations not met')
}
console.log('recipe ok')
