import { either as E } from 'fp-ts'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { SoftmaxRegression } from '@sonde/models'
import { takeRows } from '@sonde/oracle'
import { influenceOnTest, mostInfluential } from '../src/index.js'
const m = loadMnist()
const { train, test } = stratifiedSplit(m.y, { testFraction: 0.1, seed: 1, limit: 5600 })
const tr = subset(m, train), te = subset(m, test)
let t = performance.now()
const f = SoftmaxRegression.fit(tr.x, tr.y, { l2: 0.01 })
if (E.isLeft(f)) throw f.left
console.log('fit', performance.now() - t)
const model = f.right.model
const pred = model.logits(te.x)
let mis = -1
for (let i = 0; i < te.x.rows; i++) { let b = 0; for (let c = 1; c < 10; c++) if (pred.data[i*10+c]! > pred.data[i*10+b]!) b = c; if (b !== te.y[i]) { mis = i; break } }
const tx = { x: takeRows(te.x, [mis]), y: te.y.subarray(mis, mis + 1) }
t = performance.now()
const inf = influenceOnTest(model, tr, tx, { method: 'cg' })
if (E.isLeft(inf)) throw inf.left
console.log('cg', performance.now() - t, inf.right.solves[0]!.iterations, inf.right.solves[0]!.relativeResidual)
const top = mostInfluential(inf.right, 0, 50, 'absolute')
const base = model.losses(tx.x, tx.y)[0]!
const pr: number[] = [], ac: number[] = []
t = performance.now()
for (const j of top.slice(0, 5)) {
  const keep = Array.from({ length: tr.x.rows }, (_, i) => i).filter((i) => i !== j)
  const r = model.refit(takeRows(tr.x, keep), Int32Array.from(keep, (i) => tr.y[i]!))
  if (E.isLeft(r)) throw r.left
  ac.push(r.right.model.losses(tx.x, tx.y)[0]! - base); pr.push(inf.right.scores.data[j]!)
  console.log(j, pr.at(-1), ac.at(-1), r.right.report.iterations, r.right.report.hessianVectorProducts)
}
console.log('refit avg ms', (performance.now() - t) / 5)
