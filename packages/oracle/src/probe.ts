import { either as E, taskEither as TE } from 'fp-ts'
import { abortable, type ProgressEvent } from './control.js'
import { errors, errorFromThrown, type InvalidInput, type ProbeError } from './errors.js'
import { capabilitiesOf, type Capability, type Oracle } from './oracle.js'
import { validateInfo } from './validate.js'
import type { ProbeReport } from './report.js'
import { decodeWith, jsonSchemaOf, type JsonSchema, type Schema } from './schema.js'
import { timeout } from './middleware/timeout.js'
import type { QueryUsage } from './usage.js'

/** What a probe receives besides the oracle and its options. */
export interface ProbeContext {
  /** The seed of every random choice the probe makes; it is echoed in the result. */
  readonly seed: number
  /** Stops the run: `Aborted` at the next oracle call or loop check; no query is sent after it fires. */
  readonly signal?: AbortSignal
  readonly progress: (event: ProgressEvent) => void
  readonly log: (message: string) => void
}

/** What every probe's result carries: the queries it spent and the seed it used. */
export interface ProbeResult {
  readonly queries: QueryUsage
  readonly seed: number
}

/** The capabilities a probe needs: a fixed list, or one that depends on the decoded options. */
export type Requirements<Opts> = readonly Capability[] | { bivarianceHack(options: Opts): readonly Capability[] }['bivarianceHack']

/**
 * A probe: one algorithm as a plain value, usable from code, a registry and the CLI alike.
 *
 * `options` is a described schema (zod): it decodes untrusted JSON-like options, listing every bad path,
 * and {@link describeProbe} turns it into JSON Schema. `requires` lists the capabilities the probe needs of
 * the oracle (per options, where they differ by mode). `run` does the work and returns a result with its
 * `queries` and `seed`; `report` turns that result into a JSON-serialisable {@link ProbeReport}.
 * Nothing registers itself on import.
 */
export interface Probe<O extends Oracle, Opts, R extends ProbeResult> {
  /** Package-qualified, e.g. `'sonde/copying'`. */
  readonly id: string
  readonly summary: string
  readonly requires: Requirements<Opts>
  readonly options: Schema<Opts>
  // Method syntax on purpose: it lets a registry hold probes of different oracle and option
  // types as `AnyProbe` (parameters of methods are checked bivariantly).
  run(oracle: O, options: Opts, ctx: ProbeContext): TE.TaskEither<ProbeError, R>
  report(result: R): ProbeReport
}

/** A probe of any oracle, options and result type, as a registry holds it. */
export type AnyProbe = Probe<Oracle, unknown, ProbeResult>

/**
 * A context with defaults: progress and log go nowhere unless given.
 *
 * @example
 * import { makeContext } from '@sonde/oracle'
 *
 * const lines: string[] = []
 * const ctx = makeContext({ seed: 7, log: (message) => lines.push(message) }) // progress goes nowhere
 */
export const makeContext = (c: {
  readonly seed: number
  readonly signal?: AbortSignal
  readonly progress?: (event: ProgressEvent) => void
  readonly log?: (message: string) => void
}): ProbeContext => ({
  seed: c.seed,
  ...(c.signal !== undefined ? { signal: c.signal } : {}),
  progress: c.progress ?? (() => undefined),
  log: c.log ?? (() => undefined),
})

/**
 * The capabilities `probe` needs with these (decoded) options.
 *
 * @example
 * import { requirementsOf, type Requirements } from '@sonde/oracle'
 *
 * const requires: Requirements<{ readonly mode: 'labels' | 'gradients' }> = (o) => (o.mode === 'gradients' ? ['labels', 'gradients'] : ['labels'])
 * const needed = requirementsOf({ requires }, { mode: 'gradients' }) // ['labels', 'gradients']
 */
export const requirementsOf = <Opts>(probe: { readonly requires: Requirements<Opts> }, options: Opts): readonly Capability[] =>
  typeof probe.requires === 'function' ? probe.requires(options) : probe.requires

/** Options of {@link runProbe} beyond the context. */
export interface RunProbeOptions {
  /** Bound every oracle call: one that has not answered in this many milliseconds fails with `Timeout`. */
  readonly queryTimeoutMs?: number
}

