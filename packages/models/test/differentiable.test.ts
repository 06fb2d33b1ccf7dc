import * as tf from '@tensorflow/tfjs'
import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { SoftmaxRegression } from '../src/index.js'
import { differentiableNetwork, useFastestBackend } from '../src/tfjs/index.js'
import { blobs } from './data.js'

const unwrap = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num / den)
}

beforeAll(async () => {
  await useFastestBackend()
})

describe('differentiableNetwork', () => {
  // A one-layer network is softmax regression: its exact float64 derivatives are the reference.
  const d = 5
  const k = 3
  const { x, y } = blobs(120, d, k, 21)
  const build = () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ units: k, inputShape: [d], kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'zeros' })] })
    return m
  }
  /** tfjs order (kernel d × k, then bias) → SoftmaxRegression order (W k × d, then b). */
  const toSoftmax = (theta: Float64Array): SoftmaxRegression => {
    const w = new Float64Array(k * (d + 1))
    for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) w[c * d + j] = theta[j * k + c]!
    for (let c = 0; c < k; c++) w[k * d + c] = theta[d * k + c]!
    return SoftmaxRegression.fromParams(w, k, { l2: 0.05 })
  }
  const toTf = (v: Float64Array): Float64Array => {
    const out = new Float64Array(v.length)
    for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) out[j * k + c] = v[c * d + j]!
    for (let c = 0; c < k; c++) out[d * k + c] = v[k * d + c]!
    return out
  }

  it('losses, gradients, finite-difference Hessian-vector products and mixed products match exact softmax regression', () => {
    const net = differentiableNetwork(build(), { l2: 0.05 })
    const ref = toSoftmax(net.params())
    expect(relErr(net.losses(x, y), ref.losses(x, y))).toBeLessThanOrEqual(1e-6)
    expect(relErr(net.objectiveGradient(x, y), toTf(ref.objectiveGradient(x, y)))).toBeLessThanOrEqual(1e-5)
    const vSm = Float64Array.from({ length: net.numParams }, (_, i) => Math.sin(i + 2))
    const hv = net.hessianVectorProduct(x, y, toTf(vSm))
    expect(relErr(hv, toTf(ref.hessianVectorProduct(x, y, vSm)))).toBeLessThanOrEqual(1e-3)
    const mixed = net.mixedGradientProduct(x, y, toTf(vSm))
    expect(relErr(mixed.data, ref.mixedGradientProduct(x, y, vSm).data)).toBeLessThanOrEqual(1e-3)
    const g = net.perExampleGradients(x, y)
    const gRef = ref.perExampleGradients(x, y)
    expect(relErr(g.data.subarray(7 * net.numParams, 8 * net.numParams), toTf(gRef.data.slice(7 * net.numParams, 8 * net.numParams)))).toBeLessThanOrEqual(1e-5)
    const h = net.hessian(x, y)
    const hRef = ref.hessian(x, y)
    // Column q of ours against the exact column of the matching parameter.
    const q = 4
    const e = new Float64Array(net.numParams)
    e[q] = 1
    const col = Float64Array.from({ length: net.numParams }, (_, r) => h.data[r * net.numParams + q]!)
    expect(relErr(col, toTf(ref.hessianVectorProduct(x, y, toSoftmaxOrder(e, d, k))))).toBeLessThanOrEqual(1e-3)
    expect(hRef.rows).toBe(net.numParams)
  })

  it('refits (warm-started Newton–CG) to the tolerance and to the exact optimum', () => {
    const net = differentiableNetwork(build(), { l2: 0.05, damping: 0 })
    const fitted = unwrap(net.refit(x, y, { tol: 1e-5 }))
    expect(Math.hypot(...fitted.model.objectiveGradient(x, y))).toBeLessThanOrEqual(1e-5)
    const exact = unwrap(SoftmaxRegression.fit(x, y, { numClasses: k, l2: 0.05 })).model
    expect(relErr(fitted.model.params(), toTf(exact.params()))).toBeLessThanOrEqual(1e-4)
  })

  it('refuses data of the wrong shape with a typed error', () => {
    const net = differentiableNetwork(build())
    const r = net.refit({ rows: 2, cols: 4, data: new Float64Array(8) }, Int32Array.of(0, 1))
    expect(E.isLeft(r) && r.left._tag === 'ShapeMismatch').toBe(true)
    expect(() => net.losses({ rows: 1, cols: 5, data: new Float64Array(5) }, Int32Array.of(7))).toThrow(/label/)
  })
})

/** tfjs order → softmax order. */
function toSoftmaxOrder(v: Float64Array, d: number, k: number): Float64Array {
  const out = new Float64Array(v.length)
  for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) out[c * d + j] = v[j * k + c]!
  for (let c = 0; c < k; c++) out[k * d + c] = v[d * k + c]!
  return out
}
