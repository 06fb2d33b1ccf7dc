import { either as E, taskEither as TE } from 'fp-ts'
import { checkSignal, createRng, errors, randomQueries, stage, type GradientOracle, type Matrix as SondeMatrix, type ProbeError, type RunControl } from '@sonde/oracle'
import { TwoLayerRelu } from '@sonde/models'
import { CholeskyDecomposition, Matrix } from 'ml-matrix'
import { checked, checkOracle, guarded, type Checked } from './boundary.js'
import { compareOracles, type Extraction } from './extraction.js'
import { controlFrom, decodeOptions, reluFunctionSchema } from './options.js'

/**
 * How the logits of a several-output network are extracted.
 * - `'whole-network'` (the default): the kinks along one line are found once, with logit 0's gradients (all
 *   logits share the hidden layer, so the kinks are the same hyperplanes), then every other logit's output
 *   weights are read from one gradient row per linear piece: the minimal network, h units for a victim with h,
 *   from about 1.5·h + K·(h + 1) gradient rows. If the other logits do not fit the units found with logit 0
 *   (a unit logit 0 does not use) on two lines, it falls back to `'per-logit'`.
 * - `'per-logit'`: each logit is extracted on its own line; units that are positive multiples of one another
 *   (the same hidden unit seen by several logits) are merged, so the network is minimal too.
 *
 * @example
 * // fragment: an explanation API (logits and their gradients)
 * import { toPromise, type GradientOracle } from '@sonde/oracle'
 * import { extractReluNetwork, type ReluStrategy } from '@sonde/gradient-extraction'
 *
 * declare const explanationApi: GradientOracle
 * const strategy: ReluStrategy = 'per-logit'
 * const ex = await toPromise(extractReluNetwork(explanationApi, { seed: 1, strategy }))
 * ex.unitsFound // units found logit by logit; ex.model.hidden after merging
 */
export type ReluStrategy = 'whole-network' | 'per-logit'

/**
 * When a bisection of the line stops.
 * - `'confirmed'` (the default): as soon as the interval is shown to hold one kink — with hidden biases by two
 *   value queries astride the kink the interval's two linear pieces predict (they must lie on those pieces),
 *   without biases by two gradient queries astride the hyperplane through the origin the jump predicts.
 * - `'fixed-width'`: Milli et al.'s rule, until every interval with a jump is narrower than π/(64 n²).
 *
 * @example
 * // fragment: an explanation API (logits and their gradients)
 * import { toPromise, type GradientOracle } from '@sonde/oracle'
 * import { extractReluNetwork, type ReluBisection } from '@sonde/gradient-extraction'
 *
 * declare const explanationApi: GradientOracle
 * const bisection: ReluBisection = 'fixed-width' // the paper's rule: more gradient rows, fewer value rows
 * const ex = await toPromise(extractReluNetwork(explanationApi, { seed: 1, bisection }))
 */
export type ReluBisection = 'confirmed' | 'fixed-width'

/** Options of {@link extractReluNetwork}. */
export interface ReluExtractionOptions extends RunControl {
  /** Seed of the random lines the search walks and of the check points (a safe integer). */
  readonly seed: number
  /** The number of hidden units, if known (of the whole network with `'whole-network'`, per logit with `'per-logit'`); otherwise it is found. */
  readonly hiddenUnits?: number
  /**
   * Whether the hidden units have biases. Default true: biases are recovered exactly with value
   * queries (the oracle must reveal logits). With `false` the network is taken to be
   * f(x) = Σ aᵢ ReLU(wᵢᵀx) and only gradient queries are used.
   */
  readonly hiddenBias?: boolean
  /**
   * The most rows (gradient + value, the verification included) the extraction may spend, over all logits.
   * A query that would pass it is not sent: `BudgetExhausted`. Default 20,000 per logit.
   */
  readonly budget?: number
  /** Random points on which the result is checked (every logit at each). Default 8; 0 skips the check (`verification` is then absent). */
  readonly verifyPoints?: number
  /** Largest relative error accepted at the check points. Default 1e-7. */
  readonly tolerance?: number
  /** Whole network at once (default) or logit by logit; see {@link ReluStrategy}. */
  readonly strategy?: ReluStrategy
  /** When a bisection stops (default `'confirmed'`); see {@link ReluBisection}. */
  readonly bisection?: ReluBisection
}

/** How an extracted ReLU network was checked against the oracle. */
export interface ReluVerification {
  /** Random points (every logit is compared at each). */
  readonly points: number
  /** Value queries of the logits (with hidden biases) or gradient queries (without). */
  readonly on: 'values' | 'gradients'
  /** The largest relative error over every logit's check points. */
  readonly maxRelativeError: number
  readonly tolerance: number
}

/** What {@link extractReluNetwork} returns. */
export interface ReluExtraction extends Extraction<TwoLayerRelu> {
  /** The strategy that produced the model (`'per-logit'` after a fallback from `'whole-network'`). */
  readonly strategy: ReluStrategy
  /**
   * Hidden units each logit uses: with `'per-logit'`, the units found on that logit's line (before merging);
   * with `'whole-network'`, the units with a non-zero output weight to it.
   */
  readonly unitsPerLogit: readonly number[]
  /** Units found before positive multiples were merged (with `'per-logit'` the sum of `unitsPerLogit`; `model.hidden` after merging). */
  readonly unitsFound: number
  /** Random lines walked (one for the whole network, or one per logit; more where one failed its checks). */
  readonly lines: number
  /** Absent when `verifyPoints` is 0. */
  readonly verification?: ReluVerification
}

interface Run {
  readonly q: Checked<GradientOracle>
  readonly d: number
  readonly k: number
  readonly seed: number
  readonly hiddenUnits: number | undefined
  readonly budget: number
  readonly control: RunControl
  readonly withBias: boolean
  readonly rule: ReluBisection
}

// Seeds of sub-streams: the user's seed plus an offset, kept a safe integer for any safe seed
// (seeds below 2⁴⁰ keep the streams they always had).
const subSeed = (seed: number, offset: number): number => (seed % 2 ** 40) + offset

