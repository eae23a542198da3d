/**
 * Fuzzing support for `tests/fuzz_test.ts`: a seeded PRNG, the seed inputs,
 * the mutators, the case generators of each section, the per-case runner
 * (the `inspect` and `extract` pipelines in-process, with their checks) and a
 * Worker entry point, so that a case that hangs can be detected and the
 * worker terminated instead of the whole test run hanging.
 *
 * Every case is a pure function of (global seed, section, index): a failure is
 * reproduced with `KVSAUDIO_FUZZ_SEED=<seed>` and {@link makeCase}, and the
 * failing bytes are also written to a temp file whose path is reported.
 *
 * @module
 */

import { DataError, KvsStreamError, UsageError } from "../../src/errors.ts";
import { EbmlTokenizer } from "../../src/ebml/tokenizer.ts";
import type { EbmlToken } from "../../src/ebml/token.ts";
import { assembleFragments, type RereadableSource } from "../../src/mkv/assembler.ts";
import type { Fragment } from "../../src/mkv/fragment.ts";
import type { ElementNode } from "../../src/mkv/tree.ts";
import { demuxConnect } from "../../src/connect/demuxer.ts";
import { CallWriter } from "../../src/audio/call_writer.ts";
import { parseWavHeader, type WavInfo } from "../../src/audio/wav.ts";
import { fragmentJson } from "../../src/cli/inspect.ts";
import { isoTime } from "../../src/cli/output.ts";
import { displayText, hexPreview } from "../../src/cli/sanitize.ts";
import { seededRandom } from "../../src/kvs/backoff.ts";
import { connectStream, type ConnectStreamOptions } from "./connect_stream.ts";
import { decodeHexText, haveFixtures, loadFixture, syntheticNames } from "./shared_fixtures.ts";
import { hex } from "./util.ts";
import { chunked } from "./pipeline.ts";
import {
  beBytes,
  blockGroup,
  concat,
  ebmlHeader,
  el,
  encodeId,
  encodeSize,
  floatEl,
  ID,
  lacedBlock,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
  voidEl,
} from "./mkv_writer.ts";

// ---------------------------------------------------------------------------
// Limits

/** Wall-clock bound of one case (all of its pipeline runs), ms. */
export const CASE_TIME_LIMIT_MS = 2000;
/** RSS growth allowed for a case that declares a huge size (the size is 2^56). */
export const HUGE_RSS_LIMIT = 200 * 1024 * 1024;
/** A worker that reports nothing for this long is considered hung. */
export const HANG_MS = 20000;
/** Default global seed (used when KVSAUDIO_FUZZ_SEED is not set). */
export const DEFAULT_SEED = 0x6b7673;
/** The name given to the input in error messages. */
const SOURCE = "fuzz.mkv";
/** extract's refusals of what inspect reads: a track it cannot write as 16-bit PCM, a change of format. */
const WRITE_REFUSAL =
  /^byte \d+: (TrackEntry: track \d+|(MimeType tag|Audio): the format changed|MimeType tag: the MimeType tag|Tracks: no audio: the \d+ fragment\(s\) with blocks have no track named)/;

// ---------------------------------------------------------------------------
// PRNG

