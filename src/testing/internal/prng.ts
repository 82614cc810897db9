/**
 * A small seeded pseudo-random generator (SplitMix32) for the chaos kit.
 *
 * Why our own instead of `Math.random` or the fiber's `Random`: a chaos run must be reproducible from its seed
 * alone, whatever the caller does with Effect's `Random` service (the core draws jitter from it), and the original
 * library's bug was exactly a seed that was stored and then ignored. One generator per chaos provider, drawn in
 * call order, gives "same seed and same call order → same decisions". It is not for cryptography.
 *
 * @internal
 */

/** @internal */
export interface Prng {
  /** The seed it was created with. */
  readonly seed: number
  /** A number in [0, 1). */
  readonly next: () => number
}

/**
 * Normalises any finite number to an unsigned 32-bit seed (so `1`, `1.0` and `2 ** 32 + 1` are the same seed).
 *
 * @internal
 */
export const normalizeSeed = (seed: number): number => {
  if (!Number.isFinite(seed)) throw new RangeError(`a chaos seed must be a finite number, got ${seed}`)
  return Math.trunc(seed) >>> 0
}

/** @internal */
export const make = (seed: number): Prng => {
  const normalized = normalizeSeed(seed)
  let state = normalized
  const next = (): number => {
    // SplitMix32: add the golden-ratio increment, then mix. Passes the usual smoke tests and is one line of state.
    state = (state + 0x9e3779b9) | 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad)
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97)
    z ^= z >>> 15
    return (z >>> 0) / 4294967296
  }
  return { seed: normalized, next }
}
