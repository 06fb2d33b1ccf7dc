import { either as E } from 'fp-ts'
import { errors, type Aborted, type Infeasible, type InvalidInput, type Matrix, type ShapeMismatch, type Stage } from '@sonde/oracle'
import { helperFor } from './pool.js'
import { borrowMemory, instantiate, kernelModule, returnMemory, type Kernels } from './wasm.js'
import { checkSquare } from './validate.js'

/**
 * The matrix is not (numerically) positive definite: the Cholesky pivot `pivot` (0-based row) came out
 * `value`, at or below the threshold. An {@link Infeasible} with the pivot attached, so that a caller can say
 * what to raise (a damping, a ridge) in its own words.
 */
export type NotPositiveDefinite = Infeasible & { readonly pivot: number; readonly value: number }

export interface CholeskyOptions {
  /** Factor A + shift·I instead of A (a damping or ridge), without touching A's diagonal. Default 0. */
  readonly shift?: number
  /**
   * A pivot fails when it is ≤ `pivotTolerance · max(diag A)` (default 0: only a non-positive or NaN pivot
   * fails). A positive value treats nearly dependent rows as dependent (an active-set solver's test).
   */
  readonly pivotTolerance?: number
  /**
   * Overwrite `a.data` with L (no second p × p array); the returned matrix then shares `a.data`. Default false.
   */
  readonly inPlace?: boolean
}

export interface CholeskyTaskOptions extends CholeskyOptions {
  /** Progress (rows factored of p) and abort, checked between panels. */
  readonly stage?: Stage
  /**
   * Share each trailing update with a helper thread (both cores): `true` always, `false` never, `'auto'`
   * (default) when the load average leaves a core idle. It pays only then (apps/bench linalg, p = 7,850: 7.9 s
   * against 9.8 s on a quiet machine, 18.9 against 15.9 s with other work on both cores), since the caller waits
   * for the slower half at every panel. Without worker_threads it is always the caller's thread alone.
   */
  readonly parallel?: boolean | 'auto'
}

/** Panel width of the blocked factorisation (columns per trailing update) and its inner block. */
const NB = 256
const IB = 16
/** Block columns of Q per pass of the trailing update (see {@link trailing}). */
const CB = 128
/** Below this size the unblocked JavaScript loop wins (no copy into WebAssembly memory). */
const SMALL = 96

const notPd = (pivot: number, value: number, p: number): NotPositiveDefinite => ({
  ...errors.infeasible(`the matrix is not positive definite: pivot ${pivot} of ${p} is ${value.toExponential(3)}`),
  pivot,
  value,
})

/** Unblocked Cholesky of a p × p row-major lower triangle, in place in `l` (its own stride `ld`). */
const unblocked = (l: Float64Array, p: number, ld: number, shift: number, threshold: number): NotPositiveDefinite | undefined => {
  for (let i = 0; i < p; i++) {
    const oi = i * ld
    for (let j = 0; j <= i; j++) {
      const oj = j * ld
      let s0 = 0
      let s1 = 0
      let k = 0
      for (; k + 1 < j; k += 2) {
        s0 += l[oi + k]! * l[oj + k]!
        s1 += l[oi + k + 1]! * l[oj + k + 1]!
      }
      if (k < j) s0 += l[oi + k]! * l[oj + k]!
      const s = l[oi + j]! - s0 - s1 + (i === j ? shift : 0)
      if (i === j) {
        if (!(s > threshold)) return notPd(i, s, p)
        l[oi + i] = Math.sqrt(s)
      } else l[oi + j] = s / l[oj + j]!
    }
  }
  return undefined
}

const maxDiagonal = (a: Float64Array, p: number, ld: number, shift: number): number => {
  let m = 0
  for (let i = 0; i < p; i++) m = Math.max(m, a[i * ld + i]! + shift)
  return m
}

const zeroUpper = (l: Float64Array, p: number): void => {
  for (let i = 0; i < p; i++) l.fill(0, i * p + i + 1, (i + 1) * p)
}

/** Where the blocked factorisation keeps its data inside WebAssembly memory. */
interface Workspace {
  readonly memory: WebAssembly.Memory
  readonly k: Kernels
  readonly f: Float64Array
  /** Padded size (a multiple of 4) and leading dimension. */
  readonly ld: number
  /** Offset (in doubles) of the packing buffer. */
  readonly q: number
}

