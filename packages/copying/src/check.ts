import { either as E, taskEither as TE } from 'fp-ts'
import { errorFromThrown, errors, validateInfo, validateLabels, type ErrorTag, type Matrix, type Oracle, type OracleInfo, type ProbeError } from '@sonde/oracle'

/** One problem with an option: where (`options.copy.maxDepth`) and what is wrong with it. */
export interface OptionIssue {
  readonly path: string
  readonly message: string
}

/** A value as a message shows it. */
export const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v)
  if (v === null || typeof v !== 'object') return String(v)
  if (Array.isArray(v)) return `an array of ${v.length}`
  return ArrayBuffer.isView(v) ? `a ${v.constructor.name}` : 'an object'
}

/** Issues for an option that must be an integer ≥ `min` (when given). */
export const intAtLeast = (v: unknown, min: number, path: string): OptionIssue[] =>
  v === undefined || (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) ? [] : [{ path, message: `is ${show(v)}; expected an integer ≥ ${min}` }]

/** Issues for an option that must be a finite number > 0 (or ≥ 0 with `zero`), when given. */
export const positive = (v: unknown, path: string, zero = false): OptionIssue[] =>
  v === undefined || (typeof v === 'number' && Number.isFinite(v) && (zero ? v >= 0 : v > 0))
    ? []
    : [{ path, message: `is ${show(v)}; expected a finite number ${zero ? '≥' : '>'} 0` }]

/** Issues for a `Matrix` given by code: a Float64Array of rows × cols finite values, `cols` columns, at least `minRows` rows. */
export const matrixIssues = (m: unknown, path: string, cols: number, minRows = 1): OptionIssue[] => {
  if (m === null || typeof m !== 'object') return [{ path, message: `is ${show(m)}; expected a Matrix ({ rows, cols, data: Float64Array })` }]
  const x = m as Partial<Matrix>
  if (!(x.data instanceof Float64Array) || !Number.isSafeInteger(x.rows) || !Number.isSafeInteger(x.cols)) {
    return [{ path, message: 'is not a Matrix: expected { rows, cols } integers and data a Float64Array' }]
  }
  if (x.data.length !== x.rows! * x.cols!) return [{ path, message: `holds ${x.data.length} values for ${x.rows} × ${x.cols}` }]
  if (x.cols !== cols) return [{ path, message: `has ${x.cols} columns; the oracle expects ${cols} (info.inputDim)` }]
  if (x.rows! < minRows) return [{ path, message: `has ${x.rows} rows; expected at least ${minRows}` }]
  const bad = x.data.findIndex((v) => !Number.isFinite(v))
  return bad < 0 ? [] : [{ path: `${path}[${Math.floor(bad / cols)}][${bad % cols}]`, message: `is ${x.data[bad]}; expected a finite number` }]
}

const tags: ReadonlySet<string> = new Set<ErrorTag>([
  'InvalidInput',
  'ShapeMismatch',
  'BudgetExhausted',
  'Transport',
  'BadResponse',
  'Timeout',
  'Aborted',
  'MissingCapability',
  'InvalidOptions',
  'NotConverged',
  'Infeasible',
  'Unidentifiable',
  'TrainingFailed',
  'PluginFailed',
])

/** Whether `e` is a `ProbeError` (an object with a known tag). */
export const isProbeError = (e: unknown): e is ProbeError =>
  e !== null && typeof e === 'object' && typeof (e as { _tag?: unknown })._tag === 'string' && tags.has((e as { _tag: string })._tag)

/**
 * Run supplied code (a sampler, a copy family, a copy's oracle) once, where it is called: a throw, a
 * rejection, a value that is not an `Either`, or a `Left` without a known tag becomes `PluginFailed`
 * naming `what` (a thrown `SondeError` keeps its own error).
 */
export const guarded =
  <A>(what: string, run: () => TE.TaskEither<ProbeError, A>): TE.TaskEither<ProbeError, A> =>
  async () => {
    try {
      const r: unknown = await run()()
      if (r === null || typeof r !== 'object') return E.left(errors.pluginFailed(what, `returned ${show(r)}; expected an Either`))
      const t = (r as { _tag?: unknown })._tag
      if (t === 'Right') return r as E.Right<A>
      if (t === 'Left') {
        const left = (r as E.Left<unknown>).left
        return isProbeError(left) ? E.left(left) : E.left(errors.pluginFailed(what, `failed with ${show(left)}, not a Sonde error`))
      }
      return E.left(errors.pluginFailed(what, `returned ${show(r)}; expected an Either`))
    } catch (cause) {
      return E.left(errorFromThrown(cause, (m) => errors.pluginFailed(what, `threw: ${m}`, cause)))
    }
  }

/** Why `oracle` is not usable as an oracle (no info, no predict, bad info), or undefined. */
export const oracleIssue = (oracle: unknown, name = 'oracle'): ProbeError | undefined => {
  if (oracle === null || typeof oracle !== 'object') return errors.invalidInput(`${name} is ${show(oracle)}; expected an Oracle ({ info, predict })`, name)
  const o = oracle as Partial<Oracle>
  if (typeof o.predict !== 'function' || o.info === null || typeof o.info !== 'object') return errors.invalidInput(`${name} has no info or no predict function`, name)
  const checked = validateInfo(o.info)
  return E.isLeft(checked) ? errors.invalidInput(checked.left.message, `${name}.info`) : undefined
}

/** The original's labels for `x`, asked once: a throw, a rejection or a malformed answer becomes `BadResponse`. */
export const askLabels = (oracle: Oracle, info: OracleInfo, x: Matrix): TE.TaskEither<ProbeError, Int32Array> => async () => {
  try {
    const r: unknown = await oracle.predict(x)()
    const tag = r !== null && typeof r === 'object' ? (r as { _tag?: unknown })._tag : undefined
    if (tag === 'Left') {
      const e = (r as E.Left<unknown>).left
      return E.left(isProbeError(e) ? e : errors.badResponse(`oracle '${info.id}' failed with ${show(e)}, not a Sonde error`))
    }
    if (tag !== 'Right') return E.left(errors.badResponse(`oracle '${info.id}' returned ${show(r)}; expected an Either of a Prediction`))
    const p = (r as E.Right<unknown>).right as { labels?: unknown } | null
    if (p === null || typeof p !== 'object' || !(p.labels instanceof Int32Array)) return E.left(errors.badResponse(`oracle '${info.id}' returned a prediction without an Int32Array of labels`))
    return validateLabels(info, x.rows, p.labels)
  } catch (cause) {
    return E.left(errorFromThrown(cause, (m) => errors.badResponse(`oracle '${info.id}' threw: ${m}`, cause)))
  }
}

