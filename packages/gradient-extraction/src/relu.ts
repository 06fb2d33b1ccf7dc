import { either as E, taskEither as TE } from 'fp-ts'
import { createRng, errors, meter, validateGradient, type GradientOracle, type Matrix as SondeMatrix, type Metered, type OracleError, type ProbeError } from '@sonde/oracle'
import { TwoLayerRelu } from '@sonde/models'
import { CholeskyDecomposition, Matrix } from 'ml-matrix'
import { compareOracles, randomPoints, type Extraction } from './extraction.js'

/** Options of {@link extractReluNetwork}. */
export interface ReluExtractionOptions {
  /** Seed of the random line the search walks. */
  readonly seed: number
  /** The number of hidden units, if known (per logit); otherwise it is found. */
  readonly hiddenUnits?: number
  /**
   * Whether the hidden units have biases. Default true: biases are recovered exactly with value
   * queries (the oracle must reveal logits). With `false` the network is taken to be
   * f(x) = Σ aᵢ ReLU(wᵢᵀx) and only gradient queries are used.
   */
  readonly hiddenBias?: boolean
  /** Most gradient rows to spend per logit before giving up (not piecewise linear). Default 20,000. */
  readonly maxGradientRows?: number
  /** Random points on which the result is checked with value queries (per logit). Default 8; 0 skips the check. */
  readonly verifyPoints?: number
  /** Largest relative error accepted at the check points. Default 1e-7. */
  readonly tolerance?: number
}

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
  oracle: GradientOracle & Metered,
  logit: number,
  options: ReluExtractionOptions,
  withBias: boolean,
  round: number,
): Promise<E.Either<ProbeError, ScalarNet>> => {
  const d = oracle.info.inputDim
  const rng = createRng(options.seed + 7919 * logit + 104729 * round)
  const p = Float64Array.from({ length: d }, () => rng.normal())
  const v = Float64Array.from({ length: d }, () => rng.normal())
  const thetaMax = Math.PI / 2 - 1e-6 // |t| ≤ 1e6: a kink beyond is missed with probability ~1e-6 per unit
  const at = (theta: number): Float64Array => {
    const t = Math.tan(theta)
    return p.map((pj, j) => pj + t * v[j]!)
  }
  const maxRows = options.maxGradientRows ?? 20_000
  const gradients = async (thetas: readonly number[]): Promise<E.Either<OracleError, Float64Array[]>> => {
    const x: SondeMatrix = { rows: thetas.length, cols: d, data: new Float64Array(thetas.length * d) }
    thetas.forEach((th, r) => x.data.set(at(th), r * d))
    // A hand-written oracle skips the adapters' checks: a NaN here would send the bisection astray.
    const g = E.chain((m: SondeMatrix) => validateGradient(oracle.info, thetas.length, m))(await oracle.gradient(x, logit)())
    return E.map((m: SondeMatrix) => thetas.map((_, r) => m.data.slice(r * d, (r + 1) * d)))(g)
  }
  const ends = await gradients([-thetaMax, thetaMax])
  if (E.isLeft(ends)) return ends
  let intervals: Array<readonly [Sample, Sample]> = [[{ theta: -thetaMax, g: ends.right[0]! }, { theta: thetaMax, g: ends.right[1]! }]]
  const spent = (): number => oracle.usage().gradientRows
  const startRows = spent() - 2
  for (;;) {
    const withJump = intervals.filter(([a, b]) => !same(a.g, b.g))
    const n = Math.max(options.hiddenUnits ?? 1, withJump.length, 1)
    const width = (2 * thetaMax) / (64 * n * n)
    const toSplit = withJump.filter(([a, b]) => b.theta - a.theta > width)
    if (toSplit.length === 0) {
      intervals = withJump
      break
    }
    if (spent() - startRows + toSplit.length > maxRows) {
      return E.left(
        errors.notConverged(
          `extractReluNetwork (logit ${logit}): the gradient keeps changing at every scale — the oracle does not look piecewise linear (or has more units than maxGradientRows allows)`,
          spent() - startRows,
          toSplit.length,
          0,
        ),
      )
    }
    const mids = toSplit.map(([a, b]) => (a.theta + b.theta) / 2)
    const gm = await gradients(mids)
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
    return E.right({ w: [], b: [], sign: [], c: 0 })
  }
  const jumps = intervals.map(([a, b]) => b.g.map((x, j) => x - a.g[j]!))
  // Signs: g(left end) = −Σ_{units that switch off} uⱼ. Expand in the jumps by least squares.
  const gram = new Float64Array(h * h)
  for (let i = 0; i < h; i++) for (let j = 0; j <= i; j++) gram[i * h + j] = gram[j * h + i] = dotv(jumps[i]!, jumps[j]!)
  const coef = choleskySolve(gram, Float64Array.from(jumps, (u) => dotv(u, gLeft)), h)
  if (coef === undefined) {
    return E.left(errors.invalidInput(`the ${h} gradient jumps of logit ${logit} are linearly dependent: the hidden weights are not independent (or h > d); the network is not identifiable`, 'oracle'))
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
    const pred = await oracle.predict(pts)()
    if (E.isLeft(pred)) return pred
    values = Float64Array.from({ length: 2 * h + 1 }, (_, r) => pred.right.scores!.data[r * oracle.info.numClasses + logit]!)
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
 * exactly — the oracle must reveal logits; without, gradient queries alone suffice. The answer is
 * checked at `verifyPoints` random points: a network it cannot reproduce there is an error, never
 * a silently wrong model. Errors: `InvalidInput` when h > d or the jumps are dependent (not
 * identifiable), `NotConverged` when the oracle is not piecewise linear.
 *
 * @example
 * const ex = await toPromise(extractReluNetwork(explanationApi, { seed: 1 }))
 * ex.model.hidden, ex.queries.gradientRows
 */
export const extractReluNetwork = (
  oracle: GradientOracle,
  options: ReluExtractionOptions,
): TE.TaskEither<ProbeError, Extraction<TwoLayerRelu>> => {
  const { info } = oracle
  const withBias = options.hiddenBias ?? true
  if (info.output !== 'logits' && withBias) {
    return TE.left(errors.missingCapability('logits', info.id, 'hidden biases are located with value queries of the logits; use hiddenBias: false for a network without biases'))
  }
  const dom = info.domain
  const bounded = dom !== undefined && [dom.lower, dom.upper].some((b) => (typeof b === 'number' ? Number.isFinite(b) : b.some(Number.isFinite)))
  if (bounded) {
    return TE.left(errors.invalidInput(`oracle '${info.id}' has a bounded input domain; extractReluNetwork walks lines through the whole input space`, 'oracle.info.domain'))
  }
  // Every option is checked before the first query: a NaN cap once made the bisection run forever.
  const issues: Array<{ path: string; message: string }> = []
  if (options === null || typeof options !== 'object') return TE.left(errors.invalidOptions([{ path: 'options', message: `is ${String(options)}; expected an object with a seed` }]))
  if (!Number.isSafeInteger(options.seed)) issues.push({ path: 'options.seed', message: `is ${String(options.seed)}; expected a safe integer` })
  if (options.hiddenUnits !== undefined && !(Number.isInteger(options.hiddenUnits) && options.hiddenUnits >= 1)) {
    issues.push({ path: 'options.hiddenUnits', message: `is ${options.hiddenUnits}; expected a positive integer` })
  }
  if (options.maxGradientRows !== undefined && !(Number.isInteger(options.maxGradientRows) && options.maxGradientRows >= 2)) {
    issues.push({ path: 'options.maxGradientRows', message: `is ${options.maxGradientRows}; expected an integer ≥ 2` })
  }
  if (options.verifyPoints !== undefined && !(Number.isInteger(options.verifyPoints) && options.verifyPoints >= 0)) {
    issues.push({ path: 'options.verifyPoints', message: `is ${options.verifyPoints}; expected a non-negative integer` })
  }
  if (options.tolerance !== undefined && !(options.tolerance > 0 && options.tolerance < 1)) {
    issues.push({ path: 'options.tolerance', message: `is ${options.tolerance}; expected a number in (0, 1)` })
  }
  if (options.hiddenBias !== undefined && typeof options.hiddenBias !== 'boolean') issues.push({ path: 'options.hiddenBias', message: `is ${String(options.hiddenBias)}; expected true or false` })
  if (issues.length > 0) return TE.left(errors.invalidOptions(issues))
  const counted = meter(oracle)
  const k = info.numClasses
  const verify = options.verifyPoints ?? 8
  const tol = options.tolerance ?? 1e-7
  return async () => {
    const nets: ScalarNet[] = []
    for (let logit = 0; logit < k; logit++) {
      let net: E.Either<ProbeError, ScalarNet> = E.left(errors.notConverged('extractReluNetwork', 0, Number.NaN, tol))
      // A second walk on another random line if the first one failed its checks (two kinks in one interval).
      for (let round = 0; round < 2; round++) {
        net = await extractScalar(counted, logit, options, withBias, round)
        if (E.isLeft(net)) {
          if (round === 0 && retryOnAnotherLine.has(net.left)) continue
          return net
        }
        if (verify === 0) break
        // Every answer is checked at random points: against value queries of the logit with biases, and
        // against gradient queries without (that mode may not see values).
        const x = randomPoints(oracle, verify, options.seed + 31 * logit + 1000 * round)
        const r = net.right
        let err = 0
        let scale = 0
        if (withBias) {
          const truth = await counted.predict(x)()
          if (E.isLeft(truth)) return truth
          for (let i = 0; i < verify; i++) {
            const row = x.data.subarray(i * x.cols, (i + 1) * x.cols)
            let f = r.c
            r.w.forEach((w, j) => (f += r.sign[j]! * Math.max(0, dotv(w, row as Float64Array) + r.b[j]!)))
            const t = truth.right.scores!.data[i * k + logit]!
            err = Math.max(err, Math.abs(f - t))
            scale = Math.max(scale, Math.abs(t))
          }
        } else {
          const truth = E.chain((g: SondeMatrix) => validateGradient(info, verify, g))(await counted.gradient(x, logit)())
          if (E.isLeft(truth)) return truth
          const d = info.inputDim
          for (let i = 0; i < verify; i++) {
            const row = x.data.subarray(i * d, (i + 1) * d) as Float64Array
            const g = new Float64Array(d)
            r.w.forEach((w, j) => {
              if (dotv(w, row) > 0) for (let q = 0; q < d; q++) g[q]! += r.sign[j]! * w[q]!
            })
            for (let q = 0; q < d; q++) {
              const t = truth.right.data[i * d + q]!
              err = Math.max(err, Math.abs(g[q]! - t))
              scale = Math.max(scale, Math.abs(t))
            }
          }
        }
        if (err <= tol * Math.max(scale, 1e-300)) break
        net = E.left(worthAnotherLine(errors.notConverged(`extractReluNetwork (logit ${logit}): the extracted network differs from the oracle by ${(err / scale).toExponential(2)} (relative) at random points`, round + 1, err / scale, tol)))
      }
      if (E.isLeft(net)) return net
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
    const usage = counted.usage()
    return E.right({
      model,
      queries: { gradientRows: usage.gradientRows, valueRows: usage.predictRows },
      fidelity: (points) => compareOracles(oracle, model, points),
    })
  }
}