const overBudget = (used: number, limit: number, requested: number, why: string) => ({
  ...errors.budgetExhausted(used, limit, requested),
  message: `extractReluNetwork: ${why}; the next query asks for ${requested} rows but ${used} of the budget of ${limit} are spent — nothing more was sent`,
})

const spentOf = (run: Run): number => run.q.usage().gradientRows + run.q.usage().predictRows

const toMatrix = (xs: readonly Float64Array[], d: number): SondeMatrix => {
  const m: SondeMatrix = { rows: xs.length, cols: d, data: new Float64Array(xs.length * d) }
  xs.forEach((x, r) => m.data.set(x, r * d))
  return m
}

/** Gradient rows at `xs` (of one logit, or of `cls[r]` at row r), within the budget and the signal. */
const gradientRows = async (run: Run, xs: readonly Float64Array[], cls: number | Int32Array, why: string): Promise<E.Either<ProbeError, Float64Array[]>> => {
  if (xs.length === 0) return E.right([])
  if (spentOf(run) + xs.length > run.budget) return E.left(overBudget(spentOf(run), run.budget, xs.length, why))
  const stop = checkSignal(run.control.signal, 'extractReluNetwork')
  if (E.isLeft(stop)) return stop
  // Checked where it arrives (shape, finiteness): a NaN here would send the bisection astray.
  const g = await run.q.gradient(toMatrix(xs, run.d), cls)
  return E.map((m: SondeMatrix) => xs.map((_, r) => m.data.slice(r * run.d, (r + 1) * run.d)))(g)
}

/** Value rows at `xs`: every logit at each point. */
const valueRows = async (run: Run, xs: readonly Float64Array[], why: string): Promise<E.Either<ProbeError, Float64Array[]>> => {
  if (xs.length === 0) return E.right([])
  if (spentOf(run) + xs.length > run.budget) return E.left(overBudget(spentOf(run), run.budget, xs.length, why))
  const stop = checkSignal(run.control.signal, 'extractReluNetwork')
  if (E.isLeft(stop)) return stop
  const p = await run.q.predict(toMatrix(xs, run.d))
  if (E.isLeft(p)) return p
  const s = p.right.scores!
  return E.right(xs.map((_, r) => s.data.slice(r * s.cols, (r + 1) * s.cols)))
}

const same = (a: Float64Array, b: Float64Array): boolean => {
  let diff = 0
  let scale = 0
  for (let j = 0; j < a.length; j++) {
    diff = Math.max(diff, Math.abs(a[j]! - b[j]!))
    scale = Math.max(scale, Math.abs(a[j]!), Math.abs(b[j]!))
  }
  // Same activation pattern ⇒ the same sum; allow rounding of a differently ordered sum.
  return diff <= 1e-12 * scale
}

const dotv = (a: Float64Array, b: Float64Array): number => {
  let s = 0
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!
  return s
}

const norm2 = (a: Float64Array): number => Math.sqrt(dotv(a, a))

/** Solve the symmetric positive definite system A x = b (n × n); undefined if A is not positive definite. */
const choleskySolve = (a: Float64Array, b: Float64Array, n: number): Float64Array | undefined => {
  const m = new Matrix(n, n)
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, a[i * n + j]!)
  const chol = new CholeskyDecomposition(m)
  if (!chol.isPositiveDefinite()) return undefined
  return Float64Array.from(chol.solve(Matrix.columnVector(Array.from(b))).getColumn(0))
}

// Failures that another random line may avoid (two kinks in one interval, a check point that disagrees);
// the retry is chosen by this mark, never by an error's message.
const retryOnAnotherLine = new WeakSet<ProbeError>()
const worthAnotherLine = (e: ProbeError): ProbeError => {
  retryOnAnotherLine.add(e)
  return e
}

// ---------------------------------------------------------------------------------------------
// One line and its bisection

const thetaMax = Math.PI / 2 - 1e-6 // |t| ≤ 1e6: a kink beyond is missed with probability ~1e-6 per unit
const splitWindow = 0.1 // a failed check point is a split point when it lies in [0.1, 0.9] of its interval (in θ)

interface Line {
  readonly p: Float64Array
  readonly v: Float64Array
  readonly vNorm: number
  readonly at: (t: number) => Float64Array
}

const lineFor = (seed: number, logit: number, round: number, d: number): Line => {
  const rng = createRng(subSeed(seed, 7919 * logit + 104729 * round))
  const p = Float64Array.from({ length: d }, () => rng.normal())
  const v = Float64Array.from({ length: d }, () => rng.normal())
  return { p, v, vNorm: norm2(v), at: (t) => p.map((pj, j) => pj + t * v[j]!) }
}

/** A point of the line x(t) = p + t·v, t = tan θ: the walked logit's gradient there, and every logit's value (when read). */
interface Sample {
  readonly theta: number
  readonly t: number
  readonly g: Float64Array
  readonly f?: Float64Array
}

/** An interval of the line holding one kink; `tStar` where it was located by the confirming check. */
interface Kink {
  readonly a: Sample
  readonly b: Sample
  readonly tStar?: number
  /** The confirming check: its two points and every logit's value there (with biases). */
  readonly check?: { readonly tm: number; readonly tp: number; readonly fm: Float64Array; readonly fp: Float64Array }
}

interface Walk {
  /** The kinks in the order of the line. */
  readonly kinks: readonly Kink[]
  /** The sample at the start of the line (θ = −θmax). */
  readonly left: Sample
  /** Points whose values of every logit were read (for the output biases), with their values. */
  readonly valued: ReadonlyArray<{ readonly t: number; readonly f: Float64Array }>
}

interface Node {
  readonly a: Sample
  readonly b: Sample
  checked: boolean
  /** A check showed at least two kinks: split it even below the width rule (down to 2⁻²⁰ of it). */
  multi: boolean
  /** The check point that failed, with what it answered (values with biases, the gradient without): a split point half paid for. */
  failedAt?: { readonly t: number; readonly f?: Float64Array; readonly g?: Float64Array }
}

