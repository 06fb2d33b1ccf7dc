import DefaultTheme from 'vitepress/theme'
import type { Theme } from 'vitepress'
import './custom.css'

// Live demos are Vue components registered here and used in the demo pages inside <ClientOnly>; each
// imports the library in onMounted, so the static build never runs tfjs.
const demos = import.meta.glob<{ default: object }>('./demos/*.vue', { eager: true })

export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    for (const [path, mod] of Object.entries(demos)) {
      const name = /\/([^/]+)\.vue$/.exec(path)?.[1]
      if (name !== undefined) app.component(name, mod.default)
    }
  },
} satisfies Theme
