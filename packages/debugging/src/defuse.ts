import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { clipToDomain, createRng, errorFromThrown, errors, SondeError, permutation, takeRows, validatePrediction, type Matrix, type Oracle, type ProbeError } from '@sonde/oracle'
import { callForeignMatrix } from './foreign.js'
import { imageGrid } from '@sonde/datasets'
import { fitDirichletProcessGmm, sampleComponent, type DpGmm, type DpGmmOptions, type GmmComponent } from './gmm.js'
import type { Generator } from './vae.js'

/** Options of {@link findMisclassifications}. */
export interface IdentificationOptions {
  /** Latent perturbations tried per source point (Q). Default 20. */
  readonly perturbations?: number
  /** Most misclassified codes kept per source (N), smallest perturbation first. Default 5. */
  readonly keepPerSource?: number
  /**
   * Largest perturbation, in latent units: perturbation q of Q is Gaussian with standard deviation
   * `scale · q / Q` per coordinate, a ladder from small to large. Default 1.
   */
  readonly scale?: number
  /** Rows per oracle call. Default 500. */
  readonly batchSize?: number
  readonly seed: number
}

/** What the identification stage found. */
export interface Identification {
  /** The kept latent codes (one row per kept misclassification). */
  readonly codes: Matrix
  /** Their decoded inputs (decoded again from `codes`: what was sent to the oracle, up to float rounding). */
  readonly inputs: Matrix
  /** Source row of each kept code. */
  readonly sources: Int32Array
  /** The source's label (what the decoded input should be). */
  readonly sourceLabels: Int32Array
  /** What the oracle said instead. */
  readonly predicted: Int32Array
  /** ‖δ‖ of each kept code's perturbation. */
  readonly perturbationNorms: Float64Array
  /** Label queries spent (rows). */
  readonly queries: number
  /** Misclassified decoded inputs found, kept or not. */
  readonly found: number
  /** found / queries. */
  readonly yieldPerQuery: number
  /** Set when the oracle refused (e.g. the budget ran out) or the generator failed mid-way: everything answered before is kept. */
  readonly stoppedEarly?: ProbeError
}

const invalid = (path: string, message: string): ProbeError => errors.invalidOptions([{ path, message }])

const sliceRows = (m: Matrix, from: number, to: number): Matrix => ({ rows: to - from, cols: m.cols, data: m.data.subarray(from * m.cols, to * m.cols) })

/**
 * Defuse's identification stage: encode each source point, perturb its latent code Q times
 * (a ladder of radii), decode, and ask the oracle for labels only. Decoded inputs the oracle
 * labels differently from the source's label are misclassification candidates; at most N per
 * source are kept, smallest perturbation first. Reports the queries spent and the yield per query;
 * if the oracle stops answering (budget), what was answered is kept and the error reported.
 *
 * @example
 * const found = await toPromise(findMisclassifications(oracle, vae, digits.x, digits.y, { seed: 1 }))
 */
