/**
 * The WebAssembly SIMD kernels, assembled here at load time from a few opcodes (no toolchain, no binary
 * blob in the repository): one module, importing one memory, exporting
 *
 * `update(c, ldc, a, b, rb0, rb1, cb0, cb1, kc, lowerOnly, flags, alpha)`: for every 4 × 4 block (rb, cb) with
 * rb0 ≤ rb < rb1, cb0 ≤ cb < cb1 (and cb ≤ rb when `lowerOnly`), C[4rb.., 4cb..] += alpha · A_rb B_cbᵀ, where
 * `a` and `b` hold packed 4-row slivers: sliver s is kc steps of 4 doubles (A[4s + i, t] at a + 32·(s·kc + t) + 8i).
 * With `flags` ≠ 0, a block whose sliver has flag byte 0 (flags + rb or flags + cb) is skipped: the Gram
 * passes which slivers are all zeros. One kernel serves the Cholesky's trailing update (a = b, alpha = −1) and
 * the Gram XᵀDX (alpha = 1). All addresses are bytes.
 *
 * The 4 × 4 block keeps 8 f64x2 accumulators, two B vectors and one broadcast A value: 11 of the 16 xmm
 * registers V8 allocates, so nothing spills (a 4 × 8 block needs 16 accumulators and spilled: slower).
 */

const enum Op {
  block = 0x02,
  loop = 0x03,
  if_ = 0x04,
  end = 0x0b,
  br = 0x0c,
  brIf = 0x0d,
  localGet = 0x20,
  localSet = 0x21,
  localTee = 0x22,
  i32Const = 0x41,
  i32Load8U = 0x2d,
  i32Eqz = 0x45,
  i32LtU = 0x49,
  i32GtU = 0x4b,
  i32GeU = 0x4f,
  i32Add = 0x6a,
  i32Sub = 0x6b,
  i32Mul = 0x6c,
  i32Shl = 0x74,
  simd = 0xfd,
}

const I32 = 0x7f
const F64 = 0x7c
const V128 = 0x7b

const uleb = (n: number): number[] => {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}
const sleb = (n: number): number[] => {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>= 7
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))]
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]

/** A function body under construction: locals by name, opcodes appended in order. */
class Fn {
  readonly code: number[] = []
  private readonly locals: number[] = []
  private readonly names = new Map<string, number>()
  constructor(
    readonly params: ReadonlyArray<readonly [string, number]>,
    readonly name: string,
  ) {
    params.forEach(([n], i) => this.names.set(n, i))
  }
  local(name: string, type: number): void {
    this.names.set(name, this.params.length + this.locals.length)
    this.locals.push(type)
  }
  private idx(name: string): number {
    const i = this.names.get(name)
    if (i === undefined) throw new Error(`wasm: no local ${name}`)
    return i
  }
  get(name: string): this {
    this.code.push(Op.localGet, ...uleb(this.idx(name)))
    return this
  }
  set(name: string): this {
    this.code.push(Op.localSet, ...uleb(this.idx(name)))
    return this
  }
  tee(name: string): this {
    this.code.push(Op.localTee, ...uleb(this.idx(name)))
    return this
  }
  i32(n: number): this {
    this.code.push(Op.i32Const, ...sleb(n))
    return this
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes)
    return this
  }
  simd(opcode: number, ...imm: number[]): this {
    this.code.push(Op.simd, ...uleb(opcode), ...imm)
    return this
  }
  /** v128.load with byte offset (alignment hint 1: rows of an odd-width matrix are 8-byte aligned only). */
  vload(offset: number): this {
    return this.simd(0x00, 3, ...uleb(offset))
  }
  vstore(offset: number): this {
    return this.simd(0x0b, 3, ...uleb(offset))
  }
  splatLoad(offset: number): this {
    return this.simd(0x0a, 3, ...uleb(offset))
  }
  body(): number[] {
    const groups: number[][] = this.locals.map((t) => [1, t])
    const inner = [...vec(groups), ...this.code, Op.end]
    return [...uleb(inner.length), ...inner]
  }
}

const F64X2_SPLAT = 0x14
const F64X2_ADD = 0xf0
const F64X2_MUL = 0xf2

/** `for (v = from; v < to; v += 1) body` with `from` and `to` as locals already set. */
const forLoop = (f: Fn, v: string, to: string, body: () => void): void => {
  f.op(Op.block, 0x40)
  f.get(v).get(to).op(Op.i32GeU, Op.brIf, 0)
  f.op(Op.loop, 0x40)
  body()
  f.get(v).i32(1).op(Op.i32Add).tee(v).get(to).op(Op.i32LtU, Op.brIf, 0)
  f.op(Op.end, Op.end)
}