type Plan =
  | { readonly kind: 'fail' }
  | { readonly kind: 'undecided' }
  | { readonly kind: 'check'; readonly tm: number; readonly tp: number; readonly sa: number; readonly sb: number; readonly tol: number }

/**
 * Where to check that `node` holds one kink. With biases: the two linear pieces at its ends,
 * f = f_a + s_a (t − t_a) and f = f_b + s_b (t − t_b) (s = g·v the slope along the line), meet at t*; with one
 * kink the logit lies on the first piece at t* − δ and on the second at t* + δ — two kinks or more pass only if
 * they all lie within δ of t*. Without biases the kink's hyperplane passes through the origin and its normal
 * is the jump, so t* = −Δ·p / Δ·v; the gradients at t* ± δ must be those of the ends.
 */
const planCheck = (run: Run, line: Line, logit: number, node: Node): Plan => {
  const { a, b } = node
  const sa = dotv(a.g, line.v)
  const sb = dotv(b.g, line.v)
  const ds = sb - sa
  if (!(Math.abs(ds) > 0)) return { kind: 'undecided' }
  if (!run.withBias) {
    const jump = b.g.map((x, j) => x - a.g[j]!)
    const tStar = -dotv(jump, line.p) / ds
    const m = Math.min(tStar - a.t, b.t - tStar)
    if (!(m > 0)) return { kind: 'undecided' }
    const delta = 1e-6 * m
    return { kind: 'check', tm: tStar - delta, tp: tStar + delta, sa, sb, tol: 0 }
  }
  const fa = a.f![logit]!
  const fb = b.f![logit]!
  const tStar = (fb - fa + sa * a.t - sb * b.t) / (sa - sb)
  if (!Number.isFinite(tStar)) return { kind: 'undecided' }
  // The rounding of f and of s·(t − t₀), bounded through |g·v| ≤ ‖g‖‖v‖.
  const scale = Math.abs(fa) + Math.abs(fb) + line.vNorm * (norm2(a.g) * Math.abs(tStar - a.t) + norm2(b.g) * Math.abs(b.t - tStar))
  const tol = 1e-12 * scale
  const slack = tol / Math.abs(ds) // how far t* may be off
  if (tStar < a.t - 100 * slack || tStar > b.t + 100 * slack) return { kind: 'fail' }
  const m = Math.min(tStar - a.t, b.t - tStar)
  if (!(m > 0)) return { kind: 'undecided' }
  // Far enough from t* that a wrong piece shows (|Δs|·δ ≥ 100 tol), near enough that two kinks rarely hide in 2δ.
  const delta = Math.max(100 * slack, 1e-6 * m)
  if (delta > 1e-3 * m) return { kind: 'undecided' }
  return { kind: 'check', tm: tStar - delta, tp: tStar + delta, sa, sb, tol }
}

/**
 * Walk the line x(θ) = p + tan(θ)·v, θ ∈ (−π/2, π/2): every hidden hyperplane wᵢᵀx + bᵢ = 0 with
 * wᵢᵀv ≠ 0 is crossed exactly once, and the gradient of the logit is constant between crossings.
 * Bisect breadth first (one batched gradient query per level, and one value query with `'confirmed'`) until
 * every interval whose end gradients differ is confirmed to hold one kink ({@link planCheck}) or, failing a
 * confirmation, is narrower than π/(64 n²) (n the intervals with a jump) — then it holds one kink with high
 * probability.
 */
