/**
 * Unit tests of src/ebml: VINTs, leaf value decoding and the streaming
 * tokenizer (token sequence, unknown-size rule, skipping, errors, views,
 * chunk-boundary independence on generated and real streams).
 */
import assert from "node:assert/strict";
import { DataError } from "../src/errors.ts";
import { formatId, readBlockVint, readId, readSize, UNKNOWN_SIZE, vintWidth } from "../src/ebml/vint.ts";
import { decodeFloat, decodeInt, decodeString, decodeUint, decodeValue, decodeValueAt } from "../src/ebml/decode.ts";
import { canDescend, elementById, elementByName, ID as EID } from "../src/ebml/elements.ts";
import { EbmlTokenizer, tokenize, tokenizeBatches, type TokenizerOptions } from "../src/ebml/tokenizer.ts";
import type { EbmlToken, TokenBatch } from "../src/ebml/token.ts";
import {
  concat,
  ebmlHeader,
  el,
  encodeId,
  encodeSize,
  floatEl,
  ID,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
} from "./support/mkv_writer.ts";
import { connectStream, MAGIC_IDS } from "./support/connect_stream.ts";
import { haveFixtures, loadFixture, skipReason } from "./support/shared_fixtures.ts";
import { bytes, catchError, hex } from "./support/util.ts";
import { seededRandom } from "../src/kvs/backoff.ts";

// ---------------------------------------------------------------- helpers

if (skipReason) console.log(`skip: ${skipReason}`);

/** Tokenize `data` pushed in chunks whose sizes come from `next` (default: one chunk). */
function tokensOf(
  data: Uint8Array,
  next: () => number = () => data.length || 1,
  options?: TokenizerOptions,
): EbmlToken[] {
  const tk = new EbmlTokenizer(options);
  const out: EbmlToken[] = [];
  let o = 0;
  while (o < data.length) {
    const n = Math.max(1, next());
    tk.push(data.subarray(o, o + n), out);
    o += n;
  }
  tk.end(out);
  return out;
}

/** A token with its value made comparable (bytes as hex, bigint and Date tagged). */
function norm(t: EbmlToken) {
  const v = t.value;
  let value: unknown = v;
  if (v instanceof Uint8Array) value = "bytes:" + hex(v);
  else if (typeof v === "bigint") value = "bigint:" + v.toString();
  else if (v instanceof Date) value = "date:" + v.toISOString();
  return {
    kind: t.kind,
    id: t.id,
    name: t.name,
    type: t.type,
    offset: t.offset,
    headerSize: t.headerSize,
    size: t.size,
    depth: t.depth,
    truncated: t.truncated,
    value,
  };
}

/** Short form for sequence checks: kind name offset size depth [truncated]. */
function brief(t: EbmlToken): string {
  return `${t.kind} ${t.name} @${t.offset} s${t.size} d${t.depth}${t.truncated ? " T" : ""}`;
}

function dataErrorOf(data: Uint8Array, options?: TokenizerOptions, chunk?: number): DataError {
  const e = catchError(() => tokensOf(data, chunk ? () => chunk : undefined, options));
  assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
  return e;
}

const SEG_UNKNOWN = concat([encodeId(ID.Segment), unknownSize(8)]);
const CLUSTER_UNKNOWN = concat([encodeId(ID.Cluster), unknownSize(1)]);

// ---------------------------------------------------------------- vint

Deno.test("vint: vintWidth for every marker position, 0 for 0x00", () => {
  assert.deepEqual(
    [0x80, 0xff, 0x40, 0x7f, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00].map(vintWidth),
    [1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 0],
  );
});

Deno.test("vint: readSize of widths 1-8, minimal and non-minimal", () => {
  for (let w = 1; w <= 8; w++) {
    const enc = encodeSize(5, w);
    assert.equal(enc.length, w);
    assert.deepEqual(readSize(enc, 0, enc.length), { value: 5, width: w }, `5 in ${w} bytes`);
    // largest known value of the width (exact up to 2^53)
    const max = w === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (7 * w) - 2;
    const encMax = encodeSize(max, w);
    assert.deepEqual(readSize(encMax, 0, w), { value: max, width: w }, `max of width ${w}`);
    assert.deepEqual(readSize(encodeSize(0, w), 0, w), { value: 0, width: w });
  }
  // explicit bytes: size 5 written in 8 bytes, 2 bytes, 1 byte
  assert.deepEqual(readSize(bytes(0x01, 0, 0, 0, 0, 0, 0, 0x05), 0, 8), { value: 5, width: 8 });
  assert.deepEqual(readSize(bytes(0x40, 0x05), 0, 2), { value: 5, width: 2 });
  assert.deepEqual(readSize(bytes(0x85), 0, 1), { value: 5, width: 1 });
  assert.deepEqual(readSize(bytes(0x10, 0x00, 0x01, 0x00), 0, 4), { value: 256, width: 4 });
  // reading at an offset inside a larger buffer
  assert.deepEqual(readSize(bytes(0xaa, 0xbb, 0x42, 0x10, 0xcc), 2, 5), { value: 0x210, width: 2 });
});

