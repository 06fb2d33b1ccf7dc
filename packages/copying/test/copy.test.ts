import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { createRng, labelOnly, meter, toPromise, type Matrix } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs, loadIris } from '@sonde/datasets'
import {
  adaptive,
  balanced,
  boundary,
  copyClassifier,
  empiricalFidelityError,
  gaussian,
  jitter,
  replacementCapability,
  softmaxCopy,
  treeCopy,
  uniformAgreement,
  uniformBox,
} from '../src/index.js'

beforeAll(async () => {
  await useFastestBackend()
})

// "Real" data: Gaussian blobs in 10-D; the original is softmax regression fitted to them.
const data = gaussianBlobs({ n: 1200, dim: 10, classes: 4, spread: 0.8, seed: 3 })
const train: Matrix = { rows: 600, cols: 10, data: data.x.data.slice(0, 6000) }
const heldOut: Matrix = { rows: 600, cols: 10, data: data.x.data.slice(6000) }
const fitted = SoftmaxRegression.fit(train, data.y.slice(0, 600), { numClasses: 4, l2: 1e-2, domain: { lower: -6, upper: 6 } })
if (E.isLeft(fitted)) throw new Error(fitted.left.message)
const original = fitted.right.model

describe('copyClassifier', () => {
  it('copies a softmax regression into a softmax regression with fidelity ≥ 0.999 on held-out real data, from labels only', async () => {
    const box = labelOnly(original)
    const r = await toPromise(copyClassifier(box, { sampler: gaussian(), budget: 3000, copy: softmaxCopy({ l2: 1e-6 }), reference: train, seed: 1 }))
    const fid = await toPromise(empiricalFidelityError(box, r.copy, heldOut))
    expect(fid.agreement).toBeGreaterThanOrEqual(0.999)
    expect(fid.queries.predictRows).toBe(600)
    expect(r.labelsBought).toBe(3000)
    expect(r.diagnostics.warning).toBeUndefined()
    const rc = await toPromise(replacementCapability(box, r.copy, heldOut, data.y.slice(600)))
    expect(rc.capability).toBeGreaterThan(0.99)
    // The copy is trainable: the family hands back its model (here a SoftmaxRegression with refit).
    expect(r.trained.model).toBeInstanceOf(SoftmaxRegression)
  })

  it('spends exactly `budget` label queries with every sampler (meter count)', async () => {
    const samplers = [uniformBox(), gaussian(), jitter({ sigma: 0.3 }), balanced(gaussian()), boundary(jitter({ sigma: 0.3 }), { steps: 5 }), adaptive(jitter({ sigma: 0.3 }))]
    for (const sampler of samplers) {
      const watched = meter(labelOnly(original))
      const r = await toPromise(copyClassifier(watched, { sampler, budget: 301, copy: treeCopy({ maxDepth: 4 }), reference: train, seed: 2, rounds: 3 }))
      expect(watched.usage().predictRows).toBe(301)
      expect(r.labelsBought).toBe(301)
      expect(r.diagnostics.synthetic.y.length).toBe(301)
    }
  })

  it('a decision-tree copy of iris reports its fidelity and depth', async () => {
    const iris = loadIris()
    const irisModel = SoftmaxRegression.fit(iris.x, iris.y, { numClasses: 3, l2: 1e-2, domain: { lower: 0, upper: 8 } })
    if (E.isLeft(irisModel)) throw new Error(irisModel.left.message)
    const box = labelOnly(irisModel.right.model)
    const r = await toPromise(copyClassifier(box, { sampler: jitter({ sigma: 0.3 }), budget: 2000, copy: treeCopy({ maxDepth: 6 }), reference: iris.x, seed: 4 }))
    const fidelity = (await toPromise(empiricalFidelityError(box, r.copy, iris.x))).agreement
    expect(fidelity).toBeGreaterThanOrEqual(0.95)
    expect(r.trained.details.depth).toBeGreaterThanOrEqual(1)
    expect(r.trained.details.depth).toBeLessThanOrEqual(6)
    // Agreement on the uniform box [0, 8]⁴, against an independent estimate: 20,000 points of another
    // generator, labels compared by hand. Two binomial estimates: 5 standard errors of the 2,000-point one
    // (√(¼/2000) ≈ 0.011 at worst) bound their difference.
    const agree = (await toPromise(uniformAgreement(box, r.copy, { seed: 1, budget: 2000 }))).agreement
    const rng = createRng(99)
    const u: Matrix = { rows: 20_000, cols: 4, data: Float64Array.from({ length: 80_000 }, () => 8 * rng.next()) }
    const [la, lb] = [(await toPromise(box.predict(u))).labels, (await toPromise(r.copy.predict(u))).labels]
    const independent = la.reduce((a, l, i) => a + (l === lb[i] ? 1 : 0), 0) / u.rows
    expect(Math.abs(agree - independent)).toBeLessThanOrEqual(5 * Math.sqrt(0.25 / 2000))
  })

  it('reports a synthetic set that lands in one class, and balanced sampling fixes it', async () => {
    // An original that calls everything class 0 except a small ball around a corner-free point.
    const rng = createRng(7)
    const d = 50
    const centre = Float64Array.from({ length: d }, () => rng.next())
    const { fromFunction } = await import('@sonde/oracle')
    const spiky = fromFunction({ id: 'spiky', inputDim: d, numClasses: 2, output: 'label', domain: { lower: 0, upper: 1 } }, (x) =>
      Int32Array.from({ length: x.rows }, (_, i) => {
        let s = 0
        for (let j = 0; j < d; j++) s += (x.data[i * d + j]! - centre[j]!) ** 2
        return s < 2 ? 1 : 0
      }),
    )
    const reference: Matrix = { rows: 20, cols: d, data: Float64Array.from({ length: 20 * d }, (_, k) => centre[k % d]! + 0.05 * rng.normal()) }
    const uniform = await toPromise(copyClassifier(spiky, { sampler: uniformBox(), budget: 500, copy: treeCopy(), seed: 1 }))
    expect(uniform.diagnostics.dominantShare).toBeGreaterThanOrEqual(0.95)
    expect(uniform.diagnostics.warning).toMatch(/holds/)
    // Balanced sampling over the same uniform base, given a few real points, finds and feeds class 1.
    const fixed = await toPromise(copyClassifier(spiky, { sampler: balanced(uniformBox(), { sigma: 0.1 }), budget: 500, copy: treeCopy(), seed: 1, reference }))
    expect(fixed.diagnostics.dominantShare).toBeLessThan(0.8)
    expect(fixed.diagnostics.warning).toBeUndefined()
  })

  it('runs as a registry probe from JSON-like options', async () => {
    const { makeContext, runProbe } = await import('@sonde/oracle')
    const { copyingProbe } = await import('../src/index.js')
    const reference = Array.from({ length: 50 }, (_, i) => Array.from(train.data.subarray(i * 10, i * 10 + 10)))
    const r = await toPromise(runProbe(copyingProbe, labelOnly(original), { budget: 400, sampler: 'jitter', copy: 'tree', reference, sigma: 0.3 }, makeContext({ seed: 5 })))
    expect(r.labelsBought).toBe(400)
    expect(r.seed).toBe(5)
    const bad = await runProbe(copyingProbe, original, { budget: 0, sampler: 'grid' }, makeContext({ seed: 5 }))()
    expect(E.isLeft(bad) && bad.left._tag).toBe('InvalidOptions')
  })

  it('refuses bad options with every path listed', async () => {
    const r = await copyClassifier(original, { sampler: gaussian(), budget: 0, copy: treeCopy(), seed: 1, rounds: 0, reference: { rows: 1, cols: 3, data: new Float64Array(3) } })()
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path).sort()).toEqual(['options.budget', 'options.reference', 'options.rounds'])
  })
})

