import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { either as E } from 'fp-ts'
import {
  budget as budgetOf,
  decodeWith,
  errors,
  extendOracle,
  hasGradients,
  makeContext,
  reportOf,
  runProbe,
  trackQueries,
  type AnyProbe,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type OracleError,
  type ProbeError,
  type ProbeReport,
  type ReportFigure,
} from '@sonde/oracle'
import { journal } from '@sonde/oracle/journal'
import { infoJson, type RunDocument } from './document.js'
import { codeOf, exitCodes, outcomeOf, type ExitCode, type RunStatus } from './exit-codes.js'
import { imageUri, renderHtml } from './html.js'
import { checkModelFlags, loadModel, modelKindOf, type ModelFlags } from './model.js'
import { makeProgress } from './progress.js'
import { versions } from './versions.js'

/** One `sonde run` (or `sonde audit`): what to run, on what, where to write. */
export interface RunRequest {
  readonly command: 'run' | 'audit'
  readonly probe: AnyProbe
  /** The probe's options as JSON-like values (decoded here, before anything is loaded or queried). */
  readonly options: Record<string, unknown>
  /** What report.json records as the options (e.g. a data file by name rather than its rows). */
  readonly optionsShown?: Record<string, unknown>
  readonly seed: number
  readonly budget?: number
  readonly out: string
  readonly model: ModelFlags
  readonly queryTimeoutMs?: number
  /** Delete the journal first: start over instead of resuming. */
  readonly fresh?: boolean
  readonly quiet?: boolean
  /** Plugin package names, for the versions in report.json. */
  readonly plugins?: readonly string[]
}

/** Where a run's messages go (stdout: results; stderr: progress and problems). */
export interface RunIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly tty: boolean
}

const describeError = (e: ProbeError): NonNullable<RunDocument['error']> =>
  e._tag === 'InvalidOptions' ? { tag: e._tag, message: e.message, issues: e.issues.map((i) => ({ path: i.path, message: i.message })) } : { tag: e._tag, message: e.message }

/** Print an error the way a person reads it: its tag, message and every bad path. */
export const printError = (io: RunIo, e: ProbeError): void => {
  io.err(`sonde: ${e._tag}: ${e.message}`)
  if (e._tag === 'InvalidOptions') for (const i of e.issues) io.err(`  ${i.path}: ${i.message}`)
}

const slug = (s: string): string => s.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()

/** Every image figure of a report (and its sections), with a file name for DIR/images. */
const imagesOf = (r: ProbeReport): { name: string; figure: Extract<ReportFigure, { kind: 'image' } | { kind: 'png' }> }[] => {
  const out: { name: string; figure: Extract<ReportFigure, { kind: 'image' } | { kind: 'png' }> }[] = []
  const walk = (p: ProbeReport): void => {
    p.figures.forEach((f, i) => {
      if (f.kind === 'image' || f.kind === 'png') out.push({ name: `${slug(p.probe)}-${i}-${slug(f.title).slice(0, 40)}.png`, figure: f })
    })
    for (const s of p.sections ?? []) walk(s)
  }
  walk(r)
  return out
}

const rowsOf = (x: Matrix): number => (x !== null && typeof x === 'object' && Number.isSafeInteger(x.rows) ? x.rows : 0)

/**
 * Run a probe from the command line: decode its options and check the model flags (exit 2 before anything is
 * loaded or queried), load the model, then query it through
 * `model → budget(what is left) → journal(DIR/queries.journal) → the probe`, so that every answered row is on
 * disk before the probe sees it and a rerun with the same `--out` is answered from the journal for every row it
 * holds (the budget counts those rows as spent). Ctrl-C aborts the run (exit 130) within a second; the report
 * files are written whatever the outcome.
 *
 * @example
 * // fragment: needs a model and writes the run's folder
 * import { executeRun, type RunRequest } from '@sonde/cli'
 *
 * declare const request: RunRequest
 * const code = await executeRun(request, { out: (t) => console.log(t), err: (t) => console.error(t), tty: false }) // an ExitCode
 */
