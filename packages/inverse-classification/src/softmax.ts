import { either as E, function as F } from 'fp-ts'
import { errors, noQueries, validateSeed, type Matrix, type ProbeError } from '@sonde/oracle'
import { kktResidual, type LinearConstraints } from './constraints.js'
import { gramCache, type GramCache } from './gram.js'
import { solveNnqp, type HessianColumns } from './nnqp.js'
import {
  clipAlong,
  distance,
  recordOf,
  resolveProblem,
  scaleGuard,
  softmaxLogits,
  type InverseOptions,
  type InverseResult,
  type ResolvedProblem,
  type SoftmaxModel,
  type Solution,
} from './problem.js'
import { solveProbability } from './probability.js'

/**
 * A checked softmax model with M = W Wᵀ computed on demand and kept ({@link GramCache}), shared by every
 * query on it. Preparing costs one pass over W (the checks); a margin query without a box then computes
 * only the rows of M that its active set touches (the target's and each competitor that enters), one pass
 * over W each, and reuses rows earlier queries computed. The other forms (a box, a target probability) use
 * the whole M, computed at their first query (K²D/2 multiply-adds) and kept.
 */
export interface PreparedSoftmax {
  readonly model: SoftmaxModel
  /** M = W Wᵀ, row by row on demand. */
  readonly gram: GramCache
  /** The largest |weight| and |bias|, for the solvers' float64 range check. */
  readonly scale: { readonly weights: number; readonly bias: number }
}

/**
 * Check a softmax model once, for {@link inverseSoftmax} and {@link inverseSoftmaxBatch} over many
 * queries: nothing of M = W Wᵀ is computed here (O(KD), the checks); the queries compute the rows they need
 * and keep them for the next ones. Call `prepared.gram.full()` to pay for all of M up front.
 *
 * @example
 * import { SoftmaxRegression } from '@sonde/models'
 * import { prepareSoftmax } from '@sonde/inverse-classification'
 *
 * const model = SoftmaxRegression.random(784, 10, 1) // any { weights: K×D Matrix, bias }
 * const prepared = prepareSoftmax(model) // Either<ProbeError, PreparedSoftmax>
 */
export const prepareSoftmax = (model: SoftmaxModel): E.Either<ProbeError, PreparedSoftmax> => {
  const weights: unknown = model === null || typeof model !== 'object' ? undefined : model.weights
  const bias: unknown = model === null || typeof model !== 'object' ? undefined : model.bias
  if (weights === null || typeof weights !== 'object' || !((weights as Matrix).data instanceof Float64Array)) {
    return E.left(errors.invalidInput('model is not a softmax model; expected { weights: Matrix (K × D), bias: Float64Array (K) }', 'model.weights'))
  }
  const { rows: k, cols: d, data: w } = weights as Matrix
  if (!Number.isSafeInteger(k) || !Number.isSafeInteger(d) || k < 0 || d < 0 || w.length !== k * d) {
    return E.left(errors.shapeMismatch('model.weights', `rows × cols values (non-negative integers)`, `${String(k)} × ${String(d)} with ${w.length} values`))
  }
  if (k < 2) return E.left(errors.invalidInput(`model.weights has ${k} rows; a softmax model needs at least 2 classes`, 'model.weights'))
  if (d < 1) return E.left(errors.invalidInput('model.weights has 0 columns; a softmax model needs at least 1 feature', 'model.weights'))
  if (!(bias instanceof Float64Array)) return E.left(errors.invalidInput(`model.bias is not a Float64Array of ${k} values`, 'model.bias'))
  if (bias.length !== k) return E.left(errors.shapeMismatch('model.bias', `${k} values (one per class)`, `${bias.length} values`))
  // One tight pass (a cold query pays it): NaN fails both comparisons, ±Infinity raises wMax to Infinity.
  let wMax = 0
  let bad = false
  for (let i = 0; i < w.length; i++) {
    const a = Math.abs(w[i]!)
    if (a > wMax) wMax = a
    else if (!(a <= wMax)) bad = true
  }
  if (bad || wMax === Infinity) {
    const i = w.findIndex((v) => !Number.isFinite(v))
    return E.left(errors.invalidInput(`model.weights[${Math.floor(i / d)}][${i % d}] is ${w[i]}; expected a finite number`, `model.weights[${Math.floor(i / d)}][${i % d}]`))
  }
  let bMax = 0
  for (let i = 0; i < k; i++) {
    if (!Number.isFinite(bias[i]!)) return E.left(errors.invalidInput(`model.bias[${i}] is ${bias[i]}; expected a finite number`, `model.bias[${i}]`))
    bMax = Math.max(bMax, Math.abs(bias[i]!))
  }
  if (!(wMax * wMax * d <= 1e300)) return E.left(errors.invalidInput(`model.weights go up to ${wMax.toPrecision(3)}; W Wᵀ overflows float64 over ${d} features — rescale the model`, 'model.weights'))
  const gram = gramCache(w, k, d)
  const out: PreparedSoftmax = { model, gram, scale: { weights: wMax, bias: bMax } }
  genuine.set(out, w)
  return E.right(out)
}

