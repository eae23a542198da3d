/**
 * The contract every audio output implements: accept s16le PCM frames and
 * silence, and make what was accepted durable on {@link AudioSink.commit}.
 *
 * @example
 * ```ts
 * import type { AudioSink } from "./sink.ts";
 * function finish(sink: AudioSink) {
 *   sink.writeSilence(800); // 0.1 s at 8 kHz
 *   sink.close();
 * }
 * ```
 * @module
 */

/** Output container: `"wav"` (44-byte PCM header) or `"raw"` (bare s16le).
 *
 * @example
 * ```ts
 * import type { AudioFormat } from "./sink.ts";
 * const format: AudioFormat = "wav";
 * ```
 */
export type AudioFormat = "wav" | "raw";

/**
 * A destination for 16-bit little-endian PCM. Writes are buffered; nothing is
 * guaranteed to reach the destination until {@link AudioSink.commit} or
 * {@link AudioSink.close}.
 *
 * @example
 * ```ts
 * import type { AudioSink } from "./sink.ts";
 * function example(sink: AudioSink) {
 *   sink.write(new Uint8Array(320)); // 160 mono frames
 *   sink.commit(); // valid file on disk from here on
 *   console.log(sink.path, sink.frames);
 *   sink.close();
 * }
 * ```
 */
export interface AudioSink {
  /** File path, or `"-"` for standard output. */
  readonly path: string;
  /** Sample frames accepted so far (silence included). */
  readonly frames: number;
  /**
   * Append whole s16le frames (length a multiple of 2 × channels). The view
   * may be reused by the caller after return, so the sink copies it.
   */
  write(pcm: Uint8Array): void;
  /** Append `frames` frames of silence (zeros). */
  writeSilence(frames: number): void;
  /**
   * Make everything accepted so far durable as a valid file: flush the
   * buffer, then (WAV files) rewrite the header sizes.
   */
  commit(): void;
  /** Commit, then release the destination. Idempotent. */
  close(): void;
  /**
   * Release the destination without committing (a failed run): a file goes
   * back to its last commit, or to `frames` if that is less. Optional
   * (`close` then serves). Idempotent.
   */
  abandon?(frames?: number): void;
}