const walkLine = async (run: Run, line: Line, logit: number): Promise<E.Either<ProbeError, Walk>> => {
  const confirm = run.rule === 'confirmed'
  const needValues = confirm && run.withBias
  const s = stage(run.control, `logit ${logit}: bisection`)
  const started = checkSignal(run.control.signal, `extractReluNetwork (logit ${logit})`)
  if (E.isLeft(started)) return started
  const valued: Array<{ t: number; f: Float64Array }> = []
  /** Samples at points of the line, asking only for what is not known yet (the gradient, and the values with `needValues`). */
  const sample = async (pts: ReadonlyArray<{ readonly t: number; readonly f?: Float64Array; readonly g?: Float64Array }>, why: string): Promise<E.Either<ProbeError, Sample[]>> => {
    const needG = pts.flatMap((p, i) => (p.g === undefined ? [i] : []))
    const g = await gradientRows(run, needG.map((i) => line.at(pts[i]!.t)), logit, why)
    if (E.isLeft(g)) return g
    const gs = pts.map((p) => p.g)
    needG.forEach((i, r) => (gs[i] = g.right[r]!))
    const fs = pts.map((p) => p.f)
    if (needValues) {
      const needF = pts.flatMap((p, i) => (p.f === undefined ? [i] : []))
      const fv = await valueRows(run, needF.map((i) => line.at(pts[i]!.t)), why)
      if (E.isLeft(fv)) return fv
      needF.forEach((i, r) => {
        fs[i] = fv.right[r]!
        valued.push({ t: pts[i]!.t, f: fv.right[r]! })
      })
    }
    return E.right(pts.map((p, i) => ({ theta: Math.atan(p.t), t: p.t, g: gs[i]!, ...(needValues ? { f: fs[i]! } : {}) })))
  }
  const ends = await sample(
    [-thetaMax, thetaMax].map((theta) => ({ t: Math.tan(theta) })),
    `logit ${logit}: the ends of the line`,
  )
  if (E.isLeft(ends)) return ends
  const left = ends.right[0]!
  let pending: Node[] = [{ a: left, b: ends.right[1]!, checked: false, multi: false }]
  const confirmed: Kink[] = []
  for (let level = 1; ; level++) {
    // Once per bisection level: progress, the abort signal, and a yield to the event loop.
    const ok = await s.tick(level)
    if (E.isLeft(ok)) return ok
    pending = pending.filter((nd) => !same(nd.a.g, nd.b.g))
    if (confirm) {
      const fresh = pending.filter((nd) => !nd.checked)
      const plans = fresh.map((nd) => planCheck(run, line, logit, nd))
      // Two rounds: the point before t* for every planned check, the one after only where the first held —
      // an interval with several kinks mostly fails the first, so it costs one row, not two.
      const ask = async (ts: readonly number[]): Promise<E.Either<ProbeError, Float64Array[]>> => {
        const xs = ts.map(line.at)
        const why = `logit ${logit}: checking ${ts.length} intervals for one kink each`
        return run.withBias ? valueRows(run, xs, why) : gradientRows(run, xs, logit, why)
      }
      /** |residual| / tolerance of the answer at one check point (≤ 1 holds); gradients: 0 or ∞. */
      const misfit = (nd: Node, pl: Extract<Plan, { kind: 'check' }>, before: boolean, answer: Float64Array): number => {
        const end = before ? nd.a : nd.b
        if (!run.withBias) return same(answer, end.g) ? 0 : Infinity
        const t = before ? pl.tm : pl.tp
        const f = answer[logit]!
        valued.push({ t, f: answer })
        const r = f - (end.f![logit]! + (before ? pl.sa : pl.sb) * (t - end.t))
        return Math.abs(r) / (pl.tol + 1e-12 * Math.abs(f))
      }
      const planned = fresh.flatMap((nd, i) => {
        nd.checked = true
        const pl = plans[i]!
        if (pl.kind === 'fail') nd.multi = true
        return pl.kind === 'check' ? [{ nd, pl }] : []
      })
      const first = await ask(planned.map(({ pl }) => pl.tm))
      if (E.isLeft(first)) return first
      const held: Array<{ nd: Node; pl: Extract<Plan, { kind: 'check' }>; fm: Float64Array }> = []
      planned.forEach(({ nd, pl }, i) => {
        const answer = first.right[i]!
        const m = misfit(nd, pl, true, answer)
        if (m <= 1) held.push({ nd, pl, fm: answer })
        else {
          if (m > 10) nd.multi = true
          nd.failedAt = { t: pl.tm, ...(run.withBias ? { f: answer } : { g: answer }) }
        }
      })
      const second = await ask(held.map(({ pl }) => pl.tp))
      if (E.isLeft(second)) return second
      const done = new Set<Node>()
      held.forEach(({ nd, pl, fm }, i) => {
        const fp = second.right[i]!
        const m = misfit(nd, pl, false, fp)
        if (m <= 1) {
          // With biases, located again from the two check points, a hair either side of the kink: exact to rounding.
          confirmed.push({
            a: nd.a,
            b: nd.b,
            ...(run.withBias ? { tStar: (fp[logit]! - fm[logit]! + pl.sa * pl.tm - pl.sb * pl.tp) / (pl.sa - pl.sb), check: { tm: pl.tm, tp: pl.tp, fm, fp } } : {}),
          })
          done.add(nd)
        } else {
          if (m > 10) nd.multi = true
          nd.failedAt = { t: pl.tp, ...(run.withBias ? { f: fp } : { g: fp }) }
        }
      })
      pending = pending.filter((nd) => !done.has(nd))
    }
    const n = Math.max(run.hiddenUnits ?? 1, pending.length + confirmed.length, 1)
    const width = (2 * thetaMax) / (64 * n * n)
    const toSplit = pending.filter((nd) => nd.b.theta - nd.a.theta > (nd.multi ? width * 2 ** -20 : width))
    if (toSplit.length === 0) break
    // Split at the failed check point where it lies in the middle half of the interval (a point with
    // several kinks on both sides, its values already read), else at the middle.
    const mids = await sample(
      toSplit.map((nd) => {
        const at = nd.failedAt
        const q = at === undefined ? Number.NaN : (Math.atan(at.t) - nd.a.theta) / (nd.b.theta - nd.a.theta)
        return at !== undefined && q >= splitWindow && q <= 1 - splitWindow ? at : { t: Math.tan((nd.a.theta + nd.b.theta) / 2) }
      }),
      `logit ${logit}: after ${level} bisection levels the gradient still changes in ${toSplit.length} intervals — the oracle does not look piecewise linear, or it has more units than the budget allows`,
    )
    if (E.isLeft(mids)) return mids
    const split = new Set(toSplit)
    const next: Node[] = pending.filter((nd) => !split.has(nd))
    toSplit.forEach((nd, i) => {
      const m = mids.right[i]!
      next.push({ a: nd.a, b: m, checked: false, multi: false }, { a: m, b: nd.b, checked: false, multi: false })
    })
    pending = next
  }
  const kinks = [...confirmed, ...pending.map((nd) => ({ a: nd.a, b: nd.b }))].sort((x, y) => x.a.theta - y.a.theta)
  return E.right({ kinks, left, valued })
}

/** One logit's units: f(x) = Σⱼ σⱼ ReLU(ŵⱼᵀx + b̂ⱼ) + ĉ, with ŵⱼ = |aⱼ| wⱼ. */
interface ScalarNet {
  readonly w: Float64Array[]
  readonly b: number[]
  readonly sign: number[]
  /** Whether unit j is active at the start of the line (it switches off at its kink). */
  readonly activeAtStart: boolean[]
  readonly c: number
  /** A point (small |t|) whose values of every logit were read, for the other logits' output biases. */
  readonly reference?: { readonly x: Float64Array; readonly f: Float64Array }
}

/**
 * The units of the walked logit from its kinks: each unit is the gradient jump across its kink; the signs
 * come from expanding the gradient at the start of the line in the jumps (unique when the wᵢ are independent,
 * so h ≤ d), the biases from where the kink lies (located by its confirming check, or by intersecting the two
 * linear pieces around it — two value queries per kink).
 */
