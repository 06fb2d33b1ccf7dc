/**
 * The options of `fromHttp`, as one schema: the type, the default, the constraint and the sentence a person
 * reads are one declaration; decoding lists every bad path before anything is sent.
 */
import { either as E } from 'fp-ts'
import { errors, type InvalidOptions } from './errors.js'
import type { Matrix } from './matrix.js'
import type { Domain, OutputKind } from './oracle.js'
import { decodeWith, schemas, z } from './schema.js'

/** The wire protocols `fromHttp` speaks. */
export type HttpProtocol = 'open-inference' | 'tf-serving' | 'json'

/** What a `json` endpoint's `decode` may return for a query of `x.rows` rows. */
export type JsonDecoded = Matrix | ReadonlyArray<ReadonlyArray<number>> | Int32Array | ReadonlyArray<number>

/** Options every protocol takes. */
export interface HttpCommonOptions {
  /**
   * The server's base URL (`http://host:8000`) — for `json`, the endpoint itself (`https://api.example.com/v1/score`).
   */
  readonly url: string
  /**
   * What the model's output holds, which is what the oracle reveals: `'probabilities'` (default), `'logits'`, or
   * `'label'` (class indices; or scores of which only the argmax is revealed).
   */
  readonly output?: OutputKind
  /** Box bounds of the input space: queries outside are refused before anything is sent. */
  readonly domain?: Domain
  /** Extra request headers, e.g. `{ authorization: 'Bearer …' }`. */
  readonly headers?: Readonly<Record<string, string>>
  /** Longest wait for one request (connect, answer and body), in ms. Default 30,000. Past it: `Timeout` (retryable). */
  readonly timeoutMs?: number
  /** Requests in flight at once, over all queries of this oracle. Default 4. */
  readonly concurrency?: number
  /** Rows per request: a larger query is split, sent concurrently and reassembled in order. Default 256. */
  readonly maxBatchRows?: number
  /** Further attempts of a request after a retryable failure (429, 5xx, reset, timeout). Default 3. */
  readonly retries?: number
  /** Delay before the first retry, doubled each time, times a random factor in [0.5, 1). Default 100 ms. */
  readonly retryBaseDelayMs?: number
  /** Longest delay between attempts; a `Retry-After` asking more is not waited for. Default 10,000 ms. */
  readonly retryMaxDelayMs?: number
  /** Seed of the retries' random back-off factor (a safe integer): the same seed waits the same. Default 0. */
  readonly seed?: number
  /** Aborts every request in flight and every wait: the query fails with `Aborted`. */
  readonly signal?: AbortSignal
  /** The oracle's `info.id`. Default `http:<host>/<model>` (`http:<host><path>` for `json`). */
  readonly id?: string
  /** Shape of one input, where the metadata leaves a dimension open (-1). For `json`: required, or `inputDim`. */
  readonly inputShape?: readonly number[]
  /** Number of classes, where the metadata does not say (a `label` output; an open last dimension). */
  readonly numClasses?: number
  readonly classNames?: readonly string[]
}

/** Options of an Open Inference Protocol v2 server (KServe, Triton, MLServer, OpenVINO). */
export interface OpenInferenceOptions extends HttpCommonOptions {
  readonly protocol: 'open-inference'
  /** The model's name on the server. */
  readonly model: string
  readonly version?: string
  /** The input tensor to send the rows in; default: the model's only input. */
  readonly inputName?: string
  /** The output tensor to read; default: the model's only output. */
  readonly outputName?: string
  /**
   * Send and receive tensors as raw little-endian bytes (Triton's binary tensor extension): `'auto'` (default)
   * when the server lists `binary_tensor_data` among its extensions.
   */
  readonly binaryData?: boolean | 'auto'
}

/** Options of a TensorFlow Serving REST server, or a KServe v1 one (`instances → predictions`). */
export interface TfServingOptions extends HttpCommonOptions {
  readonly protocol: 'tf-serving'
  readonly model: string
  readonly version?: string
  /** The signature to call; default `serving_default`. */
  readonly signatureName?: string
  /** The input to read the shape of in the signature; default: the signature's only input. */
  readonly inputName?: string
  /** The output to read when the signature has several; default: its only output. */
  readonly outputName?: string
  /** Needed only when the server has no `/metadata` (KServe v1): the number of input features. */
  readonly inputDim?: number
}

/** Options of any JSON endpoint: you say how rows become a body and how a body becomes scores or labels. */
export interface JsonEndpointOptions extends HttpCommonOptions {
  readonly protocol: 'json'
  /** The request body for a chunk of rows; serialised with `JSON.stringify` unless a string. */
  readonly encode: (x: Matrix) => unknown
  /** Scores (rows × numClasses) or labels (one per row) from the parsed response body. */
  readonly decode: (body: unknown, x: Matrix) => JsonDecoded
  /** A name for the model in `info.id`. */
  readonly model?: string
  readonly inputDim?: number
  readonly numClasses: number
  /** Default `POST`. */
  readonly method?: 'POST' | 'PUT'
}

