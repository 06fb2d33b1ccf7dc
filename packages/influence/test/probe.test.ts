import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import {
  decodeWith,
  describeProbe,
  fromFunction,
  makeContext,
  makeRegistry,
  meter,
  notJsonSafe,
  requirementsOf,
  runProbe,
  takeRows,
  toPromise,
  type Oracle,
  type ProbeReport,
} from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression } from '@sonde/models'
import { gaussianBlobs } from '@sonde/datasets'
import { influenceOnTest, influenceProbe, modelToJson, scoresFromSTest, type InfluenceProbeResult } from '../src/index.js'
import { run, unwrap } from './helpers.js'

const rows = (data: Float64Array, cols: number) => Array.from({ length: data.length / cols }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)))
const json = <A>(a: A): A => JSON.parse(JSON.stringify(a)) as A

const ds = gaussianBlobs({ n: 90, dim: 3, classes: 3, seed: 2, spread: 1 })
const model = unwrap(SoftmaxRegression.fit(ds.x, ds.y, { numClasses: 3, l2: 0.05 })).model
const trainJson = { x: rows(ds.x.data, 3), y: Array.from(ds.y) }
const testJson = { x: [[0.1, 0.2, 0.3]], y: [1] }
const base = { train: trainJson, test: testJson, method: 'exact', top: 3 }

/** Run through runProbe on a metered oracle, from JSON options, and check the contract's (a)–(c). */
const runChecked = async (oracle: Oracle, options: unknown, seed = 7): Promise<{ r: InfluenceProbeResult; report: ProbeReport }> => {
  const metered = meter(oracle)
  const result = await runProbe(influenceProbe, metered, json(options), makeContext({ seed }))()
  if (E.isLeft(result)) throw new Error(`${result.left._tag}: ${result.left.message}`)
  const r = result.right
  const u = metered.usage()
  // (a) queries equal an independent meter; (b) the seed echoes.
  expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
  expect(r.seed).toBe(seed)
  // (c) the report is JSON and round-trips unchanged.
  const report = influenceProbe.report(r)
  expect(notJsonSafe(report)).toBeUndefined()
  expect(JSON.parse(JSON.stringify(report))).toEqual(report)
  expect(report.seed).toBe(seed)
  expect(report.queries).toEqual(r.queries)
  return { r, report }
}

