/**
 * The document template cache. Every fragment of a GetMedia body is a whole
 * MKV document, and documents are laid out alike: the same EBML header, Info
 * and Tracks, the same tags with new values, a Cluster with the same number
 * of blocks or one of a few (15 or 16 per track in ~1 s fragments). The
 * assembler records, for a document it tokenized, the bytes from its EBML
 * header to the end of each Segment child (a "point"), the document state
 * after each (DocType, TimecodeScale, tracks), and the effects of its elements
 * in order (tags, Clusters, Cluster Timecodes, SimpleBlocks); the last four
 * recordings are kept as templates. When a document has the same bytes as a
 * template except where values may change — tag values, Cluster Timecodes,
 * SimpleBlock data, and leaves the assembler does not use (SegmentUID, Title,
 * …) — the effects are replayed with the new values read in place of
 * tokenizing the document.
 *
 * Why this is exact: all element headers (ids and sizes) match byte for byte
 * at the same offsets, so the element tree is the same; the leaves whose data
 * may differ are re-read exactly as the assembler reads them, and a leaf can
 * only fail to decode for its size, which is in the compared header. An
 * unknown-size Segment child (the Cluster) has no end in its header: it ends
 * at the first known element that cannot stand in it, so the id of the
 * element that ended it is compared too, and the tokenizer would end it at
 * the same byte.
 *
 * @example
 * ```ts
 * import { PrefixCache, PrefixRecording } from "./prefix_cache.ts";
 * const doc = new Uint8Array([1, 2, 3, 4, 5, 6]);
 * const rec = new PrefixRecording(100);
 * rec.segment(102, 1);
 * rec.point(104, { docType: "matroska", timecodeScale: 1000000, tracks: [] });
 * const cache = new PrefixCache();
 * cache.store(rec, doc, 100);
 * cache.match(new Uint8Array([9, 1, 2, 3, 4, 0]), 1); // 0: the first point matches
 * ```
 * @module
 */

import type { TagPosition, Track } from "./fragment.ts";
import { decodeStringAt } from "../ebml/decode.ts";
import { vintWidth } from "../ebml/vint.ts";

/** At most this many Segment children are recorded (hostile streams may hold thousands of tiny ones). */
const MAX_PREFIX_POINTS = 64;
/** At most this many bytes of a document are recorded. */
const MAX_PREFIX_BYTES = 256 * 1024;
/** At most this many effects are recorded. */
const MAX_PREFIX_OPS = 4096;

/** The document state a prefix leaves behind. */
export interface PrefixDoc {
  /** EBML DocType. */
  docType?: string;
  /** Info TimecodeScale. */
  timecodeScale: number;
  /** Tracks read so far. */
  tracks: readonly Track[];
}

/** The state after one Segment child: where it ended and what was known then. */
export interface PrefixPoint extends PrefixDoc {
  /** End of the element, relative to the document's first byte. */
  end: number;
  /** How many of the recording's effects happened by then. */
  opCount: number;
  /**
   * The child was an unknown-size master: it ended only because the element
   * at `end` cannot stand in it, so that element's id is compared too.
   */
  open: boolean;
}

/** Kinds of recorded effects. */
export const OP_TAG = 0, OP_CLUSTER = 1, OP_TIMECODE = 2, OP_BLOCK = 3;

/**
 * One effect of a document on its fragment, offsets relative to the
 * document's first byte.
 */
export interface PrefixOp {
  /** OP_TAG, OP_CLUSTER, OP_TIMECODE or OP_BLOCK. */
  kind: number;
  /** The element's offset (SimpleTag, Cluster, SimpleBlock). */
  rel: number;
  /** The data of the leaf whose value is re-read (TagString/TagBinary, Timecode, SimpleBlock); -1: none. */
  dataRel: number;
  /** Its size. */
  size: number;
  /** OP_TAG: the TagName (its bytes are compared). */
  name: string;
  /** OP_TAG: the string value as recorded (`""` without a value leaf, and for a TagBinary, read anew at each replay). */
  value: string;
  /** OP_TAG: whether the value leaf is a TagBinary. */
  binary: boolean;
  /** OP_TAG: before or after the Cluster. */
  position: TagPosition;
}