const unitsOf = async (run: Run, line: Line, logit: number, walk: Walk, round: number): Promise<E.Either<ProbeError, ScalarNet>> => {
  const { d } = run
  const { kinks, left } = walk
  const h = kinks.length
  if (h > d) {
    return E.left(errors.unidentifiable(`found ${h} hidden units but the input has ${d} dimensions: with h > d the units are not identifiable from gradients (the method needs h ≤ d)`))
  }
  // Values: at the ends of the kinks not located yet and at p (t = 0), unless read already.
  const need: Float64Array[] = []
  const slots: number[] = []
  if (run.withBias) {
    kinks.forEach((kk, i) => {
      if (kk.tStar === undefined && (kk.a.f === undefined || kk.b.f === undefined)) {
        need.push(line.at(kk.a.t), line.at(kk.b.t))
        slots.push(i)
      }
    })
  }
  let ref = walk.valued.reduce<{ t: number; f: Float64Array } | undefined>((best, s) => (best === undefined || Math.abs(s.t) < Math.abs(best.t) ? s : best), undefined)
  const readP = run.withBias && (ref === undefined || Math.abs(ref.t) > 10)
  if (readP) need.push(line.p)
  const endValues = new Map<number, readonly [number, number]>()
  if (need.length > 0) {
    const why = h === 0 ? `logit ${logit}: its constant value` : `logit ${logit}: locating the ${h} kinks with value queries`
    const pred = await valueRows(run, need, why)
    if (E.isLeft(pred)) return pred
    slots.forEach((i, s) => endValues.set(i, [pred.right[2 * s]![logit]!, pred.right[2 * s + 1]![logit]!]))
    if (readP) ref = { t: 0, f: pred.right[need.length - 1]! }
  }
  const reference = ref !== undefined ? { x: line.at(ref.t), f: ref.f } : undefined
  const gLeft = left.g
  if (h === 0) {
    if (gLeft.some((x) => x !== 0)) return E.left(errors.unidentifiable(`logit ${logit} has a constant non-zero gradient: a linear model, not a two-layer ReLU network — use extractLinear`))
    // A constant logit: its value is the output bias.
    return E.right({ w: [], b: [], sign: [], activeAtStart: [], c: run.withBias ? reference!.f[logit]! : 0, ...(reference !== undefined ? { reference } : {}) })
  }
  const jumps = kinks.map(({ a, b }) => b.g.map((x, j) => x - a.g[j]!))
  // Signs: g(left end) = −Σ_{units that switch off} uⱼ. Expand in the jumps by least squares.
  const gram = new Float64Array(h * h)
  for (let i = 0; i < h; i++) for (let j = 0; j <= i; j++) gram[i * h + j] = gram[j * h + i] = dotv(jumps[i]!, jumps[j]!)
  const coef = choleskySolve(gram, Float64Array.from(jumps, (u) => dotv(u, gLeft)), h)
  if (coef === undefined) {
    return E.left(errors.unidentifiable(`the ${h} gradient jumps of logit ${logit} are linearly dependent: the hidden weights are not independent (or h > d); the network is not identifiable from gradients`))
  }
  let residual = 0
  let scale = 0
  for (let j = 0; j < d; j++) {
    let s = 0
    for (let i = 0; i < h; i++) s += coef[i]! * jumps[i]![j]!
    residual = Math.max(residual, Math.abs(s - gLeft[j]!))
    scale = Math.max(scale, Math.abs(gLeft[j]!))
  }
  const badCoef = Array.from(coef).findIndex((c) => Math.min(Math.abs(c), Math.abs(c + 1)) > 1e-6)
  if (residual > 1e-8 * (scale + 1e-300) || badCoef >= 0) {
    return E.left(
      worthAnotherLine(
        errors.notConverged(
          `extractReluNetwork (logit ${logit}): the gradient at the start of the line is not a 0/−1 combination of the ${h} jumps found — the oracle is not a two-layer ReLU network, or two kinks share an interval`,
          round,
          Math.max(residual / (scale + 1e-300), badCoef >= 0 ? Math.abs(coef[badCoef]!) : 0),
          1e-6,
        ),
      ),
    )
  }
  const switchesOff = Array.from(coef, (c) => c < -0.5)
  const xLeft = line.at(left.t)
  const units = { w: [] as Float64Array[], b: [] as number[], sign: [] as number[], activeAtStart: switchesOff }
  for (let i = 0; i < h; i++) {
    const { a, b, tStar: located } = kinks[i]!
    const e = switchesOff[i] ? -1 : 1
    const vi = jumps[i]!.map((x) => e * x) // = aᵢ wᵢ
    let xStar: Float64Array
    if (run.withBias) {
      let tStar = located
      if (tStar === undefined) {
        const sa = dotv(a.g, line.v)
        const sb = dotv(b.g, line.v)
        const [fa, fb] = endValues.get(i) ?? [a.f![logit]!, b.f![logit]!]
        // f(t) = fa + sa (t − ta) left of the kink, fb + sb (t − tb) right of it.
        tStar = (fb - fa + sa * a.t - sb * b.t) / (sa - sb)
      }
      xStar = line.at(tStar)
    } else {
      xStar = new Float64Array(d) // no biases: every hyperplane passes through the origin
    }
    // vᵢ·(x_left − x*) = aᵢ (wᵢᵀx_left + bᵢ), positive iff sign(aᵢ) agrees with "active at the left end".
    const side = dotv(vi, xLeft.map((x, j) => x - xStar[j]!))
    const sign = Math.sign(side) * (switchesOff[i] ? 1 : -1)
    const w = vi.map((x) => sign * x) // |aᵢ| wᵢ
    units.w.push(w)
    units.b.push(-dotv(w, xStar))
    units.sign.push(sign)
  }
  let c = 0
  if (run.withBias) {
    let fx = 0
    for (let i = 0; i < h; i++) fx += units.sign[i]! * Math.max(0, dotv(units.w[i]!, reference!.x) + units.b[i]!)
    c = reference!.f[logit]! - fx
  }
  return E.right({ ...units, c, ...(reference !== undefined ? { reference } : {}) })
}

// ---------------------------------------------------------------------------------------------
// Checking an answer at random points

