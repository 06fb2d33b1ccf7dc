import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { SoftmaxRegression, conjugateGradient } from '@sonde/models'
import * as glm from '../../models/src/glm.js'
import { either as E } from 'fp-ts'
const m = loadMnist()
const { train } = stratifiedSplit(m.y, { testFraction: 0.1, seed: 1, limit: 5600 })
const tr = subset(m, train)
const f = SoftmaxRegression.fit(tr.x, tr.y, { l2: 0.01 }); if (E.isLeft(f)) throw f.left
const model = f.right.model
const op = model.hessianOperator(tr.x, tr.y)
const b = model.perExampleGradients({rows:1, cols:784, data: tr.x.data.subarray(0,784)}, tr.y.subarray(0,1)).data
const diag = glm.hessianDiagonal({link:'softmax', m:10, d:784}, model.params(), tr.x, tr.y, 0.01)
for (const pc of [undefined, (r: Float64Array) => r.map((v, i) => v / diag[i]!)]) {
  const t = performance.now()
  const cg = conjugateGradient(op, b.slice(), 1e-10, 1000, pc)
  console.log(pc ? 'jacobi' : 'plain', cg.products, performance.now() - t)
}
