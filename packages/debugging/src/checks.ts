import { errors, type Matrix, type ProbeError } from '@sonde/oracle'

/** One bad option: where, and what was wrong. */
export interface Issue {
  readonly path: string
  readonly message: string
}

/** A value as a message shows it (a string quoted, an object named by its kind). */
export const show = (u: unknown): string => {
  if (typeof u === 'string') return JSON.stringify(u)
  if (u === null || typeof u !== 'object') return String(u)
  return Array.isArray(u) ? `an array of ${u.length}` : ArrayBuffer.isView(u) ? `a ${u.constructor.name}` : 'an object'
}

/** The options object of a JavaScript caller, or an empty one when it is missing (so every field is then checked as absent). */
export const optionsOf = <A extends object>(u: A | undefined | null): Partial<A> => (u !== null && typeof u === 'object' ? u : {}) as Partial<A>

/** Push an issue unless `v` (or its default) is an integer in [min, max]. Returns the value to use. */
export const intIn = (issues: Issue[], path: string, v: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  const x = v === undefined ? fallback : v
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    issues.push({ path, message: `is ${show(x)}; expected an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`}` })
    return fallback
  }
  return x
}

/** Push an issue unless `v` (or its default) is a finite number satisfying `ok`. Returns the value to use. */
export const numberWhere = (issues: Issue[], path: string, v: unknown, fallback: number, ok: (x: number) => boolean, expected: string): number => {
  const x = v === undefined ? fallback : v
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) {
    issues.push({ path, message: `is ${show(x)}; expected ${expected}` })
    return fallback
  }
  return x
}

/** Push an issue unless `v` is a safe integer (a seed). */
export const seedIn = (issues: Issue[], path: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    issues.push({ path, message: `is ${show(v)}; expected a safe integer` })
    return 0
  }
  return v
}

/** `InvalidOptions` listing every issue, or undefined when there is none. */
export const invalidOptionsOf = (issues: readonly Issue[]): ProbeError | undefined => (issues.length > 0 ? errors.invalidOptions(issues) : undefined)

/**
 * Why `u` is not a finite float64 matrix (rows × cols, a Float64Array of rows·cols finite values,
 * at least `minRows` rows, `cols` columns when given), as `InvalidInput` at `path`; undefined when it is one.
 */
export const matrixProblem = (u: unknown, path: string, c: { readonly minRows?: number; readonly cols?: number } = {}): ProbeError | undefined => {
  if (u === null || typeof u !== 'object') return errors.invalidInput(`${path} is ${show(u)}; expected a Matrix { rows, cols, data: Float64Array }`, path)
  const m = u as Partial<Matrix>
  if (!(m.data instanceof Float64Array) || !Number.isSafeInteger(m.rows) || !Number.isSafeInteger(m.cols) || m.rows! < 0 || m.cols! < 0) {
    return errors.invalidInput(`${path} is not a Matrix: expected { rows, cols, data: Float64Array } with non-negative integer rows and cols`, path)
  }
  if (m.data.length !== m.rows! * m.cols!) return errors.invalidInput(`${path}.data holds ${m.data.length} values; ${m.rows}×${m.cols} needs ${m.rows! * m.cols!}`, path)
  if (m.rows! < (c.minRows ?? 1)) return errors.invalidInput(`${path} has ${m.rows} rows; expected at least ${c.minRows ?? 1}`, path)
  if (c.cols !== undefined && m.cols !== c.cols) return errors.shapeMismatch(path, `${c.cols} columns`, `${m.cols} columns`)
  const bad = m.data.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) return errors.invalidInput(`${path}[${Math.floor(bad / m.cols!)}][${bad % m.cols!}] is ${m.data[bad]}; expected a finite number`, path)
  return undefined
}

/** Why `u` is not an Int32Array of `length` class indices in 0..numClasses−1, or undefined. */
export const labelsProblem = (u: unknown, path: string, length: number, numClasses: number): ProbeError | undefined => {
  if (!(u instanceof Int32Array)) return errors.invalidInput(`${path} is ${show(u)}; expected an Int32Array of class indices`, path)
  if (u.length !== length) return errors.shapeMismatch(path, `${length} labels`, `${u.length}`)
  for (let i = 0; i < u.length; i++) {
    if (!(u[i]! >= 0 && u[i]! < numClasses)) return errors.invalidInput(`${path}[${i}] is ${u[i]}; expected a class in 0..${numClasses - 1}`, `${path}[${i}]`)
  }
  return undefined
}

/** Why `u` is not an oracle (an object with `info` and a `predict` function), or undefined. */
export const oracleProblem = (u: unknown, path = 'oracle'): ProbeError | undefined => {
  const o = u as { info?: { inputDim?: unknown; numClasses?: unknown }; predict?: unknown } | null | undefined
  if (o === null || typeof o !== 'object' || typeof o.predict !== 'function' || o.info === null || typeof o.info !== 'object') {
    return errors.invalidInput(`${path} is ${show(u)}; expected an Oracle { info, predict }`, path)
  }
  if (!Number.isSafeInteger(o.info.inputDim) || !(Number(o.info.inputDim) >= 1) || !Number.isSafeInteger(o.info.numClasses) || !(Number(o.info.numClasses) >= 1)) {
    return errors.invalidInput(`${path}.info needs an integer inputDim ≥ 1 and numClasses ≥ 1`, `${path}.info`)
  }
  return undefined
}

/** Why `u` is not a Generator ({ latentDim, encode, decode }), or undefined. */
export const generatorProblem = (u: unknown, path = 'generator'): ProbeError | undefined => {
  const g = u as { latentDim?: unknown; encode?: unknown; decode?: unknown } | null | undefined
  return g !== null && typeof g === 'object' && typeof g.encode === 'function' && typeof g.decode === 'function' && Number.isSafeInteger(g.latentDim) && Number(g.latentDim) >= 1
    ? undefined
    : errors.invalidInput(`${path} is ${show(u)}; expected a Generator { latentDim (an integer ≥ 1), encode(x), decode(z) }`, path)
}

/** Why `u` is not a box { lower, upper } (numbers or Float64Arrays of `dim` values, lower ≤ upper), or undefined. */
export const domainProblem = (u: unknown, path: string, dim: number): ProbeError | undefined => {
  if (u === undefined) return undefined
  const d = u as { lower?: unknown; upper?: unknown } | null
  if (d === null || typeof d !== 'object') return errors.invalidInput(`${path} is ${show(u)}; expected a Domain { lower, upper }`, path)
  const side = (v: unknown, i: number): number | undefined => (typeof v === 'number' ? v : v instanceof Float64Array && v.length === dim ? v[i] : undefined)
  for (let i = 0; i < dim; i++) {
    const lo = side(d.lower, i)
    const hi = side(d.upper, i)
    if (lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi)) return errors.invalidInput(`${path} needs lower and upper as numbers or Float64Arrays of ${dim} values (not NaN)`, path)
    if (lo > hi) return errors.invalidInput(`${path}: lower[${i}] = ${lo} > upper[${i}] = ${hi}`, path)
  }
  return undefined
}
