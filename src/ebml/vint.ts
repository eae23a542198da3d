/**
 * EBML variable-length integers (VINTs): element ids and element sizes.
 *
 * A VINT's width is given by the position of the first set bit of its first
 * byte (1–8 bytes). Element ids keep their marker bit; sizes drop it. A size
 * whose value bits are all ones means "unknown", whatever its width.
 *
 * @example
 * ```ts
 * import { readSize, readId } from "./vint.ts";
 * const bytes = new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 0x9f]);
 * const id = readId(bytes, 0, bytes.length);        // { value: 0x1a45dfa3, width: 4 }
 * const size = readSize(bytes, 4, bytes.length);    // { value: 31, width: 1 }
 * ```
 * @module
 */

/**
 * Size value used for "unknown size" (all value bits set).
 *
 * @example
 * ```ts
 * import { readSize, UNKNOWN_SIZE } from "./vint.ts";
 * readSize(new Uint8Array([0xff]), 0, 1)?.value;                   // -1: UNKNOWN_SIZE
 * readSize(new Uint8Array([0x40, 0x7f]), 0, 2)?.value === UNKNOWN_SIZE; // false: 127
 * ```
 */
export const UNKNOWN_SIZE: -1 = -1;

/** Result of reading a VINT: its decoded value and its width in bytes. */
export interface Vint {
  /** Decoded value; {@linkcode UNKNOWN_SIZE} for an unknown size. */
  value: number;
  /** Number of bytes the VINT occupies (1–8). */
  width: number;
}

/**
 * Width in bytes of the VINT starting with byte `first`, or 0 when the first
 * byte is 0x00 (a width over 8, invalid in Matroska).
 *
 * @example
 * ```ts
 * import { vintWidth } from "./vint.ts";
 * vintWidth(0x81); // 1
 * vintWidth(0x01); // 8
 * ```
 */
export function vintWidth(first: number): number {
  return first === 0 ? 0 : Math.clz32(first) - 23;
}

/**
 * Read an element id (marker bit kept) at `pos`. Returns `undefined` when the
 * buffer ends before the id does. Throws `RangeError` for a width over 4.
 *
 * @example
 * ```ts
 * import { readId } from "./vint.ts";
 * readId(new Uint8Array([0xa3]), 0, 1); // { value: 0xa3, width: 1 }
 * ```
 */
export function readId(
  buf: Uint8Array,
  pos: number,
  end: number,
): Vint | undefined {
  if (pos >= end) return undefined;
  const first = buf[pos];
  const width = vintWidth(first);
  if (width === 0 || width > 4) {
    throw new RangeError(`invalid element id byte 0x${hex2(first)}`);
  }
  if (pos + width > end) return undefined;
  let value = first;
  for (let i = 1; i < width; i++) value = value * 256 + buf[pos + i];
  return { value, width };
}

/**
 * Read an element size at `pos`. Returns `undefined` when the buffer ends
 * before the size does; the value is {@linkcode UNKNOWN_SIZE} when all value
 * bits are set. Sizes over 2^53 lose precision (no such element can arrive).
 * Throws `RangeError` for a first byte of 0x00.
 *
 * @example
 * ```ts
 * import { readSize, UNKNOWN_SIZE } from "./vint.ts";
 * readSize(new Uint8Array([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0, 8)?.value === UNKNOWN_SIZE; // true
 * ```
 */
export function readSize(
  buf: Uint8Array,
  pos: number,
  end: number,
): Vint | undefined {
  if (pos >= end) return undefined;
  const first = buf[pos];
  const width = vintWidth(first);
  if (width === 0) {
    throw new RangeError("invalid size byte 0x00 (VINT wider than 8 bytes)");
  }
  if (pos + width > end) return undefined;
  const marker = 0x80 >> (width - 1);
  let value = first & (marker - 1);
  let allOnes = value === marker - 1;
  for (let i = 1; i < width; i++) {
    const b = buf[pos + i];
    if (b !== 0xff) allOnes = false;
    value = value * 256 + b;
  }
  return { value: allOnes ? UNKNOWN_SIZE : value, width };
}

/**
 * Read a VINT used inside a Block (track number, EBML lace sizes): the marker
 * bit is dropped and an all-ones value is returned as is.
 *
 * @example
 * ```ts
 * import { readBlockVint } from "./vint.ts";
 * readBlockVint(new Uint8Array([0x81]), 0, 1); // { value: 1, width: 1 }
 * ```
 */
export function readBlockVint(
  buf: Uint8Array,
  pos: number,
  end: number,
): Vint | undefined {
  if (pos >= end) return undefined;
  const first = buf[pos];
  const width = vintWidth(first);
  if (width === 0 || pos + width > end) return undefined;
  let value = first & ((0x80 >> (width - 1)) - 1);
  for (let i = 1; i < width; i++) value = value * 256 + buf[pos + i];
  return { value, width };
}

/**
 * Format an element id as `0x` + upper-case hex.
 *
 * @example
 * ```ts
 * import { formatId } from "./vint.ts";
 * formatId(0x1a45dfa3); // "0x1A45DFA3"
 * ```
 */
export function formatId(id: number): string {
  return "0x" + id.toString(16).toUpperCase().padStart(2, "0");
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}
