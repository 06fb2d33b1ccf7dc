/**
 * Fuzz: bad inputs to every public function of `@sonde/oracle` that takes untrusted input or touches an
 * oracle — adapters, middleware, validators, option schemas, probes and registries — from a JavaScript
 * caller (wrong types), with misbehaving model functions (throw, reject, hang, wrong shapes, NaN).
 *
 * Invariants: no throw, no rejection, no hang (every call below is bounded by a timeout); every `Left` has a
 * known tag; every `Right` passes an independent check (shapes, finiteness, probabilities); a bad query or
 * a bad middleware argument reaches nothing below (a counting model shows 0 calls).
 *
 * Out of scope by contract (documented to throw on a programming error, see DESIGN.md "Errors are values"):
 * the pure constructors `matrix`, `fromRows`, `takeRows`, `concatRows`, `labelAgreement`, `createRng`, and
 * `toPromise` (whose job is to throw the `Left`).
 */
import { either as E } from 'fp-ts'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  batch,
  budget,
  cache,
  capabilitiesOf,
  decodeWith,
  describeProbe,
  fromFunction,
  labelOnly,
  makeContext,
  makeRegistry,
  meter,
  noQueries,
  notJsonSafe,
  retry,
  runProbe,
  schemas,
  SondeError,
  timeout,
  topK,
  trackQueries,
  validateClasses,
  validateGradient,
  validateInfo,
  validatePrediction,
  validateQuery,
  validateSeed,
  z,
  type ErrorTag,
  type Matrix,
  type Oracle,
  type OracleInfo,
  type Probe,
  type ProbeResult,
} from '../src/index.js'

const knownTags: ReadonlySet<ErrorTag> = new Set<ErrorTag>([
  'InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'BudgetExhausted', 'Transport', 'BadResponse', 'Timeout', 'Aborted',
  'NotConverged', 'Infeasible', 'Unidentifiable', 'TrainingFailed', 'PluginFailed', 'MissingCapability',
])
let cases = 0
afterAll(() => {
  // The number of fuzz cases this file ran, for the closing note.
  console.log(`oracle fuzz: ${cases} cases`)
})

/** Run `f` and classify: 'threw' | 'rejected' | 'hung' | the Either it returned. */
const settle = async <A>(f: () => Promise<E.Either<{ _tag: string }, A>>, ms = 2000): Promise<E.Either<{ _tag: string }, A> | 'threw' | 'rejected' | 'hung'> => {
  cases++
  let p: Promise<E.Either<{ _tag: string }, A>>
  try {
    p = f()
  } catch {
    return 'threw'
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)))
  try {
    return await Promise.race([p, hung])
  } catch {
    return 'rejected'
  } finally {
    clearTimeout(timer)
  }
}
const expectTyped = (r: unknown): void => {
  expect(r).not.toBe('threw')
  expect(r).not.toBe('rejected')
  expect(r).not.toBe('hung')
  const e = r as E.Either<{ _tag: ErrorTag }, unknown>
  if (E.isLeft(e)) expect(knownTags.has(e.left._tag)).toBe(true)
}

const junk = fc.oneof(
  fc.constant(null), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-Infinity),
  fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.array(fc.anything(), { maxLength: 4 }), fc.object(), fc.constant(() => 1),
  fc.constant(new Float64Array(3)), fc.constant(Symbol('s')),
)

/** A matrix that may be malformed in every way a JavaScript caller can get it wrong. */
const maybeBadMatrix = (cols: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    junk,
    fc.record({ rows: fc.integer({ min: -2, max: 5 }), cols: fc.integer({ min: -1, max: cols + 2 }), data: fc.float64Array({ maxLength: 20 }) }),
    fc.integer({ min: 0, max: 5 }).chain((rows) =>
      fc.record({ rows: fc.constant(rows), cols: fc.constant(cols), data: fc.float64Array({ minLength: rows * cols, maxLength: rows * cols }) }),
    ),
  )

