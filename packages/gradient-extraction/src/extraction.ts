import { taskEither as TE, function as F } from 'fp-ts'
import { createRng, errors, labelAgreement, randomQueries, type Matrix, type Oracle, type ProbeError } from '@sonde/oracle'

/** Rows spent by an extraction, by kind. */
export interface ExtractionQueries {
  readonly gradientRows: number
  readonly valueRows: number
}

/** How closely an extracted model matches the oracle on a set of points. */
export interface Fidelity {
  readonly rows: number
  /** Fraction of rows with the same label. */
  readonly agreement: number
  /** max |score − score'| over all rows and compared columns. */
  readonly maxAbsError: number
  /** maxAbsError / max |score| of the oracle. */
  readonly maxRelativeError: number
  /** Oracle rows this check spent. */
  readonly queries: number
}

/** Where {@link Extraction.fidelity} compares: given points, or `count` random ones drawn with `seed`. */
export type FidelityPoints = Matrix | { readonly count: number; readonly seed: number }

/** An extracted model, the rows it cost, and a way to check it against the oracle. */
export interface Extraction<M extends Oracle> {
  /** The extracted model: an oracle itself. */
  readonly model: M
  readonly queries: ExtractionQueries
  /** Compare the model with the oracle (spends `rows` value queries of the oracle). */
  readonly fidelity: (points?: FidelityPoints) => TE.TaskEither<ProbeError, Fidelity>
}

/** Random points: uniform in a finite domain, otherwise standard normal. */
export const randomPoints = (oracle: Oracle, count: number, seed: number): Matrix => randomQueries(oracle.info, count, createRng(seed))

/**
 * Compare two oracles on `points`: label agreement, and score errors where both reveal scores
 * (for a one-column oracle against a two-class model, the positive class's column).
 */
export const compareOracles = (original: Oracle, copy: Oracle, points: FidelityPoints = { count: 1000, seed: 1 }): TE.TaskEither<ProbeError, Fidelity> => {
  const x = 'data' in points ? points : randomPoints(original, points.count, points.seed)
  if (x.cols !== original.info.inputDim) {
    return TE.left(errors.shapeMismatch('points', `${original.info.inputDim} columns`, `${x.cols} columns`))
  }
  return F.pipe(
    TE.Do,
    TE.apS('a', original.predict(x)),
    TE.apS('b', copy.predict(x)),
    TE.map(({ a, b }) => {
      let maxAbs = 0
      let scale = 0
      const sa = a.scores
      const sb = b.scores
      if (sa !== undefined && sb !== undefined && original.info.output === copy.info.output) {
        const shift = sb.cols - sa.cols // 0, or 1 for a one-column oracle against a two-class model
        if (shift === 0 || (shift === 1 && sa.cols === 1)) {
          for (let i = 0; i < x.rows; i++) {
            for (let c = 0; c < sa.cols; c++) {
              const va = sa.data[i * sa.cols + c]!
              const vb = sb.data[i * sb.cols + c + shift]!
              maxAbs = Math.max(maxAbs, Math.abs(va - vb))
              scale = Math.max(scale, Math.abs(va))
            }
          }
        }
      }
      return {
        rows: x.rows,
        agreement: labelAgreement(a.labels, b.labels),
        maxAbsError: maxAbs,
        maxRelativeError: scale === 0 ? maxAbs : maxAbs / scale,
        queries: x.rows,
      }
    }),
  )
}
