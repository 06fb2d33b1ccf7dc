import type * as tf from '@tensorflow/tfjs'
import { createRng, toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, useBackend, useFastestBackend, type BackendName } from '@sonde/models/tfjs'
import { table, timeSideBySide, type SuiteResult } from '../measure.js'

/**
 * tfjs backends side by side: an MNIST-sized MLP (784 → 128 → 10) answering predict and
 * input-gradient queries of 256 rows through `fromTfjsModel`, on wasm and on cpu.
 */
export const tfjsBackends = async (): Promise<SuiteResult> => {
  const rows = 256
  const rng = createRng(2)
  const x: Matrix = { rows, cols: 784, data: Float64Array.from({ length: rows * 784 }, () => rng.next()) }
  const backends: BackendName[] = ['wasm', 'cpu']
  const models = new Map<BackendName, tf.LayersModel>()
  // Each backend gets its own copy of the model, built while it is active, so no timed call moves weights.
  for (const b of backends) {
    if (!(await useBackend(b))) throw new Error(`backend ${b} is not available`)
    models.set(b, buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 1 }))
  }
  const variants = backends.flatMap((b) => {
    const oracle = fromTfjsModel(models.get(b)!, { output: 'probabilities' })
    return [
      { name: `${b} predict`, run: async () => (await useBackend(b), await toPromise(oracle.predict(x)), rows) },
      { name: `${b} input gradient`, run: async () => (await useBackend(b), await toPromise(oracle.gradient(x, 3)), rows) },
    ]
  })
  const timings = await timeSideBySide(variants, 15)
  await useFastestBackend()
  const by = new Map(timings.map((t) => [t.name, t]))
  const ratio = (kind: string) => by.get(`cpu ${kind}`)!.medianUsPerRow / by.get(`wasm ${kind}`)!.medianUsPerRow
  return {
    title: 'tfjs backends: wasm against cpu',
    description: `MLP 784→128→10, ${rows}-row queries through fromTfjsModel; median of 15 interleaved repetitions.`,
    markdown: [
      table(
        ['variant', 'median µs/row', 'p95 µs/row', 'rows/s'],
        timings.map((t) => [t.name, t.medianUsPerRow, t.p95UsPerRow, Math.round(1e6 / t.medianUsPerRow)]),
      ),
      '',
      `wasm is ${ratio('predict').toFixed(1)}× faster than cpu for predict and ${ratio('input gradient').toFixed(1)}× for input gradients.`,
    ].join('\n'),
  }
}
