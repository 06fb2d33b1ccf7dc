import { taskEither as TE } from 'fp-ts'
import type { OracleError } from '../errors.js'
import { hasGradients, type GradientOracle, type Oracle } from '../oracle.js'

/**
 * A new oracle that behaves like `oracle` except for the members in `patch`. Everything else
 * (including white-box methods of model classes) is reached through the prototype chain, so a
 * middleware keeps the type it was given: `meter(softmaxModel)` is still a softmax model.
 * `predict`/`gradient` patches must be given together with the capabilities the base has.
 *
 * @example
 * import { function as F, taskEither as TE } from 'fp-ts'
 * import { extendOracle, fromFunction, matrix } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const logged: string[] = []
 * const logging = extendOracle(model, {
 *   predict: (x) => F.pipe(TE.fromIO(() => logged.push(`${x.rows} rows`)), TE.chain(() => model.predict(x))),
 * })
 */
export const extendOracle = <O extends Oracle>(oracle: O, patch: Partial<GradientOracle> & object): O => {
  const out = Object.create(oracle) as O
  Object.defineProperty(out, 'info', { value: patch.info ?? oracle.info, enumerable: true })
  for (const [k, v] of Object.entries(patch)) {
    if (k !== 'info' && v !== undefined) Object.defineProperty(out, k, { value: v, enumerable: true })
  }
  return out
}

/**
 * An oracle like `oracle` whose every query fails with `error`, plus the `extra` members a middleware's type
 * promises. A middleware given a bad argument returns it, so the mistake surfaces as a typed error at the
 * first query (before anything is sent), never as a throw while the stack is built.
 */
export const refusing = <O extends Oracle>(oracle: O, error: OracleError, extra: Record<string, unknown> = {}): O => {
  const out = extendOracle(oracle, {
    predict: () => TE.left(error),
    ...(hasGradients(oracle) ? { gradient: () => TE.left(error) } : {}),
  })
  for (const [k, v] of Object.entries(extra)) Object.defineProperty(out, k, { value: v, enumerable: true })
  return out
}
