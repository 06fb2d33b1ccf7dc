import { toPromise, type Oracle } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { stratifiedSplit, subset, type Dataset } from '@sonde/datasets'

/**
 * The copying tests' victim: a one-hidden-layer MLP trained (seeded, 12 epochs) on 80 % of `digits`,
 * revealed as labels on [0, 1] pixels; the other 20 % are the held-out digits fidelity is measured on.
 */
export const digitVictim = async (digits: Dataset, hidden: number, id: string): Promise<{ victim: Oracle; reference: Dataset; heldOut: Dataset }> => {
  await useFastestBackend()
  const { train, test } = stratifiedSplit(digits.y, { testFraction: 0.2, seed: 1 })
  const reference = subset(digits, train)
  const model = buildMlp({ inputDim: digits.x.cols, hidden: [hidden], numClasses: 10, seed: 1 })
  await toPromise(trainClassifier(model, reference.x, reference.y, { epochs: 12, seed: 1 }))
  return { victim: fromTfjsModel(model, { output: 'label', id, domain: { lower: 0, upper: 1 } }), reference, heldOut: subset(digits, test) }
}
