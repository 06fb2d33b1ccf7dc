import type { ProbeError } from '@sonde/oracle'

/**
 * The exit codes of `sonde`, one per class of outcome, so a script can tell them apart.
 *
 * - `ok` 0 — the run finished;
 * - `failed` 1 — the probe failed for another reason (`NotConverged`, `PluginFailed`, …); the report says why;
 * - `usage` 2 — bad flags or options, an unknown probe, a missing capability, a model file that cannot be read:
 *   reported before anything is queried;
 * - `transport` 3 — the model could not be reached, after the retries;
 * - `budget` 4 — `BudgetExhausted`: the run spent its `--budget` (a partial report is written);
 * - `interrupted` 130 — Ctrl-C (SIGINT): stopped within a second, with a partial report.
 *
 * @example
 * import { exitCodes, type ExitCode } from '@sonde/cli'
 *
 * const spent: ExitCode = exitCodes.budget // 4: the run spent its --budget; a partial report was written
 */
export const exitCodes = { ok: 0, failed: 1, usage: 2, transport: 3, budget: 4, interrupted: 130 } as const

/** One of {@link exitCodes}. */
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes]

/** What run status an error ends a run with. */
export type RunStatus = 'complete' | 'budget-exhausted' | 'interrupted' | 'transport-failed' | 'invalid' | 'failed'

/** The status and exit code a run that ended in `error` gets. */
export const outcomeOf = (error: ProbeError): { readonly status: RunStatus; readonly code: ExitCode } => {
  switch (error._tag) {
    case 'BudgetExhausted':
      return { status: 'budget-exhausted', code: exitCodes.budget }
    case 'Aborted':
      return { status: 'interrupted', code: exitCodes.interrupted }
    case 'Transport':
    case 'Timeout':
      return { status: 'transport-failed', code: exitCodes.transport }
    case 'InvalidOptions':
    case 'InvalidInput':
    case 'MissingCapability':
    case 'ShapeMismatch':
      return { status: 'invalid', code: exitCodes.usage }
    default:
      return { status: 'failed', code: exitCodes.failed }
  }
}

/** The code of a status. */
export const codeOf = (status: RunStatus): ExitCode =>
  status === 'complete' ? exitCodes.ok
  : status === 'budget-exhausted' ? exitCodes.budget
  : status === 'interrupted' ? exitCodes.interrupted
  : status === 'transport-failed' ? exitCodes.transport
  : status === 'invalid' ? exitCodes.usage
  : exitCodes.failed