/** Options of `fromHttp`: one of the three protocols. */
export type HttpOracleOptions = OpenInferenceOptions | TfServingOptions | JsonEndpointOptions

const isHttpUrl = (u: string): boolean => {
  try {
    const p = new URL(u).protocol
    return p === 'http:' || p === 'https:'
  } catch {
    return false
  }
}

const positiveInt = (what: string) => z.number().int().min(1).describe(what)
const name = (what: string) => z.string().min(1).describe(what)
const fn = <F>(what: string) => z.custom<F>((v) => typeof v === 'function', { message: `expected a function (${what})` }).describe(what)

const common = {
  url: z.string().refine(isHttpUrl, { message: 'expected an http:// or https:// URL' }).describe('the server base URL (json: the endpoint)'),
  output: z.enum(['probabilities', 'logits', 'label']).default('probabilities').describe('what the output holds and the oracle reveals'),
  domain: z.object({ lower: schemas.bound('lower bounds'), upper: schemas.bound('upper bounds') }).strict().optional().describe('box bounds of the inputs'),
  headers: z.record(z.string(), z.string()).optional().describe('extra request headers (auth)'),
  timeoutMs: z.number().positive().max(2_147_483_647).default(30_000).describe('longest wait for one request, in ms'),
  concurrency: positiveInt('requests in flight at once').max(1024).default(4),
  maxBatchRows: positiveInt('rows per request').default(256),
  retries: z.number().int().min(0).max(100).default(3).describe('further attempts after a retryable failure'),
  retryBaseDelayMs: z.number().min(0).max(3_600_000).default(100).describe('delay before the first retry, in ms'),
  retryMaxDelayMs: z.number().min(0).max(3_600_000).default(10_000).describe('longest delay between attempts, in ms'),
  seed: schemas.seed().default(0).describe('seed of the retries’ random back-off factor'),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: 'expected an AbortSignal' }).optional(),
  id: name('the oracle id').optional(),
  inputShape: z.array(positiveInt('a dimension')).min(1).optional().describe('shape of one input'),
  numClasses: positiveInt('number of classes').optional(),
  classNames: z.array(z.string()).optional().describe('a name per class'),
}

const version = z
  .union([z.string().min(1), z.number().int().min(0)])
  .transform((v) => String(v))
  .optional()
  .describe('the model version')

const openInference = z
  .object({
    protocol: z.literal('open-inference'),
    ...common,
    model: name('the model name on the server'),
    version,
    inputName: name('the input tensor').optional(),
    outputName: name('the output tensor').optional(),
    binaryData: z.union([z.boolean(), z.literal('auto')]).default('auto').describe('use the binary tensor extension'),
  })
  .strict()

const tfServing = z
  .object({
    protocol: z.literal('tf-serving'),
    ...common,
    model: name('the model name on the server'),
    version,
    signatureName: name('the signature').optional(),
    inputName: name('the input of the signature').optional(),
    outputName: name('the output of the signature').optional(),
    inputDim: positiveInt('number of input features').optional(),
  })
  .strict()

const jsonEndpoint = z
  .object({
    protocol: z.literal('json'),
    ...common,
    encode: fn<(x: Matrix) => unknown>('rows → request body'),
    decode: fn<(body: unknown, x: Matrix) => JsonDecoded>('response body → scores or labels'),
    model: name('a name for the model').optional(),
    inputDim: positiveInt('number of input features').optional(),
    numClasses: positiveInt('number of classes'),
    method: z.enum(['POST', 'PUT']).default('POST'),
  })
  .strict()

/**
 * The schema of {@link HttpOracleOptions}: decode untrusted options (from JSON, a CLI) with it.
 *
 * @example
 * import { decodeWith } from '@sonde/oracle'
 * import { httpOptionsSchema } from '@sonde/oracle/http'
 *
 * const options = decodeWith(httpOptionsSchema, { protocol: 'open-inference', url: 'http://127.0.0.1:8000', model: 'iris' }) // Right, defaults filled in
 */
export const httpOptionsSchema = z.discriminatedUnion('protocol', [openInference, tfServing, jsonEndpoint])

/** Decoded options: defaults filled in. */
export type ResolvedHttpOptions = z.output<typeof httpOptionsSchema>

/** Decode `fromHttp`'s options, listing every bad path; also checks what one field says of another. */
export const decodeHttpOptions = (input: unknown): E.Either<InvalidOptions, ResolvedHttpOptions> => {
  // What one field says of another, checked even when other fields fail, so that every bad path is listed.
  const o = (input !== null && typeof input === 'object' ? input : {}) as Record<string, unknown>
  const cross: Array<{ path: string; message: string }> = []
  if (o.protocol === 'json' && o.inputDim === undefined && o.inputShape === undefined) {
    cross.push({ path: 'options.inputDim', message: 'is required for a json endpoint (it has no metadata): give inputDim or inputShape' })
  }
  const decoded = decodeWith(httpOptionsSchema, input)
  if (cross.length === 0) return decoded
  return E.left(errors.invalidOptions([...(E.isLeft(decoded) ? decoded.left.issues : []), ...cross]))
}
