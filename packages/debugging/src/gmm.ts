import { either as E, taskEither as TE } from 'fp-ts'
import { createRng, errorFromThrown, errors, SondeError, stage, type Matrix, type ProbeError, type Rng, type RunControl } from '@sonde/oracle'
import { cholesky as choleskyFactor, choleskySubstitute } from '@sonde/linalg'
import { intIn, invalidOptionsOf, matrixProblem, numberWhere, optionsOf, seedIn, show, type Issue } from './checks.js'

/** Options of {@link fitDirichletProcessGmm}. */
export interface DpGmmOptions extends RunControl {
  /** Upper bound K on the number of components (the truncation of the stick-breaking prior). Default 100, capped at n. */
  readonly maxComponents?: number
  /** Concentration α₀ of the Dirichlet process: small values favour few components. Default 1/K. */
  readonly concentration?: number
  /** Prior precision β₀ of the component means (in units of the covariance). Default 1. */
  readonly meanPrecision?: number
  /** Prior degrees of freedom ν₀ of the Wishart on each precision (> d − 1). Default d. */
  readonly degreesOfFreedom?: number
  /** Most coordinate-ascent iterations. Default 500. */
  readonly maxIter?: number
  /** Stop when the mean log-evidence per point changes by less than this between iterations. Default 1e-6. (Was `tol`.) */
  readonly tolerance?: number
  /** Regularisation added to the diagonal of every scatter matrix. Default 1e-6. */
  readonly regCovar?: number
  /**
   * Initial responsibilities: `'random'` (default; uniform random soft assignments, from which the
   * stick-breaking prior empties what it does not need) or `'kmeans'` (hard k-means++ with K
   * centres; faster, but VI then tends to keep clusters split among several components).
   */
  readonly init?: 'random' | 'kmeans'
  /** Seed of the initialisation (required: a safe integer). */
  readonly seed: number
}

/**
 * Every problem with the mixture options for codes of dimension `d` (when known), under `prefix`
 * (e.g. `'options.regions'`): checked before anything is fitted — and, in {@link defuse}, before the first query.
 */
export const dpGmmOptionIssues = (u: Partial<DpGmmOptions>, d: number | undefined, prefix: string): Issue[] => {
  const issues: Issue[] = []
  intIn(issues, `${prefix}.maxComponents`, u.maxComponents, 100, 1)
  if (u.concentration !== undefined) numberWhere(issues, `${prefix}.concentration`, u.concentration, 1, (v) => v > 0, 'a positive number')
  numberWhere(issues, `${prefix}.meanPrecision`, u.meanPrecision, 1, (v) => v > 0, 'a positive number')
  if (u.degreesOfFreedom !== undefined) {
    numberWhere(issues, `${prefix}.degreesOfFreedom`, u.degreesOfFreedom, 1, (v) => d === undefined || v > d - 1, d === undefined ? 'a finite number' : `a number > d − 1 = ${d - 1} (d: the latent dimension)`)
  }
  intIn(issues, `${prefix}.maxIter`, u.maxIter, 500, 1)
  numberWhere(issues, `${prefix}.tolerance`, u.tolerance, 1e-6, (v) => v >= 0, 'a finite number ≥ 0')
  numberWhere(issues, `${prefix}.regCovar`, u.regCovar, 1e-6, (v) => v >= 0, 'a finite number ≥ 0')
  if (u.init !== undefined && u.init !== 'random' && u.init !== 'kmeans') issues.push({ path: `${prefix}.init`, message: `is ${show(u.init)}; expected 'random' or 'kmeans'` })
  if ('tol' in u) issues.push({ path: `${prefix}.tol`, message: 'was renamed tolerance' })
  return issues
}

/** One component of the fitted mixture. */
export interface GmmComponent {
  /** Expected mixture weight E[π_k] under the stick-breaking posterior. */
  readonly weight: number
  /** Posterior mean of the component mean. */
  readonly mean: Float64Array
  /** Covariance (the inverse of the expected precision, d × d row-major). */
  readonly covariance: Float64Array
  /** Soft count of points: Σₙ r_nk. */
  readonly count: number
}

