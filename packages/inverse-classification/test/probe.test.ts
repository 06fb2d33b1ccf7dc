import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import {
  createRng,
  decodeWith,
  describeProbe,
  labelOnly,
  makeContext,
  makeRegistry,
  meter,
  notJsonSafe,
  runProbe,
  toPromise,
  type Matrix,
  type Oracle,
  type ProbeReport,
} from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { inverseClassificationProbe, inverseSoftmax, type CounterfactualResult } from '../src/index.js'

// The black box: a random softmax model on 16 features (a 4 × 4 "image") with pixels in [0, 1].
const d = 16
const model = SoftmaxRegression.random(d, 3, 23, { domain: { lower: 0, upper: 1 } })
const rng = createRng(9)
const x0 = Float64Array.from({ length: d }, () => 0.2 + 0.6 * rng.next())
const labelOf = async (x: Float64Array): Promise<number> => (await toPromise(model.predict({ rows: 1, cols: d, data: x }))).labels[0]!
const current = await labelOf(x0)
const rowsOf = (w: Matrix): number[][] => Array.from({ length: w.rows }, (_, c) => Array.from(w.data.subarray(c * w.cols, (c + 1) * w.cols)))
const exactSurrogate = { weights: rowsOf(model.weights), bias: Array.from(model.bias) }
// A surrogate off by ~30 % in its weights: its exact answer is often on the wrong side of the box's boundary.
const noise = createRng(4)
const roughSurrogate = { weights: exactSurrogate.weights.map((r) => r.map((v) => v * (1 + 0.3 * noise.normal()))), bias: exactSurrogate.bias }

const json = <A>(a: A): unknown => JSON.parse(JSON.stringify(a))
const usageOfMeter = (m: ReturnType<typeof meter>) => {
  const u = m.usage()
  return { predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 }
}
const checkReport = (report: ProbeReport): void => {
  expect(notJsonSafe(report)).toBeUndefined()
  expect(JSON.parse(JSON.stringify(report))).toEqual(report)
}

/** A target whose exact answer on the rough surrogate the box rejects, so the repair runs. */
const repairTarget = async (): Promise<number> => {
  const w = { rows: 3, cols: d, data: Float64Array.from(roughSurrogate.weights.flat()) }
  for (let t = 0; t < 3; t++) {
    if (t === current) continue
    const r = inverseSoftmax({ weights: w, bias: Float64Array.from(roughSurrogate.bias) }, x0, { target: t, domain: { lower: 0, upper: 1 } })
    if (E.isRight(r) && r.right.distance > 0 && (await labelOf(r.right.x)) !== t) return t
  }
  throw new Error('test setup: no target needs the repair; change the noise seed')
}

