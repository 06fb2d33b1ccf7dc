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
  type GradientOracle,
  type Metered,
  type Oracle,
  type Probe,
  type ProbeResult,
} from '@sonde/oracle'
import { randomTwoLayerRelu, SoftmaxRegression } from '@sonde/models'
import { gradientMatchingProbe, linearExtractionProbe, reluExtractionProbe } from '../src/index.js'

const json = <A>(a: A): A => JSON.parse(JSON.stringify(a)) as A

const usageOf = (m: Metered) => {
  const u = m.usage()
  return { predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 }
}

const pool = (rows: number, cols: number, seed: number): number[][] => {
  const rng = createRng(seed)
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()))
}

type AnyGradientProbe = Probe<GradientOracle, unknown, ProbeResult>
const erase = <O extends Oracle, Opts, R extends ProbeResult>(p: Probe<O, Opts, R>): AnyGradientProbe => p as unknown as AnyGradientProbe

interface Case {
  readonly probe: AnyGradientProbe
  readonly victim: () => GradientOracle
  readonly options: Record<string, unknown>
  readonly required: Record<string, unknown>
}

// Small problems: a 6-feature, 3-class softmax model; a 30-input, 6-unit ReLU network with 2 logits; a tiny copy.
const cases: readonly Case[] = [
  { probe: erase(linearExtractionProbe), victim: () => SoftmaxRegression.random(6, 3, 1, { output: 'logits' }), options: { verifyPoints: 5 }, required: {} },
  { probe: erase(reluExtractionProbe), victim: () => randomTwoLayerRelu({ inputDim: 30, hidden: 6, numClasses: 2, seed: 4 }), options: { budget: 5000, verifyPoints: 4 }, required: {} },
  {
    probe: erase(gradientMatchingProbe),
    victim: () => randomTwoLayerRelu({ inputDim: 6, hidden: 5, numClasses: 3, seed: 2 }),
    options: { pool: pool(40, 6, 3), budget: 24, hidden: [8], epochs: 4, evaluationPoints: 10 },
    required: {},
  },
]

