import { either as E, taskEither as TE } from 'fp-ts'
import {
  createRng,
  errorFromThrown,
  errors,
  permutation,
  reportNumber,
  schemas,
  takeRows,
  z,
  type Matrix,
  type Oracle,
  type Probe,
  type ProbeContext,
  type ProbeError,
  type ProbeReport,
  type ReportFigure,
  type ReportTable,
} from '@sonde/oracle'
import { downsampleImages, imageGrid, loadMnist, type Dataset } from '@sonde/datasets'
import { generatorProblem, labelsProblem, matrixProblem } from './checks.js'
import { defuse, defuseOptionsProblem, type DefuseOptions, type DefuseResult } from './defuse.js'
import { trainVae, type Generator, type Vae } from './vae.js'

const vaeSchema = z
  .object({
    latentDim: z.number().int().min(1).max(64).default(4).describe('Latent dimension of the VAE the probe trains (the space Defuse perturbs).'),
    hidden: z.array(z.number().int().min(1).max(4096)).max(8).default([64]).describe('Hidden widths of its MLP encoder, mirrored in the decoder.'),
    epochs: z.number().int().min(1).max(1000).default(8).describe('Passes over the training rows.'),
    batchSize: z.number().int().min(1).default(32).describe('Rows per Adam step.'),
    learningRate: z.number().positive().max(1).default(2e-3).describe('Adam step size.'),
    beta: z.number().min(0).default(1).describe('β of the β-VAE: the weight of the KL term.'),
    likelihood: z
      .enum(['bernoulli', 'gaussian'])
      .optional()
      .describe("'bernoulli' for inputs in [0, 1] such as pixels (cross-entropy, sigmoid output); 'gaussian' for standardised tabular rows (squared error). Default: 'bernoulli' when every training value is in [0, 1], else 'gaussian'."),
    trainingRows: z
      .number()
      .int()
      .min(2)
      .default(2000)
      .describe('Rows the VAE trains on: that many dataset rows (disjoint from the sources), or at most that many rows of options.data.'),
  })
  .strict()
  .describe('The VAE trained inside the probe when no generator is given (defaults: seconds on 14×14 digits).')

const datasetSchema = z
  .object({
    name: z.enum(['mnist']).describe("A dataset of @sonde/datasets: 'mnist' (10,000 real digits, labels 0–9)."),
    size: z
      .union([z.literal(28), z.literal(14)])
      .optional()
      .describe('Side of the digit images: 28 (784 inputs) or 14 (196 inputs, 2×2 means). Default: the one that matches the oracle’s inputDim.'),
    sourceClass: z.number().int().min(0).max(9).optional().describe('Perturb only digits of this class (the class whose errors you look for). Default: every class.'),
    sources: z.number().int().min(1).max(5000).default(100).describe('Digits to perturb, drawn with the seed (disjoint from the VAE’s training rows).'),
  })
  .strict()
  .describe('A named dataset to draw the labelled sources (and the VAE’s training rows) from, instead of options.data.')

const regionsSchema = z
  .object({
    maxComponents: z.number().int().min(1).max(500).default(20).describe('Upper bound K on the mixture’s components: the number of regions is inferred below it.'),
    weightThreshold: z.number().min(0).lt(1).default(0.01).describe('Components with more weight than this are regions.'),
    concentration: z.number().positive().optional().describe('Concentration α₀ of the Dirichlet process (small: few components). Default 1/K.'),
    meanPrecision: z.number().positive().default(1).describe('Prior precision β₀ of the component means.'),
    degreesOfFreedom: z.number().positive().optional().describe('Prior degrees of freedom ν₀ of the Wishart (> latent dimension − 1). Default: the latent dimension.'),
    maxIter: z.number().int().min(1).default(300).describe('Most mixture sweeps (coordinate-ascent iterations).'),
    tolerance: z.number().min(0).default(1e-6).describe('Stop when the mean log-evidence per point changes by less than this.'),
    regCovar: z.number().min(0).default(1e-6).describe('Added to the diagonal of every scatter matrix.'),
    init: z.enum(['random', 'kmeans']).default('random').describe("Initial responsibilities: 'random' soft assignments or hard 'kmeans'."),
  })
  .strict()
  .describe('The Dirichlet-process Gaussian mixture that groups the misclassified codes into regions.')

