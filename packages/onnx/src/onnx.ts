import { either as E, taskEither as TE, function as F } from 'fp-ts'
import {
  decodeWith,
  errors,
  guardGradient,
  guardPredict,
  labelsFromScores,
  labelThreshold,
  schemas,
  validateInfo,
  validateScores,
  z,
  type Domain,
  type GradientOracle,
  type InvalidOptions,
  type Matrix,
  type Oracle,
  type OracleError,
  type OracleInfo,
  type OutputKind,
  type Prediction,
} from '@sonde/oracle'

// The few members of onnxruntime-node this adapter uses, typed here so that its types are not needed to compile
// against @sonde/onnx (it is an optional peer).
interface OrtTensor {
  readonly type: string
  readonly dims: readonly number[]
  readonly data: unknown
}
interface OrtValueMetadata {
  readonly name: string
  readonly isTensor: boolean
  readonly type?: string
  readonly shape?: ReadonlyArray<number | string>
}
interface OrtSession {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  readonly inputMetadata?: readonly OrtValueMetadata[]
  readonly outputMetadata?: readonly OrtValueMetadata[]
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>
  release(): Promise<void>
}
/** What `import('onnxruntime-node')` gives: its session factory and tensor class. */
export interface OnnxRuntime {
  readonly InferenceSession: { create(path: string, options?: Record<string, unknown>): Promise<OrtSession> }
  readonly Tensor: new (type: 'float32' | 'float64', data: Float32Array | Float64Array, dims: readonly number[]) => OrtTensor
}

/** Options of {@link fromOnnxFile}. */
export interface OnnxOracleOptions {
  /** What the chosen output holds, which is what the oracle reveals: `'probabilities'` (default), `'logits'` or `'label'`. */
  readonly output?: OutputKind
  /** The output to read; default: the model's first output. */
  readonly outputName?: string
  /** The input to feed; default: the model's only input. */
  readonly inputName?: string
  /** Default `onnx:<file name>`. */
  readonly id?: string
  /** Shape of one input, where the model leaves a dimension symbolic; default: from the input's metadata. */
  readonly inputShape?: readonly number[]
  /** Number of classes, where the output's metadata leaves it symbolic. */
  readonly numClasses?: number
  readonly domain?: Domain
  readonly classNames?: readonly string[]
  /** Rows per `session.run`; a larger query runs in chunks, one after another. Default 1024. */
  readonly maxBatchRows?: number
  /**
   * The step h of the central differences behind `gradient` (absolute, in input units). Default 1e-3 for a
   * float32 input (float32 rounding, ~6e-8 relative, divided by h stays ~1e-4), 1e-5 for a float64 input.
   */
  readonly gradientStep?: number
}

/** How an oracle's gradients are computed, where they are not exact. */
export interface GradientApproximation {
  readonly method: 'central-differences'
  /** The step h: each gradient entry is (f(x + h eⱼ) − f(x − h eⱼ)) / 2h. */
  readonly step: number
  /** Truncation error O(h²) plus the model's rounding error divided by h. */
  readonly exact: false
}

/** `OracleInfo` of an ONNX oracle: also says how its gradients are approximated. */
export interface OnnxOracleInfo extends OracleInfo {
  /** Present when the oracle has gradients: they are central differences, not autograd. */
  readonly gradientApproximation?: GradientApproximation
}

/** An ONNX model as an oracle; a {@link GradientOracle} (approximate gradients) unless it reveals labels only. */
export interface OnnxOracle extends Oracle {
  readonly info: OnnxOracleInfo
  /** Release the onnxruntime session (its native memory). Queries after it fail. */
  readonly release: () => Promise<void>
}

const optionsSchema = z
  .object({
    output: z.enum(['probabilities', 'logits', 'label']).default('probabilities'),
    outputName: z.string().min(1).optional(),
    inputName: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
    inputShape: z.array(z.number().int().min(1)).min(1).optional(),
    numClasses: z.number().int().min(1).optional(),
    domain: z.object({ lower: schemas.bound('lower bounds'), upper: schemas.bound('upper bounds') }).strict().optional(),
    classNames: z.array(z.string()).optional(),
    maxBatchRows: z.number().int().min(1).default(1024),
    gradientStep: z.number().positive().max(1).optional(),
  })
  .strict()

type Resolved = z.output<typeof optionsSchema>

/** What {@link fromOnnxFile} can fail with. */
export type OnnxOracleError = OracleError | InvalidOptions

const missingRuntime = (cause: unknown): OracleError =>
  errors.missingCapability(
    'onnxruntime-node',
    'onnx',
    `onnxruntime-node could not be loaded (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}); install it beside @sonde/onnx: \`npm install onnxruntime-node@^1.30.0\`, with the line \`onnxruntime-node-install=skip\` in your .npmrc if its CUDA download fails`,
  )

