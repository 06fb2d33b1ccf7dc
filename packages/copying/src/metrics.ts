import { either as E, taskEither as TE } from 'fp-ts'
import { createRng, domainBounds, errors, trackQueries, validateQuery, validateSeed, type Matrix, type Oracle, type ProbeError, type QueryUsage } from '@sonde/oracle'
import { askLabels, oracleIssue, show } from './check.js'

/** What {@link empiricalFidelityError} and {@link uniformAgreement} measure. */
export interface Agreement {
  /** Share of the points on which both oracles give the same label, in [0, 1]. */
  readonly agreement: number
  /** 1 − agreement: the empirical fidelity error F̂ (0 for a perfect copy). */
  readonly error: number
  /** How many points it was measured on (at least 1). */
  readonly points: number
  /** The queries sent to the first oracle (the original, the one that costs). */
  readonly queries: QueryUsage
  /** The queries sent to the second oracle (the copy). */
  readonly copyQueries: QueryUsage
  /** The seed of the points (0 and unused where the points are given). */
  readonly seed: number
}

/** What {@link replacementCapability} measures. */
export interface Replacement {
  /** RC = accuracy(copy) / accuracy(original); undefined when the original gets no label right (RC is then undefined). */
  readonly capability: number | undefined
  readonly originalAccuracy: number
  readonly copyAccuracy: number
  readonly points: number
  readonly queries: QueryUsage
  readonly copyQueries: QueryUsage
  /** Echoed: no random choice is made. */
  readonly seed: number
}

const optionalSeed = (o: unknown): E.Either<ProbeError, number> => {
  if (o === undefined) return E.right(0)
  if (o === null || typeof o !== 'object') return E.left(errors.invalidOptions([{ path: 'options', message: `is ${show(o)}; expected an options object or nothing` }]))
  const seed = (o as { seed?: unknown }).seed
  return seed === undefined ? E.right(0) : validateSeed(seed)
}

/** Both oracles usable on `x`: checked before any query (a matrix of at least one row, the right width, inside both domains). */
const checkPair = (a: unknown, b: unknown, x: unknown): ProbeError | undefined => {
  const bad = oracleIssue(a, 'original') ?? oracleIssue(b, 'copy')
  if (bad !== undefined) return bad
  const oa = a as Oracle
  const ob = b as Oracle
  if (oa.info.inputDim !== ob.info.inputDim) return errors.shapeMismatch('copy.info.inputDim', `${oa.info.inputDim} (the original's)`, `${ob.info.inputDim}`)
  if (x === null || typeof x !== 'object') return errors.invalidInput(`x is ${show(x)}; expected a Matrix of points`, 'x')
  const m = x as Matrix
  const q = validateQuery(oa.info, m)
  if (E.isLeft(q)) return q.left
  const qb = validateQuery(ob.info, m)
  if (E.isLeft(qb)) return qb.left
  if (m.rows === 0) return errors.invalidInput('x has no rows; agreement over 0 points is undefined (it is not 1)', 'x')
  return undefined
}

const compare = (a: Oracle, b: Oracle, x: Matrix): TE.TaskEither<ProbeError, { la: Int32Array; lb: Int32Array; queries: QueryUsage; copyQueries: QueryUsage }> => async () => {
  const ta = trackQueries(a)
  const tb = trackQueries(b)
  const la = await askLabels(ta.oracle, a.info, x)()
  if (E.isLeft(la)) return la
  const lb = await askLabels(tb.oracle, b.info, x)()
  if (E.isLeft(lb)) return lb
  return E.right({ la: la.right, lb: lb.right, queries: ta.usage(), copyQueries: tb.usage() })
}

const same = (la: Int32Array, lb: ArrayLike<number>): number => {
  let n = 0
  for (let i = 0; i < la.length; i++) if (la[i] === lb[i]) n++
  return n
}

/**
 * Empirical fidelity F̂ = 1 − (1/|S|) Σ 1[a(x) = b(x)] on the points `x` (Unceta et al.): `error` is 0 for a
 * perfect copy. Spends x.rows queries of each oracle (`a`'s are the result's `queries`). Refuses an empty
 * `x` (`InvalidInput`): agreement over no points is undefined, not 1. Deterministic: `seed` (default 0) is echoed.
 *
 * @example
 * // fragment: an original, its copy and points neither was trained on
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { empiricalFidelityError } from '@sonde/copying'
 *
 * declare const original: Oracle
 * declare const copy: Oracle
 * declare const heldOut: Matrix
 * const { agreement, queries } = await toPromise(empiricalFidelityError(original, copy, heldOut))
 */
export const empiricalFidelityError = (a: Oracle, b: Oracle, x: Matrix, options?: { readonly seed?: number }): TE.TaskEither<ProbeError, Agreement> => {
  const seed = optionalSeed(options)
  if (E.isLeft(seed)) return TE.left(seed.left)
  const bad = checkPair(a, b, x)
  if (bad !== undefined) return TE.left(bad)
  return TE.map(({ la, lb, queries, copyQueries }: { la: Int32Array; lb: Int32Array; queries: QueryUsage; copyQueries: QueryUsage }) => {
    const agreement = same(la, lb) / la.length
    return { agreement, error: 1 - agreement, points: la.length, queries, copyQueries, seed: seed.right }
  })(compare(a, b, x))
}

/**
 * Replacement capability RC = accuracy(copy) / accuracy(original) on labelled data: 1 when the
 * copy does the original's job as well as the original. `capability` is undefined when the original gets
 * none of `y` right. Refuses an empty `x` and a `y` of another length before any query.
 *
 * @example
 * // fragment: an original, its copy and labelled test data
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { replacementCapability } from '@sonde/copying'
 *
 * declare const original: Oracle
 * declare const copy: Oracle
 * declare const test: { x: Matrix; y: Int32Array }
 * const { capability } = await toPromise(replacementCapability(original, copy, test.x, test.y)) // 1: as good as the original
 */
