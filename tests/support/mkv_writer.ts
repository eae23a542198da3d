/**
 * Test-side Matroska / EBML writer.
 *
 * Small, explicit building blocks to assemble MKV documents byte by byte,
 * including the encodings real Kinesis Video Streams output uses and that
 * parsers must survive: size fields wider than needed, unknown sizes of any
 * width, NUL-padded strings, lacing, BlockGroups.
 *
 * Everything returns fresh `Uint8Array`s; nothing here is clever about
 * performance except {@link concat}, which copies once.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Matroska / EBML element ids (with their marker bits) used by the tests. */
export const ID = {
  // EBML header
  EBML: 0x1A45DFA3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42F7,
  EBMLMaxIDLength: 0x42F2,
  EBMLMaxSizeLength: 0x42F3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  // global
  Void: 0xEC,
  CRC32: 0xBF,
  // segment
  Segment: 0x18538067,
  SeekHead: 0x114D9B74,
  Seek: 0x4DBB,
  SeekID: 0x53AB,
  SeekPosition: 0x53AC,
  Info: 0x1549A966,
  SegmentUID: 0x73A4,
  TimecodeScale: 0x2AD7B1,
  Duration: 0x4489,
  DateUTC: 0x4461,
  Title: 0x7BA9,
  MuxingApp: 0x4D80,
  WritingApp: 0x5741,
  // tracks
  Tracks: 0x1654AE6B,
  TrackEntry: 0xAE,
  TrackNumber: 0xD7,
  TrackUID: 0x73C5,
  TrackType: 0x83,
  FlagLacing: 0x9C,
  DefaultDuration: 0x23E383,
  Name: 0x536E,
  Language: 0x22B59C,
  CodecID: 0x86,
  CodecPrivate: 0x63A2,
  CodecName: 0x258688,
  Video: 0xE0,
  Audio: 0xE1,
  SamplingFrequency: 0xB5,
  Channels: 0x9F,
  BitDepth: 0x6264,
  // tags
  Tags: 0x1254C367,
  Tag: 0x7373,
  Targets: 0x63C0,
  SimpleTag: 0x67C8,
  TagName: 0x45A3,
  TagLanguage: 0x447A,
  TagDefault: 0x4484,
  TagString: 0x4487,
  TagBinary: 0x4485,
  // clusters
  Cluster: 0x1F43B675,
  Timecode: 0xE7,
  Position: 0xA7,
  PrevSize: 0xAB,
  SimpleBlock: 0xA3,
  BlockGroup: 0xA0,
  Block: 0xA1,
  BlockDuration: 0x9B,
  ReferenceBlock: 0xFB,
  // other top-level
  Cues: 0x1C53BB6B,
  CuePoint: 0xBB,
  Chapters: 0x1043A770,
  Attachments: 0x1941A469,
} as const;

/** Concatenate byte arrays into one new array (one copy). */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Encode an element id, given with its marker bits (as written in the
 * Matroska spec): `0x1A45DFA3` gives 4 bytes, `0xA3` gives 1 byte. Throws if
 * the leading byte's marker does not match the id's byte length.
 */
export function encodeId(id: number): Uint8Array {
  if (!Number.isInteger(id) || id <= 0 || id > 0xFFFFFFFF) {
    throw new RangeError(`invalid EBML id ${id}`);
  }
  const len = id <= 0xFF ? 1 : id <= 0xFFFF ? 2 : id <= 0xFFFFFF ? 3 : 4;
  const out = new Uint8Array(len);
  let v = id;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = v & 0xFF;
    v = Math.floor(v / 256);
  }
  const marker = 0x80 >> (len - 1);
  if (out[0] < marker || out[0] >= marker * 2) {
    throw new RangeError(
      `EBML id 0x${id.toString(16)}: marker bits do not match length ${len}`,
    );
  }
  return out;
}

/** The largest size a VINT of `width` bytes can hold (all-ones is "unknown"). */
function maxSize(width: number): number {
  return 2 ** (7 * width) - 2;
}

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > 8) {
    throw new RangeError(`VINT width must be 1..8, got ${width}`);
  }
}

/**
 * Encode an EBML size (unsigned VINT). `width` (1..8) defaults to the minimal
 * one; wider, non-minimal widths are allowed. Throws if the value does not fit
 * (the maximum for width w is 2^(7w)-2: all value bits set means "unknown").
 */
