import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { either as E } from 'fp-ts'
import { describeProbe, errors, type AnyProbe, type JsonSchema, type Registry } from '@sonde/oracle'
import { defaultRegistry } from 'sonde'
import { readData } from './data.js'
import { exitCodes } from './exit-codes.js'
import type { ModelFlags } from './model.js'
import { hasOption, rawOptions } from './options.js'
import { loadPlugins } from './plugins.js'
import { executeRun, printError, type RunIo } from './run.js'
import { cliVersion } from './versions.js'

const collect = (v: string, acc: string[]): string[] => [...acc, v]
const int = (flag: string) => (v: string): number => {
  const n = Number(v)
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} takes a whole number; got ${JSON.stringify(v)}`)
  return n
}
const positive = (flag: string) => (v: string): number => {
  const n = Number(v)
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} takes a positive number; got ${JSON.stringify(v)}`)
  return n
}

/** The flags that name the model, shared by `run` and `audit`. */
const modelOptions = (c: Command): Command =>
  c
    .option('--endpoint <url>', 'a model served over HTTP (with --protocol and --model)')
    .addOption(new Option('--protocol <name>', 'the endpoint protocol').choices(['open-inference', 'tf-serving']).default('open-inference'))
    .option('--model <name>', 'the model name on the server')
    .option('--model-version <v>', 'the model version on the server')
    .addOption(new Option('--output <kind>', 'what the model output holds and the oracle reveals').choices(['probabilities', 'logits', 'label']))
    .option('--header <name:value>', 'an HTTP request header, e.g. "Authorization: Bearer …" (repeatable)', collect, [])
    .option('--timeout <ms>', 'longest wait for one HTTP request, in ms (default 30000)', positive('--timeout'))
    .option('--retries <n>', 'further attempts of an HTTP request after a retryable failure (default 3)', int('--retries'))
    .option('--concurrency <n>', 'HTTP requests in flight at once (default 4)', int('--concurrency'))
    .option('--max-batch-rows <n>', 'rows per HTTP request (default 256)', int('--max-batch-rows'))
    .option('--input-shape <dims>', 'shape of one input where the server leaves it open, e.g. 28,28,1')
    .option('--num-classes <k>', 'number of classes where the server does not say', int('--num-classes'))
    .option('--onnx <file>', 'an ONNX model file (needs @sonde/onnx and onnxruntime-node)')
    .option('--tfjs <model.json>', 'a TensorFlow.js model saved to disk (model.json and its weights)')
    .option('--module <file>', 'a JS or TS module that exports an Oracle (`export const oracle`)')
    .option('--export <name>', "the module's export to use (default: oracle, then default)")
    .option('--domain <lo:hi|@file.json>', 'box bounds of the inputs: LO:HI for every feature, or a JSON file { lower, upper }')
    .option('--query-timeout <ms>', 'bound every oracle call: fail with Timeout past this many ms', positive('--query-timeout'))

const runOptions = (c: Command): Command =>
  c
    .option('--seed <n>', 'the seed of every random choice', int('--seed'), 1)
    .option('--budget <rows>', 'rows the run may spend at the model, over all its resumptions (BudgetExhausted: exit 4)', int('--budget'))
    .option('--out <dir>', 'where report.json, report.html, images and queries.journal go', 'sonde-out')
    .option('--fresh', 'start over: delete the journal in --out instead of resuming from it')
    .option('-q, --quiet', 'no progress on stderr')

interface ModelOpts extends ModelFlags {
  readonly queryTimeout?: number
  readonly seed: number
  readonly budget?: number
  readonly out: string
  readonly fresh?: boolean
  readonly quiet?: boolean
  readonly options?: string
  readonly set: string[]
  readonly plugin: string[]
}

const modelFlagsOf = (o: ModelOpts): ModelFlags => {
  const keys = ['endpoint', 'protocol', 'model', 'modelVersion', 'output', 'header', 'timeout', 'retries', 'concurrency', 'maxBatchRows', 'inputShape', 'numClasses', 'onnx', 'tfjs', 'module', 'export', 'domain'] as const
  const out: Record<string, unknown> = {}
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k]
  return out as ModelFlags
}

const typeOf = (s: Record<string, unknown>): string => {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (typeof s.type === 'string') return s.type === 'array' && typeof (s.items as { type?: unknown } | undefined)?.type === 'string' ? `${String((s.items as { type: string }).type)}[]` : s.type
  const branches = (s.anyOf ?? s.oneOf) as Record<string, unknown>[] | undefined
  if (Array.isArray(branches)) return branches.map(typeOf).join(' | ')
  return 'any'
}

