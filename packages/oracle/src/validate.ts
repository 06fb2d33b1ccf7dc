import { either as E, function as F } from 'fp-ts'
import { errors, type OracleError } from './errors.js'
import type { Matrix } from './matrix.js'
import { featureBounds } from './domain.js'
import type { OracleInfo, Prediction } from './oracle.js'


/**
 * Check a query against an oracle's info before anything is spent: the shape, that every value
 * is finite, and that every value is inside `info.domain`. The error names the row and column.
 *
 * Adapters and budget-type middleware call this; a hand-written oracle should too.
 *
 * @example
 * import { fromRows, validateQuery, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'm', inputDim: 3, numClasses: 2, output: 'label' }
 * const checked = validateQuery(info, fromRows([[0.1, 0.2]])) // Left(ShapeMismatch): 2 columns, info.inputDim is 3
 */
export const validateQuery = (info: OracleInfo, x: Matrix, name = 'x'): E.Either<OracleError, Matrix> => {
  if (x === null || typeof x !== 'object') {
    return E.left(errors.invalidInput(`${name} is ${x === null ? 'null' : typeof x}; expected a Matrix { rows, cols, data: Float64Array }`, name))
  }
  if (!(x.data instanceof Float64Array)) {
    return E.left(errors.invalidInput(`${name}.data must be a Float64Array`, `${name}.data`))
  }
  if (!Number.isInteger(x.rows) || x.rows < 0 || x.data.length !== x.rows * x.cols) {
    return E.left(
      errors.shapeMismatch(
        name,
        `data.length = rows × cols`,
        `rows=${x.rows}, cols=${x.cols}, data.length=${x.data.length}`,
      ),
    )
  }
  if (x.cols !== info.inputDim) {
    return E.left(
      errors.shapeMismatch(
        name,
        `${info.inputDim} columns`,
        `${x.cols} columns`,
        `${name} has ${x.cols} columns; the oracle '${info.id}' expects ${info.inputDim} (info.inputDim)`,
      ),
    )
  }
  const d = x.data
  const cols = x.cols
  for (let k = 0; k < d.length; k++) {
    if (!Number.isFinite(d[k]!)) {
      const i = Math.floor(k / cols)
      const j = k % cols
      return E.left(
        errors.invalidInput(`${name}[${i}][${j}] is ${d[k]}; every query value must be finite`, `${name}[${i}][${j}]`),
      )
    }
  }
  if (info.domain !== undefined) {
    for (let k = 0; k < d.length; k++) {
      const j = k % cols
      const [lo, hi] = featureBounds(info, j)
      const v = d[k]!
      if (v < lo || v > hi) {
        const i = Math.floor(k / cols)
        return E.left(
          errors.invalidInput(
            `${name}[${i}][${j}] is ${v}, outside the oracle's domain [${lo}, ${hi}] for feature ${j} (info.domain)`,
            `${name}[${i}][${j}]`,
          ),
        )
      }
    }
  }
  return E.right(x)
}

/**
 * Check the class argument of a gradient query and expand it to one class per row.
 *
 * @example
 * import { validateClasses, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'm', inputDim: 3, numClasses: 2, output: 'logits' }
 * const classes = validateClasses(info, 3, 0) // Right(Int32Array [0, 0, 0])
 */
export const validateClasses = (
  info: OracleInfo,
  rows: number,
  cls: number | Int32Array,
): E.Either<OracleError, Int32Array> => {
  const valid = (c: number): boolean => Number.isInteger(c) && c >= 0 && c < info.numClasses
  const range = `an integer in 0..${info.numClasses - 1}`
  if (typeof cls === 'number') {
    if (!valid(cls)) return E.left(errors.invalidInput(`cls is ${cls}; expected ${range} (info.numClasses = ${info.numClasses})`, 'cls'))
    return E.right(new Int32Array(rows).fill(cls))
  }
  if (!(cls instanceof Int32Array)) return E.left(errors.invalidInput('cls must be a number or an Int32Array', 'cls'))
  if (cls.length !== rows) {
    return E.left(errors.shapeMismatch('cls', `${rows} entries (one per row of x)`, `${cls.length} entries`))
  }
  for (let i = 0; i < rows; i++) {
    if (!valid(cls[i]!)) return E.left(errors.invalidInput(`cls[${i}] is ${cls[i]}; expected ${range}`, `cls[${i}]`))
  }
  return E.right(cls)
}

