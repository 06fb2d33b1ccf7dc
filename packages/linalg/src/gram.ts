import { either as E } from 'fp-ts'
import { errors, type Aborted, type InvalidInput, type Matrix, type ShapeMismatch, type Stage } from '@sonde/oracle'
import { helperFor, type Helper } from './pool.js'
import { instantiate, kernelModule, sharedMemory, type Kernels } from './wasm.js'
import { checkMatrix, checkVector } from './validate.js'

/** Rows of X per packed chunk: one A sliver of a chunk (KC · 32 bytes = 8 KiB) stays in L1. */
const KC = 256
/** Column slivers per pass (see the Cholesky's trailing update). */
const CB = 8
/** Below this many columns the plain loop wins. */
const SMALL = 8

interface GramSpace {
  readonly memory: WebAssembly.Memory
  readonly k: Kernels
  readonly f: Float64Array
  readonly u8: Uint8Array
  /** Slivers (columns / 4, rounded up), chunks, padded column count. */
  readonly slivers: number
  readonly chunks: number
  readonly ld: number
  /** Offsets in doubles: B (X packed), A (X scaled by the weights, packed), C (the Gram); flags in bytes. */
  readonly b: number
  readonly a: number
  readonly c: number
  readonly flags: number
}

/** Offset (doubles) of chunk ch's packing inside a packed operand: chunk ch holds rows ch·KC.. of every sliver. */
const chunkOffset = (s: GramSpace, ch: number): number => ch * s.slivers * KC * 4

const space = (n: number, d: number): GramSpace | undefined => {
  const module = kernelModule()
  if (module === null) return undefined
  const slivers = Math.ceil(d / 4)
  const chunks = Math.ceil(n / KC)
  const ld = slivers * 4
  const packed = chunks * slivers * KC * 4
  const b = 0
  const a = packed
  const c = 2 * packed
  const flagsByte = 8 * (c + ld * ld)
  const memory = sharedMemory(flagsByte + chunks * slivers + 16)
  if (memory === null) return undefined
  return { memory, k: instantiate(module, memory), f: new Float64Array(memory.buffer), u8: new Uint8Array(memory.buffer), slivers, chunks, ld, b, a, c, flags: flagsByte }
}

/** Pack X (rows × cols) into B, zero-padded to whole chunks and slivers, and flag the slivers that hold a non-zero. */
const packX = (s: GramSpace, x: Matrix): void => {
  const { f, u8 } = s
  const n = x.rows
  const d = x.cols
  for (let ch = 0; ch < s.chunks; ch++) {
    const t0 = ch * KC
    const rows = Math.min(KC, n - t0)
    const base = s.b + chunkOffset(s, ch)
    for (let sv = 0; sv < s.slivers; sv++) {
      const o = base + sv * KC * 4
      let any = 0
      for (let t = 0; t < KC; t++) {
        for (let i = 0; i < 4; i++) {
          const col = 4 * sv + i
          const v = t < rows && col < d ? x.data[(t0 + t) * d + col]! : 0
          f[o + 4 * t + i] = v
          if (v !== 0) any = 1
        }
      }
      u8[s.flags + ch * s.slivers + sv] = any
    }
  }
}

/** A = diag(w) B over the packed layout (padding rows keep weight 0). */
const scale = (s: GramSpace, w: ArrayLike<number>, n: number): void => {
  const { f } = s
  for (let ch = 0; ch < s.chunks; ch++) {
    const t0 = ch * KC
    const rows = Math.min(KC, n - t0)
    const off = chunkOffset(s, ch)
    for (let sv = 0; sv < s.slivers; sv++) {
      const o = off + sv * KC * 4
      for (let t = 0; t < rows; t++) {
        const wt = w[t0 + t]!
        const q = o + 4 * t
        f[s.a + q] = wt * f[s.b + q]!
        f[s.a + q + 1] = wt * f[s.b + q + 1]!
        f[s.a + q + 2] = wt * f[s.b + q + 2]!
        f[s.a + q + 3] = wt * f[s.b + q + 3]!
      }
    }
  }
}

