import { either as E } from 'fp-ts'
import { errorFromThrown, errors, type Matrix, type ProbeError } from '@sonde/oracle'

/**
 * Run a user's function (a generator's encode or decode) once, where it is called: a throw becomes a
 * value — the thrown SondeError's own error, or a PluginFailed naming `what` — and the matrix it returns is
 * checked (`rows` rows, `cols` columns when given, every value finite) before anything is built on it.
 */
export const callForeignMatrix = (what: string, f: () => Matrix, rows: number, cols?: number): E.Either<ProbeError, Matrix> => {
  let m: Matrix
  try {
    m = f()
  } catch (cause) {
    return E.left(errorFromThrown(cause, (m) => errors.pluginFailed(what, `threw: ${m}`, cause)))
  }
  if (m === null || typeof m !== 'object' || !(m.data instanceof Float64Array) || m.data.length !== m.rows * m.cols) {
    return E.left(errors.pluginFailed(what, 'returned something that is not a matrix (rows, cols and a Float64Array of rows × cols values)'))
  }
  if (m.rows !== rows || (cols !== undefined && m.cols !== cols)) {
    return E.left(errors.pluginFailed(what, `returned ${m.rows}×${m.cols}; expected ${rows}×${cols ?? 'any'} (one row per input)`))
  }
  const bad = m.data.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) return E.left(errors.pluginFailed(what, `returned ${m.data[bad]} at [${Math.floor(bad / m.cols)}][${bad % m.cols}]; expected finite values`))
  return E.right(m)
}
