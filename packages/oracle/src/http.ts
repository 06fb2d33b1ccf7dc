/**
 * `@sonde/oracle/http`: the adapter for models behind an HTTP endpoint — Open Inference Protocol v2 servers
 * (KServe, Triton, MLServer, OpenVINO), TensorFlow Serving and KServe v1, and any JSON API. Uses Node's (or the
 * browser's) global `fetch`; no dependency.
 *
 * @packageDocumentation
 */
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { guardPredict } from './adapters/guard.js'
import { labelThreshold } from './adapters/function.js'
import { errors, type InvalidOptions, type OracleError } from './errors.js'
import { labelsFromScores, type Matrix } from './matrix.js'
import type { Oracle, OracleInfo, Prediction } from './oracle.js'
import { validateInfo, validateLabels, validateScores } from './validate.js'
import { decodeHttpOptions, type HttpOracleOptions, type ResolvedHttpOptions } from './http-options.js'
import { jsonEndpoint, openInference, tfServing, type ChunkAnswer, type Endpoint } from './http-protocols.js'
import { httpClient, type HttpClient, type TransportStats } from './http-transport.js'

export {
  httpOptionsSchema,
  type HttpCommonOptions,
  type HttpOracleOptions,
  type HttpProtocol,
  type JsonDecoded,
  type JsonEndpointOptions,
  type OpenInferenceOptions,
  type TfServingOptions,
} from './http-options.js'
export type { TransportStats as HttpStats } from './http-transport.js'

/** What {@link fromHttp} can fail with: an oracle error (the server, the network), or options that do not decode. */
export type HttpOracleError = OracleError | InvalidOptions

/** An oracle behind an HTTP endpoint, with its transport counters. */
export interface HttpOracle extends Oracle {
  /**
   * Requests sent (every attempt, metadata included), retries, and attempts that failed retryably — what the
   * client did, beside what `meter` says the probe asked for.
   */
  readonly httpStats: () => Readonly<TransportStats>
}

const idOf = (o: ResolvedHttpOptions): string => {
  if (o.id !== undefined) return o.id
  const u = new URL(o.url)
  if (o.protocol === 'json') return `http:${u.host}${u.pathname === '/' ? '' : u.pathname}${o.model === undefined ? '' : `#${o.model}`}`
  return `http:${u.host}/${o.model}${o.version === undefined ? '' : `@${o.version}`}`
}

const settingsOf = (o: ResolvedHttpOptions) => ({
  headers: o.headers ?? {},
  timeoutMs: o.timeoutMs,
  retries: o.retries,
  retryBaseDelayMs: o.retryBaseDelayMs,
  retryMaxDelayMs: o.retryMaxDelayMs,
  concurrency: o.concurrency,
  seed: o.seed,
  signal: o.signal,
})

const connect = (o: ResolvedHttpOptions, client: HttpClient): TE.TaskEither<HttpOracleError, Endpoint> =>
  o.protocol === 'open-inference' ? openInference(o, client) : o.protocol === 'tf-serving' ? tfServing(o, client) : jsonEndpoint(o, client)

const infoOf = (o: ResolvedHttpOptions, endpoint: Endpoint): E.Either<HttpOracleError, OracleInfo> => {
  const inputDim = endpoint.inputShape.reduce((a, b) => a * b, 1)
  const info: OracleInfo = {
    id: idOf(o),
    inputDim,
    ...(endpoint.inputShape.length > 1 ? { inputShape: endpoint.inputShape } : {}),
    numClasses: endpoint.numClasses,
    output: o.output,
    ...(o.domain === undefined ? {} : { domain: o.domain }),
    ...(o.classNames === undefined ? {} : { classNames: o.classNames }),
  }
  return F.pipe(
    validateInfo(info),
    E.mapLeft((e) => errors.invalidOptions([{ path: 'options', message: `do not fit ${endpoint.describe}: ${e.message}` }])),
  )
}

/** One chunk's answer as a prediction of what `info` promises, checked against it. */
const predictionOf = (info: OracleInfo, rows: number, a: ChunkAnswer): E.Either<OracleError, Prediction> => {
  if (a.kind === 'labels') return F.pipe(validateLabels(info, rows, a.labels), E.map((labels) => ({ labels })))
  return F.pipe(
    validateScores(info.output === 'label' ? { ...info, output: 'logits' } : info, rows, a.scores),
    E.map((scores) => {
      const labels = labelsFromScores(scores, info.output === 'label' ? 0.5 : labelThreshold(info))
      return info.output === 'label' ? { labels } : { labels, scores }
    }),
  )
}

