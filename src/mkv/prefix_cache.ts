/**
 * The document prefix cache. Every fragment of a GetMedia body is a whole MKV
 * document, and its first part — EBML header, Segment header, Info, Tracks,
 * the Connect tags — is usually byte-for-byte the one of the fragment before.
 * The assembler records, for the last document, the bytes from its EBML header
 * up to the end of each Segment child before the first Cluster and what those
 * elements meant (DocType, TimecodeScale, tracks, tags). When the next
 * document starts with the same bytes, the recorded meaning is used instead
 * of tokenizing them again. Identical bytes at the top level parse the same
 * way, so the result is the same; only offsets shift. The data of leaves the
 * assembler does not use (SegmentUID, Title, …) may differ: a leaf's value
 * can only fail to decode for its size, which is in the compared header.
 *
 * @example
 * ```ts
 * import { PrefixCache, PrefixRecording } from "./prefix_cache.ts";
 * const doc = new Uint8Array([1, 2, 3, 4, 5, 6]);
 * const rec = new PrefixRecording(100);
 * rec.segment(102, 1);
 * rec.point(104, { docType: "matroska", timecodeScale: 1000000, tracks: [] }, []);
 * const cache = new PrefixCache();
 * cache.store(rec, doc, 100);
 * cache.match(new Uint8Array([9, 1, 2, 3, 4, 0]), 1); // 0: the first point matches
 * ```
 * @module
 */

import type { Tag, Track } from "./fragment.ts";

/** At most this many Segment children are recorded (hostile streams may hold thousands of tiny ones). */
export const MAX_PREFIX_POINTS = 64;
/** At most this many bytes of a document are recorded. */
export const MAX_PREFIX_BYTES = 64 * 1024;

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
  /** How many of the recording's tags were read by then. */
  tagCount: number;
}

/**
 * What one document's prefix meant, recorded while it was tokenized.
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
  /** Tags in order, offsets relative to the document start, values owned. */
  tags: Tag[] = [];
  /** Byte ranges not compared (start, end pairs relative to the document start, in order). */
  ignored: number[] = [];
  /** No more points are taken (a limit was reached): the prefix recorded so far stays usable. */
  full = false;

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

  /**
   * A Segment child ended at absolute `end`; `doc` is the document state and
   * `tags` the fragment's tags so far (new ones are copied in).
   */
  point(end: number, doc: PrefixDoc, tags: readonly Tag[]): void {
    if (this.full) return;
    if (this.points.length >= MAX_PREFIX_POINTS || end - this.docStart > MAX_PREFIX_BYTES) {
      this.full = true;
      return;
    }
    const last = this.points[this.points.length - 1];
    for (let i = this.tags.length; i < tags.length; i++) {
      const t = tags[i];
      this.tags.push({
        name: t.name,
        value: typeof t.value === "string" ? t.value : t.value.slice(),
        position: t.position,
        offset: t.offset - this.docStart,
      });
    }
    // Share the tracks array with the previous point when nothing changed.
    const tracks = last !== undefined && sameTracks(last.tracks, doc.tracks) ? last.tracks : doc.tracks.slice();
    this.points.push({
      end: end - this.docStart,
      docType: doc.docType,
      timecodeScale: doc.timecodeScale,
      tracks,
      tagCount: this.tags.length,
    });
  }
}

function sameTracks(a: readonly Track[], b: readonly Track[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const NONE = new Uint8Array(0);

/**
 * The last document's recorded prefix, with its bytes.
 *
 * @example
 * ```ts
 * import { PrefixCache } from "./prefix_cache.ts";
 * new PrefixCache().match(new Uint8Array(10), 0); // -1: nothing recorded
 * ```
 */
export class PrefixCache {
  #bytes: Uint8Array = NONE;
  #rec: PrefixRecording | undefined;

  /** Number of recorded points. */
  get length(): number {
    return this.#rec?.points.length ?? 0;
  }

  /**
   * Index of the last recorded point whose bytes all match `chunk` from
   * `start` (and lie in it), or -1.
   */
  match(chunk: Uint8Array, start: number): number {
    const rec = this.#rec;
    if (rec === undefined) return -1;
    const bytes = this.#bytes;
    const avail = chunk.length - start;
    const points = rec.points;
    const ignored = rec.ignored;
    let k = -1;
    let j = 0;
    let r = 0;
    for (let p = 0; p < points.length; p++) {
      const end = points[p].end;
      if (end > avail) break;
      while (j < end) {
        // Compare up to the next ignored range, then step over it.
        const stop = r < ignored.length && ignored[r] < end ? ignored[r] : end;
        for (; j < stop; j++) if (chunk[start + j] !== bytes[j]) return k;
        if (stop < end) {
          j = ignored[r + 1];
          r += 2;
        }
      }
      k = p;
    }
    return k;
  }

  /** Forget the points from `n` on (they stopped matching). */
  truncate(n: number): void {
    const rec = this.#rec;
    if (rec !== undefined && n < rec.points.length) rec.points.length = n;
  }

  /** Point `k` of the recording. */
  point(k: number): PrefixPoint {
    return this.#rec!.points[k];
  }

  /** Segment header offset relative to the document start, and its size. */
  get segmentRel(): number {
    return this.#rec!.segmentRel;
  }

  /** Segment header size. */
  get segmentHeaderSize(): number {
    return this.#rec!.segmentHeaderSize;
  }

  /** Tag `i` (offset relative to the document start). */
  tag(i: number): Tag {
    return this.#rec!.tags[i];
  }

  /**
   * A recording for a document at `docStart` whose first `k + 1` points
   * matched: it goes on from there.
   */
  resume(k: number, docStart: number): PrefixRecording {
    const from = this.#rec!;
    const rec = new PrefixRecording(docStart);
    rec.segmentRel = from.segmentRel;
    rec.segmentHeaderSize = from.segmentHeaderSize;
    rec.points = from.points.slice(0, k + 1);
    rec.tags = from.tags.slice(0, rec.points[k].tagCount);
    const end = rec.points[k].end;
    let n = 0;
    while (n < from.ignored.length && from.ignored[n] < end) n += 2;
    rec.ignored = from.ignored.slice(0, n);
    return rec;
  }

  /**
   * Keep `rec` as the cache when its bytes lie in `chunk` (which starts at
   * absolute `chunkOffset`); otherwise leave the cache as it is. Returns
   * whether it was kept.
   */
  store(rec: PrefixRecording, chunk: Uint8Array, chunkOffset: number): boolean {
    const n = rec.points.length;
    if (n === 0 || rec.segmentRel < 0) return false;
    const from = rec.docStart - chunkOffset;
    const end = rec.points[n - 1].end;
    if (from < 0 || from + end > chunk.length) return false;
    this.#bytes = chunk.slice(from, from + end);
    this.#rec = rec;
    return true;
  }
}
