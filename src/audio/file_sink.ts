/**
 * {@link PcmFileSink}: buffered s16le PCM into a WAV or raw file, with a
 * header that matches the data after every commit (crash-safe).
 *
 * @example
 * ```ts
 * import { PcmFileSink } from "./file_sink.ts";
 * const sink = PcmFileSink.open("call.wav", { rate: 8000, channels: 1, format: "wav" });
 * sink.write(new Uint8Array(320));
 * sink.close();
 * ```
 * @module
 */

import { ExitCode, KvsAudioError, UsageError } from "../errors.ts";
import { DEFAULT_BUFFER_BYTES, PcmBuffer } from "./pcm_buffer.ts";
import type { AudioFormat, AudioSink } from "./sink.ts";
import { wavHeader } from "./wav.ts";
import { writeAll } from "./write_all.ts";

/** Options for {@link PcmFileSink.open}.
 *
 * @example
 * ```ts
 * import type { FileSinkOptions } from "./file_sink.ts";
 * const opts: FileSinkOptions = { rate: 8000, channels: 1, format: "wav", force: true };
 * ```
 */
export interface FileSinkOptions {
  /** Sample rate in Hz. */
  rate: number;
  /** Interleaved channels per frame. */
  channels: number;
  /** `"wav"` writes a 44-byte header; `"raw"` writes bare s16le. */
  format: AudioFormat;
  /** Truncate an existing file instead of refusing. Default false. */
  force?: boolean;
  /** Internal buffer size in bytes. Default 1 MiB. */
  bufferBytes?: number;
}

/**
 * Writes s16le PCM to a file through a fixed 1 MiB buffer, using only
 * synchronous I/O. WAV files get a header with `dataBytes` 0 at open (an
 * empty call is a valid empty WAV); each {@link commit} writes the buffered
 * data first and then rewrites the 44-byte header, so the header never
 * claims more data than the file holds and the file is a valid WAV after
 * every commit, even if the process is killed right after. Commits protect
 * against the process dying, not against power loss (no fsync).
 *
 * Past 4 GiB of data (about 37 hours of 16 kHz stereo) the sink keeps
 * writing but the header sizes are clamped to `0xFFFFFFFF`, which most
 * readers treat as "read to end of file".
 *
 * After an I/O error the sink is failed: later writes and commits rethrow
 * that error, and {@link close} only releases the file handle.
 *
 * @example
 * ```ts
 * import { PcmFileSink } from "./file_sink.ts";
 * const sink = PcmFileSink.open("out/agent.wav", {
 *   rate: 8000,
 *   channels: 1,
 *   format: "wav",
 *   force: false, // throws UsageError if out/agent.wav exists
 * });
 * sink.write(new Uint8Array(320)); // copied; the caller may reuse its view
 * sink.writeSilence(8000); // one second of silence
 * sink.commit(); // out/agent.wav is now a valid WAV of 8160 frames
 * sink.close();
 * ```
 */
export class PcmFileSink implements AudioSink {
  /** File path as given to {@link PcmFileSink.open}. */
  readonly path: string;
  /** Sample rate in Hz. */
  readonly rate: number;
  /** Interleaved channels per frame. */
  readonly channels: number;
  /** `"wav"` or `"raw"`. */
  readonly format: AudioFormat;
  readonly #file: Deno.FsFile;
  /** A second handle on the same file for header rewrites: data writes never seek. */
  #headerFile: Deno.FsFile | undefined;
  readonly #buffer: PcmBuffer;
  readonly #blockAlign: number;
  #dataBytes = 0;
  #headerBytes = 0;
  #closed = false;
  #error: KvsAudioError | undefined;

  private constructor(
    path: string,
    file: Deno.FsFile,
    options: FileSinkOptions,
  ) {
    this.path = path;
    this.rate = options.rate;
    this.channels = options.channels;
    this.format = options.format;
    this.#file = file;
    this.#blockAlign = 2 * options.channels;
    this.#buffer = new PcmBuffer(
      options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      (bytes) => writeAll(this.#file, bytes),
    );
  }

  /**
   * Create `path` and, for WAV, write an empty-data header right away.
   * Without `force` the file is created with `createNew` (atomic, no race)
   * and an existing file raises
   * `UsageError("refusing to overwrite PATH (use --force)")`; with `force`
   * an existing file is truncated. Other failures raise a
   * {@link KvsAudioError} with exit code 1.
   *
   * @example
   * ```ts
   * import { PcmFileSink } from "./file_sink.ts";
   * const raw = PcmFileSink.open("call.raw", { rate: 8000, channels: 2, format: "raw", force: true });
   * raw.close(); // empty file
   * ```
   */
  static open(path: string, options: FileSinkOptions): PcmFileSink {
    checkFormat(options);
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(
        path,
        options.force ? { write: true, create: true, truncate: true } : { write: true, createNew: true },
      );
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        throw new UsageError(`refusing to overwrite ${path} (use --force)`, {
          cause: err,
        });
      }
      throw new KvsAudioError(
        `cannot create ${path}: ${errorMessage(err)}`,
        ExitCode.failure,
        { cause: err },
      );
    }
    const sink = new PcmFileSink(path, file, options);
    if (options.format === "wav") {
      try {
        writeAll(file, sink.#header());
      } catch (err) {
        file.close();
        throw sink.#ioError(err);
      }
    }
    return sink;
  }

  /** Sample frames accepted so far (silence included). */
  get frames(): number {
    return this.#dataBytes / this.#blockAlign;
  }

  /** PCM bytes accepted so far (excluding the header); may exceed 4 GiB. */
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

  /**
   * Write the buffer (looping over partial writes), then for WAV rewrite the
   * header at offset 0 if the data size changed: seek 0, write 44 bytes,
   * seek to end. No syscalls when nothing changed since the last commit.
   */
  commit(): void {
    this.#check();
    try {
      this.#buffer.flush();
      if (this.format === "wav" && this.#headerBytes !== this.#dataBytes) {
        this.#headerFile ??= Deno.openSync(this.path, { write: true });
        this.#headerFile.seekSync(0, Deno.SeekMode.Start);
        writeAll(this.#headerFile, this.#header());
      }
    } catch (err) {
      throw this.#ioError(err);
    }
  }

  /**
   * Commit and close the file. Idempotent. If the sink already failed, only
   * closes the handle (the error was reported when it happened).
   */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#error === undefined) this.commit();
    } finally {
      this.#closed = true;
      this.#file.close();
      this.#headerFile?.close();
    }
  }

  #header(): Uint8Array {
    const dataBytes = this.#dataBytes;
    const header = wavHeader({
      rate: this.rate,
      channels: this.channels,
      dataBytes,
    });
    this.#headerBytes = dataBytes;
    return header;
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new Error(`${this.path}: sink is closed`);
  }

  #ioError(err: unknown): KvsAudioError {
    const error = new KvsAudioError(
      `${this.path}: write failed: ${errorMessage(err)}`,
      ExitCode.failure,
      { cause: err },
    );
    this.#error = error;
    return error;
  }
}

function checkFormat(o: FileSinkOptions) {
  const size = o.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`bufferBytes must be a positive integer, got ${size}`);
  }
  if (o.format !== "wav" && o.format !== "raw") {
    throw new RangeError(`format must be "wav" or "raw", got ${o.format}`);
  }
  // Validates rate and channels the same way the header writer does.
  wavHeader({ rate: o.rate, channels: o.channels, dataBytes: 0 });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
