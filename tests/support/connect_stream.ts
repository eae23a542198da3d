/**
 * Synthetic Amazon Connect GetMedia bodies: a chain of MKV documents laid out
 * exactly like the real Connect fragment in
 * `shared/reference/connect-fragment-dump.txt` (same elements, same order,
 * same size-field widths), with knobs for everything the extractor must cope
 * with: gaps, error fragments, contact changes, one-track streams, track
 * numbers, known or unknown sizes, tag positions, element ids inside PCM.
 *
 * Default PCM ({@link defaultPcm}): for the absolute interleaved sample index
 * `s` (counted from the start of fragment 0, omitted fragments included),
 * - `"from"`: `1 + ((s * 7 + 1) % 16384)`, always in 1..16384;
 * - `"to"`: `-1 - ((s * 11 + 5000) % 16384)`, always in -16384..-1.
 *
 * So a sample never is 0 (a gap filled with silence is recognisable), the two
 * directions never share a value (a swap is recognisable), and the pattern
 * repeats only every 16384 samples (a misplaced block is recognisable).
 *
 * @module
 */

import {
  concat,
  ebmlHeader,
  el,
  encodeId,
  encodeSize,
  floatEl,
  ID,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
} from "./mkv_writer.ts";
import { writeFully } from "./util.ts";

/** Audio direction, seen from the customer: "from" them or "to" them. */
export type Direction = "from" | "to";

/** The Connect track names. */
export type TrackName = "AUDIO_FROM_CUSTOMER" | "AUDIO_TO_CUSTOMER";

/** Options of {@link connectStream}; every one has a realistic default. */
export interface ConnectStreamOptions {
  /** Number of fragment slots (written, omitted or error), default 3. */
  fragments?: number;
  /** SimpleBlocks per track per fragment, default 16. */
  blocksPerTrack?: number;
  /**
   * SimpleBlocks per track of each fragment slot, in turn: slot `i` holds
   * `blockCounts[i % blockCounts.length]` (overrides `blocksPerTrack`). Time
   * and samples run on without a gap, so fragments of ~1 s made of 64 ms
   * blocks can hold 15 or 16 of them.
   */
  blockCounts?: number[];
  /**
   * Sample frames per block, default 512 (64 ms at 8 kHz); block timecodes
   * advance by `round(samplesPerBlock * 1000 / rate)` ms.
   */
  samplesPerBlock?: number;
  /** Sample rate, default 8000. */
  rate?: number;
  /** Channels (interleaved in the payload), default 1. */
  channels?: number;
  /**
   * Tracks in track-number order; default
   * `["AUDIO_TO_CUSTOMER", "AUDIO_FROM_CUSTOMER"]` as in the real dump.
   */
  tracks?: TrackName[];
  /** TrackNumber values, same order as `tracks` (default 1..n). */
  trackNumbers?: number[];
  /** Producer epoch ms of fragment 0, default 1782912654536. */
  startMs?: number;
  /**
   * One ContactId for all fragments, or one per fragment slot (`null` = no
   * ContactId tag in that fragment; slots past the end of the array reuse its
   * last entry). Default `"87718f4a-d2ed-476a-ad11-f496ab09b3f8"`.
   */
  contactIds?: string | (string | null)[];
  /** Fragment slots not written at all (time and samples advance over them). */
  omit?: number[];
  /** Replace fragment slot `index` by a KVS in-band error fragment. */
  errorAt?: { index: number; code: string; id?: number };
  /** Cluster size field: "unknown" (1-byte `FF` like KVS, default) or known. */
  clusterSize?: "unknown" | "known";
  /** Segment size field: "unknown" (8-byte `01 FF..`, default) or known (8 bytes). */
  segmentSize?: "unknown" | "known";
  /** Where the Connect tags go: "both" (default), "before" or "after" the Cluster. */
  tagsPosition?: "both" | "before" | "after";
  /** MimeType tag value, default `audio/L16;rate=${rate};channels=${channels};`; null omits it. */
  mimeType?: string | null;
  /**
   * Write an Audio master (SamplingFrequency, Channels, BitDepth 16); default
   * false. `"no-rate"`: without SamplingFrequency, as mkvmerge writes 8000 Hz
   * (Matroska's default).
   */
  audioElement?: boolean | "no-rate";
  /**
   * Put element ids into the PCM of the first block of each track of every
   * fragment: bytes `1A 45 DF A3 1F 43 B6 75 12 54 C3 67` at payload offset 16
   * and `1A 45 DF A3` again at the odd offset 41.
   */
  magicInPcm?: boolean;
  /**
   * int16 sample value at an absolute interleaved sample index (frame *
   * channels + channel, counted from fragment 0, omitted fragments included).
   * Default {@link defaultPcm}.
   */
  pcm?: (dir: Direction, sample: number) => number;
  /**
   * Fragment number of slot 0, default
   * 91343852333181551234925834077012571618243808844n; slot i gets
   * `base + BigInt(i) * 2n ** 92n`.
   */
  fragmentNumberBase?: bigint;
  /**
   * Write the KVS tags (default true): FRAGMENT_NUMBER, SERVER_TIMESTAMP,
   * PRODUCER_TIMESTAMP in one Tag before the Cluster; MILLIS_BEHIND_NOW and
   * CONTINUATION_TOKEN (= the fragment number) in one Tag after it.
   */
  kvsTags?: boolean;
  /** CodecID of both tracks (default `A_AAC` with CodecPrivate 11 90, as Connect declares; others get no CodecPrivate). */
  codecId?: string;
  /** Write the CONTINUATION_TOKEN tag (default true; false leaves only MILLIS_BEHIND_NOW after the Cluster). */
  continuationTokens?: boolean;
  /** AWS_KINESISVIDEO_MILLIS_BEHIND_NOW value of each slot (default {@link MILLIS_BEHIND_NOW} in every one). */
  millisBehindNow?: (slot: number) => string;
  /**
   * DocType string of the EBML header, default `"matroska\0"` (9 bytes, as
   * FORMAT.md says the SDK writes). The reference dump shows an 8-byte
   * `"matroska"`: pass that to reproduce the dump byte for byte.
   */
  docType?: string;
}