/**
 * Run a probe on untrusted options: check the context, decode the options (`InvalidOptions` listing every
 * bad path), check the oracle has every capability the probe needs with them (`MissingCapability`), then
 * run it — all before the first query. The oracle it runs on refuses every query once `ctx.signal` fires.
 * A probe that throws or rejects (a plugin's bug) ends in `PluginFailed`, never a throw.
 *
 * @example
 * // fragment: needs an oracle
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { copyingProbe } from '@sonde/copying'
 *
 * declare const oracle: Oracle
 * const result = await toPromise(runProbe(copyingProbe, oracle, { budget: 1_000, copy: 'tree' }, makeContext({ seed: 1 }), { queryTimeoutMs: 5_000 }))
 * const { queries, seed } = result
 */
export const runProbe = <O extends Oracle, Opts, R extends ProbeResult>(
  probe: Probe<O, Opts, R>,
  oracle: O,
  rawOptions: unknown,
  ctx: ProbeContext,
  runOptions: RunProbeOptions = {},
): TE.TaskEither<ProbeError, R> =>
  async () => {
    if (oracle === null || typeof oracle !== 'object' || typeof oracle.predict !== 'function') {
      return E.left(errors.invalidInput(`the oracle is ${oracle === null ? 'null' : typeof oracle}; expected an Oracle { info, predict }`, 'oracle'))
    }
    const info = validateInfo(oracle.info)
    if (E.isLeft(info)) return info
    if (ctx === null || typeof ctx !== 'object') return E.left(errors.invalidOptions([{ path: 'ctx', message: 'expected a ProbeContext (see makeContext)' }]))
    if (!Number.isSafeInteger(ctx.seed)) return E.left(errors.invalidOptions([{ path: 'ctx.seed', message: `is ${String(ctx.seed)}; expected a safe integer` }]))
    const t = runOptions.queryTimeoutMs
    if (t !== undefined && !(t > 0 && Number.isFinite(t))) return E.left(errors.invalidOptions([{ path: 'queryTimeoutMs', message: `is ${String(t)}; expected a positive number of milliseconds` }]))
    const decoded = decodeWith(probe.options, rawOptions, 'options')
    if (E.isLeft(decoded)) return decoded
    let needed: readonly Capability[]
    try {
      needed = requirementsOf(probe, decoded.right)
    } catch (cause) {
      return E.left(errors.pluginFailed(`probe '${probe.id}'`, `its requires() threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
    }
    const have = capabilitiesOf(oracle)
    const missing = needed.filter((c) => !have.includes(c))
    if (missing.length > 0) {
      return E.left(errors.missingCapability(missing.join(', '), oracle.info.id, `probe '${probe.id}' requires ${needed.join(', ')} with these options`))
    }
    if (ctx.signal?.aborted === true) return E.left(errors.aborted(`probe '${probe.id}'`))
    const bounded = t === undefined ? oracle : timeout(t)(oracle)
    const guarded = abortable(ctx.signal)(bounded)
    let out: unknown
    try {
      out = await probe.run(guarded, decoded.right, ctx)()
    } catch (cause) {
      return E.left(errorFromThrown(cause, (message) => errors.pluginFailed(`probe '${probe.id}'`, `its run threw: ${message}`, cause)))
    }
    return checkOutcome(probe.id, out) as E.Either<ProbeError, R>
  }

/** What a probe's task resolved to must be an Either whose Right carries `queries` and `seed`. */
const checkOutcome = (id: string, out: unknown): E.Either<ProbeError, ProbeResult> => {
  const o = out as { _tag?: unknown; left?: { _tag?: unknown }; right?: Partial<ProbeResult> } | null
  if (o === null || typeof o !== 'object' || (o._tag !== 'Left' && o._tag !== 'Right')) {
    return E.left(errors.pluginFailed(`probe '${id}'`, 'its run resolved to something that is not an Either (a TaskEither must resolve to Left or Right)'))
  }
  if (o._tag === 'Left') {
    return typeof o.left?._tag === 'string' ? (o as E.Left<ProbeError>) : E.left(errors.pluginFailed(`probe '${id}'`, 'its run failed with a value that is not a Sonde error (no _tag)'))
  }
  const r = o.right
  const q = r?.queries
  if (r === null || typeof r !== 'object' || q === null || typeof q !== 'object' || !['predictRows', 'gradientRows', 'calls', 'cacheHits'].every((k) => Number.isFinite((q as unknown as Record<string, unknown>)[k])) || !Number.isSafeInteger(r.seed)) {
    return E.left(errors.pluginFailed(`probe '${id}'`, 'its result does not carry queries: { predictRows, gradientRows, calls, cacheHits } and seed (a safe integer)'))
  }
  return o as E.Right<ProbeResult>
  }

/**
 * A probe's report, or `PluginFailed` if its `report` throws.
 *
 * @example
 * // fragment: needs a copying result
 * import { reportOf } from '@sonde/oracle'
 * import { copyingProbe, type CopyResult } from '@sonde/copying'
 *
 * declare const result: CopyResult
 * const report = reportOf(copyingProbe, result) // Either<ProbeError, ProbeReport>
 */
export const reportOf = <R extends ProbeResult>(probe: Pick<Probe<Oracle, unknown, R>, 'id' | 'report'>, result: R): E.Either<ProbeError, ProbeReport> => {
  try {
    return E.right(probe.report(result))
  } catch (cause) {
    return E.left(errors.pluginFailed(`probe '${probe.id}'`, `its report threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
  }
}

/**
 * A probe's options as JSON Schema (draft 2020-12): every field with its type, default, constraints and
 * description; `title` is the probe's id, `description` its summary, and `x-sonde-requires` the capabilities
 * it needs (a list, or `'depends on options'`).
 *
 * @example
 * import { describeProbe } from '@sonde/oracle'
 * import { copyingProbe } from '@sonde/copying'
 *
 * const schema = describeProbe(copyingProbe) // { title: 'sonde/copying', properties: { budget: { type: 'integer', minimum: 1, … }, … }, 'x-sonde-requires': ['labels'] }
 */
export const describeProbe = (probe: Pick<AnyProbe, 'id' | 'summary' | 'options' | 'requires'>): JsonSchema => ({
  ...jsonSchemaOf(probe.options),
  title: probe.id,
  description: probe.summary,
  'x-sonde-requires': typeof probe.requires === 'function' ? 'depends on options' : [...probe.requires],
})

/** A lookup of probes by id, built by {@link makeRegistry}. */
export interface Registry {
  readonly probes: readonly AnyProbe[]
  readonly get: (id: string) => AnyProbe | undefined
  readonly ids: () => readonly string[]
}

const isProbeShaped = (p: unknown): string | undefined => {
  if (p === null || typeof p !== 'object') return 'is not an object'
  const q = p as Partial<Record<keyof AnyProbe, unknown>>
  if (typeof q.id !== 'string' || q.id === '') return 'has no id (a non-empty string)'
  if (typeof q.summary !== 'string') return 'has no summary (a string)'
  if (typeof q.run !== 'function') return 'has no run function'
  if (typeof q.report !== 'function') return 'has no report function'
  if (!Array.isArray(q.requires) && typeof q.requires !== 'function') return 'has no requires (a list of capabilities or a function of the options)'
  if (q.options === null || typeof q.options !== 'object' || typeof (q.options as { safeParse?: unknown }).safeParse !== 'function') return 'has no options schema (a zod schema)'
  return undefined
}

/**
 * Build a registry from a list of probes (built-in or a plugin's). Malformed probes and duplicate ids are
 * refused, naming the position; nothing global is touched.
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { makeRegistry } from '@sonde/oracle'
 * import { copyingProbe } from '@sonde/copying'
 * import { inverseClassificationProbe } from '@sonde/inverse-classification'
 *
 * const registry = makeRegistry([copyingProbe, inverseClassificationProbe])
 * const copying = E.isRight(registry) ? registry.right.get('sonde/copying') : undefined
 */
export const makeRegistry = (probes: readonly AnyProbe[]): E.Either<InvalidInput, Registry> => {
  if (!Array.isArray(probes)) return E.left(errors.invalidInput('probes must be an array of probes', 'probes'))
  const byId = new Map<string, number>()
  for (const [i, p] of probes.entries()) {
    const bad = isProbeShaped(p)
    if (bad !== undefined) return E.left(errors.invalidInput(`probes[${i}] ${bad}`, `probes[${i}]`))
    const j = byId.get(p.id)
    if (j !== undefined) {
      return E.left(errors.invalidInput(`probes[${i}] and probes[${j}] share the id '${p.id}'; probe ids must be unique`, `probes[${i}].id`))
    }
    byId.set(p.id, i)
  }
  const list = [...probes]
  return E.right({
    probes: list,
    get: (id) => {
      const i = byId.get(id)
      return i === undefined ? undefined : list[i]
    },
    ids: () => list.map((p) => p.id),
  })
}
