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
import { ExitCode, isBrokenPipe, KvsAudioError, writeErrorMessage } from "../errors.ts";

const encoder = new TextEncoder();

/** Bytes a LineWriter buffers before it writes. */
const LINE_BUFFER = 1 << 16;

/**
 * Buffers lines and writes them in large blocks. Lines are encoded into the
 * buffer as they come, so no string outlives its line.
 *
 * A failed write (the reader went away, as with `| head`; a full disk)
 * throws a `KvsAudioError` with exit code 1 naming the output, once (or
 * none, with `dropOnError`): after it, lines are dropped, so that a run can
 * still finalize its files and end with that one error.
 */
export class LineWriter {
  #w: SyncWriter;
  #name: string;
  #buf = new Uint8Array(LINE_BUFFER);
  #len = 0;
  #failed = false;

  #dropOnError: boolean;

  /**
   * @param writer where the lines go
   * @param name the output as messages name it
   * @param dropOnError after a failed write, drop lines without an error
   *   (for messages on stderr: a closed stderr must not fail the run)
   */
  constructor(writer: SyncWriter, name = "standard output", dropOnError = false) {
    this.#w = writer;
    this.#name = name;
    this.#dropOnError = dropOnError;
  }

  /** Queue one line (a newline is added). */
  line(text: string): void {
    if (this.#failed) return;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (this.#len + 3 * text.length + 1 > LINE_BUFFER) {
      this.flush();
      if (3 * text.length + 1 > LINE_BUFFER) {
        this.#write(encoder.encode(text + "\n"));
        return;
      }
    }
    this.#len += encoder.encodeInto(text, this.#buf.subarray(this.#len)).written;
    this.#buf[this.#len++] = 0x0a;
  }

  /** Write everything queued. */
  flush(): void {
    if (this.#len === 0 || this.#failed) return;
    const n = this.#len;
    this.#len = 0;
    this.#write(this.#buf.subarray(0, n));
  }

  #write(bytes: Uint8Array): void {
    try {
      writeAll(this.#w, bytes);
    } catch (e) {
      this.#failed = true;
      this.#len = 0;
      if (!this.#dropOnError) throw outputError(this.#name, e);
    }
  }
}

/**
 * The error for a failed write to `name`: a reader that went away (broken
 * pipe) or any other write error, exit code 1.
 *
 * @example
 * ```ts
 * import { outputError } from "./output.ts";
 * outputError("standard output", new Deno.errors.BrokenPipe()).message;
 * // "standard output was closed before the run ended (the reader went away, e.g. | head)"
 * ```
 */
export function outputError(name: string, cause: unknown): KvsAudioError {
  return new KvsAudioError(
    isBrokenPipe(cause)
      ? `${name} was closed before the run ended (the reader went away, e.g. | head)`
      : `${name}: write failed: ${writeErrorMessage(cause)}`,
    ExitCode.failure,
    { cause },
  );
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
  say(message, Deno.stderr);
}

/**
 * Print one line on `to` (stdout or stderr), saying nothing if it is closed.
 *
 * @example
 * ```ts
 * import { say } from "./output.ts";
 * say('{"event":"done"}', Deno.stdout);
 * ```
 */
export function say(line: string, to: SyncWriter): void {
  try {
    writeAll(to, encoder.encode(line + "\n"));
  } catch {
    // closed or full: there is nowhere left to say anything
  }
}

/**
 * Print text the user asked for (help, the version) on standard output: a
 * reader that went away (`| head -1`) ends it quietly; any other failed write
 * (`>/dev/full`) is the run's error, exit 1, naming standard output.
 *
 * @example
 * ```ts
 * import { printOut } from "./output.ts";
 * printOut("kvsaudio 0.1.0");
 * ```
 */
export function printOut(text: string): void {
  try {
    writeAll(Deno.stdout, encoder.encode(text + "\n"));
  } catch (e) {
    if (!isBrokenPipe(e)) throw outputError("standard output", e);
  }
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

/**
 * Epoch milliseconds for JSON: `ms` in whole milliseconds (a fraction of one
 * cut off, as {@linkcode isoTime} cuts it), or null when unknown or out of a
 * Date's range (where {@linkcode isoTime} gives `-`).
 *
 * @example
 * ```ts
 * import { timeMsOrNull } from "./output.ts";
 * timeMsOrNull(1782912654536); // 1782912654536
 * timeMsOrNull(1599166395000.5); // 1599166395000
 * timeMsOrNull(99999999999999000); // null
 * ```
 */
export function timeMsOrNull(ms: number | undefined): number | null {
  return ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? null : Math.floor(ms);
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
