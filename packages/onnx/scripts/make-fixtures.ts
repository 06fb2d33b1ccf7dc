// Regenerates the committed ONNX fixture (used by the README example): `node --conditions=@sonde/source --import tsx packages/onnx/scripts/make-fixtures.ts`.
// onnx.test.ts checks that the committed file equals what this script writes.
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fixtureBytes } from '../test/build-model.js'

const path = resolve(import.meta.dirname, '../test/fixtures/mlp-4-8-3.onnx')
writeFileSync(path, fixtureBytes())
console.log(`wrote ${path}`)
