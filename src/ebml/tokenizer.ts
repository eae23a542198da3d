/**
 * The EBML tokenizer: bytes in, typed tokens out, in chunks of any size.
 *
 * `EbmlTokenizer` is the synchronous core (push a chunk, collect tokens);
 * {@linkcode tokenizeBatches} and {@linkcode tokenize} wrap it as async
 * generators over an async iterable of `Uint8Array` chunks.
 *
 * Guarantees:
 * - element boundaries come from sizes only, never from scanning for magic
 *   bytes, so `1A 45 DF A3` inside PCM is just data;
 * - unknown-size masters end by the Matroska rule: at the first element that
 *   cannot be their descendant, at the end of a known-size ancestor, or at
 *   end of input;
 * - at most the current leaf element is buffered, and only the bytes that
 *   really arrived (never a declared size); a leaf that lies whole inside one
 *   chunk is passed on as a view of that chunk, not a copy; Void padding is
 *   skipped, never kept (its token's value is empty);
 * - bad input raises {@linkcode DataError} naming the byte offset and element.
 *
 * @example
 * ```ts
 * import { tokenize } from "./tokenizer.ts";
 * const bytes = new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 0x84, 0x42, 0x86, 0x81, 0x01]);
 * for await (const t of tokenize([bytes])) console.log(t.kind, t.name, t.value);
 * // start EBML undefined / value EBMLVersion 1 / end EBML undefined
 * ```
 * @module
 */

import { DataError } from "../errors.ts";
import { decodeValueAt } from "./decode.ts";
import { canDescend, elementById, type ElementDef, type ElementType } from "./elements.ts";
import type { EbmlToken, EbmlValue, TokenBatch, TokenKind, TokenSink } from "./token.ts";
import { formatId, readId, readSize, UNKNOWN_SIZE } from "./vint.ts";

/** Options of the tokenizer. */
export interface TokenizerOptions {
  /** Deepest nesting accepted before the input is rejected (default 64). */
  maxDepth?: number;
  /**
   * Largest value copied together from several chunks, in bytes (default
   * 16 MiB): once more of one has arrived, the input is rejected, so memory
   * stays bounded whatever the input holds; so is input that ends inside
   * such a value (it could never have been taken). A value lying whole in
   * one chunk is read in place, whatever its size. Unknown elements and Void
   * are skipped at any size.
   */
  maxValueBytes?: number;
  /** Input name used in error messages (a file path, `-`, a stream name). */
  source?: string;
}

/** A master whose end has not been reached (its fields as on its tokens). */
interface OpenMaster extends Pick<EbmlToken, "id" | "name" | "offset" | "headerSize" | "depth"> {
  /** Absolute end for a known size, -1 when unknown. */
  end: number;
  /** Nearest known end of this master or any ancestor (Infinity if none). */
  limit: number;
}

/** A leaf whose data spans chunks (its fields as on its token). */
interface PendingLeaf extends Pick<EbmlToken, "id" | "name" | "type" | "offset" | "headerSize" | "size" | "depth"> {
  parts: Uint8Array[];
  got: number;
  /** Skip the data instead of keeping it. */
  skip: boolean;
}

const EMPTY = new Uint8Array(0);

/**
 * Synchronous EBML tokenizer. Feed chunks with {@linkcode push}, then call
 * {@linkcode end} once at end of input. Chunks must not be modified after
 * they are pushed: binary values may be views into them.
 *
 * @example
 * ```ts
 * import { EbmlTokenizer } from "./tokenizer.ts";
 * import type { EbmlToken } from "./token.ts";
 * const tk = new EbmlTokenizer();
 * const out: EbmlToken[] = [];
 * tk.push(new Uint8Array([0xec, 0x82]), out); // a Void element's header…
 * tk.push(new Uint8Array([0, 0]), out);        // …and its data
 * tk.end(out);
 * out.map((t) => t.name); // ["Void"]
 * ```
 */
