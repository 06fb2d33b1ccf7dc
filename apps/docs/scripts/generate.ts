/**
 * Writes the site's generated pages before VitePress builds it — every one from the source the rest of the
 * project uses, so nothing is copied by hand:
 *
 * - `site/api/` — the API reference, by TypeDoc from each package's `exports` (one module per entry point,
 *   named as users import it: `@sonde/oracle/http`); an export without a summary fails the build;
 * - `site/reference/cli.md` — the CLI reference: the commands' flags from the `sonde` program itself and each
 *   built-in probe's options from `describeProbe` (the JSON Schema `sonde describe` prints);
 * - `generated/bench/*.md` and `site/public/generated/plots/` — one partial per section of
 *   `apps/bench/RESULTS.md` and its plots, included by the family pages;
 * - `site/recipes/*.md` and `site/public/generated/recipes/` — a page per `docs/recipes/*.ts`: its doc comment,
 *   its code included from the file CI runs, the output it printed and the images it wrote.
 *
 * Run: `tsx scripts/generate.ts [api|cli|bench|recipes …]` (all by default).
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { describeProbe, type JsonSchema } from '@sonde/oracle'
import { builtinProbes } from 'sonde'
import { describeText, main as sondeMain } from '@sonde/cli'

const docsApp = resolve(import.meta.dirname, '..')
const root = resolve(docsApp, '../..')
const site = join(docsApp, 'site')
const generated = join(docsApp, 'generated')
const publicGenerated = join(site, 'public/generated')

const write = (file: string, text: string): void => {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

const slugOf = (title: string): string =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')

// ---------------------------------------------------------------------------------------------------------
// API reference (TypeDoc)

interface EntryPoint {
  readonly file: string
  readonly name: string
}

/** Each package's public entry points, from its package.json `exports` (the '@sonde/source' condition). */
export const entryPoints = (): EntryPoint[] =>
  readdirSync(join(root, 'packages'))
    .sort()
    .flatMap((dir) => {
      const pkgFile = join(root, 'packages', dir, 'package.json')
      if (!existsSync(pkgFile)) return []
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name: string; private?: boolean; exports?: Record<string, Record<string, string>> }
      if (pkg.private === true) return []
      return Object.entries(pkg.exports ?? {}).flatMap(([sub, conditions]) => {
        const src = conditions['@sonde/source']
        if (src === undefined) return []
        return [{ file: join(root, 'packages', dir, src), name: sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}` }]
      })
    })

const generateApi = async (): Promise<void> => {
  const { Application, Converter, ReflectionKind } = await import('typedoc')
  const entries = entryPoints()
  const out = join(site, 'api')
  rmSync(out, { recursive: true, force: true })
  const app = await Application.bootstrapWithPlugins({
    entryPoints: entries.map((e) => e.file),
    entryPointStrategy: 'resolve',
    tsconfig: join(docsApp, 'tsconfig.api.json'),
    plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme'],
    out,
    docsRoot: site,
    readme: 'none',
    name: 'Sonde API',
    // The sources are type-checked by `npm test`; TypeDoc only reads them.
    skipErrorChecking: true,
    excludePrivate: true,
    excludeInternal: true,
    excludeExternals: true,
    disableSources: true,
    hidePageHeader: true,
    useCodeBlocks: true,
    // No export without a summary: a missing one is a warning, and warnings fail the build.
    validation: { notExported: false, invalidLink: true, notDocumented: true, unusedMergeModuleWith: true, rewrittenLink: true },
    requiredToBeDocumented: ['Function', 'Class', 'Interface', 'TypeAlias', 'Variable', 'Enum', 'Namespace'],
    treatValidationWarningsAsErrors: true,
    treatWarningsAsErrors: false,
    logLevel: 'Warn',
  } as Record<string, unknown>)
  // TypeDoc names a module by its path (`oracle/src/http`); users import it as `@sonde/oracle/http`.
  const names = new Map(entries.map((e) => [relative(join(root, 'packages'), e.file).replace(/\.ts$/, '').replace(/\/index$/, ''), e.name]))
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const name = names.get(mod.name)
      if (name !== undefined) mod.name = name
    }
  })
  const project = await app.convert()
  if (project === undefined) throw new Error('TypeDoc could not convert the packages')
  await app.generateOutputs(project)
  if (app.logger.hasErrors() || app.logger.hasWarnings()) throw new Error(`TypeDoc reported ${app.logger.errorCount} errors and ${app.logger.warningCount} warnings (see above)`)
  const pages = walk(out).filter((f) => f.endsWith('.md')).length
  console.log(`api: ${pages} pages for ${entries.length} entry points`)
}

const walk = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)])) : []

// ---------------------------------------------------------------------------------------------------------
// CLI reference

const helpOf = async (args: readonly string[]): Promise<string> => {
  const lines: string[] = []
  const writeOut = process.stdout.write.bind(process.stdout)
  // commander prints help to stdout itself; capture it for the page.
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    return true
  }) as typeof process.stdout.write
  try {
    await sondeMain(['node', 'sonde', ...args, '--help'], { out: (t) => lines.push(`${t}\n`), err: (t) => lines.push(`${t}\n`), tty: false })
  } finally {
    process.stdout.write = writeOut
  }
  return lines.join('').trimEnd()
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\n/g, ' ')

const typeCell = (s: Record<string, unknown>): string => {
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ')
  if (Array.isArray(s.anyOf)) return (s.anyOf as Record<string, unknown>[]).map(typeCell).join(' \\| ')
  if (s.type === 'array') return `${typeCell((s.items ?? {}) as Record<string, unknown>)}[]`
  return typeof s.type === 'string' ? s.type : Array.isArray(s.type) ? s.type.join(' \\| ') : s.const !== undefined ? `\`${JSON.stringify(s.const)}\`` : 'object'
}

const constraints = (s: Record<string, unknown>): string =>
  [
    s.minimum !== undefined ? `≥ ${String(s.minimum)}` : '',
    s.exclusiveMinimum !== undefined ? `> ${String(s.exclusiveMinimum)}` : '',
    s.maximum !== undefined ? `≤ ${String(s.maximum)}` : '',
    s.exclusiveMaximum !== undefined ? `< ${String(s.exclusiveMaximum)}` : '',
    s.minItems !== undefined ? `≥ ${String(s.minItems)} items` : '',
  ]
    .filter((x) => x !== '')
    .join(', ')

const probeSection = (schema: JsonSchema): string => {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : [])
  const requires = schema['x-sonde-requires']
  const rows = Object.entries(props).map(([name, s]) => {
    const dflt = s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : required.has(name) ? '**required**' : '—'
    return `| \`${name}\` | ${typeCell(s)} | ${dflt} | ${constraints(s)} | ${mdEscape(typeof s.description === 'string' ? s.description : '')} |`
  })
  return [
    `### \`${String(schema.title)}\``,
    '',
    mdEscape(String(schema.description ?? '')),
    '',
    `Requires: ${Array.isArray(requires) ? requires.map((r) => `\`${String(r)}\``).join(', ') : String(requires ?? 'nothing')}.`,
    '',
    '| option | type | default | constraints | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '::: details What `sonde describe` prints',
    '```text',
    describeText(schema),
    '```',
    ':::',
    '',
  ].join('\n')
}