/** Preparations made by {@link prepareSoftmax}, with the weights they were made for. */
const genuine = new WeakMap<object, Float64Array>()

/** The NNQP's own KKT residual at λ: the largest |min(λⱼ, (Hλ + q)ⱼ)| (0 at its optimum). */
const nnqpResidual = (h: Float64Array | HessianColumns, q: Float64Array, m: number, lambda: Float64Array): number => {
  const g = q.slice()
  for (let c = 0; c < m; c++) {
    if (lambda[c] === 0) continue
    const col = h instanceof Float64Array ? h.subarray(c * m, (c + 1) * m) : h.column(c)
    for (let j = 0; j < m; j++) g[j]! += col[j]! * lambda[c]!
  }
  let r = 0
  for (let j = 0; j < m; j++) r = Math.max(r, Math.abs(Math.min(lambda[j]!, g[j]!)))
  return r
}

const isPrepared = (m: SoftmaxModel | PreparedSoftmax): m is PreparedSoftmax => m !== null && typeof m === 'object' && 'gram' in m

/** A prepared model is trusted only if prepareSoftmax made it for these weights (a hand-made one is re-prepared). */
const prepared = (m: SoftmaxModel | PreparedSoftmax): E.Either<ProbeError, PreparedSoftmax> => {
  if (!isPrepared(m)) return prepareSoftmax(m)
  const w = genuine.get(m)
  return w !== undefined && m.model?.weights?.data === w ? E.right(m) : prepareSoftmax(m.model)
}

/** The margin constraints of target t: gⱼ(x) = (w_t − w_c)ᵀx + b_t − b_c − τ for each competitor c. */
export const marginConstraints = (model: SoftmaxModel, t: number, tau: number): LinearConstraints & { readonly classOf: Int32Array } => {
  const { rows: k, cols: d, data: w } = model.weights
  const classOf = Int32Array.from({ length: k - 1 }, (_, j) => (j < t ? j : j + 1))
  return {
    m: k - 1,
    classOf,
    value: (j, x) => {
      const c = classOf[j]!
      let s = model.bias[t]! - model.bias[c]! - tau
      for (let i = 0; i < d; i++) s += (w[t * d + i]! - w[c * d + i]!) * x[i]!
      return s
    },
    addRow: (j, alpha, out) => {
      const c = classOf[j]!
      const to = t * d
      const co = c * d
      for (let i = 0; i < d; i++) out[i]! += alpha * (w[to + i]! - w[co + i]!)
    },
    values: (x) => {
      // One pass per class for the logits, then the differences: K·D instead of 2(K−1)·D.
      const z = softmaxLogits(model, x)
      return Float64Array.from(classOf, (c) => z[t]! - z[c]! - tau)
    },
  }
}

