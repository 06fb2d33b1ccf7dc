import { expect } from 'vitest'
import { toPromise, type Matrix } from '@sonde/oracle'
import { trainVae, type VaeOptions } from '../src/index.js'

const mse = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length

/**
 * An MLP β-VAE trained on digits `x` for `epochs`: the loss falls by ≥ 30 %, held-out reconstructions are in
 * [0, 1] with the right shapes and have under 0.65× the squared error of the mean training image (an
 * independent baseline); two one-epoch trainings with the same seed encode bit-identically.
 */
export const checkDigitVae = async (x: Matrix, held: Matrix, epochs: number, training: Pick<VaeOptions, 'batchSize' | 'learningRate'> = {}): Promise<void> => {
  const vae = await toPromise(trainVae(x, { latentDim: 8, epochs, seed: 3, ...training }))
  expect(vae.losses.at(-1)!).toBeLessThan(0.7 * vae.losses[0]!)
  const z = vae.encode(held)
  expect([z.rows, z.cols]).toEqual([held.rows, 8])
  const back = vae.decode(z)
  expect([back.rows, back.cols]).toEqual([held.rows, 784])
  expect(back.data.every((v) => v >= 0 && v <= 1)).toBe(true)
  const mean = new Float64Array(784)
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < 784; j++) mean[j]! += x.data[i * 784 + j]! / x.rows
  const meanImages = new Float64Array(held.rows * 784)
  for (let i = 0; i < held.rows; i++) meanImages.set(mean, i * 784)
  const err = mse(back.data, held.data)
  console.log(`VAE (${x.rows} digits, ${epochs} epochs) reconstruction MSE ${err.toFixed(4)} vs mean image ${mse(meanImages, held.data).toFixed(4)}`)
  expect(err).toBeLessThan(0.65 * mse(meanImages, held.data))
  const again = await toPromise(trainVae(x, { latentDim: 8, epochs: 1, seed: 3 }))
  const again2 = await toPromise(trainVae(x, { latentDim: 8, epochs: 1, seed: 3 }))
  expect(Array.from(again.encode(held).data)).toEqual(Array.from(again2.encode(held).data))
  for (const v of [vae, again, again2]) v.dispose()
}
