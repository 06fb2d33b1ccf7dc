import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { createRng, hasGradients, type Matrix } from '@sonde/oracle'
import { describeOracleContract } from '@sonde/oracle/testing'
import { fromOnnxFile, type OnnxOracle, type OnnxOracleOptions } from '../src/index.js'
import { fromOnnxFileWith, runtimeFrom } from '../src/onnx.js'
import { mlp, onnxBytes, reference, writeModel, type Mlp } from './build-model.js'

const D = 5
const H = 7
const K = 3
const f32 = mlp(D, H, K, 3, 'float32')
const f64 = mlp(D, H, K, 4, 'float64')
const softmax32 = writeModel(onnxBytes(f32, 'float32', 'softmax'))
const logits64 = writeModel(onnxBytes(f64, 'float64', 'logits'))
const both32 = writeModel(onnxBytes(f32, 'float32', 'both'), 'two-heads.onnx')

const open = async (path: string, options: OnnxOracleOptions = {}): Promise<OnnxOracle> => {
  const r = await fromOnnxFile(path, options)()
  if (E.isLeft(r)) throw new Error(`${r.left._tag}: ${r.left.message}`)
  return r.right
}
const queries = (rows: number, seed: number): Matrix => {
  const rng = createRng(seed)
  return { rows, cols: D, data: Float64Array.from({ length: rows * D }, () => rng.normal()) }
}
const scores = async (o: OnnxOracle, x: Matrix): Promise<Float64Array> => {
  const p = await o.predict(x)()
  if (E.isLeft(p)) throw new Error(p.left.message)
  return p.right.scores!.data
}
const maxRelError = (a: Float64Array, b: Float64Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / (1 + Math.abs(b[i]!))), 0)

/** d logit_c / dx of the ReLU network, analytically: W1 · diag(1[z > 0]) · W2[:, c]. */
const logitGradient = (m: Mlp, x: Float64Array, c: number): Float64Array => {
  const g = new Float64Array(m.d)
  for (let u = 0; u < m.h; u++) {
    let z = m.b1[u]!
    for (let j = 0; j < m.d; j++) z += x[j]! * m.w1[j * m.h + u]!
    if (z > 0) for (let j = 0; j < m.d; j++) g[j]! += m.w1[j * m.h + u]! * m.w2[u * m.k + c]!
  }
  return g
}