/** The kernel calls for the lower blocks of C in row blocks rb0..rb1, every chunk, by passes of CB slivers. */
const gramCalls = (s: GramSpace, n: number, rb0: number, rb1: number): number[][] => {
  const calls: number[][] = []
  for (let ch = 0; ch < s.chunks; ch++) {
    const kc = KC
    const off = 8 * chunkOffset(s, ch)
    const flags = s.flags + ch * s.slivers
    for (let cb = 0; cb < s.slivers; cb += CB) {
      const from = Math.max(rb0, cb)
      if (from < rb1) calls.push([8 * s.c, s.ld, 8 * s.a + off, 8 * s.b + off, from, rb1, cb, Math.min(s.slivers, cb + CB), kc, 1, flags, 1])
    }
  }
  void n
  return calls
}

const run = (s: GramSpace, calls: readonly number[][]): void => {
  for (const c of calls) s.k.update(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!)
}

/** Copy C's lower triangle out as a full symmetric d × d matrix. */
const symmetricOut = (s: GramSpace, d: number, out: Float64Array): void => {
  const { f, ld, c } = s
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = f[c + i * ld + j]!
      out[i * d + j] = v
      out[j * d + i] = v
    }
  }
}

/** XᵀDX by the plain loop (small d), full symmetric, into `out`. */
const plainGram = (x: Matrix, w: ArrayLike<number> | undefined, out: Float64Array): void => {
  const { rows: n, cols: d, data } = x
  out.fill(0)
  for (let t = 0; t < n; t++) {
    const wt = w === undefined ? 1 : w[t]!
    if (wt === 0) continue
    const o = t * d
    for (let i = 0; i < d; i++) {
      const v = wt * data[o + i]!
      if (v === 0) continue
      for (let j = 0; j <= i; j++) out[i * d + j]! += v * data[o + j]!
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) out[j * d + i] = out[i * d + j]!
}

const checkX = (x: unknown): E.Either<InvalidInput | ShapeMismatch, Matrix> => {
  const m = checkMatrix(x, 'x')
  if (E.isLeft(m)) return m
  const bad = m.right.data.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) return E.left(errors.invalidInput(`x[${Math.floor(bad / m.right.cols)}][${bad % m.right.cols}] is ${m.right.data[bad]}; expected finite entries`, `x[${Math.floor(bad / m.right.cols)}][${bad % m.right.cols}]`))
  return m
}

export interface GramOptions {
  /** The diagonal of D in XᵀDX, one weight per row of X (default: all ones, XᵀX). */
  readonly weights?: ArrayLike<number>
}

/**
 * The weighted Gram matrix XᵀDX (d × d, symmetric, both triangles filled) of an n × d matrix X and a diagonal
 * D = diag(weights): Σₜ wₜ xₜxₜᵀ — the Hessian of a generalised linear model, a covariance, normal equations.
 *
 * The lower triangle is computed by the WebAssembly SIMD kernel in 4 × 4 blocks, chunks of 256 rows at a time;
 * a 4-column sliver that is all zeros within a chunk is skipped (sparse inputs such as image borders cost
 * nothing). Synchronous, on the caller's thread: for many weight vectors on one X with progress and both
 * cores, {@link gramBlocks}.
 *
 * @example
 * import { gram } from '@sonde/linalg'
 *
 * const x = { rows: 3, cols: 2, data: Float64Array.of(1, 0, 0, 2, 1, 1) }
 * gram(x, { weights: [1, 1, 2] }) // E.right: [[3, 2], [2, 6]]
 */