const workspace = (p: number): Workspace | undefined => {
  const module = kernelModule()
  if (module === null) return undefined
  const ld = Math.ceil(p / 4) * 4
  const q = ld * ld
  const memory = borrowMemory(8 * (q + ld * NB))
  if (memory === null) return undefined
  return { memory, k: instantiate(module, memory), f: new Float64Array(memory.buffer), ld, q }
}

/**
 * Pack rows r0..r0+4·R (R slivers) of columns c0..c0+kc of the matrix into the packing buffer: sliver s,
 * step t, lane i ↦ A[r0 + 4s + i, c0 + t]; rows at or beyond p are zeros.
 */
const pack = (w: Workspace, p: number, r0: number, slivers: number, c0: number, kc: number): void => {
  const { f, ld, q } = w
  for (let s = 0; s < slivers; s++) {
    const base = q + s * kc * 4
    for (let i = 0; i < 4; i++) {
      const r = r0 + 4 * s + i
      if (r >= p) {
        for (let t = 0; t < kc; t++) f[base + 4 * t + i] = 0
        continue
      }
      const o = r * ld + c0
      for (let t = 0; t < kc; t++) f[base + 4 * t + i] = f[o + t]!
    }
  }
}

/**
 * One panel (columns k0..k0+kb, rows k0..p) factored in inner blocks of {@link IB}: the small diagonal block and
 * the rows below it by a row-oriented loop, the rest of the panel by the SIMD kernel.
 */
const factorPanel = (w: Workspace, p: number, k0: number, kb: number, shift: number, threshold: number): NotPositiveDefinite | undefined => {
  const { f, ld, k } = w
  const kEnd = k0 + kb
  for (let j0 = k0; j0 < kEnd; j0 += IB) {
    const jEnd = Math.min(kEnd, j0 + IB)
    // Rows j0..p, columns j0..jEnd: earlier columns are already applied, so each entry needs only the dot
    // product over columns j0..j−1 of this inner block.
    for (let r = j0; r < p; r++) {
      const or = r * ld
      const last = Math.min(r + 1, jEnd)
      for (let j = j0; j < last; j++) {
        const oj = j * ld
        let s = f[or + j]!
        for (let t = j0; t < j; t++) s -= f[or + t]! * f[oj + t]!
        if (r === j) {
          s += shift
          if (!(s > threshold)) return notPd(r, s, p)
          f[or + r] = Math.sqrt(s)
        } else f[or + j] = s / f[oj + j]!
      }
    }
    if (jEnd < kEnd && jEnd < p) {
      // Columns jEnd..kEnd of the panel, rows jEnd..p: C −= L[:, j0..jEnd] L[jEnd..kEnd, j0..jEnd]ᵀ.
      const slivers = Math.ceil((p - jEnd) / 4)
      pack(w, p, jEnd, slivers, j0, jEnd - j0)
      k.update(8 * (jEnd * ld + jEnd), ld, 8 * w.q, 8 * w.q, 0, slivers, 0, Math.ceil((kEnd - jEnd) / 4), jEnd - j0, 1, 0, -1)
    }
  }
  return undefined
}

/**
 * C −= Q Qᵀ on the lower blocks rb0 ≤ rb < rb1 of a trailing matrix of `slivers` blocks, by chunks of {@link CB}
 * block columns: one chunk of Q's slivers (CB · kc · 32 bytes = 256 KiB at kc = 256) stays in L2 while every row
 * block below it streams past (without the chunks each row re-read all of Q from L3: 3.4 against ~10 GFLOPS).
 */
const trailingCalls = (w: Workspace, c0: number, rb0: number, rb1: number, slivers: number, kc: number): number[][] => {
  const calls: number[][] = []
  for (let cb = 0; cb < slivers; cb += CB) {
    const from = Math.max(rb0, cb)
    if (from < rb1) calls.push([c0, w.ld, 8 * w.q, 8 * w.q, from, rb1, cb, Math.min(slivers, cb + CB), kc, 1, 0, -1])
  }
  return calls
}
const trailing = (w: Workspace, c0: number, rb0: number, rb1: number, slivers: number, kc: number): void => {
  for (const c of trailingCalls(w, c0, rb0, rb1, slivers, kc)) w.k.update(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!)
}

/** Row-block split of the trailing lower triangle into two halves of equal work (block rb costs rb + 1). */
const splitTriangle = (blocks: number): number => Math.min(blocks, Math.max(0, Math.round(blocks / Math.SQRT2)))

const copyIn = (w: Workspace, a: Float64Array, p: number): void => {
  const { f, ld } = w
  for (let r = 0; r < p; r++) f.set(a.subarray(r * p, r * p + r + 1), r * ld)
}