/** One block written into a fragment. */
export interface GeneratedBlock {
  /** TrackNumber of the block. */
  track: number;
  /** Direction of its track. */
  dir: Direction;
  /** Absolute time: Cluster Timecode + relative timecode, epoch ms. */
  timeMs: number;
  /** The payload (s16le PCM), a view into the fragment's bytes. */
  pcm: Uint8Array;
}

/** One written fragment (an MKV document) of a generated stream. */
export interface GeneratedFragment {
  /** Slot index (counts omitted slots too). */
  index: number;
  /** AWS_KINESISVIDEO_FRAGMENT_NUMBER (47-digit decimal). */
  fragmentNumber: string;
  /** Producer timestamp = Cluster Timecode, epoch ms (error fragments: the slot's time, not written). */
  producerMs: number;
  /** Server timestamp, producer + 170 ms (error fragments: not written). */
  serverMs: number;
  /** ContactId tag value, null when absent (always null for error fragments). */
  contactId: string | null;
  /** AWS_KINESISVIDEO_CONTINUATION_TOKEN (= the fragment number; not written in error fragments). */
  continuationToken: string;
  /** Set on an in-band error fragment (which has no Cluster and no blocks). */
  error?: { code: string; id: number };
  /** Index, per track, of this slot's first block on the whole timeline (omitted and error slots count). */
  firstBlock: number;
  /** Byte offset of this fragment in {@link GeneratedStream.bytes}. */
  offset: number;
  /** This fragment's whole MKV document (a view into the stream's bytes). */
  bytes: Uint8Array;
  /** The blocks in written order. */
  blocks: GeneratedBlock[];
}

/** Timing and shape parameters a generated stream was built with. */
export interface StreamParams {
  /** Sample rate. */
  rate: number;
  /** Channels. */
  channels: number;
  /** Sample frames per block. */
  samplesPerBlock: number;
  /** Relative timecode step between blocks, ms. */
  blockMs: number;
  /** Producer time step between fragment slots, ms (the mean when `blockCounts` was given). */
  fragmentMs: number;
  /** Number of fragment slots (written, omitted or error). */
  slots: number;
}

/** A generated GetMedia body and what is in it. */
export interface GeneratedStream {
  /** Concatenation of all written fragments. */
  bytes: Uint8Array;
  /** Written fragments only (omitted slots are absent), in order. */
  fragments: GeneratedFragment[];
  /** TrackNumber per direction; undefined when that track is absent. */
  trackNumbers: Record<Direction, number | undefined>;
  /** Parameters the stream was built with (extra to the brief). */
  params: StreamParams;
}

