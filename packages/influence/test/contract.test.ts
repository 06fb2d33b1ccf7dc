import { either as E, type taskEither as TE } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { noQueries, takeRows, type ProbeError, type ProgressEvent } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression } from '@sonde/models'
import { gaussianBlobs } from '@sonde/datasets'
import {
  influenceOnTest,
  inputInfluence,
  prepareInverseHvp,
  rankSuspiciousLabels,
  selfInfluence,
  trainingSetAttack,
  validateAgainstRetraining,
} from '../src/index.js'
import { run, unwrap } from './helpers.js'

const ds = gaussianBlobs({ n: 120, dim: 4, classes: 3, spread: 1.4, seed: 9 })
const train = { x: ds.x, y: ds.y }
const test = { x: takeRows(ds.x, [0, 1]), y: ds.y.slice(0, 2) }
const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { numClasses: 3, l2: 0.02 })).model

describe('the exact Hessian build', () => {
  it('a model that is not logistic/softmax regression is built column by column from its Hessian-vector products: the same exact scores', async () => {
    // A plain object with the model's members: not an instance of the GLM classes, so the generic path runs.
    const plain = Object.fromEntries(
      ['whitebox', 'numParams', 'l2', 'damping', 'info', 'params', 'losses', 'objective', 'objectiveGradient', 'perExampleGradients', 'hessianVectorProduct', 'hessianOperator', 'hessian', 'gradientProducts', 'mixedGradientProduct', 'refit'].map((k) => [k, (model as unknown as Record<string, unknown>)[k]]),
    ) as unknown as typeof model
    const a = await run(influenceOnTest(model, train, test, { method: 'exact' }))
    const b = await run(influenceOnTest(plain, train, test, { method: 'exact' }))
    // Exact HVPs of a GLM: the two builds differ by rounding only (relative 1e-10 of the largest score).
    const scale = Math.max(...a.scores.data.map(Math.abs))
    for (let k = 0; k < a.scores.data.length; k++) expect(Math.abs(a.scores.data[k]! - b.scores.data[k]!)).toBeLessThanOrEqual(1e-10 * scale)
    expect(b.solves.every((s) => s.relativeResidual <= 1e-12)).toBe(true)
  })
})

describe('results: queries and seed', () => {
  it('every family function reports no queries (white-box work) and echoes its seed (0 by default; LiSSA requires one)', async () => {
    const infl = await run(influenceOnTest(model, train, test))
    expect(infl.queries).toEqual(noQueries)
    expect(infl.seed).toBe(0)
    expect((await run(influenceOnTest(model, train, test, { seed: 42 }))).seed).toBe(42)
    expect((await run(influenceOnTest(model, train, test, { method: 'lissa', seed: 5, depth: 800 }))).seed).toBe(5)
    const self = await run(selfInfluence(model, train, { method: 'exact', seed: 3 }))
    expect([self.queries, self.seed]).toEqual([noQueries, 3])
    expect((await run(rankSuspiciousLabels(model, train))).seed).toBe(0)
    const pert = await run(inputInfluence(model, train, test, { rows: [0, 5], seed: 8 }))
    expect([pert.queries, pert.seed, pert.gradients[0]!.rows]).toEqual([noQueries, 8, 2])
    const check = await run(validateAgainstRetraining(model, train, test, infl, { count: 5, seed: 2 }))
    expect([check.queries, check.seed]).toEqual([noQueries, 2])
    const inv = await run(prepareInverseHvp(model, train, { method: 'cg', seed: 9 }))
    expect(inv.seed).toBe(9)
    for (const seed of [Number.NaN, 1.5, 2 ** 53, '1', null]) {
      const r = await influenceOnTest(model, train, test, { seed: seed as never })()
      expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.message, String(seed)).toContain('options.seed')
    }
    const lissa = await influenceOnTest(model, train, test, { method: 'lissa' })()
    expect(E.isLeft(lissa) && lissa.left._tag === 'InvalidOptions' && lissa.left.message).toContain('options.seed')
  })

  it('renamed options are refused by name, not silently ignored: tol → tolerance, bounds → domain', async () => {
    const r1 = await influenceOnTest(model, train, test, { tol: 1e-4 } as never)()
    expect(E.isLeft(r1) && r1.left._tag === 'InvalidOptions' && r1.left.message).toContain('options.tol: was renamed to options.tolerance')
    const bin = Int32Array.from(ds.y, (l) => (l === 0 ? 1 : 0))
    const logistic = unwrap(LogisticRegression.fit(ds.x, bin, { l2: 0.1 })).model
    const r2 = await trainingSetAttack(logistic, { x: ds.x, y: bin }, { x: test.x, y: bin.slice(0, 2) }, { epsilon: 0.1, bounds: { lower: 0, upper: 1 } } as never)()
    expect(E.isLeft(r2) && r2.left._tag === 'InvalidOptions' && r2.left.message).toContain('options.bounds: was renamed to options.domain')
    // The new name is honoured: a tolerance of 1e-3 stops CG earlier than the default 1e-10.
    const loose = await run(influenceOnTest(model, train, test, { tolerance: 1e-3 }))
    const tight = await run(influenceOnTest(model, train, test))
    expect(loose.solves[0]!.iterations).toBeLessThan(tight.solves[0]!.iterations)
    expect(loose.solves[0]!.relativeResidual).toBeLessThanOrEqual(1e-3)
  })

  it('reports progress for every stage of the work: the Hessian build and factor (exact), every CG iteration, every solve', async () => {
    const seen = (method: 'exact' | 'cg' | 'lissa') => {
      const stages = new Set<string>()
      return { stages, progress: (e: ProgressEvent) => void stages.add(e.stage), method }
    }
    for (const [method, expected] of [
      ['exact', ['hessian', 'cholesky', 's_test', 'exact solve']],
      ['cg', ['cg', 's_test']],
      ['lissa', ['lissa scale', 'lissa', 's_test']],
    ] as const) {
      const s = seen(method)
      await run(influenceOnTest(model, train, test, { method, progress: s.progress, seed: 1, depth: 800 }))
      expect([...s.stages].sort()).toEqual([...expected].sort())
    }
  })
})

