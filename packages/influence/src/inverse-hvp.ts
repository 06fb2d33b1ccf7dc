import { either as E, function as F } from 'fp-ts'
import { createRng, errors, type Matrix, type ProbeError, type Rng } from '@sonde/oracle'
import { conjugateGradient, dot, norm2, type TwiceDifferentiable } from '@sonde/models'
import { choleskySolve, choleskyInPlace } from './linalg.js'

/** How (H + λI)⁻¹v is computed. */
export type InverseHvpMethod = 'exact' | 'cg' | 'lissa'

/** Options of an inverse-Hessian-vector solve (shared by every influence function). */
export interface InverseHvpOptions {
  /**
   * `'exact'`: Cholesky factor of the dense damped Hessian, once (O(n·p²) to build, p³/3 to
   * factor, p² memory; then 2p² per solve). `'cg'` (default): conjugate gradients on H + λI,
   * one Hessian-vector product per iteration. `'lissa'`: the stochastic Neumann recursion of
   * Agarwal et al., with mini-batch Hessians.
   */
  readonly method?: InverseHvpMethod
  /** λ in (H + λI)⁻¹, on top of the model's own L2. Default: the model's `damping` (0 for a convex fit). */
  readonly damping?: number
  /**
   * `'cg'`: stop at relative residual ‖(H + λI)x − v‖/‖v‖ ≤ tol (default 1e-10).
   * `'lissa'`: the largest final relative residual accepted (default 0.05); above it the
   * solve fails with `NotConverged` rather than return a poor estimate.
   */
  readonly tol?: number
  /** `'cg'`: most iterations (default 1,000); reaching it without `tol` is `NotConverged`. */
  readonly maxIter?: number
  /**
   * `'lissa'`: the scale S (> the largest eigenvalue of every mini-batch H + λI). Default
   * automatic: 1.25 × the largest eigenvalue found by power iteration on the full Hessian and on
   * 8 random mini-batches.
   */
  readonly scale?: number
  /** `'lissa'`: recursion steps t per repeat (default 5,000). The error decays like (1 − λ_min/S)^t. */
  readonly depth?: number
  /** `'lissa'`: independent recursions averaged (default 1). */
  readonly repeats?: number
  /** `'lissa'`: training examples per mini-batch Hessian (default 32). */
  readonly batchSize?: number
  /** `'lissa'`: check the true residual (one full-data product) every this many steps (default depth/10). */
  readonly checkEvery?: number
  /**
   * `'lissa'`: estimate from the mean of the iterates over the second half of each recursion
   * (default true) rather than from the last iterate alone. Past the burn-in every iterate
   * estimates the same fixed point; averaging them cancels most of the mini-batch noise, which
   * otherwise leaves a residual floor that more depth does not lower.
   */
  readonly tailAverage?: boolean
  /** `'lissa'`: seed of the mini-batch draws (required for LiSSA: a safe integer). Same seed, same answer. */
  readonly seed?: number
}

/** What one solve reports. */
export interface SolveReport {
  readonly method: InverseHvpMethod
  /** CG iterations, or LiSSA steps over all repeats; 0 for `'exact'`. */
  readonly iterations: number
  /** Full-data Hessian-vector products (mini-batch products of LiSSA are counted in `iterations`). */
  readonly hessianVectorProducts: number
  /**
   * ‖(H + λI)x − v‖ / ‖v‖ at the end, on the full training data. For `'exact'` this costs one
   * full-data product, so it is NaN when the solve was asked not to check (`{ check: false }`).
   */
  readonly relativeResidual: number
  /**
   * Relative residual after each CG iteration, or at each LiSSA check (step, residual); empty
   * for `'exact'`.
   */
  readonly residualHistory: ReadonlyArray<{ readonly step: number; readonly residual: number }>
}