const isGenerator = (u: unknown): u is Generator => generatorProblem(u) === undefined

const options = z
  .object({
    data: schemas
      .examples({ description: 'Labelled sources: { x: rows of numbers (one per input, the oracle’s inputDim columns), y: the true class of each }.' })
      .optional(),
    dataset: datasetSchema.optional(),
    generator: z
      .custom<Generator>(isGenerator, { message: 'expected a Generator { latentDim, encode(x), decode(z) } (from code; JSON callers let the probe train a VAE)' })
      .optional()
      .describe('A generator from code ({ latentDim, encode, decode }); when absent, the probe trains a VAE (options.vae).'),
    vae: vaeSchema.prefault({}),
    perturbations: z.number().int().min(1).max(10_000).default(20).describe('Latent perturbations tried per source (Q), from small to large.'),
    keepPerSource: z.number().int().min(1).default(5).describe('Most misclassified codes kept per source (N), smallest perturbation first.'),
    scale: z.number().positive().default(1).describe('Largest perturbation, in latent units (standard deviation per coordinate of the last rung).'),
    batchSize: z.number().int().min(1).default(500).describe('Rows per oracle call.'),
    samplesPerRegion: z.number().int().min(1).max(10_000).default(32).describe('Fresh decoded samples per region, labelled by the oracle to measure its error rate.'),
    budget: z.number().int().min(1).optional().describe('Most label queries (rows) in all; the regions’ samples take what identification leaves. Default: no cap.'),
    regions: regionsSchema.prefault({}),
    imageShape: z
      .tuple([z.number().int().min(1), z.number().int().min(1)])
      .optional()
      .describe('[height, width] of grey images, for the report’s pictures. Default: from the dataset or the oracle’s inputShape.'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if ((o.data === undefined) === (o.dataset === undefined)) ctx.addIssue({ code: 'custom', path: ['data'], message: 'give exactly one of data (labelled rows) and dataset (a named dataset)' })
  })

/** Options of {@link defuseProbe}, decoded. */
export type DefuseProbeOptions = z.output<typeof options>

/** What {@link defuseProbe} returns: {@link defuse}'s result and how the generator came about. */
export interface DefuseProbeResult extends DefuseResult {
  /** `'trained'`: the probe trained a VAE (then disposed it); `'given'`: options.generator. */
  readonly generator: 'given' | 'trained'
  /** The VAE's mean loss per epoch (empty for a given generator). */
  readonly vaeLosses: readonly number[]
  /** Rows the VAE trained on (0 for a given generator). */
  readonly vaeRows: number
  /** Sources perturbed. */
  readonly sources: number
  readonly imageShape?: readonly [number, number]
  readonly classNames?: readonly string[]
}

const invalid = (path: string, message: string): ProbeError => errors.invalidOptions([{ path, message }])

interface Prepared {
  readonly sources: { readonly x: Matrix; readonly y: Int32Array }
  readonly training: Matrix
  readonly imageShape?: readonly [number, number]
}

/** The sources and the VAE's training rows, from options.data or the named dataset. */
const prepare = (oracle: Oracle, o: DefuseProbeOptions, seed: number): E.Either<ProbeError, Prepared> => {
  const d = oracle.info.inputDim
  const shapeOfOracle = (): readonly [number, number] | undefined => {
    const s = oracle.info.inputShape
    return s !== undefined && (s.length === 2 || (s.length === 3 && s[2] === 1)) && s[0]! * s[1]! === d ? [s[0]!, s[1]!] : undefined
  }
  if (o.data !== undefined) {
    if (o.data.x.cols !== d) return E.left(errors.shapeMismatch('options.data.x', `${d} columns (the oracle's inputDim)`, `${o.data.x.cols} columns`))
    const rows = Math.min(o.data.x.rows, o.vae.trainingRows)
    const training = rows === o.data.x.rows ? o.data.x : takeRows(o.data.x, Array.from({ length: rows }, (_, i) => i))
    const shape = o.imageShape ?? shapeOfOracle()
    return E.right({ sources: o.data, training, ...(shape !== undefined ? { imageShape: shape } : {}) })
  }
  const ds = o.dataset!
  const size = ds.size ?? (d === 784 ? 28 : d === 196 ? 14 : undefined)
  if (size === undefined || size * size !== d) {
    return E.left(invalid('options.dataset.size', `mnist digits have 784 (size 28) or 196 (size 14) inputs; the oracle expects ${d}`))
  }
  let digits: Dataset
  try {
    const mnist = loadMnist()
    digits = size === 28 ? mnist : downsampleImages(mnist, { width: 28, height: 28, factor: 2 })
  } catch (cause) {
    return E.left(errorFromThrown(cause, (m) => errors.invalidInput(`the dataset 'mnist' could not be loaded: ${m}`, 'options.dataset')))
  }
  // One seeded shuffle: the VAE trains on its head, the sources come from the rest.
  const order = permutation(digits.x.rows, createRng(seed))
  const trainingRows = Math.min(o.vae.trainingRows, digits.x.rows - 1)
  const training = takeRows(digits.x, order.subarray(0, trainingRows))
  const rest = Array.from(order.subarray(trainingRows)).filter((i) => ds.sourceClass === undefined || digits.y[i] === ds.sourceClass)
  const picked = rest.slice(0, ds.sources)
  if (picked.length === 0) return E.left(invalid('options.dataset.sources', 'no digits are left for the sources; lower options.vae.trainingRows'))
  return E.right({
    sources: { x: takeRows(digits.x, picked), y: Int32Array.from(picked, (i) => digits.y[i]!) },
    training,
    imageShape: o.imageShape ?? [size, size],
  })
}

const run = (oracle: Oracle, o: DefuseProbeOptions, ctx: ProbeContext): TE.TaskEither<ProbeError, DefuseProbeResult> => async () => {
  const prepared = prepare(oracle, o, ctx.seed)
  if (E.isLeft(prepared)) return prepared
  const { sources, training, imageShape } = prepared.right
  const defuseOptions: DefuseOptions = {
    perturbations: o.perturbations,
    keepPerSource: o.keepPerSource,
    scale: o.scale,
    batchSize: o.batchSize,
    samplesPerRegion: o.samplesPerRegion,
    regions: Object.fromEntries(Object.entries(o.regions).filter(([, v]) => v !== undefined)) as NonNullable<DefuseOptions['regions']>,
    seed: ctx.seed,
    ...(o.budget !== undefined ? { budget: o.budget } : {}),
    ...(imageShape !== undefined ? { imageShape } : {}),
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    progress: ctx.progress,
    log: ctx.log,
  }
  // Everything is checked before the VAE trains (seconds) and before the first query.
  const problem =
    matrixProblem(sources.x, o.data !== undefined ? 'options.data.x' : 'options.dataset', { cols: oracle.info.inputDim }) ??
    labelsProblem(sources.y, o.data !== undefined ? 'options.data.y' : 'options.dataset', sources.x.rows, oracle.info.numClasses) ??
    defuseOptionsProblem(defuseOptions, sources.x.cols, o.generator?.latentDim ?? o.vae.latentDim)
  if (problem !== undefined) return E.left(problem)
  let vae: Vae | undefined
  if (o.generator === undefined) {
    ctx.log(`training a VAE (latent ${o.vae.latentDim}, hidden ${o.vae.hidden.join('-')}) on ${training.rows} rows for ${o.vae.epochs} epochs`)
    const likelihood = o.vae.likelihood ?? (training.data.every((v) => v >= 0 && v <= 1) ? 'bernoulli' : 'gaussian')
    const { likelihood: _l, ...vaeOptions } = o.vae
    const trained = await trainVae(training, { ...vaeOptions, likelihood, seed: ctx.seed, ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}), progress: ctx.progress })()
    if (E.isLeft(trained)) return trained
    vae = trained.right
  }
  const generator: Generator = o.generator ?? vae!
  try {
    ctx.log(`perturbing ${sources.x.rows} sources ${o.perturbations} times each`)
    const r = await defuse(oracle, generator, sources, defuseOptions)()
    if (E.isLeft(r)) return r
    const classNames = oracle.info.classNames
    return E.right({
      ...r.right,
      generator: vae === undefined ? 'given' : 'trained',
      vaeLosses: vae?.losses ?? [],
      vaeRows: vae === undefined ? 0 : training.rows,
      sources: sources.x.rows,
      ...(imageShape !== undefined ? { imageShape } : {}),
      ...(classNames !== undefined ? { classNames } : {}),
    })
  } finally {
    vae?.dispose()
  }
}

