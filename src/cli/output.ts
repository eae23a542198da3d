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

import { type SyncWriter, writeAll } from "../audio/write_all.ts";

const encoder = new TextEncoder();

/** Bytes a LineWriter buffers before it writes. */
const LINE_BUFFER = 1 << 16;

/**
 * Buffers lines and writes them in large blocks. Lines are encoded into the
 * buffer as they come, so no string outlives its line.
 */
export class LineWriter {
  #w: SyncWriter;
  #buf = new Uint8Array(LINE_BUFFER);
  #len = 0;

  constructor(writer: SyncWriter) {
    this.#w = writer;
  }

  /** Queue one line (a newline is added). */
  line(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (this.#len + 3 * text.length + 1 > LINE_BUFFER) {
      this.flush();
      if (3 * text.length + 1 > LINE_BUFFER) {
        writeAll(this.#w, encoder.encode(text + "\n"));
        return;
      }
    }
    this.#len += encoder.encodeInto(text, this.#buf.subarray(this.#len)).written;
    this.#buf[this.#len++] = 0x0a;
  }

  /** Write everything queued. */
  flush(): void {
    if (this.#len === 0) return;
    const n = this.#len;
    this.#len = 0;
    writeAll(this.#w, this.#buf.subarray(0, n));
  }
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
  // As `new Date(ms).toISOString()`: the date part ("YYYY-MM-DDT") is cached
  // per day, the time of day is built from two- and three-digit strings.
  const t = Math.trunc(ms);
  const day = Math.floor(t / DAY_MS);
  if (day !== isoDay) {
    const iso = new Date(day * DAY_MS).toISOString();
    isoDatePart = iso.slice(0, iso.length - 13); // "HH:mm:ss.sssZ"
    isoDay = day;
  }
  let rest = t - day * DAY_MS;
  const h = Math.floor(rest / 3600000);
  rest -= h * 3600000;
  const m = Math.floor(rest / 60000);
  rest -= m * 60000;
  const s = Math.floor(rest / 1000);
  return isoDatePart + DIGITS2[h] + ":" + DIGITS2[m] + ":" + DIGITS2[s] + "." + digits3(rest - s * 1000) + "Z";
}

const DAY_MS = 86400000;
/** The day `isoDatePart` is for (days since the epoch). */
let isoDay = NaN;
let isoDatePart = "";
/** "00" … "99". */
const DIGITS2: readonly string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));

function digits3(n: number): string {
  return n >= 100 ? String(n) : n >= 10 ? "0" + n : "00" + n;
}