/** mulberry32: small, fast, good enough for fuzzing, reproducible. */
export class Rng {
  readonly #random: () => number;
  constructor(seed: number) {
    this.#random = seededRandom(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.#random();
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A fresh 32-bit seed. */
  seed(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The PRNG of one case. */
export function caseRng(seed: number, section: string, index: number): Rng {
  let h = hashString(section) ^ Math.imul(seed >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

/** Parse KVSAUDIO_FUZZ_SEED (decimal or 0x hex); the default when unset. */
export function parseSeed(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return DEFAULT_SEED;
  const t = text.trim();
  if (t === "random") return (Math.random() * 4294967296) >>> 0;
  const n = t.startsWith("0x") ? parseInt(t.slice(2), 16) : Number(t);
  if (!Number.isFinite(n)) throw new Error(`KVSAUDIO_FUZZ_SEED: not a number: ${text}`);
  return n >>> 0;
}

// ---------------------------------------------------------------------------
// Bytes helpers

function replace(bytes: Uint8Array, start: number, end: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - (end - start) + insert.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(insert, start);
  out.set(bytes.subarray(end), start + insert.length);
  return out;
}

function repeat(part: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(part.length * n);
  for (let i = 0; i < n; i++) out.set(part, i * part.length);
  return out;
}

/** An EBML size VINT of `width` bytes holding `value` (BigInt: values above 2^53 too). */
export function sizeVint(value: bigint, width: number): Uint8Array {
  const out = beBytes(value, width);
  out[0] |= 0x80 >> (width - 1);
  return out;
}

/** The largest known size of a `width`-byte VINT: 2^(7w) - 2. */
function maxSizeOf(width: number): bigint {
  return (1n << BigInt(7 * width)) - 2n;
}

const HUGE_8 = sizeVint(maxSizeOf(8), 8); // 01 FF FF FF FF FF FF FE = 2^56 - 2

/** Size fields that declare a huge element. */
const HUGE_FIELDS: readonly Uint8Array[] = [
  HUGE_8,
  sizeVint(1n << 55n, 8),
  sizeVint(1n << 53n, 8),
  sizeVint((1n << 53n) + 1n, 8),
  sizeVint((1n << 53n) - 1n, 8),
  sizeVint(1n << 32n, 8),
  sizeVint(1n << 48n, 8),
  sizeVint(maxSizeOf(4), 4),
  sizeVint(maxSizeOf(3), 3),
  sizeVint(0x7fffffffn, 8),
  sizeVint(0n, 8), // 01 00 00 00 00 00 00 00: zero, non-minimal
  sizeVint(1n, 8),
];

// ---------------------------------------------------------------------------
// Element headers of an input (read tolerantly with the project's tokenizer)

/** Where one element's header sits. */
export interface Header {
  offset: number;
  idWidth: number;
  sizeWidth: number;
  /** Declared size (-1 unknown). */
  size: number;
  master: boolean;
  name: string;
}

function idWidth(id: number): number {
  return id < 0x100 ? 1 : id < 0x10000 ? 2 : id < 0x1000000 ? 3 : 4;
}

/** Headers of every element the tokenizer reads before the input ends or turns bad. */
export function headersOf(bytes: Uint8Array): Header[] {
  const tk = new EbmlTokenizer({ maxDepth: 1 << 20 });
  const out: EbmlToken[] = [];
  try {
    tk.push(bytes, out);
    tk.end(out);
  } catch {
    // keep what was read before the bad byte
  }
  const headers: Header[] = [];
  for (const t of out) {
    if (t.kind === "end" || t.truncated) continue;
    const w = idWidth(t.id);
    headers.push({
      offset: t.offset,
      idWidth: w,
      sizeWidth: t.headerSize - w,
      size: t.size,
      master: t.kind === "start",
      name: t.name,
    });
  }
  return headers;
}

function setSizeField(bytes: Uint8Array, h: Header, field: Uint8Array): Uint8Array {
  const start = h.offset + h.idWidth;
  return replace(bytes, start, start + h.sizeWidth, field);
}

// ---------------------------------------------------------------------------
// Seeds

/** A valid input that mutants start from. */
export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Headers of the seed, computed once. */
  headers: Header[];
}

function pcm(samples: number, first: number): Uint8Array {
  const out = new Uint8Array(samples * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < samples; i++) dv.setInt16(2 * i, (first + i * 37) % 30000, true);
  return out;
}

/**
 * An MKV document built with mkv_writer that uses what Connect does not:
 * Xiph, EBML and fixed lacing, a BlockGroup with BlockDuration, a Void, an
 * unknown element, an Audio element, NUL-padded names, two Clusters.
 */
export function lacingDocument(unknownSizes: boolean): Uint8Array {
  const track = (number: number, name: string) =>
    el(ID.TrackEntry, [
      uintEl(ID.TrackNumber, number),
      uintEl(ID.TrackUID, 10 + number),
      uintEl(ID.TrackType, 2),
      strEl(ID.Name, name, 32),
      strEl(ID.CodecID, "A_PCM/INT/LIT", 32),
      el(ID.CodecPrivate, Uint8Array.of(0x11, 0x90)),
      el(ID.Audio, [floatEl(ID.SamplingFrequency, 8000), uintEl(ID.Channels, 1), uintEl(ID.BitDepth, 16)]),
    ]);
  const size = unknownSizes ? { unknownSize: true } : undefined;
  const cluster = (tc: number, k: number) =>
    el(ID.Cluster, [
      uintEl(ID.Timecode, tc, 8),
      lacedBlock(1, 0, 0x80, [pcm(8, k), pcm(8, k + 100), pcm(8, k + 200)], "xiph"),
      lacedBlock(2, 0, 0, [pcm(4, -k), pcm(12, -k - 100), pcm(8, -k - 200)], "ebml"),
      lacedBlock(1, 3, 0, [pcm(8, k + 300), pcm(8, k + 400)], "fixed"),
      blockGroup(2, 3, pcm(16, -k - 300), 2),
      voidEl(6),
      el(0x4321, Uint8Array.of(1, 2, 3)), // not in the element table: skipped
      simpleBlock(1, 5, false, pcm(16, k + 500)),
      lacedBlock(2, 5, 0, [pcm(200, -k - 500), pcm(8, -k - 600)], "xiph"), // a lace size > 255
    ], size);
  return concat([
    ebmlHeader(),
    el(ID.Segment, [
      el(ID.Info, [uintEl(ID.TimecodeScale, 1000000), strEl(ID.Title, "lacing")]),
      el(ID.Tracks, [track(1, "AUDIO_FROM_CUSTOMER"), track(2, "AUDIO_TO_CUSTOMER")]),
      tagsEl([["ContactId", "lace-1"], ["MimeType", "audio/L16;rate=8000;channels=1"]]),
      cluster(1_700_000_000_000, 1),
      cluster(1_700_000_000_007, 2),
      tagsEl([["AWS_KINESISVIDEO_CONTINUATION_TOKEN", "lace-token"]]),
    ], unknownSizes ? { unknownSize: true, sizeWidth: 8 } : { sizeWidth: 8 }),
  ]);
}

const CONNECT_SEEDS: [string, ConnectStreamOptions][] = [
  ["connect-small", { fragments: 2, blocksPerTrack: 2, samplesPerBlock: 16 }],
  ["connect-known-sizes", {
    fragments: 3,
    blocksPerTrack: 3,
    samplesPerBlock: 32,
    clusterSize: "known",
    segmentSize: "known",
  }],
  ["connect-known-cluster", { fragments: 2, blocksPerTrack: 2, samplesPerBlock: 24, clusterSize: "known" }],
  // Clusters of a few sizes: documents replayed from several templates.
  ["connect-uneven", { fragments: 6, blockCounts: [2, 3, 3, 1], samplesPerBlock: 16 }],
  ["connect-uneven-cluster-last", {
    fragments: 5,
    blockCounts: [2, 3],
    samplesPerBlock: 16,
    kvsTags: false,
    tagsPosition: "before",
  }],
  ["connect-magic-in-pcm", { fragments: 2, blocksPerTrack: 2, samplesPerBlock: 32, magicInPcm: true }],
  ["connect-tags-before", { fragments: 3, blocksPerTrack: 4, samplesPerBlock: 64, tagsPosition: "before" }],
  ["connect-tags-after", {
    fragments: 2,
    blocksPerTrack: 3,
    samplesPerBlock: 16,
    tagsPosition: "after",
    continuationTokens: false,
  }],
  ["connect-one-track", {
    fragments: 3,
    blocksPerTrack: 2,
    samplesPerBlock: 16,
    tracks: ["AUDIO_FROM_CUSTOMER"],
    trackNumbers: [2],
  }],
  ["connect-16k-audio-element", {
    fragments: 2,
    blocksPerTrack: 2,
    samplesPerBlock: 32,
    rate: 16000,
    tracks: ["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"],
    audioElement: true,
    // (A_AAC with an Audio element and no audio/L16 MimeType is real AAC: refused.)
    codecId: "A_PCM/INT/LIT",
    mimeType: null,
  }],
  ["connect-error-fragment", {
    fragments: 3,
    blocksPerTrack: 2,
    samplesPerBlock: 16,
    errorAt: { index: 1, code: "4000" },
  }],
  ["connect-contact-change", {
    fragments: 3,
    blocksPerTrack: 2,
    samplesPerBlock: 16,
    contactIds: ["c-1", "c-1", "c-2"],
  }],
  ["connect-gap-2ch", { fragments: 3, blocksPerTrack: 2, samplesPerBlock: 16, omit: [1], channels: 2 }],
  ["connect-no-kvs-tags", {
    fragments: 2,
    blocksPerTrack: 2,
    samplesPerBlock: 16,
    kvsTags: false,
    docType: "matroska",
  }],
];

const FIXTURE_SEEDS = [
  "kvs-getmedia/test_mixed_tags.mkv",
  "kvs-getmedia/test_tags_empty_cluster.mkv",
  "kvs-getmedia/empty-mkv-with-tags.mkv",
];

/** Every seed: generated Connect streams, the lacing documents, and the shared fixtures when present. */
export function buildSeeds(): Seed[] {
  const seeds: Seed[] = [];
  const add = (name: string, bytes: Uint8Array) => seeds.push({ name, bytes, headers: headersOf(bytes) });
  for (const [name, opts] of CONNECT_SEEDS) add(name, connectStream(opts).bytes);
  add("mkv-lacing-known", lacingDocument(false));
  add("mkv-lacing-unknown", lacingDocument(true));
  if (haveFixtures) {
    for (const name of FIXTURE_SEEDS) {
      try {
        add(name, loadFixture(name));
      } catch {
        // a missing file is not the fuzzer's business
      }
    }
    try {
      for (const n of syntheticNames()) add(`connect-synthetic/${n}.ebml.hex`, loadFixture(`connect-synthetic/${n}`));
    } catch {
      // no synthetic fixtures
    }
  }
  return seeds;
}

// ---------------------------------------------------------------------------
// Chunkings

/** How a case's bytes are cut into chunks. */
export type Chunking =
  | { kind: "whole" }
  | { kind: "fixed"; size: number }
  | { kind: "random"; max: number; seed: number };

/** Cut `bytes` into chunks (views; the bytes are never modified afterwards). */
export function chunksOf(bytes: Uint8Array, c: Chunking): Uint8Array[] {
  if (c.kind === "whole") return [bytes];
  if (c.kind === "fixed") return chunked(bytes, c.size);
  const r = new Rng(c.seed);
  return chunked(bytes, () => r.range(1, c.max));
}

/**
 * The chunks of {@linkcode chunksOf} as a `RereadableSource` (as the CLI
 * reads a file): a chunk's end given back with `unread` starts the next
 * chunk, so the assembler holds back documents cut by chunk ends.
 */
export function rereadableChunks(bytes: Uint8Array, c: Chunking): RereadableSource {
  const sizes = chunksOf(bytes, c).map((chunk) => chunk.length);
  let at = 0;
  let back = 0;
  let last = 0;
  let k = 0;
  return {
    unread(n: number) {
      if (!(n >= 0 && n < last - back)) throw new RangeError(`cannot give back ${n} of ${last} bytes`);
      back += n;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        at -= back;
        back = 0;
        if (at >= bytes.length) return;
        // Given-back bytes make more chunks than planned: the last size repeats.
        const chunk = bytes.subarray(at, at + sizes[Math.min(k++, sizes.length - 1)]);
        at += chunk.length;
        last = chunk.length;
        yield chunk;
      }
    },
  };
}

function describeChunking(c: Chunking): string {
  return c.kind === "whole" ? "whole" : c.kind === "fixed" ? `fixed ${c.size}` : `random 1..${c.max} (rng ${c.seed})`;
}

function randomChunking(r: Rng, len: number): Chunking {
  const x = r.next();
  if (x < 0.2) return { kind: "whole" };
  if (x < 0.5) {
    const size = r.pick([1, 2, 3, 5, 8, 13, 64, 1000, 4096]);
    // one-byte chunks of a big input only cost time
    return { kind: "fixed", size: len > 8192 && size < 8 ? 64 : size };
  }
  const max = r.pick(len > 8192 ? [64, 256, 4096] : [4, 16, 256, 4096]);
  return { kind: "random", max, seed: r.seed() };
}

// ---------------------------------------------------------------------------
// Mutators

/** Ids used by id swaps and inserted headers: known ids of every width, and a few unknown ones. */
const ID_POOL: readonly number[] = [
  ...new Set<number>(Object.values(ID)),
  0x4321,
  0x80,
  0xff,
  0x7fff,
  0x3fffff,
  0x1fffffff,
  0x10000000,
  0x81,
];

/** Headers of masters (and leaves) with unknown sizes, to put in impossible places. */
const UNKNOWN_HEADERS: readonly [string, Uint8Array][] = [
  ["EBML", concat([encodeId(ID.EBML), unknownSize(1)])],
  ["Segment", concat([encodeId(ID.Segment), unknownSize(8)])],
  ["Cluster", concat([encodeId(ID.Cluster), unknownSize(1)])],
  ["Tracks", concat([encodeId(ID.Tracks), unknownSize(1)])],
  ["TrackEntry", concat([encodeId(ID.TrackEntry), unknownSize(1)])],
  ["Audio", concat([encodeId(ID.Audio), unknownSize(1)])],
  ["Info", concat([encodeId(ID.Info), unknownSize(1)])],
  ["Tags", concat([encodeId(ID.Tags), unknownSize(1)])],
  ["Tag", concat([encodeId(ID.Tag), unknownSize(1)])],
  ["SimpleTag", concat([encodeId(ID.SimpleTag), unknownSize(1)])],
  ["BlockGroup", concat([encodeId(ID.BlockGroup), unknownSize(1)])],
  ["Chapters", concat([encodeId(ID.Chapters), unknownSize(2)])],
  ["SimpleBlock(leaf)", concat([encodeId(ID.SimpleBlock), unknownSize(1)])],
  ["Void(leaf)", concat([encodeId(ID.Void), unknownSize(8)])],
  ["TagString(leaf)", concat([encodeId(ID.TagString), unknownSize(1)])],
  ["unknown-id", concat([encodeId(0x4321), unknownSize(1)])],
];

type Mutation = { bytes: Uint8Array; desc: string };
type Mutator = (r: Rng, b: Uint8Array, headers: () => Header[], seeds: readonly Seed[]) => Mutation;

function randomHeader(r: Rng, hs: Header[]): Header | undefined {
  return hs.length === 0 ? undefined : r.pick(hs);
}

/** An insertion point: an element boundary (most of the time) or any offset. */
function insertionPoint(r: Rng, b: Uint8Array, hs: Header[]): number {
  if (hs.length > 0 && r.chance(0.7)) return r.pick(hs).offset;
  return r.int(b.length + 1);
}

function fieldHex(f: Uint8Array): string {
  return hex(f).toUpperCase();
}

const MUTATORS: Record<string, [weight: number, Mutator]> = {
  "bit-flip": [3, (r, b) => {
    const out = b.slice();
    const flips: string[] = [];
    const n = r.range(1, 4);
    for (let i = 0; i < n && out.length > 0; i++) {
      const at = r.int(out.length);
      const bit = 1 << r.int(8);
      out[at] ^= bit;
      flips.push(`${at}^0x${bit.toString(16)}`);
    }
    return { bytes: out, desc: `bit-flip ${flips.join(",")}` };
  }],
  "byte-set": [2, (r, b) => {
    const out = b.slice();
    const sets: string[] = [];
    const n = r.range(1, 3);
    for (let i = 0; i < n && out.length > 0; i++) {
      const at = r.int(out.length);
      out[at] = r.chance(0.6) ? r.pick([0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20, 0x10, 0x08]) : r.int(256);
      sets.push(`${at}=${out[at].toString(16)}`);
    }
    return { bytes: out, desc: `byte-set ${sets.join(",")}` };
  }],
  "insert": [2, (r, b, hs) => {
    const at = insertionPoint(r, b, hs());
    const ins = new Uint8Array(r.range(1, 24));
    for (let i = 0; i < ins.length; i++) ins[i] = r.chance(0.3) ? r.pick([0x00, 0xff, 0x80, 0x01]) : r.int(256);
    return { bytes: replace(b, at, at, ins), desc: `insert @${at} ${hex(ins)}` };
  }],
  "delete": [2, (r, b, hs) => {
    const at = Math.min(insertionPoint(r, b, hs()), Math.max(0, b.length - 1));
    const n = Math.min(r.range(1, 24), b.length - at);
    return { bytes: replace(b, at, at + n, new Uint8Array(0)), desc: `delete @${at} ${n} bytes` };
  }],
  "truncate": [1, (r, b) => {
    const at = r.int(b.length + 1);
    return { bytes: b.slice(0, at), desc: `truncate @${at}` };
  }],
  "size-huge": [3, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "size-huge (no header)" };
    const f = r.chance(0.5) ? HUGE_8 : r.pick(HUGE_FIELDS);
    return { bytes: setSizeField(b, h, f), desc: `size-huge ${h.name}@${h.offset} -> ${fieldHex(f)}` };
  }],
  "size-invalid": [1, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "size-invalid (no header)" };
    const out = b.slice();
    out[h.offset + h.idWidth] = 0x00;
    return { bytes: out, desc: `size-invalid ${h.name}@${h.offset} first size byte -> 00` };
  }],
  "size-unknown": [2, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "size-unknown (no header)" };
    const f = unknownSize(r.pick([h.sizeWidth, 1, 8]));
    return { bytes: setSizeField(b, h, f), desc: `size-unknown ${h.name}@${h.offset} -> ${fieldHex(f)}` };
  }],
  "size-zero": [1, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "size-zero (no header)" };
    const f = sizeVint(0n, h.sizeWidth);
    return { bytes: setSizeField(b, h, f), desc: `size-zero ${h.name}@${h.offset} -> ${fieldHex(f)}` };
  }],
  "size-delta": [2, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "size-delta (no header)" };
    const base = h.size < 0 ? b.length - h.offset : h.size;
    const v = Math.max(0, base + (r.chance(0.5) ? 1 : -1) * r.range(1, 16));
    const w = BigInt(v) <= maxSizeOf(h.sizeWidth) ? h.sizeWidth : 8;
    const f = sizeVint(BigInt(v), w);
    return {
      bytes: setSizeField(b, h, f),
      desc: `size-delta ${h.name}@${h.offset} ${h.size} -> ${v} (${fieldHex(f)})`,
    };
  }],
  "size-random": [1, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "size-random (no header)" };
    const w = r.range(1, 8);
    const v = BigInt(Math.floor(r.next() * Number(maxSizeOf(w) + 1n)));
    const f = sizeVint(v > maxSizeOf(w) ? maxSizeOf(w) : v, w);
    return { bytes: setSizeField(b, h, f), desc: `size-random ${h.name}@${h.offset} -> ${fieldHex(f)}` };
  }],
  "id-swap": [2, (r, b, hs) => {
    const h = randomHeader(r, hs());
    if (!h) return { bytes: b, desc: "id-swap (no header)" };
    const id = r.pick(ID_POOL);
    const out = replace(b, h.offset, h.offset + h.idWidth, encodeId(id));
    return { bytes: out, desc: `id-swap ${h.name}@${h.offset} -> 0x${id.toString(16).toUpperCase()}` };
  }],
  "splice": [2, (r, b, hs, seeds) => {
    const donor = r.chance(0.5) ? { name: "self", bytes: b, headers: hs() } : r.pick(seeds);
    const h = randomHeader(r, donor.headers);
    const at = insertionPoint(r, b, hs());
    if (!h) return { bytes: b, desc: "splice (no donor element)" };
    const end = h.size < 0 ? Math.min(donor.bytes.length, h.offset + h.idWidth + h.sizeWidth + r.int(64)) : Math.min(
      donor.bytes.length,
      h.offset + h.idWidth + h.sizeWidth + h.size,
    );
    const part = donor.bytes.slice(h.offset, Math.min(end, h.offset + 4096));
    return {
      bytes: replace(b, at, at, part),
      desc: `splice ${donor.name}:${h.name}@${h.offset}+${part.length} -> @${at}`,
    };
  }],
  "unknown-header": [2, (r, b, hs) => {
    const [name, header] = r.pick(UNKNOWN_HEADERS);
    const at = insertionPoint(r, b, hs());
    const n = r.chance(0.2) ? r.range(2, 40) : 1;
    return { bytes: replace(b, at, at, repeat(header, n)), desc: `unknown-size ${name} x${n} @${at}` };
  }],
  "crossover": [1, (r, b, hs, seeds) => {
    const other = r.pick(seeds);
    const a = insertionPoint(r, b, hs());
    const c = other.headers.length > 0 && r.chance(0.7) ? r.pick(other.headers).offset : r.int(other.bytes.length + 1);
    return {
      bytes: concat([b.subarray(0, a), other.bytes.subarray(c)]),
      desc: `crossover self[0,${a}) + ${other.name}[${c},)`,
    };
  }],
  "value": [3, (r, b, hs) => {
    // A leaf's value, same length: interesting integers, floats, digits, NULs, invalid UTF-8.
    // (Only leaves whose data lies whole in the bytes: an earlier mutation may have cut them.)
    const leaves = hs().filter((h) =>
      !h.master && h.size > 0 && h.size <= 64 && h.name !== "SimpleBlock" &&
      h.offset + h.idWidth + h.sizeWidth + h.size <= b.length
    );
    const h = randomHeader(r, leaves);
    if (!h) return { bytes: b, desc: "value (no leaf)" };
    const start = h.offset + h.idWidth + h.sizeWidth;
    const data = new Uint8Array(h.size);
    const how = r.int(6);
    if (how === 0) data.fill(r.pick([0x00, 0xff, 0x7f, 0x80]));
    else if (how === 1 && (h.size === 4 || h.size === 8)) {
      const v = r.pick([NaN, Infinity, -Infinity, -0, 1e10, 2 ** 32, 1e300, 0.5, -8000, 384001, 2 ** 53]);
      const dv = new DataView(data.buffer);
      if (h.size === 4) dv.setFloat32(0, v);
      else dv.setFloat64(0, v);
    } else if (how === 2) {
      data.set(b.subarray(start, start + h.size));
      data[0] = r.pick([0x00, 0x01, 0x7f, 0x80, 0xff]);
    } else if (how === 3) {
      data.set(b.subarray(start, start + h.size));
      for (let i = 0; i < data.length; i++) if (data[i] >= 0x30 && data[i] <= 0x39) data[i] = 0x30 + r.int(10);
    } else if (how === 4) {
      data.set(b.subarray(start, start + h.size));
      data[r.int(data.length)] = r.pick([0x00, 0xff, 0xc3, 0xe2, 0x3b, 0x3d]);
    } else for (let i = 0; i < data.length; i++) data[i] = r.int(256);
    const out = b.slice();
    out.set(data, start);
    return { bytes: out, desc: `value ${h.name}@${h.offset} (${h.size} B) -> ${hex(data)}` };
  }],
  "chunking-only": [1, (_r, b) => ({ bytes: b, desc: "no mutation (chunking only)" })],
};

