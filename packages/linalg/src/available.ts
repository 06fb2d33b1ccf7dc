import { kernelModule } from './wasm.js'
import { helper } from './pool.js'

/**
 * Which kernels this runtime runs: `simd` when WebAssembly SIMD and shared memory are there (else every
 * kernel is the plain JavaScript loop), `threads` when a helper thread is (else one core).
 *
 * @example
 * import { kernelsAvailable } from '@sonde/linalg'
 *
 * const { simd, threads } = await kernelsAvailable() // { simd: true, threads: true } on Node 20
 */
export const kernelsAvailable = async (): Promise<{ readonly simd: boolean; readonly threads: boolean }> => ({
  simd: kernelModule() !== null,
  threads: (await helper()) !== null,
})
