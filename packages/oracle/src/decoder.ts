import { either as E } from 'fp-ts'
import { errors, type InvalidOptions } from './errors.js'

/** One problem found while decoding, at a path such as `options.rounds` or `options.classes[2]`. */
export interface DecodeIssue {
  readonly path: string
  readonly message: string
}

/**
 * Turns untrusted input (a CLI flag set, a JSON file, a user's object) into a typed value, or
 * an `InvalidOptions` error that lists *every* bad path, not just the first.
 */
export type Decoder<A> = (input: unknown, path?: string) => E.Either<InvalidOptions, A>

const fail = (path: string, message: string): E.Either<InvalidOptions, never> =>
  E.left(errors.invalidOptions([{ path, message }]))

const show = (u: unknown): string => {
  if (typeof u === 'string') return JSON.stringify(u)
  if (u === null || typeof u !== 'object') return String(u)
  return Array.isArray(u) ? 'an array' : 'an object'
}

/** Constraints of {@link decoders.number}. */
export interface NumberConstraints {
  readonly min?: number
  readonly max?: number
  /** Exclusive lower bound. */
  readonly greaterThan?: number
  readonly integer?: boolean
}

const number =
  (c: NumberConstraints = {}): Decoder<number> =>
  (u, path = 'options') => {
    if (typeof u !== 'number' || !Number.isFinite(u)) return fail(path, `is ${show(u)}; expected a finite number`)
    const wants: string[] = []
    if (c.integer === true && !Number.isInteger(u)) wants.push('an integer')
    if (c.min !== undefined && u < c.min) wants.push(`at least ${c.min}`)
    if (c.max !== undefined && u > c.max) wants.push(`at most ${c.max}`)
    if (c.greaterThan !== undefined && !(u > c.greaterThan)) wants.push(`greater than ${c.greaterThan}`)
    return wants.length === 0 ? E.right(u) : fail(path, `is ${u}; expected ${wants.join(' and ')}`)
  }

const boolean: Decoder<boolean> = (u, path = 'options') =>
  typeof u === 'boolean' ? E.right(u) : fail(path, `is ${show(u)}; expected true or false`)

const string: Decoder<string> = (u, path = 'options') =>
  typeof u === 'string' ? E.right(u) : fail(path, `is ${show(u)}; expected a string`)

const literal =
  <const L extends readonly (string | number | boolean)[]>(...values: L): Decoder<L[number]> =>
  (u, path = 'options') =>
    values.includes(u as L[number])
      ? E.right(u as L[number])
      : fail(path, `is ${show(u)}; expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}`)

const withDefault =
  <A>(decoder: Decoder<A>, fallback: A): Decoder<A> =>
  (u, path) =>
    u === undefined ? E.right(fallback) : decoder(u, path)

const optional =
  <A>(decoder: Decoder<A>): Decoder<A | undefined> =>
  (u, path) =>
    u === undefined ? E.right(undefined) : decoder(u, path)

const array =
  <A>(item: Decoder<A>, constraints: { readonly minLength?: number } = {}): Decoder<readonly A[]> =>
  (u, path = 'options') => {
    if (!Array.isArray(u)) return fail(path, `is ${show(u)}; expected an array`)
    const issues: DecodeIssue[] = []
    const out: A[] = []
    if (constraints.minLength !== undefined && u.length < constraints.minLength) {
      issues.push({ path, message: `has ${u.length} items; expected at least ${constraints.minLength}` })
    }
    u.forEach((v, i) => {
      const r = item(v, `${path}[${i}]`)
      if (E.isLeft(r)) issues.push(...r.left.issues)
      else out.push(r.right)
    })
    return issues.length === 0 ? E.right(out) : E.left(errors.invalidOptions(issues))
  }

type Decoded<D> = D extends Decoder<infer A> ? A : never
type StructOf<S extends Record<string, Decoder<unknown>>> = {
  readonly [K in keyof S as undefined extends Decoded<S[K]> ? never : K]: Decoded<S[K]>
} & {
  readonly [K in keyof S as undefined extends Decoded<S[K]> ? K : never]?: Exclude<Decoded<S[K]>, undefined>
}

/**
 * An object decoder: every field is decoded, every problem collected, and unknown keys are
 * refused (a misspelt option is an error, not a silent default).
 */
const struct =
  <S extends Record<string, Decoder<unknown>>>(fields: S): Decoder<StructOf<S>> =>
  (u, path = 'options') => {
    if (u === undefined) u = {}
    if (u === null || typeof u !== 'object' || Array.isArray(u)) return fail(path, `is ${show(u)}; expected an object`)
    const input = u as Record<string, unknown>
    const issues: DecodeIssue[] = []
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(input)) {
      if (!(key in fields)) issues.push({ path: `${path}.${key}`, message: `is not a known option (known: ${Object.keys(fields).join(', ')})` })
    }
    for (const [key, decoder] of Object.entries(fields)) {
      const r = decoder(input[key], `${path}.${key}`)
      if (E.isLeft(r)) issues.push(...r.left.issues)
      else if (r.right !== undefined) out[key] = r.right
    }
    return issues.length === 0 ? E.right(out as StructOf<S>) : E.left(errors.invalidOptions(issues))
  }

/**
 * Decoders for probe options. Compose them; each reports the path it was given.
 *
 * @example
 * const options = decoders.struct({
 *   samples: decoders.number({ integer: true, min: 1 }),
 *   sampler: decoders.withDefault(decoders.literal('uniform', 'gaussian'), 'uniform'),
 *   seed: decoders.optional(decoders.number({ integer: true })),
 * })
 * options({ samples: 0, sampler: 'grid' })
 * // Left(InvalidOptions): options.samples: is 0; expected at least 1; options.sampler: is "grid"; expected one of "uniform", "gaussian"
 */
export const decoders = { number, boolean, string, literal, withDefault, optional, array, struct } as const
