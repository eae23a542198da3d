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
 * synchronous reads that fill each buffer, and one asynchronous read and a
 * turn of the event loop at least every {@linkcode TURN_MS} ms, and at its
 * end: only a turn of the event loop lets signal handlers run, and a file
 * read synchronously to its end would never give one (SIGINT would wait for
 * the whole file, or be lost when the run ends first). A pipe, FIFO or terminal is read
 * asynchronously, so a stalled writer never blocks signal handling; after a
 * read that returns a whole pipe's worth (64 KiB) the writer may be ahead, so
 * reading goes on into the same buffer while reads return at once (within a
 * few ms). A read that has to wait is left in flight and what was read is
 * given out first: data in hand is never held back by a quiet writer.
 *
 * @example
 * ```ts
 * import { openInput } from "./input.ts";
 * const input = await openInput("call.mkv");
 * for await (const chunk of input.chunks) console.log(chunk.length);
 * ```
 * @module
 */

import { ExitCode, fsErrorMessage, KvsAudioError, UsageError } from "../errors.ts";
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

/** Most read buffers kept for reuse while their bytes are not yet released (16 MiB). */
const MAX_TRACKED = 16;

/**
 * Longest time between turns of the event loop while a regular file is read
 * (ms): SIGINT and SIGTERM are handled within about this long.
 */
export const TURN_MS = 100;

/** A read from a pipe that returns this much found the pipe full (Linux's default capacity): more may be waiting. */
const PIPE_FULL = 1 << 16;

/**
 * How long reads that follow full ones may go on filling one buffer from a
 * pipe (ms): a read still waiting after that is left in flight and what was
 * read is given out.
 */
const PIPE_WAIT_MS = 6;

/**
 * Turns of the event loop in which a signal that has come in is handled. A
 * signal reaches its listener only once the runtime has waited for I/O (and
 * then been given a turn): an asynchronous read that completes at once need
 * not give one. Measured: SIGINT ~70 ms into an `extract` of the hour was
 * not handled at the next such read in 3 runs of 18 (once at the one after,
 * twice not at all: the run ended first); of 300 signals a process sent
 * itself, a message through a channel handled 289, an asynchronous stat of
 * the working directory (a blocking-pool call) and then such a message 300.
 */