const constraintsOf = (s: Record<string, unknown>): string =>
  [
    s.minimum !== undefined ? `≥ ${String(s.minimum)}` : '',
    s.exclusiveMinimum !== undefined ? `> ${String(s.exclusiveMinimum)}` : '',
    s.maximum !== undefined ? `≤ ${String(s.maximum)}` : '',
    s.exclusiveMaximum !== undefined ? `< ${String(s.exclusiveMaximum)}` : '',
    s.minItems !== undefined ? `≥ ${String(s.minItems)} items` : '',
    s.maxItems !== undefined ? `≤ ${String(s.maxItems)} items` : '',
    s.minLength !== undefined ? `length ≥ ${String(s.minLength)}` : '',
  ]
    .filter((x) => x !== '')
    .join(', ')

/**
 * `sonde describe`'s text: one block per option — type, default, constraints, required, description.
 *
 * @example
 * import { describeProbe } from '@sonde/oracle'
 * import { copyingProbe } from '@sonde/copying'
 * import { describeText } from '@sonde/cli'
 *
 * const text = describeText(describeProbe(copyingProbe)) // 'sonde/copying — copy a classifier …\nrequires: labels\n\noptions:\n  budget …'
 */
export const describeText = (schema: JsonSchema): string => {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : [])
  const req = schema['x-sonde-requires']
  const lines = [`${String(schema.title)} — ${String(schema.description)}`, `requires: ${Array.isArray(req) ? req.join(', ') : String(req)}`, '', 'options:']
  for (const [name, s] of Object.entries(props)) {
    const bits = [typeOf(s), required.has(name) && s.default === undefined ? 'required' : s.default !== undefined ? `default ${JSON.stringify(s.default)}` : 'optional', constraintsOf(s)].filter((x) => x !== '')
    lines.push(`  ${name}  (${bits.join('; ')})`)
    if (typeof s.description === 'string') lines.push(`      ${s.description}`)
  }
  lines.push('', 'Set options with --set name=value (typed as above; arrays and objects as JSON) or --options FILE.json.')
  return lines.join('\n')
}

const registryOf = async (plugins: readonly string[], cwd: string): Promise<E.Either<Parameters<typeof printError>[1], Registry>> => {
  const loaded = await loadPlugins(plugins, cwd)
  if (E.isLeft(loaded)) return loaded
  return defaultRegistry(loaded.right)
}

const unknownProbe = (io: RunIo, id: string, registry: Registry): number => {
  printError(io, errors.invalidOptions([{ path: '<probe>', message: `no probe '${id}'; known: ${registry.ids().join(', ')} (sonde list)` }]))
  return exitCodes.usage
}

/** The registry (built-ins and plugins) and, when `id` is given, that probe — or the usage error, printed. */
const lookUp = async (io: RunIo, plugins: readonly string[], cwd: string, id?: string): Promise<{ registry: Registry; probe?: AnyProbe } | number> => {
  const registry = await registryOf(plugins as string[], cwd)
  if (E.isLeft(registry)) {
    printError(io, registry.left)
    return exitCodes.usage
  }
  if (id === undefined) return { registry: registry.right }
  const probe = registry.right.get(id)
  return probe === undefined ? unknownProbe(io, id, registry.right) : { registry: registry.right, probe }
}

/** What `run` and `audit` pass on from the flags they share: seed, budget, out, the model, timeouts, plugins. */
const runFlags = (o: ModelOpts) => ({
  seed: o.seed,
  ...(o.budget !== undefined ? { budget: o.budget } : {}),
  out: o.out,
  model: modelFlagsOf(o),
  ...(o.queryTimeout !== undefined ? { queryTimeoutMs: o.queryTimeout } : {}),
  fresh: o.fresh === true,
  quiet: o.quiet === true,
  plugins: o.plugin,
})

/**
 * The `sonde` program: `list`, `describe`, `run` and `audit`. Resolves to the exit code; never calls
 * `process.exit` itself except on a second Ctrl-C.
 *
 * @example
 * // fragment: reads the process's command line
 * import { main } from '@sonde/cli'
 *
 * process.exitCode = await main(process.argv)
 */
