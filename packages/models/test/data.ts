import { createRng, type Matrix } from '@sonde/oracle'

/** Overlapping Gaussian blobs (so the MLE exists even without L2), seeded. */
export const blobs = (n: number, d: number, k: number, seed: number, spread = 1.5): { x: Matrix; y: Int32Array } => {
  const rng = createRng(seed)
  const centers = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.normal()))
  const x = new Float64Array(n * d)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const c = i % k
    y[i] = c
    for (let j = 0; j < d; j++) x[i * d + j] = centers[c]![j]! + spread * rng.normal()
  }
  return { x: { rows: n, cols: d, data: x }, y }
}
