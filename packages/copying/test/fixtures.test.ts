import { either as E, taskEither as TE } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { budget, fromFunction, labelOnly, meter, toPromise, type Matrix, type Oracle } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import {
  boundary,
  classBalance,
  copyClassifier,
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
  type Sampler,
} from '../src/index.js'
import { mlpCopy } from '../src/tfjs.js'

// Inputs that once broke @sonde/copying (issue 12's fuzz run), each a fixture.
const model = SoftmaxRegression.random(3, 3, 5, { domain: { lower: -2, upper: 2 } })
const reference: Matrix = { rows: 30, cols: 3, data: Float64Array.from({ length: 90 }, (_, k) => Math.sin(k * 1.7) * 1.5) }
const counting = (): Oracle & { calls: () => number } => {
  let calls = 0
  const inner = labelOnly(model)
  return { info: inner.info, predict: (x) => (calls++, inner.predict(x)), calls: () => calls }
}

describe('fixtures from issue 12', () => {
  it('"copy-family and sampler options checked only after every label is bought": refused before the first query', async () => {
    const bad: Array<[string, Sampler, CopyFamily, string]> = [
      ['treeCopy({ maxDepth: NaN })', jitter(), treeCopy({ maxDepth: Number.NaN }), 'options.copy.maxDepth'],
      ['softmaxCopy({ l2: -1 })', jitter(), softmaxCopy({ l2: -1 }), 'options.copy.l2'],
      ['mlpCopy({ hidden: [0] })', jitter(), mlpCopy({ hidden: [0] }), 'options.copy.hidden[0]'],
      ['mlpCopy({ learningRate: NaN })', jitter(), mlpCopy({ learningRate: Number.NaN }), 'options.copy.learningRate'],
      ['jitter({ sigma: NaN })', jitter({ sigma: Number.NaN }), treeCopy(), 'options.sampler.sigma'],
      ['gaussian() without reference', gaussian(), treeCopy(), 'options.reference'],
      ['uniformBox({ domain: { lower: 1, upper: 0 } })', uniformBox({ domain: { lower: 1, upper: 0 } }), treeCopy(), 'options.sampler.domain'],
      ['uniformBox wider than the oracle’s domain', uniformBox({ domain: { lower: -5, upper: 5 } }), treeCopy(), 'options.sampler.domain'],
    ]
    for (const [name, sampler, copy, path] of bad) {
      const o = counting()
      const r = await copyClassifier(o, { sampler, copy, budget: 90, seed: 1, ...(name.startsWith('gaussian') ? {} : { reference }) })()
      expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path), name).toContain(path)
      expect(o.calls(), name).toBe(0)
    }
  })

  it('"boundary(…, { steps: 0 }) never finishes": refused before any query', async () => {
    const o = counting()
    const r = await copyClassifier(o, { sampler: boundary(jitter(), { steps: 0 }), copy: treeCopy(), budget: 50, seed: 1, reference })()
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path)).toEqual(['options.sampler.steps'])
    expect(o.calls()).toBe(0)
  })

  it('"finished rounds dropped when an outer budget runs out": the copy of the rounds paid for is kept, and says why it stopped', async () => {
    const watched = meter(budget(250)(labelOnly(model)))
    const r = await toPromise(copyClassifier(watched, { sampler: jitter({ sigma: 0.3 }), copy: treeCopy(), budget: 400, rounds: 4, seed: 1, reference }))
    expect(r.stopped?.round).toBe(2)
    expect(r.stopped?.error._tag).toBe('BudgetExhausted')
    // Rounds of 100 labels: the third asks for 100 with 50 left and is refused whole (no partial charge).
    expect(r.labelsBought).toBe(200)
    expect(r.queries.predictRows).toBe(watched.usage().predictRows)
    expect(r.diagnostics.synthetic.y.length).toBe(200)
    expect(r.diagnostics.rounds.map((x) => x.labels)).toEqual([100, 200])
  })

  it('"finished rounds dropped" with a sampler that buys in pieces: the labels of the broken round are trained on too', async () => {
    const watched = meter(budget(150)(labelOnly(model)))
    const r = await toPromise(copyClassifier(watched, { sampler: boundary(jitter({ sigma: 0.3 }), { steps: 4 }), copy: treeCopy(), budget: 200, rounds: 2, seed: 1, reference }))
    expect(r.stopped?.error._tag).toBe('BudgetExhausted')
    expect(r.labelsBought).toBe(watched.usage().predictRows)
    expect(r.labelsBought).toBeGreaterThan(100)
    expect(r.diagnostics.synthetic.y.length).toBe(r.labelsBought)
  })

  it('"metrics over 0 points return 1": agreement over no points is refused, not 1', async () => {
    const empty: Matrix = { rows: 0, cols: 3, data: new Float64Array(0) }
    const o = counting()
    const f = await empiricalFidelityError(o, o, empty)()
    expect(E.isLeft(f) && f.left._tag === 'InvalidInput' && f.left.message).toContain('over 0 points')
    const rc = await replacementCapability(o, o, empty, new Int32Array(0))()
    expect(E.isLeft(rc) && rc.left._tag).toBe('InvalidInput')
    const u = await uniformAgreement(o, o, { seed: 1, budget: 0 })()
    expect(E.isLeft(u) && u.left._tag).toBe('InvalidOptions')
    expect(E.isRight(classBalance(new Int32Array(0), 3)) && Array.from((classBalance(new Int32Array(0), 3) as E.Right<Float64Array>).right)).toEqual([0, 0, 0])
    expect(o.calls()).toBe(0)
  })

  it('"a throwing sampler or copy family": PluginFailed, never a throw or a rejection', async () => {
    const throwing: Sampler = { name: 'throws', draw: () => { throw new Error('boom') } }
    const rejecting: Sampler = { name: 'rejects', draw: () => () => Promise.reject(new Error('boom')) }
    const throwingGenerator = fromGenerator('gen', () => { throw new Error('boom') })
    const family: CopyFamily = { name: 'throws', fit: () => () => Promise.reject(new Error('boom')) }
    for (const [sampler, copy] of [[throwing, treeCopy()], [rejecting, treeCopy()], [throwingGenerator, treeCopy()], [jitter(), family]] as const) {
      const r = await copyClassifier(labelOnly(model), { sampler, copy, budget: 30, seed: 1, reference })()
      expect(E.isLeft(r) && r.left._tag, `${sampler.name}/${copy.name}`).toBe('PluginFailed')
    }
  })

  it('"null/undefined where a matrix or the options object goes": typed errors', async () => {
    const o = labelOnly(model)
    const js = copyClassifier as unknown as (...a: unknown[]) => TE.TaskEither<unknown, unknown>
    for (const args of [[o, null], [o, undefined], [null, { sampler: jitter(), copy: treeCopy(), budget: 10, seed: 1 }], [o, { sampler: jitter(), copy: treeCopy(), budget: 10, seed: 1, reference: null }]]) {
      const r = (await js(...args)()) as E.Either<{ _tag: string }, unknown>
      expect(E.isLeft(r) && ['InvalidOptions', 'InvalidInput'].includes(r.left._tag)).toBe(true)
    }
    const f = (await (empiricalFidelityError as unknown as (...a: unknown[]) => TE.TaskEither<{ _tag: string }, unknown>)(o, o, null)()) as E.Either<{ _tag: string }, unknown>
    expect(E.isLeft(f) && f.left._tag).toBe('InvalidInput')
  })

  it('a sampler that labels more than it returns, or returns points it did not label, is caught', async () => {
    const greedy: Sampler = { name: 'greedy', draw: (n, ctx) => TE.map((y: Int32Array) => ({ x: reference, y }))(ctx.label({ rows: n + 1, cols: 3, data: new Float64Array(3 * (n + 1)) })) }
    const liar: Sampler = { name: 'liar', draw: (n) => TE.right({ x: { rows: n, cols: 3, data: new Float64Array(3 * n) }, y: new Int32Array(n) }) }
    for (const sampler of [greedy, liar]) {
      const o = counting()
      const r = await copyClassifier(o, { sampler, copy: treeCopy(), budget: 30, seed: 1 })()
      expect(E.isLeft(r) && r.left._tag, sampler.name).toBe('PluginFailed')
      expect(o.calls(), sampler.name).toBe(0)
    }
  })

  it('an oracle that answers the wrong number of labels is a BadResponse, not a silent copy', async () => {
    const short = fromFunction({ id: 'short', inputDim: 3, numClasses: 3, output: 'label' }, () => new Int32Array(1))
    const r = await copyClassifier(short, { sampler: jitter(), copy: treeCopy(), budget: 30, seed: 1, reference })()
    expect(E.isLeft(r) && ['BadResponse', 'PluginFailed'].includes(r.left._tag)).toBe(true)
  })
})
