import { taskEither as TE, function as F } from 'fp-ts'
import { clipToDomain, errors, featureBounds, row, type Matrix, type Oracle, type OracleInfo, type ProbeError, type Rng } from '@sonde/oracle'

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
  /** The original's labels for `x` (counted). */
  readonly label: (x: Matrix) => TE.TaskEither<ProbeError, Int32Array>
  /** Everything labelled so far, in earlier rounds. */
  readonly labelled: Labelled
  /** The copy trained on `labelled`, from the second round on. */
  readonly copy?: Oracle
}

/**
 * A synthetic-sample generator: a plain value. `draw(n, ctx)` returns exactly `n` labelled points
 * and spends exactly `n` label queries; `generate`, when present, proposes unlabelled candidates
 * (used by samplers that choose among candidates, such as {@link adaptive}).
 */
export interface Sampler {
  readonly name: string
  readonly draw: (n: number, ctx: SamplerContext) => TE.TaskEither<ProbeError, Labelled>
  readonly generate?: (n: number, ctx: SamplerContext) => E<Matrix>
}

type E<A> = import('fp-ts').either.Either<ProbeError, A>

const right = <A>(a: A): E<A> => ({ _tag: 'Right', right: a })
const left = (e: ProbeError): E<never> => ({ _tag: 'Left', left: e })

/** A sampler from a point generator: generate n points, label them in one query. */
export const fromGenerator = (name: string, generate: (n: number, ctx: SamplerContext) => E<Matrix>): Sampler => ({
  name,
  generate,
  draw: (n, ctx) =>
    F.pipe(
      TE.fromEither(generate(n, ctx)),
      TE.chain((x) => F.pipe(ctx.label(x), TE.map((y) => ({ x, y })))),
    ),
})

/**
 * Uniform in a box: `lower`/`upper` if given, else the oracle's domain. Cheap and data-free — and
 * often useless for high-dimensional inputs, where the original may put almost every such point
 * in one class (the copy's diagnostics say so).
 *
 * @example
 * const s = uniformBox() // within info.domain
 */
export const uniformBox = (o: { readonly lower?: number; readonly upper?: number } = {}): Sampler =>
  fromGenerator('uniformBox', (n, ctx) => {
    const d = ctx.info.inputDim
    const data = new Float64Array(n * d)
    for (let k = 0; k < data.length; k++) {
      const [dlo, dhi] = featureBounds(ctx.info, k % d)
      const lo = o.lower ?? dlo
      const hi = o.upper ?? dhi
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
        return left(errors.invalidOptions([{ path: 'sampler', message: 'uniformBox needs finite bounds: pass lower/upper or use an oracle with a finite domain' }]))
      }
      data[k] = lo + (hi - lo) * ctx.rng.next()
    }
    return right({ rows: n, cols: d, data })
  })

/**
 * Independent Gaussian per feature: from given `mean`/`std`, or fitted to the reference data.
 * Clipped to the oracle's domain.
 *
 * @example
 * const s = gaussian() // statistics of options.reference
 */
export const gaussian = (o: { readonly mean?: Float64Array; readonly std?: Float64Array } = {}): Sampler =>
  fromGenerator('gaussian', (n, ctx) => {
    const d = ctx.info.inputDim
    let mean = o.mean
    let std = o.std
    if (mean === undefined || std === undefined) {
      const ref = ctx.reference
      if (ref === undefined) return left(errors.invalidOptions([{ path: 'sampler', message: 'gaussian needs mean and std, or reference data' }]))
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
  })

/**
 * Around known points: a random reference point plus N(0, σ²) noise per feature, clipped to the
 * domain. The sampler that follows the data most closely.
 *
 * @example
 * const s = jitter({ sigma: 0.1 })
 */
export const jitter = (o: { readonly sigma?: number; readonly around?: Matrix } = {}): Sampler =>
  fromGenerator('jitter', (n, ctx) => {
    const ref = o.around ?? ctx.reference
    if (ref === undefined || ref.rows === 0) return left(errors.invalidOptions([{ path: 'sampler', message: 'jitter needs reference points (options.reference)' }]))
    const sigma = o.sigma ?? 0.1
    const d = ctx.info.inputDim
    const data = new Float64Array(n * d)
    for (let i = 0; i < n; i++) {
      const base = row(ref, ctx.rng.int(ref.rows))
      for (let j = 0; j < d; j++) data[i * d + j] = base[j]! + sigma * ctx.rng.normal()
    }
    return right(clipToDomain(ctx.info, { rows: n, cols: d, data }))
  })

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
  for (const s of sets) for (let i = 0; i < s.y.length; i++) out[s.y[i]!]!.push(row(s.x, i))
  return out
}

