import { either as E } from 'fp-ts'
import { errors, type ProbeError } from '@sonde/oracle'
import { distance, softmaxLogits, type ResolvedProblem, type Solution } from './problem.js'
import type { PreparedSoftmax } from './softmax.js'

/** Solve A z = b (n × n, row-major, copied) by Gaussian elimination with partial pivoting. */
const solveDense = (a: Float64Array, b: Float64Array, n: number): Float64Array | undefined => {
  const m = a.slice()
  const x = b.slice()
  for (let col = 0; col < n; col++) {
    let piv = col
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[piv * n + col]!)) piv = r
    if (m[piv * n + col] === 0) return undefined
    if (piv !== col) {
      for (let c = 0; c < n; c++) {
        const tmp = m[col * n + c]!
        m[col * n + c] = m[piv * n + c]!
        m[piv * n + c] = tmp
      }
      const tb = x[col]!
      x[col] = x[piv]!
      x[piv] = tb
    }
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col]! / m[col * n + col]!
      if (f === 0) continue
      for (let c = col; c < n; c++) m[r * n + c]! -= f * m[col * n + c]!
      x[r]! -= f * x[col]!
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!
    for (let c = r + 1; c < n; c++) s -= m[r * n + c]! * x[c]!
    x[r] = s / m[r * n + r]!
  }
  return x
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
  if (!(kkt <= 1e-8)) return E.left(errors.notConverged('inverse softmax with a target probability (Newton on the reduced KKT system)', iterations, kkt, 1e-8))
  const multipliers = Float64Array.from(pi, (v, a) => (a === t ? 0 : mu * v))
  const active: number[] = []
  multipliers.forEach((v, a) => {
    if (v > 1e-12 * Math.max(mu, 1e-300)) active.push(a)
  })
  return E.right({ x, distance: distance(x, p.x0), kktResidual: kkt, iterations, activeClasses: Int32Array.from(active), multipliers })
}

/**
 * min ½‖x − x0‖² s.t. P(t | x) ≥ p and lower ≤ x ≤ upper. For a multiplier μ ≥ 0 the minimiser of
 * ½‖x − x0‖² + μ·h(x) over the box (h = −log P(t | ·), convex) is the fixed point
 * x = clip(x0 − μ Wᵀ(π(x) − e_t)); in logit space z = Wx + b that is K equations, solved by
 * semismooth Newton with Jacobian I + μ M_F S (M_F = W_F W_Fᵀ over the unclipped coordinates,
 * S = diag π − ππᵀ). An outer safeguarded Newton/bisection on μ makes h(x(μ)) = −log p; h(x(μ)) is
 * non-increasing in μ, so a target no multiplier reaches is `Infeasible`.
 */
