import { describe, it } from 'vitest'
import { expectSeeded } from '@sonde/oracle/testing'
import { gaussianBlobs, linearlySeparable, stratifiedSplit, twoMoons } from '../src/index.js'

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/datasets', () => {
  it('gaussianBlobs, twoMoons and linearlySeparable', async () => {
    await expectSeeded((seed) => [
      gaussianBlobs({ n: 40, dim: 3, classes: 2, seed }),
      twoMoons({ n: 40, seed }),
      linearlySeparable({ n: 40, dim: 3, seed }),
    ])
  })

  it('stratifiedSplit, with and without a limit', async () => {
    const y = Int32Array.from({ length: 200 }, (_, i) => i % 4)
    await expectSeeded((seed) => [stratifiedSplit(y, { testFraction: 0.25, seed }), stratifiedSplit(y, { testFraction: 0.25, seed, limit: 60 })])
  })
})
