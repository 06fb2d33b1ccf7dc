import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeWith, describeProbe, labelOnly, makeContext, meter, notJsonSafe, runProbe, toPromise, type Matrix, type ProgressEvent } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs } from '@sonde/datasets'
import { copyingProbe } from '../src/index.js'

beforeAll(async () => {
  await useFastestBackend()
})

// A small problem: 4 features, 3 classes; the original is a softmax regression fitted to blobs, revealed as labels.
const data = gaussianBlobs({ n: 400, dim: 4, classes: 3, spread: 0.8, seed: 3 })
const train: Matrix = { rows: 200, cols: 4, data: data.x.data.slice(0, 800) }
const fitted = SoftmaxRegression.fit(train, data.y.slice(0, 200), { numClasses: 3, l2: 1e-2, domain: { lower: -6, upper: 6 } })
if (E.isLeft(fitted)) throw new Error(fitted.left.message)
const original = labelOnly(fitted.right.model)
const rows = (m: Matrix, n: number): number[][] => Array.from({ length: n }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)))
const reference = rows(train, 60)
const monitor = rows({ rows: 200, cols: 4, data: data.x.data.slice(800) }, 40)

const json = <A>(a: A): A => JSON.parse(JSON.stringify(a)) as A

const cases: Array<[string, Record<string, unknown>]> = [
  ['tree, jitter, 3 rounds, a monitor', { budget: 300, sampler: 'jitter', copy: 'tree', rounds: 3, maxDepth: 5, sigma: 0.3, reference, monitor }],
  ['softmax, boundary', { budget: 240, sampler: 'boundary', copy: 'softmax', rounds: 2, sigma: 0.3, reference }],
  ['mlp, adaptive', { budget: 200, sampler: 'adaptive', copy: 'mlp', rounds: 2, hidden: [8], epochs: 3, sigma: 0.3, reference }],
  ['tree, uniformBox, one round', { budget: 150, sampler: 'uniformBox', copy: 'tree', rounds: 1 }],
]

