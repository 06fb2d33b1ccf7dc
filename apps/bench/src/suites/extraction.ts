import { createRng, randomQueries, toPromise, type Matrix } from '@sonde/oracle'
import { randomTwoLayerRelu, type TwoLayerRelu } from '@sonde/models'
import { extractReluNetwork, type ReluBisection, type ReluStrategy } from '@sonde/gradient-extraction'
import { formatNumber, table, type SuiteResult } from '../measure.js'
import { valueOnlyExtraction } from './value-extraction.js'

/** max over logits of max |f̂_k − f_k| / max |f_k| (rows × K, row-major). */
const maxRelativePerLogit = (truth: Float64Array, approx: Float64Array, k: number): number => {
  let worst = 0
  for (let c = 0; c < k; c++) {
    let diff = 0
    let scale = 0
    for (let i = c; i < truth.length; i += k) {
      diff = Math.max(diff, Math.abs(truth[i]! - approx[i]!))
      scale = Math.max(scale, Math.abs(truth[i]!))
    }
    worst = Math.max(worst, diff / scale)
  }
  return worst
}

const bound = (h: number, k: number): number => Math.round(2 * h * Math.log2(h) + (k > 1 ? k * (h + 1) : 0))

interface Variant {
  readonly name: string
  readonly strategy: ReluStrategy
  readonly bisection: ReluBisection
}

const variants: readonly Variant[] = [
  { name: 'Sonde, whole network, confirmed bisection (new default)', strategy: 'whole-network', bisection: 'confirmed' },
  { name: 'Sonde, whole network, fixed-width bisection', strategy: 'whole-network', bisection: 'fixed-width' },
  { name: 'Sonde, per logit, confirmed bisection', strategy: 'per-logit', bisection: 'confirmed' },
  { name: 'Sonde, per logit, fixed-width bisection (before issue 16)', strategy: 'per-logit', bisection: 'fixed-width' },
]

/**
 * Part 1: exact ReLU extraction from gradients — the whole network at once against logit by logit, a bisection
 * stopped by a confirmed kink against Milli et al.'s fixed width, and the value-only baseline, on the same nets.
 * Part 2: the default's rows stay flat in the input dimension d.
 */