export class EbmlTokenizer {
  #pos = 0;
  #stack: OpenMaster[] = [];
  #leaf: PendingLeaf | undefined;
  #carry = new Uint8Array(16);
  #carryLen = 0;
  #maxDepth: number;
  #maxValue: number;
  #source?: string;
  #ended = false;
  /** Name of the leaf #startElement returned (its table name, or the hex id of an unknown one). */
  #leafName = "";

  /**
   * Create a tokenizer positioned at absolute offset 0, with nothing open.
   *
   * @param options depth and value-size limits, input name for error messages
   */
  constructor(options: TokenizerOptions = {}) {
    this.#maxDepth = options.maxDepth ?? 64;
    this.#maxValue = options.maxValueBytes ?? MAX_VALUE_BYTES;
    this.#source = options.source;
  }

  /** Absolute offset of the next byte the tokenizer expects. */
  get offset(): number {
    return this.#pos + this.#carryLen;
  }

  /** Current nesting depth (number of open masters). */
  get depth(): number {
    return this.#stack.length;
  }

  /**
   * Go back to absolute `offset`, the start of a top-level element seen
   * earlier, forgetting everything after it: the next byte pushed is the
   * one at `offset`, with nothing open (the state the tokenizer was in just
   * before that element's header). The caller re-pushes the bytes from
   * there; a consumer that got tokens past `offset` must forget them too.
   *
   * @example
   * ```ts
   * import { EbmlTokenizer } from "./tokenizer.ts";
   * import type { EbmlToken } from "./token.ts";
   * const tk = new EbmlTokenizer();
   * const out: EbmlToken[] = [];
   * tk.push(new Uint8Array([0xec, 0x80, 0xec]), out); // a Void, then a header byte
   * tk.rewind(2);                                      // back to the second Void
   * tk.push(new Uint8Array([0xec, 0x80]), out);
   * out.length; // 2
   * ```
   */
  rewind(offset: number): void {
    if (this.#ended) throw new Error("EbmlTokenizer: rewind() after end()");
    if (!(offset >= 0 && offset <= this.offset)) {
      throw new RangeError(`EbmlTokenizer: cannot rewind to ${offset} (next byte is ${this.offset})`);
    }
    this.#pos = offset;
    this.#stack.length = 0;
    this.#leaf = undefined;
    this.#carryLen = 0;
  }

  /**
   * Tokenize `chunk`, passing completed tokens to `sink`: appended to an
   * array, or given field by field to a {@linkcode TokenSink}. Returns how
   * many bytes of `chunk` were used: all of them, unless the sink asked to
   * pause (see {@linkcode TokenSink.paused}); then the rest must be pushed
   * next, as a chunk of its own.
   */
  push(chunk: Uint8Array, sink: EbmlToken[] | TokenSink): number {
    if (this.#ended) throw new Error("EbmlTokenizer: push() after end()");
    if (!(chunk instanceof Uint8Array)) throw notAChunk(chunk);
    const out = toSink(sink);
    const len = chunk.length;
    const stack = this.#stack;
    let i = 0;
    for (;;) {
      const leaf = this.#leaf;
      if (leaf !== undefined) {
        const avail = len - i;
        if (avail === 0) return len;
        const need = leaf.size - leaf.got;
        const take = need < avail ? need : avail;
        // A leaf spanning chunks: keep a copy of what arrived so far (bounded
        // by the bytes received, never by the declared size, and by maxValueBytes).
        if (!leaf.skip) {
          if (leaf.got + take > this.#maxValue) throw this.#tooBig(leaf.name, leaf.size, leaf.offset);
          leaf.parts.push(chunk.slice(i, i + take));
        }
        leaf.got += take;
        i += take;
        this.#pos += take;
        if (leaf.got === leaf.size) {
          this.#leaf = undefined;
          this.#finishLeaf(leaf, out);
        }
        continue;
      }
      if (stack.length > 0 && stack[stack.length - 1].limit <= this.#pos) this.#closeEnded(out);
      if (i >= len) return len;
      // Between elements, nothing half read: the sink may take a breath here.
      if (out.paused === true && i > 0) return i;

      // Element header (id + size). Fast path: the whole header is in this chunk.
      let id: number;
      let size: number;
      let hs: number;
      if (this.#carryLen === 0) {
        const b0 = chunk[i];
        const idw = b0 >= 0x80 ? 1 : b0 >= 0x40 ? 2 : b0 >= 0x20 ? 3 : b0 >= 0x10 ? 4 : 0;
        if (idw === 0) throw this.#badId(b0);
        if (i + idw >= len) {
          this.#carry.set(chunk.subarray(i, len), 0);
          this.#carryLen = len - i;
          return len;
        }
        id = b0;
        for (let k = 1; k < idw; k++) id = id * 256 + chunk[i + k];
        if (reservedId(id, idw)) throw this.#reserved(id);
        const s0 = chunk[i + idw];
        if (s0 === 0) throw this.#badSize(id);
        const sw = Math.clz32(s0) - 23;
        hs = idw + sw;
        if (i + hs > len) {
          this.#carry.set(chunk.subarray(i, len), 0);
          this.#carryLen = len - i;
          return len;
        }
        const mask = (0x80 >> (sw - 1)) - 1;
        size = s0 & mask;
        let ones = size === mask;
        for (let k = idw + 1; k < hs; k++) {
          const b = chunk[i + k];
          if (b !== 0xff) ones = false;
          size = size * 256 + b;
        }
        if (ones) size = UNKNOWN_SIZE;
        i += hs;
        // Fast lane: a SimpleBlock whole in this chunk, straight in a Cluster
        // and inside its limits (what #startElement would accept as is).
        if (id === SIMPLE_BLOCK_ID && size > 0 && i + size <= len && out.binary !== undefined) {
          const top = stack[stack.length - 1];
          const offset = this.#pos;
          if (top !== undefined && top.id === CLUSTER_ID && offset + hs + size <= top.limit) {
            out.binary(SIMPLE_BLOCK_ID, "SimpleBlock", offset, hs, size, stack.length, chunk, i);
            this.#pos = offset + hs + size;
            i += size;
            continue;
          }
        }
        if (id === EBML_ID && out.prefix !== undefined) {
          const taken = this.#prefix(chunk, i - hs, out);
          if (taken > 0) {
            i += taken - hs;
            continue;
          }
        }
      } else {
        // Slow path: the header started in an earlier chunk.
        const carried = this.#carryLen;
        const n = Math.min(12 - carried, len - i);
        this.#carry.set(chunk.subarray(i, i + n), carried);
        const end = carried + n;
        let idv, sizev;
        try {
          idv = readId(this.#carry, 0, end);
        } catch {
          throw this.#badId(this.#carry[0]);
        }
        if (idv !== undefined && reservedId(idv.value, idv.width)) throw this.#reserved(idv.value);
        try {
          sizev = idv && readSize(this.#carry, idv.width, end);
        } catch {
          throw this.#badSize(idv!.value);
        }
        if (idv === undefined || sizev === undefined) {
          this.#carryLen = end;
          return len;
        }
        id = idv.value;
        size = sizev.value;
        hs = idv.width + sizev.width;
        i += hs - carried;
        this.#carryLen = 0;
      }
      const leafType = this.#startElement(id, size, hs, out);
      if (leafType === undefined) continue;
      // A leaf: decode it straight from the chunk when it lies whole in it.
      if (i + size <= len) {
        const offset = this.#pos - hs;
        this.#pos += size;
        i += size;
        if (leafType === "binary" && id !== VOID_ID && out.binary !== undefined) {
          out.binary(id, this.#leafName, offset, hs, size, stack.length, chunk, i - size);
        } else if (leafType !== SKIP) {
          this.#emitValue(id, this.#leafName, leafType, offset, hs, size, chunk, i - size, out);
        }
      } else {
        this.#leaf = {
          id,
          name: this.#leafName,
          type: leafType === SKIP ? "binary" : leafType,
          offset: this.#pos - hs,
          headerSize: hs,
          size,
          depth: stack.length,
          parts: [],
          got: 0,
          // Void's and an attachment's content are never used: skip them rather than buffer them (an
          // attachment may be far larger than maxValueBytes).
          skip: leafType === SKIP || id === VOID_ID || id === FILE_DATA_ID,
        };
      }
    }
  }

  /**
   * A top-level EBML header at `chunk[start]` (`#pos` is there): close the
   * unknown-size masters it ends, then let the sink take a prefix it knows.
   * Returns the bytes taken (0: none; nothing else changed but the closing,
   * which the ordinary path would do the same way).
   */
  #prefix(chunk: Uint8Array, start: number, out: TokenSink): number {
    const stack = this.#stack;
    const offset = this.#pos;
    // Nothing can hold an EBML header: every unknown-size master ends here.
    this.#endUnknownSized(EBML_DEF, offset, out);
    if (stack.length > 0) return 0;
    const taken = out.prefix!(chunk, start, offset);
    if (taken === undefined) return 0;
    stack.push({
      id: taken.openId,
      name: nameOf(taken.openId),
      offset: taken.openOffset,
      headerSize: taken.openHeaderSize,
      depth: 0,
      end: -1,
      limit: Infinity,
    });
    this.#pos = offset + taken.bytes;
    return taken.bytes;
  }

  /** An element id whose bits after the length marker are all 0 or all 1: reserved by EBML, so the data is damaged. */
  #reserved(id: number): DataError {
    return this.#error(
      `invalid element id 0x${id.toString(16).toUpperCase()} (reserved by EBML: never a real element)`,
      "element header",
    );
  }

  #badId(first: number): DataError {
    return this.#error(
      `invalid element id: first byte 0x${first.toString(16).toUpperCase().padStart(2, "0")} (not a 1-4 byte EBML id)`,
      "element header",
    );
  }

  #badSize(id: number): DataError {
    return this.#error("invalid element size: first byte 0x00 (VINT wider than 8 bytes)", nameOf(id));
  }

