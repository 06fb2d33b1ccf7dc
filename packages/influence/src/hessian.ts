import { either as E } from 'fp-ts'
import { errors, type Matrix, type ProbeError, type Stage } from '@sonde/oracle'
import { gramBlocks } from '@sonde/linalg'
import { LogisticRegression, SoftmaxRegression, type TwiceDifferentiable } from '@sonde/models'
import type { Examples } from './inverse-hvp.js'

/**
 * The dense Hessian of the model's training objective on `train` (its L2 included), **lower triangle only**
 * (row ≥ column; the upper triangle holds scratch values and must not be read) — what the in-place
 * Cholesky reads. Built here rather than by `model.hessian`, which is one synchronous call (62 s at
 * n = 5,040, p = 7,850) that no abort can interrupt, and whose row chunks would each cost a p² array:
 *
 * - logistic and softmax regression: one weighted Gram X̃ᵀDX̃ per pair of classes (`@sonde/linalg`'s
 *   `gramBlocks`: packed once, sliver-sparse, both cores), written into one p² array, with a progress check
 *   between pairs;
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
  // H = (1/n) Σᵢ (diag μᵢ − μᵢμᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ + l2·I: the block of classes (c1, c2) is X̃ᵀ D X̃ with
  // D = diag(μ_c1 (δ − μ_c2)) / n, one weighted Gram per pair c1 ≥ c2 (@sonde/linalg, sliver-sparse, both cores).
  const xt = new Float64Array(n * (d + 1))
  for (let i = 0; i < n; i++) {
    xt.set(x.data.subarray(i * d, (i + 1) * d), i * (d + 1))
    xt[i * (d + 1) + d] = 1
  }
  const pairs: Array<readonly [number, number]> = []
  for (let c1 = 0; c1 < m; c1++) for (let c2 = 0; c2 <= c1; c2++) pairs.push([c1, c2])
  const inv = 1 / Math.max(1, n)
  const weights = pairs.map(([c1, c2]) =>
    Float64Array.from({ length: n }, (_, i) => (sigmoid ? mu[i]! * (1 - mu[i]!) : mu[i * m + c1]! * ((c1 === c2 ? 1 : 0) - mu[i * m + c2]!)) * inv),
  )
  const h = new Float64Array(p * p)
  // Parameter index of feature a (a = d: the bias) of output c.
  const pos = (c: number, a: number): number => (a < d ? c * d + a : m * d + c)
  // The stage counts training rows (its total is n): report the share of blocks done in those units.
  const rows: Stage = { check: (k) => s.check(Math.floor((k * n) / pairs.length)), tick: (k) => s.tick(Math.floor((k * n) / pairs.length)) }
  const built = await gramBlocks(
    { rows: n, cols: d + 1, data: xt },
    weights,
    (k, g) => {
      const [c1, c2] = pairs[k]!
      const e = d + 1
      for (let a = 0; a < e; a++) {
        for (let b = 0; b < e; b++) {
          const r = pos(c1, a)
          const c = pos(c2, b)
          // Lower triangle only (row ≥ column); the transposed pair (c2, c1) is the same block.
          if (r >= c) h[r * p + c] = g.data[a * e + b]!
          else if (c1 !== c2) h[c * p + r] = g.data[a * e + b]!
        }
      }
    },
    { stage: rows },
  )
  if (E.isLeft(built)) return built
  for (let r = 0; r < p; r++) h[r * p + r]! += model.l2
  const last = s.check(n)
  return E.isLeft(last) ? last : E.right({ rows: p, cols: p, data: h })
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