/**
 * What one document meant, recorded while it was tokenized.
 *
 * @example
 * ```ts
 * import { PrefixRecording } from "./prefix_cache.ts";
 * const rec = new PrefixRecording(0);
 * rec.segment(40, 12);
 * rec.points.length; // 0
 * ```
 */
export class PrefixRecording {
  /** Absolute offset of the document's EBML header. */
  readonly docStart: number;
  /** Segment header offset relative to the document start (-1 until seen). */
  segmentRel = -1;
  /** Segment header size. */
  segmentHeaderSize = 0;
  /** States after each Segment child, in order. */
  points: PrefixPoint[] = [];
  /** Effects in document order. */
  ops: PrefixOp[] = [];
  /** How many of `ops` were carried over from an earlier document by {@linkcode PrefixCache.resume}. */
  carried = 0;
  /** Byte ranges not compared (start, end pairs relative to the document start, in order). */
  ignored: number[] = [];
  /** No more points are taken (a limit was reached, or something the template cannot replay): what was recorded stays usable. */
  full = false;
  /** Whether the Segment child in progress is an unknown-size master. */
  openChild = false;

  constructor(docStart: number) {
    this.docStart = docStart;
  }

  /** The (unknown-size) Segment's header was read at absolute `offset`. */
  segment(offset: number, headerSize: number): void {
    this.segmentRel = offset - this.docStart;
    this.segmentHeaderSize = headerSize;
  }

  /** The data of a leaf at absolute `start`, `size` bytes long, need not match. */
  ignore(start: number, size: number): void {
    if (size > 0 && !this.full) this.ignored.push(start - this.docStart, start - this.docStart + size);
  }

  /** An effect at absolute offsets (see {@linkcode PrefixOp}). */
  op(
    kind: number,
    offset: number,
    dataStart: number,
    size: number,
    tag?: { name: string; value: string | Uint8Array; binary: boolean; position: TagPosition },
  ): void {
    if (this.full) return;
    if (this.ops.length >= MAX_PREFIX_OPS) {
      this.full = true;
      return;
    }
    this.ops.push({
      kind,
      rel: offset - this.docStart,
      dataRel: dataStart < 0 ? -1 : dataStart - this.docStart,
      size,
      name: tag?.name ?? "",
      // Binary values are always read anew from the document at replay: only strings are kept.
      value: tag === undefined || typeof tag.value !== "string" ? "" : tag.value,
      binary: tag?.binary ?? false,
      position: tag?.position ?? "before",
    });
  }

  /**
   * A Segment child ended at absolute `end`; `doc` is the document state
   * then. `open`: it was an unknown-size master (see {@linkcode PrefixPoint.open}).
   */
  point(end: number, doc: PrefixDoc, open = false): void {
    if (this.full) return;
    if (this.points.length >= MAX_PREFIX_POINTS || end - this.docStart > MAX_PREFIX_BYTES) {
      this.full = true;
      return;
    }
    const last = this.points[this.points.length - 1];
    // Share the tracks array with the previous point when nothing changed.
    const tracks = last !== undefined && sameTracks(last.tracks, doc.tracks) ? last.tracks : doc.tracks.slice();
    this.points.push({
      end: end - this.docStart,
      docType: doc.docType,
      timecodeScale: doc.timecodeScale,
      tracks,
      opCount: this.ops.length,
      open,
    });
  }
}

