import { readonlyArray as RA, taskEither as TE, function as F } from 'fp-ts'
import { errors, type OracleError } from '../errors.js'
import { concatRows, type Matrix } from '../matrix.js'
import { hasGradients, type Oracle, type Prediction } from '../oracle.js'
import { extendOracle, refusing } from './extend.js'
import { validateGradient, validatePrediction, validateQuery } from '../validate.js'

const sliceRows = (x: Matrix, start: number, end: number): Matrix => ({
  rows: end - start,
  cols: x.cols,
  data: x.data.subarray(start * x.cols, end * x.cols),
})

const chunks = (rows: number, maxRows: number): ReadonlyArray<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  for (let s = 0; s < rows; s += maxRows) out.push([s, Math.min(rows, s + maxRows)])
  return out
}

const concatPredictions = (parts: ReadonlyArray<Prediction>): Prediction => {
  const n = parts.reduce((a, p) => a + p.labels.length, 0)
  const labels = new Int32Array(n)
  let o = 0
  for (const p of parts) {
    labels.set(p.labels, o)
    o += p.labels.length
  }
  const scores = parts.map((p) => p.scores)
  if (scores.every((s): s is Matrix => s !== undefined)) return { labels, scores: concatRows(scores) }
  return { labels }
}

/**
 * Split every query into chunks of at most `maxRows` rows, sent one after another, and join the
 * answers in the original order. Use it for remote APIs with a request-size limit, or to bound
 * the memory of a large local model.
 *
 * Gotcha: if one chunk fails the whole query fails; put a `cache()` below `batch` so the chunks
 * already answered are not paid for again when the query is retried.
 *
 * @example
 * // fragment: needs a remote oracle
 * import { function as F } from 'fp-ts'
 * import { batch, cache, type Oracle } from '@sonde/oracle'
 *
 * declare const remote: Oracle
 * const chunked = F.pipe(remote, cache(), batch(256)) // at most 256 rows per request
 */
export const batch =
  (maxRows: number) =>
  <O extends Oracle>(oracle: O): O => {
    if (!Number.isInteger(maxRows) || maxRows < 1) {
      return refusing(oracle, errors.invalidInput(`batch size is ${typeof maxRows === 'number' ? maxRows : typeof maxRows}; expected a positive integer`, 'maxRows'))
    }
    const info = oracle.info
    return extendOracle(oracle, {
      predict: (x) =>
        F.pipe(
          // The query is checked whole before it is cut: a 4×3 matrix with 13 values is refused, not sliced.
          TE.fromEither(validateQuery(info, x)),
          TE.chain((q) =>
            q.rows <= maxRows
              ? oracle.predict(q)
              : F.pipe(
                  chunks(q.rows, maxRows),
                  RA.map(([s, e]) => F.pipe(oracle.predict(sliceRows(q, s, e)), TE.chainEitherK((p) => validatePrediction(info, e - s, p)))),
                  TE.sequenceSeqArray,
                  TE.map(concatPredictions),
                ),
          ),
        ),
      ...(hasGradients(oracle)
        ? {
            gradient: (x: Matrix, cls: number | Int32Array): TE.TaskEither<OracleError, Matrix> =>
              F.pipe(
                TE.fromEither(validateQuery(info, x)),
                TE.chain((q) =>
                  q.rows <= maxRows
                    ? oracle.gradient(q, cls)
                    : F.pipe(
                        chunks(q.rows, maxRows),
                        RA.map(([s, e]) =>
                          F.pipe(
                            oracle.gradient(sliceRows(q, s, e), typeof cls === 'number' || cls.length !== q.rows ? cls : cls.subarray(s, e)),
                            TE.chainEitherK((g) => validateGradient(info, e - s, g)),
                          ),
                        ),
                        TE.sequenceSeqArray,
                        TE.map(concatRows),
                      ),
                ),
              ),
          }
        : {}),
    })
  }