export function encodeSize(size: number, width?: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`invalid EBML size ${size}`);
  }
  let w = width ?? 1;
  if (width === undefined) {
    while (size > maxSize(w)) w++;
  }
  checkWidth(w);
  if (size > maxSize(w)) {
    throw new RangeError(`size ${size} does not fit a ${w}-byte VINT`);
  }
  const out = new Uint8Array(w);
  let v = size;
  for (let i = w - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0] |= 0x80 >> (w - 1);
  return out;
}

/**
 * Encode a signed VINT as used by EBML lacing: the stored unsigned value is
 * `value + (2^(7w-1) - 1)`. `width` defaults to the minimal one.
 */
export function encodeSignedVint(value: number, width?: number): Uint8Array {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`invalid signed VINT ${value}`);
  }
  const bias = (w: number) => 2 ** (7 * w - 1) - 1;
  let w = width ?? 1;
  if (width === undefined) {
    while (w < 8 && Math.abs(value) > bias(w)) w++;
  }
  checkWidth(w);
  if (Math.abs(value) > bias(w)) {
    throw new RangeError(`signed value ${value} does not fit ${w} bytes`);
  }
  return encodeSize(value + bias(w), w);
}

/**
 * An "unknown size" VINT of `width` bytes: all value bits set. Width 1 gives
 * `FF`, width 8 gives `01 FF FF FF FF FF FF FF`.
 */
export function unknownSize(width: number): Uint8Array {
  checkWidth(width);
  const out = new Uint8Array(width).fill(0xFF);
  out[0] = (0x100 >> (width - 1)) - 1;
  return out;
}

/** Options for the size field of an element. */
export interface ElOptions {
  /** Width in bytes (1..8) of the size field; default minimal (1 for unknown). */
  sizeWidth?: number;
  /** Write an unknown size (all value bits set) instead of the body length. */
  unknownSize?: boolean;
}

function sizeField(length: number, opts?: ElOptions): Uint8Array {
  if (opts?.unknownSize) return unknownSize(opts.sizeWidth ?? 1);
  return encodeSize(length, opts?.sizeWidth);
}

/**
 * A master or binary element: id, size, body. An array body is concatenated
 * (children of a master element).
 */
export function el(
  id: number,
  body: Uint8Array | Uint8Array[],
  opts?: ElOptions,
): Uint8Array {
  const data = Array.isArray(body) ? concat(body) : body;
  return concat([encodeId(id), sizeField(data.length, opts), data]);
}

/** The low `width` bytes of `v`, big-endian (no range check). */
export function beBytes(v: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xFFn);
    v >>= 8n;
  }
  return out;
}

/**
 * An unsigned integer element, big-endian, in the minimal width (at least 1
 * byte) unless `width` (1..8) is given. Throws if the value does not fit.
 */
export function uintEl(
  id: number,
  value: number | bigint,
  width?: number,
  opts?: ElOptions,
): Uint8Array {
  const v = BigInt(value);
  if (v < 0n) throw new RangeError(`negative unsigned value ${value}`);
  let w = 1;
  while (w < 8 && v >= 1n << BigInt(8 * w)) w++;
  if (width !== undefined) {
    if (!Number.isInteger(width) || width < 1 || width > 8) {
      throw new RangeError(`integer width must be 1..8, got ${width}`);
    }
    if (v >= 1n << BigInt(8 * width)) {
      throw new RangeError(`${value} does not fit ${width} bytes`);
    }
    w = width;
  } else if (v >= 1n << 64n) {
    throw new RangeError(`${value} does not fit 8 bytes`);
  }
  return el(id, beBytes(v, w), opts);
}

/**
 * A signed integer element, two's complement big-endian, in the minimal width
 * unless `width` (1..8) is given.
 */
export function intEl(id: number, value: number, width?: number): Uint8Array {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`invalid integer ${value}`);
  }
  const v = BigInt(value);
  const fits = (w: number) => v >= -(1n << BigInt(8 * w - 1)) && v < 1n << BigInt(8 * w - 1);
  let w = width ?? 1;
  if (width === undefined) {
    while (!fits(w)) w++;
  }
  if (!Number.isInteger(w) || w < 1 || w > 8 || !fits(w)) {
    throw new RangeError(`${value} does not fit ${w} bytes`);
  }
  return el(id, beBytes(BigInt.asUintN(8 * w, v), w));
}

