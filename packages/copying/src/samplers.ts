import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { clipToDomain, domainBounds, errors, featureBounds, row, type Domain, type Matrix, type Oracle, type OracleInfo, type Prediction, type ProbeError, type Rng } from '@sonde/oracle'
import { guarded, intAtLeast, matrixIssues, positive, show, type OptionIssue } from './check.js'

/** A labelled set: points and the original's labels for them. */
export interface Labelled {
  readonly x: Matrix
  readonly y: Int32Array
}

/** What a sampler may use. Every call of `label` is charged to the copy's query budget. */
export interface SamplerContext {
  readonly info: OracleInfo
  readonly rng: Rng
  /** Unlabelled points the user already has (real data), if any. */
  readonly reference?: Matrix
  /** The original's labels for `x` (counted; refused beyond this round's share of the budget). */
  readonly label: (x: Matrix) => TE.TaskEither<ProbeError, Int32Array>
  /** Everything labelled so far, in earlier rounds. */
  readonly labelled: Labelled
  /** The copy trained on `labelled`, from the second round on. */
  readonly copy?: Oracle
}

/** What a sampler's {@link Sampler.check} sees before any query: the oracle, the reference data, the budget and rounds. */
export interface SamplerSetup {
  readonly info: OracleInfo
  readonly reference?: Matrix
  readonly budget: number
  readonly rounds: number
}

/**
 * A synthetic-sample generator: a plain value. `draw(n, ctx)` returns exactly `n` labelled points
 * and spends exactly `n` label queries; `generate`, when present, proposes unlabelled candidates
 * (used by samplers that choose among candidates, such as {@link adaptive}); `check`, when present,
 * lists the sampler's problems with its options and with the setup (e.g. no reference data for
 * {@link jitter}) — {@link copyClassifier} calls it before any query.
 */
export interface Sampler {
  readonly name: string
  readonly draw: (n: number, ctx: SamplerContext) => TE.TaskEither<ProbeError, Labelled>
  readonly generate?: (n: number, ctx: SamplerContext) => E.Either<ProbeError, Matrix>
  readonly check?: (setup: SamplerSetup) => readonly OptionIssue[]
}

const right = <A>(a: A): E.Either<ProbeError, A> => E.right(a)
const left = (e: ProbeError): E.Either<ProbeError, never> => E.left(e)
const invalid = (issues: readonly OptionIssue[]): E.Either<ProbeError, never> => left(errors.invalidOptions(issues))

/** A generator's output checked before anything is labelled: n × inputDim finite values. */
const checkGenerated = (name: string, n: number, d: number, x: unknown): E.Either<ProbeError, Matrix> => {
  const issues = matrixIssues(x, 'x', d, 0)
  if (issues.length > 0) return left(errors.pluginFailed(`sampler '${name}'`, `generated points that are not usable: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`))
  const m = x as Matrix
  if (m.rows !== n) return left(errors.pluginFailed(`sampler '${name}'`, `generated ${m.rows} points for ${n} requested`))
  return right(m)
}

/**
 * A sampler from a point generator: generate n points (checked: n rows, finite), label them in one query.
 * The generator is your code: a throw becomes `PluginFailed`.
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { fromGenerator } from '@sonde/copying'
 *
 * const s = fromGenerator('normal', (n, ctx) => E.right({ rows: n, cols: 4, data: Float64Array.from({ length: 4 * n }, () => ctx.rng.normal()) }))
 */
