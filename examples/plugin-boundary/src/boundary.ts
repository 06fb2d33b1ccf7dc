import { either as E, taskEither as TE } from 'fp-ts'
import {
  createRng,
  errors,
  reportNumber,
  schemas,
  stage,
  trackQueries,
  validateSeed,
  z,
  type Matrix,
  type Oracle,
  type Probe,
  type ProbeError,
  type ProbeReport,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'

/** Options of {@link boundaryDistance}. */
export interface BoundaryOptions extends RunControl {
  /** Random unit directions to search along. */
  readonly directions: number
  /** How far to look along each direction before giving up on it. */
  readonly maxRadius: number
  /** Bisection steps per direction; the bracket shrinks by 2^steps. */
  readonly steps: number
  readonly seed: number
}

/** What {@link boundaryDistance} found. */
export interface BoundaryResult {
  /** Per direction: the distance at which the label first changes (upper end of the final bracket), or `null` if it never does within `maxRadius`. */
  readonly distances: readonly (number | null)[]
  /** The smallest of them (the point's robustness along the sampled directions), or `null`. */
  readonly nearest: number | null
  /** The label at the point. */
  readonly label: number
  readonly queries: QueryUsage
  readonly seed: number
}

const unitDirections = (dim: number, count: number, seed: number): Float64Array[] => {
  const rng = createRng(seed)
  return Array.from({ length: count }, () => {
    const u = Float64Array.from({ length: dim }, () => rng.normal())
    const n = Math.hypot(...u)
    return u.map((v) => v / n)
  })
}

/** The rows `x0 + t_j · u_j` for every direction j, as one matrix (one oracle call per bisection level). */
const along = (x0: Float64Array, dirs: readonly Float64Array[], t: readonly number[]): Matrix => {
  const d = x0.length
  const data = new Float64Array(dirs.length * d)
  dirs.forEach((u, j) => {
    for (let i = 0; i < d; i++) data[j * d + i] = x0[i]! + t[j]! * u[i]!
  })
  return { rows: dirs.length, cols: d, data }
}

/**
 * How far `x0` is from the decision boundary along `directions` random unit directions: label queries
 * only, one batched call per bisection level. For a linear classifier the answer along u is
 * |w·x0 + b| / |w·u| for the class pair, which the plugin's test checks.
 *
 * @example
 * import { fromFunction, toPromise } from '@sonde/oracle'
 * import { boundaryDistance } from 'sonde-plugin-boundary'
 *
 * // label 1 where 3x₀ − 4x₁ + 2 > 0: (1, 1) is |3 − 4 + 2| / 5 = 0.2 from the boundary
 * const oracle = fromFunction({ id: 'half-plane', inputDim: 2, numClasses: 2, output: 'label' }, (x) =>
 *   Int32Array.from({ length: x.rows }, (_, i) => (3 * x.data[2 * i]! - 4 * x.data[2 * i + 1]! + 2 > 0 ? 1 : 0)),
 * )
 * const r = await toPromise(boundaryDistance(oracle, Float64Array.of(1, 1), { directions: 16, maxRadius: 10, steps: 30, seed: 1 }))
 * const nearest = r.nearest // the smallest distance found along the 16 directions: ≥ 0.2
 */
export const boundaryDistance = (oracle: Oracle, x0: Float64Array, o: BoundaryOptions): TE.TaskEither<ProbeError, BoundaryResult> =>
  async () => {
    const seed = validateSeed(o.seed, 'options.seed')
    if (E.isLeft(seed)) return seed
    if (!(x0 instanceof Float64Array) || x0.length !== oracle.info.inputDim || !x0.every(Number.isFinite)) {
      return E.left(errors.invalidOptions([{ path: 'x0', message: `expected ${oracle.info.inputDim} finite numbers` }]))
    }
    const bad: { path: string; message: string }[] = []
    if (!Number.isInteger(o.directions) || o.directions < 1) bad.push({ path: 'options.directions', message: `is ${String(o.directions)}; expected an integer ≥ 1` })
    if (!(o.maxRadius > 0) || !Number.isFinite(o.maxRadius)) bad.push({ path: 'options.maxRadius', message: `is ${String(o.maxRadius)}; expected a positive number` })
    if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > 60) bad.push({ path: 'options.steps', message: `is ${String(o.steps)}; expected an integer in [1, 60]` })
    if (bad.length > 0) return E.left(errors.invalidOptions(bad))
    const tracked = trackQueries(oracle)
    const dirs = unitDirections(x0.length, o.directions, o.seed)
    const first = await tracked.oracle.predict({ rows: 1, cols: x0.length, data: x0 })()
    if (E.isLeft(first)) return first
    const label = first.right.labels[0]!
    // Is the label different at the far end? Directions where it is not are out of reach.
    const far = await tracked.oracle.predict(along(x0, dirs, dirs.map(() => o.maxRadius)))()
    if (E.isLeft(far)) return far
    const lo = dirs.map(() => 0)
    const hi = dirs.map(() => o.maxRadius)
    const open = dirs.map((_, j) => far.right.labels[j] !== label)
    const s = stage(o, 'bisection', o.steps)
    for (let level = 0; level < o.steps; level++) {
      const ok = await s.tick(level)
      if (E.isLeft(ok)) return ok
      const mid = lo.map((a, j) => (a + hi[j]!) / 2)
      const r = await tracked.oracle.predict(along(x0, dirs, mid))()
      if (E.isLeft(r)) return r
      mid.forEach((m, j) => {
        if (r.right.labels[j] === label) lo[j] = m
        else hi[j] = m
      })
    }
    s.check(o.steps)
    const distances = hi.map((h, j) => (open[j] ? h : null))
    const found = distances.filter((v): v is number => v !== null)
    return E.right({ distances, nearest: found.length > 0 ? Math.min(...found) : null, label, queries: tracked.usage(), seed: o.seed })
  }

