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
 * The chunks are a `RereadableSource`: the assembler gives back the end of a
 * chunk that cuts a document short, and the next chunk starts with it, so
 * every document lies whole in one chunk. In the CLI's flow everything before
 * that end has been released by then, so the one buffer is reused: the end
 * moves to its start and the rest is read after it.
 *
 * A regular file (also as standard input, `- < call.mkv`) is read with
 * synchronous reads that fill each buffer. A pipe, FIFO or terminal is read
 * asynchronously, so a stalled writer never blocks signal handling; a read
 * that returns a whole pipe's worth (64 KiB) means the writer is ahead, so
 * reading goes on into the same buffer until one returns less.
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
import type { RereadableSource } from "../mkv/assembler.ts";

/** An opened input. */
export interface Input {
  /** Name used in messages (`-` is shown as `stdin`). */
  name: string;
  /** The bytes, as chunks: the end of a chunk can be given again. */
  chunks: RereadableSource;
  /** Everything before byte `offset` has been consumed: its buffers may be reused. */
  release(offset: number): void;
  /**
   * True for a regular file, also as redirected standard input (read as
   * fast as the disk allows); false for pipes, FIFOs and terminals, where
   * data may arrive live.
   */
  regularFile: boolean;
  /**
   * For a pipe, FIFO or terminal: called before reading on once the chunks
   * given so far are consumed. The read may have to wait for the writer, so
   * this is the moment to show what is done (flush output, rewrite WAV
   * headers). Never called for a regular file.
   */
  whenIdle?: () => void;
}

/**
 * Size of each read buffer (1 MiB: measured faster than 256 KiB, 512 KiB and
 * 4 MiB; most GetMedia documents then lie whole in one buffer, where the
 * assembler can replay them).
 */
export const READ_SIZE = 1 << 20;

/** A read from a pipe that returns this much found the pipe full (Linux's default capacity): more is waiting. */
const PIPE_FULL = 1 << 16;

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
  if (path === "-") return pooledInput("stdin", Deno.stdin, false, stdinIsFile());
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

/** Whether standard input is a regular file (a shell redirect), which can be read like one. */
function stdinIsFile(): boolean {
  try {
    return Deno.statSync("/dev/stdin").isFile;
  } catch {
    return false; // no /dev/stdin (Windows), or not allowed to look
  }
}

function pooledInput(name: string, reader: Reader, close: boolean, regularFile: boolean): Input {
  const free: ArrayBuffer[] = [];
  const inUse: { buf: ArrayBuffer; end: number }[] = [];
  let released = 0;
  let offset = 0;
  /** Bytes at the end of the last chunk to give again (see RereadableSource). */
  let back = 0;
  let last: Uint8Array | undefined;
  const take = (): ArrayBuffer => {
    // Recycle buffers whose bytes all lie before the released offset.
    while (inUse.length > 0 && inUse[0].end <= released) free.push(inUse.shift()!.buf);
    return free.pop() ?? new ArrayBuffer(READ_SIZE);
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        // The held-back end of the last chunk no longer pins its buffer: once
        // everything before it is released, that same buffer is taken again
        // and the bytes move to its start.
        const carry = back;
        back = 0;
        if (carry > 0) {
          inUse[inUse.length - 1].end -= carry;
          offset -= carry;
        }
        if (!regularFile) input.whenIdle?.();
        const buf = take();
        const view = new Uint8Array(buf);
        let filled = 0;
        if (carry > 0) {
          const tail = last!.subarray(last!.length - carry);
          if (tail.buffer === buf) view.copyWithin(0, tail.byteOffset, tail.byteOffset + carry);
          else view.set(tail);
          filled = carry;
        }
        // Regular files: fill the buffer with synchronous reads (they cannot
        // block). Pipes: go on while reads find the pipe full.
        while (filled < READ_SIZE) {
          const n = regularFile && reader.readSync
            ? reader.readSync(view.subarray(filled))
            : await reader.read(view.subarray(filled));
          if (n === null || n === 0) break;
          filled += n;
          if (!regularFile && n < PIPE_FULL) break;
        }
        if (filled === 0) {
          free.push(buf);
          return;
        }
        offset += filled;
        inUse.push({ buf, end: offset });
        last = view.subarray(0, filled);
        yield last;
      }
    } finally {
      if (close) reader.close?.();
    }
  }
  const iterator = chunks();
  const input: Input = {
    name,
    regularFile,
    // The end of a chunk can be given again (it is copied to the start of the
    // next one), so the assembler can hold back a document cut by the end of a
    // buffer and replay it whole from the next. (A document can only be
    // emitted once the next one begins, so holding its start back delays nothing.)
    chunks: {
      [Symbol.asyncIterator]: () => iterator,
      unread(n: number) {
        // At least one byte of each chunk must be used, or reading would not advance.
        if (!(n >= 0 && n < (last?.length ?? 0) - back)) {
          throw new RangeError(`cannot give back ${n} of the last chunk's ${last?.length ?? 0} bytes`);
        }
        back += n;
      },
    } satisfies RereadableSource,
    release(o: number) {
      if (o > released) released = o;
    },
  };
  return input;
}
