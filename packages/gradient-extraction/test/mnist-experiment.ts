import { toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { compareOracles } from '../src/index.js'
import { gradientMatchingCopy } from '../src/tfjs/index.js'

/** The MNIST setting shared by the test and the bench: a trained MLP victim, a query pool, held-out digits. */
export const mnistSetting = async () => {
  await useFastestBackend()
  const mnist = loadMnist()
  const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.3, seed: 11 })
  const victimData = subset(mnist, train.subarray(0, 4000))
  const pool = subset(mnist, train.subarray(4000, 6000)).x
  const heldOut = subset(mnist, test.subarray(0, 1000))
  const victimModel = buildMlp({ inputDim: 784, hidden: [64], numClasses: 10, seed: 5 })
  await toPromise(trainClassifier(victimModel, victimData.x, victimData.y, { epochs: 6, seed: 5, learningRate: 2e-3 }))
  const victim = fromTfjsModel(victimModel, { output: 'logits', id: 'mnist-victim' })
  return { victim, pool, heldOut }
}

export type Setting = 'labels' | 'logits' | 'logits + gradients'

export const agreementAt = async (victim: Awaited<ReturnType<typeof mnistSetting>>['victim'], pool: Matrix, heldOut: Matrix, queries: number, setting: Setting, seed = 1) => {
  const r = await toPromise(
    gradientMatchingCopy(victim, pool, {
      budget: queries,
      seed,
      fit: setting === 'labels' ? 'labels' : 'logits',
      lambda: setting === 'logits + gradients' ? 1 : 0,
      epochs: 150,
    }),
  )
  const fid = await toPromise(compareOracles(victim, r.copy, heldOut))
  r.model.dispose()
  return { agreement: fid.agreement, queries: r.queries }
}
