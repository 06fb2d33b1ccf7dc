import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { describeOracleContract } from '../src/testing/index.js'
import { fromFunction, fromRows, SondeError, toPromise, type Matrix } from '../src/index.js'
import { linearModel } from './helpers.js'

describeOracleContract('fromFunction, logits with gradients', () => linearModel(6, 4, 1).oracle)
describeOracleContract('fromFunction, probabilities with gradients', () => linearModel(5, 3, 2, 'probabilities').oracle, {
  // log-softmax through exp/log: FD with h = 1e-5 is accurate to ~1e-8 relative here.
  gradientTolerance: 1e-6,
})
describeOracleContract('fromFunction, label only, with a box domain', () =>
  linearModel(4, 3, 3, 'label', { domain: { lower: 0, upper: 1 } }).oracle,
)
describeOracleContract('fromFunction, one logit (binary), async', () =>
  fromFunction({ id: 'test:one-logit', inputDim: 3, numClasses: 1, output: 'logits' }, async (x: Matrix) => {
    await Promise.resolve()
    const out = new Float64Array(x.rows)
    for (let i = 0; i < x.rows; i++) out[i] = x.data[3 * i]! - 2 * x.data[3 * i + 1]! + 0.5 * x.data[3 * i + 2]!
    return { rows: x.rows, cols: 1, data: out }
  }, { gradient: (x) => ({ rows: x.rows, cols: 3, data: Float64Array.from({ length: 3 * x.rows }, (_, k) => [1, -2, 0.5][k % 3]!) }) }),
)
describeOracleContract('fromFunction returning labels, per-feature domain', () =>
  fromFunction(
    { id: 'test:labels', inputDim: 2, numClasses: 3, output: 'label', domain: { lower: Float64Array.of(-1, 0), upper: Float64Array.of(1, 5) } },
    (x) => Int32Array.from({ length: x.rows }, (_, i) => (x.data[2 * i]! > 0 ? (x.data[2 * i + 1]! > 2.5 ? 2 : 1) : 0)),
  ),
)

describe('fromFunction', () => {
  const info = { id: 'test:f', inputDim: 2, numClasses: 2, output: 'probabilities' } as const

  it('turns a throwing function into a BadResponse value, with the cause', async () => {
    const o = fromFunction(info, () => {
      throw new Error('model exploded')
    })
    const r = await o.predict(fromRows([[1, 2]]))()
    expect(E.isLeft(r) && r.left._tag).toBe('BadResponse')
    expect(E.isLeft(r) && r.left.message).toContain('model exploded')
  })

  it('reports a result of the wrong shape or with NaN as BadResponse', async () => {
    const wrong = fromFunction(info, (x) => ({ rows: x.rows, cols: 3, data: new Float64Array(3 * x.rows) }))
    const r = await wrong.predict(fromRows([[1, 2]]))()
    expect(E.isLeft(r) && r.left.message).toContain('expected 1×2')
    const nan = fromFunction(info, (x) => ({ rows: x.rows, cols: 2, data: new Float64Array(2 * x.rows).fill(Number.NaN) }))
    expect(E.isLeft(await nan.predict(fromRows([[1, 2]]))())).toBe(true)
    const labels = fromFunction(info, (x) => new Int32Array(x.rows))
    const l = await labels.predict(fromRows([[1, 2]]))()
    expect(E.isLeft(l) && l.left.message).toContain('returned labels')
  })

  it('never calls the function for an invalid or empty query', async () => {
    let calls = 0
    const o = fromFunction(info, (x) => {
      calls++
      return { rows: x.rows, cols: 2, data: new Float64Array(2 * x.rows).fill(0.5) }
    })
    await o.predict(fromRows([[1, Number.NaN]]))()
    await o.predict({ rows: 0, cols: 2, data: new Float64Array(0) })()
    await o.predict({ rows: 2, cols: 2, data: new Float64Array(3) })()
    expect(calls).toBe(0)
  })

  it('refuses an inconsistent info at construction with a SondeError', () => {
    expect(() => fromFunction({ id: 'bad', inputDim: 0, numClasses: 2, output: 'label', inputShape: [3] }, () => new Int32Array(0))).toThrow(
      SondeError,
    )
    try {
      fromFunction({ id: 'bad', inputDim: 4, numClasses: 2, output: 'label', inputShape: [3] }, () => new Int32Array(0))
    } catch (e) {
      expect((e as SondeError).error.message).toContain('inputShape [3] has 3 elements; inputDim is 4')
    }
  })

  it('toPromise resolves values and rejects with the typed error', async () => {
    const { oracle } = linearModel(2, 2, 5)
    await expect(toPromise(oracle.predict(fromRows([[1, 1]])))).resolves.toHaveProperty('labels')
    await expect(toPromise(oracle.predict(fromRows([[1]])))).rejects.toMatchObject({ error: { _tag: 'ShapeMismatch' } })
  })
})
