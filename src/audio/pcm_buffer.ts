/**
 * Fixed-size, grow-free output buffer shared by the sinks: small writes are
 * copied in, a write that does not fit flushes first, and large writes go
 * straight through to the output.
 *
 * @example
 * ```ts
 * import { PcmBuffer } from "./pcm_buffer.ts";
 * import { writeAll } from "./write_all.ts";
 * const buf = new PcmBuffer(1 << 20, (bytes) => writeAll(Deno.stdout, bytes));
 * buf.write(new Uint8Array(320));
 * buf.zeros(1600);
 * buf.flush(); // one writeSync for both
 * ```
 * @module
 */

/** Default buffer size of the sinks: 1 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_BUFFER_BYTES, PcmBuffer } from "./pcm_buffer.ts";
 * const buf = new PcmBuffer(DEFAULT_BUFFER_BYTES, () => {});
 * ```
 */
export const DEFAULT_BUFFER_BYTES = 1 << 20;

/**
 * Byte buffer in front of an output function. `out` receives either a view
 * of the internal buffer or the caller's own view (large writes); it must
 * consume it fully before returning and not keep it.
 *
 * @example
 * ```ts
 * import { PcmBuffer } from "./pcm_buffer.ts";
 * const seen: number[] = [];
 * const buf = new PcmBuffer(8, (bytes) => seen.push(bytes.length));
 * buf.write(new Uint8Array(6));
 * buf.write(new Uint8Array(6)); // does not fit: flushes 6, then buffers 6
 * buf.flush();
 * console.log(seen); // [6, 6]
 * ```
 */
export class PcmBuffer {
  readonly #buf: Uint8Array;
  readonly #out: (bytes: Uint8Array) => void;
  readonly #direct: number;
  #length = 0;
  #taken = 0;

  /** Bytes taken in so far (by {@linkcode PcmBuffer.write} and {@linkcode PcmBuffer.zeros}). */
  get taken(): number {
    return this.#taken;
  }

  /**
   * Create an empty buffer; `RangeError` unless `capacity` is a positive integer.
   *
   * @param capacity buffer size in bytes (at least 1)
   * @param out receives each flushed run of bytes, in order
   */
  constructor(capacity: number, out: (bytes: Uint8Array) => void) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `buffer size must be a positive integer, got ${capacity}`,
      );
    }
    this.#buf = new Uint8Array(capacity);
    this.#out = out;
    this.#direct = Math.max(1, capacity >> 1);
  }

  /**
   * Append a copy of `bytes`. If they do not fit in the free space the buffer
   * is flushed first; then writes of at least half the capacity go straight
   * to `out` without copying.
   */
  write(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n > this.#buf.length - this.#length) {
      this.flush();
      if (n >= this.#direct) {
        this.#taken += n;
        this.#out(bytes);
        return;
      }
    }
    this.#buf.set(bytes, this.#length);
    this.#length += n;
    this.#taken += n;
  }

  /** Append `count` zero bytes, flushing whenever the buffer fills. */
  zeros(count: number): void {
    const buf = this.#buf;
    while (count > 0) {
      if (this.#length === buf.length) this.flush();
      const k = Math.min(count, buf.length - this.#length);
      buf.fill(0, this.#length, this.#length + k);
      this.#length += k;
      this.#taken += k;
      count -= k;
    }
  }

  /**
   * Pass the buffered bytes to `out` and empty the buffer. The buffer is
   * emptied even if `out` throws (the bytes' fate is then unknown).
   */
  flush(): void {
    const n = this.#length;
    if (n === 0) return;
    this.#length = 0;
    this.#out(this.#buf.subarray(0, n));
  }
}
