import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { domainBounds, errors, meter, type Oracle, type OracleError, type ProbeError } from '@sonde/oracle'
import { inverseLogistic } from './logistic.js'
import { clipAlong, distance, type InverseOptions, type InverseResult, type LogisticModel, type SoftmaxModel } from './problem.js'
import { inverseSoftmax, type PreparedSoftmax } from './softmax.js'

/** A surrogate the exact solvers accept: logistic, softmax, or softmax with its precomputation. */
export type Surrogate = LogisticModel | SoftmaxModel | PreparedSoftmax

/** Options of {@link counterfactual}: the target as for the exact solvers, plus the repair's budget. */
export interface CounterfactualOptions extends InverseOptions {
  /** Most oracle rows to spend (check + repair). Default 40. */
  readonly maxQueries?: number
  /** Bisection steps that pull a repaired point back towards x0. Default 12. */
  readonly bisectionSteps?: number
  /** The repair searches the ray x0 → x* up to this multiple of the surrogate's step. Default 16. */
  readonly maxScale?: number
}

/** What {@link counterfactual} found. */
export interface CounterfactualResult {
  /** The best point found: the surrogate's answer if the oracle confirms it, else the repaired one. */
  readonly x: Float64Array
  readonly distance: number
  /** Whether the oracle itself assigns `x` to the target class. */
  readonly confirmed: boolean
  /** Whether the surrogate's answer had to be moved. */
  readonly repaired: boolean
  /** The oracle's label at `x`. */
  readonly oracleLabel: number
  /** Oracle rows spent. */
  readonly queries: number
  /** The exact answer on the surrogate. */
  readonly surrogate: InverseResult
}

const isLogistic = (s: Surrogate): s is LogisticModel => typeof (s as LogisticModel).bias === 'number'
const inputWidth = (s: Surrogate): number =>
  isLogistic(s) ? s.weights.length : 'gram' in s ? s.model.weights.cols : s.weights.cols

/**
 * A counterfactual for a black box: solve exactly on a linear or softmax `surrogate` (one
 * obtained by extraction or copying), check the answer with the oracle and, if the oracle
 * disagrees, repair it by a counted search along the ray x0 → x* and beyond (doubling steps, then
 * bisection back towards x0). The result says how many oracle rows were spent and whether the
 * oracle confirmed the target; an unconfirmed result is returned, not hidden.
 *
 * Bounds default to `oracle.info.domain`, so every query stays inside what the oracle accepts.
 *
 * @example
 * const r = await toPromise(counterfactual(blackBox, copiedSoftmax, x0, { target: 8 }))
 * r.confirmed, r.queries, r.distance
 */
export const counterfactual = (
  oracle: Oracle,
  surrogate: Surrogate,
  x0: Float64Array,
  options: CounterfactualOptions,
): TE.TaskEither<ProbeError, CounterfactualResult> => {
  const info = oracle.info
  const maxQueries = options.maxQueries ?? 40
  const bisectionSteps = options.bisectionSteps ?? 12
  const maxScale = options.maxScale ?? 16
  if (inputWidth(surrogate) !== info.inputDim) {
    return TE.left(errors.shapeMismatch('surrogate', `${info.inputDim} input features (the oracle's inputDim)`, `${inputWidth(surrogate)}`))
  }
  const problems = [
    !(Number.isInteger(maxQueries) && maxQueries >= 1) ? `maxQueries is ${maxQueries}; expected a positive integer` : '',
    !(Number.isInteger(bisectionSteps) && bisectionSteps >= 0) ? `bisectionSteps is ${bisectionSteps}; expected an integer ≥ 0` : '',
    !(maxScale >= 1) ? `maxScale is ${maxScale}; expected a number ≥ 1` : '',
  ].filter((m) => m !== '')
  if (problems.length > 0) return TE.left(errors.invalidOptions(problems.map((message) => ({ path: 'options', message }))))
  const dom = info.domain
  const withDomain: InverseOptions = {
    ...options,
    ...(options.lower === undefined && dom !== undefined ? { lower: dom.lower } : {}),
    ...(options.upper === undefined && dom !== undefined ? { upper: dom.upper } : {}),
  }
  const solved = isLogistic(surrogate) ? inverseLogistic(surrogate, x0, withDomain) : inverseSoftmax(surrogate, x0, withDomain)
  if (E.isLeft(solved)) return TE.left(solved.left)
  const star = solved.right
  const counted = meter(oracle)
  const target = options.target
  const { lower, upper } = domainBounds(withDomain, x0.length)
  const direction = Float64Array.from(star.x, (v, i) => v - x0[i]!)
  const along = (t: number): Float64Array => clipAlong(x0, t, direction, lower, upper)
  const labelAt = (x: Float64Array): TE.TaskEither<OracleError, number> =>
    F.pipe(
      counted.predict({ rows: 1, cols: x.length, data: x }),
      TE.map((p) => p.labels[0]!),
    )
  const spent = (): number => counted.usage().predictRows
  const result = (x: Float64Array, label: number, repaired: boolean): CounterfactualResult => ({
    x,
    distance: distance(x, x0),
    confirmed: label === target,
    repaired,
    oracleLabel: label,
    queries: spent(),
    surrogate: star,
  })

  return F.pipe(
    labelAt(star.x),
    TE.chain((label) => {
      if (label === target || star.distance === 0) return TE.right(result(star.x, label, false))
      return async () => {
        // Outward: t = 1.5, 2, 3, 4, 6, 8, … until the oracle agrees or the budget / scale runs out.
        let tFail = 1
        let tOk = Number.NaN
        let okLabel = label
        for (let t = 1.5; t <= maxScale && spent() < maxQueries; t = t < 2 ? 2 : t * 1.5) {
          const l = await labelAt(along(t))()
          // Out of budget: report what we have, unconfirmed, rather than lose the rows spent.
          if (E.isLeft(l)) return l.left._tag === 'BudgetExhausted' ? E.right(result(star.x, label, false)) : l
          if (l.right === target) {
            tOk = t
            okLabel = l.right
            break
          }
          tFail = t
        }
        if (Number.isNaN(tOk)) return E.right(result(star.x, label, false))
        // Inward: bisect between the last failure and the first success, keeping a success.
        for (let s = 0; s < bisectionSteps && spent() < maxQueries; s++) {
          const mid = (tFail + tOk) / 2
          const l = await labelAt(along(mid))()
          if (E.isLeft(l)) {
            if (l.left._tag === 'BudgetExhausted') break
            return l
          }
          if (l.right === target) tOk = mid
          else tFail = mid
        }
        return E.right(result(along(tOk), okLabel, true))
      }
    }),
  )
}