describe('probes', () => {
  it('register under distinct ids', () => {
    const registry = makeRegistry([linearExtractionProbe, reluExtractionProbe, gradientMatchingProbe] as never)
    expect(E.isRight(registry) && registry.right.ids()).toEqual([
      'sonde/gradient-extraction/linear',
      'sonde/gradient-extraction/relu',
      'sonde/gradient-extraction/gradient-matching',
    ])
  })

  for (const c of cases) {
    const probe = c.probe
    describe(probe.id, () => {
      it('runs from JSON options: queries equal an independent meter, the seed echoes, the report round-trips', async () => {
        const watched = meter(c.victim())
        const r = await toPromise(runProbe(probe, watched, json(c.options), makeContext({ seed: 11 })))
        expect(r.queries).toEqual(usageOf(watched))
        expect(r.queries.predictRows + r.queries.gradientRows).toBeGreaterThan(0)
        expect(r.seed).toBe(11)
        const report = probe.report(r)
        expect(notJsonSafe(report)).toBeUndefined()
        expect(json(report)).toEqual(report)
        expect(report.probe).toBe(probe.id)
        expect(report.seed).toBe(11)
        expect(report.queries).toEqual(r.queries)
        expect(report.headline.length).toBeGreaterThan(20)
        expect(report.metrics.length).toBeGreaterThan(3)
        ;(r as { dispose?: () => void }).dispose?.()
      })

      it('describeProbe is JSON and its defaults (plus the required fields) decode', () => {
        const schema = describeProbe(probe)
        expect(json(schema)).toEqual(schema)
        expect(schema.title).toBe(probe.id)
        const props = schema.properties as Record<string, { default?: unknown; description?: string }>
        for (const [k, v] of Object.entries(props)) expect(v.description, k).toBeTruthy()
        const defaults = Object.fromEntries(Object.entries(props).flatMap(([k, v]) => (v.default === undefined ? [] : [[k, v.default]])))
        expect(E.isRight(decodeWith(probe.options, { ...defaults, ...c.required }))).toBe(true)
      })

      it('aborts within 1 s of the first progress event, and no query is answered after the abort', async () => {
        const watched = meter(c.victim())
        const controller = new AbortController()
        let at: { rows: number; time: number } | undefined
        const progress = () => {
          if (at !== undefined) return
          at = { rows: watched.usage().predictRows + watched.usage().gradientRows, time: Date.now() }
          controller.abort()
        }
        const r = await runProbe(probe, watched, json(c.options), makeContext({ seed: 3, signal: controller.signal, progress }))()
        expect(at).toBeDefined()
        expect(at!.rows).toBeGreaterThan(0) // the first progress event comes after the first answered query
        expect(Date.now() - at!.time).toBeLessThan(1000)
        expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
        expect(watched.usage().predictRows + watched.usage().gradientRows).toBe(at!.rows)
      })
    })
  }

  it('relu: requires logits with hidden biases (the default), gradients only without', async () => {
    const net = randomTwoLayerRelu({ inputDim: 20, hidden: 4, seed: 2, hiddenBias: false })
    const probs = { ...net, info: { ...net.info, output: 'probabilities' as const }, predict: net.predict, gradient: net.gradient }
    const missing = await runProbe(reluExtractionProbe, probs, {}, makeContext({ seed: 1 }))()
    expect(E.isLeft(missing) && missing.left._tag).toBe('MissingCapability')
    const r = await toPromise(runProbe(reluExtractionProbe, probs, { hiddenBias: false }, makeContext({ seed: 9 })))
    expect(r.model.hidden).toBe(4)
    expect(r.queries.predictRows).toBe(0)
    expect(r.verification?.on).toBe('gradients')
  })

  it('gradient matching: lambda 0 needs no gradients; without a pool the points come from the domain', async () => {
    const net = randomTwoLayerRelu({ inputDim: 4, hidden: 3, numClasses: 2, seed: 1 })
    const valuesOnly = meter({ info: net.info, predict: net.predict })
    const r = await toPromise(runProbe(gradientMatchingProbe, valuesOnly, { lambda: 0, budget: 16, hidden: [4], epochs: 2, evaluationPoints: 8 }, makeContext({ seed: 5 })))
    expect(r.queries).toEqual(usageOf(valuesOnly))
    expect(r.trainingQueries).toEqual({ predictRows: 16, gradientRows: 0, calls: 1, cacheHits: 0 })
    expect(r.source).toBe('domain')
    expect(r.evaluation?.source).toBe('domain')
    expect(r.evaluation?.rows).toBe(8)
    r.dispose()
    const needs = await runProbe(gradientMatchingProbe, valuesOnly, { budget: 16 }, makeContext({ seed: 5 }))()
    expect(E.isLeft(needs) && needs.left._tag).toBe('MissingCapability')
  })

  it('refuse an oracle without gradients, and bad options with every path, before any query', async () => {
    const model = meter(SoftmaxRegression.random(6, 3, 1))
    const missing = await runProbe(reluExtractionProbe as never, labelOnly(model), {}, makeContext({ seed: 1 }))()
    expect(E.isLeft(missing) && missing.left._tag).toBe('MissingCapability')
    const bad = await runProbe(gradientMatchingProbe, model, { pool: [], lambda: -1, fit: 'probs', queries: 5 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.issues.map((i) => i.path).sort()).toEqual(['options', 'options.fit', 'options.lambda', 'options.pool'])
    const narrow = await runProbe(gradientMatchingProbe, model, { pool: [[1, 2]], fit: 'labels' }, makeContext({ seed: 1 }))()
    expect(E.isLeft(narrow) && narrow.left._tag === 'InvalidOptions' && narrow.left.message).toContain('options.pool')
    const tooMany = await runProbe(gradientMatchingProbe, model, { pool: pool(3, 6, 1), budget: 4, fit: 'labels' }, makeContext({ seed: 1 }))()
    expect(E.isLeft(tooMany) && tooMany.left._tag === 'InvalidOptions' && tooMany.left.message).toContain('options.budget')
    const relu = await runProbe(reluExtractionProbe, model, { budget: 1, maxGradientRows: 10, tolerance: 2 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(relu) && relu.left._tag === 'InvalidOptions' && relu.left.issues.map((i) => i.path).sort()).toEqual(['options', 'options.budget', 'options.tolerance'])
    expect(model.usage().predictCalls + model.usage().gradientCalls).toBe(0)
  })

  it('linear: a nonlinear oracle is reported as such, not as an exact extraction', async () => {
    const net = randomTwoLayerRelu({ inputDim: 5, hidden: 4, numClasses: 3, seed: 3 })
    const r = await toPromise(runProbe(linearExtractionProbe, net, {}, makeContext({ seed: 2 })))
    expect(r.verification!.maxRelativeError).toBeGreaterThan(1e-3)
    const report = linearExtractionProbe.report(r)
    expect(report.headline).toMatch(/^The oracle is not linear/)
    expect(report.metrics.find((m) => m.name === 'exact')?.value).toBe(false)
  })
})