export const fromGenerator = (name: string, generate: (n: number, ctx: SamplerContext) => E.Either<ProbeError, Matrix>): Sampler => {
  const safeGenerate = (n: number, ctx: SamplerContext): E.Either<ProbeError, Matrix> => {
    if (typeof generate !== 'function') return invalid([{ path: 'options.sampler', message: `sampler '${String(name)}' has no generate function` }])
    try {
      const g: unknown = generate(n, ctx)
      if (g === null || typeof g !== 'object' || ((g as E.Either<unknown, unknown>)._tag !== 'Right' && (g as E.Either<unknown, unknown>)._tag !== 'Left')) {
        return left(errors.pluginFailed(`sampler '${String(name)}'`, `generate returned ${show(g)}; expected an Either of a Matrix`))
      }
      const r = g as E.Either<unknown, unknown>
      if (E.isLeft(r)) return left(r.left as ProbeError)
      return checkGenerated(String(name), n, ctx.info.inputDim, r.right)
    } catch (cause) {
      return left(errors.pluginFailed(`sampler '${String(name)}'`, `generate threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
    }
  }
  return {
    name: String(name),
    generate: safeGenerate,
    draw: (n, ctx) =>
      F.pipe(
        TE.fromEither(safeGenerate(n, ctx)),
        TE.chain((x) => F.pipe(ctx.label(x), TE.map((y) => ({ x, y })))),
      ),
  }
}

const sideIssues = (side: unknown, d: number, path: string): OptionIssue[] => {
  if (typeof side === 'number') return Number.isFinite(side) ? [] : [{ path, message: `is ${side}; expected a finite number` }]
  if (side instanceof Float64Array) {
    if (side.length !== d) return [{ path, message: `has ${side.length} values; the oracle has ${d} features` }]
    const bad = side.findIndex((v) => !Number.isFinite(v))
    return bad < 0 ? [] : [{ path: `${path}[${bad}]`, message: `is ${side[bad]}; expected a finite number` }]
  }
  return [{ path, message: `is ${show(side)}; expected a number or a Float64Array` }]
}

/**
 * Uniform in a box: `domain` if given, else the oracle's domain (which must then be finite). Cheap and
 * data-free — and often useless for high-dimensional inputs, where the original may put almost every such
 * point in one class (the copy's diagnostics say so).
 *
 * @example
 * import { uniformBox } from '@sonde/copying'
 *
 * const s = uniformBox() // within info.domain
 * const t = uniformBox({ domain: { lower: 0, upper: 1 } })
 */
export const uniformBox = (o: { readonly domain?: Domain } = {}): Sampler => {
  const box = o?.domain
  const check = (setup: Pick<SamplerSetup, 'info'>): OptionIssue[] => {
    const d = setup.info.inputDim
    if (box !== undefined) {
      if (box === null || typeof box !== 'object') return [{ path: 'options.sampler.domain', message: `is ${show(box)}; expected { lower, upper }` }]
      const issues = [...sideIssues(box.lower, d, 'options.sampler.domain.lower'), ...sideIssues(box.upper, d, 'options.sampler.domain.upper')]
      if (issues.length > 0) return issues
      const { lower, upper } = domainBounds(box, d)
      const j = lower.findIndex((lo, i) => !(lo <= upper[i]!))
      if (j >= 0) return [{ path: 'options.sampler.domain', message: `feature ${j} has lower ${lower[j]} > upper ${upper[j]}` }]
      for (let f = 0; f < d; f++) {
        const [lo, hi] = featureBounds(setup.info, f)
        if (lower[f]! < lo || upper[f]! > hi) return [{ path: 'options.sampler.domain', message: `feature ${f} is [${lower[f]}, ${upper[f]}], outside the oracle's domain [${lo}, ${hi}]` }]
      }
      return []
    }
    for (let j = 0; j < d; j++) {
      const [lo, hi] = featureBounds(setup.info, j)
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
        return [{ path: 'options.sampler', message: `uniformBox needs a finite box: feature ${j} of the oracle's domain is [${lo}, ${hi}]; pass { domain } or use an oracle with a finite domain` }]
      }
    }
    return []
  }
  return {
    ...fromGenerator('uniformBox', (n, ctx) => {
      const issues = check(ctx)
      if (issues.length > 0) return invalid(issues)
      const d = ctx.info.inputDim
      const { lower, upper } = domainBounds(box ?? ctx.info.domain, d)
      const data = new Float64Array(n * d)
      for (let k = 0; k < data.length; k++) {
        const j = k % d
        data[k] = lower[j]! + (upper[j]! - lower[j]!) * ctx.rng.next()
      }
      return right({ rows: n, cols: d, data })
    }),
    check,
  }
}

/**
 * Independent Gaussian per feature: from given `mean`/`std`, or fitted to the reference data.
 * Clipped to the oracle's domain.
 *
 * @example
 * import { gaussian } from '@sonde/copying'
 *
 * const s = gaussian() // statistics of options.reference
 */