/** A variational Dirichlet-process Gaussian mixture. */
export interface DpGmm {
  readonly dim: number
  /** All K components (most with negligible weight), in stick-breaking order. */
  readonly components: readonly GmmComponent[]
  /** n × K responsibilities of the training points. */
  readonly responsibilities: Matrix
  readonly iterations: number
  readonly converged: boolean
  /** The mean log-evidence per point at the end (the convergence monitor). */
  readonly logEvidence: number
  /** The seed of the initialisation. */
  readonly seed: number
  /** Hard assignment of rows of `x` (n × d) to their most responsible component. */
  readonly assign: (x: Matrix) => Int32Array
}

/**
 * ψ(x), the digamma function, for x > 0 (NaN elsewhere): recurrence up to x ≥ 10, then the asymptotic series.
 *
 * @example
 * import { digamma } from '@sonde/debugging'
 *
 * const psi = digamma(1) // −0.5772… (−γ, the Euler–Mascheroni constant)
 */
export const digamma = (x: number): number => {
  // Defined here for x > 0 only; the recurrence below would never end for −∞ or huge negative x.
  if (!(x > 0)) return Number.NaN
  let r = 0
  while (x < 10) {
    r -= 1 / x
    x += 1
  }
  const f = 1 / (x * x)
  return r + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
}

/** Lower Cholesky factor of a small SPD matrix (d × d row-major); undefined if not positive definite. */
const cholesky = (a: Float64Array, d: number): Float64Array | undefined => {
  const l = choleskyFactor({ rows: d, cols: d, data: a })
  return E.isRight(l) ? l.right.data : undefined
}

/** Inverse of an SPD matrix from its Cholesky factor: one solve L Lᵀ x = e_c per column. */
const inverseFromCholesky = (l: Float64Array, d: number): Float64Array => {
  const inv = new Float64Array(d * d)
  const e = new Float64Array(d)
  for (let c = 0; c < d; c++) {
    e.fill(0)
    e[c] = 1
    const col = choleskySubstitute(l, d, e)
    for (let i = 0; i < d; i++) inv[i * d + c] = col[i]!
  }
  return inv
}

/** k-means++ seeding followed by 10 Lloyd iterations: hard initial responsibilities. */
const kmeansInit = (x: Matrix, k: number, rng: Rng): Int32Array => {
  const { rows: n, cols: d, data } = x
  const centres = new Float64Array(k * d)
  const dist = new Float64Array(n).fill(Infinity)
  const first = rng.int(n)
  centres.set(data.subarray(first * d, (first + 1) * d), 0)
  for (let c = 1; c < k; c++) {
    let total = 0
    for (let i = 0; i < n; i++) {
      let s = 0
      for (let j = 0; j < d; j++) s += (data[i * d + j]! - centres[(c - 1) * d + j]!) ** 2
      dist[i] = Math.min(dist[i]!, s)
      total += dist[i]!
    }
    let u = rng.next() * total
    let pick = n - 1
    for (let i = 0; i < n; i++) {
      u -= dist[i]!
      if (u <= 0) {
        pick = i
        break
      }
    }
    centres.set(data.subarray(pick * d, (pick + 1) * d), c * d)
  }
  const label = new Int32Array(n)
  for (let it = 0; it < 10; it++) {
    for (let i = 0; i < n; i++) {
      let best = 0
      let bestD = Infinity
      for (let c = 0; c < k; c++) {
        let s = 0
        for (let j = 0; j < d; j++) s += (data[i * d + j]! - centres[c * d + j]!) ** 2
        if (s < bestD) {
          bestD = s
          best = c
        }
      }
      label[i] = best
    }
    const sums = new Float64Array(k * d)
    const counts = new Float64Array(k)
    for (let i = 0; i < n; i++) {
      counts[label[i]!]!++
      for (let j = 0; j < d; j++) sums[label[i]! * d + j]! += data[i * d + j]!
    }
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let j = 0; j < d; j++) centres[c * d + j] = sums[c * d + j]! / counts[c]!
  }
  return label
}

