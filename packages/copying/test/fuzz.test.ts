import fc from 'fast-check'
import { either as E, taskEither as TE } from 'fp-ts'
import { afterAll, describe, expect, it } from 'vitest'
import { labelOnly, makeContext, notJsonSafe, runProbe, timeout, type Matrix, type Oracle, type Prediction } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import {
  adaptive,
  balanced,
  boundary,
  classBalance,
  copyClassifier,
  copyingProbe,
  copyingReport,
  empiricalFidelityError,
  fromGenerator,
  gaussian,
  jitter,
  replacementCapability,
  softmaxCopy,
  treeCopy,
  uniformAgreement,
  uniformBox,
  type CopyFamily,
  type CopyResult,
  type Sampler,
} from '../src/index.js'
import { mlpCopy } from '../src/tfjs.js'

// Bad inputs to every public function of @sonde/copying (and the probe through runProbe): no throw, no
// rejection, no hang; every Left has a known tag; every Right passes an independent invariant; and an
// option refused is refused before any query (a counting oracle shows 0 calls).
const knownTags = new Set(['InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'BudgetExhausted', 'Transport', 'BadResponse', 'Timeout', 'Aborted', 'NotConverged', 'Infeasible', 'MissingCapability', 'Unidentifiable', 'TrainingFailed', 'PluginFailed'])
const refusedUpFront = new Set(['InvalidOptions', 'InvalidInput', 'ShapeMismatch'])
let cases = 0
afterAll(() => {
  console.log(`@sonde/copying fuzz: ${cases} cases`)
})

const d = 3
const model = SoftmaxRegression.random(d, 3, 5, { domain: { lower: -2, upper: 2 } })
const good = labelOnly(model)
const reference: Matrix = { rows: 20, cols: d, data: Float64Array.from({ length: 20 * d }, (_, k) => Math.sin(k * 1.3) * 1.5) }

type Counting = Oracle & { calls: () => number }
const counting = (inner: Oracle = good): Counting => {
  let calls = 0
  return { info: inner.info, predict: (x) => (calls++, inner.predict(x)), calls: () => calls }
}

/** Run `task`, never letting a throw or a rejection pass unseen: they fail the property. */
const settle = async <A>(make: () => TE.TaskEither<unknown, A>): Promise<E.Either<{ _tag: string }, A>> => {
  cases++
  let r: unknown
  try {
    r = await make()()
  } catch (cause) {
    throw new Error(`threw or rejected: ${String(cause)}`)
  }
  const either = r as E.Either<{ _tag: string }, A>
  if (E.isLeft(either)) expect(knownTags.has(either.left._tag), JSON.stringify(either.left)).toBe(true)
  return either
}

const finiteEverywhere = (v: unknown, path = 'r'): string | undefined => {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>).every(Number.isFinite) ? undefined : path
  if (Array.isArray(v)) return v.map((x, i) => finiteEverywhere(x, `${path}[${i}]`)).find((x) => x !== undefined)
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => finiteEverywhere(x, `${path}.${k}`)).find((x) => x !== undefined)
  return undefined
}

