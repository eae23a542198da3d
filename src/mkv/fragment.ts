/**
 * A fragment: one MKV document of a GetMedia body (or one Cluster of an
 * ordinary MKV file) with its tracks, tags and blocks, and typed accessors for
 * the tags KVS and Amazon Connect add.
 *
 * @example
 * ```ts
 * import { assembleFragments } from "./assembler.ts";
 * const file = await Deno.open("getmedia.mkv");
 * for await (const f of assembleFragments(file.readable)) {
 *   console.log(f.index, f.kvs.fragmentNumber, f.contactId, f.blocks.length);
 * }
 * ```
 * @module
 */

import type { Block } from "./block.ts";
import { BlockTable } from "./block_table.ts";
import type { ElementNode } from "./tree.ts";

/** Audio settings of a TrackEntry, when it has an Audio element. */
export interface AudioSettings {
  /** SamplingFrequency in Hz. */
  samplingFrequency?: number;
  /** Channels. */
  channels?: number;
  /** BitDepth. */
  bitDepth?: number;
}

/** One TrackEntry. */
export interface Track {
  /** TrackNumber (what blocks refer to). */
  number: number;
  /** TrackUID. */
  uid?: number | bigint;
  /** TrackType (1 video, 2 audio, …). */
  type?: number;
  /** Name (Connect: `AUDIO_FROM_CUSTOMER` / `AUDIO_TO_CUSTOMER`). */
  name?: string;
  /** CodecID (Connect says `A_AAC` but sends PCM). */
  codecId?: string;
  /** CodecPrivate bytes. */
  codecPrivate?: Uint8Array;
  /** The Audio element's settings, if present. */
  audio?: AudioSettings;
  /** The TrackEntry has ContentEncodings (compression or encryption of its frames). */
  encoded?: boolean;
}

/** Where a tag stood relative to the fragment's Cluster. */
export type TagPosition = "before" | "after";

/** One SimpleTag. */
export interface Tag {
  /** TagName. */
  name: string;
  /** TagString, or TagBinary bytes; `""` when the SimpleTag has neither. */
  value: string | Uint8Array;
  /** Before or after the (first) Cluster of the fragment. */
  position: TagPosition;
  /** Absolute offset of the SimpleTag element. */
  offset: number;
}

/** One Cluster of a fragment. */
export interface ClusterInfo {
  /** Absolute offset of the Cluster element. */
  offset: number;
  /** Cluster Timecode in TimecodeScale units (epoch ms for KVS/Connect); past 2^53, the nearest double. */
  timecode: number;
  /** The exact Cluster Timecode, when it is past 2^53 (and `timecode` is rounded). */
  exactTimecode?: bigint;
  /** Number of blocks in it. */
  blocks: number;
}

/** Why a fragment was closed. */
export type ClosedBy =
  /** The next EBML document began. */
  | "next-document"
  /** Its Segment (known size) ended. */
  | "segment-end"
  /** The next Cluster began (ordinary MKV: one fragment per Cluster). */
  | "next-cluster"
  /** Its trailing KVS tags (continuation token) were read (eager mode). */
  | "continuation-token"
  /** The input ended. */
  | "end-of-input"
  /**
   * Bad data inside it: the rest of its document could not be read. Such a
   * fragment is never yielded; it comes with the error, as
   * {@linkcode DataError.fragment}.
   */
  | "bad-data";

/** Tags KVS adds to each fragment of a GetMedia body. */
export interface KvsTags {
  /** `AWS_KINESISVIDEO_FRAGMENT_NUMBER`: a decimal string (47 digits from KVS). */
  fragmentNumber?: string;
  /** `AWS_KINESISVIDEO_SERVER_TIMESTAMP` (or `..._SERVER_SIDE_TIMESTAMP`) in epoch ms. */
  serverTimestampMs?: number;
  /** `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP` (or `..._PRODUCER_SIDE_TIMESTAMP`) in epoch ms. */
  producerTimestampMs?: number;
  /** `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW`. */
  millisBehindNow?: number;
  /** `AWS_KINESISVIDEO_CONTINUATION_TOKEN`. */
  continuationToken?: string;
  /** `AWS_KINESISVIDEO_ERROR_CODE` (or `..._EXCEPTION_ERROR_CODE`). */
  errorCode?: string;
  /** `AWS_KINESISVIDEO_ERROR_ID`. */
  errorId?: string;
  /** `AWS_KINESISVIDEO_EXCEPTION_MESSAGE`, if any. */
  errorMessage?: string;
}

