import { either as E, taskEither as TE } from 'fp-ts'
import {
  createRng,
  errors,
  permutation,
  schemas,
  stage,
  takeRows,
  trackQueries,
  validatePrediction,
  z,
  type Capability,
  type Matrix,
  type Oracle,
  type Probe,
  type ProbeContext,
  type ProbeError,
  type ProbeReport,
  type QueryUsage,
} from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression, norm2, type TwiceDifferentiable } from '@sonde/models'
import { guarded, labelsByLoss, validateModel, type Examples } from './common.js'
import { influenceOnTest, mostInfluential, type InfluenceScores } from './influence.js'
import { loadModelFile } from './model-file.js'
import { influenceReport } from './report.js'

const data = (what: string) =>
  z
    .object({
      x: schemas.matrix({ description: `the ${what} inputs, one row per example` }),
      y: schemas
        .labels({ description: `the class of each ${what} row` })
        .optional()
        .describe(
          what === 'training'
            ? "the class of each training row; required unless labels is 'oracle' (then the oracle labels the rows)"
            : "the class of each test row (the loss being explained); default: the oracle's label when labels is 'oracle', else the model's own prediction",
        ),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.y !== undefined && v.y.length !== v.x.rows) ctx.addIssue({ code: 'custom', path: ['y'], message: `has ${v.y.length} labels for ${v.x.rows} rows` })
    })
    .describe(`${what} examples: { x: rows of numbers, y?: one class index per row }`)

const dataset = z
  .object({
    name: z.enum(['digits', 'iris']).describe("a dataset bundled with @sonde/datasets: 'digits' (MNIST, 28×28 grey levels in [0, 1], 10 classes) or 'iris' (4 features, 3 classes)"),
    trainRows: z.number().int().min(2).default(500).describe('training rows drawn from the dataset (seeded by the run seed)'),
    testRows: z.number().int().min(1).max(100).default(1).describe('test rows drawn after the training rows (disjoint from them)'),
  })
  .strict()
  .describe('a named dataset instead of train/test (needs @sonde/datasets installed)')

const options = z
  .object({
    model: z
      .union([
        z.enum(['oracle', 'softmax', 'logistic']),
        z.object({ file: z.string().min(1).describe('path of a saved logistic or softmax model: JSON { kind, weights, bias, l2 }') }).strict(),
      ])
      .default('oracle')
      .describe(
        "the model whose training points are scored: 'oracle' (the oracle is itself a white-box model: requires whitebox), 'softmax' or 'logistic' (fitted by the probe on train with l2), or { file } (a saved model, fit with its own l2 on train)",
      ),
    labels: z
      .enum(['given', 'oracle'])
      .default('given')
      .describe("where the training labels come from: 'given' (train.y) or 'oracle' (the probe queries the oracle for them, to explain the oracle's behaviour through the model it fits; needs model 'softmax' or 'logistic')"),
    l2: z.number().min(0).default(0.01).describe("L2 strength of the fitted model (model 'softmax' or 'logistic'): the objective is mean cross-entropy + (l2/2)‖θ‖²"),
    train: data('training').optional(),
    test: data('test').optional(),
    dataset: dataset.optional(),
    method: z.enum(['exact', 'cg', 'lissa']).default('cg').describe("inverse Hessian: 'exact' (Cholesky, p² memory), 'cg' (conjugate gradients) or 'lissa' (stochastic, seeded by the run seed)"),
    damping: z.number().min(0).optional().describe("λ added to the Hessian (H + λI): default the model's own (0 for a convex fit)"),
    tolerance: z.number().gt(0).lt(1).optional().describe("'cg': relative residual to reach (default 1e-10); 'lissa': largest final residual accepted (default 0.05)"),
    maxIter: z.number().int().min(1).default(1000).describe("'cg': most iterations per solve"),
    scale: z.number().gt(0).optional().describe("'lissa': the scale S above every mini-batch Hessian's top eigenvalue (default automatic)"),
    depth: z.number().int().min(1).default(5000).describe("'lissa': recursion steps per repeat"),
    repeats: z.number().int().min(1).default(1).describe("'lissa': independent recursions averaged"),
    batchSize: z.number().int().min(1).default(32).describe("'lissa': training rows per mini-batch Hessian"),
    top: z.number().int().min(1).max(100).default(10).describe('training rows listed per test point, in each direction (helpful and harmful)'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.dataset === undefined && (o.train === undefined || o.test === undefined)) {
      ctx.addIssue({ code: 'custom', path: [o.train === undefined ? 'train' : 'test'], message: 'is missing: give train and test, or a dataset' })
    }
    if (o.dataset !== undefined && (o.train !== undefined || o.test !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['dataset'], message: 'is given together with train/test; give one or the other' })
    }
    const fitted = o.model === 'softmax' || o.model === 'logistic'
    if (o.labels === 'oracle' && !fitted) ctx.addIssue({ code: 'custom', path: ['labels'], message: "is 'oracle', which needs a model the probe fits itself ('softmax' or 'logistic')" })
    if (o.labels === 'oracle' && o.train?.y !== undefined) ctx.addIssue({ code: 'custom', path: ['train', 'y'], message: "is given while labels is 'oracle'; leave it out (the oracle labels the rows)" })
    if (o.labels === 'given' && o.train !== undefined && o.train.y === undefined) ctx.addIssue({ code: 'custom', path: ['train', 'y'], message: "is missing; give the training labels, or set labels to 'oracle'" })
    if (o.train !== undefined && o.test !== undefined && o.train.x.cols !== o.test.x.cols) {
      ctx.addIssue({ code: 'custom', path: ['test', 'x'], message: `has ${o.test.x.cols} columns; the training rows have ${o.train.x.cols}` })
    }
    if (o.batchSize !== undefined && o.method === 'lissa' && o.train !== undefined && o.batchSize > o.train.x.rows) {
      ctx.addIssue({ code: 'custom', path: ['batchSize'], message: `is ${o.batchSize}; the training set has ${o.train.x.rows} rows` })
    }
  })

