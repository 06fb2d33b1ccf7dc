import { either as E, taskEither as TE } from 'fp-ts'
import { createRng, errors, labelAgreement, randomQueries, validateSeed, type InvalidOptions, type Matrix, type Oracle, type ProbeError, type QueryUsage } from '@sonde/oracle'
import { checked, checkOracle, guarded } from './boundary.js'

/**
 * Rows spent by an extraction, by kind.
 *
 * @deprecated Results carry `queries: QueryUsage` (`gradientRows`, and `predictRows` for the old `valueRows`).
 */
export type ExtractionQueries = QueryUsage

/** How closely an extracted model matches the oracle on a set of points. */
export interface Fidelity {
  readonly rows: number
  /** Fraction of rows with the same label. */
  readonly agreement: number
  /** max |score − score'| over all rows and compared columns (0 when either side reveals no scores). */
  readonly maxAbsError: number
  /** maxAbsError / max |score| of the oracle. */
  readonly maxRelativeError: number
  /** Whether scores were compared (both reveal the same kind of scores); otherwise only labels were. */
  readonly scoresCompared: boolean
  /** What this check asked of the original oracle (the copy's queries are not counted). */
  readonly queries: QueryUsage
  /** The seed the points were drawn with, or the one given (default 0) for points given. */
  readonly seed: number
}

/** Where {@link Extraction.fidelity} compares: given points, or `count` random ones drawn with `seed`. */
export type FidelityPoints = Matrix | { readonly count: number; readonly seed: number }

/** An extracted model, the rows it cost, and a way to check it against the oracle. */
export interface Extraction<M extends Oracle> {
  /** The extracted model: an oracle itself. */
  readonly model: M
  /** What the extraction asked of the oracle. */
  readonly queries: QueryUsage
  readonly seed: number
  /** Compare the model with the oracle (spends value queries of the oracle, one per point). */
  readonly fidelity: (points: FidelityPoints) => TE.TaskEither<ProbeError, Fidelity>
}

/**
 * `count` random points for an oracle: uniform in a finite domain, a half-normal step inside a single bound,
 * standard normal otherwise (`randomQueries` of `@sonde/oracle`, seeded). `InvalidOptions` for a bad count or seed.
 *
 * @example
 * import { SoftmaxRegression } from '@sonde/models'
 * import { randomPoints } from '@sonde/gradient-extraction'
 *
 * const oracle = SoftmaxRegression.random(4, 3, 1, { domain: { lower: 0, upper: 1 } })
 * const x = randomPoints(oracle, 100, 7) // Right(Matrix with 100 rows, uniform in [0, 1]⁴)
 */
export const randomPoints = (oracle: Oracle, count: number, seed: number): E.Either<InvalidOptions, Matrix> => {
  const s = validateSeed(seed, 'seed')
  if (E.isLeft(s)) return s
  if (!(Number.isSafeInteger(count) && count >= 0)) return E.left(errors.invalidOptions([{ path: 'count', message: `is ${String(count)}; expected a non-negative integer` }]))
  const ok = checkOracle(oracle, false)
  if (E.isLeft(ok)) return E.left(errors.invalidOptions([{ path: 'oracle', message: ok.left.message }]))
  return E.right(randomQueries(oracle.info, count, createRng(seed)))
}