describe('influenceProbe from JSON options', () => {
  it("model 'oracle': a white-box oracle, no queries, equal to the direct call", async () => {
    const registry = unwrap(makeRegistry([influenceProbe]))
    expect(registry.ids()).toContain('sonde/influence')
    const { r, report } = await runChecked(model, base)
    expect(r.queries.calls).toBe(0)
    const direct = await run(influenceOnTest(model, { x: ds.x, y: ds.y }, { x: { rows: 1, cols: 3, data: Float64Array.of(0.1, 0.2, 0.3) }, y: Int32Array.of(1) }, { method: 'exact' }))
    expect(Array.from(r.scores.data)).toEqual(Array.from(direct.scores.data))
    expect(Array.from(unwrap(scoresFromSTest(model, { x: ds.x, y: ds.y }, direct.sTest)).data)).toEqual(Array.from(direct.scores.data))
    expect(r.helpful[0]!.length).toBe(3)
    expect(r.scores.data[r.helpful[0]![0]!]).toBe(Math.max(...r.scores.data))
    expect(r.scores.data[r.harmful[0]![0]!]).toBe(Math.min(...r.scores.data))
    // The headline names the most helpful row; the table lists 3 + 3 rows.
    expect(report.headline).toContain(`training row ${r.helpful[0]![0]}`)
    expect(report.tables[0]!.rows.length).toBe(6)
    expect(r.gradientNorm).toBeLessThan(1e-8)
  })

  it("model 'softmax' with labels 'oracle': the labels are bought from a black box (counted) and the probe fits the model", async () => {
    // A label-only box: the fitted softmax model explains its behaviour.
    const box = fromFunction({ id: 'box', inputDim: 3, numClasses: 3, output: 'label' }, (x) =>
      Int32Array.from({ length: x.rows }, (_, i) => (x.data[i * 3]! > 0.3 ? 0 : x.data[i * 3 + 1]! > 0 ? 1 : 2)),
    )
    const { r, report } = await runChecked(box, { model: 'softmax', labels: 'oracle', l2: 0.05, train: { x: trainJson.x }, test: { x: [[0.1, 0.2, 0.3]] }, top: 4 }, 11)
    // 90 training rows and 1 test row, in two calls.
    expect(r.queries).toEqual({ predictRows: 91, gradientRows: 0, calls: 2, cacheHits: 0 })
    expect(r.trainLabels).toBe('oracle')
    expect(r.testLabels).toBe('oracle')
    expect(Array.from(r.train.y)).toEqual(Array.from((await toPromise(box.predict(ds.x))).labels))
    expect(report.findings.some((f) => f.includes('bought from the oracle'))).toBe(true)
  })

  it("model 'logistic' with given labels needs nothing of the oracle; without test labels the model's own call is explained", async () => {
    const y = Int32Array.from(ds.y, (l) => (l === 0 ? 1 : 0))
    const options = { model: 'logistic', l2: 0.1, train: { x: trainJson.x, y: Array.from(y) }, test: { x: [[0.1, 0.2, 0.3], [1, 1, 1]] } }
    expect(requirementsOf(influenceProbe, unwrap(decodeWith(influenceProbe.options, options)))).toEqual([])
    const box = fromFunction({ id: 'unused', inputDim: 3, numClasses: 2, output: 'label' }, (x) => new Int32Array(x.rows))
    const { r } = await runChecked(box, options)
    expect(r.queries.calls).toBe(0)
    expect(r.testLabels).toBe('predicted')
    expect(Array.from(r.test.y)).toEqual(Array.from(r.predicted))
    // Independent: the same fit and scores by hand.
    const fit = unwrap(LogisticRegression.fit(ds.x, y, { l2: 0.1 })).model
    const direct = await run(influenceOnTest(fit, { x: ds.x, y }, { x: { rows: 2, cols: 3, data: Float64Array.of(0.1, 0.2, 0.3, 1, 1, 1) }, y: r.predicted }))
    for (let k = 0; k < direct.scores.data.length; k++) expect(Math.abs(r.scores.data[k]! - direct.scores.data[k]!)).toBeLessThanOrEqual(1e-9 * Math.max(...direct.scores.data.map(Math.abs)))
  })

  it('model { file }: a saved softmax model (JSON { kind, weights, bias, l2 }) gives the same scores as the model in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-influence-'))
    const file = join(dir, 'model.json')
    writeFileSync(file, JSON.stringify(modelToJson(model)))
    const box = fromFunction({ id: 'unused', inputDim: 3, numClasses: 3, output: 'label' }, (x) => new Int32Array(x.rows))
    const { r } = await runChecked(box, { ...base, model: { file } })
    const direct = (await runChecked(model, base)).r
    expect(r.model).toBe('file')
    // JSON keeps every bit of a float64, so the scores agree exactly.
    expect(Array.from(r.scores.data)).toEqual(Array.from(direct.scores.data))
    const missing = await runProbe(influenceProbe, box, { ...base, model: { file: join(dir, 'none.json') } }, makeContext({ seed: 1 }))()
    expect(E.isLeft(missing) && missing.left._tag === 'InvalidOptions' && missing.left.message).toContain('model.file')
  })

  it("dataset 'digits': a seeded draw of training and test digits, with images of the most influential ones in the report", async () => {
    const box = fromFunction({ id: 'unused', inputDim: 784, numClasses: 10, output: 'label' }, (x) => new Int32Array(x.rows))
    const { r, report } = await runChecked(box, { model: 'softmax', l2: 0.01, dataset: { name: 'digits', trainRows: 60, testRows: 1 }, top: 4, tolerance: 1e-6 }, 3)
    expect(r.train.x.rows).toBe(60)
    expect(r.imageShape).toEqual([28, 28])
    const image = report.figures.find((f) => f.kind === 'image')
    expect(image !== undefined && image.kind === 'image' && image.width === 9 * 29 - 1 && image.height === 28 && image.pixels.length === image.width * 28).toBe(true)
    expect(image !== undefined && image.kind === 'image' && image.pixels.every((v) => v >= 0 && v <= 1)).toBe(true)
  })

  it("dataset 'iris': the same seed draws the same rows, another seed others", async () => {
    const box = fromFunction({ id: 'unused', inputDim: 4, numClasses: 3, output: 'label' }, (x) => new Int32Array(x.rows))
    const options = { model: 'softmax', l2: 0.05, dataset: { name: 'iris', trainRows: 100, testRows: 3 } }
    const a = (await runChecked(box, options, 3)).r
    const b = (await runChecked(box, options, 3)).r
    const c = (await runChecked(box, options, 4)).r
    expect(Array.from(b.train.x.data)).toEqual(Array.from(a.train.x.data))
    expect(Array.from(c.train.x.data)).not.toEqual(Array.from(a.train.x.data))
    expect(a.imageShape).toBeUndefined()
    expect(a.test.x.rows).toBe(3)
  })

  it('describeProbe is JSON Schema whose defaults (plus the required data) decode; requires depends on the model', () => {
    const schema = describeProbe(influenceProbe)
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema)
    expect(schema['x-sonde-requires']).toBe('depends on options')
    const props = schema.properties as Record<string, { default?: unknown; description?: string }>
    for (const [k, p] of Object.entries(props)) expect(typeof p.description === 'string' || k === 'train' || k === 'test' || k === 'dataset', k).toBe(true)
    const defaults = Object.fromEntries(Object.entries(props).flatMap(([k, p]) => (p.default === undefined ? [] : [[k, p.default]])))
    expect(defaults).toMatchObject({ model: 'oracle', labels: 'given', method: 'cg', top: 10 })
    const decoded = decodeWith(influenceProbe.options, { ...defaults, train: trainJson, test: testJson })
    expect(E.isRight(decoded)).toBe(true)
    const req = (o: object) => requirementsOf(influenceProbe, unwrap(decodeWith(influenceProbe.options, { train: { x: trainJson.x }, test: testJson, ...o })))
    expect(req({ model: 'oracle', train: trainJson })).toEqual(['whitebox'])
    expect(req({ model: 'softmax', labels: 'oracle' })).toEqual(['labels'])
    expect(req({ model: 'softmax', train: trainJson })).toEqual([])
  })

  it('refuses a black-box oracle for model oracle (MissingCapability) and bad options (InvalidOptions), before any query', async () => {
    let calls = 0
    const box = fromFunction({ id: 'box', inputDim: 3, numClasses: 3, output: 'label' }, (x) => {
      calls++
      return new Int32Array(x.rows)
    })
    const r1 = await runProbe(influenceProbe as never, box, base, makeContext({ seed: 1 }))()
    expect(E.isLeft(r1) && r1.left._tag === 'MissingCapability').toBe(true)
    const cases: Array<[object, string]> = [
      [{ ...base, method: 'qr' }, 'options.method'],
      [{ ...base, tol: 1e-6 }, 'options'],
      [{ ...base, test: { x: [[1, 2]], y: [0] } }, 'options.test.x'],
      [{ model: 'softmax', labels: 'oracle', train: trainJson, test: testJson }, 'options.train.y'],
      [{ model: 'oracle', labels: 'oracle', train: { x: trainJson.x }, test: testJson }, 'options.labels'],
      [{ model: 'softmax', train: { x: trainJson.x }, test: testJson }, 'options.train.y'],
      [{ model: 'softmax', train: trainJson }, 'options.test'],
      [{ model: 'softmax', labels: 'oracle', train: { x: [[1, 2]] }, test: { x: [[1, 2]] } }, 'options.train.x'],
      [{ model: 'logistic', labels: 'oracle', train: { x: trainJson.x }, test: testJson }, 'options.model'],
      [{ model: 'softmax', dataset: { name: 'cifar' } }, 'options.dataset.name'],
      [{ model: 'softmax', dataset: { name: 'iris', trainRows: 150, testRows: 5 } }, 'options.dataset.trainRows'],
      [{ ...base, model: { file: '' } }, 'options.model'],
    ]
    for (const [options, path] of cases) {
      const r = await runProbe(influenceProbe, box, options, makeContext({ seed: 1 }))()
      expect(E.isLeft(r) && `${r.left._tag} ${r.left.message}`, JSON.stringify(options)).toMatch(/^(InvalidOptions|ShapeMismatch)/)
      expect(E.isLeft(r) && r.left.message, JSON.stringify(options)).toContain(path)
    }
    expect(calls).toBe(0)
  })

  it('stops with Aborted within 1 s when aborted at the first progress event, and no query is answered after the abort', async () => {
    const box = meter(fromFunction({ id: 'box', inputDim: 3, numClasses: 3, output: 'label' }, (x) => Int32Array.from({ length: x.rows }, (_, i) => (x.data[i * 3]! > 0 ? 0 : 1))))
    for (const options of [base, { model: 'softmax', labels: 'oracle', train: { x: trainJson.x }, test: { x: testJson.x } }]) {
      const controller = new AbortController()
      let atAbort = -1
      let abortedAt = 0
      const ctx = makeContext({
        seed: 5,
        signal: controller.signal,
        progress: () => {
          if (controller.signal.aborted) return
          atAbort = box.usage().predictRows + box.usage().gradientRows
          abortedAt = Date.now()
          controller.abort()
        },
      })
      const oracle = options === base ? Object.assign(Object.create(model) as typeof model, {}) : box
      const r = await runProbe(influenceProbe, oracle, json(options), ctx)()
      const elapsed = Date.now() - abortedAt
      expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
      expect(elapsed).toBeLessThan(1000)
      expect(box.usage().predictRows + box.usage().gradientRows).toBe(Math.max(0, atAbort))
    }
  })

  it('aborted during the solve (the first cg progress event) on a larger problem: Aborted within 1 s', async () => {
    const big = gaussianBlobs({ n: 400, dim: 20, classes: 4, seed: 3, spread: 2 })
    const m = unwrap(SoftmaxRegression.fit(big.x, big.y, { numClasses: 4, l2: 1e-4 })).model
    const controller = new AbortController()
    let abortedAt = 0
    const ctx = makeContext({
      seed: 1,
      signal: controller.signal,
      progress: (e) => {
        if (e.stage === 'cg' && !controller.signal.aborted) {
          abortedAt = Date.now()
          controller.abort()
        }
      },
    })
    const r = await runProbe(influenceProbe, m, { train: { x: rows(big.x.data, 20), y: Array.from(big.y) }, test: { x: rows(takeRows(big.x, [0, 1, 2]).data, 20) } }, ctx)()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(Date.now() - abortedAt).toBeLessThan(1000)
  })
})