export const gaussian = (o: { readonly mean?: Float64Array; readonly std?: Float64Array } = {}): Sampler => {
  const given = o ?? {}
  const check = (setup: Pick<SamplerSetup, 'info' | 'reference'>): OptionIssue[] => {
    const d = setup.info.inputDim
    const issues: OptionIssue[] = []
    if (given.mean !== undefined) issues.push(...sideIssues(given.mean instanceof Float64Array ? given.mean : null, d, 'options.sampler.mean'))
    if (given.std !== undefined) {
      issues.push(...sideIssues(given.std instanceof Float64Array ? given.std : null, d, 'options.sampler.std'))
      if (given.std instanceof Float64Array && given.std.some((v) => v < 0)) issues.push({ path: 'options.sampler.std', message: 'has a negative entry; expected standard deviations ≥ 0' })
    }
    if ((given.mean === undefined || given.std === undefined) && (setup.reference === undefined || setup.reference.rows === 0)) {
      issues.push({ path: 'options.reference', message: 'is missing; the gaussian sampler needs mean and std, or reference data to fit them to' })
    }
    return issues
  }
  return {
    ...fromGenerator('gaussian', (n, ctx) => {
      const issues = check(ctx)
      if (issues.length > 0) return invalid(issues)
      const d = ctx.info.inputDim
      let mean = given.mean
      let std = given.std
      if (mean === undefined || std === undefined) {
        const ref = ctx.reference!
        const m = new Float64Array(d)
        const s = new Float64Array(d)
        for (let i = 0; i < ref.rows; i++) for (let j = 0; j < d; j++) m[j]! += ref.data[i * d + j]! / ref.rows
        for (let i = 0; i < ref.rows; i++) for (let j = 0; j < d; j++) s[j]! += (ref.data[i * d + j]! - m[j]!) ** 2 / Math.max(1, ref.rows - 1)
        mean ??= m
        std ??= s.map(Math.sqrt)
      }
      const data = new Float64Array(n * d)
      for (let k = 0; k < data.length; k++) data[k] = mean[k % d]! + std[k % d]! * ctx.rng.normal()
      return right(clipToDomain(ctx.info, { rows: n, cols: d, data }))
    }),
    check,
  }
}

/**
 * Around known points: a random reference point plus N(0, σ²) noise per feature, clipped to the
 * domain. The sampler that follows the data most closely. Needs `around` or the run's reference data.
 *
 * @example
 * import { jitter } from '@sonde/copying'
 *
 * const s = jitter({ sigma: 0.1 })
 */
export const jitter = (o: { readonly sigma?: number; readonly around?: Matrix } = {}): Sampler => {
  const given = o ?? {}
  const check = (setup: Pick<SamplerSetup, 'info' | 'reference'>): OptionIssue[] => {
    const issues = positive(given.sigma, 'options.sampler.sigma')
    if (given.around !== undefined) issues.push(...matrixIssues(given.around, 'options.sampler.around', setup.info.inputDim))
    else if (setup.reference === undefined || setup.reference.rows === 0) issues.push({ path: 'options.reference', message: 'is missing; the jitter sampler needs reference points (options.reference) or jitter({ around })' })
    return issues
  }
  return {
    ...fromGenerator('jitter', (n, ctx) => {
      const issues = check(ctx)
      if (issues.length > 0) return invalid(issues)
      const ref = given.around ?? ctx.reference!
      const sigma = given.sigma ?? 0.1
      const d = ctx.info.inputDim
      const data = new Float64Array(n * d)
      for (let i = 0; i < n; i++) {
        const base = row(ref, ctx.rng.int(ref.rows))
        for (let j = 0; j < d; j++) data[i * d + j] = base[j]! + sigma * ctx.rng.normal()
      }
      return right(clipToDomain(ctx.info, { rows: n, cols: d, data }))
    }),
    check,
  }
}

const concat = (a: Labelled, b: Labelled): Labelled => {
  const x = new Float64Array(a.x.data.length + b.x.data.length)
  x.set(a.x.data)
  x.set(b.x.data, a.x.data.length)
  const y = new Int32Array(a.y.length + b.y.length)
  y.set(a.y)
  y.set(b.y, a.y.length)
  return { x: { rows: a.x.rows + b.x.rows, cols: a.x.cols, data: x }, y }
}

/** Points of each class among labelled sets. */
const byClass = (sets: readonly Labelled[], k: number): Float64Array[][] => {
  const out: Float64Array[][] = Array.from({ length: Math.max(k, 2) }, () => [])
  for (const s of sets) for (let i = 0; i < s.y.length; i++) out[s.y[i]!]?.push(row(s.x, i))
  return out
}

