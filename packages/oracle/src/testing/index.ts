/**
 * `@sonde/oracle/testing`: the contract suite every oracle implementation runs.
 *
 * @packageDocumentation
 */
import { either as E, function as F } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import type { OracleError } from '../errors.js'
import { labelsFromScores, type Matrix } from '../matrix.js'
import { budget } from '../middleware/budget.js'
import { meter } from '../middleware/meter.js'
import { hasGradients, type Oracle } from '../oracle.js'
import { createRng, type Rng } from '../rng.js'
import { featureBounds, randomQueries } from '../domain.js'
import { labelThreshold } from '../adapters/function.js'

/** Options of {@link describeOracleContract}. */
export interface OracleContractOptions {
  /** Draw `rows` valid inputs. Default: uniform in `info.domain`, else standard normal. */
  readonly sample?: (rows: number, rng: Rng) => Matrix
  /** Central-difference step for the gradient check. Default 1e-5 (float64 models); use ~1e-2 for float32 ones. */
  readonly finiteDifferenceStep?: number
  /**
   * Largest relative error ‖g − g_fd‖ / (‖g_fd‖ + 1e-8) allowed per row. Default 1e-6: central
   * differences with h = 1e-5 have O(h²) truncation error; float32 models need ~1e-2.
   */
  readonly gradientTolerance?: number
  /** Seed of the inputs the suite draws. Default 1. */
  readonly seed?: number
  /** Test timeout in ms, for slow models. Default 20,000. */
  readonly timeoutMs?: number
}

const run = async <A>(task: () => Promise<E.Either<OracleError, A>>): Promise<A> => {
  const r = await task()
  if (E.isLeft(r)) throw new Error(`${r.left._tag}: ${r.left.message}`)
  return r.right
}

const failure = async <A>(task: () => Promise<E.Either<OracleError, A>>): Promise<OracleError> => {
  const r = await task()
  if (E.isRight(r)) throw new Error('expected the query to fail, but it succeeded')
  return r.left
}

const defaultSample =
  (o: Oracle) =>
  (rows: number, rng: Rng): Matrix =>
    randomQueries(o.info, rows, rng)

const rowNorm = (v: Float64Array): number => Math.sqrt(v.reduce((a, b) => a + b * b, 0))

/**
 * Register the contract suite for one oracle implementation (a vitest `describe` block): every
 * adapter, model class and third-party oracle should pass it.
 *
 * Checks: a valid `info`; shapes of labels and scores; zero-row queries; determinism; a
 * batch equals its rows queried alone; label = argmax of scores (threshold for one column);
 * probabilities sum to one; gradients against central finite differences of the logits (or of
 * the log-probabilities); invalid queries (wrong width, NaN, ±Infinity, outside the domain,
 * classes out of range) refused with the row and column named; and budget + meter behaviour,
 * including concurrent callers.
 *
 * @example
 * // fragment: a vitest test file
 * import { fromFunction, type GradientFunction, type OracleInfo, type PredictFunction } from '@sonde/oracle'
 * import { describeOracleContract } from '@sonde/oracle/testing'
 *
 * declare const info: OracleInfo
 * declare const linear: PredictFunction
 * declare const gradient: GradientFunction
 * describeOracleContract('fromFunction linear', () => fromFunction(info, linear, { gradient }), { seed: 3 })
 */