export const findMisclassifications = (
  oracle: Oracle,
  generator: Generator,
  data: Matrix,
  labels: Int32Array,
  options: IdentificationOptions,
): TE.TaskEither<ProbeError, Identification> => {
  const Q = options.perturbations ?? 20
  const N = options.keepPerSource ?? 5
  const scale = options.scale ?? 1
  const batch = options.batchSize ?? 500
  if (!(Number.isInteger(Q) && Q >= 1)) return TE.left(invalid('options.perturbations', `is ${Q}; expected an integer ≥ 1`))
  if (!(Number.isInteger(N) && N >= 1)) return TE.left(invalid('options.keepPerSource', `is ${N}; expected an integer ≥ 1`))
  if (!(scale > 0 && Number.isFinite(scale))) return TE.left(invalid('options.scale', `is ${scale}; expected a positive number`))
  if (!(Number.isInteger(batch) && batch >= 1)) return TE.left(invalid('options.batchSize', `is ${batch}; expected an integer ≥ 1`))
  if (!Number.isSafeInteger(options.seed)) return TE.left(invalid('options.seed', `is ${typeof options.seed === 'string' ? JSON.stringify(options.seed) : String(options.seed)}; expected a safe integer`))
  if (data.cols !== oracle.info.inputDim) return TE.left(errors.shapeMismatch('data', `${oracle.info.inputDim} columns`, `${data.cols} columns`))
  if (labels.length !== data.rows) return TE.left(errors.shapeMismatch('labels', `${data.rows} labels`, `${labels.length}`))
  for (let i = 0; i < labels.length; i++) {
    if (!(Number.isInteger(labels[i]) && labels[i]! >= 0 && labels[i]! < oracle.info.numClasses)) {
      return TE.left(errors.invalidInput(`labels[${i}] is ${labels[i]}; expected a class in 0..${oracle.info.numClasses - 1}`, `labels[${i}]`))
    }
  }
  return async () => {
    const rng = createRng(options.seed)
    const encoded = callForeignMatrix('the generator’s encode', () => generator.encode(data), data.rows)
    if (E.isLeft(encoded)) return encoded
    const z = encoded.right
    const k = z.cols
    const n = data.rows
    const total = n * Q
    // Row r = source ⌊r/Q⌋, rung r mod Q.
    const codes = new Float64Array(total * k)
    const norms = new Float64Array(total)
    for (let r = 0; r < total; r++) {
      const i = Math.floor(r / Q)
      const sd = (scale * ((r % Q) + 1)) / Q
      let s = 0
      for (let j = 0; j < k; j++) {
        const dlt = sd * rng.normal()
        codes[r * k + j] = z.data[i * k + j]! + dlt
        s += dlt * dlt
      }
      norms[r] = Math.sqrt(s)
    }
    const predicted = new Int32Array(total).fill(-1)
    let answered = 0
    let stoppedEarly: ProbeError | undefined
    for (let from = 0; from < total; from += batch) {
      const to = Math.min(total, from + batch)
      // A generator that fails before the first query fails the call (nothing was paid); one that fails
      // later ends the search like an oracle failure, keeping every answered row.
      const decodedRows = callForeignMatrix('the generator’s decode', () => generator.decode(sliceRows({ rows: total, cols: k, data: codes }, from, to)), to - from, data.cols)
      if (E.isLeft(decodedRows)) {
        if (from === 0) return decodedRows
        stoppedEarly = decodedRows.left
        break
      }
      const decoded = clipToDomain(oracle.info, decodedRows.right)
      const r = F.pipe(await oracle.predict(decoded)(), E.chain((p) => validatePrediction(oracle.info, to - from, p)))
      if (E.isLeft(r)) {
        stoppedEarly = r.left
        break
      }
      predicted.set(r.right.labels, from)
      answered = to
    }
    let found = 0
    const keep: number[] = []
    for (let i = 0; i < n; i++) {
      const wrong: number[] = []
      for (let q = 0; q < Q; q++) {
        const r = i * Q + q
        if (r < answered && predicted[r] !== labels[i]) wrong.push(r)
      }
      found += wrong.length
      wrong.sort((a, b) => norms[a]! - norms[b]! || a - b)
      keep.push(...wrong.slice(0, N))
    }
    const kept = takeRows({ rows: total, cols: k, data: codes }, keep)
    // Decoding is deterministic: decode the kept codes again rather than hold every decoded query.
    const inputs = keep.length === 0 ? E.right<ProbeError, Matrix>({ rows: 0, cols: data.cols, data: new Float64Array(0) }) : callForeignMatrix('the generator’s decode', () => generator.decode(kept), keep.length, data.cols)
    if (E.isLeft(inputs)) return inputs
    const out: Identification = {
      codes: kept,
      inputs: clipToDomain(oracle.info, inputs.right),
      sources: Int32Array.from(keep, (r) => Math.floor(r / Q)),
      sourceLabels: Int32Array.from(keep, (r) => labels[Math.floor(r / Q)]!),
      predicted: Int32Array.from(keep, (r) => predicted[r]!),
      perturbationNorms: Float64Array.from(keep, (r) => norms[r]!),
      queries: answered,
      found,
      yieldPerQuery: answered === 0 ? 0 : found / answered,
      ...(stoppedEarly !== undefined ? { stoppedEarly } : {}),
    }
    return E.right(out)
  }
}

