import { either as E, taskEither as TE } from 'fp-ts'
import {
  errorFromThrown,
  errors,
  hasGradients,
  trackQueries,
  validateGradient,
  validateInfo,
  validatePrediction,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type OracleError,
  type Prediction,
  type ProbeError,
  type QueryUsage,
} from '@sonde/oracle'

/**
 * The oracle an extraction queries: every answer is checked against `info` where it arrives (shape, labels in
 * range, finite scores and gradients — a hand-written oracle skips the adapters' checks, and one NaN would
 * send the algorithms astray), and an oracle that throws or rejects gives `BadResponse` instead of a throw.
 * Queries go through `trackQueries`, so `usage()` is the result's `queries`.
 */
export interface Checked<O extends Oracle> {
  readonly oracle: O
  readonly predict: (x: Matrix) => Promise<E.Either<OracleError, Prediction>>
  readonly gradient: (x: Matrix, cls: number | Int32Array) => Promise<E.Either<OracleError, Matrix>>
  readonly usage: () => QueryUsage
}

const call = async <A>(id: string, what: string, run: () => TE.TaskEither<OracleError, A>): Promise<E.Either<OracleError, A>> => {
  try {
    const r = await run()()
    if (r === null || typeof r !== 'object' || (r._tag !== 'Left' && r._tag !== 'Right')) {
      return E.left(errors.badResponse(`oracle '${id}' ${what} did not resolve to an Either`))
    }
    return r
  } catch (cause) {
    return E.left(errorFromThrown(cause, (m) => errors.badResponse(`oracle '${id}' threw from ${what}: ${m}`, cause)) as OracleError)
  }
}

/** Wrap `oracle` as a {@link Checked} one: counted queries, every answer validated against its `info`, throws and rejections turned into `BadResponse`. */
export const checked = <O extends Oracle>(oracle: O): Checked<O> => {
  const tracked = trackQueries(oracle)
  const { info } = oracle
  return {
    oracle: tracked.oracle,
    usage: tracked.usage,
    predict: async (x) => E.chain((p: Prediction) => validatePrediction(info, x.rows, p))(await call(info.id, 'predict', () => tracked.oracle.predict(x))),
    gradient: async (x, cls) => {
      const o = tracked.oracle
      if (!hasGradients(o)) return E.left(errors.missingCapability('gradients', info.id))
      return E.chain((g: Matrix) => validateGradient(info, x.rows, g))(await call(info.id, 'gradient', () => (o as GradientOracle).gradient(x, cls)))
    },
  }
}

/** `InvalidInput` unless `oracle` looks like an oracle with a valid `info` (a JavaScript caller may pass anything). */
export const checkOracle = (oracle: unknown, needGradients: boolean): E.Either<ProbeError, Oracle> => {
  if (oracle === null || typeof oracle !== 'object') return E.left(errors.invalidInput(`the oracle is ${oracle === null ? 'null' : typeof oracle}; expected an oracle`, 'oracle'))
  const o = oracle as Partial<Oracle>
  if (o.info === null || typeof o.info !== 'object') return E.left(errors.invalidInput('the oracle has no info', 'oracle.info'))
  if (typeof o.predict !== 'function') return E.left(errors.invalidInput('the oracle has no predict function', 'oracle.predict'))
  try {
    const info = validateInfo(o.info)
    if (E.isLeft(info)) return info
  } catch (cause) {
    return E.left(errors.invalidInput(`the oracle's info could not be read: ${cause instanceof Error ? cause.message : String(cause)}`, 'oracle.info'))
  }
  if (needGradients && !hasGradients(o as Oracle)) return E.left(errors.missingCapability('gradients', o.info.id, 'gradient explanations are what this extraction reads'))
  return E.right(o as Oracle)
}

/** Run an async body once, turning anything it throws into a typed `Left` (a broken invariant, a model constructor). */
export const guarded =
  <A>(what: string, body: () => Promise<E.Either<ProbeError, A>>): TE.TaskEither<ProbeError, A> =>
  async () => {
    try {
      return await body()
    } catch (cause) {
      return E.left(errorFromThrown(cause, (m) => errors.badResponse(`${what} failed on the oracle's answers: ${m}`, cause)))
    }
  }
