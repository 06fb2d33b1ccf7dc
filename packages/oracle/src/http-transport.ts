/**
 * The HTTP boundary of `fromHttp`: one request with its own timeout, the mapping of every way it can fail to an
 * {@link OracleError} (done here, once), retries with exponential back-off, jitter and `Retry-After`, a limit on
 * requests in flight, and a JSON parser that survives the bare `NaN`/`Infinity` tokens some servers emit.
 *
 * Internal to `@sonde/oracle/http`: not reachable through the package's `exports`.
 */
import { either as E, taskEither as TE } from 'fp-ts'
import { errors, type OracleError } from './errors.js'
import { createRng } from './rng.js'

/** What every request of one oracle shares. */
export interface TransportSettings {
  readonly headers: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly retries: number
  readonly retryBaseDelayMs: number
  readonly retryMaxDelayMs: number
  readonly concurrency: number
  /** Seed of the back-off's random factor. */
  readonly seed: number
  readonly signal?: AbortSignal | undefined
}

/** One HTTP request, as the protocols describe it. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT'
  readonly url: string
  readonly body?: string | Uint8Array<ArrayBuffer>
  readonly headers?: Readonly<Record<string, string>>
}

/** A response with a 2xx status, its body read whole. */
export interface HttpResponse {
  readonly status: number
  readonly headers: Headers
  readonly body: Uint8Array
}

/** The outcome of one attempt: a failure may carry the server's `Retry-After`. */
type Failure = { readonly error: OracleError; readonly retryAfterMs?: number }

/** What the retry loop counts, for tests and for the oracle's `httpStats()`. */
export interface TransportStats {
  /** Requests sent (every attempt). */
  requests: number
  /** Attempts that were retries. */
  retries: number
  /** Attempts that failed with a retryable error. */
  retryableFailures: number
}

const describeCause = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const inner = (cause as { cause?: unknown }).cause
  const code = (inner as { code?: unknown } | undefined)?.code
  const innerMessage = inner instanceof Error ? inner.message : undefined
  return [cause.message, typeof code === 'string' ? code : undefined, innerMessage].filter((s) => s !== undefined && s !== '').join(': ')
}

// Codes of failures that another attempt cannot mend: the host does not exist, the URL is not one fetch takes.
const permanentCodes = new Set(['ENOTFOUND', 'EAI_NONAME', 'ERR_INVALID_URL', 'ERR_INVALID_ARG_TYPE', 'UND_ERR_INVALID_ARG', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED'])
const codeOf = (cause: unknown): string | undefined => {
  const inner = (cause as { cause?: { code?: unknown } } | undefined)?.cause
  return typeof inner?.code === 'string' ? inner.code : typeof (cause as { code?: unknown })?.code === 'string' ? (cause as { code: string }).code : undefined
}

/** Milliseconds a `Retry-After` header asks for (seconds, or an HTTP date), or undefined. */
export const parseRetryAfter = (value: string | null, now = Date.now()): number | undefined => {
  if (value === null || value.trim() === '') return undefined
  const seconds = Number(value.trim())
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(value)
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined
}

const textOf = (body: Uint8Array): string => new TextDecoder('utf-8', { fatal: false }).decode(body)

/** The server's own words on a failure: its `{"error": "…"}` field, or the start of the body. */
export const serverErrorText = (body: Uint8Array): string => {
  const text = textOf(body).trim()
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed !== null && typeof parsed === 'object') {
      const e = (parsed as { error?: unknown; message?: unknown; detail?: unknown }).error ?? (parsed as { message?: unknown }).message ?? (parsed as { detail?: unknown }).detail
      if (typeof e === 'string') return e
      if (e !== undefined) return JSON.stringify(e).slice(0, 500)
    }
  } catch {
    // not JSON: the text itself
  }
  return text === '' ? '(empty body)' : text.slice(0, 500)
}

/** The outcome of a single attempt, every failure mapped to an error value (never a throw). */
const attemptOnce = async (settings: TransportSettings, req: HttpRequest, stats: TransportStats): Promise<E.Either<Failure, HttpResponse>> => {
  const what = `${req.method} ${req.url}`
  if (settings.signal?.aborted === true) return E.left({ error: errors.aborted(what) })
  const timer = new AbortController()
  const handle = setTimeout(() => timer.abort(), settings.timeoutMs)
  const signal = settings.signal === undefined ? timer.signal : AbortSignal.any([settings.signal, timer.signal])
  const failed = (cause: unknown): Failure => {
    if (settings.signal?.aborted === true) return { error: errors.aborted(what) }
    if (timer.signal.aborted) return { error: errors.timeout(settings.timeoutMs, what) }
    const code = codeOf(cause)
    const retryable = code === undefined || !permanentCodes.has(code)
    return { error: errors.transport(`${what} failed: ${describeCause(cause)}`, retryable, cause) }
  }
  stats.requests++
  try {
    const init: RequestInit = { method: req.method, headers: { ...settings.headers, ...req.headers }, signal }
    const res = await fetch(req.url, req.body === undefined ? init : { ...init, body: req.body })
    // The body is read under the same timer: a server that sends headers and then stalls is a timeout too.
    const body = new Uint8Array(await res.arrayBuffer())
    if (res.status >= 200 && res.status < 300) return E.right({ status: res.status, headers: res.headers, body })
    const said = serverErrorText(body)
    if (res.status === 429 || res.status >= 500) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
      const error = errors.transport(`${what} answered HTTP ${res.status}: ${said}`, true, { status: res.status, body: said })
      return E.left(retryAfterMs === undefined ? { error } : { error, retryAfterMs })
    }
    return E.left({ error: errors.badResponse(`${what} answered HTTP ${res.status}: ${said}`, { status: res.status, body: said }) })
  } catch (cause) {
    return E.left(failed(cause))
  } finally {
    clearTimeout(handle)
  }
}

