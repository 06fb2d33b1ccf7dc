import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { labelOnly, makeContext, makeRegistry, runProbe, toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu, SoftmaxRegression } from '@sonde/models'
import { gradientMatchingProbe, linearExtractionProbe, reluExtractionProbe } from '../src/index.js'

describe('probes', () => {
  const registry = makeRegistry([linearExtractionProbe, reluExtractionProbe, gradientMatchingProbe])

  it('register under distinct ids', () => {
    expect(E.isRight(registry) && registry.right.ids()).toEqual([
      'sonde/gradient-extraction/linear',
      'sonde/gradient-extraction/relu',
      'sonde/gradient-extraction/gradient-matching',
    ])
  })

  it('run from untrusted options, with the context seed', async () => {
    const net = randomTwoLayerRelu({ inputDim: 20, hidden: 4, seed: 2 })
    const r = await toPromise(runProbe(reluExtractionProbe, net, { hiddenUnits: 4 }, makeContext({ seed: 9 })))
    expect(r.seed).toBe(9)
    expect(r.model.hidden).toBe(4)
    const lin = await toPromise(runProbe(linearExtractionProbe, SoftmaxRegression.random(6, 3, 1, { output: 'logits' }), {}, makeContext({ seed: 1 })))
    expect(lin.queries).toEqual({ gradientRows: 3, valueRows: 1 })
  })

  it('refuse an oracle without gradients, and bad options with every path', async () => {
    const model = SoftmaxRegression.random(6, 3, 1)
    const missing = await runProbe(reluExtractionProbe as never, labelOnly(model), {}, makeContext({ seed: 1 }))()
    expect(E.isLeft(missing) && missing.left._tag).toBe('MissingCapability')
    const bad = await runProbe(gradientMatchingProbe, model, { pool: [], lambda: -1, fit: 'probs' }, makeContext({ seed: 1 }))()
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.issues.map((i) => i.path).sort()).toEqual(['options.fit', 'options.lambda', 'options.pool'])
  })
})
