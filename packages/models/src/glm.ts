import type { Matrix } from '@sonde/oracle'

/**
 * The shared core of logistic and softmax regression: m linear outputs z = W x + b (m = 1 for
 * logistic, K for softmax), a link, and the L2-regularised mean cross-entropy
 *
 *   F(θ) = (1/n) Σᵢ ℓ(zᵢ, yᵢ) + (λ/2)‖θ‖²,   θ = [W (m×D, row-major), b (m)],
 *
 * with every derivative in closed form: ∇_θ ℓᵢ = rᵢ ⊗ [xᵢ, 1] where rᵢ = ∂ℓ/∂z, and
 * ∇²_θ ℓᵢ = Sᵢ ⊗ [xᵢ, 1][xᵢ, 1]ᵀ where Sᵢ = ∂²ℓ/∂z². All float64, no autodiff (tfjs second
 * derivatives through softmax are silently wrong, tfjs#3252).
 */
export type Link = 'sigmoid' | 'softmax'

/** The shape of a generalised linear model: its link, its number of linear outputs `m` and of inputs `d`. */
export interface GlmShape {
  readonly link: Link
  /** Linear outputs: 1 for sigmoid, K for softmax. */
  readonly m: number
  readonly d: number
}

/** Number of parameters of a model of this shape: m·(d + 1), the weights then the biases. */
export const paramCount = (s: GlmShape): number => s.m * (s.d + 1)

/**
 * The inputs as compressed sparse rows. Image rows are mostly zeros (MNIST: 19 % nonzero), so
 * every product below runs over the nonzeros only; a fit or a Hessian operator converts once and
 * reuses the result for all its products.
 */
export interface SparseRows {
  readonly rows: number
  readonly cols: number
  /** Row i's entries are at ptr[i] .. ptr[i+1]−1 of idx / val. */
  readonly ptr: Int32Array
  readonly idx: Int32Array
  readonly val: Float64Array
}

/** Inputs to the GLM products: a dense matrix or its compressed sparse rows (see {@link sparseRows}). */
export type Design = Matrix | SparseRows

/** `x` as compressed sparse rows (only its nonzeros); a `SparseRows` is returned as it is. */
export const sparseRows = (x: Design): SparseRows => {
  if ('ptr' in x) return x
  const { rows, cols, data } = x
  let nnz = 0
  for (let k = 0; k < data.length; k++) if (data[k] !== 0) nnz++
  const ptr = new Int32Array(rows + 1)
  const idx = new Int32Array(nnz)
  const val = new Float64Array(nnz)
  let o = 0
  for (let i = 0; i < rows; i++) {
    const xo = i * cols
    for (let j = 0; j < cols; j++) {
      const v = data[xo + j]!
      if (v !== 0) {
        idx[o] = j
        val[o++] = v
      }
    }
    ptr[i + 1] = o
  }
  return { rows, cols, ptr, idx, val }
}

/** Z = X Wᵀ + b, n × m. W is read transposed (d × m), so each nonzero xᵢⱼ updates m contiguous outputs. */
export const linearOutputs = (s: GlmShape, theta: Float64Array, x: Design): Float64Array => {
  const { m, d } = s
  const { rows: n, ptr, idx, val } = sparseRows(x)
  const z = new Float64Array(n * m)
  const bOff = m * d
  const wt = new Float64Array(d * m)
  for (let c = 0; c < m; c++) for (let j = 0; j < d; j++) wt[j * m + c] = theta[c * d + j]!
  for (let i = 0; i < n; i++) {
    const zo = i * m
    for (let c = 0; c < m; c++) z[zo + c] = theta[bOff + c]!
    for (let k = ptr[i]!; k < ptr[i + 1]!; k++) {
      const v = val[k]!
      const wo = idx[k]! * m
      for (let c = 0; c < m; c++) z[zo + c]! += wt[wo + c]! * v
    }
  }
  return z
}

const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)))
/** The logistic function σ(z) = 1 / (1 + e^−z), computed without overflow for either sign of z. */
export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))

