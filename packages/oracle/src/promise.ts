import { either as E, type taskEither as TE } from 'fp-ts'
import { SondeError, type ProbeError } from './errors.js'

/**
 * Run a task and return its value, or reject with a {@link SondeError} carrying the typed
 * error: the bridge to async/await for code that does not use fp-ts.
 *
 * @example
 * import { fromFunction, fromRows, matrix, toPromise } from '@sonde/oracle'
 *
 * const oracle = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const prediction = await toPromise(oracle.predict(fromRows([[0.1, 0.2]]))) // labels [0], scores [[0]]
 */
export const toPromise = async <A>(task: TE.TaskEither<ProbeError, A>): Promise<A> => {
  const r = await task()
  if (E.isLeft(r)) throw new SondeError(r.left)
  return r.right
}