export const describeOracleContract = (
  name: string,
  makeOracle: () => Oracle | Promise<Oracle>,
  options: OracleContractOptions = {},
): void => {
  const seed = options.seed ?? 1
  const timeout = options.timeoutMs ?? 20_000
  const setup = async (): Promise<{ o: Oracle; sample: (rows: number) => Matrix }> => {
    const o = await makeOracle()
    const rng = createRng(seed)
    const s = options.sample ?? defaultSample(o)
    return { o, sample: (rows) => s(rows, rng) }
  }

  describe(`oracle contract: ${name}`, () => {
    it('has a consistent info', async () => {
      const { o } = await setup()
      expect(o.info.inputDim).toBeGreaterThan(0)
      expect(o.info.numClasses).toBeGreaterThan(0)
      if (o.info.inputShape !== undefined) expect(o.info.inputShape.reduce((a, b) => a * b, 1)).toBe(o.info.inputDim)
    }, timeout)

    it('answers with one label per row and rows × numClasses scores; zero rows give an empty answer', async () => {
      const { o, sample } = await setup()
      const x = sample(7)
      const p = await run(o.predict(x))
      expect(p.labels).toBeInstanceOf(Int32Array)
      expect(p.labels.length).toBe(7)
      for (const l of p.labels) expect(l >= 0 && l < Math.max(2, o.info.numClasses)).toBe(true)
      if (o.info.output === 'label') expect(p.scores).toBeUndefined()
      else {
        expect(p.scores?.rows).toBe(7)
        expect(p.scores?.cols).toBe(o.info.numClasses)
        expect(p.scores?.data.length).toBe(7 * o.info.numClasses)
      }
      const empty = await run(o.predict({ rows: 0, cols: o.info.inputDim, data: new Float64Array(0) }))
      expect(empty.labels.length).toBe(0)
    }, timeout)

    it('is deterministic, and a batch equals its rows queried one at a time', async () => {
      const { o, sample } = await setup()
      const x = sample(5)
      const a = await run(o.predict(x))
      const b = await run(o.predict(x))
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels))
      if (a.scores !== undefined) expect(Array.from(b.scores!.data)).toEqual(Array.from(a.scores.data))
      for (let i = 0; i < x.rows; i++) {
        const single = await run(o.predict({ rows: 1, cols: x.cols, data: x.data.slice(i * x.cols, (i + 1) * x.cols) }))
        expect(single.labels[0]).toBe(a.labels[i])
        if (a.scores !== undefined) {
          const k = a.scores.cols
          const mine = Array.from(a.scores.data.subarray(i * k, (i + 1) * k))
          // Batched kernels (float32 matmuls) may sum in another order: 1e-5 relative.
          Array.from(single.scores!.data).forEach((v, j) => {
            if (Number.isNaN(mine[j]!)) expect(v).toBeNaN()
            else expect(Math.abs(v - mine[j]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(mine[j]!)))
          })
        }
      }
    }, timeout)

    it('labels are the argmax of the scores, and probabilities sum to one', async () => {
      const { o, sample } = await setup()
      if (o.info.output === 'label') return
      const p = await run(o.predict(sample(20)))
      const scores = p.scores!
      expect(Array.from(p.labels)).toEqual(Array.from(labelsFromScores(scores, labelThreshold(o.info))))
      if (o.info.output === 'probabilities' && o.info.numClasses > 1 && o.info.topK === undefined) {
        for (let i = 0; i < scores.rows; i++) {
          let s = 0
          for (let j = 0; j < scores.cols; j++) {
            const v = scores.data[i * scores.cols + j]!
            expect(v).toBeGreaterThanOrEqual(0)
            s += v
          }
          expect(Math.abs(s - 1)).toBeLessThanOrEqual(1e-6)
        }
      }
    }, timeout)

    it('gradients match central finite differences of the logits (or log-probabilities)', async () => {
      const { o, sample } = await setup()
      if (!hasGradients(o) || o.info.output === 'label' || o.info.topK !== undefined) return
      const h = options.finiteDifferenceStep ?? 1e-5
      const tol = options.gradientTolerance ?? 1e-6
      const x = sample(3)
      const d = o.info.inputDim
      const k = o.info.numClasses
      const probs = o.info.output === 'probabilities'
      const toCompare = (s: Matrix, i: number, c: number): number => {
        const v = s.data[i * k + c]!
        return probs ? Math.log(v) : v
      }
      // For probabilities, d log p_c/dx = g_c − Σ_j p_j g_j; we need every class's gradient.
      const grads = await Promise.all(Array.from({ length: k }, (_, c) => run(o.gradient(x, c))))
      const base = (await run(o.predict(x))).scores!
      const coords = Math.min(d, 12)
      for (let i = 0; i < x.rows; i++) {
        for (let c = 0; c < Math.min(k, 3); c++) {
          const g = new Float64Array(coords)
          const fd = new Float64Array(coords)
          for (let t = 0; t < coords; t++) {
            const j = Math.floor((t * d) / coords)
            let gv = grads[c]!.data[i * d + j]!
            if (probs) for (let m = 0; m < k; m++) gv -= base.data[i * k + m]! * grads[m]!.data[i * d + j]!
            g[t] = gv
            const plus = x.data.slice(i * d, (i + 1) * d)
            const minus = plus.slice()
            plus[j] = plus[j]! + h
            minus[j] = minus[j]! - h
            const both = await run(o.predict({ rows: 2, cols: d, data: Float64Array.from([...plus, ...minus]) }))
            fd[t] = (toCompare(both.scores!, 0, c) - toCompare(both.scores!, 1, c)) / (2 * h)
          }
          const err = rowNorm(g.map((v, t) => v - fd[t]!))
          expect(err / (rowNorm(fd) + 1e-8)).toBeLessThanOrEqual(tol)
        }
      }
    }, timeout)

    it('refuses invalid queries, naming row and column', async () => {
      const { o, sample } = await setup()
      const d = o.info.inputDim
      const wrong = await failure(o.predict({ rows: 1, cols: d + 1, data: new Float64Array(d + 1) }))
      expect(wrong._tag).toBe('ShapeMismatch')
      expect(wrong.message).toContain(String(d))
      for (const bad of [Number.NaN, Infinity, -Infinity]) {
        const x = sample(3)
        x.data[1 * d + (d - 1)] = bad
        const e = await failure(o.predict(x))
        expect(e._tag).toBe('InvalidInput')
        if (e._tag === 'InvalidInput') expect(e.path).toBe(`x[1][${d - 1}]`)
      }
      if (o.info.domain !== undefined) {
        const [lo] = featureBounds(o.info, 0)
        if (Number.isFinite(lo)) {
          const x = sample(2)
          x.data[d] = lo - 1
          const e = await failure(o.predict(x))
          expect(e._tag).toBe('InvalidInput')
          if (e._tag === 'InvalidInput') expect(e.path).toBe('x[1][0]')
        }
      }
      if (hasGradients(o)) {
        const x = sample(2)
        expect((await failure(o.gradient(x, o.info.numClasses)))._tag).toBe('InvalidInput')
        expect((await failure(o.gradient(x, -1)))._tag).toBe('InvalidInput')
        expect((await failure(o.gradient(x, Int32Array.of(0))))._tag).toBe('ShapeMismatch')
      }
    }, timeout)

    it('under budget and meter: spends exactly what it answers, refuses past the limit, and holds under concurrent callers', async () => {
      const { o, sample } = await setup()
      const limited = F.pipe(o, budget(10), meter)
      await run(limited.predict(sample(6)))
      const over = await failure(limited.predict(sample(5)))
      expect(over._tag).toBe('BudgetExhausted')
      const bad = sample(2)
      bad.data[0] = Number.NaN
      expect((await failure(limited.predict(bad)))._tag).toBe('InvalidInput')
      await run(limited.predict(sample(4)))
      expect(limited.usage().predictRows).toBe(10)
      expect(limited.budgetState().predict.used).toBe(10)
      // Eight concurrent callers of 3 rows against a fresh budget of 10: exactly three succeed.
      const fresh = F.pipe(o, budget(10), meter)
      const results = await Promise.all(Array.from({ length: 8 }, () => fresh.predict(sample(3))()))
      expect(results.filter(E.isRight).length).toBe(3)
      expect(fresh.usage().predictRows).toBe(9)
      expect(fresh.budgetState().predict.used).toBe(9)
    }, timeout)
  })
}