describe('fromOnnxFile', () => {
  it('reads info from the session metadata; float32 predictions equal a float64 evaluation of the same weights to float32 precision', async () => {
    const o = await open(softmax32)
    expect(o.info).toMatchObject({ id: 'onnx:model.onnx', inputDim: D, numClasses: K, output: 'probabilities' })
    const x = queries(40, 1)
    // float32 arithmetic over ≤ 7 products per sum, values of order 1: 1e-5 relative is ~100 float32 ulps.
    expect(maxRelError(await scores(o, x), reference(f32, x.data, x.rows, true).probabilities)).toBeLessThan(1e-5)
  })

  it('float64 models are exact to float64 rounding (1e-12), and the output is picked by name', async () => {
    const x = queries(30, 2)
    const o = await open(logits64, { output: 'logits' })
    expect(maxRelError(await scores(o, x), reference(f64, x.data, x.rows, false).logits)).toBeLessThan(1e-12)
    const first = await open(both32)
    expect(maxRelError(await scores(first, x), reference(f32, x.data, x.rows, true).probabilities)).toBeLessThan(1e-5)
    const byName = await open(both32, { outputName: 'logits', output: 'logits' })
    expect(maxRelError(await scores(byName, x), reference(f32, x.data, x.rows, true).logits)).toBeLessThan(1e-5)
  })

  it('batches: a query larger than maxBatchRows runs in chunks with the same answers; label output reveals the argmax only', async () => {
    const x = queries(50, 3)
    const whole = await scores(await open(logits64, { output: 'logits' }), x)
    const chunked = await scores(await open(logits64, { output: 'logits', maxBatchRows: 7 }), x)
    expect(Array.from(chunked)).toEqual(Array.from(whole))
    const labels = await open(softmax32, { output: 'label' })
    expect(hasGradients(labels)).toBe(false)
    const p = await labels.predict(x)()
    expect(E.isRight(p) && p.right.scores).toBeUndefined()
    const ref = reference(f32, x.data, x.rows, true).probabilities
    const argmax = Array.from({ length: x.rows }, (_, i) => Array.from(ref.subarray(i * K, (i + 1) * K)).reduce((b, v, c, r) => (v > r[b]! ? c : b), 0))
    expect(E.isRight(p) && Array.from(p.right.labels)).toEqual(argmax)
  })

  it('gradients are central differences, declared approximate with their step; they match the analytic ReLU gradient', async () => {
    const o64 = await open(logits64, { output: 'logits' })
    expect(o64.info.gradientApproximation).toEqual({ method: 'central-differences', step: 1e-5, exact: false })
    const o32 = await open(softmax32)
    expect(o32.info.gradientApproximation?.step).toBe(1e-3)
    if (!hasGradients(o64) || !hasGradients(o32)) throw new Error('expected gradients')
    const x = queries(6, 4)
    const cls = Int32Array.of(0, 1, 2, 0, 1, 2)
    const g64 = await o64.gradient(x, cls)()
    const g32 = await o32.gradient(x, cls)()
    if (E.isLeft(g64) || E.isLeft(g32)) throw new Error('gradient failed')
    const probs = reference(f32, x.data, x.rows, true).probabilities
    for (let i = 0; i < x.rows; i++) {
      const xi = x.data.subarray(i * D, (i + 1) * D)
      // float64, piecewise linear: exact unless a ReLU kink lies within h = 1e-5 (none at these points): 1e-7.
      const exact = logitGradient(f64, xi, cls[i]!)
      expect(maxRelError(g64.right.data.subarray(i * D, (i + 1) * D), exact)).toBeLessThan(1e-7)
      // float32 probabilities: d log p_c = g_c − Σ_m p_m g_m; rounding ~6e-8 / h = 1e-3 → ~1e-4; 2e-3 allowed.
      const lp = new Float64Array(D)
      for (let m = 0; m < K; m++) {
        const gm = logitGradient(f32, Float64Array.from(xi, Math.fround), m)
        for (let j = 0; j < D; j++) lp[j]! += ((m === cls[i] ? 1 : 0) - probs[i * K + m]!) * gm[j]!
      }
      expect(maxRelError(g32.right.data.subarray(i * D, (i + 1) * D), lp)).toBeLessThan(2e-3)
    }
  })

  it('refuses what it cannot use with typed errors: a missing runtime (what to install), a bad file, bad options', async () => {
    // The loader as it fails where onnxruntime-node is not installed (Node's own error).
    const absent = runtimeFrom(() => import(['onnxruntime', 'node', 'absent'].join('-')))
    const missing = await fromOnnxFileWith(absent, softmax32)()
    expect(E.isLeft(missing) && missing.left).toMatchObject({ _tag: 'MissingCapability', capability: 'onnxruntime-node' })
    expect(E.isLeft(missing) && missing.left.message).toContain('npm install onnxruntime-node@^1.30.0')
    expect(E.isLeft(missing) && missing.left.message).toContain('onnxruntime-node-install=skip')
    const file = await fromOnnxFile('/nonexistent/model.onnx')()
    expect(E.isLeft(file) && file.left).toMatchObject({ _tag: 'InvalidInput', path: 'path' })
    const bad = await fromOnnxFile(softmax32, { output: 'scores', maxBatchRows: 0, outputName: '' } as unknown as OnnxOracleOptions)()
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.issues.map((i) => i.path).sort()).toEqual(['options.maxBatchRows', 'options.output', 'options.outputName'])
    const name = await fromOnnxFile(both32, { outputName: 'nope' })()
    expect(E.isLeft(name) && name.left.message).toContain("the model's outputs are 'probabilities', 'logits'")
  })
})

describeOracleContract('fromOnnxFile float64 logits', () => open(logits64, { output: 'logits' }))
// float32: finite differences of the suite need h = 1e-2 and 1e-2 tolerance (its own documented float32 setting).
describeOracleContract('fromOnnxFile float32 softmax', () => open(softmax32), { finiteDifferenceStep: 1e-2, gradientTolerance: 1e-2 })

describe('the committed fixture', () => {
  it('is what scripts/make-fixtures.ts writes, and opens as a 4 → 3 probability oracle', async () => {
    const { readFileSync } = await import('node:fs')
    const { resolve } = await import('node:path')
    const { fixtureBytes } = await import('./build-model.js')
    const path = resolve(import.meta.dirname, 'fixtures/mlp-4-8-3.onnx')
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(fixtureBytes()))).toBe(true)
    const o = await open(path)
    expect(o.info).toMatchObject({ inputDim: 4, numClasses: 3, output: 'probabilities' })
  })
})
