import { createRng, fromFunction, type Matrix } from '@sonde/oracle'
import type { Generator } from '../src/index.js'

// The identity generator on the plane, and a classifier with a planted bug: the truth is
// "x₀ > 0 → class 1", but the model says 0 in the disc of radius 1 around (2, 3).
export const identity: Generator = { latentDim: 2, encode: (x) => ({ ...x, data: x.data.slice() }), decode: (z) => ({ ...z, data: z.data.slice() }) }
export const inBug = (a: number, b: number) => (a - 2) ** 2 + (b - 3) ** 2 < 1
export const model = fromFunction({ id: 'planted-2d', inputDim: 2, numClasses: 2, output: 'label' }, (x) =>
  Int32Array.from({ length: x.rows }, (_, i) => (x.data[2 * i]! > 0 && !inBug(x.data[2 * i]!, x.data[2 * i + 1]!) ? 1 : 0)),
)

/** `n` sources in [0.5, 3.5] × [0, 6], every one truly class 1 (seeded). */
export const planeSources = (n: number, seed = 3): { readonly x: Matrix; readonly y: Int32Array } => {
  const rng = createRng(seed)
  const data = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    data[2 * i] = 0.5 + 3 * rng.next()
    data[2 * i + 1] = 6 * rng.next()
  }
  return { x: { rows: n, cols: 2, data }, y: new Int32Array(n).fill(1) }
}
