import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import {
  clipToDomain,
  createRng,
  errorFromThrown,
  errors,
  noQueries,
  permutation,
  SondeError,
  stage,
  takeRows,
  trackQueries,
  validatePrediction,
  type Domain,
  type Matrix,
  type Oracle,
  type ProbeError,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { imageGrid } from '@sonde/datasets'
import { domainProblem, generatorProblem, intIn, invalidOptionsOf, labelsProblem, matrixProblem, numberWhere, optionsOf, oracleProblem, seedIn, show, type Issue } from './checks.js'
import { callForeignMatrix } from './foreign.js'
import { dpGmmOptionIssues, fitDirichletProcessGmm, sampleComponent, type DpGmm, type DpGmmOptions, type GmmComponent } from './gmm.js'
import type { Generator } from './vae.js'

/** Options of {@link findMisclassifications}. */
export interface IdentificationOptions extends RunControl {
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
  /**
   * Most label queries (rows) to spend. Default: all n·Q. Rows go source by source (each source's whole
   * ladder, then the next), so a smaller budget covers the first ⌊budget / Q⌋ sources — order or subsample
   * the sources accordingly.
   */
  readonly budget?: number
  /** The seed of the perturbations (required: a safe integer). */
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
  /** The label queries spent (was a number of rows: now `queries.predictRows`). */
  readonly queries: QueryUsage
  /** Misclassified decoded inputs found among the answered rows, kept or not (a row never answered is never counted). */
  readonly found: number
  /** found / queries.predictRows (0 when nothing was answered). */
  readonly yieldPerQuery: number
  readonly seed: number
  /** Set when the oracle refused (e.g. the budget ran out) or the generator failed mid-way: everything answered before is kept. */
  readonly stoppedEarly?: ProbeError
}

const sliceRows = (m: Matrix, from: number, to: number): Matrix => ({ rows: to - from, cols: m.cols, data: m.data.subarray(from * m.cols, to * m.cols) })

const controlIssues = (issues: Issue[], o: Partial<RunControl>): void => {
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && typeof o.signal.aborted === 'boolean')) issues.push({ path: 'options.signal', message: 'expected an AbortSignal' })
  if (o.progress !== undefined && typeof o.progress !== 'function') issues.push({ path: 'options.progress', message: 'expected a function' })
}

/** Every problem with identification options; the values to use. */
const identificationSettings = (o: Partial<IdentificationOptions>, issues: Issue[]) => {
  const settings = {
    Q: intIn(issues, 'options.perturbations', o.perturbations, 20, 1),
    N: intIn(issues, 'options.keepPerSource', o.keepPerSource, 5, 1),
    scale: numberWhere(issues, 'options.scale', o.scale, 1, (v) => v > 0, 'a positive finite number'),
    batch: intIn(issues, 'options.batchSize', o.batchSize, 500, 1),
    budget: o.budget === undefined ? Number.POSITIVE_INFINITY : intIn(issues, 'options.budget', o.budget, 1, 1),
    seed: seedIn(issues, 'options.seed', o.seed),
  }
  if ('samples' in o || 'maxQueries' in o) issues.push({ path: 'options', message: 'the query cap is called budget' })
  controlIssues(issues, o)
  return settings
}

/** Ask for labels, with every failure — a throw, a rejection, a short or malformed answer — as a value. */
const askLabels = async (oracle: Oracle, x: Matrix): Promise<E.Either<ProbeError, Int32Array>> => {
  try {
    const r = await oracle.predict(x)()
    return F.pipe(
      r,
      E.chainW((p) => validatePrediction(oracle.info, x.rows, p)),
      E.map((p) => p.labels),
    )
  } catch (cause) {
    return E.left(errorFromThrown(cause, (m) => errors.pluginFailed(`the oracle '${oracle.info.id}'`, `threw: ${m}`, cause)))
  }
}

/**
 * Defuse's identification stage: encode each source point, perturb its latent code Q times
 * (a ladder of radii), decode, and ask the oracle for labels only. Decoded inputs the oracle
 * labels differently from the source's label are misclassification candidates; at most N per
 * source are kept, smallest perturbation first. Reports the queries spent and the yield per query;
 * if the oracle stops answering (budget), what was answered is kept and the error reported.
 *
 * Every option and input is checked before the first query. Progress (`'identification'`, in rows)
 * comes once per oracle call; an abort (`options.signal`) ends it with `Aborted` before the next call.
 *
 * @example
 * // fragment: a label-only oracle, a generator (e.g. trainVae) and labelled inputs
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { findMisclassifications, type Generator } from '@sonde/debugging'
 *
 * declare const oracle: Oracle
 * declare const vae: Generator
 * declare const digits: { x: Matrix; y: Int32Array }
 * const found = await toPromise(findMisclassifications(oracle, vae, digits.x, digits.y, { seed: 1, budget: 2000 }))
 * const spent = found.queries.predictRows // ≤ 2000
 */
export const findMisclassifications = (
  oracle: Oracle,
  generator: Generator,
  data: Matrix,
  labels: Int32Array,
  options: IdentificationOptions,
): TE.TaskEither<ProbeError, Identification> => {
  const problem = identificationProblem(oracle, generator, data, labels)
  if (problem !== undefined) return TE.left(problem)
  const issues: Issue[] = []
  const settings = identificationSettings(optionsOf(options), issues)
  const invalid = invalidOptionsOf(issues)
  if (invalid !== undefined) return TE.left(invalid)
  return () => identify(oracle, generator, data, labels, settings, options)
}

