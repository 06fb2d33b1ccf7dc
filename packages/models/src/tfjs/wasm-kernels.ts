import * as tf from '@tensorflow/tfjs'

interface WasmLikeBackend {
  readSync(dataId: object): ArrayLike<number>
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): tf.TensorInfo
}

/**
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so training any convolutional
 * network on it fails. This registers one, written from the definition
 *   dW[r, c, i, o] = Σ_b Σ_y Σ_x  X[b, y·sH + r·dH − padTop, x·sW + c·dW − padLeft, i] · dY[b, y, x, o],
 * for NHWC data (the layout tfjs layers use). Tested against the cpu backend's kernel.
 */
export const registerMissingWasmKernels = (): void => {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined) return
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo }
      const a = attrs as unknown as {
        strides: [number, number] | number
        pad: 'same' | 'valid' | number
        dataFormat: 'NHWC' | 'NCHW'
        dimRoundingMode?: 'floor' | 'round' | 'ceil'
        filterShape: [number, number, number, number]
      }
      if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm: only NHWC is supported')
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        a.filterShape,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
        false,
        'channelsLast',
      )
      const b = backend as unknown as WasmLikeBackend
      const xv = b.readSync(x.dataId)
      const dyv = b.readSync(dy.dataId)
      const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, strideHeight, strideWidth, filterHeight, filterWidth, dilationHeight, dilationWidth } = info
      const padTop = info.padInfo.top
      const padLeft = info.padInfo.left
      const dw = new Float32Array(filterHeight * filterWidth * inChannels * outChannels)
      for (let r = 0; r < filterHeight; r++) {
        for (let c = 0; c < filterWidth; c++) {
          for (let n = 0; n < batchSize; n++) {
            for (let yr = 0; yr < outHeight; yr++) {
              const xr = yr * strideHeight + r * dilationHeight - padTop
              if (xr < 0 || xr >= inHeight) continue
              for (let yc = 0; yc < outWidth; yc++) {
                const xc = yc * strideWidth + c * dilationWidth - padLeft
                if (xc < 0 || xc >= inWidth) continue
                const xo = ((n * inHeight + xr) * inWidth + xc) * inChannels
                const dyo = ((n * outHeight + yr) * outWidth + yc) * outChannels
                for (let i = 0; i < inChannels; i++) {
                  const xi = xv[xo + i]!
                  if (xi === 0) continue
                  const wo = ((r * filterWidth + c) * inChannels + i) * outChannels
                  for (let o = 0; o < outChannels; o++) dw[wo + o]! += xi * dyv[dyo + o]!
                }
              }
            }
          }
        }
      }
      return b.makeOutput([filterHeight, filterWidth, inChannels, outChannels], 'float32', undefined, dw)
    },
  })
}