describe('inverseClassificationProbe through runProbe, from JSON options', () => {
  const target = (current + 1) % 3

  it('an exact surrogate: the answer the solver gives, confirmed by one query; queries equal an independent meter; the seed echoes; the report is JSON', async () => {
    const metered = meter(labelOnly(model))
    const opts = { x0: Array.from(x0), surrogate: exactSurrogate, target, domain: { lower: 0, upper: 1 } }
    const r = await toPromise(runProbe(inverseClassificationProbe, metered, json(opts), makeContext({ seed: 17 })))
    expect(r.queries).toEqual(usageOfMeter(metered))
    expect(r.queries.predictRows).toBe(1)
    expect(r.seed).toBe(17)
    expect(r.confirmed).toBe(true)
    expect(r.repaired).toBe(false)
    expect(await labelOf(r.x)).toBe(target) // the box itself, not through the probe's wrappers
    // Against the solver directly: the same point, to the bit (the probe decodes JSON into the same float64s).
    const exact = inverseSoftmax(model, x0, { target, domain: { lower: 0, upper: 1 } })
    expect(E.isRight(exact) && Array.from(exact.right.x)).toEqual(Array.from(r.x))
    const report = inverseClassificationProbe.report(r)
    checkReport(report)
    expect(report.probe).toBe('sonde/inverse-classification')
    expect(report.headline).toMatch(/^The closest input to x0 in class \d is at L2 distance [\d.e-]+: exact on the surrogate, and the oracle confirms/)
    expect(report.seed).toBe(17)
    expect(report.queries).toEqual(r.queries)
    expect(report.metrics.find((m) => m.name === 'distance')?.value).toBe(r.distance)
    expect(report.metrics.find((m) => m.name === 'KKT residual')?.value).toBeLessThanOrEqual(1e-10)
    // 16 features in [0, 1]: images of x0, the counterfactual and the change, 4 × 4, pixels in [0, 1].
    const images = report.figures.filter((f) => f.kind === 'image')
    expect(images.length).toBe(3)
    for (const f of images) if (f.kind === 'image') {
      expect([f.width, f.height, f.pixels.length]).toEqual([4, 4, 16])
      expect(f.pixels.every((v) => v >= 0 && v <= 1)).toBe(true)
    }
    // The changed-features table: every row is (index, from, to, change) of a feature that moved.
    const table = report.tables[0]!
    expect(table.columns).toEqual(['feature', 'from', 'to', 'change'])
    expect(table.rows.length).toBe(r.x.reduce((n, v, i) => n + (Math.abs(v - x0[i]!) > 1e-9 ? 1 : 0), 0))
    for (const [i, from, to] of table.rows) expect([from, to]).toEqual([Number(x0[i as number]!.toPrecision(6)), Number(r.x[i as number]!.toPrecision(6))])
  })

  it('a rough surrogate: repaired, the box confirms, within budget; a report that says so', async () => {
    const t = await repairTarget()
    const metered = meter(labelOnly(model))
    const opts = { x0: Array.from(x0), surrogate: roughSurrogate, target: t, margin: 0, budget: 25, domain: { lower: 0, upper: 1 } }
    const r = await toPromise(runProbe(inverseClassificationProbe, metered, json(opts), makeContext({ seed: 2 })))
    expect(r.queries).toEqual(usageOfMeter(metered))
    expect(r.queries.predictRows).toBeLessThanOrEqual(25)
    expect(r.seed).toBe(2)
    expect(r.labelAtSurrogateAnswer).not.toBe(t)
    if (r.confirmed) {
      expect(r.repaired).toBe(true)
      expect(await labelOf(r.x)).toBe(t)
    }
    const report = inverseClassificationProbe.report(r)
    checkReport(report)
    expect(report.headline).toMatch(r.confirmed ? /repaired along the same ray/ : /^Not confirmed/)
  })

  it('a logistic surrogate from JSON ({ weights: vector, bias: number }) on a two-class box; a bar chart when x0 is not an image', async () => {
    const w = Float64Array.of(1, -2, 0.5)
    const box = labelOnly(SoftmaxRegression.fromParams(Float64Array.of(0, 0, 0, ...w, 0, 0.3), 2))
    const metered = meter(box)
    const opts = { x0: [1, 1, 1], surrogate: { weights: Array.from(w), bias: 0.3 }, target: 1, probability: 0.8 }
    const r = await toPromise(runProbe(inverseClassificationProbe, metered, json(opts), makeContext({ seed: 0 })))
    expect(r.queries).toEqual(usageOfMeter(metered))
    expect(r.confirmed).toBe(true)
    // Closed form without a box: x = x0 + μ w with wᵀx + b = logit(0.8).
    const z0 = 1 - 2 + 0.5 + 0.3
    const mu = (Math.log(4) - z0) / (1 + 4 + 0.25)
    expect(r.distance).toBeCloseTo(mu * Math.hypot(1, 2, 0.5), 12)
    const report = inverseClassificationProbe.report(r)
    checkReport(report)
    expect(report.figures.map((f) => f.kind)).toEqual(['bar'])
  })

  it('describeProbe is JSON, and the defaults plus the required fields decode', () => {
    const schema = describeProbe(inverseClassificationProbe)
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema)
    expect(schema.title).toBe('sonde/inverse-classification')
    const props = schema.properties as Record<string, { default?: unknown; description?: string }>
    for (const [name, p] of Object.entries(props)) expect(typeof p.description, name).toBe('string')
    expect(schema.required).toEqual(['x0', 'surrogate', 'target'])
    const defaults = Object.fromEntries(Object.entries(props).flatMap(([k, p]) => ('default' in p ? [[k, p.default]] : [])))
    expect(defaults).toEqual({ immutable: [], budget: 40, bisectionSteps: 12, maxScale: 16 })
    const decoded = decodeWith(inverseClassificationProbe.options, json({ ...defaults, x0: Array.from(x0), surrogate: exactSurrogate, target }))
    expect(E.isRight(decoded)).toBe(true)
  })

  it('lists every bad option path, before any query', async () => {
    const metered = meter(labelOnly(model))
    const bad = {
      x0: [1, 'a'],
      surrogate: { weights: [[1, 2], [3, Number.NaN]], bias: [0] },
      target: -1,
      margin: 1,
      probability: 0.5,
      budget: 0,
      bisectionSteps: 1.5,
      domain: { lower: 'zero' },
      immutable: [-1],
      lower: 0,
    }
    const r = await runProbe(inverseClassificationProbe, metered, bad, makeContext({ seed: 0 }))()
    expect(E.isLeft(r) && r.left._tag).toBe('InvalidOptions')
    if (E.isLeft(r) && r.left._tag === 'InvalidOptions') {
      expect(r.left.issues.map((i) => i.path)).toEqual(
        expect.arrayContaining([
          'options.x0[1]',
          'options.surrogate.weights[1][1]',
          'options.target',
          'options.budget',
          'options.bisectionSteps',
          'options.domain.lower',
          'options.immutable[0]',
          'options',
        ]),
      )
    }
    // Shapes that only the three together reveal: x0 of the wrong width, a target beyond the surrogate's classes.
    const r2 = await runProbe(inverseClassificationProbe, metered, { x0: [1, 2], surrogate: exactSurrogate, target: 3, domain: { upper: [1, 1] } }, makeContext({ seed: 0 }))()
    expect(E.isLeft(r2) && r2.left._tag === 'InvalidOptions' && r2.left.issues.map((i) => i.path)).toEqual(['options.x0', 'options.target', 'options.domain.upper'])
    expect(metered.usage().predictCalls).toBe(0)
  })

  it('registers in a registry and needs labels only', () => {
    const reg = makeRegistry([inverseClassificationProbe])
    expect(E.isRight(reg)).toBe(true)
    expect(inverseClassificationProbe.requires).toEqual(['labels'])
  })
})