/** A misclassification region: one component of the mixture over misclassified codes. */
export interface Region {
  /** Index of the mixture component. */
  readonly id: number
  readonly weight: number
  readonly mean: Float64Array
  readonly covariance: Float64Array
  /** Rows of the clustered codes assigned to this region. */
  readonly members: Int32Array
  /** Fresh latent codes from the region (seeded). */
  readonly sample: (count: number, seed: number) => Matrix
}

/** Options of {@link findMisclassificationRegions}. */
export interface RegionOptions extends Partial<Omit<DpGmmOptions, 'seed'>> {
  /** Components with weight above this are regions. Default 0.01. */
  readonly weightThreshold?: number
  readonly seed: number
}

/** The regions and the mixture behind them. */
export interface Regions {
  readonly regions: readonly Region[]
  readonly mixture: DpGmm
}

/**
 * Defuse's distillation stage: fit a Dirichlet-process Gaussian mixture (upper bound K,
 * default 100; full covariance, float64 — {@link fitDirichletProcessGmm}) to the misclassified
 * latent codes; the components above `weightThreshold` are the misclassification regions,
 * largest first. Each can be sampled (`region.sample`) and decoded for inspection ({@link regionSamples}).
 *
 * @example
 * const { regions } = unwrap(findMisclassificationRegions(found.codes, { seed: 1 }))
 */
export const findMisclassificationRegions = (codes: Matrix, options: RegionOptions): E.Either<ProbeError, Regions> => {
  const threshold = options.weightThreshold ?? 0.01
  if (!(threshold >= 0 && threshold < 1)) return E.left(invalid('options.weightThreshold', `is ${threshold}; expected a number in [0, 1)`))
  const { weightThreshold: _w, ...gmmOptions } = options
  return F.pipe(
    fitDirichletProcessGmm(codes, { maxComponents: 100, ...gmmOptions }),
    E.map((mixture) => {
      const assigned = mixture.assign(codes)
      const regions = mixture.components
        .map((c, id) => ({ c, id }))
        .filter(({ c }) => c.weight > threshold)
        .sort((a, b) => b.c.weight - a.c.weight)
        .map(({ c, id }): Region => ({
          id,
          weight: c.weight,
          mean: c.mean,
          covariance: c.covariance,
          members: Int32Array.from(Array.from(assigned.keys()).filter((i) => assigned[i] === id)),
          sample: (count, seed) => sampleComponent(c as GmmComponent, count, createRng(seed)),
        }))
      return { regions, mixture }
    }),
  )
}

/**
 * Decoded samples of a region, for a person (or a test) to inspect: `count` fresh codes decoded
 * by the generator, clipped to `domain` when given.
 *
 * @example
 * const images = regionSamples(regions[0]!, vae, 16, 1, { lower: 0, upper: 1 })
 */
export const regionSamples = (region: Region, generator: Generator, count: number, seed: number, domain?: Oracle['info']['domain']): Matrix => {
  const images = generator.decode(region.sample(count, seed))
  return domain === undefined ? images : clipToDomain({ id: 'region', inputDim: images.cols, numClasses: 1, output: 'label', domain }, images)
}

/** A region with the label a person gave it. */
export interface LabelledRegion {
  readonly region: Region
  /** The correct class of the region's inputs. */
  readonly label: number
  /** The samples the labeller saw. */
  readonly samples: Matrix
}

/**
 * A labeller: shown a region's decoded samples, answers the class they truly are, or `undefined`
 * to skip the region (not a bug, or not recognisable). A person in a UI, or ground truth in tests.
 */
export type RegionLabeller = (samples: Matrix, region: Region) => number | undefined | Promise<number | undefined>

/**
 * A labeller from a reference classifier you trust (ground truth in an evaluation, a larger
 * model, an ensemble): the majority label of its predictions on the region's samples, or
 * `undefined` (skip the region) when fewer than `agreement` of them agree.
 *
 * @example
 * const labeller = majorityLabeller((images) => labelsOf(referenceModel, images), { agreement: 0.8 })
 */