export const main = async (argv: readonly string[], io: RunIo = { out: (t) => void process.stdout.write(`${t}\n`), err: (t) => void process.stderr.write(`${t}\n`), tty: process.stderr.isTTY === true }, cwd = process.cwd()): Promise<number> => {
  let code: number = exitCodes.ok
  const program = new Command('sonde')
    .description('Probe a machine-learning classifier from the outside: copy it, find counterfactuals, extract it from explanations, find its systematic errors.')
    .version(cliVersion())
    .option('--plugin <name>', 'load a package that exports probes, resolved from the current folder (repeatable; also "plugins" in sonde.config.json)', collect, [])
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })

  program
    .command('list')
    .description('every probe in the registry (built-ins and plugins): id, summary, what it requires')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { plugin } = cmd.optsWithGlobals<{ plugin: string[] }>()
      const found = await lookUp(io, plugin, cwd)
      if (typeof found === 'number') {
        code = found
        return
      }
      const rows = found.registry.probes.map((p: AnyProbe) => {
        const s = describeProbe(p)
        const req = s['x-sonde-requires']
        return { id: p.id, summary: p.summary, requires: Array.isArray(req) ? (req as string[]) : String(req) }
      })
      if (o.json === true) io.out(JSON.stringify(rows, null, 2))
      else {
        const w = Math.max(...rows.map((r) => r.id.length))
        for (const r of rows) io.out(`${r.id.padEnd(w)}  ${r.summary}\n${' '.repeat(w)}  requires: ${Array.isArray(r.requires) ? r.requires.join(', ') : r.requires}`)
      }
    })

  program
    .command('describe')
    .description("a probe's options: type, default, constraints and description")
    .argument('<probe>', 'the probe id, e.g. sonde/copying')
    .option('--json', 'print the JSON Schema of the options')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const { plugin } = cmd.optsWithGlobals<{ plugin: string[] }>()
      const found = await lookUp(io, plugin, cwd, id)
      if (typeof found === 'number') {
        code = found
        return
      }
      const schema = describeProbe(found.probe!)
      io.out(o.json === true ? JSON.stringify(schema, null, 2) : describeText(schema))
    })

  runOptions(
    modelOptions(
      program
        .command('run')
        .description('run one probe against a model; writes report.json and report.html to --out, resumes from its journal')
        .argument('<probe>', 'the probe id (sonde list)'),
    ),
  )
    .option('--options <file.json>', "the probe's options as a JSON object")
    .option('--set <key=value>', 'one option, typed by the probe schema (repeatable; later wins; a.b=1 for nested)', collect, [])
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<ModelOpts>()
      const found = await lookUp(io, o.plugin, cwd, id)
      if (typeof found === 'number') {
        code = found
        return
      }
      const probe = found.probe!
      const schema = describeProbe(probe)
      const raw = rawOptions(schema, o.options, o.set)
      if (E.isLeft(raw)) {
        printError(io, raw.left)
        io.err('sonde: nothing was queried.')
        code = exitCodes.usage
        return
      }
      // --budget also sets the probe's own budget option when it has one and it was not given.
      const options = o.budget !== undefined && hasOption(schema, 'budget') && raw.right.budget === undefined ? { ...raw.right, budget: o.budget } : raw.right
      code = await executeRun(
        {
          command: 'run',
          probe,
          options,
          ...runFlags(o),
        },
        io,
      )
    })

  runOptions(modelOptions(program.command('audit').description("everything the model's capabilities allow within one budget: copy fidelity, counterfactuals, what explanations give away, error regions; one report")))
    .option('--data <file>', 'real inputs: JSON { x, y } or rows, or CSV (a "label" column for labels); labelled rows (≥ 50) enable error regions')
    .option('--counterfactuals <n>', 'counterfactuals to find (default 3)', int('--counterfactuals'))
    .option('--set <key=value>', 'another option of sonde/audit (sonde describe sonde/audit)', collect, [])
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<ModelOpts & { data?: string; counterfactuals?: number }>()
      const found = await lookUp(io, o.plugin, cwd, 'sonde/audit')
      if (typeof found === 'number') {
        code = found
        return
      }
      const probe = found.probe!
      const raw = rawOptions(describeProbe(probe), undefined, o.set)
      if (E.isLeft(raw)) {
        printError(io, raw.left)
        code = exitCodes.usage
        return
      }
      let data: unknown
      if (o.data !== undefined) {
        const d = readData(o.data)
        if (E.isLeft(d)) {
          printError(io, d.left)
          code = exitCodes.usage
          return
        }
        data = d.right
      }
      const options: Record<string, unknown> = {
        ...raw.right,
        ...(o.budget !== undefined ? { budget: o.budget } : {}),
        ...(o.counterfactuals !== undefined ? { counterfactuals: o.counterfactuals } : {}),
        ...(data !== undefined ? { data } : {}),
      }
      code = await executeRun(
        {
          command: 'audit',
          probe,
          options,
          optionsShown: data !== undefined ? { ...options, data: { file: o.data } } : options,
          ...runFlags(o),
        },
        io,
      )
    })

  try {
    await program.parseAsync([...argv])
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? exitCodes.ok : exitCodes.usage
    throw e
  }
  return code
}