/**
 * A Gaussian mixture with a Dirichlet-process (stick-breaking) prior on the weights, fitted by
 * coordinate-ascent variational inference (Blei & Jordan 2006; Bishop §10.2 for the
 * Normal-Wishart updates), full covariances, float64. Start from a generous upper bound K: the
 * posterior empties the components the data do not need, so the number of components with
 * non-negligible weight is inferred. Priors follow scikit-learn's `BayesianGaussianMixture`
 * defaults: mean prior = data mean, covariance prior = data covariance, ν₀ = d, β₀ = 1.
 *
 * We wrote it ourselves: no maintained JavaScript library offers a variational DP mixture.
 *
 * Progress (`'mixture sweeps'`) is reported and the abort signal checked between sweeps.
 *
 * @example
 * // fragment: latent codes, e.g. findMisclassifications' `codes`
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import { fitDirichletProcessGmm } from '@sonde/debugging'
 *
 * declare const codes: Matrix
 * const gmm = await toPromise(fitDirichletProcessGmm(codes, { maxComponents: 20, seed: 1 }))
 * console.log(gmm.components.filter((c) => c.weight > 0.01).length) // the components the data need
 */
export const fitDirichletProcessGmm = (x: Matrix, options: DpGmmOptions): TE.TaskEither<ProbeError, DpGmm> => {
  const bad = matrixProblem(x, 'x', { minRows: 2 })
  if (bad !== undefined) return TE.left(bad)
  const o = optionsOf(options)
  const { rows: n, cols: d } = x
  if (d < 1) return TE.left(errors.invalidInput(`x has ${n} rows of ${d} values; need at least 1 column`, 'x'))
  const issues = dpGmmOptionIssues(o, d, 'options')
  seedIn(issues, 'options.seed', o.seed)
  const invalid = invalidOptionsOf(issues)
  if (invalid !== undefined) return TE.left(invalid)
  return () => fit(x, o as DpGmmOptions).catch((cause: unknown) => E.left(errorFromThrown(cause, (m) => errors.trainingFailed(`the mixture's fit failed: ${m}`, cause))))
}

