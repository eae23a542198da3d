/**
 * Retry delays: exponential backoff with full jitter, capped.
 *
 * @example
 * ```ts
 * import { backoffDelays } from "./backoff.ts";
 * for (let attempt = 0; attempt < 5; attempt++) {
 *   // (baseMs 20: up to 20, 40, 80, 160, 320 ms; the default starts at 200)
 *   await new Promise((r) => setTimeout(r, backoffDelays(attempt, { baseMs: 20 })));
 *   // ... retry
 * }
 * ```
 * @module
 */

/** Backoff tuning; `random` lets tests make the jitter deterministic. */
export interface BackoffOptions {
  /** Delay ceiling for attempt 0, ms (default 200). */
  baseMs?: number;
  /** Largest delay, ms (default 10 000). */
  capMs?: number;
  /** Uniform random in [0, 1) (default `Math.random`; see {@link seededRandom}). */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (0-based): a uniform random value
 * in `[0, min(capMs, baseMs * 2^attempt)]` ("full jitter").
 *
 * @example
 * ```ts
 * backoffDelays(3, { random: () => 0.5 }); // 800 (half of 200 * 2^3)
 * backoffDelays(20, { random: () => 0.999 }); // just under 10 000
 * ```
 */
export function backoffDelays(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 200;
  const cap = opts.capMs ?? 10_000;
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.floor(random() * (ceiling + 1));
}

/**
 * A small seeded PRNG (mulberry32) returning floats in [0, 1), for
 * deterministic jitter in tests.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * backoffDelays(2, { random }); // same value on every run
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
