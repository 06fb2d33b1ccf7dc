import { mkdirSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { toPromise, labelAgreement } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { compareOracles } from '@sonde/gradient-extraction'
import { gradientMatchingCopy } from '@sonde/gradient-extraction/tfjs'
import { table, type SuiteResult } from '../measure.js'
import { linePlot } from '../plot.js'

type Setting = 'labels' | 'logits' | 'logits + gradients'

/**
 * Part 2: agreement with an MNIST MLP victim against the number of queried points, copying from
 * labels, from logits, and from logits + gradient explanations (gradientMatchingCopy).
 */
export const copyWithGradients = async (): Promise<SuiteResult> => {
  const mnist = loadMnist()
  const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.3, seed: 11 })
  const victimData = subset(mnist, train.subarray(0, 4000))
  // The pool: every digit neither the victim trained on nor held out for measuring (5,000 digits).
  const pool = subset(mnist, [...train.subarray(4000), ...test.subarray(1000)]).x
  const heldOut = subset(mnist, test.subarray(0, 1000))
  const victimModel = buildMlp({ inputDim: 784, hidden: [64], numClasses: 10, seed: 5 })
  await toPromise(trainClassifier(victimModel, victimData.x, victimData.y, { epochs: 6, seed: 5, learningRate: 2e-3 }))
  const victim = fromTfjsModel(victimModel, { output: 'logits', id: 'mnist-victim' })
  const acc = labelAgreement((await toPromise(victim.predict(heldOut.x))).labels, heldOut.y)

  const budgets = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
  const settings: Setting[] = ['labels', 'logits', 'logits + gradients']
  const results = new Map<Setting, number[]>()
  for (const s of settings) {
    const row: number[] = []
    for (const q of budgets) {
      if (s === 'logits + gradients' && q > 500) break // already at the victim's own ceiling
      console.log(`  ${s}, ${q} queries …`)
      const r = await toPromise(
        gradientMatchingCopy(victim, pool, { budget: q, seed: 1, fit: s === 'labels' ? 'labels' : 'logits', lambda: s === 'logits + gradients' ? 1 : 0, epochs: q <= 200 ? 150 : q <= 1000 ? 60 : 30 }),
      )
      row.push((await toPromise(compareOracles(victim, r.copy, heldOut.x))).agreement)
      r.model.dispose()
    }
    results.set(s, row)
  }
  const first = (s: Setting, level: number): number | undefined => {
    const i = results.get(s)!.findIndex((a) => a >= level)
    return i < 0 ? undefined : budgets[i]
  }
  const png = linePlot(
    settings.map((s, i) => ({ points: results.get(s)!.map((a, j) => [budgets[j]!, a] as const), dash: [[], [8, 5], [2, 4]][i]!, grey: [0, 0.35, 0.55][i]! })),
    { xMin: 10, xMax: 5000, yMin: 0.3, yMax: 1, xTicks: [10, 100, 1000], yTicks: [0.4, 0.6, 0.8, 1] },
  )
  const dir = resolve(import.meta.dirname, '../../plots')
  mkdirSync(dir, { recursive: true })
  writeFileSync(resolve(dir, 'copy-agreement.png'), png)
  const at95 = settings.map((s) => first(s, 0.95))
  const ratio = at95[0] !== undefined && at95[2] !== undefined ? `${(at95[0] / at95[2]).toFixed(0)}×` : 'n/a (labels did not reach 95 % within 5,000 queries)'
  return {
    title: 'Copying an MNIST MLP: labels vs logits vs logits + gradients',
    description: `Victim: 784-64-10 ReLU MLP trained on 4,000 digits (held-out accuracy ${(100 * acc).toFixed(1)} %). Copies: 784-64-10 MLPs trained on the queried pool points (seed 1). Agreement with the victim on 1,000 held-out real digits. Plot: [plots/copy-agreement.png](plots/copy-agreement.png) — solid black: labels, dashed: logits, dotted grey: logits + gradients; log-scaled x (queried points), y = agreement.`,
    markdown: [
      table(
        ['queried points', ...settings],
        budgets.map((q, j) => [String(q), ...settings.map((s) => (results.get(s)![j] === undefined ? '—' : results.get(s)![j]!.toFixed(3)))]),
      ),
      '',
      `First budget reaching 95 % agreement: labels ${at95[0] ?? '> 5000'}, logits ${at95[1] ?? '> 5000'}, logits + gradients ${at95[2] ?? '> 500'} → labels-only copying needs ${ratio} the queries of gradient matching (each gradient-matching query is one value row + one gradient row).`,
    ].join('\n'),
  }
}
