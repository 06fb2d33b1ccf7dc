import { either as E } from 'fp-ts'
import { z } from 'zod'
import { errors, type InvalidOptions } from './errors.js'
import type { Matrix } from './matrix.js'

/**
 * The schema library behind every probe's options: zod 4. One declaration gives the TypeScript type,
 * the decoder of untrusted input (every bad path listed), the default, the constraints and the sentence a
 * person reads — and `z.toJSONSchema` turns it into JSON Schema for the CLI, the docs and plugin hosts.
 * Re-exported so a plugin builds its schema with the same instance the registry reads.
 */
export { z }

/** A described schema whose decoded value is `A` (the input is untrusted: anything). */
export type Schema<A> = z.ZodType<A, unknown>

/** A JSON Schema document, as {@link jsonSchemaOf} emits it. */
export type JsonSchema = Record<string, unknown>

type Issue = { readonly path: string; readonly message: string }

const show = (u: unknown): string => {
  if (typeof u === 'string') return JSON.stringify(u)
  if (u === null || typeof u !== 'object') return String(u)
  return Array.isArray(u) ? `an array of ${u.length}` : ArrayBuffer.isView(u) ? `a ${u.constructor.name}` : 'an object'
}

const pathOf = (root: string, path: readonly PropertyKey[]): string =>
  path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : `${acc}.${String(k)}`), root)

/**
 * Decode untrusted input with a schema: the typed value, or `InvalidOptions` listing every bad path
 * (`options.pool[3][1]: is NaN; expected a finite number`). Never throws, whatever the input.
 *
 * @example
 * import { decodeWith, z } from '@sonde/oracle'
 *
 * const options = z.object({ samples: z.number().int().min(1).describe('rows to label') }).strict()
 * const decoded = decodeWith(options, { samples: 0 }) // Left(InvalidOptions: options.samples: …)
 */
