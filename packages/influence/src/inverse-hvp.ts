import { either as E, taskEither as TE } from 'fp-ts'
import { createRng, errors, stage, type Aborted, type ProbeError, type Rng, type RunControl, type Stage } from '@sonde/oracle'
import { conjugateGradientSteps, dot, norm2, type TwiceDifferentiable } from '@sonde/models'
import { checkControl, checkNumber, checkObject, checkRenamed, controlOf, guarded, invalidOption, modelShape, validateExamples, validateModel, type Examples } from './common.js'
import { lowerHessian } from './hessian.js'
import { choleskySolve, choleskyInPlace } from './linalg.js'

export type { Examples } from './common.js'

/** How (H + λI)⁻¹v is computed. */
export type InverseHvpMethod = 'exact' | 'cg' | 'lissa'

/**
 * Options of an inverse-Hessian-vector solve (shared by every influence function), with the run's
 * progress and abort (`signal`, `progress`): the exact Hessian build and factorisation, every CG iteration
 * and every LiSSA step check the signal and report progress, so a run of minutes stops within a
 * fraction of a second with `Aborted`.
 */
export interface InverseHvpOptions extends RunControl {
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
   * `'cg'`: stop at relative residual ‖(H + λI)x − v‖/‖v‖ ≤ tolerance (default 1e-10).
   * `'lissa'`: the largest final relative residual accepted (default 0.05); above it the
   * solve fails with `NotConverged` rather than return a poor estimate.
   */
  readonly tolerance?: number
  /** `'cg'`: most iterations (default 1,000); reaching it without `tolerance` is `NotConverged`. */
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
  /**
   * The seed: required for `'lissa'` (a safe integer; its mini-batch draws and power-iteration start), optional
   * for `'exact'` and `'cg'` (default 0; no random choice is made, the seed is recorded). Same seed, same answer.
   */
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
  /** The seed (LiSSA's draws; recorded for the deterministic methods). */
  readonly seed: number
  /**
   * (H + λI)⁻¹v. `check: false` skips what only the report needs and costs a full-data product
   * (the residual of an `'exact'` solve); CG and LiSSA always have their residual. Progress and abort: the
   * solve's own `signal`/`progress` if given, else those the solver was prepared with.
   */
  readonly solve: (v: Float64Array, options?: SolveOptions) => TE.TaskEither<ProbeError, { readonly x: Float64Array; readonly report: SolveReport }>
}

/** Options of one {@link InverseHvp.solve}. */
export interface SolveOptions extends RunControl {
  /** Compute the residual of an `'exact'` solve (one full-data product). Default true. */
  readonly check?: boolean
}


/**
 * Check the options shared by the influence functions; `InvalidOptions` names every bad one it finds first.
 *
 * @example
 * import { validateInverseHvpOptions } from '@sonde/influence'
 *
 * const ok = validateInverseHvpOptions({ method: 'lissa', seed: 3 }, 100) // Right(3): the seed
 * const bad = validateInverseHvpOptions({ method: 'lissa' }, 100) // Left(InvalidOptions at options.seed)
 */
