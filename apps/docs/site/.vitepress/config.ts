import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig, type DefaultTheme } from 'vitepress'

// The API sidebar is written by TypeDoc (scripts/generate.ts) next to the pages it generates.
const apiSidebarFile = join(import.meta.dirname, '../api/typedoc-sidebar.json')
const apiSidebar: DefaultTheme.SidebarItem[] = existsSync(apiSidebarFile) ? (JSON.parse(readFileSync(apiSidebarFile, 'utf8')) as DefaultTheme.SidebarItem[]) : []

const guide: DefaultTheme.SidebarItem[] = [
  { text: 'Start', items: [{ text: 'Start here', link: '/start/' }, { text: 'The sonde command', link: '/start/cli' }] },
  {
    text: 'Concepts',
    items: [
      { text: 'The Oracle', link: '/concepts/oracle' },
      { text: 'Queries and budgets', link: '/concepts/queries' },
      { text: 'Cache and journal', link: '/concepts/cache-and-journal' },
      { text: 'Errors', link: '/concepts/errors' },
      { text: 'Seeds and reproducibility', link: '/concepts/seeds' },
      { text: 'Probes and registries', link: '/concepts/probes' },
    ],
  },
  {
    text: 'Families',
    items: [
      { text: 'Copying', link: '/families/copying' },
      { text: 'Inverse classification', link: '/families/inverse-classification' },
      { text: 'Gradient extraction', link: '/families/gradient-extraction' },
      { text: 'Influence', link: '/families/influence' },
      { text: 'Debugging', link: '/families/debugging' },
    ],
  },
  { text: 'Recipes', link: '/recipes/' },
  { text: 'Writing a plugin', link: '/plugins' },
  {
    text: 'Live demos',
    items: [
      { text: 'Exact counterfactuals', link: '/demos/counterfactual' },
      { text: 'Your explanation API leaks', link: '/demos/extraction' },
      { text: 'Copying a black box', link: '/demos/copying' },
    ],
  },
  { text: 'Reference', items: [{ text: 'CLI', link: '/reference/cli' }, { text: 'API', link: '/api/' }] },
]

export default defineConfig({
  title: 'Sonde',
  description: 'Probe machine-learning classifiers from the outside: copy them, invert them, extract them, explain them, debug them.',
  cleanUrls: false,
  // Every link is checked at build time; a dead link fails `npm run docs:build`.
  ignoreDeadLinks: false,
  lastUpdated: false,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  themeConfig: {
    nav: [
      { text: 'Start', link: '/start/' },
      { text: 'Concepts', link: '/concepts/oracle' },
      { text: 'Recipes', link: '/recipes/' },
      { text: 'Demos', link: '/demos/counterfactual' },
      { text: 'API', link: '/api/' },
      { text: 'CLI', link: '/reference/cli' },
    ],
    sidebar: { '/api/': apiSidebar, '/': guide },
    search: { provider: 'local' },
    outline: [2, 3],
  },
  vite: {
    // The demos import the library's TypeScript sources (the '@sonde/source' export condition), as the tests do.
    resolve: { conditions: ['@sonde/source', 'browser', 'module', 'import', 'default'] },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
    build: { chunkSizeWarningLimit: 4000 },
  },
})