/** Run `task` with a signal aborted at the first progress event of `at` (any stage when undefined); measure the latency. */
const abortAt = async <A>(make: (c: { signal: AbortSignal; progress: (e: ProgressEvent) => void }) => TE.TaskEither<ProbeError, A>, at?: string) => {
  const controller = new AbortController()
  let abortedAt = 0
  const r = await make({
    signal: controller.signal,
    progress: (e) => {
      if (!controller.signal.aborted && (at === undefined || e.stage === at)) {
        abortedAt = Date.now()
        controller.abort()
      }
    },
  })()
  return { r, latency: Date.now() - abortedAt, fired: abortedAt > 0 }
}

describe('abort: long work stops within 1 s with Aborted', () => {
  // p = 4 × 61 = 244 here: small enough for the fast tier, and every stage is reached.
  const big = gaussianBlobs({ n: 600, dim: 60, classes: 4, spread: 2, seed: 4 })
  const bigModel = unwrap(SoftmaxRegression.fit(big.x, big.y, { numClasses: 4, l2: 1e-3 })).model
  const bigTrain = { x: big.x, y: big.y }
  const bigTest = { x: takeRows(big.x, [0]), y: big.y.slice(0, 1) }

  for (const [method, at] of [
    ['exact', 'hessian'],
    ['exact', 'cholesky'],
    ['exact', undefined],
    ['cg', 'cg'],
    ['lissa', 'lissa scale'],
    ['lissa', 'lissa'],
  ] as const) {
    it(`influenceOnTest (${method}), aborted at the first '${at ?? 'any'}' progress event`, async () => {
      const { r, latency, fired } = await abortAt((c) => influenceOnTest(bigModel, bigTrain, bigTest, { method, seed: 1, ...c }), at)
      expect(fired).toBe(true)
      expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
      expect(latency).toBeLessThan(1000)
    })
  }

  it('selfInfluence, inputInfluence, validateAgainstRetraining and trainingSetAttack, aborted at their first progress event', async () => {
    const infl = await run(influenceOnTest(model, train, test))
    const bin = Int32Array.from(ds.y, (l) => (l === 0 ? 1 : 0))
    const logistic = unwrap(LogisticRegression.fit(ds.x, bin, { l2: 0.1 })).model
    const runs = [
      (c: object) => selfInfluence(model, train, { method: 'exact', ...c }),
      (c: object) => inputInfluence(model, train, test, c),
      (c: object) => validateAgainstRetraining(model, train, test, infl, { count: 10, ...c }),
      (c: object) => trainingSetAttack(logistic, { x: ds.x, y: bin }, { x: test.x, y: bin.slice(0, 2) }, { epsilon: 0.2, ...c }),
    ]
    for (const make of runs) {
      const { r, latency, fired } = await abortAt(make as never)
      expect(fired).toBe(true)
      expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
      expect(latency).toBeLessThan(1000)
    }
  })

  it('an already-aborted signal stops before any work; a solve takes its own signal', async () => {
    const controller = new AbortController()
    controller.abort()
    const r = await influenceOnTest(model, train, test, { signal: controller.signal })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    const inv = await run(prepareInverseHvp(model, train, { method: 'cg' }))
    const s = await inv.solve(new Float64Array(model.numParams).fill(1), { signal: controller.signal })()
    expect(E.isLeft(s) && s.left._tag).toBe('Aborted')
  })
})
