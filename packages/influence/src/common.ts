import { either as E, taskEither as TE } from 'fp-ts'
import { errorFromThrown, errors, validateSeed, type InvalidOptions, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import type { TwiceDifferentiable } from '@sonde/models'

/** Training (or test) examples: one label per row. */
export interface Examples {
  readonly x: Matrix
  readonly y: Int32Array
}

/** One bad option, as `InvalidOptions`. */
export const invalidOption = (path: string, message: string): E.Either<InvalidOptions, never> => E.left(errors.invalidOptions([{ path, message }]))

/**
 * A TaskEither around an async body that calls a caller's model (or callbacks): a throw or rejection from it
 * becomes `PluginFailed` (a `SondeError` keeps its typed error), never escapes.
 */
export const guarded =
  <A>(body: () => Promise<E.Either<ProbeError, A>>): TE.TaskEither<ProbeError, A> =>
  async () => {
    try {
      return await body()
    } catch (cause) {
      return E.left(errorFromThrown(cause, (message) => errors.pluginFailed('the model', `a method of the white-box model threw: ${message}`, cause)))
    }
  }

/** The options object itself: a plain object (a JavaScript caller may pass anything). */
export const checkObject = (o: unknown, path = 'options'): E.Either<InvalidOptions, void> =>
  o !== null && typeof o === 'object' && !Array.isArray(o) ? E.right(undefined) : invalidOption(path, `is ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}; expected an object of options`)

/** Options renamed by the probe contract: refused by name rather than silently ignored. */
export const checkRenamed = (o: object, renamed: Readonly<Record<string, string>>): E.Either<InvalidOptions, void> => {
  const issues = Object.keys(renamed)
    .filter((k) => k in o && (o as Record<string, unknown>)[k] !== undefined)
    .map((k) => ({ path: `options.${k}`, message: `was renamed to options.${renamed[k]}` }))
  return issues.length === 0 ? E.right(undefined) : E.left(errors.invalidOptions(issues))
}

/** `signal` (an AbortSignal), `progress` and `log` (functions), when given. */
export const checkControl = (o: RunControl): E.Either<InvalidOptions, void> => {
  if (o.signal !== undefined && typeof (o.signal as { aborted?: unknown } | null)?.aborted !== 'boolean') return invalidOption('options.signal', 'is not an AbortSignal')
  if (o.progress !== undefined && typeof o.progress !== 'function') return invalidOption('options.progress', `is ${typeof o.progress}; expected a function`)
  if (o.log !== undefined && typeof o.log !== 'function') return invalidOption('options.log', `is ${typeof o.log}; expected a function`)
  return E.right(undefined)
}

/**
 * The seed of a deterministic function: optional (default 0), a safe integer when given, and echoed in the
 * result — no random choice is made; the seed is recorded.
 */
export const optionalSeed = (seed: unknown): E.Either<InvalidOptions, number> => (seed === undefined ? E.right(0) : validateSeed(seed, 'options.seed'))

/** The RunControl part of an options object (what `stage` reads). */
export const controlOf = (o: RunControl | undefined): RunControl => ({
  ...(o?.signal !== undefined ? { signal: o.signal } : {}),
  ...(o?.progress !== undefined ? { progress: o.progress } : {}),
  ...(o?.log !== undefined ? { log: o.log } : {}),
})

/** A finite number ≥ min (or > min when `strict`), when given. */
export const checkNumber = (v: unknown, path: string, { min = -Infinity, strict = false, max = Infinity, maxStrict = false, integer = false } = {}): E.Either<InvalidOptions, void> => {
  if (v === undefined) return E.right(undefined)
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (strict ? v > min : v >= min) &&
    (maxStrict ? v < max : v <= max) &&
    (!integer || Number.isInteger(v))
  if (ok) return E.right(undefined)
  const range = `${strict ? '>' : '≥'} ${min}${max < Infinity ? ` and ${maxStrict ? '<' : '≤'} ${max}` : ''}`
  return invalidOption(path, `is ${typeof v === 'string' ? JSON.stringify(v) : String(v)}; expected ${integer ? 'an integer' : 'a finite number'} ${range}`)
}

const isMatrix = (u: unknown): u is Matrix => {
  if (u === null || typeof u !== 'object') return false
  const m = u as Partial<Matrix>
  return m.data instanceof Float64Array && Number.isSafeInteger(m.rows) && Number.isSafeInteger(m.cols) && m.rows! >= 0 && m.cols! >= 0
}

/**
 * Check a set of examples from a caller: `{ x: Matrix, y: Int32Array }` with one label per row, finite inputs,
 * `inputDim` columns when known, labels in range when the number of classes is known.
 */
export const validateExamples = (ex: unknown, path: string, inputDim: number | undefined, numClasses: number | undefined): E.Either<ProbeError, Examples> => {
  if (ex === null || typeof ex !== 'object') return E.left(errors.invalidInput(`${path} is ${ex === null ? 'null' : typeof ex}; expected { x: Matrix, y: Int32Array }`, path))
  const { x, y } = ex as Partial<Examples>
  if (!isMatrix(x)) return E.left(errors.invalidInput(`${path}.x is not a Matrix ({ rows, cols, data: Float64Array })`, `${path}.x`))
  if (x.data.length !== x.rows * x.cols) return E.left(errors.invalidInput(`${path}.x.data has ${x.data.length} values; ${x.rows}×${x.cols} needs ${x.rows * x.cols}`, `${path}.x`))
  if (inputDim !== undefined && x.cols !== inputDim) return E.left(errors.shapeMismatch(`${path}.x`, `${inputDim} columns`, `${x.cols} columns`))
  if (!(y instanceof Int32Array) || y.length !== x.rows) {
    return E.left(errors.shapeMismatch(`${path}.y`, `an Int32Array of ${x.rows} labels (one per row of x)`, y instanceof Int32Array ? `${y.length} labels` : typeof y))
  }
  for (let k = 0; k < x.data.length; k++) {
    if (!Number.isFinite(x.data[k]!)) return E.left(errors.invalidInput(`${path}.x[${Math.floor(k / x.cols)}][${k % x.cols}] is ${x.data[k]}; expected a finite number`, `${path}.x`))
  }
  for (let i = 0; i < y.length; i++) {
    if (!(y[i]! >= 0 && (numClasses === undefined || y[i]! < numClasses))) {
      return E.left(errors.invalidInput(`${path}.y[${i}] is ${y[i]}; expected a label in 0..${numClasses === undefined ? '' : numClasses - 1}`, `${path}.y[${i}]`))
    }
  }
  return E.right({ x, y })
}

/** The model's input dimension and number of classes, when it says (an oracle's `info`). */
export const modelShape = (model: object): { readonly inputDim?: number; readonly numClasses?: number } => {
  const info = (model as { readonly info?: { readonly inputDim?: unknown; readonly numClasses?: unknown } }).info
  return {
    ...(typeof info?.inputDim === 'number' ? { inputDim: info.inputDim } : {}),
    ...(typeof info?.numClasses === 'number' ? { numClasses: info.numClasses } : {}),
  }
}

const members = ['numParams', 'l2', 'damping', 'params', 'losses', 'perExampleGradients', 'hessianOperator', 'gradientProducts', 'mixedGradientProduct', 'refit'] as const

/** A white-box model: every member influence uses is there (a JavaScript caller may pass anything). */
export const validateModel = (model: unknown): E.Either<ProbeError, TwiceDifferentiable> => {
  if (model === null || typeof model !== 'object') return E.left(errors.invalidInput(`model is ${model === null ? 'null' : typeof model}; expected a TwiceDifferentiable model (@sonde/models)`, 'model'))
  const m = model as Record<string, unknown>
  for (const k of members) {
    const v = m[k]
    const ok = k === 'numParams' ? Number.isSafeInteger(v) && (v as number) >= 1 : k === 'l2' || k === 'damping' ? typeof v === 'number' && Number.isFinite(v) && v >= 0 : typeof v === 'function'
    if (!ok) return E.left(errors.invalidInput(`model.${k} is ${typeof v}; the model must be TwiceDifferentiable (@sonde/models: logistic or softmax regression, or differentiableNetwork)`, `model.${k}`))
  }
  return E.right(model as TwiceDifferentiable)
}

/** The label of each row by a white-box model: the class of smallest loss. */
export const labelsByLoss = (model: TwiceDifferentiable, x: Matrix, classes: number): Int32Array => {
  const best = new Float64Array(x.rows).fill(Infinity)
  const out = new Int32Array(x.rows)
  for (let c = 0; c < classes; c++) {
    const l = model.losses(x, new Int32Array(x.rows).fill(c))
    for (let i = 0; i < x.rows; i++) {
      if (l[i]! < best[i]!) {
        best[i] = l[i]!
        out[i] = c
      }
    }
  }
  return out
}
