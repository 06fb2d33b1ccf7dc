import type { OracleInfo, ProbeReport, QueryUsage } from '@sonde/oracle'
import type { ExitCode, RunStatus } from './exit-codes.js'
import type { StageRecord } from './progress.js'

/** What `report.json` holds: one run of one probe, with everything needed to read, repeat or resume it. */
export interface RunDocument {
  /** The format of this file. */
  readonly sondeReport: 1
  readonly command: 'run' | 'audit'
  readonly probe: string
  readonly status: RunStatus
  readonly exitCode: ExitCode
  /** Why the run ended early, when it did. */
  readonly error?: { readonly tag: string; readonly message: string; readonly issues?: readonly { readonly path: string; readonly message: string }[] }
  /** The probe's options as given (from --options and --set), before defaults. */
  readonly options: Record<string, unknown>
  readonly seed: number
  /** `--budget`: rows the run may spend at the model, over all its resumptions; `null` when none. */
  readonly budget: number | null
  readonly model: { readonly kind: string; readonly source: string; readonly info: Record<string, unknown> }
  /** What the probe asked of the oracle (rows answered, calls); the same whether or not the run was resumed. */
  readonly queries: QueryUsage
  /** Where the answers came from: the model in this process, or the journal of an earlier, interrupted one. */
  readonly answers: { readonly fromModel: number; readonly fromJournal: number; readonly journal: string }
  readonly timings: { readonly startedAt: string; readonly finishedAt: string; readonly durationMs: number; readonly stages: readonly StageRecord[] }
  /** The probe's report; for a run that ended early, one the CLI writes saying what was reached. */
  readonly report: ProbeReport
  readonly versions: Record<string, string>
}

/** The info of an oracle as JSON (typed arrays as arrays). */
export const infoJson = (info: OracleInfo): Record<string, unknown> =>
  JSON.parse(JSON.stringify(info, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v))) as Record<string, unknown>
