/**
 * Every example a reader can copy — each TSDoc `@example` in the packages' sources and each ```ts block in the
 * markdown (READMEs, `docs/`, the docs site's pages) — extracted as a module of its own, so that the root
 * type-check program (`npm run typecheck:all`, part of `npm test`) checks it and `test/examples.test.ts` runs
 * the ones that can run.
 *
 * The conventions, stated once (the docs site's "Writing examples" section says the same):
 * - An example is a module on its own: it imports what it uses from the public package names
 *   (`import { budget } from '@sonde/oracle'`), and declares what it does not build
 *   (`declare const model: TwiceDifferentiable`).
 * - An example whose first line is a comment starting with `// fragment` (e.g. `// fragment: needs a server`) is
 *   a fragment: it is type-checked, not run. Every other example runs.
 * - Top-level names an example declares are exported by the extractor, so `noUnusedLocals` does not flag an
 *   example's last result; unused imports are still errors.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

/** One extracted example. */
export interface Example {
  /** Where it comes from: the file, relative to the repository root. */
  readonly source: string
  /** 1-based line of the example's first code line in `source`. */
  readonly line: number
  /** `tsdoc` for an `@example` tag, `markdown` for a ```ts block. */
  readonly kind: 'tsdoc' | 'markdown'
  /** The code, as a reader sees it. */
  readonly code: string
  /** A fragment is type-checked, not run (its first line is a `// fragment` comment). */
  readonly fragment: boolean
  /** The file name the example is written to under the scratch folder. */
  readonly file: string
}

/** The repository root (this file is `apps/integration/src/examples.ts`). */
export const repoRoot = resolve(import.meta.dirname, '../../..')

/** Where the extracted modules go; the root tsconfig includes it, git ignores it. */
export const examplesDir = join(repoRoot, 'apps/integration/extracted')

const skipDirs = new Set(['node_modules', 'dist', '.turbo', '.vitepress', 'api', 'public', '.readme-examples', 'output', 'extracted'])

const walk = (dir: string, keep: (file: string) => boolean): string[] => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.sort().flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return skipDirs.has(name) || name.startsWith('.') ? [] : walk(path, keep)
    return keep(path) ? [path] : []
  })
}

const listDirs = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort().map((n) => join(dir, n)).filter((p) => statSync(p).isDirectory())
  } catch {
    return []
  }
}

/** The files examples are read from: package, app and example sources; every README; `docs/`; the site. */
export const exampleSources = (root: string = repoRoot): string[] => {
  const projects = [...listDirs(join(root, 'packages')), ...listDirs(join(root, 'apps')), ...listDirs(join(root, 'examples'))]
  const code = projects.flatMap((p) => walk(join(p, 'src'), (f) => f.endsWith('.ts') && !f.endsWith('.d.ts')))
  const readmes = [join(root, 'README.md'), ...projects.map((p) => join(p, 'README.md'))].filter((f) => {
    try {
      return statSync(f).isFile()
    } catch {
      return false
    }
  })
  const docs = walk(join(root, 'docs'), (f) => f.endsWith('.md'))
  const site = walk(join(root, 'apps/docs/site'), (f) => f.endsWith('.md'))
  return [...code, ...readmes, ...docs, ...site]
}

const slug = (source: string, line: number): string => `${source.replace(/[^A-Za-z0-9]+/g, '_')}_L${line}.ts`

const isFragment = (code: string): boolean => /^\s*\/\/\s*fragment\b/.test(code)

/** TSDoc `@example` blocks of one TypeScript source: the tag's text up to the next tag or the comment's end. */
export const tsdocExamples = (text: string, source: string): Example[] => {
  const out: Example[] = []
  for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const body = comment[1]!
    const startLine = text.slice(0, comment.index).split('\n').length
    const lines = body.split('\n').map((l) => l.replace(/^\s*\* ?/, ''))
    for (let i = 0; i < lines.length; i++) {
      if (!/^@example\b/.test(lines[i]!.trim())) continue
      const rest = lines[i]!.trim().slice('@example'.length).trim()
      const block: string[] = rest === '' ? [] : [rest]
      let j = i + 1
      for (; j < lines.length && !/^@\w/.test(lines[j]!.trim()); j++) block.push(lines[j]!)
      let code = block.join('\n').replace(/\s+$/, '')
      const fenced = /```(?:ts|typescript)?[^\n]*\n([\s\S]*?)```/.exec(code)
      if (fenced) code = fenced[1]!.replace(/\s+$/, '')
      code = code.replace(/^\n+/, '')
      if (code.trim() === '') continue
      const line = startLine + i + 1
      out.push({ source, line, kind: 'tsdoc', code: `${code}\n`, fragment: isFragment(code), file: slug(source, line) })
      i = j - 1
    }
  }
  return out
}

/** The ```ts (or ```typescript) blocks of one markdown file. */
export const markdownExamples = (text: string, source: string): Example[] => {
  const out: Example[] = []
  for (const m of text.matchAll(/^```(?:ts|typescript)(?:[ \t][^\n]*)?\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, m.index).split('\n').length + 1
    const code = m[1]!
    out.push({ source, line, kind: 'markdown', code, fragment: isFragment(code), file: slug(source, line) })
  }
  return out
}

/** Every example of the repository, in a stable order. */
export const allExamples = (root: string = repoRoot): Example[] =>
  exampleSources(root).flatMap((file) => {
    const text = readFileSync(file, 'utf8')
    const source = relative(root, file)
    return file.endsWith('.md') ? markdownExamples(text, source) : tsdocExamples(text, source)
  })

/** The names an example declares at its top level (so the module can export them). */
export const topLevelNames = (code: string): string[] => {
  const sf = ts.createSourceFile('example.ts', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS)
  const names: string[] = []
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.push(name.text)
    else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bind(el.name)
  }
  for (const st of sf.statements) {
    const exported = ts.canHaveModifiers(st) && ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
    if (exported) continue
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bind(d.name)
    else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name) names.push(st.name.text)
  }
  return [...new Set(names)]
}

/** The module written for one example: a header naming its source, the code, and an export of its names. */
export const moduleOf = (example: Example): string => {
  const names = topLevelNames(example.code)
  const header = `// Extracted from ${example.source}:${example.line} by apps/integration/src/examples.ts — edit the source, not this file.\n`
  const exports = names.length > 0 ? `export { ${names.join(', ')} }\n` : 'export {}\n'
  return `${header}${example.code}\n${exports}`
}

/** Rewrite `apps/integration/extracted/` from the sources: one module per example. Returns the examples written. */
export const writeExamples = (root: string = repoRoot, dir: string = join(root, 'apps/integration/extracted')): Example[] => {
  const examples = allExamples(root)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  for (const ex of examples) {
    mkdirSync(dirname(join(dir, ex.file)), { recursive: true })
    writeFileSync(join(dir, ex.file), moduleOf(ex))
  }
  return examples
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const written = writeExamples()
  const fragments = written.filter((e) => e.fragment).length
  console.log(`examples: ${written.length} extracted into ${relative(process.cwd(), examplesDir) || '.'} (${fragments} fragments, ${written.length - fragments} runnable)`)
}