export const gram = (x: Matrix, options?: GramOptions): E.Either<InvalidInput | ShapeMismatch, Matrix> => {
  const m = checkX(x)
  if (E.isLeft(m)) return m
  const { rows: n, cols: d } = m.right
  const w = options?.weights === undefined ? undefined : checkVector(options.weights, n, 'options.weights')
  if (w !== undefined && E.isLeft(w)) return w
  const weights = w?.right
  const out = new Float64Array(d * d)
  const s = d < SMALL || n === 0 ? undefined : space(n, d)
  if (s === undefined) {
    plainGram(m.right, weights, out)
    return E.right({ rows: d, cols: d, data: out })
  }
  packX(s, m.right)
  if (weights === undefined) s.f.copyWithin(s.a, s.b, s.a)
  else scale(s, weights, n)
  run(s, gramCalls(s, n, 0, s.slivers))
  symmetricOut(s, d, out)
  return E.right({ rows: d, cols: d, data: out })
}

export interface GramBlocksOptions {
  /** Progress (weight vectors done of their count) and abort, checked between them. */
  readonly stage?: Stage
  /**
   * Share each Gram's rows of blocks with a helper thread: `true` always, `false` never, `'auto'` (default) when
   * the load average leaves a core idle — as for the Cholesky, it cannot pay otherwise (with other work on both
   * cores: n = 5,040, d = 785, 279–297 against 271–302 ms per Gram).
   */
  readonly parallel?: boolean | 'auto'
}

/**
 * XᵀDₖX for several diagonals D₀, D₁, … on one X (the blocks of a softmax model's Hessian, one per pair of
 * classes): X is packed once, and each Gram is handed to `visit(k, gram)` as soon as it is computed — in one
 * buffer that the next Gram overwrites, so copy what you keep. Rows of blocks are shared with a helper
 * thread when a core is idle (see `parallel`); progress and abort between weight vectors.
 *
 * @example
 * import { gramBlocks } from '@sonde/linalg'
 *
 * const x = { rows: 3, cols: 2, data: Float64Array.of(1, 0, 0, 2, 1, 1) }
 * const traces: number[] = []
 * await gramBlocks(x, [[1, 1, 1], [0, 0, 1]], (_, g) => traces.push(g.data[0]! + g.data[3]!)) // traces = [7, 2]
 */
export const gramBlocks = async (
  x: Matrix,
  weights: ReadonlyArray<ArrayLike<number>>,
  visit: (k: number, gram: Matrix) => void,
  options?: GramBlocksOptions,
): Promise<E.Either<InvalidInput | ShapeMismatch | Aborted, void>> => {
  const m = checkX(x)
  if (E.isLeft(m)) return m
  const { rows: n, cols: d } = m.right
  if (!Array.isArray(weights)) return E.left(errors.invalidInput('weights is not an array of weight vectors', 'weights'))
  for (let k = 0; k < weights.length; k++) {
    const w = checkVector(weights[k], n, `weights[${k}]`)
    if (E.isLeft(w)) return w
  }
  const out = new Float64Array(d * d)
  const g: Matrix = { rows: d, cols: d, data: out }
  const st = options?.stage
  const s = d < SMALL || n === 0 ? undefined : space(n, d)
  const h: Helper | null = s === undefined ? null : await helperFor(options?.parallel)
  if (s !== undefined) packX(s, m.right)
  // Half the lower triangle's work each: the helper takes the bottom row blocks.
  const mid = s === undefined ? 0 : h === null ? s.slivers : Math.min(s.slivers, Math.round(s.slivers / Math.SQRT2))
  for (let k = 0; k < weights.length; k++) {
    if (st !== undefined) {
      const ok = await st.tick(k)
      if (E.isLeft(ok)) return ok
    }
    if (s === undefined) plainGram(m.right, weights[k], out)
    else {
      scale(s, weights[k]!, n)
      s.f.fill(0, s.c, s.c + s.ld * s.ld)
      const theirs = h !== null && mid < s.slivers ? h.run(s.memory, gramCalls(s, n, mid, s.slivers)) : Promise.resolve(true)
      run(s, gramCalls(s, n, 0, mid))
      if (!(await theirs)) run(s, gramCalls(s, n, mid, s.slivers))
      symmetricOut(s, d, out)
    }
    visit(k, g)
  }
  if (st !== undefined) {
    const done = st.check(weights.length)
    if (E.isLeft(done)) return done
  }
  return E.right(undefined)
}
