/**
 * The blocks of a fragment, stored compactly: one row of numbers per block in
 * a single array of numbers, and the frames read from the input chunk on
 * demand. Adding a block makes no object; {@linkcode BlockTable.block}
 * builds a {@linkcode Block} when one is wanted.
 *
 * @example
 * ```ts
 * import { BlockTable } from "./block_table.ts";
 * const t = new BlockTable();
 * // track 1, timecode +64, keyframe, two payload bytes; Cluster timecode 1000 ms
 * t.add(new Uint8Array([0x81, 0x00, 0x40, 0x80, 0xaa, 0xbb]), 0, 6, 500, true, 1000, 1000000);
 * t.length;        // 1
 * t.track(0);      // 1
 * t.timeMs(0);     // 1064
 * t.frame(0, 0);   // Uint8Array [0xaa, 0xbb] (a view)
 * ```
 * @module
 */

import { type Block, blockFlags, blockFromFlags, type BlockHeader, laceSizes, readBlockHeader } from "./block.ts";

/** Numbers kept per block (the row stride). */
const STRIDE = 9;
/** Row layout. */
const OFFSET = 0, TIME_MS = 1, TRACK = 2, TIMECODE = 3, FLAGS = 4, BUF = 5, START = 6, END = 7, DURATION = 8;
/** Bit set in the FLAGS column (above the flags byte) for a SimpleBlock. */
const SIMPLE = 0x100;

const header: BlockHeader = { track: 0, timecode: 0, flags: 0, lacing: "none", payloadStart: 0 };

/**
 * Rows kept in the plain array; past them, rows go into typed-array pages.
 * (A plain array that large lives in V8's large-object space, freed only by a
 * full collection: damaged input of many thousand tiny blocks per fragment
 * made RSS grow to hundreds of MB between them. A typed array's memory is
 * freed as soon as its table dies young.)
 */
const PLAIN_ROWS = 1024;
const PAGE_SHIFT = 10;
const PAGE_ROWS = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_ROWS - 1;

/** Rows a new table makes room for: the most any table has held (from 32, at most 256). */
let rowsHint = 32;
/**
 * A packed array of doubles, `rowsHint` rows long: new tables start as a copy
 * (one allocation, already of double elements — `new Array(n)` would start as
 * small integers and be copied again at the first double stored).
 */
let blank: number[] = doubles(rowsHint * STRIDE);

/** A new table's rows: a copy of `blank`, remade first if the largest table has grown since. */
function blankRows(): number[] {
  if (blank.length < rowsHint * STRIDE) blank = doubles(rowsHint * STRIDE);
  return blank.slice();
}

/** The rows of every table that has no block yet (never written to: a table takes its own rows first). */
const NO_ROWS: number[] = [];

function doubles(n: number): number[] {
  const a = [0.5];
  for (let i = 1; i < n; i++) a.push(0.5);
  return a;
}

/**
 * A fragment's blocks in order, without an object per block.
 *
 * @example
 * ```ts
 * import { BlockTable } from "./block_table.ts";
 * import { parseBlock } from "./block.ts";
 * const t = new BlockTable();
 * t.push(parseBlock(new Uint8Array([0x82, 0x00, 0x00, 0x00, 7]), 0, true));
 * t.block(0).track; // 2
 * ```
 */
export class BlockTable {
  /**
   * Rows of STRIDE numbers: a plain array (cheap to make, unlike a typed
   * array's backing store), sized at first for as many rows as the largest
   * table so far so it rarely grows (past its length it grows by assignment).
   */
  #rows: number[] = NO_ROWS;
  /** Rows from {@linkcode PLAIN_ROWS} on, {@linkcode PAGE_ROWS} to a page. */
  #pages: Float64Array[] | undefined;
  #count = 0;
  /** Buffers the rows point into (consecutive blocks mostly share one). */
  #bufs: Uint8Array[] = [];
  /** Frames of laced blocks {@linkcode BlockTable.push}ed as decoded Blocks, by row. */
  #laced: Map<number, Uint8Array[]> | undefined;
  /**
   * Where each frame of an added laced block begins and ends in its buffer, two numbers a frame (no view
   * per frame: a few bytes of lacing can stand for 256 frames). Such a row's START is its first frame's
   * index here and its END minus its frame count.
   */
  #lace: Float64Array | undefined;
  #laceUsed = 0;

