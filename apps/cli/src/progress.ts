import { progress as clackProgress, type ProgressResult } from '@clack/prompts'
import type { ProgressEvent } from '@sonde/oracle'

/** What the progress display is told: the probe's progress events, and the rows spent at the model. */
export interface ProgressView {
  readonly event: (e: ProgressEvent) => void
  /** Rows spent at the model so far in this run (resumed rows included) and the budget, if any. */
  readonly rows: (spent: number, budget: number | undefined) => void
  readonly stop: (message: string) => void
  /** Stages seen, with when they were first and last reported (ms since the start) and their last count. */
  readonly stages: () => readonly StageRecord[]
}

/** One stage of a run as progress reported it. */
export interface StageRecord {
  readonly stage: string
  readonly firstMs: number
  readonly lastMs: number
  readonly done: number
  readonly total?: number
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const seconds = (ms: number): string => (ms < 60_000 ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`)

/**
 * Progress on stderr: on a TTY a bar (@clack/prompts) of rows spent against the budget, with the stage, the
 * budget left and an ETA; otherwise (CI logs, a pipe) one plain line per stage and one every `everyMs`.
 * `quiet` shows nothing. The stage record is kept either way (it goes into report.json).
 */
export const makeProgress = (o: { readonly tty: boolean; readonly quiet: boolean; readonly everyMs?: number; readonly write?: (line: string) => void }): ProgressView => {
  const t0 = performance.now()
  const elapsed = (): number => performance.now() - t0
  const write = o.write ?? ((line: string) => void process.stderr.write(`${line}\n`))
  const records = new Map<string, { stage: string; firstMs: number; lastMs: number; done: number; total?: number }>()
  let current: ProgressEvent | undefined
  let spent = 0
  let spentAtStart: number | undefined
  let budget: number | undefined
  let lastLine = -Infinity
  let bar: ProgressResult | undefined
  let barAt = 0

  const eta = (): string => {
    const c = current
    if (c !== undefined && c.total !== undefined && c.total > 0 && c.done > 0) {
      const r = records.get(c.stage)!
      const left = ((r.lastMs - r.firstMs) / c.done) * (c.total - c.done)
      return `ETA ${seconds(left)} (stage)`
    }
    if (budget !== undefined && spentAtStart !== undefined && spent > spentAtStart) {
      const rate = (spent - spentAtStart) / elapsed()
      return `ETA ≤ ${seconds((budget - spent) / rate)} (budget)`
    }
    return 'ETA –'
  }
  const line = (): string => {
    const c = current
    const stage = c === undefined ? 'starting' : `${c.stage} ${fmt(c.done)}${c.total !== undefined ? `/${fmt(c.total)}` : ''}`
    const left = budget === undefined ? '' : ` · budget left ${fmt(budget - spent)}`
    return `${stage} · rows ${fmt(spent)}${left} · ${eta()}`
  }
  const render = (force: boolean): void => {
    if (o.quiet) return
    if (o.tty) {
      if (bar === undefined) {
        bar = clackProgress({ output: process.stderr, max: budget ?? 1000, style: 'heavy', size: 30 })
        bar.start(line())
      }
      const target = budget !== undefined ? spent : c100(current)
      const step = Math.max(0, Math.round(target - barAt))
      barAt += step
      bar.advance(step, line())
      return
    }
    const t = elapsed()
    if (force || t - lastLine >= (o.everyMs ?? 5_000)) {
      lastLine = t
      write(`[sonde ${seconds(t)}] ${line()}`)
    }
  }
  const c100 = (c: ProgressEvent | undefined): number => (c?.total !== undefined && c.total > 0 ? (1000 * c.done) / c.total : barAt)

  return {
    event: (e) => {
      const t = elapsed()
      const r = records.get(e.stage)
      records.set(e.stage, { stage: e.stage, firstMs: r?.firstMs ?? t, lastMs: t, done: e.done, ...(e.total !== undefined ? { total: e.total } : {}) })
      current = e
      // A line for each stage when it first appears; stages that alternate (rounds and their steps) only every few seconds.
      render(r === undefined)
    },
    rows: (s, b) => {
      spentAtStart ??= s
      spent = s
      budget = b
      render(false)
    },
    stop: (message) => {
      if (o.quiet) return
      if (bar !== undefined) bar.stop(message)
      else write(`[sonde ${seconds(elapsed())}] ${message}`)
    },
    stages: () => [...records.values()].map((r) => ({ ...r, firstMs: Math.round(r.firstMs), lastMs: Math.round(r.lastMs) })),
  }
}
