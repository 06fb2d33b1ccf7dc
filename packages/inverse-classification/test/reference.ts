import { Matrix as MlMatrix, solve } from 'ml-matrix'

/**
 * An independent reference: the exact projection of x0 onto {x : aⱼᵀx + cⱼ ≥ 0} ∩ box by brute
 * force. Every candidate face — each coordinate free or at one of its finite bounds, each subset
 * of constraints tight — is solved as an equality-constrained least-squares problem with
 * ml-matrix; the closest feasible candidate is the optimum (the optimum is the projection onto
 * the affine hull of its own face). Exponential: for D ≤ 5 and m ≤ 4 only.
 */
export const bruteForceProjection = (
  rows: readonly (readonly number[])[],
  c: readonly number[],
  x0: readonly number[],
  lower: readonly number[],
  upper: readonly number[],
  tol = 1e-9,
): { x: number[]; distance: number } | undefined => {
  const d = x0.length
  const m = rows.length
  let best: { x: number[]; distance: number } | undefined
  const choices = x0.map((_, i) => [0, ...(Number.isFinite(lower[i]!) ? [1] : []), ...(Number.isFinite(upper[i]!) ? [2] : [])])
  const faces: number[][] = [[]]
  for (const ch of choices) {
    const next: number[][] = []
    for (const f of faces) for (const v of ch) next.push([...f, v])
    faces.splice(0, faces.length, ...next)
  }
  for (const face of faces) {
    const free = face.flatMap((v, i) => (v === 0 ? [i] : []))
    const fixed = face.map((v, i) => (v === 1 ? lower[i]! : v === 2 ? upper[i]! : Number.NaN))
    for (let mask = 0; mask < 1 << m; mask++) {
      const s = rows.flatMap((_, j) => ((mask >> j) & 1 ? [j] : []))
      const x = x0.map((v, i) => (face[i] === 0 ? v : fixed[i]!))
      if (s.length > 0) {
        if (free.length === 0) continue
        const a = new MlMatrix(s.map((j) => free.map((i) => rows[j]![i]!)))
        const rhs = s.map((j) => {
          let r = -c[j]!
          for (let i = 0; i < d; i++) r -= rows[j]![i]! * x[i]!
          return r
        })
        let nu: MlMatrix
        try {
          nu = solve(a.mmul(a.transpose()), MlMatrix.columnVector(rhs), true)
        } catch {
          continue
        }
        const step = a.transpose().mmul(nu)
        free.forEach((i, k) => (x[i] = x[i]! + step.get(k, 0)))
      }
      const feasible =
        rows.every((r, j) => r.reduce((acc, v, i) => acc + v * x[i]!, c[j]!) >= -tol) &&
        x.every((v, i) => v >= lower[i]! - tol && v <= upper[i]! + tol)
      if (!feasible) continue
      const dist = Math.sqrt(x.reduce((acc, v, i) => acc + (v - x0[i]!) ** 2, 0))
      if (best === undefined || dist < best.distance) best = { x, distance: dist }
    }
  }
  return best
}
