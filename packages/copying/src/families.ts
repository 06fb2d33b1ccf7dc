/// <reference path="./ml-cart.d.ts" />
import type * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, fromFunction, type Matrix, type Oracle, type OracleInfo, type ProbeError } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { SoftmaxRegression } from '@sonde/models'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
import { DecisionTreeClassifier, type TreeNodeLike } from 'ml-cart'

/** A trained copy: an oracle, plus what its family reports (e.g. a tree's depth). */
export interface TrainedCopy {
  readonly oracle: Oracle
  /**
   * The underlying trainable model, to keep training or inspect it: a `SoftmaxRegression`
   * (`refit`), a `tf.LayersModel`, or an ml-cart `DecisionTreeClassifier`.
   */
  readonly model: object
  readonly details: Readonly<Record<string, number | string>>
  /** Release resources (tfjs weights); a no-op for float64 models. */
  readonly dispose: () => void
}

/**
 * A copy's model family: how to train a copy on a labelled synthetic set. A plain value — plug
 * your own by implementing `fit`.
 */
export interface CopyFamily {
  readonly name: string
  readonly fit: (x: Matrix, y: Int32Array, info: OracleInfo, seed: number) => TE.TaskEither<ProbeError, TrainedCopy>
}

const copyInfo = (info: OracleInfo, family: string, output: OracleInfo['output']): OracleInfo => ({
  id: `copy:${family}:${info.id}`,
  inputDim: info.inputDim,
  numClasses: Math.max(info.numClasses, 2),
  output,
  ...(info.inputShape !== undefined ? { inputShape: info.inputShape } : {}),
  ...(info.domain !== undefined ? { domain: info.domain } : {}),
})

/**
 * Softmax regression (float64, exact fit by Newton–CG) as the copy: matches linear originals
 * exactly; a capacity limit for anything else. Fitting cost grows like n·D·K per Newton–CG step.
 *
 * @example
 * const family = softmaxCopy({ l2: 1e-4 })
 */
export const softmaxCopy = (o: { readonly l2?: number } = {}): CopyFamily => ({
  name: 'softmax',
  fit: (x, y, info) =>
    F.pipe(
      TE.fromEither(SoftmaxRegression.fit(x, y, { ...copyInfo(info, 'softmax', 'probabilities'), numClasses: Math.max(info.numClasses, 2), l2: o.l2 ?? 1e-4, tol: 1e-8 })),
      TE.map(({ model, report }) => ({ oracle: model, model, details: { newtonSteps: report.iterations }, dispose: () => undefined })),
    ),
})

/**
 * A tfjs ReLU MLP as the copy (seeded initialisation and mini-batch order).
 *
 * @example
 * const family = mlpCopy({ hidden: [128], epochs: 10 })
 */
export const mlpCopy = (o: { readonly hidden?: readonly number[]; readonly epochs?: number; readonly learningRate?: number; readonly batchSize?: number } = {}): CopyFamily => ({
  name: 'mlp',
  fit: (x, y, info, seed) => {
    const k = Math.max(info.numClasses, 2)
    let model: tf.Sequential | undefined
    return F.pipe(
      TE.tryCatch(
        async () => (model = buildMlp({ inputDim: info.inputDim, hidden: o.hidden ?? [128], numClasses: k, seed })),
        (cause): ProbeError => errors.invalidOptions([{ path: 'copy', message: cause instanceof Error ? cause.message : String(cause) }]),
      ),
      TE.chain((m) => trainClassifier(m, x, y, { epochs: o.epochs ?? 10, seed, learningRate: o.learningRate ?? 1e-3, batchSize: o.batchSize ?? 64 })),
      TE.map((report) => {
        const m = model!
        const oracle = fromTfjsModel(m, { output: 'probabilities', id: `copy:mlp:${info.id}`, ...(info.domain !== undefined ? { domain: info.domain } : {}) })
        return { oracle, model: m, details: { epochs: report.losses.length, finalLoss: report.losses[report.losses.length - 1] ?? Number.NaN }, dispose: () => m.dispose() }
      }),
    )
  },
})

const depthOf = (node: TreeNodeLike | undefined): number =>
  node === undefined || node.left === undefined || node.right === undefined ? 0 : 1 + Math.max(depthOf(node.left), depthOf(node.right))

/**
 * A CART decision tree (ml-cart, Gini) as an interpretable copy; reports its depth.
 *
 * @example
 * const family = treeCopy({ maxDepth: 6 })
 */
export const treeCopy = (o: { readonly maxDepth?: number; readonly minNumSamples?: number } = {}): CopyFamily => ({
  name: 'tree',
  fit: (x, y, info) => {
    const tree = new DecisionTreeClassifier({ gainFunction: 'gini', maxDepth: o.maxDepth ?? 8, minNumSamples: o.minNumSamples ?? 3 })
    const rows = (m: Matrix): number[][] => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)))
    const trained = E.tryCatch(
      () => tree.train(rows(x), Array.from(y)),
      (cause): ProbeError => errors.trainingFailed(`training the tree failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause),
    )
    if (E.isLeft(trained)) return TE.left(trained.left)
    const k = Math.max(info.numClasses, 2)
    const oracle = fromFunction(copyInfo(info, 'tree', 'label'), (q) => Int32Array.from(tree.predict(rows(q)), (l) => Math.min(k - 1, Math.max(0, Math.round(l)))))
    return TE.right({ oracle, model: tree, details: { depth: depthOf(tree.root) }, dispose: () => undefined })
  },
})

