import { either as E } from 'fp-ts'
import { errors, type ProbeError } from '@sonde/oracle'
import { luInPlace, luSubstitute } from '@sonde/linalg'
import { distance, dot, softmaxLogits, type ResolvedProblem, type Solution } from './problem.js'
import type { PreparedSoftmax } from './softmax.js'

/** Solve A z = b (n × n, row-major, copied) by Gaussian elimination with partial pivoting; undefined when singular. */
const solveDense = (a: Float64Array, b: Float64Array, n: number): Float64Array | undefined => {
  const m = a.slice()
  const perm = new Int32Array(n)
  return luInPlace(m, n, perm).pivot >= 0 ? undefined : luSubstitute(m, n, perm, b)
}

const softmax = (z: Float64Array): Float64Array => {
  let mx = -Infinity
  for (const v of z) mx = Math.max(mx, v)
  const e = z.map((v) => Math.exp(v - mx))
  const s = e.reduce((a, v) => a + v, 0)
  return e.map((v) => v / s)
}

/** h(z) = logsumexp(z) − z_t = −log P(t | z). */
const negLogProb = (z: Float64Array, t: number): number => {
  let mx = -Infinity
  for (const v of z) mx = Math.max(mx, v)
  let s = 0
  for (const v of z) s += Math.exp(v - mx)
  return mx + Math.log(s) - z[t]!
}

/**
 * min ½‖x − x0‖² s.t. P(t | x) ≥ p for a softmax model, without bounds. The KKT conditions
 * x = x0 − μ Wᵀ(π(x) − e_t), −log π_t(x) = −log p reduce, with x = x0 + Wᵀβ, to K + 1 equations in
 * (β, μ) that involve W only through M = WWᵀ:
 *   β + μ (π(z0 + Mβ) − e_t) = 0,   logsumexp(z0 + Mβ) − (z0 + Mβ)_t = −log p,
 * solved by damped Newton; cost per iteration O(K³), independent of D.
 */
export const solveProbability = (prep: PreparedSoftmax, p: ResolvedProblem): E.Either<ProbeError, Solution> => {
  if (p.boxed) return solveProbabilityBoxed(prep, p)
  const { model } = prep
  const gram = prep.gram.full()
  const { rows: k, cols: d, data: w } = model.weights
  const t = p.target
  const c = -Math.log(p.probability)
  const z0 = softmaxLogits(model, p.x0)
  const zero = (): Solution => ({
    x: p.x0.slice(),
    distance: 0,
    kktResidual: 0,
    iterations: 0,
    activeClasses: new Int32Array(0),
    multipliers: new Float64Array(k),
  })
  if (negLogProb(z0, t) <= c) return E.right(zero())

  const zOf = (beta: Float64Array): Float64Array => {
    const z = z0.slice()
    for (let a = 0; a < k; a++) {
      let s = 0
      for (let b = 0; b < k; b++) s += gram[a * k + b]! * beta[b]!
      z[a]! += s
    }
    return z
  }
  const residual = (beta: Float64Array, mu: number): { f: Float64Array; z: Float64Array; pi: Float64Array } => {
    const z = zOf(beta)
    const pi = softmax(z)
    const f = new Float64Array(k + 1)
    for (let a = 0; a < k; a++) f[a] = beta[a]! + mu * (pi[a]! - (a === t ? 1 : 0))
    f[k] = negLogProb(z, t) - c
    return { f, z, pi }
  }
  const norm = (v: Float64Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

  let beta = new Float64Array(k)
  let mu = 0
  let cur = residual(beta, mu)
  let iterations = 0
  const n = k + 1
  while (norm(cur.f) > 1e-14 * (1 + Math.abs(mu)) && iterations < 100) {
    iterations++
    const { pi } = cur
    const g = Float64Array.from(pi, (v, a) => v - (a === t ? 1 : 0))
    // J = [[I + μ S M, g], [gᵀ M, 0]],  S = diag(π) − ππᵀ.
    const jac = new Float64Array(n * n)
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        let sm = pi[a]! * gram[a * k + b]!
        let piM = 0
        for (let e = 0; e < k; e++) piM += pi[e]! * gram[e * k + b]!
        sm -= pi[a]! * piM
        jac[a * n + b] = (a === b ? 1 : 0) + mu * sm
      }
      jac[a * n + k] = g[a]!
    }
    for (let b = 0; b < k; b++) {
      let s = 0
      for (let a = 0; a < k; a++) s += g[a]! * gram[a * k + b]!
      jac[k * n + b] = s
    }
    const step = solveDense(jac, cur.f.map((v) => -v), n)
    if (step === undefined) break
    let alpha = 1
    const base = norm(cur.f)
    for (let ls = 0; ls < 40; ls++) {
      const nb = beta.map((v, a) => v + alpha * step[a]!)
      const nm = Math.max(0, mu + alpha * step[k]!)
      const trial = residual(nb, nm)
      if (norm(trial.f) < (1 - 1e-4 * alpha) * base || ls === 39) {
        beta = nb
        mu = nm
        cur = trial
        break
      }
      alpha /= 2
    }
  }
  // x = x0 + Wᵀβ, then the certificate on x itself (not on the reduced variables).
  const x = p.x0.slice()
  for (let a = 0; a < k; a++) {
    if (beta[a] === 0) continue
    for (let i = 0; i < d; i++) x[i]! += beta[a]! * w[a * d + i]!
  }
  const z = softmaxLogits(model, x)
  const pi = softmax(z)
  const gap = negLogProb(z, t) - c
  let kkt = Math.max(0, gap, Math.abs(mu * gap), -mu)
  const y = p.x0.slice()
  for (let a = 0; a < k; a++) {
    const coef = -mu * (pi[a]! - (a === t ? 1 : 0))
    if (coef === 0) continue
    for (let i = 0; i < d; i++) y[i]! += coef * w[a * d + i]!
  }
  for (let i = 0; i < d; i++) kkt = Math.max(kkt, Math.abs(x[i]! - y[i]!))
  // Newton on the reduced system has no globalisation against an unreachable target (or a stall): the
  // projected Newton solver, which needs no box, settles it (an answer, or Infeasible).
  if (!(kkt <= 1e-8)) return solveProbabilityBoxed(prep, p)
  const multipliers = Float64Array.from(pi, (v, a) => (a === t ? 0 : mu * v))
  const active: number[] = []
  multipliers.forEach((v, a) => {
    if (v > 1e-12 * Math.max(mu, 1e-300)) active.push(a)
  })
  return E.right({ x, distance: distance(x, p.x0), kktResidual: kkt, iterations, activeClasses: Int32Array.from(active), multipliers })
}