const copyOut = (w: Workspace, out: Float64Array, p: number): void => {
  const { f, ld } = w
  for (let r = 0; r < p; r++) {
    out.set(f.subarray(r * ld, r * ld + r + 1), r * p)
    out.fill(0, r * p + r + 1, (r + 1) * p)
  }
}

type Checked = { readonly m: Matrix; readonly p: number; readonly shift: number; readonly tol: number }

const checkOptions = (a: unknown, options: CholeskyOptions | undefined): E.Either<InvalidInput | ShapeMismatch, Checked> => {
  const sq = checkSquare(a, 'a')
  if (E.isLeft(sq)) return sq
  const shift = options?.shift ?? 0
  if (typeof shift !== 'number' || !Number.isFinite(shift)) return E.left(errors.invalidInput(`options.shift is ${String(shift)}; expected a finite number`, 'options.shift'))
  const tol = options?.pivotTolerance ?? 0
  if (!(typeof tol === 'number' && Number.isFinite(tol) && tol >= 0 && tol < 1)) return E.left(errors.invalidInput(`options.pivotTolerance is ${String(tol)}; expected a number in [0, 1)`, 'options.pivotTolerance'))
  return E.right({ m: sq.right, p: sq.right.rows, shift, tol })
}

/** The first non-finite entry of the lower triangle, as an InvalidInput, or undefined. */
const nonFinite = (a: Float64Array, p: number): InvalidInput | undefined => {
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      const v = a[i * p + j]!
      if (!Number.isFinite(v)) return errors.invalidInput(`a[${i}][${j}] is ${v}; the lower triangle must be finite`, `a[${i}][${j}]`)
    }
  }
  return undefined
}

/**
 * A failed pivot is also how a NaN or an infinity in the input shows itself (they propagate to a later
 * pivot), so the scan for them runs only then — on the untouched input, which the blocked path has not
 * overwritten yet — and names the entry instead of a pivot.
 */
const failure = (original: Float64Array, p: number, failed: NotPositiveDefinite): NotPositiveDefinite | InvalidInput => nonFinite(original, p) ?? failed

/**
 * The Cholesky factor L (lower triangular, zeros above the diagonal) of a symmetric positive definite
 * matrix: A + shift·I = L Lᵀ. Only the lower triangle of `a` is read.
 *
 * Blocked (panels of 256 columns; the trailing update by a WebAssembly SIMD kernel on 4 × 4 blocks), so the
 * cost is about p³/3 multiply-adds at the kernel's rate; below p = 96 an unblocked loop. Synchronous and on the
 * caller's thread: for large matrices with progress, abort and both cores use {@link choleskyTask}.
 *
 * Errors: `NotPositiveDefinite` (an `Infeasible` naming the failing pivot and its value) when a pivot is not
 * positive (or below `pivotTolerance · max diag`); `InvalidInput` / `ShapeMismatch` for a matrix that is not
 * square, not finite in its lower triangle, or bad options. Never throws.
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { cholesky } from '@sonde/linalg'
 *
 * const a = { rows: 2, cols: 2, data: Float64Array.of(4, 2, 2, 3) }
 * const l = cholesky(a) // E.right: L = [[2, 0], [1, √2]]
 * if (E.isRight(l)) console.log(l.right.data[3]) // 1.414…
 */
export const cholesky = (a: Matrix, options?: CholeskyOptions): E.Either<NotPositiveDefinite | InvalidInput | ShapeMismatch, Matrix> => {
  const c = checkOptions(a, options)
  if (E.isLeft(c)) return c
  const { m, p, shift, tol } = c.right
  const inPlace = options?.inPlace === true
  const threshold = tol * maxDiagonal(m.data, p, p, shift)
  const w = p < SMALL ? undefined : workspace(p)
  if (w === undefined) {
    // Unblocked, in the output itself: check first, since a failure leaves it half overwritten.
    const bad = nonFinite(m.data, p)
    if (bad !== undefined) return E.left(bad)
    const out = inPlace ? m.data : m.data.slice()
    const failed = unblocked(out, p, p, shift, threshold)
    if (failed !== undefined) return E.left(failed)
    zeroUpper(out, p)
    return E.right({ rows: p, cols: p, data: out })
  }
  try {
    copyIn(w, m.data, p)
    for (let k0 = 0; k0 < p; k0 += NB) {
      const kb = Math.min(NB, p - k0)
      const failed = factorPanel(w, p, k0, kb, shift, threshold)
      if (failed !== undefined) return E.left(failure(m.data, p, failed))
      const r0 = k0 + kb
      if (r0 >= p) break
      const slivers = Math.ceil((p - r0) / 4)
      pack(w, p, r0, slivers, k0, kb)
      trailing(w, 8 * (r0 * w.ld + r0), 0, slivers, slivers, kb)
    }
    const out = inPlace ? m.data : new Float64Array(p * p)
    copyOut(w, out, p)
    return E.right({ rows: p, cols: p, data: out })
  } finally {
    returnMemory(w.memory)
  }
}