const info: OracleInfo = { id: 'fuzz:linear', inputDim: 3, numClasses: 3, output: 'logits' }
const counting = (behave: (x: Matrix) => unknown = (x) => ({ rows: x.rows, cols: 3, data: Float64Array.from({ length: 3 * x.rows }, (_, k) => Math.sin(k + x.data[Math.floor(k / 3) * 3]!)) })) => {
  let calls = 0
  const oracle = fromFunction(info, (x) => { calls++; return behave(x) as Matrix }, { timeoutMs: 200, gradient: (x) => { calls++; return behave(x) as Matrix } })
  return { oracle, calls: () => calls }
}
const stacks: Record<string, (o: Oracle) => Oracle> = {
  plain: (o) => o,
  meter: (o) => meter(o),
  budget: (o) => budget(50)(o),
  batch: (o) => batch(2)(o),
  cache: (o) => cache()(o),
  retry: (o) => retry({ retries: 1, baseDelayMs: 1 })(o),
  timeout: (o) => timeout(300)(o),
  topK: (o) => topK(2)(o),
  labelOnly: (o) => labelOnly(o),
  all: (o) => meter(batch(2)(cache()(budget(50)(retry({ retries: 1, baseDelayMs: 1 })(timeout(300)(o)))))),
}

describe('fuzz: queries', () => {
  it('a malformed query to any middleware stack is a typed error and reaches nothing below', async () => {
    await fc.assert(
      fc.asyncProperty(maybeBadMatrix(3), fc.constantFrom(...Object.keys(stacks)), async (x, stack) => {
        const { oracle, calls } = counting()
        const o = stacks[stack]!(oracle)
        const r = await settle(() => o.predict(x as Matrix)())
        expectTyped(r)
        const valid = E.isRight(validateQuery(info, x as Matrix))
        if (!valid) {
          expect(E.isLeft(r as E.Either<unknown, unknown>)).toBe(true)
          expect(calls()).toBe(0)
        } else if (E.isRight(r as E.Either<unknown, unknown>)) {
          const p = (r as E.Right<{ labels: Int32Array; scores?: Matrix }>).right
          expect(p.labels.length).toBe((x as Matrix).rows)
          expect(p.labels.every((l) => l >= 0 && l < 3)).toBe(true)
          if (p.scores !== undefined) expect(p.scores.data.every((v) => Number.isFinite(v) || Number.isNaN(v) === (stack === 'topK'))).toBe(true)
        }
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('a bad class argument to gradient is a typed error and reaches nothing below', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(junk, fc.integer({ min: -3, max: 6 }), fc.constant(Int32Array.of(0, 1)), fc.constant(Int32Array.of(0, 5, 1))), async (cls) => {
        const { oracle, calls } = counting()
        const x: Matrix = { rows: 3, cols: 3, data: new Float64Array(9) }
        const r = await settle(() => (oracle as Oracle & { gradient: (x: Matrix, c: unknown) => () => Promise<E.Either<{ _tag: string }, Matrix>> }).gradient(x, cls)())
        expectTyped(r)
        if (E.isLeft(validateClasses(info, 3, cls as number))) expect(calls()).toBe(0)
      }),
      { seed: 7, numRuns: 150 },
    )
  })
})

describe('fuzz: misbehaving models', () => {
  const behaviours: Record<string, (x: Matrix) => unknown> = {
    throws: () => { throw new Error('boom') },
    throwsString: () => { throw 'a string' },
    rejects: () => Promise.reject(new Error('late')),
    hangs: () => new Promise(() => undefined),
    short: (x) => ({ rows: Math.max(0, x.rows - 1), cols: 3, data: new Float64Array(3 * Math.max(0, x.rows - 1)) }),
    wide: (x) => ({ rows: x.rows, cols: 4, data: new Float64Array(4 * x.rows) }),
    nan: (x) => ({ rows: x.rows, cols: 3, data: new Float64Array(3 * x.rows).fill(Number.NaN) }),
    infinite: (x) => ({ rows: x.rows, cols: 3, data: new Float64Array(3 * x.rows).fill(Infinity) }),
    wrongLength: (x) => ({ rows: x.rows, cols: 3, data: new Float64Array(3 * x.rows + 1) }),
    notAMatrix: () => 'scores',
    nullish: () => null,
    plainArray: (x) => Array.from({ length: x.rows }, () => [0, 1, 2]),
  }
  it('every misbehaviour, under every middleware stack, is a typed error — never a throw, a rejection or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(behaviours)), fc.constantFrom(...Object.keys(stacks)), fc.integer({ min: 1, max: 4 }), fc.boolean(), async (b, stack, rows, grad) => {
        const { oracle } = counting(behaviours[b]!)
        const o = stacks[stack]!(oracle)
        const x: Matrix = { rows, cols: 3, data: Float64Array.from({ length: 3 * rows }, (_, k) => k / 7) }
        const r = await settle(() => (grad && 'gradient' in o ? (o as Oracle & { gradient: (x: Matrix, c: number) => () => Promise<E.Either<{ _tag: string }, unknown>> }).gradient(x, 0)() : o.predict(x)()))
        expectTyped(r)
        expect(E.isLeft(r as E.Either<unknown, unknown>)).toBe(true)
      }),
      { seed: 3, numRuns: 250 },
    )
  })

  it('probabilities that are negative or do not sum to 1 are refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: -1, max: 2, noNaN: true }), { minLength: 3, maxLength: 3 }), async (p) => {
        const sum = p[0]! + p[1]! + p[2]!
        const o = fromFunction({ ...info, output: 'probabilities' }, (x) => ({ rows: x.rows, cols: 3, data: Float64Array.from({ length: 3 * x.rows }, (_, k) => p[k % 3]!) }))
        const r = await settle(() => o.predict({ rows: 1, cols: 3, data: new Float64Array(3) })())
        expectTyped(r)
        const ok = p.every((v) => v >= 0) && Math.abs(sum - 1) < 1e-6
        if (!ok) expect(E.isLeft(r as E.Either<unknown, unknown>)).toBe(true)
      }),
      { seed: 11, numRuns: 200 },
    )
  })
})