const identificationProblem = (oracle: Oracle, generator: Generator, data: Matrix, labels: Int32Array): ProbeError | undefined =>
  oracleProblem(oracle) ?? generatorProblem(generator) ?? matrixProblem(data, 'data', { minRows: 1, cols: oracle.info.inputDim }) ?? labelsProblem(labels, 'labels', data.rows, oracle.info.numClasses)

const identify = async (
  oracle: Oracle,
  generator: Generator,
  data: Matrix,
  labels: Int32Array,
  settings: ReturnType<typeof identificationSettings>,
  control: RunControl,
): Promise<E.Either<ProbeError, Identification>> => {
  const { Q, N, scale, batch, seed } = settings
  const tracked = trackQueries(oracle)
  const rng = createRng(seed)
  const encoded = callForeignMatrix('the generator’s encode', () => generator.encode(data), data.rows, generator.latentDim)
  if (E.isLeft(encoded)) return encoded
  const z = encoded.right
  const k = z.cols
  const n = data.rows
  const total = Math.min(n * Q, settings.budget)
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
  const progress = stage(control, 'identification', total)
  for (let from = 0; from < total; from += batch) {
    const ok = await progress.tick(from)
    if (E.isLeft(ok)) return ok
    const to = Math.min(total, from + batch)
    // A generator that fails before the first query fails the call (nothing was paid); one that fails
    // later ends the search like an oracle failure, keeping every answered row.
    const decodedRows = callForeignMatrix('the generator’s decode', () => generator.decode(sliceRows({ rows: total, cols: k, data: codes }, from, to)), to - from, data.cols)
    if (E.isLeft(decodedRows)) {
      if (from === 0) return decodedRows
      stoppedEarly = decodedRows.left
      break
    }
    const r = await askLabels(tracked.oracle, clipToDomain(oracle.info, decodedRows.right))
    if (E.isLeft(r)) {
      if (r.left._tag === 'Aborted') return r
      stoppedEarly = r.left
      break
    }
    predicted.set(r.right, from)
    answered = to
  }
  progress.check(answered)
  let found = 0
  const keep: number[] = []
  for (let i = 0; i < n; i++) {
    const wrong: number[] = []
    for (let q = 0; q < Q; q++) {
      const r = i * Q + q
      // Only answered rows count: a row the oracle never labelled is not a misclassification.
      if (r < answered && predicted[r] !== labels[i]) wrong.push(r)
    }
    found += wrong.length
    wrong.sort((a, b) => norms[a]! - norms[b]! || a - b)
    keep.push(...wrong.slice(0, N))
  }
  const kept = takeRows({ rows: total, cols: k, data: codes }, keep)
  // Decoding is deterministic: decode the kept codes again rather than hold every decoded query.
  const inputs = keep.length === 0 ? E.right<ProbeError, Matrix>({ rows: 0, cols: data.cols, data: new Float64Array(0) }) : callForeignMatrix('the generator’s decode', () => generator.decode(kept), keep.length, data.cols)
  const queries = tracked.usage()
  if (E.isLeft(inputs)) stoppedEarly ??= inputs.left
  const out: Identification = {
    codes: E.isLeft(inputs) ? { rows: 0, cols: k, data: new Float64Array(0) } : kept,
    inputs: E.isLeft(inputs) ? { rows: 0, cols: data.cols, data: new Float64Array(0) } : clipToDomain(oracle.info, inputs.right),
    sources: E.isLeft(inputs) ? new Int32Array(0) : Int32Array.from(keep, (r) => Math.floor(r / Q)),
    sourceLabels: E.isLeft(inputs) ? new Int32Array(0) : Int32Array.from(keep, (r) => labels[Math.floor(r / Q)]!),
    predicted: E.isLeft(inputs) ? new Int32Array(0) : Int32Array.from(keep, (r) => predicted[r]!),
    perturbationNorms: E.isLeft(inputs) ? new Float64Array(0) : Float64Array.from(keep, (r) => norms[r]!),
    queries,
    found,
    yieldPerQuery: queries.predictRows === 0 ? 0 : found / queries.predictRows,
    seed,
    ...(stoppedEarly !== undefined ? { stoppedEarly } : {}),
  }
  return E.right(out)
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

/** Options of {@link findMisclassificationRegions}: the mixture's ({@link DpGmmOptions}) and the weight threshold. */
export interface RegionOptions extends Partial<Omit<DpGmmOptions, 'seed'>> {
  /** Components with weight above this are regions. Default 0.01. */
  readonly weightThreshold?: number
  /** The seed of the mixture's initialisation (required: a safe integer). */
  readonly seed: number
}

/** The regions and the mixture behind them. */
export interface Regions {
  readonly regions: readonly Region[]
  readonly mixture: DpGmm
  /** No oracle is queried to cluster codes: always zero, for the shared result contract. */
  readonly queries: QueryUsage
  readonly seed: number
}

/** Every problem with region options for codes of dimension `d` (when known), under `prefix`. */
const regionIssues = (o: Partial<RegionOptions>, d: number | undefined, prefix: string): Issue[] => {
  const issues = dpGmmOptionIssues(o, d, prefix)
  numberWhere(issues, `${prefix}.weightThreshold`, o.weightThreshold, 0.01, (v) => v >= 0 && v < 1, 'a number in [0, 1)')
  return issues
}

/**
 * Defuse's distillation stage: fit a Dirichlet-process Gaussian mixture (upper bound K,
 * default 100; full covariance, float64 — {@link fitDirichletProcessGmm}) to the misclassified
 * latent codes; the components above `weightThreshold` are the misclassification regions,
 * largest first. Each can be sampled (`region.sample`) and decoded for inspection ({@link regionSamples}).
 * Progress and abort per mixture sweep (`options.progress`, `options.signal`).
 *
 * @example
 * // fragment: the result of findMisclassifications
 * import { toPromise } from '@sonde/oracle'
 * import { findMisclassificationRegions, type Identification } from '@sonde/debugging'
 *
 * declare const found: Identification
 * const { regions } = await toPromise(findMisclassificationRegions(found.codes, { seed: 1 }))
 */
export const findMisclassificationRegions = (codes: Matrix, options: RegionOptions): TE.TaskEither<ProbeError, Regions> => {
  const o = optionsOf(options)
  const bad = matrixProblem(codes, 'codes', { minRows: 2 })
  if (bad !== undefined) return TE.left(bad)
  const issues = regionIssues(o, codes.cols, 'options')
  seedIn(issues, 'options.seed', o.seed)
  controlIssues(issues, o)
  const invalid = invalidOptionsOf(issues)
  if (invalid !== undefined) return TE.left(invalid)
  const threshold = o.weightThreshold ?? 0.01
  const { weightThreshold: _w, ...gmmOptions } = o as RegionOptions
  return F.pipe(
    fitDirichletProcessGmm(codes, { maxComponents: 100, ...gmmOptions }),
    TE.map((mixture): Regions => {
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
      return { regions, mixture, queries: noQueries, seed: mixture.seed }
    }),
  )
}

/** A seed derived from `seed` and a salt, kept a safe integer whatever `seed` is. */
const childSeed = (seed: number, multiplier: number, salt: number): number => {
  const s = seed * multiplier + salt
  return Number.isSafeInteger(s) ? s : (seed % 1_000_000_007) * multiplier + salt
}

/**
 * Decoded samples of a region, for a person (or a test) to inspect: `count` fresh codes decoded
 * by the generator, clipped to `domain` when given. The generator runs once, inside a guard: a throw or a
 * malformed answer is `PluginFailed`.
 *
 * @example
 * // fragment: regions found earlier and their generator
 * import { regionSamples, type Generator, type Region } from '@sonde/debugging'
 *
 * declare const regions: readonly Region[]
 * declare const vae: Generator
 * const images = regionSamples(regions[0]!, vae, 16, 1, { lower: 0, upper: 1 }) // Either<ProbeError, Matrix>
 */
export const regionSamples = (region: Region, generator: Generator, count: number, seed: number, domain?: Domain): E.Either<ProbeError, Matrix> => {
  const issues: Issue[] = []
  intIn(issues, 'count', count, 1, 1)
  seedIn(issues, 'seed', seed)
  const invalid = invalidOptionsOf(issues)
  if (invalid !== undefined) return E.left(invalid)
  const r = region as Partial<Region> | null | undefined
  if (r === null || typeof r !== 'object' || typeof r.sample !== 'function') return E.left(errors.invalidInput(`region is ${show(region)}; expected a Region (from findMisclassificationRegions)`, 'region'))
  const noGenerator = generatorProblem(generator)
  if (noGenerator !== undefined) return E.left(noGenerator)
  return F.pipe(
    callForeignMatrix('region.sample', () => r.sample!(count, seed), count, generator.latentDim),
    E.chain((codes) => callForeignMatrix('the generator’s decode', () => generator.decode(codes), count)),
    E.chain((images) => {
      if (domain === undefined) return E.right(images)
      const bad = domainProblem(domain, 'domain', images.cols)
      return bad !== undefined ? E.left(bad) : E.right(clipToDomain({ id: 'region', inputDim: images.cols, numClasses: 1, output: 'label', domain }, images))
    }),
  )
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
 * // fragment: a reference classifier you trust
 * import { toPromise, type Oracle } from '@sonde/oracle'
 * import { majorityLabeller } from '@sonde/debugging'
 *
 * declare const referenceModel: Oracle
 * const labeller = majorityLabeller(async (images) => (await toPromise(referenceModel.predict(images))).labels, { agreement: 0.8 })
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
    return labels.length > 0 && count >= (options?.agreement ?? 0.8) * labels.length ? best : undefined
  }

/** Options of {@link labelRegions}. */
export interface LabelRegionsOptions extends RunControl {
  /** Decoded samples shown per region. Default 16. */
  readonly samples?: number
  /** The seed of the samples (required). */
  readonly seed: number
  /** Clip decoded samples to this box (e.g. pixels in [0, 1]). */
  readonly domain?: Domain
}

/**
 * Ask the labeller once per region (from `samples` decoded samples, default 16). The labeller runs inside
 * a guard (a throw, or an answer that is not a class index, is `PluginFailed`); an abort is seen between regions.
 *
 * @example
 * // fragment: regions found earlier, their generator, and a person to ask
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import { labelRegions, type Generator, type Region } from '@sonde/debugging'
 *
 * declare const regions: readonly Region[]
 * declare const vae: Generator
 * declare const askAPerson: (images: Matrix) => Promise<number | undefined> // a class, or undefined to skip the region
 * const labelled = await toPromise(labelRegions(regions, vae, (images) => askAPerson(images), { seed: 1 }))
 */
export const labelRegions = (
  regions: readonly Region[],
  generator: Generator,
  labeller: RegionLabeller,
  options: LabelRegionsOptions,
): TE.TaskEither<ProbeError, LabelledRegion[]> => {
  const o = optionsOf(options)
  const issues: Issue[] = []
  const count = intIn(issues, 'options.samples', o.samples, 16, 1)
  const seed = seedIn(issues, 'options.seed', o.seed)
  controlIssues(issues, o)
  const invalid = invalidOptionsOf(issues)
  if (invalid !== undefined) return TE.left(invalid)
  if (!Array.isArray(regions)) return TE.left(errors.invalidInput(`regions is ${show(regions)}; expected an array of regions`, 'regions'))
  if (typeof labeller !== 'function') return TE.left(errors.invalidInput(`labeller is ${show(labeller)}; expected a function`, 'labeller'))
  const noGenerator = generatorProblem(generator)
  if (noGenerator !== undefined) return TE.left(noGenerator)
  return async () => {
    const out: LabelledRegion[] = []
    const progress = stage(o, 'labelling regions', regions.length)
    for (const [i, region] of regions.entries()) {
      const ok = await progress.tick(i)
      if (E.isLeft(ok)) return ok
      const samples = regionSamples(region, generator, count, childSeed(seed, 1, i), o.domain)
      if (E.isLeft(samples)) return samples
      let label: number | undefined
      try {
        label = await labeller(samples.right, region)
      } catch (cause) {
        return E.left(errorFromThrown(cause, (m) => errors.pluginFailed('the labeller', `threw: ${m}`, cause)))
      }
      if (label === undefined) continue
      if (typeof label !== 'number' || !Number.isInteger(label) || label < 0) {
        return E.left(errors.pluginFailed('the labeller', `answered ${show(label)} for region ${region.id}; expected a class index or undefined`))
      }
      out.push({ region, label, samples: samples.right })
    }
    progress.check(regions.length)
    return E.right(out)
  }
}

/** The region with its covariance × spread² (a component's samples from sampleComponent; the region's own when it is not a mixture component). */
const narrowed = (region: Region, spread: number): Region => {
  const mean = region.mean
  const covariance = Float64Array.from(region.covariance, (v) => v * spread * spread)
  return {
    ...region,
    covariance,
    sample: (count, seed) => sampleComponent({ weight: region.weight, mean, covariance, count: region.members.length }, count, createRng(seed)),
  }
}

/** Options of {@link correctModel}. */
export interface CorrectionOptions extends RunControl {
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
  /** The seed of the region samples and the batch order (required). */
  readonly seed: number
  /** Clip decoded samples to this domain (e.g. pixels in [0, 1]). */
  readonly domain?: Domain
  /**
   * Draw the region samples from the region's Gaussian with its covariance × spread² (its standard
   * deviations × spread): below 1, from the region's core, where its label holds best — the edge of a
   * region leans towards the classes around it. Default 1 (the region as fitted).
   */
  readonly spread?: number
}

/** What {@link correctModel} did. */
export interface CorrectionResult {
  /** Mean combined loss per epoch. */
  readonly losses: readonly number[]
  readonly regionSamples: number
  readonly steps: number
  /** White-box fine-tuning queries no oracle: always zero, for the shared result contract. */
  readonly queries: QueryUsage
  readonly seed: number
}

/** @deprecated Renamed {@link CorrectionResult} (a probe's report is a `ProbeReport`). */
export type CorrectionReport = CorrectionResult

/**
 * Defuse's correction stage: fine-tune a trainable tfjs classifier (logits out) in place on
 * CE(training batch) + λ·CE(batch of decoded region samples with their labels). Seeded batch order.
 *
 * Progress (`'correction'`, in steps) and abort between steps: on an abort, or a loss that becomes
 * non-finite, the model gets its weights from before back (`Aborted`, `TrainingFailed`).
 *
 * @example
 * // fragment: a trainable tfjs classifier, its training set, labelled regions and their generator
 * import type { LayersModel } from '@tensorflow/tfjs'
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import { correctModel, type Generator, type LabelledRegion } from '@sonde/debugging'
 *
 * declare const model: LayersModel // logits out
 * declare const train: { x: Matrix; y: Int32Array }
 * declare const labelled: readonly LabelledRegion[]
 * declare const vae: Generator
 * const correction = await toPromise(correctModel(model, train, labelled, vae, { seed: 1 })) // fine-tunes model in place
 */
export const correctModel = (
  model: tf.LayersModel,
  train: { readonly x: Matrix; readonly y: Int32Array },
  labelled: readonly LabelledRegion[],
  generator: Generator,
  options: CorrectionOptions,
): TE.TaskEither<ProbeError, CorrectionResult> => {
  const o = optionsOf(options)
  const issues: Issue[] = []
  const lambda = numberWhere(issues, 'options.lambda', o.lambda, 1, (v) => v >= 0, 'a finite number ≥ 0')
  // Once unchecked: a NaN learning rate turned the user's weights into NaN, in place.
  const lr = numberWhere(issues, 'options.learningRate', o.learningRate, 5e-4, (v) => v > 0, 'a positive finite number')
  const seed = seedIn(issues, 'options.seed', o.seed)
  const per = intIn(issues, 'options.samplesPerRegion', o.samplesPerRegion, 500, 1)
  const spread = numberWhere(issues, 'options.spread', o.spread, 1, (v) => v > 0, 'a positive finite number')
  const epochs = intIn(issues, 'options.epochs', o.epochs, 3, 1)
  const bs = intIn(issues, 'options.batchSize', o.batchSize, 64, 1)
  controlIssues(issues, o)
  const invalid = invalidOptionsOf(issues)
  if (invalid !== undefined) return TE.left(invalid)
  const m = model as Partial<tf.LayersModel> | null | undefined
  if (m === null || typeof m !== 'object' || typeof m.getWeights !== 'function' || !Array.isArray(m.outputs) || !Array.isArray(m.inputs)) {
    return TE.left(errors.invalidInput(`model is ${show(model)}; expected a tfjs LayersModel`, 'model'))
  }
  const outShape = m.outputs[0]?.shape ?? []
  const classes = outShape[outShape.length - 1] ?? 0
  const inShape = m.inputs[0]?.shape ?? []
  const inputDim = inShape[inShape.length - 1] ?? undefined
  if (!(typeof classes === 'number' && classes >= 1)) return TE.left(errors.invalidInput('the model has no class dimension on its output', 'model'))
  if (train === null || typeof train !== 'object') return TE.left(errors.invalidInput(`train is ${show(train)}; expected { x, y }`, 'train'))
  const badTrain = matrixProblem(train.x, 'train.x', { minRows: 1, ...(typeof inputDim === 'number' ? { cols: inputDim } : {}) }) ?? labelsProblem(train.y, 'train.y', train.x.rows, classes)
  if (badTrain !== undefined) return TE.left(badTrain)
  if (!Array.isArray(labelled) || labelled.length === 0) return TE.left(errors.invalidInput('no labelled regions to correct with', 'labelled'))
  for (const [i, l] of labelled.entries()) {
    if (l === null || typeof l !== 'object' || !(Number.isInteger(l.label) && l.label >= 0 && l.label < classes)) {
      return TE.left(errors.invalidInput(`labelled[${i}].label is ${show(l?.label)}; the model has ${classes} classes`, `labelled[${i}].label`))
    }
  }
  const noGenerator = generatorProblem(generator)
  if (noGenerator !== undefined) return TE.left(noGenerator)
  const d = train.x.cols
  const parts: Matrix[] = []
  for (const [i, l] of labelled.entries()) {
    const p = regionSamples(spread === 1 ? l.region : narrowed(l.region, spread), generator, per, childSeed(seed, 1000, i), o.domain)
    if (E.isLeft(p)) return TE.left(p.left)
    if (p.right.cols !== d) return TE.left(errors.pluginFailed('the generator’s decode', `gave ${p.right.cols} columns for region ${i}; the training rows have ${d}`))
    parts.push(p.right)
  }
  const model_ = model
  return TE.tryCatch(
    async () => {
      const rng = createRng(seed)
      const rx = new Float64Array(parts.reduce((a, p) => a + p.data.length, 0))
      let off = 0
      for (const p of parts) {
        rx.set(p.data, off)
        off += p.data.length
      }
      const ry = Int32Array.from(labelled.flatMap((l) => Array.from({ length: per }, () => l.label)))
      const xs = tf.tensor2d(Float32Array.from(train.x.data), [train.x.rows, d])
      const ys = tf.tensor1d(train.y, 'int32')
      const rxs = tf.tensor2d(Float32Array.from(rx), [ry.length, d])
      const rys = tf.tensor1d(ry, 'int32')
      const optimizer = tf.train.adam(lr)
      const losses: number[] = []
      let steps = 0
      const perEpoch = Math.ceil(train.x.rows / bs)
      const progress = stage(o, 'correction', epochs * perEpoch)
      const start = model_.getWeights().map((w) => w.clone())
      try {
        for (let e = 0; e < epochs; e++) {
          const order = permutation(train.x.rows, rng)
          let total = 0
          let count = 0
          for (let s = 0; s < train.x.rows; s += bs) {
            const ok = await progress.tick(steps)
            if (E.isLeft(ok)) {
              model_.setWeights(start)
              throw new SondeError(ok.left)
            }
            const ti = tf.tensor1d(order.subarray(s, Math.min(train.x.rows, s + bs)), 'int32')
            const ri = tf.tensor1d(Int32Array.from({ length: bs }, () => rng.int(ry.length)), 'int32')
            const l = tf.tidy(() =>
              optimizer.minimize(() => {
                const ce = (x: tf.Tensor, y: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, classes), model_.apply(x, { training: true }) as tf.Tensor)
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
            model_.setWeights(start)
            throw new SondeError(errors.trainingFailed(`correction diverged: the mean loss of epoch ${e + 1} is ${total / count}; the model keeps its weights from before (lower options.learningRate)`))
          }
          losses.push(total / count)
        }
        progress.check(steps)
      } finally {
        for (const t of [xs, ys, rxs, rys, ...start]) t.dispose()
        optimizer.dispose()
      }
      return { losses, regionSamples: ry.length, steps, queries: noQueries, seed }
    },
    (cause): ProbeError => errorFromThrown(cause, (msg) => errors.trainingFailed(`correction failed: ${msg}`, cause)),
  )
}

/** Options of {@link defuse}. */
export interface DefuseOptions extends IdentificationOptions {
  /** Options of the distillation stage (mixture, weight threshold). */
  readonly regions?: Omit<RegionOptions, 'seed' | keyof RunControl>
  /** Decoded samples per region, queried for its error rate and tiled into its grid. Default 32. */
  readonly samplesPerRegion?: number
  /** `[height, width]` of grey images: each region gets a sample grid (PNG-ready pixels). */
  readonly imageShape?: readonly [number, number]
  /**
   * Most label queries (rows) in all. Identification spends up to all of it (at most n·Q); the regions'
   * samples take what is left, largest region first (by `share`), `samplesPerRegion` each — a region they
   * no longer fit is not measured (`unmeasuredRegions`). Default: no cap.
   */
  readonly budget?: number
  /**
   * Cluster the kept codes of each source label in a mixture of their own (default `true`), or all of
   * them in one (`false`: Defuse as published). With sources of one class the two are the same run. With
   * sources of many classes — every held-out digit, when you do not know where the bug is — one mixture
   * over all of them mixes the classes' errors into wide regions; one per source label keeps each
   * region to one source class. Source labels with fewer than 2 kept codes form no region.
   */
  readonly groupBySource?: boolean
  /** k of the k nearest encoded sources behind each region's `sourceLikeness` ({@link RegionReport.score}). Default 10. */
  readonly neighbours?: number
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
  readonly errorRate: number
  /** @deprecated The same number as {@link RegionReport.errorRate}. */
  readonly purity: number
  /**
   * The region's part of all the kept misread codes: its mixture weight × its mixture's part of the kept
   * codes (with one mixture, the weight). How much of what the search found lies here.
   */
  readonly share: number
  /**
   * Distinctness of the region from the class the model reads: over the region's fresh latent codes, the
   * mean share of each code's k nearest encoded sources (`neighbours`, default 10; Euclidean distance in
   * the generator's latent space) whose label is `sourceLabel`. Near 1: the region lies inside the source
   * class's part of the latent space, among real inputs of that class, so the inputs still are that class
   * and the model's other answer is an error. Near 0.5 or less: the region lies half-way to, or inside,
   * another class — mostly perturbations that changed what the input is. Costs no query.
   */
  readonly sourceLikeness: number
  /**
   * The rank score of the region: `share × errorRate × max(0, 2·sourceLikeness − 1)` — how much of the
   * search lands here, how consistently the oracle misreads it, and by how much the source class outvotes
   * every other class among the nearest real inputs (the lead of the source class, 0 when it has no
   * majority). A systematic bug scores high on all three; a region on the boundary between two classes
   * (misread on part of it, its neighbours split between the classes) scores low however large it is.
   * {@link DefuseResult.ranked} orders the regions by it.
   */
  readonly score: number
  /** The samples tiled into one image (when `imageShape` was given), ready for `encodeGrayPng`. */
  readonly grid?: { readonly pixels: Float64Array; readonly width: number; readonly height: number }
}

/** One mixture {@link defuse} fitted: over the kept codes of one source label (or all of them). */
export interface DefuseMixture {
  /** The source label of the codes it clustered; `undefined` when `groupBySource` is `false`. */
  readonly sourceLabel: number | undefined
  /** Rows of `identification.codes` it clustered. */
  readonly rows: Int32Array
  readonly mixture: DpGmm
}

/** The result of {@link defuse}. */
export interface DefuseResult {
  readonly identification: Identification
  /**
   * The measured regions, largest first (by `share`). Their `region.members` are rows of
   * `identification.codes`; `region.id` is the component's index in its own mixture.
   */
  readonly regions: readonly RegionReport[]
  /** The same regions, highest {@link RegionReport.score} first (ties: larger share first): where to look first. */
  readonly ranked: readonly RegionReport[]
  /** Regions found but not measured: the budget ran out, or the oracle stopped answering. */
  readonly unmeasuredRegions: number
  /** The mixture fitted to the kept codes, when one mixture was fitted (absent when fewer than 2 were kept, or when there is one per source label). */
  readonly mixture?: DpGmm
  /** Every mixture fitted: one per source label with ≥ 2 kept codes (`groupBySource`), or the one. */
  readonly mixtures: readonly DefuseMixture[]
  /** Label queries spent in all: identification plus the regions' samples. */
  readonly queries: QueryUsage
  readonly seed: number
  /** Set when the oracle or the generator failed after queries were paid: what was answered is kept. */
  readonly stoppedEarly?: ProbeError
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
 * Every problem with {@link defuse}'s inputs and options, found before anything runs (a fuzz run once
 * found the region options validated after 2,400 paid rows). `latentDim` is the generator's, when known.
 */
export const defuseOptionsProblem = (options: DefuseOptions, cols: number, latentDim: number | undefined): ProbeError | undefined => {
  const o = optionsOf(options)
  const issues: Issue[] = []
  identificationSettings(o, issues)
  intIn(issues, 'options.samplesPerRegion', o.samplesPerRegion, 32, 1)
  intIn(issues, 'options.neighbours', o.neighbours, 10, 1)
  if (o.groupBySource !== undefined && typeof o.groupBySource !== 'boolean') issues.push({ path: 'options.groupBySource', message: `is ${show(o.groupBySource)}; expected true or false` })
  if (o.regions !== undefined && (o.regions === null || typeof o.regions !== 'object')) issues.push({ path: 'options.regions', message: `is ${show(o.regions)}; expected an object` })
  else issues.push(...regionIssues(optionsOf(o.regions), latentDim, 'options.regions'))
  const shape = o.imageShape as unknown
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((v) => Number.isInteger(v) && v >= 1) || shape[0] * shape[1] !== cols) {
      issues.push({ path: 'options.imageShape', message: `is ${JSON.stringify(shape) ?? show(shape)}; expected [height, width] of positive integers with area ${cols}` })
    }
  }
  return invalidOptionsOf(issues)
}

/**
 * Defuse end to end (Slack et al. 2021): identification ({@link findMisclassifications}, labels-only
 * queries), distillation ({@link findMisclassificationRegions}; by default one mixture per source
 * label, `groupBySource`), and a report per region — its error rate on fresh samples (queried and
 * counted), the labels involved, a sample grid, and its rank score
 * (`score = share × errorRate × max(0, 2·sourceLikeness − 1)`, {@link RegionReport.score}): `ranked` lists the regions
 * best first, so that sources of every class — when you do not know where the bug is — still put a
 * systematic error at the top, above the wide regions on the boundaries between classes.
 * Correction needs a person: pass the regions to {@link labelRegions}, then {@link correctModel}.
 *
 * Every option — the mixture's included — is checked before the first query. Progress comes per oracle
 * call (`'identification'`), per mixture sweep and per region (`'region samples'`); an abort ends the run
 * with `Aborted` before the next query or sweep. An oracle that stops answering later (a budget, a timeout)
 * ends the run with what was paid for (`stoppedEarly`).
 *
 * @example
 * // fragment: a label-only black box, a generator trained on its inputs (trainVae) and labelled inputs
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { defuse, type Generator } from '@sonde/debugging'
 *
 * declare const blackBox: Oracle
 * declare const vae: Generator
 * declare const digits: Matrix
 * declare const labels: Int32Array
 * const result = await toPromise(defuse(blackBox, vae, { x: digits, y: labels }, { seed: 1, budget: 25_000, imageShape: [28, 28] }))
 * for (const r of result.ranked.slice(0, 5)) console.log(r.sourceLabel, '→', r.predictedLabel, r.errorRate, r.sourceLikeness, r.score)
 */
export const defuse = (
  oracle: Oracle,
  generator: Generator,
  data: { readonly x: Matrix; readonly y: Int32Array },
  options: DefuseOptions,
): TE.TaskEither<ProbeError, DefuseResult> => {
  if (data === null || typeof data !== 'object') return TE.left(errors.invalidInput(`data is ${show(data)}; expected { x, y }`, 'data'))
  const problem = identificationProblem(oracle, generator, data.x, data.y) ?? defuseOptionsProblem(options, data.x.cols, generator.latentDim)
  if (problem !== undefined) return TE.left(problem)
  const o = options
  const per = o.samplesPerRegion ?? 32
  const budget = o.budget ?? Number.POSITIVE_INFINITY
  const byLabel = o.groupBySource ?? true
  const tracked = trackQueries(oracle)
  return F.pipe(
    findMisclassifications(tracked.oracle, generator, data.x, data.y, o),
    TE.chain((identification) => {
      const done = (rest: Partial<DefuseResult> = {}): DefuseResult => ({
        identification,
        regions: [],
        ranked: [],
        unmeasuredRegions: 0,
        mixtures: [],
        ...rest,
        queries: tracked.usage(),
        seed: o.seed,
        ...(identification.stoppedEarly !== undefined && rest.stoppedEarly === undefined ? { stoppedEarly: identification.stoppedEarly } : {}),
      })
      if (identification.codes.rows < 2) return TE.right(done())
      const control = { ...(o.signal !== undefined ? { signal: o.signal } : {}), ...(o.progress !== undefined ? { progress: o.progress } : {}) }
      const groups = codeGroups(identification.sourceLabels, byLabel)
      const kept = identification.codes.rows
      return F.pipe(
        // One mixture per group, in label order, each with the run's seed (one group: the run of old).
        groups.reduce(
          (acc, g) =>
            F.pipe(
              acc,
              TE.chain((fitted) =>
                F.pipe(
                  findMisclassificationRegions(takeRows(identification.codes, Array.from(g.rows)), { ...o.regions, ...control, seed: o.seed }),
                  TE.map(({ regions, mixture }) => [
                    ...fitted,
                    {
                      group: { sourceLabel: g.sourceLabel, rows: g.rows, mixture },
                      // Members as rows of identification.codes; the share of all kept codes.
                      regions: regions.map((r) => ({ region: { ...r, members: Int32Array.from(r.members, (m) => g.rows[m]!) }, share: (r.weight * g.rows.length) / kept })),
                    },
                  ]),
                ),
              ),
            ),
          TE.right<ProbeError, Array<{ group: DefuseMixture; regions: Array<{ region: Region; share: number }> }>>([]),
        ),
        TE.chain((fitted) => async () => {
          const all = fitted.flatMap((f) => f.regions).sort((a, b) => b.share - a.share)
          const mixtures = fitted.map((f) => f.group)
          const encoded = callForeignMatrix('the generator’s encode', () => generator.encode(data.x), data.x.rows, generator.latentDim)
          if (E.isLeft(encoded)) return E.right(done({ unmeasuredRegions: all.length, mixtures, ...(mixtures.length === 1 ? { mixture: mixtures[0]!.mixture } : {}), stoppedEarly: encoded.left }))
          const neighbours = Math.min(o.neighbours ?? 10, data.x.rows)
          const reports: RegionReport[] = []
          let stoppedEarly: ProbeError | undefined
          const progress = stage(o, 'region samples', all.length)
          for (const [i, { region, share }] of all.entries()) {
            const ok = await progress.tick(i)
            if (E.isLeft(ok)) return ok
            if (tracked.usage().predictRows + per > budget) break
            const sampleSeed = childSeed(o.seed, 1, 7919 * (i + 1))
            const samples = regionSamples(region, generator, per, sampleSeed, oracle.info.domain)
            if (E.isLeft(samples)) {
              stoppedEarly = samples.left
              break
            }
            const r = await askLabels(tracked.oracle, samples.right)
            if (E.isLeft(r)) {
              if (r.left._tag === 'Aborted') return r
              stoppedEarly = r.left
              break
            }
            const sourceLabel = mode(Int32Array.from(region.members, (m) => identification.sourceLabels[m]!))
            let wrong = 0
            for (const l of r.right) if (l !== sourceLabel) wrong++
            const errorRate = wrong / samples.right.rows
            // The same codes regionSamples decoded (same seed): where the samples lie in the latent space.
            const sourceLikeness = labelShareNearby(region.sample(per, sampleSeed), encoded.right, data.y, sourceLabel, neighbours)
            reports.push({
              region,
              sourceLabel,
              predictedLabel: mode(r.right),
              samples: samples.right,
              oracleLabels: r.right,
              errorRate,
              purity: errorRate,
              share,
              sourceLikeness,
              score: share * errorRate * Math.max(0, 2 * sourceLikeness - 1),
              ...(o.imageShape !== undefined ? { grid: imageGrid(samples.right, { height: o.imageShape[0], width: o.imageShape[1], columns: 8 }) } : {}),
            })
          }
          progress.check(reports.length)
          const ranked = [...reports].sort((a, b) => b.score - a.score || b.share - a.share)
          return E.right(
            done({
              regions: reports,
              ranked,
              unmeasuredRegions: all.length - reports.length,
              mixtures,
              ...(mixtures.length === 1 ? { mixture: mixtures[0]!.mixture } : {}),
              ...(stoppedEarly !== undefined ? { stoppedEarly } : {}),
            }),
          )
        }),
      )
    }),
  )
}

/** The kept codes' groups: one per source label with ≥ 2 codes, in label order (or all of them, as one). */
const codeGroups = (sourceLabels: Int32Array, byLabel: boolean): Array<{ sourceLabel: number | undefined; rows: Int32Array }> => {
  if (!byLabel) return [{ sourceLabel: undefined, rows: Int32Array.from(sourceLabels.keys()) }]
  const rows = new Map<number, number[]>()
  for (const [i, l] of sourceLabels.entries()) rows.set(l, [...(rows.get(l) ?? []), i])
  return [...rows.entries()]
    .filter(([, r]) => r.length >= 2)
    .sort((a, b) => a[0] - b[0])
    .map(([sourceLabel, r]) => ({ sourceLabel, rows: Int32Array.from(r) }))
}

/**
 * Mean over the rows of `codes` of the share of their k nearest rows of `reference` (squared Euclidean
 * distance; ties to the lower index) whose label is `label`: {@link RegionReport.sourceLikeness}.
 *
 * For example, one code at 0.05 against reference codes 0, 0.1 (label 0) and 10, 10.1 (label 1), with k = 2
 * and label 0, gives 1: both nearest references have label 0.
 *
 * @internal
 */
export const labelShareNearby = (codes: Matrix, reference: Matrix, labels: Int32Array, label: number, k: number): number => {
  const d = codes.cols
  const n = reference.rows
  if (codes.rows === 0 || n === 0) return 0
  const kk = Math.min(k, n)
  const dist = new Float64Array(n)
  const order = new Int32Array(n)
  let total = 0
  for (let i = 0; i < codes.rows; i++) {
    for (let j = 0; j < n; j++) {
      let q = 0
      for (let a = 0; a < d; a++) {
        const t = codes.data[i * d + a]! - reference.data[j * d + a]!
        q += t * t
      }
      dist[j] = q
      order[j] = j
    }
    order.sort((a, b) => dist[a]! - dist[b]! || a - b)
    let same = 0
    for (let t = 0; t < kk; t++) if (labels[order[t]!] === label) same++
    total += same / kk
  }
  return total / codes.rows
}
