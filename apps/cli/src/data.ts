import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { either as E } from 'fp-ts'
import { errors, type ProbeError } from '@sonde/oracle'

/** Data as JSON-like options take it: labelled `{ x, y }` or rows of numbers. */
export type DataJson = { readonly x: number[][]; readonly y: number[] } | number[][]

/**
 * `--data FILE`: JSON (`{ "x": [[…], …], "y": [0, 2, …] }`, or rows of numbers) or CSV (numbers; a header row
 * is skipped, and a column headed `label`, `y`, `class` or `target` holds the labels).
 */
export const readData = (file: string): E.Either<ProbeError, DataJson> => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: '--data', message: `cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
  if (extname(file).toLowerCase() === '.csv') {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
    const first = lines[0]?.split(',').map((c) => c.trim()) ?? []
    const header = first.some((c) => c !== '' && Number.isNaN(Number(c)))
    const labelAt = header ? first.findIndex((c) => ['label', 'y', 'class', 'target'].includes(c.toLowerCase())) : -1
    const x: number[][] = []
    const y: number[] = []
    for (const [i, line] of lines.slice(header ? 1 : 0).entries()) {
      const cells = line.split(',').map((c) => Number(c.trim()))
      const bad = cells.findIndex((v) => !Number.isFinite(v))
      if (bad >= 0) return E.left(errors.invalidOptions([{ path: '--data', message: `${file} line ${i + (header ? 2 : 1)} column ${bad + 1} is not a number` }]))
      if (labelAt >= 0) {
        y.push(cells[labelAt]!)
        x.push(cells.filter((_, j) => j !== labelAt))
      } else x.push(cells)
    }
    return E.right(labelAt >= 0 ? { x, y } : x)
  }
  try {
    return E.right(JSON.parse(text) as DataJson)
  } catch (cause) {
    return E.left(errors.invalidOptions([{ path: '--data', message: `${file} is neither CSV nor JSON: ${cause instanceof Error ? cause.message : String(cause)}` }]))
  }
}
