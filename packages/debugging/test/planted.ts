import * as tf from '@tensorflow/tfjs'
import { takeRows, toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
import { loadMnist, plantThinSlice, stratifiedSplit } from '@sonde/datasets'
import { trainVae, type Vae } from '../src/index.js'

/** The planted "skinny 6" bug (Defuse's MNIST example), built once for the tests. */
export interface Planted {
  readonly train: { readonly x: Matrix; readonly y: Int32Array }
  /** Training labels with the thinnest quarter of the 6s relabelled as 1. */
  readonly buggyLabels: Int32Array
  readonly held: { readonly x: Matrix; readonly y: Int32Array }
  readonly buggy: tf.LayersModel
  readonly judge: tf.LayersModel
  readonly vae: Vae
  /** Ink mass of the heaviest relabelled 6. */
  readonly thinness: number
  readonly flipped: number
}

export const labelsOf = (model: tf.LayersModel, x: Matrix): Int32Array =>
  tf.tidy(() => Int32Array.from((model.predict(tf.tensor2d(Float32Array.from(x.data), [x.rows, x.cols])) as tf.Tensor).argMax(-1).dataSync()))

export const accuracy = (a: Int32Array, b: Int32Array): number => a.reduce((s, v, i) => s + (v === b[i] ? 1 : 0), 0) / a.length

export const buildPlanted = async (seed = 1): Promise<Planted> => {
  const mnist = loadMnist()
  const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed })
  const x = takeRows(mnist.x, train)
  const y = Int32Array.from(train, (i) => mnist.y[i]!)
  const { y: buggyLabels, changed, threshold: thinness } = plantThinSlice({ x, y }, { from: 6, to: 1, fraction: 0.25 })
  const flipped = changed.length
  const buggy = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: seed + 10 })
  await toPromise(trainClassifier(buggy, x, buggyLabels, { epochs: 10, seed: seed + 10, learningRate: 2e-3 }))
  const judge = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: seed + 20 })
  await toPromise(trainClassifier(judge, x, y, { epochs: 10, seed: seed + 20, learningRate: 2e-3 }))
  const vae = await toPromise(trainVae(x, { latentDim: 8, hidden: [256], epochs: 10, seed: seed + 30 }))
  return { train: { x, y }, buggyLabels, held: { x: takeRows(mnist.x, test), y: Int32Array.from(test, (i) => mnist.y[i]!) }, buggy, judge, vae, thinness, flipped }
}

export const blackBox = (model: tf.LayersModel) => fromTfjsModel(model, { output: 'label', id: 'buggy-mnist', domain: { lower: 0, upper: 1 } })
