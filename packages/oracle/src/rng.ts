import { either as E } from 'fp-ts'
import { errors, SondeError, type InvalidOptions } from './errors.js'

/**
 * A seeded pseudo-random generator (xoshiro128**, seeded through splitmix32). Every
 * stochastic algorithm in Sonde draws from one of these, never from the global unseeded generator, so the
 * same seed gives bit-identical results on every platform.
 */
export interface Rng {
  /** Uniform in [0, 1) with 32 random bits. */
  readonly next: () => number
  /** Uniform integer in [0, n). */
  readonly int: (n: number) => number
  /** Standard normal (Box–Muller, both values used). */
  readonly normal: () => number
  /** An independent generator derived from this one's stream (for sub-tasks). */
  readonly fork: () => Rng
}

const splitmix32 = (seed: number): (() => number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/**
 * Check a seed from a user: a safe integer (any sign), else `InvalidOptions` at `path`. Every stochastic
 * function calls it before it does anything, so a bad seed never becomes seed 0 in disguise.
 *
 * @example
 * import { validateSeed } from '@sonde/oracle'
 *
 * const ok = validateSeed(42) // Right(42)
 * const bad = validateSeed('1') // Left(InvalidOptions) — also for NaN, undefined, Infinity, 1.5, 2 ** 53
 */
export const validateSeed = (seed: unknown, path = 'options.seed'): E.Either<InvalidOptions, number> =>
  typeof seed === 'number' && Number.isSafeInteger(seed)
    ? E.right(seed)
    : E.left(errors.invalidOptions([{ path, message: `is ${typeof seed === 'string' ? JSON.stringify(seed) : String(seed)}; expected a safe integer` }]))

/**
 * A generator for `seed`, a safe integer: every one gives its own stream (2³² and 0 differ). Anything else
 * throws a {@link SondeError} with `InvalidOptions` — check user input with {@link validateSeed} first.
 *
 * @example
 * import { createRng } from '@sonde/oracle'
 *
 * const rng = createRng(42)
 * const u = rng.next() // uniform in [0, 1)
 * const z = rng.normal() // standard normal
 * const i = rng.int(10) // integer in 0..9
 */
export const createRng = (seed: number): Rng => {
  const checked = validateSeed(seed, 'seed')
  if (E.isLeft(checked)) throw new SondeError(checked.left)
  // The low 32 bits seed splitmix32, as they always have (seeds in [0, 2³²) keep their streams); the high
  // bits, when there are any, are mixed into the state so that no two safe integers share a stream.
  const folded = seed >>> 0
  const high = Math.floor(seed / 4294967296)
  const sm = splitmix32(folded)
  let a = sm()
  let b = sm()
  let c = sm()
  let d = sm()
  if (high !== 0) {
    const hm = splitmix32(high >>> 0)
    a = (a ^ hm()) >>> 0
    b = (b ^ hm()) >>> 0
    c = (c ^ hm()) >>> 0
    d = (d ^ (hm() | 1)) >>> 0
  }
  const nextU32 = (): number => {
    const result = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)) >>> 0, 9) >>> 0
    const t = (b << 9) >>> 0
    c = (c ^ a) >>> 0
    d = (d ^ b) >>> 0
    b = (b ^ c) >>> 0
    a = (a ^ d) >>> 0
    c = (c ^ t) >>> 0
    d = ((d << 11) | (d >>> 21)) >>> 0
    return result
  }
  const next = (): number => nextU32() / 4294967296
  let spare: number | undefined
  const normal = (): number => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    let u = 0
    while (u === 0) u = next()
    const v = next()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
  const int = (n: number): number => Math.floor(next() * n)
  const fork = (): Rng => createRng(nextU32())
  return { next, int, normal, fork }
}

/**
 * A seeded Fisher–Yates permutation of `0..n-1`.
 *
 * @example
 * import { createRng, permutation } from '@sonde/oracle'
 *
 * const order = permutation(10, createRng(1)) // 0..9, shuffled
 */
export const permutation = (n: number, rng: Rng): Int32Array => {
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = p[i]!
    p[i] = p[j]!
    p[j] = t
  }
  return p
}