export const decodeWith = <A>(schema: Schema<A>, input: unknown, root = 'options'): E.Either<InvalidOptions, A> => {
  let parsed: ReturnType<Schema<A>['safeParse']>
  try {
    parsed = schema.safeParse(input)
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: root, message: `could not be decoded: ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
  if (parsed.success) return E.right(parsed.data)
  const issues: Issue[] = parsed.error.issues.map((i) => {
    const at = pathOf(root, i.path)
    if (i.code === 'unrecognized_keys') return { path: at, message: `has unknown option(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` }
    return { path: at, message: i.message }
  })
  return E.left(errors.invalidOptions(issues))
}

/**
 * The JSON Schema of what a schema accepts (its input side; typed-array forms that only code can pass
 * are described by their JSON form).
 *
 * @example
 * import { jsonSchemaOf, z } from '@sonde/oracle'
 *
 * const schema = jsonSchemaOf(z.object({ k: z.number().int().default(3).describe('neighbours') }))
 * // { type: 'object', properties: { k: { type: 'integer', default: 3, description: 'neighbours', … } }, … }
 */
export const jsonSchemaOf = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema

// ---------------------------------------------------------------------------------------------
// Numeric data: matrices, vectors, labels. JSON gives rows of numbers; code may pass the typed form.

const isFloat64Matrix = (u: unknown): u is Matrix => {
  if (u === null || typeof u !== 'object') return false
  const m = u as Partial<Matrix>
  return m.data instanceof Float64Array && Number.isSafeInteger(m.rows) && Number.isSafeInteger(m.cols)
}

type Ctx = z.RefinementCtx

const checkFinite = (v: unknown, ctx: Ctx, path: (string | number)[], allowInfinite: boolean): boolean => {
  if (typeof v !== 'number' || Number.isNaN(v) || (!allowInfinite && !Number.isFinite(v))) {
    ctx.addIssue({ code: 'custom', path, message: `is ${show(v)}; expected a ${allowInfinite ? 'number (not NaN)' : 'finite number'}` })
    return false
  }
  return true
}

/** Constraints of {@link schemas.matrix}. */
export interface MatrixConstraints {
  /** Fewest rows (default 1). */
  readonly minRows?: number
  /** The number of columns, when it is fixed. */
  readonly cols?: number
  /** What the matrix is, for the JSON Schema and `sonde describe`. */
  readonly description?: string
}

const matrix = (c: MatrixConstraints = {}): Schema<Matrix> => {
  const minRows = c.minRows ?? 1
  return z
    .unknown()
    .superRefine((u, ctx) => {
      if (isFloat64Matrix(u)) {
        if (u.rows < minRows) ctx.addIssue({ code: 'custom', message: `has ${u.rows} rows; expected at least ${minRows}` })
        if (u.data.length !== u.rows * u.cols) ctx.addIssue({ code: 'custom', message: `holds ${u.data.length} values for ${u.rows} × ${u.cols}` })
        if (c.cols !== undefined && u.cols !== c.cols) ctx.addIssue({ code: 'custom', message: `has ${u.cols} columns; expected ${c.cols}` })
        const bad = u.data.findIndex((v) => !Number.isFinite(v))
        if (bad >= 0 && u.cols > 0) ctx.addIssue({ code: 'custom', path: [Math.floor(bad / u.cols), bad % u.cols], message: `is ${u.data[bad]}; expected a finite number` })
        return
      }
      if (!Array.isArray(u)) {
        ctx.addIssue({ code: 'custom', message: `is ${show(u)}; expected rows of numbers (an array of arrays) or a Matrix` })
        return
      }
      if (u.length < minRows) ctx.addIssue({ code: 'custom', message: `has ${u.length} rows; expected at least ${minRows}` })
      const width = c.cols ?? (Array.isArray(u[0]) ? (u[0] as unknown[]).length : undefined)
      let reported = 0
      u.forEach((r, i) => {
        if (reported >= 20) return
        if (!Array.isArray(r)) {
          ctx.addIssue({ code: 'custom', path: [i], message: `is ${show(r)}; expected a row of numbers` })
          reported++
          return
        }
        if (width !== undefined && r.length !== width) {
          ctx.addIssue({ code: 'custom', path: [i], message: `has ${r.length} values; expected ${width}${c.cols === undefined ? ' (as row 0)' : ''}` })
          reported++
        }
        for (let j = 0; j < r.length && reported < 20; j++) if (!checkFinite(r[j], ctx, [i, j], false)) reported++
      })
    })
    .transform((u): Matrix => {
      if (isFloat64Matrix(u)) return u
      const rows = u as number[][]
      const cols = rows[0]?.length ?? c.cols ?? 0
      const data = new Float64Array(rows.length * cols)
      rows.forEach((r, i) => data.set(r, i * cols))
      return { rows: rows.length, cols, data }
    })
    .meta({
      type: 'array',
      minItems: minRows,
      items: { type: 'array', items: { type: 'number' }, ...(c.cols !== undefined ? { minItems: c.cols, maxItems: c.cols } : {}) },
      description: c.description ?? 'a matrix: rows of numbers, all the same length',
    }) as unknown as Schema<Matrix>
}

/** Constraints of {@link schemas.vector}. */
export interface VectorConstraints {
  readonly minLength?: number
  readonly length?: number
  /** Accept ±Infinity (as for unbounded box sides); NaN is always refused. */
  readonly allowInfinite?: boolean
  readonly description?: string
}

const vector = (c: VectorConstraints = {}): Schema<Float64Array> =>
  z
    .unknown()
    .superRefine((u, ctx) => {
      const values = u instanceof Float64Array ? u : Array.isArray(u) ? u : undefined
      if (values === undefined) {
        ctx.addIssue({ code: 'custom', message: `is ${show(u)}; expected an array of numbers` })
        return
      }
      if (c.length !== undefined && values.length !== c.length) ctx.addIssue({ code: 'custom', message: `has ${values.length} values; expected ${c.length}` })
      if (c.minLength !== undefined && values.length < c.minLength) ctx.addIssue({ code: 'custom', message: `has ${values.length} values; expected at least ${c.minLength}` })
      let reported = 0
      for (let i = 0; i < values.length && reported < 20; i++) if (!checkFinite(values[i], ctx, [i], c.allowInfinite === true)) reported++
    })
    .transform((u) => (u instanceof Float64Array ? u : Float64Array.from(u as number[])))
    .meta({
      type: 'array',
      items: { type: 'number' },
      ...(c.length !== undefined ? { minItems: c.length, maxItems: c.length } : c.minLength !== undefined ? { minItems: c.minLength } : {}),
      description: c.description ?? 'a vector of numbers',
    }) as unknown as Schema<Float64Array>

const labels = (c: { readonly minLength?: number; readonly description?: string } = {}): Schema<Int32Array> =>
  z
    .unknown()
    .superRefine((u, ctx) => {
      const values = u instanceof Int32Array ? u : Array.isArray(u) ? u : undefined
      if (values === undefined) {
        ctx.addIssue({ code: 'custom', message: `is ${show(u)}; expected an array of class indices` })
        return
      }
      if (c.minLength !== undefined && values.length < c.minLength) ctx.addIssue({ code: 'custom', message: `has ${values.length} labels; expected at least ${c.minLength}` })
      let reported = 0
      for (let i = 0; i < values.length && reported < 20; i++) {
        const v: unknown = values[i]
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) {
          ctx.addIssue({ code: 'custom', path: [i], message: `is ${show(v)}; expected a class index (an integer ≥ 0)` })
          reported++
        }
      }
    })
    .transform((u) => (u instanceof Int32Array ? u : Int32Array.from(u as number[])))
    .meta({ type: 'array', items: { type: 'integer', minimum: 0 }, description: c.description ?? 'class indices, one per row' }) as unknown as Schema<Int32Array>

/** A labelled set of examples: `x` one row per example, `y` its class. */
export interface Examples {
  readonly x: Matrix
  readonly y: Int32Array
}

const examples = (c: { readonly description?: string; readonly minRows?: number } = {}): Schema<Examples> =>
  z
    .object({
      x: matrix({ minRows: c.minRows ?? 1, description: 'the inputs, one row per example' }),
      y: labels({ description: 'the class of each example' }),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.y.length !== v.x.rows) ctx.addIssue({ code: 'custom', path: ['y'], message: `has ${v.y.length} labels for ${v.x.rows} rows` })
    })
    .describe(c.description ?? 'labelled examples: { x: rows of numbers, y: one class index per row }') as unknown as Schema<Examples>

/** One side of a box: one number for every feature, or one per feature. ±Infinity (from code) means open. */
const bound = (description: string): Schema<number | Float64Array> =>
  z.union([z.number().refine((v) => !Number.isNaN(v), 'is NaN; expected a number'), vector({ allowInfinite: true })]).describe(description) as unknown as Schema<number | Float64Array>

/** A seed: a safe integer, as every stochastic function requires. */
const seed = (): Schema<number> => z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).describe('the seed of every random choice') as unknown as Schema<number>

/**
 * Schemas of the numeric values probe options carry: matrices (rows of numbers from JSON, or a `Matrix`
 * from code), vectors, class labels, labelled examples, box sides and seeds. Each checks shape and
 * finiteness and names the bad row and column.
 *
 * @example
 * import { decodeWith, schemas, z } from '@sonde/oracle'
 *
 * const options = z.object({ pool: schemas.matrix({ description: 'points to query' }), x0: schemas.vector() }).strict()
 * const decoded = decodeWith(options, { pool: [[0, 1], [2, NaN]], x0: [0, 0] }) // Left: options.pool[1][1]: is NaN; expected a finite number
 */
export const schemas = { matrix, vector, labels, examples, bound, seed } as const