Deno.test("vint: unknown size in every width", () => {
  const expected = [
    [0xff],
    [0x7f, 0xff],
    [0x3f, 0xff, 0xff],
    [0x1f, 0xff, 0xff, 0xff],
    [0x0f, 0xff, 0xff, 0xff, 0xff],
    [0x07, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  ];
  for (let w = 1; w <= 8; w++) {
    const b = Uint8Array.from(expected[w - 1]);
    assert.deepEqual(unknownSize(w), b, `writer agrees for width ${w}`);
    assert.deepEqual(readSize(b, 0, w), { value: UNKNOWN_SIZE, width: w }, `unknown of width ${w}`);
    // one value bit cleared: a real (large) size, not unknown
    const almost = b.slice();
    almost[w - 1] = 0xfe;
    assert.notEqual(readSize(almost, 0, w)!.value, UNKNOWN_SIZE, `almost-unknown of width ${w}`);
  }
  assert.equal(UNKNOWN_SIZE, -1);
  assert.equal(readSize(bytes(0xfe), 0, 1)!.value, 126);
  assert.equal(readSize(bytes(0x7f, 0xfe), 0, 2)!.value, 16382);
  // width 2 with the first byte all ones but the second not: known
  assert.equal(readSize(bytes(0x7f, 0x7f), 0, 2)!.value, 0x3f7f);
});

Deno.test("vint: readSize returns undefined when the buffer ends early, throws on 0x00", () => {
  assert.equal(readSize(bytes(), 0, 0), undefined);
  assert.equal(readSize(bytes(0x01, 0xff, 0xff), 0, 3), undefined);
  assert.equal(readSize(bytes(0x40, 0x05), 0, 1), undefined, "end bound is honoured");
  const e = catchError(() => readSize(bytes(0x00, 0x01), 0, 2));
  assert.ok(e instanceof RangeError);
  assert.match((e as Error).message, /0x00/);
});

Deno.test("vint: readId widths 1-4, marker kept, width over 4 rejected", () => {
  assert.deepEqual(readId(bytes(0xa3), 0, 1), { value: 0xa3, width: 1 });
  assert.deepEqual(readId(bytes(0x42, 0x86), 0, 2), { value: 0x4286, width: 2 });
  assert.deepEqual(readId(bytes(0x2a, 0xd7, 0xb1), 0, 3), { value: 0x2ad7b1, width: 3 });
  assert.deepEqual(readId(bytes(0x1a, 0x45, 0xdf, 0xa3), 0, 4), { value: 0x1a45dfa3, width: 4 });
  // all-ones ids are not treated specially here: 0xFF is a 1-byte id
  assert.deepEqual(readId(bytes(0xff), 0, 1), { value: 0xff, width: 1 });
  assert.equal(readId(bytes(0x1a, 0x45, 0xdf), 0, 3), undefined);
  assert.equal(readId(bytes(), 0, 0), undefined);
  for (const first of [0x08, 0x04, 0x02, 0x01, 0x00]) {
    const e = catchError(() => readId(bytes(first, 0, 0, 0, 0, 0, 0, 0, 0), 0, 9));
    assert.ok(e instanceof RangeError, `first byte 0x${first.toString(16)}`);
    assert.match((e as Error).message, /invalid element id byte 0x0[0-8]/);
  }
});

Deno.test("vint: readBlockVint drops the marker, keeps all-ones, undefined on 0x00 or short input", () => {
  assert.deepEqual(readBlockVint(bytes(0x81), 0, 1), { value: 1, width: 1 });
  assert.deepEqual(readBlockVint(bytes(0x40, 0xc8), 0, 2), { value: 200, width: 2 });
  assert.deepEqual(readBlockVint(bytes(0xff), 0, 1), { value: 127, width: 1 });
  assert.deepEqual(readBlockVint(bytes(0x7f, 0xff), 0, 2), { value: 0x3fff, width: 2 });
  assert.deepEqual(readBlockVint(bytes(0x01, 0, 0, 0, 0, 0, 1, 0), 0, 8), { value: 256, width: 8 });
  assert.deepEqual(readBlockVint(bytes(0x00, 0x81, 0x85), 2, 3), { value: 5, width: 1 });
  assert.equal(readBlockVint(bytes(0x00, 0x81), 0, 2), undefined);
  assert.equal(readBlockVint(bytes(0x40), 0, 1), undefined);
  assert.equal(readBlockVint(bytes(), 0, 0), undefined);
});

Deno.test("vint: formatId", () => {
  assert.equal(formatId(0x1a45dfa3), "0x1A45DFA3");
  assert.equal(formatId(0xa3), "0xA3");
  assert.equal(formatId(0x4abc), "0x4ABC");
  assert.equal(formatId(0x5), "0x05");
});

// ---------------------------------------------------------------- elements

Deno.test("elements: table lookups and the descendant relation", () => {
  assert.equal(elementById(EID.SimpleBlock)?.name, "SimpleBlock");
  assert.equal(elementById(EID.Cluster)?.type, "master");
  assert.equal(elementById(0x4abc), undefined);
  assert.equal(elementByName("TagName")?.id, 0x45a3);
  assert.equal(elementByName("NoSuchElement"), undefined);
  const def = (id: number) => elementById(id)!;
  assert.equal(canDescend(def(EID.SimpleBlock), EID.Segment), true);
  assert.equal(canDescend(def(EID.Block), EID.Cluster), true);
  assert.equal(canDescend(def(EID.Tags), EID.Cluster), false);
  assert.equal(canDescend(def(EID.Cluster), EID.Cluster), false);
  assert.equal(canDescend(def(EID.EBML), EID.Segment), false);
  assert.equal(canDescend(def(EID.Void), EID.Cluster), true);
  assert.equal(canDescend(def(EID.SimpleTag), EID.SimpleTag), true);
});

// ---------------------------------------------------------------- decode

Deno.test("decode: unsigned integers of 0-8 bytes, bigint above 2^53", () => {
  assert.equal(decodeUint(bytes()), 0);
  assert.equal(decodeUint(bytes(0x7f)), 127);
  assert.equal(decodeUint(bytes(1, 0)), 256);
  assert.equal(decodeUint(bytes(0x0f, 0x42, 0x40)), 1000000);
  assert.equal(decodeUint(bytes(0xff, 0xff, 0xff, 0xff)), 4294967295);
  assert.equal(decodeUint(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 2 ** 48 - 1);
  assert.equal(decodeUint(bytes(0, 0, 0x01, 0x9f, 0x2a, 0x6b, 0x1a, 0xc8)), 0x019f2a6b1ac8);
  assert.equal(decodeUint(bytes(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 2 ** 53 - 1);
  assert.equal(decodeUint(bytes(0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), Number.MAX_SAFE_INTEGER);
  assert.equal(decodeUint(bytes(0, 0x20, 0, 0, 0, 0, 0, 0)), 2n ** 53n);
  assert.equal(decodeUint(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 2n ** 64n - 1n);
  assert.equal(decodeUint(bytes(0x80, 0, 0, 0, 0, 0, 0, 1)), 2n ** 63n + 1n);
  assert.throws(() => decodeUint(new Uint8Array(9)), RangeError);
  assert.equal(decodeValue("uint", bytes(0x0f, 0x42, 0x40)), 1000000);
  // 7 and 8 bytes around 2^48 and 2^53 (numbers built from a high part and the low 48 bits).
  assert.equal(decodeUint(bytes(0, 1, 0, 0, 0, 0, 0, 0)), 2 ** 48);
  assert.equal(decodeUint(bytes(1, 0, 0, 0, 0, 0, 0)), 2 ** 48);
  assert.equal(decodeUint(bytes(0x20, 0, 0, 0, 0, 0, 0)), 2n ** 53n);
  assert.equal(decodeUint(bytes(0, 0, 0x01, 0x9f, 0x1d, 0xe0, 0x1c, 0xc8)), 1782912654536);
  // In place, as the tokenizer decodes them (no view).
  const buf = bytes(9, 9, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9);
  assert.equal(decodeValueAt("uint", buf, 2, 8), Number.MAX_SAFE_INTEGER);
  assert.equal(decodeValueAt("uint", bytes(0x20, 0, 0, 0, 0, 0, 0, 0, 0), 0, 8), 2n ** 61n);
});

Deno.test("decode: signed integers with sign extension", () => {
  assert.equal(decodeInt(bytes()), 0);
  assert.equal(decodeInt(bytes(0x7f)), 127);
  assert.equal(decodeInt(bytes(0x80)), -128);
  assert.equal(decodeInt(bytes(0xff)), -1);
  assert.equal(decodeInt(bytes(0xff, 0xfe)), -2);
  assert.equal(decodeInt(bytes(0x00, 0xff)), 255);
  assert.equal(decodeInt(bytes(0xff, 0x00)), -256);
  assert.equal(decodeInt(bytes(0x80, 0x00, 0x00)), -(2 ** 23));
  assert.equal(decodeInt(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb)), -5);
  assert.equal(decodeInt(bytes(0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), Number.MAX_SAFE_INTEGER);
  assert.equal(decodeInt(bytes(0xff, 0xe0, 0, 0, 0, 0, 0, 1)), -(2 ** 53) + 1);
  assert.throws(() => decodeInt(new Uint8Array(9)), RangeError);
  assert.equal(decodeValue("int", bytes(0xff, 0x38)), -200);
});

Deno.test("decode: floats of 0, 4 and 8 bytes; 3 bytes rejected", () => {
  assert.equal(decodeFloat(bytes()), 0);
  assert.equal(decodeFloat(bytes(0x45, 0xfa, 0x00, 0x00)), 8000);
  assert.equal(decodeFloat(bytes(0x3f, 0xc0, 0x00, 0x00)), 1.5);
  assert.equal(decodeFloat(bytes(0x40, 0xe5, 0x88, 0x80, 0, 0, 0, 0)), 44100);
  assert.equal(decodeFloat(bytes(0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18)), -Math.PI);
  // a float view at an odd offset inside a larger buffer
  const big = bytes(0xaa, 0x45, 0xfa, 0x00, 0x00, 0xbb);
  assert.equal(decodeFloat(big.subarray(1, 5)), 8000);
  const e = catchError(() => decodeFloat(bytes(1, 2, 3)));
  assert.ok(e instanceof RangeError);
  assert.match((e as Error).message, /a float must be 0, 4 or 8 bytes, not 3/);
  assert.throws(() => decodeValue("float", bytes(1, 2, 3)), /not 3/);
});

Deno.test("decode: strings, trailing NULs stripped, UTF-8", () => {
  const enc = new TextEncoder();
  assert.equal(decodeString(enc.encode("matroska\0")), "matroska");
  assert.equal(decodeValue("string", enc.encode("matroska\0")), "matroska");
  assert.equal(decodeString(bytes(0x41, 0, 0)), "A");
  assert.equal(decodeString(bytes(0, 0, 0)), "");
  assert.equal(decodeString(bytes()), "");
  // a NUL inside is kept, only trailing ones go
  assert.equal(decodeString(bytes(0x41, 0, 0x42, 0)), "A\0B");
  // NUL-padded to 32 like KVS Name/CodecID
  const padded = new Uint8Array(32);
  padded.set(enc.encode("AUDIO_FROM_CUSTOMER"));
  assert.equal(decodeString(padded), "AUDIO_FROM_CUSTOMER");
  // non-ASCII, short and long (both code paths)
  assert.equal(decodeValue("utf8", enc.encode("Größe – 日本語\0\0")), "Größe – 日本語");
  const long = "é".repeat(50) + "x".repeat(30);
  assert.equal(decodeString(enc.encode(long + "\0")), long);
  const longAscii = "a".repeat(100);
  assert.equal(decodeString(enc.encode(longAscii)), longAscii);
  const emoji = "📞 call";
  assert.equal(decodeString(enc.encode(emoji)), emoji);
});

Deno.test("decode: dates (ns since 2001-01-01) and binary passthrough", () => {
  const d8 = (ns: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, ns);
    return b;
  };
  assert.equal((decodeValue("date", bytes()) as Date).toISOString(), "2001-01-01T00:00:00.000Z");
  assert.equal((decodeValue("date", d8(0n)) as Date).toISOString(), "2001-01-01T00:00:00.000Z");
  assert.equal((decodeValue("date", d8(1_500_000_000n)) as Date).toISOString(), "2001-01-01T00:00:01.500Z");
  assert.equal((decodeValue("date", d8(-86_400_000_000_000n)) as Date).toISOString(), "2000-12-31T00:00:00.000Z");
  // 2020-09-03T20:53:15.421Z
  const ms = Date.UTC(2020, 8, 3, 20, 53, 15, 421) - Date.UTC(2001, 0, 1);
  assert.equal(
    (decodeValue("date", d8(BigInt(ms) * 1000000n)) as Date).toISOString(),
    "2020-09-03T20:53:15.421Z",
  );
  assert.throws(() => decodeValue("date", bytes(1, 2, 3, 4)), /a date must be 8 bytes, not 4/);
  const bin = bytes(1, 2, 3);
  assert.equal(decodeValue("binary", bin), bin);
});

// ---------------------------------------------------------------- tokenizer: sequence

/** A small hand-built document; offsets worked out in the test. */
const SMALL_DOC = concat([
  el(ID.EBML, [uintEl(ID.EBMLVersion, 1), strEl(ID.DocType, "matroska\0")]), // 0..21
  SEG_UNKNOWN, // 21..33
  el(ID.Info, [uintEl(ID.TimecodeScale, 1000000)]), // 33..45
  CLUSTER_UNKNOWN, // 45..50
  uintEl(ID.Timecode, 5), // 50..53
  simpleBlock(1, 0, true, bytes(1, 2, 3)), // 53..62
]);

Deno.test("tokenizer: exact token sequence of a small document", () => {
  assert.equal(SMALL_DOC.length, 62);
  const t = (
    kind: EbmlToken["kind"],
    id: number,
    name: string,
    type: string,
    offset: number,
    headerSize: number,
    size: number,
    depth: number,
    value: unknown,
  ) => ({ kind, id, name, type, offset, headerSize, size, depth, truncated: false, value });
  assert.deepEqual(tokensOf(SMALL_DOC).map(norm), [
    t("start", 0x1a45dfa3, "EBML", "master", 0, 5, 16, 0, undefined),
    t("value", 0x4286, "EBMLVersion", "uint", 5, 3, 1, 1, 1),
    t("value", 0x4282, "DocType", "string", 9, 3, 9, 1, "matroska"),
    t("end", 0x1a45dfa3, "EBML", "master", 0, 5, 16, 0, undefined),
    t("start", 0x18538067, "Segment", "master", 21, 12, -1, 0, undefined),
    t("start", 0x1549a966, "Info", "master", 33, 5, 7, 1, undefined),
    t("value", 0x2ad7b1, "TimecodeScale", "uint", 38, 4, 3, 2, 1000000),
    t("end", 0x1549a966, "Info", "master", 33, 5, 7, 1, undefined),
    t("start", 0x1f43b675, "Cluster", "master", 45, 5, -1, 1, undefined),
    t("value", 0xe7, "Timecode", "uint", 50, 2, 1, 2, 5),
    t("value", 0xa3, "SimpleBlock", "binary", 53, 2, 7, 2, "bytes:81000080010203"),
    t("end", 0x1f43b675, "Cluster", "master", 45, 5, 12, 1, undefined),
    t("end", 0x18538067, "Segment", "master", 21, 12, 29, 0, undefined),
  ]);
});

Deno.test("tokenizer: tokenize() and tokenizeBatches() wrap the core", async () => {
  const chunks = [SMALL_DOC.subarray(0, 7), SMALL_DOC.subarray(7, 40), SMALL_DOC.subarray(40)];
  const batches: TokenBatch[] = [];
  for await (const b of tokenizeBatches(chunks)) batches.push(b);
  assert.equal(batches.length, 4);
  // offsets are those of each chunk's first byte, even with a header carried over
  assert.deepEqual(batches.map((b) => [b.offset, b.chunk.length, b.final]), [
    [0, 7, false],
    [7, 33, false],
    [40, 22, false],
    [62, 0, true],
  ]);
  assert.equal(batches[1].chunk, chunks[1]);
  // chunk 0 (7 bytes) completes only the EBML start and carries 2 header bytes
  assert.deepEqual(batches[0].tokens.map(brief), ["start EBML @0 s16 d0"]);
  assert.deepEqual(batches[3].tokens.map(brief), ["end Cluster @45 s12 d1", "end Segment @21 s29 d0"]);
  const flat: EbmlToken[] = [];
  async function* gen() {
    yield* chunks;
  }
  for await (const t of tokenize(gen())) flat.push(t);
  assert.deepEqual(flat.map(norm), tokensOf(SMALL_DOC).map(norm));
  assert.deepEqual(batches.flatMap((b) => b.tokens).map(norm), tokensOf(SMALL_DOC).map(norm));
});

Deno.test("tokenizer: offset and depth getters, push after end rejected", () => {
  const tk = new EbmlTokenizer();
  const out: EbmlToken[] = [];
  tk.push(SMALL_DOC.subarray(0, 47), out); // 2 bytes into the Cluster header
  assert.equal(tk.offset, 47);
  assert.equal(tk.depth, 1); // Segment open, Cluster header not complete
  tk.push(SMALL_DOC.subarray(47, 55), out);
  assert.equal(tk.offset, 55);
  assert.equal(tk.depth, 2);
  tk.end(out);
  assert.equal(tk.depth, 0);
  assert.throws(() => tk.push(bytes(0xec, 0x80), out), /push\(\) after end\(\)/);
  const n = out.length;
  tk.end(out); // a second end() is a no-op
  assert.equal(out.length, n);
});

// ---------------------------------------------------------------- tokenizer: unknown sizes

Deno.test("tokenizer: unknown-size Cluster closed by a following Tags", () => {
  const doc = concat([
    SEG_UNKNOWN, // 0..12
    CLUSTER_UNKNOWN, // 12..17
    uintEl(ID.Timecode, 7), // 17..20
    tagsEl([["A", "b"]]), // 20..
  ]);
  const seq = tokensOf(doc).map(brief);
  assert.deepEqual(seq, [
    "start Segment @0 s-1 d0",
    "start Cluster @12 s-1 d1",
    "value Timecode @17 s1 d2",
    "end Cluster @12 s3 d1",
    "start Tags @20 s14 d1",
    "start Tag @25 s11 d2",
    "start SimpleTag @28 s8 d3",
    "value TagName @31 s1 d4",
    "value TagString @35 s1 d4",
    "end SimpleTag @28 s8 d3",
    "end Tag @25 s11 d2",
    "end Tags @20 s14 d1",
    `end Segment @0 s${doc.length - 12} d0`,
  ]);
});

Deno.test("tokenizer: unknown-size Cluster and Segment closed by the next EBML header", () => {
  const doc = concat([
    SEG_UNKNOWN, // 0..12
    CLUSTER_UNKNOWN, // 12..17
    uintEl(ID.Timecode, 7), // 17..20
    ebmlHeader(), // 20..
  ]);
  const seq = tokensOf(doc).map(brief);
  assert.deepEqual(seq.slice(0, 6), [
    "start Segment @0 s-1 d0",
    "start Cluster @12 s-1 d1",
    "value Timecode @17 s1 d2",
    "end Cluster @12 s3 d1",
    "end Segment @0 s8 d0",
    `start EBML @20 s${ebmlHeader().length - 5} d0`,
  ]);
  assert.equal(seq.at(-1), `end EBML @20 s${ebmlHeader().length - 5} d0`);
});

Deno.test("tokenizer: unknown-size Cluster closed by the next Cluster, and at end of input", () => {
  const doc = concat([
    SEG_UNKNOWN, // 0..12
    CLUSTER_UNKNOWN, // 12..17
    uintEl(ID.Timecode, 1), // 17..20
    CLUSTER_UNKNOWN, // 20..25
    uintEl(ID.Timecode, 2), // 25..28
    el(ID.Void, bytes(0, 0)), // 28..32 (a global: stays inside)
  ]);
  assert.deepEqual(tokensOf(doc).map(brief), [
    "start Segment @0 s-1 d0",
    "start Cluster @12 s-1 d1",
    "value Timecode @17 s1 d2",
    "end Cluster @12 s3 d1",
    "start Cluster @20 s-1 d1",
    "value Timecode @25 s1 d2",
    "value Void @28 s2 d2",
    "end Cluster @20 s7 d1",
    "end Segment @0 s20 d0",
  ]);
});

Deno.test("tokenizer: an unknown-size master inside a known-size parent ends with the parent", () => {
  const seg = el(ID.Segment, [CLUSTER_UNKNOWN, uintEl(ID.Timecode, 9), simpleBlock(1, 0, false, bytes(7))]);
  // Segment: 4 id + 1 size = 5; Cluster 5..10; Timecode 10..13; SimpleBlock 13..20
  assert.equal(seg.length, 20);
  const doc = concat([seg, el(ID.Void, bytes(0))]); // a top-level Void after the Segment
  assert.deepEqual(tokensOf(doc).map(brief), [
    "start Segment @0 s15 d0",
    "start Cluster @5 s-1 d1",
    "value Timecode @10 s1 d2",
    "value SimpleBlock @13 s5 d2",
    "end Cluster @5 s10 d1",
    "end Segment @0 s15 d0",
    "value Void @20 s1 d0",
  ]);
});

// ---------------------------------------------------------------- tokenizer: unknown ids, empty elements

Deno.test("tokenizer: unknown ids are skipped at leaf position and when master-shaped", () => {
  const unknownLeaf = el(0x4abc, bytes(0xde, 0xad, 0xbe)); // 2+1+3 = 6 bytes
  // an unknown id whose body looks like a Cluster with a Timecode and an EBML magic
  const masterShaped = el(0x5abc, [el(ID.Cluster, [uintEl(ID.Timecode, 3)]), bytes(0x1a, 0x45, 0xdf, 0xa3)]);
  const doc = concat([
    SEG_UNKNOWN, // 0..12
    CLUSTER_UNKNOWN, // 12..17
    uintEl(ID.Timecode, 1), // 17..20
    unknownLeaf, // 20..26
    masterShaped, // 26..
    simpleBlock(2, 4, false, bytes(9, 9)),
  ]);
  const toks = tokensOf(doc);
  const msLen = masterShaped.length;
  assert.deepEqual(toks.map(brief), [
    "start Segment @0 s-1 d0",
    "start Cluster @12 s-1 d1",
    "value Timecode @17 s1 d2",
    "skip 0x4ABC @20 s3 d2",
    `skip 0x5ABC @26 s${msLen - 3} d2`,
    `value SimpleBlock @${26 + msLen} s6 d2`,
    `end Cluster @12 s${doc.length - 17} d1`,
    `end Segment @0 s${doc.length - 12} d0`,
  ]);
  const skip = toks[3];
  assert.equal(skip.id, 0x4abc);
  assert.equal(skip.type, "binary");
  assert.equal(skip.headerSize, 3);
  assert.equal(skip.value, undefined);
  assert.equal(skip.truncated, false);
  assert.equal(hex(toks[5].value as Uint8Array), "82000400" + "0909");
  // same result in 1-byte chunks
  assert.deepEqual(tokensOf(doc, () => 1).map(norm), toks.map(norm));
});

Deno.test("tokenizer: an unknown top-level element is a depth-0 skip", () => {
  const doc = concat([el(0x1badbeef, bytes(1, 2, 3, 4)), el(ID.Void, bytes())]);
  assert.deepEqual(tokensOf(doc).map(brief), ["skip 0x1BADBEEF @0 s4 d0", "value Void @9 s0 d0"]);
});

Deno.test("tokenizer: zero-length elements of every type", () => {
  const doc = concat([
    el(ID.Segment, [
      el(ID.Info, [
        el(ID.TimecodeScale, bytes()), // uint
        el(ID.Duration, bytes()), // float
        el(ID.Title, bytes()), // utf8
        el(ID.DateUTC, bytes()), // date
        el(ID.SegmentUID, bytes()), // binary
      ]),
      el(ID.Tracks, bytes()), // empty master
      el(ID.Cluster, [el(0xfb, bytes()), /* ReferenceBlock int, oddly placed */ el(ID.BlockGroup, [])]),
    ]),
  ]);
  const toks = tokensOf(doc);
  assert.deepEqual(
    toks.map((t) => [t.kind, t.name, t.size, t.depth, norm(t).value]),
    [
      ["start", "Segment", doc.length - 5, 0, undefined],
      ["start", "Info", 16, 1, undefined],
      ["value", "TimecodeScale", 0, 2, 0],
      ["value", "Duration", 0, 2, 0],
      ["value", "Title", 0, 2, ""],
      ["value", "DateUTC", 0, 2, "date:2001-01-01T00:00:00.000Z"],
      ["value", "SegmentUID", 0, 2, "bytes:"],
      ["end", "Info", 16, 1, undefined],
      ["start", "Tracks", 0, 1, undefined],
      ["end", "Tracks", 0, 1, undefined],
      ["start", "Cluster", 4, 1, undefined],
      ["value", "ReferenceBlock", 0, 2, 0],
      ["start", "BlockGroup", 0, 2, undefined],
      ["end", "BlockGroup", 0, 2, undefined],
      ["end", "Cluster", 4, 1, undefined],
      ["end", "Segment", doc.length - 5, 0, undefined],
    ],
  );
  assert.ok(toks.every((t) => !t.truncated));
  assert.deepEqual(tokensOf(doc, () => 1).map(norm), toks.map(norm));
});

Deno.test("tokenizer: leaf values of every type are decoded in the token stream", () => {
  const date = new Uint8Array(8);
  new DataView(date.buffer).setBigInt64(0, 1_500_000_000n);
  const doc = concat([
    el(ID.EBML, [strEl(ID.DocType, "matroska\0")]),
    SEG_UNKNOWN,
    el(ID.Info, [
      floatEl(ID.Duration, 1024.5, 4),
      floatEl(ID.Duration, -0.25),
      el(ID.DateUTC, date),
      strEl(ID.Title, "Größe ✓", 32),
      uintEl(ID.TimecodeScale, 1000000, 8),
    ]),
    el(ID.Tracks, [el(ID.TrackEntry, [uintEl(ID.TrackUID, 2n ** 60n + 3n), uintEl(ID.TrackNumber, 2 ** 53 - 1)])]),
    CLUSTER_UNKNOWN,
    el(0xfb, bytes(0xff, 0x38)), // ReferenceBlock: int
  ]);
  const vals = tokensOf(doc).filter((t) => t.kind === "value").map((t) => [t.name, t.type, norm(t).value]);
  assert.deepEqual(vals, [
    ["DocType", "string", "matroska"],
    ["Duration", "float", 1024.5],
    ["Duration", "float", -0.25],
    ["DateUTC", "date", "date:2001-01-01T00:00:01.500Z"],
    ["Title", "utf8", "Größe ✓"],
    ["TimecodeScale", "uint", 1000000],
    ["TrackUID", "uint", "bigint:" + (2n ** 60n + 3n).toString()],
    ["TrackNumber", "uint", 2 ** 53 - 1],
    ["ReferenceBlock", "int", -200],
  ]);
});

// ---------------------------------------------------------------- tokenizer: errors

Deno.test("tokenizer: a child overrunning its known-size parent is a DataError naming offset and element", () => {
  // Info declares 4 bytes; its TimecodeScale child needs 4 + 3
  const info = concat([encodeId(ID.Info), encodeSize(4), uintEl(ID.TimecodeScale, 1000000)]);
  const doc = concat([SEG_UNKNOWN, info]);
  for (const chunk of [undefined, 1, 3]) {
    const e = dataErrorOf(doc, { source: "in.mkv" }, chunk);
    assert.equal(e.offset, 17);
    assert.equal(e.element, "TimecodeScale");
    assert.equal(e.source, "in.mkv");
    assert.equal(e.exitCode, 3);
    assert.equal(e.message, "in.mkv: byte 17: TimecodeScale: size 3 overruns its parent Info (which ends at byte 21)");
  }
  // an unknown element overrunning is named by its hex id
  const doc2 = concat([el(ID.Tags, [el(0x4abc, bytes(1, 2))]).subarray(0, 5), bytes(0x4a, 0xbc, 0x85, 1, 2, 3, 4, 5)]);
  // Tags header 4+1 says size 5; child 0x4ABC declares 5 data bytes (header 3): 8 > 5
  const e2 = dataErrorOf(doc2);
  assert.equal(e2.offset, 5);
  assert.equal(e2.element, "0x4ABC");
  assert.match(e2.message, /^byte 5: 0x4ABC: size 5 overruns its parent Tags \(which ends at byte 10\)$/);
});

Deno.test("tokenizer: a header running past its parent's end is a DataError", () => {
  // Info of size 2 holding the first 2 bytes of a 4-byte header (size 0): the size check names it
  const doc = concat([encodeId(ID.Info), encodeSize(2), bytes(0x2a, 0xd7, 0xb1, 0x80)]);
  const e = dataErrorOf(doc);
  assert.equal(e.offset, 5);
  assert.equal(e.element, "TimecodeScale");
  assert.equal(e.message, "byte 5: TimecodeScale: header overruns its parent (which ends at byte 7)");
  // an unknown-size master whose header alone runs past the parent's end
  const doc2 = concat([encodeId(ID.Info), encodeSize(2), CLUSTER_UNKNOWN]);
  const e2 = dataErrorOf(doc2);
  assert.equal(e2.offset, 5);
  assert.equal(e2.element, "Cluster");
  assert.equal(e2.message, "byte 5: Cluster: header overruns its parent (which ends at byte 7)");
});

Deno.test("tokenizer: invalid VINTs are DataErrors with the offset", () => {
  // size byte 0x00 after a Timecode id
  const bad = concat([SEG_UNKNOWN, CLUSTER_UNKNOWN, bytes(0xe7, 0x00, 0x01)]);
  for (const chunk of [undefined, 1]) {
    const e = dataErrorOf(bad, {}, chunk);
    assert.equal(e.offset, 17);
    assert.equal(e.element, "Timecode");
    assert.match(e.message, /^byte 17: Timecode: invalid element size: first byte 0x00/);
  }
  // an id wider than 4 bytes (first byte 0x08)
  const badId = concat([SEG_UNKNOWN, bytes(0x08, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00)]);
  const e2 = dataErrorOf(badId);
  assert.equal(e2.offset, 12);
  assert.equal(e2.element, "element header");
  assert.match(e2.message, /^byte 12: element header: invalid element id: first byte 0x08 \(not a 1-4 byte EBML id\)$/);
  // id byte 0x00
  const e3 = dataErrorOf(concat([ebmlHeader(), bytes(0x00)]));
  assert.equal(e3.offset, ebmlHeader().length);
  assert.match(e3.message, /invalid element id: first byte 0x00/);
});

Deno.test("tokenizer: nesting deeper than maxDepth is a DataError", () => {
  // Segment > Tags > Tag > SimpleTag > SimpleTag > ... (SimpleTag nests in SimpleTag)
  const nested = (levels: number): Uint8Array => {
    let inner: Uint8Array = strEl(ID.TagName, "x");
    for (let i = 0; i < levels; i++) inner = el(ID.SimpleTag, inner);
    return el(ID.Segment, el(ID.Tags, el(ID.Tag, inner)));
  };
  // depths: Segment 0, Tags 1, Tag 2, SimpleTags 3.. ; maxDepth 6 allows masters at depth 0..5
  const ok = tokensOf(nested(3), undefined, { maxDepth: 6 });
  assert.equal(ok.filter((t) => t.kind === "start").length, 6);
  assert.equal(ok.find((t) => t.name === "TagName")!.depth, 6, "a leaf may sit at depth maxDepth");
  const doc = nested(4);
  const e = dataErrorOf(doc, { maxDepth: 6 });
  assert.equal(e.element, "SimpleTag");
  // Segment 0 (header 5), Tags 5 (5), Tag 10 (3), SimpleTags at 13, 16, 19, 22
  assert.equal(e.offset, 22);
  assert.match(e.message, /nesting deeper than 6 levels/);
  // the default limit is 64
  assert.equal(tokensOf(nested(61)).filter((t) => t.kind === "start").length, 64);
  const e64 = dataErrorOf(nested(62));
  assert.match(e64.message, /SimpleTag: nesting deeper than 64 levels$/);
});

Deno.test("tokenizer: an unknown size on a leaf is a DataError", () => {
  const doc = concat([SEG_UNKNOWN, CLUSTER_UNKNOWN, bytes(0xe7), unknownSize(1), bytes(0x01)]);
  const e = dataErrorOf(doc);
  assert.equal(e.offset, 17);
  assert.equal(e.element, "Timecode");
  assert.equal(e.message, "byte 17: Timecode: unknown size is only allowed on master elements");
  // also for an 8-byte unknown size on a SimpleBlock
  const e2 = dataErrorOf(concat([SEG_UNKNOWN, CLUSTER_UNKNOWN, bytes(0xa3), unknownSize(8), bytes(0x81)]));
  assert.equal(e2.element, "SimpleBlock");
  assert.equal(e2.offset, 17);
});

Deno.test("tokenizer: a bad leaf value (3-byte float) is a DataError at the element", () => {
  const doc = concat([SEG_UNKNOWN, el(ID.Info, [el(ID.Duration, bytes(1, 2, 3))])]);
  const e = dataErrorOf(doc);
  assert.equal(e.offset, 17);
  assert.equal(e.element, "Duration");
  assert.match(e.message, /^byte 17: Duration: a float must be 0, 4 or 8 bytes, not 3$/);
});

// ---------------------------------------------------------------- tokenizer: truncation

Deno.test("tokenizer: a declared 2^56-byte element at end of input allocates nothing big", () => {
  const huge = concat([
    SEG_UNKNOWN, // 0..12
    CLUSTER_UNKNOWN, // 12..17
    bytes(0xa3), // SimpleBlock id at 17
    bytes(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), // 2^56 - 2
    new Uint8Array(100).fill(0x55),
  ]);
  const t0 = performance.now();
  for (const chunk of [undefined, 7]) {
    // A kept value (not skipped) that could never be taken: refused at the end, naming it (was: a truncation).
    const e = catchError(() => tokensOf(huge, chunk ? () => chunk : undefined));
    assert.ok(e instanceof DataError, String(e));
    assert.equal(e.offset, 17);
    assert.equal(e.element, "SimpleBlock");
    assert.match(
      e.message,
      /declared \d+ bytes, more than the 16777216 kept of one element, and the input ends inside it$/,
    );
  }
  // an unknown 2^56-byte element at the top level, too
  const top = concat([bytes(0x1b, 0xad, 0xbe, 0xef), bytes(0x01, 0, 0, 0, 0, 0, 0, 0x01), new Uint8Array(10)]);
  const top8 = concat([top.subarray(0, 4), bytes(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), top.subarray(12)]);
  assert.deepEqual(tokensOf(top8).map((t) => [t.kind, t.name, t.truncated]), [
    ["skip", "0x1BADBEEF", false],
    ["skip", "0x1BADBEEF", true],
  ]);
  assert.ok(performance.now() - t0 < 2000, "finished fast");
});

Deno.test("tokenizer: end of input inside a known-size master gives truncated end tokens", () => {
  const seg = el(ID.Segment, [
    el(ID.Info, [uintEl(ID.TimecodeScale, 1000000), strEl(ID.Title, "hello")]),
    el(ID.Tracks, [el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1)])]),
  ]);
  // Segment 0..5 (size 1 byte); Info 5..10 header, TimecodeScale 10..17, Title 17..25
  // cut at an element boundary inside Info: after TimecodeScale
  const cut1 = tokensOf(seg.subarray(0, 17));
  assert.deepEqual(cut1.map(brief), [
    `start Segment @0 s${seg.length - 5} d0`,
    "start Info @5 s15 d1",
    "value TimecodeScale @10 s3 d2",
    "end Info @5 s7 d1 T",
    "end Segment @0 s12 d0 T",
  ]);
  // cut inside the Title leaf: a truncated skip for it
  const cut2 = tokensOf(seg.subarray(0, 21), () => 3);
  assert.deepEqual(cut2.map(brief), [
    `start Segment @0 s${seg.length - 5} d0`,
    "start Info @5 s15 d1",
    "value TimecodeScale @10 s3 d2",
    "skip Title @17 s5 d2 T",
    "end Info @5 s11 d1 T",
    "end Segment @0 s16 d0 T",
  ]);
  assert.equal(cut2[3].value, undefined);
  // cut inside an element header: a truncated header skip
  const cut3 = tokensOf(seg.subarray(0, 19));
  assert.deepEqual(cut3.slice(3).map((t) => [t.kind, t.name, t.offset, t.headerSize, t.truncated]), [
    ["skip", "(element header)", 17, 2, true],
    ["end", "Info", 5, 5, true],
    ["end", "Segment", 0, 5, true],
  ]);
  const cut4 = tokensOf(seg.subarray(0, 18));
  assert.deepEqual(cut4.slice(3).map((t) => [t.kind, t.name, t.offset, t.headerSize, t.size, t.truncated]), [
    ["skip", "(element header)", 17, 1, -1, true],
    ["end", "Info", 5, 5, 8, true],
    ["end", "Segment", 0, 5, 13, true],
  ]);
  // whole input: nothing truncated
  assert.ok(tokensOf(seg).every((t) => !t.truncated));
});

// ---------------------------------------------------------------- tokenizer: views and copies

Deno.test("tokenizer: binary leaves are views of the chunk when whole, copies when split", () => {
  const payload = Uint8Array.from({ length: 40 }, (_, i) => i * 3);
  const doc = concat([SEG_UNKNOWN, CLUSTER_UNKNOWN, uintEl(ID.Timecode, 1), simpleBlock(1, 0, true, payload)]);
  // one chunk: a view
  const chunk = doc.slice(); // a fresh buffer
  const tk = new EbmlTokenizer();
  const out: EbmlToken[] = [];
  tk.push(chunk, out);
  tk.end(out);
  const sb = out.find((t) => t.name === "SimpleBlock")!;
  const v = sb.value as Uint8Array;
  assert.equal(v.buffer, chunk.buffer);
  assert.equal(v.byteOffset, 20 + 2);
  assert.equal(v.length, 44);
  // header split across chunks but data whole in the second chunk: still a view
  const a = doc.slice(0, 21);
  const b = doc.slice(21);
  const out2: EbmlToken[] = [];
  const tk2 = new EbmlTokenizer();
  tk2.push(a, out2);
  tk2.push(b, out2);
  tk2.end(out2);
  const v2 = out2.find((t) => t.name === "SimpleBlock")!.value as Uint8Array;
  assert.equal(v2.buffer, b.buffer);
  assert.equal(v2.byteOffset, 1);
  // data split across chunks: a correct copy, not a view of either chunk
  const pieces = [doc.slice(0, 30), doc.slice(30, 50), doc.slice(50)];
  const out3: EbmlToken[] = [];
  const tk3 = new EbmlTokenizer();
  for (const p of pieces) tk3.push(p, out3);
  tk3.end(out3);
  const v3 = out3.find((t) => t.name === "SimpleBlock")!.value as Uint8Array;
  for (const p of pieces) assert.notEqual(v3.buffer, p.buffer);
  assert.equal(hex(v3), "81000080" + hex(payload));
  // mutating the chunks afterwards does not change the copy
  for (const p of pieces) p.fill(0);
  assert.equal(hex(v3), "81000080" + hex(payload));
});

Deno.test("tokenizer: EBML magic inside a SimpleBlock payload splits nothing", () => {
  const payload = concat([bytes(0, 1), MAGIC_IDS, bytes(0x1a, 0x45, 0xdf, 0xa3, 0x84), tagsEl([["x", "y"]]), bytes(7)]);
  const doc = concat([
    ebmlHeader(),
    SEG_UNKNOWN,
    CLUSTER_UNKNOWN,
    uintEl(ID.Timecode, 1),
    simpleBlock(1, 0, true, payload),
    simpleBlock(1, 64, false, bytes(1, 2)),
  ]);
  for (const chunk of [undefined, 1, 5]) {
    const toks = tokensOf(doc, chunk ? () => chunk : undefined);
    assert.deepEqual(toks.filter((t) => t.depth <= 1 && t.kind !== "value").map((t) => `${t.kind} ${t.name}`), [
      "start EBML",
      "end EBML",
      "start Segment",
      "start Cluster",
      "end Cluster",
      "end Segment",
    ]);
    const blocks = toks.filter((t) => t.name === "SimpleBlock");
    assert.equal(blocks.length, 2);
    assert.equal(hex(blocks[0].value as Uint8Array), "81000080" + hex(payload));
    assert.equal(hex(blocks[1].value as Uint8Array), "810040000102");
    assert.ok(!toks.some((t) => t.name === "Tags"));
  }
});

// ---------------------------------------------------------------- chunk-boundary independence

function chunkSizesToCheck(): { label: string; next: () => number }[] {
  const runs: { label: string; next: () => number }[] = [];
  for (let n = 1; n <= 64; n++) runs.push({ label: `size ${n}`, next: () => n });
  for (const n of [100, 255, 256, 1000, 1027, 4096, 65536]) runs.push({ label: `size ${n}`, next: () => n });
  for (const seed of [1, 2, 3, 42, 1234]) {
    const r = seededRandom(seed);
    runs.push({ label: `random seed ${seed} (1..100)`, next: () => 1 + Math.floor(r() * 100) });
  }
  const r2 = seededRandom(99);
  runs.push({ label: "random seed 99 (1..5000)", next: () => 1 + Math.floor(r2() * 5000) });
  const r3 = seededRandom(7);
  runs.push({ label: "random seed 7 (1..13)", next: () => 1 + Math.floor(r3() * 13) });
  return runs;
}

function assertChunkIndependent(data: Uint8Array): EbmlToken[] {
  const whole = tokensOf(data);
  const expected = whole.map(norm);
  for (const { label, next } of chunkSizesToCheck()) {
    const got = tokensOf(data, next).map(norm);
    assert.equal(got.length, expected.length, `${label}: token count`);
    for (let i = 0; i < got.length; i++) {
      if (JSON.stringify(got[i]) !== JSON.stringify(expected[i])) {
        assert.deepEqual(got[i], expected[i], `${label}: token ${i}`);
      }
    }
  }
  return whole;
}

Deno.test("tokenizer: chunk-boundary independence on a generated Connect stream", () => {
  const stream = connectStream({ fragments: 3, blocksPerTrack: 2, samplesPerBlock: 32, magicInPcm: true });
  const whole = assertChunkIndependent(stream.bytes);
  // sanity of the reference run itself
  assert.equal(whole.filter((t) => t.kind === "start" && t.name === "EBML").length, 3);
  assert.deepEqual(
    whole.filter((t) => t.kind === "start" && t.name === "EBML").map((t) => t.offset),
    stream.fragments.map((f) => f.offset),
  );
  assert.equal(whole.filter((t) => t.name === "SimpleBlock").length, 3 * 2 * 2);
  assert.equal(whole.filter((t) => t.kind === "skip").length, 0);
  assert.ok(whole.every((t) => !t.truncated));
  const blocks = whole.filter((t) => t.name === "SimpleBlock");
  const gen = stream.fragments.flatMap((f) => f.blocks);
  for (let i = 0; i < blocks.length; i++) {
    assert.equal(hex((blocks[i].value as Uint8Array).subarray(4)), hex(gen[i].pcm), `block ${i} payload`);
  }
});

Deno.test("tokenizer: chunk-boundary independence on a truncated generated stream", () => {
  const stream = connectStream({ fragments: 2, blocksPerTrack: 2, samplesPerBlock: 32, magicInPcm: true });
  // cut in the middle of the last block's payload
  const last = stream.fragments[1].blocks[3].pcm;
  const cut = stream.bytes.subarray(0, last.byteOffset + 10);
  const whole = assertChunkIndependent(cut);
  assert.ok(whole.some((t) => t.kind === "skip" && t.truncated && t.name === "SimpleBlock"));
});

Deno.test({
  name: "tokenizer: chunk-boundary independence on a real capture (test_mixed_tags.mkv)",
  ignore: !haveFixtures,
  fn: () => {
    const data = loadFixture("kvs-getmedia/test_mixed_tags.mkv");
    const whole = assertChunkIndependent(data);
    assert.equal(whole.filter((t) => t.kind === "start" && t.name === "EBML").length, 10);
    assert.equal(whole.filter((t) => t.name === "SimpleBlock").length, 100);
    assert.equal(whole.find((t) => t.name === "DocType")!.value, "matroska");
    const seg = whole.find((t) => t.name === "Segment")!;
    assert.equal(seg.size, -1);
    assert.equal(seg.headerSize, 12);
    const cluster = whole.find((t) => t.name === "Cluster")!;
    assert.equal(cluster.size, -1);
    assert.equal(cluster.headerSize, 5);
  },
});

Deno.test({
  name: "tokenizer: chunk-boundary independence on the other real captures (a few sizes)",
  ignore: !haveFixtures,
  fn: () => {
    for (
      const name of [
        "output_get_media.mkv",
        "output-get-media-equal-timecode.mkv",
        "empty-mkv-with-tags.mkv",
        "test_tags_empty_cluster.mkv",
      ]
    ) {
      const data = loadFixture(`kvs-getmedia/${name}`);
      const expected = tokensOf(data).map(norm);
      const r = seededRandom(5);
      for (const next of [() => 4093, () => 65536, () => 1 + Math.floor(r() * 20000)]) {
        const got = tokensOf(data, next).map(norm);
        assert.equal(JSON.stringify(got), JSON.stringify(expected), name);
      }
    }
  },
});

Deno.test("tokenizer: a value copied from chunks past maxValueBytes (default 16 MiB) is refused once its bytes arrive; skipped elements are not", () => {
  // TagString (0x4487) declaring 16 MiB + 1 byte, inside Tags/Tag/SimpleTag.
  const big = 16 * 1024 * 1024 + 1;
  const size8 = [0x01, 0, 0, 0, (big >>> 24) & 0xff, (big >>> 16) & 0xff, (big >>> 8) & 0xff, big & 0xff];
  const head = bytes(0x12, 0x54, 0xc3, 0x67, 0xff, 0x73, 0x73, 0xff, 0x67, 0xc8, 0xff, 0x44, 0x87, ...size8);
  // Input that ends inside it is refused too: it could never have been taken (was: a truncation, so a block whose
  // size ran on into another body appended to a cut one hid that body, and the run exited 0).
  const tk0 = new EbmlTokenizer({ source: "cut.mkv" });
  tk0.push(head, []);
  tk0.push(new Uint8Array(1000), []);
  const e0 = catchError(() => tk0.end([]));
  assert.ok(e0 instanceof DataError);
  assert.equal(
    e0.message,
    "cut.mkv: byte 11: TagString: declared 16777217 bytes, more than the 16777216 kept of one element, and the input " +
      "ends inside it",
  );
  // A smaller one cut off is a truncation.
  const short = bytes(0x12, 0x54, 0xc3, 0x67, 0xff, 0x73, 0x73, 0xff, 0x67, 0xc8, 0xff, 0x44, 0x87, 0x84, 0x41);
  const cut: EbmlToken[] = [];
  const tk1 = new EbmlTokenizer();
  tk1.push(short, cut);
  tk1.end(cut);
  assert.ok(cut.some((t) => t.name === "TagString" && t.truncated));
  // Its bytes arriving past 16 MiB are refused, naming the element where it began.
  const tk = new EbmlTokenizer({ source: "big.mkv" });
  tk.push(head, []);
  const mib = new Uint8Array(1 << 20);
  for (let i = 0; i < 16; i++) tk.push(mib, []);
  const e = catchError(() => tk.push(bytes(0x41), []));
  assert.ok(e instanceof DataError);
  assert.equal(e.offset, 11);
  assert.equal(e.element, "TagString");
  assert.equal(e.message, "big.mkv: byte 11: TagString: 16777217 bytes, more than the 16777216 kept of one element");
  // In one chunk holding it whole it is read in place (no copy), whatever its size.
  const whole: EbmlToken[] = [];
  new EbmlTokenizer().push(concat([head, new Uint8Array(big).fill(0x41)]), whole);
  assert.equal((whole.find((t) => t.name === "TagString")?.value as string).length, big);
  // Unknown elements and Void of that size are skipped, whatever arrives.
  for (const id of [[0x4f, 0xfe], [0xec]]) {
    const t = new EbmlTokenizer();
    const out: EbmlToken[] = [];
    t.push(bytes(...id, ...size8), out);
    for (let i = 0; i < 16; i++) t.push(mib, out);
    t.push(bytes(0x41), out);
    t.end(out);
    assert.deepEqual(out.map((k) => [k.size, k.truncated]), [[big, false]]);
  }
  // A lower limit from the options (for values spanning chunks).
  const small = new EbmlTokenizer({ maxValueBytes: 4 });
  small.push(bytes(0x44, 0x87, 0x85, 1, 2, 3), []);
  const e2 = catchError(() => small.push(bytes(4, 5), []));
  assert.ok(e2 instanceof DataError && /TagString: 5 bytes, more than the 4 kept/.test(e2.message));
  const ok: EbmlToken[] = [];
  const fits = new EbmlTokenizer({ maxValueBytes: 4 });
  fits.push(bytes(0x44, 0x87, 0x84, 0x61, 0x62), ok);
  fits.push(bytes(0x63, 0x64), ok);
  assert.equal(ok[0].value, "abcd");
});

Deno.test("tokenizer: a source yielding anything but Uint8Array chunks is a TypeError that says so", async () => {
  // Plain JS callers: a buffer instead of a source of buffers, ArrayBuffers, strings, null.
  const cases: [unknown, RegExp][] = [
    [
      new Uint8Array([0x1a, 0x45]),
      /got number \(a Uint8Array is itself a source of numbers: pass \[bytes\] instead\)$/,
    ],
    [[new ArrayBuffer(4)], /got ArrayBuffer$/],
    [["\x1aE"], /got string$/],
    [[null], /got null$/],
  ];
  for (const [source, message] of cases) {
    const drain = async () => {
      for await (const _ of tokenize(source as Iterable<Uint8Array>)) { /* nothing */ }
    };
    const e = await drain().then(() => assert.fail("expected a TypeError"), (e) => e);
    assert.ok(e instanceof TypeError, String(e));
    assert.match(e.message, /^a byte source must yield Uint8Array chunks, /);
    assert.match(e.message, message);
    // (Was: "Cannot read properties of undefined (reading 'toString')" from deep inside.)
  }
  assert.throws(() => new EbmlTokenizer().push("x" as unknown as Uint8Array, []), TypeError);
});