const MUTATOR_NAMES = Object.keys(MUTATORS);
const MUTATOR_TOTAL = MUTATOR_NAMES.reduce((s, k) => s + MUTATORS[k][0], 0);

function pickMutator(r: Rng): string {
  let x = r.next() * MUTATOR_TOTAL;
  for (const k of MUTATOR_NAMES) {
    x -= MUTATORS[k][0];
    if (x < 0) return k;
  }
  return MUTATOR_NAMES[0];
}

// ---------------------------------------------------------------------------
// Cases

/** One fuzz case. */
export interface FuzzCase {
  /** `section#index`. */
  id: string;
  /** Mutation kind (for the summary). */
  kind: string;
  /** How it was made (a reproduction recipe). */
  desc: string;
  bytes: Uint8Array;
  /** Chunking of the second inspect run (the first is one chunk). */
  chunkInspect: Chunking;
  /** Chunking of the extract run. */
  chunkExtract: Chunking;
  stereo: boolean;
  followStream: boolean;
  /** Also run the pull-style eager assembler. */
  eager: boolean;
  /** Declares a huge size: check RSS growth. */
  huge: boolean;
  /** A valid seed: a data error is a failure. */
  valid?: boolean;
}

/** The sections of the fuzz run. */
export type Section = "seeds" | "truncate" | "sizes" | "patho" | "random" | "cli" | "explicit";

