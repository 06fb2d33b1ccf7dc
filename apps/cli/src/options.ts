import { readFileSync } from 'node:fs'
import { either as E } from 'fp-ts'
import { errors, type InvalidOptions, type JsonSchema } from '@sonde/oracle'

type Issue = { readonly path: string; readonly message: string }
type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const isRecord = (u: unknown): u is Record<string, unknown> => u !== null && typeof u === 'object' && !Array.isArray(u)

/** The JSON Schema types a (sub)schema admits: its `type`, or those of its `anyOf`/`oneOf` branches, `enum` and `const` values. */
const typesOf = (s: unknown): Set<string> => {
  const out = new Set<string>()
  if (!isRecord(s)) return out
  if (typeof s.type === 'string') out.add(s.type)
  if (Array.isArray(s.type)) for (const t of s.type) if (typeof t === 'string') out.add(t)
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = s[key]
    if (Array.isArray(branches)) for (const b of branches) for (const t of typesOf(b)) out.add(t)
  }
  const values = Array.isArray(s.enum) ? s.enum : 'const' in s ? [s.const] : []
  for (const v of values) out.add(v === null ? 'null' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v)
  return out
}

/** The subschema at a dotted path of an object schema, if the schema says. */
const schemaAt = (schema: JsonSchema, path: readonly string[]): unknown => {
  let s: unknown = schema
  for (const k of path) {
    if (!isRecord(s)) return undefined
    const props = isRecord(s.properties) ? s.properties : undefined
    if (props !== undefined && k in props) {
      s = props[k]
      continue
    }
    // A union of objects: the first branch that has the key.
    const branches = [...(Array.isArray(s.anyOf) ? s.anyOf : []), ...(Array.isArray(s.oneOf) ? s.oneOf : [])]
    s = branches.map((b) => (isRecord(b) && isRecord(b.properties) ? b.properties[k] : undefined)).find((b) => b !== undefined)
  }
  return s
}

const numberPattern = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/**
 * The value of one `--set key=value`, typed by what the probe's JSON Schema says the key holds: numbers for
 * `number`/`integer`, `true`/`false` for `boolean`, JSON for arrays and objects, the text itself for strings.
 * Where the text does not fit (e.g. `budget=ten`), it is an issue naming the path and what was expected.
 *
 * @example
 * import { typedValue } from '@sonde/cli'
 *
 * const budget = typedValue('500', { type: 'integer' }, 'options.budget') // Right(500)
 * const hidden = typedValue('[64, 32]', { type: 'array', items: { type: 'integer' } }, 'options.hidden') // Right([64, 32])
 * const bad = typedValue('ten', { type: 'integer' }, 'options.budget') // Left({ path: 'options.budget', message: … })
 */
export const typedValue = (text: string, sub: unknown, path: string): E.Either<Issue, Json> => {
  const types = typesOf(sub)
  const tryJson = (): Json | undefined => {
    try {
      return JSON.parse(text) as Json
    } catch {
      return undefined
    }
  }
  if (types.size === 0) {
    // The schema does not say (an unknown key, or an `any`): JSON if it parses, else the text.
    const j = tryJson()
    return E.right(j === undefined ? text : j)
  }
  if ((types.has('number') || types.has('integer')) && numberPattern.test(text.trim())) {
    const v = Number(text)
    if (types.has('integer') && !types.has('number') && !Number.isInteger(v)) return E.left({ path, message: `is ${text}; expected an integer` })
    return E.right(v)
  }
  if (types.has('boolean') && (text === 'true' || text === 'false')) return E.right(text === 'true')
  if (types.has('null') && text === 'null') return E.right(null)
  if (types.has('array') || types.has('object')) {
    const j = tryJson()
    if (j !== undefined && typeof j === 'object') return E.right(j)
    if (!types.has('string')) return E.left({ path, message: `is ${JSON.stringify(text)}; expected ${types.has('array') ? 'a JSON array' : 'a JSON object'}` })
  }
  if (types.has('string')) return E.right(text)
  const expected = [...types].map((t) => (t === 'integer' ? 'an integer' : t === 'number' ? 'a number' : t === 'boolean' ? 'true or false' : t)).join(' or ')
  return E.left({ path, message: `is ${JSON.stringify(text)}; expected ${expected}` })
}

const setPath = (target: Record<string, Json>, path: readonly string[], value: Json): void => {
  let at: Record<string, Json> = target
  for (const k of path.slice(0, -1)) {
    const next = at[k]
    if (!isRecord(next)) at[k] = {}
    at = at[k] as Record<string, Json>
  }
  at[path[path.length - 1]!] = value
}

/**
 * A probe's raw options from `--options FILE.json` (read first) and the repeated `--set key=value` (applied in
 * order, later ones win; `a.b=1` sets a nested key), each value typed by the probe's JSON Schema. Every bad
 * `--set` is listed, with its path (`options.budget: is "ten"; expected an integer`).
 *
 * @example
 * import { describeProbe } from '@sonde/oracle'
 * import { copyingProbe } from '@sonde/copying'
 * import { rawOptions } from '@sonde/cli'
 *
 * const options = rawOptions(describeProbe(copyingProbe), undefined, ['budget=500', 'copy=softmax']) // Right({ budget: 500, copy: 'softmax' })
 */
export const rawOptions = (schema: JsonSchema, file: string | undefined, sets: readonly string[]): E.Either<InvalidOptions, Record<string, unknown>> => {
  const issues: Issue[] = []
  let base: Record<string, Json> = {}
  if (file !== undefined) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown
      if (!isRecord(parsed)) issues.push({ path: '--options', message: `${file} holds ${Array.isArray(parsed) ? 'an array' : typeof parsed}; expected a JSON object of options` })
      else base = parsed as Record<string, Json>
    } catch (cause) {
      issues.push({ path: '--options', message: `cannot read ${file} as JSON: ${cause instanceof Error ? cause.message : String(cause)}` })
    }
  }
  for (const s of sets) {
    const eq = s.indexOf('=')
    if (eq <= 0) {
      issues.push({ path: '--set', message: `${JSON.stringify(s)} is not key=value` })
      continue
    }
    const key = s.slice(0, eq).trim()
    const path = key.split('.')
    const v = typedValue(s.slice(eq + 1), schemaAt(schema, path), `options.${key}`)
    if (E.isLeft(v)) issues.push(v.left)
    else setPath(base, path, v.right)
  }
  return issues.length > 0 ? E.left(errors.invalidOptions(issues)) : E.right(base)
}

/** Whether the probe's options have a top-level field `name`. */
export const hasOption = (schema: JsonSchema, name: string): boolean => isRecord(schema.properties) && name in schema.properties
