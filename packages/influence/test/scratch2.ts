import { cholesky } from '../src/linalg.js'
const p = Number(process.argv[2] ?? 2000)
const a = new Float64Array(p * p)
for (let i = 0; i < p; i++) for (let j = 0; j <= i; j++) { const v = i === j ? p : Math.sin(i * 7 + j * 3) * 0.5; a[i * p + j] = v; a[j * p + i] = v }
const t = performance.now()
const l = cholesky({ rows: p, cols: p, data: a })
console.log(p, performance.now() - t, l._tag)
