/**
 * Matroska blocks: the header of a SimpleBlock or Block (track number,
 * relative timecode, flags) and the three lacing schemes (Xiph, EBML, fixed).
 *
 * @example
 * ```ts
 * import { parseBlock } from "./block.ts";
 * // track 1, timecode +64, keyframe, no lacing, two payload bytes
 * const b = parseBlock(new Uint8Array([0x81, 0x00, 0x40, 0x80, 0xaa, 0xbb]), 0, true);
 * b.track;          // 1
 * b.timecode;       // 64
 * b.frames[0];      // Uint8Array [0xaa, 0xbb] (a view, not a copy)
 * ```
 * @module
 */

import { DataError } from "../errors.ts";
import { readBlockVint } from "../ebml/vint.ts";

/** Lacing scheme of a block. */
export type Lacing = "none" | "xiph" | "fixed" | "ebml";

/** A decoded SimpleBlock or Block. */
export interface Block {
  /** Track number the block belongs to. */
  track: number;
  /** Timecode relative to the Cluster, in TimecodeScale units (int16). */
  timecode: number;
  /** Absolute time in milliseconds: (Cluster timecode + timecode) × TimecodeScale. */
  timeMs: number;
  /** Keyframe flag (SimpleBlock only; Blocks in a BlockGroup report `false`). */
  keyframe: boolean;
  /** Invisible flag. */
  invisible: boolean;
  /** Discardable flag (SimpleBlock only). */
  discardable: boolean;
  /** Lacing scheme found in the flags. */
  lacing: Lacing;
  /** The frames: one without lacing, several with. Views into the input. */
  frames: Uint8Array[];
  /** Absolute offset of the SimpleBlock/Block element. */
  offset: number;
  /** BlockDuration (BlockGroup only), in TimecodeScale units. */
  duration?: number;
  /** True for a SimpleBlock, false for a Block inside a BlockGroup. */
  simple: boolean;
}

const LACING: readonly Lacing[] = ["none", "xiph", "fixed", "ebml"];

/**
 * The header fields of a block, as {@linkcode readBlockHeader} leaves them.
 * One object can be reused for every block (no allocation per block).
 */
export interface BlockHeader {
  /** Track number. */
  track: number;
  /** Timecode relative to the Cluster (int16). */
  timecode: number;
  /** The flags byte. */
  flags: number;
  /** Lacing scheme from the flags. */
  lacing: Lacing;
  /** Index in the buffer of the first byte after the header (frames or lace count). */
  payloadStart: number;
}

/**
 * Read the header of the block data at `buf[start … start + len)` into
 * `into`. `offset` is the element's absolute offset (for errors).
 * Throws DataError when the data is too short for a header.
 *
 * @example
 * ```ts
 * import { type BlockHeader, readBlockHeader } from "./block.ts";
 * const h: BlockHeader = { track: 0, timecode: 0, flags: 0, lacing: "none", payloadStart: 0 };
 * readBlockHeader(new Uint8Array([0x82, 0x00, 0x40, 0x80, 1, 2]), 0, 6, 0, true, h);
 * h.track; // 2
 * h.payloadStart; // 4
 * ```
 */
export function readBlockHeader(
  buf: Uint8Array,
  start: number,
  len: number,
  offset: number,
  simple: boolean,
  into: BlockHeader,
): BlockHeader {
  const end = start + len;
  let track: number;
  let w: number;
  const b0 = len > 0 ? buf[start] : 0;
  if (b0 >= 0x80) {
    // The usual one-byte track number, without a Vint object.
    track = b0 & 0x7f;
    w = 1;
  } else {
    const tv = readBlockVint(buf, start, end);
    if (tv === undefined && len > 0 && b0 === 0) {
      // A first byte of 0 is no length marker: the track number is invalid, not the block short.
      throw new DataError("invalid track number: first byte 0x00 (not a 1-8 byte EBML number)", {
        offset,
        element: simple ? "SimpleBlock" : "Block",
      });
    }
    track = tv?.value ?? 0;
    w = tv?.width ?? len;
  }
  if (w + 3 > len) {
    throw new DataError(`too short for a block header (${len} bytes)`, {
      offset,
      element: simple ? "SimpleBlock" : "Block",
    });
  }
  const p = start + w;
  const tc = (buf[p] << 8) | buf[p + 1];
  into.track = track;
  into.timecode = tc >= 0x8000 ? tc - 0x10000 : tc;
  into.flags = buf[p + 2];
  into.lacing = LACING[(into.flags >> 1) & 3];
  into.payloadStart = p + 3;
  return into;
}

const scratch: BlockHeader = { track: 0, timecode: 0, flags: 0, lacing: "none", payloadStart: 0 };

/**
 * Decode a block's payload (the element's data, without the element header).
 * `offset` is the element's absolute offset, used in errors and kept on the
 * result. `timeMs` is left 0 for the caller to fill in.
 *
 * @example
 * ```ts
 * import { parseBlock } from "./block.ts";
 * parseBlock(new Uint8Array([0x82, 0xff, 0xff, 0x00]), 100, true).timecode; // -1
 * ```
 */
export function parseBlock(
  data: Uint8Array,
  offset: number,
  simple: boolean,
): Block {
  const h = readBlockHeader(data, 0, data.length, offset, simple, scratch);
  const frames = h.lacing === "none"
    ? [data.subarray(h.payloadStart)]
    : unlace(data, h.payloadStart, h.lacing, offset, simple);
  return blockFromFlags(h.track, h.timecode, 0, h.flags, simple, frames, offset);
}

