import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { publint } from 'publint'
import { describe, expect, it } from 'vitest'

// publint packs each package (4–7 s apiece): the slow tier checks every package's published shape.
const root = resolve(import.meta.dirname, '../../..')
const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => ({ dir: join(root, 'packages', d.name), name: (JSON.parse(readFileSync(join(root, 'packages', d.name, 'package.json'), 'utf8')) as { name: string }).name }))

describe('every package as published', () => {
  for (const pkg of packages) {
    it(`${pkg.name} passes publint --strict`, async () => {
      const { messages } = await publint({ pkgDir: pkg.dir, strict: true, level: 'suggestion' })
      expect(messages.map((m) => `${m.type} ${m.code} ${JSON.stringify(m.args)}`)).toEqual([])
    })
  }
})
