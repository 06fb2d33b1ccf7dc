/**
 * How to serve a TensorFlow.js model behind the Open Inference Protocol v2 (the REST API of KServe, Triton and
 * MLServer) with nothing but `node:http`: the routes a client such as `sonde --endpoint … --protocol
 * open-inference` (or `fromHttp`) reads, with FP32 tensors as JSON.
 *
 *   GET  /v2                          server metadata
 *   GET  /v2/health/live, /ready      liveness and readiness
 *   GET  /v2/models/NAME              model metadata: input and output tensors, datatype, shape (-1: any rows)
 *   GET  /v2/models/NAME/ready        model readiness
 *   POST /v2/models/NAME/infer        { inputs: [{ name, shape: [n, …], datatype: 'FP32', data }] } → probabilities
 *
 * Errors answer `{ error }` with 400 (a request that does not fit the model), 404 (no such route or model) or
 * 413 (a body over `maxBodyBytes`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as tf from '@tensorflow/tfjs'

/** How {@link serveTfjsModel} serves a model. */
export interface ServeOptions {
  /** The model's name in the URLs (`/v2/models/NAME`). */
  readonly name: string
  /** What the model's last layer gives: `'logits'` (the server applies a softmax) or `'probabilities'`. Default `'logits'`. */
  readonly modelOutputs?: 'logits' | 'probabilities'
  /** Default `127.0.0.1`: only this machine can reach it. */
  readonly host?: string
  /** Default 0: a free port, chosen by the system (read it from `url`). */
  readonly port?: number
  /** Largest request body accepted. Default 64 MiB (a 256-row batch of 784 numbers as JSON is about 5 MB). */
  readonly maxBodyBytes?: number
}

/** A running server. */
export interface ServedModel {
  /** `http://HOST:PORT`, the base URL a client is given. */
  readonly url: string
  /** Inference requests answered, and the rows in them. */
  readonly stats: () => { readonly requests: number; readonly rows: number }
  /** Stop listening and close every connection. */
  readonly close: () => Promise<void>
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** Softmax of each row, in float64 (the model's logits are float32; the sums are more exact in float64). */
const softmaxRows = (z: Float32Array, rows: number, cols: number): Float64Array => {
  const out = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) {
    let m = -Infinity
    for (let j = 0; j < cols; j++) m = Math.max(m, z[i * cols + j]!)
    let s = 0
    for (let j = 0; j < cols; j++) s += out[i * cols + j] = Math.exp(z[i * cols + j]! - m)
    for (let j = 0; j < cols; j++) out[i * cols + j]! /= s
  }
  return out
}

const readBody = (req: IncomingMessage, limit: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.byteLength
      if (size > limit) reject(new RequestError(413, `the request body is over ${limit} bytes`))
      else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })

/**
 * Serve a tfjs `LayersModel` with one input of fixed shape per row (e.g. `[784]` or `[28, 28, 1]`) and one output
 * of class scores, over Open Inference v2 on `host:port`. The model answers probabilities as FP32.
 *
 * Gotcha: requests are answered one at a time (tfjs runs on this thread); a client should keep a few in flight
 * at most.
 *
 * @example
 * // fragment: needs a trained tfjs model; the demo app's own module (not a published package)
 * import type * as tf from '@tensorflow/tfjs'
 * import { toPromise } from '@sonde/oracle'
 * import { fromHttp } from '@sonde/oracle/http'
 * import { serveTfjsModel } from '@sonde/demo/src/server'
 *
 * declare const model: tf.LayersModel
 * const served = await serveTfjsModel(model, { name: 'mnist-mlp' })
 * // or from a shell: sonde audit --endpoint ${served.url} --protocol open-inference --model mnist-mlp --budget 5000
 * const remote = await toPromise(fromHttp({ protocol: 'open-inference', url: served.url, model: 'mnist-mlp' }))
 * await served.close()
 */
