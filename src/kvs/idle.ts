/**
 * An idle guard for a byte stream: ends the iteration cleanly when a
 * deadline passes with no chunk, without leaving a dangling read behind.
 *
 * @example
 * ```ts
 * import { idleGuard } from "./idle.ts";
 * const state = { idle: false };
 * async function* body() {
 *   yield new Uint8Array([1]);
 * }
 * for await (const chunk of idleGuard(body(), (last) => last + 5000, state)) console.log(chunk);
 * state.idle; // false: the source ended by itself
 * ```
 * @module
 */

const IDLE = Symbol("idle");

/** The longest delay a timer takes (2^31 − 1 ms, ~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Yield `source`'s chunks until it ends or until `deadline(lastChunkAt)`
 * (epoch ms, re-read while waiting; `Infinity` for none; `lastChunkAt` is
 * when the last chunk arrived, or when iteration began) passes while
 * waiting; then set `state.idle` and end. The caller closes the source.
 * When `state.bytes` is set, the length of every chunk yielded is added to it.
 */
export async function* idleGuard(
  source: AsyncIterable<Uint8Array>,
  deadline: (lastChunkAt: number) => number,
  state: { idle: boolean; bytes?: number; lastAt?: number },
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let lastChunkAt = Date.now();
  for (;;) {
    const pending = it.next();
    let r: IteratorResult<Uint8Array> | typeof IDLE;
    for (;;) {
      const wait = deadline(lastChunkAt) - Date.now();
      if (wait === Infinity) {
        r = await pending;
        break;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      // (At most the longest timer there is: a longer one fires at once, with a warning on stderr each time. A
      // deadline further off, e.g. a --stop-timestamp weeks ahead, is waited for a timer at a time.)
      const ms = Math.min(Math.max(0, wait), MAX_TIMER_MS);
      const timeout = new Promise<typeof IDLE>((res) => timer = setTimeout(() => res(IDLE), ms));
      r = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (r !== IDLE || deadline(lastChunkAt) <= Date.now()) break;
    }
    if (r === IDLE) {
      state.idle = true;
      pending.catch(() => {}); // the read is abandoned; closing the source rejects it
      return;
    }
    if (r.done) return;
    lastChunkAt = Date.now();
    if (state.bytes !== undefined) state.bytes += r.value.length;
    if (state.lastAt !== undefined) state.lastAt = lastChunkAt;
    yield r.value;
  }
}