/** Default producer time of fragment 0 (epoch ms), from the real dump. */
export const DEFAULT_START_MS = 1782912654536;
/** Default ContactId, from the real dump. */
export const DEFAULT_CONTACT_ID = "87718f4a-d2ed-476a-ad11-f496ab09b3f8";
/** InstanceId written in every fragment, from the real dump. */
export const INSTANCE_ID = "3087be6e-771a-48a8-90da-93b5326a43a1";
/** Default fragment number of slot 0, from the real dump. */
export const DEFAULT_FRAGMENT_NUMBER_BASE = 91343852333181551234925834077012571618243808844n;
/** Fragment numbers grow by this per slot. */
export const FRAGMENT_NUMBER_STEP = 2n ** 92n;
/** Server timestamp = producer timestamp + this (ms), as in the real dump. */
export const SERVER_DELAY_MS = 170;
/** AWS_KINESISVIDEO_MILLIS_BEHIND_NOW value written, from the real dump. */
export const MILLIS_BEHIND_NOW = "131207";
/** MuxingApp and WritingApp strings, from the real dump. */
export const MUXING_APP = "Kinesis Video SDK 1.1.0 JNI 2.0";
/** TrackUID per direction, as in the real dump (FROM 1, TO 2). */
export const TRACK_UID: Record<Direction, number> = { from: 1, to: 2 };
/** Bytes written into the PCM by `magicInPcm`. */
export const MAGIC_IDS = Uint8Array.of(
  0x1A,
  0x45,
  0xDF,
  0xA3,
  0x1F,
  0x43,
  0xB6,
  0x75,
  0x12,
  0x54,
  0xC3,
  0x67,
);

/** The default PCM pattern; see the module documentation. */
export function defaultPcm(dir: Direction, sample: number): number {
  return dir === "from" ? 1 + ((sample * 7 + 1) % 16384) : -1 - ((sample * 11 + 5000) % 16384);
}

/** `"seconds.millis"` with 3 decimals, as KVS writes its timestamps. */
export function kvsTimestamp(ms: number): string {
  return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
}

const EMPTY = new Uint8Array(0);
const DIR_OF: Record<TrackName, Direction> = {
  AUDIO_FROM_CUSTOMER: "from",
  AUDIO_TO_CUSTOMER: "to",
};

interface PlannedTrack {
  name: TrackName;
  dir: Direction;
  number: number;
  uid: number;
  /** Block header: track VINT, then room for timecode and flags. */
  head: Uint8Array;
  /** SimpleBlock size field (8 bytes wide, like the dump). */
  sizeField: Uint8Array;
}

