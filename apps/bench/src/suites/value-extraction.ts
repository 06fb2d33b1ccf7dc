import { Matrix as MlMatrix, solve } from 'ml-matrix'
import { createRng, type Matrix } from '@sonde/oracle'
import type { TwoLayerRelu } from '@sonde/models'

/**
 * The value-query-only baseline: functionally equivalent extraction of a two-layer ReLU network
 * in the style of Jagielski et al. (2020), O(h·d) value queries.
 * 1. Critical points: walk the line x(θ) = p + tan θ·v; an interval is linear when f at its middle
 *    equals the interpolation of its ends; split the others until each holds one kink, then locate
 *    the kink exactly by intersecting the two linear pieces (two extra queries).
 * 2. Each unit's weights from second differences across its kink along every axis
 *    (|aᵢwᵢⱼ|·ε from 2 queries) and their relative signs along eⱼ + e_r (2 more): 4d + 1 per unit.
 * 3. The output layer by least squares: f = Σ αᵢ ReLU(zᵢ) + Σ βᵢ zᵢ + c (the βᵢ absorb the unknown
 *    orientation of each unit, since ReLU(−z) = ReLU(z) − z), from 2 points astride each unit's
 *    hyperplane and 17 random points — for every logit at once (a value query answers all of them;
 *    steps 1–2 read logit 0).
 */