/**
 * Parse a KVS timestamp tag (`"1599166395.421"`, seconds with a fraction)
 * into epoch milliseconds without floating-point rounding surprises.
 *
 * @example
 * ```ts
 * import { parseKvsTimestamp } from "./fragment.ts";
 * parseKvsTimestamp("1599166395.421"); // 1599166395421
 * ```
 */
export function parseKvsTimestamp(text: string): number | undefined {
  // Same as /^\s*(\d+)(?:\.(\d+))?\s*$/ then integer part × 1000 + the first
  // three fraction digits + the rest as a fraction, but without a regex or
  // substrings in the common case.
  let end = text.length;
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  let i = 0;
  while (i < end && isSpace(text.charCodeAt(i))) i++;
  // Integer part.
  const intStart = i;
  let int = 0;
  while (i < end) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    int = int * 10 + d;
    i++;
  }
  const intDigits = i - intStart;
  if (intDigits === 0) return undefined;
  // Exact while below 2^53 (15 digits); longer: let Number round it as before.
  if (intDigits > 15) int = Number(text.slice(intStart, i));
  if (i === end) return int * 1000;
  if (text.charCodeAt(i) !== 46 /* . */) return undefined;
  i++;
  const fracStart = i;
  let ms = 0;
  let rest = 0;
  while (i < end) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    if (i - fracStart < 3) ms = ms * 10 + d;
    else rest = rest * 10 + d;
    i++;
  }
  const fracDigits = i - fracStart;
  if (fracDigits === 0) return undefined;
  if (fracDigits < 3) ms *= fracDigits === 1 ? 100 : 10;
  if (fracDigits <= 3) return int * 1000 + ms;
  const restDigits = fracDigits - 3;
  // rest / 10^n is the correctly rounded value of "0.<rest>" while both are
  // exact (n ≤ 15); otherwise let Number parse it as before.
  const frac = restDigits <= 15 ? rest / POW10[restDigits] : Number("0." + text.slice(fracStart + 3, i));
  return int * 1000 + ms + frac;
}

/** 10^0 … 10^15, all exact. */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** What `\s` matches in a regex (WhiteSpace and LineTerminator, as `trim` removes). */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Length of the `AWS_KINESISVIDEO_` prefix of the KVS tag names. */
const KVS_LENGTH = 17;

/**
 * The fragment object the assembler yields.
 *
 * @example
 * ```ts
 * import { Fragment } from "./fragment.ts";
 * const f = new Fragment(0, 0);
 * f.tags.push({ name: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", value: "9134385", position: "before", offset: 0 });
 * f.tags.push({ name: "ContactId", value: "abc", position: "before", offset: 0 });
 * f.kvs.fragmentNumber;    // "9134385"
 * f.fragmentNumberBigInt;  // 9134385n
 * f.contactId;             // "abc"
 * f.isError;               // false
 * ```
 */