  /** Number of blocks. */
  get length(): number {
    return this.#count;
  }

  /** Frames of the laced blocks, all told. */
  get lacedFrames(): number {
    return this.#lacedFrames;
  }

  #lacedFrames = 0;

  /**
   * Whether every block came at or after the block before it (of any track),
   * as a Connect stream's interleaved blocks do: then each track's blocks
   * are in time order too.
   */
  get inTimeOrder(): boolean {
    return this.#ordered;
  }

  /**
   * The track numbers of its blocks, each once, in order of their first
   * block.
   */
  get trackNumbers(): readonly number[] {
    return this.#more === undefined
      ? (Number.isNaN(this.#t0) ? [] : Number.isNaN(this.#t1) ? [this.#t0] : [this.#t0, this.#t1])
      : [this.#t0, this.#t1, ...this.#more];
  }

  #lastMs = -Infinity;
  #ordered = true;
  /** The first two track numbers seen (NaN: none yet), and any more. */
  #t0 = NaN;
  #t1 = NaN;
  #more: number[] | undefined;

  /** Note a block's time and track (see {@linkcode inTimeOrder}, {@linkcode trackNumbers}). */
  #seen(timeMs: number, track: number): void {
    if (timeMs < this.#lastMs) this.#ordered = false;
    this.#lastMs = timeMs;
    if (track === this.#t0 || track === this.#t1) return;
    if (Number.isNaN(this.#t0)) this.#t0 = track;
    else if (Number.isNaN(this.#t1)) this.#t1 = track;
    else if (this.#more === undefined) this.#more = [track];
    else if (!this.#more.includes(track)) this.#more.push(track);
  }

  /**
   * Add the block whose data (element data, without the element header) is
   * `buf[start … start + len)`. The buffer is kept, not copied: it must not
   * change afterwards. `clusterTimecode` and `timecodeScale` give the
   * block's absolute time. Throws DataError for a header or lacing that does
   * not fit the data.
   */
  add(
    buf: Uint8Array,
    start: number,
    len: number,
    offset: number,
    simple: boolean,
    clusterTimecode: number,
    timecodeScale: number,
    duration?: number,
  ): void {
    const h = readBlockHeader(buf, start, len, offset, simple, header);
    // (Bad lacing is refused before the block takes a row: none of its bytes is audio.)
    const sizes = h.lacing === "none"
      ? undefined
      : laceSizes(buf.subarray(start, start + len), h.payloadStart - start, h.lacing, offset, simple);
    const row = this.#count++;
    const timeMs = ((clusterTimecode + h.timecode) * timecodeScale) / 1e6;
    this.#seen(timeMs, h.track);
    if (row >= PLAIN_ROWS) {
      this.#pagedRow(row, offset, timeMs, h.track, h.timecode);
      this.#setPaged(row, FLAGS, h.flags | (simple ? SIMPLE : 0));
      this.#setPaged(row, BUF, this.#bufIndex(buf));
      this.#setPaged(row, START, h.payloadStart);
      this.#setPaged(row, END, start + len);
      this.#setPaged(row, DURATION, duration ?? NaN);
      if (sizes !== undefined) this.#unlaced(sizes, start, row);
      return;
    }
    // Rows only for a table that gets a block (a document with none costs no row array).
    const r = this.#rows === NO_ROWS ? (this.#rows = blankRows()) : this.#rows;
    const at = row * STRIDE;
    r[at + OFFSET] = offset;
    r[at + TIME_MS] = timeMs;
    r[at + TRACK] = h.track;
    r[at + TIMECODE] = h.timecode;
    r[at + FLAGS] = h.flags | (simple ? SIMPLE : 0);
    r[at + BUF] = this.#bufIndex(buf);
    r[at + START] = h.payloadStart;
    r[at + END] = start + len;
    r[at + DURATION] = duration ?? NaN;
    if (row >= rowsHint && row < 256) rowsHint = row + 1;
    if (sizes !== undefined) this.#unlaced(sizes, start, row);
  }

  /** Record where the frames of laced block `row` (starting at `start` of its buffer) are (see `#lace`). */
  #unlaced(sizes: ReturnType<typeof laceSizes>, start: number, row: number) {
    const n = sizes.length;
    const first = this.#laceUsed;
    let lace = this.#lace;
    if (lace === undefined || lace.length < 2 * (first + n)) {
      const grown = new Float64Array(Math.max(64, 2 * (first + n), 2 * (lace?.length ?? 0)));
      if (lace !== undefined) grown.set(lace);
      this.#lace = lace = grown;
    }
    let p = start + sizes.first;
    for (let k = 0; k < n; k++) {
      lace[2 * (first + k)] = p;
      p += sizes[k];
      lace[2 * (first + k) + 1] = p;
    }
    this.#laceUsed += n;
    this.#lacedFrames += n;
    if (row < PLAIN_ROWS) {
      this.#rows[row * STRIDE + START] = first;
      this.#rows[row * STRIDE + END] = -n;
    } else {
      this.#setPaged(row, START, first);
      this.#setPaged(row, END, -n);
    }
  }

  /** Start paged row `row` (past {@linkcode PLAIN_ROWS}) with its first columns. */
  #pagedRow(row: number, offset: number, timeMs: number, track: number, timecode: number): void {
    const j = row - PLAIN_ROWS;
    const pages = this.#pages ??= [];
    if (j >> PAGE_SHIFT === pages.length) pages.push(new Float64Array(PAGE_ROWS * STRIDE));
    this.#setPaged(row, OFFSET, offset);
    this.#setPaged(row, TIME_MS, timeMs);
    this.#setPaged(row, TRACK, track);
    this.#setPaged(row, TIMECODE, timecode);
  }

  #setPaged(row: number, col: number, value: number): void {
    const j = row - PLAIN_ROWS;
    this.#pages![j >> PAGE_SHIFT][(j & PAGE_MASK) * STRIDE + col] = value;
  }

  /** Column `col` of row `i`. */
  #cell(i: number, col: number): number {
    if (i < PLAIN_ROWS) return this.#rows[i * STRIDE + col];
    const j = i - PLAIN_ROWS;
    return this.#pages![j >> PAGE_SHIFT][(j & PAGE_MASK) * STRIDE + col];
  }

  /** Add a decoded {@linkcode Block} (its frames are kept as they are). */
  push(b: Block): void {
    const row = this.#count++;
    this.#seen(b.timeMs, b.track);
    const flags = blockFlags(b);
    if (row >= PLAIN_ROWS) {
      this.#pagedRow(row, b.offset, b.timeMs, b.track, b.timecode);
      this.#setPaged(row, FLAGS, flags | (b.simple ? SIMPLE : 0));
      this.#setPaged(row, BUF, -1);
      this.#setPaged(row, DURATION, b.duration ?? NaN);
      (this.#laced ??= new Map()).set(row, b.frames);
      this.#lacedFrames += b.frames.length;
      return;
    }
    const r = this.#rows === NO_ROWS ? (this.#rows = blankRows()) : this.#rows;
    const at = row * STRIDE;
    r[at + OFFSET] = b.offset;
    r[at + TIME_MS] = b.timeMs;
    r[at + TRACK] = b.track;
    r[at + TIMECODE] = b.timecode;
    r[at + FLAGS] = flags | (b.simple ? SIMPLE : 0);
    r[at + BUF] = -1;
    r[at + START] = 0;
    r[at + END] = 0;
    r[at + DURATION] = b.duration ?? NaN;
    (this.#laced ??= new Map()).set(row, b.frames);
    this.#lacedFrames += b.frames.length;
  }

  /** Track number of block `i`. */
  track(i: number): number {
    return i < PLAIN_ROWS ? this.#rows[i * STRIDE + TRACK] : this.#cell(i, TRACK);
  }

  /** Absolute time of block `i` in ms ((Cluster timecode + timecode) × TimecodeScale). */
  timeMs(i: number): number {
    return i < PLAIN_ROWS ? this.#rows[i * STRIDE + TIME_MS] : this.#cell(i, TIME_MS);
  }

  /** Absolute offset of block `i`'s element (a Block's is its BlockGroup's). */
  offset(i: number): number {
    return i < PLAIN_ROWS ? this.#rows[i * STRIDE + OFFSET] : this.#cell(i, OFFSET);
  }

  /** BlockDuration of block `i` (a BlockGroup's, in TimecodeScale units), if it has one. */
  duration(i: number): number | undefined {
    const d = this.#cell(i, DURATION);
    return Number.isNaN(d) ? undefined : d;
  }

  /** Number of frames in block `i` (1 without lacing). */
  frameCount(i: number): number {
    // (No laced block added: every row's one frame, or a pushed Block's.)
    if (this.#lace === undefined) return this.#laced?.get(i)?.length ?? 1;
    const laced = this.#laced?.get(i);
    if (laced !== undefined) return laced.length;
    const end = i < PLAIN_ROWS ? this.#rows[i * STRIDE + END] : this.#cell(i, END);
    return end < 0 ? -end : 1;
  }

  /** Frame `k` of block `i`: a view into the input, not a copy. */
  frame(i: number, k = 0): Uint8Array {
    const laced = this.#laced?.get(i);
    if (laced !== undefined) return laced[k];
    let buf: number, start: number, end: number;
    if (i < PLAIN_ROWS) {
      const at = i * STRIDE;
      const r = this.#rows;
      buf = r[at + BUF];
      start = r[at + START];
      end = r[at + END];
    } else {
      buf = this.#cell(i, BUF);
      start = this.#cell(i, START);
      end = this.#cell(i, END);
    }
    if (end >= 0) return this.#bufs[buf].subarray(start, end);
    const p = 2 * (start + k);
    return this.#bufs[buf].subarray(this.#lace![p], this.#lace![p + 1]);
  }

  /**
   * All of block `i`'s frame data as one view: laced frames lie back to back
   * after the lace header, so for PCM they are one run of samples, whatever
   * sizes the lacing gave them (a frame may end inside a sample). A copy only
   * for a pushed Block whose frames are not back to back.
   *
   * @example
   * ```ts
   * import { BlockTable } from "./block_table.ts";
   * const table = new BlockTable();
   * // Xiph lacing of two frames, 3 + 1 bytes: one run of 4.
   * table.add(new Uint8Array([0x81, 0, 0, 0x02, 1, 3, 10, 11, 12, 13]), 0, 10, 0, true, 0, 1_000_000);
   * table.data(0); // Uint8Array [10, 11, 12, 13]
   * ```
   */
  data(i: number): Uint8Array {
    const n = this.frameCount(i);
    if (n === 0) return new Uint8Array(0); // (a pushed Block with no frames)
    const first = this.frame(i, 0);
    if (n === 1) return first;
    let end = first.byteOffset + first.length;
    let joined = true;
    for (let k = 1; k < n && joined; k++) {
      const f = this.frame(i, k);
      joined = f.buffer === first.buffer && f.byteOffset === end;
      end += f.length;
    }
    if (joined) return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
    const frames = Array.from({ length: n }, (_, k) => this.frame(i, k));
    const out = new Uint8Array(frames.reduce((sum, f) => sum + f.length, 0));
    let at = 0;
    for (const f of frames) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }

  /** Block `i` as an object. */
  block(i: number): Block {
    const flags = this.#cell(i, FLAGS);
    const simple = (flags & SIMPLE) !== 0;
    const frames = this.#laced?.get(i) ?? Array.from({ length: this.frameCount(i) }, (_, k) => this.frame(i, k));
    const b = blockFromFlags(
      this.#cell(i, TRACK),
      this.#cell(i, TIMECODE),
      this.#cell(i, TIME_MS),
      flags & 0xff,
      simple,
      frames,
      this.#cell(i, OFFSET),
    );
    const d = this.#cell(i, DURATION);
    if (!Number.isNaN(d)) b.duration = d;
    return b;
  }

  #bufIndex(buf: Uint8Array): number {
    const bufs = this.#bufs;
    const n = bufs.length;
    if (n > 0 && bufs[n - 1] === buf) return n - 1;
    bufs.push(buf);
    return n;
  }
}
