import { taskEither as TE } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { createRng, meter, toPromise, type Matrix } from '@sonde/oracle'
import { expectSeeded } from '@sonde/oracle/testing'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { randomTwoLayerRelu } from '@sonde/models'
import { buildMlp, useFastestBackend } from '@sonde/models/tfjs'
import { extractReluNetwork, randomPoints } from '../src/index.js'
import { gradientMatchingCopy } from '../src/tfjs/index.js'

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
      const r = await toPromise(gradientMatchingCopy(victim, pool, { budget: 20, seed, hidden: [8], epochs: 5 }))
      const out = [r.losses, r.model.getWeights().map((w) => w.dataSync())]
      r.model.dispose()
      return out
    })
    victimModel.dispose()
  })

  it('randomPoints', async () => {
    await expectSeeded((seed) => toPromise(TE.fromEither(randomPoints(randomTwoLayerRelu({ inputDim: 4, hidden: 2, seed: 1 }), 10, seed))))
  })
})

describe('seeds are checked before any query', () => {
  it('gradientMatchingCopy and extractReluNetwork refuse 1.5 and NaN', async () => {
    const victim = meter(randomTwoLayerRelu({ inputDim: 6, hidden: 2, numClasses: 3, seed: 1 }))
    const pool: Matrix = { rows: 10, cols: 6, data: new Float64Array(60) }
    for (const seed of [1.5, Number.NaN]) {
      const a = await gradientMatchingCopy(victim, pool, { budget: 5, seed })()
      expect(a._tag === 'Left' && a.left._tag === 'InvalidOptions' && a.left.message).toContain('options.seed')
      const b = await extractReluNetwork(victim, { seed })()
      expect(b._tag === 'Left' && b.left._tag).toBe('InvalidOptions')
    }
    expect(victim.usage().predictRows + victim.usage().gradientRows).toBe(0)
  })
})
