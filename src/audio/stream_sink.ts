/**
 * {@link PcmStreamSink}: buffered s16le PCM to standard output (or any
 * synchronous writer), as streaming WAV or raw. {@link BrokenPipeError}
 * reports that the reader went away.
 *
 * @example
 * ```ts
 * import { PcmStreamSink } from "./stream_sink.ts";
 * const sink = new PcmStreamSink({ rate: 8000, channels: 1, format: "wav" });
 * sink.write(new Uint8Array(320));
 * sink.close(); // flushes to stdout; stdout itself stays open
 * ```
 * @module
 */

import { ExitCode, isBrokenPipe, KvsAudioError } from "../errors.ts";
import { BufferedSink } from "./buffered_sink.ts";
import { DEFAULT_BUFFER_BYTES } from "./pcm_buffer.ts";
import type { AudioFormat } from "./sink.ts";
import { wavHeader } from "./wav.ts";
import { type SyncWriter, writeAll } from "./write_all.ts";

/**
 * The output pipe was closed by its reader (EPIPE), e.g. `kvsaudio ... | head`.
 * Exit code 1; message "output pipe closed". The CLI may treat it as "reader
 * went away" and stop quietly.
 *
 * @example
 * ```ts
 * import { BrokenPipeError } from "./stream_sink.ts";
 * try {
 *   // ... sink.write(pcm) ...
 * } catch (err) {
 *   if (err instanceof BrokenPipeError) Deno.exit(err.exitCode);
 *   throw err;
 * }
 * ```
 */
export class BrokenPipeError extends KvsAudioError {
  /** Create the error; pass the underlying EPIPE error as `cause`. */
  constructor(options?: ErrorOptions) {
    super("output pipe closed", ExitCode.failure, options);
    this.name = "BrokenPipeError";
  }
}

/** Options for {@link PcmStreamSink}.
 *
 * @example
 * ```ts
 * import type { StreamSinkOptions } from "./stream_sink.ts";
 * const opts: StreamSinkOptions = { rate: 8000, channels: 2, format: "raw" };
 * ```
 */
export interface StreamSinkOptions {
  /** Sample rate in Hz. */
  rate: number;
  /** Interleaved channels per frame. */
  channels: number;
  /** `"wav"` writes a streaming header (sizes `0xFFFFFFFF`); `"raw"` none. */
  format: AudioFormat;
  /** Destination. Default `Deno.stdout`. Never closed by the sink. */
  writer?: SyncWriter;
  /** Internal buffer size in bytes. Default 1 MiB. */
  bufferBytes?: number;
}

/**
 * Anything with a Deno-style asynchronous `write` (e.g. `Deno.stdout`): see
 * {@linkcode PcmStreamSink.writeInBackground}.
 *
 * @example
 * ```ts
 * import type { AsyncWriter } from "./stream_sink.ts";
 * const out: AsyncWriter = Deno.stdout;
 * ```
 */
export interface AsyncWriter {
  /** Write some prefix of `p`; resolve to how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
}

/** Bytes per write to the stream (a Linux pipe's default capacity). */
const PIPE_BYTES = 1 << 16;

/**
 * Writes s16le PCM to a stream (path `"-"`). For WAV, a header with unknown
 * sizes (`0xFFFFFFFF`, as ffmpeg writes to a pipe) goes first; nothing is
 * ever rewritten. Data is buffered (the header too) until {@link commit} or
 * the buffer fills; partial writes are retried until complete.
 *
 * A broken pipe surfaces as {@link BrokenPipeError}; any other write error as
 * a {@link KvsAudioError} (exit 1). After either, later writes and commits
 * rethrow it, and {@link close} returns quietly without writing.
 *
 * @example
 * ```ts
 * import { PcmStreamSink } from "./stream_sink.ts";
 * const sink = new PcmStreamSink({ rate: 8000, channels: 1, format: "raw" });
 * sink.writeSilence(8000);
 * sink.commit(); // 16000 zero bytes on stdout
 * console.log(sink.path, sink.frames); // "-" 8000
 * ```
 */
export class PcmStreamSink extends BufferedSink {
  /** Always `"-"`. */
  readonly path = "-";
  /** Sample rate in Hz. */
  readonly rate: number;
  /** `"wav"` or `"raw"`. */
  readonly format: AudioFormat;
  readonly #writer: SyncWriter;

  /** Create the sink; a WAV header is buffered immediately (no I/O yet). */
  constructor(options: StreamSinkOptions) {
    const { rate, channels, format } = options;
    if (format !== "wav" && format !== "raw") {
      throw new RangeError(`format must be "wav" or "raw", got ${format}`);
    }
    const header = wavHeader({ rate, channels, dataBytes: "streaming" });
    super(channels, options.bufferBytes ?? DEFAULT_BUFFER_BYTES);
    this.rate = rate;
    this.format = format;
    this.#writer = options.writer ?? Deno.stdout;
    if (format === "wav") this.io(() => this.buffer.write(header)); // only does I/O if bufferBytes < 88
  }

  /** Bytes the writer has taken (header included), also of a write that failed part way. */
  #written = 0;
  /** Writing in the background: the writer, and the flushed bytes it has not taken yet, oldest first. */
  #background: AsyncWriter | undefined;
  #queue: Uint8Array[] = [];
  /** Memory of chunks written, for the next copies. */
  #spare: ArrayBuffer[] = [];
  /** Bytes in the queue (those of a write under way included). */
  #waiting = 0;
  /** The write loop, while it runs. */
  #pumping = false;
  /** Callers of {@linkcode drained} waiting for the queue to shrink. */
  #waiters: { limit: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** The error a background write ended with. */
  #backgroundError: KvsAudioError | undefined;