export const validateInverseHvpOptions = (options: unknown, n: number): E.Either<ProbeError, number> => {
  const o0 = checkObject(options)
  if (E.isLeft(o0)) return o0
  const o = options as InverseHvpOptions
  const checks: ReadonlyArray<() => E.Either<ProbeError, void>> = [
    () => checkRenamed(o, { tol: 'tolerance' }),
    () => checkControl(o),
    () =>
      o.method !== undefined && o.method !== 'exact' && o.method !== 'cg' && o.method !== 'lissa'
        ? invalidOption('options.method', `is ${typeof o.method === 'string' ? JSON.stringify(o.method) : String(o.method)}; expected 'exact', 'cg' or 'lissa'`)
        : E.right(undefined),
    () => checkNumber(o.damping, 'options.damping', { min: 0 }),
    () => checkNumber(o.tolerance, 'options.tolerance', { min: 0, strict: true, max: 1, maxStrict: true }),
    () => checkNumber(o.scale, 'options.scale', { min: 0, strict: true }),
    () => checkNumber(o.maxIter, 'options.maxIter', { min: 1, integer: true }),
    () => checkNumber(o.depth, 'options.depth', { min: 1, integer: true }),
    () => checkNumber(o.repeats, 'options.repeats', { min: 1, integer: true }),
    () => checkNumber(o.batchSize, 'options.batchSize', { min: 1, integer: true }),
    () => (o.batchSize !== undefined && o.batchSize > n ? invalidOption('options.batchSize', `is ${o.batchSize}; the training set has ${n} rows`) : E.right(undefined)),
    () => checkNumber(o.checkEvery, 'options.checkEvery', { min: 1, integer: true }),
    () => (o.tailAverage !== undefined && typeof o.tailAverage !== 'boolean' ? invalidOption('options.tailAverage', `is ${typeof o.tailAverage}; expected a boolean`) : E.right(undefined)),
  ]
  for (const c of checks) {
    const r = c()
    if (E.isLeft(r)) return r
  }
  // LiSSA draws mini-batches: it needs a seed, and never quietly uses 0 for a missing one.
  if (o.method === 'lissa' && !(typeof o.seed === 'number' && Number.isSafeInteger(o.seed))) {
    return invalidOption('options.seed', `is ${typeof o.seed === 'string' ? JSON.stringify(o.seed) : String(o.seed)}; LiSSA draws random mini-batches and needs a safe-integer seed`)
  }
  if (o.seed !== undefined && !(typeof o.seed === 'number' && Number.isSafeInteger(o.seed))) {
    return invalidOption('options.seed', `is ${typeof o.seed === 'string' ? JSON.stringify(o.seed) : String(o.seed)}; expected a safe integer`)
  }
  return E.right(o.seed ?? 0)
}

const addScaled = (hv: Float64Array, v: Float64Array, lambda: number): Float64Array => {
  if (lambda !== 0) for (let i = 0; i < hv.length; i++) hv[i]! += lambda * v[i]!
  return hv
}

/** The model's Hessian-vector product, checked: p finite values, else `BadResponse`. */
const checkedOperator =
  (op: (v: Float64Array) => Float64Array, p: number) =>
  (v: Float64Array): Float64Array => {
    const hv = op(v)
    if (!(hv instanceof Float64Array) || hv.length !== p) throw new BadProduct(`the model's Hessian-vector product has ${(hv as { length?: number } | undefined)?.length} values; expected ${p}`)
    for (let i = 0; i < p; i++) if (!Number.isFinite(hv[i]!)) throw new BadProduct(`the model's Hessian-vector product is not finite (entry ${i} is ${hv[i]})`)
    return hv
  }

/** Thrown by a checked operator inside this module only; turned into `BadResponse` at the boundary. */
class BadProduct extends Error {}

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

/** Power iteration, checking `s` between products. */
const powerIteration = async (op: (v: Float64Array) => Float64Array, p: number, rng: Rng, iterations: number, s: Stage | undefined): Promise<E.Either<Aborted, number>> => {
  let v: Float64Array = new Float64Array(p)
  for (let i = 0; i < p; i++) v[i] = rng.normal()
  let lambda = 0
  for (let k = 0; k < iterations; k++) {
    if (s !== undefined) {
      const ok = await s.tick(k)
      if (E.isLeft(ok)) return ok
    }
    const n = norm2(v)
    if (n === 0) return E.right(0)
    for (let i = 0; i < p; i++) v[i]! /= n
    const hv = op(v)
    lambda = dot(v, hv)
    v = hv
  }
  return E.right(lambda)
}

/**
 * The largest eigenvalue of a symmetric positive semi-definite operator by power iteration
 * (`iterations` products from a seeded start). A lower bound that is tight to a few percent
 * after 20–30 iterations when the top of the spectrum is not clustered. `InvalidInput` for a bad `p` or
 * iteration count, `BadResponse` when the operator answers a wrong shape or a non-finite value,
 * `PluginFailed` when it throws.
 *
 * @example
 * import { createRng } from '@sonde/oracle'
 * import { topEigenvalue } from '@sonde/influence'
 *
 * const op = (v: Float64Array): Float64Array => v.map((x, i) => (i + 1) * x) // diag(1, 2, 3)
 * const top = topEigenvalue(op, 3, createRng(1)) // Right(≈ 3)
 */