/** The invariants of a copy run, checked independently of the code under test. */
const checkCopy = (r: CopyResult, o: Counting | undefined, budget: number): void => {
  expect(finiteEverywhere({ d: { ...r.diagnostics, synthetic: undefined }, q: r.queries, details: r.trained.details })).toBeUndefined()
  expect(r.labelsBought).toBeLessThanOrEqual(budget)
  if (r.stopped === undefined) expect(r.labelsBought).toBe(budget)
  expect(r.queries.predictRows).toBe(r.labelsBought + r.monitorRows)
  expect(r.diagnostics.synthetic.y.length).toBeLessThanOrEqual(r.labelsBought)
  const balance = Array.from(r.diagnostics.classBalance)
  expect(Math.abs(balance.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9)
  for (const round of r.diagnostics.rounds) for (const v of [round.trainingAgreement, round.heldOutAgreement, round.monitorAgreement]) if (v !== undefined) expect(v >= 0 && v <= 1).toBe(true)
  if (o !== undefined) expect(r.queries.calls).toBe(o.calls())
  const report = copyingReport(r)
  expect(notJsonSafe(report)).toBeUndefined()
  r.trained.dispose()
}

const junk = fc.constantFrom<unknown>(Number.NaN, Infinity, -Infinity, null, undefined, '1', {}, [], 1.5, 2 ** 53, -1, 0, () => 1, new Float64Array(2), true)
const badMatrix = fc.constantFrom<unknown>(
  null,
  'rows',
  { rows: 0, cols: d, data: new Float64Array(0) },
  { rows: 2, cols: d, data: new Float64Array(5) },
  { rows: 1, cols: d + 1, data: new Float64Array(d + 1) },
  { rows: 1, cols: d, data: Float64Array.of(0, Number.NaN, 0) },
  { rows: 1, cols: d, data: Float64Array.of(0, Infinity, 0) },
  { rows: 1, cols: d, data: [0, 0, 0] },
  { rows: 1, cols: d, data: Float64Array.of(9, 9, 9) },
)

const samplers = (): Sampler[] => [uniformBox(), gaussian(), jitter({ sigma: 0.3 }), balanced(jitter({ sigma: 0.3 })), boundary(jitter({ sigma: 0.3 }), { steps: 3 }), adaptive(jitter({ sigma: 0.3 }))]
const families = (): CopyFamily[] => [treeCopy({ maxDepth: 3 }), softmaxCopy()]

describe('fuzz: @sonde/copying', () => {
  it('copyClassifier with a bad value in one option: refused before any query, or a Right that holds', async () => {
    const field = fc.constantFrom('budget', 'seed', 'rounds', 'reference', 'monitor', 'sampler', 'copy', 'progress', 'signal', 'options')
    await fc.assert(
      fc.asyncProperty(field, fc.oneof(junk, badMatrix), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 1 }), async (f, v, s, c) => {
        const o = counting()
        const base: Record<string, unknown> = { sampler: samplers()[s], copy: families()[c], budget: 24, seed: 3, rounds: 2, reference }
        const options = f === 'options' ? v : { ...base, [f]: v }
        const r = await settle(() => copyClassifier(o, options as never))
        if (E.isLeft(r)) {
          if (refusedUpFront.has(r.left._tag)) expect(o.calls()).toBe(0)
        } else checkCopy(r.right, o, (options as { budget: number }).budget)
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('samplers and families built with bad options: refused before any query', async () => {
    const makers: Array<(v: unknown) => [Sampler, CopyFamily]> = [
      (v) => [uniformBox({ domain: { lower: v, upper: 1 } } as never), treeCopy()],
      (v) => [uniformBox({ domain: v } as never), treeCopy()],
      (v) => [gaussian({ mean: v, std: new Float64Array(d) } as never), treeCopy()],
      (v) => [gaussian({ mean: new Float64Array(d), std: v } as never), treeCopy()],
      (v) => [jitter({ sigma: v } as never), treeCopy()],
      (v) => [jitter({ around: v } as never), treeCopy()],
      (v) => [balanced(jitter(), { sigma: v } as never), treeCopy()],
      (v) => [balanced(jitter(), { steps: v } as never), treeCopy()],
      (v) => [balanced(v as never), treeCopy()],
      (v) => [boundary(jitter(), { steps: v } as never), treeCopy()],
      (v) => [boundary(jitter(), { pairsPerBatch: v } as never), treeCopy()],
      (v) => [adaptive(jitter(), { pool: v } as never), treeCopy()],
      (v) => [jitter(v as never), treeCopy()],
      (v) => [jitter(), treeCopy({ maxDepth: v } as never)],
      (v) => [jitter(), treeCopy({ minNumSamples: v } as never)],
      (v) => [jitter(), softmaxCopy({ l2: v } as never)],
      (v) => [jitter(), mlpCopy({ epochs: v } as never)],
      (v) => [jitter(), mlpCopy({ hidden: v } as never)],
      (v) => [jitter(), mlpCopy({ batchSize: v } as never)],
      (v) => [jitter(), mlpCopy({ learningRate: v } as never)],
    ]
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: makers.length - 1 }), fc.oneof(junk, badMatrix), async (m, v) => {
        const o = counting()
        let pieces: [Sampler, CopyFamily]
        try {
          pieces = makers[m]!(v)
        } catch (cause) {
          throw new Error(`factory ${m} threw: ${String(cause)}`)
        }
        const r = await settle(() => copyClassifier(o, { sampler: pieces[0], copy: pieces[1], budget: 20, seed: 1, reference }))
        if (E.isLeft(r)) {
          if (refusedUpFront.has(r.left._tag)) expect(o.calls()).toBe(0)
        } else checkCopy(r.right, o, 20)
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('misbehaving oracles (throw, reject, hang, wrong shapes, NaN, out-of-range labels): typed errors, no hang', async () => {
    const info = good.info
    const answers: Array<(x: Matrix) => unknown> = [
      () => {
        throw new Error('sync throw')
      },
      () => () => Promise.reject(new Error('rejects')),
      () => () => new Promise(() => undefined),
      (x) => TE.right({ labels: new Int32Array(Math.max(0, x.rows - 1)) }),
      (x) => TE.right({ labels: new Int32Array(x.rows).fill(7) }),
      (x) => TE.right({ labels: Array.from({ length: x.rows }, () => 0) }),
      () => TE.right(null),
      () => TE.left({ nope: true }),
      () => 'not a task',
      () => () => Promise.resolve('not an either'),
      (x) => TE.right({ labels: new Int32Array(x.rows).fill(-1) }),
      (x) => TE.right({ labels: new Int32Array(x.rows), scores: { rows: x.rows, cols: 3, data: new Float64Array(3 * x.rows).fill(Number.NaN) } } as Prediction),
    ]
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: answers.length - 1 }), fc.integer({ min: 0, max: 3 }), async (a, which) => {
        const raw = { info, predict: answers[a]! } as unknown as Oracle
        const oracle = timeout(40)(raw)
        const r = await settle((): TE.TaskEither<unknown, unknown> => {
          if (which === 0) return copyClassifier(oracle, { sampler: jitter(), copy: treeCopy(), budget: 12, seed: 1, reference })
          if (which === 1) return empiricalFidelityError(oracle, good, reference)
          if (which === 2) return replacementCapability(good, oracle, reference, new Int32Array(reference.rows))
          return uniformAgreement(oracle, good, { seed: 1, budget: 10 })
        })
        // The last answer (labels fine, NaN scores) is a label-only read here; everything else must fail.
        if (a !== answers.length - 1) expect(E.isLeft(r)).toBe(true)
        if (E.isRight(r)) expect(finiteEverywhere(which === 0 ? (r.right as CopyResult).queries : r.right)).toBeUndefined()
      }),
      { seed: 42, numRuns: 120 },
    )
  })

  it('misbehaving samplers and copy families (throw, reject, junk, wrong counts, NaN points, odd Lefts): typed errors', async () => {
    const badSamplers: Sampler[] = [
      { name: 'throws', draw: () => { throw new Error('x') } },
      { name: 'rejects', draw: () => () => Promise.reject(new Error('x')) },
      { name: 'junk', draw: () => () => Promise.resolve(42 as never) },
      { name: 'odd-left', draw: () => TE.left({ weird: 1 } as never) },
      { name: 'short', draw: (n, ctx) => TE.map((y: Int32Array) => ({ x: { rows: n - 1, cols: d, data: new Float64Array((n - 1) * d) }, y: y.slice(1) }))(ctx.label({ rows: n, cols: d, data: new Float64Array(n * d) })) },
      { name: 'nan', draw: (n) => TE.right({ x: { rows: n, cols: d, data: new Float64Array(n * d).fill(Number.NaN) }, y: new Int32Array(n) }) },
      { name: 'labels-out-of-range', draw: (n) => TE.right({ x: { rows: n, cols: d, data: new Float64Array(n * d) }, y: new Int32Array(n).fill(9) }) },
      { name: 'check-throws', check: () => { throw new Error('x') }, draw: jitter().draw },
      { name: 'check-junk', check: () => 'bad' as never, draw: jitter().draw },
      fromGenerator('gen-nan', (n) => E.right({ rows: n, cols: d, data: new Float64Array(n * d).fill(Number.NaN) })),
      fromGenerator('gen-short', (n) => E.right({ rows: n - 1, cols: d, data: new Float64Array((n - 1) * d) })),
      fromGenerator('gen-junk', () => null as never),
      adaptive(fromGenerator('gen-throws-later', (n, ctx) => (ctx.copy !== undefined ? (() => { throw new Error('x') })() : E.right({ rows: n, cols: d, data: new Float64Array(n * d) })))),
    ]
    const badFamilies: CopyFamily[] = [
      { name: 'throws', fit: () => { throw new Error('x') } },
      { name: 'rejects', fit: () => () => Promise.reject(new Error('x')) },
      { name: 'junk', fit: () => TE.right(null as never) },
      { name: 'no-oracle', fit: () => TE.right({ model: {}, details: {}, dispose: () => undefined } as never) },
      { name: 'copy-throws', fit: () => TE.right({ oracle: { info: good.info, predict: () => { throw new Error('x') } }, model: {}, details: {}, dispose: () => undefined }) },
      { name: 'copy-short', fit: () => TE.right({ oracle: { info: good.info, predict: () => TE.right({ labels: new Int32Array(1) }) }, model: {}, details: {}, dispose: () => undefined }) },
      { name: 'check-throws', check: () => { throw new Error('x') }, fit: treeCopy().fit },
    ]
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: badSamplers.length + badFamilies.length - 1 }), async (i) => {
        const o = counting()
        const [sampler, copy] = i < badSamplers.length ? [badSamplers[i]!, treeCopy()] : [jitter(), badFamilies[i - badSamplers.length]!]
        const r = await settle(() => copyClassifier(o, { sampler, copy, budget: 12, rounds: 2, seed: 1, reference }))
        if (sampler.name !== 'gen-throws-later') expect(E.isLeft(r), `${sampler.name}/${copy.name}`).toBe(true)
        if (E.isLeft(r) && refusedUpFront.has(r.left._tag)) expect(o.calls()).toBe(0)
      }),
      { seed: 42, numRuns: 60 },
    )
  })

  it('the metrics and classBalance with bad arguments from a JavaScript caller', async () => {
    const js = <F>(f: F) => f as unknown as (...a: unknown[]) => TE.TaskEither<unknown, unknown>
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.oneof(junk, badMatrix), fc.oneof(junk, fc.constant(good)), async (w, v, other) => {
        const o = counting()
        if (w === 4) {
          cases++
          let r: E.Either<unknown, Float64Array>
          try {
            r = classBalance(v as never, other === good ? 3 : (other as never))
          } catch (cause) {
            throw new Error(`classBalance threw: ${String(cause)}`)
          }
          if (E.isRight(r)) expect(finiteEverywhere(r.right)).toBeUndefined()
          return
        }
        const args: unknown[][] = [
          [o, other, v],
          [o, good, reference, v],
          [o, other, { seed: v, budget: 10 }],
          [o, good, v, new Int32Array(1), { seed: v }],
        ]
        const f = [empiricalFidelityError, replacementCapability, uniformAgreement, replacementCapability][w]!
        const r = await settle(() => js(f)(...args[w]!))
        if (E.isLeft(r) && refusedUpFront.has(r.left._tag)) expect(o.calls()).toBe(0)
        if (E.isRight(r)) {
          const m = r.right as { agreement?: number; capability?: number; points: number }
          expect(m.points).toBeGreaterThan(0)
          expect(finiteEverywhere(r.right)).toBeUndefined()
        }
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('the probe through runProbe: JSON-ish junk options and bad seeds, refused before any query', async () => {
    const ref = Array.from({ length: 10 }, (_, i) => [Math.sin(i), Math.cos(i), 0.5])
    const value = fc.oneof(junk, fc.constantFrom<unknown>('tree', 'mlp', 'jitter', 'grid', [[1, 2]], ref, [], [[Number.NaN, 0, 0]], 1e9, 5))
    const key = fc.constantFrom('budget', 'sampler', 'copy', 'sigma', 'rounds', 'maxDepth', 'hidden', 'epochs', 'reference', 'monitor', 'samples')
    await fc.assert(
      fc.asyncProperty(key, value, fc.constantFrom<unknown>(1, Number.NaN, 1.5, 2 ** 53, '1'), async (k, v, seed) => {
        const o = counting()
        const options = { budget: 16, copy: 'tree', rounds: 2, reference: ref, [k]: v }
        const r = await settle(() => runProbe(copyingProbe, o, options, makeContext({ seed: seed as number }), { queryTimeoutMs: 1000 }))
        if (E.isLeft(r)) {
          if (refusedUpFront.has(r.left._tag)) expect(o.calls()).toBe(0)
        } else {
          expect(seed).toBe(1)
          checkCopy(r.right, o, r.right.budget)
        }
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('counts its cases', () => {
    expect(cases).toBeGreaterThanOrEqual(800)
  })
})
