/**
 * The fragment assembler: EBML tokens in, {@linkcode Fragment}s out.
 *
 * A GetMedia body is a chain of MKV documents (EBML header + unknown-size
 * Segment), one per KVS fragment: each becomes one Fragment. In an ordinary
 * MKV file (known-size Segment) each Cluster becomes one Fragment, sharing the
 * document's tracks. The last fragment is emitted at end of input; one cut
 * short by the end of input is emitted with `complete: false`. A document laid
 * out like one recorded before (the last four are kept) is replayed from that
 * recording instead of tokenized (see `prefix_cache.ts`); the fragments are
 * the same.
 *
 * @example
 * ```ts
 * import { assembleFragments } from "./assembler.ts";
 * const file = await Deno.open("getmedia.mkv");
 * for await (const f of assembleFragments(file.readable, { source: "getmedia.mkv" })) {
 *   console.log(f.index, f.offset, f.kvs.fragmentNumber, f.contactId, f.complete);
 * }
 * ```
 * @module
 */

import { DataError } from "../errors.ts";
import { elementById, type ElementType, ID } from "../ebml/elements.ts";
import type { EbmlToken, EbmlValue, PrefixTaken, TokenBatch, TokenKind, TokenSink } from "../ebml/token.ts";
import { type ByteSource, EbmlTokenizer, type TokenizerOptions } from "../ebml/tokenizer.ts";
import { type ClosedBy, Fragment, type Tag, type Track } from "./fragment.ts";
import type { ElementNode } from "./tree.ts";
import { OP_BLOCK, OP_CLUSTER, OP_TAG, OP_TIMECODE, PrefixCache, PrefixRecording } from "./prefix_cache.ts";
import { decodeStringAt, decodeValueAt } from "../ebml/decode.ts";

/** Options of the assembler. */
export interface AssembleOptions extends TokenizerOptions {
  /** Keep each fragment's raw bytes in `fragment.raw`. */
  raw?: boolean;
  /** Build each fragment's element tree in `fragment.tree`. */
  tree?: boolean;
  /**
   * Emit a GetMedia fragment as soon as its trailing KVS Tags (with the
   * continuation token) have been read, instead of waiting for the next
   * document to begin. Lowers latency by one fragment on live streams.
   */
  eager?: boolean;
  /**
   * Input that ends before its first document's Segment begins (empty, inside
   * the first element, or right after the EBML header) is a DataError, "not a
   * complete Matroska/GetMedia stream" (default true); so is input that ends
   * inside a child of an unknown-size Segment whose id no Segment child has (a
   * damaged header, not a cut), and so does one inside a Cluster child of such
   * an id. Off, such a start is
   * a truncated fragment like any other: `pull` reads a GetMedia body cut
   * that early as a dropped connection, and resumes.
   */
  strictStart?: boolean;
  /**
   * Split an unknown-size Segment at the next Cluster once its fragment holds
   * this many bytes (default 64 MiB), so memory stays bounded on inputs that
   * are one endless document.
   */
  maxFragmentBytes?: number;
  /**
   * Replay a document laid out like one recorded before (same bytes except
   * tag values, Cluster Timecodes, block data and unused leaves) from the
   * recording instead of tokenizing it, reading the changed values anew
   * (default true; off with `tree`). Same fragments either way, less work.
   * See `prefix_cache.ts`.
   */
  prefixCache?: boolean;
}

interface DocState {
  docType?: string;
  timecodeScale: number;
  tracks: Track[];
  segmentKnownSize: boolean;
  /** The document's Segment has begun (a document cut off before it is truncated). */
  segment: boolean;
}

interface SimpleTagBuilder {
  name: string;
  value: string | Uint8Array;
  offset: number;
  /** Absolute offset of the value leaf's data (-1: none), for the template recording. */
  valueStart: number;
  valueSize: number;
  binary: boolean;
}

/**
 * Synchronous core of the assembler: feed token batches, collect fragments.
 *
 * @example
 * ```ts
 * import { FragmentAssembler } from "./assembler.ts";
 * import { tokenizeBatches } from "../ebml/tokenizer.ts";
 * import type { Fragment } from "./fragment.ts";
 * const asm = new FragmentAssembler();
 * const out: Fragment[] = [];
 * for await (const batch of tokenizeBatches([await Deno.readFile("call.mkv")])) asm.push(batch, out);
 * ```
 */
export class FragmentAssembler implements TokenSink {
  #opts: AssembleOptions;
  #maxBytes: number;
  /** Depth of the open Cluster (-2: none), for unknown elements right in it. */
  #clusterDepth = -2;
  /** Documents begun so far (EBML headers, tokenized or replayed), and as many when the held-back document began. */
  #docCount = 0;
  #markDocCount = 0;
  #index = 0;
  #doc: DocState = newDoc();
  #frag: Fragment | undefined;
  #emitted = false;
  #track: Track | undefined;
  #simpleTags: SimpleTagBuilder[] = [];
  #group: { data?: Uint8Array; offset: number; duration?: number } | undefined;
  #clusterTc = 0;
  /** The fragment's laced frames when its current Cluster began (the limit counts them per Cluster). */
  #clusterLaced = 0;
  #pieces: { chunk: Uint8Array; offset: number }[] = [];
  #nodes: { node: ElementNode; frag: Fragment }[] = [];
  /** The recorded documents (templates); undefined when not used. */
  #cache: PrefixCache | undefined;
  /** The prefix of the document being read, while it is being recorded. */
  #rec: PrefixRecording | undefined;
  /** The chunk being fed and its absolute offset (fused path only). */
  #chunk: Uint8Array | undefined;
  #chunkOffset = 0;
  #taken: PrefixTaken = { bytes: 0, openId: ID.Segment, openOffset: 0, openHeaderSize: 0 };
  /**
   * Where the document in progress began, while none of its fragments has
   * been closed (-1 otherwise), with the fragment index and replay count at
   * that point: what {@linkcode feed} goes back to when holding back.
   */
  #markOffset = -1;
  #markIndex = 0;
  #markHits = 0;
  #markBytes = 0;
  /** Whether documents may be held back: not while keeping raw bytes or trees, nor in eager mode. */
  readonly #holdable: boolean;
  /** Documents whose first bytes were taken from the prefix cache. */
  prefixHits = 0;
  /** Bytes taken from the prefix cache, over all documents (whole documents replayed add their whole size). */
  prefixBytes = 0;

