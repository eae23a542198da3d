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
  const name = simple ? "SimpleBlock" : "Block";
  const tv = readBlockVint(data, 0, data.length);
  if (tv === undefined || tv.width + 3 > data.length) {
    throw new DataError(`too short for a block header (${data.length} bytes)`, {
      offset,
      element: name,
    });
  }
  let p = tv.width;
  const tc = (data[p] << 8) | data[p + 1];
  const timecode = tc >= 0x8000 ? tc - 0x10000 : tc;
  const flags = data[p + 2];
  p += 3;
  const lacing = LACING[(flags >> 1) & 3];
  const frames = lacing === "none" ? [data.subarray(p)] : unlace(data, p, lacing, offset, name);
  return {
    track: tv.value,
    timecode,
    timeMs: 0,
    keyframe: simple && (flags & 0x80) !== 0,
    invisible: (flags & 0x08) !== 0,
    discardable: simple && (flags & 0x01) !== 0,
    lacing,
    frames,
    offset,
    simple,
  };
}

function unlace(
  data: Uint8Array,
  start: number,
  lacing: Lacing,
  offset: number,
  name: string,
): Uint8Array[] {
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
  const frames: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = sizes[i];
    if (s < 0 || p + s > end) {
      throw fail(`frame ${i} (${s} bytes) runs past the block`);
    }
    frames[i] = data.subarray(p, p + s);
    p += s;
  }
  return frames;
}