/** A prepared solver for (H + λI)⁻¹v at the model's parameters on its training data. */
export interface InverseHvp {
  readonly method: InverseHvpMethod
  readonly damping: number
  /** LiSSA's scale S (automatic or given); undefined for the other methods. */
  readonly scale?: number
  /** Full-data products spent preparing (power iteration for LiSSA's scale). */
  readonly preparationProducts: number
  /**
   * (H + λI)⁻¹v. `check: false` skips what only the report needs and costs a full-data product
   * (the residual of an `'exact'` solve); CG and LiSSA always have their residual.
   */
  readonly solve: (v: Float64Array, options?: { readonly check?: boolean }) => E.Either<ProbeError, { readonly x: Float64Array; readonly report: SolveReport }>
}

/** Training (or test) examples: one label per row. */
export interface Examples {
  readonly x: Matrix
  readonly y: Int32Array
}

const bad = (path: string, message: string): E.Either<ProbeError, never> => E.left(errors.invalidOptions([{ path, message }]))

const positiveInt = (v: number | undefined, path: string): E.Either<ProbeError, void> =>
  v === undefined || (Number.isInteger(v) && v >= 1) ? E.right(undefined) : bad(path, `is ${v}; expected an integer ≥ 1`)

/** Check the options shared by the influence functions; `InvalidOptions` names the first bad one. */
export const validateInverseHvpOptions = (o: InverseHvpOptions, n: number): E.Either<ProbeError, void> => {
  if (o.method !== undefined && o.method !== 'exact' && o.method !== 'cg' && o.method !== 'lissa') {
    return bad('options.method', `is ${String(o.method)}; expected 'exact', 'cg' or 'lissa'`)
  }
  if (o.damping !== undefined && !(o.damping >= 0 && Number.isFinite(o.damping))) return bad('options.damping', `is ${o.damping}; expected a finite number ≥ 0`)
  if (o.tol !== undefined && !(o.tol > 0 && o.tol < 1)) return bad('options.tol', `is ${o.tol}; expected a number in (0, 1)`)
  if (o.scale !== undefined && !(o.scale > 0 && Number.isFinite(o.scale))) return bad('options.scale', `is ${o.scale}; expected a positive number`)
  if (o.batchSize !== undefined && o.batchSize > n) return bad('options.batchSize', `is ${o.batchSize}; the training set has ${n} rows`)
  return F.pipe(
    positiveInt(o.maxIter, 'options.maxIter'),
    E.chain(() => positiveInt(o.depth, 'options.depth')),
    E.chain(() => positiveInt(o.repeats, 'options.repeats')),
    E.chain(() => positiveInt(o.batchSize, 'options.batchSize')),
    E.chain(() => positiveInt(o.checkEvery, 'options.checkEvery')),
    // LiSSA draws mini-batches: it needs a seed, and never quietly uses 0 for a missing one.
    E.chain(() =>
      o.method === 'lissa' && !Number.isSafeInteger(o.seed)
        ? bad('options.seed', `is ${String(o.seed)}; LiSSA draws random mini-batches and needs a safe-integer seed`)
        : o.seed !== undefined && !Number.isSafeInteger(o.seed)
          ? bad('options.seed', `is ${String(o.seed)}; expected a safe integer`)
          : E.right(undefined),
    ),
  )
}

const addScaled = (hv: Float64Array, v: Float64Array, lambda: number): Float64Array => {
  if (lambda !== 0) for (let i = 0; i < hv.length; i++) hv[i]! += lambda * v[i]!
  return hv
}

const residualOf = (op: (v: Float64Array) => Float64Array, damping: number, x: Float64Array, v: Float64Array): number => {
  const ax = addScaled(op(x), x, damping)
  let s = 0
  for (let i = 0; i < v.length; i++) s += (ax[i]! - v[i]!) ** 2
  const vn = norm2(v)
  return vn === 0 ? Math.sqrt(s) : Math.sqrt(s) / vn
}

/** Rows `idx` of (x, y) as a new mini-batch. */
const takeBatch = (train: Examples, idx: Int32Array): Examples => {
  const d = train.x.cols
  const data = new Float64Array(idx.length * d)
  const y = new Int32Array(idx.length)
  for (let k = 0; k < idx.length; k++) {
    data.set(train.x.data.subarray(idx[k]! * d, (idx[k]! + 1) * d), k * d)
    y[k] = train.y[idx[k]!]!
  }
  return { x: { rows: idx.length, cols: d, data }, y }
}

