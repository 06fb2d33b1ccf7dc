import { either as E, taskEither as TE } from 'fp-ts'
import { errors, type Aborted, type OracleError } from './errors.js'
import { hasGradients, type Oracle } from './oracle.js'
import { extendOracle } from './middleware/extend.js'

/** A progress report from a running probe or family function. */
export interface ProgressEvent {
  /** What is being done, e.g. `'labelling'`, `'round 3'`, `'cg'`. */
  readonly stage: string
  readonly done: number
  readonly total?: number
}

/**
 * How a caller watches and stops long work: every family function that can run for more than a moment
 * takes these among its options, and every probe gets them from its context.
 */
export interface RunControl {
  /** Stops the work: it ends with `Aborted` at the next check (between oracle calls and inside long loops). */
  readonly signal?: AbortSignal
  /** Called at least once per round, epoch or solve, and at least about once a second of work. */
  readonly progress?: (event: ProgressEvent) => void
  readonly log?: (message: string) => void
}

/** Progress and abort for one stage of work; see {@link stage}. */
export interface Stage {
  /** Report `done` (throttled to one event per 100 ms, except the first and the last) and check the signal. */
  readonly check: (done: number) => E.Either<Aborted, void>
  /**
   * {@link Stage.check}, after yielding to the event loop if 50 ms have passed since the last yield, so that
   * an abort fired while synchronous numeric work runs is seen. Await it inside long loops.
   */
  readonly tick: (done: number) => Promise<E.Either<Aborted, void>>
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now())
// setImmediate is Node's; browsers (the docs' live demos) have only setTimeout.
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)))

/**
 * The one helper through which long work reports progress and checks for an abort, so no loop can do
 * one without the other.
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { stage, type Aborted, type RunControl } from '@sonde/oracle'
 *
 * const halve = async (control: RunControl, maxIter: number): Promise<E.Either<Aborted, number>> => {
 *   const s = stage(control, 'halving', maxIter)
 *   let x = 1
 *   for (let it = 0; it < maxIter; it++) {
 *     const ok = await s.tick(it)
 *     if (E.isLeft(ok)) return ok
 *     x /= 2 // … one iteration …
 *   }
 *   return E.right(x)
 * }
 * const events: number[] = []
 * const result = await halve({ signal: new AbortController().signal, progress: (e) => events.push(e.done) }, 10) // Right(1 / 1024)
 */
export const stage = (control: RunControl | undefined, name: string, total?: number): Stage => {
  let lastEmit = -Infinity
  let lastYield = now()
  let emitted = 0
  // A function, not an inline test: TypeScript would narrow `aborted` to false after the first check.
  const fired = (): boolean => control?.signal?.aborted === true
  const check = (done: number): E.Either<Aborted, void> => {
    if (fired()) return E.left(errors.aborted(`'${name}'`))
    const t = now()
    if (control?.progress !== undefined && (emitted === 0 || t - lastEmit >= 100 || (total !== undefined && done >= total))) {
      lastEmit = t
      emitted++
      control.progress(total === undefined ? { stage: name, done } : { stage: name, done, total })
      // An abort fired from inside the progress callback is seen now, not one paid query later.
      if (fired()) return E.left(errors.aborted(`'${name}'`))
    }
    return E.right(undefined)
  }
  return {
    check,
    tick: async (done) => {
      if (now() - lastYield >= 50) {
        await yieldToEventLoop()
        lastYield = now()
      }
      return check(done)
    },
  }
}

/**
 * `Left(Aborted)` if the signal has fired.
 *
 * @example
 * import { checkSignal } from '@sonde/oracle'
 *
 * const controller = new AbortController()
 * controller.abort()
 * const stopped = checkSignal(controller.signal, 'the search') // Left(Aborted): 'the search was aborted by its AbortSignal'
 */
export const checkSignal = (signal: AbortSignal | undefined, what: string): E.Either<Aborted, void> =>
  signal?.aborted === true ? E.left(errors.aborted(what)) : E.right(undefined)

/**
 * An oracle that refuses every query sent after `signal` fires (`Aborted`, before anything reaches the
 * model), so a run stops between oracle calls. A query already in flight completes and is returned.
 *
 * @example
 * import { abortable, fromFunction, matrix } from '@sonde/oracle'
 *
 * const model = fromFunction({ id: 'zero', inputDim: 2, numClasses: 1, output: 'logits' }, (x) => matrix(x.rows, 1))
 * const controller = new AbortController()
 * const stoppable = abortable(controller.signal)(model)
 * controller.abort()
 * const refused = await stoppable.predict(matrix(1, 2))() // Left(Aborted); the model was not called
 */
export const abortable =
  (signal: AbortSignal | undefined) =>
  <O extends Oracle>(oracle: O): O => {
    if (signal === undefined) return oracle
    const what = `a query to '${oracle.info.id}'`
    const guard = <A>(task: () => TE.TaskEither<OracleError, A>): TE.TaskEither<OracleError, A> =>
      signal.aborted ? TE.left(errors.aborted(what)) : task()
    return extendOracle(oracle, {
      predict: (x) => () => guard(() => oracle.predict(x))(),
      ...(hasGradients(oracle) ? { gradient: (x, cls) => () => guard(() => oracle.gradient(x, cls))() } : {}),
    })
  }