/** Row-wise softmax of an n × k array, in place into `out`. */
export const softmaxRows = (z: Float64Array, k: number, out = new Float64Array(z.length)): Float64Array => {
  for (let o = 0; o < z.length; o += k) {
    let mx = -Infinity
    for (let c = 0; c < k; c++) mx = Math.max(mx, z[o + c]!)
    let sum = 0
    for (let c = 0; c < k; c++) sum += out[o + c] = Math.exp(z[o + c]! - mx)
    for (let c = 0; c < k; c++) out[o + c]! /= sum
  }
  return out
}

/** Per-example losses ℓᵢ and residuals rᵢ = ∂ℓ/∂zᵢ (n × m); `mu` holds σ(z) or softmax(z). */
export const lossAndResiduals = (
  s: GlmShape,
  z: Float64Array,
  y: Int32Array,
): { readonly loss: Float64Array; readonly r: Float64Array; readonly mu: Float64Array } => {
  const n = y.length
  const loss = new Float64Array(n)
  if (s.link === 'sigmoid') {
    const mu = z.map(sigmoid)
    const r = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      loss[i] = softplus(z[i]!) - y[i]! * z[i]!
      r[i] = mu[i]! - y[i]!
    }
    return { loss, r, mu }
  }
  const k = s.m
  const mu = softmaxRows(z, k)
  const r = mu.slice()
  for (let i = 0; i < n; i++) {
    let mx = -Infinity
    for (let c = 0; c < k; c++) mx = Math.max(mx, z[i * k + c]!)
    let sum = 0
    for (let c = 0; c < k; c++) sum += Math.exp(z[i * k + c]! - mx)
    loss[i] = mx + Math.log(sum) - z[i * k + y[i]!]!
    r[i * k + y[i]!]! -= 1
  }
  return { loss, r, mu }
}

/** Accumulate (1/n) Σᵢ tᵢ ⊗ [xᵢ, 1] + λθ' into a parameter-shaped vector (transposed while accumulating). */
const outerAccumulate = (s: GlmShape, t: Float64Array, x: Design, lambda: number, reg: Float64Array): Float64Array => {
  const { m, d } = s
  const { rows: n, ptr, idx, val } = sparseRows(x)
  const acc = new Float64Array(d * m)
  const bias = new Float64Array(m)
  for (let i = 0; i < n; i++) {
    const to = i * m
    for (let c = 0; c < m; c++) bias[c]! += t[to + c]!
    for (let k = ptr[i]!; k < ptr[i + 1]!; k++) {
      const v = val[k]!
      const ao = idx[k]! * m
      for (let c = 0; c < m; c++) acc[ao + c]! += t[to + c]! * v
    }
  }
  const inv = n === 0 ? 0 : 1 / n
  const out = new Float64Array(paramCount(s))
  for (let c = 0; c < m; c++) {
    for (let j = 0; j < d; j++) out[c * d + j] = acc[j * m + c]! * inv + lambda * reg[c * d + j]!
    out[m * d + c] = bias[c]! * inv + lambda * reg[m * d + c]!
  }
  return out
}

const regularisedMean = (loss: Float64Array, theta: Float64Array, lambda: number): number => {
  let acc = 0
  for (const l of loss) acc += l
  let sq = 0
  for (const t of theta) sq += t * t
  return (loss.length === 0 ? 0 : acc / loss.length) + 0.5 * lambda * sq
}

/** The training objective F(θ): mean cross-entropy over (x, y) plus (λ/2)‖θ‖². */
export const objective = (s: GlmShape, theta: Float64Array, x: Design, y: Int32Array, lambda: number): number =>
  regularisedMean(lossAndResiduals(s, linearOutputs(s, theta, x), y).loss, theta, lambda)

/** ∇F(θ), the gradient of {@link objective}. */
export const gradient = (s: GlmShape, theta: Float64Array, x: Design, y: Int32Array, lambda: number): Float64Array => {
  const xs = sparseRows(x)
  const { r } = lossAndResiduals(s, linearOutputs(s, theta, xs), y)
  return outerAccumulate(s, r, xs, lambda, theta)
}