const options = z
  .object({
    x0: schemas.vector({ minLength: 1, description: 'the point to measure from' }),
    directions: z.number().int().min(1).max(10_000).default(32).describe('random unit directions to search along'),
    maxRadius: z.number().positive().default(10).describe('how far to look along each direction'),
    steps: z.number().int().min(1).max(60).default(30).describe('bisection steps per direction (the bracket shrinks by 2^steps)'),
  })
  .strict()

/**
 * The plugin's probe: {@link boundaryDistance} driven by JSON options, with a report.
 *
 * @example
 * // fragment: needs an oracle
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { boundaryProbe } from 'sonde-plugin-boundary'
 *
 * declare const oracle: Oracle
 * const r = await toPromise(runProbe(boundaryProbe, oracle, { x0: [0, 0], directions: 8 }, makeContext({ seed: 1 })))
 * const { headline } = boundaryProbe.report(r)
 */
export const boundaryProbe: Probe<Oracle, z.output<typeof options>, BoundaryResult> = {
  id: 'sonde-plugin-boundary/distance',
  summary: 'how far a point is from the decision boundary along random directions (label queries, bisection)',
  requires: ['labels'],
  options,
  run: (oracle, o, ctx) => {
    if (o.x0.length !== oracle.info.inputDim) {
      return TE.left(errors.invalidOptions([{ path: 'options.x0', message: `has ${o.x0.length} values; the oracle takes ${oracle.info.inputDim}` }]))
    }
    return boundaryDistance(oracle, o.x0, { ...o, seed: ctx.seed, ...(ctx.signal ? { signal: ctx.signal } : {}), progress: ctx.progress })
  },
  report: (r): ProbeReport => {
    const reached = r.distances.filter((v) => v !== null).length
    return {
      probe: 'sonde-plugin-boundary/distance',
      headline:
        r.nearest === null
          ? `the label (${r.label}) did not change within the search radius along any of ${r.distances.length} directions`
          : `the label (${r.label}) changes ${r.nearest.toPrecision(4)} away at the nearest of ${r.distances.length} random directions`,
      findings: [`${reached} of ${r.distances.length} directions reach the boundary`],
      seed: r.seed,
      queries: r.queries,
      metrics: [
        { name: 'nearest', value: r.nearest === null ? null : reportNumber(r.nearest), description: 'smallest distance to a label change' },
        { name: 'reached', value: reached, unit: 'directions' },
      ],
      tables: [],
      figures: [{ kind: 'histogram', title: 'distance to the boundary per direction', xLabel: 'distance', values: r.distances.filter((v): v is number => v !== null) }],
    }
  },
}