/**
 * The margin problem without a box: min ½‖x − x0‖² s.t. (w_t − w_c)ᵀx + b_t − b_c ≥ τ, by the dual NNQP with
 * H[i][j] = M_tt − M_t,ci − M_t,cj + M_ci,cj. H is never formed: the active-set solver asks for the columns
 * of its passive set and of the entering index only, each from row t and row c_j of M, which the
 * preparation's {@link GramCache} computes on first use (one pass over W) and keeps for later queries.
 */
const solveMarginFree = (
  prep: PreparedSoftmax,
  p: ResolvedProblem,
  cons: ReturnType<typeof marginConstraints>,
  q: Float64Array,
  finish: (x: Float64Array, lambda: Float64Array, iterations: number) => Solution,
): E.Either<ProbeError, Solution> => {
  const { model, gram } = prep
  const t = p.target
  const m = model.weights.rows - 1
  const classOf = cons.classOf
  const rowT = gram.row(t)
  const columns = new Map<number, Float64Array>()
  const hessian: HessianColumns = {
    column: (j) => {
      let col = columns.get(j)
      if (col === undefined) {
        const cj = classOf[j]!
        const rowJ = gram.row(cj)
        const base = rowT[t]! - rowT[cj]!
        col = new Float64Array(m)
        for (let i = 0; i < m; i++) {
          const ci = classOf[i]!
          col[i] = base - rowT[ci]! + rowJ[ci]!
        }
        columns.set(j, col)
      }
      return col
    },
  }
  // G from M loses the digits of ‖w_t − w_c‖² when classes nearly coincide (M_tt − 2M_tc + M_cc cancels): an
  // infeasibility certificate or an answer that fails its KKT check is settled again with H's columns formed
  // from the differences w_t − w_c themselves (one pass over W per column; the old dense refresh did the same).
  const { cols: d, data: w } = model.weights
  const exactColumns = new Map<number, Float64Array>()
  const exact: HessianColumns = {
    column: (j) => {
      let col = exactColumns.get(j)
      if (col === undefined) {
        const a = new Float64Array(d)
        cons.addRow(j, 1, a)
        col = new Float64Array(m)
        for (let r = 0; r < m; r++) {
          const co = classOf[r]! * d
          const to = t * d
          let s0 = 0
          for (let i = 0; i < d; i++) s0 += (w[to + i]! - w[co + i]!) * a[i]!
          col[r] = s0
        }
        exactColumns.set(j, col)
      }
      return col
    },
  }
  let scale = 1
  for (let j = 0; j < m; j++) scale = Math.max(scale, Math.abs(q[j]!))
  let iterations = 0
  let last: E.Either<ProbeError, Solution> = E.left(errors.notConverged('inverse softmax (the dual NNQP)', 0, Number.POSITIVE_INFINITY, 1e-13))
  for (const h of [hessian, exact]) {
    const sol = solveNnqp(h, q, m)
    iterations += sol.iterations + 1
    if (!sol.converged) {
      last = E.left(errors.notConverged('inverse softmax (the dual NNQP)', iterations, nnqpResidual(h, q, m, sol.lambda), 1e-13))
      continue
    }
    if (sol.unbounded !== undefined) {
      // d ≥ 0 with Σ dⱼ aⱼ = 0 and Σ dⱼ gⱼ(x0) < 0: a combination of the constraints that no x satisfies.
      const against = Array.from(sol.unbounded, (v, j) => (v > 0 ? classOf[j]! : -1)).filter((c) => c >= 0)
      last = E.left(errors.infeasible(`no point puts class ${t} ${p.margin} above classes ${against.join(', ')} at once`))
      continue
    }
    const lambda = sol.lambda
    const x = p.x0.slice()
    for (let j = 0; j < m; j++) if (lambda[j]! > 0) cons.addRow(j, lambda[j]!, x)
    const result = finish(x, lambda, iterations)
    let lmax = 1
    for (let j = 0; j < m; j++) lmax = Math.max(lmax, lambda[j]!)
    // The certificate is enforced, not just reported (as in the boxed solver below).
    const tolerance = 1e-9 * scale * lmax
    if (result.kktResidual <= tolerance) return E.right(result)
    last = E.left(errors.notConverged('inverse softmax (the dual NNQP)', result.iterations, result.kktResidual, tolerance))
  }
  return last
}