/**
 * The 4 × 4 block C[4rb.., 4cb..] += alpha · A_rb B_cbᵀ with `pa`, `pb` the sliver addresses and `pc` the
 * block's address in C; `ldc8` is C's row stride in bytes.
 */
const step = (f: Fn, t: number): void => {
  f.get('xb').vload(32 * t).set('b0')
  f.get('xb').vload(32 * t + 16).set('b1')
  for (let i = 0; i < 4; i++) {
    f.get('xa').splatLoad(32 * t + 8 * i).set('ai')
    f.get(`acc${2 * i}`).get('ai').get('b0').simd(F64X2_MUL).simd(F64X2_ADD).set(`acc${2 * i}`)
    f.get(`acc${2 * i + 1}`).get('ai').get('b1').simd(F64X2_MUL).simd(F64X2_ADD).set(`acc${2 * i + 1}`)
  }
}

/** Steps of `unroll` while a whole group remains (xa + 32·unroll ≤ xaEnd), moving both pointers. */
const stepLoop = (f: Fn, unroll: number): void => {
  f.op(Op.block, 0x40)
  f.get('xa').i32(32 * unroll).op(Op.i32Add).get('xaEnd').op(Op.i32GtU, Op.brIf, 0)
  f.op(Op.loop, 0x40)
  for (let t = 0; t < unroll; t++) step(f, t)
  f.get('xb').i32(32 * unroll).op(Op.i32Add).set('xb')
  f.get('xa').i32(32 * unroll).op(Op.i32Add).tee('xa').i32(32 * unroll).op(Op.i32Add).get('xaEnd').op(Op.i32GtU, Op.i32Eqz, Op.brIf, 0)
  f.op(Op.end, Op.end)
}

const microKernel = (f: Fn, unroll: number): void => {
  for (let k = 0; k < 8; k++) f.simd(0x0c, ...new Array<number>(16).fill(0)).set(`acc${k}`)
  f.get('pa').set('xa')
  f.get('pb').set('xb')
  f.get('pa').get('sliver').op(Op.i32Add).set('xaEnd')
  stepLoop(f, unroll)
  if (unroll > 1) stepLoop(f, 1)
  for (let i = 0; i < 4; i++) {
    // row address pc + i·ldc8
    f.get('pc')
    if (i > 0) f.get('ldc8').i32(i).op(Op.i32Mul, Op.i32Add)
    f.set('row')
    for (let h = 0; h < 2; h++) {
      f.get('row').get('row').vload(16 * h).get(`acc${2 * i + h}`).get('alpha2').simd(F64X2_MUL).simd(F64X2_ADD).vstore(16 * h)
    }
  }
}

/** `update`: loops over the blocks, the microkernel inside. */
const blockLoop = (unroll: number): Fn => {
  const params: Array<readonly [string, number]> = [
    ['c', I32],
    ['ldc', I32],
    ['a', I32],
    ['b', I32],
    ['rb0', I32],
    ['rb1', I32],
    ['cb0', I32],
    ['cb1', I32],
    ['kc', I32],
    ['lowerOnly', I32],
    ['flags', I32],
    ['alpha', F64],
  ]
  const f = new Fn(params, 'update')
  for (const l of ['rb', 'cb', 'cEnd', 'xaEnd', 'pa', 'pb', 'pc', 'xa', 'xb', 'ldc8', 'sliver', 'row']) f.local(l, I32)
  for (const l of ['acc0', 'acc1', 'acc2', 'acc3', 'acc4', 'acc5', 'acc6', 'acc7', 'b0', 'b1', 'ai', 'alpha2']) f.local(l, V128)
  f.get('alpha').simd(F64X2_SPLAT).set('alpha2')
  f.get('ldc').i32(3).op(Op.i32Shl).set('ldc8')
  // A sliver is kc · 32 bytes.
  f.get('kc').i32(5).op(Op.i32Shl).set('sliver')
  f.get('rb0').set('rb')
  forLoop(f, 'rb', 'rb1', () => {
    // skip a row of blocks whose A sliver is all zeros (flags[rb] = 0)
    f.op(Op.block, 0x40)
    f.get('flags').op(Op.if_, 0x40)
    f.get('flags').get('rb').op(Op.i32Add, Op.i32Load8U, 0, 0, Op.i32Eqz, Op.brIf, 1)
    f.op(Op.end)
    f.get('a').get('rb').get('sliver').op(Op.i32Mul, Op.i32Add).set('pa')
    // cEnd = lowerOnly ? min(cb1, rb + 1) : cb1
    f.get('cb1').set('cEnd')
    f.get('lowerOnly').op(Op.if_, 0x40)
    f.get('rb').i32(1).op(Op.i32Add).get('cb1').op(Op.i32LtU, Op.if_, 0x40)
    f.get('rb').i32(1).op(Op.i32Add).set('cEnd')
    f.op(Op.end, Op.end)
    f.get('cb0').set('cb')
    forLoop(f, 'cb', 'cEnd', () => {
      f.op(Op.block, 0x40)
      f.get('flags').op(Op.if_, 0x40)
      f.get('flags').get('cb').op(Op.i32Add, Op.i32Load8U, 0, 0, Op.i32Eqz, Op.brIf, 1)
      f.op(Op.end)
      f.get('b').get('cb').get('sliver').op(Op.i32Mul, Op.i32Add).set('pb')
      // pc = c + (4rb · ldc + 4cb) · 8
      f.get('c').get('rb').i32(2).op(Op.i32Shl).get('ldc').op(Op.i32Mul).get('cb').i32(2).op(Op.i32Shl).op(Op.i32Add).i32(3).op(Op.i32Shl).op(Op.i32Add).set('pc')
      microKernel(f, unroll)
      f.op(Op.end)
    })
    f.op(Op.end)
  })
  return f
}