const baseIssues = (base: unknown, path: string): OptionIssue[] =>
  base !== null && typeof base === 'object' && typeof (base as Sampler).draw === 'function' ? [] : [{ path, message: `is ${show(base)}; expected a Sampler ({ name, draw })` }]

const checkBase = (base: Sampler, setup: SamplerSetup): readonly OptionIssue[] => {
  if (typeof base.check !== 'function') return []
  try {
    const r: unknown = base.check(setup)
    return Array.isArray(r) ? (r as OptionIssue[]) : [{ path: 'options.sampler', message: `sampler '${String(base.name)}': check returned ${show(r)}; expected a list of issues` }]
  } catch (cause) {
    return [{ path: 'options.sampler', message: `sampler '${String(base.name)}': check threw: ${cause instanceof Error ? cause.message : String(cause)}` }]
  }
}

/** The base sampler's draw, guarded, and checked to return exactly `n` points of the oracle's width. */
const drawBase = (base: Sampler, n: number, ctx: SamplerContext): TE.TaskEither<ProbeError, Labelled> =>
  F.pipe(
    guarded(`sampler '${String(base.name)}'`, () => base.draw(n, ctx)),
    TE.chainEitherK((set) => validLabelled(String(base.name), n, ctx.info, set)),
  )

/** A sampler's output checked: n rows of the oracle's width, finite, one label per row in range. */
export const validLabelled = (name: string, n: number, info: OracleInfo, set: unknown): E.Either<ProbeError, Labelled> => {
  const what = `sampler '${name}'`
  if (set === null || typeof set !== 'object') return left(errors.pluginFailed(what, `returned ${show(set)}; expected { x, y }`))
  const s = set as Partial<Labelled>
  const issues = matrixIssues(s.x, 'x', info.inputDim, 0)
  if (issues.length > 0) return left(errors.pluginFailed(what, `returned points that are not usable: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`))
  if (!(s.y instanceof Int32Array) || s.y.length !== s.x!.rows) return left(errors.pluginFailed(what, `returned ${s.x!.rows} points with ${s.y instanceof Int32Array ? s.y.length : show(s.y)} labels; expected an Int32Array, one per point`))
  if (s.x!.rows !== n) return left(errors.pluginFailed(what, `returned ${s.x!.rows} points for ${n} requested`))
  const k = Math.max(info.numClasses, 2)
  const bad = s.y.findIndex((l) => !(l >= 0 && l < k))
  if (bad >= 0) return left(errors.pluginFailed(what, `returned label ${s.y[bad]} at row ${bad}; the oracle has classes 0..${k - 1}`))
  return right(s as Labelled)
}

/**
 * Adaptive rebalancing: spend half the budget on `base`, then the rest in small steps, each around
 * known points of the classes with the fewest samples so far (jitter with `sigma`), so that no
 * class is starved. While some class has not been seen, reference points (if any) are explored
 * too; a class never found is reported by the diagnostics.
 *
 * @example
 * import { balanced, gaussian } from '@sonde/copying'
 *
 * const s = balanced(gaussian(), { sigma: 0.1 })
 */
