import { createRng, permutation } from '@sonde/oracle'

/** Options of {@link stratifiedSplit}. */
export interface SplitOptions {
  /** Fraction of each class that goes to the test set, in (0, 1). */
  readonly testFraction: number
  readonly seed: number
  /** Keep at most this many rows in all (stratified), e.g. for a small training set. */
  readonly limit?: number
}

/** Indices of a split; each is sorted by a seeded shuffle, not by class. */
export interface Split {
  readonly train: Int32Array
  readonly test: Int32Array
}

/**
 * A seeded, stratified train/test split: each class contributes `round(testFraction · n_c)`
 * rows to the test set, so class proportions are the same on both sides. The same seed gives
 * the same split.
 *
 * @example
 * import { stratifiedSplit } from '@sonde/datasets'
 *
 * const y = Int32Array.of(0, 0, 0, 0, 0, 1, 1, 1, 1, 1)
 * const { train, test } = stratifiedSplit(y, { testFraction: 0.2, seed: 1 }) // test: one row of each class
 */
export const stratifiedSplit = (y: Int32Array, options: SplitOptions): Split => {
  const { testFraction, seed } = options
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`testFraction is ${testFraction}; expected a number in (0, 1)`)
  const rng = createRng(seed)
  const byClass = new Map<number, number[]>()
  for (const i of permutation(y.length, rng)) {
    const l = y[i]!
    const list = byClass.get(l)
    if (list === undefined) byClass.set(l, [i])
    else list.push(i)
  }
  const keep = options.limit === undefined ? 1 : Math.min(1, options.limit / y.length)
  const train: number[] = []
  const test: number[] = []
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const list = byClass.get(label)!
    const n = Math.round(list.length * keep)
    const t = Math.round(n * testFraction)
    test.push(...list.slice(0, t))
    train.push(...list.slice(t, n))
  }
  const shuffle = (a: number[]): Int32Array => {
    const p = permutation(a.length, rng)
    return Int32Array.from(p, (k) => a[k]!)
  }
  return { train: shuffle(train), test: shuffle(test) }
}