/** State shared by the case generators. */
export interface FuzzContext {
  seed: number;
  seeds: Seed[];
  /** The small stream truncated at every offset and mutated at every header. */
  small: Seed;
  patho: [name: string, bytes: Uint8Array, huge: boolean][];
}

/** The context for a global seed. */
export function fuzzContext(seed: number): FuzzContext {
  const seeds = buildSeeds();
  const small = seeds.find((s) => s.name === "connect-small")!;
  return { seed, seeds, small, patho: pathologicalInputs(small) };
}

/** Size-field operations applied to every element header of the small stream. */
const SIZE_OPS: readonly [string, (h: Header) => Uint8Array][] = [
  ["unknown (same width)", (h) => unknownSize(h.sizeWidth)],
  ["unknown FF", () => unknownSize(1)],
  ["invalid 00", (h) => Uint8Array.of(0x00, ...new Uint8Array(h.sizeWidth - 1))],
  ["zero", (h) => sizeVint(0n, h.sizeWidth)],
  ["2^56-2", () => HUGE_8],
  ["+1", (h) => sizeVint(BigInt(h.size + 1), BigInt(h.size + 1) <= maxSizeOf(h.sizeWidth) ? h.sizeWidth : 8)],
  ["-1", (h) => sizeVint(BigInt(Math.max(0, h.size - 1)), h.sizeWidth)],
  ["max for width", (h) => sizeVint(maxSizeOf(h.sizeWidth), h.sizeWidth)],
];

/** Number of cases in a section (random and cli: as many as asked). */
export function sectionSize(ctx: FuzzContext, section: Section, asked = 0): number {
  switch (section) {
    case "seeds":
      return ctx.seeds.length;
    case "truncate":
      return ctx.small.bytes.length + 1;
    case "sizes":
      return ctx.small.headers.length * SIZE_OPS.length;
    case "patho":
      return ctx.patho.length;
    default:
      return asked;
  }
}

/** Build case `index` of `section`. */
export function makeCase(ctx: FuzzContext, section: Section, index: number): FuzzCase {
  const r = caseRng(ctx.seed, section, index);
  const base = (kind: string, desc: string, bytes: Uint8Array, huge = false): FuzzCase => ({
    id: `${section}#${index}`,
    kind,
    desc,
    bytes,
    chunkInspect: randomChunking(r, bytes.length),
    chunkExtract: randomChunking(r, bytes.length),
    stereo: r.chance(0.25),
    followStream: r.chance(0.15),
    eager: r.chance(0.5),
    huge,
  });
  switch (section) {
    case "seeds": {
      const s = ctx.seeds[index];
      return { ...base("seed", `seed ${s.name} unmodified`, s.bytes), valid: true };
    }
    case "truncate":
      return base(
        "truncate-every-offset",
        `${ctx.small.name} truncated to ${index} bytes`,
        ctx.small.bytes.slice(0, index),
      );
    case "sizes": {
      const h = ctx.small.headers[Math.floor(index / SIZE_OPS.length)];
      const [op, field] = SIZE_OPS[index % SIZE_OPS.length];
      const f = field(h);
      const huge = op === "2^56-2" || op === "max for width";
      return base(
        `size-field ${op}`,
        `${ctx.small.name}: ${h.name}@${h.offset} size field (${h.sizeWidth} B) -> ${fieldHex(f)}`,
        setSizeField(ctx.small.bytes, h, f),
        huge,
      );
    }
    case "patho": {
      const [name, bytes, huge] = ctx.patho[index];
      return base(`patho ${name.replace(/[-: ].*$/, "")}`, `pathological input ${name}`, bytes, huge);
    }
    case "random":
    case "cli": {
      const pool = section === "cli" ? ctx.seeds.filter((s) => s.bytes.length <= 32768) : ctx.seeds;
      const seed = r.pick(pool);
      let bytes = seed.bytes;
      let headers: Header[] | undefined = seed.headers;
      const hs = () => (headers ??= headersOf(bytes));
      const n = r.chance(0.7) ? 1 : r.chance(0.66) ? 2 : 3;
      const kinds: string[] = [];
      const descs: string[] = [];
      let huge = false;
      for (let i = 0; i < n; i++) {
        const k = pickMutator(r);
        const m = MUTATORS[k][1](r, bytes, hs, ctx.seeds);
        kinds.push(k);
        descs.push(m.desc);
        if (k === "size-huge" || k === "size-random") huge = true;
        bytes = m.bytes;
        headers = undefined;
      }
      const kind = n === 1 ? kinds[0] : `stacked (${n})`;
      return base(kind, `seed ${seed.name}; ${descs.join("; ")}`, bytes, huge);
    }
    default:
      throw new Error(`makeCase: no generator for section ${section}`);
  }
}

/** A case from given bytes (KNOWN_FAILURES and other explicit inputs). */
export function explicitCase(name: string, bytes: Uint8Array, index = 0): FuzzCase {
  return {
    id: `explicit#${index}`,
    kind: "explicit",
    desc: name,
    bytes,
    chunkInspect: { kind: "fixed", size: 7 },
    chunkExtract: { kind: "whole" },
    stereo: false,
    followStream: false,
    eager: true,
    huge: true,
  };
}

// ---------------------------------------------------------------------------
// Pathological inputs

const NEST = 10000;

function hdr(id: number, size: Uint8Array): Uint8Array {
  return concat([encodeId(id), size]);
}

/** Known-size nesting of `id` around `inner`, `depth` levels, 8-byte size fields. */
function nestKnown(id: number, inner: Uint8Array, depth: number): Uint8Array {
  // Built in one buffer from the inside out (a naive concat per level is quadratic).
  const head = encodeId(id).length + 8;
  const out = new Uint8Array(inner.length + depth * head);
  let start = out.length - inner.length;
  out.set(inner, start);
  for (let i = 0; i < depth; i++) {
    const size = out.length - start;
    start -= head;
    out.set(encodeId(id), start);
    out.set(encodeSize(size, 8), start + head - 8);
  }
  return out;
}

