/**
 * Reading the input of `inspect` and `extract`: a file path, or `-` for
 * standard input, as an async iterable of chunks.
 *
 * Chunks are read into a small pool of reusable buffers: later stages keep
 * views into chunks only until the fragment holding them has been consumed,
 * so the consumer calls {@linkcode Input.release} with the end offset of each
 * fragment it is done with, and buffers wholly before that offset are reused.
 * Without `release`, every chunk is a fresh buffer (correct, just slower:
 * fresh memory costs page faults).
 *
 * @example
 * ```ts
 * import { openInput } from "./input.ts";
 * const input = await openInput("call.mkv");
 * for await (const chunk of input.chunks) console.log(chunk.length);
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";

/** An opened input. */
export interface Input {
  /** Name used in messages (`-` is shown as `stdin`). */
  name: string;
  /** The bytes, as chunks. */
  chunks: AsyncIterable<Uint8Array>;
  /** Everything before byte `offset` has been consumed: its buffers may be reused. */
  release(offset: number): void;
  /**
   * True for a regular file (read as fast as the disk allows); false for
   * stdin, pipes and devices, where data may arrive live.
   */
  regularFile: boolean;
}

/**
 * Size of each read buffer (1 MiB: measured faster than 256 KiB, 512 KiB and
 * 4 MiB; most GetMedia documents then lie whole in one buffer, where the
 * assembler can replay them).
 */
export const READ_SIZE = 1 << 20;

interface Reader {
  read(p: Uint8Array): Promise<number | null>;
  readSync?(p: Uint8Array): number | null;
  close?(): void;
}

/**
 * Open `path` (or `-` for stdin). Throws UsageError when it cannot be opened.
 *
 * @example
 * ```ts
 * import { openInput } from "./input.ts";
 * const stdin = await openInput("-");
 * stdin.name; // "stdin"
 * ```
 */
export async function openInput(path: string): Promise<Input> {
  if (path === "-") return pooledInput("stdin", Deno.stdin, false, false);
  let file: Deno.FsFile;
  let regular = false;
  try {
    // A regular file opens synchronously (it cannot block, and the first
    // asynchronous file op costs start-up time); a FIFO's open waits for a
    // writer, so anything else opens asynchronously.
    const info = Deno.statSync(path);
    if (info.isDirectory) throw new UsageError(`${path}: is a directory, not a file`);
    regular = info.isFile;
    file = regular ? Deno.openSync(path, { read: true }) : await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot open ${path}: ${(e as Error).message.replace(/[,:] (open|stat) '.*'$/, "")}`);
  }
  return pooledInput(path, file, true, regular);
}

function pooledInput(name: string, reader: Reader, close: boolean, regularFile: boolean): Input {
  const free: ArrayBuffer[] = [];
  const inUse: { buf: ArrayBuffer; end: number }[] = [];
  let released = 0;
  let offset = 0;
  const take = (): ArrayBuffer => {
    // Recycle buffers whose bytes all lie before the released offset.
    while (inUse.length > 0 && inUse[0].end <= released) free.push(inUse.shift()!.buf);
    return free.pop() ?? new ArrayBuffer(READ_SIZE);
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const buf = take();
        const view = new Uint8Array(buf);
        let filled = 0;
        // Regular files: fill the buffer with synchronous reads (no pipe can block).
        while (filled < READ_SIZE) {
          const n = regularFile && reader.readSync
            ? reader.readSync(view.subarray(filled))
            : await reader.read(view.subarray(filled));
          if (n === null || n === 0) break;
          filled += n;
          if (!regularFile) break;
        }
        if (filled === 0) {
          free.push(buf);
          return;
        }
        offset += filled;
        inUse.push({ buf, end: offset });
        yield view.subarray(0, filled);
      }
    } finally {
      if (close) reader.close?.();
    }
  }
  return {
    name,
    regularFile,
    chunks: chunks(),
    release(o: number) {
      if (o > released) released = o;
    },
  };
}
