import * as tf from '@tensorflow/tfjs'
import { registerMissingWasmKernels } from './wasm-kernels.js'

/** A tfjs backend Sonde knows how to choose. */
export type BackendName = 'wasm' | 'webgpu' | 'webgl' | 'cpu'

let chosen: Promise<BackendName> | undefined

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string'

const trySet = async (name: BackendName): Promise<boolean> => {
  try {
    if (tf.findBackendFactory(name) === null) return false
    const ok = await tf.setBackend(name)
    await tf.ready()
    return ok && tf.getBackend() === name
  } catch {
    return false
  }
}

/**
 * Select the fastest tfjs backend available, once per process (later calls return the same
 * choice): in Node `wasm` (SIMD; about 4× the `cpu` backend; `@tensorflow/tfjs-node` cannot be
 * installed where its install step cannot download libtensorflow), in a browser `webgpu`,
 * then `webgl`, then `wasm`; `cpu` as the last resort. This is the only place Sonde picks a
 * backend.
 *
 * Gotcha: in a browser the wasm binaries must be served; call tfjs-backend-wasm's
 * `setWasmPaths` first if you rely on it there.
 *
 * @example
 * // fragment: loads tfjs and its wasm backend (seconds)
 * import { useFastestBackend } from '@sonde/models/tfjs'
 *
 * const backend = await useFastestBackend() // 'wasm' in Node
 */
export const useFastestBackend = (): Promise<BackendName> => {
  chosen ??= (async () => {
    try {
      await import('@tensorflow/tfjs-backend-wasm')
      registerMissingWasmKernels()
    } catch {
      // not installed: fall through to the other backends
    }
    const order: readonly BackendName[] = isNode() ? ['wasm', 'cpu'] : ['webgpu', 'webgl', 'wasm', 'cpu']
    for (const name of order) if (await trySet(name)) return name
    throw new Error('no tfjs backend could be initialised')
  })()
  return chosen
}

/**
 * Switch to a named backend (for benchmarks that compare backends side by side).
 * Resolves to false if it is not available.
 *
 * @example
 * // fragment: loads tfjs (seconds)
 * import { useBackend } from '@sonde/models/tfjs'
 *
 * const ok = await useBackend('cpu') // false if the backend is not available
 */
export const useBackend = async (name: BackendName): Promise<boolean> => {
  if (name === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm')
      registerMissingWasmKernels()
    } catch {
      return false
    }
  }
  return trySet(name)
}