const randomBatch = (train: Examples, size: number, rng: Rng): Examples => {
  const idx = new Int32Array(size)
  for (let k = 0; k < size; k++) idx[k] = rng.int(train.x.rows)
  return takeBatch(train, idx)
}

/**
 * The largest eigenvalue of a symmetric positive semi-definite operator by power iteration
 * (`iterations` products from a seeded start). A lower bound that is tight to a few percent
 * after 20–30 iterations when the top of the spectrum is not clustered.
 */
export const topEigenvalue = (op: (v: Float64Array) => Float64Array, p: number, rng: Rng, iterations = 30): number => {
  let v: Float64Array = new Float64Array(p)
  for (let i = 0; i < p; i++) v[i] = rng.normal()
  let lambda = 0
  for (let k = 0; k < iterations; k++) {
    const n = norm2(v)
    if (n === 0) return 0
    for (let i = 0; i < p; i++) v[i]! /= n
    const hv = op(v)
    lambda = dot(v, hv)
    v = hv
  }
  return lambda
}

/**
 * Prepare (H + λI)⁻¹ at the model's parameters on `train`, where H is the Hessian of the
 * model's training objective (its L2 included) and λ the damping. Every later `solve(v)` reuses
 * what was prepared: the Cholesky factor (`'exact'`), the curvature (`'cg'`, `'lissa'`) and
 * LiSSA's scale.
 *
 * @example
 * const inv = prepareInverseHvp(model, train, { method: 'cg' })
 * if (E.isRight(inv)) { const s = inv.right.solve(testGradient) }
 */
