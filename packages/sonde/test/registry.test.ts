/**
 * The registry test of issue 12: every built-in probe runs from JSON options alone on a small problem, and
 * - `queries` equals an independent meter wrapped around the oracle;
 * - `seed` echoes the context's;
 * - the report round-trips through JSON unchanged;
 * - `describeProbe` gives JSON Schema whose defaults (plus the case's required fields) decode;
 * and an abort after the first progress event ends the run with `Aborted` within 1 s, with no query answered
 * after the abort.
 */
import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import {
  createRng,
  decodeWith,
  describeProbe,
  fromFunction,
  labelOnly,
  makeContext,
  meter,
  notJsonSafe,
  runProbe,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type OracleInfo,
  type ProbeResult,
} from '@sonde/oracle'
import { builtinProbes, defaultRegistry } from '../src/index.js'

const linear = (w: number[][], b: number[], info: Partial<OracleInfo> = {}): GradientOracle => {
  const k = w.length
  const d = w[0]!.length
  return fromFunction(
    { id: `test:linear-${d}x${k}`, inputDim: d, numClasses: k, output: 'logits', ...info },
    (x: Matrix) => {
      const out = new Float64Array(x.rows * k)
      for (let i = 0; i < x.rows; i++) for (let c = 0; c < k; c++) {
        let s = b[c]!
        for (let j = 0; j < d; j++) s += w[c]![j]! * x.data[i * d + j]!
        out[i * k + c] = s
      }
      return { rows: x.rows, cols: k, data: out }
    },
    {
      gradient: (x, cls) => {
        const g = new Float64Array(x.rows * d)
        for (let i = 0; i < x.rows; i++) g.set(w[cls[i]!]!, i * d)
        return { rows: x.rows, cols: d, data: g }
      },
    },
  )
}

const relu = (): GradientOracle => {
  const W = [[1, -0.5, 0.3], [-0.7, 0.2, 0.9], [0.4, 0.8, -0.6]]
  const c = [0.1, -0.2, 0.05]
  const a = [1.2, -0.8, 0.6]
  const f = (x: Float64Array) => {
    let v = 0.3
    const g = new Float64Array(3)
    W.forEach((wi, i) => {
      const pre = wi.reduce((s, wj, j) => s + wj * x[j]!, c[i]!)
      if (pre > 0) {
        v += a[i]! * pre
        wi.forEach((wj, j) => (g[j]! += a[i]! * wj))
      }
    })
    return { v, g }
  }
  return fromFunction({ id: 'test:relu', inputDim: 3, numClasses: 1, output: 'logits' }, (x) => ({ rows: x.rows, cols: 1, data: Float64Array.from({ length: x.rows }, (_, i) => f(x.data.subarray(3 * i, 3 * i + 3)).v) }), {
    gradient: (x) => {
      const g = new Float64Array(x.rows * 3)
      for (let i = 0; i < x.rows; i++) g.set(f(x.data.subarray(3 * i, 3 * i + 3)).g, 3 * i)
      return { rows: x.rows, cols: 3, data: g }
    },
  })
}

const W3 = [[0.5, -1, 0.25, 0], [-0.5, 1, 0.75, 1], [1, 0.2, -0.6, 0.4]]
const b3 = [0.3, -0.2, 0.1]
const boxed = { domain: { lower: -1, upper: 1 } }
const rng = createRng(99)
const rows = (n: number, d: number): number[][] => Array.from({ length: n }, () => Array.from({ length: d }, () => Number((2 * rng.next() - 1).toFixed(4))))
const argmax = (x: number[]): number => {
  const z = W3.map((w, c) => w.reduce((s, v, j) => s + v * x[j]!, b3[c]!))
  return z.indexOf(Math.max(...z))
}
const train = rows(60, 4)
const test = rows(2, 4)
// A fixed random linear model on 14×14 digits, for Defuse.
const digitsW = Array.from({ length: 10 }, (_, c) => Array.from({ length: 196 }, (_, j) => Math.sin(7 * c + 0.37 * j)))