/** Options of {@link influenceProbe} (decoded): the model, the data and the solver's settings. */
export type InfluenceProbeOptions = z.infer<typeof options>

/** Where the model the probe scored came from. */
export type InfluenceModelSource = 'oracle' | 'softmax' | 'logistic' | 'file'

/** What {@link influenceProbe} returns: the scores, the data they refer to, and per test point its most helpful and harmful training rows. */
export interface InfluenceProbeResult extends InfluenceScores {
  /** Per test point, the `top` training rows of largest positive score (removing them raises its loss). */
  readonly helpful: readonly Int32Array[]
  /** Per test point, the `top` training rows of most negative score. */
  readonly harmful: readonly Int32Array[]
  /** The training examples scored (labels as used: given or the oracle's). */
  readonly train: Examples
  /** The test examples (labels as used: given, the oracle's, or the model's own prediction). */
  readonly test: Examples
  /** The model's prediction for each test row. */
  readonly predicted: Int32Array
  /** Where the labels came from: `given`, `oracle` (queried) or `predicted` (the model's own call). */
  readonly trainLabels: 'given' | 'oracle'
  readonly testLabels: 'given' | 'oracle' | 'predicted'
  readonly model: InfluenceModelSource
  readonly numParams: number
  /** ‖∇F(θ̂)‖ on the training set: influence assumes an optimum (near 0); a large value says the scores are off. */
  readonly gradientNorm: number
  /** [height, width] when each row is a square grey image (or the oracle says its shape). */
  readonly imageShape?: readonly [number, number]
  /** Oracle queries: the labels bought with `labels: 'oracle'`; none otherwise. */
  readonly queries: QueryUsage
}

type Data = { readonly train: { readonly x: Matrix; readonly y?: Int32Array | undefined }; readonly test: { readonly x: Matrix; readonly y?: Int32Array | undefined }; readonly inputShape?: readonly number[] }