/**
 * Exact projection onto {x : f_t(x) − f_c(x) ≥ τ ∀c ≠ t} ∩ box by the dual: λ ≥ 0 over the K−1
 * competitors, x(λ) = clip(x0 + Σ λ_c (w_t − w_c)). For a fixed set of clipped coordinates the
 * dual is a non-negative QP with H = A_F A_Fᵀ (A_F: the constraint rows on free coordinates),
 * formed from M = WWᵀ with rank-one corrections for clipped coordinates; the clipped set is
 * updated from x(λ) until it no longer changes (a primal-dual active-set iteration).
 */
export const solveMargin = (prep: PreparedSoftmax, p: ResolvedProblem, tau: number): E.Either<ProbeError, Solution> => {
  const { model } = prep
  const { rows: k, cols: d, data: w } = model.weights
  const t = p.target
  const { x0, lower, upper } = p
  const cons = marginConstraints(model, t, tau)
  const m = k - 1
  const classOf = cons.classOf

  const finish = (x: Float64Array, lambda: Float64Array, iterations: number): Solution => {
    const multipliers = new Float64Array(k)
    const active: number[] = []
    lambda.forEach((l, j) => {
      multipliers[classOf[j]!] = l
      if (l > 0) active.push(classOf[j]!)
    })
    return {
      x,
      distance: distance(x, x0),
      kktResidual: kktResidual(cons, x, x0, lower, upper, lambda),
      iterations,
      activeClasses: Int32Array.from(active),
      multipliers,
    }
  }

  // x̃: x0 on free coordinates, the bound on clipped ones; q = g(x̃), the dual's linear term. A coordinate
  // starts clipped only when x0 is strictly outside the box: one on its bound starts free, since the
  // constraints may pull it inside.
  const xt = clipAlong(x0, 0, undefined, lower, upper)
  const clipped = new Uint8Array(d)
  // A coordinate with lower = upper (an immutable feature) is clipped for good.
  const fixed = (i: number): boolean => lower[i] === upper[i]
  for (let i = 0; i < d; i++) clipped[i] = fixed(i) || x0[i]! < lower[i]! || x0[i]! > upper[i]! ? 1 : 0
  // Without a box the target's row of M is needed at once: it shares its pass over W with the logits of x0.
  let q: Float64Array
  if (p.boxed) q = cons.values(xt)
  else {
    const { product } = prep.gram.rowAndProduct(t, xt)
    const z = Float64Array.from(product, (v, c) => model.bias[c]! + v)
    q = Float64Array.from(classOf, (c) => z[t]! - z[c]! - tau)
  }
  if (q.every((v) => v >= 0)) return E.right(finish(xt, new Float64Array(m), 0))
  if (!p.boxed) return solveMarginFree(prep, p, cons, q, finish)
  const gram = prep.gram.full()

  if (p.boxed) {
    // A competitor no point of the box can beat by τ makes the problem infeasible.
    for (let j = 0; j < m; j++) {
      const c = classOf[j]!
      let best = model.bias[t]! - model.bias[c]! - tau
      for (let i = 0; i < d; i++) {
        const a = w[t * d + i]! - w[c * d + i]!
        best += a > 0 ? a * upper[i]! : a < 0 ? a * lower[i]! : 0
      }
      if (best < 0) {
        return E.left(errors.infeasible(`no point within the bounds (and immutable features) puts class ${t} ${tau} above class ${c}: the best reachable margin is ${(best + tau).toPrecision(6)}`))
      }
    }
  }

  // H = G − Σ_{clipped i} aᵢaᵢᵀ, with G[i][j] = M_tt − M_t,ci − M_t,cj + M_ci,cj.
  const h = new Float64Array(m * m)
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) {
      const ca = classOf[a]!
      const cb = classOf[b]!
      h[a * m + b] = gram[t * k + t]! - gram[t * k + ca]! - gram[t * k + cb]! + gram[ca * k + cb]!
    }
  }
  const column = new Float64Array(m)
  const columnOf = (i: number): Float64Array => {
    for (let j = 0; j < m; j++) column[j] = w[t * d + i]! - w[classOf[j]! * d + i]!
    return column
  }
  const rankOne = (i: number, sign: number): void => {
    const a = columnOf(i)
    for (let r = 0; r < m; r++) {
      const ar = sign * a[r]!
      if (ar === 0) continue
      for (let c = 0; c < m; c++) h[r * m + c]! += ar * a[c]!
    }
  }
  for (let i = 0; i < d; i++) if (clipped[i] === 1) rankOne(i, -1)
  /** Move coordinate i to the state (clipped at `value`, or free) and update q and H to match. */
  const setState = (i: number, nowClipped: number, value: number): void => {
    const a = columnOf(i)
    const dx = value - xt[i]!
    if (dx !== 0) for (let j = 0; j < m; j++) q[j]! += a[j]! * dx
    if (nowClipped !== clipped[i]) rankOne(i, nowClipped === 1 ? -1 : 1)
    clipped[i] = nowClipped
    xt[i] = value
  }

  let lambda: Float64Array = new Float64Array(m)
  let iterations = 0
  const y = new Float64Array(d)
  const scale = Math.max(1, ...Array.from(q, Math.abs))
  /**
   * H and q formed afresh from the free coordinates (O(m²·|F|)). The downdated H = G − Σ_clipped aᵢaᵢᵀ loses
   * a free part far smaller than the clipped one to cancellation, and q drifts with its updates; an
   * infeasibility certificate is trusted only from these. Undefined when a free coordinate's constraint
   * weight is so small that its square underflows float64 (the dual cannot see it).
   */
  const refresh = (): E.Either<ProbeError, void> => {
    h.fill(0)
    for (let i = 0; i < d; i++) {
      if (clipped[i] === 1) continue
      const a = columnOf(i)
      for (let j = 0; j < m; j++) {
        const v = Math.abs(a[j]!)
        if (v !== 0 && v < 1e-150) {
          return E.left(errors.invalidInput(`feature ${i} separates class ${t} from class ${classOf[j]} by a weight of ${v.toExponential(2)}: its square underflows float64 in the solver; rescale the model or the features`, 'model.weights'))
        }
      }
      rankOne(i, 1)
    }
    q.set(cons.values(xt))
    return E.right(undefined)
  }
  for (let outer = 0; outer < 50 * (d + m); outer++) {
    let sol = solveNnqp(h, q, m, lambda)
    if (sol.converged && sol.unbounded !== undefined) {
      iterations += sol.iterations + 1
      const fresh = refresh()
      if (E.isLeft(fresh)) return fresh
      sol = solveNnqp(h, q, m, lambda)
    }
    iterations += sol.iterations + 1
    lambda = sol.lambda
    if (!sol.converged) return E.left(errors.notConverged('inverse softmax (the dual NNQP)', iterations, nnqpResidual(h, q, m, lambda), 1e-13))
    y.set(x0)
    for (let j = 0; j < m; j++) if (lambda[j]! > 0) cons.addRow(j, lambda[j]!, y)
    if (sol.unbounded !== undefined) {
      // With these coordinates held at their bounds the constraints cannot all be met; moving λ along d
      // leaves the free coordinates where they are (A_F ᵀd = 0) and moves the clipped ones. If one of them
      // moves into the box, free it at the first such point; if none does, the dual is unbounded on the
      // whole box and the problem is infeasible (d is the certificate).
      const dir = sol.unbounded
      const slope = new Float64Array(d)
      for (let j = 0; j < m; j++) if (dir[j] !== 0) cons.addRow(j, dir[j]!, slope)
      let step = Infinity
      let entering = -1
      for (let i = 0; i < d; i++) {
        if (clipped[i] === 0 || fixed(i)) continue
        const atLower = xt[i] === lower[i]
        const s = atLower ? (slope[i]! > 0 ? (lower[i]! - y[i]!) / slope[i]! : Infinity) : slope[i]! < 0 ? (upper[i]! - y[i]!) / slope[i]! : Infinity
        if (Math.max(0, s) < step) {
          step = Math.max(0, s)
          entering = i
        }
      }
      if (entering < 0) {
        const against = Array.from(dir, (v, j) => (v > 0 ? classOf[j]! : -1)).filter((c) => c >= 0)
        return E.left(errors.infeasible(`no point within the bounds (and immutable features) puts class ${t} ${tau} above classes ${against.join(', ')} at once`))
      }
      for (let j = 0; j < m; j++) lambda[j] = Math.max(0, lambda[j]! + step * dir[j]!)
      setState(entering, 0, x0[entering]!)
      continue
    }
    // A coordinate changes state only when y leaves the box strictly (free → clipped at the bound it
    // crossed) or moves strictly off its bound towards the inside (clipped → free, even if y lies beyond
    // the far bound: it must pass through the interior, which keeps it from jumping between bounds). On
    // its bound it stays as it is, which keeps degenerate problems from cycling. Past d + m rounds, one
    // coordinate changes per round: the one that violates most.
    const single = outer >= d + m
    let changed = 0
    let worst = -1
    let worstBy = -Infinity
    for (let i = 0; i < d; i++) {
      const lo = lower[i]!
      const hi = upper[i]!
      if (fixed(i)) continue
      let by: number
      if (clipped[i] === 0) by = Math.max(lo - y[i]!, y[i]! - hi)
      else by = xt[i] === lo ? y[i]! - lo : hi - y[i]!
      // Rounding in y (≈ 1e-16 of its terms) must not flip a coordinate that sits on its bound.
      if (!(by > 1e-12 * Math.max(1, Math.abs(y[i]!)))) continue
      if (single) {
        if (by > worstBy) {
          worst = i
          worstBy = by
        }
        continue
      }
      if (clipped[i] === 1) setState(i, 0, x0[i]!)
      else setState(i, 1, y[i]! < lo ? lo : hi)
      changed++
    }
    if (single && worst >= 0) {
      if (clipped[worst] === 1) setState(worst, 0, x0[worst]!)
      else setState(worst, 1, y[worst]! < lower[worst]! ? lower[worst]! : upper[worst]!)
      changed++
    }
    if (changed === 0) {
      const x = clipAlong(y, 0, undefined, lower, upper)
      const result = finish(x, lambda, iterations)
      // The certificate is enforced, not just reported: rounding aside, KKT holds exactly at this point.
      // Complementarity |λⱼ gⱼ| is a product, so the tolerance scales with the largest multiplier too.
      const tolerance = 1e-9 * scale * Math.max(1, ...Array.from(lambda))
      if (!(result.kktResidual <= tolerance)) return E.left(errors.notConverged('inverse softmax (active set over clipped coordinates)', iterations, result.kktResidual, tolerance))
      return E.right(result)
    }
  }
  const last = finish(clipAlong(y, 0, undefined, lower, upper), lambda, iterations)
  return E.left({
    ...errors.notConverged('inverse softmax (active set over clipped coordinates)', iterations, last.kktResidual, 1e-9 * scale * Math.max(1, ...Array.from(lambda))),
    message: `inverse softmax did not converge: the set of clipped coordinates still changed after ${50 * (d + m)} rounds (${iterations} iterations); please report the problem`,
  })
}