export const majorityLabeller =
  (label: (samples: Matrix) => Int32Array | Promise<Int32Array>, options: { readonly agreement?: number } = {}): RegionLabeller =>
  async (samples) => {
    const labels = await label(samples)
    const votes = new Map<number, number>()
    for (const l of labels) votes.set(l, (votes.get(l) ?? 0) + 1)
    let best = -1
    let count = 0
    for (const [l, c] of votes) {
      if (c > count || (c === count && l < best)) {
        best = l
        count = c
      }
    }
    return labels.length > 0 && count >= (options.agreement ?? 0.8) * labels.length ? best : undefined
  }

/**
 * Ask the labeller once per region (from `samples` decoded samples, default 16).
 *
 * @example
 * const labelled = await toPromise(labelRegions(regions, vae, (images) => askAPerson(images), { seed: 1 }))
 */
export const labelRegions = (
  regions: readonly Region[],
  generator: Generator,
  labeller: RegionLabeller,
  options: { readonly samples?: number; readonly seed: number; readonly domain?: Oracle['info']['domain'] },
): TE.TaskEither<ProbeError, LabelledRegion[]> =>
  TE.tryCatch(
    async () => {
      const out: LabelledRegion[] = []
      for (const [i, region] of regions.entries()) {
        const samples = regionSamples(region, generator, options.samples ?? 16, options.seed + i, options.domain)
        const label = await labeller(samples, region)
        if (label === undefined) continue
        if (!Number.isInteger(label) || label < 0) throw new SondeError(errors.pluginFailed('the labeller', `answered ${label} for region ${region.id}; expected a class index or undefined`))
        out.push({ region, label, samples })
      }
      return out
    },
    (cause): ProbeError =>
      errorFromThrown(cause, (m) => errors.pluginFailed('the labeller', `threw: ${m}`, cause)),
  )

/** Options of {@link correctModel}. */
export interface CorrectionOptions {
  /** Weight λ of the region term in CE(train) + λ·CE(region samples). Default 1. */
  readonly lambda?: number
  /** Decoded samples drawn per labelled region. Default 500. */
  readonly samplesPerRegion?: number
  /** Passes over the training data. Default 3. */
  readonly epochs?: number
  /** Adam step. Default 5e-4. */
  readonly learningRate?: number
  /** Training rows per step (and as many region rows). Default 64. */
  readonly batchSize?: number
  readonly seed: number
  /** Clip decoded samples to this domain (e.g. pixels in [0, 1]). */
  readonly domain?: Oracle['info']['domain']
}

/** What {@link correctModel} did. */
export interface CorrectionReport {
  /** Mean combined loss per epoch. */
  readonly losses: readonly number[]
  readonly regionSamples: number
  readonly steps: number
}

/**
 * Defuse's correction stage: fine-tune a trainable tfjs classifier (logits out) in place on
 * CE(training batch) + λ·CE(batch of decoded region samples with their labels). Seeded batch order.
 *
 * @example
 * await toPromise(correctModel(model, train, labelled, vae, { seed: 1 }))
 */
