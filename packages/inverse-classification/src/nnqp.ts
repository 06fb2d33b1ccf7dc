/**
 * min ½λᵀHλ + qᵀλ subject to λ ≥ 0, for a small symmetric positive semi-definite H (m × m,
 * row-major): an active-set method in the style of Lawson–Hanson. The passive set grows by the
 * most negative gradient component; each step solves the equality-constrained subproblem on the
 * passive set exactly (Cholesky) and steps back to stay feasible when a multiplier would turn
 * negative. Finite termination; the answer is exact up to the Cholesky solves' rounding.
 */
export interface NnqpResult {
  readonly lambda: Float64Array
  readonly iterations: number
  /** Indices the solver could not add because they are linearly dependent on the passive set while still violated. */
  readonly dependent: readonly number[]
}

/** Cholesky solve of H[P,P] z = rhs; undefined when H[P,P] is (numerically) singular. */
const solvePassive = (h: Float64Array, m: number, passive: readonly number[], rhs: Float64Array): Float64Array | undefined => {
  const n = passive.length
  const l = new Float64Array(n * n)
  let maxDiag = 0
  for (const p of passive) maxDiag = Math.max(maxDiag, h[p * m + p]!)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = h[passive[i]! * m + passive[j]!]!
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!
      if (i === j) {
        // A pivot this small relative to the diagonal means the constraint is (nearly) a
        // combination of those already passive.
        if (!(s > 1e-12 * maxDiag)) return undefined
        l[i * n + i] = Math.sqrt(s)
      } else l[i * n + j] = s / l[j * n + j]!
    }
  }
  const y = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let s = rhs[i]!
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!
    y[i] = s / l[i * n + i]!
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * y[k]!
    y[i] = s / l[i * n + i]!
  }
  return y
}

export const solveNnqp = (
  h: Float64Array,
  q: Float64Array,
  m: number,
  warm?: Float64Array,
  maxIterations = 10 * m + 50,
): NnqpResult => {
  const lambda = warm?.slice() ?? new Float64Array(m)
  for (let j = 0; j < m; j++) if (!(lambda[j]! > 0)) lambda[j] = 0
  let passive: number[] = []
  for (let j = 0; j < m; j++) if (lambda[j]! > 0) passive.push(j)
  let qScale = 1
  for (let j = 0; j < m; j++) qScale = Math.max(qScale, Math.abs(q[j]!))
  const tol = 1e-13 * qScale
  const blocked = new Set<number>()
  let iterations = 0

  // Bring λ to the optimum of the current passive set, stepping back where it would go negative.
  const settle = (): void => {
    for (;;) {
      if (passive.length === 0) return
      const z = solvePassive(
        h,
        m,
        passive,
        Float64Array.from(passive, (p) => -q[p]!),
      )
      iterations++
      if (z === undefined) {
        // Singular: drop the newest passive index and block it.
        const dropped = passive.pop()!
        blocked.add(dropped)
        lambda[dropped] = 0
        continue
      }
      if (z.every((v) => v > 0)) {
        passive.forEach((p, i) => (lambda[p] = z[i]!))
        return
      }
      let alpha = 1
      passive.forEach((p, i) => {
        if (z[i]! <= 0) alpha = Math.min(alpha, lambda[p]! / (lambda[p]! - z[i]!))
      })
      passive.forEach((p, i) => (lambda[p] = lambda[p]! + alpha * (z[i]! - lambda[p]!)))
      passive = passive.filter((p) => {
        if (lambda[p]! <= 1e-300) {
          lambda[p] = 0
          return false
        }
        return true
      })
      if (iterations > maxIterations) return
    }
  }

  settle()
  while (iterations <= maxIterations) {
    let best = -1
    let bestGrad = -tol
    for (let j = 0; j < m; j++) {
      if (lambda[j]! > 0 || blocked.has(j)) continue
      let g = q[j]!
      for (const p of passive) g += h[j * m + p]! * lambda[p]!
      if (g < bestGrad) {
        bestGrad = g
        best = j
      }
    }
    if (best < 0) break
    passive.push(best)
    settle()
  }
  const dependent: number[] = []
  for (const j of blocked) {
    let g = q[j]!
    for (const p of passive) g += h[j * m + p]! * lambda[p]!
    if (g < -tol) dependent.push(j)
  }
  return { lambda, iterations, dependent }
}