export const solveProbabilityBoxed = (prep: PreparedSoftmax, p: ResolvedProblem): E.Either<ProbeError, Solution> => {
  const { model } = prep
  const gram = prep.gram.full()
  const { rows: k, cols: d, data: w } = model.weights
  const t = p.target
  const c = -Math.log(p.probability)
  const { x0, lower, upper } = p
  const logitsOf = (x: Float64Array): Float64Array => softmaxLogits(model, x)
  const clipped = (y: Float64Array): Float64Array => Float64Array.from(y, (v, i) => (v < lower[i]! ? lower[i]! : v > upper[i]! ? upper[i]! : v))
  const step = (mu: number, gamma: Float64Array): Float64Array => {
    const y = x0.slice()
    for (let a = 0; a < k; a++) {
      const coef = -mu * gamma[a]!
      if (coef === 0) continue
      const o = a * d
      for (let i = 0; i < d; i++) y[i]! += coef * w[o + i]!
    }
    return y
  }
  const gammaOf = (z: Float64Array): { pi: Float64Array; gamma: Float64Array } => {
    const pi = softmax(z)
    return { pi, gamma: pi.map((v, a) => v - (a === t ? 1 : 0)) }
  }
  // M_F = M − Σ_{clipped i} w_{:,i} w_{:,i}ᵀ.
  const gramFree = (y: Float64Array): Float64Array => {
    const mf = gram.slice()
    for (let i = 0; i < d; i++) {
      if (y[i]! > lower[i]! && y[i]! < upper[i]!) continue
      for (let a = 0; a < k; a++) {
        const wa = w[a * d + i]!
        if (wa === 0) continue
        for (let b = 0; b < k; b++) mf[a * k + b]! -= wa * w[b * d + i]!
      }
    }
    return mf
  }
  const jacobianTimes = (mu: number, mf: Float64Array, pi: Float64Array): Float64Array => {
    // J = I + μ M_F S with S = diag π − ππᵀ.
    const jac = new Float64Array(k * k)
    for (let a = 0; a < k; a++) {
      let mpi = 0
      for (let e = 0; e < k; e++) mpi += mf[a * k + e]! * pi[e]!
      for (let b = 0; b < k; b++) jac[a * k + b] = (a === b ? 1 : 0) + mu * (mf[a * k + b]! * pi[b]! - mpi * pi[b]!)
    }
    return jac
  }
  let innerIterations = 0
  const inner = (mu: number, zStart: Float64Array): { x: Float64Array; y: Float64Array; z: Float64Array; pi: Float64Array; gamma: Float64Array } | undefined => {
    let z: Float64Array = zStart.slice()
    const residual = (zz: Float64Array) => {
      const { pi, gamma } = gammaOf(zz)
      const y = step(mu, gamma)
      const x = clipped(y)
      const zn = logitsOf(x)
      return { f: zz.map((v, a) => v - zn[a]!), x, y, pi, gamma }
    }
    let cur = residual(z)
    const size = (v: Float64Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0)
    for (let it = 0; it < 100; it++) {
      innerIterations++
      if (size(cur.f) <= 1e-13 * (1 + size(z))) return { x: cur.x, y: cur.y, z, pi: cur.pi, gamma: cur.gamma }
      const jac = jacobianTimes(mu, gramFree(cur.y), cur.pi)
      const delta = solveDense(jac, cur.f.map((v) => -v), k)
      if (delta === undefined) return undefined
      // Armijo on ½‖F‖² (the Newton direction is a descent direction for it where F is smooth);
      // if no step of the search decreases it, take the best one tried.
      const norm2 = (v: Float64Array) => v.reduce((acc, x) => acc + x * x, 0)
      const base = norm2(cur.f)
      let alpha = 1
      let best: { z: Float64Array; r: ReturnType<typeof residual> } | undefined
      for (let ls = 0; ls < 40; ls++) {
        const trialZ = z.map((v, a) => v + alpha * delta[a]!)
        const trial = residual(trialZ)
        const value = norm2(trial.f)
        if (best === undefined || value < norm2(best.r.f)) best = { z: trialZ, r: trial }
        if (value <= (1 - 1e-4 * alpha) * base) break
        alpha /= 2
      }
      // At large μ the residual has a rounding floor (μ·W products): stop where Newton stalls on it.
      if (norm2(best!.r.f) >= base && size(cur.f) <= 1e-12 * (1 + size(z)) * Math.max(1, mu)) return { x: cur.x, y: cur.y, z, pi: cur.pi, gamma: cur.gamma }
      z = best!.z
      cur = best!.r
    }
    return undefined
  }

  const start = clipped(x0)
  const z0 = logitsOf(start)
  const zero = (): Solution => ({ x: start, distance: distance(start, x0), kktResidual: 0, iterations: 0, activeClasses: new Int32Array(0), multipliers: new Float64Array(k) })
  if (negLogProb(z0, t) <= c) return E.right(zero())

  // Bracket μ: h(x(μ)) − c > 0 at lo, ≤ 0 at hi.
  let lo = 0
  let hi = 1
  let zWarm = z0
  let atHi = inner(hi, zWarm)
  while (atHi !== undefined && negLogProb(atHi.z, t) > c) {
    lo = hi
    zWarm = atHi.z
    hi *= 4
    // μ this large means the box keeps P(t) below p (x(μ) tends to the most probable point of the box).
    if (hi > 1e8) {
      return E.left(errors.infeasible(`no point within the bounds (and immutable features) gives class ${t} probability ${p.probability}: the best reachable is about ${Math.exp(-negLogProb(atHi.z, t)).toPrecision(6)}`))
    }
    atHi = inner(hi, zWarm)
  }
  if (atHi === undefined) return E.left(errors.notConverged('inverse softmax with probability and bounds (inner Newton)', innerIterations, Number.POSITIVE_INFINITY, 1e-13))
  // Safeguarded Newton on μ: dh/dμ = γᵀq with (I + μ M_F S) q = −M_F γ.
  const slopeAt = (m: number, s: NonNullable<typeof atHi>): number => {
    const mf = gramFree(s.y)
    const rhs = new Float64Array(k)
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) rhs[a]! -= mf[a * k + b]! * s.gamma[b]!
    const q = solveDense(jacobianTimes(m, mf, s.pi), rhs, k)
    return q === undefined ? 0 : s.gamma.reduce((acc, v, a) => acc + v * q[a]!, 0)
  }
  let mu = hi
  let sol = atHi
  let outer = 0
  for (; outer < 200; outer++) {
    const g = negLogProb(sol.z, t) - c
    if (Math.abs(g) <= 1e-14 * (1 + c) || hi - lo <= 1e-15 * hi) break
    if (g > 0) lo = mu
    else hi = mu
    const slope = slopeAt(mu, sol)
    let next = slope < 0 ? mu - g / slope : Number.NaN
    if (!(next > lo && next < hi)) next = (lo + hi) / 2
    const trial = inner(next, sol.z)
    if (trial === undefined) return E.left(errors.notConverged('inverse softmax with probability and bounds (inner Newton)', innerIterations, Number.POSITIVE_INFINITY, 1e-13))
    mu = next
    sol = trial
  }
  // Rounding can leave P(t) a hair below p: step μ up by twice the Newton correction (a few ulps of h).
  for (let nudge = 0; nudge < 4 && negLogProb(sol.z, t) > c; nudge++) {
    const g = negLogProb(sol.z, t) - c
    const slope = slopeAt(mu, sol)
    const next = slope < 0 ? mu - (2 * g) / slope + 4 * Number.EPSILON * mu : mu * (1 + 1e-12)
    const trial = inner(next, sol.z)
    if (trial === undefined) break
    mu = next
    sol = trial
  }
  const x = sol.x
  const z = logitsOf(x)
  const { pi, gamma } = gammaOf(z)
  const gap = negLogProb(z, t) - c
  let kkt = Math.max(0, gap, Math.abs(mu * gap))
  const y = step(mu, gamma)
  for (let i = 0; i < d; i++) {
    const target = y[i]! < lower[i]! ? lower[i]! : y[i]! > upper[i]! ? upper[i]! : y[i]!
    kkt = Math.max(kkt, Math.abs(x[i]! - target), lower[i]! - x[i]!, x[i]! - upper[i]!)
  }
  if (!(kkt <= 1e-8)) return E.left(errors.notConverged('inverse softmax with probability and bounds', innerIterations + outer, kkt, 1e-8))
  const multipliers = Float64Array.from(pi, (v, a) => (a === t ? 0 : mu * v))
  const active: number[] = []
  multipliers.forEach((v, a) => {
    if (v > 1e-12 * Math.max(mu, 1e-300)) active.push(a)
  })
  return E.right({ x, distance: distance(x, x0), kktResidual: kkt, iterations: innerIterations + outer, activeClasses: Int32Array.from(active), multipliers })
}