export class Fragment {
  /** 0-based position in the input. */
  index: number;
  /** Absolute offset of the fragment's first byte. */
  offset: number;
  /** Bytes from `offset` to where the fragment ended. */
  size = 0;
  /** False when the input ended inside one of its elements. */
  complete = true;
  /** Why it was closed. */
  closedBy: ClosedBy = "end-of-input";
  /**
   * 0-based count of the documents (EBML headers) before its own in the
   * input: the fragments one document is split into (a plain file's
   * Clusters) share it. Its tags after the last Cluster reach only the last.
   */
  document = 0;
  /** EBML DocType of its document (`matroska`, `webm`). */
  docType?: string;
  /** Nanoseconds per timecode tick (Info TimecodeScale, default 1,000,000). */
  timecodeScale = 1000000;
  /** Tracks of its document. */
  tracks: Track[] = [];
  /**
   * Every SimpleTag, in order, before and after the Cluster. Read, not
   * changed, once the fragment is handed on: `kvs`, `contactId`,
   * `contactIds` and `fragmentNumberBigInt` are then computed once, from the
   * tags as they were.
   */
  tags: Tag[] = [];
  /** Blocks in order, compactly (no object per block): what fast consumers read. */
  readonly blockTable: BlockTable = new BlockTable();
  /** Clusters in order. */
  clusters: ClusterInfo[] = [];
  /** Elements skipped because their id is not in the element table. */
  unknownElements = 0;
  /**
   * The first of them that stood right in the Segment or in a Cluster, where
   * a damaged Cluster or block id leaves its audio unread.
   */
  unknownInSegment?: { offset: number; size: number; id: number; parent: "Segment" | "Cluster" };
  /** The fragment's raw bytes (only with the `raw` option). */
  raw?: Uint8Array;
  /** The element tree (only with the `tree` option). */
  tree?: ElementNode[];
  #kvs?: KvsTags;
  /** The fragment number as a BigInt (null: not decimal), cached like `#kvs`. */
  #numberBig?: bigint | null;
  #blocks?: Block[];
  /** The ContactId (null: none), cached like `#kvs`. */
  #contactId?: string | null;
  #contactIds?: readonly string[];

  /**
   * Create an empty fragment (no tracks, tags or blocks); the assembler
   * fills it in as it reads.
   *
   * @param index 0-based position of the fragment in the input
   * @param offset absolute offset of its first byte
   */
  constructor(index: number, offset: number) {
    this.index = index;
    this.offset = offset;
  }

  /**
   * Blocks in order, as objects (built on first use from
   * {@linkcode Fragment.blockTable}). Add blocks with {@linkcode Fragment.addBlock}.
   */
  get blocks(): readonly Block[] {
    const t = this.blockTable;
    if (this.#blocks === undefined || this.#blocks.length !== t.length) {
      const blocks = new Array<Block>(t.length);
      for (let i = 0; i < t.length; i++) blocks[i] = t.block(i);
      this.#blocks = blocks;
    }
    return this.#blocks;
  }

  /**
   * Append a decoded block.
   *
   * @example
   * ```ts
   * import { Fragment } from "./fragment.ts";
   * import { parseBlock } from "./block.ts";
   * const f = new Fragment(0, 0);
   * f.addBlock(parseBlock(new Uint8Array([0x81, 0, 0, 0x80, 1, 2]), 0, true));
   * f.blocks.length; // 1
   * ```
   */
  addBlock(b: Block): void {
    this.blockTable.push(b);
  }

  /** Timecode of the first Cluster, in TimecodeScale units. */
  get clusterTimecode(): number | undefined {
    return this.clusters[0]?.timecode;
  }

  /** Time of the first Cluster in epoch milliseconds (for KVS/Connect streams). */
  get clusterTimeMs(): number | undefined {
    const tc = this.clusterTimecode;
    return tc === undefined ? undefined : (tc * this.timecodeScale) / 1e6;
  }

