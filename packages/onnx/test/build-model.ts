// Builds ONNX files for the tests from weights held here, with onnx-proto (ONNX protobufs written from JS), so no
// binary fixture is committed: a seeded d → h → k ReLU network ending in logits or a softmax, in float32 or
// float64, and an independent float64 evaluation of the same weights.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import { createRng } from '@sonde/oracle'

const { onnx } = onnxProto

export interface Mlp {
  readonly d: number
  readonly h: number
  readonly k: number
  readonly w1: Float64Array // d × h, row-major (x · W1)
  readonly b1: Float64Array
  readonly w2: Float64Array // h × k
  readonly b2: Float64Array
}

export const mlp = (d: number, h: number, k: number, seed: number, dtype: 'float32' | 'float64'): Mlp => {
  const rng = createRng(seed)
  // float32 models hold float32 weights: the reference uses exactly those values.
  const r = dtype === 'float32' ? Math.fround : (v: number) => v
  const draw = (n: number, scale: number) => Float64Array.from({ length: n }, () => r(rng.normal() * scale))
  return { d, h, k, w1: draw(d * h, 1 / Math.sqrt(d)), b1: draw(h, 0.3), w2: draw(h * k, 1 / Math.sqrt(h)), b2: draw(k, 0.3) }
}

/** Logits and probabilities of each row of x, in float64 from the model's weights. */
export const reference = (m: Mlp, x: Float64Array, rows: number, roundInputs: boolean): { logits: Float64Array; probabilities: Float64Array } => {
  const logits = new Float64Array(rows * m.k)
  const probabilities = new Float64Array(rows * m.k)
  for (let i = 0; i < rows; i++) {
    const hidden = new Float64Array(m.h)
    for (let u = 0; u < m.h; u++) {
      let s = m.b1[u]!
      for (let j = 0; j < m.d; j++) s += (roundInputs ? Math.fround(x[i * m.d + j]!) : x[i * m.d + j]!) * m.w1[j * m.h + u]!
      hidden[u] = Math.max(0, s)
    }
    let max = -Infinity
    for (let c = 0; c < m.k; c++) {
      let s = m.b2[c]!
      for (let u = 0; u < m.h; u++) s += hidden[u]! * m.w2[u * m.k + c]!
      logits[i * m.k + c] = s
      max = Math.max(max, s)
    }
    let sum = 0
    for (let c = 0; c < m.k; c++) sum += probabilities[i * m.k + c] = Math.exp(logits[i * m.k + c]! - max)
    for (let c = 0; c < m.k; c++) probabilities[i * m.k + c]! /= sum
  }
  return { logits, probabilities }
}

const FLOAT = 1
const DOUBLE = 11

/** The ONNX bytes of the network: MatMul → Add → Relu → MatMul → Add (→ Softmax), outputs named as asked. */
export const onnxBytes = (m: Mlp, dtype: 'float32' | 'float64', head: 'logits' | 'softmax' | 'both'): Uint8Array => {
  const elemType = dtype === 'float32' ? FLOAT : DOUBLE
  const tensor = (name: string, dims: number[], v: Float64Array) =>
    dtype === 'float32' ? { name, dims, dataType: FLOAT, floatData: Array.from(v) } : { name, dims, dataType: DOUBLE, doubleData: Array.from(v) }
  const value = (name: string, dims: Array<number | string>) => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  })
  const nodes = [
    { opType: 'MatMul', input: ['x', 'W1'], output: ['a1'] },
    { opType: 'Add', input: ['a1', 'B1'], output: ['z1'] },
    { opType: 'Relu', input: ['z1'], output: ['h1'] },
    { opType: 'MatMul', input: ['h1', 'W2'], output: ['a2'] },
    { opType: 'Add', input: ['a2', 'B2'], output: ['logits'] },
    ...(head === 'logits' ? [] : [{ opType: 'Softmax', input: ['logits'], output: ['probabilities'], attribute: [{ name: 'axis', type: 2, i: 1 }] }]),
  ]
  const outputs = head === 'logits' ? [value('logits', ['N', m.k])] : head === 'softmax' ? [value('probabilities', ['N', m.k])] : [value('probabilities', ['N', m.k]), value('logits', ['N', m.k])]
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'sonde-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'mlp',
      node: nodes,
      initializer: [tensor('W1', [m.d, m.h], m.w1), tensor('B1', [m.h], m.b1), tensor('W2', [m.h, m.k], m.w2), tensor('B2', [m.k], m.b2)],
      input: [value('x', ['N', m.d])],
      output: outputs,
    },
  })
  return onnx.ModelProto.encode(model).finish()
}

/** Write the model to a fresh temporary file and return its path. */
export const writeModel = (bytes: Uint8Array, name = 'model.onnx'): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'sonde-onnx-')), name)
  writeFileSync(path, bytes)
  return path
}

/** The committed fixture test/fixtures/mlp-4-8-3.onnx: a float32 4 → 8 → 3 softmax network, seed 1. */
export const fixtureBytes = (): Uint8Array => onnxBytes(mlp(4, 8, 3, 1, 'float32'), 'float32', 'softmax')