describe('copyClassifier: the result contract', () => {
  it('queries equal an independent meter (labels plus monitor rows), the seed echoes, progress per round and per label query', async () => {
    const watched = meter(labelOnly(original))
    const monitor: Matrix = { rows: 50, cols: 10, data: heldOut.data.slice(0, 500) }
    const events: string[] = []
    const r = await toPromise(
      copyClassifier(watched, { sampler: jitter({ sigma: 0.3 }), budget: 300, rounds: 3, copy: treeCopy({ maxDepth: 4 }), reference: train, monitor, seed: 8, progress: (e) => events.push(`${e.stage}:${e.done}/${e.total}`) }),
    )
    const u = watched.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: 0, calls: u.predictCalls, cacheHits: 0 })
    expect(r.queries.predictRows).toBe(350)
    expect([r.labelsBought, r.monitorRows, r.budget, r.seed]).toEqual([300, 50, 300, 8])
    expect(r.diagnostics.rounds.map((x) => x.labels)).toEqual([100, 200, 300])
    expect(r.diagnostics.rounds.every((x) => x.monitorAgreement !== undefined)).toBe(true)
    for (const e of ['copy rounds:0/3', 'copy rounds:1/3', 'copy rounds:2/3', 'copy rounds:3/3', 'labelling:300/300']) expect(events).toContain(e)
    expect(events.some((e) => e.startsWith('training tree'))).toBe(true)
  })

  it('the held-out agreement of a round is its copy on the next round’s fresh points, recomputed by hand', async () => {
    const r = await toPromise(copyClassifier(labelOnly(original), { sampler: gaussian(), budget: 200, rounds: 2, copy: treeCopy({ maxDepth: 3 }), reference: train, seed: 3 }))
    // Retrain round 1's copy on the first 100 synthetic points (trees are deterministic) and score it on the last 100.
    const s = r.diagnostics.synthetic
    const first = { rows: 100, cols: 10, data: s.x.data.slice(0, 1000) }
    const again = await toPromise(treeCopy({ maxDepth: 3 }).fit(first, s.y.slice(0, 100), original.info, 3))
    const mine = (await toPromise(again.oracle.predict({ rows: 100, cols: 10, data: s.x.data.slice(1000) }))).labels
    const byHand = mine.reduce((a, l, i) => a + (l === s.y[100 + i] ? 1 : 0), 0) / 100
    expect(r.diagnostics.rounds[0]!.heldOutAgreement).toBe(byHand)
  })

  it('refuses the old option name samples, and every bad option, before any query', async () => {
    let calls = 0
    const counting = { info: original.info, predict: (x: Matrix) => (calls++, original.predict(x)) }
    const old = await copyClassifier(counting, { sampler: gaussian(), samples: 100, copy: treeCopy(), seed: 1, reference: train } as never)()
    expect(E.isLeft(old) && old.left._tag === 'InvalidOptions' && old.left.issues.map((i) => i.message)).toContain('was renamed to options.budget (label queries to spend)')
    const u = await uniformAgreement(counting, counting, { seed: 1, count: 10 } as never)()
    expect(E.isLeft(u) && u.left.message).toContain('options.count: was renamed to options.budget')
    const bad = await copyClassifier(counting, { sampler: gaussian(), budget: 1.5, copy: treeCopy(), seed: 2 ** 53, reference: train, monitor: { rows: 1, cols: 10, data: new Float64Array(10).fill(Number.NaN) }, progress: 3 as never })()
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.issues.map((i) => i.path).sort()).toEqual(['options.budget', 'options.monitor[0][0]', 'options.progress', 'options.seed'])
    expect(calls).toBe(0)
  })

  it('a signal already fired: Aborted before any query', async () => {
    let calls = 0
    const counting = { info: original.info, predict: (x: Matrix) => (calls++, original.predict(x)) }
    const controller = new AbortController()
    controller.abort()
    const r = await copyClassifier(counting, { sampler: gaussian(), budget: 100, copy: softmaxCopy(), seed: 1, reference: train, signal: controller.signal })()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(calls).toBe(0)
  })

  it('a progress callback that throws ends the run with PluginFailed, not a throw', async () => {
    const r = await copyClassifier(labelOnly(original), { sampler: gaussian(), budget: 100, copy: treeCopy(), seed: 1, reference: train, progress: () => { throw new Error('listener bug') } })()
    expect(E.isLeft(r) && r.left._tag === 'PluginFailed' && r.left.message).toContain('listener bug')
  })

  it('the metrics report their queries and echo the seed', async () => {
    const a = meter(labelOnly(original))
    const f = await toPromise(empiricalFidelityError(a, original, heldOut, { seed: 4 }))
    expect(f.queries).toEqual({ predictRows: 600, gradientRows: 0, calls: 1, cacheHits: 0 })
    expect(f.copyQueries.predictRows).toBe(600)
    expect([f.agreement, f.error, f.points, f.seed]).toEqual([1, 0, 600, 4])
    expect(a.usage().predictRows).toBe(600)
    const u = await toPromise(uniformAgreement(a, original, { seed: 9, budget: 100 }))
    expect([u.points, u.seed, u.queries.predictRows, u.agreement]).toEqual([100, 9, 100, 1])
  })
})