/**
 * Adaptive rebalancing: spend half the budget on `base`, then the rest in small steps, each around
 * known points of the classes with the fewest samples so far (jitter with `sigma`), so that no
 * class is starved. While some class has not been seen, reference points (if any) are explored
 * too; a class never found is reported by the diagnostics.
 *
 * @example
 * const s = balanced(gaussian(), { sigma: 0.1 })
 */
export const balanced = (base: Sampler, o: { readonly sigma?: number; readonly steps?: number } = {}): Sampler => ({
  name: `balanced(${base.name})`,
  draw: (n, ctx) => async () => {
    const k = Math.max(ctx.info.numClasses, 2)
    const first = Math.ceil(n / 2)
    const start = await base.draw(first, ctx)()
    if (start._tag === 'Left') return start
    let acc = start.right
    const steps = o.steps ?? 4
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
        for (let j = 0; j < d; j++) data[i * d + j] = basePoint[j]! + (o.sigma ?? 0.1) * ctx.rng.normal()
      }
      const x = clipToDomain(ctx.info, { rows: take, cols: d, data })
      const y = await ctx.label(x)()
      if (y._tag === 'Left') return y
      acc = concat(acc, { x, y: y.right })
      remaining -= take
    }
    return { _tag: 'Right', right: acc }
  },
})

/**
 * Boundary-seeking: label `base` points, then bisect between differently labelled pairs, many
 * pairs at once (one query per bisection level); every midpoint is labelled and kept, so all `n`
 * queries land on or near the original's boundaries.
 *
 * @example
 * const s = boundary(jitter(), { steps: 6 })
 */
export const boundary = (base: Sampler, o: { readonly steps?: number; readonly pairsPerBatch?: number } = {}): Sampler => ({
  name: `boundary(${base.name})`,
  draw: (n, ctx) => async () => {
    const steps = o.steps ?? 6
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
    const start = await base.draw(Math.min(n, seeds), ctx)()
    if (start._tag === 'Left') return start
    add(start.right)
    // Pairs are drawn from everything labelled so far, earlier rounds included.
    const poolX: Float64Array[] = [...Array.from({ length: ctx.labelled.y.length }, (_, i) => Float64Array.from(row(ctx.labelled.x, i))), ...points]
    const poolY: number[] = [...ctx.labelled.y, ...labels]
    while (labels.length < n) {
      const remaining = n - labels.length
      const want = Math.min(o.pairsPerBatch ?? 256, Math.ceil(remaining / steps))
      const pairs: Array<[Float64Array, Float64Array, number]> = []
      for (let tries = 0; tries < 50 * want && pairs.length < want; tries++) {
        const i = ctx.rng.int(poolY.length)
        const j = ctx.rng.int(poolY.length)
        if (poolY[i] !== poolY[j]) pairs.push([poolX[i]!.slice(), poolX[j]!.slice(), poolY[i]!])
      }
      if (pairs.length === 0) {
        // One class only so far: more base points.
        const more = await base.draw(Math.min(seeds, remaining), ctx)()
        if (more._tag === 'Left') return more
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
        if (y._tag === 'Left') return y
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
    return { _tag: 'Right', right: { x: { rows: labels.length, cols: d, data: x }, y: Int32Array.from(labels) } }
  },
})

/**
 * Sequential, disagreement-driven: in the first round it is `base`; later, it proposes `pool`×n
 * candidates from `base.generate` and labels the n where the current copy is least sure (smallest
 * gap between its two largest scores; random for a label-only copy) — where copy and original are
 * most likely to disagree. Use with `rounds` > 1 in {@link copyClassifier}.
 *
 * @example
 * copyClassifier(oracle, { sampler: adaptive(jitter()), rounds: 4, ... })
 */
export const adaptive = (base: Sampler, o: { readonly pool?: number } = {}): Sampler => ({
  ...(base.generate !== undefined ? { generate: base.generate } : {}),
  name: `adaptive(${base.name})`,
  draw: (n, ctx) => {
    const copy = ctx.copy
    if (copy === undefined || base.generate === undefined) return base.draw(n, ctx)
    const generate = base.generate
    return F.pipe(
      TE.fromEither(generate(n * (o.pool ?? 5), ctx)),
      TE.chain((candidates) =>
        F.pipe(
          copy.predict(candidates) as TE.TaskEither<ProbeError, import('@sonde/oracle').Prediction>,
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
              return first - second
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
})

export { concat as concatLabelled }