/** Hand-made inputs: deep nesting, huge declared sizes, zero sizes, odd placements, lacing and timing extremes. */
export function pathologicalInputs(small: Seed): [string, Uint8Array, boolean][] {
  const H = ebmlHeader();
  const SEG = hdr(ID.Segment, unknownSize(8));
  const FF = unknownSize(1);
  const b = small.bytes;
  const firstBlock = small.headers.find((h) => h.name === "SimpleBlock")!;
  const clusterPrefix = b.subarray(0, firstBlock.offset); // ends inside an unknown-size Cluster, after Position
  const cluster = small.headers.find((h) => h.name === "Cluster")!;
  const segment = small.headers.find((h) => h.name === "Segment")!;
  const afterSegHeader = b.subarray(segment.offset + segment.idWidth + segment.sizeWidth);
  const ebml = small.headers.find((h) => h.name === "EBML")!;
  const afterEbml = b.subarray(ebml.offset + ebml.idWidth + ebml.sizeWidth + ebml.size);
  const tagsPrefix = concat([H, SEG, hdr(ID.Tags, FF), hdr(ID.Tag, FF), hdr(ID.SimpleTag, FF)]);
  const tagName = strEl(ID.TagName, "x");
  const list: [string, Uint8Array, boolean][] = [];
  const add = (name: string, bytes: Uint8Array, huge = false) => list.push([name, bytes, huge]);

  // Deep nesting
  add(
    "nest-unknown: 10000 SimpleTag FF",
    concat([H, SEG, hdr(ID.Tags, FF), hdr(ID.Tag, FF), repeat(hdr(ID.SimpleTag, FF), NEST)]),
  );
  add(
    "nest-unknown: 10000 SimpleTag FF then a TagName",
    concat([H, SEG, hdr(ID.Tags, FF), hdr(ID.Tag, FF), repeat(hdr(ID.SimpleTag, FF), NEST), tagName]),
  );
  add(
    "nest-unknown: 10000 ChapterAtom FF",
    concat([H, SEG, hdr(ID.Chapters, FF), hdr(0x45b9, FF), repeat(hdr(0xb6, FF), NEST)]),
  );
  add(
    "nest-known: 10000 SimpleTag",
    concat([H, SEG, hdr(ID.Tags, FF), hdr(ID.Tag, FF), nestKnown(ID.SimpleTag, tagName, NEST)]),
  );
  add("nest-known: 10000 Cluster", concat([H, SEG, nestKnown(ID.Cluster, uintEl(ID.Timecode, 5), NEST)]));
  add("nest-known: 10000 Segment at top level", nestKnown(ID.Segment, uintEl(ID.Timecode, 5), NEST));
  add("nest-known: 10000 unknown-id 0x4321", concat([H, SEG, nestKnown(0x4321, tagName, NEST)]));
  add("nest-unknown: 10000 EBML FF", repeat(hdr(ID.EBML, FF), NEST));
  add("nest-unknown: 10000 Segment FF", concat([H, repeat(SEG, NEST)]));
  add("nest-unknown: 10000 Cluster FF", concat([H, SEG, repeat(hdr(ID.Cluster, FF), NEST)]));
  add("nest-unknown: 10000 BlockGroup FF", concat([clusterPrefix, repeat(hdr(ID.BlockGroup, FF), NEST)]));
  add("nest-unknown: 10000 TrackEntry FF", concat([H, SEG, hdr(ID.Tracks, FF), repeat(hdr(ID.TrackEntry, FF), NEST)]));
  add("nest-unknown: 10000 unknown-id 0x4321 FF", concat([H, SEG, repeat(hdr(0x4321, FF), NEST)]));
  add(
    "nest-unknown: 5000 x (Tags FF, Tag FF) alternating",
    concat([H, SEG, repeat(concat([hdr(ID.Tags, FF), hdr(ID.Tag, FF)]), NEST / 2)]),
  );
  add("many: 10000 empty documents", repeat(concat([H, SEG]), NEST));
  add(
    "many: 10000 tiny SimpleBlocks",
    concat([clusterPrefix, repeat(simpleBlock(1, 0, false, Uint8Array.of(1, 0)), NEST)]),
  );

  // Huge declared sizes
  add("huge: SimpleBlock 2^56-2 then end of input", concat([clusterPrefix, hdr(ID.SimpleBlock, HUGE_8)]), true);
  add(
    "huge: SimpleBlock 2^56-2 then 5000 bytes",
    concat([clusterPrefix, hdr(ID.SimpleBlock, HUGE_8), Uint8Array.of(0x81, 0, 0, 0x80), new Uint8Array(4996)]),
    true,
  );
  add("huge: Void 2^56-2 at top level", concat([H, hdr(ID.Void, HUGE_8)]), true);
  add("huge: Void 2^56-2 in the Segment", concat([H, SEG, hdr(ID.Void, HUGE_8), new Uint8Array(100)]), true);
  add("huge: Void 2^56-2 in the Cluster", concat([clusterPrefix, hdr(ID.Void, HUGE_8), new Uint8Array(100)]), true);
  add(
    "huge: unknown id 2^56-2 in the Cluster",
    concat([clusterPrefix, hdr(0x4321, HUGE_8), new Uint8Array(100)]),
    true,
  );
  add(
    "huge: TagString 2^56-2",
    concat([tagsPrefix, tagName, hdr(ID.TagString, HUGE_8), new TextEncoder().encode("abc")]),
    true,
  );
  add("huge: TagName 2^56-2", concat([tagsPrefix, hdr(ID.TagName, HUGE_8)]), true);
  add("huge: Timecode 2^56-2", concat([H, SEG, hdr(ID.Cluster, FF), hdr(ID.Timecode, HUGE_8), Uint8Array.of(1)]), true);
  add("huge: known Segment 2^56-2 around a real stream", concat([H, hdr(ID.Segment, HUGE_8), afterSegHeader]), true);
  add(
    "huge: known Cluster 2^56-2",
    concat([b.subarray(0, cluster.offset + cluster.idWidth), HUGE_8, b.subarray(cluster.offset + cluster.idWidth + 1)]),
    true,
  );
  add("huge: EBML header 2^56-2", concat([hdr(ID.EBML, HUGE_8), afterEbml]), true);
  add("huge: SimpleBlock 2^53+1", concat([clusterPrefix, hdr(ID.SimpleBlock, sizeVint((1n << 53n) + 1n, 8))]), true);
  for (let w = 1; w <= 8; w++) {
    add(
      `huge: SimpleBlock max ${w}-byte size`,
      concat([clusterPrefix, hdr(ID.SimpleBlock, sizeVint(maxSizeOf(w), w))]),
      true,
    );
  }
  add(
    "zero: 8-byte size 01 00 00 00 00 00 00 00 on the Cluster",
    concat([
      b.subarray(0, cluster.offset + cluster.idWidth),
      sizeVint(0n, 8),
      b.subarray(cluster.offset + cluster.idWidth + 1),
    ]),
  );

  // Zero sizes, empty and tiny inputs
  add("empty input", new Uint8Array(0));
  add("zero: Segment size 0 then its content", concat([H, hdr(ID.Segment, sizeVint(0n, 1)), afterSegHeader]));
  add("zero: EBML size 0 then the rest", concat([hdr(ID.EBML, sizeVint(0n, 1)), afterEbml]));
  add("zero: EBML header only", H);
  add("zero: EBML header and Segment header only", concat([H, SEG]));
  add(
    "zero: 8-byte zero sizes everywhere",
    concat([hdr(ID.EBML, sizeVint(0n, 8)), hdr(ID.Segment, sizeVint(0n, 8)), hdr(ID.Cluster, sizeVint(0n, 8))]),
  );
  add("zero: SimpleBlock size 0", concat([clusterPrefix, hdr(ID.SimpleBlock, sizeVint(0n, 1))]));
  add("zero: Block size 0 in a BlockGroup", concat([clusterPrefix, el(ID.BlockGroup, hdr(ID.Block, sizeVint(0n, 1)))]));
  for (let v = 0; v < 256; v++) add(`single byte ${v.toString(16).padStart(2, "0")}`, Uint8Array.of(v));
  add("invalid id 00", concat([H, SEG, Uint8Array.of(0x00, 0x81, 0x00)]));
  add("invalid id 5 bytes", concat([H, SEG, Uint8Array.of(0x08, 0x01, 0x02, 0x03, 0x04, 0x81, 0x00)]));
  add("invalid size 00 on the Segment", concat([H, encodeId(ID.Segment), Uint8Array.of(0x00, 0xff), afterSegHeader]));

  // Unknown sizes in impossible places
  add(
    "unknown: SimpleBlock FF",
    concat([clusterPrefix, hdr(ID.SimpleBlock, FF), Uint8Array.of(0x81, 0, 0, 0x80, 1, 2)]),
  );
  add("unknown: TagString FF", concat([tagsPrefix, tagName, hdr(ID.TagString, FF), Uint8Array.of(0x41)]));
  add("unknown: Void 8-byte unknown", concat([H, SEG, hdr(ID.Void, unknownSize(8)), new Uint8Array(8)]));
  add("unknown: EBMLVersion FF", concat([hdr(ID.EBML, FF), hdr(0x4286, FF), Uint8Array.of(1)]));
  add("unknown: unknown id FF", concat([H, SEG, hdr(0x4321, FF), new Uint8Array(4)]));
  add(
    "placement: Cluster at top level",
    concat([hdr(ID.Cluster, FF), uintEl(ID.Timecode, 1000), simpleBlock(1, 0, true, pcm(8, 1))]),
  );
  add("placement: SimpleBlock at top level", simpleBlock(1, 0, true, pcm(8, 1)));
  add("placement: SimpleBlock in the Segment, no Cluster", concat([H, SEG, simpleBlock(1, 0, true, pcm(8, 1))]));
  add("placement: BlockGroup at top level", blockGroup(1, 0, pcm(8, 1), 1));
  add(
    "placement: TrackEntry at top level",
    el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")]),
  );
  add("placement: Tags at top level", tagsEl([["ContactId", "x"]]));
  add("placement: Segment inside a Cluster", concat([clusterPrefix, SEG, simpleBlock(1, 0, true, pcm(8, 1))]));
  add(
    "placement: Cluster FF inside a TrackEntry",
    concat([
      H,
      SEG,
      hdr(ID.Tracks, FF),
      hdr(ID.TrackEntry, FF),
      hdr(ID.Cluster, FF),
      simpleBlock(1, 0, true, pcm(8, 1)),
    ]),
  );
  add(
    "placement: EBML header inside a known-size Cluster",
    concat([H, SEG, el(ID.Cluster, [uintEl(ID.Timecode, 1), H, SEG])]),
  );
  add(
    "placement: Tracks after the Cluster",
    concat([
      clusterPrefix,
      simpleBlock(1, 0, true, pcm(8, 1)),
      el(ID.Tracks, el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")])),
    ]),
  );
  add(
    "placement: TrackEntry FF inside a SimpleTag",
    concat([tagsPrefix, hdr(ID.TrackEntry, FF), uintEl(ID.TrackNumber, 1)]),
  );

  // Blocks and lacing
  const sb = (payload: number[]) => el(ID.SimpleBlock, Uint8Array.from(payload));
  add("block: track VINT 00", concat([clusterPrefix, sb([0x00, 0, 0, 0x80, 1, 2])]));
  add(
    "block: 8-byte track number",
    concat([clusterPrefix, sb([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x80, 1, 2])]),
  );
  add("block: header only", concat([clusterPrefix, sb([0x81, 0, 0, 0x80])]));
  add(
    "block: xiph 256 frames, lace sizes past the end",
    concat([clusterPrefix, sb([0x81, 0, 0, 0x82, 0xff, ...new Array(20).fill(0xff)])]),
  );
  add(
    "block: xiph sizes summing past the block",
    concat([clusterPrefix, sb([0x81, 0, 0, 0x82, 0x02, 200, 200, 1, 2, 3])]),
  );
  add(
    "block: ebml lacing with a 2^56 first size",
    concat([clusterPrefix, sb([0x81, 0, 0, 0x86, 0x02, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x80, 1, 2])]),
  );
  add(
    "block: ebml lacing with huge negative delta",
    concat([clusterPrefix, sb([0x81, 0, 0, 0x86, 0x02, 0x84, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 1, 2])]),
  );
  add("block: ebml lacing, truncated size VINT", concat([clusterPrefix, sb([0x81, 0, 0, 0x86, 0x02, 0x40])]));
  add("block: fixed lacing 256 empty frames", concat([clusterPrefix, sb([0x81, 0, 0, 0x84, 0xff])]));
  add("block: fixed lacing, uneven", concat([clusterPrefix, sb([0x81, 0, 0, 0x84, 0x02, 1, 2, 3, 4])]));
  add("block: lacing without a count", concat([clusterPrefix, sb([0x81, 0, 0, 0x82])]));
  add("block: odd payload", concat([clusterPrefix, sb([0x81, 0, 0, 0x80, 1, 2, 3])]));
  add(
    "block: relative timecode -32768",
    concat([clusterPrefix, sb([0x81, 0x80, 0x00, 0x80, 1, 2]), sb([0x82, 0x7f, 0xff, 0, 1, 2])]),
  );

  // Timing and format extremes (a small Connect-like document built here)
  const doc = (opts: { timecode?: Uint8Array; scale?: Uint8Array; mime?: string; blocks?: Uint8Array[] }) =>
    concat([
      H,
      SEG,
      el(ID.Info, opts.scale ? [opts.scale] : [uintEl(ID.TimecodeScale, 1000000)]),
      el(ID.Tracks, [
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")]),
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 2), strEl(ID.Name, "AUDIO_TO_CUSTOMER")]),
      ]),
      tagsEl([["ContactId", "t-1"], ["MimeType", opts.mime ?? "audio/L16;rate=8000;channels=1;"]]),
      hdr(ID.Cluster, FF),
      opts.timecode ?? uintEl(ID.Timecode, 1_700_000_000_000, 8),
      ...(opts.blocks ?? [simpleBlock(1, 0, true, pcm(16, 1)), simpleBlock(2, 0, false, pcm(16, 2))]),
    ]);
  add("time: Timecode 2^64-1", doc({ timecode: uintEl(ID.Timecode, (1n << 64n) - 1n, 8) }));
  add("time: Timecode 2^53-1", doc({ timecode: uintEl(ID.Timecode, 2 ** 53 - 1, 8) }));
  add("time: Timecode 9 bytes", doc({ timecode: el(ID.Timecode, new Uint8Array(9).fill(1)) }));
  add("time: TimecodeScale 2^53-1", doc({ scale: uintEl(ID.TimecodeScale, 2 ** 53 - 1, 8) }));
  add("time: TimecodeScale 1", doc({ scale: uintEl(ID.TimecodeScale, 1) }));
  add("time: TimecodeScale 0", doc({ scale: uintEl(ID.TimecodeScale, 0) }));
  add("time: TimecodeScale 2^64-1", doc({ scale: uintEl(ID.TimecodeScale, (1n << 64n) - 1n, 8) }));
  add(
    "time: blocks far apart (int16 extremes)",
    doc({
      blocks: [
        simpleBlock(1, -32768, true, pcm(16, 1)),
        simpleBlock(1, 32767, false, pcm(16, 2)),
        simpleBlock(2, 0, false, pcm(16, 3)),
      ],
    }),
  );
  add(
    "time: gap just under the 60 s maximum at 8000 Hz",
    concat([
      doc({}),
      hdr(ID.Cluster, FF),
      uintEl(ID.Timecode, 1_700_000_059_000, 8),
      simpleBlock(1, 0, true, pcm(16, 4)),
    ]),
  );
  add("format: MimeType rate=1", doc({ mime: "audio/L16;rate=1;channels=1;" }));
  add(
    "format: MimeType channels=8, odd payloads",
    doc({ mime: "audio/L16;rate=8000;channels=8;", blocks: [simpleBlock(1, 0, true, pcm(13, 1))] }),
  );
  add("format: MimeType rate=384000;channels=8", doc({ mime: "audio/L16;rate=384000;channels=8" }));
  add("format: MimeType garbage", doc({ mime: "audio/L16;rate=NaN;channels=-1;rate=1e400;;=;" }));
  const audioDoc = (audio: Uint8Array[]) =>
    concat([
      H,
      SEG,
      el(
        ID.Tracks,
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), strEl(ID.Name, "AUDIO_FROM_CUSTOMER"), el(ID.Audio, audio)]),
      ),
      hdr(ID.Cluster, FF),
      uintEl(ID.Timecode, 0),
      simpleBlock(1, 0, true, pcm(16, 1)),
    ]);
  add("format: Audio SamplingFrequency 1e10, no MimeType", audioDoc([floatEl(ID.SamplingFrequency, 1e10, 4)]));
  add("format: Audio SamplingFrequency 2^32, no MimeType", audioDoc([floatEl(ID.SamplingFrequency, 2 ** 32)]));
  add("format: Audio SamplingFrequency 1e300, no MimeType", audioDoc([floatEl(ID.SamplingFrequency, 1e300)]));
  add("format: Audio SamplingFrequency 1e6, no MimeType", audioDoc([floatEl(ID.SamplingFrequency, 1e6)]));
  add("format: Audio SamplingFrequency NaN, no MimeType", audioDoc([floatEl(ID.SamplingFrequency, NaN)]));
  add("format: Audio SamplingFrequency -8000, no MimeType", audioDoc([floatEl(ID.SamplingFrequency, -8000)]));
  add(
    "format: Audio Channels 0, no MimeType",
    audioDoc([floatEl(ID.SamplingFrequency, 8000, 4), uintEl(ID.Channels, 0)]),
  );
  add(
    "format: Audio Channels 40000, no MimeType",
    audioDoc([floatEl(ID.SamplingFrequency, 8000, 4), uintEl(ID.Channels, 40000)]),
  );
  add(
    "format: Audio Channels 2^40, no MimeType",
    audioDoc([floatEl(ID.SamplingFrequency, 8000, 4), uintEl(ID.Channels, 2 ** 40)]),
  );
  add(
    "format: MimeType rate=384000;channels=8 with a 1 s gap",
    concat([
      doc({ mime: "audio/L16;rate=384000;channels=8" }),
      hdr(ID.Cluster, FF),
      uintEl(ID.Timecode, 1_700_000_001_000, 8),
      simpleBlock(1, 0, true, pcm(16, 4)),
    ]),
  );
  add(
    "format: MimeType changes between documents",
    concat([doc({}), doc({ mime: "audio/L16;rate=16000;channels=2;" })]),
  );
  return list;
}