const generateCli = async (): Promise<void> => {
  const sections = builtinProbes.map((p) => probeSection(describeProbe(p)))
  const commands = ['list', 'describe', 'run', 'audit']
  const helps = await Promise.all([helpOf([]), ...commands.map((c) => helpOf([c]))])
  const page = [
    '---',
    'outline: [2, 3]',
    '---',
    '',
    '# CLI reference',
    '',
    '<!-- Generated by apps/docs/scripts/generate.ts from the `sonde` program and the built-in probes\' option schemas — edit those, not this page. -->',
    '',
    'The `sonde` command (`npm install -g @sonde/cli`) drives any probe against any model. This page is generated from',
    'the program itself and from each probe\'s option schema — the same JSON Schema `sonde describe <probe> --json` prints.',
    'A walk-through is on [the sonde command](../start/cli.md).',
    '',
    '## Commands',
    '',
    '```text',
    helps[0]!,
    '```',
    '',
    ...commands.flatMap((c, i) => [`### \`sonde ${c}\``, '', '```text', helps[i + 1]!, '```', '']),
    '## Exit codes',
    '',
    '| code | meaning |',
    '| --- | --- |',
    '| 0 | done |',
    '| 1 | the probe failed |',
    '| 2 | bad usage or options — nothing was queried |',
    '| 3 | transport failure after retries |',
    '| 4 | budget exhausted — a partial report was written |',
    '| 130 | interrupted (Ctrl-C) — a partial report was written |',
    '',
    '## Built-in probes',
    '',
    'Options are given with `--set name=value` (typed by the schema: numbers, booleans, JSON for arrays and objects,',
    '`a.b=1` for a nested field) or all at once with `--options FILE.json`.',
    '',
    ...sections,
  ].join('\n')
  write(join(site, 'reference/cli.md'), page)
  console.log(`cli: ${commands.length} commands, ${sections.length} probes`)
}