/** F(θ) and ∇F(θ) from one forward pass. */
export const objectiveAndGradient = (
  s: GlmShape,
  theta: Float64Array,
  x: Design,
  y: Int32Array,
  lambda: number,
): { readonly value: number; readonly gradient: Float64Array } => {
  const xs = sparseRows(x)
  const { loss, r } = lossAndResiduals(s, linearOutputs(s, theta, xs), y)
  return { value: regularisedMean(loss, theta, lambda), gradient: outerAccumulate(s, r, xs, lambda, theta) }
}

/** Sᵢ u for each example: σ(1−σ)·u (sigmoid) or p ⊙ u − p (pᵀu) (softmax). */
const curvatureTimes = (s: GlmShape, mu: Float64Array, u: Float64Array): Float64Array => {
  if (s.link === 'sigmoid') return u.map((v, i) => mu[i]! * (1 - mu[i]!) * v)
  const k = s.m
  const t = new Float64Array(u.length)
  for (let o = 0; o < u.length; o += k) {
    let pu = 0
    for (let c = 0; c < k; c++) pu += mu[o + c]! * u[o + c]!
    for (let c = 0; c < k; c++) t[o + c] = mu[o + c]! * (u[o + c]! - pu)
  }
  return t
}

/** ∇²F(θ)·v, the Hessian of {@link objective} times `v`, without forming the Hessian. */
export const hessianVectorProduct = (
  s: GlmShape,
  theta: Float64Array,
  x: Design,
  y: Int32Array,
  lambda: number,
  v: Float64Array,
  mu?: Float64Array,
): Float64Array => {
  const xs = sparseRows(x)
  const curvature = mu ?? lossAndResiduals(s, linearOutputs(s, theta, xs), y).mu
  const u = linearOutputs(s, v, xs)
  return outerAccumulate(s, curvatureTimes(s, curvature, u), xs, lambda, v)
}

/** Rows ∇_θ ℓᵢ = rᵢ ⊗ [xᵢ, 1] (without the regulariser), n × p. */
export const perExampleGradients = (s: GlmShape, theta: Float64Array, x: Matrix, y: Int32Array): Matrix => {
  const { m, d } = s
  const p = paramCount(s)
  const { r } = lossAndResiduals(s, linearOutputs(s, theta, x), y)
  const out = new Float64Array(x.rows * p)
  for (let i = 0; i < x.rows; i++) {
    const ro = i * p
    for (let c = 0; c < m; c++) {
      const rc = r[i * m + c]!
      for (let j = 0; j < d; j++) out[ro + c * d + j] = rc * x.data[i * d + j]!
      out[ro + m * d + c] = rc
    }
  }
  return { rows: x.rows, cols: p, data: out }
}

/** The Hessian-vector product at fixed (θ, x, y): the curvature μ(θ) is computed once. */
export const hessianOperator = (
  s: GlmShape,
  theta: Float64Array,
  x: Design,
  y: Int32Array,
  lambda: number,
): ((v: Float64Array) => Float64Array) => {
  const xs = sparseRows(x)
  const { mu } = lossAndResiduals(s, linearOutputs(s, theta, xs), y)
  return (v) => hessianVectorProduct(s, theta, xs, y, lambda, v, mu)
}

/**
 * vₐᵀ ∇_θ ℓ(xᵢ, yᵢ) for every row vₐ of `v` (t × p) and every example i: t × n. Since
 * ∇_θ ℓᵢ = rᵢ ⊗ x̃ᵢ, this is rᵢ · (Vₐ x̃ᵢ): one pass over the nonzeros of x per row of v, without
 * materialising the n × p gradients.
 */
export const gradientProducts = (s: GlmShape, theta: Float64Array, x: Matrix, y: Int32Array, v: Matrix): Matrix => {
  const { m } = s
  const n = x.rows
  const xs = sparseRows(x)
  const { r } = lossAndResiduals(s, linearOutputs(s, theta, xs), y)
  const out = new Float64Array(v.rows * n)
  for (let a = 0; a < v.rows; a++) {
    const u = linearOutputs(s, v.data.subarray(a * v.cols, (a + 1) * v.cols), xs)
    for (let i = 0; i < n; i++) {
      let acc = 0
      for (let c = 0; c < m; c++) acc += r[i * m + c]! * u[i * m + c]!
      out[a * n + i] = acc
    }
  }
  return { rows: v.rows, cols: n, data: out }
}