// ---------------------------------------------------------------------------
// Running one case

/** What one pipeline run ended with. */
export type OutcomeKind = "ok" | "data-error" | "kvs-error" | "usage-stereo" | "failure";

interface RunOutcome {
  kind: OutcomeKind;
  message?: string;
  json: string[];
  stop?: string;
}

/** What a case ended with. */
export interface CaseResult {
  id: string;
  kind: string;
  desc: string;
  /** Case outcome: the worst allowed outcome of its runs, or failure. */
  outcome: OutcomeKind;
  /** Problems found (empty unless the outcome is failure). */
  failures: string[];
  ms: number;
  rssGrowth: number;
  bytes: number;
  /** The failing input, written to a temp file. */
  reproFile?: string;
  /** The failing input as hex, when short. */
  reproHex?: string;
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const frames = (e.stack ?? "").split("\n").filter((l) => l.trimStart().startsWith("at ")).slice(0, 3)
      .map((l) => l.trim().replace(/file:\/\/\/[^\s)]*\/(src|tests)\//, "$1/"));
    return `${e.name}: ${e.message}${frames.length ? ` [${frames.join(" < ")}]` : ""}`;
  }
  return `non-Error thrown: ${String(e)}`;
}

/** Classify an error thrown by a pipeline run: allowed (data or KVS error) or a failure. */
export function classifyError(e: unknown, len: number, allowKvs: boolean, stereo: boolean): RunOutcome {
  if (e instanceof DataError) {
    const problems: string[] = [];
    const m = e.message;
    if (/[\r\n]/.test(m)) problems.push("message is not one line");
    const at = /\bbyte (\d+)\b/.exec(m);
    if (!at) problems.push('message has no "byte <n>"');
    else if (Number(at[1]) > len) problems.push(`message names byte ${at[1]} beyond the input (${len} bytes)`);
    if (!Number.isSafeInteger(e.offset) || e.offset < 0 || e.offset > len) {
      problems.push(`offset ${e.offset} out of range`);
    }
    if (/\bNaN\b|\bundefined\b|\[object |Infinity/.test(m)) problems.push("message shows NaN/undefined/Infinity");
    if (e.exitCode !== 3) problems.push(`exit code ${e.exitCode}`);
    if (problems.length) return { kind: "failure", message: `DataError (${problems.join(", ")}): ${m}`, json: [] };
    return { kind: "data-error", message: m, json: [] };
  }
  if (e instanceof KvsStreamError && allowKvs) {
    if (/[\r\n]/.test(e.message)) {
      return { kind: "failure", message: `KvsStreamError not one line: ${e.message}`, json: [] };
    }
    return { kind: "kvs-error", message: e.message, json: [] };
  }
  if (stereo && e instanceof UsageError && /^stereo: true needs mono tracks/.test(e.message)) {
    return { kind: "usage-stereo", message: e.message, json: [] };
  }
  return { kind: "failure", message: describeError(e), json: [] };
}

/** What `inspect` prints for a fragment in text mode (the risky parts of textLine). */
function renderText(f: Fragment): string {
  const k = f.kvs;
  const counts = [...f.blockCounts()].map(([t, n]) => `${t}:${n}`).join(",") || "-";
  const flags = [
    f.complete ? "" : "truncated",
    f.isError ? `error=${displayText(k.errorCode!, 32)}` : "",
    f.tags.some((t) => t.position === "after") ? "tags-after" : "",
    f.unknownElements > 0 ? `unknown-elements=${f.unknownElements}` : "",
  ].join(",");
  return [
    f.index,
    f.offset,
    f.size,
    displayText(k.fragmentNumber ?? "-", 64),
    isoTime(k.producerTimestampMs),
    displayText(f.contactId ?? "-", 64),
    counts,
    (f.durationMs / 1000).toFixed(3),
    flags,
  ].join(" ");
}

/** What `inspect --tree` prints (mirrors treeLines). */
function renderTree(nodes: readonly ElementNode[], depth: number, out: string[]): void {
  for (const n of nodes) {
    let value = "";
    if (n.children) value = n.unknownSize ? "(master, unknown size)" : "(master)";
    else if (n.unknownElement) value = "(unknown element, skipped)";
    else if (n.value instanceof Uint8Array) value = `<${hexPreview(n.value, 8)}>`;
    else if (n.value instanceof Date) value = n.value.toISOString();
    else if (typeof n.value === "string") value = `'${displayText(n.value, 80)}'`;
    else if (n.value !== undefined) value = String(n.value);
    if (n.truncated) value += " [truncated]";
    out.push(`${n.offset} ${n.size} ${"  ".repeat(depth)}${n.name}: ${value}`);
    if (n.children) renderTree(n.children, depth + 1, out);
  }
}

async function inspectRun(
  bytes: Uint8Array,
  chunks: Uint8Array[] | RereadableSource,
  tree: boolean,
  eager: boolean,
): Promise<RunOutcome> {
  const json: string[] = [];
  try {
    for await (const f of assembleFragments(chunks, { source: SOURCE, tree, eager })) {
      json.push(JSON.stringify(fragmentJson(f)));
      renderText(f);
      if (tree) renderTree(f.tree ?? [], 1, []);
    }
    return { kind: "ok", json };
  } catch (e) {
    return { ...classifyError(e, bytes.length, false, false), json };
  }
}

const OUT_FILES = ["from_customer.wav", "to_customer.wav", "stereo.wav"] as const;

/** The first 4 KiB of a file (a WAV header is in there) and the file's size: WAVs can be large. */
export function readHead(path: string): [Uint8Array, number] {
  const f = Deno.openSync(path);
  try {
    const buf = new Uint8Array(4096);
    let n = 0;
    for (;;) {
      const k = f.readSync(buf.subarray(n));
      if (k === null || k === 0) break;
      n += k;
      if (n === buf.length) break;
    }
    return [buf.subarray(0, n), f.statSync().size];
  } finally {
    f.close();
  }
}

/**
 * Check a WAV from its head and size ({@link readHead}): its header, if it
 * parses, and a problem (naming the file `label`) when it does not parse or
 * the file does not hold exactly the data the header declares.
 */
export function checkWavHead(label: string, head: Uint8Array, size: number): { info?: WavInfo; problem?: string } {
  let info: WavInfo;
  try {
    info = parseWavHeader(head);
  } catch (e) {
    return { problem: `${label} is not a valid WAV: ${(e as Error).message}` };
  }
  const held = size - info.dataOffset;
  if (held !== info.dataBytes) {
    return { info, problem: `${label}: header says ${info.dataBytes} data bytes, file holds ${held}` };
  }
  return { info };
}

/** Check every WAV in `dir`: it parses and holds exactly the data its header declares. */
function checkWavs(dir: string, writer: CallWriter, stereo: boolean, final: boolean, countFrames: boolean): string[] {
  const problems: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!(OUT_FILES as readonly string[]).includes(entry.name)) problems.push(`unexpected output ${entry.name}`);
  }
  for (const name of OUT_FILES) {
    let bytes: Uint8Array;
    let fileSize: number;
    try {
      [bytes, fileSize] = readHead(`${dir}/${name}`);
    } catch {
      if (final && (name !== "stereo.wav" || stereo)) problems.push(`${name} missing after close()`);
      continue;
    }
    if (name === "stereo.wav" && !stereo) problems.push("stereo.wav written without stereo");
    const { info, problem } = checkWavHead(name, bytes, fileSize);
    if (problem) problems.push(problem);
    if (!info) continue;
    const dir2 = name === "from_customer.wav" ? "from" : name === "to_customer.wav" ? "to" : undefined;
    if (countFrames && dir2 && writer.format) {
      const expect = writer.frames[dir2] * 2 * writer.format.channels;
      if (expect !== info.dataBytes) problems.push(`${name}: ${info.dataBytes} data bytes, writer counted ${expect}`);
    }
  }
  return problems;
}

