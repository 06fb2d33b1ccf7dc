import type { ProbeReport, ReportFigure, ReportMetric, ReportTable, ReportValue } from '@sonde/oracle'
import type { RunDocument } from './document.js'
import { encodePng } from './png.js'
import { chartSvg, esc } from './svg.js'

const shown = (v: ReportValue): string => {
  if (v === null) return '–'
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : Number(v.toPrecision(6)).toString()
  return String(v)
}

/** The PNG data URI of an image figure (grey or RGB in [0, 1]) or a PNG figure. */
export const imageUri = (f: Extract<ReportFigure, { kind: 'image' } | { kind: 'png' }>): string =>
  f.kind === 'png' ? `data:image/png;base64,${f.base64}` : `data:image/png;base64,${encodePng(f.width, f.height, f.channels, f.pixels).toString('base64')}`

const metricsHtml = (ms: readonly ReportMetric[]): string =>
  ms.length === 0
    ? ''
    : `<table class="metrics"><tbody>${ms
        .map(
          (m) =>
            `<tr><th>${esc(m.name)}</th><td class="metric" data-metric="${esc(m.name)}" data-value="${esc(JSON.stringify(m.value))}">${esc(shown(m.value))}${m.unit !== undefined ? ` <span class="unit">${esc(m.unit)}</span>` : ''}</td><td class="desc">${esc(m.description ?? '')}</td></tr>`,
        )
        .join('')}</tbody></table>`

const maxRows = 200
const tableHtml = (t: ReportTable): string => {
  const rows = t.rows.slice(0, maxRows)
  const more = t.rows.length > maxRows ? `<p class="note">${t.rows.length - maxRows} more rows in report.json.</p>` : ''
  return `<figure class="table"><figcaption>${esc(t.title)}</figcaption><div class="scroll"><table><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${esc(shown(v))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>${more}</figure>`
}

const figureHtml = (f: ReportFigure): string => {
  if (f.kind === 'image' || f.kind === 'png') {
    const size = f.kind === 'image' ? ` width="${Math.max(112, f.width * Math.max(1, Math.floor(112 / f.width)))}" style="image-rendering: pixelated"` : ''
    return `<figure class="image"><img alt="${esc(f.title)}" src="${imageUri(f)}"${size}/><figcaption>${esc(f.title)}</figcaption></figure>`
  }
  return `<figure class="plot">${chartSvg(f)}</figure>`
}

const probeHtml = (r: ProbeReport, title: string, level: 2 | 3): string => {
  const images = r.figures.filter((f) => f.kind === 'image' || f.kind === 'png')
  const plots = r.figures.filter((f) => f.kind !== 'image' && f.kind !== 'png')
  return `<section class="probe" data-probe="${esc(r.probe)}"><h${level}>${esc(title)}</h${level}>
${r.headline !== '' ? `<p class="section-headline">${esc(r.headline)}</p>` : ''}
${r.findings.length > 0 ? `<ul class="findings">${r.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
${metricsHtml(r.metrics)}
${r.tables.map(tableHtml).join('\n')}
${plots.length > 0 ? `<div class="plots">${plots.map(figureHtml).join('')}</div>` : ''}
${images.length > 0 ? `<div class="images">${images.map(figureHtml).join('')}</div>` : ''}
</section>`
}

const css = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;max-width:1100px;margin:2rem auto;padding:0 1rem;background:#f9fafb}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.25rem}h3{font-size:1.05rem;margin-top:1.5rem}
.headline{font-size:1.2rem;font-weight:600;background:#fff;border-left:4px solid #2563eb;padding:.75rem 1rem;margin:1rem 0}
.status-complete{color:#15803d}.status-other{color:#b91c1c}
.summary td,.summary th,.metrics td,.metrics th{padding:.15rem .75rem .15rem 0;text-align:left;vertical-align:top}
.metrics th{font-weight:500}.metric{font-variant-numeric:tabular-nums;white-space:nowrap}.unit,.desc,.note{color:#6b7280;font-size:.85rem}
.scroll{overflow-x:auto;max-height:28rem}figure{margin:1rem 0}figcaption{font-weight:600;font-size:.9rem;margin:.25rem 0}
figure.table table{border-collapse:collapse;background:#fff;font-size:.85rem}figure.table td,figure.table th{border:1px solid #e5e7eb;padding:.2rem .5rem}td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:1rem}.plots svg{max-width:100%;height:auto;border:1px solid #e5e7eb}
.images{display:flex;flex-wrap:wrap;gap:1rem}.images figure{text-align:center;background:#fff;padding:.5rem;border:1px solid #e5e7eb}
`

/**
 * The report as one self-contained HTML page (no script, no external request: charts are inline SVG, images
 * data URIs): the headline and findings first, then what was run, then per probe (per section for an audit)
 * its metrics, tables, plots and pictures. Metric values carry their JSON value in `data-value`.
 *
 * @example
 * // fragment: needs a run's report.json
 * import { readFileSync } from 'node:fs'
 * import { renderHtml, type RunDocument } from '@sonde/cli'
 *
 * const doc = JSON.parse(readFileSync('out/report.json', 'utf8')) as RunDocument
 * const html = renderHtml(doc) // '<!doctype html>…'
 */
export const renderHtml = (doc: RunDocument): string => {
  const r = doc.report
  const ok = doc.status === 'complete'
  const q = doc.queries
  const summary: [string, string][] = [
    ['status', `${doc.status}${doc.error !== undefined ? ` — ${doc.error.tag}: ${doc.error.message}` : ''}`],
    ['probe', doc.probe],
    ['model', `${doc.model.kind} ${doc.model.source} (${String(doc.model.info.id)}: ${String(doc.model.info.inputDim)} inputs, ${String(doc.model.info.numClasses)} classes, reveals ${String(doc.model.info.output)})`],
    ['seed', String(doc.seed)],
    ['queries', `${q.predictRows.toLocaleString('en-US')} predicted rows, ${q.gradientRows.toLocaleString('en-US')} gradient rows, ${q.calls.toLocaleString('en-US')} calls`],
    ['answers', `${doc.answers.fromModel.toLocaleString('en-US')} rows from the model, ${doc.answers.fromJournal.toLocaleString('en-US')} from the journal of an earlier run`],
    ['budget', doc.budget === null ? 'none' : `${doc.budget.toLocaleString('en-US')} rows`],
    ['time', `${(doc.timings.durationMs / 1000).toFixed(1)} s (${doc.timings.startedAt})`],
    ['versions', Object.entries(doc.versions).map(([k, v]) => `${k} ${v}`).join(', ')],
  ]
  const sections = r.sections ?? []
  const body =
    sections.length > 0
      ? `${probeHtml({ ...r, headline: '', findings: [], sections: [] }, `Overview (${r.probe})`, 2)}${sections.map((s) => probeHtml(s, s.probe, 2)).join('\n')}`
      : probeHtml(r, r.probe, 2)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>sonde: ${esc(doc.probe)} — ${esc(String(doc.model.info.id))}</title><style>${css}</style></head>
<body>
<header><h1>${esc(doc.command === 'audit' ? 'Sonde audit' : `Sonde: ${doc.probe}`)}</h1>
<p class="${ok ? 'status-complete' : 'status-other'}">${ok ? 'Complete.' : `Stopped early: ${esc(doc.status)}.`}</p></header>
<p class="headline" id="headline">${esc(r.headline)}</p>
${r.findings.length > 0 ? `<ul class="findings" id="findings">${r.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
<h2>The run</h2>
<table class="summary"><tbody>${summary.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>
${body}
</body></html>
`
}
