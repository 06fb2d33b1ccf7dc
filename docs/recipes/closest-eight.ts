/**
 * Recipe: the closest "8" to a given "3".
 *
 * Fit softmax regression on MNIST digits (float64, exact), take a test "3" it classifies
 * correctly, and ask for the closest image (Euclidean, pixels kept in [0, 1]) that the model
 * calls "8" by a logit margin of 2. The answer is exact — it carries a KKT certificate — and
 * takes about a millisecond. Writes before / after / change images as PNG to docs/recipes/output/.
 *
 * Run: `node --import tsx docs/recipes/closest-eight.ts`
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { either as E } from 'fp-ts'
import { row, toPromise } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { encodeGrayPng, imageGrid, loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { inverseSoftmax, prepareSoftmax } from '@sonde/inverse-classification'

const mnist = loadMnist()
const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.5, seed: 1, limit: 4000 })
const trainSet = subset(mnist, train)
const testSet = subset(mnist, test)

const fitted = SoftmaxRegression.fit(trainSet.x, trainSet.y, { numClasses: 10, l2: 1e-2, output: 'probabilities' })
if (E.isLeft(fitted)) throw new Error(fitted.left.message)
const model = fitted.right.model
console.log(`softmax regression on ${trainSet.y.length} digits: ‖∇F‖ = ${fitted.right.report.gradientNorm.toExponential(1)}`)

// The first test "3" the model gets right.
const predicted = await toPromise(model.predict(testSet.x))
const index = testSet.y.findIndex((label, i) => label === 3 && predicted.labels[i] === 3)
const x0 = row(testSet.x, index).slice()

const prepared = prepareSoftmax(model) // checks the model; the rows of M = WWᵀ a query needs are computed on demand and kept for the next
if (E.isLeft(prepared)) throw new Error(prepared.left.message)
const t0 = performance.now()
const result = inverseSoftmax(prepared.right, x0, { target: 8, margin: 2, domain: { lower: 0, upper: 1 } })
const ms = performance.now() - t0
if (E.isLeft(result)) throw new Error(`${result.left._tag}: ${result.left.message}`)
const r = result.right

const after = await toPromise(model.predict({ rows: 1, cols: 784, data: r.x }))
console.log(`closest "8": distance ${r.distance.toFixed(3)}, KKT residual ${r.kktResidual.toExponential(1)}, ${r.iterations} iterations, ${ms.toFixed(2)} ms`)
console.log(`binding competitors: ${Array.from(r.activeClasses).join(', ')}; the model now says ${after.labels[0]} with p = ${after.scores!.data[8]!.toFixed(3)}`)
const changed = r.x.reduce((n, v, i) => n + (Math.abs(v - x0[i]!) > 1e-9 ? 1 : 0), 0)
console.log(`${changed} of 784 pixels changed; all within [0, 1]: ${r.x.every((v) => v >= 0 && v <= 1)}`)

const out = join(import.meta.dirname, 'output')
mkdirSync(out, { recursive: true })
const change = r.x.map((v, i) => 0.5 + (v - x0[i]!) / 2)
const grid = imageGrid({ rows: 3, cols: 784, data: Float64Array.from([...x0, ...r.x, ...change]) }, { width: 28, height: 28, columns: 3 })
writeFileSync(join(out, 'three-to-eight.png'), encodeGrayPng(grid.pixels, grid.width, grid.height))
console.log(`wrote ${join('docs/recipes/output', 'three-to-eight.png')} (before | after | change, grey = unchanged)`)

if (after.labels[0] !== 8 || r.kktResidual > 1e-10) throw new Error('recipe expectations not met')
console.log('recipe ok')
