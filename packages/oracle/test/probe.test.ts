import { either as E, taskEither as TE } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import {
  cache,
  capabilitiesOf,
  decodeWith,
  describeProbe,
  labelOnly,
  makeContext,
  makeRegistry,
  noQueries,
  notJsonSafe,
  runProbe,
  schemas,
  stage,
  toPromise,
  trackQueries,
  z,
  type AnyProbe,
  type GradientOracle,
  type Oracle,
  type Probe,
  type ProbeReport,
  type ProbeResult,
  type ProgressEvent,
} from '../src/index.js'
import { linearModel } from './helpers.js'

const options = z
  .object({
    samples: z.number().int().min(1).describe('rows to label'),
    sampler: z.enum(['uniform', 'gaussian']).default('uniform').describe('how rows are drawn'),
    classes: z.array(z.number().int().min(0)).optional().describe('classes to look at'),
    pool: schemas.matrix({ description: 'points' }).optional(),
  })
  .strict()

describe('option schemas', () => {
  it('decode good options, fill defaults, and turn rows of numbers into a Matrix', () => {
    const r = decodeWith(options, { samples: 10, pool: [[1, 2], [3, 4]] })
    expect(E.isRight(r) && r.right.sampler).toBe('uniform')
    expect(E.isRight(r) && r.right.pool).toEqual({ rows: 2, cols: 2, data: Float64Array.of(1, 2, 3, 4) })
  })

  it('list every bad path, including unknown keys and bad matrix cells', () => {
    const r = decodeWith(options, { samples: 0.5, sampler: 'grid', classes: [1, -2, 'x'], pool: [[1, 2], [3, Number.NaN], [4]], verbsoe: true })
    expect(E.isLeft(r)).toBe(true)
    if (E.isLeft(r)) {
      expect(r.left._tag).toBe('InvalidOptions')
      expect(r.left.issues.map((i) => i.path).sort()).toEqual(
        ['options', 'options.classes[1]', 'options.classes[2]', 'options.pool[1][1]', 'options.pool[2]', 'options.sampler', 'options.samples'].sort(),
      )
      expect(r.left.message).toContain('verbsoe')
      expect(r.left.message).toContain('options.pool[1][1]: is NaN; expected a finite number')
    }
  })

  it('accept a Matrix from code and check its values and shape', () => {
    const m = schemas.matrix({ cols: 2 })
    expect(E.isRight(decodeWith(m, { rows: 1, cols: 2, data: Float64Array.of(1, 2) }))).toBe(true)
    const short = decodeWith(m, { rows: 2, cols: 2, data: Float64Array.of(1, 2, 3) })
    expect(E.isLeft(short) && short.left.message).toContain('holds 3 values for 2 × 2')
    const inf = decodeWith(m, { rows: 1, cols: 2, data: Float64Array.of(1, Infinity) })
    expect(E.isLeft(inf) && inf.left.issues[0]!.path).toBe('options[0][1]')
  })

  it('never throw, whatever a JavaScript caller passes', () => {
    for (const bad of [null, undefined, 42, 'x', [], Symbol('s'), () => 1, new Float64Array(2), { samples: 1n }]) {
      expect(() => decodeWith(options, bad)).not.toThrow()
      expect(E.isLeft(decodeWith(options, bad))).toBe(true)
    }
  })

  it('labelled examples need one label per row', () => {
    const r = decodeWith(schemas.examples(), { x: [[0], [1]], y: [0] })
    expect(E.isLeft(r) && r.left.issues.map((i) => i.path)).toEqual(['options.y'])
  })
})

type NormResult = ProbeResult & { readonly norm: number }
const reportNorm = (r: NormResult): ProbeReport => ({
  probe: 'test/gradient-norm',
  headline: `norm ${r.norm}`,
  findings: [],
  seed: r.seed,
  queries: r.queries,
  metrics: [{ name: 'norm', value: r.norm }],
  tables: [],
  figures: [],
})

const gradientProbe: Probe<GradientOracle, { readonly scale: number }, NormResult> = {
  id: 'test/gradient-norm',
  summary: 'the norm of the gradient of class 0 at the origin, times scale',
  requires: ['gradients'],
  options: z.object({ scale: z.number().positive().default(1).describe('a factor') }).strict(),
  run: (oracle, opts, ctx) => {
    const tracked = trackQueries(oracle)
    return TE.map((g: { data: Float64Array }) => ({ norm: opts.scale * Math.hypot(...g.data), queries: tracked.usage(), seed: ctx.seed }))(
      tracked.oracle.gradient({ rows: 1, cols: oracle.info.inputDim, data: new Float64Array(oracle.info.inputDim) }, 0),
    )
  },
  report: reportNorm,
}

