/**
 * The live demos' static assets, from the library's own code (reproducible: same seeds, same files).
 *
 * - `site/public/demos/mnist-softmax.bin` — softmax regression fitted on MNIST digits by
 *   `SoftmaxRegression.fit` (float64, Newton–CG to ‖∇F‖ ≤ 1e-10): the K × D weights row-major, then the
 *   K biases, little-endian float64 (10 × 784 + 10 values, 62,800 bytes).
 * - `site/public/demos/mnist-digits.bin` — a few test digits the model never saw (2 per class), one byte
 *   per pixel (grey level × 255, rounded).
 * - `site/public/demos/mnist-softmax.json` — what the two files hold: shapes, the digits' labels, how the
 *   model was fitted and how well it does on the held-out digits.
 *
 * Run: `cd apps/docs && node --conditions=@sonde/source --import tsx scripts/demo-assets.ts` (≈ 10–30 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { either as E } from 'fp-ts'
import { toPromise } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'

const out = join(import.meta.dirname, '../site/public/demos')
const seed = 1
const l2 = 1e-2
const limit = 4000
const perClass = 2

const mnist = loadMnist()
const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.5, seed, limit })
const trainSet = subset(mnist, train)
const testSet = subset(mnist, test)

const t0 = performance.now()
const fitted = SoftmaxRegression.fit(trainSet.x, trainSet.y, { numClasses: 10, l2 })
if (E.isLeft(fitted)) throw new Error(`${fitted.left._tag}: ${fitted.left.message}`)
const { model, report } = fitted.right
const fitMs = performance.now() - t0
const predicted = await toPromise(model.predict(testSet.x))
const accuracy = predicted.labels.reduce((n, l, i) => n + (l === testSet.y[i] ? 1 : 0), 0) / testSet.y.length

// The shipped digits: the first `perClass` test digits of each class, in class order.
const picks: number[] = []
for (let c = 0; c < 10; c++) {
  let taken = 0
  for (let i = 0; i < testSet.y.length && taken < perClass; i++) {
    if (testSet.y[i] === c) {
      picks.push(i)
      taken++
    }
  }
}
const d = 784
const digits = new Uint8Array(picks.length * d)
picks.forEach((i, r) => {
  for (let j = 0; j < d; j++) digits[r * d + j] = Math.round(255 * testSet.x.data[i * d + j]!)
})

const k = model.weights.rows
const params = new Float64Array(k * d + k)
params.set(model.weights.data)
params.set(model.bias, k * d)
const le = new DataView(new ArrayBuffer(params.length * 8))
params.forEach((v, i) => le.setFloat64(i * 8, v, true))

mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'mnist-softmax.bin'), new Uint8Array(le.buffer))
writeFileSync(join(out, 'mnist-digits.bin'), digits)
const meta = {
  model: {
    file: 'mnist-softmax.bin',
    format: 'float64 little-endian: weights (rows × cols, row-major), then bias (rows)',
    rows: k,
    cols: d,
    fittedWith: `SoftmaxRegression.fit(x, y, { numClasses: 10, l2: ${l2} }) on ${trainSet.y.length} MNIST digits (stratifiedSplit seed ${seed}, limit ${limit}, testFraction 0.5)`,
    newtonSteps: report.iterations,
    gradientNorm: report.gradientNorm,
    heldOutDigits: testSet.y.length,
    heldOutAccuracy: accuracy,
  },
  digits: {
    file: 'mnist-digits.bin',
    format: 'uint8 grey levels (× 255), 28 × 28 row-major per digit',
    count: picks.length,
    width: 28,
    height: 28,
    labels: picks.map((i) => testSet.y[i]!),
  },
}
writeFileSync(join(out, 'mnist-softmax.json'), `${JSON.stringify(meta, null, 2)}\n`)
console.log(`softmax on ${trainSet.y.length} digits in ${(fitMs / 1000).toFixed(1)} s: ‖∇F‖ = ${report.gradientNorm.toExponential(1)}, held-out accuracy ${(100 * accuracy).toFixed(1)} %`)
console.log(`wrote ${out}: mnist-softmax.bin (${le.byteLength} B), mnist-digits.bin (${digits.length} B, ${picks.length} digits), mnist-softmax.json`)
