import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')
const scratch = join(root, 'apps/integration/.readme-examples')

// The first ```ts block of each package README is its runnable example: run it against the build.
describe('package README examples', () => {
  for (const name of readdirSync(join(root, 'packages'))) {
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
