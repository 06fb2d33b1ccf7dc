/**
 * Fuzz of `@sonde/models` (the float64 root) from a JavaScript caller. Fits and every oracle method return
 * typed values and never throw; the constructors and `randomTwoLayerRelu` are documented to throw a typed
 * error (`RangeError` or `SondeError`) for parameters that do not describe a model. No `Right` holds a
 * non-finite parameter or prediction.
 */
import { either as E } from 'fp-ts'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { SondeError, type ErrorTag, type Matrix } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression, TwoLayerRelu, randomTwoLayerRelu, conjugateGradient } from '../src/index.js'

let cases = 0
afterAll(() => console.log(`models fuzz: ${cases} cases`))
const tags = new Set<ErrorTag>(['InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'NotConverged', 'TrainingFailed', 'BadResponse', 'Aborted'])

const junk = fc.oneof(
  fc.constant(null), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-1), fc.constant(0), fc.constant(1.5),
  fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 12 }), fc.double({ min: -1e6, max: 1e6 }), fc.constant([]), fc.constant({}),
)
const matrixish = fc.oneof(
  junk,
  fc.record({ rows: fc.integer({ min: -1, max: 6 }), cols: fc.integer({ min: -1, max: 4 }), data: fc.float64Array({ maxLength: 24 }) }),
  fc.integer({ min: 1, max: 6 }).chain((r) => fc.record({ rows: fc.constant(r), cols: fc.constant(3), data: fc.float64Array({ minLength: 3 * r, maxLength: 3 * r, noNaN: true, min: -1e3, max: 1e3 }) })),
)
const labelsish = fc.oneof(junk, fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 6 }).map((a) => Int32Array.from(a)))

const typedLeftOrFinite = (r: E.Either<{ _tag: ErrorTag }, { model: { weights: Matrix | Float64Array; bias: Float64Array | number } }>): void => {
  if (E.isLeft(r)) {
    expect(tags.has(r.left._tag), r.left._tag).toBe(true)
    return
  }
  const w = r.right.model.weights
  const values = w instanceof Float64Array ? w : w.data
  expect(values.every(Number.isFinite)).toBe(true)
}

describe('models fuzz', () => {
  it('fits (sync and task) given junk data and options: a typed Left or finite parameters, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(matrixish, labelsish, fc.oneof(junk, fc.record({ l2: junk, tolerance: junk, maxIter: junk, numClasses: junk }, { requiredKeys: [] })), async (x, y, o) => {
        const opts = (typeof o === 'object' && o !== null ? o : {}) as never
        for (const f of [
          () => SoftmaxRegression.fit(x as Matrix, y as Int32Array, opts),
          () => LogisticRegression.fit(x as Matrix, y as Int32Array, opts),
        ]) {
          cases++
          let r: ReturnType<typeof f>
          try {
            r = f()
          } catch (e) {
            expect.fail(`fit threw ${String(e)}`)
          }
          typedLeftOrFinite(r as never)
        }
        cases++
        const t = await SoftmaxRegression.fitTask(x as Matrix, y as Int32Array, opts)().catch((e: unknown) => expect.fail(`fitTask rejected ${String(e)}`))
        typedLeftOrFinite(t as never)
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('oracle methods of a model given junk queries return typed errors', async () => {
    const m = SoftmaxRegression.random(3, 3, 1, { output: 'logits' })
    const net = randomTwoLayerRelu({ inputDim: 3, hidden: 4, numClasses: 2, seed: 1 })
    await fc.assert(
      fc.asyncProperty(matrixish, fc.oneof(junk, fc.integer({ min: -1, max: 3 })), async (x, c) => {
        for (const o of [m, net]) {
          cases++
          const p = await o.predict(x as Matrix)()
          if (E.isLeft(p)) expect(tags.has(p.left._tag)).toBe(true)
          else expect(p.right.scores!.data.every(Number.isFinite)).toBe(true)
          const g = await o.gradient(x as Matrix, c as number)()
          if (E.isLeft(g)) expect(tags.has(g.left._tag)).toBe(true)
          else expect(g.right.data.every(Number.isFinite)).toBe(true)
        }
      }),
      { seed: 7, numRuns: 300 },
    )
  })

  it('constructors and randomTwoLayerRelu throw typed errors for parameters that are not a model', () => {
    fc.assert(
      fc.property(junk, junk, junk, matrixish, (d, h, k, w) => {
        for (const f of [
          () => randomTwoLayerRelu({ inputDim: d as number, hidden: h as number, numClasses: k as number, seed: 1 }),
          () => new TwoLayerRelu({ hiddenWeights: w as Matrix, hiddenBias: new Float64Array(2), outputWeights: { rows: 1, cols: 2, data: Float64Array.of(1, Number.NaN) } }),
          () => new SoftmaxRegression({ weights: w as Matrix, bias: Float64Array.of(0, Number.NaN) }),
          () => new LogisticRegression({ weights: Float64Array.of(d as number), bias: h as number }),
        ]) {
          cases++
          try {
            const model = f()
            expect(model.info.inputDim).toBeGreaterThan(0)
          } catch (e) {
            expect(e instanceof RangeError || e instanceof SondeError, `threw ${String(e)}`).toBe(true)
          }
        }
      }),
      { seed: 9, numRuns: 300 },
    )
  })

  it('fixture (issue 12): TwoLayerRelu refuses NaN and short weights, SoftmaxRegression NaN weights', () => {
    cases++
    const eye = { rows: 2, cols: 2, data: Float64Array.of(1, 0, 0, 1) }
    expect(() => new TwoLayerRelu({ hiddenWeights: eye, hiddenBias: new Float64Array(2), outputWeights: { rows: 1, cols: 2, data: Float64Array.of(1, Number.NaN) } })).toThrow(SondeError)
    expect(() => new TwoLayerRelu({ hiddenWeights: { rows: 2, cols: 2, data: Float64Array.of(1, 0, 0) }, hiddenBias: new Float64Array(2), outputWeights: { rows: 1, cols: 2, data: Float64Array.of(1, 1) } })).toThrow(SondeError)
    expect(() => new SoftmaxRegression({ weights: { rows: 2, cols: 1, data: Float64Array.of(1, Number.NaN) }, bias: new Float64Array(2) })).toThrow()
  })

  it('conjugateGradient of a NaN right-hand side does not report a converged zero', () => {
    cases++
    const r = conjugateGradient((v) => v, Float64Array.of(Number.NaN, 1), 1e-10, 10)
    expect(r.x.every(Number.isFinite) && r.residual === 0).toBe(false)
  })
})
