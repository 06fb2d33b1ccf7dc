import { existsSync, readFileSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { either as E } from 'fp-ts'
import { errors, extendOracle, validateInfo, type Domain, type Oracle, type OracleError, type OutputKind, type ProbeError } from '@sonde/oracle'

/** The flags that say which model to probe, and how to reach it. */
export interface ModelFlags {
  readonly endpoint?: string
  readonly protocol?: string
  readonly model?: string
  readonly modelVersion?: string
  readonly output?: string
  readonly header?: readonly string[]
  readonly timeout?: number
  readonly retries?: number
  readonly concurrency?: number
  readonly maxBatchRows?: number
  readonly inputShape?: string
  readonly numClasses?: number
  readonly onnx?: string
  readonly tfjs?: string
  readonly module?: string
  readonly export?: string
  readonly domain?: string
}

const outputs: readonly OutputKind[] = ['probabilities', 'logits', 'label']
const usage = (path: string, message: string): ProbeError => errors.invalidOptions([{ path, message }])

const isOracle = (u: unknown): u is Oracle =>
  u !== null && typeof u === 'object' && typeof (u as Oracle).predict === 'function' && (u as Oracle).info !== null && typeof (u as Oracle).info === 'object'

/**
 * `--domain`: `LO:HI` (one box for every feature, e.g. `0:1`), or `@FILE.json` holding `{ "lower": …, "upper": … }`
 * (numbers or one per feature).
 */
export const parseDomain = (text: string): E.Either<ProbeError, Domain> => {
  if (text.startsWith('@')) {
    try {
      const j = JSON.parse(readFileSync(text.slice(1), 'utf8')) as { lower?: unknown; upper?: unknown }
      const side = (v: unknown): number | Float64Array | undefined =>
        typeof v === 'number' ? v : Array.isArray(v) && v.every((x) => typeof x === 'number') ? Float64Array.from(v as number[]) : undefined
      const lower = side(j.lower)
      const upper = side(j.upper)
      if (lower === undefined || upper === undefined) return E.left(usage('--domain', `${text.slice(1)} must hold { "lower": number | number[], "upper": number | number[] }`))
      return E.right({ lower, upper })
    } catch (cause) {
      return E.left(usage('--domain', `cannot read ${text.slice(1)}: ${cause instanceof Error ? cause.message : String(cause)}`))
    }
  }
  const m = /^\s*([^:]+):([^:]+)\s*$/.exec(text)
  const lower = Number(m?.[1])
  const upper = Number(m?.[2])
  if (m === null || Number.isNaN(lower) || Number.isNaN(upper) || !(lower < upper)) return E.left(usage('--domain', `is ${JSON.stringify(text)}; expected LO:HI with LO < HI (e.g. 0:1), or @FILE.json`))
  return E.right({ lower, upper })
}

const headersOf = (list: readonly string[]): E.Either<ProbeError, Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const h of list) {
    const i = h.indexOf(':')
    if (i <= 0) return E.left(usage('--header', `${JSON.stringify(h)} is not "Name: value"`))
    out[h.slice(0, i).trim()] = h.slice(i + 1).trim()
  }
  return E.right(out)
}

/** Which of the model flags were given (exactly one must be). */
export const modelKindOf = (f: ModelFlags): E.Either<ProbeError, 'endpoint' | 'onnx' | 'tfjs' | 'module'> => {
  const given = (['endpoint', 'onnx', 'tfjs', 'module'] as const).filter((k) => f[k] !== undefined)
  if (given.length !== 1) {
    return E.left(usage('<model>', given.length === 0 ? 'no model given: use one of --endpoint URL, --onnx FILE, --tfjs model.json or --module FILE' : `give one model, not ${given.map((k) => `--${k}`).join(' and ')}`))
  }
  return E.right(given[0]!)
}