export const reluExtraction = async (): Promise<SuiteResult> => {
  const rows: Array<Array<string | number>> = []
  const nets: Array<[number, number, number]> = [
    [784, 32, 10],
    [784, 16, 1],
    [784, 32, 1],
    [784, 64, 1],
    [784, 128, 1],
  ]
  const seeds = [1, 2, 3, 4, 5]
  for (const [d, h, k] of nets) {
    console.log(`  (d, h, K) = (${d}, ${h}, ${k}) …`)
    const victims = seeds.map((s) => randomTwoLayerRelu({ inputDim: d, hidden: h, numClasses: k, seed: 10 * h + d + 1000 * (s - 1) }))
    const test: Matrix = randomQueries(victims[0]!.info, 2000, createRng(99))
    const truths = victims.map((v) => v.evaluate(test).data)
    // Seeds interleaved across the variants: variant × seed, each on its own victim.
    const acc = variants.map(() => ({ g: [] as number[], v: [] as number[], units: [] as number[], found: [] as number[], err: 0, ms: 0, fallbacks: 0 }))
    for (let si = 0; si < seeds.length; si++) {
      for (let vi = 0; vi < variants.length; vi++) {
        const { strategy, bisection } = variants[vi]!
        const t0 = performance.now()
        const ex = await toPromise(extractReluNetwork(victims[si]!, { seed: seeds[si]!, strategy, bisection }))
        const a = acc[vi]!
        a.ms += performance.now() - t0
        a.g.push(ex.queries.gradientRows)
        a.v.push(ex.queries.predictRows)
        a.units.push(ex.model.hidden)
        a.found.push(ex.unitsFound)
        if (ex.strategy !== strategy) a.fallbacks++
        a.err = Math.max(a.err, maxRelativePerLogit(truths[si]!, ex.model.evaluate(test).data, k))
      }
    }
    const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length
    const range = (xs: readonly number[]): string => (Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}–${Math.max(...xs)}`)
    const baseG = mean(acc[3]!.g)
    variants.forEach((vr, vi) => {
      const a = acc[vi]!
      rows.push([
        `(${d}, ${h}, ${k})`,
        vr.name + (a.fallbacks > 0 ? ` (${a.fallbacks} fell back to per logit)` : ''),
        formatNumber(mean(a.g)),
        String(Math.max(...a.g)),
        String(bound(h, k)),
        formatNumber(mean(a.v)),
        a.units.every((u, i) => u === a.found[i]) ? range(a.units) : `${range(a.units)} (${range(a.found)} found)`,
        formatNumber(a.err),
        `${formatNumber(baseG / mean(a.g))}×`,
        formatNumber(a.ms / seeds.length),
      ])
    })
    // The baseline spends ~4·h·d value queries: one victim (seed 1) per network.
    const t0 = performance.now()
    const b = valueOnlyExtraction(victims[0]!, 1)
    const ms = performance.now() - t0
    rows.push([`(${d}, ${h}, ${k})`, 'value-only baseline (Jagielski et al. 2020 style; seed 1 only)', '0', '0', '—', String(b.valueQueries), String(b.units), formatNumber(maxRelativePerLogit(truths[0]!, b.evaluate(test), k)), '—', formatNumber(ms)])
  }

  // Flat in d: the default on one output, d from 128 to 5000.
  const flat: Array<Array<string | number>> = []
  for (const h of [16, 64, 128]) {
    for (const d of [128, 784, 5000]) {
      console.log(`  flat in d: h = ${h}, d = ${d} …`)
      const victim: TwoLayerRelu = randomTwoLayerRelu({ inputDim: d, hidden: h, seed: 10 * h + d })
      const test: Matrix = randomQueries(victim.info, 2000, createRng(99))
      const ex = await toPromise(extractReluNetwork(victim, { seed: 1 }))
      flat.push([String(h), String(d), String(ex.queries.gradientRows), String(ex.queries.predictRows), String(bound(h, 1)), String(ex.model.hidden), formatNumber(maxRelativePerLogit(victim.evaluate(test).data, ex.model.evaluate(test).data, 1))])
    }
  }
  return {
    title: 'Extraction: two-layer ReLU networks from gradients vs value queries only',
    description: [
      'Random two-layer ReLU nets (randomTwoLayerRelu, hidden biases, N(0, 1/d) weights), float64, behind a gradient (saliency) oracle that also answers values (logits).',
      'Sonde: extractReluNetwork with each strategy × bisection rule, over 5 victims and seeds (victim seed 10·h + d + 1000·(s − 1), line seed s), interleaved; rows include the 8 verification rows (values). "Whole network": the kinks of one line found once with logit 0, each other logit read from one gradient row per linear piece; "per logit": each logit on its own line, positive multiples merged.',
      '"Confirmed" bisection stops an interval as soon as two value queries astride the kink its end pieces predict lie on those pieces; "fixed-width" bisects until intervals are narrower than π/(64 n²) (Milli et al. 2018; the only rule before issue 16).',
      'Bound: 2·h·log₂h + K·(h + 1) gradient rows (2·h·log₂h for one output), the goal of issue 16. Units: hidden units of the returned model (and found before merging, where different). Error: max over logits of max |f̂ − f| / max |f| at 2,000 fresh random inputs, worst over the seeds. Gradient-row ratio: against the per-logit fixed-width rule. Time: mean ms per extraction on a shared machine (read it as a ratio).',
      'Baseline: functionally equivalent extraction from values only (Jagielski et al. 2020 style — critical points on a line, second differences per input axis, a least-squares output layer for every logit — apps/bench/src/suites/value-extraction.ts); it stops at 1e-7 to 1e-5 relative error (second differences in float64) and fails at h = 128 (its second-difference steps cross neighbouring hyperplanes).',
      'Second table: the default (one output) across d — the rows do not grow with the input dimension.',
    ].join(' '),
    markdown: [
      table(['(d, h, K)', 'method', 'gradient rows (mean)', 'gradient rows (max)', 'bound', 'value rows (mean)', 'units', 'max rel. error (every logit)', 'fewer gradient rows than before', 'ms'], rows),
      '',
      table(['h', 'd', 'gradient rows', 'value rows', '2·h·log₂h', 'units', 'max rel. error'], flat),
    ].join('\n'),
  }
}