describe('copyingProbe through runProbe, from JSON options', () => {
  it.each(cases)('%s: queries equal an independent meter, the seed echoes, the report is JSON', async (_, opts) => {
    const watched = meter(original)
    const r = await toPromise(runProbe(copyingProbe, watched, json(opts), makeContext({ seed: 11 })))
    const u = watched.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
    // Exactly the budget, plus the monitor's rows once.
    expect(u.predictRows).toBe((opts.budget as number) + (opts.monitor === undefined ? 0 : monitor.length))
    expect(r.labelsBought).toBe(opts.budget)
    expect(r.seed).toBe(11)
    const report = copyingProbe.report(r)
    expect(notJsonSafe(report)).toBeUndefined()
    expect(json(report)).toEqual(report)
    expect(report.headline).toMatch(/copy agrees with the model on \d+\.\d %/)
    expect(report.queries).toEqual(r.queries)
    const line = report.figures.find((f) => f.kind === 'line')
    expect(line?.kind === 'line' && line.series.length).toBeGreaterThan(0)
    expect(report.tables[0]!.rows).toHaveLength(opts.rounds as number)
    r.trained.dispose()
  })

  it('the headline leads with the monitor, else the held-out estimate, and says which', async () => {
    const withMonitor = await toPromise(runProbe(copyingProbe, original, json(cases[0]![1]), makeContext({ seed: 2 })))
    expect(copyingProbe.report(withMonitor).headline).toContain('of the 40 monitor points')
    const heldOut = await toPromise(runProbe(copyingProbe, original, { budget: 300, copy: 'tree', rounds: 3, sigma: 0.3, reference }, makeContext({ seed: 2 })))
    const report = copyingProbe.report(heldOut)
    expect(report.headline).toMatch(/^A tree copy agrees with the model on .* of fresh jitter points it had not seen \(measured after 200 labels\), from 300 label queries\.$/)
    // The held-out figure is the agreement of round 2's copy on round 3's points, recomputed here by hand.
    const rounds = heldOut.diagnostics.rounds
    expect(rounds.map((x) => x.labels)).toEqual([100, 200, 300])
    expect(rounds[2]!.heldOutAgreement).toBeUndefined()
    expect(report.metrics.find((m) => m.name === 'fidelity')!.value).toBe(rounds[1]!.heldOutAgreement)
  })

  it('describeProbe is JSON, and the defaults plus the required budget decode', () => {
    const schema = describeProbe(copyingProbe)
    expect(json(schema)).toEqual(schema)
    const props = schema.properties as Record<string, { default?: unknown; description?: string }>
    for (const [k, p] of Object.entries(props)) expect(p.description, k).toBeTruthy()
    const defaults = Object.fromEntries(Object.entries(props).flatMap(([k, p]) => (p.default === undefined ? [] : [[k, p.default]])))
    expect(Object.keys(defaults).sort()).toEqual(['copy', 'epochs', 'hidden', 'maxDepth', 'rounds', 'sampler', 'sigma'])
    expect(schema.required).toEqual(['budget'])
    const decoded = decodeWith(copyingProbe.options, { ...defaults, budget: 100 })
    expect(E.isRight(decoded) && decoded.right).toMatchObject({ budget: 100, copy: 'mlp', sampler: 'jitter', rounds: 4 })
  })

  it('refuses bad options before any query, listing every path', async () => {
    const watched = meter(original)
    const r = await runProbe(copyingProbe, watched, { budget: 0, sampler: 'grid', sigma: -1, reference: [[1, 2], [3]], samples: 10 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path).sort()).toEqual(
      ['options', 'options.budget', 'options.reference[1]', 'options.sampler', 'options.sigma'].sort(),
    )
    // Options that decode but do not fit the oracle: 3-column reference for a 4-input model, a budget below the rounds, jitter without reference.
    const misfit = await runProbe(copyingProbe, watched, { budget: 2, rounds: 3, reference: [[1, 2, 3]] }, makeContext({ seed: 1 }))()
    expect(E.isLeft(misfit) && misfit.left._tag === 'InvalidOptions' && misfit.left.issues.map((i) => i.path).sort()).toEqual(['options.budget', 'options.reference'])
    const noReference = await runProbe(copyingProbe, watched, { budget: 20, sampler: 'balanced' }, makeContext({ seed: 1 }))()
    expect(E.isLeft(noReference) && noReference.left.message).toContain('options.reference: is missing; the jitter sampler needs reference points')
    expect(watched.usage().predictRows + watched.usage().predictCalls).toBe(0)
  })

  it('aborted on its first progress event: Aborted within 1 s, no query answered after the abort', async () => {
    const watched = meter(original)
    const controller = new AbortController()
    let rowsAtAbort = -1
    const t0 = Date.now()
    const r = await runProbe(
      copyingProbe,
      watched,
      json(cases[2]![1]),
      makeContext({
        seed: 1,
        signal: controller.signal,
        progress: () => {
          if (rowsAtAbort < 0) rowsAtAbort = watched.usage().predictRows
          controller.abort()
        },
      }),
    )()
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(watched.usage().predictRows).toBe(rowsAtAbort)
  })

  it('aborted inside the MLP training of round 2: Aborted within 1 s, round 1 and 2 labels kept, none bought after', async () => {
    const watched = meter(original)
    const controller = new AbortController()
    let rowsAtAbort = -1
    let abortedAt = 0
    const stages: string[] = []
    const r = await runProbe(
      copyingProbe,
      watched,
      { budget: 400, copy: 'mlp', rounds: 4, hidden: [16], epochs: 40, sigma: 0.3, reference },
      makeContext({
        seed: 1,
        signal: controller.signal,
        progress: (e: ProgressEvent) => {
          stages.push(e.stage)
          if (rowsAtAbort < 0 && e.stage.startsWith('training') && watched.usage().predictRows === 200) {
            rowsAtAbort = watched.usage().predictRows
            abortedAt = Date.now()
            controller.abort()
          }
        },
      }),
    )()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(Date.now() - abortedAt).toBeLessThan(1000)
    expect(rowsAtAbort).toBe(200)
    expect(watched.usage().predictRows).toBe(200)
    expect(new Set(stages)).toEqual(new Set(['copy rounds', 'labelling', 'training mlp (mini-batches)']))
  })
})