/**
 * Check what an oracle implementation returned against what its info promises; used by the
 * adapters so a faulty model surfaces as `BadResponse`, not as a wrong answer downstream.
 *
 * Scores must have rows × numClasses values, every one finite; probabilities must lie in [0, 1] and each
 * row must sum to 1 (to 1e-4: float32 models round). Where `info.topK` is set, hidden scores are NaN and
 * the sum is not checked.
 *
 * @example
 * import { fromRows, validateScores, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'm', inputDim: 3, numClasses: 2, output: 'probabilities' }
 * const scores = validateScores(info, 2, fromRows([[0.5, 0.5], [1, 0]])) // Right
 */
export const validateScores = (info: OracleInfo, rows: number, scores: Matrix): E.Either<OracleError, Matrix> => {
  if (scores === null || typeof scores !== 'object' || !(scores.data instanceof Float64Array)) {
    return E.left(errors.badResponse(`oracle '${info.id}' returned scores that are not a matrix with a Float64Array of data`))
  }
  if (scores.rows !== rows || scores.cols !== info.numClasses || scores.data.length !== rows * info.numClasses) {
    return E.left(
      errors.badResponse(
        `oracle '${info.id}' returned scores of ${scores.rows}×${scores.cols} (${scores.data.length} values); expected ${rows}×${info.numClasses} (rows × info.numClasses)`,
      ),
    )
  }
  const k = info.numClasses
  const hidden = info.topK !== undefined
  const probabilities = info.output === 'probabilities'
  for (let i = 0; i < rows; i++) {
    let sum = 0
    for (let c = 0; c < k; c++) {
      const v = scores.data[i * k + c]!
      if (hidden && Number.isNaN(v)) continue
      if (!Number.isFinite(v)) return E.left(errors.badResponse(`oracle '${info.id}' returned ${v} at scores[${i}][${c}]; scores must be finite`))
      if (probabilities && (v < -1e-6 || v > 1 + 1e-6)) {
        return E.left(errors.badResponse(`oracle '${info.id}' returned the probability ${v} at scores[${i}][${c}]; expected a number in [0, 1]`))
      }
      sum += v
    }
    if (probabilities && !hidden && k > 1 && !(Math.abs(sum - 1) <= 1e-4)) {
      return E.left(errors.badResponse(`oracle '${info.id}' returned probabilities summing to ${sum} in row ${i}; each row must sum to 1`))
    }
  }
  return E.right(scores)
}

/**
 * Check a whole prediction against `info` for a query of `rows` rows: one label per row in range, and
 * scores as {@link validateScores} wants them unless the oracle reveals labels only. Middleware that
 * reassembles answers (`cache`, `batch`) checks what the oracle below returned with it.
 *
 * @example
 * import { validatePrediction, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'm', inputDim: 3, numClasses: 2, output: 'label' }
 * const short = validatePrediction(info, 2, { labels: Int32Array.of(1) }) // Left(BadResponse): 1 label for 2 rows
 */
export const validatePrediction = (info: OracleInfo, rows: number, p: Prediction): E.Either<OracleError, Prediction> => {
  if (p === null || typeof p !== 'object' || !(p.labels instanceof Int32Array)) {
    return E.left(errors.badResponse(`oracle '${info.id}' returned a prediction without an Int32Array of labels`))
  }
  return F.pipe(
    validateLabels(info, rows, p.labels),
    E.chain(() => (info.output === 'label' ? E.right(p) : p.scores === undefined ? E.left(errors.badResponse(`oracle '${info.id}' promises ${info.output} but returned no scores`)) : F.pipe(validateScores(info, rows, p.scores), E.map(() => p)))),
  )
}

/**
 * Check labels returned by a label-only implementation: one per row, each an integer class of `info`.
 *
 * @example
 * import { validateLabels, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'm', inputDim: 3, numClasses: 2, output: 'label' }
 * const outOfRange = validateLabels(info, 2, Int32Array.of(0, 2)) // Left(BadResponse): label 2 at row 1
 */
export const validateLabels = (info: OracleInfo, rows: number, labels: Int32Array): E.Either<OracleError, Int32Array> => {
  if (!(labels instanceof Int32Array)) return E.left(errors.badResponse(`oracle '${info.id}' returned labels that are not an Int32Array`))
  if (labels.length !== rows) {
    return E.left(errors.badResponse(`oracle '${info.id}' returned ${labels.length} labels for ${rows} rows`))
  }
  const k = Math.max(info.numClasses, 2)
  for (let i = 0; i < rows; i++) {
    const l = labels[i]!
    if (!(l >= 0 && l < k)) {
      return E.left(errors.badResponse(`oracle '${info.id}' returned label ${l} at row ${i}; expected 0..${k - 1}`))
    }
  }
  return E.right(labels)
}

