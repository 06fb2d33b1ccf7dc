import { either as E } from 'fp-ts'
import { errors, type OracleError } from './errors.js'
import type { Matrix } from './matrix.js'
import { featureBounds } from './domain.js'
import type { OracleInfo } from './oracle.js'


/**
 * Check a query against an oracle's info before anything is spent: the shape, that every value
 * is finite, and that every value is inside `info.domain`. The error names the row and column.
 *
 * Adapters and budget-type middleware call this; a hand-written oracle should too.
 *
 * @example
 * validateQuery(oracle.info, x) // Left(ShapeMismatch) if x has the wrong number of columns
 */
export const validateQuery = (info: OracleInfo, x: Matrix, name = 'x'): E.Either<OracleError, Matrix> => {
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
 * validateClasses(oracle.info, 3, 0) // Right(Int32Array [0, 0, 0])
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
 */
export const validateScores = (info: OracleInfo, rows: number, scores: Matrix): E.Either<OracleError, Matrix> => {
  if (scores.rows !== rows || scores.cols !== info.numClasses || scores.data.length !== rows * info.numClasses) {
    return E.left(
      errors.badResponse(
        `oracle '${info.id}' returned scores of ${scores.rows}×${scores.cols}; expected ${rows}×${info.numClasses} (rows × info.numClasses)`,
      ),
    )
  }
  for (let k = 0; k < scores.data.length; k++) {
    if (Number.isNaN(scores.data[k]!)) {
      return E.left(
        errors.badResponse(`oracle '${info.id}' returned NaN at scores[${Math.floor(k / scores.cols)}][${k % scores.cols}]`),
      )
    }
  }
  return E.right(scores)
}

/** Check labels returned by a label-only implementation. */
export const validateLabels = (info: OracleInfo, rows: number, labels: Int32Array): E.Either<OracleError, Int32Array> => {
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

/** Check a gradient matrix returned by an implementation. */
export const validateGradient = (info: OracleInfo, rows: number, g: Matrix): E.Either<OracleError, Matrix> => {
  if (g.rows !== rows || g.cols !== info.inputDim || g.data.length !== rows * info.inputDim) {
    return E.left(
      errors.badResponse(
        `oracle '${info.id}' returned a gradient of ${g.rows}×${g.cols}; expected ${rows}×${info.inputDim}`,
      ),
    )
  }
  return E.right(g)
}

/**
 * Check an `OracleInfo` supplied by a user or an adapter; every problem is listed.
 */
export const validateInfo = (info: OracleInfo): E.Either<OracleError, OracleInfo> => {
  const problems: string[] = []
  if (typeof info.id !== 'string' || info.id === '') problems.push('id must be a non-empty string')
  if (!Number.isInteger(info.inputDim) || info.inputDim < 1) problems.push(`inputDim is ${info.inputDim}; expected a positive integer`)
  if (!Number.isInteger(info.numClasses) || info.numClasses < 1) problems.push(`numClasses is ${info.numClasses}; expected a positive integer`)
  if (!['label', 'probabilities', 'logits'].includes(info.output)) problems.push(`output is '${String(info.output)}'; expected 'label', 'probabilities' or 'logits'`)
  if (info.inputShape !== undefined) {
    const prod = info.inputShape.reduce((a, b) => a * b, 1)
    if (prod !== info.inputDim) problems.push(`inputShape [${info.inputShape.join(', ')}] has ${prod} elements; inputDim is ${info.inputDim}`)
  }
  if (info.classNames !== undefined && info.classNames.length !== Math.max(info.numClasses, 2) && info.classNames.length !== info.numClasses) {
    problems.push(`classNames has ${info.classNames.length} names; numClasses is ${info.numClasses}`)
  }
  if (info.domain !== undefined) {
    for (const side of ['lower', 'upper'] as const) {
      const b = info.domain[side]
      if (typeof b !== 'number' && b.length !== info.inputDim) problems.push(`domain.${side} has ${b.length} values; inputDim is ${info.inputDim}`)
    }
  }
  return problems.length === 0
    ? E.right(info)
    : E.left(errors.invalidInput(`invalid OracleInfo for '${String(info.id)}': ${problems.join('; ')}`, 'info'))
}
