/**
 * Recipe: turn a model into the black box an outsider sees, and account for every query.
 *
 * We fit a softmax regression on iris (a white-box float64 model that is itself an oracle),
 * hide it behind a label-only view, then stack the middleware a probe would run against:
 * a hard budget, a row cache and a meter. Run: `node --import tsx docs/recipes/black-box-oracle.ts`.
 */
import { either as E, function as F } from 'fp-ts'
import { budget, cache, labelOnly, meter, toPromise, type Matrix, labelAgreement } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { loadIris, stratifiedSplit, subset } from '@sonde/datasets'

const iris = loadIris()
const { train, test } = stratifiedSplit(iris.y, { testFraction: 0.3, seed: 1 })
const trainSet = subset(iris, train)
const testSet = subset(iris, test)

const fitted = SoftmaxRegression.fit(trainSet.x, trainSet.y, { numClasses: 3, l2: 1e-2, id: 'iris-softmax' })
if (E.isLeft(fitted)) throw new Error(fitted.left.message)
console.log(`fit: ${fitted.right.report.iterations} Newton steps, ‖∇F‖ = ${fitted.right.report.gradientNorm.toExponential(2)}`)

// What the outsider gets: labels only, at most 100 paid rows, repeats free, everything counted.
const blackBox = F.pipe(labelOnly(fitted.right.model), budget(100), cache(), meter)

const predictions = await toPromise(blackBox.predict(testSet.x))
const accuracy = labelAgreement(predictions.labels, testSet.y)
console.log(`test accuracy through the black box: ${(100 * accuracy).toFixed(1)} % on ${testSet.y.length} flowers`)

// Asking again costs nothing: the cache answers.
await toPromise(blackBox.predict(testSet.x))
console.log('cache', blackBox.cacheStats(), 'usage', blackBox.usage())

// The budget refuses a query that would overspend, before anything is sent.
const tooMany: Matrix = trainSet.x
const refused = await blackBox.predict(tooMany)()
if (E.isLeft(refused)) console.log(`refused: ${refused.left._tag}: ${refused.left.message}`)

// And a malformed query is refused with the place named.
const bad = await blackBox.predict({ rows: 1, cols: 4, data: Float64Array.of(5.1, Number.NaN, 1.4, 0.2) })()
if (E.isLeft(bad)) console.log(`refused: ${bad.left._tag}: ${bad.left.message}`)

if (accuracy < 0.9 || E.isRight(refused) || E.isRight(bad)) throw new Error('recipe expectations not met')
console.log('recipe ok')
