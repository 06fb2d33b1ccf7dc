import { either as E, taskEither as TE } from 'fp-ts'
import {
  errorFromThrown,
  errors,
  SondeError,
  stage,
  trackQueries,
  validateSeed,
  type Domain,
  type Oracle,
  type ProbeError,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { inverseLogistic } from './logistic.js'
import { checkDomain, clipAlong, distance, renamedOptionIssues, renamedOptions, type InverseOptions, type InverseResult, type LogisticModel, type SoftmaxModel } from './problem.js'
import { inverseSoftmax, type PreparedSoftmax } from './softmax.js'

/** A surrogate the exact solvers accept: logistic, softmax, or softmax with its precomputation. */
export type Surrogate = LogisticModel | SoftmaxModel | PreparedSoftmax

/**
 * Options of {@link counterfactual}: the target as for the exact solvers, the repair's `budget`, and
 * the run's control (`signal`, `progress`, `log`).
 */
export interface CounterfactualOptions extends InverseOptions, RunControl {
  /**
   * The box the answer must stay in. It is intersected with `oracle.info.domain`, so every query stays
   * inside what the oracle accepts; default: the oracle's domain (no box if it has none).
   */
  readonly domain?: Domain
  /** Most oracle rows to spend (the check plus the repair): an integer ≥ 1. Default 40. */
  readonly budget?: number
  /** Bisection levels that pull a repaired point back towards x0 (one query each): an integer ≥ 0. Default 12. */
  readonly bisectionSteps?: number
  /** The repair searches the ray x0 → x* up to this multiple of the surrogate's step (≥ 1). Default 16. */
  readonly maxScale?: number
}

/** What {@link counterfactual} found. */
export interface CounterfactualResult {
  /** The best point found: the surrogate's answer if the oracle confirms it, else the repaired one. */
  readonly x: Float64Array
  /** The input the counterfactual is for (a copy of the argument). */
  readonly x0: Float64Array
  /** The class asked for. */
  readonly target: number
  /** ‖x − x0‖₂. */
  readonly distance: number
  /** Whether the oracle itself assigns `x` to the target class. */
  readonly confirmed: boolean
  /** Whether the surrogate's answer had to be moved. */
  readonly repaired: boolean
  /** The oracle's label at `x`. */
  readonly oracleLabel: number
  /** The oracle's label at the surrogate's exact answer (`surrogate.x`): where the check started. */
  readonly labelAtSurrogateAnswer: number
  /** Oracle queries spent (the check and the repair), counted by `trackQueries`. */
  readonly queries: QueryUsage
  /** The seed given in the options (0 if none): no random choice is made; it is recorded. */
  readonly seed: number
  /** The exact answer on the surrogate (its own `queries` are `noQueries`). */
  readonly surrogate: InverseResult
}

const DEFAULTS = { budget: 40, bisectionSteps: 12, maxScale: 16 } as const

const isLogistic = (s: Surrogate): s is LogisticModel => typeof (s as LogisticModel).bias === 'number'
const inputWidth = (s: Surrogate): number | undefined => {
  const w = isLogistic(s) ? s.weights : 'gram' in s ? s.model?.weights : s.weights
  return w instanceof Float64Array ? w.length : typeof w?.cols === 'number' ? w.cols : undefined
}

const show = (u: unknown): string => (typeof u === 'string' ? JSON.stringify(u) : u === null || typeof u !== 'object' ? String(u) : 'an object')

const isOracle = (o: unknown): o is Oracle => {
  if (o === null || typeof o !== 'object') return false
  const q = o as Partial<Oracle>
  const info = q.info
  return typeof q.predict === 'function' && info !== null && typeof info === 'object' && Number.isSafeInteger(info.inputDim) && info.inputDim >= 1 && Number.isSafeInteger(info.numClasses) && info.numClasses >= 2
}

/** The user's callbacks, each run inside try/catch where it is called: a throw becomes `PluginFailed`. */
const guardedControl = (c: RunControl): RunControl => {
  const wrap =
    <A>(what: string, f: ((a: A) => void) | undefined) =>
    (a: A): void => {
      if (f === undefined) return
      try {
        f(a)
      } catch (cause) {
        throw new SondeError(errors.pluginFailed(what, `threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
      }
    }
  return {
    ...(c.signal !== undefined ? { signal: c.signal } : {}),
    ...(c.progress !== undefined ? { progress: wrap('the progress callback', c.progress) } : {}),
    ...(c.log !== undefined ? { log: wrap('the log callback', c.log) } : {}),
  }
}

interface Checked {
  readonly budget: number
  readonly bisectionSteps: number
  readonly maxScale: number
  readonly seed: number
  readonly domain: Domain
  readonly control: RunControl
}

/** Every option of the counterfactual (beyond the solver's own checks), checked before the first query. */
const checkOptions = (oracle: Oracle, options: CounterfactualOptions): E.Either<ProbeError, Checked> => {
  const d = oracle.info.inputDim
  const issues = renamedOptionIssues(options, { ...renamedOptions, maxQueries: 'budget' })
  const budget = options.budget ?? DEFAULTS.budget
  const bisectionSteps = options.bisectionSteps ?? DEFAULTS.bisectionSteps
  const maxScale = options.maxScale ?? DEFAULTS.maxScale
  if (!(typeof budget === 'number' && Number.isSafeInteger(budget) && budget >= 1)) issues.push({ path: 'options.budget', message: `is ${show(budget)}; expected an integer ≥ 1 (oracle rows)` })
  if (!(typeof bisectionSteps === 'number' && Number.isSafeInteger(bisectionSteps) && bisectionSteps >= 0)) issues.push({ path: 'options.bisectionSteps', message: `is ${show(bisectionSteps)}; expected an integer ≥ 0` })
  if (!(typeof maxScale === 'number' && maxScale >= 1 && Number.isFinite(maxScale))) issues.push({ path: 'options.maxScale', message: `is ${show(maxScale)}; expected a finite number ≥ 1` })
  const seed = validateSeed(options.seed === undefined ? 0 : options.seed, 'options.seed')
  if (E.isLeft(seed)) issues.push(...seed.left.issues)
  const s = options.signal
  if (s !== undefined && (s === null || typeof s !== 'object' || typeof (s as AbortSignal).aborted !== 'boolean')) issues.push({ path: 'options.signal', message: `is ${show(s)}; expected an AbortSignal` })
  for (const k of ['progress', 'log'] as const) {
    const f: unknown = options[k]
    if (f !== undefined && typeof f !== 'function') issues.push({ path: `options.${k}`, message: `is ${show(f)}; expected a function` })
  }
  const mine = checkDomain(options.domain, d, 'options.domain', issues)
  const theirs = checkDomain(oracle.info.domain, d, 'oracle.info.domain', issues)
  if (issues.length > 0 || mine === undefined || theirs === undefined || E.isLeft(seed)) return E.left(errors.invalidOptions(issues))
  const lower = Float64Array.from(mine.lower, (v, i) => Math.max(v, theirs.lower[i]!))
  const upper = Float64Array.from(mine.upper, (v, i) => Math.min(v, theirs.upper[i]!))
  const apart = lower.findIndex((v, i) => v > upper[i]!)
  if (apart >= 0) {
    return E.left(
      errors.invalidOptions([
        { path: 'options.domain', message: `does not meet the oracle's domain at feature ${apart}: [${mine.lower[apart]}, ${mine.upper[apart]}] and [${theirs.lower[apart]}, ${theirs.upper[apart]}] are disjoint` },
      ]),
    )
  }
  return E.right({ budget, bisectionSteps, maxScale, seed: seed.right, domain: { lower, upper }, control: guardedControl(options) })
}

/** The outward steps of the repair: t = 1.5, 2, 3, 4.5, … ≤ maxScale (multiples of the surrogate's step). */
const outwardSteps = (maxScale: number): number[] => {
  const ts: number[] = []
  for (let t = 1.5; t <= maxScale; t = t < 2 ? 2 : t * 1.5) ts.push(t)
  return ts
}

/**
 * A counterfactual for a black box: solve exactly on a linear or softmax `surrogate` (one
 * obtained by extraction or copying), check the answer with the oracle and, if the oracle
 * disagrees, repair it by a counted search along the ray x0 → x* and beyond (growing steps, then
 * bisection back towards x0). The result carries the oracle `queries` spent (never more rows than
 * `budget`), whether the oracle confirmed the target, and the `seed` (deterministic: recorded only).
 * An unconfirmed result is returned, not hidden.
 *
 * The box is `options.domain` intersected with `oracle.info.domain`, so every query stays inside what
 * the oracle accepts. Every option is checked before the first query. Progress is reported per solve,
 * check and repair step (`options.progress`); `options.signal` is checked before every query, and an
 * abort ends the run with `Aborted`. An exhausted outer budget (`BudgetExhausted` from the oracle) ends
 * the search with what it has.
 *
 * @example
 * // fragment: a black box, a softmax surrogate of it (extracted or copied) and an input
 * import { toPromise, type Oracle } from '@sonde/oracle'
 * import { counterfactual, type SoftmaxModel } from '@sonde/inverse-classification'
 *
 * declare const blackBox: Oracle
 * declare const copiedSoftmax: SoftmaxModel
 * declare const x0: Float64Array
 * const r = await toPromise(counterfactual(blackBox, copiedSoftmax, x0, { target: 8, budget: 30 }))
 * const { confirmed, distance } = r // did the black box agree, and how far from x0
 * const spent = r.queries.predictRows // ≤ 30
 */
export const counterfactual = (
  oracle: Oracle,
  surrogate: Surrogate,
  x0: Float64Array,
  options: CounterfactualOptions,
): TE.TaskEither<ProbeError, CounterfactualResult> =>
  async () => {
    try {
      return await run(oracle, surrogate, x0, options)
    } catch (cause) {
      return E.left(errorFromThrown(cause, (m) => errors.pluginFailed('counterfactual', `an unexpected error: ${m}`, cause)))
    }
  }

const run = async (oracle: Oracle, surrogate: Surrogate, x0: Float64Array, options: CounterfactualOptions): Promise<E.Either<ProbeError, CounterfactualResult>> => {
  if (!isOracle(oracle)) return E.left(errors.invalidInput('oracle is not an Oracle: expected { info: { inputDim ≥ 1, numClasses ≥ 2, … }, predict }', 'oracle'))
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return E.left(errors.invalidOptions([{ path: 'options', message: `is ${show(options)}; expected an object with at least { target }` }]))
  }
  if (surrogate === null || typeof surrogate !== 'object') return E.left(errors.invalidInput(`surrogate is ${show(surrogate)}; expected a logistic or softmax model`, 'surrogate'))
  const info = oracle.info
  const width = inputWidth(surrogate)
  if (width !== info.inputDim) {
    return E.left(errors.shapeMismatch('surrogate', `${info.inputDim} input features (the oracle's inputDim)`, width === undefined ? 'no weights' : `${width}`))
  }
  const target = options.target
  if (typeof target === 'number' && Number.isInteger(target) && target >= info.numClasses) {
    return E.left(errors.invalidOptions([{ path: 'options.target', message: `is ${target}; the oracle has ${info.numClasses} classes (0..${info.numClasses - 1})` }]))
  }
  const checked = checkOptions(oracle, options)
  if (E.isLeft(checked)) return checked
  const { budget, bisectionSteps, maxScale, control } = checked.right

  const solving = stage(control, 'solve on the surrogate', 1)
  const before = solving.check(0)
  if (E.isLeft(before)) return before
  const solverOptions: InverseOptions = {
    target,
    ...(options.margin !== undefined ? { margin: options.margin } : {}),
    ...(options.probability !== undefined ? { probability: options.probability } : {}),
    ...(options.immutable !== undefined ? { immutable: options.immutable } : {}),
    domain: checked.right.domain,
    seed: checked.right.seed,
  }
  const solved = isLogistic(surrogate) ? inverseLogistic(surrogate, x0, solverOptions) : inverseSoftmax(surrogate, x0, solverOptions)
  if (E.isLeft(solved)) return solved
  const after = solving.check(1)
  if (E.isLeft(after)) return after
  const star = solved.right

  const tracked = trackQueries(oracle)
  const d = info.inputDim
  const { lower, upper } = checked.right.domain as { lower: Float64Array; upper: Float64Array }
  const direction = Float64Array.from(star.x, (v, i) => v - x0[i]!)
  const along = (t: number): Float64Array => clipAlong(x0, t, direction, lower, upper)
  const labelAt = async (x: Float64Array): Promise<E.Either<ProbeError, number>> => {
    let answer: unknown
    try {
      answer = await tracked.oracle.predict({ rows: 1, cols: d, data: x.slice() })()
    } catch (cause) {
      return E.left(errors.badResponse(`oracle '${info.id}' threw or rejected instead of answering: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
    }
    const a = answer as E.Either<ProbeError, { readonly labels?: unknown }> | undefined
    if (a === null || typeof a !== 'object' || (a._tag !== 'Left' && a._tag !== 'Right')) return E.left(errors.badResponse(`oracle '${info.id}' answered ${show(a)}, not an Either`))
    if (E.isLeft(a)) return a
    const labels = a.right?.labels
    const l = labels instanceof Int32Array && labels.length === 1 ? labels[0]! : Number.NaN
    if (!(Number.isInteger(l) && l >= 0 && l < info.numClasses)) {
      return E.left(errors.badResponse(`oracle '${info.id}' answered ${labels instanceof Int32Array ? `${labels.length} labels (first ${labels[0]})` : show(labels)} for 1 row; expected one label in 0..${info.numClasses - 1}`))
    }
    return E.right(l)
  }
  const spent = (): number => tracked.usage().predictRows
  const result = (x: Float64Array, label: number, repaired: boolean, first: number): CounterfactualResult => ({
    x,
    x0: x0.slice(),
    target,
    distance: distance(x, x0),
    confirmed: label === target,
    repaired,
    oracleLabel: label,
    labelAtSurrogateAnswer: first,
    queries: tracked.usage(),
    seed: checked.right.seed,
    surrogate: star,
  })

  const verifying = stage(control, 'verify with the oracle', 1)
  const v0 = verifying.check(0)
  if (E.isLeft(v0)) return v0
  const first = await labelAt(star.x)
  if (E.isLeft(first)) return first
  const label = first.right
  const v1 = verifying.check(1)
  if (E.isLeft(v1)) return v1
  if (label === target || star.distance === 0) return E.right(result(star.x, label, false, label))
  control.log?.(`the oracle labels the surrogate's answer ${label}, not ${target}: repairing along x0 → x*`)

  // Outward: t = 1.5, 2, 3, 4.5, … until the oracle agrees or the budget / scale runs out.
  const steps = outwardSteps(maxScale)
  const outward = stage(control, 'repair: outward along x0 → x*', steps.length)
  let tFail = 1
  let tOk = Number.NaN
  for (const [n, t] of steps.entries()) {
    if (spent() >= budget) break
    const ok = await outward.tick(n)
    if (E.isLeft(ok)) return ok
    const l = await labelAt(along(t))
    // Out of an outer budget: report what we have, unconfirmed, rather than lose the rows spent.
    if (E.isLeft(l)) return l.left._tag === 'BudgetExhausted' ? E.right(result(star.x, label, false, label)) : l
    if (l.right === target) {
      tOk = t
      break
    }
    tFail = t
  }
  if (Number.isNaN(tOk)) return E.right(result(star.x, label, false, label))
  // Inward: bisect between the last failure and the first success, keeping a success.
  const inward = stage(control, 'repair: bisection towards x0', bisectionSteps)
  for (let s = 0; s < bisectionSteps && spent() < budget; s++) {
    const ok = await inward.tick(s)
    if (E.isLeft(ok)) return ok
    const mid = (tFail + tOk) / 2
    const l = await labelAt(along(mid))
    if (E.isLeft(l)) {
      if (l.left._tag === 'BudgetExhausted') break
      return l
    }
    if (l.right === target) tOk = mid
    else tFail = mid
  }
  return E.right(result(along(tOk), target, true, label))
}
