/**
 * The three wire protocols of `fromHttp`: Open Inference v2, TF Serving / KServe v1, and any JSON endpoint.
 * Each reads what it can of the model from the server (metadata, readiness) and answers one chunk of rows with
 * a score matrix or labels, every malformed answer mapped to a `BadResponse` that names what was wrong and where.
 *
 * Internal to `@sonde/oracle/http`.
 */
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { attempt } from './adapters/function.js'
import { errors, type InvalidOptions, type OracleError } from './errors.js'
import type { Matrix } from './matrix.js'
import type { ResolvedHttpOptions } from './http-options.js'
import { nonFiniteMarker, parseJsonBody, showValue, type HttpClient, type HttpResponse } from './http-transport.js'

/** One chunk's answer: scores (rows × columns) or class indices. */
export type ChunkAnswer = { readonly kind: 'scores'; readonly scores: Matrix } | { readonly kind: 'labels'; readonly labels: Int32Array }

/** What a protocol learned from the server, and how it answers a chunk whose first row is row `offset` of the query. */
export interface Endpoint {
  readonly inputShape: readonly number[]
  /** Columns of the output tensor; for class indices, 1. */
  readonly outputColumns: number
  /** Whether the output holds class indices (a label-only model) rather than scores. */
  readonly classIndices: boolean
  readonly numClasses: number
  readonly describe: string
  readonly infer: (x: Matrix, offset: number) => TE.TaskEither<OracleError, ChunkAnswer>
}

/** What connecting to an endpoint can fail with: the server or the network, or options the server contradicts. */
export type ConnectError = OracleError | InvalidOptions

const bad = (message: string): OracleError => errors.badResponse(message)
const badOption = (path: string, message: string): InvalidOptions => errors.invalidOptions([{ path: `options.${path}`, message }])

const trimSlash = (u: string): string => u.replace(/\/+$/, '')
const enc = encodeURIComponent

// ---------------------------------------------------------------------------------------------
// Reading numbers out of a decoded body, naming the query row and column of the first bad one.

/**
 * The values of a rows × cols answer, row-major: `value` is flat (rows·cols numbers) or nested (rows of cols,
 * or of any nesting whose leaves count cols per row). `offset` turns chunk rows into query rows in messages.
 */
export const readMatrix = (value: unknown, rows: number, cols: number, where: string, offset: number): E.Either<OracleError, Float64Array> => {
  if (!Array.isArray(value)) return E.left(bad(`${where} is ${showValue(value)}; expected an array of ${rows}×${cols} numbers`))
  const out = new Float64Array(rows * cols)
  const flat = value.length === rows * cols && value.every((v) => !Array.isArray(v))
  if (!flat && value.length !== rows) {
    return E.left(bad(`${where} has ${value.length} entries; expected ${rows} rows of ${cols} values (or ${rows * cols} values flat)`))
  }
  for (let i = 0; i < rows; i++) {
    const leaves: unknown[] = []
    if (flat) for (let j = 0; j < cols; j++) leaves.push(value[i * cols + j])
    else flatten(value[i], leaves)
    if (leaves.length !== cols) return E.left(bad(`${where}: row ${offset + i} has ${leaves.length} values; expected ${cols}`))
    for (let j = 0; j < cols; j++) {
      const v = leaves[j]
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        const token = typeof v === 'string' && v.startsWith(nonFiniteMarker)
        return E.left(bad(`${where}: row ${offset + i}, column ${j} is ${showValue(v)}; expected a finite number${token ? ' (the server wrote a bare non-JSON token)' : ''}`))
      }
      out[i * cols + j] = v
    }
  }
  return E.right(out)
}

const flatten = (v: unknown, into: unknown[]): void => {
  if (Array.isArray(v)) for (const e of v) flatten(e, into)
  else into.push(v)
}

const toAnswer = (values: Float64Array, rows: number, cols: number, classIndices: boolean, where: string, offset: number): E.Either<OracleError, ChunkAnswer> => {
  if (!classIndices) return E.right({ kind: 'scores', scores: { rows, cols, data: values } })
  const labels = new Int32Array(rows)
  for (let i = 0; i < rows; i++) {
    const v = values[i]!
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) return E.left(bad(`${where}: row ${offset + i} is ${v}; expected a class index (an integer ≥ 0)`))
    labels[i] = v
  }
  return E.right({ kind: 'labels', labels })
}