  /**
   * Signal end of input: close every open master (marking those whose bytes
   * did not all arrive as truncated) and report a leaf that was cut off.
   */
  end(sink: EbmlToken[] | TokenSink): void {
    const out = toSink(sink);
    if (this.#ended) return;
    this.#ended = true;
    this.#closeEnded(out);
    let truncated = false;
    const leaf = this.#leaf;
    if (leaf !== undefined && !leaf.skip && leaf.size > this.#maxValue) {
      // Being copied from chunks, it would have been refused once its bytes arrived: a declared size no input
      // of this reading could deliver (a damaged size, or another body's bytes read as one), not a cut.
      this.#leaf = undefined;
      throw this.#error(
        `declared ${leaf.size} bytes, more than the ${this.#maxValue} kept of one element, and the input ends inside it`,
        leaf.name,
        leaf.offset,
      );
    }
    if (leaf !== undefined) {
      truncated = true;
      this.#leaf = undefined;
      out.token(
        "skip",
        leaf.id,
        leaf.name,
        leaf.type,
        leaf.offset,
        leaf.headerSize,
        leaf.size,
        leaf.depth,
        undefined,
        true,
      );
    } else if (this.#carryLen > 0) {
      // Cut inside the header of an EBML header (the next document's start): as its whole id would
      // have, it ends the unknown-size masters before it, whose content is then complete.
      if (startsLikeEbmlHeader(this.#carry, this.#carryLen)) this.#endUnknownSized(EBML_DEF, this.#pos, out);
      truncated = true;
      out.token(
        "skip",
        0,
        "(element header)",
        "binary",
        this.#pos,
        this.#carryLen,
        UNKNOWN_SIZE,
        this.#stack.length,
        undefined,
        true,
      );
      this.#pos += this.#carryLen;
      this.#carryLen = 0;
    }
    while (this.#stack.length > 0) {
      const m = this.#stack.pop()!;
      const cut: boolean = truncated || (m.end !== -1 && m.end > this.#pos);
      emitEnd(m, this.#pos, cut, out);
      truncated = cut;
    }
  }

  /** A value too large to keep (see {@linkcode TokenizerOptions.maxValueBytes}). */
  #tooBig(element: string, size: number, offset: number): DataError {
    return this.#error(`${size} bytes, more than the ${this.#maxValue} kept of one element`, element, offset);
  }

  #error(reason: string, element: string, offset = this.#pos): DataError {
    return new DataError(reason, { offset, element, source: this.#source });
  }

  /** Pop masters whose known end (or a known-size ancestor's) is reached. */
  #closeEnded(out: TokenSink): void {
    const stack = this.#stack;
    const pos = this.#pos;
    while (stack.length > 0) {
      const m = stack[stack.length - 1];
      if (m.limit > pos) return;
      stack.pop();
      emitEnd(m, pos, false, out);
    }
  }

  /**
   * Start an element whose header was read (`#pos` is at its header). For a
   * master: emit its start and return undefined. For a leaf: return its type
   * (or SKIP for an unknown id) so the caller reads its data; `#pos` is then
   * at the data. Zero-size leaves are emitted here (undefined returned).
   */
  #startElement(id: number, size: number, headerSize: number, out: TokenSink): ElementType | typeof SKIP | undefined {
    const offset = this.#pos;
    const def = elementById(id);
    const stack = this.#stack;
    if (def !== undefined) this.#endUnknownSized(def, offset, out);
    const depth = stack.length;
    const parentLimit = depth > 0 ? stack[depth - 1].limit : Infinity;
    const dataStart = offset + headerSize;
    if (dataStart > parentLimit) {
      throw this.#error(`header overruns its parent (which ends at byte ${parentLimit})`, nameOf(id), offset);
    }
    if (size !== UNKNOWN_SIZE && dataStart + size > parentLimit) {
      throw this.#error(
        `size ${size} overruns its parent ${stack[depth - 1].name} (which ends at byte ${parentLimit})`,
        nameOf(id),
        offset,
      );
    }
    this.#pos = dataStart;
    if (def !== undefined && def.type === "master") {
      if (depth >= this.#maxDepth) throw this.#error(`nesting deeper than ${this.#maxDepth} levels`, def.name, offset);
      const end = size === UNKNOWN_SIZE ? -1 : dataStart + size;
      const limit = end === -1 ? parentLimit : end < parentLimit ? end : parentLimit;
      stack.push({ id, name: def.name, offset, headerSize, depth, end, limit });
      out.token("start", id, def.name, "master", offset, headerSize, size, depth, undefined, false);
      return undefined;
    }
    if (size === UNKNOWN_SIZE) throw this.#error("unknown size is only allowed on master elements", nameOf(id), offset);
    if (def === undefined) {
      // Unknown element: report it and skip its data without keeping it.
      this.#leafName = formatId(id);
      out.token("skip", id, this.#leafName, "binary", offset, headerSize, size, depth, undefined, false);
      return size === 0 ? undefined : SKIP;
    }
    if (size === 0) {
      this.#emitValue(id, def.name, def.type, offset, headerSize, 0, EMPTY, 0, out);
      return undefined;
    }
    this.#leafName = def.name;
    return def.type;
  }

  /** Unknown-size masters end at the first element that cannot be inside them (`def`, at `offset`). */
  #endUnknownSized(def: ElementDef, offset: number, out: TokenSink): void {
    const stack = this.#stack;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.end !== -1 || canDescend(def, top.id)) break;
      stack.pop();
      emitEnd(top, offset, false, out);
    }
  }

  #finishLeaf(leaf: PendingLeaf, out: TokenSink): void {
    if (leaf.skip) {
      if (leaf.id === VOID_ID || leaf.id === FILE_DATA_ID) {
        this.#emitValue(leaf.id, leaf.name, "binary", leaf.offset, leaf.headerSize, leaf.size, EMPTY, 0, out);
      }
      return;
    }
    const parts = leaf.parts;
    let data: Uint8Array;
    if (parts.length === 1) {
      data = parts[0];
    } else {
      data = new Uint8Array(leaf.size);
      let o = 0;
      for (const p of parts) {
        data.set(p, o);
        o += p.length;
      }
    }
    this.#emitValue(leaf.id, leaf.name, leaf.type, leaf.offset, leaf.headerSize, leaf.size, data, 0, out);
  }

