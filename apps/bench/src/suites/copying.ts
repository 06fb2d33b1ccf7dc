import { mkdirSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { toPromise, type Matrix } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { adaptive, balanced, boundary, copyClassifier, empiricalFidelityError, fromGenerator, gaussian, jitter, uniformBox, type Sampler } from '@sonde/copying'
import { mlpCopy } from '@sonde/copying/tfjs'
import { table, type SuiteResult } from '../measure.js'
import { linePlot } from '../plot.js'

/**
 * Fidelity of MLP copies of an MNIST MLP against the number of label queries, per sampler, and
 * the KnockoffNets-style baseline that labels the reference pool itself (no synthetic points).
 */
export const copying = async (): Promise<SuiteResult> => {
  const mnist = loadMnist()
  const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 1 })
  const reference = subset(mnist, train)
  const heldOut = subset(mnist, test).x
  const model = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 1 })
  await toPromise(trainClassifier(model, reference.x, reference.y, { epochs: 12, seed: 1 }))
  const victim = fromTfjsModel(model, { output: 'label', id: 'mnist-mlp', domain: { lower: 0, upper: 1 } })

  // The baseline: label the pool's own points, in a seeded order (at most the pool's size).
  const randomPool: Sampler = fromGenerator('random pool (KnockoffNets)', (n, ctx) => {
    const ref = ctx.reference!
    const used = new Set<number>()
    const data = new Float64Array(n * 784)
    for (let i = 0; i < n; i++) {
      let r = ctx.rng.int(ref.rows)
      while (used.has(r) && used.size < ref.rows) r = ctx.rng.int(ref.rows)
      used.add(r)
      data.set(ref.data.subarray(r * 784, (r + 1) * 784), i * 784)
    }
    return { _tag: 'Right', right: { rows: n, cols: 784, data } as Matrix }
  })
  const samplers: Array<[string, Sampler, number]> = [
    ['uniformBox', uniformBox(), 1],
    ['gaussian', gaussian(), 1],
    ['jitter σ=0.05', jitter({ sigma: 0.05 }), 1],
    ['balanced(jitter)', balanced(jitter({ sigma: 0.05 }), { sigma: 0.05 }), 1],
    ['boundary(jitter)', boundary(jitter({ sigma: 0.05 }), { steps: 4 }), 1],
    ['adaptive(jitter), 4 rounds', adaptive(jitter({ sigma: 0.05 })), 4],
    ['random pool (KnockoffNets)', randomPool, 1],
  ]
  const budgets = [1000, 5000, 20000]
  const results = new Map<string, Array<number | undefined>>()
  for (const [name, sampler, rounds] of samplers) {
    const row: Array<number | undefined> = []
    for (const q of budgets) {
      if (name.startsWith('random pool') && q > reference.x.rows) {
        row.push(undefined)
        continue
      }
      console.log(`  ${name}, ${q} queries …`)
      const r = await toPromise(copyClassifier(victim, { sampler, budget: q, copy: mlpCopy({ hidden: [128], epochs: 15 }), reference: reference.x, seed: 1, rounds }))
      row.push((await toPromise(empiricalFidelityError(victim, r.copy, heldOut))).agreement)
      r.trained.dispose()
    }
    results.set(name, row)
  }
  const styles: Array<readonly number[]> = [[], [8, 5], [2, 4], [12, 3, 2, 3], [4, 4], [1, 2], [16, 6]]
  const png = linePlot(
    samplers.map(([name], i) => ({
      points: results.get(name)!.flatMap((a, j) => (a === undefined ? [] : [[budgets[j]!, a] as const])),
      dash: styles[i]!,
      grey: [0, 0.2, 0.35, 0.45, 0.55, 0.65, 0.75][i]!,
    })),
    { xMin: 1000, xMax: 20000, yMin: 0, yMax: 1, xTicks: [1000, 10000], yTicks: [0.2, 0.4, 0.6, 0.8, 1] },
  )
  const dir = resolve(import.meta.dirname, '../../plots')
  mkdirSync(dir, { recursive: true })
  writeFileSync(resolve(dir, 'copying-fidelity.png'), png)
  return {
    title: 'Copying an MNIST MLP from labels: fidelity vs queries, per sampler',
    description:
      'Victim: 784-128-10 MLP (95.65 % on 2,000 held-out digits), label-only. Copies: 784-128-10 MLPs (15 epochs) trained on each sampler\'s synthetic set; reference = the 8,000 training digits, unlabelled. Fidelity = agreement with the victim on the 2,000 held-out real digits. The random-pool baseline labels reference digits themselves (KnockoffNets-style), so it stops at the pool size. Plot: [plots/copying-fidelity.png](plots/copying-fidelity.png), samplers in table order from solid black to long-dashed light grey.',
    markdown: table(
      ['sampler', ...budgets.map((b) => `${b} queries`)],
      samplers.map(([name]) => [name, ...results.get(name)!.map((a) => (a === undefined ? '—' : a.toFixed(3)))]),
    ),
  }
}
