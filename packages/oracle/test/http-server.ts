// A real model server for the fromHttp tests: node:http on 127.0.0.1 (port 0), serving a seeded 4 → 8 → 3 ReLU
// network computed in float64 behind Open Inference v2 (JSON and the binary tensor extension), TF Serving REST
// and a plain JSON route, with fault injection on inference requests and its own count of every row it answered
// (a row counts once its response has been handed to the socket: a response the client gave up on is not an answer).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRng } from '../src/index.js'

export const D = 4
export const H = 8
export const K = 3

/** The served network's weights (seed 7), and an independent float64 evaluation of it. */
export const weights = (() => {
  const rng = createRng(7)
  const w1 = Float64Array.from({ length: H * D }, () => rng.normal())
  const b1 = Float64Array.from({ length: H }, () => rng.normal() / 2)
  const w2 = Float64Array.from({ length: K * H }, () => rng.normal())
  const b2 = Float64Array.from({ length: K }, () => rng.normal() / 2)
  return { w1, b1, w2, b2 }
})()

/** Logits and softmax probabilities of one row, in float64. */
export const evaluate = (x: ArrayLike<number>): { logits: number[]; probabilities: number[] } => {
  const { w1, b1, w2, b2 } = weights
  const h = Array.from({ length: H }, (_, u) => {
    let s = b1[u]!
    for (let j = 0; j < D; j++) s += w1[u * D + j]! * x[j]!
    return Math.max(0, s)
  })
  const logits = Array.from({ length: K }, (_, c) => {
    let s = b2[c]!
    for (let u = 0; u < H; u++) s += w2[c * H + u]! * h[u]!
    return s
  })
  const m = Math.max(...logits)
  const e = logits.map((z) => Math.exp(z - m))
  const sum = e.reduce((a, b) => a + b, 0)
  return { logits, probabilities: e.map((v) => v / sum) }
}

/** Faults injected on inference requests, by the 1-based number of the request (`every: n` → requests n, 2n, …). */
export interface Faults {
  every503?: number
  every429?: number
  retryAfterS?: number
  slowEvery?: number
  slowMs?: number
  dropEvery?: number
  malformedEvery?: number
  wrongShapeEvery?: number
  nanEvery?: number
  /** Server latency added to every inference request, in ms. */
  latencyMs?: number
}

export interface ServerOptions {
  /** The FP type the model's tensors declare. Default FP32 (inputs and outputs rounded to float32). */
  readonly datatype?: 'FP32' | 'FP64'
  /** List `binary_tensor_data` among the v2 extensions. Default false. */
  readonly binary?: boolean
  /** The output: probabilities (default), logits, or class indices. */
  readonly output?: 'probabilities' | 'logits' | 'label'
  readonly faults?: Faults
  /** Serve TF Serving without a /metadata route (as KServe v1). */
  readonly noTfMetadata?: boolean
}

export interface ServerStats {
  inferRequests: number
  /** Most inference requests in flight at once. */
  maxInFlight: number
  /** Rows delivered, keyed by the row's values: a row answered twice has a count of 2. */
  readonly answered: Map<string, number>
  readonly faults: Record<'503' | '429' | 'slow' | 'drop' | 'malformed' | 'wrongShape' | 'nan', number>
}

