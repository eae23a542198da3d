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

import { ExitCode, KvsAudioError } from "../errors.ts";
import { DEFAULT_BUFFER_BYTES, PcmBuffer } from "./pcm_buffer.ts";
import type { AudioFormat, AudioSink } from "./sink.ts";
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
export class PcmStreamSink implements AudioSink {
  /** Always `"-"`. */
  readonly path = "-";
  /** Sample rate in Hz. */
  readonly rate: number;
  /** Interleaved channels per frame. */
  readonly channels: number;
  /** `"wav"` or `"raw"`. */
  readonly format: AudioFormat;
  readonly #writer: SyncWriter;
  readonly #buffer: PcmBuffer;
  readonly #blockAlign: number;
  #dataBytes = 0;
  #closed = false;
  #error: KvsAudioError | undefined;

  /** Create the sink; a WAV header is buffered immediately (no I/O yet). */
  constructor(options: StreamSinkOptions) {
    const { rate, channels, format } = options;
    if (format !== "wav" && format !== "raw") {
      throw new RangeError(`format must be "wav" or "raw", got ${format}`);
    }
    const header = wavHeader({ rate, channels, dataBytes: "streaming" });
    this.rate = rate;
    this.channels = channels;
    this.format = format;
    this.#writer = options.writer ?? Deno.stdout;
    this.#blockAlign = 2 * channels;
    this.#buffer = new PcmBuffer(
      options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      (bytes) => writeAll(this.#writer, bytes),
    );
    if (format === "wav") {
      try {
        this.#buffer.write(header); // only does I/O if bufferBytes < 88
      } catch (err) {
        throw this.#ioError(err);
      }
    }
  }

  /** Sample frames accepted so far (silence included). */
  get frames(): number {
    return this.#dataBytes / this.#blockAlign;
  }

  /** PCM bytes accepted so far (excluding any header). */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /**
   * Append whole frames (`pcm.length` a multiple of 2 × channels; otherwise
   * `RangeError`). The bytes are copied, or written through if large.
   */
  write(pcm: Uint8Array): void {
    this.#check();
    if (pcm.length % this.#blockAlign !== 0) {
      throw new RangeError(
        `${pcm.length} bytes is not a whole number of ${this.channels}-channel s16 frames`,
      );
    }
    try {
      this.#buffer.write(pcm);
    } catch (err) {
      throw this.#ioError(err);
    }
    this.#dataBytes += pcm.length;
  }

  /** Append `frames` frames of zeros. */
  writeSilence(frames: number): void {
    this.#check();
    if (!Number.isInteger(frames) || frames < 0) {
      throw new RangeError(
        `silence must be a whole number of frames, got ${frames}`,
      );
    }
    const bytes = frames * this.#blockAlign;
    try {
      this.#buffer.zeros(bytes);
    } catch (err) {
      throw this.#ioError(err);
    }
    this.#dataBytes += bytes;
  }

  /** Write out everything buffered (looping over partial writes). */
  commit(): void {
    this.#check();
    try {
      this.#buffer.flush();
    } catch (err) {
      throw this.#ioError(err);
    }
  }

  /**
   * Commit and mark closed; the writer is not closed. Idempotent. After a
   * write error (including a broken pipe) it returns without writing.
   */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#error === undefined) this.commit();
    } finally {
      this.#closed = true;
    }
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new Error("standard output sink is closed");
  }

  #ioError(err: unknown): KvsAudioError {
    const error = isBrokenPipe(err) ? new BrokenPipeError({ cause: err }) : new KvsAudioError(
      `standard output: write failed: ${err instanceof Error ? err.message : String(err)}`,
      ExitCode.failure,
      { cause: err },
    );
    this.#error = error;
    return error;
  }
}

function isBrokenPipe(err: unknown): boolean {
  return err instanceof Deno.errors.BrokenPipe ||
    (err instanceof Error && (err as { code?: unknown }).code === "EPIPE");
}