export const balanced = (base: Sampler, o: { readonly sigma?: number; readonly steps?: number } = {}): Sampler => {
  const given = o ?? {}
  const own = (): OptionIssue[] => [...baseIssues(base, 'options.sampler.base'), ...positive(given.sigma, 'options.sampler.sigma'), ...intAtLeast(given.steps, 1, 'options.sampler.steps')]
  return {
    name: `balanced(${String(base?.name)})`,
    check: (setup) => {
      const issues = own()
      return issues.length > 0 ? issues : checkBase(base, setup)
    },
    draw: (n, ctx) => async () => {
      const issues = own()
      if (issues.length > 0) return invalid(issues)
      const k = Math.max(ctx.info.numClasses, 2)
      const first = Math.ceil(n / 2)
      const start = await drawBase(base, first, ctx)()
      if (E.isLeft(start)) return start
      let acc = start.right
      const steps = given.steps ?? 4
      const sigma = given.sigma ?? 0.1
      let remaining = n - first
      for (let s = 0; s < steps && remaining > 0; s++) {
        const take = s === steps - 1 ? remaining : Math.ceil(remaining / (steps - s))
        const groups = byClass([ctx.labelled, acc], k)
        // Classes not seen yet cannot be targeted; with reference data, a share of the step
        // explores around real points to find them.
        const ref = ctx.reference
        if (ref !== undefined && ref.rows > 0 && groups.some((g) => g.length === 0)) {
          groups.push(Array.from({ length: ref.rows }, (_, i) => row(ref, i)))
        }
        const seen = groups.map((g, c) => [c, g.length] as const).filter(([, count]) => count > 0)
        // Inverse-frequency weights over the classes seen so far.
        const weights = seen.map(([, count]) => 1 / count)
        const total = weights.reduce((a, b) => a + b, 0)
        const d = ctx.info.inputDim
        const data = new Float64Array(take * d)
        for (let i = 0; i < take; i++) {
          let u = ctx.rng.next() * total
          let pick = 0
          while (pick < seen.length - 1 && u > weights[pick]!) u -= weights[pick++]!
          const pool = groups[seen[pick]![0]]!
          const basePoint = pool[ctx.rng.int(pool.length)]!
          for (let j = 0; j < d; j++) data[i * d + j] = basePoint[j]! + sigma * ctx.rng.normal()
        }
        const x = clipToDomain(ctx.info, { rows: take, cols: d, data })
        const y = await ctx.label(x)()
        if (E.isLeft(y)) return y
        acc = concat(acc, { x, y: y.right })
        remaining -= take
      }
      return right(acc)
    },
  }
}

/**
 * Boundary-seeking: label `base` points, then bisect between differently labelled pairs, many
 * pairs at once (one query per bisection level); every midpoint is labelled and kept, so all `n`
 * queries land on or near the original's boundaries.
 *
 * @example
 * import { boundary, jitter } from '@sonde/copying'
 *
 * const s = boundary(jitter(), { steps: 6 })
 */
export const boundary = (base: Sampler, o: { readonly steps?: number; readonly pairsPerBatch?: number } = {}): Sampler => {
  const given = o ?? {}
  const own = (): OptionIssue[] => [...baseIssues(base, 'options.sampler.base'), ...intAtLeast(given.steps, 1, 'options.sampler.steps'), ...intAtLeast(given.pairsPerBatch, 1, 'options.sampler.pairsPerBatch')]
  return {
    name: `boundary(${String(base?.name)})`,
    check: (setup) => {
      const issues = own()
      return issues.length > 0 ? issues : checkBase(base, setup)
    },
    draw: (n, ctx) => async () => {
      const issues = own()
      if (issues.length > 0) return invalid(issues)
      const steps = given.steps ?? 6
      const d = ctx.info.inputDim
      const seeds = Math.max(2, Math.ceil(n / (steps + 1)))
      const points: Float64Array[] = []
      const labels: number[] = []
      const add = (set: Labelled): void => {
        for (let i = 0; i < set.y.length; i++) {
          points.push(Float64Array.from(row(set.x, i)))
          labels.push(set.y[i]!)
        }
      }
      const start = await drawBase(base, Math.min(n, seeds), ctx)()
      if (E.isLeft(start)) return start
      add(start.right)
      // Pairs are drawn from everything labelled so far, earlier rounds included.
      const poolX: Float64Array[] = [...Array.from({ length: ctx.labelled.y.length }, (_, i) => Float64Array.from(row(ctx.labelled.x, i))), ...points]
      const poolY: number[] = [...ctx.labelled.y, ...labels]
      while (labels.length < n) {
        const remaining = n - labels.length
        const want = Math.min(given.pairsPerBatch ?? 256, Math.ceil(remaining / steps))
        const pairs: Array<[Float64Array, Float64Array, number]> = []
        for (let tries = 0; tries < 50 * want && pairs.length < want; tries++) {
          const i = ctx.rng.int(poolY.length)
          const j = ctx.rng.int(poolY.length)
          if (poolY[i] !== poolY[j]) pairs.push([poolX[i]!.slice(), poolX[j]!.slice(), poolY[i]!])
        }
        if (pairs.length === 0) {
          // One class only so far: more base points (each pass labels at least one, so this ends).
          const more = await drawBase(base, Math.min(seeds, remaining), ctx)()
          if (E.isLeft(more)) return more
          const before = points.length
          add(more.right)
          for (let i = before; i < points.length; i++) {
            poolX.push(points[i]!)
            poolY.push(labels[i]!)
          }
          continue
        }
        for (let s = 0; s < steps && labels.length < n; s++) {
          const m = Math.min(pairs.length, n - labels.length)
          const data = new Float64Array(m * d)
          for (let p = 0; p < m; p++) {
            const [lo, hi] = pairs[p]!
            for (let j = 0; j < d; j++) data[p * d + j] = (lo[j]! + hi[j]!) / 2
          }
          const y = await ctx.label({ rows: m, cols: d, data })()
          if (E.isLeft(y)) return y
          for (let p = 0; p < m; p++) {
            const mid = data.slice(p * d, (p + 1) * d)
            points.push(mid)
            labels.push(y.right[p]!)
            const pair = pairs[p]!
            if (y.right[p] === pair[2]) pair[0] = mid
            else pair[1] = mid
          }
        }
      }
      const x = new Float64Array(labels.length * d)
      points.forEach((pt, i) => x.set(pt, i * d))
      return right({ x: { rows: labels.length, cols: d, data: x }, y: Int32Array.from(labels) })
    },
  }
}