export const assemble = (unroll = 1): Uint8Array<ArrayBuffer> => {
  const fns = [blockLoop(unroll)]
  const sigs = fns.map((f) => [0x60, ...vec(f.params.map(([, t]) => [t])), 0])
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(sigs)),
    // import env.memory: shared, min 1 page, max 65536 pages (4 GiB)
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]])),
    ...section(3, vec(fns.map((_, i) => [i]))),
    ...section(7, vec(fns.map((f, i) => [...str(f.name), 0x00, i]))),
    ...section(10, vec(fns.map((f) => f.body()))),
  ]
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

export interface Kernels {
  readonly update: (c: number, ldc: number, a: number, b: number, rb0: number, rb1: number, cb0: number, cb1: number, kc: number, lowerOnly: number, flags: number, alpha: number) => void
}

let compiled: WebAssembly.Module | null | undefined

/** The compiled module, or null where WebAssembly SIMD (or shared memory) is missing: callers fall back to JS. */
export const kernelModule = (): WebAssembly.Module | null => {
  if (compiled !== undefined) return compiled
  try {
    const bytes = assemble()
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null
  } catch {
    compiled = null
  }
  return compiled
}

/** The module's bytes (for tests: they validate). */
export const kernelBytes = (): Uint8Array<ArrayBuffer> => assemble()

/** Instantiate the kernels on a memory (shared, so that workers can run them on the same data). */
export const instantiate = (module: WebAssembly.Module, memory: WebAssembly.Memory): Kernels => {
  const inst = new WebAssembly.Instance(module, { env: { memory } })
  return inst.exports as unknown as Kernels
}

export const PAGE = 65536
/** Bytes of wasm32 memory at most (65,536 pages). */
export const MAX_BYTES = 65536 * PAGE

/** A shared memory of at least `bytes` bytes, or null when it cannot be had (too large, no SharedArrayBuffer). */
export const sharedMemory = (bytes: number): WebAssembly.Memory | null => {
  const pages = Math.ceil(bytes / PAGE)
  if (pages > 65536) return null
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
  } catch {
    return null
  }
}

/**
 * One shared memory kept between calls for a short while: a fresh memory costs a page fault per 4 KiB page on
 * first touch, which at p = 1,970 was a third of a factorisation (≈ 0.4 s of 1.1 s on a loaded machine). A
 * borrower has it alone (two concurrent calls never share one); it is dropped 2 s after its last return, so a
 * large factor's memory does not outlive the work.
 */
let spare: WebAssembly.Memory | undefined
let dropTimer: ReturnType<typeof setTimeout> | undefined

export const borrowMemory = (bytes: number): WebAssembly.Memory | null => {
  if (spare !== undefined && spare.buffer.byteLength >= bytes && spare.buffer.byteLength <= 2 * bytes + 64 * PAGE) {
    const m = spare
    spare = undefined
    return m
  }
  return sharedMemory(bytes)
}

export const returnMemory = (memory: WebAssembly.Memory): void => {
  spare = memory
  if (dropTimer !== undefined) clearTimeout(dropTimer)
  dropTimer = setTimeout(() => {
    spare = undefined
    dropTimer = undefined
  }, 2000)
  // Never keeps a process alive.
  if (typeof dropTimer === 'object' && dropTimer !== null && 'unref' in dropTimer) dropTimer.unref()
}