/**
 * Rows ∇ₓ [vᵀ ∇_θ ℓ(xᵢ, yᵢ; θ)] (n × d): how the parameter gradient of each example, seen along
 * v, moves with its input. With V = v as m × (d+1), u = V x̃ and r = μ − e_y:
 * ∇ₓ = V_{:, :d}ᵀ r + Wᵀ (S u), S = ∂r/∂z (symmetric).
 */
export const mixedGradientProduct = (s: GlmShape, theta: Float64Array, x: Matrix, y: Int32Array, v: Float64Array): Matrix => {
  const { m, d } = s
  const n = x.rows
  const xs = sparseRows(x)
  const { r, mu } = lossAndResiduals(s, linearOutputs(s, theta, xs), y)
  const u = linearOutputs(s, v, xs)
  const su = curvatureTimes(s, mu, u)
  const out = new Float64Array(n * d)
  for (let i = 0; i < n; i++) {
    const o = i * d
    for (let c = 0; c < m; c++) {
      const rc = r[i * m + c]!
      const sc = su[i * m + c]!
      const wo = c * d
      for (let j = 0; j < d; j++) out[o + j]! += rc * v[wo + j]! + sc * theta[wo + j]!
    }
  }
  return { rows: n, cols: d, data: out }
}

/**
 * The full p × p Hessian of F, for exact influence and tests. Block (c₁, c₂) is
 * (1/n) Σᵢ Sᵢ[c₁,c₂] x̃ᵢx̃ᵢᵀ: accumulated over the nonzeros of each row and over the upper
 * triangle only, then mirrored, so it costs O(n·m²·nnz²/2) rather than O(n·p²).
 */
export const hessian = (s: GlmShape, theta: Float64Array, x: Matrix, y: Int32Array, lambda: number): Matrix => {
  const { m, d } = s
  const p = paramCount(s)
  const n = x.rows
  const xs = sparseRows(x)
  const { mu } = lossAndResiduals(s, linearOutputs(s, theta, xs), y)
  const h = new Float64Array(p * p)
  const idx = new Int32Array(d + 1)
  const val = new Float64Array(d + 1)
  // Parameter index of feature j (j = d is the bias) of output c.
  const pos = (c: number, j: number): number => (j < d ? c * d + j : m * d + c)
  for (let i = 0; i < n; i++) {
    const lo = xs.ptr[i]!
    const nnz = xs.ptr[i + 1]! - lo
    idx.set(xs.idx.subarray(lo, lo + nnz))
    val.set(xs.val.subarray(lo, lo + nnz))
    idx[nnz] = d
    val[nnz] = 1
    const len = nnz + 1
    for (let c1 = 0; c1 < m; c1++) {
      for (let c2 = c1; c2 < m; c2++) {
        const sc = s.link === 'sigmoid' ? mu[i]! * (1 - mu[i]!) : (c1 === c2 ? mu[i * m + c1]! : 0) - mu[i * m + c1]! * mu[i * m + c2]!
        if (sc === 0) continue
        for (let a = 0; a < len; a++) {
          const row = pos(c1, idx[a]!) * p
          const w = sc * val[a]!
          // Within a diagonal block only b ≥ a (upper triangle of the block's features).
          for (let b = c1 === c2 ? a : 0; b < len; b++) h[row + pos(c2, idx[b]!)]! += w * val[b]!
        }
      }
    }
  }
  // Mirror: every entry was accumulated at (row, col) with row's (c1, j_a) ≤ col's (c2, j_b) in
  // the (output, position-in-row) order; fold both triangles into a symmetric matrix.
  const inv = n === 0 ? 0 : 1 / n
  for (let r1 = 0; r1 < p; r1++) {
    for (let r2 = r1 + 1; r2 < p; r2++) {
      const sum = (h[r1 * p + r2]! + h[r2 * p + r1]!) * inv
      h[r1 * p + r2] = sum
      h[r2 * p + r1] = sum
    }
    h[r1 * p + r1] = h[r1 * p + r1]! * inv + lambda
  }
  return { rows: p, cols: p, data: h }
}