/** The named dataset's rows: a seeded draw of trainRows then testRows, disjoint. */
const loadDataset = async (d: NonNullable<InfluenceProbeOptions['dataset']>, seed: number): Promise<E.Either<ProbeError, Data>> => {
  let mod: typeof import('@sonde/datasets')
  try {
    mod = await import('@sonde/datasets')
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: 'options.dataset', message: `needs @sonde/datasets (npm install @sonde/datasets): ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
  const ds = d.name === 'digits' ? mod.loadMnist() : mod.loadIris()
  const n = ds.x.rows
  if (d.trainRows + d.testRows > n) {
    return E.left(errors.invalidOptions([{ path: 'options.dataset.trainRows', message: `${d.trainRows} + ${d.testRows} test rows exceed the ${n} rows of '${d.name}'` }]))
  }
  const order = permutation(n, createRng(seed))
  const tr = order.subarray(0, d.trainRows)
  const te = order.subarray(d.trainRows, d.trainRows + d.testRows)
  return E.right({
    train: { x: takeRows(ds.x, tr), y: Int32Array.from(tr, (i) => ds.y[i]!) },
    test: { x: takeRows(ds.x, te), y: Int32Array.from(te, (i) => ds.y[i]!) },
    ...(ds.inputShape !== undefined ? { inputShape: ds.inputShape } : {}),
  })
}


const squareShape = (cols: number, inputShape?: readonly number[]): readonly [number, number] | undefined => {
  if (inputShape !== undefined && inputShape.length >= 2 && (inputShape.length === 2 || inputShape[2] === 1) && inputShape[0]! * inputShape[1]! === cols) return [inputShape[0]!, inputShape[1]!]
  const side = Math.round(Math.sqrt(cols))
  return side >= 4 && side * side === cols ? [side, side] : undefined
}

const bad = (path: string, message: string): E.Either<ProbeError, never> => E.left(errors.invalidOptions([{ path, message }]))

const classesOf = (m: TwiceDifferentiable, fallback: number): number => (m as { readonly info?: { readonly numClasses?: number } }).info?.numClasses ?? fallback

const maxLabel = (...ys: (Int32Array | undefined)[]): number => ys.reduce((a, y) => (y === undefined ? a : y.reduce((b, v) => Math.max(b, v), a)), 0)

const run = (oracle: Oracle, o: InfluenceProbeOptions, ctx: ProbeContext): TE.TaskEither<ProbeError, InfluenceProbeResult> =>
  guarded(async () => {
    const tracked = trackQueries(oracle)
    const control = { ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}), progress: ctx.progress, log: ctx.log }
    const prep = stage(control, 'preparing', 1)
    const first = prep.check(0)
    if (E.isLeft(first)) return first
    // 1. The data, then every check that needs it — all before the first paid query.
    const loaded: E.Either<ProbeError, Data> = o.dataset !== undefined ? await loadDataset(o.dataset, ctx.seed) : E.right({ train: o.train!, test: o.test! })
    if (E.isLeft(loaded)) return loaded
    const { train, test } = loaded.right
    const d = train.x.cols
    const usesOracle = o.model === 'oracle' || o.labels === 'oracle'
    if (usesOracle && oracle.info.inputDim !== d) return E.left(errors.shapeMismatch('options.train.x', `${oracle.info.inputDim} columns (the oracle's inputDim)`, `${d} columns`))
    if (o.model === 'logistic' && o.labels === 'oracle' && oracle.info.numClasses !== 2) {
      return bad('options.model', `is 'logistic', but the oracle has ${oracle.info.numClasses} classes; use 'softmax'`)
    }
    if (o.model === 'logistic' && o.labels === 'given' && maxLabel(train.y, test.y) > 1) return bad('options.model', "is 'logistic', but the labels go beyond 0 and 1; use 'softmax'")
    // 2. The model.
    let model: TwiceDifferentiable
    let trainY: Int32Array
    if (o.model === 'oracle' || typeof o.model === 'object') {
      let m: E.Either<ProbeError, TwiceDifferentiable>
      if (o.model === 'oracle') {
        m = validateModel(oracle)
      } else {
        m = await loadModelFile(o.model.file)()
      }
      if (E.isLeft(m)) return o.model === 'oracle' ? E.left(errors.missingCapability('whitebox', oracle.info.id, m.left.message)) : m
      const shape = (m.right as { readonly info?: { readonly inputDim?: number } }).info?.inputDim
      if (shape !== undefined && shape !== d) return E.left(errors.shapeMismatch('options.train.x', `${shape} columns (the model's input dimension)`, `${d} columns`))
      model = m.right
      trainY = train.y!
    } else {
      // Labels from the oracle (counted), then the fit — the model the probe explains the oracle with.
      if (o.labels === 'oracle') {
        const s = stage(control, 'labelling', 1)
        const ok = s.check(0)
        if (E.isLeft(ok)) return ok
        const answer = await tracked.oracle.predict(train.x)()
        if (E.isLeft(answer)) return answer
        const checked = validatePrediction(oracle.info, train.x.rows, answer.right)
        if (E.isLeft(checked)) return checked
        trainY = checked.right.labels
        s.check(1)
      } else {
        trainY = train.y!
      }
      const s = stage(control, 'fitting', 1)
      const ok = s.check(0)
      if (E.isLeft(ok)) return ok
      const k = o.labels === 'oracle' ? oracle.info.numClasses : Math.max(2, maxLabel(trainY, test.y) + 1)
      // The fit is abortable between Newton steps (fitTask), and reports its own progress.
      const fit =
        o.model === 'logistic'
          ? await LogisticRegression.fitTask(train.x, trainY, { l2: o.l2, ...control })()
          : await SoftmaxRegression.fitTask(train.x, trainY, { l2: o.l2, numClasses: k, ...control })()
      if (E.isLeft(fit)) return E.left(fit.left._tag === 'NotConverged' ? errors.trainingFailed(`fitting ${o.model} regression on ${train.x.rows} rows: ${fit.left.message}`) : fit.left)
      ctx.log(`fitted ${o.model} regression on ${train.x.rows} rows (l2 ${o.l2}): ‖∇F‖ = ${fit.right.report.gradientNorm.toExponential(1)}`)
      model = fit.right.model
      const done = s.check(1)
      if (E.isLeft(done)) return done
    }
    // 3. Test labels: given, else the oracle's (counted), else the model's own call.
    const classes = classesOf(model, Math.max(2, maxLabel(trainY, test.y) + 1))
    const predicted = labelsByLoss(model, test.x, classes)
    let testY: Int32Array
    let testLabels: InfluenceProbeResult['testLabels']
    if (test.y !== undefined) {
      testY = test.y
      testLabels = 'given'
    } else if (o.labels === 'oracle') {
      const answer = await tracked.oracle.predict(test.x)()
      if (E.isLeft(answer)) return answer
      const checked = validatePrediction(oracle.info, test.x.rows, answer.right)
      if (E.isLeft(checked)) return checked
      testY = checked.right.labels
      testLabels = 'oracle'
    } else {
      testY = predicted
      testLabels = 'predicted'
    }
    const trainSet = { x: train.x, y: trainY }
    const testSet = { x: test.x, y: testY }
    // 4. The scores.
    const scores = await influenceOnTest(model, trainSet, testSet, {
      method: o.method,
      ...(o.damping !== undefined ? { damping: o.damping } : {}),
      ...(o.tolerance !== undefined ? { tolerance: o.tolerance } : {}),
      maxIter: o.maxIter,
      ...(o.scale !== undefined ? { scale: o.scale } : {}),
      depth: o.depth,
      repeats: o.repeats,
      batchSize: Math.min(o.batchSize, train.x.rows),
      seed: ctx.seed,
      ...control,
    })()
    if (E.isLeft(scores)) return scores
    const rows = Array.from({ length: scores.right.scores.rows }, (_, a) => a)
    const rank = (a: number, dir: 'helpful' | 'harmful'): Int32Array => {
      const r = mostInfluential(scores.right, a, o.top, dir)
      return E.isRight(r) ? r.right : new Int32Array(0)
    }
    const imageShape = squareShape(d, loaded.right.inputShape ?? (usesOracle ? oracle.info.inputShape : undefined))
    return E.right({
      ...scores.right,
      helpful: rows.map((a) => rank(a, 'helpful')),
      harmful: rows.map((a) => rank(a, 'harmful')),
      train: trainSet,
      test: testSet,
      predicted,
      trainLabels: o.labels,
      testLabels,
      model: typeof o.model === 'object' ? 'file' : o.model,
      numParams: model.numParams,
      gradientNorm: norm2(model.objectiveGradient(trainSet.x, trainSet.y)),
      ...(imageShape !== undefined ? { imageShape } : {}),
      queries: tracked.usage(),
      seed: ctx.seed,
    })
  })

/**
 * The influence probe: which training rows raise or lower each test point's loss (Koh & Liang's influence
 * functions, with an exact, CG or LiSSA inverse Hessian), from JSON options alone.
 *
 * The model is the oracle itself when it is white-box (`model: 'oracle'`, requires `whitebox`), a logistic or
 * softmax regression the probe fits on `train` (`'logistic'`, `'softmax'`; no queries — or, with
 * `labels: 'oracle'`, on labels it buys from the oracle, counted, to explain the oracle's behaviour), or a saved
 * model (`{ file }`). Data: `train`/`test` as rows of numbers, or `dataset: { name: 'digits' | 'iris' }`.
 * Without test labels the loss explained is that of the model's own prediction.
 *
 * @example
 * // fragment: an oracle and labelled data as rows of numbers
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { influenceProbe } from '@sonde/influence'
 *
 * declare const oracle: Oracle
 * declare const train: { x: number[][]; y: number[] }
 * declare const test: { x: number[][]; y: number[] }
 * const r = await toPromise(runProbe(influenceProbe, oracle, { model: 'softmax', train, test, top: 5 }, makeContext({ seed: 1 })))
 * const helpful = r.helpful[0] // the training rows that most support test point 0's label
 */
export const influenceProbe: Probe<Oracle, InfluenceProbeOptions, InfluenceProbeResult> = {
  id: 'sonde/influence',
  summary: 'which training rows raise or lower each test loss (influence functions: exact, CG or LiSSA inverse Hessian)',
  requires: (o: InfluenceProbeOptions): readonly Capability[] => (o.model === 'oracle' ? ['whitebox'] : o.labels === 'oracle' ? ['labels'] : []),
  options,
  run,
  report: (r: InfluenceProbeResult): ProbeReport => influenceReport(r),
}
