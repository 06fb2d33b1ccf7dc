/**
 * Recipe: copy a label-only black box into an interpretable tree and into an MLP.
 *
 * The black box: a tfjs MLP on 8-feature tabular data (four overlapping classes), answering labels
 * only. We hold 300 unlabelled rows (`reference`) and a query budget; we copy the box twice and
 * print how faithful each copy is on rows neither copy saw. Run:
 * `node --import tsx docs/recipes/copy-a-black-box.ts`
 */
import { toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs } from '@sonde/datasets'
import { copyClassifier, empiricalFidelityError, jitter, treeCopy } from '@sonde/copying'
import { mlpCopy } from '@sonde/copying/tfjs'

await useFastestBackend()
const data = gaussianBlobs({ n: 3300, dim: 8, classes: 4, spread: 0.9, seed: 4 })
const rows = (from: number, to: number): Matrix => ({ rows: to - from, cols: 8, data: data.x.data.slice(from * 8, to * 8) })
const owner = rows(0, 2000) // the owner's training data
const reference = rows(2000, 2300) // what we hold: unlabelled rows
const heldOut = rows(2300, 3300)

const model = buildMlp({ inputDim: 8, hidden: [32, 32], numClasses: 4, seed: 4 })
await toPromise(trainClassifier(model, owner, data.y.slice(0, 2000), { epochs: 30, seed: 4, learningRate: 3e-3 }))
const blackBox = fromTfjsModel(model, { output: 'label', id: 'vendor:tabular', domain: { lower: -8, upper: 8 } })

for (const [name, family] of [
  ['decision tree (depth ≤ 8)', treeCopy({ maxDepth: 8 })],
  ['MLP 8-32-32-4', mlpCopy({ hidden: [32, 32], epochs: 30, learningRate: 3e-3 })],
] as const) {
  const r = await toPromise(copyClassifier(blackBox, { sampler: jitter({ sigma: 0.5 }), budget: 3000, copy: family, reference, seed: 1 }))
  const fidelity = (await toPromise(empiricalFidelityError(blackBox, r.copy, heldOut))).agreement
  const details = Object.entries(r.trained.details).map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toFixed(3)) : v}`).join(', ')
  console.log(`${name}: ${r.queries.predictRows} label queries → agrees with the box on ${(100 * fidelity).toFixed(1)} % of ${heldOut.rows} unseen rows (${details})`)
  if (fidelity < 0.85) throw new Error('recipe expectations not met')
  r.trained.dispose()
}
console.log('recipe ok')