  /**
   * The value token of leaf `id` (named `name`) whose data is
   * `buf[start … start + size)`: numbers and strings are decoded in place (no
   * view), binary data is that view (`buf` itself when it is exactly the
   * data), and a Void's is empty (padding is not kept).
   */
  #emitValue(
    id: number,
    name: string,
    type: ElementType,
    offset: number,
    headerSize: number,
    size: number,
    buf: Uint8Array,
    start: number,
    out: TokenSink,
  ): void {
    let value: EbmlValue;
    if (type === "binary") {
      value = id === VOID_ID ? EMPTY : start === 0 && buf.length === size ? buf : buf.subarray(start, start + size);
    } else {
      try {
        value = decodeValueAt(type, buf, start, size);
      } catch (e) {
        throw this.#error((e as Error).message, name, offset);
      }
    }
    out.token("value", id, name, type, offset, headerSize, size, this.#stack.length, value, false);
  }
}

/** Default {@linkcode TokenizerOptions.maxValueBytes}: 16 MiB (a Connect audio block is 1 KiB, a video frame rarely over 1 MiB). */
const MAX_VALUE_BYTES = 16 * 1024 * 1024;

/** Void's id: its data is padding. */
const VOID_ID = 0xec;
/** FileData's id: an attachment's bytes, kept only when they lie whole in one chunk. */
const FILE_DATA_ID = 0x465c;
/** The EBML header's id: where a document (and a possible known prefix) begins. */
const EBML_ID = 0x1a45dfa3;
const EBML_DEF = elementById(EBML_ID)!;
/** SimpleBlock and Cluster ids, for the block fast lane. */
const SIMPLE_BLOCK_ID = 0xa3;
const CLUSTER_ID = 0x1f43b675;

