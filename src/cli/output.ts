/**
 * Text output for the CLI: a small buffered writer for stdout (few syscalls,
 * flushed at each fragment), and stderr messages.
 *
 * @example
 * ```ts
 * import { LineWriter } from "./output.ts";
 * const out = new LineWriter(Deno.stdout);
 * out.line("hello");
 * out.flush();
 * ```
 * @module
 */

const encoder = new TextEncoder();

/** Something with a synchronous write (Deno.stdout, Deno.stderr, a test double). */
export interface SyncWriter {
  /** Write some bytes; returns how many were written. */
  writeSync(p: Uint8Array): number;
}

/** Buffers lines and writes them in large blocks. */
export class LineWriter {
  #w: SyncWriter;
  #parts: string[] = [];
  #len = 0;

  constructor(writer: SyncWriter) {
    this.#w = writer;
  }

  /** Queue one line (a newline is added). */
  line(text: string): void {
    this.#parts.push(text, "\n");
    this.#len += text.length + 1;
    if (this.#len > 1 << 16) this.flush();
  }

  /** Write everything queued. */
  flush(): void {
    if (this.#parts.length === 0) return;
    writeAll(this.#w, encoder.encode(this.#parts.join("")));
    this.#parts = [];
    this.#len = 0;
  }
}

/**
 * Write all of `bytes`, looping over partial writes.
 *
 * @example
 * ```ts
 * import { writeAll } from "./output.ts";
 * writeAll(Deno.stdout, new TextEncoder().encode("done\n"));
 * ```
 */
export function writeAll(w: SyncWriter, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}

/**
 * Print a one-line message on stderr.
 *
 * @example
 * ```ts
 * import { warn } from "./output.ts";
 * warn("kvsaudio: warning: fragment 3 is truncated");
 * ```
 */
export function warn(message: string): void {
  writeAll(Deno.stderr, encoder.encode(message + "\n"));
}

/**
 * Format epoch milliseconds as ISO 8601, or `-` when unknown/invalid.
 *
 * @example
 * ```ts
 * import { isoTime } from "./output.ts";
 * isoTime(0); // "1970-01-01T00:00:00.000Z"
 * ```
 */
export function isoTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return "-";
  return new Date(ms).toISOString();
}