/** Check the model flags without touching the model (before anything is loaded or queried). */
export const checkModelFlags = (f: ModelFlags): E.Either<ProbeError, void> => {
  const kind = modelKindOf(f)
  if (E.isLeft(kind)) return kind
  if (f.output !== undefined && !outputs.includes(f.output as OutputKind)) return E.left(usage('--output', `is ${JSON.stringify(f.output)}; expected probabilities, logits or label`))
  if (f.domain !== undefined) {
    const d = parseDomain(f.domain)
    if (E.isLeft(d)) return d
  }
  if (kind.right === 'endpoint') {
    if (f.protocol !== undefined && f.protocol !== 'open-inference' && f.protocol !== 'tf-serving') return E.left(usage('--protocol', `is ${JSON.stringify(f.protocol)}; expected open-inference or tf-serving`))
    if (f.model === undefined) return E.left(usage('--model', 'an endpoint needs --model NAME (the model name on the server)'))
    const h = headersOf(f.header ?? [])
    if (E.isLeft(h)) return h
  } else {
    const file = f[kind.right]!
    if (!existsSync(file)) return E.left(usage(`--${kind.right}`, `${file} does not exist`))
  }
  return E.right(undefined)
}

const withDomain = (oracle: Oracle, domain: Domain | undefined): E.Either<ProbeError, Oracle> => {
  if (domain === undefined) return E.right(oracle)
  const info = { ...oracle.info, domain }
  const ok = validateInfo(info)
  if (E.isLeft(ok)) return E.left(usage('--domain', ok.left.message))
  return E.right(extendOracle(oracle, { info }))
}

/** Import a JS or TS module (TS through tsx, so a user's `oracle.ts` runs without a build step). */
const importModule = async (file: string): Promise<Record<string, unknown>> => {
  const abs = resolve(file)
  const ext = extname(abs)
  if (ext === '.ts' || ext === '.mts' || ext === '.cts' || ext === '.tsx') {
    const { tsImport } = await import('tsx/esm/api')
    return (await tsImport(pathToFileURL(abs).href, import.meta.url)) as Record<string, unknown>
  }
  return (await import(pathToFileURL(abs).href)) as Record<string, unknown>
}

/**
 * The `Oracle` a module exports: `oracle`, or the named `--export`, or the default export, or its one
 * oracle-shaped export; a function is called (with no arguments) and a promise awaited, so a module may build
 * its oracle lazily (`export const oracle = async () => …`).
 */
const oracleOfModule = async (file: string, name: string | undefined): Promise<E.Either<ProbeError, Oracle>> => {
  let mod: Record<string, unknown>
  try {
    mod = await importModule(file)
  } catch (cause) {
    return E.left(usage('--module', `cannot import ${file}: ${cause instanceof Error ? cause.message : String(cause)}`))
  }
  const resolveValue = async (v: unknown): Promise<unknown> => {
    let x = v
    if (typeof x === 'function') x = (x as () => unknown)()
    return await x
  }
  const candidates = name !== undefined ? [name] : ['oracle', 'default', ...Object.keys(mod).filter((k) => k !== 'oracle' && k !== 'default')]
  const found: Oracle[] = []
  for (const k of candidates) {
    if (!(k in mod)) continue
    const raw = mod[k]
    if (name === undefined && k !== 'oracle' && k !== 'default' && !isOracle(raw)) continue
    let v: unknown
    try {
      v = await resolveValue(raw)
    } catch (cause) {
      return E.left(usage('--module', `${file}: building export '${k}' threw: ${cause instanceof Error ? cause.message : String(cause)}`))
    }
    if (isOracle(v)) {
      found.push(v)
      if (k === 'oracle' || k === 'default' || k === name) break
    }
  }
  const first = found[0]
  if (first === undefined) {
    return E.left(usage('--module', `${file} exports no Oracle${name !== undefined ? ` named '${name}'` : ''} (expected \`export const oracle\` — an { info, predict } — or a function returning one; it exports ${Object.keys(mod).join(', ') || 'nothing'})`))
  }
  const info = validateInfo(first.info)
  if (E.isLeft(info)) return E.left(usage('--module', `${file}: the oracle's info is not valid: ${info.left.message}`))
  return E.right(first)
}

