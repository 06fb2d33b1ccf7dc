import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { useBackend, useFastestBackend } from '../src/tfjs/index.js'

// The Conv2DBackpropFilter kernel we add to the wasm backend, against tfjs's cpu kernel.
describe('wasm Conv2DBackpropFilter', () => {
  type Shape4 = [number, number, number, number]
  const cases: ReadonlyArray<{ name: string; x: Shape4; f: Shape4; strides: number; pad: 'same' | 'valid' }> = [
    { name: 'same padding, stride 1', x: [2, 7, 6, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
    { name: 'valid padding, stride 2', x: [1, 9, 8, 2], f: [3, 2, 2, 5], strides: 2, pad: 'valid' },
  ]
  it.each(cases)('$name', async ({ x, f, strides, pad }) => {
    const grads = async (backend: 'wasm' | 'cpu') => {
      expect(await useBackend(backend)).toBe(true)
      return tf.tidy(() => {
        const input = tf.randomNormal(x, 0, 1, 'float32', 1) as tf.Tensor4D
        const filter = tf.randomNormal(f, 0, 1, 'float32', 2) as tf.Tensor4D
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(input, w as tf.Tensor4D, strides, pad))))(filter)
        return Array.from(g.dataSync())
      })
    }
    const onCpu = await grads('cpu')
    const onWasm = await grads('wasm')
    await useFastestBackend()
    expect(onWasm.length).toBe(onCpu.length)
    // Same float32 sums in another order: 1e-4 relative to the largest entry.
    const scale = Math.max(...onCpu.map(Math.abs))
    onWasm.forEach((v, i) => expect(Math.abs(v - onCpu[i]!)).toBeLessThanOrEqual(1e-4 * scale))
  })
})