  /**
   * Duration covered by the blocks in ms: per track, from the first block's
   * start to the last one's end (by time: blocks may be stored out of
   * order); the longest track wins. A block ends after its BlockDuration,
   * else after its PCM (16-bit from the `MimeType` tag, or as extract reads
   * an `A_PCM/…` track or Connect's `A_AAC` without an Audio element: 8000 Hz
   * mono unless its Audio element says), else one average block interval
   * after it starts (0 for a track of one such block). 0 without blocks.
   */
  get durationMs(): number {
    const t = this.blockTable;
    const k = tally(t);
    let best = 0;
    for (let j = 0; j < k; j++) {
      const n = tallyCount[j];
      const span = tallyLast[j] - tallyFirst[j];
      const d = span + (this.#blockMs(t, tallyLastIndex[j]) ?? (n > 1 ? span / (n - 1) : 0));
      if (d > best) best = d;
    }
    return best;
  }

  /** How long block `i` lasts in ms, if its BlockDuration or its PCM says. */
  #blockMs(t: BlockTable, i: number): number | undefined {
    const ticks = t.duration(i);
    if (ticks !== undefined) return (ticks * this.timecodeScale) / 1e6;
    const perMs = pcmBytesPerMs(this.mimeType, this.tracks, t.track(i));
    if (perMs === undefined) return undefined;
    let bytes = 0;
    for (let k = 0, n = t.frameCount(i); k < n; k++) bytes += t.frame(i, k).length;
    return bytes / perMs;
  }

