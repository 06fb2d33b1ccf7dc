import { describe, expect, it } from 'vitest'
import { createRng, fromFunction, makeContext, noQueries, permutation, randomQueries, runProbe, SondeError, validateSeed, z, type Oracle, type OracleInfo, type Probe, type ProbeResult } from '../src/index.js'
import { expectSeeded } from '../src/testing/index.js'

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/oracle', () => {
  it('createRng: next, normal, int and fork streams', async () => {
    await expectSeeded((seed) => {
      const rng = createRng(seed)
      const child = rng.fork()
      return [Array.from({ length: 64 }, () => rng.next()), Array.from({ length: 64 }, () => rng.normal()), Array.from({ length: 64 }, () => rng.int(1000)), Array.from({ length: 16 }, () => child.next())]
    })
  })

  it('permutation', async () => {
    await expectSeeded((seed) => permutation(100, createRng(seed)))
  })

  it('randomQueries, in a box and unbounded', async () => {
    const boxed: OracleInfo = { id: 'b', inputDim: 5, numClasses: 2, output: 'label', domain: { lower: -1, upper: Float64Array.of(1, 2, 3, 4, 5) } }
    const free: OracleInfo = { id: 'f', inputDim: 5, numClasses: 2, output: 'label' }
    await expectSeeded((seed) => [randomQueries(boxed, 20, createRng(seed)), randomQueries(free, 20, createRng(seed))])
  })
})

describe('expectSeeded', () => {
  it('fails for a function that ignores its seed and for one that is not seeded at all', async () => {
    await expect(expectSeeded(() => Float64Array.of(1, 2))).rejects.toThrow(/same output/)
    await expect(expectSeeded(() => Math.random())).rejects.toThrow(/different outputs/)
  })

  it('compares bits: 0 and −0 differ, NaN equals NaN, nested objects and typed arrays are walked', async () => {
    let calls = 0
    // Seed 1 twice gives −0 then 0: not bit-identical.
    await expect(expectSeeded(() => Float64Array.of(calls++ === 0 ? -0 : 0))).rejects.toThrow(/different outputs/)
    await expectSeeded((seed) => ({ a: [Number.NaN, { b: Float32Array.of(seed) }], f: () => seed }))
  })
})

// Inputs that once broke us: createRng mapped NaN, undefined, Infinity, "1" and 2³² to seed 0, and 1.5 to 2.5's stream.
describe('seeds', () => {
  const bad: unknown[] = [Number.NaN, undefined, Infinity, '1', 1.5, 2 ** 53, null]
  it('validateSeed refuses everything but a safe integer, naming the path', () => {
    for (const s of bad) {
      const r = validateSeed(s)
      expect(r._tag === 'Left' && r.left._tag === 'InvalidOptions' && r.left.issues[0]!.path).toBe('options.seed')
    }
    expect(validateSeed(-7)).toEqual({ _tag: 'Right', right: -7 })
  })

  it('createRng throws a typed InvalidOptions for a bad seed, and 2³², 0 and −1 give three streams', () => {
    for (const s of bad) {
      let thrown: unknown
      try {
        createRng(s as number)
      } catch (e) {
        thrown = e
      }
      expect(thrown instanceof SondeError && thrown.error._tag).toBe('InvalidOptions')
    }
    const first = (seed: number) => createRng(seed).next()
    expect(new Set([first(0), first(2 ** 32), first(-1), first(2 ** 32 - 1)]).size).toBe(4)
  })

  it('runProbe refuses a context with a bad seed before running', async () => {
    let ran = false
    const probe: Probe<Oracle, unknown, ProbeResult> = {
      id: 't',
      summary: 't',
      requires: [],
      options: z.unknown(),
      run: (_o, _opts, ctx) => {
        ran = true
        return async () => ({ _tag: 'Right', right: { queries: noQueries, seed: ctx.seed } })
      },
      report: (r) => ({ probe: 't', headline: '', findings: [], seed: r.seed, queries: r.queries, metrics: [], tables: [], figures: [] }),
    }
    const oracle = fromFunction({ id: 'o', inputDim: 1, numClasses: 2, output: 'label' }, (x) => new Int32Array(x.rows))
    const r = await runProbe(probe, oracle, {}, makeContext({ seed: Number.NaN }))()
    expect(r._tag === 'Left' && r.left._tag).toBe('InvalidOptions')
    expect(ran).toBe(false)
  })
})
