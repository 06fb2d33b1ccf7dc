import type { GradientOracle, Oracle } from '../oracle.js'

/**
 * A new oracle that behaves like `oracle` except for the members in `patch`. Everything else
 * (including white-box methods of model classes) is reached through the prototype chain, so a
 * middleware keeps the type it was given: `meter(softmaxModel)` is still a softmax model.
 * `predict`/`gradient` patches must be given together with the capabilities the base has.
 */
export const extendOracle = <O extends Oracle>(oracle: O, patch: Partial<GradientOracle> & object): O => {
  const out = Object.create(oracle) as O
  Object.defineProperty(out, 'info', { value: patch.info ?? oracle.info, enumerable: true })
  for (const [k, v] of Object.entries(patch)) {
    if (k !== 'info' && v !== undefined) Object.defineProperty(out, k, { value: v, enumerable: true })
  }
  return out
}
