import { either as E, taskEither as TE } from 'fp-ts'
import { checkSignal, createRng, errors, randomQueries, stage, type GradientOracle, type Matrix as SondeMatrix, type ProbeError, type RunControl } from '@sonde/oracle'
import { TwoLayerRelu } from '@sonde/models'
import { CholeskyDecomposition, Matrix } from 'ml-matrix'
import { checked, checkOracle, guarded, type Checked } from './boundary.js'
import { compareOracles, type Extraction } from './extraction.js'
import { controlFrom, decodeOptions, reluFunctionSchema } from './options.js'

/** Options of {@link extractReluNetwork}. */
export interface ReluExtractionOptions extends RunControl {
  /** Seed of the random lines the search walks and of the check points (a safe integer). */
  readonly seed: number
  /** The number of hidden units, if known (per logit); otherwise it is found. */
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
  /** Random points on which the result is checked (per logit). Default 8; 0 skips the check (`verification` is then absent). */
  readonly verifyPoints?: number
  /** Largest relative error accepted at the check points. Default 1e-7. */
  readonly tolerance?: number
}

/** How an extracted ReLU network was checked against the oracle. */
export interface ReluVerification {
  /** Random points per logit. */
  readonly points: number
  /** Value queries of the logits (with hidden biases) or gradient queries (without). */
  readonly on: 'values' | 'gradients'
  /** The largest relative error over every logit's check points. */
  readonly maxRelativeError: number
  readonly tolerance: number
}

/** What {@link extractReluNetwork} returns. */
export interface ReluExtraction extends Extraction<TwoLayerRelu> {
  /** Hidden units found for each logit (the model's hidden layer is their union, logit by logit). */
  readonly unitsPerLogit: readonly number[]
  /** Random lines walked over all logits (one per logit, two where the first failed its checks). */
  readonly lines: number
  /** Absent when `verifyPoints` is 0. */
  readonly verification?: ReluVerification
}

interface Resolved {
  readonly seed: number
  readonly hiddenUnits: number | undefined
  readonly budget: number
  readonly control: RunControl
}

// Seeds of sub-streams: the user's seed plus an offset, kept a safe integer for any safe seed
// (seeds below 2⁴⁰ keep the streams they always had).
const subSeed = (seed: number, offset: number): number => (seed % 2 ** 40) + offset

const overBudget = (used: number, limit: number, requested: number, why: string) => ({
  ...errors.budgetExhausted(used, limit, requested),
  message: `extractReluNetwork: ${why}; the next query asks for ${requested} rows but ${used} of the budget of ${limit} are spent — nothing more was sent`,
})