/** A float element, IEEE 754 big-endian, 4 or 8 (default) bytes. */
export function floatEl(id: number, value: number, width: 4 | 8 = 8): Uint8Array {
  const data = new Uint8Array(width);
  const dv = new DataView(data.buffer);
  if (width === 4) dv.setFloat32(0, value);
  else dv.setFloat64(0, value);
  return el(id, data);
}

/**
 * A string element, UTF-8, optionally NUL-padded to `padTo` bytes (throws if
 * the string is already longer).
 */
export function strEl(
  id: number,
  value: string,
  padTo?: number,
  opts?: ElOptions,
): Uint8Array {
  const s = encoder.encode(value);
  if (padTo === undefined || padTo === s.length) return el(id, s, opts);
  if (s.length > padTo) {
    throw new RangeError(`string of ${s.length} bytes longer than ${padTo}`);
  }
  const data = new Uint8Array(padTo);
  data.set(s);
  return el(id, data, opts);
}

/** A Void element whose body is `dataSize` zero bytes. */
export function voidEl(dataSize: number, opts?: ElOptions): Uint8Array {
  return el(ID.Void, new Uint8Array(dataSize), opts);
}

/** The 4-byte-plus Block header: track VINT, int16 BE timecode, flags. */
function blockHeader(
  track: number,
  relTimecode: number,
  flags: number,
): Uint8Array {
  if (
    !Number.isInteger(relTimecode) || relTimecode < -32768 ||
    relTimecode > 32767
  ) {
    throw new RangeError(`relative timecode ${relTimecode} is not an int16`);
  }
  if (!Number.isInteger(track) || track < 1) {
    throw new RangeError(`invalid track number ${track}`);
  }
  const t = encodeSize(track);
  const out = new Uint8Array(t.length + 3);
  out.set(t);
  new DataView(out.buffer).setInt16(t.length, relTimecode);
  out[t.length + 2] = flags & 0xFF;
  return out;
}

/**
 * A complete SimpleBlock element (id A3) without lacing: track number VINT,
 * int16 big-endian relative timecode, flags (0x80 when `keyframe`), payload.
 */
export function simpleBlock(
  track: number,
  relTimecode: number,
  keyframe: boolean,
  payload: Uint8Array,
  opts?: ElOptions,
): Uint8Array {
  return el(ID.SimpleBlock, [
    blockHeader(track, relTimecode, keyframe ? 0x80 : 0),
    payload,
  ], opts);
}

/** Lacing kinds and their flag bits (bits 0x06 of the block flags). */
export const LACING_BITS = { xiph: 0x02, fixed: 0x04, ebml: 0x06 } as const;

/**
 * The lace header for `frames`: frame count - 1, then the sizes of all frames
 * but the last (Xiph: runs of 255 then the remainder; EBML: the first size as
 * an unsigned VINT, then signed VINT differences; fixed: none).
 */
export function laceHeader(
  frames: Uint8Array[],
  lacing: "xiph" | "ebml" | "fixed",
): Uint8Array {
  if (frames.length < 1 || frames.length > 256) {
    throw new RangeError(`a lace holds 1..256 frames, got ${frames.length}`);
  }
  const out: number[] = [frames.length - 1];
  const parts: Uint8Array[] = [];
  if (lacing === "xiph") {
    for (let i = 0; i < frames.length - 1; i++) {
      let s = frames[i].length;
      while (s >= 255) {
        out.push(255);
        s -= 255;
      }
      out.push(s);
    }
  } else if (lacing === "ebml") {
    if (frames.length > 1) parts.push(encodeSize(frames[0].length));
    for (let i = 1; i < frames.length - 1; i++) {
      parts.push(encodeSignedVint(frames[i].length - frames[i - 1].length));
    }
  } else {
    if (frames.some((f) => f.length !== frames[0].length)) {
      throw new RangeError("fixed-size lacing needs frames of equal size");
    }
  }
  return concat([Uint8Array.from(out), ...parts]);
}

/**
 * A SimpleBlock with laced frames: the lacing bits (0x02 Xiph, 0x06 EBML,
 * 0x04 fixed) are set in `flags` (its own lacing bits are replaced), then the
 * lace header and the frames.
 */