/** The shape of one row and the number of output columns, from tensor shapes whose first dimension is the batch. */
const perRow = (shape: readonly number[]): readonly number[] => (shape.length >= 2 ? shape.slice(1) : [])

const resolveShapes = (
  o: ResolvedHttpOptions,
  input: readonly number[] | undefined,
  output: readonly number[] | undefined,
  names: { readonly input: string; readonly output: string },
): E.Either<ConnectError, { inputShape: readonly number[]; outputColumns: number; classIndices: boolean; numClasses: number }> => {
  const inputShape = o.inputShape ?? (input === undefined ? undefined : perRow(input))
  if (inputShape === undefined || inputShape.length === 0 || inputShape.some((d) => !(d > 0))) {
    return E.left(badOption('inputShape', `is required: the server describes input '${names.input}' as [${(input ?? []).join(', ')}], which leaves the size of one row open`))
  }
  const outRow = output === undefined ? undefined : perRow(output)
  const known = outRow !== undefined && outRow.every((d) => d > 0)
  const columns = known ? outRow.reduce((a, b) => a * b, 1) : undefined
  const classIndices = o.output === 'label' && (columns === undefined ? o.numClasses !== undefined && outRow !== undefined && outRow.length === 0 : columns === 1)
  if (classIndices) {
    if (o.numClasses === undefined) return E.left(badOption('numClasses', `is required: output '${names.output}' holds one class index per row, which does not say how many classes there are`))
    return E.right({ inputShape, outputColumns: 1, classIndices, numClasses: o.numClasses })
  }
  const k = columns ?? o.numClasses
  if (k === undefined) return E.left(badOption('numClasses', `is required: the server describes output '${names.output}' as [${(output ?? []).join(', ')}], which leaves the number of classes open`))
  if (o.numClasses !== undefined && o.numClasses !== k) return E.left(badOption('numClasses', `is ${o.numClasses}, but output '${names.output}' has ${k} columns`))
  return E.right({ inputShape, outputColumns: k, classIndices: false, numClasses: k })
}

const getJson = (client: HttpClient, url: string): TE.TaskEither<OracleError, unknown> =>
  F.pipe(
    client.send({ method: 'GET', url }),
    TE.chainEitherK((r) => parseJsonBody(r.body, `GET ${url}`)),
  )

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

// ---------------------------------------------------------------------------------------------
// Open Inference Protocol v2

interface TensorMeta {
  readonly name: string
  readonly datatype: string
  readonly shape: readonly number[]
}

const tensorMetas = (v: unknown, where: string): E.Either<OracleError, readonly TensorMeta[]> => {
  if (!Array.isArray(v) || v.length === 0) return E.left(bad(`${where} is ${showValue(v)}; expected a non-empty array of {name, datatype, shape}`))
  const out: TensorMeta[] = []
  for (const [i, t] of v.entries()) {
    if (!isObject(t) || typeof t.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.shape) || !t.shape.every((d) => typeof d === 'number')) {
      return E.left(bad(`${where}[${i}] is ${showValue(t)}; expected {name, datatype, shape}`))
    }
    out.push({ name: t.name, datatype: t.datatype, shape: t.shape as number[] })
  }
  return E.right(out)
}

const pick = (list: readonly TensorMeta[], wanted: string | undefined, option: string, kind: string): E.Either<ConnectError, TensorMeta> => {
  if (wanted !== undefined) {
    const t = list.find((m) => m.name === wanted)
    return t === undefined ? E.left(badOption(option, `is '${wanted}'; the model's ${kind}s are ${list.map((m) => `'${m.name}'`).join(', ')}`)) : E.right(t)
  }
  if (list.length > 1) return E.left(badOption(option, `is required: the model has ${list.length} ${kind}s (${list.map((m) => `'${m.name}'`).join(', ')})`))
  return E.right(list[0]!)
}

