/**
 * Canonical 44-byte PCM WAV (RIFF/WAVE) headers: building them, and parsing
 * them back (tolerating extra chunks such as `LIST` before `data`).
 *
 * Sizes that do not fit the 32-bit RIFF fields (data of 4 GiB or more) are
 * clamped to `0xFFFFFFFF`; the same value marks a stream of unknown length,
 * as ffmpeg writes when its output is a pipe.
 *
 * @example
 * ```ts
 * import { parseWavHeader, wavHeader } from "./wav.ts";
 * const header = wavHeader({ rate: 8000, channels: 1, dataBytes: 320 });
 * console.log(header.length, parseWavHeader(header).dataBytes); // 44 320
 * ```
 * @module
 */

import { DataError } from "../errors.ts";

/** Length in bytes of the canonical PCM WAV header {@link wavHeader} writes.
 *
 * @example
 * ```ts
 * import { WAV_HEADER_BYTES } from "./wav.ts";
 * const firstSample = WAV_HEADER_BYTES; // byte offset of the data in our files
 * ```
 */
export const WAV_HEADER_BYTES = 44;

/** Largest value a RIFF size field holds; also the "unknown length" marker.
 *
 * @example
 * ```ts
 * import { WAV_MAX_SIZE, wavHeader } from "./wav.ts";
 * const h = wavHeader({ rate: 8000, channels: 1, dataBytes: 5 * 2 ** 30 });
 * new DataView(h.buffer).getUint32(40, true) === WAV_MAX_SIZE; // true (clamped)
 * ```
 */
export const WAV_MAX_SIZE = 0xffff_ffff;

/** Options for {@link wavHeader}.
 *
 * @example
 * ```ts
 * import type { WavHeaderOptions } from "./wav.ts";
 * const opts: WavHeaderOptions = { rate: 8000, channels: 2, dataBytes: "streaming" };
 * ```
 */
export interface WavHeaderOptions {
  /** Sample rate in Hz. */
  rate: number;
  /** Number of interleaved channels (1 = mono, 2 = stereo). */
  channels: number;
  /** Bits per sample: 8, 16, 24 or 32. Default 16. */
  bitsPerSample?: number;
  /**
   * Length of the sample data in bytes, or `"streaming"` when unknown (both
   * RIFF and data sizes are then written as `0xFFFFFFFF`). Values above
   * `0xFFFFFFFF` are clamped.
   */
  dataBytes: number | "streaming";
}

/**
 * Build the 44-byte canonical PCM RIFF/WAVE header (format tag 1, a 16-byte
 * `fmt ` chunk, then the `data` chunk header). The RIFF size includes the pad
 * byte RIFF requires after odd-length data (never needed for 16-bit audio).
 *
 * @example
 * ```ts
 * import { wavHeader } from "./wav.ts";
 * const header = wavHeader({ rate: 8000, channels: 1, dataBytes: 1000 });
 * // "RIFF", 1036, "WAVE", "fmt ", 16, 1, 1, 8000, 16000, 2, 16, "data", 1000
 * ```
 */
export function wavHeader(options: WavHeaderOptions): Uint8Array {
  const { rate, channels, bitsPerSample = 16, dataBytes } = options;
  checkInt("rate", rate, 1, WAV_MAX_SIZE);
  checkInt("channels", channels, 1, 0xffff);
  if (
    !Number.isInteger(bitsPerSample) || bitsPerSample < 8 ||
    bitsPerSample > 32 || bitsPerSample % 8 !== 0
  ) {
    throw new RangeError(
      `bitsPerSample must be 8, 16, 24 or 32, got ${bitsPerSample}`,
    );
  }
  const blockAlign = channels * (bitsPerSample / 8);
  const byteRate = rate * blockAlign;
  if (blockAlign > 0xffff || byteRate > WAV_MAX_SIZE) {
    throw new RangeError(
      `format too large for WAV: ${channels} channels at ${rate} Hz`,
    );
  }
  let riffSize: number;
  let dataSize: number;
  if (dataBytes === "streaming") {
    riffSize = dataSize = WAV_MAX_SIZE;
  } else {
    checkInt("dataBytes", dataBytes, 0, Number.MAX_SAFE_INTEGER);
    dataSize = Math.min(dataBytes, WAV_MAX_SIZE);
    riffSize = Math.min(36 + dataBytes + (dataBytes % 2), WAV_MAX_SIZE);
  }
  const out = new Uint8Array(WAV_HEADER_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x52494646); // "RIFF"
  v.setUint32(4, riffSize, true);
  v.setUint32(8, 0x57415645); // "WAVE"
  v.setUint32(12, 0x666d7420); // "fmt "
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // WAVE_FORMAT_PCM
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, byteRate, true);
  v.setUint16(32, blockAlign, true);
  v.setUint16(34, bitsPerSample, true);
  v.setUint32(36, 0x64617461); // "data"
  v.setUint32(40, dataSize, true);
  return out;
}

