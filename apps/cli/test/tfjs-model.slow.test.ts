import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import type { RunDocument } from '../src/document.js'
import { readJson, sonde, tempDir } from './helpers.js'

// `--tfjs model.json` as a user has it: a model saved by tfjs's own `model.save`, through a handler that writes
// model.json and weights.bin as tfjs's file:// handler lays them out (tfjs-node, which has that handler, does
// not install here).
const saveToDisk = async (model: tf.LayersModel, dir: string): Promise<string> => {
  mkdirSync(dir, { recursive: true })
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer))
      const json = { modelTopology: artifacts.modelTopology, format: artifacts.format, generatedBy: artifacts.generatedBy, convertedBy: artifacts.convertedBy ?? null, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json))
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
  )
  return join(dir, 'model.json')
}

// 4 features → 8 tanh → 3 classes (softmax), seeded: the CLI reads its logits through the softmax's input.
const model = (): tf.LayersModel =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }), biasInitializer: tf.initializers.constant({ value: 0.1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  })

describe('a saved tfjs model (--tfjs model.json)', () => {
  it('sonde run and sonde audit exit 0 and write their reports', async () => {
    const dir = tempDir()
    const file = await saveToDisk(model(), join(dir, 'model'))
    const run = await sonde(['run', 'sonde/copying', '--tfjs', file, '--domain', '-3:3', '--set', 'copy=softmax', '--set', 'sampler=uniformBox', '--budget', '400', '--out', 'run', '-q'], { cwd: dir })
    expect(run.stderr).not.toContain('unexpected')
    expect(run.code).toBe(0)
    const doc = readJson<RunDocument>(join(dir, 'run/report.json'))
    expect(doc).toMatchObject({ command: 'run', probe: 'sonde/copying', status: 'complete', model: { kind: 'tfjs', source: file, info: { id: `tfjs:${file}`, inputDim: 4, numClasses: 3, output: 'probabilities' } } })
    expect(doc.answers.fromModel).toBe(400)
    expect(existsSync(join(dir, 'run/report.html'))).toBe(true)

    const audit = await sonde(['audit', '--tfjs', file, '--domain', '-3:3', '--budget', '800', '--seed', '2', '--out', 'audit', '-q'], { cwd: dir })
    expect(audit.stderr).not.toContain('unexpected')
    expect(audit.code).toBe(0)
    const a = readJson<RunDocument>(join(dir, 'audit/report.json'))
    expect(a).toMatchObject({ command: 'audit', probe: 'sonde/audit', status: 'complete', model: { kind: 'tfjs' } })
    // A tfjs model answers gradients too: the audit spends some of its budget on the explanations.
    expect(a.report.headline).toContain('gradients')
    expect(a.queries.gradientRows).toBeGreaterThan(0)
    expect(a.answers.fromModel).toBeLessThanOrEqual(800)
    expect(existsSync(join(dir, 'audit/report.html'))).toBe(true)
    expect(audit.stdout).toContain(a.report.headline)
  })
})