interface Plan {
  slots: number;
  /** Blocks per track of each slot, in turn, and their sum. */
  counts: number[];
  cycleBlocks: number;
  samplesPerBlock: number;
  rate: number;
  channels: number;
  blockMs: number;
  fragmentMs: number;
  payloadBytes: number;
  tracks: PlannedTrack[];
  startMs: number;
  contactId: (i: number) => string | null;
  omit: Set<number>;
  errorAt?: { index: number; code: string; id: number };
  clusterKnown: boolean;
  segmentKnown: boolean;
  tagsBefore: boolean;
  tagsAfter: boolean;
  mimeType: string | null;
  audioElement: boolean | "no-rate";
  magicInPcm: boolean;
  pcm: (dir: Direction, sample: number) => number;
  base: bigint;
  kvsTags: boolean;
  continuationTokens: boolean;
  millisBehindNow: (slot: number) => string;
  codecId: string;
  docType: string;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function plan(opts: ConnectStreamOptions = {}, slots?: number): Plan {
  const rate = positiveInt("rate", opts.rate ?? 8000);
  const channels = positiveInt("channels", opts.channels ?? 1);
  const samplesPerBlock = positiveInt(
    "samplesPerBlock",
    opts.samplesPerBlock ?? 512,
  );
  const counts = (opts.blockCounts ?? [opts.blocksPerTrack ?? 16]).map((n) => positiveInt("blocksPerTrack", n));
  if (counts.length === 0) throw new RangeError("blockCounts is empty");
  const cycleBlocks = counts.reduce((a, b) => a + b, 0);
  const blockMs = Math.round(samplesPerBlock * 1000 / rate);
  if ((Math.max(...counts) - 1) * blockMs > 32767) {
    throw new RangeError("relative block timecodes would overflow int16");
  }
  const names = opts.tracks ?? ["AUDIO_TO_CUSTOMER", "AUDIO_FROM_CUSTOMER"];
  if (names.length < 1 || new Set(names).size !== names.length) {
    throw new RangeError(`tracks must be distinct and non-empty: ${names}`);
  }
  const numbers = opts.trackNumbers ?? names.map((_, i) => i + 1);
  if (
    numbers.length !== names.length ||
    new Set(numbers).size !== numbers.length
  ) {
    throw new RangeError("trackNumbers must be distinct, one per track");
  }
  const payloadBytes = samplesPerBlock * channels * 2;
  if (opts.magicInPcm && payloadBytes < 45) {
    throw new RangeError("magicInPcm needs at least 45 bytes of PCM per block");
  }
  const tracks = names.map((name, i): PlannedTrack => {
    const number = positiveInt("track number", numbers[i]);
    const dir = DIR_OF[name];
    if (!dir) throw new RangeError(`unknown track name ${name}`);
    const vint = encodeSize(number);
    const head = new Uint8Array(vint.length + 3);
    head.set(vint);
    return {
      name,
      dir,
      number,
      uid: TRACK_UID[dir],
      head,
      sizeField: encodeSize(head.length + payloadBytes, 8),
    };
  });
  const ids = opts.contactIds === undefined
    ? [DEFAULT_CONTACT_ID]
    : typeof opts.contactIds === "string"
    ? [opts.contactIds]
    : opts.contactIds;
  if (ids.length === 0) throw new RangeError("contactIds is empty");
  const pos = opts.tagsPosition ?? "both";
  return {
    slots: slots ?? Math.max(0, Math.floor(opts.fragments ?? 3)),
    counts,
    cycleBlocks,
    samplesPerBlock,
    rate,
    channels,
    blockMs,
    fragmentMs: cycleBlocks * blockMs / counts.length,
    payloadBytes,
    tracks,
    startMs: opts.startMs ?? DEFAULT_START_MS,
    contactId: (i) => ids[Math.min(i, ids.length - 1)],
    omit: new Set(opts.omit ?? []),
    errorAt: opts.errorAt && {
      index: opts.errorAt.index,
      code: opts.errorAt.code,
      id: opts.errorAt.id ?? 1,
    },
    clusterKnown: opts.clusterSize === "known",
    segmentKnown: opts.segmentSize === "known",
    tagsBefore: pos !== "after",
    tagsAfter: pos !== "before",
    mimeType: opts.mimeType === undefined ? `audio/L16;rate=${rate};channels=${channels};` : opts.mimeType,
    audioElement: opts.audioElement ?? false,
    magicInPcm: opts.magicInPcm ?? false,
    pcm: opts.pcm ?? defaultPcm,
    base: opts.fragmentNumberBase ?? DEFAULT_FRAGMENT_NUMBER_BASE,
    kvsTags: opts.kvsTags ?? true,
    continuationTokens: opts.continuationTokens ?? true,
    millisBehindNow: opts.millisBehindNow ?? (() => MILLIS_BEHIND_NOW),
    codecId: opts.codecId ?? "A_AAC",
    docType: opts.docType ?? "matroska\0",
  };
}

const SEGMENT_ID = encodeId(ID.Segment);
const CLUSTER_ID = encodeId(ID.Cluster);

/**
 * An in-band KVS error fragment: EBML header, unknown-size Segment, one Tags
 * with AWS_KINESISVIDEO_ERROR_CODE, AWS_KINESISVIDEO_ERROR_ID and
 * AWS_KINESISVIDEO_FRAGMENT_NUMBER (4-byte size fields like the KVS tags); no
 * Cluster.
 */
export function errorFragment(
  code: string,
  id: number,
  fragmentNumber: string,
  docType = "matroska\0",
): Uint8Array {
  return concat([
    ebmlHeader(docType),
    SEGMENT_ID,
    unknownSize(8),
    tagsEl([
      ["AWS_KINESISVIDEO_ERROR_CODE", code],
      ["AWS_KINESISVIDEO_ERROR_ID", String(id)],
      ["AWS_KINESISVIDEO_FRAGMENT_NUMBER", fragmentNumber],
    ], { sizeWidth: 4 }),
  ]);
}

interface BuiltBlock {
  track: number;
  dir: Direction;
  timeMs: number;
  pcmOffset: number;
}

interface BuiltFragment {
  index: number;
  firstBlock: number;
  fragmentNumber: string;
  producerMs: number;
  serverMs: number;
  contactId: string | null;
  error?: { code: string; id: number };
  bytes: Uint8Array;
  blocks: BuiltBlock[];
}

/** Builds the fragments of one plan; caches what does not change. */
class FragmentBuilder {
  readonly #p: Plan;
  readonly #header: Uint8Array;
  readonly #tracks: Uint8Array;
  readonly #connect = new Map<string | null, Uint8Array>();
  readonly #position = uintEl(ID.Position, 0);