/** What {@link parseWavHeader} found.
 *
 * @example
 * ```ts
 * import { parseWavHeader, type WavInfo } from "./wav.ts";
 * function example(bytes: Uint8Array) {
 *   const info: WavInfo = parseWavHeader(bytes);
 *   const pcm = bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes);
 * }
 * ```
 */
export interface WavInfo {
  /** Sample rate in Hz. */
  rate: number;
  /** Number of interleaved channels. */
  channels: number;
  /** Bits per sample. */
  bitsPerSample: number;
  /** Byte offset of the first sample (just after the `data` chunk header). */
  dataOffset: number;
  /** The `data` chunk size field as written (`0xFFFFFFFF` = unknown/clamped). */
  dataBytes: number;
  /** The RIFF size field as written (`0xFFFFFFFF` = unknown/clamped). */
  riffSize: number;
}

/**
 * Parse a PCM WAV header from the start of a file. Accepts any chunks
 * (`LIST`, `fact`, ...) between `fmt ` and `data`, and format tags 1 (PCM)
 * and 0xFFFE (extensible). Only the bytes up to the `data` chunk header are
 * needed. Throws a {@link DataError} naming the byte offset and chunk when
 * the bytes are not a usable PCM WAV header.
 *
 * @example
 * ```ts
 * import { parseWavHeader } from "./wav.ts";
 * const info = parseWavHeader(Deno.readFileSync("call.wav"));
 * console.log(info.rate, info.channels, info.dataBytes);
 * ```
 */
export function parseWavHeader(bytes: Uint8Array): WavInfo {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12) {
    throw new DataError(`too short for a WAV header (${bytes.length} bytes)`, {
      offset: 0,
      element: "RIFF",
    });
  }
  if (v.getUint32(0) !== 0x52494646 || v.getUint32(8) !== 0x57415645) {
    throw new DataError("not a RIFF/WAVE file", { offset: 0, element: "RIFF" });
  }
  const riffSize = v.getUint32(4, true);
  let fmt: Omit<WavInfo, "dataOffset" | "dataBytes" | "riffSize"> | undefined;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = String.fromCharCode(
      bytes[off],
      bytes[off + 1],
      bytes[off + 2],
      bytes[off + 3],
    );
    const size = v.getUint32(off + 4, true);
    if (id === "data") {
      if (!fmt) {
        throw new DataError("data chunk before fmt chunk", {
          offset: off,
          element: "data",
        });
      }
      return { ...fmt, dataOffset: off + 8, dataBytes: size, riffSize };
    }
    if (id === "fmt ") fmt = parseFmt(v, off, size);
    off += 8 + size + (size % 2);
  }
  throw new DataError(
    `no data chunk in the first ${bytes.length} bytes (truncated header?)`,
    { offset: Math.min(off, bytes.length), element: "data" },
  );
}

function parseFmt(
  v: DataView,
  off: number,
  size: number,
): Omit<WavInfo, "dataOffset" | "dataBytes" | "riffSize"> {
  const where = { offset: off, element: "fmt " };
  if (size < 16) throw new DataError(`fmt chunk too small (${size})`, where);
  if (off + 8 + 16 > v.byteLength) {
    throw new DataError("fmt chunk truncated", where);
  }
  const tag = v.getUint16(off + 8, true);
  if (tag !== 1 && tag !== 0xfffe) {
    throw new DataError(`not PCM (format tag ${tag})`, where);
  }
  const channels = v.getUint16(off + 10, true);
  const rate = v.getUint32(off + 12, true);
  const byteRate = v.getUint32(off + 16, true);
  const blockAlign = v.getUint16(off + 20, true);
  const bitsPerSample = v.getUint16(off + 22, true);
  if (channels === 0 || rate === 0 || bitsPerSample === 0) {
    throw new DataError(
      `bad format: ${channels} channels, ${rate} Hz, ${bitsPerSample} bits`,
      where,
    );
  }
  const expectAlign = channels * Math.ceil(bitsPerSample / 8);
  if (blockAlign !== expectAlign || byteRate !== rate * blockAlign) {
    throw new DataError(
      `inconsistent format: block align ${blockAlign} (expected ${expectAlign}), byte rate ${byteRate} (expected ${
        rate * expectAlign
      })`,
      where,
    );
  }
  return { rate, channels, bitsPerSample };
}

function checkInt(name: string, value: number, min: number, max: number) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
}