const fit = async (x: Matrix, options: DpGmmOptions): Promise<E.Either<ProbeError, DpGmm>> => {
  const { rows: n, cols: d, data } = x
  const K = Math.min(options.maxComponents ?? 100, n)
  const alpha0 = options.concentration ?? 1 / K
  const beta0 = options.meanPrecision ?? 1
  const nu0 = options.degreesOfFreedom ?? d
  const maxIter = options.maxIter ?? 500
  const tol = options.tolerance ?? 1e-6
  const reg = options.regCovar ?? 1e-6
  const init = options.init ?? 'random'
  const rng = createRng(options.seed)

  // Priors from the data: m₀ = mean, W₀⁻¹ = covariance (+ reg).
  const m0 = new Float64Array(d)
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m0[j]! += data[i * d + j]! / n
  const w0inv = new Float64Array(d * d)
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const da = data[i * d + a]! - m0[a]!
      for (let b = 0; b < d; b++) w0inv[a * d + b]! += (da * (data[i * d + b]! - m0[b]!)) / (n - 1)
    }
  }
  for (let a = 0; a < d; a++) w0inv[a * d + a]! += reg

  const resp = new Float64Array(n * K)
  if (init === 'kmeans') {
    const label = kmeansInit(x, K, rng)
    for (let i = 0; i < n; i++) resp[i * K + label[i]!] = 1
  } else {
    for (let i = 0; i < n; i++) {
      let s = 0
      for (let k = 0; k < K; k++) s += resp[i * K + k] = rng.next()
      for (let k = 0; k < K; k++) resp[i * K + k]! /= s
    }
  }

  const Nk = new Float64Array(K)
  const means = new Float64Array(K * d) // m_k
  const betaK = new Float64Array(K)
  const nuK = new Float64Array(K)
  const wK = new Float64Array(K * d * d) // W_k (precision scale)
  const winvK = new Float64Array(K * d * d)
  const logDetW = new Float64Array(K)
  const g1 = new Float64Array(K)
  const g2 = new Float64Array(K)
  const xbar = new Float64Array(d)
  const S = new Float64Array(d * d)

  const mStep = (): E.Either<ProbeError, void> => {
    for (let k = 0; k < K; k++) {
      let nk = 0
      for (let i = 0; i < n; i++) nk += resp[i * K + k]!
      nk += 10 * Number.EPSILON
      Nk[k] = nk
      xbar.fill(0)
      for (let i = 0; i < n; i++) {
        const r = resp[i * K + k]!
        if (r !== 0) for (let j = 0; j < d; j++) xbar[j]! += r * data[i * d + j]!
      }
      for (let j = 0; j < d; j++) xbar[j]! /= nk
      S.fill(0)
      for (let i = 0; i < n; i++) {
        const r = resp[i * K + k]!
        if (r === 0) continue
        for (let a = 0; a < d; a++) {
          const da = r * (data[i * d + a]! - xbar[a]!)
          for (let b = 0; b <= a; b++) S[a * d + b]! += da * (data[i * d + b]! - xbar[b]!)
        }
      }
      for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) S[b * d + a] = S[a * d + b]!
      for (let a = 0; a < d; a++) S[a * d + a]! += reg * nk
      const bk = beta0 + nk
      betaK[k] = bk
      nuK[k] = nu0 + nk
      for (let j = 0; j < d; j++) means[k * d + j] = (beta0 * m0[j]! + nk * xbar[j]!) / bk
      const c = (beta0 * nk) / bk
      const wi = winvK.subarray(k * d * d, (k + 1) * d * d)
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) wi[a * d + b] = w0inv[a * d + b]! + S[a * d + b]! + c * (xbar[a]! - m0[a]!) * (xbar[b]! - m0[b]!)
      const l = cholesky(wi, d)
      // Not a convergence failure (there is no residual to report): the fit broke down numerically.
      if (l === undefined) return E.left(errors.trainingFailed(`the mixture's fit broke down: the Wishart scale of component ${k} lost positive definiteness; raise options.regCovar`))
      let ld = 0
      for (let a = 0; a < d; a++) ld += Math.log(l[a * d + a]!)
      logDetW[k] = -2 * ld // log|W_k| = −log|W_k⁻¹|
      wK.set(inverseFromCholesky(l, d), k * d * d)
    }
    // Stick-breaking posteriors: v_k ~ Beta(1 + N_k, α₀ + Σ_{j>k} N_j).
    let tail = 0
    for (let k = K - 1; k >= 0; k--) {
      g1[k] = 1 + Nk[k]!
      g2[k] = alpha0 + tail
      tail += Nk[k]!
    }
    return E.right(undefined)
  }

  const logRho = (row: Float64Array, xi: ArrayLike<number>, xo: number): void => {
    let cumulative = 0
    for (let k = 0; k < K; k++) {
      const dg = digamma(g1[k]! + g2[k]!)
      const eLogPi = digamma(g1[k]!) - dg + cumulative
      cumulative += digamma(g2[k]!) - dg
      let eLogDet = d * Math.LN2 + logDetW[k]!
      for (let i = 1; i <= d; i++) eLogDet += digamma((nuK[k]! + 1 - i) / 2)
      const w = wK.subarray(k * d * d, (k + 1) * d * d)
      let quad = 0
      for (let a = 0; a < d; a++) {
        const da = xi[xo + a]! - means[k * d + a]!
        let s = 0
        for (let b = 0; b < d; b++) s += w[a * d + b]! * (xi[xo + b]! - means[k * d + b]!)
        quad += da * s
      }
      row[k] = eLogPi + 0.5 * eLogDet - 0.5 * d * Math.log(2 * Math.PI) - 0.5 * (d / betaK[k]! + nuK[k]! * quad)
    }
  }

  const row = new Float64Array(K)
  let previous = -Infinity
  let evidence = -Infinity
  let iterations = 0
  let converged = false
  const sweeps = stage(options, 'mixture sweeps', maxIter)
  for (let it = 0; it < maxIter; it++) {
    // One sweep costs n·K·d² operations: check for an abort (and report) between sweeps.
    const ok = await sweeps.tick(it)
    if (E.isLeft(ok)) return ok
    const m = mStep()
    if (E.isLeft(m)) return m
    iterations = it + 1
    let total = 0
    for (let i = 0; i < n; i++) {
      logRho(row, data, i * d)
      let mx = -Infinity
      for (let k = 0; k < K; k++) mx = Math.max(mx, row[k]!)
      let s = 0
      for (let k = 0; k < K; k++) s += Math.exp(row[k]! - mx)
      const lse = mx + Math.log(s)
      total += lse
      for (let k = 0; k < K; k++) resp[i * K + k] = Math.exp(row[k]! - lse)
    }
    evidence = total / n
    if (Math.abs(evidence - previous) < tol) {
      converged = true
      break
    }
    previous = evidence
  }
  const final = mStep()
  if (E.isLeft(final)) return final
  if (!Number.isFinite(evidence)) return E.left(errors.trainingFailed(`the mixture's log-evidence became ${evidence}; raise options.regCovar or rescale the codes`))
  sweeps.check(maxIter)

  const components: GmmComponent[] = []
  let remaining = 1
  for (let k = 0; k < K; k++) {
    const ev = g1[k]! / (g1[k]! + g2[k]!)
    const weight = remaining * ev
    remaining *= 1 - ev
    const covariance = new Float64Array(d * d)
    for (let q = 0; q < d * d; q++) covariance[q] = winvK[k * d * d + q]! / nuK[k]!
    components.push({ weight, mean: means.slice(k * d, (k + 1) * d), covariance, count: Nk[k]! })
  }
  const assign = (q: Matrix): Int32Array => {
    if (q.cols !== d) throw new RangeError(`assign: rows have ${q.cols} values; the mixture has dimension ${d}`)
    const out = new Int32Array(q.rows)
    const r = new Float64Array(K)
    for (let i = 0; i < q.rows; i++) {
      logRho(r, q.data, i * d)
      let best = 0
      for (let k = 1; k < K; k++) if (r[k]! > r[best]!) best = k
      out[i] = best
    }
    return out
  }
  return E.right({ dim: d, components, responsibilities: { rows: n, cols: K, data: resp }, iterations, converged, logEvidence: evidence, seed: options.seed, assign })
}