/**
 * Sequential, disagreement-driven: in the first round it is `base`; later, it proposes `pool`×n
 * candidates from `base.generate` and labels the n where the current copy is least sure (smallest
 * gap between its two largest scores; random for a label-only copy) — where copy and original are
 * most likely to disagree. Use with `rounds` > 1 in {@link copyClassifier}.
 *
 * @example
 * // fragment: a label-only black box and unlabelled inputs like the ones it sees
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { adaptive, copyClassifier, jitter, softmaxCopy } from '@sonde/copying'
 *
 * declare const oracle: Oracle
 * declare const reference: Matrix
 * const r = await toPromise(copyClassifier(oracle, { sampler: adaptive(jitter()), rounds: 4, budget: 4000, copy: softmaxCopy(), reference, seed: 1 }))
 */
export const adaptive = (base: Sampler, o: { readonly pool?: number } = {}): Sampler => {
  const given = o ?? {}
  const own = (): OptionIssue[] => [...baseIssues(base, 'options.sampler.base'), ...intAtLeast(given.pool, 1, 'options.sampler.pool')]
  return {
    ...(typeof base?.generate === 'function' ? { generate: base.generate } : {}),
    name: `adaptive(${String(base?.name)})`,
    check: (setup) => {
      const issues = own()
      return issues.length > 0 ? issues : checkBase(base, setup)
    },
    draw: (n, ctx) => {
      const issues = own()
      if (issues.length > 0) return TE.fromEither(invalid(issues))
      const copy = ctx.copy
      const generate = base.generate
      if (copy === undefined || typeof generate !== 'function') return drawBase(base, n, ctx)
      const m = n * (given.pool ?? 5)
      return F.pipe(
        TE.fromEither(E.tryCatch(() => generate(m, ctx), (cause) => errors.pluginFailed(`sampler '${String(base.name)}'`, `generate threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))),
        TE.chainEitherK((g) => g),
        TE.chainEitherK((x) => checkGenerated(String(base.name), m, ctx.info.inputDim, x)),
        TE.chain((candidates) =>
          F.pipe(
            guarded<Prediction>(`the copy's predict`, () => copy.predict(candidates)),
            TE.map((p) => {
              const s = p.scores
              const gap = Float64Array.from({ length: candidates.rows }, (_, i) => {
                if (s === undefined) return ctx.rng.next()
                let first = -Infinity
                let second = -Infinity
                for (let c = 0; c < s.cols; c++) {
                  const v = s.data[i * s.cols + c]!
                  if (v > first) [first, second] = [v, first]
                  else if (v > second) second = v
                }
                // NaN gaps (a copy's NaN scores) sort last instead of poisoning the order.
                const g = first - second
                return Number.isNaN(g) ? Infinity : g
              })
              const order = Array.from({ length: candidates.rows }, (_, i) => i).sort((a, b) => gap[a]! - gap[b]! || a - b)
              const pick = order.slice(0, n)
              const d = candidates.cols
              const data = new Float64Array(n * d)
              pick.forEach((r, i) => data.set(row(candidates, r), i * d))
              return { rows: n, cols: d, data } as Matrix
            }),
          ),
        ),
        TE.chain((x) => F.pipe(ctx.label(x), TE.map((y) => ({ x, y })))),
      )
    },
  }
}

export { concat as concatLabelled }