describe('probes and the registry', () => {
  it('refuses duplicate ids, naming both positions, and malformed probes', () => {
    const r = makeRegistry([gradientProbe, { ...gradientProbe, summary: 'again' }])
    expect(E.isLeft(r) && r.left.message).toContain("probes[1] and probes[0] share the id 'test/gradient-norm'")
    const noReport = { ...gradientProbe, report: undefined } as unknown as AnyProbe
    expect(E.isLeft(makeRegistry([noReport])) && E.isLeft(makeRegistry([noReport])) && (makeRegistry([noReport]) as E.Left<{ message: string }>).left.message).toContain('report')
    expect(E.isLeft(makeRegistry(null as unknown as AnyProbe[]))).toBe(true)
  })

  it('finds probes by id and runs them after checking capabilities and options', async () => {
    const reg = makeRegistry([gradientProbe])
    expect(E.isRight(reg)).toBe(true)
    if (E.isLeft(reg)) return
    const probe = reg.right.get('test/gradient-norm')!
    expect(reg.right.ids()).toEqual(['test/gradient-norm'])
    const { oracle, w } = linearModel(3, 2, 9)
    const value = (await toPromise(runProbe(probe, oracle, { scale: 2 }, makeContext({ seed: 1 })))) as NormResult
    expect(value.norm).toBeCloseTo(2 * Math.hypot(w[0]!, w[1]!, w[2]!), 12)
    expect(value.queries).toEqual({ predictRows: 0, gradientRows: 1, calls: 1, cacheHits: 0 })
    expect(value.seed).toBe(1)
    const missing = await runProbe(probe, labelOnly(oracle), {}, makeContext({ seed: 1 }))()
    expect(E.isLeft(missing) && missing.left._tag).toBe('MissingCapability')
    const bad = await runProbe(probe, oracle, { scale: -1 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(bad) && bad.left._tag).toBe('InvalidOptions')
    const controller = new AbortController()
    controller.abort()
    const aborted = await runProbe(probe, oracle, {}, makeContext({ seed: 1, signal: controller.signal }))()
    expect(E.isLeft(aborted) && aborted.left._tag).toBe('Aborted')
  })

  it('describeProbe emits JSON Schema whose defaults decode', () => {
    const schema = describeProbe(gradientProbe)
    expect(schema.title).toBe('test/gradient-norm')
    expect(schema['x-sonde-requires']).toEqual(['gradients'])
    const props = schema.properties as Record<string, { default?: unknown; description?: string; exclusiveMinimum?: number }>
    expect(props.scale).toMatchObject({ default: 1, description: 'a factor', exclusiveMinimum: 0 })
    const defaults = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.default]))
    expect(E.isRight(decodeWith(gradientProbe.options, defaults))).toBe(true)
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema)
  })

  it('requirements may depend on the options, and are checked before the first query', async () => {
    const { oracle, calls } = linearModel(2, 2, 3)
    const modal: Probe<Oracle, { readonly mode: 'labels' | 'gradients' }, NormResult> = {
      ...(gradientProbe as unknown as Probe<Oracle, { readonly mode: 'labels' | 'gradients' }, NormResult>),
      options: z.object({ mode: z.enum(['labels', 'gradients']) }).strict(),
      requires: (o) => (o.mode === 'gradients' ? ['gradients'] : ['labels']),
      run: (o, _opts, ctx) => TE.map(() => ({ norm: 0, queries: noQueries, seed: ctx.seed }))(o.predict({ rows: 1, cols: 2, data: new Float64Array(2) })),
    }
    const r = await runProbe(modal, labelOnly(oracle), { mode: 'gradients' }, makeContext({ seed: 0 }))()
    expect(E.isLeft(r) && r.left._tag).toBe('MissingCapability')
    expect(calls()).toBe(0)
    expect(E.isRight(await runProbe(modal, labelOnly(oracle), { mode: 'labels' }, makeContext({ seed: 0 }))())).toBe(true)
  })

  it('a probe that throws or rejects ends in PluginFailed; one that hangs is bounded by queryTimeoutMs', async () => {
    const { oracle } = linearModel(2, 2, 3)
    const throwing = { ...gradientProbe, run: () => { throw new Error('boom') } } as unknown as AnyProbe
    const rejecting = { ...gradientProbe, run: () => () => Promise.reject(new Error('late boom')) } as unknown as AnyProbe
    for (const p of [throwing, rejecting]) {
      const r = await runProbe(p, oracle, {}, makeContext({ seed: 0 }))()
      expect(E.isLeft(r) && r.left._tag).toBe('PluginFailed')
      expect(E.isLeft(r) && r.left.message).toContain('boom')
    }
    const hanging: GradientOracle = { ...oracle, predict: () => () => new Promise(() => undefined), gradient: () => () => new Promise(() => undefined) }
    const r = await runProbe(gradientProbe, hanging, {}, makeContext({ seed: 0 }), { queryTimeoutMs: 50 })()
    expect(E.isLeft(r) && r.left._tag).toBe('Timeout')
  })

  it('after an abort no query reaches the oracle', async () => {
    const { oracle, calls } = linearModel(2, 2, 3)
    const controller = new AbortController()
    const twoCalls: Probe<Oracle, Record<string, never>, NormResult> = {
      ...(gradientProbe as unknown as Probe<Oracle, Record<string, never>, NormResult>),
      requires: ['labels'],
      options: z.object({}).strict(),
      run: (o, _opts, ctx) => async () => {
        const x = { rows: 1, cols: 2, data: new Float64Array(2) }
        await o.predict(x)()
        ctx.progress({ stage: 'first', done: 1 })
        const second = await o.predict(x)()
        return E.isLeft(second) ? second : E.right({ norm: 0, queries: noQueries, seed: ctx.seed })
      },
    }
    const r = await runProbe(twoCalls, oracle, {}, makeContext({ seed: 0, signal: controller.signal, progress: () => controller.abort() }))()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(calls()).toBe(1)
  })

  it('derives capabilities from info and methods', () => {
    const { oracle } = linearModel(2, 2, 1)
    expect(capabilitiesOf(oracle)).toEqual(['labels', 'scores', 'logits', 'gradients'])
    expect(capabilitiesOf(labelOnly(oracle))).toEqual(['labels'])
  })
})