export const correctModel = (
  model: tf.LayersModel,
  train: { readonly x: Matrix; readonly y: Int32Array },
  labelled: readonly LabelledRegion[],
  generator: Generator,
  options: CorrectionOptions,
): TE.TaskEither<ProbeError, CorrectionReport> => {
  const lambda = options.lambda ?? 1
  const per = options.samplesPerRegion ?? 500
  const epochs = options.epochs ?? 3
  const lr = options.learningRate ?? 5e-4
  const bs = options.batchSize ?? 64
  const outShape = model.outputs[0]?.shape ?? []
  const classes = outShape[outShape.length - 1] ?? 0
  if (!(lambda >= 0 && Number.isFinite(lambda))) return TE.left(invalid('options.lambda', `is ${lambda}; expected a finite number ≥ 0`))
  // Once unchecked: a NaN learning rate turned the user's weights into NaN, in place.
  if (!(lr > 0 && Number.isFinite(lr))) return TE.left(invalid('options.learningRate', `is ${lr}; expected a positive finite number`))
  if (!Number.isSafeInteger(options.seed)) return TE.left(invalid('options.seed', `is ${String(options.seed)}; expected a safe integer`))
  if (!(Number.isInteger(per) && per >= 1)) return TE.left(invalid('options.samplesPerRegion', `is ${per}; expected an integer ≥ 1`))
  if (!(Number.isInteger(epochs) && epochs >= 1)) return TE.left(invalid('options.epochs', `is ${epochs}; expected an integer ≥ 1`))
  if (!(Number.isInteger(bs) && bs >= 1)) return TE.left(invalid('options.batchSize', `is ${bs}; expected an integer ≥ 1`))
  if (labelled.length === 0) return TE.left(errors.invalidInput('no labelled regions to correct with', 'labelled'))
  if (train.y.length !== train.x.rows) return TE.left(errors.shapeMismatch('train.y', `${train.x.rows} labels`, `${train.y.length}`))
  for (const [i, l] of labelled.entries()) if (!(l.label < classes)) return TE.left(errors.invalidInput(`labelled[${i}].label is ${l.label}; the model has ${classes} classes`, `labelled[${i}].label`))
  return TE.tryCatch(
    async () => {
      const rng = createRng(options.seed)
      const parts = labelled.map((l, i) => regionSamples(l.region, generator, per, options.seed * 1000 + i, options.domain))
      const rx = new Float64Array(parts.reduce((a, p) => a + p.data.length, 0))
      let o = 0
      for (const p of parts) {
        rx.set(p.data, o)
        o += p.data.length
      }
      const ry = Int32Array.from(labelled.flatMap((l) => Array.from({ length: per }, () => l.label)))
      const d = train.x.cols
      const xs = tf.tensor2d(Float32Array.from(train.x.data), [train.x.rows, d])
      const ys = tf.tensor1d(train.y, 'int32')
      const rxs = tf.tensor2d(Float32Array.from(rx), [ry.length, d])
      const rys = tf.tensor1d(ry, 'int32')
      const optimizer = tf.train.adam(lr)
      const losses: number[] = []
      let steps = 0
      const start = model.getWeights().map((w) => w.clone())
      try {
        for (let e = 0; e < epochs; e++) {
          const order = permutation(train.x.rows, rng)
          let total = 0
          let count = 0
          for (let s = 0; s < train.x.rows; s += bs) {
            const ti = tf.tensor1d(order.subarray(s, Math.min(train.x.rows, s + bs)), 'int32')
            const ri = tf.tensor1d(Int32Array.from({ length: bs }, () => rng.int(ry.length)), 'int32')
            const l = tf.tidy(() =>
              optimizer.minimize(() => {
                const ce = (x: tf.Tensor, y: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, classes), model.apply(x, { training: true }) as tf.Tensor)
                return ce(tf.gather(xs, ti), tf.gather(ys, ti)).add(ce(tf.gather(rxs, ri), tf.gather(rys, ri)).mul(lambda)) as tf.Scalar
              }, true)!,
            )
            total += l.dataSync()[0]!
            count++
            steps++
            l.dispose()
            ti.dispose()
            ri.dispose()
          }
          if (!Number.isFinite(total / count)) {
            model.setWeights(start)
            throw new SondeError(errors.trainingFailed(`correction diverged: the mean loss of epoch ${e + 1} is ${total / count}; the model keeps its weights from before (lower options.learningRate)`))
          }
          losses.push(total / count)
        }
      } finally {
        for (const t of [xs, ys, rxs, rys, ...start]) t.dispose()
        optimizer.dispose()
      }
      return { losses, regionSamples: ry.length, steps }
    },
    (cause): ProbeError => errorFromThrown(cause, (m) => errors.trainingFailed(`correction failed: ${m}`, cause)),
  )
}

/** Options of {@link defuse}. */
export interface DefuseOptions extends IdentificationOptions {
  /** Options of the distillation stage (mixture, weight threshold). */
  readonly regions?: Omit<RegionOptions, 'seed'>
  /** Decoded samples per region, queried for its purity and tiled into its grid. Default 32. */
  readonly samplesPerRegion?: number
  /** `[height, width]` of grey images: each region gets a sample grid (PNG-ready pixels). */
  readonly imageShape?: readonly [number, number]
}