/** Competitors added to the restricted problem per round (the most violated first). */
const ENTERING = 8
/** With a box, more classes than this are solved over a growing set of competitors (measured: 2× slower at K = 10, 2.5× faster at K = 100). */
const RESTRICT_ABOVE = 16

/**
 * The margin problem with a box, over a growing set S of competitors: solve it exactly with S's constraints only
 * ({@link solveMargin} on the model restricted to the target and S), then check every competitor at the answer
 * (one pass over W) and add the most violated to S. The restricted problem is a relaxation, so an answer that
 * meets every constraint is the optimum, and a restriction with no feasible point proves the whole problem has
 * none; S only grows, so this ends within K − 1 rounds. The solver's work grows with |S|² instead of K², and
 * only S's rows of W are copied.
 */
export const solveMarginRestricted = (prep: PreparedSoftmax, p: ResolvedProblem, tau: number): E.Either<ProbeError, Solution> => {
  const { model } = prep
  const { rows: k, cols: d, data: w } = model.weights
  const t = p.target
  const cons = marginConstraints(model, t, tau)
  const m = k - 1
  const classOf = cons.classOf
  const { x0, lower, upper } = p
  let x = clipAlong(x0, 0, undefined, lower, upper)
  const q = cons.values(x)
  let g = q
  const inS = new Uint8Array(k)
  const set: number[] = []
  let lambda = new Float64Array(m)
  let iterations = 0
  for (let round = 0; round <= m; round++) {
    const violated: number[] = []
    for (let j = 0; j < m; j++) if (g[j]! < 0 && inS[classOf[j]!] === 0) violated.push(j)
    if (violated.length === 0) break
    violated.sort((a, b) => g[a]! - g[b]!)
    for (const j of violated.slice(0, ENTERING)) {
      inS[classOf[j]!] = 1
      set.push(classOf[j]!)
    }
    // The model restricted to [t, ...S]: its class 0 is the target.
    const classes = [t, ...set]
    const sub = new Float64Array(classes.length * d)
    classes.forEach((c, a) => sub.set(w.subarray(c * d, (c + 1) * d), a * d))
    const subModel: SoftmaxModel = { weights: { rows: classes.length, cols: d, data: sub }, bias: Float64Array.from(classes, (c) => model.bias[c]!) }
    const subPrep: PreparedSoftmax = { model: subModel, gram: gramCache(sub, classes.length, d), scale: prep.scale }
    const r = solveMargin(subPrep, { ...p, target: 0 }, tau)
    if (E.isLeft(r)) {
      if (r.left._tag === 'Infeasible') {
        return E.left(errors.infeasible(`no point within the bounds (and immutable features) puts class ${t} ${tau} above classes ${[...set].sort((a, b) => a - b).join(', ')} at once`))
      }
      return r
    }
    iterations += r.right.iterations
    x = r.right.x
    lambda = new Float64Array(m)
    classes.forEach((c, a) => {
      if (a > 0) lambda[c < t ? c : c - 1] = r.right.multipliers[a]!
    })
    g = cons.values(x)
  }
  const multipliers = new Float64Array(k)
  const active: number[] = []
  lambda.forEach((l, j) => {
    multipliers[classOf[j]!] = l
    if (l > 0) active.push(classOf[j]!)
  })
  const kkt = kktResidual(cons, x, x0, lower, upper, lambda)
  let scale = 1
  for (let j = 0; j < m; j++) scale = Math.max(scale, Math.abs(q[j]!))
  let lmax = 1
  for (let j = 0; j < m; j++) lmax = Math.max(lmax, lambda[j]!)
  const tolerance = 1e-9 * scale * lmax
  if (!(kkt <= tolerance)) return E.left(errors.notConverged('inverse softmax (competitors added as they are violated)', iterations, kkt, tolerance))
  return E.right({ x, distance: distance(x, x0), kktResidual: kkt, iterations, activeClasses: Int32Array.from(active).sort(), multipliers })
}