export function lacedBlock(
  track: number,
  relTimecode: number,
  flags: number,
  frames: Uint8Array[],
  lacing: "xiph" | "ebml" | "fixed",
): Uint8Array {
  const f = (flags & ~0x06) | LACING_BITS[lacing];
  return el(ID.SimpleBlock, [
    blockHeader(track, relTimecode, f),
    laceHeader(frames, lacing),
    ...frames,
  ]);
}

/**
 * A BlockGroup holding a Block (flags 0, no lacing) and, when given, a
 * BlockDuration in timecode ticks.
 */
export function blockGroup(
  track: number,
  relTimecode: number,
  payload: Uint8Array,
  durationTicks?: number,
): Uint8Array {
  const children = [
    el(ID.Block, [blockHeader(track, relTimecode, 0), payload]),
  ];
  if (durationTicks !== undefined) {
    children.push(uintEl(ID.BlockDuration, durationTicks));
  }
  return el(ID.BlockGroup, children);
}

/**
 * An EBML header as the KVS SDK writes it: EBMLVersion 1, ReadVersion 1,
 * MaxIDLength 4, MaxSizeLength 8, DocType (default `"matroska\0"`, with the
 * trailing NUL the SDK writes), DocTypeVersion 2, DocTypeReadVersion 2.
 */
export function ebmlHeader(docType = "matroska\0"): Uint8Array {
  return el(ID.EBML, [
    uintEl(ID.EBMLVersion, 1),
    uintEl(ID.EBMLReadVersion, 1),
    uintEl(ID.EBMLMaxIDLength, 4),
    uintEl(ID.EBMLMaxSizeLength, 8),
    strEl(ID.DocType, docType),
    uintEl(ID.DocTypeVersion, 2),
    uintEl(ID.DocTypeReadVersion, 2),
  ]);
}

/** Options of {@link tagsEl}. */
export interface TagsOptions {
  /**
   * One Tags > Tag > SimpleTag per tag, concatenated (as Amazon Connect
   * writes them), instead of one Tags > Tag holding all SimpleTags (as KVS
   * writes its own tags).
   */
  onePerTags?: boolean;
  /** Width of every size field (Tags, Tag, SimpleTag, TagName, TagString). */
  sizeWidth?: number;
}

/** Tags > Tag > SimpleTag(TagName, TagString)... for `[name, value]` pairs. */
export function tagsEl(
  tags: [name: string, value: string][],
  opts?: TagsOptions,
): Uint8Array {
  const o: ElOptions = { sizeWidth: opts?.sizeWidth };
  const simple = ([name, value]: [string, string]) =>
    el(ID.SimpleTag, [
      strEl(ID.TagName, name, undefined, o),
      strEl(ID.TagString, value, undefined, o),
    ], o);
  if (opts?.onePerTags) {
    return concat(
      tags.map((t) => el(ID.Tags, el(ID.Tag, simple(t), o), o)),
    );
  }
  return el(ID.Tags, el(ID.Tag, tags.map(simple), o), o);
}

/**
 * A Tracks element with one TrackEntry per name, numbered 1, 2, … in order
 * (a name of `undefined` skips its number: that track is absent).
 */
export function namedTracks(
  names: (string | undefined)[] = ["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"],
): Uint8Array {
  const entries: Uint8Array[] = [];
  names.forEach((name, i) => {
    if (name !== undefined) entries.push(el(ID.TrackEntry, [uintEl(ID.TrackNumber, i + 1), strEl(ID.Name, name)]));
  });
  return el(ID.Tracks, entries);
}

/**
 * One document as KVS writes it: EBML header, unknown-size Segment holding
 * `head` (Tracks, Tags, …), then an unknown-size Cluster with `timecode` and
 * `blocks` (SimpleBlock elements).
 */
export function liveDocument(head: Uint8Array[], timecode: number | bigint, blocks: Uint8Array[] = []): Uint8Array {
  return concat([
    ebmlHeader(),
    encodeId(ID.Segment),
    unknownSize(8),
    ...head,
    encodeId(ID.Cluster),
    unknownSize(1),
    uintEl(ID.Timecode, timecode),
    ...blocks,
  ]);
}