const pointsOf = (original: Oracle, points: unknown): E.Either<ProbeError, { x: Matrix; seed: number }> => {
  if (points === null || typeof points !== 'object') {
    return E.left(errors.invalidOptions([{ path: 'points', message: `is ${String(points)}; expected a Matrix or { count, seed }` }]))
  }
  const p = points as Partial<Matrix> & { count?: unknown; seed?: unknown }
  if ('data' in p) {
    const d = original.info.inputDim
    if (!(p.data instanceof Float64Array) || !Number.isSafeInteger(p.rows) || p.cols !== d || p.data.length !== p.rows! * d) {
      return E.left(errors.shapeMismatch('points', `a Matrix with ${d} columns (info.inputDim) and rows × cols values`, `rows ${String(p.rows)}, cols ${String(p.cols)}`))
    }
    if (p.rows! < 1) return E.left(errors.invalidInput('points has no rows; a comparison needs at least one point', 'points'))
    const bad = p.data.findIndex((v) => !Number.isFinite(v))
    if (bad >= 0) return E.left(errors.invalidInput(`points[${Math.floor(bad / d)}][${bad % d}] is ${p.data[bad]}; expected a finite number`, `points[${Math.floor(bad / d)}][${bad % d}]`))
    return E.right({ x: p as Matrix, seed: 0 })
  }
  const r = randomPoints(original, p.count as number, p.seed as number)
  if (E.isLeft(r)) return E.left(errors.invalidOptions(r.left.issues.map((i) => ({ ...i, path: `points.${i.path}` }))))
  if (r.right.rows < 1) return E.left(errors.invalidOptions([{ path: 'points.count', message: 'is 0; expected at least 1 point' }]))
  return E.right({ x: r.right, seed: p.seed as number })
}

/**
 * Compare two oracles on `points`: label agreement, and score errors where both reveal scores of the same kind
 * (for a one-column oracle against a two-class model, the positive class's column). Both answers are checked
 * (shape, finiteness) before they are compared; `queries` counts what the original was asked.
 *
 * @example
 * import { toPromise } from '@sonde/oracle'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { compareOracles } from '@sonde/gradient-extraction'
 *
 * const victim = SoftmaxRegression.random(4, 3, 1)
 * const copy = SoftmaxRegression.random(4, 3, 2)
 * const fid = await toPromise(compareOracles(victim, copy, { count: 1000, seed: 2 }))
 * const { agreement, maxRelativeError } = fid // label agreement; score errors (both reveal logits)
 */
export const compareOracles = (original: Oracle, copy: Oracle, points: FidelityPoints): TE.TaskEither<ProbeError, Fidelity> =>
  guarded('compareOracles', async () => {
    for (const [o, path] of [
      [original, 'original'],
      [copy, 'copy'],
    ] as const) {
      const ok = checkOracle(o, false)
      if (E.isLeft(ok)) return E.left(ok.left._tag === 'InvalidInput' ? { ...ok.left, path: `${path}.${ok.left.path}` } : ok.left)
    }
    if (copy.info.inputDim !== original.info.inputDim) return E.left(errors.shapeMismatch('copy.info.inputDim', String(original.info.inputDim), String(copy.info.inputDim)))
    const pts = pointsOf(original, points)
    if (E.isLeft(pts)) return pts
    const { x, seed } = pts.right
    const a0 = checked(original)
    const b0 = checked(copy)
    const a = await a0.predict(x)
    if (E.isLeft(a)) return a
    const b = await b0.predict(x)
    if (E.isLeft(b)) return b
    let maxAbs = 0
    let scale = 0
    let compared = false
    const sa = a.right.scores
    const sb = b.right.scores
    if (sa !== undefined && sb !== undefined && original.info.output === copy.info.output) {
      const shift = sb.cols - sa.cols // 0, or 1 for a one-column oracle against a two-class model
      if (shift === 0 || (shift === 1 && sa.cols === 1)) {
        compared = true
        for (let i = 0; i < x.rows; i++) {
          for (let c = 0; c < sa.cols; c++) {
            const va = sa.data[i * sa.cols + c]!
            const vb = sb.data[i * sb.cols + c + shift]!
            maxAbs = Math.max(maxAbs, Math.abs(va - vb))
            scale = Math.max(scale, Math.abs(va))
          }
        }
      }
    }
    return E.right({
      rows: x.rows,
      agreement: labelAgreement(a.right.labels, b.right.labels),
      maxAbsError: maxAbs,
      maxRelativeError: scale === 0 ? maxAbs : maxAbs / scale,
      scoresCompared: compared,
      queries: a0.usage(),
      seed,
    })
  })