describe('abort', () => {
  const run = async (abortWhen: (stage: string) => boolean, opts: object) => {
    const metered = meter(labelOnly(model))
    const controller = new AbortController()
    let rowsAtAbort = -1
    let abortedAt = 0
    const stages: string[] = []
    const ctx = makeContext({
      seed: 5,
      signal: controller.signal,
      progress: (e) => {
        stages.push(e.stage)
        if (!controller.signal.aborted && abortWhen(e.stage)) {
          rowsAtAbort = metered.usage().predictRows
          abortedAt = Date.now()
          controller.abort()
        }
      },
    })
    const r = await runProbe(inverseClassificationProbe, metered as Oracle, json(opts), ctx)()
    return { r, elapsed: Date.now() - abortedAt, rowsAtAbort, rowsAtEnd: metered.usage().predictRows, stages }
  }

  it('on the first progress event: Aborted within 1 s, no query answered after it', async () => {
    const { r, elapsed, rowsAtAbort, rowsAtEnd } = await run(() => true, { x0: Array.from(x0), surrogate: exactSurrogate, target: (current + 1) % 3 })
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(elapsed).toBeLessThan(1000)
    expect(rowsAtAbort).toBe(0)
    expect(rowsAtEnd).toBe(rowsAtAbort)
  })

  it('in the middle of the repair: Aborted within 1 s, no query answered after it', async () => {
    const t = await repairTarget()
    const opts = { x0: Array.from(x0), surrogate: roughSurrogate, target: t, margin: 0, domain: { lower: 0, upper: 1 } }
    const { r, elapsed, rowsAtAbort, rowsAtEnd, stages } = await run((s) => s.startsWith('repair'), opts)
    expect(stages.some((s) => s.startsWith('repair'))).toBe(true)
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(elapsed).toBeLessThan(1000)
    expect(rowsAtAbort).toBeGreaterThanOrEqual(1) // the check was paid for before the repair began
    expect(rowsAtEnd).toBe(rowsAtAbort)
  })
})

describe('a result from code is typed', () => {
  it('CounterfactualResult keeps Float64Arrays; only the report is the JSON view', async () => {
    const r: CounterfactualResult = await toPromise(
      runProbe(inverseClassificationProbe, labelOnly(model), { x0: Array.from(x0), surrogate: exactSurrogate, target: (current + 2) % 3 }, makeContext({ seed: 1 })),
    )
    expect(r.x).toBeInstanceOf(Float64Array)
    expect(r.x0).toBeInstanceOf(Float64Array)
    expect(r.surrogate.queries).toEqual({ predictRows: 0, gradientRows: 0, calls: 0, cacheHits: 0 })
  })
})
