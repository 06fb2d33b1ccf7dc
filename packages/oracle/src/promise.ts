import { either as E, type taskEither as TE } from 'fp-ts'
import { SondeError, type ProbeError } from './errors.js'

/**
 * Run a task and return its value, or reject with a {@link SondeError} carrying the typed
 * error: the bridge to async/await for code that does not use fp-ts.
 *
 * @example
 * const prediction = await toPromise(oracle.predict(x))
 */
export const toPromise = async <A>(task: TE.TaskEither<ProbeError, A>): Promise<A> => {
  const r = await task()
  if (E.isLeft(r)) throw new SondeError(r.left)
  return r.right
}
