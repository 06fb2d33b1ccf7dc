import { either as E } from 'fp-ts'
import { describe, expect, it, vi } from 'vitest'
import { makeContext, meter, runProbe, toPromise } from '@sonde/oracle'
import { randomTwoLayerRelu, SoftmaxRegression } from '@sonde/models'

// As if @tensorflow/tfjs were not installed: every import of it fails.
vi.mock('@tensorflow/tfjs', () => {
  throw new Error("Cannot find package '@tensorflow/tfjs'")
})

describe('the root entry without tfjs', () => {
  it('loads, and the exact extractions run', async () => {
    const { extractLinear, extractReluNetwork } = await import('../src/index.js')
    const lin = await toPromise(extractLinear(SoftmaxRegression.random(4, 3, 1, { output: 'logits' })))
    expect(lin.queries.gradientRows).toBe(3)
    const relu = await toPromise(extractReluNetwork(randomTwoLayerRelu({ inputDim: 8, hidden: 3, seed: 1 }), { seed: 1 }))
    expect(relu.model.hidden).toBe(3)
  })

  it('the gradient-matching probe ends in MissingCapability saying what to install, before any query', async () => {
    const { gradientMatchingProbe } = await import('../src/index.js')
    const victim = meter(randomTwoLayerRelu({ inputDim: 4, hidden: 2, numClasses: 2, seed: 1 }))
    const r = await runProbe(gradientMatchingProbe, victim, { budget: 5 }, makeContext({ seed: 1 }))()
    expect(E.isLeft(r) && r.left._tag).toBe('MissingCapability')
    expect(E.isLeft(r) && r.left.message).toContain('npm install @tensorflow/tfjs')
    expect(victim.usage().predictCalls + victim.usage().gradientCalls).toBe(0)
  })
})
