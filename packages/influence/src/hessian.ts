import { either as E } from 'fp-ts'
import { errors, type Matrix, type ProbeError, type Stage } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression, type TwiceDifferentiable } from '@sonde/models'
import type { Examples } from './inverse-hvp.js'

/**
 * The dense Hessian of the model's training objective on `train` (its L2 included), **lower triangle only**
 * (row ≥ column; the upper triangle holds scratch values and must not be read) — what the in-place
 * Cholesky reads. Built here rather than by `model.hessian`, which is one synchronous call (62 s at
 * n = 5,040, p = 7,850) that no abort can interrupt, and whose row chunks would each cost a p² array:
 *
 * - logistic and softmax regression: the same sparse accumulation as the model's own builder, one training
 *   row at a time into one p² array, with a progress check between rows;
 * - any other twice-differentiable model: one Hessian-vector product per column (what a network's
 *   `hessian` does anyway), symmetrised, with a check between columns.
 */
export const lowerHessian = async (model: TwiceDifferentiable, train: Examples, s: Stage): Promise<E.Either<ProbeError, Matrix>> =>
  model instanceof SoftmaxRegression || model instanceof LogisticRegression ? glmHessian(model, train, s) : columnHessian(model, train, s)

const glmHessian = async (model: SoftmaxRegression | LogisticRegression, train: Examples, s: Stage): Promise<E.Either<ProbeError, Matrix>> => {
  const x = train.x
  const n = x.rows
  const d = x.cols
  const sigmoid = model instanceof LogisticRegression
  // Outputs of the GLM: 1 for the sigmoid link (θ = [w, b]), K for softmax (θ = [W row-major, b]).
  const m = sigmoid ? 1 : model.info.numClasses
  const p = model.numParams
  if (p !== m * (d + 1)) return E.left(errors.shapeMismatch('train.x', `${p / m - 1} columns (the model's input dimension)`, `${d} columns`))
  const logits = model.logits(x)
  const k = logits.cols
  // Class probabilities of every row (the curvature depends on θ and x only, never on y).
  const mu = new Float64Array(n * m)
  for (let i = 0; i < n; i++) {
    const z = logits.data.subarray(i * k, (i + 1) * k)
    if (sigmoid) {
      mu[i] = 1 / (1 + Math.exp(-z[1]!))
      continue
    }
    let top = -Infinity
    for (let c = 0; c < k; c++) top = Math.max(top, z[c]!)
    let sum = 0
    for (let c = 0; c < k; c++) sum += Math.exp(z[c]! - top)
    for (let c = 0; c < k; c++) mu[i * m + c] = Math.exp(z[c]! - top) / sum
  }
  const bad = mu.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) return E.left(errors.badResponse(`the model's probabilities for training row ${Math.floor(bad / m)} are not finite (${mu[bad]})`))
  const h = new Float64Array(p * p)
  const idx = new Int32Array(d + 1)
  const val = new Float64Array(d + 1)
  // Parameter index of the row's a-th nonzero feature (the last is the bias) for each output.
  const pos = new Int32Array(m * (d + 1))
  for (let i = 0; i < n; i++) {
    if ((i & 7) === 0) {
      const ok = await s.tick(i)
      if (E.isLeft(ok)) return ok
    }
    let len = 0
    for (let j = 0; j < d; j++) {
      const v = x.data[i * d + j]!
      if (v !== 0) {
        idx[len] = j
        val[len++] = v
      }
    }
    idx[len] = d
    val[len++] = 1
    for (let c = 0; c < m; c++) for (let a = 0; a < len; a++) pos[c * (d + 1) + a] = idx[a]! < d ? c * d + idx[a]! : m * d + c
    accumulateRow(h, p, m, d, len, val, pos, mu, i, sigmoid)
  }
  const ok = await fold(h, p, 1 / Math.max(1, n), model.l2, s, n)
  if (E.isLeft(ok)) return ok
  const last = s.check(n)
  return E.isLeft(last) ? last : E.right({ rows: p, cols: p, data: h })
}