  constructor(p: Plan) {
    this.#p = p;
    this.#header = ebmlHeader(p.docType);
    this.#tracks = el(
      ID.Tracks,
      p.tracks.map((t) => {
        const children = [
          uintEl(ID.TrackNumber, t.number),
          uintEl(ID.TrackUID, t.uid, 8),
          uintEl(ID.TrackType, 2),
          strEl(ID.Name, t.name),
          strEl(ID.CodecID, p.codecId),
          ...(p.codecId === "A_AAC" ? [el(ID.CodecPrivate, Uint8Array.of(0x11, 0x90))] : []),
        ];
        if (p.audioElement) {
          children.push(el(ID.Audio, [
            ...(p.audioElement === "no-rate" ? [] : [floatEl(ID.SamplingFrequency, p.rate)]),
            uintEl(ID.Channels, p.channels),
            uintEl(ID.BitDepth, 16),
          ]));
        }
        return el(ID.TrackEntry, children, { sizeWidth: 4 });
      }),
      { sizeWidth: 4 },
    );
  }

  #connectTags(contactId: string | null): Uint8Array {
    let t = this.#connect.get(contactId);
    if (!t) {
      const list: [string, string][] = [];
      if (contactId !== null) list.push(["ContactId", contactId]);
      list.push(["InstanceId", INSTANCE_ID]);
      if (this.#p.mimeType !== null) list.push(["MimeType", this.#p.mimeType]);
      for (const tr of this.#p.tracks) list.push([tr.name, String(tr.uid)]);
      t = tagsEl(list, { onePerTags: true, sizeWidth: 8 });
      this.#connect.set(contactId, t);
    }
    return t;
  }

  #info(index: number): Uint8Array {
    const uid = new Uint8Array(16);
    let x = (index + 1) * 0x9E3779B1 >>> 0;
    for (let i = 0; i < 16; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      uid[i] = x >>> 24;
    }
    return el(ID.Info, [
      el(ID.SegmentUID, uid),
      uintEl(ID.TimecodeScale, 1000000, 8),
      strEl(ID.Title, "Kinesis Video SDK"),
      strEl(ID.MuxingApp, MUXING_APP),
      strEl(ID.WritingApp, MUXING_APP),
    ], { sizeWidth: 2 });
  }

