import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type * as tf from '@tensorflow/tfjs'
import { modelFromArtifacts, modelToArtifacts } from '@sonde/models/tfjs'

/**
 * Load a model from `dir` if it is there, else train it and save it there.
 *
 * @example
 * // fragment: reads and writes a folder, trains with tfjs; the demo app's own module (not a published package)
 * import type * as tf from '@tensorflow/tfjs'
 * import { cachedModel } from '@sonde/demo/src/model-cache'
 *
 * declare const train: () => Promise<tf.LayersModel>
 * const { model, fromCache } = await cachedModel('.cache/demo-mlp', train)
 */
export const cachedModel = async (
  dir: string,
  train: () => Promise<tf.LayersModel>,
): Promise<{ readonly model: tf.LayersModel; readonly fromCache: boolean }> => {
  try {
    const json = await readFile(join(dir, 'model.json'), 'utf8')
    const weights = new Uint8Array(await readFile(join(dir, 'weights.bin')))
    return { model: await modelFromArtifacts({ json, weights }), fromCache: true }
  } catch {
    const model = await train()
    const artifacts = await modelToArtifacts(model)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'model.json'), artifacts.json)
    await writeFile(join(dir, 'weights.bin'), artifacts.weights)
    return { model, fromCache: false }
  }
}
