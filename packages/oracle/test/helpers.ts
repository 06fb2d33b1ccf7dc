import { createRng, fromFunction, type GradientOracle, type Matrix, type OracleInfo } from '../src/index.js'

/** A random linear softmax model, written independently of @sonde/models, as a test double. */
export const linearModel = (d: number, k: number, seed: number, output: OracleInfo['output'] = 'logits', extra: Partial<OracleInfo> = {}) => {
  const rng = createRng(seed)
  const w = Float64Array.from({ length: k * d }, () => rng.normal())
  const b = Float64Array.from({ length: k }, () => rng.normal())
  let calls = 0
  const logits = (x: Matrix): Matrix => {
    calls++
    const out = new Float64Array(x.rows * k)
    for (let i = 0; i < x.rows; i++)
      for (let c = 0; c < k; c++) {
        let s = b[c]!
        for (let j = 0; j < d; j++) s += w[c * d + j]! * x.data[i * d + j]!
        out[i * k + c] = s
      }
    return { rows: x.rows, cols: k, data: out }
  }
  const softmax = (z: Matrix): Matrix => {
    const out = new Float64Array(z.data.length)
    for (let i = 0; i < z.rows; i++) {
      const r = z.data.subarray(i * k, (i + 1) * k)
      const m = Math.max(...r)
      let s = 0
      for (let c = 0; c < k; c++) s += out[i * k + c] = Math.exp(r[c]! - m)
      for (let c = 0; c < k; c++) out[i * k + c]! /= s
    }
    return { rows: z.rows, cols: k, data: out }
  }
  const info: OracleInfo = { id: `test:linear-${d}x${k}`, inputDim: d, numClasses: k, output, ...extra }
  const oracle: GradientOracle = fromFunction(info, (x) => (output === 'probabilities' ? softmax(logits(x)) : logits(x)), {
    gradient: (x, cls) => {
      const g = new Float64Array(x.rows * d)
      for (let i = 0; i < x.rows; i++) g.set(w.subarray(cls[i]! * d, (cls[i]! + 1) * d), i * d)
      return { rows: x.rows, cols: d, data: g }
    },
  })
  return { oracle, w, b, logits, calls: () => calls }
}