  /**
   * Called after each background write the writer took (see
   * {@linkcode writeInBackground}): {@linkcode bytes} has moved on.
   */
  onWritten: (() => void) | undefined;

  /**
   * From now on, write flushed bytes with `writer`'s asynchronous `write`
   * instead of synchronously: {@linkcode write}, {@linkcode commit} and
   * {@linkcode close} then never wait for the reader, so a program whose
   * reader has stopped reading still gets its turn (a signal handler runs).
   * Flushed bytes are copied into a queue that the caller bounds by awaiting
   * {@linkcode drained}; a write error makes the sink failed, as a
   * synchronous one does, and is thrown by the next call (or `drained`).
   * Bytes still queued when the program exits are lost: await
   * `drained(0)` after the last commit. Only before anything was written.
   *
   * @example
   * ```ts
   * import { PcmStreamSink } from "./stream_sink.ts";
   * const sink = new PcmStreamSink({ rate: 8000, channels: 1, format: "raw" });
   * sink.writeInBackground(Deno.stdout);
   * sink.writeSilence(8000);
   * sink.commit();         // queued, not written yet
   * await sink.drained(0); // now on stdout
   * sink.close();
   * ```
   */
  writeInBackground(writer: AsyncWriter): void {
    if (this.#background !== undefined || this.#written > 0 || this.#waiting > 0) {
      throw new Error("writeInBackground() after a write");
    }
    this.#background = writer;
  }

  /** Bytes flushed to a background writer that it has not taken yet. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Resolves once at most `limit` flushed bytes wait for the background
   * writer; rejects with the sink's error if a write failed. `undefined` when
   * there is nothing to wait for (no background writer, or no more waiting).
   */
  drained(limit = 0): Promise<void> | undefined {
    if (this.#backgroundError !== undefined) return Promise.reject(this.#backgroundError);
    if (this.#waiting <= limit) return undefined;
    return new Promise((resolve, reject) => this.#waiters.push({ limit, resolve, reject }));
  }

  /**
   * Bytes accepted so far (header included) and, of them, those the writer
   * has taken: what a reader has been given even if a later write fails.
   */
  get bytes(): { accepted: number; written: number } {
    return { accepted: this.buffer.taken, written: this.#written };
  }

  /**
   * Write `bytes` to the writer, retrying partial writes, a pipe's worth
   * (64 KiB) at a time: a write that fails reports none of what it wrote, so
   * a reader that goes away leaves at most that much uncounted.
   */
  protected override output(bytes: Uint8Array): void {
    if (this.#background !== undefined) {
      if (this.#backgroundError !== undefined) throw this.#backgroundError;
      // (A copy: the buffer is reused as soon as this returns.)
      let spare = this.#spare.pop();
      if (spare === undefined || spare.byteLength < bytes.length) spare = new ArrayBuffer(bytes.length);
      const copy = new Uint8Array(spare, 0, bytes.length);
      copy.set(bytes);
      this.#queue.push(copy);
      this.#waiting += bytes.length;
      if (!this.#pumping) this.#pump(this.#background);
      return;
    }
    for (let at = 0; at < bytes.length; at += PIPE_BYTES) {
      writeAll(this.#writer, bytes.subarray(at, at + PIPE_BYTES), (n) => this.#written += n);
    }
  }

  /** Write the queue out in the background until it is empty or a write fails. */
  async #pump(writer: AsyncWriter): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#queue[0];
        for (let at = 0; at < chunk.length;) {
          // A pipe's worth at a time, as synchronous writes go (see output). (Each asynchronous write costs more
          // than a synchronous one, on a thread of Deno's blocking pool: the hour's `extract --out -` into `cat`
          // takes ~30 ms longer than with synchronous writes; 1 MiB writes would not, but would leave up to 1 MiB
          // uncounted when the reader goes away.)
          const n = await writer.write(chunk.subarray(at, Math.min(chunk.length, at + PIPE_BYTES)));
          if (!(n > 0)) throw new Error(`write made no progress (${n} of ${chunk.length - at} bytes)`);
          at += n;
          this.#written += n;
          this.#waiting -= n;
          this.onWritten?.();
          this.#wake();
        }
        this.#queue.shift();
        // Its memory serves a later chunk (fresh memory costs a page fault per 4 KiB).
        if (this.#spare.length < 2) this.#spare.push(chunk.buffer as ArrayBuffer);
      }
    } catch (err) {
      // The sink is failed: what follows is refused (and the queue will never be written).
      this.#backgroundError = this.fail(err);
      this.#queue = [];
      this.#waiting = 0; // (never to be written)
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(this.#backgroundError);
    } finally {
      this.#pumping = false;
    }
  }

  /** Resolve the waiters whose limit the queue is now within. */
  #wake(): void {
    if (this.#waiters.length === 0) return;
    const still = [];
    for (const w of this.#waiters) {
      if (this.#waiting <= w.limit) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** A broken pipe becomes {@link BrokenPipeError}; anything else the default error (exit 1). */
  protected override describeError(err: unknown): KvsAudioError {
    return isBrokenPipe(err) ? new BrokenPipeError({ cause: err }) : super.describeError(err);
  }
}