describe('query usage, progress and reports', () => {
  it('trackQueries counts rows, calls and the hits of a cache below', async () => {
    const { oracle } = linearModel(2, 2, 3)
    const cached = cache()(oracle)
    const tracked = trackQueries(cached)
    const x = { rows: 3, cols: 2, data: Float64Array.of(0, 1, 2, 3, 4, 5) }
    await toPromise(tracked.oracle.predict(x))
    await toPromise(tracked.oracle.predict(x))
    await toPromise(tracked.oracle.gradient(x, 1))
    expect(tracked.usage()).toEqual({ predictRows: 6, gradientRows: 3, calls: 3, cacheHits: 3 })
  })

  it('stage reports the first and last step, throttles the rest, and sees an abort fired during synchronous work', async () => {
    const events: ProgressEvent[] = []
    const controller = new AbortController()
    const s = stage({ signal: controller.signal, progress: (e) => events.push(e) }, 'loop', 1000)
    for (let i = 0; i < 1000; i++) expect(E.isRight(s.check(i))).toBe(true)
    expect(E.isRight(s.check(1000))).toBe(true)
    expect(events[0]).toEqual({ stage: 'loop', done: 0, total: 1000 })
    expect(events.at(-1)).toEqual({ stage: 'loop', done: 1000, total: 1000 })
    expect(events.length).toBeLessThan(20)
    setTimeout(() => controller.abort(), 20)
    const t0 = Date.now()
    let stopped = false
    while (Date.now() - t0 < 5000) {
      const busyUntil = Date.now() + 5
      while (Date.now() < busyUntil) { /* synchronous work */ }
      if (E.isLeft(await s.tick(0))) {
        stopped = true
        break
      }
    }
    expect(stopped).toBe(true)
    expect(Date.now() - t0).toBeLessThan(1000)
  })

  it('stage sees an abort fired from inside its own progress callback', () => {
    const controller = new AbortController()
    const s = stage({ signal: controller.signal, progress: () => controller.abort() }, 'loop', 10)
    const r = s.check(0)
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
  })

  it('notJsonSafe finds typed arrays, functions, non-finite numbers and class instances', () => {
    expect(notJsonSafe({ a: [1, 'x', null, { b: true }] })).toBeUndefined()
    expect(notJsonSafe({ a: { b: Float64Array.of(1) } })).toBe('report.a.b: a Float64Array')
    expect(notJsonSafe({ a: [1, Number.NaN] })).toBe('report.a[1]: NaN')
    expect(notJsonSafe({ f: () => 1 })).toBe('report.f: a function')
    expect(notJsonSafe({ m: new Map() })).toBe('report.m: a Map')
  })
})
