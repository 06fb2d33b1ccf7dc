/** One timed variant of a suite. `run` does one repetition and returns the rows it processed. */
export interface Variant {
  readonly name: string
  readonly run: () => Promise<number> | number
}

/** Per variant: the median and 95th percentile time per row, in microseconds. */
export interface Timing {
  readonly name: string
  readonly medianUsPerRow: number
  readonly p95UsPerRow: number
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

/**
 * Time variants side by side: after a warm-up, repetitions are interleaved (A B C A B C …) so
 * drift of a shared machine hits every variant alike; ratios between variants are what to read.
 */
export const timeSideBySide = async (variants: readonly Variant[], repetitions: number, warmup = 3): Promise<Timing[]> => {
  for (let w = 0; w < warmup; w++) for (const v of variants) await v.run()
  const samples = variants.map(() => [] as number[])
  for (let r = 0; r < repetitions; r++) {
    for (const [i, v] of variants.entries()) {
      const t0 = performance.now()
      const rows = await v.run()
      samples[i]!.push(((performance.now() - t0) * 1000) / rows)
    }
  }
  return variants.map((v, i) => {
    const s = [...samples[i]!].sort((a, b) => a - b)
    return { name: v.name, medianUsPerRow: quantile(s, 0.5), p95UsPerRow: quantile(s, 0.95) }
  })
}

/** A markdown table. */
export const table = (header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)).join(' | ')} |`),
  ].join('\n')

export const formatNumber = (v: number): string =>
  v === 0 ? '0' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3)

/** A suite's contribution to RESULTS.md. */
export interface SuiteResult {
  readonly title: string
  readonly description: string
  readonly markdown: string
}
