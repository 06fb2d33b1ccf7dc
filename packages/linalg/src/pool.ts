import { kernelModule } from './wasm.js'

/**
 * One helper thread for the kernels (the machines Sonde runs on have two cores or more; one thread beside
 * the caller's is "both cores"). It instantiates the same WebAssembly module on the caller's shared memory and
 * runs `update` calls on ranges of blocks the caller hands it, while the caller runs the rest.
 *
 * Where worker_threads, SharedArrayBuffer or WebAssembly SIMD are missing (a browser without cross-origin
 * isolation, an old runtime), {@link helper} resolves to null and every kernel runs on the caller's thread.
 * The worker is unref'd: it never keeps a process alive.
 */
export interface Helper {
  /**
   * Run kernel calls (`update` argument lists, in order) on the helper thread, on `memory`: resolves true when it has finished, false when the
   * thread was already gone and the call never started (the caller then runs it itself).
   */
  readonly run: (memory: WebAssembly.Memory, calls: ReadonlyArray<readonly number[]>) => Promise<boolean>
}

// Plain JavaScript (the worker is started from a string, so it runs the same from sources and from dist).
const workerSource = `
const { parentPort } = require('node:worker_threads')
let module = null
let memory = null
let exports = null
parentPort.on('message', (msg) => {
  if (msg.module !== undefined) module = msg.module
  if (msg.memory !== undefined && msg.memory !== memory) {
    memory = msg.memory
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports
  }
  try {
    for (const args of msg.calls) exports.update(...args)
    parentPort.postMessage({ id: msg.id })
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: String(e && e.message || e) })
  }
})
`

let pending: Promise<Helper | null> | undefined

/** Whether a helper thread is worth having here: at least two cores and the kernels compiled. */
const start = async (): Promise<Helper | null> => {
  const module = kernelModule()
  if (module === null || typeof SharedArrayBuffer === 'undefined') return null
  try {
    const os = await import('node:os')
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
    if (cores < 2) return null
    const { Worker } = await import('node:worker_threads')
    const worker = new Worker(workerSource, { eval: true })
    worker.unref()
    let nextId = 0
    let sentModule = false
    let lastMemory: WebAssembly.Memory | undefined
    const waiting = new Map<number, { resolve: (ran: boolean) => void; reject: (e: Error) => void }>()
    let broken: Error | undefined
    const fail = (e: Error): void => {
      broken = e
      for (const w of waiting.values()) w.reject(e)
      waiting.clear()
      pending = Promise.resolve(null)
    }
    worker.on('message', (msg: { id: number; error?: string }) => {
      const w = waiting.get(msg.id)
      if (w === undefined) return
      waiting.delete(msg.id)
      if (waiting.size === 0) worker.unref()
      if (msg.error !== undefined) w.reject(new Error(msg.error))
      else w.resolve(true)
    })
    worker.on('error', fail)
    worker.on('exit', () => fail(new Error('the linalg helper thread exited')))
    return {
      run: (memory, calls) =>
        new Promise<boolean>((resolve, reject) => {
          if (broken !== undefined) return resolve(false)
          const id = nextId++
          waiting.set(id, { resolve, reject })
          // Referenced while a call is outstanding, so the caller's await cannot be dropped by an exiting loop.
          worker.ref()
          worker.postMessage({ id, calls, ...(sentModule ? {} : { module }), ...(memory !== lastMemory ? { memory } : {}) })
          sentModule = true
          lastMemory = memory
        }),
    }
  } catch {
    return null
  }
}

/** The shared helper thread (started on first use), or null where there is none to be had. */
export const helper = (): Promise<Helper | null> => (pending ??= start())

/**
 * The helper thread when a core is idle, else null: `'auto'` in the kernels' `parallel` option. A helper pays
 * only with a core to itself — the caller waits for the slower half at every panel — so the one-minute load
 * average must leave one (load ≤ cores − 1). On the bench machine: p = 7,850 Cholesky 7.9 s with the helper
 * against 9.8 s without at load 1.2, but 18.9 against 15.9 s at load 5 (other work on both cores).
 */
export const helperIfIdle = async (): Promise<Helper | null> => {
  try {
    const os = await import('node:os')
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
    if (!(os.loadavg()[0]! <= cores - 1)) return null
  } catch {
    return null
  }
  return helper()
}

/** The helper for a kernel's `parallel` option: always (true), never (false) or when a core is idle ('auto'). */
export const helperFor = (parallel: boolean | 'auto' | undefined): Promise<Helper | null> =>
  parallel === true ? helper() : parallel === false ? Promise.resolve(null) : helperIfIdle()
