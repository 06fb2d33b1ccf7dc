/**
 * Runs every example that is not a fragment, one after another in this process, and writes what happened to the
 * JSON file named by the first argument: `[{ source, line, ok, error?, ms }]`. Run with the '@sonde/source'
 * condition (`node --conditions=@sonde/source --import tsx apps/integration/src/run-examples.ts out.json`) so the
 * examples read the packages' sources, as the type-checker does. `test/examples.test.ts` runs it.
 *
 * Package READMEs' first block is left to `test/readme-examples.test.ts`, which runs it against the builds.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { repoRoot, writeExamples, type Example } from './examples.js'

/** The README example `readme-examples.test.ts` already runs: the first ```ts block of a package README. */
const runElsewhere = (examples: readonly Example[]): Set<Example> => {
  const firsts = new Set<Example>()
  const seen = new Set<string>()
  for (const e of examples) {
    if (e.kind !== 'markdown' || !/^packages\/[^/]+\/README\.md$/.test(e.source) || seen.has(e.source)) continue
    seen.add(e.source)
    firsts.add(e)
  }
  return firsts
}

const perExampleMs = 60_000

const main = async (out: string): Promise<void> => {
  const dir = join(repoRoot, 'apps/integration/.run-examples')
  const examples = writeExamples(repoRoot, dir)
  const skip = runElsewhere(examples)
  const results: { source: string; line: number; ok: boolean; error?: string; ms: number }[] = []
  for (const e of examples) {
    if (e.fragment || skip.has(e)) continue
    const start = performance.now()
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        import(pathToFileURL(join(dir, e.file)).href),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not finish within ${perExampleMs} ms`)), perExampleMs)
        }),
      ])
      results.push({ source: e.source, line: e.line, ok: true, ms: Math.round(performance.now() - start) })
    } catch (cause) {
      results.push({ source: e.source, line: e.line, ok: false, error: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause), ms: Math.round(performance.now() - start) })
    } finally {
      clearTimeout(timer)
    }
  }
  writeFileSync(out, JSON.stringify(results, null, 1))
}

await main(process.argv[2] ?? join(repoRoot, 'apps/integration/.run-examples/results.json'))
// An example may leave a handle open (a timer, a tfjs backend); the results are written, so stop here.
process.exit(0)