/**
 * A {@linkcode Block} from its header fields, the flags byte decoded (keyframe
 * and discardable count only in a SimpleBlock).
 *
 * @example
 * ```ts
 * import { blockFromFlags } from "./block.ts";
 * blockFromFlags(1, 64, 1064, 0x80, true, [], 0).keyframe; // true
 * ```
 */
export function blockFromFlags(
  track: number,
  timecode: number,
  timeMs: number,
  flags: number,
  simple: boolean,
  frames: Uint8Array[],
  offset: number,
): Block {
  return {
    track,
    timecode,
    timeMs,
    keyframe: simple && (flags & 0x80) !== 0,
    invisible: (flags & 0x08) !== 0,
    discardable: simple && (flags & 0x01) !== 0,
    lacing: LACING[(flags >> 1) & 3],
    frames,
    offset,
    simple,
  };
}

/**
 * The flags byte a {@linkcode Block} was read from (the inverse of
 * {@linkcode blockFromFlags}).
 *
 * @example
 * ```ts
 * import { blockFlags, parseBlock } from "./block.ts";
 * blockFlags(parseBlock(new Uint8Array([0x81, 0, 0, 0x88, 1]), 0, true)); // 0x88
 * ```
 */
export function blockFlags(b: Block): number {
  return (b.keyframe ? 0x80 : 0) | (b.invisible ? 0x08 : 0) | (b.discardable ? 0x01 : 0) |
    (LACING.indexOf(b.lacing) << 1);
}

/**
 * Split laced block data into frames (views into `data`). `start` is the
 * index of the lace count byte; `offset` and `simple` name the element in
 * errors.
 *
 * @example
 * ```ts
 * import { unlace } from "./block.ts";
 * // fixed lacing: 2 frames of 2 bytes after the lace count (1 = two frames)
 * unlace(new Uint8Array([1, 0xa, 0xb, 0xc, 0xd]), 0, "fixed", 0, true).length; // 2
 * ```
 */
export function unlace(
  data: Uint8Array,
  start: number,
  lacing: Lacing,
  offset: number,
  simple: boolean,
): Uint8Array[] {
  const sizes = laceSizes(data, start, lacing, offset, simple);
  const frames: Uint8Array[] = new Array(sizes.length);
  let p = sizes.first;
  for (let i = 0; i < sizes.length; i++) {
    frames[i] = data.subarray(p, p + sizes[i]);
    p += sizes[i];
  }
  return frames;
}

/**
 * The frame sizes of laced block data, as {@linkcode unlace} splits it, and
 * (`first`) the index in `data` where the first frame begins. More frames
 * than bytes of them (frames of 0 bytes: a few bytes of lacing would stand
 * for thousands of frames) is refused as bad lacing.
 *
 * @example
 * ```ts
 * import { laceSizes } from "./block.ts";
 * const sizes = laceSizes(new Uint8Array([1, 0xa, 0xb, 0xc, 0xd]), 0, "fixed", 0, true);
 * [...sizes, sizes.first]; // [2, 2, 1]
 * ```
 */
export function laceSizes(
  data: Uint8Array,
  start: number,
  lacing: Lacing,
  offset: number,
  simple: boolean,
): number[] & { first: number } {
  const name = simple ? "SimpleBlock" : "Block";
  const fail = (why: string) => new DataError(`bad ${lacing} lacing: ${why}`, { offset, element: name });
  const end = data.length;
  if (start >= end) throw fail("no lace count");
  const count = data[start] + 1;
  let p = start + 1;
  const sizes: number[] = new Array(count);
  if (lacing === "fixed") {
    const total = end - p;
    if (total % count !== 0) {
      throw fail(`${total} bytes do not split into ${count} equal frames`);
    }
    sizes.fill(total / count);
  } else if (lacing === "xiph") {
    let sum = 0;
    for (let i = 0; i < count - 1; i++) {
      let size = 0;
      for (;;) {
        if (p >= end) throw fail("lace sizes run past the block");
        const b = data[p++];
        size += b;
        if (b !== 255) break;
      }
      sizes[i] = size;
      sum += size;
    }
    sizes[count - 1] = end - p - sum;
  } else if (count === 1) {
    // EBML lacing codes the sizes of all frames but the last: none here.
    sizes[0] = end - p;
  } else {
    const first = readBlockVint(data, p, end);
    if (first === undefined) throw fail("lace sizes run past the block");
    p += first.width;
    let size = first.value;
    sizes[0] = size;
    let sum = size;
    for (let i = 1; i < count - 1; i++) {
      const d = readBlockVint(data, p, end);
      if (d === undefined) throw fail("lace sizes run past the block");
      p += d.width;
      // Signed VINT: subtract the bias 2^(7w-1) - 1.
      size += d.value - (2 ** (7 * d.width - 1) - 1);
      if (size < 0) throw fail("negative frame size");
      sizes[i] = size;
      sum += size;
    }
    if (count > 1) sizes[count - 1] = end - p - sum;
  }
  let at = p;
  for (let i = 0; i < count; i++) {
    const s = sizes[i];
    if (s < 0 || at + s > end) {
      throw fail(`frame ${i} (${s} bytes) runs past the block`);
    }
    at += s;
  }
  if (count > 1 && count > end - p) throw fail(`${count} frames in ${end - p} bytes`);
  return Object.assign(sizes, { first: p });
}
