/**
 * Decoding of EBML leaf values by type.
 *
 * @example
 * ```ts
 * import { decodeValue } from "./decode.ts";
 * decodeValue("uint", new Uint8Array([0x0f, 0x42, 0x40])); // 1000000
 * decodeValue("string", new TextEncoder().encode("matroska\0")); // "matroska"
 * ```
 * @module
 */

import type { ElementType } from "./elements.ts";
import type { EbmlValue } from "./token.ts";

const utf8 = new TextDecoder("utf-8");
/** Recently decoded short ASCII strings by hash (bounded). */
const interned = new Map<number, string>();
/** Milliseconds from 1970-01-01 to 2001-01-01 (the EBML date epoch). */
const EBML_EPOCH_MS = 978307200000;

/**
 * Decode the bytes of a leaf element of type `type`. Throws `RangeError`
 * when the length is not valid for the type (e.g. a 3-byte float).
 *
 * @example
 * ```ts
 * import { decodeValue } from "./decode.ts";
 * decodeValue("float", new Uint8Array([0x45, 0xfa, 0x00, 0x00])); // 8000
 * ```
 */
export function decodeValue(type: ElementType, data: Uint8Array): EbmlValue {
  switch (type) {
    case "uint":
      return decodeUint(data);
    case "int":
      return decodeInt(data);
    case "float":
      return decodeFloat(data);
    case "string":
    case "utf8":
      return decodeString(data);
    case "date": {
      if (data.length === 0) return new Date(EBML_EPOCH_MS);
      if (data.length !== 8) {
        throw new RangeError(`a date must be 8 bytes, not ${data.length}`);
      }
      const ns = new DataView(data.buffer, data.byteOffset, 8).getBigInt64(0);
      return new Date(EBML_EPOCH_MS + Number(ns / 1000000n));
    }
    default:
      return data;
  }
}

/**
 * Big-endian unsigned integer of 0–8 bytes: a number, or a bigint above 2^53.
 *
 * @example
 * ```ts
 * import { decodeUint } from "./decode.ts";
 * decodeUint(new Uint8Array([1, 0])); // 256
 * ```
 */
export function decodeUint(data: Uint8Array): number | bigint {
  const n = data.length;
  if (n > 8) {
    throw new RangeError(
      `an unsigned integer must be at most 8 bytes, not ${n}`,
    );
  }
  return uintAt(data, 0, n);
}

/** `n` (≤ 8) bytes at `start` as an unsigned integer: a number, or a bigint above 2^53. */
function uintAt(buf: Uint8Array, start: number, n: number): number | bigint {
  if (n <= 6) {
    let v = 0;
    for (let i = start; i < start + n; i++) v = v * 256 + buf[i];
    return v;
  }
  // 7–8 bytes (Cluster Timecodes, TrackUIDs): the top one or two bytes and
  // the low 48 bits, exact as a number while the value is below 2^53.
  let hi = 0;
  for (let i = start; i < start + n - 6; i++) hi = hi * 256 + buf[i];
  let lo = 0;
  for (let i = start + n - 6; i < start + n; i++) lo = lo * 256 + buf[i];
  if (hi < 32) return hi * 281474976710656 + lo; // hi × 2^48 + lo < 2^53
  let v = 0n;
  for (let i = start; i < start + n; i++) v = (v << 8n) | BigInt(buf[i]);
  return v;
}

/**
 * Big-endian two's-complement signed integer of 0–8 bytes.
 *
 * @example
 * ```ts
 * import { decodeInt } from "./decode.ts";
 * decodeInt(new Uint8Array([0xff, 0xfe])); // -2
 * ```
 */
export function decodeInt(data: Uint8Array): number {
  const n = data.length;
  if (n > 8) {
    throw new RangeError(`a signed integer must be at most 8 bytes, not ${n}`);
  }
  if (n === 0) return 0;
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(data[i]);
  return Number(BigInt.asIntN(n * 8, v));
}

/**
 * Big-endian IEEE float of 0, 4 or 8 bytes.
 *
 * @example
 * ```ts
 * import { decodeFloat } from "./decode.ts";
 * decodeFloat(new Uint8Array([])); // 0
 * ```
 */
export function decodeFloat(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  if (data.length === 0) return 0;
  if (data.length === 4) return view.getFloat32(0);
  if (data.length === 8) return view.getFloat64(0);
  throw new RangeError(`a float must be 0, 4 or 8 bytes, not ${data.length}`);
}

/**
 * UTF-8 text with trailing NUL padding removed (the KVS SDK pads DocType,
 * Name and CodecID with NULs).
 *
 * @example
 * ```ts
 * import { decodeString } from "./decode.ts";
 * decodeString(new Uint8Array([0x41, 0, 0])); // "A"
 * ```
 */
export function decodeString(data: Uint8Array): string {
  return decodeStringAt(data, 0, data.length);
}

/**
 * {@linkcode decodeString} of `len` bytes of `buf` at `start`, without a view.
 *
 * @example
 * ```ts
 * import { decodeStringAt } from "./decode.ts";
 * decodeStringAt(new TextEncoder().encode("xxA_AAC\0"), 2, 6); // "A_AAC"
 * ```
 */
export function decodeStringAt(buf: Uint8Array, start: number, len: number): string {
  let end = start + len;
  while (end > start && buf[end - 1] === 0) end--;
  const n = end - start;
  // Short ASCII strings with letters (tag names, ContactIds, MIME types)
  // repeat from fragment to fragment: reuse the string. Digits-only ones
  // (fragment numbers, timestamps) are unique, so they are not kept: a cache
  // of unique strings would only grow the old generation.
  if (n <= 64) {
    let hash = n;
    let letters = false;
    for (let i = start; i < end; i++) {
      const b = buf[i];
      if (b >= 0x80) return utf8.decode(buf.subarray(start, end));
      if (b >= 0x41) letters = true;
      hash = (Math.imul(hash, 31) + b) | 0;
    }
    if (!letters) return ascii(buf, start, n);
    const cached = interned.get(hash);
    if (cached !== undefined && cached.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (cached.charCodeAt(i) !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    const s = ascii(buf, start, n);
    if (interned.size >= 1024) interned.clear();
    interned.set(hash, s);
    return s;
  }
  return utf8.decode(buf.subarray(start, end));
}

/** Char codes of a short ASCII string (a plain array: `apply` on it is far cheaper than on a typed array). */
const codes: number[] = [];

/** `n` (≤ 64) ASCII bytes of `buf` at `start` as a string. */
function ascii(buf: Uint8Array, start: number, n: number): string {
  codes.length = n;
  for (let i = 0; i < n; i++) codes[i] = buf[start + i];
  return String.fromCharCode.apply(null, codes);
}

/**
 * {@linkcode decodeValue} of `len` bytes of `buf` at `start`: numbers and
 * strings are decoded in place (no view is made); binaries are views.
 *
 * @example
 * ```ts
 * import { decodeValueAt } from "./decode.ts";
 * decodeValueAt("uint", new Uint8Array([9, 0x0f, 0x42, 0x40]), 1, 3); // 1000000
 * ```
 */
export function decodeValueAt(type: ElementType, buf: Uint8Array, start: number, len: number): EbmlValue {
  if (type === "uint" && len <= 8) return uintAt(buf, start, len);
  if (type === "string" || type === "utf8") return decodeStringAt(buf, start, len);
  return decodeValue(type, buf.subarray(start, start + len));
}