/** max over logits of (max |f̂ − f| / max |f|) at `verify` random points, by values (biases) or gradients (none). */
const verifyAt = async (
  run: Run,
  net: { readonly w: readonly Float64Array[]; readonly b: readonly number[]; readonly a: readonly Float64Array[]; readonly c: Float64Array },
  logits: readonly number[],
  verify: number,
  seed: number,
  tol: number,
  why: string,
): Promise<E.Either<ProbeError, { error: number; ok: boolean }>> => {
  const { d } = run
  const x = randomQueries(run.q.oracle.info, verify, createRng(seed))
  const rows = Array.from({ length: verify }, (_, i) => x.data.slice(i * d, (i + 1) * d))
  const h = net.w.length
  let worst = 0
  let ok = true
  if (run.withBias) {
    const truth = await valueRows(run, rows, why)
    if (E.isLeft(truth)) return truth
    logits.forEach((logit, li) => {
      let err = 0
      let scale = 0
      rows.forEach((row, i) => {
        let f = net.c[li]!
        for (let u = 0; u < h; u++) f += net.a[li]![u]! * Math.max(0, dotv(net.w[u]!, row) + net.b[u]!)
        const t = truth.right[i]![logit]!
        err = Math.max(err, Math.abs(f - t))
        scale = Math.max(scale, Math.abs(t))
      })
      worst = Math.max(worst, scale === 0 ? err : err / scale)
      if (!(err <= tol * scale)) ok = false
    })
    return E.right({ error: worst, ok })
  }
  const pts = logits.flatMap(() => rows)
  const cls = Int32Array.from(logits.flatMap((logit) => rows.map(() => logit)))
  const truth = await gradientRows(run, pts, cls, why)
  if (E.isLeft(truth)) return truth
  logits.forEach((_, li) => {
    let err = 0
    let scale = 0
    rows.forEach((row, i) => {
      const g = new Float64Array(d)
      for (let u = 0; u < h; u++) {
        if (dotv(net.w[u]!, row) + net.b[u]! > 0) for (let j = 0; j < d; j++) g[j]! += net.a[li]![u]! * net.w[u]![j]!
      }
      const t = truth.right[li * verify + i]!
      for (let j = 0; j < d; j++) {
        err = Math.max(err, Math.abs(g[j]! - t[j]!))
        scale = Math.max(scale, Math.abs(t[j]!))
      }
    })
    worst = Math.max(worst, scale === 0 ? err : err / scale)
    if (!(err <= tol * scale)) ok = false
  })
  return E.right({ error: worst, ok })
}

interface Network {
  readonly w: Float64Array[]
  readonly b: number[]
  /** Output weights a[logit][unit]. */
  readonly a: Float64Array[]
  readonly c: Float64Array
}

// ---------------------------------------------------------------------------------------------
// The whole network from one line

/**
 * One line, walked with logit 0: its units, then every other logit's output weights from one gradient row
 * per linear piece — across kink i, logit k's gradient jumps by eᵢ·A[k,i]·wᵢ (eᵢ = +1 where the unit switches
 * on), a multiple of the unit found with logit 0; a jump that is not one (a unit logit 0 does not see, two
 * kinks in one interval) fails the line.
 */
const wholeOnLine = async (run: Run, round: number, verify: number, tol: number): Promise<E.Either<ProbeError, { net: Network; error: number }>> => {
  const { d, k } = run
  const line = lineFor(run.seed, 0, round, d)
  const walk = await walkLine(run, line, 0)
  if (E.isLeft(walk)) return walk
  const units = await unitsOf(run, line, 0, walk.right, round)
  if (E.isLeft(units)) return units
  const u = units.right
  const h = u.w.length
  const kinks = walk.right.kinks
  const a = Array.from({ length: k }, () => new Float64Array(h))
  a[0]!.set(u.sign)
  /** gradients[logit][piece]: each logit's gradient on each linear piece of the line. */
  const gradients: Float64Array[][] = []
  if (k > 1) {
    // One point per piece: the start of the first kink's interval, then the end of each.
    const pieces = [walk.right.left, ...kinks.map((kk) => kk.b)]
    const xs: Float64Array[] = []
    const cls: number[] = []
    for (let logit = 1; logit < k; logit++) {
      for (const s of pieces) {
        xs.push(line.at(s.t))
        cls.push(logit)
      }
    }
    const s = stage(run.control, `reading ${k - 1} more logits`, 1)
    const g = await gradientRows(run, xs, Int32Array.from(cls), `reading the other ${k - 1} logits at the ${h + 1} linear pieces of the line`)
    if (E.isLeft(g)) return g
    const stop = s.check(1)
    if (E.isLeft(stop)) return stop
    const np = pieces.length
    gradients.push(pieces.map((p) => p.g))
    for (let logit = 1; logit < k; logit++) {
      const gs = g.right.slice((logit - 1) * np, logit * np)
      let scale = 0
      for (const gi of gs) for (let j = 0; j < d; j++) scale = Math.max(scale, Math.abs(gi[j]!))
      let residual = 0
      const atStart = new Float64Array(d)
      for (let i = 0; i < h; i++) {
        const jump = gs[i + 1]!.map((x, j) => x - gs[i]![j]!)
        const wi = u.w[i]!
        const e = u.activeAtStart[i] ? -1 : 1
        const aki = (e * dotv(jump, wi)) / dotv(wi, wi)
        a[logit]![i] = aki
        for (let j = 0; j < d; j++) residual = Math.max(residual, Math.abs(jump[j]! - e * aki * wi[j]!))
        if (u.activeAtStart[i]) for (let j = 0; j < d; j++) atStart[j]! += aki * wi[j]!
      }
      // And the gradient at the start of the line is that of the units active there.
      for (let j = 0; j < d; j++) residual = Math.max(residual, Math.abs(atStart[j]! - gs[0]![j]!))
      gradients.push(gs)
      if (!(residual <= 1e-8 * (scale + 1e-300))) {
        return E.left(
          worthAnotherLine(
            errors.notConverged(
              `extractReluNetwork: logit ${logit}'s gradient jumps along the line are not multiples of the ${h} units found with logit 0 — logit ${logit} uses a unit logit 0 does not (try strategy 'per-logit'), or two kinks share an interval`,
              round,
              residual / (scale + 1e-300),
              1e-8,
            ),
          ),
        )
      }
    }
  }
  if (run.withBias && k > 1) {
    // Each kink located again with the logit whose slope along the line jumps most there (logit 0's jump may
    // be small where another's is not): the same two check points, another logit's pieces.
    kinks.forEach((kk, i) => {
      if (kk.check === undefined) return
      let best = { ds: 0, t: Number.NaN }
      for (let logit = 0; logit < k; logit++) {
        const sa = dotv(gradients[logit]![i]!, line.v)
        const sb = dotv(gradients[logit]![i + 1]!, line.v)
        if (Math.abs(sb - sa) > Math.abs(best.ds)) best = { ds: sb - sa, t: (kk.check.fp[logit]! - kk.check.fm[logit]! + sa * kk.check.tm - sb * kk.check.tp) / (sa - sb) }
      }
      if (Number.isFinite(best.t)) u.b[i] = -dotv(u.w[i]!, line.at(best.t))
    })
  }
  const c = new Float64Array(k)
  if (run.withBias) {
    const ref = u.reference!
    for (let logit = 0; logit < k; logit++) {
      let fx = 0
      for (let i = 0; i < h; i++) fx += a[logit]![i]! * Math.max(0, dotv(u.w[i]!, ref.x) + u.b[i]!)
      c[logit] = ref.f[logit]! - fx
    }
  }
  const net: Network = { w: u.w, b: u.b, a, c }
  if (verify === 0) return E.right({ net, error: 0 })
  const logits = Array.from({ length: k }, (_, i) => i)
  const check = await verifyAt(run, net, logits, verify, subSeed(run.seed, 1000 * round), tol, `checking the answer at ${verify} random points`)
  if (E.isLeft(check)) return check
  if (!check.right.ok) {
    return E.left(
      worthAnotherLine(
        errors.notConverged(
          `extractReluNetwork: the extracted network differs from the oracle by ${check.right.error.toExponential(2)} (relative) at random points, on ${round + 1} random line(s)`,
          round + 1,
          check.right.error,
          tol,
        ),
      ),
    )
  }
  return E.right({ net, error: check.right.error })
}