  /** Build slot `index` (which must not be omitted). */
  build(index: number): BuiltFragment {
    const p = this.#p;
    const fragmentNumber = (p.base + BigInt(index) * FRAGMENT_NUMBER_STEP)
      .toString();
    const cycle = p.counts.length;
    let firstBlock = Math.floor(index / cycle) * p.cycleBlocks;
    for (let i = 0; i < index % cycle; i++) firstBlock += p.counts[i];
    const count = p.counts[index % cycle];
    const producerMs = p.startMs + firstBlock * p.blockMs;
    const serverMs = producerMs + SERVER_DELAY_MS;
    if (p.errorAt?.index === index) {
      const error = { code: p.errorAt.code, id: p.errorAt.id };
      return {
        index,
        firstBlock,
        fragmentNumber,
        producerMs,
        serverMs,
        contactId: null,
        error,
        bytes: errorFragment(error.code, error.id, fragmentNumber, p.docType),
        blocks: [],
      };
    }
    const contactId = p.contactId(index);
    const connect = this.#connectTags(contactId);
    const kvsBefore = p.kvsTags
      ? tagsEl([
        ["AWS_KINESISVIDEO_FRAGMENT_NUMBER", fragmentNumber],
        ["AWS_KINESISVIDEO_SERVER_TIMESTAMP", kvsTimestamp(serverMs)],
        ["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", kvsTimestamp(producerMs)],
      ], { sizeWidth: 4 })
      : EMPTY;
    const kvsAfter = p.kvsTags
      ? tagsEl([
        ["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", p.millisBehindNow(index)],
        ...(p.continuationTokens ? [["AWS_KINESISVIDEO_CONTINUATION_TOKEN", fragmentNumber] as [string, string]] : []),
      ], { sizeWidth: 4 })
      : EMPTY;
    const timecode = uintEl(ID.Timecode, producerMs, 8);
    let perRound = 0;
    for (const t of p.tracks) {
      perRound += 1 + 8 + t.head.length + p.payloadBytes;
    }
    const blocksLen = perRound * count;
    const clusterBody = timecode.length + this.#position.length + blocksLen;
    const clusterSize = p.clusterKnown ? encodeSize(clusterBody) : unknownSize(1);
    const before = [
      this.#info(index),
      this.#tracks,
      p.tagsBefore ? connect : EMPTY,
      kvsBefore,
      CLUSTER_ID,
      clusterSize,
      timecode,
      this.#position,
    ];
    const after = [p.tagsAfter ? connect : EMPTY, kvsAfter];
    let segBody = blocksLen;
    for (const b of before) segBody += b.length;
    for (const b of after) segBody += b.length;
    const segSize = p.segmentKnown ? encodeSize(segBody, 8) : unknownSize(8);

    const total = this.#header.length + SEGMENT_ID.length + segSize.length +
      segBody;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    let o = 0;
    for (const part of [this.#header, SEGMENT_ID, segSize, ...before]) {
      out.set(part, o);
      o += part.length;
    }

    const blocks: BuiltBlock[] = [];
    const n = p.samplesPerBlock * p.channels;
    const pcm = p.pcm;
    for (let k = 0; k < count; k++) {
      const rel = k * p.blockMs;
      const first = (firstBlock + k) * n;
      for (let ti = 0; ti < p.tracks.length; ti++) {
        const t = p.tracks[ti];
        out[o++] = ID.SimpleBlock;
        out.set(t.sizeField, o);
        o += t.sizeField.length;
        out.set(t.head, o);
        o += t.head.length - 3;
        dv.setInt16(o, rel);
        out[o + 2] = k === 0 && ti === 0 ? 0x80 : 0;
        o += 3;
        const dir = t.dir;
        for (let j = 0; j < n; j++) {
          dv.setInt16(o + 2 * j, pcm(dir, first + j), true);
        }
        if (p.magicInPcm && k === 0) {
          out.set(MAGIC_IDS, o + 16);
          out.set(MAGIC_IDS.subarray(0, 4), o + 41);
        }
        blocks.push({
          track: t.number,
          dir,
          timeMs: producerMs + rel,
          pcmOffset: o,
        });
        o += p.payloadBytes;
      }
    }
    for (const part of after) {
      out.set(part, o);
      o += part.length;
    }
    if (o !== total) throw new Error(`internal: wrote ${o} of ${total} bytes`);
    return {
      index,
      firstBlock,
      fragmentNumber,
      producerMs,
      serverMs,
      contactId,
      bytes: out,
      blocks,
    };
  }
}

function trackNumbersOf(p: Plan): Record<Direction, number | undefined> {
  return {
    from: p.tracks.find((t) => t.dir === "from")?.number,
    to: p.tracks.find((t) => t.dir === "to")?.number,
  };
}

function paramsOf(p: Plan): StreamParams {
  return {
    rate: p.rate,
    channels: p.channels,
    samplesPerBlock: p.samplesPerBlock,
    blockMs: p.blockMs,
    fragmentMs: p.fragmentMs,
    slots: p.slots,
  };
}

/**
 * Generate a synthetic Connect GetMedia body (see {@link ConnectStreamOptions}
 * for the knobs and the module doc for the layout and the PCM pattern).
 */
export function connectStream(opts?: ConnectStreamOptions): GeneratedStream {
  const p = plan(opts);
  const builder = new FragmentBuilder(p);
  const built: BuiltFragment[] = [];
  for (let i = 0; i < p.slots; i++) {
    if (!p.omit.has(i)) built.push(builder.build(i));
  }
  const bytes = concat(built.map((b) => b.bytes));
  let offset = 0;
  const fragments = built.map((b): GeneratedFragment => {
    const view = bytes.subarray(offset, offset + b.bytes.length);
    const f: GeneratedFragment = {
      index: b.index,
      fragmentNumber: b.fragmentNumber,
      producerMs: b.producerMs,
      serverMs: b.serverMs,
      contactId: b.contactId,
      continuationToken: b.fragmentNumber,
      firstBlock: b.firstBlock,
      offset,
      bytes: view,
      blocks: b.blocks.map((k) => ({
        track: k.track,
        dir: k.dir,
        timeMs: k.timeMs,
        pcm: view.subarray(k.pcmOffset, k.pcmOffset + p.payloadBytes),
      })),
    };
    if (b.error) f.error = b.error;
    offset += b.bytes.length;
    return f;
  });
  return { bytes, fragments, trackNumbers: trackNumbersOf(p), params: paramsOf(p) };
}

/**
 * Expected s16le PCM per direction for the fragment slots
 * [fromIndex, untilIndex) (default: all), laid on one timeline that starts at
 * the first written audio fragment in that range and ends with the last one:
 * omitted slots and error fragments between them become zero samples. A
 * direction absent from the stream gives undefined; a present direction with
 * no audio fragment in range gives an empty array. (`fromIndex` is an extra
 * to the brief, for contact-change tests.)
 */
export function expectedPcm(
  stream: GeneratedStream,
  opts?: { untilIndex?: number; fromIndex?: number },
): Record<Direction, Uint8Array | undefined> {
  const from = opts?.fromIndex ?? 0;
  const until = opts?.untilIndex ?? Infinity;
  const audio = stream.fragments.filter((f) => !f.error && f.index >= from && f.index < until);
  const { samplesPerBlock, channels } = stream.params;
  const blockBytes = samplesPerBlock * channels * 2;
  const result: Record<Direction, Uint8Array | undefined> = {
    from: undefined,
    to: undefined,
  };
  const trackCount = (stream.trackNumbers.from === undefined ? 0 : 1) + (stream.trackNumbers.to === undefined ? 0 : 1);
  for (const dir of ["from", "to"] as const) {
    if (stream.trackNumbers[dir] === undefined) continue;
    if (audio.length === 0) {
      result[dir] = new Uint8Array(0);
      continue;
    }
    const first = audio[0].firstBlock;
    const last = audio[audio.length - 1];
    const out = new Uint8Array((last.firstBlock + last.blocks.length / trackCount - first) * blockBytes);
    for (const f of audio) {
      let o = (f.firstBlock - first) * blockBytes;
      for (const b of f.blocks) {
        if (b.dir !== dir) continue;
        out.set(b.pcm, o);
        o += blockBytes;
      }
    }
    result[dir] = out;
  }
  return result;
}

/**
 * Write a long call to `path` without holding it in memory: ceil(seconds /
 * fragment duration) fragment slots (~1.024 s each by default), built exactly
 * like {@link connectStream} with the same options (so the file equals
 * `connectStream({...opts, fragments}).bytes`). Returns the bytes written and
 * the number of fragments written (omitted slots not counted).
 */
export async function writeCallFile(
  path: string,
  seconds: number,
  opts?: Omit<ConnectStreamOptions, "fragments">,
): Promise<{ bytes: number; fragments: number }> {
  const p0 = plan(opts, 0);
  const slots = Math.ceil(seconds * 1000 / p0.fragmentMs);
  const p = { ...p0, slots };
  const builder = new FragmentBuilder(p);
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  let bytes = 0;
  let fragments = 0;
  try {
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    for (let i = 0; i < slots; i++) {
      if (p.omit.has(i)) continue;
      const f = builder.build(i).bytes;
      pending.push(f);
      pendingBytes += f.length;
      bytes += f.length;
      fragments++;
      if (pendingBytes >= 1 << 20) {
        await writeFully(file, concat(pending));
        pending.length = 0;
        pendingBytes = 0;
      }
    }
    if (pending.length) await writeFully(file, concat(pending));
  } finally {
    file.close();
  }
  return { bytes, fragments };
}

/**
 * Rename both Connect tracks in place, wherever their names appear (same length: `AUDIO_…_CUSTOMER` becomes
 * `AUDIO_…_CUSTOMEX`), so that no track is named for a direction; returns how many names it changed.
 */
export function renameDirections(bytes: Uint8Array): number {
  const name = new TextEncoder().encode("_CUSTOMER");
  let renamed = 0;
  for (let i = 0; i + name.length <= bytes.length; i++) {
    if (name.every((b, k) => bytes[i + k] === b)) {
      bytes[i + name.length - 1] = 0x58; // X
      renamed++;
    }
  }
  return renamed;
}
