import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')
const scratch = join(root, 'apps/integration/.readme-examples')

// The first ```ts block of each package README is its runnable example: run it against the build.
describe('package README examples', () => {
  for (const name of readdirSync(join(root, 'packages'))) {
    it(`${name}/README.md starts with its npm install line, and its example imports only what that line installs`, () => {
      const readme = readFileSync(join(root, 'packages', name, 'README.md'), 'utf8')
      const start = /^# \S+\n\n```sh\nnpm install ([^\n]+)\n```/.exec(readme)
      expect(start, 'the title, then a ```sh block with the npm install line').not.toBeNull()
      const installed = new Set(start![1]!.split(/\s+/))
      const pkg = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as { name: string }
      expect(installed.has(pkg.name)).toBe(true)
      const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
      const imported = Array.from(example.matchAll(/from '([^']+)'/g), (m) => m[1]!)
        .filter((s) => !s.startsWith('node:') && !s.startsWith('.'))
        .map((s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/'))
      expect(imported.filter((p) => !installed.has(p))).toEqual([])
    })

    it(`${name}/README.md has an example that runs`, () => {
      const readme = readFileSync(join(root, 'packages', name, 'README.md'), 'utf8')
      const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
      expect(block, 'a ```ts block').toBeDefined()
      mkdirSync(scratch, { recursive: true })
      const file = join(scratch, `${name}.ts`)
      writeFileSync(file, `${block!}\nexport {}\n`)
      execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' })
    })
  }
})
