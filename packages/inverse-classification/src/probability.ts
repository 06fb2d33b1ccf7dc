import { either as E } from 'fp-ts'
import { errors, type ProbeError } from '@sonde/oracle'
import { distance, type InverseResult, type ResolvedProblem } from './problem.js'
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
export const solveProbability = (prep: PreparedSoftmax, p: ResolvedProblem): E.Either<ProbeError, InverseResult> => {
  if (p.boxed) {
    return E.left(
      errors.invalidInput('options.probability cannot be combined with bounds or immutable features; use options.margin (a logit margin) instead', 'options.probability'),
    )
  }
  const { model, gram } = prep
  const { rows: k, cols: d, data: w } = model.weights
  const t = p.target
  const c = -Math.log(p.probability)
  const z0 = new Float64Array(k)
  for (let a = 0; a < k; a++) {
    let s = model.bias[a]!
    for (let i = 0; i < d; i++) s += w[a * d + i]! * p.x0[i]!
    z0[a] = s
  }
  const zero = (): InverseResult => ({
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
  const z = new Float64Array(k)
  for (let a = 0; a < k; a++) {
    let s = model.bias[a]!
    for (let i = 0; i < d; i++) s += w[a * d + i]! * x[i]!
    z[a] = s
  }
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
