import { either as E, taskEither as TE, function as F } from 'fp-ts'
import type { Decoder } from './decoder.js'
import { errors, type InvalidInput, type ProbeError } from './errors.js'
import { capabilitiesOf, type Capability, type Oracle } from './oracle.js'

/** A progress report from a running probe. */
export interface ProgressEvent {
  /** What is being done, e.g. `'labelling'`, `'round 3'`. */
  readonly stage: string
  readonly done: number
  readonly total?: number
}

/** What a probe receives besides the oracle and its options. */
export interface ProbeContext {
  /** The seed of every random choice the probe makes; it is echoed in the result. */
  readonly seed: number
  readonly signal?: AbortSignal
  readonly progress: (event: ProgressEvent) => void
  readonly log: (message: string) => void
}

/**
 * A probe: one algorithm as a plain value, usable from code, a registry and the CLI alike.
 *
 * `requires` lists the capabilities the probe needs of the oracle; `options` decodes untrusted
 * options; `run` does the work. Nothing registers itself on import.
 */
export interface Probe<O extends Oracle, Opts, R> {
  /** Package-qualified, e.g. `'sonde/copying'`. */
  readonly id: string
  readonly summary: string
  readonly requires: readonly Capability[]
  readonly options: Decoder<Opts>
  // Method syntax on purpose: it lets a registry hold probes of different oracle and option
  // types as `AnyProbe` (parameters of methods are checked bivariantly).
  run(oracle: O, options: Opts, ctx: ProbeContext): TE.TaskEither<ProbeError, R>
}

/** A probe of any oracle, options and result type, as a registry holds it. */
export type AnyProbe = Probe<Oracle, unknown, unknown>

/**
 * A context with defaults: progress and log go nowhere unless given.
 *
 * @example
 * const ctx = makeContext({ seed: 7, log: console.log })
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
 * Run a probe on untrusted options: check the oracle has every required capability
 * (`MissingCapability` otherwise), decode the options (`InvalidOptions` listing every bad
 * path), then run it.
 *
 * @example
 * const result = await toPromise(runProbe(probe, oracle, { samples: 1000 }, makeContext({ seed: 1 })))
 */
export const runProbe = <O extends Oracle, Opts, R>(
  probe: Probe<O, Opts, R>,
  oracle: O,
  rawOptions: unknown,
  ctx: ProbeContext,
): TE.TaskEither<ProbeError, R> => {
  const have = capabilitiesOf(oracle)
  const missing = probe.requires.filter((c) => !have.includes(c))
  if (missing.length > 0) {
    return TE.left(errors.missingCapability(missing.join(', '), oracle.info.id, `probe '${probe.id}' requires ${probe.requires.join(', ')}`))
  }
  if (!Number.isSafeInteger(ctx.seed)) return TE.left(errors.invalidOptions([{ path: 'ctx.seed', message: `is ${String(ctx.seed)}; expected a safe integer` }]))
  if (ctx.signal?.aborted === true) return TE.left(errors.aborted(`probe '${probe.id}'`))
  return F.pipe(
    TE.fromEither(probe.options(rawOptions, 'options')),
    TE.chain((opts) => probe.run(oracle, opts, ctx)),
  )
}

/** A lookup of probes by id, built by {@link makeRegistry}. */
export interface Registry {
  readonly probes: readonly AnyProbe[]
  readonly get: (id: string) => AnyProbe | undefined
  readonly ids: () => readonly string[]
}

/**
 * Build a registry from a list of probes (built-in or a plugin's). Duplicate ids are refused,
 * naming both positions; nothing global is touched.
 *
 * @example
 * const registry = makeRegistry([copyingProbe, myPluginProbe])
 * if (E.isRight(registry)) registry.right.get('sonde/copying')
 */
export const makeRegistry = (probes: readonly AnyProbe[]): E.Either<InvalidInput, Registry> => {
  const byId = new Map<string, number>()
  for (const [i, p] of probes.entries()) {
    if (typeof p.id !== 'string' || p.id === '') return E.left(errors.invalidInput(`probes[${i}].id must be a non-empty string`, `probes[${i}].id`))
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