/**
 * A fingerprint of a value that is equal for two values exactly when they are bit-identical: every number
 * (alone or in a typed array) by its IEEE-754 bits, arrays and plain objects element by element and key by
 * key; functions are skipped (they are behaviour, not output).
 */
const fingerprint = (value: unknown): string => {
  const bits = new DataView(new ArrayBuffer(8))
  const number = (v: number): string => {
    bits.setFloat64(0, v)
    return bits.getBigUint64(0).toString(16)
  }
  const walk = (v: unknown): string => {
    if (typeof v === 'number') return number(v)
    if (typeof v === 'function') return 'ƒ'
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? String(v)
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const list = v as unknown as ArrayLike<number | bigint>
      return `${v.constructor.name}[${Array.from(list, (x) => (typeof x === 'bigint' ? x.toString() : number(x))).join(',')}]`
    }
    if (Array.isArray(v)) return `[${v.map(walk).join(',')}]`
    if (v instanceof Map) return `Map{${Array.from(v, ([k, x]) => `${walk(k)}:${walk(x)}`).join(',')}}`
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${k}:${walk((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return walk(value)
}

/** Options of {@link expectSeeded}. */
export interface SeededOptions {
  /** The seed run twice. Default 1. */
  readonly seed?: number
  /** A different seed, whose output must differ. Default 2. */
  readonly otherSeed?: number
}

/**
 * Assert that a stochastic function is seeded: two runs with the same seed give **bit-identical** outputs
 * (every number compared by its IEEE-754 bits, typed arrays included), and a run with another seed gives a
 * different one (so the seed is not ignored). `run` returns what to compare — the result itself, or a view of
 * it such as a model's weights or its predictions on fixed points.
 *
 * @example
 * // fragment: inside a vitest test
 * import { createRng, randomQueries, type OracleInfo } from '@sonde/oracle'
 * import { expectSeeded } from '@sonde/oracle/testing'
 *
 * const info: OracleInfo = { id: 'box', inputDim: 3, numClasses: 2, output: 'label', domain: { lower: 0, upper: 1 } }
 * await expectSeeded((seed) => randomQueries(info, 10, createRng(seed)))
 */
export const expectSeeded = async (run: (seed: number) => unknown, options: SeededOptions = {}): Promise<void> => {
  const seed = options.seed ?? 1
  const other = options.otherSeed ?? 2
  const a = fingerprint(await run(seed))
  const b = fingerprint(await run(seed))
  const c = fingerprint(await run(other))
  expect(b === a, `seed ${seed} twice gave different outputs`).toBe(true)
  expect(c === a, `seed ${other} gave the same output as seed ${seed}`).toBe(false)
}