export const serveTfjsModel = async (model: tf.LayersModel, o: ServeOptions): Promise<ServedModel> => {
  const rowShape = model.inputs[0]!.shape.slice(1).map((d) => d ?? -1)
  const classes = model.outputs[0]!.shape.at(-1) ?? -1
  if (rowShape.some((d) => d < 1) || classes < 1) throw new Error(`serveTfjsModel needs fixed input and output shapes; the model has [${rowShape}] → ${classes}`)
  const rowSize = rowShape.reduce((a, b) => a * b, 1)
  const inputName = 'input'
  const outputName = 'probabilities'
  const metadata = {
    name: o.name,
    versions: ['1'],
    platform: 'tensorflowjs',
    inputs: [{ name: inputName, datatype: 'FP32', shape: [-1, ...rowShape] }],
    outputs: [{ name: outputName, datatype: 'FP32', shape: [-1, classes] }],
  }
  let requests = 0
  let rows = 0

  const infer = async (body: string): Promise<unknown> => {
    let request: { id?: unknown; inputs?: { name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown }[]; outputs?: { name?: unknown }[] }
    try {
      request = JSON.parse(body) as typeof request
    } catch {
      throw new RequestError(400, 'the request body is not JSON')
    }
    const input = Array.isArray(request?.inputs) && request.inputs.length === 1 ? request.inputs[0]! : undefined
    if (input === undefined) throw new RequestError(400, `expected one input tensor '${inputName}'`)
    if (input.name !== inputName) throw new RequestError(400, `unknown input ${JSON.stringify(input.name)}; the model's input is '${inputName}'`)
    if (input.datatype !== 'FP32') throw new RequestError(400, `input '${inputName}' has datatype ${JSON.stringify(input.datatype)}; expected FP32`)
    const shape = input.shape
    const n = Array.isArray(shape) ? shape[0] : undefined
    if (!Array.isArray(shape) || !Number.isSafeInteger(n) || (n as number) < 1 || shape.slice(1).join() !== rowShape.join()) {
      throw new RequestError(400, `input '${inputName}' has shape ${JSON.stringify(shape)}; expected [n, ${rowShape.join(', ')}] with n ≥ 1`)
    }
    const asked = request.outputs?.find((t) => t?.name !== outputName)
    if (asked !== undefined) throw new RequestError(400, `unknown output ${JSON.stringify(asked.name)}; the model's output is '${outputName}'`)
    // The data may be flat (row-major) or nested like the shape.
    const data = Array.isArray(input.data) ? (input.data.flat(Infinity) as unknown[]) : []
    const count = (n as number) * rowSize
    if (data.length !== count) throw new RequestError(400, `input '${inputName}' has ${data.length} values; its shape ${JSON.stringify(shape)} needs ${count}`)
    const bad = data.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v))
    if (bad >= 0) throw new RequestError(400, `input '${inputName}' value ${bad} is ${JSON.stringify(data[bad])}; expected a finite number`)

    const out = tf.tidy(() => model.predict(tf.tensor(Float32Array.from(data as number[]), [n as number, ...rowShape])) as tf.Tensor)
    const scores = await out.data<'float32'>()
    out.dispose()
    const probabilities = o.modelOutputs === 'probabilities' ? scores : Float32Array.from(softmaxRows(scores, n as number, classes))
    requests++
    rows += n as number
    return {
      model_name: o.name,
      model_version: '1',
      ...(typeof request.id === 'string' ? { id: request.id } : {}),
      outputs: [{ name: outputName, datatype: 'FP32', shape: [n, classes], data: Array.from(probabilities) }],
    }
  }

  const route = async (req: IncomingMessage): Promise<unknown> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/$/, '')
    const model = `/v2/models/${encodeURIComponent(o.name)}`
    const get = req.method === 'GET'
    if (get && path === '/v2') return { name: 'sonde-demo', version: '1', extensions: [] }
    if (get && (path === '/v2/health/live' || path === '/v2/health/ready')) return { live: true, ready: true }
    if (get && (path === model || path === `${model}/versions/1`)) return metadata
    if (get && (path === `${model}/ready` || path === `${model}/versions/1/ready`)) return { name: o.name, ready: true }
    if (req.method === 'POST' && (path === `${model}/infer` || path === `${model}/versions/1/infer`)) return infer(await readBody(req, o.maxBodyBytes ?? 64 * 2 ** 20))
    throw new RequestError(404, path.startsWith('/v2/models/') ? `no route ${req.method} ${path}; the model here is '${o.name}'` : `no route ${req.method} ${path}`)
  }

  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const server = createServer((req, res) => {
    route(req).then(
      (body) => answer(res, 200, body),
      (e: unknown) => answer(res, e instanceof RequestError ? e.status : 500, { error: e instanceof Error ? e.message : String(e) }),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve)
  })
  const { address, port } = server.address() as AddressInfo
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    stats: () => ({ requests, rows }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
