import { either as E, taskEither as TE, function as F } from 'fp-ts'
import {
  abortable,
  budget as budgetOf,
  createRng,
  errors,
  labelAgreement,
  stage,
  trackQueries,
  validateQuery,
  validateSeed,
  type Matrix,
  type Oracle,
  type OracleInfo,
  type ProbeError,
  type ProgressEvent,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { askLabels, guarded, matrixIssues, oracleIssue, show, type OptionIssue } from './check.js'
import type { CopyFamily, TrainedCopy } from './families.js'
import { shares } from './metrics.js'
import { concatLabelled, validLabelled, type Labelled, type Sampler, type SamplerContext, type SamplerSetup } from './samplers.js'

/** Options of {@link copyClassifier}. */
export interface CopyOptions extends RunControl {
  readonly sampler: Sampler
  /** Label queries to spend in all, split evenly over the rounds (the meter's count equals this exactly). */
  readonly budget: number
  /** The copy's family and hyper-parameters. */
  readonly copy: CopyFamily
  readonly seed: number
  /** Unlabelled points the user already has (real data), for data-driven samplers. */
  readonly reference?: Matrix
  /** Sequential rounds (the budget is split evenly); later rounds see the current copy. Default 1. */
  readonly rounds?: number
  /** Real points on which to report each round's agreement with the original (spends their rows too, once, beyond the budget). */
  readonly monitor?: Matrix
}

/** One round of a copy run: the copy trained on everything labelled so far, and how well it agrees. */
export interface CopyRound {
  /** Labels bought so far (the copy of this round was trained on all of them). */
  readonly labels: number
  /** Agreement of this round's copy with the original on its own training labels (optimistic). */
  readonly trainingAgreement: number
  /**
   * Agreement of this round's copy with the original on the next round's fresh points, before it trained
   * on them: a held-out estimate at no extra cost (on the sampler's distribution; pessimistic for
   * `adaptive`, which picks points where the copy is unsure). Absent for the last round.
   */
  readonly heldOutAgreement?: number
  /** Agreement with the original on `monitor` (real points), when a monitor was given. */
  readonly monitorAgreement?: number
}

/** What the copy's synthetic set and rounds looked like. */
export interface CopyDiagnostics {
  /** Share of each class in the synthetic set (length max(numClasses, 2)). */
  readonly classBalance: Float64Array
  /** The largest share, and its class. */
  readonly dominantShare: number
  readonly dominantClass: number
  /** Classes the synthetic set never contains. */
  readonly missingClasses: readonly number[]
  /** A person-readable warning when one class holds ≥ 95 % of the set or classes are missing; else undefined. */
  readonly warning?: string
  /** Per round: labels so far, and the copy's agreement with the original (training, held-out, monitor). */
  readonly rounds: readonly CopyRound[]
  /** The synthetic set itself. */
  readonly synthetic: Labelled
}

/** Why a run ended before spending its whole budget, when it kept what it had bought. */
export interface CopyStopped {
  /** The round (0-based) in which the oracle failed. */
  readonly round: number
  /** The oracle's error (an outer budget ran out, the transport failed, a query timed out, …). */
  readonly error: ProbeError
}

/** The result of {@link copyClassifier}. */
export interface CopyResult {
  /** The copy: an oracle, trained by its family. */
  readonly copy: Oracle
  readonly trained: TrainedCopy
  readonly diagnostics: CopyDiagnostics
  /** Every query sent to the original: the labels bought plus the monitor's rows. */
  readonly queries: QueryUsage
  /** Labels bought for the synthetic set (= `budget`, unless the run `stopped`). */
  readonly labelsBought: number
  /** Rows spent labelling `monitor` (0 without one). */
  readonly monitorRows: number
  /** The budget asked for. */
  readonly budget: number
  /** The sampler's and the family's names. */
  readonly sampler: string
  readonly family: string
  readonly seed: number
  /**
   * Set when the original failed part-way (BudgetExhausted from an outer budget, Transport, Timeout,
   * BadResponse) after some labels were bought: the copy is trained on every label bought, none is lost.
   */
  readonly stopped?: CopyStopped
}

type Issue = OptionIssue

const optionIssues = (oracle: Oracle, o: CopyOptions): Issue[] => {
  const issues: Issue[] = []
  const info = oracle.info
  const d = info.inputDim
  const raw = o as unknown as Record<string, unknown>
  if ('samples' in raw && raw.samples !== undefined) issues.push({ path: 'options.samples', message: 'was renamed to options.budget (label queries to spend)' })
  const b = o.budget
  const rounds = o.rounds ?? 1
  if (!(typeof rounds === 'number' && Number.isSafeInteger(rounds) && rounds >= 1)) issues.push({ path: 'options.rounds', message: `is ${show(rounds)}; expected an integer ≥ 1` })
  if (!(typeof b === 'number' && Number.isSafeInteger(b) && b >= 1)) issues.push({ path: 'options.budget', message: `is ${show(b)}; expected an integer ≥ 1 (label queries to spend)` })
  else if (typeof rounds === 'number' && Number.isSafeInteger(rounds) && b < rounds) issues.push({ path: 'options.budget', message: `is ${b}, fewer than the ${rounds} rounds; expected at least one label per round` })
  const seed = validateSeed(o.seed)
  if (E.isLeft(seed)) issues.push(...seed.left.issues)
  if (o.reference !== undefined) issues.push(...matrixIssues(o.reference, 'options.reference', d))
  if (o.monitor !== undefined) {
    const m = matrixIssues(o.monitor, 'options.monitor', d)
    if (m.length > 0) issues.push(...m)
    else {
      const q = validateQuery(info, o.monitor, 'options.monitor')
      if (E.isLeft(q)) issues.push({ path: q.left._tag === 'InvalidInput' ? q.left.path : 'options.monitor', message: q.left.message })
    }
  }
  if (o.progress !== undefined && typeof o.progress !== 'function') issues.push({ path: 'options.progress', message: `is ${show(o.progress)}; expected a function` })
  if (o.log !== undefined && typeof o.log !== 'function') issues.push({ path: 'options.log', message: `is ${show(o.log)}; expected a function` })
  if (o.signal !== undefined && (o.signal === null || typeof (o.signal as { aborted?: unknown }).aborted !== 'boolean')) issues.push({ path: 'options.signal', message: `is ${show(o.signal)}; expected an AbortSignal` })
  const sampler = o.sampler as Partial<Sampler> | null | undefined
  if (sampler === null || typeof sampler !== 'object' || typeof sampler.draw !== 'function') issues.push({ path: 'options.sampler', message: `is ${show(sampler)}; expected a Sampler ({ name, draw })` })
  const copy = o.copy as Partial<CopyFamily> | null | undefined
  if (copy === null || typeof copy !== 'object' || typeof copy.fit !== 'function') issues.push({ path: 'options.copy', message: `is ${show(copy)}; expected a CopyFamily ({ name, fit })` })
  if (issues.length > 0) return issues
  // The supplied pieces check their own options against this setup, before any query.
  const setup: SamplerSetup = { info, budget: b, rounds, ...(o.reference !== undefined ? { reference: o.reference } : {}) }
  issues.push(...supplied(`sampler '${String(o.sampler.name)}'`, 'options.sampler', () => o.sampler.check?.(setup)))
  issues.push(...supplied(`copy family '${String(o.copy.name)}'`, 'options.copy', () => o.copy.check?.(info)))
  return issues
}

/** A supplied `check`'s issues; a throw or a malformed answer is itself an issue. */
const supplied = (what: string, path: string, check: () => readonly Issue[] | undefined): Issue[] => {
  try {
    const r: unknown = check()
    if (r === undefined) return []
    if (!Array.isArray(r)) return [{ path, message: `${what}: check returned ${show(r)}; expected a list of issues` }]
    return r.map((i: unknown) =>
      i !== null && typeof i === 'object' && typeof (i as Issue).path === 'string' && typeof (i as Issue).message === 'string' ? (i as Issue) : { path, message: `${what}: ${show(i)}` },
    )
  } catch (cause) {
    return [{ path, message: `${what}: check threw: ${cause instanceof Error ? cause.message : String(cause)}` }]
  }
}

/** The errors of the original after which the labels already bought are kept (the run's fault is not the caller's options). */
const keepsWhatWasBought = (e: ProbeError): boolean => e._tag === 'BudgetExhausted' || e._tag === 'Transport' || e._tag === 'Timeout' || e._tag === 'BadResponse'

/** A copy family's output checked: an oracle of the original's width, and a dispose function. */
const validTrained = (family: string, info: OracleInfo, t: unknown): E.Either<ProbeError, TrainedCopy> => {
  const what = `copy family '${family}'`
  if (t === null || typeof t !== 'object') return E.left(errors.pluginFailed(what, `fit returned ${show(t)}; expected a TrainedCopy`))
  const c = t as Partial<TrainedCopy>
  const o = c.oracle as Partial<Oracle> | undefined
  if (o === null || typeof o !== 'object' || typeof o.predict !== 'function' || o.info === null || typeof o.info !== 'object') return E.left(errors.pluginFailed(what, 'fit returned no oracle with info and predict'))
  if (o.info.inputDim !== info.inputDim) return E.left(errors.pluginFailed(what, `fit returned a copy of ${String(o.info.inputDim)} inputs; the original has ${info.inputDim}`))
  return E.right({ ...c, details: c.details ?? {}, model: c.model ?? {}, dispose: typeof c.dispose === 'function' ? c.dispose : () => undefined } as TrainedCopy)
}

const safeDispose = (t: TrainedCopy | undefined): void => {
  try {
    t?.dispose()
  } catch {
    // A copy that cannot release its resources has nothing more to give; the run's answer stands.
  }
}

/** Progress and log callbacks that cannot throw into the run: a throw is kept and ends the run at the next check. */
const safeCallbacks = (o: RunControl): { control: RunControl; failure: () => ProbeError | undefined } => {
  let failed: ProbeError | undefined
  const wrap =
    <A>(name: string, f: ((a: A) => void) | undefined) =>
    (a: A): void => {
      if (f === undefined || failed !== undefined) return
      try {
        f(a)
      } catch (cause) {
        failed = errors.pluginFailed(`the ${name} callback`, `threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause)
      }
    }
  const control: RunControl = {
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    ...(o.progress !== undefined ? { progress: wrap<ProgressEvent>('progress', o.progress) } : {}),
    ...(o.log !== undefined ? { log: wrap<string>('log', o.log) } : {}),
  }
  return { control, failure: () => failed }
}

const agreementOn = (copy: Oracle, x: Matrix, y: Int32Array): TE.TaskEither<ProbeError, number> =>
  F.pipe(
    guarded(`the copy's predict`, () => copy.predict(x)),
    TE.chainEitherK((p) =>
      p !== null && typeof p === 'object' && p.labels instanceof Int32Array && p.labels.length === y.length
        ? E.right(labelAgreement(p.labels, y))
        : E.left(errors.pluginFailed(`the copy '${copy.info.id}'`, `predicted ${p?.labels?.length ?? 'no'} labels for ${y.length} rows`)),
    ),
  )

const rowsToMatrix = (rows: readonly Float64Array[], d: number): Matrix => {
  const data = new Float64Array(rows.length * d)
  rows.forEach((r, i) => data.set(r, i * d))
  return { rows: rows.length, cols: d, data }
}

/**
 * Copy a classifier from label queries alone (Unceta et al. 2020): draw a synthetic sample with
 * `sampler`, label it with the original, train a copy of family `copy`, and repeat for `rounds`
 * (later rounds can aim where the copy is unsure). Exactly `budget` label queries are spent,
 * enforced per round; every option — the sampler's and the family's included — is checked before
 * the first query.
 *
 * The copy is only as good as its synthetic sample: `diagnostics` reports the class balance and
 * warns when one class holds (nearly) everything — uniform sampling of a high-dimensional input
 * often does — so you never get a constant copy without hearing about it. Each round's copy is also
 * scored on the next round's fresh points before training on them (`heldOutAgreement`), at no extra cost.
 *
 * Long work: progress per round, per label query and inside the family's training; `signal` stops the
 * run with `Aborted` between queries and inside training. If the original fails part-way (an outer
 * budget runs out, the network fails), the copy is trained on every label bought and `stopped` says why.
 *
 * @example
 * // fragment: a label-only black box and unlabelled inputs like the ones it sees
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { copyClassifier, jitter, treeCopy } from '@sonde/copying'
 *
 * declare const blackBox: Oracle
 * declare const digits: Matrix
 * const r = await toPromise(copyClassifier(blackBox, { sampler: jitter({ sigma: 0.1 }), budget: 20_000, copy: treeCopy(), reference: digits, seed: 1 }))
 * const { warning } = r.diagnostics // set when one class (nearly) fills the synthetic set
 * const spent = r.queries.predictRows // 20,000
 */
export const copyClassifier = (oracle: Oracle, options: CopyOptions): TE.TaskEither<ProbeError, CopyResult> => async () => {
  const bad = oracleIssue(oracle)
  if (bad !== undefined) return E.left(bad)
  if (options === null || typeof options !== 'object') return E.left(errors.invalidOptions([{ path: 'options', message: `is ${show(options)}; expected the options object` }]))
  const issues = optionIssues(oracle, options)
  if (issues.length > 0) return E.left(errors.invalidOptions(issues))
  const info = oracle.info
  const d = info.inputDim
  const k = Math.max(info.numClasses, 2)
  const rounds = options.rounds ?? 1
  const total = options.budget
  const { control, failure } = safeCallbacks(options)
  const tracked = trackQueries(abortable(options.signal)(oracle))
  const labeller = budgetOf(total)(tracked.oracle)
  const rng = createRng(options.seed)
  const sampler = options.sampler
  const samplerName = String(sampler.name)
  const familyName = String(options.copy.name)
  // A fresh stage per round: every round reports (a stage throttles its own events to one per 100 ms).
  const roundStage = { check: (r: number) => stage(control, 'copy rounds', rounds).check(r) }
  const labelStage = stage(control, 'labelling', total)
  let bought = 0
  let allowance = 0
  let roundRows: Float64Array[] = []
  let roundLabels: number[] = []
  const label = (x: Matrix): TE.TaskEither<ProbeError, Int32Array> => async () => {
    const go = labelStage.check(bought)
    if (E.isLeft(go)) return go
    const q = validateQuery(info, x)
    if (E.isLeft(q)) return E.left(errors.pluginFailed(`sampler '${samplerName}'`, `asked for labels of points the oracle cannot take (nothing was sent): ${q.left.message}`))
    if (x.rows > allowance) {
      return E.left(errors.pluginFailed(`sampler '${samplerName}'`, `asked for ${x.rows} labels with ${allowance} left of this round's share; a sampler spends exactly the n labels it is asked to draw`))
    }
    const y = await askLabels(labeller, info, x)()
    if (E.isRight(y)) {
      allowance -= x.rows
      bought += x.rows
      for (let i = 0; i < x.rows; i++) roundRows.push(x.data.slice(i * d, (i + 1) * d))
      roundLabels.push(...y.right)
      labelStage.check(bought)
    }
    return y
  }

  let monitorLabels: Int32Array | undefined
  const first = roundStage.check(0)
  if (E.isLeft(first)) return first
  if (options.monitor !== undefined) {
    const m = await askLabels(tracked.oracle, info, options.monitor)()
    if (E.isLeft(m)) return m
    monitorLabels = m.right
  }
  let labelled: Labelled = { x: { rows: 0, cols: d, data: new Float64Array(0) }, y: new Int32Array(0) }
  let trained: TrainedCopy | undefined
  const history: CopyRound[] = []
  let stopped: CopyStopped | undefined
  const fail = (e: ProbeError): E.Either<ProbeError, never> => {
    safeDispose(trained)
    return E.left(e)
  }

  /** Train on `set` and score the copy: one round's copy, or `Left`. */
  const fitRound = async (set: Labelled, r: number): Promise<E.Either<ProbeError, { copy: TrainedCopy; round: CopyRound }>> => {
    const fitSeed = Number.isSafeInteger(options.seed + r) ? options.seed + r : options.seed - r
    const fitted = await F.pipe(
      guarded(`copy family '${familyName}'`, () => options.copy.fit(set.x, set.y, info, fitSeed, control)),
      TE.chainEitherK((t) => validTrained(familyName, info, t)),
    )()
    if (E.isLeft(fitted)) return fitted
    const copy = fitted.right
    const own = await agreementOn(copy.oracle, set.x, set.y)()
    if (E.isLeft(own)) {
      safeDispose(copy)
      return own
    }
    let monitorAgreement: number | undefined
    if (monitorLabels !== undefined && options.monitor !== undefined) {
      const mine = await agreementOn(copy.oracle, options.monitor, monitorLabels)()
      if (E.isLeft(mine)) {
        safeDispose(copy)
        return mine
      }
      monitorAgreement = mine.right
    }
    return E.right({ copy, round: { labels: set.y.length, trainingAgreement: own.right, ...(monitorAgreement !== undefined ? { monitorAgreement } : {}) } })
  }

  for (let r = 0; r < rounds; r++) {
    const go = roundStage.check(r)
    if (E.isLeft(go)) return fail(go.left)
    const n = Math.floor(total / rounds) + (r < total % rounds ? 1 : 0)
    allowance = n
    roundRows = []
    roundLabels = []
    const before = bought
    const ctx: SamplerContext = {
      info,
      rng: rng.fork(),
      label,
      labelled,
      ...(options.reference !== undefined ? { reference: options.reference } : {}),
      ...(trained !== undefined ? { copy: trained.oracle } : {}),
    }
    const drawn = await F.pipe(
      guarded(`sampler '${samplerName}'`, () => sampler.draw(n, ctx)),
      TE.chainEitherK((set) => validLabelled(samplerName, n, info, set)),
    )()
    const callbackFailed = failure()
    if (callbackFailed !== undefined) return fail(callbackFailed)
    if (E.isLeft(drawn)) {
      // Keep every label bought when the original fails part-way; anything else is the caller's to fix.
      if (!keepsWhatWasBought(drawn.left) || labelled.y.length + roundLabels.length === 0) return fail(drawn.left)
      stopped = { round: r, error: drawn.left }
      if (roundLabels.length === 0) break
      const partial = concatLabelled(labelled, { x: rowsToMatrix(roundRows, d), y: Int32Array.from(roundLabels) })
      if (trained !== undefined) {
        const heldOut = await agreementOn(trained.oracle, rowsToMatrix(roundRows, d), Int32Array.from(roundLabels))()
        if (E.isRight(heldOut)) history[history.length - 1] = { ...history[history.length - 1]!, heldOutAgreement: heldOut.right }
      }
      const last = await fitRound(partial, r)
      if (E.isLeft(last)) {
        // Training on the partial round failed: the last finished round's copy stands, if there is one.
        if (trained === undefined) return fail(last.left)
        break
      }
      safeDispose(trained)
      trained = last.right.copy
      labelled = partial
      history.push(last.right.round)
      break
    }
    if (bought - before !== n) {
      return fail(errors.pluginFailed(`sampler '${samplerName}'`, `returned ${n} points but bought ${bought - before} labels for them; a sampler labels every point it returns through ctx.label`))
    }
    if (trained !== undefined) {
      const heldOut = await agreementOn(trained.oracle, drawn.right.x, drawn.right.y)()
      if (E.isLeft(heldOut)) return fail(heldOut.left)
      history[history.length - 1] = { ...history[history.length - 1]!, heldOutAgreement: heldOut.right }
    }
    labelled = concatLabelled(labelled, drawn.right)
    const next = await fitRound(labelled, r)
    if (E.isLeft(next)) return fail(next.left)
    safeDispose(trained)
    trained = next.right.copy
    history.push(next.right.round)
    control.log?.(`round ${r + 1}/${rounds}: ${labelled.y.length} labels, training agreement ${next.right.round.trainingAgreement.toFixed(4)}`)
  }
  const callbackFailed = failure()
  if (callbackFailed !== undefined) return fail(callbackFailed)
  const end = roundStage.check(rounds)
  if (E.isLeft(end)) return fail(end.left)
  if (trained === undefined) return E.left(stopped?.error ?? errors.pluginFailed(`sampler '${samplerName}'`, 'no round finished'))

  const balance = shares(labelled.y, k)
  let dominantClass = 0
  balance.forEach((v, c) => {
    if (v > balance[dominantClass]!) dominantClass = c
  })
  const dominantShare = balance[dominantClass]!
  const missingClasses = Array.from(balance.keys()).filter((c) => balance[c] === 0)
  const warning =
    dominantShare >= 0.95
      ? `class ${dominantClass} holds ${(100 * dominantShare).toFixed(1)} % of the ${labelled.y.length} synthetic points: the sampler '${samplerName}' does not cover the other classes, and the copy will be close to constant — sample near real data (gaussian, jitter) or use balanced/adaptive`
      : missingClasses.length > 0
        ? `classes ${missingClasses.join(', ')} never appear in the synthetic set: the copy cannot predict them`
        : undefined
  return E.right({
    copy: trained.oracle,
    trained,
    diagnostics: { classBalance: balance, dominantShare, dominantClass, missingClasses, ...(warning !== undefined ? { warning } : {}), rounds: history, synthetic: labelled },
    queries: tracked.usage(),
    labelsBought: bought,
    monitorRows: monitorLabels?.length ?? 0,
    budget: total,
    sampler: samplerName,
    family: familyName,
    seed: options.seed,
    ...(stopped !== undefined ? { stopped } : {}),
  })
}