/** Add training row i's curvature Σ_{c1 ≤ c2} s_{c1c2} x̃x̃ᵀ (each unordered pair of parameters once). */
const accumulateRow = (
  h: Float64Array,
  p: number,
  m: number,
  d: number,
  len: number,
  val: Float64Array,
  pos: Int32Array,
  mu: Float64Array,
  i: number,
  sigmoid: boolean,
): void => {
  for (let c1 = 0; c1 < m; c1++) {
    for (let c2 = c1; c2 < m; c2++) {
      const sc = sigmoid ? mu[i]! * (1 - mu[i]!) : (c1 === c2 ? mu[i * m + c1]! : 0) - mu[i * m + c1]! * mu[i * m + c2]!
      if (sc === 0) continue
      const o1 = c1 * (d + 1)
      const o2 = c2 * (d + 1)
      for (let a = 0; a < len; a++) {
        const row = pos[o1 + a]! * p
        const w = sc * val[a]!
        // Within a diagonal block only b ≥ a; across blocks every pair.
        for (let b = c1 === c2 ? a : 0; b < len; b++) h[row + pos[o2 + b]!]! += w * val[b]!
      }
    }
  }
}

/**
 * Fold both triangles into the lower one, scale by `scale` and add `l2` on the diagonal. Tiles of 64 × 64
 * keep the transposed reads in cache; a progress check between tile rows.
 */
const fold = async (h: Float64Array, p: number, scale: number, l2: number, s: Stage, done: number): Promise<E.Either<ProbeError, void>> => {
  const T = 64
  for (let bi = 0; bi < p; bi += T) {
    // Still the last row of the build (done − 1 of n): the fold is its tail, and `total` is reported once, at the end.
    const ok = await s.tick(Math.max(0, done - 1))
    if (E.isLeft(ok)) return ok
    const iEnd = Math.min(p, bi + T)
    for (let bj = 0; bj <= bi; bj += T) {
      const jEnd = Math.min(p, bj + T)
      for (let r = bi; r < iEnd; r++) {
        const o = r * p
        for (let c = bj; c < Math.min(jEnd, r); c++) h[o + c] = (h[o + c]! + h[c * p + r]!) * scale
      }
    }
    for (let r = bi; r < iEnd; r++) h[r * p + r] = h[r * p + r]! * scale + l2
  }
  return E.right(undefined)
}

const columnHessian = async (model: TwiceDifferentiable, train: Examples, s: Stage): Promise<E.Either<ProbeError, Matrix>> => {
  const p = model.numParams
  const op = model.hessianOperator(train.x, train.y)
  const h = new Float64Array(p * p)
  const e = new Float64Array(p)
  for (let q = 0; q < p; q++) {
    const ok = await s.tick(q)
    if (E.isLeft(ok)) return ok
    e[q] = 1
    const col = op(e)
    e[q] = 0
    if (!(col instanceof Float64Array) || col.length !== p) return E.left(errors.badResponse(`the model's Hessian-vector product has ${(col as { length?: number } | undefined)?.length} values; expected ${p}`))
    const bad = col.findIndex((v) => !Number.isFinite(v))
    if (bad >= 0) return E.left(errors.badResponse(`the model's Hessian-vector product is not finite (entry ${bad} of column ${q} is ${col[bad]})`))
    // Column q gives H[r][q] for r ≥ q (lower, column q) and H[q][r] for r < q (the transpose of row q's
    // entries from earlier columns): finite-difference columns are symmetric only to rounding, so average.
    for (let r = q; r < p; r++) h[r * p + q] = col[r]!
    for (let r = 0; r < q; r++) h[q * p + r] = 0.5 * (h[q * p + r]! + col[r]!)
  }
  return E.right({ rows: p, cols: p, data: h })
}
