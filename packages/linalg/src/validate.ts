import { either as E } from 'fp-ts'
import { errors, type InvalidInput, type Matrix, type ShapeMismatch } from '@sonde/oracle'

const show = (u: unknown): string => (typeof u === 'number' ? String(u) : u === null ? 'null' : typeof u)

/** A Matrix whose data is a Float64Array of rows × cols values (JavaScript callers can pass anything). */
export const checkMatrix = (u: unknown, path: string): E.Either<InvalidInput | ShapeMismatch, Matrix> => {
  const m = u as Partial<Matrix> | null | undefined
  if (m === null || typeof m !== 'object' || !(m.data instanceof Float64Array)) return E.left(errors.invalidInput(`${path} is not a Matrix ({ rows, cols, data: Float64Array })`, path))
  const { rows, cols, data } = m
  if (!(Number.isSafeInteger(rows) && rows! >= 0 && Number.isSafeInteger(cols) && cols! >= 0)) return E.left(errors.invalidInput(`${path} has rows ${show(rows)} and cols ${show(cols)}; expected integers ≥ 0`, path))
  if (data.length !== rows! * cols!) return E.left(errors.shapeMismatch(`${path}.data`, `${rows! * cols!} values (${rows} × ${cols})`, `${data.length} values`))
  return E.right(m as Matrix)
}

export const checkSquare = (u: unknown, path: string): E.Either<InvalidInput | ShapeMismatch, Matrix> =>
  E.chainW((m: Matrix) => (m.rows === m.cols ? E.right(m) : E.left(errors.shapeMismatch(path, 'a square matrix', `${m.rows} × ${m.cols}`))))(checkMatrix(u, path))

/** A vector of `n` finite numbers. */
export const checkVector = (u: unknown, n: number, path: string): E.Either<InvalidInput | ShapeMismatch, ArrayLike<number>> => {
  if (!(Array.isArray(u) || (ArrayBuffer.isView(u) && !(u instanceof DataView)))) return E.left(errors.invalidInput(`${path} is ${show(u)}; expected an array of ${n} numbers`, path))
  const v = u as ArrayLike<unknown>
  if (v.length !== n) return E.left(errors.shapeMismatch(path, `${n} values`, `${v.length} values`))
  for (let i = 0; i < n; i++) {
    const x = v[i]
    if (typeof x !== 'number' && typeof x !== 'bigint') return E.left(errors.invalidInput(`${path}[${i}] is ${show(x)}; expected a finite number`, `${path}[${i}]`))
    if (typeof x === 'bigint' || !Number.isFinite(x)) return E.left(errors.invalidInput(`${path}[${i}] is ${String(x)}; expected a finite number`, `${path}[${i}]`))
  }
  return E.right(v as ArrayLike<number>)
}