function sameTracks(a: readonly Track[], b: readonly Track[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Documents kept as templates: streams whose Clusters alternate between a few block counts replay every document. */
const MAX_TEMPLATES = 4;

/** One recorded document with its bytes. */
interface Template {
  bytes: Uint8Array;
  rec: PrefixRecording;
  /**
   * The byte ranges compared (start, end pairs: the complement of the ignored
   * ranges, cut at each point's end; an open point's range list ends with the
   * id of the element that ended it).
   */
  segs: Int32Array;
  /** For each point, how many segments belong to it and those before it. */
  segsBefore: Int32Array;
  /** For each point, how far its compared bytes reach (its end, or past the id that ended an open point). */
  reach: Int32Array;
}

/**
 * The last few recorded documents, with their bytes. A document is matched
 * against the templates, most recently used first, and the one it repeats
 * furthest (in points) becomes the current template: the one {@linkcode PrefixCache.point},
 * {@linkcode PrefixCache.ops}, {@linkcode PrefixCache.same},
 * {@linkcode PrefixCache.resume} and {@linkcode PrefixCache.truncate} refer to.
 *
 * @example
 * ```ts
 * import { PrefixCache } from "./prefix_cache.ts";
 * new PrefixCache().match(new Uint8Array(10), 0); // -1: nothing recorded
 * ```
 */
export class PrefixCache {
  /** Most recently used first: the current template is the first. */
  #templates: Template[] = [];
  /** Whether the last #matchTemplate stopped at the end of the chunk. */
  #stoppedAtEnd = false;

  get #cur(): Template | undefined {
    return this.#templates[0];
  }

  /**
   * Whether the last {@linkcode PrefixCache.match} stopped at the end of the
   * chunk rather than at a difference (the document may still match whole).
   */
  cut = false;

  /** Number of points of the current template. */
  get length(): number {
    return this.#cur?.rec.points.length ?? 0;
  }

  /**
   * Index of the last point of a template whose bytes (ignored ranges
   * aside) all match `chunk` from `start` and lie in it, or -1. The
   * template with the most points matched becomes the current one (the most
   * recently used of equals); trying stops at a template matched whole or
   * cut short by the end of the chunk.
   */
  match(chunk: Uint8Array, start: number): number {
    const all = this.#templates;
    let best = -1;
    let at = 0;
    let cut = false;
    for (let i = 0; i < all.length; i++) {
      const k = this.#matchTemplate(all[i], chunk, start);
      if (k > best) {
        best = k;
        at = i;
        cut = this.#stoppedAtEnd;
      }
      if (this.#stoppedAtEnd || k === all[i].rec.points.length - 1) break;
    }
    this.cut = cut;
    if (at > 0) {
      const t = all[at];
      all.copyWithin(1, 0, at);
      all[0] = t;
    }
    return best;
  }

  /**
   * Whether `size` bytes of `chunk` at `at` equal the current template's
   * bytes at document offset `rel` (a value that may be reused as recorded).
   */
  same(chunk: Uint8Array, at: number, rel: number, size: number): boolean {
    const bytes = this.#cur!.bytes;
    for (let i = 0; i < size; i++) if (chunk[at + i] !== bytes[rel + i]) return false;
    return true;
  }

  /** Point `k` of the current template. */
  point(k: number): PrefixPoint {
    return this.#cur!.rec.points[k];
  }

  /** The current template's effects. */
  get ops(): readonly PrefixOp[] {
    return this.#cur!.rec.ops;
  }

  /** Segment header offset relative to the document start. */
  get segmentRel(): number {
    return this.#cur!.rec.segmentRel;
  }

  /** Segment header size. */
  get segmentHeaderSize(): number {
    return this.#cur!.rec.segmentHeaderSize;
  }

  /** Forget the current template's points from `n` on (they stopped matching). */
  truncate(n: number): void {
    const rec = this.#cur?.rec;
    if (rec !== undefined && n < rec.points.length) rec.points.length = n;
  }

  /**
   * A recording for a document at `docStart` whose first `k + 1` points
   * matched the current template: it goes on from there.
   */
  resume(k: number, docStart: number): PrefixRecording {
    const from = this.#cur!.rec;
    const rec = new PrefixRecording(docStart);
    rec.segmentRel = from.segmentRel;
    rec.segmentHeaderSize = from.segmentHeaderSize;
    rec.points = from.points.slice(0, k + 1);
    const p = rec.points[k];
    rec.ops = from.ops.slice(0, p.opCount);
    rec.carried = p.opCount;
    let n = 0;
    while (n < from.ignored.length && from.ignored[n] < p.end) n += 2;
    rec.ignored = from.ignored.slice(0, n);
    return rec;
  }

  /**
   * Keep `rec` as the current template when its bytes lie in `chunk` (which
   * starts at absolute `chunkOffset`), dropping the least recently used one
   * past four; otherwise leave the cache as it is.
   */
  store(rec: PrefixRecording, chunk: Uint8Array, chunkOffset: number): void {
    const n = rec.points.length;
    if (n === 0 || rec.segmentRel < 0) return;
    const from = rec.docStart - chunkOffset;
    const end = rec.points[n - 1].end;
    if (from < 0 || from + end > chunk.length) return;
    // An open last point is ended by the next document's EBML header: keep
    // that id with the bytes. (The Segment's end is seen only once that id has
    // been read from this chunk; should it not lie here, nothing is stored
    // rather than a template without its Cluster, which would match whole.)
    let extra = 0;
    if (rec.points[n - 1].open) {
      extra = from + end < chunk.length ? vintWidth(chunk[from + end]) : 0;
      if (extra === 0 || from + end + extra > chunk.length) return;
    }
    const bytes = chunk.slice(from, from + end + extra);
    // A tag value is reused when a document's bytes equal the stored ones, so
    // every recorded value must be the one of the stored bytes: effects
    // carried over from an earlier document by resume() may hold its values.
    if (rec.carried > 0) {
      rec.ops = rec.ops.map((op, i) => {
        if (i >= rec.carried || op.kind !== OP_TAG || op.binary || op.dataRel < 0 || op.dataRel + op.size > end) {
          return op;
        }
        return { ...op, value: decodeStringAt(bytes, op.dataRel, op.size) };
      });
    }
    const t: Template = { bytes, rec, ...segments(rec, bytes) };
    const all = this.#templates;
    if (all.length === MAX_TEMPLATES) all.pop();
    all.unshift(t);
  }

  /** Index of the last point of `t` that matches `chunk` from `start` (see {@linkcode PrefixCache.match}). */
  #matchTemplate(t: Template, chunk: Uint8Array, start: number): number {
    const { bytes, segs, segsBefore: before, reach } = t;
    const avail = chunk.length - start;
    // (Points dropped by truncate() are no longer in rec.points.)
    const points = t.rec.points.length;
    let k = -1;
    let s = 0;
    this.#stoppedAtEnd = false;
    for (let p = 0; p < points; p++) {
      if (reach[p] > avail) {
        this.#stoppedAtEnd = true;
        break;
      }
      for (const n = before[p]; s < n; s++) {
        const to = segs[2 * s + 1];
        for (let j = segs[2 * s]; j < to; j++) if (chunk[start + j] !== bytes[j]) return k;
      }
      k = p;
    }
    return k;
  }
}

/**
 * The compared ranges of `rec` (whose bytes are `bytes`), cut at its points'
 * ends, how many belong to each point and those before it, and how far each
 * point's reach. An open point matches only when the same element ends it, so
 * that element's id is one more range of the point.
 */
function segments(rec: PrefixRecording, bytes: Uint8Array): Pick<Template, "segs" | "segsBefore" | "reach"> {
  const segs: number[] = [];
  const before = new Int32Array(rec.points.length);
  const reach = new Int32Array(rec.points.length);
  const ignored = rec.ignored;
  let j = 0;
  let r = 0;
  for (let p = 0; p < rec.points.length; p++) {
    const end = rec.points[p].end;
    while (j < end) {
      const stop = r < ignored.length && ignored[r] < end ? ignored[r] : end;
      if (stop > j) segs.push(j, stop);
      if (stop < end) {
        j = ignored[r + 1];
        r += 2;
      } else j = end;
    }
    reach[p] = end;
    if (rec.points[p].open) {
      reach[p] = end + vintWidth(bytes[end]);
      segs.push(end, reach[p]);
    }
    before[p] = segs.length / 2;
  }
  return { segs: Int32Array.from(segs), segsBefore: before, reach };
}