  /**
   * The value of the first tag named `name` (strings only), or `undefined`.
   *
   * @example
   * ```ts
   * import { Fragment } from "./fragment.ts";
   * const f = new Fragment(0, 0);
   * f.tags.push({ name: "ContactId", value: "abc", position: "before", offset: 0 });
   * f.tag("ContactId"); // "abc"
   * ```
   */
  tag(name: string): string | undefined {
    const tags = this.tags;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i];
      if (t.name === name && typeof t.value === "string") return t.value;
    }
    return undefined;
  }

  /**
   * Whether a tag comes after the fragment's last Cluster (a Tags element
   * there closed that Cluster): any tag, the tag named `match`, or a tag whose
   * name `match` accepts. KVS adds its continuation token and `MILLIS_BEHIND_NOW`
   * there, Connect repeats `ContactId` and `MimeType` there; a fragment cut off
   * inside its Cluster has none.
   *
   * @example
   * ```ts
   * import { Fragment } from "./fragment.ts";
   * const f = new Fragment(0, 0);
   * f.clusters.push({ offset: 100, timecode: 0, blocks: 0 });
   * f.tags.push({ name: "ContactId", value: "abc", position: "before", offset: 50 });
   * f.tags.push({ name: "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", value: "120", position: "after", offset: 900 });
   * f.hasTagAfterCluster();                                              // true
   * f.hasTagAfterCluster("ContactId");                                  // false
   * f.hasTagAfterCluster((name) => name.startsWith("AWS_KINESISVIDEO_")); // true
   * ```
   */
  hasTagAfterCluster(match?: string | ((name: string) => boolean)): boolean {
    const clusters = this.clusters;
    if (clusters.length === 0) return false;
    const last = clusters[clusters.length - 1].offset;
    const tags = this.tags;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i];
      if (t.offset <= last) continue;
      if (match === undefined || (typeof match === "string" ? t.name === match : match(t.name))) return true;
    }
    return false;
  }

  /**
   * The distinct non-empty values of its `ContactId` tags, in order: more
   * than one means they disagree (before and after the Cluster); the first is
   * the contact the fragment belongs to (an empty tag says nothing).
   *
   * @example
   * ```ts
   * import { Fragment } from "./fragment.ts";
   * const f = new Fragment(0, 0);
   * f.tags.push({ name: "ContactId", value: "", position: "before", offset: 0 });
   * f.tags.push({ name: "ContactId", value: "c-1", position: "after", offset: 90 });
   * f.contactIds; // ["c-1"]
   * ```
   */
  get contactIds(): readonly string[] {
    if (this.#contactIds !== undefined) return this.#contactIds;
    const ids: string[] = [];
    for (const t of this.tags) {
      if (t.name === "ContactId" && typeof t.value === "string" && t.value !== "" && !ids.includes(t.value)) {
        ids.push(t.value);
      }
    }
    // Kept once the fragment is finished, as contactId is.
    if (this.size > 0) this.#contactIds = ids;
    return ids;
  }

  /** Connect's `ContactId` tag. */
  get contactId(): string | undefined {
    // Asked several times per fragment: kept once the fragment is finished.
    if (this.#contactId !== undefined) return this.#contactId ?? undefined;
    const v = this.tag("ContactId");
    if (this.size > 0) this.#contactId = v ?? null;
    return v;
  }

  /** Connect's `InstanceId` tag. */
  get instanceId(): string | undefined {
    return this.tag("InstanceId");
  }

  /** Connect's `MimeType` tag (`audio/L16;rate=8000;channels=1;`). */
  get mimeType(): string | undefined {
    return this.tag("MimeType");
  }

  /** Typed view of the `AWS_KINESISVIDEO_*` tags (both spellings accepted). */
  get kvs(): KvsTags {
    if (this.#kvs) return this.#kvs;
    const k: KvsTags = {};
    const tags = this.tags;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i];
      const v = t.value;
      const name = t.name;
      // Every name below starts with AWS_KINESISVIDEO_ and is longer: a cheap
      // pre-check skips the other tags (ContactId, MimeType, …) without
      // comparing them against each name.
      if (typeof v !== "string" || name.length <= KVS_LENGTH || name.charCodeAt(KVS_LENGTH - 1) !== 0x5f) continue;
      switch (name) {
        case "AWS_KINESISVIDEO_FRAGMENT_NUMBER":
          k.fragmentNumber ??= v.trim();
          break;
        case "AWS_KINESISVIDEO_SERVER_TIMESTAMP":
        case "AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP":
          k.serverTimestampMs ??= parseKvsTimestamp(v);
          break;
        case "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP":
        case "AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP":
          k.producerTimestampMs ??= parseKvsTimestamp(v);
          break;
        case "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW": {
          // Digits only: Number("") is 0, and an empty tag says nothing.
          const t = v.trim();
          if (/^\d{1,15}$/.test(t)) k.millisBehindNow ??= Number(t);
          break;
        }
        case "AWS_KINESISVIDEO_CONTINUATION_TOKEN":
          k.continuationToken ??= v.trim();
          break;
        case "AWS_KINESISVIDEO_ERROR_CODE":
        case "AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE":
          k.errorCode ??= v.trim();
          break;
        case "AWS_KINESISVIDEO_ERROR_ID":
          k.errorId ??= v.trim();
          break;
        case "AWS_KINESISVIDEO_EXCEPTION_MESSAGE":
          k.errorMessage ??= v;
          break;
      }
    }
    // Cache once the fragment is finished (tags may still arrive before that).
    if (this.size > 0) this.#kvs = k;
    return k;
  }

  /** True when this is a KVS in-band error fragment. */
  get isError(): boolean {
    return this.kvs.errorCode !== undefined;
  }

  /** Fragment number as a BigInt, when it is a decimal number. */
  get fragmentNumberBigInt(): bigint | undefined {
    if (this.#numberBig !== undefined) return this.#numberBig ?? undefined;
    const n = parseFragmentNumber(this.kvs.fragmentNumber);
    // Cache once the fragment is finished (its tags may still arrive before that).
    if (this.size > 0) this.#numberBig = n ?? null;
    return n;
  }

  /** Number of blocks per track number. */
  blockCounts(): Map<number, number> {
    const k = tally(this.blockTable);
    const m = new Map<number, number>();
    for (let j = 0; j < k; j++) m.set(tallyTrack[j], tallyCount[j]);
    return m;
  }
}

/**
 * Per-track tallies of a block table, in reused arrays (nothing allocated per
 * call), slot j for the j-th track number to appear.
 */
const tallySlot = new Map<number, number>();
const tallyTrack: number[] = [];
const tallyCount: number[] = [];
const tallyFirst: number[] = [];
const tallyLast: number[] = [];
/** The index of each track's last block. */
const tallyLastIndex: number[] = [];

/** The last `MimeType` tag seen, and the bytes a ms of 16-bit PCM it says takes (undefined: no L16). */
let perMsMime: string | undefined;
let perMsValue: number | undefined;

/**
 * Bytes of PCM per ms of track `track`: 16-bit at the rate and channels of a
 * `MimeType` tag of L16 (Connect's, for its tracks), or as an `A_PCM/…`
 * track's Audio element says; undefined otherwise.
 */
function pcmBytesPerMs(mime: string | undefined, tracks: readonly Track[], track: number): number | undefined {
  if (mime !== undefined) {
    if (mime !== perMsMime) {
      perMsMime = mime;
      const rate = /^\s*audio\/L16\s*;/i.test(mime) ? /;\s*rate\s*=\s*"?(\d+)/i.exec(mime)?.[1] : undefined;
      const channels = /;\s*channels\s*=\s*"?(\d+)/i.exec(mime)?.[1] ?? "1";
      const perMs = (2 * Number(channels) * Number(rate)) / 1000;
      perMsValue = rate !== undefined && perMs > 0 && Number.isFinite(perMs) ? perMs : undefined;
    }
    if (perMsValue !== undefined) return perMsValue;
  }
  for (const tr of tracks) {
    if (tr.number !== track) continue;
    // As extract reads them: an A_PCM track, or Connect's A_AAC with no Audio element (PCM all the same), with
    // Matroska's defaults of 8000 Hz and 1 channel, 16 bits unless its Audio element says.
    const a = tr.audio;
    if (!tr.codecId?.startsWith("A_PCM/") && !(tr.codecId === "A_AAC" && a === undefined)) return undefined;
    const perMs = (((a?.bitDepth ?? 16) / 8) * (a?.channels ?? 1) * (a?.samplingFrequency ?? 8000)) / 1000;
    return perMs > 0 && Number.isFinite(perMs) ? perMs : undefined;
  }
  return undefined;
}

/** The table (and its length: tables only grow) the tallies hold, and their track count. */
let tallied: BlockTable | undefined;
let talliedLength = 0;
let talliedTracks = 0;

/**
 * Fill the tallies (block count, first and last block time per track);
 * returns the number of tracks. Asking again for the same table, unchanged,
 * costs nothing (a fragment's counts and its duration both need them).
 */
function tally(t: BlockTable): number {
  if (t === tallied && t.length === talliedLength) return talliedTracks;
  tallySlot.clear();
  let k = 0;
  let j = -1;
  let last = NaN;
  for (let i = 0; i < t.length; i++) {
    const track = t.track(i);
    if (track !== last) {
      last = track;
      // A few tracks (Connect has two): a scan beats a Map lookup.
      j = -1;
      if (k <= 8) {
        for (let m = 0; m < k; m++) {
          if (tallyTrack[m] === track) {
            j = m;
            break;
          }
        }
      } else j = tallySlot.get(track) ?? -1;
      if (j < 0) {
        j = k++;
        tallySlot.set(track, j);
        tallyTrack[j] = track;
        tallyCount[j] = 0;
        tallyFirst[j] = Infinity;
        tallyLast[j] = -Infinity;
      }
    }
    tallyCount[j]++;
    // (Blocks stored out of time order: the earliest start and the latest one.)
    const ms = t.timeMs(i);
    if (ms < tallyFirst[j]) tallyFirst[j] = ms;
    if (ms >= tallyLast[j]) {
      tallyLast[j] = ms;
      tallyLastIndex[j] = i;
    }
  }
  tallied = t;
  talliedLength = t.length;
  talliedTracks = k;
  return k;
}

/**
 * Parse a fragment number (a decimal string) as a BigInt; `undefined` when it
 * is not a plain decimal number.
 *
 * @example
 * ```ts
 * import { parseFragmentNumber } from "./fragment.ts";
 * parseFragmentNumber("91343852333181551234925834077012571618243808844"); // 91343852333181551234925834077012571618243808844n
 * parseFragmentNumber("gap-1"); // undefined
 * ```
 */
export function parseFragmentNumber(
  text: string | undefined,
): bigint | undefined {
  if (text === undefined || !/^\d{1,80}$/.test(text)) return undefined;
  return BigInt(text);
}
