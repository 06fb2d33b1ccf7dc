import { beforeAll, describe, it } from 'vitest'
import { createRng, toPromise, type Matrix } from '@sonde/oracle'
import { expectSeeded } from '@sonde/oracle/testing'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { randomTwoLayerRelu } from '@sonde/models'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { extractReluNetwork, gradientMatchingCopy, randomPoints } from '../src/index.js'

beforeAll(async () => {
  await useFastestBackend()
})

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/gradient-extraction', () => {
  it('extractReluNetwork: the queries spent and the model', async () => {
    const victim = randomTwoLayerRelu({ inputDim: 12, hidden: 5, seed: 3 })
    await expectSeeded(async (seed) => {
      const ex = await toPromise(extractReluNetwork(victim, { seed }))
      return [ex.queries, ex.model.hiddenWeights.data, ex.model.hiddenBias]
    })
  })

  it('gradientMatchingCopy: the pool rows queried, the losses and the copy', async () => {
    const victimModel = buildMlp({ inputDim: 6, hidden: [8], numClasses: 3, seed: 2 })
    const victim = fromTfjsModel(victimModel, { output: 'logits', id: 'seeded-victim' })
    const rng = createRng(5)
    const pool: Matrix = { rows: 60, cols: 6, data: Float64Array.from({ length: 360 }, () => rng.normal()) }
    await expectSeeded(async (seed) => {
      const r = await toPromise(gradientMatchingCopy(victim, pool, { queries: 20, seed, hidden: [8], epochs: 5 }))
      const out = [r.losses, r.model.getWeights().map((w) => w.dataSync())]
      r.model.dispose()
      return out
    })
    victimModel.dispose()
  })

  it('randomPoints', async () => {
    await expectSeeded((seed) => randomPoints(randomTwoLayerRelu({ inputDim: 4, hidden: 2, seed: 1 }), 10, seed))
  })
})