// ---------------------------------------------------------------------------------------------------------
// Bench results

/** The sections of apps/bench/RESULTS.md, by slug of their `## ` title. */
export const benchSections = (text: string): Map<string, string> => {
  const out = new Map<string, string>()
  const parts = text.split(/^## /m).slice(1)
  for (const part of parts) {
    const title = part.slice(0, part.indexOf('\n')).trim()
    // Headings inside a section go one level down under the page's own heading.
    // A link to a plot becomes the plot itself, served from the site's public folder.
    const body = part
      .slice(part.indexOf('\n') + 1)
      .replace(/\[([^\]]*)\]\(plots\/([\w.-]+\.png)\)/g, '\n\n![$1](/generated/plots/$2)\n\n')
      .replace(/\]\(plots\//g, '](/generated/plots/')
      .replace(/^### /gm, '#### ')
      // VitePress compiles a page as a Vue template: a bare `<` or `{{` in prose would be read as markup.
      .split(/(`[^`\n]*`)/)
      .map((piece) => (piece.startsWith('`') ? piece : piece.replace(/</g, '&lt;').replace(/\{\{/g, '&#123;&#123;')))
      .join('')
    out.set(slugOf(title), `### ${title}\n${body}`)
  }
  return out
}

const generateBench = (): void => {
  const results = readFileSync(join(root, 'apps/bench/RESULTS.md'), 'utf8')
  const dir = join(generated, 'bench')
  rmSync(dir, { recursive: true, force: true })
  const sections = benchSections(results)
  for (const [slug, text] of sections) write(join(dir, `${slug}.md`), text)
  const plots = join(root, 'apps/bench/plots')
  mkdirSync(join(publicGenerated, 'plots'), { recursive: true })
  for (const f of existsSync(plots) ? readdirSync(plots) : []) copyFileSync(join(plots, f), join(publicGenerated, 'plots', f))
  console.log(`bench: ${sections.size} sections (${[...sections.keys()].join(', ')})`)
}

// ---------------------------------------------------------------------------------------------------------
// Recipes

interface RecipeDoc {
  readonly file: string
  readonly name: string
  readonly title: string
  readonly prose: string
  readonly slow: boolean
}

/** A recipe's title and prose, from its leading doc comment. */
export const recipeDoc = (file: string, text: string): RecipeDoc => {
  const comment = /^\/\*\*([\s\S]*?)\*\//.exec(text)?.[1] ?? ''
  const lines = comment.split('\n').map((l) => l.replace(/^\s*\* ?/, ''))
  const first = lines.findIndex((l) => l.trim() !== '')
  const title = (lines[first] ?? basename(file, '.ts')).replace(/^Recipe:\s*/, '').trim()
  const prose = lines
    .slice(first + 1)
    .filter((l) => !/^@tier\b/.test(l.trim()))
    .join('\n')
    .trim()
  return { file, name: basename(file, '.ts'), title: title.charAt(0).toUpperCase() + title.slice(1), prose, slow: /@tier slow\b/.test(comment) }
}

/** Where the recipe test saved a recipe's output (apps/integration/test/recipe-runner.ts writes it). */
const outputDir = join(root, 'docs/recipes/output')
const stdoutFile = (name: string): string => join(outputDir, `${name}.stdout.txt`)

const recipeOutput = (recipe: RecipeDoc): string => {
  const saved = stdoutFile(recipe.name)
  const source = join(root, 'docs/recipes', recipe.file)
  if (existsSync(saved) && statSync(saved).mtimeMs >= statSync(source).mtimeMs) return readFileSync(saved, 'utf8')
  console.log(`recipes: running ${recipe.file} (no saved output newer than the recipe)`)
  const out = execFileSync(process.execPath, ['--conditions=@sonde/source', '--import', 'tsx', source], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
  write(saved, out)
  return out
}

const generateRecipes = (): void => {
  const dir = join(site, 'recipes')
  rmSync(dir, { recursive: true, force: true })
  const images = join(publicGenerated, 'recipes')
  rmSync(images, { recursive: true, force: true })
  mkdirSync(images, { recursive: true })
  const recipes = readdirSync(join(root, 'docs/recipes'))
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => recipeDoc(f, readFileSync(join(root, 'docs/recipes', f), 'utf8')))
  for (const r of recipes) {
    const output = recipeOutput(r)
    const pngs = [...new Set(Array.from(output.matchAll(/docs\/recipes\/output\/([\w.-]+\.png)/g), (m) => m[1]!))]
    for (const png of pngs) copyFileSync(join(outputDir, png), join(images, png))
    const page = [
      `# ${r.title}`,
      '',
      `<!-- Generated by apps/docs/scripts/generate.ts from docs/recipes/${r.file} — edit the recipe, not this page. -->`,
      '',
      r.prose.replace(/`node --import tsx docs\/recipes\//g, '`node --import tsx docs/recipes/'),
      '',
      `The code below is the file CI runs (\`docs/recipes/${r.file}\`, ${r.slow ? 'in `npm run test:slow`' : 'in `npm test`'}); run it from a clone with \`node --import tsx docs/recipes/${r.file}\`.`,
      '',
      `<<< ../../../../docs/recipes/${r.file}`,
      '',
      '## Output',
      '',
      '```text',
      output.trimEnd(),
      '```',
      '',
      ...(pngs.length > 0 ? ['## Images', '', ...pngs.map((p) => `![${p}](/generated/recipes/${p})\n`)] : []),
    ].join('\n')
    write(join(dir, `${r.name}.md`), page)
  }
  const index = [
    '# Recipes',
    '',
    'Worked examples, each a real `.ts` file under `docs/recipes/` that CI runs against the built packages. Each page shows',
    'the file itself, what it printed and the images it wrote.',
    '',
    ...recipes.map((r) => `- [${r.title}](./${r.name}.md)${r.slow ? ' — slow tier' : ''}`),
    '',
  ].join('\n')
  write(join(dir, 'index.md'), index)
  console.log(`recipes: ${recipes.length} pages`)
}

// ---------------------------------------------------------------------------------------------------------

const tasks: Record<string, () => void | Promise<void>> = { bench: generateBench, cli: generateCli, recipes: generateRecipes, api: generateApi }

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const wanted = process.argv.slice(2)
  for (const name of wanted.length > 0 ? wanted : Object.keys(tasks)) {
    const task = tasks[name]
    if (task === undefined) throw new Error(`unknown task ${name}; known: ${Object.keys(tasks).join(', ')}`)
    await task()
  }
}