/**
 * The closest point to `x0` (Euclidean) that a softmax classifier assigns to `options.target`,
 * with logit margin ε over every other class (default {@link DEFAULT_MARGIN}) or with target
 * probability ≥ p, inside the box `options.domain`, immutable features unchanged.
 *
 * Exact: solved through the dual in at most K−1 variables; the answer satisfies the KKT
 * conditions to rounding — see `result.kktResidual`. Nothing is precomputed: a margin query without a
 * box computes only the rows of M = WWᵀ its active set needs (one pass over W each); pass a
 * {@link PreparedSoftmax} to keep those rows for later queries. Pure and deterministic: `queries` is
 * `noQueries`, an optional `seed` is echoed; bad options are `InvalidOptions` listing every bad path.
 *
 * Gotchas: with a box or immutables the target can be out of reach — you get `Infeasible`,
 * never a guess. A box, immutables or a `probability` use the whole of M (K²D/2 multiply-adds at
 * the first such query on a preparation). `probability` with a box is solved by projected Newton
 * on x for each multiplier and a safeguarded Newton search on the multiplier; `NotConverged` there
 * would be a bug (0 in 1,000 random problems).
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { inverseSoftmax, prepareSoftmax } from '@sonde/inverse-classification'
 *
 * const model = SoftmaxRegression.random(784, 10, 1)
 * const x0 = new Float64Array(784).fill(0.5)
 * const r = inverseSoftmax(model, x0, { target: 3, probability: 0.9 }) // Right({ x, distance, kktResidual, … })
 * const prepared = prepareSoftmax(model) // reuse it for many queries
 * const r2 = E.isRight(prepared) ? inverseSoftmax(prepared.right, x0, { target: 8, domain: { lower: 0, upper: 1 } }) : prepared
 */