const floatTypes = new Set(['FP32', 'FP64'])
const indexTypes = new Set(['INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'INT8', 'INT16', 'UINT64'])
const byteWidth: Record<string, number> = { FP32: 4, FP64: 8, INT32: 4, INT64: 8, UINT8: 1, UINT16: 2, UINT32: 4, INT8: 1, INT16: 2, UINT64: 8 }

/** Little-endian values of a binary tensor as float64. */
const readBinary = (bytes: Uint8Array, datatype: string, count: number, where: string): E.Either<OracleError, number[]> => {
  const w = byteWidth[datatype]
  if (w === undefined) return E.left(bad(`${where} has datatype ${datatype}; expected FP32, FP64 or an integer type`))
  if (bytes.byteLength !== w * count) return E.left(bad(`${where} holds ${bytes.byteLength} bytes; ${count} ${datatype} values need ${w * count}`))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Array<number>(count)
  for (let k = 0; k < count; k++) {
    const at = k * w
    out[k] =
      datatype === 'FP32' ? view.getFloat32(at, true)
      : datatype === 'FP64' ? view.getFloat64(at, true)
      : datatype === 'INT32' ? view.getInt32(at, true)
      : datatype === 'INT64' ? Number(view.getBigInt64(at, true))
      : datatype === 'UINT64' ? Number(view.getBigUint64(at, true))
      : datatype === 'UINT32' ? view.getUint32(at, true)
      : datatype === 'INT16' ? view.getInt16(at, true)
      : datatype === 'UINT16' ? view.getUint16(at, true)
      : datatype === 'INT8' ? view.getInt8(at)
      : view.getUint8(at)
  }
  return E.right(out)
}

const headerLength = 'inference-header-content-length'

/** Split a response into its JSON header and its binary tail (the binary tensor extension), or JSON only. */
const splitBinary = (r: HttpResponse, what: string): E.Either<OracleError, { json: unknown; tail: Uint8Array }> => {
  const h = r.headers.get(headerLength)
  if (h === null) return F.pipe(parseJsonBody(r.body, what), E.map((json) => ({ json, tail: new Uint8Array(0) })))
  const n = Number(h)
  if (!Number.isInteger(n) || n < 0 || n > r.body.byteLength) return E.left(bad(`${what}: the ${headerLength} header is ${h}; the body has ${r.body.byteLength} bytes`))
  return F.pipe(parseJsonBody(r.body.subarray(0, n), what), E.map((json) => ({ json, tail: r.body.subarray(n) })))
}

/** Connect to an Open Inference Protocol v2 server: read the model's metadata, and answer chunks through `/infer`. */
export const openInference = (o: Extract<ResolvedHttpOptions, { protocol: 'open-inference' }>, client: HttpClient): TE.TaskEither<ConnectError, Endpoint> => {
  const base = trimSlash(o.url)
  const modelUrl = `${base}/v2/models/${enc(o.model)}${o.version === undefined ? '' : `/versions/${enc(o.version)}`}`
  const ready: TE.TaskEither<ConnectError, void> = F.pipe(
    client.send({ method: 'GET', url: `${modelUrl}/ready` }),
    TE.chainEitherKW((r) => {
      // The status says ready; a body, where there is one, may say otherwise.
      const body = r.body.byteLength === 0 ? E.right<OracleError, unknown>({}) : parseJsonBody(r.body, `GET ${modelUrl}/ready`)
      return F.pipe(
        body,
        E.chain((b) => (isObject(b) && b.ready === false ? E.left(errors.transport(`model '${o.model}' at ${base} is not ready (GET ${modelUrl}/ready)`, true)) : E.right(undefined))),
      )
    }),
  )
  const extensions: TE.TaskEither<ConnectError, readonly string[]> =
    o.binaryData !== 'auto'
      ? TE.right([])
      : F.pipe(
          getJson(client, `${base}/v2`),
          // A server without GET /v2 (or with an odd one) simply lists no extension.
          TE.map((m) => (isObject(m) && Array.isArray(m.extensions) ? m.extensions.filter((e): e is string => typeof e === 'string') : [])),
          TE.orElse((e) => (e._tag === 'BadResponse' ? TE.right<OracleError, readonly string[]>([]) : TE.left(e))),
        )
  return F.pipe(
    TE.Do,
    TE.apS('ready', ready),
    TE.apS('meta', getJson(client, modelUrl) as TE.TaskEither<ConnectError, unknown>),
    TE.apS('extensions', extensions),
    TE.chainEitherKW(({ meta, extensions: ext }) =>
      F.pipe(
        E.Do,
        E.bind('inputs', () => (isObject(meta) ? tensorMetas(meta.inputs, `the metadata of model '${o.model}' (GET ${modelUrl}): inputs`) : E.left(bad(`GET ${modelUrl} answered ${showValue(meta)}; expected model metadata {name, inputs, outputs}`)))),
        E.bind('outputs', () => tensorMetas((meta as Record<string, unknown>).outputs, `the metadata of model '${o.model}' (GET ${modelUrl}): outputs`)),
        E.bindW('input', ({ inputs }) => pick(inputs, o.inputName, 'inputName', 'input')),
        E.bindW('output', ({ outputs }) => pick(outputs, o.outputName, 'outputName', 'output')),
        E.chainW(({ input, output }) => {
          if (!floatTypes.has(input.datatype)) return E.left<ConnectError, never>(bad(`input '${input.name}' of model '${o.model}' has datatype ${input.datatype}; fromHttp sends FP32 or FP64`))
          if (!floatTypes.has(output.datatype) && !(o.output === 'label' && indexTypes.has(output.datatype))) {
            return E.left<ConnectError, never>(bad(`output '${output.name}' of model '${o.model}' has datatype ${output.datatype}; fromHttp reads FP32 or FP64 scores${o.output === 'label' ? ' or integer class indices' : ''}`))
          }
          const binary = o.binaryData === true || (o.binaryData === 'auto' && ext.includes('binary_tensor_data'))
          return F.pipe(
            resolveShapes(o, input.shape, output.shape, { input: input.name, output: output.name }),
            E.map((s): Endpoint => ({ ...s, describe: `model '${o.model}' at ${base}`, infer: oipInfer(client, `${modelUrl}/infer`, input, output.name, s, binary) })),
          )
        }),
      ),
    ),
  )
}

const oipInfer =
  (client: HttpClient, url: string, input: TensorMeta, outputName: string, s: { inputShape: readonly number[]; outputColumns: number; classIndices: boolean }, binary: boolean) =>
  (x: Matrix, offset: number): TE.TaskEither<OracleError, ChunkAnswer> => {
    const what = `POST ${url}`
    const shape = [x.rows, ...s.inputShape]
    const fp32 = input.datatype === 'FP32'
    let body: string | Uint8Array<ArrayBuffer>
    const headers: Record<string, string> = {}
    if (binary) {
      const raw = fp32 ? new Float32Array(x.data) : new Float64Array(x.data)
      const header = new TextEncoder().encode(
        JSON.stringify({
          inputs: [{ name: input.name, shape, datatype: input.datatype, parameters: { binary_data_size: raw.byteLength } }],
          outputs: [{ name: outputName, parameters: { binary_data: true } }],
        }),
      )
      const all = new Uint8Array(header.byteLength + raw.byteLength)
      all.set(header, 0)
      // Typed arrays are little-endian on every platform Node supports; the extension wants little-endian.
      all.set(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), header.byteLength)
      body = all
      headers['content-type'] = 'application/octet-stream'
      headers[headerLength] = String(header.byteLength)
    } else {
      body = JSON.stringify({ inputs: [{ name: input.name, shape, datatype: input.datatype, data: Array.from(x.data) }], outputs: [{ name: outputName }] })
      headers['content-type'] = 'application/json'
    }
    return F.pipe(
      client.send({ method: 'POST', url, body, headers }),
      TE.chainEitherK((r) =>
        F.pipe(
          splitBinary(r, what),
          E.chain(({ json, tail }) => {
            if (!isObject(json) || !Array.isArray(json.outputs)) return E.left(bad(`${what} answered ${showValue(json)}; expected {outputs: [{name, shape, datatype, data}]}`))
            // Binary outputs follow the header in the order the outputs are listed.
            let at = 0
            for (const out of json.outputs as unknown[]) {
              if (!isObject(out)) return E.left(bad(`${what}: an entry of outputs is ${showValue(out)}; expected {name, shape, datatype, data}`))
              const size = isObject(out.parameters) && typeof out.parameters.binary_data_size === 'number' ? out.parameters.binary_data_size : undefined
              if (out.name !== outputName) {
                at += size ?? 0
                continue
              }
              const where = `output '${outputName}' of ${what}`
              if (Array.isArray(out.shape) && out.shape[0] !== x.rows) return E.left(bad(`${where} has shape [${(out.shape as unknown[]).join(', ')}]; expected ${x.rows} rows first`))
              const values: E.Either<OracleError, unknown> =
                size === undefined
                  ? E.right(out.data)
                  : at + size > tail.byteLength
                    ? E.left(bad(`${where} says ${size} binary bytes at offset ${at}; the body has ${tail.byteLength} after its header`))
                    : readBinary(tail.subarray(at, at + size), String(out.datatype), size / (byteWidth[String(out.datatype)] ?? 1), where)
              return F.pipe(
                values,
                E.chain((v) => readMatrix(v, x.rows, s.outputColumns, where, offset)),
                E.chain((v) => toAnswer(v, x.rows, s.outputColumns, s.classIndices, where, offset)),
              )
            }
            return E.left(bad(`${what} answered without output '${outputName}' (it has ${(json.outputs as unknown[]).map((e) => (isObject(e) ? `'${String(e.name)}'` : '?')).join(', ')})`))
          }),
        ),
      ),
    )
  }

// ---------------------------------------------------------------------------------------------
// TF Serving REST (and KServe v1: the same `instances → predictions`)

const tfShape = (t: unknown): readonly number[] | undefined => {
  if (!isObject(t) || !isObject(t.tensor_shape)) return undefined
  const dims = t.tensor_shape.dim
  if (!Array.isArray(dims)) return t.tensor_shape.unknown_rank === true ? undefined : []
  return dims.map((d) => (isObject(d) ? Number(d.size) : Number.NaN))
}

const nest = (flat: Float64Array, offset: number, shape: readonly number[]): unknown => {
  if (shape.length <= 1) return Array.from(flat.subarray(offset, offset + (shape[0] ?? 1)))
  const inner = shape.slice(1)
  const step = inner.reduce((a, b) => a * b, 1)
  return Array.from({ length: shape[0]! }, (_, i) => nest(flat, offset + i * step, inner))
}

/** Connect to TensorFlow Serving (or KServe v1): read the model's signature, and answer chunks through `:predict`. */
export const tfServing = (o: Extract<ResolvedHttpOptions, { protocol: 'tf-serving' }>, client: HttpClient): TE.TaskEither<ConnectError, Endpoint> => {
  const base = trimSlash(o.url)
  const modelUrl = `${base}/v1/models/${enc(o.model)}${o.version === undefined ? '' : `/versions/${enc(o.version)}`}`
  const signature = o.signatureName ?? 'serving_default'
  const status = F.pipe(
    getJson(client, modelUrl),
    TE.chainEitherK((s): E.Either<OracleError, void> => {
      if (isObject(s) && Array.isArray(s.model_version_status)) {
        const states = (s.model_version_status as unknown[]).map((v) => (isObject(v) ? String(v.state) : '?'))
        return states.includes('AVAILABLE') ? E.right(undefined) : E.left(errors.transport(`model '${o.model}' at ${base} has no AVAILABLE version (states: ${states.join(', ')})`, true))
      }
      if (isObject(s) && s.ready === false) return E.left(errors.transport(`model '${o.model}' at ${base} is not ready (GET ${modelUrl})`, true))
      return E.right(undefined)
    }),
  )
  // KServe v1 has no /metadata: then the shapes come from the options.
  const metadata: TE.TaskEither<OracleError, unknown> = async () => {
    const r = await client.send({ method: 'GET', url: `${modelUrl}/metadata` })()
    if (E.isRight(r)) return parseJsonBody(r.right.body, `GET ${modelUrl}/metadata`)
    const e = r.left
    return e._tag === 'BadResponse' && isObject(e.cause) && e.cause.status === 404 ? E.right(undefined) : r
  }
  return F.pipe(
    TE.Do,
    TE.apS('status', status as TE.TaskEither<ConnectError, void>),
    TE.apS('meta', metadata as TE.TaskEither<ConnectError, unknown>),
    TE.chainEitherKW(({ meta }): E.Either<ConnectError, Endpoint> => {
      let input: readonly number[] | undefined
      let output: readonly number[] | undefined
      let names = { input: o.inputName ?? 'input', output: o.outputName ?? 'output' }
      if (meta !== undefined) {
        const defs = isObject(meta) && isObject(meta.metadata) && isObject(meta.metadata.signature_def) && isObject(meta.metadata.signature_def.signature_def) ? meta.metadata.signature_def.signature_def : undefined
        const sig = defs?.[signature]
        if (!isObject(sig) || !isObject(sig.inputs) || !isObject(sig.outputs)) {
          return E.left(bad(`GET ${modelUrl}/metadata has no signature '${signature}'${defs === undefined ? '' : ` (signatures: ${Object.keys(defs).map((k) => `'${k}'`).join(', ')})`}`))
        }
        const list = (m: Record<string, unknown>): TensorMeta[] => Object.entries(m).map(([name, t]) => ({ name, datatype: isObject(t) ? String(t.dtype) : '?', shape: tfShape(t) ?? [] }))
        const picked = F.pipe(
          E.Do,
          E.bind('i', () => pick(list(sig.inputs as Record<string, unknown>), o.inputName, 'inputName', 'input')),
          E.bind('out', () => pick(list(sig.outputs as Record<string, unknown>), o.outputName, 'outputName', 'output')),
        )
        if (E.isLeft(picked)) return picked
        const { i, out } = picked.right
        if (i.datatype !== 'DT_FLOAT' && i.datatype !== 'DT_DOUBLE') return E.left(bad(`input '${i.name}' of model '${o.model}' has dtype ${i.datatype}; fromHttp sends DT_FLOAT or DT_DOUBLE`))
        input = i.shape
        output = out.shape
        names = { input: i.name, output: out.name }
      } else if (o.inputShape === undefined && o.inputDim === undefined) {
        return E.left(badOption('inputDim', `is required: the server has no ${modelUrl}/metadata (a KServe v1 server?), so give inputDim (or inputShape) and numClasses`))
      } else if (o.numClasses === undefined) {
        return E.left(badOption('numClasses', `is required: the server has no ${modelUrl}/metadata (a KServe v1 server?), so give numClasses`))
      }
      const opts = o.inputShape === undefined && o.inputDim !== undefined && input === undefined ? { ...o, inputShape: [o.inputDim] } : o
      return F.pipe(
        resolveShapes(opts, input, output, names),
        E.map((s): Endpoint => ({ ...s, describe: `model '${o.model}' at ${base}`, infer: tfInfer(client, `${modelUrl}:predict`, o.signatureName, meta !== undefined ? names.output : o.outputName, s) })),
      )
    }),
  )
}

const tfInfer =
  (client: HttpClient, url: string, signatureName: string | undefined, outputName: string | undefined, s: { inputShape: readonly number[]; outputColumns: number; classIndices: boolean }) =>
  (x: Matrix, offset: number): TE.TaskEither<OracleError, ChunkAnswer> => {
    const what = `POST ${url}`
    const d = x.cols
    const instances = Array.from({ length: x.rows }, (_, i) => nest(x.data, i * d, s.inputShape))
    const body = JSON.stringify(signatureName === undefined ? { instances } : { signature_name: signatureName, instances })
    return F.pipe(
      client.send({ method: 'POST', url, body, headers: { 'content-type': 'application/json' } }),
      TE.chainEitherK((r) => parseJsonBody(r.body, what)),
      TE.chainEitherK((json) => {
        if (!isObject(json) || !Array.isArray(json.predictions)) return E.left(bad(`${what} answered ${showValue(json)}; expected {predictions: [...]}`))
        let rows: unknown[] = json.predictions
        // With several outputs each prediction is an object keyed by output name.
        if (rows.length > 0 && isObject(rows[0])) {
          if (outputName === undefined) return E.left(bad(`${what} answered predictions keyed by ${Object.keys(rows[0]).map((k) => `'${k}'`).join(', ')}; say which output with outputName`))
          rows = rows.map((p) => (isObject(p) ? p[outputName] : p))
        }
        const where = `predictions of ${what}`
        return F.pipe(
          readMatrix(rows, x.rows, s.outputColumns, where, offset),
          E.chain((v) => toAnswer(v, x.rows, s.outputColumns, s.classIndices, where, offset)),
        )
      }),
    )
  }

// ---------------------------------------------------------------------------------------------
// Any JSON endpoint: the user's encode and decode, each run inside one try/catch.

/** Connect to any JSON endpoint: the shape comes from the options, and each chunk goes through the user's `encode` and `decode`. */
export const jsonEndpoint = (o: Extract<ResolvedHttpOptions, { protocol: 'json' }>, client: HttpClient): TE.TaskEither<ConnectError, Endpoint> => {
  const inputShape = o.inputShape ?? [o.inputDim!]
  const dim = inputShape.reduce((a, b) => a * b, 1)
  if (o.inputDim !== undefined && o.inputDim !== dim) return TE.left(badOption('inputDim', `is ${o.inputDim}, but inputShape [${inputShape.join(', ')}] has ${dim} elements`))
  const k = o.numClasses
  const what = `${o.method} ${o.url}`
  const infer = (x: Matrix, offset: number): TE.TaskEither<OracleError, ChunkAnswer> =>
    F.pipe(
      attempt(`the encode function of the json endpoint ${o.url}`, () => {
        const b = o.encode(x)
        return typeof b === 'string' ? b : JSON.stringify(b)
      }),
      TE.chain((body) => client.send({ method: o.method, url: o.url, body, headers: { 'content-type': 'application/json' } })),
      TE.chainEitherK((r) => parseJsonBody(r.body, what)),
      TE.chain((json) => attempt(`the decode function of the json endpoint ${o.url}`, () => o.decode(json, x))),
      TE.chainEitherK((out): E.Either<OracleError, ChunkAnswer> => {
        const where = `what decode returned for ${what}`
        if (out instanceof Int32Array) return checkLabels(out, x.rows, where)
        if (isObject(out) && (out as Partial<Matrix>).data instanceof Float64Array) {
          const m = out as unknown as Matrix
          if (m.rows !== x.rows || m.cols !== k) return E.left(bad(`${where} is a ${m.rows}×${m.cols} matrix; expected ${x.rows}×${k}`))
          return F.pipe(
            readMatrix(Array.from(m.data), x.rows, k, where, offset),
            E.map((data): ChunkAnswer => ({ kind: 'scores', scores: { rows: x.rows, cols: k, data } })),
          )
        }
        const labelsOnly = o.output === 'label' && Array.isArray(out) && out.length === x.rows && out.every((v) => !Array.isArray(v)) && (k > 1 || out.every((v) => Number.isInteger(v)))
        if (labelsOnly) return F.pipe(readMatrix(out, x.rows, 1, where, offset), E.chain((v) => toAnswer(v, x.rows, 1, true, where, offset)))
        return F.pipe(
          readMatrix(out, x.rows, k, where, offset),
          E.map((data): ChunkAnswer => ({ kind: 'scores', scores: { rows: x.rows, cols: k, data } })),
        )
      }),
    )
  return TE.right({ inputShape, outputColumns: k, classIndices: false, numClasses: k, describe: `the json endpoint ${o.url}`, infer })
}

const checkLabels = (labels: Int32Array, rows: number, where: string): E.Either<OracleError, ChunkAnswer> =>
  labels.length === rows ? E.right({ kind: 'labels', labels }) : E.left(bad(`${where} holds ${labels.length} labels; expected ${rows}`))