export const replacementCapability = (original: Oracle, copy: Oracle, x: Matrix, y: Int32Array, options?: { readonly seed?: number }): TE.TaskEither<ProbeError, Replacement> => {
  const seed = optionalSeed(options)
  if (E.isLeft(seed)) return TE.left(seed.left)
  const bad = checkPair(original, copy, x)
  if (bad !== undefined) return TE.left(bad)
  if (!(y instanceof Int32Array) || y.length !== x.rows) return TE.left(errors.shapeMismatch('y', `an Int32Array of ${x.rows} labels`, y instanceof Int32Array ? `${y.length} labels` : show(y)))
  return TE.map(({ la, lb, queries, copyQueries }: { la: Int32Array; lb: Int32Array; queries: QueryUsage; copyQueries: QueryUsage }) => {
    const originalAccuracy = same(la, y) / y.length
    const copyAccuracy = same(lb, y) / y.length
    return { capability: originalAccuracy > 0 ? copyAccuracy / originalAccuracy : undefined, originalAccuracy, copyAccuracy, points: y.length, queries, copyQueries, seed: seed.right }
  })(compare(original, copy, x))
}

/**
 * Agreement on `budget` (default 10,000) points uniform in the first oracle's domain (Tramèr's R_unif).
 * Needs a finite domain (`InvalidInput` otherwise) and a seed.
 *
 * @example
 * import { toPromise } from '@sonde/oracle'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { uniformAgreement } from '@sonde/copying'
 *
 * const domain = { lower: -1, upper: 1 }
 * const original = SoftmaxRegression.random(4, 3, 1, { domain })
 * const copy = SoftmaxRegression.random(4, 3, 2, { domain })
 * const { agreement } = await toPromise(uniformAgreement(original, copy, { seed: 1, budget: 2000 }))
 */
export const uniformAgreement = (a: Oracle, b: Oracle, o: { readonly budget?: number; readonly seed: number }): TE.TaskEither<ProbeError, Agreement> => {
  const bad = oracleIssue(a, 'original') ?? oracleIssue(b, 'copy')
  if (bad !== undefined) return TE.left(bad)
  if (o === null || typeof o !== 'object') return TE.left(errors.invalidOptions([{ path: 'options', message: `is ${show(o)}; expected { budget?, seed }` }]))
  const issues: { path: string; message: string }[] = []
  const seed = validateSeed(o.seed)
  if (E.isLeft(seed)) issues.push(...seed.left.issues)
  if ('count' in o) issues.push({ path: 'options.count', message: 'was renamed to options.budget (the number of uniform points to label)' })
  const n = o.budget ?? 10_000
  if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 1)) issues.push({ path: 'options.budget', message: `is ${show(n)}; expected an integer ≥ 1` })
  if (issues.length > 0 || E.isLeft(seed)) return TE.left(errors.invalidOptions(issues))
  const seedValue = seed.right
  const d = a.info.inputDim
  if (a.info.domain === undefined) return TE.left(errors.invalidInput(`oracle '${a.info.id}' has no domain; uniformAgreement needs a finite box`, 'original.info.domain'))
  const { lower, upper } = domainBounds(a.info.domain, d)
  for (let j = 0; j < d; j++) {
    if (!Number.isFinite(lower[j]!) || !Number.isFinite(upper[j]!) || !(lower[j]! <= upper[j]!)) {
      return TE.left(errors.invalidInput(`uniformAgreement needs a finite box; feature ${j} of the domain is [${lower[j]}, ${upper[j]}]`, 'original.info.domain'))
    }
  }
  const rng = createRng(seedValue)
  const data = new Float64Array(n * d)
  for (let k = 0; k < data.length; k++) data[k] = lower[k % d]! + (upper[k % d]! - lower[k % d]!) * rng.next()
  return TE.map((r: Agreement) => ({ ...r, seed: seedValue }))(empiricalFidelityError(a, b, { rows: n, cols: d, data }))
}

/** The share of each class (labels already known to be in range). */
export const shares = (y: Int32Array, numClasses: number): Float64Array => {
  const out = new Float64Array(Math.max(numClasses, 2))
  for (const l of y) out[l]! += 1
  for (let c = 0; c < out.length; c++) out[c]! /= Math.max(1, y.length)
  return out
}

/**
 * The share of each class in a labelled set (length max(numClasses, 2); all 0 for no labels), or
 * `InvalidInput` for a label outside 0..numClasses − 1 or a bad `numClasses`.
 *
 * @example
 * import { classBalance } from '@sonde/copying'
 *
 * const shares = classBalance(Int32Array.of(0, 0, 1, 2), 3) // Right(Float64Array [0.5, 0.25, 0.25])
 */
export const classBalance = (y: Int32Array, numClasses: number): E.Either<ProbeError, Float64Array> => {
  if (!(typeof numClasses === 'number' && Number.isSafeInteger(numClasses) && numClasses >= 1 && numClasses <= 2 ** 24)) {
    return E.left(errors.invalidInput(`numClasses is ${show(numClasses)}; expected an integer ≥ 1`, 'numClasses'))
  }
  if (!(y instanceof Int32Array)) return E.left(errors.invalidInput(`y is ${show(y)}; expected an Int32Array of labels`, 'y'))
  const k = Math.max(numClasses, 2)
  const bad = y.findIndex((l) => !(l >= 0 && l < k))
  if (bad >= 0) return E.left(errors.invalidInput(`y[${bad}] is ${y[bad]}; expected a class in 0..${k - 1}`, `y[${bad}]`))
  return E.right(shares(y, k))
}