export const inverseSoftmax = (
  model: SoftmaxModel | PreparedSoftmax,
  x0: Float64Array,
  options: InverseOptions,
): E.Either<ProbeError, InverseResult> =>
  F.pipe(
    prepared(model),
    E.chain((prep) =>
      F.pipe(
        resolveProblem(x0, options, prep.model.weights.cols, prep.model.weights.rows),
        E.chain((p) => scaleGuard(prep.scale.weights, prep.scale.bias, prep.model.weights.cols, p)),
        E.chain((p) =>
          F.pipe(
            p.mode === 'margin' ? (p.boxed && prep.model.weights.rows > RESTRICT_ABOVE ? solveMarginRestricted(prep, p, p.margin) : solveMargin(prep, p, p.margin)) : solveProbability(prep, p),
            E.chain((s) => recordOf(s, p, noQueries)),
          ),
        ),
      ),
    ),
  )

/**
 * {@link inverseSoftmax} for every row of `x0s`, sharing one preparation (the rows of M = WWᵀ one query computes serve the next). Each row
 * gets its own answer or error (an infeasible row does not stop the others); a bad `x0s` or seed
 * fails the whole batch.
 *
 * @example
 * import { matrix } from '@sonde/oracle'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { inverseSoftmaxBatch } from '@sonde/inverse-classification'
 *
 * const model = SoftmaxRegression.random(784, 10, 1)
 * const x0s = matrix(4, 784, new Float64Array(4 * 784).fill(0.5)) // one input per row
 * const results = inverseSoftmaxBatch(model, x0s, { target: 8, domain: { lower: 0, upper: 1 } }) // Right([an Either per row])
 */