const concat = (parts: readonly Prediction[], rows: number, cols: number, withScores: boolean): Prediction => {
  const labels = new Int32Array(rows)
  const scores = withScores ? new Float64Array(rows * cols) : undefined
  let at = 0
  for (const p of parts) {
    labels.set(p.labels, at)
    if (scores !== undefined && p.scores !== undefined) scores.set(p.scores.data, at * cols)
    at += p.labels.length
  }
  return scores === undefined ? { labels } : { labels, scores: { rows, cols, data: scores } }
}

/**
 * An oracle for a model behind an HTTP endpoint: reads the server's metadata (and readiness), then answers
 * queries through the server, with `info` taken from what the server says.
 *
 * - `protocol: 'open-inference'` — KServe / Triton / MLServer v2 REST: `GET v2/models/{model}[/versions/{v}]`
 *   (+ `/ready`), then `POST …/infer`; FP32 and FP64 tensors; Triton's binary tensor extension when the server
 *   lists `binary_tensor_data` in `GET v2` (or `binaryData: true`).
 * - `protocol: 'tf-serving'` — TF Serving REST and KServe v1: `GET v1/models/{model}` and `…/metadata`
 *   (signature `serving_default`), then `POST …:predict` with `instances → predictions`. Without a
 *   `/metadata` route (KServe v1) give `inputDim` and `numClasses`.
 * - `protocol: 'json'` — any endpoint: your `encode(x)` builds the body, your `decode(body, x)` returns scores
 *   or labels; both run inside a try/catch (a throw is a `BadResponse`, a thrown `SondeError` keeps its tag).
 *
 * A query is split into requests of at most `maxBatchRows` rows, at most `concurrency` of them in flight (over all
 * queries of the oracle), and the answers are reassembled in order. Failures are mapped once, here: HTTP 429,
 * 5xx, connection resets and refusals → `Transport` with `retryable: true`; a request past `timeoutMs` →
 * `Timeout`; both retried `retries` times with exponential back-off and jitter, waiting at least what
 * `Retry-After` asks. Other 4xx → `BadResponse` naming the status and the server's `error` text; malformed
 * JSON (bare `NaN` included), wrong shapes and non-finite values → `BadResponse` naming the row and column.
 * `signal` aborts everything in flight (`Aborted`). Every option is checked before the first request:
 * `InvalidOptions` lists every bad path.
 *
 * Gotcha: retry here, not with `retry()` above — this loop knows `Retry-After` and retries one request, not the
 * whole query. Put `budget`, `journal` or `cache` above: `pipe(remote, budget(n), journal({ path }), meter)`.
 * The oracle has no gradients (these protocols have no gradient API).
 *
 * @example
 * // fragment: needs an Open Inference server at 127.0.0.1:8000
 * import { fromRows, toPromise } from '@sonde/oracle'
 * import { fromHttp } from '@sonde/oracle/http'
 *
 * const remote = await toPromise(fromHttp({ protocol: 'open-inference', url: 'http://127.0.0.1:8000', model: 'iris', timeoutMs: 5_000 }))
 * const p = await toPromise(remote.predict(fromRows([[5.1, 3.5, 1.4, 0.2]])))
 * const { requests, retries } = remote.httpStats()
 */
export const fromHttp = (options: HttpOracleOptions): TE.TaskEither<HttpOracleError, HttpOracle> =>
  F.pipe(
    TE.fromEither(decodeHttpOptions(options)),
    TE.chain((o) => {
      const client = httpClient(settingsOf(o))
      return F.pipe(
        connect(o, client),
        TE.chainEitherK((endpoint) => F.pipe(infoOf(o, endpoint), E.map((info) => assemble(o, client, endpoint, info)))),
      )
    }),
  )

const assemble = (o: ResolvedHttpOptions, client: HttpClient, endpoint: Endpoint, info: OracleInfo): HttpOracle => {
  const size = o.maxBatchRows
  const send = (q: Matrix): TE.TaskEither<OracleError, Prediction> => async () => {
    if (o.signal?.aborted === true) return E.left(errors.aborted(`a query of '${info.id}'`))
    const parts: Array<Promise<E.Either<OracleError, Prediction>>> = []
    for (let s = 0; s < q.rows; s += size) {
      const e = Math.min(q.rows, s + size)
      const chunk: Matrix = { rows: e - s, cols: q.cols, data: q.data.subarray(s * q.cols, e * q.cols) }
      parts.push(F.pipe(endpoint.infer(chunk, s), TE.chainEitherK((a) => predictionOf(info, e - s, a)))())
    }
    // Every request settles (each is bounded by its timeout) before the query answers: none is left running.
    const settled = await Promise.all(parts)
    const failed = settled.find(E.isLeft)
    if (failed !== undefined) return failed
    return E.right(concat(settled.map((r) => (r as E.Right<Prediction>).right), q.rows, info.numClasses, info.output !== 'label'))
  }
  return { info, predict: guardPredict(info, send), httpStats: () => ({ ...client.stats }) }
}