// ---------------------------------------------------------------------------------------------
// Logit by logit, then merged

/** One logit on its own line (a second line if the first fails its checks). */
const perLogit = async (run: Run, logit: number, verify: number, tol: number): Promise<E.Either<ProbeError, { net: ScalarNet; error: number; lines: number }>> => {
  let last: ProbeError = errors.notConverged('extractReluNetwork', 0, Number.NaN, tol)
  for (let round = 0; round < 2; round++) {
    const line = lineFor(run.seed, logit, round, run.d)
    const walk = await walkLine(run, line, logit)
    if (E.isLeft(walk)) return walk
    const net = await unitsOf(run, line, logit, walk.right, round)
    if (E.isLeft(net)) {
      if (round === 0 && retryOnAnotherLine.has(net.left)) {
        last = net.left
        continue
      }
      return net
    }
    if (verify === 0) return E.right({ net: net.right, error: 0, lines: round + 1 })
    const r = net.right
    const check = await verifyAt(
      run,
      { w: r.w, b: r.b, a: [Float64Array.from(r.sign)], c: Float64Array.of(r.c) },
      [logit],
      verify,
      subSeed(run.seed, 31 * logit + 1000 * round),
      tol,
      `logit ${logit}: checking the answer at ${verify} random points`,
    )
    if (E.isLeft(check)) return check
    if (check.right.ok) return E.right({ net: r, error: check.right.error, lines: round + 1 })
    last = errors.notConverged(
      `extractReluNetwork (logit ${logit}): the extracted network differs from the oracle by ${check.right.error.toExponential(2)} (relative) at random points, on ${round + 1} random line(s)`,
      round + 1,
      check.right.error,
      tol,
    )
  }
  return E.left(last)
}

/**
 * Merge units that are positive multiples of one another, (w′, b′) = λ(w, b) with λ > 0: ReLU(λz) = λ·ReLU(z),
 * so one unit serves both with its output weights scaled by λ. Units are compared through their normalised
 * (w, b), sorted by the first coordinate so that only near neighbours are compared.
 */
const mergeUnits = (nets: readonly ScalarNet[], d: number): Network => {
  const k = nets.length
  const all = nets.flatMap((net, logit) => net.w.map((w, j) => ({ w, b: net.b[j]!, a: net.sign[j]!, logit })))
  const normOf = (u: { w: Float64Array; b: number }): number => Math.sqrt(dotv(u.w, u.w) + u.b * u.b)
  const keyed = all.map((u) => ({ ...u, n: normOf(u), key: u.w[0]! / normOf(u) })).sort((x, y) => x.key - y.key)
  const reps: Array<(typeof keyed)[number] & { weights: Map<number, number> }> = []
  const close = 1e-7
  let windowStart = 0
  for (const u of keyed) {
    while (windowStart < reps.length && reps[windowStart]!.key < u.key - close) windowStart++
    let found: (typeof reps)[number] | undefined
    for (let r = windowStart; r < reps.length && found === undefined; r++) {
      const rep = reps[r]!
      let worst = Math.abs(u.b / u.n - rep.b / rep.n)
      for (let j = 0; j < d && worst <= close; j++) worst = Math.max(worst, Math.abs(u.w[j]! / u.n - rep.w[j]! / rep.n))
      if (worst <= close) found = rep
    }
    if (found !== undefined) {
      const lambda = u.n / found.n
      found.weights.set(u.logit, (found.weights.get(u.logit) ?? 0) + u.a * lambda)
    } else reps.push({ ...u, weights: new Map([[u.logit, u.a]]) })
  }
  const h = reps.length
  const a = Array.from({ length: k }, () => new Float64Array(h))
  reps.forEach((rep, i) => rep.weights.forEach((wt, logit) => (a[logit]![i] = wt)))
  return { w: reps.map((r) => r.w), b: reps.map((r) => r.b), a, c: Float64Array.from(nets, (n) => n.c) }
}