/**
 * Load onnxruntime-node, the optional peer; `MissingCapability` saying what to install if it cannot be loaded.
 *
 * @example
 * // fragment: loads onnxruntime-node (native, slow to load)
 * import { loadOnnxRuntime } from '@sonde/onnx'
 *
 * const runtime = await loadOnnxRuntime()() // Right(runtime), or Left(MissingCapability: … npm install onnxruntime-node …)
 */
export const loadOnnxRuntime = (): TE.TaskEither<OracleError, OnnxRuntime> => runtimeFrom(() => import('onnxruntime-node'))

/** The runtime from a module loader (CommonJS: its exports sit on `default` under some loaders). */
export const runtimeFrom = (load: () => Promise<unknown>): TE.TaskEither<OracleError, OnnxRuntime> =>
  TE.tryCatch(async () => {
    const m = (await load()) as Partial<OnnxRuntime> & { default?: Partial<OnnxRuntime> }
    const rt = m.InferenceSession !== undefined ? m : m.default
    if (rt?.InferenceSession === undefined || rt.Tensor === undefined) throw new Error('it has no InferenceSession')
    return rt as OnnxRuntime
  }, missingRuntime)

const floatType = (t: string | undefined): 'float32' | 'float64' | undefined => (t === 'float32' || t === 'float64' ? t : undefined)
const dimsOf = (shape: ReadonlyArray<number | string> | undefined): number[] | undefined => shape?.map((d) => (typeof d === 'number' && d > 0 ? d : Number.NaN))
const fileName = (path: string): string => path.split(/[\\/]/).pop() ?? path

const bad = (path: string, message: string): InvalidOptions => errors.invalidOptions([{ path, message }])

interface Plan {
  readonly session: OrtSession
  readonly runtime: OnnxRuntime
  readonly inputName: string
  readonly inputType: 'float32' | 'float64'
  readonly outputName: string
  readonly info: OracleInfo
  readonly classIndices: boolean
}

const plan = (runtime: OnnxRuntime, session: OrtSession, o: Resolved, path: string): E.Either<OnnxOracleError, Plan> => {
  const inputs: readonly OrtValueMetadata[] = session.inputMetadata ?? session.inputNames.map((name) => ({ name, isTensor: true }))
  const outputs: readonly OrtValueMetadata[] = session.outputMetadata ?? session.outputNames.map((name) => ({ name, isTensor: true }))
  const input = o.inputName === undefined ? (inputs.length === 1 ? inputs[0] : undefined) : inputs.find((m) => m.name === o.inputName)
  if (input === undefined) {
    return E.left(bad('options.inputName', o.inputName === undefined ? `is required: the model has inputs ${inputs.map((m) => `'${m.name}'`).join(', ')}` : `is '${o.inputName}'; the model's inputs are ${inputs.map((m) => `'${m.name}'`).join(', ')}`))
  }
  const output = o.outputName === undefined ? outputs[0] : outputs.find((m) => m.name === o.outputName)
  if (output === undefined) return E.left(bad('options.outputName', `is '${o.outputName}'; the model's outputs are ${outputs.map((m) => `'${m.name}'`).join(', ')}`))
  const inputType = floatType(input.type)
  if (inputType === undefined) return E.left(errors.badResponse(`input '${input.name}' of ${path} is ${String(input.type)}; fromOnnxFile feeds float32 or float64 tensors`))
  const outputType = output.type
  const indexOutput = outputType === 'int64' || outputType === 'int32'
  if (floatType(outputType) === undefined && !(o.output === 'label' && indexOutput)) {
    return E.left(errors.badResponse(`output '${output.name}' of ${path} is ${String(outputType)}; fromOnnxFile reads float32 or float64 scores${o.output === 'label' ? ' or int64 class indices' : ''}`))
  }
  const inDims = dimsOf(input.shape)?.slice(1)
  const inputShape = o.inputShape ?? inDims
  if (inputShape === undefined || inputShape.length === 0 || inputShape.some((d) => !(d > 0))) {
    return E.left(bad('options.inputShape', `is required: input '${input.name}' has shape [${(input.shape ?? []).join(', ')}], which leaves the size of one row open`))
  }
  const outDims = dimsOf(output.shape)?.slice(1)
  const columns = outDims !== undefined && outDims.every((d) => d > 0) ? outDims.reduce((a, b) => a * b, 1) : undefined
  const classIndices = o.output === 'label' && (indexOutput || columns === 1)
  const numClasses = classIndices ? o.numClasses : (columns ?? o.numClasses)
  if (numClasses === undefined) return E.left(bad('options.numClasses', `is required: output '${output.name}' has shape [${(output.shape ?? []).join(', ')}], which does not say how many classes there are`))
  if (!classIndices && o.numClasses !== undefined && columns !== undefined && o.numClasses !== columns) return E.left(bad('options.numClasses', `is ${o.numClasses}, but output '${output.name}' has ${columns} columns`))
  const info: OracleInfo = {
    id: o.id ?? `onnx:${fileName(path)}`,
    inputDim: inputShape.reduce((a, b) => a * b, 1),
    ...(inputShape.length > 1 ? { inputShape } : {}),
    numClasses,
    output: o.output,
    ...(o.domain === undefined ? {} : { domain: o.domain }),
    ...(o.classNames === undefined ? {} : { classNames: o.classNames }),
  }
  return F.pipe(
    validateInfo(info),
    E.bimap(
      (e) => bad('options', `do not fit ${path}: ${e.message}`),
      (i) => ({ session, runtime, inputName: input.name, inputType, outputName: output.name, info: i, classIndices }),
    ),
  )
}

