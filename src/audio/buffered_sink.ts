/**
 * {@link BufferedSink}: what every PCM sink shares — a large write buffer,
 * frame accounting, argument checks and a sticky failure state. Subclasses
 * say where bytes go ({@linkcode BufferedSink.output}) and what a commit
 * adds, and may report an I/O error their own way
 * ({@linkcode BufferedSink.describeError}).
 *
 * @example
 * ```ts
 * import { BufferedSink } from "./buffered_sink.ts";
 * class NullSink extends BufferedSink {
 *   readonly path = "/dev/null";
 *   protected output(_bytes: Uint8Array): void {}
 * }
 * const sink = new NullSink(1, 1 << 16);
 * sink.writeSilence(8000);
 * sink.frames; // 8000
 * ```
 * @module
 */

import { ExitCode, KvsAudioError, writeErrorMessage } from "../errors.ts";
import { PcmBuffer } from "./pcm_buffer.ts";
import type { AudioSink } from "./sink.ts";

/**
 * Base class of the PCM sinks.
 *
 * @example
 * ```ts
 * import { BufferedSink } from "./buffered_sink.ts";
 * class MemorySink extends BufferedSink {
 *   readonly path = "memory";
 *   readonly chunks: Uint8Array[] = [];
 *   protected output(bytes: Uint8Array): void {
 *     this.chunks.push(bytes.slice()); // copy: the buffer is reused
 *   }
 * }
 * const sink = new MemorySink(2, 1024);
 * sink.write(new Uint8Array(8)); // 2 stereo frames
 * sink.writeSilence(3);
 * sink.close();
 * sink.frames;                      // 5
 * sink.chunks.map((c) => c.length); // [20]: one flush, at close
 * ```
 */
export abstract class BufferedSink implements AudioSink {
  /** File path, or `"-"`. */
  abstract readonly path: string;
  /** Interleaved channels per frame. */
  readonly channels: number;
  /** Bytes per sample frame. */
  protected readonly blockAlign: number;
  /** The write buffer (flushes through {@linkcode output}). */
  protected readonly buffer: PcmBuffer;
  #dataBytes = 0;
  #closed = false;
  #error: KvsAudioError | undefined;

  /**
   * Set up the frame accounting and the write buffer; no I/O.
   *
   * @param channels interleaved channels per frame (2 bytes per sample)
   * @param bufferBytes size of the write buffer (see {@linkcode PcmBuffer})
   */
  constructor(channels: number, bufferBytes: number) {
    this.channels = channels;
    this.blockAlign = 2 * channels;
    this.buffer = new PcmBuffer(bufferBytes, (bytes) => this.output(bytes));
  }

  /** Write `bytes` to the destination (all of them). */
  protected abstract output(bytes: Uint8Array): void;

  /** The error to report for an I/O failure `err`: `<destination>: write failed: <message>` (exit 1). */
  protected describeError(err: unknown): KvsAudioError {
    return new KvsAudioError(`${this.#label}: write failed: ${writeErrorMessage(err)}`, ExitCode.failure, {
      cause: err,
    });
  }

  /** The destination as messages name it. */
  get #label(): string {
    return this.path === "-" ? "standard output" : this.path;
  }

  /**
   * Start counting at `dataBytes` already in the destination (a file being
   * appended to); only before anything is written.
   */
  protected startAt(dataBytes: number): void {
    if (this.#dataBytes !== 0) throw new Error(`${this.#label}: startAt() after a write`);
    this.#dataBytes = dataBytes;
  }

  /** A write failed: the sink takes nothing more (see {@linkcode io}). */
  protected get failed(): boolean {
    return this.#error !== undefined;
  }

  /** Sample frames accepted so far (silence included). */
  get frames(): number {
    return this.#dataBytes / this.blockAlign;
  }

  /** PCM bytes accepted so far (excluding any header); may exceed 4 GiB. */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /**
   * Append whole frames (`pcm.length` a multiple of 2 × channels; otherwise
   * `RangeError`). The bytes are copied, or written through if large.
   */
  write(pcm: Uint8Array): void {
    this.check();
    if (pcm.length % this.blockAlign !== 0) {
      throw new RangeError(`${pcm.length} bytes is not a whole number of ${this.channels}-channel s16 frames`);
    }
    try {
      this.buffer.write(pcm);
    } catch (err) {
      throw this.#fail(err);
    }
    this.#dataBytes += pcm.length;
  }

  /** Append `frames` frames of zeros. */
  writeSilence(frames: number): void {
    this.check();
    if (!Number.isInteger(frames) || frames < 0) {
      throw new RangeError(`silence must be a whole number of frames, got ${frames}`);
    }
    const bytes = frames * this.blockAlign;
    try {
      this.buffer.zeros(bytes);
    } catch (err) {
      throw this.#fail(err);
    }
    this.#dataBytes += bytes;
  }

  /** Write out everything buffered (subclasses add their header rewrite). */
  commit(): void {
    this.check();
    this.io(() => this.buffer.flush());
  }

  /**
   * Commit and mark closed (then {@linkcode release}). Idempotent. After an
   * I/O error it only releases (the error was reported when it happened).
   */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#error !== undefined) this.cutBack();
      else {
        try {
          this.commit();
        } catch (e) {
          this.cutBack(); // (what this commit wrote, which no header counts)
          throw e;
        }
      }
    } finally {
      this.#closed = true;
      this.release();
    }
  }

  /**
   * Close without committing what came after the last commit (a run whose
   * write failed): a file goes back to its last commit, or to `frames`
   * frames if that is less (where an earlier commit of every output stood).
   * Idempotent.
   */
  abandon(frames?: number): void {
    if (this.#closed) return;
    try {
      this.cutBack(frames === undefined ? undefined : frames * this.blockAlign);
    } finally {
      this.#closed = true;
      this.release();
    }
  }

  /** Go back to `dataBytes` of data, or to the last commit (files; nothing by default). */
  protected cutBack(_dataBytes?: number): void {}

  /** Free the destination (close a file); nothing by default. */
  protected release(): void {}

  /** Throw if failed or closed. */
  protected check(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new Error(`${this.#label}: sink is closed`);
  }

  /** Run an I/O step; a failure makes the sink failed and is rethrown as its reported error. */
  protected io(step: () => void): void {
    try {
      step();
    } catch (err) {
      throw this.#fail(err);
    }
  }

  /** Make the sink failed with I/O error `err` (as {@linkcode io} does); returns the error it reports. */
  protected fail(err: unknown): KvsAudioError {
    return this.#fail(err);
  }

  #fail(err: unknown): KvsAudioError {
    this.#error = this.describeError(err);
    return this.#error;
  }
}