/** One region as {@link defuse} reports it. */
export interface RegionReport {
  readonly region: Region
  /** The most common source label among the region's members: what its inputs should be. */
  readonly sourceLabel: number
  /** The most common oracle label on the region's fresh samples. */
  readonly predictedLabel: number
  /** Fresh decoded samples of the region. */
  readonly samples: Matrix
  /** The oracle's labels of `samples`. */
  readonly oracleLabels: Int32Array
  /**
   * Fraction of the fresh samples the oracle labels differently from `sourceLabel`: how
   * consistently the region is misclassified (taking the source label as the truth; a person
   * or a judge model confirms it in {@link labelRegions}).
   */
  readonly purity: number
  /** The samples tiled into one image (when `imageShape` was given), ready for `encodeGrayPng`. */
  readonly grid?: { readonly pixels: Float64Array; readonly width: number; readonly height: number }
}

/** The result of {@link defuse}. */
export interface DefuseResult {
  readonly identification: Identification
  readonly regions: readonly RegionReport[]
  /** Label queries spent in all: identification plus the regions' samples. */
  readonly queries: number
  readonly seed: number
}

const mode = (values: ArrayLike<number>): number => {
  const counts = new Map<number, number>()
  let best = -1
  let bestCount = 0
  for (let i = 0; i < values.length; i++) {
    const c = (counts.get(values[i]!) ?? 0) + 1
    counts.set(values[i]!, c)
    if (c > bestCount || (c === bestCount && values[i]! < best)) {
      best = values[i]!
      bestCount = c
    }
  }
  return best
}

/**
 * Defuse end to end (Slack et al. 2021): identification ({@link findMisclassifications}, labels-only
 * queries), distillation ({@link findMisclassificationRegions}), and a report per region — its
 * purity on fresh samples (queried and counted), the labels involved, and a sample grid.
 * Correction needs a person: pass the regions to {@link labelRegions}, then {@link correctModel}.
 *
 * @example
 * const result = await toPromise(defuse(blackBox, vae, { x: digits, y: labels }, { seed: 1, imageShape: [28, 28] }))
 * for (const r of result.regions) console.log(r.sourceLabel, '→', r.predictedLabel, r.purity)
 */
export const defuse = (
  oracle: Oracle,
  generator: Generator,
  data: { readonly x: Matrix; readonly y: Int32Array },
  options: DefuseOptions,
): TE.TaskEither<ProbeError, DefuseResult> => {
  const per = options.samplesPerRegion ?? 32
  if (!(Number.isInteger(per) && per >= 1)) return TE.left(invalid('options.samplesPerRegion', `is ${per}; expected an integer ≥ 1`))
  if (options.imageShape !== undefined && options.imageShape[0] * options.imageShape[1] !== data.x.cols) {
    return TE.left(invalid('options.imageShape', `is ${JSON.stringify(options.imageShape)}; its area must be ${data.x.cols}`))
  }
  return F.pipe(
    findMisclassifications(oracle, generator, data.x, data.y, options),
    TE.chain((identification) => {
      if (identification.codes.rows < 2) {
        return TE.right<ProbeError, DefuseResult>({ identification, regions: [], queries: identification.queries, seed: options.seed })
      }
      return F.pipe(
        TE.fromEither(findMisclassificationRegions(identification.codes, { ...options.regions, seed: options.seed })),
        TE.chain(({ regions }) => async () => {
          const reports: RegionReport[] = []
          let queries = identification.queries
          for (const [i, region] of regions.entries()) {
            const samples = regionSamples(region, generator, per, options.seed + 7919 * (i + 1), oracle.info.domain)
            const r = await oracle.predict(samples)()
            if (E.isLeft(r)) return E.left<ProbeError, DefuseResult>(r.left)
            queries += samples.rows
            const sourceLabel = mode(Int32Array.from(region.members, (m) => identification.sourceLabels[m]!))
            let wrong = 0
            for (const l of r.right.labels) if (l !== sourceLabel) wrong++
            reports.push({
              region,
              sourceLabel,
              predictedLabel: mode(r.right.labels),
              samples,
              oracleLabels: r.right.labels,
              purity: wrong / samples.rows,
              ...(options.imageShape !== undefined ? { grid: imageGrid(samples, { height: options.imageShape[0], width: options.imageShape[1], columns: 8 }) } : {}),
            })
          }
          return E.right({ identification, regions: reports, queries, seed: options.seed })
        }),
      )
    }),
  )
}