/** Whether the first `len` bytes of `carry` begin like an EBML header's id (EBML_ID), as far as they go. */
function startsLikeEbmlHeader(carry: Uint8Array, len: number): boolean {
  for (let i = 0; i < len && i < 4; i++) if (carry[i] !== ((EBML_ID >>> (24 - 8 * i)) & 0xff)) return false;
  return len > 0;
}

/** Marks a leaf whose data is skipped (unknown id). */
const SKIP = "skip" as const;

function nameOf(id: number): string {
  return elementById(id)?.name ?? formatId(id);
}

/** The end token of master `m`, which spans up to byte `end`. */
function emitEnd(m: OpenMaster, end: number, truncated: boolean, out: TokenSink): void {
  out.token(
    "end",
    m.id,
    m.name,
    "master",
    m.offset,
    m.headerSize,
    end - m.offset - m.headerSize,
    m.depth,
    undefined,
    truncated,
  );
}

/** Collects tokens as objects into an array. */
class ArraySink implements TokenSink {
  constructor(readonly tokens: EbmlToken[]) {}
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
    this.tokens.push({ kind, id, name, type, offset, headerSize, size, depth, value, truncated });
  }
}

/** The TypeError for a byte source that yields something other than `Uint8Array` chunks (plain JS callers). */
function notAChunk(chunk: unknown): TypeError {
  const what = chunk === null
    ? "null"
    : typeof chunk === "object"
    ? chunk.constructor?.name ?? "an object"
    : typeof chunk;
  const hint = typeof chunk === "number" ? " (a Uint8Array is itself a source of numbers: pass [bytes] instead)" : "";
  return new TypeError(`a byte source must yield Uint8Array chunks, got ${what}${hint}`);
}