const sleep = (ms: number, signal: AbortSignal | undefined): Promise<boolean> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) return resolve(false)
    const done = (): void => {
      signal?.removeEventListener('abort', stop)
      resolve(true)
    }
    const stop = (): void => {
      clearTimeout(handle)
      resolve(false)
    }
    const handle = setTimeout(done, ms)
    signal?.addEventListener('abort', stop, { once: true })
  })

const retryable = (e: OracleError): boolean => (e._tag === 'Transport' && e.retryable) || e._tag === 'Timeout'

/** A semaphore: at most `n` tasks run at once; the others wait in order. */
export const limiter = (n: number) => {
  let running = 0
  const waiting: Array<() => void> = []
  return async <A>(task: () => Promise<A>): Promise<A> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

/** The client of one oracle: every request goes through the retry loop and the in-flight limit. */
export interface HttpClient {
  readonly send: (req: HttpRequest) => TE.TaskEither<OracleError, HttpResponse>
  readonly stats: TransportStats
}

/**
 * A client that sends each request with `settings.timeoutMs`, retries retryable failures (429, 5xx, resets,
 * timeouts) up to `settings.retries` times after waiting `min(max, base·2^attempt)` scaled by a seeded random factor in
 * [0.5, 1) — or what the server's `Retry-After` asks, when it asks more — and holds a slot of the
 * `settings.concurrency` limit only while a request is in flight (not while it waits to retry).
 *
 * A `Retry-After` longer than `retryMaxDelayMs` is not waited for: the error is returned, saying so.
 */
export const httpClient = (settings: TransportSettings): HttpClient => {
  const rng = createRng(settings.seed)
  const stats: TransportStats = { requests: 0, retries: 0, retryableFailures: 0 }
  const slot = limiter(settings.concurrency)
  const send =
    (req: HttpRequest): TE.TaskEither<OracleError, HttpResponse> =>
    async () => {
      for (let attempt = 0; ; attempt++) {
        const result = await slot(() => attemptOnce(settings, req, stats))
        if (E.isRight(result)) return result
        const { error, retryAfterMs } = result.left
        if (!retryable(error)) return E.left(error)
        stats.retryableFailures++
        if (attempt >= settings.retries) {
          return E.left(attempt === 0 ? error : withNote(error, `after ${attempt + 1} attempts`))
        }
        const backoff = Math.min(settings.retryMaxDelayMs, settings.retryBaseDelayMs * 2 ** attempt) * (0.5 + rng.next() / 2)
        if (retryAfterMs !== undefined && retryAfterMs > settings.retryMaxDelayMs) {
          return E.left(withNote(error, `the server asked to wait ${retryAfterMs} ms (Retry-After), more than retryMaxDelayMs = ${settings.retryMaxDelayMs}`))
        }
        const wait = Math.max(backoff, retryAfterMs ?? 0)
        if (!(await sleep(wait, settings.signal))) return E.left(errors.aborted(`${req.method} ${req.url}`))
        stats.retries++
      }
    }
  return { send, stats }
}

const withNote = (e: OracleError, note: string): OracleError => ({ ...e, message: `${e.message} (${note})` })

// ---------------------------------------------------------------------------------------------
// JSON that may hold bare NaN / Infinity / -Infinity tokens (TF Serving emits them; JSON.parse refuses them).

/** What a bare non-finite token becomes: a marker the decoders report with its row and column. */
export const nonFiniteMarker = '\u0000sonde-non-finite:'

/**
 * Parse a response body as JSON. Bare `NaN`, `Infinity` and `-Infinity` tokens outside strings are read as
 * markers (so a decoder can say *which* row and column held one); anything else that is not JSON is a
 * `BadResponse` naming the request and showing the start of the body.
 */
export const parseJsonBody = (body: Uint8Array, what: string): E.Either<OracleError, unknown> => {
  const text = textOf(body)
  try {
    return E.right(JSON.parse(text) as unknown)
  } catch (first) {
    const patched = replaceBareNonFinite(text)
    if (patched !== undefined) {
      try {
        return E.right(JSON.parse(patched) as unknown)
      } catch {
        // fall through: malformed for another reason
      }
    }
    const head = text.length > 120 ? `${text.slice(0, 120)}…` : text
    return E.left(errors.badResponse(`${what} answered with malformed JSON (${first instanceof Error ? first.message : String(first)}); the body starts ${JSON.stringify(head)}`))
  }
}

const replaceBareNonFinite = (text: string): string | undefined => {
  let out = ''
  let changed = false
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      out += c
      if (c === '\\') {
        out += text[i + 1] ?? ''
        i++
      } else if (c === '"') inString = false
      continue
    }
    if (c === '"') {
      inString = true
      out += c
      continue
    }
    const token = text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : text.startsWith('NaN', i) ? 'NaN' : undefined
    if (token !== undefined) {
      out += JSON.stringify(`${nonFiniteMarker}${token}`)
      i += token.length - 1
      changed = true
      continue
    }
    out += c
  }
  return changed ? out : undefined
}

/** A value as a decoder shows it in a message: a marker as its token, others as JSON. */
export const showValue = (v: unknown): string =>
  typeof v === 'string' && v.startsWith(nonFiniteMarker) ? v.slice(nonFiniteMarker.length) : v === undefined ? 'missing' : (JSON.stringify(v) ?? String(v)).slice(0, 60)