export const topEigenvalue = (op: (v: Float64Array) => Float64Array, p: number, rng: Rng, iterations = 30): E.Either<ProbeError, number> => {
  if (typeof op !== 'function') return E.left(errors.invalidInput(`op is ${typeof op}; expected a function v ↦ Hv`, 'op'))
  if (!(Number.isSafeInteger(p) && p >= 1)) return E.left(errors.invalidInput(`p is ${String(p)}; expected an integer ≥ 1`, 'p'))
  if (!(Number.isSafeInteger(iterations) && iterations >= 1)) return E.left(errors.invalidInput(`iterations is ${String(iterations)}; expected an integer ≥ 1`, 'iterations'))
  if (rng === null || typeof rng !== 'object' || typeof rng.normal !== 'function') return E.left(errors.invalidInput('rng is not an Rng (createRng from @sonde/oracle)', 'rng'))
  try {
    const checked = checkedOperator(op, p)
    let v: Float64Array = new Float64Array(p)
    for (let i = 0; i < p; i++) v[i] = rng.normal()
    let lambda = 0
    for (let k = 0; k < iterations; k++) {
      const n = norm2(v)
      if (n === 0) return E.right(0)
      for (let i = 0; i < p; i++) v[i]! /= n
      const hv = checked(v)
      lambda = dot(v, hv)
      v = hv
    }
    return E.right(lambda)
  } catch (cause) {
    return E.left(fromThrown(cause))
  }
}

