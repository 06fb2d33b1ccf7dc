/**
 * `npm run bench [suite…]`: run the benchmark suites (all by default) and write RESULTS.md.
 * Absolute times drift on shared machines; each suite measures its variants side by side in
 * this one process, and the ratios are what to compare across machines.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { useFastestBackend } from '@sonde/models/tfjs'
import type { SuiteResult } from './measure.js'
import { copying } from './suites/copying.js'
import { copyWithGradients } from './suites/copy-with-gradients.js'
import { reluExtraction } from './suites/extraction.js'
import { debugging } from './suites/debugging.js'
import { httpAdapter } from './suites/http.js'
import { influence } from './suites/influence.js'
import { influenceAttack } from './suites/influence-attack.js'
import { linalg } from './suites/linalg.js'
import { inverseClassification } from './suites/inverse-classification.js'
import { oracleOverhead } from './suites/oracle-overhead.js'
import { tfjsBackends } from './suites/tfjs-backends.js'

const suites: Record<string, () => Promise<SuiteResult>> = {
  'oracle-overhead': oracleOverhead,
  'tfjs-backends': tfjsBackends,
  'inverse-classification': inverseClassification,
  'relu-extraction': reluExtraction,
  'copy-with-gradients': copyWithGradients,
  copying,
  influence,
  'influence-attack': influenceAttack,
  debugging,
  http: httpAdapter,
  linalg,
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !(w in suites))
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`)
  process.exit(2)
}
await useFastestBackend()
const results: SuiteResult[] = []
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  console.log(`running ${name} …`)
  const r = await suites[name]!()
  console.log(`\n## ${r.title}\n\n${r.markdown}\n`)
  results.push(r)
}
const cpu = cpus()
const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`
const command = `npm run bench${wanted.length > 0 ? ` -- ${wanted.join(' ')}` : ''}`
const stamp = `_Measured ${new Date().toISOString()} on ${machine} by \`${command}\`._`
const file = resolve(import.meta.dirname, '../RESULTS.md')
// A partial run replaces its own sections and keeps the others (each section carries its own stamp).
const previous = wanted.length > 0 ? await readFile(file, 'utf8').catch(() => '') : ''
const sections = new Map<string, string>()
for (const part of previous.split(/^## /m).slice(1)) sections.set(part.slice(0, part.indexOf('\n')).trim(), `## ${part.trimEnd()}`)
for (const r of results) sections.set(r.title, [`## ${r.title}`, '', stamp, '', r.description, '', r.markdown].join('\n'))
const header = [
  '# Sonde benchmark results',
  '',
  'Each suite runs its variants interleaved in one process; read the ratios, not the absolute times.',
  '`npm run bench` runs every suite; `npm run bench -- NAME…` re-runs some and keeps the others.',
  '',
]
await writeFile(file, [...header, ...[...sections.values()].flatMap((s) => [s, ''])].join('\n'))
console.log('wrote apps/bench/RESULTS.md')
