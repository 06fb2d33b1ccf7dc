import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { fromFunction, makeContext, makeRegistry, runProbe, toPromise } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { gaussianBlobs } from '@sonde/datasets'
import { influenceOnTest, influenceProbe, scoresFromSTest } from '../src/index.js'
import { unwrap } from './helpers.js'

const rows = (data: Float64Array, cols: number) => Array.from({ length: data.length / cols }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)))

describe('influenceProbe', () => {
  const ds = gaussianBlobs({ n: 90, dim: 3, classes: 3, seed: 2, spread: 1 })
  const model = unwrap(SoftmaxRegression.fit(ds.x, ds.y, { numClasses: 3, l2: 0.05 })).model
  const options = { train: { x: rows(ds.x.data, 3), y: Array.from(ds.y) }, test: { x: [[0.1, 0.2, 0.3]], y: [1] }, method: 'exact', top: 3 }

  it('runs from a registry on a white-box model and equals the direct call', async () => {
    const registry = unwrap(makeRegistry([influenceProbe]))
    expect(registry.ids()).toContain('sonde/influence')
    const r = await toPromise(runProbe(influenceProbe, model, options, makeContext({ seed: 1 })))
    const direct = unwrap(influenceOnTest(model, { x: ds.x, y: ds.y }, { x: { rows: 1, cols: 3, data: Float64Array.of(0.1, 0.2, 0.3) }, y: Int32Array.of(1) }, { method: 'exact' }))
    expect(Array.from(r.scores.data)).toEqual(Array.from(direct.scores.data))
    expect(Array.from(scoresFromSTest(model, { x: ds.x, y: ds.y }, direct.sTest).data)).toEqual(Array.from(direct.scores.data))
    expect(r.helpful[0]!.length).toBe(3)
    expect(r.scores.data[r.helpful[0]![0]!]).toBe(Math.max(...r.scores.data))
    expect(r.scores.data[r.harmful[0]![0]!]).toBe(Math.min(...r.scores.data))
  })

  it('refuses a black-box oracle (MissingCapability) and bad options (InvalidOptions)', async () => {
    const box = fromFunction({ id: 'box', inputDim: 3, numClasses: 3, output: 'label' }, (x) => new Int32Array(x.rows))
    const r1 = await runProbe(influenceProbe as never, box, options, makeContext({ seed: 1 }))()
    expect(E.isLeft(r1) && r1.left._tag === 'MissingCapability').toBe(true)
    const r2 = await runProbe(influenceProbe, model, { ...options, method: 'qr' }, makeContext({ seed: 1 }))()
    expect(E.isLeft(r2) && r2.left._tag === 'InvalidOptions' && r2.left.message.includes('options.method')).toBe(true)
    const r3 = await runProbe(influenceProbe, model, { ...options, test: { x: [[1, 2]], y: [0] } }, makeContext({ seed: 1 }))()
    expect(E.isLeft(r3) && r3.left._tag === 'ShapeMismatch').toBe(true)
  })
})