/**
 * Check a gradient matrix returned by an implementation: rows × inputDim values, every one finite (the
 * error names the row and column of the first that is not).
 *
 * @example
 * import { fromRows, validateGradient, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'm', inputDim: 2, numClasses: 2, output: 'logits' }
 * const nan = validateGradient(info, 1, fromRows([[0.5, NaN]])) // Left(BadResponse) naming gradient[0][1]
 */
export const validateGradient = (info: OracleInfo, rows: number, g: Matrix): E.Either<OracleError, Matrix> => {
  if (g === null || typeof g !== 'object' || !(g.data instanceof Float64Array)) {
    return E.left(errors.badResponse(`oracle '${info.id}' returned a gradient that is not a matrix with a Float64Array of data`))
  }
  if (g.rows !== rows || g.cols !== info.inputDim || g.data.length !== rows * info.inputDim) {
    return E.left(
      errors.badResponse(
        `oracle '${info.id}' returned a gradient of ${g.rows}×${g.cols} (${g.data.length} values); expected ${rows}×${info.inputDim}`,
      ),
    )
  }
  for (let q = 0; q < g.data.length; q++) {
    if (!Number.isFinite(g.data[q]!)) {
      return E.left(errors.badResponse(`oracle '${info.id}' returned ${g.data[q]} at gradient[${Math.floor(q / g.cols)}][${q % g.cols}]; gradients must be finite`))
    }
  }
  return E.right(g)
}

/**
 * Check an `OracleInfo` supplied by a user or an adapter; every problem is listed.
 *
 * @example
 * import { validateInfo } from '@sonde/oracle'
 *
 * const bad = validateInfo({ id: 'm', inputDim: 4, inputShape: [2, 3], numClasses: 2, output: 'label' }) // Left: inputShape has 6 elements
 */
export const validateInfo = (info: OracleInfo): E.Either<OracleError, OracleInfo> => {
  if (info === null || typeof info !== 'object') {
    return E.left(errors.invalidInput(`info is ${info === null ? 'null' : typeof info}; expected an OracleInfo { id, inputDim, numClasses, output }`, 'info'))
  }
  const problems: string[] = []
  if (typeof info.id !== 'string' || info.id === '') problems.push('id must be a non-empty string')
  if (!Number.isInteger(info.inputDim) || info.inputDim < 1) problems.push(`inputDim is ${info.inputDim}; expected a positive integer`)
  if (!Number.isInteger(info.numClasses) || info.numClasses < 1) problems.push(`numClasses is ${info.numClasses}; expected a positive integer`)
  if (!['label', 'probabilities', 'logits'].includes(info.output)) problems.push(`output is '${String(info.output)}'; expected 'label', 'probabilities' or 'logits'`)
  if (info.inputShape !== undefined && (!Array.isArray(info.inputShape) || !info.inputShape.every((v) => Number.isInteger(v) && v >= 1))) {
    problems.push('inputShape must be an array of positive integers')
  } else if (info.inputShape !== undefined) {
    const prod = info.inputShape.reduce((a, b) => a * b, 1)
    if (prod !== info.inputDim) problems.push(`inputShape [${info.inputShape.join(', ')}] has ${prod} elements; inputDim is ${info.inputDim}`)
  }
  if (info.classNames !== undefined && !Array.isArray(info.classNames)) problems.push('classNames must be an array of strings')
  else if (info.classNames !== undefined && info.classNames.length !== Math.max(info.numClasses, 2) && info.classNames.length !== info.numClasses) {
    problems.push(`classNames has ${info.classNames.length} names; numClasses is ${info.numClasses}`)
  }
  if (info.domain !== undefined && (info.domain === null || typeof info.domain !== 'object')) problems.push('domain must be { lower, upper }')
  else if (info.domain !== undefined) {
    let shapes = true
    for (const side of ['lower', 'upper'] as const) {
      const b = info.domain[side]
      if (typeof b !== 'number' && !(b instanceof Float64Array)) {
        problems.push(`domain.${side} is neither a number nor a Float64Array`)
        shapes = false
      } else if (typeof b !== 'number' && b.length !== info.inputDim) {
        problems.push(`domain.${side} has ${b.length} values; inputDim is ${info.inputDim}`)
        shapes = false
      }
    }
    if (shapes && Number.isInteger(info.inputDim)) {
      for (let j = 0; j < info.inputDim; j++) {
        const [lo, hi] = featureBounds(info, j)
        if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
          problems.push(`domain of feature ${j} is [${lo}, ${hi}]; expected lower ≤ upper, neither NaN`)
          break
        }
      }
    }
  }
  return problems.length === 0
    ? E.right(info)
    : E.left(errors.invalidInput(`invalid OracleInfo for '${String(info.id)}': ${problems.join('; ')}`, 'info'))
}
