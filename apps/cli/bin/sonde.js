#!/usr/bin/env node
// The `sonde` command. An installed package runs the built CLI (../dist/bin.js). A workspace that has not been
// built yet (a fresh clone after `npm install`) runs the TypeScript sources instead, through tsx, with the
// '@sonde/source' export condition so that the sibling packages are read from their sources too.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

const dist = new URL('../dist/bin.js', import.meta.url)
const source = new URL('../src/bin.ts', import.meta.url)

if (existsSync(dist)) {
  await import(dist.href)
} else if (existsSync(source)) {
  // tsx is resolved from here, not from the current folder: `sonde` may be run from anywhere.
  const tsx = import.meta.resolve('tsx')
  const child = spawn(process.execPath, ['--conditions=@sonde/source', '--import', tsx, fileURLToPath(source), ...process.argv.slice(2)], { stdio: 'inherit' })
  // Ctrl-C reaches the child already (one process group), and a second SIGINT would make it stop without its
  // partial report: this process only waits. Other signals are passed on. It exits as the child did.
  process.on('SIGINT', () => {})
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)))
} else {
  process.stderr.write(`sonde: neither ${fileURLToPath(dist)} nor ${fileURLToPath(source)} exists; reinstall @sonde/cli\n`)
  process.exit(1)
}