const fromThrown = (cause: unknown): ProbeError =>
  cause instanceof BadProduct ? errors.badResponse(cause.message) : errors.pluginFailed('the model', `a method of the white-box model threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause)

/** Async conjugate gradients on A x = b (A SPD as a product), with a progress check per iteration. */
const conjugateGradient = async (
  hv: (v: Float64Array) => Float64Array,
  b: Float64Array,
  tolerance: number,
  maxIter: number,
  s: Stage,
): Promise<E.Either<Aborted, { readonly x: Float64Array; readonly products: number; readonly residuals: readonly number[]; readonly indefinite: boolean }>> => {
  // The iteration is @sonde/models' (one body for the sync and this abortable driver).
  const steps = conjugateGradientSteps(hv, b, tolerance, maxIter)
  for (;;) {
    const r = steps.next()
    if (r.done === true) return E.right(r.value)
    const ok = await s.tick(r.value)
    if (E.isLeft(ok)) return ok
  }
}

type SolveResult = E.Either<ProbeError, { readonly x: Float64Array; readonly report: SolveReport }>

/**
 * Prepare (H + λI)⁻¹ at the model's parameters on `train`, where H is the Hessian of the
 * model's training objective (its L2 included) and λ the damping. Every later `solve(v)` reuses
 * what was prepared: the Cholesky factor (`'exact'`), the curvature (`'cg'`, `'lissa'`) and
 * LiSSA's scale. Long work reports progress (`'hessian'`, `'cholesky'`, `'lissa scale'`) and stops on
 * `options.signal` with `Aborted`.
 *
 * @example
 * // fragment: a fitted model, its training set and a test point's loss gradient
 * import { toPromise } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { prepareInverseHvp, type Examples } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * declare const testGradient: Float64Array // length model.numParams
 * const inv = await toPromise(prepareInverseHvp(model, train, { method: 'cg' }))
 * const { x } = await toPromise(inv.solve(testGradient)) // s_test = (H + λI)⁻¹ ∇ℓ(z_test)
 */
export const prepareInverseHvp = (model: TwiceDifferentiable, train: Examples, options: InverseHvpOptions = {}): TE.TaskEither<ProbeError, InverseHvp> =>
  guarded(async () => {
    const m = validateModel(model)
    if (E.isLeft(m)) return m
    const shape = modelShape(model)
    const t = validateExamples(train, 'train', shape.inputDim, shape.numClasses)
    if (E.isLeft(t)) return t
    if (train.x.rows === 0) return E.left(errors.invalidInput('train has no rows', 'train'))
    const seed = validateInverseHvpOptions(options, train.x.rows)
    if (E.isLeft(seed)) return seed
    return prepareChecked(model, train, options, seed.right)
  })

/** {@link prepareInverseHvp} on validated inputs. */
export const prepareChecked = async (model: TwiceDifferentiable, train: Examples, options: InverseHvpOptions, seed: number): Promise<E.Either<ProbeError, InverseHvp>> => {
  const n = train.x.rows
  const p = model.numParams
  const control = controlOf(options)
  const method = options.method ?? 'cg'
  const damping = options.damping ?? model.damping
  const op = checkedOperator(model.hessianOperator(train.x, train.y), p)
  // Every solver checks its right-hand side first: a NaN vector once came back as zeros with residual 0.
  const checked = (solve: (v: Float64Array, c: RunControl, check: boolean) => Promise<SolveResult>): InverseHvp['solve'] => (v, o) =>
    guarded(async () => {
      if (!(v instanceof Float64Array) || v.length !== p) return E.left(errors.shapeMismatch('v', `a Float64Array of ${p} values (model.numParams)`, v instanceof Float64Array ? `${v.length} values` : typeof v))
      const bad = v.findIndex((x) => !Number.isFinite(x))
      if (bad >= 0) return E.left(errors.invalidInput(`v[${bad}] is ${v[bad]}; the right-hand side must be finite`, `v[${bad}]`))
      if (o !== undefined) {
        const c = E.chain(() => checkControl(o))(checkObject(o, 'options'))
        if (E.isLeft(c)) return c
      }
      const c = o?.signal !== undefined || o?.progress !== undefined ? controlOf(o) : control
      try {
        return await solve(v, c, o?.check ?? true)
      } catch (cause) {
        if (cause instanceof BadProduct) return E.left(errors.badResponse(cause.message))
        throw cause
      }
    })
  try {
    if (method === 'exact') {
      const h = await lowerHessian(model, train, stage(control, 'hessian', n))
      if (E.isLeft(h)) return h
      const l = await choleskyInPlace(h.right, damping, stage(control, 'cholesky', p))
      if (E.isLeft(l)) return l
      const factor = l.right
      return E.right({
        method,
        damping,
        preparationProducts: 0,
        seed,
        solve: checked(async (v, c, check) => {
          const ok = stage(c, 'exact solve', 1).check(0)
          if (E.isLeft(ok)) return ok
          const x = choleskySolve(factor, p, v)
          return E.right({
            x,
            report: { method, iterations: 0, hessianVectorProducts: check ? 1 : 0, relativeResidual: check ? residualOf(op, damping, x, v) : Number.NaN, residualHistory: [] },
          })
        }),
      })
    }
    if (method === 'cg') {
      const tolerance = options.tolerance ?? 1e-10
      const maxIter = options.maxIter ?? 1000
      return E.right({
        method,
        damping,
        preparationProducts: 0,
        seed,
        solve: checked(async (v, c) => {
          const cg = await conjugateGradient((u) => addScaled(op(u), u, damping), v, tolerance, maxIter, stage(c, 'cg', maxIter))
          if (E.isLeft(cg)) return cg
          const { products, residuals, indefinite } = cg.right
          const history = residuals.map((residual, k) => ({ step: k + 1, residual }))
          const last = history.length === 0 ? 0 : history[history.length - 1]!.residual
          if (indefinite) {
            return E.left(errors.infeasible(`conjugate gradients met non-positive curvature after ${products} iterations: H + ${damping}·I is not positive definite; raise options.damping`))
          }
          if (!(last <= tolerance)) return E.left(errors.notConverged(`conjugate gradients on H + ${damping}·I`, products, last, tolerance))
          return E.right({ x: cg.right.x, report: { method, iterations: products, hessianVectorProducts: products, relativeResidual: last, residualHistory: history } })
        }),
      })
    }
    return await prepareLissa(model, train, options, seed, op, damping, control, checked)
  } catch (cause) {
    if (cause instanceof BadProduct) return E.left(errors.badResponse(cause.message))
    throw cause
  }
}

const prepareLissa = async (
  model: TwiceDifferentiable,
  train: Examples,
  options: InverseHvpOptions,
  seed: number,
  op: (v: Float64Array) => Float64Array,
  damping: number,
  control: RunControl,
  checked: (solve: (v: Float64Array, c: RunControl, check: boolean) => Promise<SolveResult>) => InverseHvp['solve'],
): Promise<E.Either<ProbeError, InverseHvp>> => {
  const n = train.x.rows
  const p = model.numParams
  const method = 'lissa' as const
  const depth = options.depth ?? 5000
  const repeats = options.repeats ?? 1
  const batchSize = Math.min(options.batchSize ?? 32, n)
  const checkEvery = options.checkEvery ?? Math.max(1, Math.floor(depth / 10))
  const tolerance = options.tolerance ?? 0.05
  const tailAverage = options.tailAverage ?? true
  const rng = createRng(seed)
  let prepared = 0
  let scale = options.scale
  if (scale === undefined) {
    const eigRng = rng.fork()
    const s = stage(control, 'lissa scale', 9)
    const full = await powerIteration(op, p, eigRng, 30, s)
    if (E.isLeft(full)) return full
    let top = full.right
    prepared += 30
    for (let b = 0; b < 8; b++) {
      const batch = randomBatch(train, batchSize, eigRng)
      const e = await powerIteration(checkedOperator(model.hessianOperator(batch.x, batch.y), p), p, eigRng, 20, s)
      if (E.isLeft(e)) return e
      top = Math.max(top, e.right)
    }
    scale = 1.25 * (top + damping)
  }
  const S = scale
  const floor = model.l2 + damping
  return E.right({
    method,
    damping,
    scale: S,
    preparationProducts: prepared,
    seed,
    solve: checked(async (v, c) => {
      const solveRng = rng.fork()
      const s = stage(c, 'lissa', depth * repeats)
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
          const ok = await s.tick(step)
          if (E.isLeft(ok)) return ok
          const batch = randomBatch(train, batchSize, solveRng)
          const hv = checkedOperator(model.hessianOperator(batch.x, batch.y), p)(cur)
          let cn = 0
          for (let i = 0; i < p; i++) {
            const next = v[i]! + cur[i]! - (hv[i]! + damping * cur[i]!) / S
            cur[i] = next
            cn += next * next
          }
          step++
          // A contraction keeps ‖cur_t‖ ≤ (t + 1)‖v‖; growing past that means S is too small.
          if (!Number.isFinite(cn) || Math.sqrt(cn) > 10 * (t + 1) * vn) {
            return E.left(
              errors.notConverged(
                `LiSSA diverged at step ${t} of repeat ${r + 1} (‖cur‖ = ${Math.sqrt(cn).toExponential(2)}): the scale ${S.toPrecision(4)} is below the top eigenvalue of a mini-batch Hessian; raise options.scale or leave it automatic`,
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
            for (let i = 0; i < p; i++) est[i] = (count > 0 ? tail[i]! / count : cur[i]!) / S
            history.push({ step, residual: residualOf(op, damping, est, v) })
            products++
          }
        }
        const count = depth - burnIn
        for (let i = 0; i < p; i++) sum[i]! += tail[i]! / count / S / repeats
      }
      const residual = residualOf(op, damping, sum, v)
      products++
      if (!(residual <= tolerance)) {
        const hint =
          floor > 0
            ? ` (the error decays like (1 − λ_min/S)^t with λ_min ≥ ${floor.toPrecision(3)}: depth should be several × S/λ_min ≈ ${Math.ceil(S / floor)}; past that, raise repeats or batchSize)`
            : ''
        return E.left(errors.notConverged(`LiSSA with scale ${S.toPrecision(4)}, depth ${depth}, ${repeats} repeat(s)${hint}`, step, residual, tolerance))
      }
      return E.right({ x: sum, report: { method, iterations: step, hessianVectorProducts: products, relativeResidual: residual, residualHistory: history } })
    }),
  })
}
