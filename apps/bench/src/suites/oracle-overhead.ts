import { function as F } from 'fp-ts'
import { batch, budget, cache, createRng, fromFunction, meter, toPromise, type Matrix } from '@sonde/oracle'
import { table, timeSideBySide, type SuiteResult } from '../measure.js'

/**
 * The cost of the oracle layer: a plain linear-softmax function (784 → 10, float64 loops) called
 * directly, through `fromFunction` (validation + checks), and through the full middleware stack
 * (budget + cache + batch + meter), with all-new rows (cache misses) and repeated rows (hits).
 */
export const oracleOverhead = async (): Promise<SuiteResult> => {
  const d = 784
  const k = 10
  const rows = 1000
  const rng = createRng(1)
  const w = Float64Array.from({ length: k * d }, () => rng.normal() / 28)
  const logits = (x: Matrix): Matrix => {
    const out = new Float64Array(x.rows * k)
    for (let i = 0; i < x.rows; i++)
      for (let c = 0; c < k; c++) {
        let s = 0
        for (let j = 0; j < d; j++) s += w[c * d + j]! * x.data[i * d + j]!
        out[i * k + c] = s
      }
    return { rows: x.rows, cols: k, data: out }
  }
  const info = { id: 'bench:linear', inputDim: d, numClasses: k, output: 'logits' as const, domain: { lower: 0, upper: 1 } }
  const fresh = (): Matrix => ({ rows, cols: d, data: Float64Array.from({ length: rows * d }, () => rng.next()) })
  const repeated = fresh()
  const bare = fromFunction(info, logits)
  const stacked = F.pipe(fromFunction(info, logits), budget(Number.MAX_SAFE_INTEGER), cache({ maxEntries: 50_000 }), batch(256), meter)
  const hits = F.pipe(fromFunction(info, logits), budget(Number.MAX_SAFE_INTEGER), cache(), batch(256), meter)
  await toPromise(hits.predict(repeated))
  // Every variant gets freshly drawn rows, so input generation is not what is timed for one and not another.
  const inputs = Array.from({ length: 4 }, fresh)
  let turn = 0
  const next = () => inputs[turn++ % inputs.length]!
  const timings = await timeSideBySide(
    [
      { name: 'bare function', run: () => (logits(next()), rows) },
      { name: 'fromFunction', run: async () => (await toPromise(bare.predict(next())), rows) },
      { name: 'budget+cache+batch+meter, misses', run: async () => (stacked.clearCache(), await toPromise(stacked.predict(next())), rows) },
      { name: 'budget+cache+batch+meter, hits', run: async () => (await toPromise(hits.predict(repeated)), rows) },
    ],
    15,
  )
  const base = timings[0]!.medianUsPerRow
  return {
    title: 'Oracle layer overhead',
    description: `A ${d}→${k} linear model as a plain float64 function; ${rows}-row queries; median of 15 interleaved repetitions.`,
    markdown: table(
      ['variant', 'median µs/row', 'p95 µs/row', 'ratio to bare'],
      timings.map((t) => [t.name, t.medianUsPerRow, t.p95UsPerRow, `${(t.medianUsPerRow / base).toFixed(2)}×`]),
    ),
  }
}
