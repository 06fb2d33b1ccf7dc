import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, type OracleError } from '../errors.js'
import type { Matrix } from '../matrix.js'
import { hasGradients, type Oracle } from '../oracle.js'
import { validateClasses, validateQuery } from '../validate.js'
import { extendOracle, refusing } from './extend.js'

/** Limits of {@link budget}: one for all rows, or separate ones per kind of query. */
export type BudgetLimit = number | { readonly predictRows?: number; readonly gradientRows?: number }

/** The state of a budget. `remaining` is `Infinity` for a kind with no limit. */
export interface BudgetState {
  readonly limit: number
  readonly used: number
  readonly remaining: number
}

/** The methods {@link budget} adds. */
export interface Budgeted {
  /** Rows spent against each limit (one entry `all` for a single limit). */
  readonly budgetState: () => { readonly predict: BudgetState; readonly gradient: BudgetState }
}

// Errors after which we know the model was not queried: the reservation is returned.
const notSent = new Set<OracleError['_tag']>(['InvalidInput', 'ShapeMismatch', 'BudgetExhausted', 'MissingCapability'])

/**
 * Refuse any query that would take the rows spent past `limit`, with `BudgetExhausted` —
 * the whole query is refused, nothing of it is charged or sent.
 *
 * A number limits predict and gradient rows together; an object limits them separately.
 * Rows are reserved synchronously when the task starts, so concurrent callers can never
 * overspend. Invalid queries are refused before they are charged; a query that fails after
 * it was sent (transport, timeout, bad response) stays charged, since the model may have
 * answered and billed it.
 *
 * Place it below `cache()` so cached rows are free: `pipe(remote, budget(n), cache(), meter)`.
 *
 * @example
 * import { function as F } from 'fp-ts'
 * import { budget, fromFunction, matrix } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const limited = F.pipe(model, budget(3))
 * const first = await limited.predict(matrix(2, 2))() // Right
 * const second = await limited.predict(matrix(2, 2))() // Left(BudgetExhausted): 2 rows asked, 1 left; nothing sent
 * const state = limited.budgetState().predict // { limit: 3, used: 2, remaining: 1 }
 */
export const budget =
  (limit: BudgetLimit) =>
  <O extends Oracle>(oracle: O): O & Budgeted => {
    const shared = typeof limit === 'number'
    if (!shared && (limit === null || typeof limit !== 'object')) {
      const none: BudgetState = { limit: 0, used: 0, remaining: 0 }
      return refusing(oracle, errors.invalidInput(`budget limit is ${limit === null ? 'null' : typeof limit}; expected a number of rows or { predictRows?, gradientRows? }`, 'limit'), { budgetState: () => ({ predict: none, gradient: none }) }) as O & Budgeted
    }
    const limits = shared
      ? { predict: limit, gradient: limit }
      : { predict: limit.predictRows ?? Infinity, gradient: limit.gradientRows ?? Infinity }
    for (const [k, v] of Object.entries(limits)) {
      if (typeof v !== 'number' || !(v >= 0) || (Number.isFinite(v) && !Number.isInteger(v))) {
        const none: BudgetState = { limit: 0, used: 0, remaining: 0 }
        return refusing(oracle, errors.invalidInput(`budget limit for ${k} rows is ${typeof v === 'number' ? v : typeof v}; expected a non-negative integer`, 'limit'), { budgetState: () => ({ predict: none, gradient: none }) }) as O & Budgeted
      }
    }
    const used = { predict: 0, gradient: 0 }
    const spent = (kind: 'predict' | 'gradient'): number => (shared ? used.predict + used.gradient : used[kind])

    const charged = <A>(
      kind: 'predict' | 'gradient',
      check: E.Either<OracleError, Matrix>,
      send: () => TE.TaskEither<OracleError, A>,
    ): TE.TaskEither<OracleError, A> =>
      async () => {
        if (E.isLeft(check)) return check
        const rows = check.right.rows
        const lim = limits[kind]
        const before = spent(kind)
        if (before + rows > lim) return E.left(errors.budgetExhausted(before, lim, rows))
        used[kind] += rows
        const result = await send()()
        if (E.isLeft(result) && notSent.has(result.left._tag)) used[kind] -= rows
        return result
      }

    const state = (kind: 'predict' | 'gradient'): BudgetState => ({
      limit: limits[kind],
      used: spent(kind),
      remaining: limits[kind] - spent(kind),
    })
    const out = extendOracle(oracle, {
      predict: (x) => charged('predict', validateQuery(oracle.info, x), () => oracle.predict(x)),
      ...(hasGradients(oracle)
        ? {
            gradient: (x, cls) =>
              charged(
                'gradient',
                F.pipe(
                  validateQuery(oracle.info, x),
                  E.chainFirst((q) => validateClasses(oracle.info, q.rows, cls)),
                ),
                () => oracle.gradient(x, cls),
              ),
          }
        : {}),
    })
    Object.defineProperty(out, 'budgetState', {
      value: () => ({ predict: state('predict'), gradient: state('gradient') }),
      enumerable: true,
    })
    return out as O & Budgeted
  }
