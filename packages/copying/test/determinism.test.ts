import { beforeAll, describe, expect, it } from 'vitest'
import { labelOnly, meter, toPromise, type Matrix } from '@sonde/oracle'
import { expectSeeded } from '@sonde/oracle/testing'
import { SoftmaxRegression } from '@sonde/models'
import { useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs } from '@sonde/datasets'
import { adaptive, balanced, boundary, copyClassifier, fromGenerator, gaussian, jitter, softmaxCopy, treeCopy, uniformAgreement, uniformBox, type CopyFamily, type Sampler } from '../src/index.js'
import { mlpCopy } from '../src/tfjs.js'

beforeAll(async () => {
  await useFastestBackend()
})

const data = gaussianBlobs({ n: 300, dim: 4, classes: 3, spread: 0.8, seed: 3 })
const reference: Matrix = { rows: 200, cols: 4, data: data.x.data.slice(0, 800) }
const probe: Matrix = { rows: 100, cols: 4, data: data.x.data.slice(800) }
const fitted = SoftmaxRegression.fit(reference, data.y.slice(0, 200), { numClasses: 3, l2: 1e-2, domain: { lower: -6, upper: 6 } })
if (fitted._tag === 'Left') throw new Error(fitted.left.message)
const box = labelOnly(fitted.right.model)

/** What a copy run produced: the labelled synthetic set and the copy's labels on fixed points. */
const copyRun = (sampler: Sampler, copy: CopyFamily) => async (seed: number) => {
  const r = await toPromise(copyClassifier(box, { sampler, budget: 120, copy, reference, seed, rounds: 2 }))
  const labels = (await toPromise(r.copy.predict(probe))).labels
  r.trained.dispose?.()
  return { synthetic: r.diagnostics.synthetic, labels, rounds: r.diagnostics.rounds }
}

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/copying', () => {
  const samplers: Array<[string, Sampler]> = [
    ['uniformBox', uniformBox()],
    ['gaussian', gaussian()],
    ['jitter', jitter({ sigma: 0.3 })],
    ['balanced', balanced(gaussian())],
    ['boundary', boundary(jitter({ sigma: 0.3 }), { steps: 4 })],
    ['adaptive', adaptive(jitter({ sigma: 0.3 }))],
    ['fromGenerator', fromGenerator('normal', (n, ctx) => ({ _tag: 'Right', right: { rows: n, cols: 4, data: Float64Array.from({ length: 4 * n }, () => ctx.rng.normal()) } }))],
  ]
  it.each(samplers)('sampler %s (with a tree copy)', async (_, sampler) => {
    await expectSeeded(copyRun(sampler, treeCopy({ maxDepth: 4 })))
  })

  const families: Array<[string, CopyFamily]> = [
    ['softmaxCopy', softmaxCopy()],
    ['mlpCopy', mlpCopy({ hidden: [8], epochs: 3 })],
    ['treeCopy', treeCopy()],
  ]
  it.each(families)('copy family %s (with the gaussian sampler)', async (_, family) => {
    await expectSeeded(copyRun(gaussian(), family))
  })

  it('uniformAgreement', async () => {
    const other = labelOnly(SoftmaxRegression.random(4, 3, 9, { domain: { lower: -6, upper: 6 } }))
    await expectSeeded((seed) => toPromise(uniformAgreement(box, other, { seed, budget: 500 })))
  })
})

describe('seeds are checked before any query', () => {
  it('copyClassifier and uniformAgreement refuse NaN, 1.5 and "1"', async () => {
    for (const seed of [Number.NaN, 1.5, '1'] as unknown as number[]) {
      const watched = meter(box)
      const r = await copyClassifier(watched, { sampler: gaussian(), budget: 50, copy: treeCopy(), reference, seed })()
      expect(r._tag === 'Left' && r.left._tag === 'InvalidOptions' && r.left.message).toContain('options.seed')
      const u = await uniformAgreement(watched, box, { seed, budget: 10 })()
      expect(u._tag === 'Left' && u.left._tag).toBe('InvalidOptions')
      expect(watched.usage().predictRows).toBe(0)
    }
  })
})