export const executeRun = async (req: RunRequest, io: RunIo): Promise<ExitCode> => {
  const startedAt = new Date()
  const t0 = performance.now()
  const { probe } = req

  // Validate before paying: options, model flags, budget.
  const decoded = decodeWith(probe.options, req.options, 'options')
  if (E.isLeft(decoded)) {
    printError(io, decoded.left)
    io.err('sonde: nothing was queried.')
    return exitCodes.usage
  }
  const flags = checkModelFlags(req.model)
  if (E.isLeft(flags)) {
    printError(io, flags.left)
    return exitCodes.usage
  }
  if (req.budget !== undefined && !(Number.isSafeInteger(req.budget) && req.budget >= 0)) {
    printError(io, errors.invalidOptions([{ path: '--budget', message: `is ${req.budget}; expected a whole number of rows ≥ 0` }]))
    return exitCodes.usage
  }

  mkdirSync(req.out, { recursive: true })
  const journalPath = join(req.out, 'queries.journal')
  if (req.fresh === true) {
    rmSync(journalPath, { force: true })
    rmSync(`${journalPath}.lock`, { force: true })
  }

  const controller = new AbortController()
  const progress = makeProgress({ tty: io.tty, quiet: req.quiet === true })
  let finished = false
  let finish: ((status: RunStatus, error: ProbeError | undefined, report: ProbeReport | undefined) => ExitCode) | undefined
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(exitCodes.interrupted) // a second Ctrl-C: now
    controller.abort()
    io.err('sonde: interrupted; stopping (the answers so far are kept in the journal) …')
    // A probe sees the abort at its next oracle call or loop check; if it has not ended by then, end here.
    setTimeout(() => {
      if (finished) return
      if (finish !== undefined) finish('interrupted', errors.aborted(`probe '${probe.id}' (SIGINT)`), undefined)
      process.exit(exitCodes.interrupted)
    }, 600).unref()
  }
  process.on('SIGINT', onSigint)
  try {
    const loaded = await loadModel(req.model, controller.signal)
    if (E.isLeft(loaded)) {
      if (controller.signal.aborted) return exitCodes.interrupted
      printError(io, loaded.left)
      return outcomeOf(loaded.left).code === exitCodes.transport ? exitCodes.transport : exitCodes.usage
    }
    const base = loaded.right
    // Probes that train with tfjs (mlp copies, Defuse's VAE) run on the fastest backend here (wasm), not tfjs's default.
    const { useFastestBackend } = await import('@sonde/models/tfjs')
    await useFastestBackend()

    // The stack, from the model up. The budget is created once the journal is open: rows it already holds were
    // paid for by an earlier run of this command and count against --budget.
    let modelRows = 0
    const counted = extendOracle(base, {
      predict: (x) => async () => {
        const r = await base.predict(x)()
        if (E.isRight(r)) modelRows += rowsOf(x)
        return r
      },
      ...(hasGradients(base)
        ? {
            gradient: (x: Matrix, cls: number | Int32Array) => async () => {
              const r = await (base as GradientOracle).gradient(x, cls)()
              if (E.isRight(r)) modelRows += rowsOf(x)
              return r
            },
          }
        : {}),
    })
    let capped: Oracle = counted
    const lazy = extendOracle(counted, {
      predict: (x) => capped.predict(x),
      ...(hasGradients(base) ? { gradient: (x: Matrix, cls: number | Int32Array) => (capped as GradientOracle).gradient(x, cls) } : {}),
    })
    const durable = journal({ path: journalPath })(lazy)
    const fromJournalAtStart = durable.journalStats().loadedRows
    const limit = req.budget === undefined ? undefined : Math.max(0, req.budget - fromJournalAtStart)
    if (limit !== undefined) capped = budgetOf(limit)(counted)

    // What reaches the probe: answers from the journal or the model; errors noted (the run's outcome reads them).
    const seen: { budget?: OracleError; transport?: OracleError; invalid?: OracleError } = {}
    const spent = (): number => fromJournalAtStart + modelRows
    const note = <A>(r: E.Either<OracleError, A>): E.Either<OracleError, A> => {
      if (E.isLeft(r)) {
        const t = r.left._tag
        if (t === 'BudgetExhausted') seen.budget ??= r.left
        else if (t === 'Transport' || t === 'Timeout') seen.transport ??= r.left
        else if (t === 'InvalidInput') seen.invalid ??= r.left
      }
      progress.rows(spent(), req.budget)
      return r
    }
    const observed = extendOracle(durable, {
      predict: (x) => async () => note(await durable.predict(x)()),
      ...(hasGradients(durable) ? { gradient: (x: Matrix, cls: number | Int32Array) => async () => note(await (durable as GradientOracle).gradient(x, cls)()) } : {}),
    })
    // The probe counts what it asks, not where the answer came from: a resumed run reports the same queries.
    Object.defineProperty(observed, 'cacheStats', { value: undefined })
    const tracked = trackQueries(observed)

    finish = (status, error, report) => {
      if (finished) return codeOf(status)
      finished = true
      const code = codeOf(status)
      const rows = spent()
      const stages = progress.stages()
      const last = stages.at(-1)
      const partial: ProbeReport = {
        probe: probe.id,
        headline: `The run stopped before it finished (${error?._tag ?? status}): ${error?.message ?? status}.`,
        findings: [
          `${rows.toLocaleString('en-US')} rows were answered${req.budget !== undefined ? ` of a budget of ${req.budget.toLocaleString('en-US')}` : ''}; every answer is kept in ${journalPath}: rerun the same command to resume without paying for them again.`,
          ...(last !== undefined ? [`The last stage reached: ${last.stage} (${last.done}${last.total !== undefined ? ` of ${last.total}` : ''}).`] : ['No stage had reported progress yet.']),
        ],
        seed: req.seed,
        queries: tracked.usage(),
        metrics: [
          { name: 'rows answered', value: rows, unit: 'rows' },
          { name: 'rows from the model in this process', value: modelRows, unit: 'rows' },
          ...(req.budget !== undefined ? [{ name: 'budget left', value: Math.max(0, req.budget - rows), unit: 'rows' }] : []),
        ],
        tables: [{ title: 'stages reached', columns: ['stage', 'done', 'total', 'first seen (s)', 'last seen (s)'], rows: stages.map((s) => [s.stage, s.done, s.total ?? null, s.firstMs / 1000, s.lastMs / 1000]) }],
        figures: [],
      }
      const doc: RunDocument = {
        sondeReport: 1,
        command: req.command,
        probe: probe.id,
        status,
        exitCode: code,
        ...(error !== undefined ? { error: describeError(error) } : {}),
        options: req.optionsShown ?? req.options,
        seed: req.seed,
        budget: req.budget ?? null,
        model: { kind: (modelKindOf(req.model) as E.Right<string>).right, source: String(req.model.endpoint ?? req.model.onnx ?? req.model.tfjs ?? req.model.module), info: infoJson(base.info) },
        queries: tracked.usage(),
        answers: { fromModel: modelRows, fromJournal: fromJournalAtStart, journal: journalPath },
        timings: { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), durationMs: Math.round(performance.now() - t0), stages },
        report: report ?? partial,
        versions: versions(req.plugins ?? []),
      }
      writeFileSync(join(req.out, 'report.json'), `${JSON.stringify(doc, null, 2)}\n`)
      writeFileSync(join(req.out, 'report.html'), renderHtml(doc))
      const images = imagesOf(doc.report)
      if (images.length > 0) {
        mkdirSync(join(req.out, 'images'), { recursive: true })
        for (const { name, figure } of images) writeFileSync(join(req.out, 'images', name), Buffer.from(imageUri(figure).split(',')[1]!, 'base64'))
      }
      progress.stop(status === 'complete' ? `done: ${rows.toLocaleString('en-US')} rows` : `stopped: ${status}`)
      io.out(doc.report.headline)
      for (const f of doc.report.findings.slice(0, 5)) io.out(`  - ${f}`)
      io.out(`report: ${join(req.out, 'report.html')} (data: ${join(req.out, 'report.json')})`)
      if (status !== 'complete') io.err(`sonde: ${status}${error !== undefined ? ` (${error._tag}: ${error.message})` : ''}; exit ${code}`)
      durable.closeJournal()
      return code
    }

    progress.rows(fromJournalAtStart, req.budget)
    if (fromJournalAtStart > 0) io.err(`sonde: resuming: ${fromJournalAtStart.toLocaleString('en-US')} answered rows in ${journalPath} will not be asked again`)
    const ctx = makeContext({
      seed: req.seed,
      signal: controller.signal,
      progress: (e) => progress.event(e),
      log: (m) => {
        if (req.quiet !== true) io.err(`  ${m}`)
      },
    })
    const result = await runProbe(probe, tracked.oracle, req.options, ctx, req.queryTimeoutMs !== undefined ? { queryTimeoutMs: req.queryTimeoutMs } : {})()
    if (finished) return exitCodes.interrupted
    const interrupted = controller.signal.aborted
    if (E.isLeft(result)) {
      const e = result.left
      const status: RunStatus = interrupted ? 'interrupted' : seen.transport !== undefined ? 'transport-failed' : seen.budget !== undefined ? 'budget-exhausted' : outcomeOf(e).status
      const error = interrupted ? (e._tag === 'Aborted' ? e : errors.aborted(`probe '${probe.id}' (SIGINT)`)) : status === 'transport-failed' ? (seen.transport as ProbeError) : status === 'budget-exhausted' ? (seen.budget as ProbeError) : e
      return finish(status, error, undefined)
    }
    const report = reportOf(probe, result.right)
    if (E.isLeft(report)) return finish('failed', report.left, undefined)
    // A probe may keep what it reached and return it (a copy trained on the labels bought): the run still says why it ended.
    const status: RunStatus = interrupted ? 'interrupted' : seen.transport !== undefined ? 'transport-failed' : seen.budget !== undefined ? 'budget-exhausted' : 'complete'
    const error = status === 'interrupted' ? errors.aborted(`probe '${probe.id}' (SIGINT)`) : status === 'transport-failed' ? (seen.transport as ProbeError) : status === 'budget-exhausted' ? (seen.budget as ProbeError) : undefined
    return finish(status, error, report.right)
  } finally {
    finished = true
    process.off('SIGINT', onSigint)
  }
}

