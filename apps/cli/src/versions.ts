import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const packageJsonAbove = (file: string, name?: string): { name?: string; version?: string } | undefined => {
  let dir = dirname(file)
  for (let i = 0; i < 8; i++) {
    const p = join(dir, 'package.json')
    if (existsSync(p)) {
      try {
        const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string }
        if (name === undefined || j.name === name) return j
      } catch {
        // not JSON: keep looking
      }
    }
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return undefined
}

/** This CLI's version (its package.json). */
export const cliVersion = (): string => packageJsonAbove(fileURLToPath(import.meta.url), '@sonde/cli')?.version ?? '0.0.0'

/** The versions of the packages a run used, and Node's. */
export const versions = (extra: readonly string[] = []): Record<string, string> => {
  const out: Record<string, string> = { '@sonde/cli': cliVersion() }
  for (const name of ['sonde', '@sonde/oracle', ...extra]) {
    try {
      const v = packageJsonAbove(fileURLToPath(import.meta.resolve(name)), name)?.version
      if (v !== undefined) out[name] = v
    } catch {
      // not resolvable from here (a plugin resolved elsewhere): left out
    }
  }
  out.node = process.versions.node
  return out
}