async function extractRun(c: FuzzCase, dir: string, problems: string[]): Promise<RunOutcome> {
  for (const name of OUT_FILES) {
    try {
      Deno.removeSync(`${dir}/${name}`);
    } catch {
      // not there
    }
  }
  const writer = new CallWriter({ outDir: dir, format: "wav", stereo: c.stereo, tracks: "both", force: true });
  writer.prepare();
  let res: RunOutcome = { kind: "ok", json: [] };
  let checks = 0;
  try {
    const items = demuxConnect(assembleFragments(rereadableChunks(c.bytes, c.chunkExtract), { source: SOURCE }), {
      followStream: c.followStream,
    });
    for await (const item of items) {
      if (item.kind === "stop") {
        res.stop = item.reason;
        continue;
      }
      writer.write(item);
      // A valid WAV at any moment: checked after each fragment that wrote audio (the first 50).
      if ((item.from || item.to) && checks++ < 50) {
        problems.push(
          ...checkWavs(dir, writer, c.stereo, false, true).map((p) => `after fragment ${item.fragment.index}: ${p}`),
        );
      }
    }
  } catch (e) {
    res = classifyError(e, c.bytes.length, true, c.stereo);
  } finally {
    try {
      writer.close();
    } catch (e) {
      problems.push(`CallWriter.close() threw ${describeError(e)}`);
    }
  }
  problems.push(...checkWavs(dir, writer, c.stereo, true, res.kind !== "usage-stereo"));
  return res;
}

/** Differences between two readings of the same bytes (one chunk vs `how`): outcome, fragment count, first differing field. */
function sameReading(a: RunOutcome, b: RunOutcome, how: string): string[] {
  if (a.kind === "failure" || b.kind === "failure") return [];
  if (a.kind !== b.kind || a.message !== b.message) {
    return [
      `${how} changed the outcome: one chunk -> ${a.kind} ${a.message ?? ""}; ${how} -> ${b.kind} ${b.message ?? ""}`,
    ];
  }
  if (a.json.length !== b.json.length) {
    return [
      `${how} changed how many fragments were read before the ${a.kind === "ok" ? "end" : "error"}: ` +
      `one chunk -> ${a.json.length}, ${how} -> ${b.json.length}`,
    ];
  }
  const i = a.json.findIndex((j, k) => j !== b.json[k]);
  if (i < 0) return [];
  const fa = JSON.parse(a.json[i]) as Record<string, unknown>;
  const fb = JSON.parse(b.json[i]) as Record<string, unknown>;
  const field = Object.keys(fa).find((k) => JSON.stringify(fa[k]) !== JSON.stringify(fb[k]));
  return [
    `${how} changed fragment ${i} field ${field}: one chunk -> ${JSON.stringify(fa[field!]).slice(0, 200)}, ` +
    `${how} -> ${JSON.stringify(fb[field!]).slice(0, 200)}`,
  ];
}

