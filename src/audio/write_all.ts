/**
 * Synchronous "write everything" over a writer that may accept only part of
 * each buffer (pipes, sockets, short writes).
 *
 * @example
 * ```ts
 * import { writeAll } from "./write_all.ts";
 * writeAll(Deno.stdout, new TextEncoder().encode("hello\n"));
 * ```
 * @module
 */

/** Anything with a Deno-style `writeSync` (e.g. `Deno.stdout`, `Deno.FsFile`).
 *
 * @example
 * ```ts
 * import type { SyncWriter } from "./write_all.ts";
 * const chunks: Uint8Array[] = [];
 * const memory: SyncWriter = {
 *   writeSync(p) { chunks.push(p.slice()); return p.length; },
 * };
 * ```
 */
export interface SyncWriter {
  /** Write some prefix of `p`; return how many bytes were written. */
  writeSync(p: Uint8Array): number;
}

/**
 * Write all of `bytes` to `writer`, looping over partial writes. Errors
 * thrown by the writer propagate unchanged; a writer that reports 0 bytes
 * written for a non-empty buffer raises an `Error` instead of spinning.
 * `progress` hears of each part written (so a caller knows how far a write
 * that failed part way got).
 *
 * @example
 * ```ts
 * import { writeAll } from "./write_all.ts";
 * const file = Deno.openSync("out.raw", { write: true, create: true });
 * writeAll(file, new Uint8Array(1 << 20));
 * file.close();
 * ```
 */
export function writeAll(writer: SyncWriter, bytes: Uint8Array, progress?: (n: number) => void): void {
  let off = 0;
  while (off < bytes.length) {
    const n = writer.writeSync(off === 0 ? bytes : bytes.subarray(off));
    if (!(n > 0)) {
      throw new Error(
        `write made no progress (${n} of ${bytes.length - off} bytes)`,
      );
    }
    off += n;
    progress?.(n);
  }
}