/**
 * Extract a two-layer ReLU network f(x)_k = Σᵢ A[k,i]·ReLU(wᵢᵀx + bᵢ) + c_k from its gradient
 * explanations (Milli et al. 2018), up to permutation and positive rescaling of hidden units;
 * the query count grows like h·log h and does not depend on the input dimension d.
 *
 * By default the whole network comes from one line (see {@link ReluStrategy}): the kinks are found once, with
 * logit 0, and each other logit costs one gradient row per linear piece — the minimal network, h units, from
 * about 1.5·h + K·(h + 1) gradient rows; each bisection stops as soon as its interval is confirmed to hold one
 * kink ({@link ReluBisection}). With hidden biases (the default) value queries locate each kink exactly — the
 * oracle must reveal logits; without, gradient queries alone suffice. In every mode the answer is checked at
 * `verifyPoints` random points (values with biases, gradients without): a network it cannot reproduce there
 * is an error, never a silently wrong model. Errors: `Unidentifiable` when h > d, the jumps are dependent or
 * the oracle is linear; `BudgetExhausted` when the gradient keeps changing at every scale within `budget` (not
 * piecewise linear, or more units than the budget allows); `NotConverged` when the check fails on two lines;
 * `Aborted` within one bisection level of `signal` firing.
 *
 * @example
 * import { toPromise } from '@sonde/oracle'
 * import { randomTwoLayerRelu } from '@sonde/models'
 * import { extractReluNetwork } from '@sonde/gradient-extraction'
 *
 * const victim = randomTwoLayerRelu({ inputDim: 100, hidden: 8, numClasses: 3, seed: 1 })
 * const ex = await toPromise(extractReluNetwork(victim, { seed: 1 }))
 * ex.model.hidden // 8: the minimal network
 * ex.queries.gradientRows // 33, against 2·h·log₂h + K·(h + 1) = 75
 */
export const extractReluNetwork = (oracle: GradientOracle, options: ReluExtractionOptions): TE.TaskEither<ProbeError, ReluExtraction> =>
  guarded('extractReluNetwork', async () => {
    // Every option is checked before the first query: a NaN cap once made the bisection run forever.
    const decoded = decodeOptions(reluFunctionSchema, options)
    if (E.isLeft(decoded)) return decoded
    const ok = checkOracle(oracle, true)
    if (E.isLeft(ok)) return ok
    const o = decoded.right
    const { info } = oracle
    const withBias = o.hiddenBias
    if (info.output !== 'logits' && withBias) {
      return E.left(errors.missingCapability('logits', info.id, 'hidden biases are located with value queries of the logits; use hiddenBias: false for a network without biases'))
    }
    const dom = info.domain
    const bounded = dom !== undefined && [dom.lower, dom.upper].some((b) => (typeof b === 'number' ? Number.isFinite(b) : b.some(Number.isFinite)))
    if (bounded) {
      return E.left(errors.invalidInput(`oracle '${info.id}' has a bounded input domain; extractReluNetwork walks lines through the whole input space`, 'oracle.info.domain'))
    }
    const k = info.numClasses
    const d = info.inputDim
    const run: Run = {
      q: checked(oracle),
      d,
      k,
      seed: o.seed,
      hiddenUnits: o.hiddenUnits,
      budget: o.budget ?? 20_000 * k,
      control: controlFrom(o),
      withBias,
      rule: o.bisection,
    }
    const verify = o.verifyPoints
    const tol = o.tolerance
    let lines = 0
    let network: Network | undefined
    let worst = 0
    let strategy: ReluStrategy = o.strategy
    let unitsPerLogit: number[] = []
    let unitsFound = 0
    if (strategy === 'whole-network') {
      let last: ProbeError | undefined
      for (let round = 0; round < 2 && network === undefined; round++) {
        lines++
        const r = await wholeOnLine(run, round, verify, tol)
        if (E.isRight(r)) {
          network = r.right.net
          worst = r.right.error
        } else if (retryOnAnotherLine.has(r.left)) last = r.left
        else return r
      }
      if (network === undefined) {
        // Two lines failed: a single logit cannot explain the others (or the oracle is no such network).
        if (k === 1) return E.left(last!)
        run.control.log?.(`extractReluNetwork: the whole network did not fit on two lines (${last!.message}); extracting logit by logit`)
        strategy = 'per-logit'
      } else {
        unitsFound = network.w.length
        unitsPerLogit = network.a.map((row) => row.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0))
      }
    }
    if (strategy === 'per-logit') {
      const nets: ScalarNet[] = []
      for (let logit = 0; logit < k; logit++) {
        const r = await perLogit(run, logit, verify, tol)
        if (E.isLeft(r)) return r
        lines += r.right.lines
        worst = Math.max(worst, r.right.error)
        nets.push(r.right.net)
      }
      network = mergeUnits(nets, d)
      unitsPerLogit = nets.map((n) => n.w.length)
      unitsFound = unitsPerLogit.reduce((x, y) => x + y, 0)
    }
    const net = network!
    const h = net.w.length
    const w = new Float64Array(h * d)
    net.w.forEach((wi, i) => w.set(wi, i * d))
    const a = new Float64Array(k * h)
    net.a.forEach((row, logit) => a.set(row, logit * h))
    const model = new TwoLayerRelu(
      { hiddenWeights: { rows: h, cols: d, data: w }, hiddenBias: Float64Array.from(net.b), outputWeights: { rows: k, cols: h, data: a }, outputBias: net.c },
      { id: `extracted:${info.id}` },
    )
    return E.right({
      model,
      queries: run.q.usage(),
      seed: o.seed,
      strategy,
      unitsPerLogit,
      unitsFound,
      lines,
      ...(verify > 0 ? { verification: { points: verify, on: withBias ? ('values' as const) : ('gradients' as const), maxRelativeError: worst, tolerance: tol } } : {}),
      fidelity: (points) => compareOracles(oracle, model, points),
    })
  })
