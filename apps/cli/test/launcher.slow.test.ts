import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { cliRoot, tempDir } from './helpers.js'

// The `sonde` bin is bin/sonde.js: the built CLI when dist/ is there (a published package, a built workspace),
// else the TypeScript sources through tsx (a fresh clone right after `npm install`).
const run = promisify(execFile)
const launcher = join(cliRoot, 'bin/sonde.js')
const helpText = async (bin: string, cwd: string): Promise<string> => (await run(process.execPath, [bin, '--help'], { cwd, env: { ...process.env, NO_COLOR: '1' } })).stdout

describe('the sonde launcher', () => {
  it('is the package bin, and is published with dist', () => {
    const pkg = JSON.parse(readFileSync(join(cliRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] }
    expect(pkg.bin).toEqual({ sonde: './bin/sonde.js' })
    expect(pkg.files).toEqual(expect.arrayContaining(['bin', 'dist']))
    expect(readFileSync(launcher, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
  })

  it('runs the built CLI when dist/bin.js exists', async () => {
    expect(existsSync(join(cliRoot, 'dist/bin.js'))).toBe(true)
    const out = await helpText(launcher, tempDir())
    expect(out).toContain('Usage: sonde [options] [command]')
    for (const command of ['list', 'describe', 'run', 'audit']) expect(out).toMatch(new RegExp(`^  ${command}\\b`, 'm'))
  })

  it('runs the sources through tsx when there is no dist (an unbuilt workspace), from any folder, with the exit code', async () => {
    // A copy of the package without dist/: the launcher copied, src/ and node_modules linked to the real ones.
    const root = tempDir()
    mkdirSync(join(root, 'cli/bin'), { recursive: true })
    cpSync(launcher, join(root, 'cli/bin/sonde.js'))
    symlinkSync(join(cliRoot, 'src'), join(root, 'cli/src'))
    symlinkSync(join(cliRoot, '../../node_modules'), join(root, 'node_modules'))
    const bin = join(root, 'cli/bin/sonde.js')
    expect(existsSync(join(root, 'cli/dist'))).toBe(false)
    const out = await helpText(bin, tempDir())
    expect(out).toEqual(await helpText(launcher, tempDir()))
    // The child's exit code is the launcher's: an unknown probe is a usage error (2).
    const bad = await run(process.execPath, [bin, 'describe', 'sonde/nope'], { cwd: tempDir() }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("no probe 'sonde/nope'")
  })
})