/**
 * min ½‖x − x0‖² s.t. P(t | x) ≥ p and lower ≤ x ≤ upper. For a multiplier μ ≥ 0 the minimiser x(μ) of
 * F_μ(x) = ½‖x − x0‖² + μ·h(x) over the box (h = −log P(t | ·), convex, so F_μ is strongly convex) is found by
 * projected Newton (Bertsekas 1982): coordinates at a bound whose gradient pushes outward take a gradient step,
 * the others a Newton step with Hessian I + μ W_Fᵀ S W_F (S = diag π − ππᵀ), applied in K dimensions by the
 * Woodbury identity; an Armijo search along the projection arc makes it converge from any start. h(x(μ)) is
 * continuous and non-increasing in μ: a bracket, then safeguarded Newton (bisection where Newton leaves the
 * bracket), makes h(x(μ)) = −log p. Infeasible when even a huge μ leaves P(t) below p; on a bounded box that
 * is certified: min over the box of h ≥ h(x(μ)) − R²/(2μ), R the box's farthest point from x0.
 */
export const solveProbabilityBoxed = (prep: PreparedSoftmax, p: ResolvedProblem): E.Either<ProbeError, Solution> => {
  const { model } = prep
  const { rows: k, cols: d, data: w } = model.weights
  const t = p.target
  const c = -Math.log(p.probability)
  const { x0, lower, upper } = p
  const clipInto = (v: number, i: number): number => (v < lower[i]! ? lower[i]! : v > upper[i]! ? upper[i]! : v)

  /** γ = π − e_t, with γ_t = −Σ_{a≠t} πₐ: π_t − 1 loses every digit of γ_t as P(t) nears 1. */
  const gammaOf = (pi: Float64Array): Float64Array => {
    const gamma = pi.slice()
    let rest = 0
    for (let a = 0; a < k; a++) if (a !== t) rest += pi[a]!
    gamma[t] = -rest
    return gamma
  }
  /** Everything at x for a given μ: logits, π, γ = π − e_t, h, v = Wᵀγ, the gradient of F_μ and F_μ itself. */
  interface Point {
    readonly x: Float64Array
    readonly z: Float64Array
    readonly pi: Float64Array
    readonly gamma: Float64Array
    readonly h: number
    readonly v: Float64Array
    readonly grad: Float64Array
    readonly f: number
    /** ‖x − clip(x − ∇F_μ)‖∞: 0 exactly at x(μ). */
    readonly residual: number
    /** The size the residual is measured against (rounding in x and in μ·Wᵀγ). */
    readonly scale: number
  }
  const at = (x: Float64Array, mu: number): Point => {
    const z = softmaxLogits(model, x)
    const pi = softmax(z)
    const gamma = gammaOf(pi)
    const v = new Float64Array(d)
    const terms = new Float64Array(d)
    for (let a = 0; a < k; a++) {
      const g = gamma[a]!
      if (g === 0) continue
      const o = a * d
      for (let i = 0; i < d; i++) {
        v[i]! += g * w[o + i]!
        terms[i]! += Math.abs(g * w[o + i]!)
      }
    }
    const grad = new Float64Array(d)
    let dist2 = 0
    let residual = 0
    let scale = 1
    for (let i = 0; i < d; i++) {
      const dx = x[i]! - x0[i]!
      dist2 += dx * dx
      const g = dx + mu * v[i]!
      grad[i] = g
      residual = Math.max(residual, Math.abs(x[i]! - clipInto(x[i]! - g, i)))
      // μ·Wᵀγ is a sum of terms far larger than itself once μ is large: its rounding is theirs.
      scale = Math.max(scale, Math.abs(x[i]!), Math.abs(x0[i]!), mu * terms[i]!)
    }
    const h = negLogProb(z, t)
    return { x, z, pi, gamma, h, v, grad, f: 0.5 * dist2 + mu * h, residual, scale }
  }

  /** M_F = Σ_{i free} w_i w_iᵀ (K × K) over the coordinates in `free`. */
  const gramOver = (free: Uint8Array): Float64Array => {
    const mf = new Float64Array(k * k)
    const col = new Float64Array(k)
    for (let i = 0; i < d; i++) {
      if (free[i] === 0) continue
      for (let a = 0; a < k; a++) col[a] = w[a * d + i]!
      for (let a = 0; a < k; a++) {
        const wa = col[a]!
        if (wa === 0) continue
        for (let b = a; b < k; b++) mf[a * k + b]! += wa * col[b]!
      }
    }
    for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) mf[a * k + b] = mf[b * k + a]!
    return mf
  }
  /** I + μ S M_F, S = diag π − ππᵀ (its eigenvalues are ≥ 1: S M_F is similar to S½ M_F S½ ⪰ 0). */
  const reduced = (mu: number, mf: Float64Array, pi: Float64Array): Float64Array => {
    const a = new Float64Array(k * k)
    for (let b = 0; b < k; b++) {
      let piM = 0
      for (let e = 0; e < k; e++) piM += pi[e]! * mf[e * k + b]!
      for (let r = 0; r < k; r++) a[r * k + b] = (r === b ? 1 : 0) + mu * pi[r]! * (mf[r * k + b]! - piM)
    }
    return a
  }
  /** S u for u in class space. */
  const sTimes = (pi: Float64Array, u: Float64Array): Float64Array => {
    let piu = 0
    for (let a = 0; a < k; a++) piu += pi[a]! * u[a]!
    return u.map((v, a) => pi[a]! * (v - piu))
  }

  /**
   * F_μ(xa) − F_μ(x), summed from the step itself so that it keeps its digits when it is far below F's
   * rounding: ½‖xa − x0‖² − ½‖x − x0‖² = Σ δᵢ(xᵢ + δᵢ/2 − x0ᵢ), and h(xa) − h(x) = log(Σ πₐ e^{Δzₐ}) − Δz_t
   * with Δz = W δ.
   */
  const change = (cur: Point, xa: Float64Array, mu: number): number => {
    const delta = new Float64Array(d)
    let quad = 0
    for (let i = 0; i < d; i++) {
      const di = xa[i]! - cur.x[i]!
      delta[i] = di
      quad += di * (cur.x[i]! + di / 2 - x0[i]!)
    }
    const dz = new Float64Array(k)
    let big = 0
    for (let a = 0; a < k; a++) {
      dz[a] = dot(w, a * d, delta, 0, d)
      big = Math.max(big, Math.abs(dz[a]!))
    }
    // A long step can lift a class whose π underflowed to 0: there the difference of the two sums is exact enough.
    if (big > 1) return quad + mu * (negLogProb(cur.z.map((v, a) => v + dz[a]!), t) - cur.h)
    let ex = 0
    for (let a = 0; a < k; a++) ex += cur.pi[a]! * Math.expm1(dz[a]!)
    return quad + mu * (Math.log1p(ex) - dz[t]!)
  }

  let innerIterations = 0
  /** x(μ) by projected Newton from `start` (clipped into the box); undefined if it fails (not seen in testing). */
  const inner = (mu: number, start: Float64Array): Point | undefined => {
    let cur = at(Float64Array.from(start, (v, i) => clipInto(v, i)), mu)
    const free = new Uint8Array(d)
    for (let it = 0; it < 200; it++) {
      if (cur.residual <= 1e-15 * cur.scale) return cur
      innerIterations++
      const { x, grad, pi } = cur
      // The ε-active set: on (or within ε of) a bound with the gradient pushing outward; fixed coordinates always.
      const eps = Math.min(1e-3, cur.residual)
      for (let i = 0; i < d; i++) {
        const lo = lower[i]!
        const hi = upper[i]!
        free[i] = lo === hi || (x[i]! <= lo + eps && grad[i]! > 0) || (x[i]! >= hi - eps && grad[i]! < 0) ? 0 : 1
      }
      // Newton on the free coordinates: H_F⁻¹g = g − μ W_Fᵀ (I + μ S M_F)⁻¹ S W_F g.
      const wg = new Float64Array(k)
      for (let a = 0; a < k; a++) {
        let s = 0
        const o = a * d
        for (let i = 0; i < d; i++) if (free[i] === 1) s += w[o + i]! * grad[i]!
        wg[a] = s
      }
      const y = solveDense(reduced(mu, gramOver(free), pi), sTimes(pi, wg), k)
      if (y === undefined) return undefined
      const dir = new Float64Array(d)
      let slopeFree = 0
      let stepSize = 0
      for (let i = 0; i < d; i++) {
        if (free[i] === 0) {
          dir[i] = -grad[i]!
          continue
        }
        let wy = 0
        for (let a = 0; a < k; a++) wy += w[a * d + i]! * y[a]!
        dir[i] = -(grad[i]! - mu * wy)
        slopeFree += grad[i]! * dir[i]!
        stepSize = Math.max(stepSize, Math.abs(dir[i]!) / Math.max(1, Math.abs(x[i]!)))
      }
      // A Newton step at the rounding of x: x(μ) is reached as closely as float64 can hold it.
      if (stepSize <= 4 * Number.EPSILON && cur.residual <= 1e-8 * cur.scale) return cur
      // Armijo along the projection arc; near x(μ) (where F's decrease sinks below its rounding) the full
      // step is also taken when it halves the residual, which the local quadratic convergence guarantees.
      let next: Point | undefined
      let alpha = 1
      for (let ls = 0; ls < 50; ls++) {
        const xa = new Float64Array(d)
        let pred = -alpha * slopeFree
        for (let i = 0; i < d; i++) {
          xa[i] = clipInto(x[i]! + alpha * dir[i]!, i)
          if (free[i] === 0) pred += grad[i]! * (x[i]! - xa[i]!)
        }
        if (-change(cur, xa, mu) >= 1e-4 * pred) {
          next = at(xa, mu)
          break
        }
        alpha /= 2
      }
      if (next === undefined) return cur.residual <= 1e-8 * cur.scale ? cur : undefined
      cur = next
    }
    return cur.residual <= 1e-8 * cur.scale ? cur : undefined
  }

  /** dh(x(μ))/dμ = −vᵀH_F⁻¹v over the coordinates strictly inside the box, v = Wᵀγ (≤ 0). */
  const slopeAt = (mu: number, s: Point): number => {
    const free = Uint8Array.from(s.x, (v, i) => (v > lower[i]! && v < upper[i]! ? 1 : 0))
    const mf = gramOver(free)
    const mg = new Float64Array(k)
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) mg[a]! += mf[a * k + b]! * s.gamma[b]!
    const y = solveDense(reduced(mu, mf, s.pi), sTimes(s.pi, mg), k)
    if (y === undefined) return 0
    let vv = 0
    let my = 0
    for (let a = 0; a < k; a++) {
      vv += s.gamma[a]! * mg[a]!
      my += mg[a]! * y[a]!
    }
    return -(vv - mu * my)
  }

  const start = Float64Array.from(x0, (v, i) => clipInto(v, i))
  const first = at(start, 0)
  if (first.h <= c) return E.right({ x: start, distance: distance(start, x0), kktResidual: 0, iterations: 0, activeClasses: new Int32Array(0), multipliers: new Float64Array(k) })
  // The farthest point of the box from x0 (Infinity on an open side).
  let r2 = 0
  for (let i = 0; i < d; i++) r2 += Math.max((x0[i]! - lower[i]!) ** 2, (upper[i]! - x0[i]!) ** 2)
  const notConverged = (): E.Either<ProbeError, Solution> =>
    E.left(errors.notConverged('inverse softmax with probability and bounds (projected Newton)', innerIterations, Number.POSITIVE_INFINITY, 1e-14))
  const infeasible = (s: Point): E.Either<ProbeError, Solution> =>
    E.left(errors.infeasible(`no point within the bounds (and immutable features) gives class ${t} probability ${p.probability}: the best reachable is about ${Math.exp(-s.h).toPrecision(6)}`))

  // Bracket μ: h(x(μ)) > c at lo, ≤ c at hi. The first guess is the linear one, (h − c)/‖∇h‖².
  let vNorm2 = 0
  for (let i = 0; i < d; i++) if (lower[i] !== upper[i]) vNorm2 += first.v[i]! ** 2
  let lo = 0
  let hi = Math.min(1e12, Math.max(1e-12, (first.h - c) / Math.max(vNorm2, 1e-300)))
  let atHi = inner(hi, start)
  let solLo: Point = first
  while (atHi !== undefined && atHi.h > c) {
    // min over the box of h ≥ h(x(μ)) − R²/(2μ) (x(μ) minimises ½‖x − x0‖²/μ + h there): a certificate.
    if (atHi.h - r2 / (2 * hi) > c * (1 + 1e-12) + 1e-12) return infeasible(atHi)
    if (hi >= 1e12) return infeasible(atHi)
    lo = hi
    solLo = atHi
    hi = Math.min(1e12, hi * 8)
    atHi = inner(hi, atHi.x)
  }
  if (atHi === undefined) return notConverged()
  void solLo
  let mu = hi
  let sol: Point = atHi
  let outer = 0
  for (; outer < 200; outer++) {
    const g = sol.h - c
    if (Math.abs(g) <= 1e-14 * (1 + c) || hi - lo <= 1e-15 * hi) break
    if (g > 0) lo = mu
    else hi = mu
    const slope = slopeAt(mu, sol)
    let next = slope < 0 ? mu - g / slope : Number.NaN
    if (!(next > lo && next < hi)) next = (lo + hi) / 2
    const trial = inner(next, sol.x)
    if (trial === undefined) return notConverged()
    mu = next
    sol = trial
  }
  // Rounding can leave P(t) a hair below p: step μ up by twice the Newton correction (a few ulps of h).
  for (let nudge = 0; nudge < 6 && sol.h > c; nudge++) {
    const g = sol.h - c
    const slope = slopeAt(mu, sol)
    const next = slope < 0 ? mu - (2 * g) / slope + 4 * Number.EPSILON * mu : mu * (1 + 1e-12)
    const trial = inner(next, sol.x)
    if (trial === undefined) break
    mu = next
    sol = trial
  }
  const x = sol.x
  const z = softmaxLogits(model, x)
  const pi = softmax(z)
  const gamma = gammaOf(pi)
  const gap = negLogProb(z, t) - c
  let kkt = Math.max(0, gap, Math.abs(mu * gap))
  let termScale = 0
  for (let i = 0; i < d; i++) {
    let y = x0[i]!
    let terms = 0
    for (let a = 0; a < k; a++) {
      y -= mu * gamma[a]! * w[a * d + i]!
      terms += Math.abs(mu * gamma[a]! * w[a * d + i]!)
    }
    termScale = Math.max(termScale, terms)
    kkt = Math.max(kkt, Math.abs(x[i]! - clipInto(y, i)), lower[i]! - x[i]!, x[i]! - upper[i]!)
  }
  // h is known to ~1e-16 of the logits' size, so complementarity |μ·(h − c)| has a floor that grows with μ;
  // stationarity's floor is that of the terms of μ·Wᵀγ.
  let zScale = 1
  for (let a = 0; a < k; a++) zScale = Math.max(zScale, Math.abs(z[a]!))
  const tolerance = 1e-8 * Math.max(1, 1e-6 * mu * zScale, 1e-6 * termScale)
  if (!(kkt <= tolerance)) return E.left(errors.notConverged('inverse softmax with probability and bounds', innerIterations + outer, kkt, tolerance))
  const multipliers = Float64Array.from(pi, (v, a) => (a === t ? 0 : mu * v))
  const active: number[] = []
  multipliers.forEach((v, a) => {
    if (v > 1e-12 * Math.max(mu, 1e-300)) active.push(a)
  })
  return E.right({ x, distance: distance(x, x0), kktResidual: kkt, iterations: innerIterations + outer, activeClasses: Int32Array.from(active), multipliers })
}
