import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The tests run what users run: the CLI built with tsup (its dependencies are built by turbo's ^build first).
export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  execFileSync(join(root, '../../node_modules/.bin/tsup'), [], { cwd: root, stdio: 'pipe', env: { ...process.env, SONDE_CLI_NO_DTS: '1' } })
}
