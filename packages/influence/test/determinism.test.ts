import { describe, expect, it } from 'vitest'
import { createRng, takeRows } from '@sonde/oracle'
import { expectSeeded } from '@sonde/oracle/testing'
import { SoftmaxRegression } from '@sonde/models'
import { gaussianBlobs } from '@sonde/datasets'
import { influenceOnTest, prepareInverseHvp, topEigenvalue } from '../src/index.js'
import { run, unwrap } from './helpers.js'

const ds = gaussianBlobs({ n: 200, dim: 6, classes: 3, spread: 1.5, seed: 5 })
const train = { x: ds.x, y: ds.y }
const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { numClasses: 3, l2: 0.05 })).model
const v = Float64Array.from({ length: model.numParams }, (_, i) => Math.sin(i + 1))

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/influence', () => {
  it('the LiSSA solver: its automatic scale, its answer and its residual history', async () => {
    await expectSeeded(async (seed) => {
      const inv = await run(prepareInverseHvp(model, train, { method: 'lissa', depth: 600, repeats: 2, batchSize: 32, seed }))
      const { x, report } = await run(inv.solve(v))
      return [inv.scale, x, report.residualHistory]
    })
  })

  it('influenceOnTest with LiSSA', async () => {
    const test = { x: takeRows(ds.x, [3]), y: ds.y.slice(3, 4) }
    await expectSeeded(async (seed) => (await run(influenceOnTest(model, train, test, { method: 'lissa', depth: 600, repeats: 2, batchSize: 32, seed }))).scores)
  })

  it('topEigenvalue (power iteration from a seeded start)', async () => {
    await expectSeeded((seed) => unwrap(topEigenvalue(model.hessianOperator(train.x, train.y), model.numParams, createRng(seed), 5)))
  })
})

describe('seeds', () => {
  it('LiSSA needs a safe-integer seed (it used to default to 0); exact and cg need none', async () => {
    for (const seed of [undefined, Number.NaN, 2.5]) {
      const r = await prepareInverseHvp(model, train, { method: 'lissa', ...(seed === undefined ? {} : { seed }) })()
      expect(r._tag === 'Left' && r.left._tag === 'InvalidOptions' && r.left.message).toContain('options.seed')
    }
    expect((await prepareInverseHvp(model, train, { method: 'cg' })())._tag).toBe('Right')
  })
})
