import { taskEither as TE } from 'fp-ts'
import { errors, guardPredict, validatePrediction, type Matrix, type Oracle, type OracleError, type OracleInfo, type Prediction } from '@sonde/oracle'

/**
 * The shape of a vendor's prediction client, as many SDKs have it: rows in, one answer per row with the class
 * *name* and a confidence per class name. Nothing here is Sonde's; it is what {@link fromVendorClient} adapts.
 */
export interface VendorClient {
  readonly classify: (rows: readonly (readonly number[])[]) => Promise<readonly { readonly label: string; readonly confidence: Readonly<Record<string, number>> }[]>
}

/** What {@link fromVendorClient} needs to know that the client does not say. */
export interface VendorOptions {
  readonly id: string
  readonly inputDim: number
  /** The class names, in the order Sonde numbers the classes. */
  readonly classNames: readonly string[]
  readonly domain?: OracleInfo['domain']
}

/**
 * An oracle adapter written from zero: a {@link VendorClient} as an {@link Oracle}. It shows the four duties of
 * an adapter — validate the query before anything is sent (`guardPredict`), translate rows and answers, turn a
 * failure into a typed error (a network failure is a retryable `Transport`, so `retry()` can try again), and
 * check the answer (`validatePrediction`) before a probe sees it.
 *
 * @example
 * // fragment: needs a vendor client
 * import { function as F } from 'fp-ts'
 * import { budget, meter, retry } from '@sonde/oracle'
 * import { fromVendorClient, type VendorClient } from 'sonde-plugin-boundary'
 *
 * declare const client: VendorClient
 * const oracle = F.pipe(fromVendorClient(client, { id: 'vendor:churn', inputDim: 12, classNames: ['stays', 'leaves'] }), retry(), budget(10_000), meter)
 */
export const fromVendorClient = (client: VendorClient, o: VendorOptions): Oracle => {
  const info: OracleInfo = { id: o.id, inputDim: o.inputDim, numClasses: o.classNames.length, output: 'probabilities', classNames: o.classNames, ...(o.domain ? { domain: o.domain } : {}) }
  const index = new Map(o.classNames.map((name, k) => [name, k]))
  const k = o.classNames.length
  const send = (x: Matrix): TE.TaskEither<OracleError, Prediction> =>
    TE.tryCatch(
      async () => {
        const rows = Array.from({ length: x.rows }, (_, i) => Array.from(x.data.subarray(i * x.cols, (i + 1) * x.cols)))
        const answers = await client.classify(rows)
        if (!Array.isArray(answers) || answers.length !== x.rows) throw errors.badResponse(`${o.id}: ${String(answers?.length)} answers to ${x.rows} rows`)
        const labels = new Int32Array(x.rows)
        const scores = new Float64Array(x.rows * k)
        answers.forEach((a, i) => {
          const label = index.get(a.label)
          if (label === undefined) throw errors.badResponse(`${o.id}: answer ${i} names class '${a.label}'; expected one of ${o.classNames.join(', ')}`)
          labels[i] = label
          o.classNames.forEach((name, c) => (scores[i * k + c] = a.confidence[name] ?? Number.NaN))
        })
        return { labels, scores: { rows: x.rows, cols: k, data: scores } }
      },
      (cause): OracleError =>
        typeof cause === 'object' && cause !== null && '_tag' in cause ? (cause as OracleError) : errors.transport(`${o.id}: ${cause instanceof Error ? cause.message : String(cause)}`, true),
    )
  const checked = (x: Matrix): TE.TaskEither<OracleError, Prediction> => TE.chainEitherK((p: Prediction) => validatePrediction(info, x.rows, p))(send(x))
  return { info, predict: guardPredict(info, checked) }
}