export const inverseSoftmaxBatch = (
  model: SoftmaxModel | PreparedSoftmax,
  x0s: Matrix,
  options: InverseOptions,
): E.Either<ProbeError, ReadonlyArray<E.Either<ProbeError, InverseResult>>> =>
  F.pipe(
    prepared(model),
    E.chain((prep) => {
      const seed = validateSeed(options?.seed === undefined ? 0 : options.seed, 'options.seed')
      return E.isLeft(seed) ? seed : E.right(prep)
    }),
    E.chain((prep) =>
      x0s === null || typeof x0s !== 'object' || !(x0s.data instanceof Float64Array) || !Number.isSafeInteger(x0s.rows) || x0s.rows < 0 || x0s.data.length !== x0s.rows * x0s.cols
        ? E.left<ProbeError>(errors.shapeMismatch('x0s', 'a Matrix (rows × cols values)', x0s === null || typeof x0s !== 'object' ? String(x0s) : `${String(x0s.rows)} × ${String(x0s.cols)}`))
        : x0s.cols !== prep.model.weights.cols
        ? E.left<ProbeError>(errors.shapeMismatch('x0s', `${prep.model.weights.cols} columns`, `${x0s.cols} columns`))
        : E.right(
            Array.from({ length: x0s.rows }, (_, r) => inverseSoftmax(prep, x0s.data.slice(r * x0s.cols, (r + 1) * x0s.cols), options)),
          ),
    ),
  )
