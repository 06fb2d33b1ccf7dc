/// <reference path="./ml-cart.d.ts" />
import { either as E, taskEither as TE } from 'fp-ts'
import { errorFromThrown, errors, fromFunction, stage, type Matrix, type Oracle, type OracleInfo, type ProbeError, type RunControl } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { DecisionTreeClassifier, type TreeNodeLike } from 'ml-cart'
import { intAtLeast, positive, type OptionIssue } from './check.js'

export type { OptionIssue }

/** A trained copy: an oracle, plus what its family reports (e.g. a tree's depth). */
export interface TrainedCopy {
  readonly oracle: Oracle
  /**
   * The underlying trainable model, to keep training or inspect it: a `SoftmaxRegression`
   * (`refit`), a `tf.LayersModel`, or an ml-cart `DecisionTreeClassifier`.
   */
  readonly model: object
  /** What the family reports about the fit (finite numbers or words): a tree's depth, Newton steps, the final loss. */
  readonly details: Readonly<Record<string, number | string>>
  /** Release resources (tfjs weights); a no-op for float64 models. */
  readonly dispose: () => void
}

/**
 * A copy's model family: how to train a copy on a labelled synthetic set. A plain value — plug
 * your own by implementing `fit` (and `check`, so that bad hyper-parameters are refused before
 * any label is bought).
 *
 * `fit` receives `control` (the run's signal and progress): a family whose training takes more than a
 * moment reports progress through `stage(control, …)` and stops with `Aborted` when the signal fires.
 */
export interface CopyFamily {
  readonly name: string
  /** The family's problems with its own options for this oracle; empty when there are none. Called before any query. */
  readonly check?: (info: OracleInfo) => readonly OptionIssue[]
  readonly fit: (x: Matrix, y: Int32Array, info: OracleInfo, seed: number, control?: RunControl) => TE.TaskEither<ProbeError, TrainedCopy>
}

/** The info of a copy of the oracle described by `info`. */
export const copyInfo = (info: OracleInfo, family: string, output: OracleInfo['output']): OracleInfo => ({
  id: `copy:${family}:${info.id}`,
  inputDim: info.inputDim,
  numClasses: Math.max(info.numClasses, 2),
  output,
  ...(info.inputShape !== undefined ? { inputShape: info.inputShape } : {}),
  ...(info.domain !== undefined ? { domain: info.domain } : {}),
})

/**
 * Softmax regression (float64, exact fit by Newton–CG) as the copy: matches linear originals
 * exactly; a capacity limit for anything else. Fitting cost grows like n·D·K per Newton–CG step;
 * the fit is abortable between Newton steps.
 *
 * @example
 * import { softmaxCopy } from '@sonde/copying'
 *
 * const family = softmaxCopy({ l2: 1e-4 })
 */
export const softmaxCopy = (o: { readonly l2?: number } = {}): CopyFamily => ({
  name: 'softmax',
  check: () => positive(o?.l2, 'options.copy.l2', true),
  fit: (x, y, info, _seed, control) => async () => {
    const s = stage(control, 'training softmax', 1)
    const go = s.check(0)
    if (E.isLeft(go)) return go
    let fitted: Awaited<ReturnType<ReturnType<typeof SoftmaxRegression.fitTask>>>
    try {
      // Abortable between Newton steps; it reports its own progress ('newton-cg').
      fitted = await SoftmaxRegression.fitTask(x, y, { ...copyInfo(info, 'softmax', 'probabilities'), numClasses: Math.max(info.numClasses, 2), l2: o?.l2 ?? 1e-4, tolerance: 1e-8, ...(control ?? {}) })()
    } catch (cause) {
      return E.left(errorFromThrown(cause, (m) => errors.trainingFailed(`fitting the softmax copy failed: ${m}`, cause)))
    }
    if (E.isLeft(fitted)) return fitted
    const done = s.check(1)
    if (E.isLeft(done)) return done
    const { model, report } = fitted.right
    return E.right({ oracle: model, model, details: { newtonSteps: report.iterations }, dispose: () => undefined })
  },
})

const depthOf = (node: TreeNodeLike | undefined): number =>
  node === undefined || node.left === undefined || node.right === undefined ? 0 : 1 + Math.max(depthOf(node.left), depthOf(node.right))

const rowsOf = (m: Matrix): number[][] => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)))

/**
 * A CART decision tree (ml-cart, Gini) as an interpretable copy; reports its depth. Training runs in one
 * synchronous piece (progress before and after it).
 *
 * @example
 * import { treeCopy } from '@sonde/copying'
 *
 * const family = treeCopy({ maxDepth: 6 })
 */
export const treeCopy = (o: { readonly maxDepth?: number; readonly minNumSamples?: number } = {}): CopyFamily => ({
  name: 'tree',
  check: () => [...intAtLeast(o?.maxDepth, 1, 'options.copy.maxDepth'), ...intAtLeast(o?.minNumSamples, 1, 'options.copy.minNumSamples')],
  fit: (x, y, info, _seed, control) => async () => {
    const s = stage(control, 'training tree', 1)
    const go = s.check(0)
    if (E.isLeft(go)) return go
    const tree = new DecisionTreeClassifier({ gainFunction: 'gini', maxDepth: o?.maxDepth ?? 8, minNumSamples: o?.minNumSamples ?? 3 })
    try {
      tree.train(rowsOf(x), Array.from(y))
    } catch (cause) {
      return E.left(errors.trainingFailed(`training the tree failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
    }
    const done = s.check(1)
    if (E.isLeft(done)) return done
    const k = Math.max(info.numClasses, 2)
    const oracle = fromFunction(copyInfo(info, 'tree', 'label'), (q) => Int32Array.from(tree.predict(rowsOf(q)), (l) => Math.min(k - 1, Math.max(0, Math.round(l)))))
    return E.right({ oracle, model: tree, details: { depth: depthOf(tree.root) }, dispose: () => undefined })
  },
})