export interface ModelServer {
  readonly url: string
  readonly stats: ServerStats
  faults: Faults
  readonly rowsAnswered: () => number
  readonly rowsAnsweredTwice: () => number
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const rowKey = (x: ArrayLike<number>): string => Array.from(x).join(',')

const body = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => resolve(Buffer.concat(parts)))
    req.on('error', reject)
  })

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export const startModelServer = async (options: ServerOptions = {}): Promise<ModelServer> => {
  const datatype = options.datatype ?? 'FP32'
  const output = options.output ?? 'probabilities'
  const round = datatype === 'FP32' ? Math.fround : (v: number) => v
  const stats: ServerStats = { inferRequests: 0, maxInFlight: 0, answered: new Map(), faults: { '503': 0, '429': 0, slow: 0, drop: 0, malformed: 0, wrongShape: 0, nan: 0 } }
  const server: { faults: Faults } = { faults: { ...options.faults } }
  const outName = output === 'label' ? 'class' : output === 'logits' ? 'logits' : 'probabilities'
  const outCols = output === 'label' ? 1 : K

  const answer = (rows: number[][]): number[][] =>
    rows.map((r) => {
      const e = evaluate(r.map(round))
      return output === 'label' ? [e.probabilities.indexOf(Math.max(...e.probabilities))] : (output === 'logits' ? e.logits : e.probabilities).map(round)
    })

  const send = (res: ServerResponse, status: number, payload: string | Buffer, headers: Record<string, string> = {}, rows: number[][] = []): void => {
    // The client gave up (a timeout): nothing is delivered, nothing counted.
    if (res.destroyed || res.socket === null || res.socket.destroyed) return
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.on('finish', () => {
      for (const r of rows) stats.answered.set(rowKey(r), (stats.answered.get(rowKey(r)) ?? 0) + 1)
    })
    res.end(payload)
  }
  const json = (res: ServerResponse, status: number, v: unknown): void => send(res, status, JSON.stringify(v))

  /** A fault for this inference request, if one is due; true when the request has been dealt with. */
  const fault = async (req: IncomingMessage, res: ServerResponse): Promise<'nan' | 'wrongShape' | 'malformed' | boolean> => {
    const n = ++stats.inferRequests
    const f = server.faults
    const due = (every: number | undefined): boolean => every !== undefined && every > 0 && n % every === 0
    if (f.latencyMs !== undefined) await sleep(f.latencyMs)
    if (due(f.dropEvery)) {
      stats.faults.drop++
      req.socket.destroy()
      return true
    }
    if (due(f.every503)) {
      stats.faults['503']++
      json(res, 503, { error: 'model server overloaded' })
      return true
    }
    if (due(f.every429)) {
      stats.faults['429']++
      send(res, 429, JSON.stringify({ error: 'rate limited' }), { 'retry-after': String(f.retryAfterS ?? 0) })
      return true
    }
    if (due(f.slowEvery)) {
      stats.faults.slow++
      await sleep(f.slowMs ?? 1000)
      return false
    }
    if (due(f.malformedEvery)) return (stats.faults.malformed++, 'malformed')
    if (due(f.wrongShapeEvery)) return (stats.faults.wrongShape++, 'wrongShape')
    if (due(f.nanEvery)) return (stats.faults.nan++, 'nan')
    return false
  }

  const v2Meta = {
    name: 'mlp',
    versions: ['1'],
    platform: 'sonde-test',
    inputs: [{ name: 'x', datatype, shape: [-1, D] }],
    outputs: [{ name: outName, datatype: output === 'label' ? 'INT64' : datatype, shape: output === 'label' ? [-1] : [-1, K] }],
  }
  const tfDtype = datatype === 'FP32' ? 'DT_FLOAT' : 'DT_DOUBLE'
  const tfMeta = {
    model_spec: { name: 'mlp', version: '1' },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: { x: { dtype: tfDtype, tensor_shape: { dim: [{ size: '-1' }, { size: String(D) }] }, name: 'serving_default_x:0' } },
            outputs: { [outName]: { dtype: output === 'label' ? 'DT_INT64' : tfDtype, tensor_shape: { dim: output === 'label' ? [{ size: '-1' }] : [{ size: '-1' }, { size: String(K) }] }, name: 'StatefulPartitionedCall:0' } },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  }

  const v2Infer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await body(req)
    const f = await fault(req, res)
    if (f === true || res.destroyed) return
    const headerLength = req.headers['inference-header-content-length']
    const header = JSON.parse(raw.subarray(0, headerLength === undefined ? raw.length : Number(headerLength)).toString('utf8')) as {
      inputs: Array<{ name: string; shape: number[]; datatype: string; data?: number[]; parameters?: { binary_data_size?: number } }>
      outputs?: Array<{ name: string; parameters?: { binary_data?: boolean } }>
    }
    const input = header.inputs[0]!
    if (input.name !== 'x' || input.shape.length !== 2 || input.shape[1] !== D || input.datatype !== datatype) {
      return json(res, 400, { error: `expected input 'x' of shape [N, ${D}] and datatype ${datatype}; got '${input.name}' [${input.shape.join(', ')}] ${input.datatype}` })
    }
    const n = input.shape[0]!
    let flat: number[]
    if (input.parameters?.binary_data_size !== undefined) {
      const bytes = raw.subarray(Number(headerLength))
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const w = datatype === 'FP32' ? 4 : 8
      flat = Array.from({ length: n * D }, (_, k) => (w === 4 ? view.getFloat32(k * w, true) : view.getFloat64(k * w, true)))
    } else flat = input.data!
    const rows = Array.from({ length: n }, (_, i) => flat.slice(i * D, (i + 1) * D))
    const out = answer(rows)
    const wantBinary = header.outputs?.[0]?.parameters?.binary_data === true
    if (f === 'malformed') return send(res, 200, '{"model_name": "mlp", "outputs": [{"name": ', {}, rows)
    if (f === 'nan') return send(res, 200, `{"model_name":"mlp","outputs":[{"name":"${outName}","shape":[${n},${outCols}],"datatype":"${datatype}","data":[NaN${',0'.repeat(n * outCols - 1)}]}]}`, {}, rows)
    const data = f === 'wrongShape' ? out.flat().slice(0, n * outCols - 1) : out.flat()
    const shape = f === 'wrongShape' ? [n, outCols - 1 || 1] : output === 'label' ? [n] : [n, K]
    if (wantBinary) {
      const bytes = output === 'label' ? new Uint8Array(BigInt64Array.from(data.map(BigInt)).buffer) : datatype === 'FP32' ? new Uint8Array(Float32Array.from(data).buffer) : new Uint8Array(Float64Array.from(data).buffer)
      const head = Buffer.from(JSON.stringify({ model_name: 'mlp', outputs: [{ name: outName, shape, datatype: v2Meta.outputs[0]!.datatype, parameters: { binary_data_size: bytes.byteLength } }] }))
      return send(res, 200, Buffer.concat([head, Buffer.from(bytes)]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) }, rows)
    }
    send(res, 200, JSON.stringify({ model_name: 'mlp', model_version: '1', outputs: [{ name: outName, shape, datatype: v2Meta.outputs[0]!.datatype, data }] }), {}, rows)
  }

  const tfPredict = async (req: IncomingMessage, res: ServerResponse, rowsOf: (b: unknown) => number[][] | undefined, wrap: (p: string) => string): Promise<void> => {
    const raw = await body(req)
    const f = await fault(req, res)
    if (f === true || res.destroyed) return
    const rows = rowsOf(JSON.parse(raw.toString('utf8')))
    if (rows === undefined || rows.some((r) => r.length !== D)) return json(res, 400, { error: `expected rows of ${D} numbers` })
    const out = answer(rows)
    if (f === 'malformed') return send(res, 200, wrap('[[0.1, 0.2'), {}, rows)
    // TF Serving writes non-finite floats as bare tokens, which is not JSON.
    if (f === 'nan') return send(res, 200, wrap(JSON.stringify(out).replace(/^\[\[[^,\]]+/, '[[NaN')), {}, rows)
    const preds = f === 'wrongShape' ? out.map((r) => r.slice(0, -1)) : output === 'label' ? out.map((r) => r[0]!) : out
    send(res, 200, wrap(JSON.stringify(preds)), {}, rows)
  }

  let inFlight = 0
  const http = createServer((req, res) => {
    const url = req.url ?? '/'
    if (req.method === 'POST') {
      inFlight++
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight)
      let done = false
      const leave = (): void => {
        if (!done) inFlight--
        done = true
      }
      res.on('close', leave)
    }
    const route = `${req.method} ${url}`
    const handle = async (): Promise<void> => {
      if (route === 'GET /v2') return json(res, 200, { name: 'sonde-test-server', version: '2', extensions: options.binary === true ? ['binary_tensor_data', 'classification'] : ['classification'] })
      if (route === 'GET /v2/models/mlp' || route === 'GET /v2/models/mlp/versions/1') return json(res, 200, v2Meta)
      if (route === 'GET /v2/models/mlp/ready' || route === 'GET /v2/models/mlp/versions/1/ready') return json(res, 200, { name: 'mlp', ready: true })
      if (route === 'POST /v2/models/mlp/infer' || route === 'POST /v2/models/mlp/versions/1/infer') return v2Infer(req, res)
      if (route === 'GET /v1/models/mlp') return json(res, 200, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] })
      if (route === 'GET /v1/models/mlp/metadata' && options.noTfMetadata !== true) return json(res, 200, tfMeta)
      if (route === 'POST /v1/models/mlp:predict') {
        return tfPredict(req, res, (b) => (b as { instances?: number[][] }).instances, (p) => `{"predictions": ${p}}`)
      }
      if (route === 'POST /score') return tfPredict(req, res, (b) => (b as { rows?: number[][] }).rows, (p) => `{"scores": ${p}}`)
      json(res, 404, { error: `no route ${route}` })
    }
    handle().catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(e) })
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    get faults() {
      return server.faults
    },
    set faults(f: Faults) {
      server.faults = f
    },
    rowsAnswered: () => [...stats.answered.values()].reduce((a, b) => a + b, 0),
    rowsAnsweredTwice: () => [...stats.answered.values()].filter((c) => c > 1).length,
    reset: () => {
      stats.inferRequests = 0
      stats.maxInFlight = 0
      stats.answered.clear()
      for (const k of Object.keys(stats.faults) as Array<keyof ServerStats['faults']>) stats.faults[k] = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
}