interface Sample {
  readonly theta: number
  readonly g: Float64Array
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

/** One logit's units: f(x) = Σⱼ σⱼ ReLU(ŵⱼᵀx + b̂ⱼ) + ĉ. */
interface ScalarNet {
  readonly w: Float64Array[]
  readonly b: number[]
  readonly sign: number[]
  readonly c: number
}

/**
 * Walk the line x(θ) = p + tan(θ)·v, θ ∈ (−π/2, π/2): every hidden hyperplane wᵢᵀx + bᵢ = 0 with
 * wᵢᵀv ≠ 0 is crossed exactly once, and the gradient of the logit is constant between crossings.
 * Bisect (breadth first, one batched gradient query per level) until every interval whose end
 * gradients differ is narrower than π/(64 n²) — then it holds one kink with high probability — and
 * read each unit off its jump; the signs come from expanding the gradient at the left end in the
 * jumps (unique when the wᵢ are independent, so h ≤ d), the biases from intersecting the two
 * linear pieces around each kink (two value queries per kink).
 */
const extractScalar = async (
  oracle: Checked<GradientOracle>,
  logit: number,
  options: Resolved,
  withBias: boolean,
  round: number,
): Promise<E.Either<ProbeError, ScalarNet>> => {
  const { info } = oracle.oracle
  const d = info.inputDim
  const rng = createRng(subSeed(options.seed, 7919 * logit + 104729 * round))
  const p = Float64Array.from({ length: d }, () => rng.normal())
  const v = Float64Array.from({ length: d }, () => rng.normal())
  const thetaMax = Math.PI / 2 - 1e-6 // |t| ≤ 1e6: a kink beyond is missed with probability ~1e-6 per unit
  const at = (theta: number): Float64Array => {
    const t = Math.tan(theta)
    return p.map((pj, j) => pj + t * v[j]!)
  }
  const spent = (): number => oracle.usage().gradientRows + oracle.usage().predictRows
  const gradients = async (thetas: readonly number[], why: string): Promise<E.Either<ProbeError, Float64Array[]>> => {
    if (spent() + thetas.length > options.budget) return E.left(overBudget(spent(), options.budget, thetas.length, why))
    const x: SondeMatrix = { rows: thetas.length, cols: d, data: new Float64Array(thetas.length * d) }
    thetas.forEach((th, r) => x.data.set(at(th), r * d))
    // Checked where it arrives (shape, finiteness): a NaN here would send the bisection astray.
    const g = await oracle.gradient(x, logit)
    return E.map((m: SondeMatrix) => thetas.map((_, r) => m.data.slice(r * d, (r + 1) * d)))(g)
  }
  const s = stage(options.control, `logit ${logit}: bisection`)
  const started = checkSignal(options.control.signal, `extractReluNetwork (logit ${logit})`)
  if (E.isLeft(started)) return started
  const ends = await gradients([-thetaMax, thetaMax], `logit ${logit}: the ends of the line`)
  if (E.isLeft(ends)) return ends
  let intervals: Array<readonly [Sample, Sample]> = [[{ theta: -thetaMax, g: ends.right[0]! }, { theta: thetaMax, g: ends.right[1]! }]]
  for (let level = 1; ; level++) {
    // Once per bisection level: progress, the abort signal, and a yield to the event loop.
    const ok = await s.tick(level)
    if (E.isLeft(ok)) return ok
    const withJump = intervals.filter(([a, b]) => !same(a.g, b.g))
    const n = Math.max(options.hiddenUnits ?? 1, withJump.length, 1)
    const width = (2 * thetaMax) / (64 * n * n)
    const toSplit = withJump.filter(([a, b]) => b.theta - a.theta > width)
    if (toSplit.length === 0) {
      intervals = withJump
      break
    }
    const mids = toSplit.map(([a, b]) => (a.theta + b.theta) / 2)
    const gm = await gradients(
      mids,
      `logit ${logit}: after ${level} bisection levels the gradient still changes in ${toSplit.length} intervals — the oracle does not look piecewise linear, or it has more units than the budget allows`,
    )
    if (E.isLeft(gm)) return gm
    const next: Array<readonly [Sample, Sample]> = []
    toSplit.forEach(([a, b], i) => {
      const m = { theta: mids[i]!, g: gm.right[i]! }
      next.push([a, m], [m, b])
    })
    intervals = [...withJump.filter(([a, b]) => b.theta - a.theta <= width), ...next].sort((x, y) => x[0].theta - y[0].theta)
  }

  const h = intervals.length
  if (h > d) {
    return E.left(errors.unidentifiable(`found ${h} hidden units but the input has ${d} dimensions: with h > d the units are not identifiable from gradients (the method needs h ≤ d)`))
  }
  const gLeft = ends.right[0]!
  if (h === 0) {
    if (gLeft.some((x) => x !== 0)) return E.left(errors.unidentifiable(`logit ${logit} has a constant non-zero gradient: a linear model, not a two-layer ReLU network — use extractLinear`))
    if (!withBias) return E.right({ w: [], b: [], sign: [], c: 0 })
    // A constant logit: its value is the output bias.
    if (spent() + 1 > options.budget) return E.left(overBudget(spent(), options.budget, 1, `logit ${logit}: its constant value`))
    const c = await oracle.predict({ rows: 1, cols: d, data: p })
    if (E.isLeft(c)) return c
    return E.right({ w: [], b: [], sign: [], c: c.right.scores!.data[logit]! })
  }
  const jumps = intervals.map(([a, b]) => b.g.map((x, j) => x - a.g[j]!))
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
      worthAnotherLine(errors.notConverged(
        `extractReluNetwork (logit ${logit}): the gradient at the start of the line is not a 0/−1 combination of the ${h} jumps found — the oracle is not a two-layer ReLU network, or two kinks share an interval`,
        round,
        Math.max(residual / (scale + 1e-300), badCoef >= 0 ? Math.abs(coef[badCoef]!) : 0),
        1e-6,
      )),
    )
  }
  const switchesOff = Array.from(coef, (c) => c < -0.5)

  // Kink positions: exact from two value queries per kink when there are biases; 0 otherwise.
  const xLeft = at(-thetaMax)
  const units: ScalarNet = { w: [], b: [], sign: [], c: 0 }
  let values: Float64Array | undefined
  if (withBias) {
    const pts: SondeMatrix = { rows: 2 * h + 1, cols: d, data: new Float64Array((2 * h + 1) * d) }
    intervals.forEach(([a, b], i) => {
      pts.data.set(at(a.theta), 2 * i * d)
      pts.data.set(at(b.theta), (2 * i + 1) * d)
    })
    pts.data.set(p, 2 * h * d)
    if (spent() + pts.rows > options.budget) return E.left(overBudget(spent(), options.budget, pts.rows, `logit ${logit}: locating the ${h} kinks with value queries`))
    const ok = checkSignal(options.control.signal, `extractReluNetwork (logit ${logit})`)
    if (E.isLeft(ok)) return ok
    const pred = await oracle.predict(pts)
    if (E.isLeft(pred)) return pred
    values = Float64Array.from({ length: 2 * h + 1 }, (_, r) => pred.right.scores!.data[r * info.numClasses + logit]!)
  }
  for (let i = 0; i < h; i++) {
    const [a, b] = intervals[i]!
    const e = switchesOff[i] ? -1 : 1
    const vi = jumps[i]!.map((x) => e * x) // = aᵢ wᵢ
    let xStar: Float64Array
    if (values !== undefined) {
      const ta = Math.tan(a.theta)
      const tb = Math.tan(b.theta)
      const sa = dotv(a.g, v)
      const sb = dotv(b.g, v)
      const fa = values[2 * i]!
      const fb = values[2 * i + 1]!
      // f(t) = fa + sa (t − ta) left of the kink, fb + sb (t − tb) right of it.
      const tStar = (fb - fa + sa * ta - sb * tb) / (sa - sb)
      xStar = p.map((pj, j) => pj + tStar * v[j]!)
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
  if (values !== undefined) {
    let fp = 0
    for (let i = 0; i < h; i++) fp += units.sign[i]! * Math.max(0, dotv(units.w[i]!, p) + units.b[i]!)
    return E.right({ ...units, c: values[2 * h]! - fp })
  }
  return E.right(units)
}

/**
 * Extract a two-layer ReLU network f(x)_k = Σᵢ A[k,i]·ReLU(wᵢᵀx + bᵢ) + c_k from its gradient
 * explanations (Milli et al. 2018), up to permutation and positive rescaling of hidden units;
 * the query count grows like h·log h and does not depend on the input dimension d.
 *
 * Each logit is extracted on its own (several outputs give a network whose hidden layer is the
 * union of the per-logit units). With hidden biases (the default) value queries locate each kink
 * exactly — the oracle must reveal logits; without, gradient queries alone suffice. In both modes the
 * answer is checked at `verifyPoints` random points (values with biases, gradients without): a network it
 * cannot reproduce there is an error, never a silently wrong model. Errors: `Unidentifiable` when h > d, the
 * jumps are dependent or the oracle is linear; `BudgetExhausted` when the gradient keeps changing at every
 * scale within `budget` (not piecewise linear, or more units than the budget allows); `NotConverged` when the
 * check fails on two lines; `Aborted` within one bisection level of `signal` firing.
 *
 * @example
 * const ex = await toPromise(extractReluNetwork(explanationApi, { seed: 1, budget: 50_000 }))
 * ex.model.hidden, ex.queries.gradientRows, ex.verification?.maxRelativeError
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
    const control = controlFrom(o)
    const resolved: Resolved = { seed: o.seed, hiddenUnits: o.hiddenUnits, budget: o.budget ?? 20_000 * k, control }
    const q = checked(oracle)
    const spent = (): number => q.usage().gradientRows + q.usage().predictRows
    const verify = o.verifyPoints
    const tol = o.tolerance
    const nets: ScalarNet[] = []
    let lines = 0
    let worst = 0
    for (let logit = 0; logit < k; logit++) {
      let net: E.Either<ProbeError, ScalarNet> = E.left(errors.notConverged('extractReluNetwork', 0, Number.NaN, tol))
      let logitError = 0
      // A second walk on another random line if the first one failed its checks (two kinks in one interval).
      for (let round = 0; round < 2; round++) {
        lines++
        net = await extractScalar(q, logit, resolved, withBias, round)
        if (E.isLeft(net)) {
          if (round === 0 && retryOnAnotherLine.has(net.left)) continue
          return net
        }
        if (verify === 0) break
        // Every answer is checked at random points: against value queries of the logit with biases, and
        // against gradient queries without (that mode may not see values).
        const x = randomQueries(info, verify, createRng(subSeed(o.seed, 31 * logit + 1000 * round)))
        if (spent() + verify > resolved.budget) return E.left(overBudget(spent(), resolved.budget, verify, `logit ${logit}: checking the answer at ${verify} random points`))
        const stop = checkSignal(control.signal, `extractReluNetwork (logit ${logit})`)
        if (E.isLeft(stop)) return stop
        const r = net.right
        let err = 0
        let scale = 0
        if (withBias) {
          const truth = await q.predict(x)
          if (E.isLeft(truth)) return truth
          for (let i = 0; i < verify; i++) {
            const row = x.data.subarray(i * x.cols, (i + 1) * x.cols)
            let f = r.c
            r.w.forEach((w, j) => (f += r.sign[j]! * Math.max(0, dotv(w, row) + r.b[j]!)))
            const t = truth.right.scores!.data[i * k + logit]!
            err = Math.max(err, Math.abs(f - t))
            scale = Math.max(scale, Math.abs(t))
          }
        } else {
          const truth = await q.gradient(x, logit)
          if (E.isLeft(truth)) return truth
          const d = info.inputDim
          for (let i = 0; i < verify; i++) {
            const row = x.data.subarray(i * d, (i + 1) * d)
            const g = new Float64Array(d)
            r.w.forEach((w, j) => {
              if (dotv(w, row) > 0) for (let c = 0; c < d; c++) g[c]! += r.sign[j]! * w[c]!
            })
            for (let c = 0; c < d; c++) {
              const t = truth.right.data[i * d + c]!
              err = Math.max(err, Math.abs(g[c]! - t))
              scale = Math.max(scale, Math.abs(t))
            }
          }
        }
        logitError = scale === 0 ? err : err / scale
        if (err <= tol * scale) break
        net = E.left(
          worthAnotherLine(
            errors.notConverged(
              `extractReluNetwork (logit ${logit}): the extracted network differs from the oracle by ${logitError.toExponential(2)} (relative) at random points, on ${round + 1} random line(s)`,
              round + 1,
              logitError,
              tol,
            ),
          ),
        )
      }
      if (E.isLeft(net)) return net
      worst = Math.max(worst, logitError)
      nets.push(net.right)
    }
    const h = nets.reduce((a, n) => a + n.w.length, 0)
    const d = info.inputDim
    const w = new Float64Array(h * d)
    const b = new Float64Array(h)
    const a = new Float64Array(k * h)
    const c = new Float64Array(k)
    let u = 0
    nets.forEach((net, logit) => {
      c[logit] = net.c
      net.w.forEach((wi, j) => {
        w.set(wi, u * d)
        b[u] = net.b[j]!
        a[logit * h + u] = net.sign[j]!
        u++
      })
    })
    const model = new TwoLayerRelu(
      { hiddenWeights: { rows: h, cols: d, data: w }, hiddenBias: b, outputWeights: { rows: k, cols: h, data: a }, outputBias: c },
      { id: `extracted:${info.id}` },
    )
    return E.right({
      model,
      queries: q.usage(),
      seed: o.seed,
      unitsPerLogit: nets.map((n) => n.w.length),
      lines,
      ...(verify > 0 ? { verification: { points: verify, on: withBias ? ('values' as const) : ('gradients' as const), maxRelativeError: worst, tolerance: tol } } : {}),
      fidelity: (points) => compareOracles(oracle, model, points),
    })
  })
