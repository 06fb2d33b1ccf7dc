/**
 * Recipe: your explanation API leaks your model.
 *
 * A vendor serves an MNIST classifier (a 784-32-10 ReLU network) with a saliency endpoint — the
 * gradient of a class logit with respect to the input — and the logits. From those alone we
 * rebuild the network exactly and count what it cost. Run:
 * `node --import tsx docs/recipes/explanation-api-leaks.ts`
 */
import * as tf from '@tensorflow/tfjs'
import { function as F } from 'fp-ts'
import { budget, meter, toPromise, labelAgreement } from '@sonde/oracle'
import { TwoLayerRelu } from '@sonde/models'
import { buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { extractReluNetwork } from '@sonde/gradient-extraction'

await useFastestBackend()
const mnist = loadMnist()
const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 3 })
const trainSet = subset(mnist, train.subarray(0, 3000))
const testSet = subset(mnist, test.subarray(0, 1000))

// The vendor's model: trained in tfjs, served in float64.
const net = buildMlp({ inputDim: 784, hidden: [32], numClasses: 10, seed: 3 })
await toPromise(trainClassifier(net, trainSet.x, trainSet.y, { epochs: 4, seed: 3, learningRate: 2e-3 }))
const [k1, b1, k2, b2] = net.getWeights().map((w) => Float64Array.from(w.dataSync()))
const transpose = (m: Float64Array, rows: number, cols: number) => Float64Array.from({ length: rows * cols }, (_, i) => m[(i % rows) * cols + Math.floor(i / rows)]!)
const vendorModel = new TwoLayerRelu(
  {
    hiddenWeights: { rows: 32, cols: 784, data: transpose(k1!, 784, 32) },
    hiddenBias: b1!,
    outputWeights: { rows: 10, cols: 32, data: transpose(k2!, 32, 10) },
    outputBias: b2!,
  },
  { id: 'vendor:mnist' },
)
net.dispose()
tf.disposeVariables()
const accuracy = labelAgreement((await toPromise(vendorModel.predict(testSet.x))).labels, testSet.y)
console.log(`vendor model: 784-32-10 ReLU, ${(100 * accuracy).toFixed(1)} % on 1,000 test digits, ${784 * 32 + 32 + 32 * 10 + 10} parameters`)

// What the attacker holds: the endpoint, metered, with a quota.
const endpoint = F.pipe(vendorModel, budget(50_000), meter)
const ex = await toPromise(extractReluNetwork(endpoint, { seed: 1, budget: 50_000 }))
const fid = await toPromise(ex.fidelity(testSet.x))
console.log(`extracted ${ex.model.hidden} hidden units (${ex.model.hidden / 10} per logit) with ${ex.queries.gradientRows} gradient rows and ${ex.queries.predictRows} value rows (verified to ${ex.verification?.maxRelativeError.toExponential(1)} at random points)`)
console.log(`on 1,000 real test digits: agreement ${(100 * fid.agreement).toFixed(1)} %, max relative logit error ${fid.maxRelativeError.toExponential(1)}`)
console.log(`(a value-only extraction needs O(h·d) ≈ ${(4 * 32 * 784 * 10).toLocaleString('en')} rows for the same network)`)

if (fid.agreement < 1 || fid.maxRelativeError > 1e-9) throw new Error('recipe expectations not met')
console.log('recipe ok')
