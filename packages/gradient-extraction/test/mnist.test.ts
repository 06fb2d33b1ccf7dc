import { beforeAll, describe, expect, it } from 'vitest'
import { agreementAt, mnistSetting, type Setting } from './mnist-experiment.js'

let setting: Awaited<ReturnType<typeof mnistSetting>>
beforeAll(async () => {
  setting = await mnistSetting()
}, 120_000)

// Measured on this machine (seeded, wasm backend), agreement with the victim on 1,000 held-out digits:
//   queries:               20      50      200
//   labels only          0.431   0.636   0.838
//   logits               0.579   0.851   0.948
//   logits + gradients   0.899   0.970   0.982
describe('gradientMatchingCopy on an MNIST MLP victim (784-64-10)', () => {
  it.each([
    [20, 'measured: labels 0.431, logits 0.579, logits + gradients 0.899'],
    [50, 'measured: labels 0.636, logits 0.851, logits + gradients 0.970'],
    [200, 'measured: labels 0.838, logits 0.948, logits + gradients 0.982'],
  ])(
    'at %i queries gradient matching agrees more than logits alone and than labels alone (%s)',
    async (queries) => {
      // The numbers in the title were measured with these seeds on the wasm backend.
      const result = new Map<Setting, number>()
      for (const s of ['labels', 'logits', 'logits + gradients'] as Setting[]) {
        const r = await agreementAt(setting.victim, setting.pool, setting.heldOut.x, queries, s)
        expect(r.queries.valueRows).toBe(queries)
        expect(r.queries.gradientRows).toBe(s === 'logits + gradients' ? queries : 0)
        result.set(s, r.agreement)
      }
      expect(result.get('logits + gradients')!).toBeGreaterThan(result.get('logits')!)
      expect(result.get('logits + gradients')!).toBeGreaterThan(result.get('labels')!)
    },
    120_000,
  )
})