async function signalTurn(): Promise<void> {
  try {
    await Deno.stat(".");
  } catch {
    // (Without read permission: the message alone.)
  }
  const { port1, port2 } = new MessageChannel();
  await new Promise<void>((resolve) => {
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

interface Reader {
  read(p: Uint8Array): Promise<number | null>;
  readSync(p: Uint8Array): number | null;
  close(): void;
}

/** Options of {@linkcode openInput}. */
export interface InputOptions {
  /**
   * A regular file gives the event loop turns while it is read, and at its
   * end, so that signal handlers run (see {@linkcode TURN_MS}). Default
   * true; a command without handlers (`inspect`) reads without them.
   */
  signals?: boolean;
}

/**
 * Open `path` (or `-` for stdin). Throws UsageError when it cannot be opened;
 * reading throws a {@linkcode KvsAudioError} naming the input (exit 2) when a
 * read fails.
 *
 * @example
 * ```ts
 * import { openInput } from "./input.ts";
 * const stdin = await openInput("-");
 * stdin.name; // "stdin"
 * ```
 */
export async function openInput(path: string, options: InputOptions = {}): Promise<Input> {
  const signals = options.signals ?? true;
  if (path === "-") return pooledInput("stdin", Deno.stdin, false, stdinIsFile(), signals);
  let file: Deno.FsFile;
  let regular = false;
  try {
    // A regular file opens synchronously (it cannot block, and the first
    // asynchronous file op costs start-up time); a FIFO's open waits for a
    // writer, so anything else opens asynchronously.
    const info = Deno.statSync(path);
    if (info.isDirectory) throw new UsageError(`${path}: is a directory, not a file`);
    // (Opening one fails as "No such device or address".)
    if (info.isSocket) throw new UsageError(`${path}: is a socket, not a file (give its data on standard input)`);
    regular = info.isFile;
    file = regular ? Deno.openSync(path, { read: true }) : await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot open ${path}: ${fsErrorMessage(e)}`);
  }
  return pooledInput(path, file, true, regular, signals);
}

/** Whether standard input is a regular file (a shell redirect), which can be read like one. */
function stdinIsFile(): boolean {
  try {
    // Never prompt for the permission: without it, stdin is read like a pipe.
    if (Deno.permissions.querySync({ name: "read", path: "/dev/stdin" }).state !== "granted") return false;
    return Deno.statSync("/dev/stdin").isFile;
  } catch {
    return false; // no /dev/stdin (Windows)
  }
}

function pooledInput(name: string, reader: Reader, close: boolean, regularFile: boolean, signals: boolean): Input {
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
    // A fragment spanning many buffers (a huge element, skipped or not) pins
    // none of them here: past MAX_TRACKED, the oldest is left to the garbage
    // collector (kept alive only by views still in use) instead of recycled.
    if (inUse.length >= MAX_TRACKED) inUse.shift();
    return free.pop() ?? new ArrayBuffer(READ_SIZE);
  };
  /**
   * A pipe read still in flight when the last chunk was given out: it reads
   * into `cur` right after that chunk, so the next chunk goes on in the same
   * buffer (a held-back end is already in place before it).
   */
  let pending: Promise<number | null> | undefined;
  let cur: { buf: ArrayBuffer; view: Uint8Array; filled: number } | undefined;
  /** A failed read, as the error that names the input (exit 2). */
  const readFailed = (e: unknown) =>
    new KvsAudioError(`${name}: read failed: ${fsErrorMessage(e)}`, ExitCode.usage, { cause: e });
  const readSync = (p: Uint8Array) => {
    try {
      return reader.readSync(p);
    } catch (e) {
      throw readFailed(e);
    }
  };
  const read = (p: Uint8Array) => reader.read(p).catch((e) => Promise.reject(readFailed(e)));
  /** When the event loop last turned (regular files: see TURN_MS). */
  let lastTurn = Date.now();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        // The held-back end of the last chunk no longer pins its buffer: once
        // everything before it is released, that same buffer is taken again
        // and the bytes move to its start.
        const carry = back;
        back = 0;
        offset -= carry;
        if (!regularFile) input.whenIdle?.();
        let buf: ArrayBuffer;
        let view: Uint8Array;
        let begin: number;
        let filled: number;
        let n: number | null | undefined = undefined;
        if (pending !== undefined) {
          ({ buf, view, filled } = cur!);
          begin = filled - carry;
          inUse.pop(); // this buffer's entry, pushed again below with the new end
          n = await pending;
          pending = cur = undefined;
          if (n !== null) filled += n;
        } else {
          if (carry > 0) inUse[inUse.length - 1].end -= carry;
          buf = take();
          view = new Uint8Array(buf);
          begin = 0;
          filled = 0;
          if (carry > 0) {
            const tail = last!.subarray(last!.length - carry);
            if (tail.buffer === buf) view.copyWithin(0, tail.byteOffset, tail.byteOffset + carry);
            else view.set(tail);
            filled = carry;
          }
        }
        // Regular files: fill the buffer with synchronous reads (they cannot
        // block). Pipes: go on while reads find the pipe full and the next
        // read has data at once; a read that has to wait is left in flight
        // and what is here is given out first.
        let timer: ReturnType<typeof setTimeout> | undefined;
        let late: Promise<undefined> | undefined;
        while (filled < READ_SIZE && (regularFile || n === undefined || (n !== null && n >= PIPE_FULL))) {
          if (regularFile) {
            // Date.now() is a V8 builtin; performance.now() is a Deno op.
            const now = Date.now();
            if (!signals || now - lastTurn < TURN_MS) n = readSync(view.subarray(filled));
            else {
              lastTurn = now;
              n = await read(view.subarray(filled));
              await signalTurn();
            }
          } else {
            const reading = read(view.subarray(filled));
            if (filled === begin + carry) n = await reading; // nothing new yet: waiting is all there is to do
            else {
              // One timer per buffer, not per read.
              late ??= new Promise((r) => timer = setTimeout(() => r(undefined), PIPE_WAIT_MS));
              n = await Promise.race([reading, late]);
              if (n === undefined) {
                pending = reading;
                cur = { buf, view, filled };
                break;
              }
            }
          }
          if (n === null || n === 0) break;
          filled += n;
        }
        // Only when a timer was set: the first use of the timer globals loads
        // Node's timers module (~10 ms of start-up, measured).
        if (timer !== undefined) clearTimeout(timer);
        if (filled === begin) {
          if (begin === 0) free.push(buf);
          // A signal that came while the file was read is handled before the run ends.
          if (regularFile && signals) await signalTurn();
          return;
        }
        offset += filled - begin;
        inUse.push({ buf, end: offset });
        last = view.subarray(begin, filled);
        yield last;
      }
    } finally {
      if (close) reader.close();
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
