import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { either as E } from 'fp-ts'
import { resolve as resolveFrom } from 'import-meta-resolve'
import { errors, type AnyProbe, type ProbeError } from '@sonde/oracle'

/** What `sonde.config.json` (in the current folder) may hold. */
export interface SondeConfig {
  /** Plugin packages to load, as with `--plugin`. */
  readonly plugins?: readonly string[]
}

/** The `sonde.config.json` of `cwd`, or an empty config when there is none. */
export const readConfig = (cwd: string): E.Either<ProbeError, SondeConfig> => {
  const file = join(cwd, 'sonde.config.json')
  if (!existsSync(file)) return E.right({})
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as unknown
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return E.left(errors.invalidOptions([{ path: 'sonde.config.json', message: 'expected a JSON object' }]))
    const plugins = (c as { plugins?: unknown }).plugins
    if (plugins !== undefined && (!Array.isArray(plugins) || !plugins.every((p) => typeof p === 'string'))) {
      return E.left(errors.invalidOptions([{ path: 'sonde.config.json.plugins', message: 'expected an array of package names' }]))
    }
    return E.right(plugins === undefined ? {} : { plugins: plugins as string[] })
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: 'sonde.config.json', message: `cannot read it as JSON: ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
}

const isProbeLike = (u: unknown): u is AnyProbe =>
  u !== null && typeof u === 'object' && typeof (u as AnyProbe).id === 'string' && typeof (u as AnyProbe).run === 'function' && typeof (u as AnyProbe).report === 'function'

/**
 * The probes a plugin package exports: its `probes` array, else every export that is a probe. The package is
 * resolved from `cwd` (its `node_modules`, as `import` would from a file there), so a plugin installed beside
 * the user's project is found even when `sonde` is installed globally.
 */
export const loadPlugin = async (name: string, cwd: string): Promise<E.Either<ProbeError, readonly AnyProbe[]>> => {
  let url: string
  try {
    url = resolveFrom(name, pathToFileURL(join(cwd, 'noop.js')).href)
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: `--plugin ${name}`, message: `cannot be resolved from ${cwd}: ${cause instanceof Error ? cause.message : String(cause)} (install it there: npm install ${name})` }]))
  }
  let mod: Record<string, unknown>
  try {
    mod = (await import(url)) as Record<string, unknown>
  } catch (cause) {
    return E.left(errors.pluginFailed(`plugin '${name}'`, `importing ${url} threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
  }
  const listed = mod.probes
  const probes = Array.isArray(listed) ? (listed as unknown[]) : Object.values(mod).filter(isProbeLike)
  if (probes.length === 0) return E.left(errors.invalidOptions([{ path: `--plugin ${name}`, message: `${name} exports no probes (expected \`export const probes = [ … ]\`)` }]))
  return E.right(probes as AnyProbe[])
}

/** Every plugin's probes, in order: those named on the command line, then those of `sonde.config.json` (each once). */
export const loadPlugins = async (names: readonly string[], cwd: string): Promise<E.Either<ProbeError, readonly AnyProbe[]>> => {
  const config = readConfig(cwd)
  if (E.isLeft(config)) return config
  const all = [...new Set([...names, ...(config.right.plugins ?? [])])]
  const out: AnyProbe[] = []
  for (const n of all) {
    const p = await loadPlugin(n, cwd)
    if (E.isLeft(p)) return p
    out.push(...p.right)
  }
  return E.right(out)
}
