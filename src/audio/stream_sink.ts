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
    for (let at = 0; at < bytes.length; at += PIPE_BYTES) {
      writeAll(this.#writer, bytes.subarray(at, at + PIPE_BYTES), (n) => this.#written += n);
    }
  }

  /** A broken pipe becomes {@link BrokenPipeError}; anything else the default error (exit 1). */
  protected override describeError(err: unknown): KvsAudioError {
    return isBrokenPipe(err) ? new BrokenPipeError({ cause: err }) : super.describeError(err);
  }
}
