import fc from 'fast-check'
import { either as E, taskEither as TE } from 'fp-ts'
import { afterAll, describe, expect, it } from 'vitest'
import { createRng, makeContext, notJsonSafe, runProbe, takeRows, type Matrix, type Oracle, type ProbeError } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression, type TwiceDifferentiable } from '@sonde/models'
import { gaussianBlobs } from '@sonde/datasets'
import {
  influenceOnTest,
  influenceProbe,
  influenceReport,
  inputInfluence,
  loadModelFile,
  modelFromJson,
  modelToJson,
  mostInfluential,
  pearson,
  prepareInverseHvp,
  rankSuspiciousLabels,
  relativeError,
  scoresFromSTest,
  selfInfluence,
  topEigenvalue,
  trainingSetAttack,
  validateAgainstRetraining,
  validateInverseHvpOptions,
} from '../src/index.js'
import { unwrap } from './helpers.js'

// Every tag a Left may carry: anything else is a bug.
const known = new Set(['InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'BadResponse', 'Timeout', 'Aborted', 'NotConverged', 'Infeasible', 'TrainingFailed', 'PluginFailed', 'MissingCapability', 'Transport', 'BudgetExhausted'])
let cases = 0

const ds = gaussianBlobs({ n: 30, dim: 3, classes: 3, spread: 1.2, seed: 1 })
const train = { x: ds.x, y: ds.y }
const test = { x: takeRows(ds.x, [0, 1]), y: ds.y.slice(0, 2) }
const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { numClasses: 3, l2: 0.05 })).model
const bin = Int32Array.from(ds.y, (l) => (l === 0 ? 1 : 0))
const logistic = unwrap(LogisticRegression.fit(ds.x, bin, { l2: 0.1 })).model

/** A white-box model whose every call is counted, with one member optionally sabotaged. */
const counting = (base: TwiceDifferentiable, sabotage?: { member: string; how: 'throw' | 'nan' | 'short' | 'reject' }) => {
  let calls = 0
  const expensive = new Set(['losses', 'perExampleGradients', 'hessianOperator', 'hessian', 'gradientProducts', 'mixedGradientProduct', 'refit', 'params', 'objectiveGradient'])
  const proxy = new Proxy(base, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown
      if (typeof key !== 'string' || !expensive.has(key) || typeof v !== 'function') return v
      return (...args: unknown[]) => {
        calls++
        if (sabotage?.member === key) {
          if (sabotage.how === 'throw') throw new Error(`sabotaged ${key}`)
          if (sabotage.how === 'reject') throw { _tag: 'not an error' }
          const out = (v as (...a: unknown[]) => unknown).apply(target, args)
          return corrupt(out, sabotage.how)
        }
        const out = (v as (...a: unknown[]) => unknown).apply(target, args)
        // The Hessian operator is a factory: sabotage the products it makes.
        if (key === 'hessianOperator' && sabotage?.member === 'hvp') return (u: Float64Array) => corrupt((out as (u: Float64Array) => Float64Array)(u), sabotage.how)
        return out
      }
    },
  })
  return { model: proxy, calls: () => calls }
}

const corrupt = (out: unknown, how: string): unknown => {
  if (out instanceof Float64Array) return how === 'nan' ? out.map((v, i) => (i === 0 ? Number.NaN : v)) : out.subarray(0, Math.max(0, out.length - 1))
  if (out !== null && typeof out === 'object' && 'data' in out) {
    const m = out as Matrix
    return how === 'nan' ? { ...m, data: m.data.map((v, i) => (i === 0 ? Number.NaN : v)) } : { ...m, rows: m.rows + 1 }
  }
  if (out !== null && typeof out === 'object' && '_tag' in out) return out
  return Number.NaN
}

const bad = fc.constantFrom<unknown>(Number.NaN, Infinity, -Infinity, null, undefined, '1', {}, [], -1, 0, 1.5, 2 ** 53, true, Float64Array.of(Number.NaN), new Float64Array(0), { rows: 2, cols: 3, data: new Float64Array(5) })

const finite = (m: Matrix | Float64Array): boolean => (m instanceof Float64Array ? m : m.data).every((v) => Number.isFinite(v))

/** A Left has a known tag; count the case. */
const checkLeft = (r: E.Either<ProbeError, unknown>): void => {
  cases++
  if (E.isLeft(r)) expect(known.has(r.left._tag), `${r.left._tag}: ${r.left.message}`).toBe(true)
}

