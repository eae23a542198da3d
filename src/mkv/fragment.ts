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
  /** Cluster Timecode in TimecodeScale units (epoch ms for KVS/Connect). */
  timecode: number;
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
  | "end-of-input";

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
  const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(text);
  if (!m) return undefined;
  const frac = (m[2] ?? "").padEnd(3, "0");
  return Number(m[1]) * 1000 + Number(frac.slice(0, 3)) +
    (frac.length > 3 ? Number("0." + frac.slice(3)) : 0);
}

const KVS = "AWS_KINESISVIDEO_";

/** The fragment object the assembler yields. */
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
  /** EBML DocType of its document (`matroska`, `webm`). */
  docType?: string;
  /** Nanoseconds per timecode tick (Info TimecodeScale, default 1,000,000). */
  timecodeScale = 1000000;
  /** Tracks of its document. */
  tracks: Track[] = [];
  /** Every SimpleTag, in order, before and after the Cluster. */
  tags: Tag[] = [];
  /** Blocks in order, compactly (no object per block): what fast consumers read. */
  readonly blockTable: BlockTable = new BlockTable();
  /** Clusters in order. */
  clusters: ClusterInfo[] = [];
  /** Elements skipped because their id is not in the element table. */
  unknownElements = 0;
  /** The fragment's raw bytes (only with the `raw` option). */
  raw?: Uint8Array;
  /** The element tree (only with the `tree` option). */
  tree?: ElementNode[];
  #kvs?: KvsTags;
  #blocks?: Block[];

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
   * Duration covered by the blocks in ms: per track, the span from the first
   * to the last block start plus one average block interval; the longest
   * track wins. 0 without blocks.
   */
  get durationMs(): number {
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    const count = new Map<number, number>();
    const t = this.blockTable;
    for (let i = 0; i < t.length; i++) {
      const track = t.track(i);
      const ms = t.timeMs(i);
      if (!first.has(track)) first.set(track, ms);
      last.set(track, ms);
      count.set(track, (count.get(track) ?? 0) + 1);
    }
    let best = 0;
    for (const [track, n] of count) {
      const span = last.get(track)! - first.get(track)!;
      const d = n > 1 ? (span * n) / (n - 1) : 0;
      if (d > best) best = d;
    }
    return best;
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
    for (const t of this.tags) {
      if (t.name === name && typeof t.value === "string") return t.value;
    }
    return undefined;
  }

  /** Connect's `ContactId` tag. */
  get contactId(): string | undefined {
    return this.tag("ContactId");
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
    for (const t of this.tags) {
      if (!t.name.startsWith(KVS) || typeof t.value !== "string") continue;
      const v = t.value;
      switch (t.name.slice(KVS.length)) {
        case "FRAGMENT_NUMBER":
          k.fragmentNumber ??= v.trim();
          break;
        case "SERVER_TIMESTAMP":
        case "SERVER_SIDE_TIMESTAMP":
          k.serverTimestampMs ??= parseKvsTimestamp(v);
          break;
        case "PRODUCER_TIMESTAMP":
        case "PRODUCER_SIDE_TIMESTAMP":
          k.producerTimestampMs ??= parseKvsTimestamp(v);
          break;
        case "MILLIS_BEHIND_NOW": {
          const n = Number(v.trim());
          if (Number.isFinite(n)) k.millisBehindNow ??= n;
          break;
        }
        case "CONTINUATION_TOKEN":
          k.continuationToken ??= v.trim();
          break;
        case "ERROR_CODE":
        case "EXCEPTION_ERROR_CODE":
          k.errorCode ??= v.trim();
          break;
        case "ERROR_ID":
          k.errorId ??= v.trim();
          break;
        case "EXCEPTION_MESSAGE":
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
    return parseFragmentNumber(this.kvs.fragmentNumber);
  }

  /** Number of blocks per track number. */
  blockCounts(): Map<number, number> {
    const m = new Map<number, number>();
    const t = this.blockTable;
    for (let i = 0; i < t.length; i++) {
      const track = t.track(i);
      m.set(track, (m.get(track) ?? 0) + 1);
    }
    return m;
  }
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
