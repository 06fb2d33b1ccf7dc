import { describe, expect, it } from 'vitest'
import { createRng, permutation, randomQueries, type OracleInfo } from '../src/index.js'
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