export const prepareInverseHvp = (model: TwiceDifferentiable, train: Examples, options: InverseHvpOptions = {}): E.Either<ProbeError, InverseHvp> => {
  const n = train.x.rows
  const p = model.numParams
  // Every solver checks its right-hand side first: a NaN vector once came back as zeros with residual 0.
  const checked = (inv: InverseHvp): InverseHvp => ({
    ...inv,
    solve: (v, o) => {
      if (!(v instanceof Float64Array) || v.length !== p) return E.left(errors.shapeMismatch('v', `a Float64Array of ${p} values (model.numParams)`, v instanceof Float64Array ? `${v.length} values` : typeof v))
      const bad = v.findIndex((x) => !Number.isFinite(x))
      if (bad >= 0) return E.left(errors.invalidInput(`v[${bad}] is ${v[bad]}; the right-hand side must be finite`, `v[${bad}]`))
      return inv.solve(v, o)
    },
  })
  return F.pipe(
    validateInverseHvpOptions(options, n),
    E.chain((): E.Either<ProbeError, InverseHvp> => {
      const method = options.method ?? 'cg'
      const damping = options.damping ?? model.damping
      const op = model.hessianOperator(train.x, train.y)
      if (method === 'exact') {
        return F.pipe(
          choleskyInPlace(model.hessian(train.x, train.y), damping),
          E.map((l) => ({
            method,
            damping,
            preparationProducts: 0,
            solve: (v: Float64Array, o?: { readonly check?: boolean }) => {
              const x = choleskySolve(l, p, v)
              const check = o?.check ?? true
              return E.right({
                x,
                report: { method, iterations: 0, hessianVectorProducts: check ? 1 : 0, relativeResidual: check ? residualOf(op, damping, x, v) : Number.NaN, residualHistory: [] },
              })
            },
          })),
        )
      }
      if (method === 'cg') {
        const tol = options.tol ?? 1e-10
        const maxIter = options.maxIter ?? 1000
        return E.right({
          method,
          damping,
          preparationProducts: 0,
          solve: (v: Float64Array) => {
            const cg = conjugateGradient((u) => addScaled(op(u), u, damping), v, tol, maxIter)
            const history = cg.residuals.map((residual, k) => ({ step: k + 1, residual }))
            const last = history.length === 0 ? 0 : history[history.length - 1]!.residual
            if (cg.indefinite) {
              return E.left(
                errors.infeasible(`conjugate gradients met non-positive curvature after ${cg.products} iterations: H + ${damping}·I is not positive definite; raise options.damping`),
              )
            }
            if (!(last <= tol)) return E.left(errors.notConverged(`conjugate gradients on H + ${damping}·I`, cg.products, last, tol))
            return E.right({ x: cg.x, report: { method, iterations: cg.products, hessianVectorProducts: cg.products, relativeResidual: last, residualHistory: history } })
          },
        })
      }
      // LiSSA
      const depth = options.depth ?? 5000
      const repeats = options.repeats ?? 1
      const batchSize = Math.min(options.batchSize ?? 32, n)
      const checkEvery = options.checkEvery ?? Math.max(1, Math.floor(depth / 10))
      const tol = options.tol ?? 0.05
      const tailAverage = options.tailAverage ?? true
      const rng = createRng(options.seed!)
      let prepared = 0
      let scale = options.scale
      if (scale === undefined) {
        const eigRng = rng.fork()
        let top = topEigenvalue(op, p, eigRng)
        prepared += 30
        for (let b = 0; b < 8; b++) {
          const batch = randomBatch(train, batchSize, eigRng)
          top = Math.max(top, topEigenvalue(model.hessianOperator(batch.x, batch.y), p, eigRng, 20))
        }
        scale = 1.25 * (top + damping)
      }
      const s = scale
      const floor = model.l2 + damping
      return E.right({
        method,
        damping,
        scale: s,
        preparationProducts: prepared,
        solve: (v: Float64Array) => {
          const solveRng = rng.fork()
          const vn = norm2(v)
          const sum = new Float64Array(p)
          const history: Array<{ step: number; residual: number }> = []
          let step = 0
          let products = 0
          for (let r = 0; r < repeats; r++) {
            const cur = v.slice()
            const tail = new Float64Array(p)
            const burnIn = tailAverage ? Math.floor(depth / 2) : depth - 1
            for (let t = 1; t <= depth; t++) {
              const batch = randomBatch(train, batchSize, solveRng)
              const hv = model.hessianOperator(batch.x, batch.y)(cur)
              let cn = 0
              for (let i = 0; i < p; i++) {
                const c = v[i]! + cur[i]! - (hv[i]! + damping * cur[i]!) / s
                cur[i] = c
                cn += c * c
              }
              step++
              // A contraction keeps ‖cur_t‖ ≤ (t + 1)‖v‖; growing past that means S is too small.
              if (!Number.isFinite(cn) || Math.sqrt(cn) > 10 * (t + 1) * vn) {
                return E.left(
                  errors.notConverged(
                    `LiSSA diverged at step ${t} of repeat ${r + 1} (‖cur‖ = ${Math.sqrt(cn).toExponential(2)}): the scale ${s.toPrecision(4)} is below the top eigenvalue of a mini-batch Hessian; raise options.scale or leave it automatic`,
                    step,
                    Math.sqrt(cn),
                    10 * (t + 1) * vn,
                  ),
                )
              }
              if (t > burnIn) for (let i = 0; i < p; i++) tail[i]! += cur[i]!
              if (t % checkEvery === 0 || t === depth) {
                const count = Math.max(0, t - burnIn)
                const est = new Float64Array(p)
                for (let i = 0; i < p; i++) est[i] = (count > 0 ? tail[i]! / count : cur[i]!) / s
                history.push({ step, residual: residualOf(op, damping, est, v) })
                products++
              }
            }
            const count = depth - burnIn
            for (let i = 0; i < p; i++) sum[i]! += tail[i]! / count / s / repeats
          }
          const residual = residualOf(op, damping, sum, v)
          products++
          if (!(residual <= tol)) {
            const hint =
              floor > 0
                ? ` (the error decays like (1 − λ_min/S)^t with λ_min ≥ ${floor.toPrecision(3)}: depth should be several × S/λ_min ≈ ${Math.ceil(s / floor)}; past that, raise repeats or batchSize)`
                : ''
            return E.left(errors.notConverged(`LiSSA with scale ${s.toPrecision(4)}, depth ${depth}, ${repeats} repeat(s)${hint}`, step, residual, tol))
          }
          return E.right({ x: sum, report: { method, iterations: step, hessianVectorProducts: products, relativeResidual: residual, residualHistory: history } })
        },
      })
    }),
    E.map(checked),
  )
}