/**
 * Draw `count` points from N(mean, covariance) of one component (seeded).
 *
 * Pure numeric code: arguments that break its contract (not a component, a count that is not an integer
 * ≥ 0, no Rng, a covariance that is not positive definite even with a 1e-9 ridge) throw a `SondeError`
 * carrying `InvalidInput`. Components from {@link fitDirichletProcessGmm} always satisfy it.
 *
 * @example
 * import { createRng } from '@sonde/oracle'
 * import { sampleComponent, type GmmComponent } from '@sonde/debugging'
 *
 * const component: GmmComponent = { weight: 1, mean: Float64Array.of(0, 0), covariance: Float64Array.of(1, 0, 0, 1), count: 100 }
 * const z = sampleComponent(component, 16, createRng(1)) // 16 × 2 draws from N(0, I)
 */
export const sampleComponent = (component: GmmComponent, count: number, rng: Rng): Matrix => {
  const c = component as Partial<GmmComponent> | null | undefined
  if (c === null || typeof c !== 'object' || !(c.mean instanceof Float64Array) || !(c.covariance instanceof Float64Array) || c.covariance.length !== c.mean.length ** 2) {
    throw new SondeError(errors.invalidInput('component is not a GmmComponent (mean: Float64Array of d, covariance: Float64Array of d × d)', 'component'))
  }
  if (!(Number.isSafeInteger(count) && count >= 0)) throw new SondeError(errors.invalidInput(`count is ${show(count)}; expected an integer ≥ 0`, 'count'))
  if (rng === null || typeof rng !== 'object' || typeof rng.normal !== 'function') throw new SondeError(errors.invalidInput('rng is not an Rng (createRng(seed))', 'rng'))
  const d = component.mean.length
  const l = cholesky(component.covariance, d) ?? cholesky(component.covariance.map((v, q) => (q % (d + 1) === 0 ? v + 1e-9 : v)), d)
  if (l === undefined) throw new SondeError(errors.invalidInput('component.covariance is not positive definite (even with a 1e-9 ridge)', 'component.covariance'))
  const out = new Float64Array(count * d)
  const z = new Float64Array(d)
  for (let s = 0; s < count; s++) {
    for (let j = 0; j < d; j++) z[j] = rng.normal()
    for (let a = 0; a < d; a++) {
      let v = component.mean[a]!
      for (let b = 0; b <= a; b++) v += l[a * d + b]! * z[b]!
      out[s * d + a] = v
    }
  }
  return { rows: count, cols: d, data: out }
}