export const valueOnlyExtraction = (victim: TwoLayerRelu, seed: number) => {
  const d = victim.info.inputDim
  let queries = 0
  const k = victim.info.numClasses
  // One value query answers every logit; the search reads logit 0, the output layer is fitted for each.
  const all = (x: Float64Array): Float64Array => {
    queries++
    return victim.evaluate({ rows: 1, cols: d, data: x }).data
  }
  const f = (x: Float64Array): number => all(x)[0]!
  const rng = createRng(seed)
  const p = Float64Array.from({ length: d }, () => rng.normal())
  const v = Float64Array.from({ length: d }, () => rng.normal())
  const at = (t: number) => p.map((pj, j) => pj + t * v[j]!)
  const thetaMax = Math.PI / 2 - 1e-6
  type Pt = { theta: number; t: number; f: number }
  const point = (theta: number): Pt => {
    const t = Math.tan(theta)
    return { theta, t, f: f(at(t)) }
  }
  const linear = (a: Pt, m: Pt, b: Pt): boolean => {
    const interp = a.f + ((b.f - a.f) * (m.t - a.t)) / (b.t - a.t)
    return Math.abs(interp - m.f) <= 1e-10 * (Math.abs(a.f) + Math.abs(b.f) + Math.abs(m.f) + 1)
  }
  // Intervals carry their midpoint, already queried.
  let open: Array<[Pt, Pt, Pt]> = []
  const lo = point(-thetaMax)
  const hi = point(thetaMax)
  open.push([lo, point(0), hi])
  const kinks: Array<[Pt, Pt]> = []
  while (open.length > 0) {
    const nonlinear = open.filter(([a, m, b]) => !linear(a, m, b))
    const n = Math.max(1, nonlinear.length + kinks.length)
    const width = (2 * thetaMax) / (64 * n * n)
    open = []
    for (const [a, m, b] of nonlinear) {
      if (b.theta - a.theta <= width) {
        kinks.push([a, b])
        continue
      }
      open.push([a, point((a.theta + m.theta) / 2), m], [m, point((m.theta + b.theta) / 2), b])
    }
  }
  const units: { w: Float64Array; b: number }[] = []
  const kinkPoints: Float64Array[] = []
  for (const [a, b] of kinks) {
    const dt = (b.t - a.t) * 1e-3
    const a2 = f(at(a.t + dt))
    const b2 = f(at(b.t - dt))
    const sa = (a2 - a.f) / dt
    const sb = (b.f - b2) / dt
    const tStar = (b.f - a.f + sa * a.t - sb * b.t) / (sa - sb)
    const xs = at(tStar)
    kinkPoints.push(xs)
    const f0 = f(xs)
    // Rounding in a second difference grows with |f(x*)|, i.e. with |x*|: scale ε with it.
    const eps = 1e-4 * Math.max(1, Math.hypot(...xs) / 10)
    const second = (dir: (x: Float64Array) => void): number => {
      const plus = xs.slice()
      const minus = xs.slice()
      dir(plus)
      for (let j = 0; j < d; j++) minus[j] = 2 * xs[j]! - plus[j]!
      return (f(plus) + f(minus) - 2 * f0) / eps
    }
    // Second differences are aᵢ·|wᵢⱼ|: the sign of aᵢ is shared, so keep magnitudes.
    const mag = Float64Array.from({ length: d }, (_, j) => Math.abs(second((x) => (x[j]! += eps))))
    let r = 0
    for (let j = 1; j < d; j++) if (mag[j]! > mag[r]!) r = j
    const w = new Float64Array(d)
    w[r] = mag[r]!
    for (let j = 0; j < d; j++) {
      if (j === r) continue
      const both = Math.abs(second((x) => {
        x[j]! += eps
        x[r]! += eps
      }))
      // |w_j + w_r| = |w_j| + |w_r| when they share a sign.
      w[j] = Math.abs(both - (mag[j]! + mag[r]!)) < Math.abs(both - Math.abs(mag[j]! - mag[r]!)) ? mag[j]! : -mag[j]!
    }
    units.push({ w, b: -w.reduce((s, wj, j) => s + wj * xs[j]!, 0) })
  }
  // Output layer: least squares on points on both sides of every unit's hyperplane, next to its
  // critical point (so each ReLU feature differs from its linear twin somewhere), plus 17 random points.
  const h = units.length
  const m = 2 * h + 1
  const fitPoints: Float64Array[] = []
  units.forEach((u, i) => {
    const norm = Math.hypot(...u.w)
    for (const side of [-0.05, 0.05]) fitPoints.push(kinkPoints[i]!.map((x, j) => x + (side * u.w[j]!) / norm))
  })
  for (let r2 = 0; r2 < 17; r2++) fitPoints.push(Float64Array.from({ length: d }, () => rng.normal()))
  const feats = (x: Float64Array): Float64Array => {
    const out = new Float64Array(m)
    units.forEach((u, i) => {
      const z = u.w.reduce((s, wj, j) => s + wj * x[j]!, u.b)
      out[i] = Math.max(0, z)
      out[h + i] = z
    })
    out[2 * h] = 1
    return out
  }
  const ata = new Float64Array(m * m)
  const aty = new Float64Array(m * k)
  for (const x of fitPoints) {
    const phi = feats(x)
    const y = all(x)
    for (let i = 0; i < m; i++) {
      for (let c = 0; c < k; c++) aty[i * k + c]! += phi[i]! * y[c]!
      for (let j = 0; j < m; j++) ata[i * m + j]! += phi[i]! * phi[j]!
    }
  }
  const normal = new MlMatrix(m, m)
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) normal.set(i, j, ata[i * m + j]!)
  const rhs = new MlMatrix(m, k)
  for (let i = 0; i < m; i++) for (let c = 0; c < k; c++) rhs.set(i, c, aty[i * k + c]!)
  const coef = solve(normal, rhs, true)
  /** Every logit at each row of x, rows × K (row-major). */
  const evaluate = (x: Matrix): Float64Array => {
    const out = new Float64Array(x.rows * k)
    for (let r2 = 0; r2 < x.rows; r2++) {
      const phi = feats(x.data.subarray(r2 * d, (r2 + 1) * d) as Float64Array)
      for (let c = 0; c < k; c++) out[r2 * k + c] = phi.reduce((s, v2, i) => s + v2 * coef.get(i, c), 0)
    }
    return out
  }
  return { units: h, valueQueries: queries, evaluate }
}
