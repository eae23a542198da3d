/**
 * An idle guard for a byte stream: ends the iteration cleanly when a
 * deadline passes with no chunk, without leaving a dangling read behind.
 *
 * @example
 * ```ts
 * import { idleGuard } from "./idle.ts";
 * const state = { idle: false };
 * const body = [new Uint8Array([1])];
 * for await (const chunk of idleGuard(body, () => Date.now() + 5000, state)) console.log(chunk);
 * state.idle; // false: the source ended by itself
 * ```
 * @module
 */

const IDLE = Symbol("idle");

/**
 * Yield `source`'s chunks until it ends or until `deadline()` (epoch ms,
 * re-read after every chunk; `Infinity` for none) passes while waiting; then
 * set `state.idle` and end. The caller closes the source.
 */
export async function* idleGuard(
  source: AsyncIterable<Uint8Array>,
  deadline: () => number,
  state: { idle: boolean },
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    const pending = it.next();
    let r: IteratorResult<Uint8Array> | typeof IDLE;
    for (;;) {
      const wait = deadline() - Date.now();
      if (wait === Infinity) {
        r = await pending;
        break;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<typeof IDLE>((res) => timer = setTimeout(() => res(IDLE), Math.max(0, wait)));
      r = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (r !== IDLE || deadline() <= Date.now()) break;
    }
    if (r === IDLE) {
      state.idle = true;
      pending.catch(() => {}); // the read is abandoned; closing the source rejects it
      return;
    }
    if (r.done) return;
    yield r.value;
  }
}