  /** Segment children the recorded template covers (0: none recorded). */
  get templatePoints(): number {
    return this.#cache?.length ?? 0;
  }

  /**
   * Create an assembler expecting the start of an input (fragment index 0).
   *
   * @param options size limit, raw bytes, element trees, eager mode, prefix cache
   */
  constructor(options: AssembleOptions = {}) {
    this.#opts = options;
    this.#maxBytes = options.maxFragmentBytes ?? 64 * 1024 * 1024;
    if (options.prefixCache !== false && !options.tree) this.#cache = new PrefixCache();
    this.#holdable = !options.raw && !options.tree && !options.eager;
  }

  /** Output and end-of-input flag for tokens arriving through {@linkcode token}. */
  #sinkOut: Fragment[] = [];
  #sinkFinal = false;
  /**
   * {@linkcode TokenSink.paused}: set while {@linkcode feed} runs once it has
   * added 64 fragments to `out`, so that a chunk of many tiny fragments is
   * handed on in parts; after a feed, whether that feed paused (the rest of
   * its chunk is to be fed next).
   */
  paused = false;
  /** While feeding: the length of `out` at which to pause (Infinity otherwise). */
  #pauseAt = Infinity;
  /** One reused token for the sink path: the assembler keeps no token objects. */
  #scratch: EbmlToken = {
    kind: "start",
    id: 0,
    name: "",
    type: "master",
    offset: 0,
    headerSize: 0,
    size: 0,
    depth: 0,
    value: undefined,
    truncated: false,
  };

  /**
   * Tokenize `chunk` (at absolute `offset`) with `tokenizer` straight into
   * the assembler — no token objects — appending finished fragments to `out`.
   * Returns how many bytes of `chunk` were used: all of them, unless
   * `holdBack` is set and a document began inside the chunk (after its first
   * byte) and is still in progress at its end. Then everything from that
   * document's first byte on is forgotten (tokenizer included) and must be
   * fed again at the start of the next chunk, where the whole document can be
   * replayed from a recording. The fragments are the same
   * either way. (Not with the `raw`, `tree` or `eager` options: those use all
   * bytes.) Also fewer once it has added 64 fragments to `out` (damaged or
   * hostile input: a real stream's fragment takes kilobytes), with or
   * without `holdBack` ({@linkcode paused} then says so): the rest must then
   * be fed next, after `out` is handed on, so that a chunk's fragments are
   * never all held at once.
   *
   * @example
   * ```ts
   * import { FragmentAssembler } from "./assembler.ts";
   * import { EbmlTokenizer } from "../ebml/tokenizer.ts";
   * import type { Fragment } from "./fragment.ts";
   * const bytes = await Deno.readFile("getmedia.mkv");
   * const tk = new EbmlTokenizer();
   * const asm = new FragmentAssembler();
   * const out: Fragment[] = [];
   * for (let at = 0; at < bytes.length;) {
   *   at += asm.feed(tk, bytes.subarray(at, at + 65536), out, true);
   * }
   * asm.finish(tk, out);
   * ```
   */
  feed(tokenizer: EbmlTokenizer, chunk: Uint8Array, out: Fragment[], holdBack = false): number {
    if (this.#opts.raw && chunk.length > 0) this.#keepPiece(chunk, tokenizer.offset);
    this.#sinkOut = out;
    this.#sinkFinal = false;
    this.#chunk = chunk;
    const chunkOffset = tokenizer.offset;
    this.#chunkOffset = chunkOffset;
    let used: number;
    this.paused = false;
    this.#pauseAt = out.length + FEED_FRAGMENTS;
    try {
      used = tokenizer.push(chunk, this);
    } catch (e) {
      throw this.#sourced(e);
    } finally {
      this.#chunk = undefined;
      this.#pauseAt = Infinity;
    }
    // Hold back the document still in progress when it began inside this
    // chunk (not at its first byte): the caller presents its bytes again at
    // the start of the next chunk, where the whole document can be replayed.
    // (A mark is set only while that document's fragment is open: #close clears it.
    // The next bytes begin with its EBML header, whose start resets the document state.)
    const mark = this.#markOffset;
    if (!holdBack || mark <= chunkOffset || !this.#holdable) return used;
    tokenizer.rewind(mark);
    this.#dropFragment();
    this.#index = this.#markIndex;
    this.#docCount = this.#markDocCount;
    this.prefixHits = this.#markHits;
    this.prefixBytes = this.#markBytes;
    this.#rec = undefined;
    return mark - chunkOffset;
  }

  /** A document began at `offset`, after the fragment before it was closed. */
  #markDocument(offset: number): void {
    // No Cluster or TrackEntry is open at a document's start (one cut off by a held-back document's rewind
    // ended with no token).
    this.#clusterDepth = -2;
    this.#track = undefined;
    this.#markOffset = offset;
    this.#markIndex = this.#index;
    this.#markDocCount = this.#docCount;
    this.#markHits = this.prefixHits;
    this.#markBytes = this.prefixBytes;
  }

  /**
   * After a {@linkcode DataError} at byte `end`: the open fragment as far as
   * it was read, closed as incomplete (`closedBy: "bad-data"`), or undefined
   * when no document had begun (or, in eager mode, it was handed on). A
   * fragment whose KVS continuation token after its Cluster was read before
   * the bad data is whole, though: it comes closed as complete
   * (`closedBy: "continuation-token"`), to be handed on like any other. The
   * assembler takes no more input after an error.
   *
   * @example
   * ```ts
   * import { FragmentAssembler } from "./assembler.ts";
   * const asm = new FragmentAssembler();
   * asm.abandon(0); // undefined: nothing was read
   * ```
   */
  abandon(end: number): Fragment | undefined {
    const f = this.#frag;
    if (f === undefined || this.#emitted) return undefined;
    this.#dropFragment();
    if (f.complete && f.hasTagAfterCluster("AWS_KINESISVIDEO_CONTINUATION_TOKEN")) {
      this.#finish(f, Math.max(end, f.offset), "continuation-token");
      return f;
    }
    f.complete = false;
    this.#finish(f, Math.max(end, f.offset), "bad-data");
    return f;
  }

  /** The KVS fragment number of the fragment being read and not yet handed on, when its tag was read. */
  get openFragmentNumber(): string | undefined {
    const f = this.#frag;
    return f === undefined || this.#emitted ? undefined : f.kvs.fragmentNumber;
  }

  /** Forget the open fragment and what was being built in it. */
  #dropFragment(): void {
    this.#frag = undefined;
    this.#markOffset = -1;
    this.#simpleTags.length = 0;
    this.#group = undefined;
  }

  /**
   * {@linkcode TokenSink}: a document begins at `chunk[start]`. When its bytes
   * repeat a recorded document's (values that may change aside), take them up
   * to the last matching Segment child: replay the recorded effects, reading
   * the values anew.
   */
  prefix(chunk: Uint8Array, start: number, offset: number): PrefixTaken | undefined {
    const cache = this.#cache;
    if (cache === undefined || chunk !== this.#chunk) return undefined;
    const k = cache.match(chunk, start);
    if (k < 0) return undefined;
    const p = cache.point(k);
    // What the EBML start token does…
    if (this.#frag) this.#close(offset, "next-document", this.#sinkOut);
    this.#markDocument(offset);
    this.prefixHits++;
    this.prefixBytes += p.end;
    this.#docCount++;
    this.#doc = {
      docType: p.docType,
      timecodeScale: p.timecodeScale,
      tracks: p.tracks.slice(),
      segmentKnownSize: false,
      segment: true,
    };
    const f = this.#ensureFragment(offset);
    // …and what the elements up to point k did, with the values that may
    // change read from this document.
    const ops = cache.ops;
    for (let i = 0; i < p.opCount; i++) {
      const op = ops[i];
      const at = start + op.dataRel;
      switch (op.kind) {
        case OP_TAG: {
          // A string that did not change is reused; bytes are always this
          // document's own view (no array shared between fragments).
          let value: string | Uint8Array = op.value;
          if (op.binary) value = chunk.subarray(at, at + op.size);
          else if (op.dataRel >= 0 && !cache.same(chunk, at, op.dataRel, op.size)) {
            value = decodeStringAt(chunk, at, op.size);
          }
          this.#addTag(f, { name: op.name, value, position: op.position, offset: offset + op.rel });
          break;
        }
        case OP_CLUSTER:
          f.clusters.push({ offset: offset + op.rel, timecode: 0, blocks: 0 });
          this.#clusterTc = 0;
          this.#clusterLaced = f.blockTable.lacedFrames;
          break;
        case OP_TIMECODE: {
          const v = decodeValueAt("uint", chunk, at, op.size);
          if (typeof v === "number" || typeof v === "bigint") {
            const tc = Number(v);
            const c = f.clusters[f.clusters.length - 1];
            c.timecode = tc;
            if (typeof v === "bigint") c.exactTimecode = v;
            else if (c.exactTimecode !== undefined) delete c.exactTimecode;
            this.#clusterTc = tc;
          }
          break;
        }
        case OP_BLOCK:
          f.blockTable.add(chunk, at, op.size, offset + op.rel, true, this.#clusterTc, f.timecodeScale);
          f.clusters[f.clusters.length - 1].blocks++;
          break;
      }
    }
    // Learn from this document (a new template) when it parted from the
    // recording before its last point, or at a last point that is an
    // unknown-size Cluster (one with another number of blocks). Any other last
    // point that does not repeat (trailing KVS tags whose values change
    // length, such as MILLIS_BEHIND_NOW) is dropped instead, and a full match
    // needs nothing.
    // A match cut short by the end of the chunk says nothing about the rest.
    const n = cache.length;
    if (cache.cut) this.#rec = undefined;
    else if (k + 2 < n || (k + 2 === n && cache.point(k + 1).open)) this.#rec = cache.resume(k, offset);
    else {
      if (k + 2 === n) cache.truncate(k + 1);
      this.#rec = undefined;
    }
    const taken = this.#taken;
    taken.bytes = p.end;
    taken.openOffset = offset + cache.segmentRel;
    taken.openHeaderSize = cache.segmentHeaderSize;
    return taken;
  }

  /** End of input for {@linkcode feed}: flush the tokenizer and the last fragment. */
  finish(tokenizer: EbmlTokenizer, out: Fragment[]): void {
    this.#sinkOut = out;
    this.#sinkFinal = true;
    try {
      tokenizer.end(this);
      this.#endOfInput(tokenizer.offset, out);
    } catch (e) {
      throw this.#sourced(e);
    }
  }

  /** `e`, a DataError given the input's name if it has none (a block's, parsed where no name is known). */
  #sourced(e: unknown): unknown {
    const source = this.#opts.source;
    if (e instanceof DataError && e.source === undefined && source !== undefined) e.withSource(source);
    return e;
  }

  /** {@linkcode TokenSink}: one token, field by field. */
  token(
    kind: TokenKind,
    id: number,
    name: string,
    type: ElementType,
    offset: number,
    headerSize: number,
    size: number,
    depth: number,
    value: EbmlValue | undefined,
    truncated: boolean,
  ): void {
    const t = this.#scratch;
    t.kind = kind;
    t.id = id;
    t.name = name;
    t.type = type;
    t.offset = offset;
    t.headerSize = headerSize;
    t.size = size;
    t.depth = depth;
    t.value = value;
    t.truncated = truncated;
    this.#token(t, this.#sinkFinal, this.#sinkOut);
  }

  /**
   * {@linkcode TokenSink}: a binary leaf whole in the chunk, without a view.
   * SimpleBlocks go straight into the fragment's block table.
   */
  binary(
    id: number,
    name: string,
    offset: number,
    headerSize: number,
    size: number,
    depth: number,
    chunk: Uint8Array,
    start: number,
  ): void {
    if (id === ID.SimpleBlock && !this.#opts.tree) {
      this.#addBlock(chunk, start, size, offset, offset + headerSize, true);
      return;
    }
    this.token(
      "value",
      id,
      name,
      "binary",
      offset,
      headerSize,
      size,
      depth,
      chunk.subarray(start, start + size),
      false,
    );
  }

  /** Process one token batch, appending finished fragments to `out`. */
  push(batch: TokenBatch, out: Fragment[]): void {
    if (this.#opts.raw && batch.chunk.length > 0) this.#keepPiece(batch.chunk, batch.offset);
    const tokens = batch.tokens;
    try {
      for (let i = 0; i < tokens.length; i++) {
        this.#token(tokens[i], batch.final, out);
      }
      if (batch.final) this.#endOfInput(batch.offset, out);
    } catch (e) {
      throw this.#sourced(e);
    }
  }

  /** The input ended at `end`: close the open fragment; an input with no document at all is refused. */
  #endOfInput(end: number, out: Fragment[]): void {
    if (this.#frag) this.#closeAtEnd(end, out);
    else if (this.#index === 0 && this.#opts.strictStart !== false) {
      // Not one byte of a document: an empty file or stdin is no stream either.
      const what = end === 0 ? "the input is empty" : `no EBML header in the input's ${end} bytes`;
      throw new DataError(`${what}: not a Matroska/GetMedia stream`, {
        offset: 0,
        element: "EBML",
        source: this.#opts.source,
      });
    }
  }

  /** Close the open fragment at the end of input (at `end`). */
  #closeAtEnd(end: number, out: Fragment[]): void {
    const f = this.#frag!;
    // A document that ends before its Segment begins holds nothing yet: it was cut off.
    if (!this.#doc.segment) {
      if (f.index === 0 && this.#opts.strictStart !== false) {
        // …and when it is the first, the input holds nothing at all (and no fragment comes with the error).
        this.#dropFragment();
        throw new DataError("the input ends before its first Segment: not a complete Matroska/GetMedia stream", {
          offset: f.offset,
          element: "EBML",
          source: this.#opts.source,
        });
      }
      f.complete = false;
    }
    this.#close(end, "end-of-input", out);
  }

  #token(t: EbmlToken, final: boolean, out: Fragment[]): void {
    if (
      t.truncated && t.kind === "skip" && t.id !== 0 && this.#opts.strictStart !== false &&
      ((t.depth === 1 && this.#doc.segment && !this.#doc.segmentKnownSize && !childOf(t.id, ID.Segment)) ||
        (t.depth === this.#clusterDepth + 1 && !childOf(t.id, ID.Cluster)))
    ) {
      // The input ends inside an element that cannot stand where it was read — in an unknown-size Segment
      // or in a Cluster, an unknown id or one of another parent (every real child is known) — whose declared
      // size runs past the end: a damaged header (one wrong byte can make any id and size, e.g. where the next
      // document should begin), or a block whose data ran on into another body appended to a cut one
      // (`curl >> body.mkv` after a drop), not a cut. Refused, so that the rest of the call is not dropped in
      // silence; a whole fragment before it is still handed on. (A cut inside an unknown element elsewhere,
      // e.g. a Colour child in Tracks, stays a cut.)
      const what = elementById(t.id) === undefined ? "an unknown element" : `an element out of place (${t.name})`;
      throw new DataError(
        `the input ends inside ${what} declared ${t.size} bytes long: damaged data, not a cut`,
        { offset: t.offset, element: t.name, source: this.#opts.source },
      );
    }
    if (t.truncated && this.#frag) this.#frag.complete = false;
    if (this.#rec !== undefined) this.#record(t);
    if (this.#opts.tree && t.kind === "end") this.#treeToken(t);
    switch (t.kind) {
      case "start":
        this.#start(t, out);
        break;
      case "value":
        this.#value(t);
        break;
      case "end":
        this.#end(t, final, out);
        break;
      case "skip":
        if (t.depth === 0 && !t.truncated) {
          throw new DataError(`unknown top-level element: not a Matroska/GetMedia stream`, {
            offset: t.offset,
            element: t.name,
            source: this.#opts.source,
          });
        }
        if (t.depth === 0 && this.#index === 0 && this.#opts.strictStart !== false) {
          // Input that ends inside its very first element (no document began): not a clean end either.
          throw new DataError(`the input ends inside its first element: not a complete Matroska/GetMedia stream`, {
            offset: t.offset,
            element: t.name,
            source: this.#opts.source,
          });
        }
        if (this.#frag && !t.truncated) {
          const f = this.#frag;
          f.unknownElements++;
          if (f.unknownInSegment === undefined && (t.depth === 1 || t.depth === this.#clusterDepth + 1)) {
            const parent = t.depth === 1 ? "Segment" : "Cluster";
            f.unknownInSegment = { offset: t.offset, size: t.headerSize + t.size, id: t.id, parent };
          }
        }
        break;
    }
    if (this.#opts.tree && t.kind !== "end") this.#treeToken(t);
  }

  /**
   * Follow the document being recorded: a point after each Segment child,
   * kept when the Segment ends; given up on anything unusual. (The effects
   * are recorded where they happen: #start, #value, #end, #addBlock.)
   */
  #record(t: EbmlToken): void {
    const rec = this.#rec!;
    if (t.truncated || t.kind === "skip") {
      this.#rec = undefined;
      return;
    }
    if (t.depth === 0) {
      // The EBML header and the Segment are all a document holds at the top.
      if (t.kind === "start" && t.id === ID.Segment && t.size === -1 && rec.segmentRel < 0) {
        rec.segment(t.offset, t.headerSize);
      } else if (t.kind === "end" && t.id === ID.Segment && rec.segmentRel >= 0) {
        if (this.#chunk !== undefined) this.#cache!.store(rec, this.#chunk, this.#chunkOffset);
        this.#rec = undefined;
      } else if (!(t.id === ID.EBML && rec.segmentRel < 0 && t.kind === "end")) {
        this.#rec = undefined;
      }
      return;
    }
    const unused = t.kind === "value" && !USED_LEAVES.has(t.id);
    if (unused) rec.ignore(t.offset + t.headerSize, t.size);
    if (rec.segmentRel < 0 || t.depth !== 1) return;
    if (t.kind === "start") rec.openChild = t.size === -1;
    else if (t.kind === "end" || unused) {
      // After a master child, or a leaf child whose value nothing uses (Void).
      rec.point(t.offset + t.headerSize + t.size, this.#doc, t.kind === "end" && rec.openChild);
    } else if (t.kind === "value") {
      this.#rec = undefined;
    }
  }

  /** The document state changed: after the first effect, a replay could not order it (stop recording points). */
  #docChanged(): void {
    const rec = this.#rec;
    if (rec !== undefined && rec.ops.length > 0) rec.full = true;
  }

  #ensureFragment(offset: number): Fragment {
    if (this.#frag) return this.#frag;
    const f = new Fragment(this.#index++, offset);
    this.#tagBytes = 0;
    this.#treeNodes = 0;
    f.docType = this.#doc.docType;
    f.document = this.#docCount > 0 ? this.#docCount - 1 : 0;
    f.timecodeScale = this.#doc.timecodeScale;
    f.tracks = this.#doc.tracks;
    if (this.#opts.tree) f.tree = [];
    this.#frag = f;
    this.#emitted = false;
    return f;
  }

  #start(t: EbmlToken, out: Fragment[]): void {
    if ((t.id === ID.EBML || t.id === ID.Segment) && t.depth > 0) {
      // Only the top level holds these: an element around it declared a size that runs over the next
      // document (one damaged byte), which would hide every fragment after it in that element.
      const what = t.id === ID.EBML ? "an EBML header" : "a Segment";
      throw new DataError(`${what} inside another element: the size of an element before it is damaged`, {
        offset: t.offset,
        element: t.name,
        source: this.#opts.source,
      });
    }
    switch (t.id) {
      case ID.EBML:
        if (t.depth === 0) {
          if (this.#frag) this.#close(t.offset, "next-document", out);
          this.#markDocument(t.offset);
          this.#docCount++;
          this.#doc = newDoc();
          this.#ensureFragment(t.offset);
          if (this.#cache !== undefined) this.#rec = new PrefixRecording(t.offset);
        }
        return;
      case ID.Segment:
        if (t.depth === 0) {
          this.#ensureFragment(t.offset);
          this.#doc.segmentKnownSize = t.size !== -1;
          this.#doc.segment = true;
        }
        return;
      case ID.Cluster: {
        this.#clusterDepth = t.depth;
        let f = this.#ensureFragment(t.offset);
        if (
          f.clusters.length > 0 &&
          (this.#doc.segmentKnownSize || t.offset - f.offset >= this.#maxBytes ||
            f.clusters.length >= LIMITS.clusters || f.blockTable.length >= LIMITS.splitBlocks ||
            f.blockTable.lacedFrames >= LIMITS.splitBlocks)
        ) {
          this.#close(t.offset, "next-cluster", out);
          f = this.#ensureFragment(t.offset);
          this.#rec = undefined;
        }
        f.clusters.push({ offset: t.offset, timecode: 0, blocks: 0 });
        this.#clusterTc = 0;
        this.#clusterLaced = f.blockTable.lacedFrames;
        if (this.#rec !== undefined) {
          // Eager mode emits at the trailing Tags: a replay could not; record up to here only.
          if (this.#opts.eager) this.#rec.full = true;
          else this.#rec.op(OP_CLUSTER, t.offset, -1, 0);
        }
        return;
      }
      case ID.TrackEntry:
        this.#track = { number: 0 };
        return;
      case ID.Audio:
        if (this.#track) this.#track.audio = {};
        return;
      case ID.ContentEncodings:
        if (this.#track) this.#track.encoded = true;
        return;
      case ID.SimpleTag:
        this.#simpleTags.push({ name: "", value: "", offset: t.offset, valueStart: -1, valueSize: 0, binary: false });
        return;
      case ID.BlockGroup:
        this.#group = { offset: t.offset };
        return;
      default:
        if (t.depth === 0) this.#ensureFragment(t.offset);
    }
  }

  #value(t: EbmlToken): void {
    const v = t.value;
    switch (t.id) {
      case ID.SimpleBlock: {
        const data = v as Uint8Array;
        this.#addBlock(data, 0, data.length, t.offset, t.offset + t.headerSize, true);
        return;
      }
      case ID.Timecode: {
        const f = this.#frag;
        if (f && f.clusters.length > 0) {
          if (typeof v === "number" || typeof v === "bigint") {
            // Past 2^53 (epoch times at a fine TimecodeScale) to the nearest double: a tick or two off.
            const tc = Number(v);
            const c = f.clusters[f.clusters.length - 1];
            c.timecode = tc;
            if (typeof v === "bigint") c.exactTimecode = v;
            else if (c.exactTimecode !== undefined) delete c.exactTimecode;
            this.#clusterTc = tc;
          }
          if (this.#rec !== undefined) {
            this.#rec.op(OP_TIMECODE, t.offset, t.offset + t.headerSize, t.size);
            this.#rec.ignore(t.offset + t.headerSize, t.size);
          }
        }
        return;
      }
      case ID.TagName:
      case ID.TagString:
      case ID.TagBinary: {
        const st = this.#simpleTags[this.#simpleTags.length - 1];
        if (!st) return;
        if (t.id === ID.TagName) st.name = connectTagName(v as string);
        else {
          st.value = v as string | Uint8Array;
          if (this.#rec !== undefined) {
            st.valueStart = t.offset + t.headerSize;
            st.valueSize = t.size;
            st.binary = t.id === ID.TagBinary;
            this.#rec.ignore(st.valueStart, t.size);
          }
        }
        return;
      }
      case ID.Block:
        if (this.#group) this.#group.data = v as Uint8Array;
        return;
      case ID.BlockDuration:
        if (this.#group && typeof v === "number") this.#group.duration = v;
        return;
      case ID.DocType:
        this.#docChanged();
        this.#doc.docType = v as string;
        if (this.#frag) this.#frag.docType = v as string;
        return;
      case ID.TimecodeScale:
        this.#docChanged();
        if (typeof v === "number" && v > 0) {
          this.#doc.timecodeScale = v;
          if (this.#frag) this.#frag.timecodeScale = v;
        }
        return;
    }
    const tr = this.#track;
    if (!tr) return;
    switch (t.id) {
      case ID.TrackNumber:
        tr.number = Number(v);
        return;
      case ID.TrackUID:
        tr.uid = v as number | bigint;
        return;
      case ID.TrackType:
        tr.type = Number(v);
        return;
      case ID.Name:
        tr.name = v as string;
        return;
      case ID.CodecID:
        tr.codecId = v as string;
        return;
      case ID.CodecPrivate:
        // A copy: tracks outlive the input chunk (one document, many Cluster fragments).
        tr.codecPrivate = (v as Uint8Array).slice();
        return;
      case ID.SamplingFrequency:
        if (tr.audio) tr.audio.samplingFrequency = v as number;
        return;
      case ID.Channels:
        if (tr.audio) tr.audio.channels = Number(v);
        return;
      case ID.BitDepth:
        if (tr.audio) tr.audio.bitDepth = Number(v);
        return;
    }
  }

  /**
   * Add a block of the current Cluster (ignored outside a Cluster); its data
   * is `buf[start … start + len)`, at absolute `dataOffset`.
   */
  #addBlock(
    buf: Uint8Array,
    start: number,
    len: number,
    offset: number,
    dataOffset: number,
    simple: boolean,
    duration?: number,
  ): void {
    const f = this.#frag;
    if (!f || f.clusters.length === 0) return;
    if (f.clusters[f.clusters.length - 1].blocks >= LIMITS.blocks) {
      throw this.#tooMuch(
        `more than ${LIMITS.blocks} blocks in one Cluster`,
        offset,
        simple ? "SimpleBlock" : "Block",
      );
    }
    f.blockTable.add(buf, start, len, offset, simple, this.#clusterTc, f.timecodeScale, duration);
    f.clusters[f.clusters.length - 1].blocks++;
    // (Counted per Cluster, as blocks are: an unknown-size Segment is split between Clusters at this many.)
    if (f.blockTable.lacedFrames - this.#clusterLaced > LIMITS.lacedFrames) {
      throw this.#tooMuch(
        `more than ${LIMITS.lacedFrames} laced frames in one Cluster`,
        offset,
        simple ? "SimpleBlock" : "Block",
      );
    }
    const rec = this.#rec;
    if (rec !== undefined) {
      if (simple) {
        rec.op(OP_BLOCK, offset, dataOffset, len);
        rec.ignore(dataOffset, len);
      } else rec.full = true; // BlockGroups are not replayed
    }
  }

  #end(t: EbmlToken, final: boolean, out: Fragment[]): void {
    switch (t.id) {
      case ID.Cluster:
        this.#clusterDepth = -2;
        return;
      case ID.TrackEntry: {
        const tr = this.#track;
        this.#track = undefined;
        if (tr && tr.number > 0 && !t.truncated) {
          // Blocks name their track by number: two tracks of one number but another name (two directions of a
          // call) or codec would put one track's audio in both, or take it by whichever came first. (The same TrackEntry again, as a Tracks element given
          // twice holds it, changes nothing.)
          const same = this.#doc.tracks.find((x) => x.number === tr.number);
          if (same !== undefined && ((same.name ?? "") !== (tr.name ?? "") || same.codecId !== tr.codecId)) {
            const label = (x: Track) =>
              JSON.stringify(x.name ?? "") + (x.codecId ? ` ${JSON.stringify(x.codecId)}` : "");
            throw new DataError(
              `two TrackEntries have TrackNumber ${tr.number} (${label(same)} and ${label(tr)}): damaged data`,
              { offset: t.offset, element: t.name, source: this.#opts.source },
            );
          }
          this.#docChanged();
          this.#doc.tracks.push(tr);
        }
        return;
      }
      case ID.SimpleTag: {
        const st = this.#simpleTags.pop();
        const f = this.#frag;
        if (!st || !f || t.truncated) return;
        const tag: Tag = {
          name: st.name,
          value: st.value,
          position: f.clusters.length > 0 ? "after" : "before",
          offset: st.offset,
        };
        this.#addTag(f, tag);
        this.#rec?.op(OP_TAG, st.offset, st.valueStart, st.valueSize, {
          name: st.name,
          value: st.value,
          binary: st.binary,
          position: tag.position,
        });
        return;
      }
      case ID.BlockGroup: {
        const g = this.#group;
        this.#group = undefined;
        if (!g || !g.data || t.truncated) return;
        // (#addBlock ignores a block outside a Cluster.)
        this.#addBlock(g.data, 0, g.data.length, g.offset, -1, false, g.duration);
        return;
      }
      case ID.Tags: {
        const f = this.#frag;
        if (
          this.#opts.eager && f && !this.#emitted && t.depth === 1 &&
          !this.#doc.segmentKnownSize &&
          f.clusters.length > 0 && f.kvs.continuationToken !== undefined
        ) {
          const end = t.offset + t.headerSize + t.size;
          this.#finish(f, end, "continuation-token");
          this.#emit(f, out);
          // Anything later in this document goes to a detached fragment that is
          // dropped at the document's end: the emitted one never changes.
          const late = new Fragment(f.index, end);
          late.tracks = f.tracks;
          late.clusters = f.clusters.slice();
          this.#frag = late;
          this.#emitted = true;
        }
        return;
      }
      case ID.Segment:
        if (t.depth === 0 && this.#frag) {
          const by: ClosedBy = this.#doc.segmentKnownSize ? "segment-end" : final ? "end-of-input" : "next-document";
          this.#close(t.offset + t.headerSize + t.size, by, out);
        }
        return;
    }
  }

  #finish(f: Fragment, end: number, by: ClosedBy): void {
    // The fragment keeps the tracks as they are now (a later TrackEntry of the
    // same document must not change a fragment already handed on).
    f.tracks = f.tracks.slice();
    f.size = end - f.offset;
    f.closedBy = by;
    if (this.#opts.raw) f.raw = this.#rawBytes(f.offset, end);
  }

  #close(end: number, by: ClosedBy, out: Fragment[]): void {
    const f = this.#frag!;
    // Documents with no Segment (an EBML header alone, as a body cut right after it leaves) are no more than a
    // few in a row in any real input; thousands of 5-byte ones would each cost a fragment object.
    this.#emptyDocs = this.#doc.segment ? 0 : this.#emptyDocs + 1;
    if (this.#emptyDocs > LIMITS.emptyDocs) {
      throw this.#tooMuch(`more than ${LIMITS.emptyDocs} documents in a row with no Segment`, f.offset, "EBML");
    }
    this.#dropFragment();
    if (this.#emitted) return;
    this.#finish(f, end, by);
    this.#emit(f, out);
  }

  /** Hand on `f`: into `out`, pausing a feed that has added enough. */
  #emit(f: Fragment, out: Fragment[]): void {
    if (out.push(f) >= this.#pauseAt) this.paused = true;
  }

  /** Documents with no Segment closed in a row (see LIMITS). */
  #emptyDocs = 0;

  /** Bytes of tag values and element-tree nodes of the open fragment (see LIMITS). */
  #tagBytes = 0;
  #treeNodes = 0;

  /**
   * Add a tag to the open fragment, within LIMITS (the same accounting whether
   * the document was tokenized or replayed, so any chunking gives the same).
   */
  #addTag(f: Fragment, tag: Tag): void {
    this.#tagBytes += tag.value.length;
    if (f.tags.length >= LIMITS.tags || this.#tagBytes > LIMITS.tagBytes) {
      throw this.#tooMuch(
        f.tags.length >= LIMITS.tags
          ? `more than ${LIMITS.tags} SimpleTags in one fragment`
          : `more than ${LIMITS.tagBytes} bytes of tag values in one fragment`,
        tag.offset,
        "SimpleTag",
      );
    }
    f.tags.push(tag);
  }

  /** The DataError for a fragment past one of LIMITS. */
  #tooMuch(what: string, offset: number, element: string): DataError {
    return new DataError(`${what}: not a Connect stream's fragment (damaged input?)`, {
      offset,
      element,
      source: this.#opts.source,
    });
  }

  /**
   * Keep `chunk` (at `offset`) for `raw`: the part not kept already (the
   * rest of a chunk fed again after a pause is).
   */
  #keepPiece(chunk: Uint8Array, offset: number): void {
    const last = this.#pieces.at(-1);
    const kept = last === undefined ? 0 : last.offset + last.chunk.length - offset;
    if (kept <= 0) this.#pieces.push({ chunk, offset });
    else if (kept < chunk.length) this.#pieces.push({ chunk: chunk.subarray(kept), offset: offset + kept });
  }

  #rawBytes(start: number, end: number): Uint8Array {
    const raw = new Uint8Array(end - start);
    const keep: { chunk: Uint8Array; offset: number }[] = [];
    for (const p of this.#pieces) {
      const pEnd = p.offset + p.chunk.length;
      const s = Math.max(start, p.offset);
      const e = Math.min(end, pEnd);
      if (e > s) {
        raw.set(p.chunk.subarray(s - p.offset, e - p.offset), s - start);
      }
      if (pEnd > end) keep.push(p);
    }
    this.#pieces = keep;
    return raw;
  }

  #treeToken(t: EbmlToken): void {
    const f = this.#frag;
    if (!f || !f.tree) return;
    const stack = this.#nodes;
    if (t.kind === "end") {
      for (let i = stack.length - 1; i >= 0; i--) {
        if (stack[i].node.offset === t.offset && stack[i].node.id === t.id) {
          const { node } = stack[i];
          node.size = t.size;
          if (t.truncated) node.truncated = true;
          stack.length = i;
          break;
        }
      }
      return;
    }
    if (++this.#treeNodes > LIMITS.treeNodes) {
      throw this.#tooMuch(`more than ${LIMITS.treeNodes} elements in one fragment's tree`, t.offset, t.name);
    }
    const node: ElementNode = {
      name: t.name,
      id: t.id,
      offset: t.offset,
      headerSize: t.headerSize,
      size: t.size,
      unknownSize: t.size === -1,
    };
    if (t.kind === "value") node.value = t.value;
    if (t.kind === "skip") {
      if (t.truncated) node.truncated = true;
      else node.unknownElement = true;
    }
    if (t.kind === "start") node.children = [];
    while (stack.length > t.depth) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent && parent.frag === f) parent.node.children!.push(node);
    else f.tree.push(node);
    if (t.kind === "start") stack.push({ node, frag: f });
  }
}

/** Fragments {@linkcode FragmentAssembler.feed} adds to `out` before it pauses. */
const FEED_FRAGMENTS = 64;

/**
 * What one fragment may hold, so that memory stays bounded by its bytes and
 * not by how many tiny elements damaged input packs into them (a Connect
 * fragment has ~15 tags, 1 Cluster, 32 blocks; a Cluster spans at most
 * 65,536 of its timecode units, so 65,536 blocks of audio in one is far past
 * any real stream). Past a limit the input is
 * refused as bad data; an unknown-size Segment is split at the next Cluster
 * instead once a fragment holds `clusters` Clusters or `splitBlocks` blocks (or laced frames),
 * as `maxFragmentBytes` does (so only one Cluster can reach `blocks`).
 */
const LIMITS = {
  tags: 4096,
  tagBytes: 16 * 1024 * 1024,
  clusters: 4096,
  splitBlocks: 1 << 16,
  blocks: 1 << 16,
  lacedFrames: 1 << 16,
  treeNodes: 1 << 18,
  emptyDocs: 16,
} as const;

/** Leaves whose values the assembler uses (without `tree`); other leaves' data never matters to it. */
const USED_LEAVES: ReadonlySet<number> = new Set([
  ID.SimpleBlock,
  ID.Block,
  ID.BlockDuration,
  ID.Timecode,
  ID.TagName,
  ID.TagString,
  ID.TagBinary,
  ID.DocType,
  ID.TimecodeScale,
  ID.TrackNumber,
  ID.TrackUID,
  ID.TrackType,
  ID.Name,
  ID.CodecID,
  ID.CodecPrivate,
  ID.SamplingFrequency,
  ID.Channels,
  ID.BitDepth,
]);

function newDoc(): DocState {
  return { timecodeScale: 1000000, tracks: [], segmentKnownSize: false, segment: false };
}

/**
 * Assemble fragments from token batches (the output of `tokenizeBatches`).
 * Give both stages the same `source`: the tokenizer names the input in its
 * errors, the assembler in its own (an unknown top-level element, …).
 *
 * @example
 * ```ts
 * import { fragmentsFromTokens } from "./assembler.ts";
 * import { tokenizeBatches } from "../ebml/tokenizer.ts";
 * const bytes = await Deno.readFile("getmedia.mkv");
 * const source = "getmedia.mkv";
 * for await (const f of fragmentsFromTokens(tokenizeBatches([bytes], { source }), { source })) {
 *   console.log(f.kvs.fragmentNumber);
 * }
 * ```
 */
export async function* fragmentsFromTokens(
  batches: AsyncIterable<TokenBatch>,
  options: AssembleOptions = {},
): AsyncGenerator<Fragment> {
  const asm = new FragmentAssembler(options);
  yield* drive(batches, asm, (batch, out) => asm.push(batch, out));
}

/**
 * Run `step` on each input, yielding the fragments it completes. A step may
 * return the part of its input it left (see {@linkcode FragmentAssembler.feed}):
 * that is stepped on next, once the fragments are handed on. When a step
 * throws, the fragments it completed before the error are whole: they are
 * handed on first, then the error is rethrown; a DataError (also one of the
 * inputs) carries the open fragment as far as it was read.
 */
async function* drive<T>(
  inputs: AsyncIterable<T> | Iterable<T>,
  asm: FragmentAssembler,
  step: (input: T, out: Fragment[]) => T | void,
): AsyncGenerator<Fragment> {
  const out: Fragment[] = [];
  try {
    for await (const input of inputs) {
      let rest: T | void = input;
      do {
        try {
          rest = step(rest, out);
        } catch (e) {
          yield* out;
          throw e;
        }
        if (out.length > 0) {
          yield* out;
          out.length = 0;
        }
      } while (rest !== undefined);
    }
  } catch (e) {
    // Also for an error of the inputs (a tokenizer stage before this one).
    if (e instanceof DataError && e.fragment === undefined) {
      const f = asm.abandon(e.offset);
      // Whole before the bad data began (KVS's tags after its Cluster read): handed on like any other.
      if (f !== undefined && f.complete) yield f;
      else e.fragment = f;
    } else if (typeof e === "object" && e !== null) {
      const n = asm.openFragmentNumber;
      if (n !== undefined) openAtError.set(e, n);
    }
    throw e;
  }
}

/** The fragment number of the fragment open when an input error (a dropped connection) ended assembling. */
const openAtError = new WeakMap<object, string>();

/**
 * The fragment number of the fragment whose bytes were coming when `e`, an
 * error of the input (not bad data), ended {@linkcode assembleFragments}:
 * the fragment a dropped connection cut off, if its number had been read.
 *
 * @example
 * ```ts
 * import { assembleFragments, fragmentOpenAt } from "./assembler.ts";
 * async function* dropped() {
 *   yield new Uint8Array(0);
 *   throw new Error("ECONNRESET");
 * }
 * try {
 *   for await (const f of assembleFragments(dropped())) console.log(f.index);
 * } catch (e) {
 *   fragmentOpenAt(e); // undefined: no fragment had begun
 * }
 * ```
 */
export function fragmentOpenAt(e: unknown): string | undefined {
  return typeof e === "object" && e !== null ? openAtError.get(e) : undefined;
}

/**
 * A byte source that can take back the end of the chunk it gave last: after
 * `unread(n)`, its next chunk begins with those `n` bytes again. Given one,
 * {@linkcode assembleFragments} holds back a document that a chunk cuts
 * short, so that documents lie whole in one chunk and can be replayed (see
 * {@linkcode FragmentAssembler.feed}); the fragments are the same either way.
 *
 * @example
 * ```ts
 * import type { RereadableSource } from "./assembler.ts";
 * function rereadable(bytes: Uint8Array, size: number): RereadableSource {
 *   let at = 0;
 *   let back = 0;
 *   return {
 *     unread(n) { back = n; },
 *     async *[Symbol.asyncIterator]() {
 *       for (;;) {
 *         at -= back;
 *         back = 0;
 *         if (at >= bytes.length) return;
 *         const chunk = bytes.subarray(at, at + size);
 *         at += chunk.length;
 *         yield chunk;
 *       }
 *     },
 *   };
 * }
 * ```
 */
export interface RereadableSource extends AsyncIterable<Uint8Array> {
  /**
   * The last `bytes` bytes of the last chunk were not used: give them again,
   * first in the next chunk. Fewer than the chunk's length (each chunk is
   * used at least in part).
   */
  unread(bytes: number): void;
}

/**
 * Assemble fragments straight from a byte source (tokenizer included).
 * Data errors carry the `source` name, the byte offset and the element.
 * Fragments keep views into the source's chunks: a chunk must not change
 * once yielded (see {@linkcode ByteSource}).
 *
 * @example
 * ```ts
 * import { assembleFragments } from "./assembler.ts";
 * const file = await Deno.open("getmedia.mkv");
 * for await (const f of assembleFragments(file.readable)) console.log(f.blocks.length);
 * ```
 */
export async function* assembleFragments(
  source: ByteSource | RereadableSource,
  options: AssembleOptions = {},
): AsyncGenerator<Fragment> {
  // The tokenizer feeds the assembler directly (the same tokens as
  // tokenizeBatches → fragmentsFromTokens, without a token object each).
  const tokenizer = new EbmlTokenizer(options);
  const asm = new FragmentAssembler(options);
  const reread = "unread" in source && typeof source.unread === "function" ? source : undefined;
  yield* drive(source, asm, (chunk, out) => {
    const used = asm.feed(tokenizer, chunk, out, reread !== undefined);
    if (used === chunk.length) return;
    // A document held back is given again by the source, first in its next
    // chunk. After a pause (many tiny fragments) the rest of this chunk is fed
    // next.
    if (reread !== undefined && !asm.paused) reread.unread(chunk.length - used);
    else return chunk.subarray(used);
  });
  yield* drive([undefined], asm, (_, out) => asm.finish(tokenizer, out));
}

/** Whether an element of id `id` may stand right inside a master of id `parent` (globals such as Void may). */
function childOf(id: number, parent: number): boolean {
  const def = elementById(id);
  return def !== undefined && (def.global || def.parents.includes(parent));
}

/**
 * Connect's tag names as Connect spells them, in whatever case they came:
 * ffmpeg's `-c copy` writes them upper-cased (`CONTACTID`, `MIMETYPE`), which
 * would otherwise lose the call's contact and format.
 */
function connectTagName(name: string): string {
  if (name.length === 9 && name !== "ContactId" && name.toLowerCase() === "contactid") return "ContactId";
  if (name.length === 8 && name !== "MimeType" && name.toLowerCase() === "mimetype") return "MimeType";
  return name;
}
