/**
 * Typed tokens produced by the EBML tokenizer.
 *
 * Every token has the same fields so consumers can switch on `kind` cheaply:
 * - `start`: a master element begins (its children follow);
 * - `end`: a master element ends (by its size, by the unknown-size rule, or at
 *   end of input — then `truncated` says whether bytes were missing);
 * - `value`: a leaf element with its decoded value;
 * - `skip`: an element that was not decoded (an unknown id, or a leaf cut off by
 *   the end of input when `truncated` is set).
 *
 * @example
 * ```ts
 * import type { EbmlToken } from "./token.ts";
 * function describe(t: EbmlToken): string {
 *   return `${t.offset} ${"  ".repeat(t.depth)}${t.kind} ${t.name}`;
 * }
 * ```
 * @module
 */

import type { ElementType } from "./elements.ts";

/** A decoded leaf value. Unsigned integers over 2^53 come as `bigint`. */
export type EbmlValue = number | bigint | string | Uint8Array | Date;

/** Kind of an {@linkcode EbmlToken}. */
export type TokenKind = "start" | "end" | "value" | "skip";

/** One token of the EBML token stream. */
export interface EbmlToken {
  /** What this token marks. */
  kind: TokenKind;
  /** Element id (with VINT marker bits). */
  id: number;
  /** Element name from the table, or the hex id for unknown elements. */
  name: string;
  /** Value type (`binary` for unknown elements). */
  type: ElementType;
  /** Absolute byte offset of the element's first header byte. */
  offset: number;
  /** Bytes taken by the id and size fields. */
  headerSize: number;
  /**
   * Declared data size; -1 for unknown. On `end` tokens: the size actually
   * spanned (known once the element has ended).
   */
  size: number;
  /** Nesting depth: 0 for top-level elements. */
  depth: number;
  /** Decoded value for `value` tokens; `undefined` otherwise. */
  value: EbmlValue | undefined;
  /** True when the input ended before this element did. */
  truncated: boolean;
}

/** A batch of tokens with the input chunk that produced them. */
export interface TokenBatch {
  /** Tokens completed while reading `chunk` (may be empty). */
  tokens: EbmlToken[];
  /** The input chunk (a view; not copied). Empty for the final batch. */
  chunk: Uint8Array;
  /** Absolute byte offset of `chunk[0]` in the input. */
  offset: number;
  /** True for the last batch, produced at end of input. */
  final: boolean;
}

/**
 * Receives tokens field by field, without a token object per element: the
 * fast path between the tokenizer and the assembler. An `EbmlToken[]` given
 * to the tokenizer is filled through an adapter.
 *
 * @example
 * ```ts
 * import type { TokenSink } from "./token.ts";
 * const counter: TokenSink & { n: number } = { n: 0, token() { this.n++; } };
 * ```
 */
export interface TokenSink {
  /** One token; the arguments are the fields of {@linkcode EbmlToken}. */
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
  ): void;
  /**
   * Optional: a binary leaf that lies whole in the current chunk, given as
   * the chunk and the index of its data, so no view is made unless the sink
   * wants one. Without this method binary leaves arrive through
   * {@linkcode TokenSink.token} as views.
   */
  binary?(
    id: number,
    name: string,
    offset: number,
    headerSize: number,
    size: number,
    depth: number,
    chunk: Uint8Array,
    start: number,
  ): void;
  /**
   * Optional: a top-level EBML header begins at `chunk[start]` (absolute
   * `offset`) with nothing open. The sink may recognise the bytes that follow
   * (a document prefix it has seen before) and take them itself: it returns
   * what it took, and the tokenizer goes on after those bytes with the given
   * unknown-size master open, emitting no tokens for them. `undefined`:
   * tokenize as usual.
   */
  prefix?(chunk: Uint8Array, start: number, offset: number): PrefixTaken | undefined;
  /**
   * Optional: when true, the tokenizer's `push` returns at the next
   * point between elements, before the end of its chunk, with the number of
   * bytes it used (a sink that has collected enough for now sets it). The
   * rest of the chunk must be pushed next.
   */
  readonly paused?: boolean;
}

/** What a {@linkcode TokenSink.prefix} hook took. */
export interface PrefixTaken {
  /** Bytes taken from the header's first byte on. */
  bytes: number;
  /** Id of the unknown-size top-level master left open (a Segment). */
  openId: number;
  /** Its absolute offset. */
  openOffset: number;
  /** Its header size. */
  openHeaderSize: number;
}