const numbersOf = (text: string): number[] => text.split(/[,x×]/).map((s) => Number(s.trim()))

/** Load the model the flags name, as an oracle. `signal` aborts an endpoint's requests in flight. */
export const loadModel = async (f: ModelFlags, signal: AbortSignal): Promise<E.Either<ProbeError | OracleError, Oracle>> => {
  const checked = checkModelFlags(f)
  if (E.isLeft(checked)) return checked
  const kind = (modelKindOf(f) as E.Right<'endpoint' | 'onnx' | 'tfjs' | 'module'>).right
  const domain = f.domain === undefined ? undefined : (parseDomain(f.domain) as E.Right<Domain>).right
  const output = f.output as OutputKind | undefined
  let oracle: E.Either<ProbeError | OracleError, Oracle>
  switch (kind) {
    case 'module':
      oracle = await oracleOfModule(f.module!, f.export)
      break
    case 'tfjs': {
      const { loadTfjsModel } = await import('@sonde/oracle/tfjs')
      const { useFastestBackend } = await import('@sonde/models/tfjs')
      await useFastestBackend()
      oracle = await loadTfjsModel(f.tfjs!, { ...(output !== undefined ? { output } : {}), ...(domain !== undefined ? { domain } : {}) })()
      break
    }
    case 'onnx': {
      oracle = await loadOnnx(f, output, domain)
      break
    }
    case 'endpoint': {
      const { fromHttp } = await import('@sonde/oracle/http')
      const headers = (headersOf(f.header ?? []) as E.Right<Record<string, string>>).right
      const common = {
        url: f.endpoint!,
        model: f.model!,
        ...(f.modelVersion !== undefined ? { version: f.modelVersion } : {}),
        ...(output !== undefined ? { output } : {}),
        ...(domain !== undefined ? { domain } : {}),
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(f.timeout !== undefined ? { timeoutMs: f.timeout } : {}),
        ...(f.retries !== undefined ? { retries: f.retries } : {}),
        ...(f.concurrency !== undefined ? { concurrency: f.concurrency } : {}),
        ...(f.maxBatchRows !== undefined ? { maxBatchRows: f.maxBatchRows } : {}),
        ...(f.inputShape !== undefined ? { inputShape: numbersOf(f.inputShape) } : {}),
        ...(f.numClasses !== undefined ? { numClasses: f.numClasses } : {}),
        signal,
      }
      oracle = await fromHttp(f.protocol === 'tf-serving' ? { protocol: 'tf-serving', ...common } : { protocol: 'open-inference', ...common })()
      break
    }
  }
  if (E.isLeft(oracle)) return oracle
  return kind === 'module' ? withDomain(oracle.right, domain) : oracle
}

/** `--onnx`: through `@sonde/onnx` (`fromOnnxFile` on onnxruntime-node), loaded only when asked for. */
const loadOnnx = async (f: ModelFlags, output: OutputKind | undefined, domain: Domain | undefined): Promise<E.Either<ProbeError | OracleError, Oracle>> => {
  let mod: typeof import('@sonde/onnx')
  try {
    mod = await import('@sonde/onnx')
  } catch (cause) {
    return E.left(usage('--onnx', `ONNX models need @sonde/onnx and onnxruntime-node, which could not be loaded (${cause instanceof Error ? cause.message : String(cause)})`))
  }
  return mod.fromOnnxFile(f.onnx!, {
    ...(output !== undefined ? { output } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(f.inputShape !== undefined ? { inputShape: numbersOf(f.inputShape) } : {}),
    ...(f.numClasses !== undefined ? { numClasses: f.numClasses } : {}),
    ...(f.maxBatchRows !== undefined ? { maxBatchRows: f.maxBatchRows } : {}),
  })()
}