/** Run one case: inspect (one chunk, no tree), inspect (chunked, tree), extract (chunked), eager; check everything. */
export async function runCase(c: FuzzCase, dir: string): Promise<CaseResult> {
  const rss0 = c.huge ? Deno.memoryUsage().rss : 0;
  const t0 = performance.now();
  const failures: string[] = [];
  const len = c.bytes.length;
  const a = await inspectRun(c.bytes, [c.bytes], false, false);
  const b = await inspectRun(c.bytes, chunksOf(c.bytes, c.chunkInspect), true, false);
  const h = await inspectRun(c.bytes, rereadableChunks(c.bytes, c.chunkExtract), false, false);
  const problems: string[] = [];
  const x = await extractRun(c, dir, problems);
  const e = c.eager ? await inspectRun(c.bytes, chunksOf(c.bytes, c.chunkExtract), false, true) : undefined;
  const ms = performance.now() - t0;
  const rssGrowth = c.huge ? Deno.memoryUsage().rss - rss0 : 0;

  for (
    const [what, r] of [["inspect", a], ["inspect --tree (chunked)", b], ["inspect (documents held back)", h], [
      "extract",
      x,
    ], [
      "pull-style eager assembly",
      e,
    ]] as const
  ) {
    if (r?.kind === "failure") failures.push(`${what}: ${r.message}`);
  }
  failures.push(...problems.map((p) => `extract: ${p}`));
  // Chunking, the tree option and holding documents back must not change what is read.
  failures.push(...sameReading(a, b, describeChunking(c.chunkInspect)));
  failures.push(...sameReading(a, h, `${describeChunking(c.chunkExtract)}, documents held back`));
  // extract reads a prefix of what inspect reads (it may stop at a contact change or an error fragment, or
  // refuse tracks it cannot write as 16-bit PCM and a change of format, which inspect shows).
  if (
    a.kind !== "failure" && x.kind === "data-error" && (a.kind !== "data-error" || a.message !== x.message) &&
    !WRITE_REFUSAL.test(x.message ?? "")
  ) {
    failures.push(`extract failed with "${x.message}" but inspect ended with ${a.kind} ${a.message ?? ""}`);
  }
  if (a.kind === "data-error" && x.kind === "ok" && x.stop === "end-of-input") {
    failures.push(`inspect failed with "${a.message}" but extract read to the end of input`);
  }
  // (A valid stream that is no Connect call, such as a KVS video capture, is refused by extract, not misread.)
  if (c.valid && (a.kind === "data-error" || (x.kind === "data-error" && !WRITE_REFUSAL.test(x.message ?? "")))) {
    failures.push(`a valid seed gave a data error: ${a.message ?? x.message}`);
  }
  if (ms > CASE_TIME_LIMIT_MS) failures.push(`took ${ms.toFixed(0)} ms (limit ${CASE_TIME_LIMIT_MS} ms)`);
  if (c.huge && rssGrowth > HUGE_RSS_LIMIT) {
    failures.push(`RSS grew by ${(rssGrowth / 2 ** 20).toFixed(0)} MiB on a ${len}-byte input`);
  }

  let outcome: OutcomeKind = "ok";
  for (const r of [a, b, h, x, e]) {
    if (!r) continue;
    if (r.kind === "data-error") outcome = "data-error";
    else if (r.kind === "kvs-error" && outcome === "ok") outcome = "kvs-error";
    else if (r.kind === "usage-stereo" && outcome === "ok") outcome = "usage-stereo";
  }
  const result: CaseResult = { id: c.id, kind: c.kind, desc: c.desc, outcome, failures, ms, rssGrowth, bytes: len };
  if (failures.length > 0) {
    result.outcome = "failure";
    if (len <= 400) result.reproHex = hex(c.bytes);
    try {
      const path = Deno.makeTempFileSync({ prefix: `kvsaudio-fuzz-${c.id.replace(/\W/g, "_")}-`, suffix: ".mkv" });
      Deno.writeFileSync(path, c.bytes);
      result.reproFile = path;
    } catch {
      // no temp file: the recipe still reproduces it
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// Worker protocol

/** A request to a fuzz worker. */
export interface WorkerRequest {
  seed: number;
  section: Section;
  start: number;
  end: number;
  dir: string;
  /** For section "explicit": the inputs. */
  explicit?: { name: string; hex: string }[];
}

/** What a fuzz worker reports. */
export type WorkerMessage =
  | { t: "start"; index: number; id: string; kind: string; desc: string; bytes: number }
  | { t: "done"; result: CaseResult }
  | { t: "end" }
  | { t: "crash"; message: string };

const EMPTY = new Uint8Array(0);

/** The result of a case that could not be run: one failure, with its bytes' hex when short. */
function failedCase(id: string, kind: string, desc: string, bytes: Uint8Array, failure: string): CaseResult {
  return {
    id,
    kind,
    desc,
    outcome: "failure",
    failures: [failure],
    ms: 0,
    rssGrowth: 0,
    bytes: bytes.length,
    reproHex: bytes.length > 0 && bytes.length <= 400 ? hex(bytes) : undefined,
  };
}

async function serve(req: WorkerRequest, post: (m: WorkerMessage) => void): Promise<void> {
  const ctx = req.section === "explicit" ? undefined : fuzzContext(req.seed);
  for (let i = req.start; i < req.end; i++) {
    let c: FuzzCase;
    if (req.section === "explicit") {
      const x = req.explicit![i];
      c = explicitCase(x.name, decodeHexText(x.hex), i);
    } else {
      try {
        c = makeCase(ctx!, req.section, i);
      } catch (e) {
        // A bug in the fuzzer itself: report it as this case's failure and go on.
        const id = `${req.section}#${i}`;
        post({ t: "start", index: i, id, kind: "?", desc: "(making the case)", bytes: 0 });
        post({
          t: "done",
          result: failedCase(id, "?", "(making the case)", EMPTY, `makeCase threw: ${describeError(e)}`),
        });
        continue;
      }
    }
    post({ t: "start", index: i, id: c.id, kind: c.kind, desc: c.desc, bytes: c.bytes.length });
    let result: CaseResult;
    try {
      result = await runCase(c, req.dir);
    } catch (e) {
      result = failedCase(c.id, c.kind, c.desc, c.bytes, `the case runner itself threw: ${describeError(e)}`);
    }
    post({ t: "done", result });
  }
  post({ t: "end" });
}

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(m: WorkerMessage): void;
}

if (import.meta.main && "WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (e) => {
    serve(e.data, (m) => scope.postMessage(m)).catch((err) =>
      scope.postMessage({ t: "crash", message: describeError(err) })
    );
  };
}

/** Progress of a section run in workers. */
export interface SectionRun {
  results: CaseResult[];
  /** Cases that never reported (hung worker), as failures. */
  hangs: CaseResult[];
}

/**
 * Run cases [start, end) of `section` in a Worker; a case that reports nothing
 * for {@link HANG_MS} is recorded as a hang, the worker is terminated and a
 * new one continues after it.
 */
export async function runSection(
  req: Omit<WorkerRequest, "start" | "end">,
  start: number,
  end: number,
): Promise<SectionRun> {
  const results: CaseResult[] = [];
  const hangs: CaseResult[] = [];
  let next = start;
  while (next < end) {
    const worker = new Worker(new URL(import.meta.url), { type: "module" });
    let current: Extract<WorkerMessage, { t: "start" }> | undefined;
    const stopped = await new Promise<"end" | "hang" | "crash">((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => resolve("hang"), HANG_MS);
      };
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
        const m = e.data;
        arm();
        if (m.t === "start") current = m;
        else if (m.t === "done") {
          results.push(m.result);
          current = undefined;
          next = Math.max(next, Number(m.result.id.split("#")[1]) + 1);
        } else if (m.t === "end") {
          clearTimeout(timer);
          next = end;
          resolve("end");
        } else if (m.t === "crash") {
          clearTimeout(timer);
          hangs.push(crashResult(current, `the worker crashed: ${m.message}`));
          resolve("crash");
        }
      };
      worker.onerror = (e) => {
        e.preventDefault();
        clearTimeout(timer);
        hangs.push(crashResult(current, `the worker died: ${e.message}`));
        resolve("crash");
      };
      arm();
      worker.postMessage({ ...req, start: next, end } satisfies WorkerRequest);
    });
    worker.terminate();
    if (stopped === "hang") hangs.push(crashResult(current, `no result after ${HANG_MS / 1000} s: hang`));
    if (stopped === "end") break;
    if (current === undefined) break; // the worker died outside a case: do not loop
    next = current.index + 1;
  }
  return { results, hangs };
}

function crashResult(current: Extract<WorkerMessage, { t: "start" }> | undefined, message: string): CaseResult {
  return {
    id: current?.id ?? "?",
    kind: current?.kind ?? "?",
    desc: current?.desc ?? "(no case in progress)",
    outcome: "failure",
    failures: [message],
    ms: HANG_MS,
    rssGrowth: 0,
    bytes: current?.bytes ?? 0,
  };
}