/**
 * Whether an element id of `width` bytes has its data bits all 0 or all 1
 * (0xFF, 0x4000, 0x7FFF, …): reserved (RFC 8794 §5). Not 0x80: Matroska's
 * ChapterDisplay, which RFC 9559 allows.
 */
function reservedId(id: number, width: number): boolean {
  const marker = ID_MARKERS[width];
  return (id === marker && width > 1) || id === 2 * marker - 1;
}

/** The length marker of an element id of 1–4 bytes (its value with every data bit 0). */
const ID_MARKERS = [0, 0x80, 0x4000, 0x200000, 0x10000000];

function toSink(out: EbmlToken[] | TokenSink): TokenSink {
  return Array.isArray(out) ? new ArraySink(out) : out;
}

/**
 * Anything that yields byte chunks: a web `ReadableStream`, an async
 * generator, an array (`[bytes]` for one buffer in memory).
 *
 * The pipeline keeps views into the chunks instead of copying them: a
 * fragment's blocks, and the PCM pieces the demuxer makes of them, point into
 * the chunks their bytes came in, which may be several chunks back. So a
 * source must not change a chunk's bytes once it has yielded it — a loop that
 * reads into one reused buffer (`file.read(buf)`, yielding `buf.subarray(0, n)`)
 * corrupts the audio. Yield a fresh buffer per chunk (what `file.readable` and
 * `fetch` bodies do), or reuse a buffer only once every item made from its bytes
 * has been consumed (as the CLI's input does: its consumer reports the end offset
 * of each fragment it has written).
 */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Tokenize a byte source into batches: one batch per input chunk (tokens
 * completed by that chunk, with the chunk itself), then a final batch at end
 * of input. This is the pipeline's form: one await per chunk, not per token.
 *
 * @example
 * ```ts
 * import { tokenizeBatches } from "./tokenizer.ts";
 * const file = await Deno.open("call.mkv");
 * let n = 0;
 * for await (const batch of tokenizeBatches(file.readable, { source: "call.mkv" })) n += batch.tokens.length;
 * ```
 */