/**
 * {@link cholesky} for large matrices: progress (rows factored of p) and abort through `options.stage`, checked
 * between slices of the work; the trailing updates are shared with a helper thread when a core is idle (see
 * `parallel`; without worker_threads, SharedArrayBuffer or WebAssembly SIMD it runs on the caller's thread).
 * Same result, same errors, plus `Aborted`.
 *
 * @example
 * // fragment: a large symmetric positive-definite matrix from your code
 * import { stage } from '@sonde/oracle'
 * import { choleskyTask } from '@sonde/linalg'
 *
 * declare const hessian: { rows: number; cols: number; data: Float64Array }
 * const l = await choleskyTask(hessian, { shift: 0.01, inPlace: true, stage: stage({}, 'cholesky', hessian.rows) })
 */
export const choleskyTask = async (a: Matrix, options?: CholeskyTaskOptions): Promise<E.Either<NotPositiveDefinite | InvalidInput | ShapeMismatch | Aborted, Matrix>> => {
  const c = checkOptions(a, options)
  if (E.isLeft(c)) return c
  const { m, p, shift, tol } = c.right
  const s = options?.stage
  const w = p < SMALL ? undefined : workspace(p)
  if (w === undefined) {
    if (s !== undefined) {
      const ok = await s.tick(0)
      if (E.isLeft(ok)) return ok
    }
    const small = cholesky(m, options)
    if (E.isLeft(small) || s === undefined) return small
    const done = s.check(p)
    return E.isLeft(done) ? done : small
  }
  try {
    return await factorTask(w, m, p, shift, tol * maxDiagonal(m.data, p, p, shift), s, options)
  } finally {
    returnMemory(w.memory)
  }
}

const factorTask = async (
  w: Workspace,
  m: Matrix,
  p: number,
  shift: number,
  threshold: number,
  s: Stage | undefined,
  options: CholeskyTaskOptions | undefined,
): Promise<E.Either<NotPositiveDefinite | InvalidInput | Aborted, Matrix>> => {
  const h = await helperFor(options?.parallel)
  copyIn(w, m.data, p)
  for (let k0 = 0; k0 < p; k0 += NB) {
    if (s !== undefined) {
      const ok = await s.tick(k0)
      if (E.isLeft(ok)) return ok
    }
    const kb = Math.min(NB, p - k0)
    const failed = factorPanel(w, p, k0, kb, shift, threshold)
    if (failed !== undefined) return E.left(failure(m.data, p, failed))
    const r0 = k0 + kb
    if (r0 >= p) break
    const slivers = Math.ceil((p - r0) / 4)
    pack(w, p, r0, slivers, k0, kb)
    const c0 = 8 * (r0 * w.ld + r0)
    // Split the row blocks: the helper takes the bottom (wider) rows, the caller the top, equal work each.
    const mid = h === null ? slivers : splitTriangle(slivers)
    const theirs = h !== null && mid < slivers ? h.run(w.memory, trailingCalls(w, c0, mid, slivers, slivers, kb)) : Promise.resolve(true)
    // The caller's share in slices, with a progress check between them (about a second's work at most each).
    const slice = Math.max(8, Math.ceil(mid / 8))
    for (let rb = 0; rb < mid; rb += slice) {
      trailing(w, c0, rb, Math.min(mid, rb + slice), slivers, kb)
      if (s !== undefined) {
        const ok = s.check(k0)
        if (E.isLeft(ok)) {
          await theirs
          return ok
        }
      }
    }
    // A helper whose thread was gone before the call never started it: do its share here. (A thread that dies
    // during a call rejects, and the factorisation fails loudly rather than guess what was applied.)
    if (!(await theirs)) trailing(w, c0, mid, slivers, slivers, kb)
  }
  const out = options?.inPlace === true ? m.data : new Float64Array(p * p)
  copyOut(w, out, p)
  if (s !== undefined) {
    const done = s.check(p)
    if (E.isLeft(done)) return done
  }
  return E.right({ rows: p, cols: p, data: out })
}
