import { createRng } from '@sonde/oracle'
import type { Dataset } from './dataset.js'

const positive = (name: string, v: number): void => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} is ${String(v)}; expected a positive integer`)
}
const nonNegative = (name: string, v: number): void => {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} is ${String(v)}; expected a finite number ≥ 0`)
}

/** Options of {@link gaussianBlobs}. */
export interface BlobsOptions {
  readonly n: number
  readonly dim: number
  readonly classes: number
  /** Standard deviation of each blob; centres are N(0, 1) per coordinate. Default 0.5. */
  readonly spread?: number
  readonly seed: number
}

/**
 * Isotropic Gaussian blobs, one per class, classes taking turns row by row.
 *
 * @example
 * import { gaussianBlobs } from '@sonde/datasets'
 *
 * const ds = gaussianBlobs({ n: 300, dim: 2, classes: 3, seed: 1 })
 */
export const gaussianBlobs = (o: BlobsOptions): Dataset => {
  positive('n', o.n)
  positive('dim', o.dim)
  positive('classes', o.classes)
  const rng = createRng(o.seed)
  const spread = o.spread ?? 0.5
  nonNegative('spread', spread)
  const centers = Float64Array.from({ length: o.classes * o.dim }, () => rng.normal())
  const data = new Float64Array(o.n * o.dim)
  const y = new Int32Array(o.n)
  for (let i = 0; i < o.n; i++) {
    const c = i % o.classes
    y[i] = c
    for (let j = 0; j < o.dim; j++) data[i * o.dim + j] = centers[c * o.dim + j]! + spread * rng.normal()
  }
  return { x: { rows: o.n, cols: o.dim, data }, y, numClasses: o.classes }
}

/**
 * The two interleaving half circles ("moons") in 2-D, with Gaussian noise: a classic set no
 * linear model separates.
 *
 * @example
 * import { twoMoons } from '@sonde/datasets'
 *
 * const ds = twoMoons({ n: 200, noise: 0.1, seed: 1 })
 */
export const twoMoons = (o: { readonly n: number; readonly noise?: number; readonly seed: number }): Dataset => {
  positive('n', o.n)
  const rng = createRng(o.seed)
  const noise = o.noise ?? 0.1
  nonNegative('noise', noise)
  const data = new Float64Array(o.n * 2)
  const y = new Int32Array(o.n)
  for (let i = 0; i < o.n; i++) {
    const upper = i % 2 === 0
    const t = Math.PI * rng.next()
    data[2 * i] = (upper ? Math.cos(t) : 1 - Math.cos(t)) + noise * rng.normal()
    data[2 * i + 1] = (upper ? Math.sin(t) : 0.5 - Math.sin(t)) + noise * rng.normal()
    y[i] = upper ? 0 : 1
  }
  return { x: { rows: o.n, cols: 2, data }, y, numClasses: 2 }
}

/** Options of {@link linearlySeparable}. */
export interface SeparableOptions {
  readonly n: number
  readonly dim: number
  /** Every point is at least this far from the separating hyperplane. Default 0.1. */
  readonly margin?: number
  readonly seed: number
}

/**
 * Points in [−1, 1]^dim labelled by a random hyperplane through the origin, with a margin:
 * points closer than `margin` are redrawn. Also returns the hyperplane's unit normal.
 *
 * @example
 * import { linearlySeparable } from '@sonde/datasets'
 *
 * const { normal, ...ds } = linearlySeparable({ n: 100, dim: 5, seed: 1 })
 */
export const linearlySeparable = (o: SeparableOptions): Dataset & { readonly normal: Float64Array } => {
  positive('n', o.n)
  positive('dim', o.dim)
  const margin = o.margin ?? 0.1
  if (typeof margin !== 'number' || !(margin >= 0 && margin < 1)) throw new RangeError(`margin is ${String(margin)}; expected a number in [0, 1)`)
  const rng = createRng(o.seed)
  const normal = Float64Array.from({ length: o.dim }, () => rng.normal())
  const len = Math.hypot(...normal)
  for (let j = 0; j < o.dim; j++) normal[j]! /= len
  const data = new Float64Array(o.n * o.dim)
  const y = new Int32Array(o.n)
  for (let i = 0; i < o.n; i++) {
    for (;;) {
      let s = 0
      for (let j = 0; j < o.dim; j++) {
        const v = 2 * rng.next() - 1
        data[i * o.dim + j] = v
        s += v * normal[j]!
      }
      if (Math.abs(s) >= margin) {
        y[i] = s > 0 ? 1 : 0
        break
      }
    }
  }
  return { x: { rows: o.n, cols: o.dim, data }, y, numClasses: 2, normal }
}