describe('fuzz: arguments from a JavaScript caller', () => {
  it('middleware given junk arguments never throw; the first query is the typed error and reaches nothing below', async () => {
    const makers: Record<string, (a: unknown) => (o: Oracle) => Oracle> = {
      budget: (a) => budget(a as number),
      batch: (a) => batch(a as number),
      cache: (a) => cache(a as { maxEntries: number }),
      retry: (a) => retry(a as { retries: number }),
      timeout: (a) => timeout(a as number),
      topK: (a) => topK(a as number),
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(makers)), junk, async (m, arg) => {
        const { oracle, calls } = counting()
        let o: Oracle
        try {
          o = makers[m]!(arg)(oracle)
        } catch {
          cases++
          expect.fail(`${m}(${String(arg)}) threw`)
        }
        const r = await settle(() => o.predict({ rows: 1, cols: 3, data: new Float64Array(3) })())
        expectTyped(r)
        if (E.isLeft(r as E.Either<unknown, unknown>)) expect(calls()).toBe(0)
      }),
      { seed: 5, numRuns: 200 },
    )
  })

  it('validators, info checks, seeds and capabilities never throw on junk', () => {
    fc.assert(
      fc.property(junk, junk, junk, (a, b, c) => {
        cases++
        const i = { ...info, ...(typeof a === 'object' && a !== null ? a : {}) } as OracleInfo
        const u = (v: unknown) => v as never
        const checks: Array<() => E.Either<{ readonly _tag: ErrorTag }, unknown>> = [
          () => validateQuery(i, u(b)),
          () => validateQuery(info, u(b)),
          () => validateClasses(info, 2, u(c)),
          () => validatePrediction(info, 2, u(b)),
          () => validateGradient(info, 2, u(b)),
          () => validateInfo(u(a)),
          () => validateInfo(i),
          () => validateSeed(a),
        ]
        for (const f of checks) {
          const r = f()
          expect(E.isLeft(r) || E.isRight(r)).toBe(true)
          if (E.isLeft(r)) expect(knownTags.has(r.left._tag)).toBe(true)
        }
        expect(() => capabilitiesOf({ info, predict: b } as unknown as Oracle)).not.toThrow()
      }),
      { seed: 9, numRuns: 300 },
    )
  })

  it('fromFunction given a junk info throws a typed SondeError at once (documented); a junk function gives an oracle that refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(junk, fc.constant(info)), junk, async (i, f) => {
        cases++
        let o: Oracle | undefined
        try {
          o = fromFunction(i as unknown as OracleInfo, f as unknown as () => Int32Array)
        } catch (e) {
          // A wrong description is a programming error, reported at construction as a typed error.
          expect(e instanceof SondeError && knownTags.has(e.error._tag)).toBe(true)
          expect(E.isLeft(validateInfo(i as OracleInfo))).toBe(true)
          return
        }
        const r = await settle(() => o!.predict({ rows: 1, cols: 3, data: new Float64Array(3) })())
        expectTyped(r)
      }),
      { seed: 13, numRuns: 150 },
    )
  })

  it('option schemas decode anything without throwing and list a path for every issue', () => {
    const s = z.object({ x: schemas.matrix(), v: schemas.vector(), y: schemas.labels().optional(), e: schemas.examples().optional(), b: schemas.bound('side').optional(), seed: schemas.seed() }).strict()
    fc.assert(
      fc.property(fc.oneof(junk, fc.record({ x: fc.oneof(junk, fc.array(fc.array(fc.oneof(fc.double(), junk), { maxLength: 3 }), { maxLength: 3 })), v: fc.oneof(junk, fc.array(fc.double(), { maxLength: 3 })), seed: fc.oneof(junk, fc.integer()) }, { requiredKeys: [] })), (u) => {
        cases++
        const r = decodeWith(s, u)
        if (E.isLeft(r)) {
          expect(r.left.issues.length).toBeGreaterThan(0)
          for (const i of r.left.issues) expect(i.path.startsWith('options')).toBe(true)
        } else {
          expect(r.right.x.data.every(Number.isFinite)).toBe(true)
          expect(r.right.x.data.length).toBe(r.right.x.rows * r.right.x.cols)
          expect(r.right.v.every(Number.isFinite)).toBe(true)
          expect(Number.isSafeInteger(r.right.seed)).toBe(true)
        }
      }),
      { seed: 17, numRuns: 400 },
    )
  })

  it('runProbe and makeRegistry: junk options, contexts, probes and plugins that throw, reject, hang or return junk', async () => {
    const base: Probe<Oracle, { readonly n: number }, ProbeResult> = {
      id: 'fuzz/probe',
      summary: 'fuzz',
      requires: ['labels'],
      options: z.object({ n: z.number().int().min(1).default(1) }).strict(),
      run: (o, opts, ctx) => async () => {
        const t = trackQueries(o)
        const r = await t.oracle.predict({ rows: opts.n, cols: 3, data: new Float64Array(3 * opts.n) })()
        return E.isLeft(r) ? r : E.right({ queries: t.usage(), seed: ctx.seed })
      },
      report: (r) => ({ probe: 'fuzz/probe', headline: '', findings: [], seed: r.seed, queries: r.queries, metrics: [], tables: [], figures: [] }),
    }
    const runs: Record<string, Probe<Oracle, { readonly n: number }, ProbeResult>['run']> = {
      ok: base.run,
      throws: () => { throw new Error('plugin bug') },
      rejects: () => () => Promise.reject(new Error('plugin bug')),
      returnsJunk: () => (() => Promise.resolve(42)) as never,
      hangsOnOracle: (o) => async () => {
        const r = await o.predict({ rows: 1, cols: 3, data: new Float64Array(3) })()
        return E.isLeft(r) ? r : E.right({ queries: noQueries, seed: 0 })
      },
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(junk, fc.record({ n: fc.oneof(junk, fc.integer({ min: -2, max: 4 })) })), fc.oneof(fc.integer(), junk), fc.constantFrom(...Object.keys(runs)), async (opts, seed, run) => {
        const hanging = fromFunction(info, () => new Promise<Int32Array>(() => undefined))
        const { oracle, calls } = counting()
        const o = run === 'hangsOnOracle' ? hanging : oracle
        const probe = { ...base, run: runs[run]! }
        const r = await settle(() => runProbe(probe, o, opts, makeContext({ seed: seed as number }), { queryTimeoutMs: 100 })())
        expectTyped(r)
        const decoded = decodeWith(base.options, opts)
        if (E.isLeft(decoded) || !Number.isSafeInteger(seed)) {
          expect(E.isLeft(r as E.Either<unknown, unknown>)).toBe(true)
          expect(calls()).toBe(0)
        }
        if (run === 'returnsJunk') expect(E.isLeft(r as E.Either<unknown, unknown>)).toBe(true)
        if (run === 'ok' && E.isRight(r as E.Either<unknown, ProbeResult>)) {
          const v = (r as E.Right<ProbeResult>).right
          expect(v.seed).toBe(seed)
          expect(v.queries.predictRows).toBe(decoded._tag === 'Right' ? decoded.right.n : -1)
          expect(notJsonSafe(base.report(v))).toBeUndefined()
        }
      }),
      { seed: 21, numRuns: 200 },
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(junk, fc.constant(base)), { maxLength: 4 }), (ps) => {
        cases++
        expect(() => makeRegistry(ps as never)).not.toThrow()
      }),
      { seed: 23, numRuns: 100 },
    )
    expect(JSON.parse(JSON.stringify(describeProbe(base)))).toEqual(describeProbe(base))
  })
})