/** Run the session on `x` in chunks of `maxRows`, one after another: the chosen output as float64, row-major. */
const runRows = (p: Plan, x: Matrix, maxRows: number, cols: number): TE.TaskEither<OracleError, Float64Array> =>
  TE.tryCatch(
    async () => {
      const out = new Float64Array(x.rows * cols)
      const shape = p.info.inputShape ?? [p.info.inputDim]
      for (let s = 0; s < x.rows; s += maxRows) {
        const e = Math.min(x.rows, s + maxRows)
        const slice = x.data.subarray(s * x.cols, e * x.cols)
        const data = p.inputType === 'float32' ? new Float32Array(slice) : new Float64Array(slice)
        const feeds = { [p.inputName]: new p.runtime.Tensor(p.inputType, data, [e - s, ...shape]) }
        const result = await p.session.run(feeds, [p.outputName])
        const t = result[p.outputName]
        const values = t?.data
        if (t === undefined || !(ArrayBuffer.isView(values) && 'length' in values)) throw new Error(`the run returned no tensor '${p.outputName}'`)
        const list = values as unknown as ArrayLike<number | bigint>
        if (list.length !== (e - s) * cols) throw new Error(`output '${p.outputName}' has ${list.length} values (dims [${t.dims.join(', ')}]) for ${e - s} rows; expected ${(e - s) * cols}`)
        for (let k = 0; k < list.length; k++) out[s * cols + k] = Number(list[k]!)
      }
      return out
    },
    (cause) => errors.badResponse(`onnxruntime failed on '${p.info.id}': ${cause instanceof Error ? cause.message : String(cause)}`, cause),
  )

/** The score an oracle's gradient differentiates: a logit, or one recovered from a probability (log p; logit p for one column). */
const logitOf = (info: OracleInfo, v: number): number =>
  info.output === 'logits' ? v : info.numClasses === 1 ? Math.log(v) - Math.log1p(-v) : Math.log(v)

/**
 * An oracle for an ONNX model file, run by onnxruntime-node (an optional peer: install it beside this package).
 *
 * `info` comes from the session's input and output metadata: the input's shape without its batch dimension,
 * the number of classes from the output's last dimensions; FP32 and FP64 inputs (`float32`/`float64`). `output`
 * says what the chosen output holds, as for `fromHttp`: `'probabilities'` (default), `'logits'`, or `'label'`
 * (class indices, or scores of which only the argmax is revealed). Queries of more than `maxBatchRows` rows run
 * in chunks.
 *
 * Gradients are **approximate**: ONNX Runtime has no gradient API for inference sessions, so `gradient(x, c)` is
 * a batched central difference, (s(x + h eⱼ) − s(x − h eⱼ)) / 2h for each feature j, all 2·d rows of each query
 * row in one run, where s is the logit (for a probability output, log p — a logit up to a constant per row — or
 * log(p / (1 − p)) for one column). h is `gradientStep`: 1e-3 for a float32 model, 1e-5 for float64; the error is
 * O(h²) plus the model's rounding divided by h (~1e-4 relative for float32). `info.gradientApproximation` says so.
 *
 * If onnxruntime-node cannot be loaded the task fails with `MissingCapability` saying what to install.
 *
 * @example
 * // fragment: needs onnxruntime-node and a model.onnx file
 * import { fromRows, hasGradients, toPromise } from '@sonde/oracle'
 * import { fromOnnxFile } from '@sonde/onnx'
 *
 * const oracle = await toPromise(fromOnnxFile('model.onnx', { output: 'probabilities' }))
 * const x = fromRows([[5.1, 3.5, 1.4, 0.2]])
 * const p = await toPromise(oracle.predict(x))
 * // central differences, as oracle.info.gradientApproximation says
 * const g = hasGradients(oracle) ? await toPromise(oracle.gradient(x, 0)) : undefined
 * await oracle.release()
 */