interface Case {
  readonly oracle: () => Oracle
  readonly options: Record<string, unknown>
}
const cases: Record<string, Case> = {
  'sonde/copying': { oracle: () => labelOnly(linear(W3, b3, boxed)), options: { budget: 200, sampler: 'uniformBox', copy: 'softmax', rounds: 2 } },
  'sonde/inverse-classification': { oracle: () => labelOnly(linear(W3, b3)), options: { x0: [0.2, -0.4, 0.1, -0.3], surrogate: { weights: W3, bias: b3 }, target: 2 } },
  'sonde/gradient-extraction/linear': { oracle: () => linear(W3, b3), options: {} },
  'sonde/gradient-extraction/relu': { oracle: relu, options: { budget: 3000 } },
  'sonde/gradient-extraction/gradient-matching': { oracle: () => linear(W3, b3, boxed), options: { budget: 20, epochs: 3, hidden: [4] } },
  'sonde/influence': {
    oracle: () => linear(W3, b3),
    options: { model: 'softmax', train: { x: train, y: train.map(argmax) }, test: { x: test, y: test.map(argmax) }, method: 'exact', top: 3 },
  },
  'sonde/debugging/defuse': {
    oracle: () => labelOnly(linear(digitsW, new Array<number>(10).fill(0), { domain: { lower: 0, upper: 1 } })),
    options: { dataset: { name: 'mnist', size: 14, sources: 10 }, vae: { epochs: 1, trainingRows: 200, latentDim: 2, hidden: [16] }, perturbations: 4, keepPerSource: 2, samplesPerRegion: 4, budget: 400 },
  },
  'sonde/black-box-counterfactual': { oracle: () => labelOnly(linear(W3, b3, boxed)), options: { x0: [0.2, -0.4, 0.1, -0.3], target: 1, budget: 300 } },
  'sonde/explanation-leak-audit': { oracle: () => linear(W3, b3, boxed), options: { budget: 200, checkPoints: 20 } },
  'sonde/audit': { oracle: () => linear(W3, b3, boxed), options: { budget: 600, counterfactuals: 1 } },
}

describe('the built-in registry', () => {
  it('holds every built-in probe once, and a test case for each', () => {
    const reg = defaultRegistry()
    expect(E.isRight(reg)).toBe(true)
    const ids = builtinProbes.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.sort()).toEqual(Object.keys(cases).sort())
  })

  for (const probe of builtinProbes) {
    const c = cases[probe.id]!
    it(`${probe.id}: runs from JSON options; queries match an independent meter; seed echoes; the report and schema are JSON`, async () => {
      const metered = meter(c.oracle())
      const options = JSON.parse(JSON.stringify(c.options)) as unknown
      const r = await runProbe(probe, metered, options, makeContext({ seed: 11 }))()
      if (E.isLeft(r)) expect.fail(`${r.left._tag}: ${r.left.message}`)
      const result = r.right as ProbeResult
      const u = metered.usage()
      expect(result.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
      expect(result.seed).toBe(11)
      const report = probe.report(result)
      expect(notJsonSafe(report)).toBeUndefined()
      expect(JSON.parse(JSON.stringify(report))).toEqual(report)
      expect(report.probe).toBe(probe.id)
      expect(report.seed).toBe(11)
      expect(report.queries).toEqual(result.queries)
      const schema = describeProbe(probe)
      expect(JSON.parse(JSON.stringify(schema))).toEqual(schema)
      const props = (schema.properties ?? {}) as Record<string, { default?: unknown }>
      const defaults = Object.fromEntries(Object.entries(props).filter(([, v]) => v.default !== undefined).map(([k, v]) => [k, v.default]))
      // Every default is a valid value: the case's options with each default put over them still decode.
      const decoded = decodeWith(probe.options, { ...(options as Record<string, unknown>), ...defaults })
      if (E.isLeft(decoded)) expect.fail(decoded.left.message)
    })

    it(`${probe.id}: an abort after the first progress event ends it with Aborted within 1 s; no query is answered after it`, async () => {
      const metered = meter(c.oracle())
      const controller = new AbortController()
      let abortedAt = -1
      let rowsAtAbort = -1
      const ctx = makeContext({
        seed: 11,
        signal: controller.signal,
        progress: () => {
          if (abortedAt >= 0) return
          abortedAt = Date.now()
          rowsAtAbort = metered.usage().predictRows + metered.usage().gradientRows
          controller.abort()
        },
      })
      const r = await runProbe(probe, metered, JSON.parse(JSON.stringify(c.options)), ctx)()
      const ended = Date.now()
      expect(abortedAt, 'the probe reported progress').toBeGreaterThanOrEqual(0)
      expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
      expect(ended - abortedAt).toBeLessThan(1000)
      expect(metered.usage().predictRows + metered.usage().gradientRows).toBe(rowsAtAbort)
    })
  }
})
