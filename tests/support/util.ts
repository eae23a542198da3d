/**
 * Small helpers shared by the test files: byte literals, hex and byte search,
 * seeded random numbers and noise, catching an error, temp dirs that are
 * removed afterwards, and a bounded pool of async tasks. (mulberry32 is
 * `seededRandom` in src/kvs/backoff.ts; `concat` is in mkv_writer.ts; CLI runs
 * are in cli.ts.)
 * @module
 */

import assert from "node:assert/strict";
import { seededRandom } from "../../src/kvs/backoff.ts";

/** Bytes from numbers: `bytes(0x1a, 0x45)`. */
export const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Lower-case hex, no separators. */
export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Index of the first occurrence of `needle` in `hay` at or after `from`; -1 when there is none. */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A seeded linear congruential generator returning floats in [0, 1): quick
 * and reproducible, for picking random offsets and moments in tests.
 */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `rand(n)`: seeded integers in [0, n), from `seededRandom` (mulberry32). */
export function seededInts(seed: number): (n: number) => number {
  const random = seededRandom(seed);
  return (n) => Math.floor(random() * n);
}

/** `n` deterministic pseudo-random bytes (xorshift32). */
export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** What `fn` throws; fails the test when it returns. */
export function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected an error");
}

/** Run `fn` with a fresh temp dir, removed (recursively) afterwards, whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Run `fn` on every item, at most `n` at a time; the results in item order.
 * Rejects with the first error (the other workers go on through the remaining items).
 */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

/** Write all of `data` to `file` with asynchronous writes (a pipe may take less per write). */
export async function writeFully(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let o = 0; o < data.length;) o += await file.write(data.subarray(o));
}

/**
 * Make a named pipe `path` with mkfifo; false (after saying the test `name`
 * is skipped) where mkfifo is not available.
 */
export async function makeFifo(path: string, name: string): Promise<boolean> {
  const made = await new Deno.Command("mkfifo", { args: [path], stderr: "null" }).output().catch(() => undefined);
  if (!made?.success) console.log(`${name}: skipped, mkfifo is not available`);
  return made?.success === true;
}

/**
 * Open the named pipe `path` for writing, which waits for a reader; fails
 * instead of hanging when `reader` (the one expected to open it) settles first.
 */
export async function openFifoWriter(path: string, reader: Promise<unknown>): Promise<Deno.FsFile> {
  const settled = reader.then(
    (v) => ({ early: v }),
    (e) => ({ early: e }),
  );
  const opening = Deno.open(path, { write: true });
  const first = await Promise.race([opening, settled]);
  if (!(first instanceof Deno.FsFile)) {
    // Unblock the pending open (a reader of our own), then report.
    (await Deno.open(path, { read: true })).close();
    (await opening).close();
    throw new Error(`the reader finished before the writer opened the pipe: ${Deno.inspect(first.early)}`);
  }
  return first;
}