const settle = async <A>(te: () => TE.TaskEither<ProbeError, A>): Promise<E.Either<ProbeError, A>> => {
  // A throw while the task is built, or a rejection, fails the test here.
  const task = te()
  return task()
}

afterAll(() => {
  console.log(`influence fuzz: ${cases} cases`)
})

describe('fuzz: @sonde/influence', () => {
  it('influenceOnTest, selfInfluence, inputInfluence, rankSuspiciousLabels: a bad value in any option', async () => {
    const keys = ['method', 'damping', 'tolerance', 'maxIter', 'scale', 'depth', 'repeats', 'batchSize', 'checkEvery', 'tailAverage', 'seed', 'signal', 'progress', 'tol', 'rows']
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), bad, fc.constantFrom('cg', 'exact', 'lissa'), fc.constantFrom(0, 1, 2, 3), async (key, value, method, which) => {
        const c = counting(model)
        // A valid but huge request (depth 2⁵³) is long work: the signal ends it (Aborted), as a caller would.
        const options = { method, seed: 1, depth: 100, signal: AbortSignal.timeout(100), [key]: value } as never
        const r = await settle((): TE.TaskEither<ProbeError, unknown> =>
          which === 0
            ? influenceOnTest(c.model, train, test, options)
            : which === 1
              ? selfInfluence(c.model, train, options)
              : which === 2
                ? inputInfluence(c.model, train, test, options)
                : rankSuspiciousLabels(c.model, train, options),
        )
        checkLeft(r)
        if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(c.calls(), `${key}=${String(value)}`).toBe(0)
        if (E.isRight(r)) {
          const v = r.right as { scores?: Matrix; values?: Float64Array; gradients?: Matrix[]; seed: number }
          expect(Number.isSafeInteger(v.seed)).toBe(true)
          if (v.scores !== undefined) expect(finite(v.scores) && v.scores.rows === 2 && v.scores.cols === 30).toBe(true)
          if (v.values !== undefined) expect(finite(v.values) && v.values.length === 30).toBe(true)
          if (v.gradients !== undefined) expect(v.gradients.every(finite)).toBe(true)
        }
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('bad data, models and option objects from a JavaScript caller', async () => {
    const shapes = fc.constantFrom<unknown>(
      null,
      undefined,
      {},
      { x: null, y: null },
      { x: ds.x, y: ds.y.slice(1) },
      { x: { rows: 30, cols: 3, data: new Float64Array(89) }, y: ds.y },
      { x: { rows: 30, cols: 3, data: ds.x.data.map((v, i) => (i === 7 ? Number.NaN : v)) }, y: ds.y },
      { x: { rows: 30, cols: 3, data: ds.x.data.map((v, i) => (i === 7 ? Infinity : v)) }, y: ds.y },
      { x: { rows: 0, cols: 3, data: new Float64Array(0) }, y: new Int32Array(0) },
      { x: takeRows(ds.x, [0]), y: Int32Array.of(7) },
      { x: { rows: 2, cols: 2, data: new Float64Array(4) }, y: Int32Array.of(0, 1) },
      { x: ds.x, y: Array.from(ds.y) },
    )
    await fc.assert(
      fc.asyncProperty(shapes, fc.constantFrom('train', 'test', 'model', 'options'), fc.constantFrom(0, 1, 2, 3, 4), async (value, slot, which) => {
        const c = counting(model)
        const m = slot === 'model' ? (value as never) : c.model
        const tr = slot === 'train' ? (value as never) : train
        const te = slot === 'test' ? (value as never) : test
        const o = slot === 'options' ? (value as never) : {}
        const r = await settle((): TE.TaskEither<ProbeError, unknown> =>
          which === 0
            ? influenceOnTest(m, tr, te, o)
            : which === 1
              ? selfInfluence(m, tr, o)
              : which === 2
                ? inputInfluence(m, tr, te, o)
                : which === 3
                  ? prepareInverseHvp(m, tr, o)
                  : trainingSetAttack(m, tr, te, (slot === 'options' ? value : { epsilon: 0.1, steps: 1, targets: [0] }) as never),
        )
        checkLeft(r)
        if (E.isLeft(r) && (r.left._tag === 'InvalidOptions' || r.left._tag === 'InvalidInput' || r.left._tag === 'ShapeMismatch')) expect(c.calls()).toBe(0)
        // Labels out of range, NaN inputs, empty sets and mismatched shapes are never accepted.
        if (slot !== 'options' && value !== undefined && !(slot === 'test' && which === 1) && !(slot === 'test' && which === 3)) expect(E.isLeft(r)).toBe(true)
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('a misbehaving white-box model: methods that throw, answer NaN or the wrong shape', async () => {
    const members = ['losses', 'perExampleGradients', 'hessianOperator', 'hvp', 'gradientProducts', 'mixedGradientProduct', 'refit', 'params', 'objectiveGradient']
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...members), fc.constantFrom('throw', 'nan', 'short', 'reject') as fc.Arbitrary<'throw' | 'nan' | 'short' | 'reject'>, fc.constantFrom('cg', 'exact', 'lissa'), fc.constantFrom(0, 1, 2, 3), async (member, how, method, which) => {
        const base = which === 3 ? logistic : model
        const c = counting(base, { member, how })
        const tr = which === 3 ? { x: ds.x, y: bin } : train
        const te = which === 3 ? { x: test.x, y: bin.slice(0, 2) } : test
        const o = { method, seed: 1, depth: 60, scale: 20, tolerance: method === 'lissa' ? 0.9 : 1e-8 } as const
        const r = await settle((): TE.TaskEither<ProbeError, unknown> =>
          which === 0 ? influenceOnTest(c.model, tr, te, o) : which === 1 ? selfInfluence(c.model, tr, o) : which === 2 ? inputInfluence(c.model, tr, te, o) : trainingSetAttack(c.model, tr, te, { ...o, epsilon: 0.1, steps: 2, targets: [0] }),
        )
        checkLeft(r)
        if (E.isRight(r)) {
          // A sabotage the function never reached, or one whose output it does not use: the answer is still finite.
          const v = r.right as { scores?: Matrix; values?: Float64Array; gradients?: Matrix[]; outcomes?: { testLossAfter: number }[] }
          if (v.scores !== undefined) expect(finite(v.scores)).toBe(true)
          if (v.values !== undefined) expect(finite(v.values)).toBe(true)
          if (v.gradients !== undefined) expect(v.gradients.every(finite)).toBe(true)
        }
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('trainingSetAttack: bad options, all refused before any work; every Right keeps its box', async () => {
    const keys = ['epsilon', 'steps', 'perturbed', 'stepSize', 'domain', 'targets', 'fit', 'seed', 'method', 'damping']
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.oneof(bad, fc.constant({ lower: 1, upper: 0 }), fc.constant({ lower: new Float64Array(2), upper: 1 }), fc.constant([99]), fc.constant({ l2: -1 })), async (key, value) => {
        const c = counting(logistic)
        const options = { epsilon: 0.2, steps: 2, targets: [0], [key]: value } as never
        const r = await settle(() => trainingSetAttack(c.model, { x: ds.x, y: bin }, { x: test.x, y: bin.slice(0, 2) }, options))
        checkLeft(r)
        if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(c.calls()).toBe(0)
        if (E.isRight(r)) {
          for (const o of r.right.outcomes) {
            expect(o.linf).toBeLessThanOrEqual((key === 'epsilon' && typeof value === 'number' ? value : 0.2) + 1e-12)
            expect(finite(o.images) && Number.isFinite(o.testLossAfter)).toBe(true)
          }
          expect(r.right.flipped).toBeLessThanOrEqual(r.right.attempted)
        }
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('validateAgainstRetraining, scoresFromSTest, mostInfluential, topEigenvalue, pearson, relativeError, validateInverseHvpOptions: bad arguments', async () => {
    const infl = unwrap(await influenceOnTest(model, train, test)())
    await fc.assert(
      fc.asyncProperty(bad, fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), async (value, which) => {
        cases++
        const v = value as never
        switch (which) {
          case 0: {
            const c = counting(model)
            const r = await settle(() => validateAgainstRetraining(c.model, train, test, infl, { count: v }))
            checkLeft(r)
            if (E.isLeft(r)) expect(c.calls()).toBe(0)
            else expect(r.right.refits).toBe(r.right.indices.length)
            break
          }
          case 1: {
            const r = await settle(() => validateAgainstRetraining(model, train, test, v, { count: 3 }))
            checkLeft(r)
            expect(E.isLeft(r)).toBe(true)
            break
          }
          case 2: {
            const r = scoresFromSTest(model, train, v)
            checkLeft(r)
            expect(E.isLeft(r)).toBe(true)
            break
          }
          case 3: {
            for (const args of [[infl, v, 3], [infl, 0, v], [v, 0, 3], [infl, 0, 3, v]] as const) {
              const r = mostInfluential(...(args as unknown as Parameters<typeof mostInfluential>))
              checkLeft(r)
              if (E.isRight(r)) expect(new Set(r.right).size === r.right.length && r.right.every((j) => j >= 0 && j < 30)).toBe(true)
            }
            break
          }
          case 4: {
            const op = model.hessianOperator(train.x, train.y)
            for (const args of [[op, v, createRng(1)], [op, model.numParams, v], [v, model.numParams, createRng(1)], [op, model.numParams, createRng(1), v], [() => v, model.numParams, createRng(1)]] as const) {
              const r = topEigenvalue(...(args as unknown as Parameters<typeof topEigenvalue>))
              checkLeft(r)
              if (E.isRight(r)) expect(Number.isFinite(r.right) && r.right >= 0).toBe(true)
            }
            break
          }
          case 5: {
            const p = pearson(v, [1, 2, 3])
            const q = relativeError(v, Float64Array.of(1, 2))
            expect(typeof p === 'number' && (Number.isNaN(p) || Math.abs(p) <= 1 + 1e-12)).toBe(true)
            expect(typeof q === 'number' && (Number.isNaN(q) || q >= 0)).toBe(true)
            break
          }
          case 6: {
            const r = validateInverseHvpOptions(v, 30)
            checkLeft(r)
            break
          }
          case 7: {
            const inv = unwrap(await prepareInverseHvp(model, train, { method: 'cg' })())
            const r = await settle(() => inv.solve(v))
            checkLeft(r)
            expect(E.isLeft(r)).toBe(true)
            const r2 = await settle(() => inv.solve(new Float64Array(model.numParams).fill(1), v))
            checkLeft(r2)
            break
          }
          case 8: {
            const json = modelToJson(model)
            for (const broken of [v, { ...json, l2: v }, { ...json, bias: v }, { ...json, kind: v }, { ...json, weights: [[v]] }, { ...modelToJson(logistic), weights: [1, v] }]) {
              const r = modelFromJson(broken)
              checkLeft(r)
              if (E.isRight(r)) expect(finite(r.right.params())).toBe(true)
            }
            const r = await settle(() => loadModelFile(v))
            checkLeft(r)
            expect(E.isLeft(r)).toBe(true)
            break
          }
          case 9: {
            const r = await settle(() => influenceOnTest(model, train, test, { progress: () => { throw new Error('listener bug') } }))
            checkLeft(r)
            expect(E.isLeft(r) && r.left._tag).toBe('PluginFailed')
            break
          }
        }
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('the probe through runProbe: bad JSON options, misbehaving oracles (throw, reject, hang, wrong shapes), bad seeds', async () => {
    const xs = Array.from({ length: 30 }, (_, i) => Array.from(ds.x.data.subarray(i * 3, i * 3 + 3)))
    const good = { model: 'softmax', labels: 'oracle', train: { x: xs }, test: { x: [[0, 0, 0]] } }
    const behaviours = ['ok', 'throw', 'reject', 'hang', 'short', 'nan-label', 'one-class'] as const
    const oracleOf = (how: (typeof behaviours)[number]): { oracle: Oracle; calls: () => number } => {
      let calls = 0
      const info = { id: `box-${how}`, inputDim: 3, numClasses: 3, output: 'label' as const }
      const labels = (x: Matrix) => Int32Array.from({ length: x.rows }, (_, i) => (x.data[i * 3]! > 0 ? 0 : x.data[i * 3 + 1]! > 0 ? 1 : 2))
      const oracle: Oracle = {
        info,
        predict: (x) => () => {
          calls++
          if (how === 'throw') throw new Error('transport bug')
          if (how === 'reject') return Promise.reject(new Error('rejected'))
          if (how === 'hang') return new Promise(() => undefined)
          if (how === 'short') return Promise.resolve(E.right({ labels: labels(x).subarray(1) }))
          if (how === 'nan-label') return Promise.resolve(E.right({ labels: labels(x).map(() => -1) }))
          if (how === 'one-class') return Promise.resolve(E.right({ labels: new Int32Array(x.rows) }))
          return Promise.resolve(E.right({ labels: labels(x) }))
        },
      }
      return { oracle, calls: () => calls }
    }
    const mutations = fc.oneof(
      fc.record({ key: fc.constantFrom('model', 'labels', 'l2', 'train', 'test', 'dataset', 'method', 'damping', 'tolerance', 'maxIter', 'top', 'batchSize', 'depth', 'extra'), value: bad }),
      fc.constant({ key: 'none', value: undefined }),
    )
    await fc.assert(
      fc.asyncProperty(mutations, fc.constantFrom(...behaviours), fc.constantFrom<unknown>(1, Number.NaN, 1.5, 2 ** 53, '1'), async ({ key, value }, how, seed) => {
        const { oracle, calls } = oracleOf(how)
        const options = key === 'none' ? good : { ...good, [key]: value }
        const r = await runProbe(influenceProbe, oracle, JSON.parse(JSON.stringify(options ?? null)) as unknown, makeContext({ seed: seed as number }), { queryTimeoutMs: 100 })()
        checkLeft(r)
        if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(calls(), `${key}=${String(value)}`).toBe(0)
        if (how === 'hang') expect(E.isLeft(r) && ['Timeout', 'InvalidOptions'].includes(r.left._tag)).toBe(true)
        // Short or out-of-range labels from the box are its fault: BadResponse, never a fit on them.
        if ((how === 'short' || how === 'nan-label') && E.isLeft(r) && r.left._tag !== 'InvalidOptions') expect(r.left._tag).toBe('BadResponse')
        if (how === 'short' || how === 'nan-label' || how === 'throw' || how === 'reject') expect(E.isLeft(r)).toBe(true)
        if (E.isRight(r)) {
          expect(finite(r.right.scores)).toBe(true)
          expect(r.right.queries.predictRows).toBe(31)
          const report = influenceReport(r.right)
          expect(notJsonSafe(report)).toBeUndefined()
        }
      }),
      { seed: 42, numRuns: 250 },
    )
  })
})

// Reproducers from issue 12 (and earlier fuzz runs) for this package, as named fixtures.
describe('fixtures: issue 12 reproducers (@sonde/influence)', () => {
  it('a cg solve of a NaN vector is refused (it once returned zeros with residual 0)', async () => {
    const inv = unwrap(await prepareInverseHvp(model, train, { method: 'cg' })())
    const r = await inv.solve(new Float64Array(model.numParams).fill(Number.NaN))()
    expect(E.isLeft(r) && r.left._tag).toBe('InvalidInput')
  })

  it('LiSSA without a seed is refused (the direct API once defaulted it to 0 silently)', async () => {
    const r = await influenceOnTest(model, train, test, { method: 'lissa' })()
    expect(E.isLeft(r) && r.left._tag).toBe('InvalidOptions')
  })

  it('the attack honours a per-feature domain (it once read only scalar bounds)', async () => {
    const lower = Float64Array.of(-10, 0, -10)
    const upper = Float64Array.of(10, 0.5, 10)
    const inBox = { x: { rows: 30, cols: 3, data: ds.x.data.map((v, i) => (i % 3 === 1 ? Math.min(0.5, Math.max(0, v)) : v)) }, y: bin }
    const fit = unwrap(LogisticRegression.fit(inBox.x, bin, { l2: 0.1 })).model
    const r = unwrap(await trainingSetAttack(fit, inBox, { x: takeRows(inBox.x, [0, 1]), y: bin.slice(0, 2) }, { epsilon: 1, steps: 3, domain: { lower, upper } })())
    for (const o of r.outcomes) for (let k = 0; k < o.images.data.length; k++) expect(o.images.data[k]! >= lower[k % 3]! && o.images.data[k]! <= upper[k % 3]!).toBe(true)
  })

  it('a NaN Hessian-vector product from the model is BadResponse, not an Infeasible pivot or a NaN score', async () => {
    const c = counting(model, { member: 'hvp', how: 'nan' })
    for (const method of ['cg', 'exact'] as const) {
      const r = await influenceOnTest(c.model, train, test, { method })()
      expect(E.isLeft(r) && r.left._tag, method).toBe('BadResponse')
    }
  })
})