const percent = (v: number): string => `${(100 * v).toFixed(0)} %`

/** Pixels for the report: in [0, 1] as they are, else rescaled from their own range. */
const unitPixels = (pixels: Float64Array): number[] => {
  let lo = Infinity
  let hi = -Infinity
  for (const v of pixels) {
    lo = Math.min(lo, v)
    hi = Math.max(hi, v)
  }
  const inUnit = lo >= 0 && hi <= 1
  return Array.from(pixels, (v) => Number((inUnit ? v : hi > lo ? (v - lo) / (hi - lo) : 0.5).toFixed(3)))
}

/**
 * The JSON view of a Defuse run: regions with their error rates and labels, sample pictures, the queries.
 *
 * @example
 * // fragment: a finished run of defuseProbe
 * import { defuseReport, type DefuseProbeResult } from '@sonde/debugging'
 *
 * declare const result: DefuseProbeResult
 * const { headline } = defuseReport(result) // = defuseProbe.report(result)
 */
export const defuseReport = (r: DefuseProbeResult): ProbeReport => {
  const name = (c: number): string => r.classNames?.[c] ?? String(c)
  const id = r.identification
  const regions = r.regions
  const headline =
    regions.length === 0
      ? `No misclassification region found: ${id.found} of ${id.queries.predictRows} perturbed inputs were misread${id.codes.rows < 2 ? ', too few to group' : ''}.`
      : `${regions.length} misclassification region${regions.length === 1 ? '' : 's'} found (error rates ${regions.map((g) => percent(g.errorRate)).join(', ')}); the largest: class ${name(regions[0]!.sourceLabel)} read as ${name(regions[0]!.predictedLabel)} in ${percent(regions[0]!.errorRate)} of its fresh samples.`
  const findings: string[] = [
    ...regions
      .slice(0, 8)
      .map((g, i) => `Region ${i + 1} (weight ${g.region.weight.toFixed(3)}, ${g.region.members.length} misread codes): inputs of class ${name(g.sourceLabel)}, which the model reads as ${name(g.predictedLabel)}; ${percent(g.errorRate)} of ${g.samples.rows} fresh samples are misread.`),
    `Identification: ${id.queries.predictRows} label queries on ${r.sources} sources found ${id.found} misread inputs (${id.yieldPerQuery.toFixed(3)} per query); ${id.codes.rows} kept for clustering.`,
    ...(r.unmeasuredRegions > 0 ? [`${r.unmeasuredRegions} further region(s) were found but not measured (the budget or the oracle ran out).`] : []),
    ...(r.stoppedEarly !== undefined ? [`Stopped early (${r.stoppedEarly._tag}): ${r.stoppedEarly.message}. Everything answered before is reported.`] : []),
    r.generator === 'trained'
      ? `The probe trained a VAE on ${r.vaeRows} rows (final loss ${r.vaeLosses.at(-1)?.toFixed(3) ?? 'n/a'}); error rates take each region's majority source class as the truth — confirm by looking at its samples.`
      : 'Error rates take each region’s majority source class as the truth — confirm by looking at its samples.',
  ]
  const tables: ReportTable[] = [
    {
      title: 'Misclassification regions',
      columns: ['region', 'weight', 'misread codes', 'samples', 'error rate', 'majority true class', 'majority predicted class'],
      rows: regions.map((g, i) => [i + 1, reportNumber(Number(g.region.weight.toPrecision(4))), g.region.members.length, g.samples.rows, reportNumber(Number(g.errorRate.toFixed(4))), name(g.sourceLabel), name(g.predictedLabel)]),
    },
    ...regions.slice(0, 8).map((g, i): ReportTable => {
      const counts = new Map<number, number>()
      for (const l of g.oracleLabels) counts.set(l, (counts.get(l) ?? 0) + 1)
      return {
        title: `Region ${i + 1}: the model's labels of its ${g.samples.rows} fresh samples`,
        columns: ['predicted class', 'samples', 'share'],
        rows: [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([c, n]) => [name(c), n, Number((n / g.samples.rows).toFixed(4))]),
      }
    }),
  ]
  const figures: ReportFigure[] = []
  if (regions.length > 0) {
    figures.push({ kind: 'bar', title: 'Error rate of each region on fresh samples', yLabel: 'error rate', bars: regions.map((g, i) => ({ label: `region ${i + 1}: ${name(g.sourceLabel)} → ${name(g.predictedLabel)}`, value: Number(g.errorRate.toFixed(4)) })) })
  }
  const shape = r.imageShape
  if (shape !== undefined) {
    for (const [i, g] of regions.slice(0, 6).entries()) {
      if (g.samples.cols !== shape[0] * shape[1]) continue
      const shown = takeRows(g.samples, Array.from({ length: Math.min(16, g.samples.rows) }, (_, k) => k))
      const grid = imageGrid(shown, { height: shape[0], width: shape[1], columns: 8 })
      figures.push({ kind: 'image', title: `Region ${i + 1}: samples of class ${name(g.sourceLabel)} the model reads as ${name(g.predictedLabel)}`, width: grid.width, height: grid.height, channels: 1, pixels: unitPixels(grid.pixels) })
    }
  }
  if (r.vaeLosses.length > 0) {
    figures.push({ kind: 'line', title: 'VAE training loss', xLabel: 'epoch', yLabel: 'loss per row', series: [{ name: 'loss', points: r.vaeLosses.flatMap((l, e) => (Number.isFinite(l) ? [[e + 1, l] as [number, number]] : [])) }] })
  }
  return {
    probe: defuseProbe.id,
    headline,
    findings,
    seed: r.seed,
    queries: r.queries,
    metrics: [
      { name: 'regions', value: regions.length, description: 'misclassification regions measured' },
      { name: 'label queries', value: r.queries.predictRows, unit: 'rows' },
      { name: 'misread inputs found', value: id.found },
      { name: 'yield per query', value: reportNumber(id.yieldPerQuery), description: 'misread inputs found per label query in identification' },
      { name: 'kept codes', value: id.codes.rows, description: 'misread latent codes the mixture clustered' },
      { name: 'sources', value: r.sources },
      { name: 'largest region error rate', value: regions.length > 0 ? reportNumber(regions[0]!.errorRate) : null },
      ...(r.mixtures.length > 0
        ? [
            { name: 'mixture sweeps', value: r.mixtures.reduce((a, m) => a + m.mixture.iterations, 0), ...(r.mixtures.length > 1 ? { description: `over ${r.mixtures.length} mixtures, one per source class` } : {}) },
            { name: 'mixture converged', value: r.mixtures.every((m) => m.mixture.converged) },
          ]
        : []),
      ...(r.vaeLosses.length > 0 ? [{ name: 'VAE final loss', value: reportNumber(r.vaeLosses.at(-1)!) }] : []),
    ],
    tables,
    figures,
  }
}

/**
 * Registry descriptor of {@link defuse}, driven by JSON alone: labelled sources as rows (`data`) or a named
 * dataset (`dataset: { name: 'mnist' }`), a VAE trained inside with the seed (`vae`) unless code passes a
 * `generator`; labels-only queries. Its report lists the regions (size, error rate, majority true and
 * predicted class) with sample pictures when the inputs are images.
 *
 * @example
 * // fragment: a label-only black box for MNIST digits; trains a VAE (minutes)
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { defuseProbe } from '@sonde/debugging'
 *
 * declare const blackBox: Oracle
 * const r = await toPromise(runProbe(defuseProbe, blackBox, { dataset: { name: 'mnist', sourceClass: 6 } }, makeContext({ seed: 1 })))
 * console.log(defuseProbe.report(r).headline)
 */
export const defuseProbe: Probe<Oracle, DefuseProbeOptions, DefuseProbeResult> = {
  id: 'sonde/debugging/defuse',
  summary: "find a classifier's systematic errors beyond the test set: misclassification regions in a generator's latent space (labels only)",
  requires: ['labels'],
  options: options as unknown as Probe<Oracle, DefuseProbeOptions, DefuseProbeResult>['options'],
  run,
  report: defuseReport,
}

