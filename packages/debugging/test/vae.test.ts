import { beforeAll, describe, expect, it } from 'vitest'
import { either as E } from 'fp-ts'
import { takeRows, toPromise } from '@sonde/oracle'
import { useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs, loadMnist, stratifiedSplit } from '@sonde/datasets'
import { trainVae } from '../src/index.js'
import { checkDigitVae } from './vae-check.js'

beforeAll(async () => {
  await useFastestBackend()
})

describe('trainVae', () => {
  const mnist = loadMnist()
  const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 1, limit: 3000 })
  const x = takeRows(mnist.x, train)
  const held = takeRows(mnist.x, test.subarray(0, 200))

  // vae.slow.test.ts runs the same check on 2,400 digits.
  it('an MLP β-VAE on 800 digits (batches of 16): the loss falls and held-out reconstructions beat the mean image by far; seeded', async () => {
    await checkDigitVae(takeRows(x, Array.from({ length: 800 }, (_, i) => i)), held, 8, { batchSize: 16 })
  })

  it('a small conv VAE on 28×28 images trains and decodes to the right shape', { timeout: 120_000 }, async () => {
    const vae = await toPromise(trainVae(takeRows(x, Array.from({ length: 500 }, (_, i) => i)), { architecture: 'conv', imageShape: [28, 28, 1], latentDim: 4, epochs: 2, seed: 1 }))
    expect(vae.losses.at(-1)!).toBeLessThan(vae.losses[0]!)
    const back = vae.decode(vae.encode(held))
    expect([back.rows, back.cols]).toEqual([200, 784])
    vae.dispose()
  })

  it('an MLP VAE on tabular data with a Gaussian likelihood', { timeout: 60_000 }, async () => {
    const ds = gaussianBlobs({ n: 600, dim: 6, classes: 3, seed: 2 })
    const vae = await toPromise(trainVae(ds.x, { likelihood: 'gaussian', latentDim: 2, hidden: [32], epochs: 30, seed: 2 }))
    expect(vae.losses.at(-1)!).toBeLessThan(vae.losses[0]!)
    expect(vae.decode(vae.encode(ds.x)).cols).toBe(6)
    vae.dispose()
  })

  it('a loss that becomes non-finite is TrainingFailed, not a model', async () => {
    const ds = gaussianBlobs({ n: 200, dim: 6, classes: 3, seed: 2 })
    const scaled = { ...ds.x, data: ds.x.data.map((v) => v * 1e18) }
    const r = await trainVae(scaled, { likelihood: 'gaussian', latentDim: 2, hidden: [8], epochs: 3, seed: 1, learningRate: 10 })()
    expect(E.isLeft(r) && r.left._tag).toBe('TrainingFailed')
  })

  it('refuses bad options and out-of-range pixels with typed errors', async () => {
    const r1 = await trainVae(x, { epochs: 0, seed: 1 })()
    expect(E.isLeft(r1) && r1.left._tag === 'InvalidOptions' && r1.left.message.includes('options.epochs')).toBe(true)
    const r2 = await trainVae(x, { epochs: 1, seed: 1, architecture: 'conv', imageShape: [27, 29, 1] })()
    expect(E.isLeft(r2) && r2.left.message.includes('options.imageShape')).toBe(true)
    const r3 = await trainVae({ rows: 1, cols: 2, data: Float64Array.of(0.5, 2) }, { epochs: 1, seed: 1 })()
    expect(E.isLeft(r3) && r3.left._tag === 'InvalidInput').toBe(true)
  })
})