export const fromOnnxFile = (path: string, options: OnnxOracleOptions = {}): TE.TaskEither<OnnxOracleError, OnnxOracle> =>
  fromOnnxFileWith(loadOnnxRuntime(), path, options)

/** {@link fromOnnxFile} with the runtime given (tests use it to show the missing-runtime error). */
export const fromOnnxFileWith = (runtime: TE.TaskEither<OracleError, OnnxRuntime>, path: string, options: OnnxOracleOptions = {}): TE.TaskEither<OnnxOracleError, OnnxOracle> =>
  F.pipe(
    TE.fromEither(typeof path === 'string' && path !== '' ? decodeWith(optionsSchema, options) : E.left(bad('path', `is ${JSON.stringify(path)}; expected the path of an .onnx file`))),
    TE.chainW((o) =>
      F.pipe(
        runtime,
        TE.chainW((rt) =>
          F.pipe(
            TE.tryCatch(
              () => rt.InferenceSession.create(path),
              (cause): OracleError => errors.invalidInput(`cannot load the ONNX model ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, 'path'),
            ),
            TE.chainEitherKW((session) => plan(rt, session, o, path)),
          ),
        ),
        TE.map((p) => assemble(p, o)),
      ),
    ),
  )

const assemble = (p: Plan, o: Resolved): OnnxOracle => {
  const base = p.info
  const cols = p.classIndices ? 1 : base.numClasses
  const predictOnce = (x: Matrix): TE.TaskEither<OracleError, Prediction> =>
    F.pipe(
      runRows(p, x, o.maxBatchRows, cols),
      TE.chainEitherK((values): E.Either<OracleError, Prediction> => {
        if (p.classIndices) {
          const labels = new Int32Array(x.rows)
          for (let i = 0; i < x.rows; i++) {
            const l = values[i]!
            if (!(Number.isInteger(l) && l >= 0 && l < Math.max(2, base.numClasses))) return E.left(errors.badResponse(`'${base.id}' returned class ${l} for row ${i}; expected 0..${Math.max(2, base.numClasses) - 1}`))
            labels[i] = l
          }
          return E.right({ labels })
        }
        return F.pipe(
          validateScores(base.output === 'label' ? { ...base, output: 'logits' } : base, x.rows, { rows: x.rows, cols, data: values }),
          E.map((scores) => {
            const labels = labelsFromScores(scores, base.output === 'label' ? 0.5 : labelThreshold(base))
            return base.output === 'label' ? { labels } : { labels, scores }
          }),
        )
      }),
    )
  const release = async (): Promise<void> => p.session.release()
  if (base.output === 'label') return { info: base, predict: guardPredict(base, predictOnce), release }

  const h = o.gradientStep ?? (p.inputType === 'float32' ? 1e-3 : 1e-5)
  const info: OnnxOracleInfo = { ...base, gradientApproximation: { method: 'central-differences', step: h, exact: false } }
  const d = info.inputDim
  const k = info.numClasses
  // All 2·d perturbed copies of every row, in one batched run: row (i, j, ±) at 2(i·d + j) + {0, 1}.
  const gradient = guardGradient(info, (x, cls) => {
    const probe = new Float64Array(x.rows * 2 * d * d)
    for (let i = 0; i < x.rows; i++) {
      const xi = x.data.subarray(i * d, (i + 1) * d)
      for (let j = 0; j < d; j++) {
        const at = 2 * (i * d + j) * d
        probe.set(xi, at)
        probe.set(xi, at + d)
        probe[at + j] = xi[j]! + h
        probe[at + d + j] = xi[j]! - h
      }
    }
    return F.pipe(
      runRows(p, { rows: 2 * x.rows * d, cols: d, data: probe }, o.maxBatchRows, k),
      TE.chainEitherK((s): E.Either<OracleError, Matrix> => {
        const g = new Float64Array(x.rows * d)
        for (let i = 0; i < x.rows; i++) {
          const c = cls[i]!
          for (let j = 0; j < d; j++) {
            const r = 2 * (i * d + j)
            const v = (logitOf(info, s[r * k + c]!) - logitOf(info, s[(r + 1) * k + c]!)) / (2 * h)
            if (!Number.isFinite(v)) return E.left(errors.badResponse(`the central difference of '${info.id}' at gradient[${i}][${j}] is ${v}: a probability of 0 or 1 near x[${i}] has no finite logit`))
            g[i * d + j] = v
          }
        }
        return E.right({ rows: x.rows, cols: d, data: g })
      }),
    )
  })
  const oracle: OnnxOracle & GradientOracle = { info, predict: guardPredict(info, predictOnce), gradient, release }
  return oracle
}