export async function* tokenizeBatches(
  source: ByteSource,
  options: TokenizerOptions = {},
): AsyncGenerator<TokenBatch> {
  const tk = new EbmlTokenizer(options);
  for await (const chunk of source) {
    const offset = tk.offset;
    const tokens: EbmlToken[] = [];
    try {
      tk.push(chunk, tokens);
    } catch (e) {
      if (tokens.length > 0) yield { tokens, chunk, offset, final: false };
      throw e;
    }
    yield { tokens, chunk, offset, final: false };
  }
  const tokens: EbmlToken[] = [];
  const offset = tk.offset;
  tk.end(tokens);
  yield { tokens, chunk: EMPTY, offset, final: true };
}

/**
 * Tokenize a byte source into a flat stream of tokens.
 *
 * @example
 * ```ts
 * import { tokenize } from "./tokenizer.ts";
 * const file = await Deno.open("call.mkv");
 * for await (const t of tokenize(file.readable)) {
 *   if (t.kind === "start") console.log(t.offset, t.name, t.size);
 * }
 * ```
 */
export async function* tokenize(
  source: ByteSource,
  options: TokenizerOptions = {},
): AsyncGenerator<EbmlToken> {
  for await (const batch of tokenizeBatches(source, options)) {
    yield* batch.tokens;
  }
}
