/**
 * Unit tests of src/mkv: block headers and lacing, the fragment assembler
 * (tracks, tags, KVS/Connect accessors, blocks, truncation, raw bytes, the
 * element tree, eager mode, ordinary MKV files) and the fragment helpers.
 */
import assert from "node:assert/strict";
import { DataError } from "../src/errors.ts";
import { readSize } from "../src/ebml/vint.ts";
import { EbmlTokenizer, tokenizeBatches } from "../src/ebml/tokenizer.ts";
import type { EbmlToken } from "../src/ebml/token.ts";
import { type Block, parseBlock } from "../src/mkv/block.ts";
import { BlockTable } from "../src/mkv/block_table.ts";
import {
  assembleFragments,
  type AssembleOptions,
  FragmentAssembler,
  fragmentsFromTokens,
} from "../src/mkv/assembler.ts";
import { Fragment, parseFragmentNumber, parseKvsTimestamp } from "../src/mkv/fragment.ts";
import { type ElementNode, findAll, findFirst } from "../src/mkv/tree.ts";
import {
  blockGroup,
  concat,
  ebmlHeader,
  el,
  encodeId,
  encodeSignedVint,
  encodeSize,
  floatEl,
  ID,
  lacedBlock,
  liveDocument,
  namedTracks,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
} from "./support/mkv_writer.ts";
import {
  connectStream,
  DEFAULT_CONTACT_ID,
  errorFragment,
  FRAGMENT_NUMBER_STEP,
  type GeneratedStream,
  INSTANCE_ID,
  MILLIS_BEHIND_NOW,
} from "./support/connect_stream.ts";
import { haveFixtures, loadFixture, skipReason } from "./support/shared_fixtures.ts";
import { bytes, catchError, hex, seededInts } from "./support/util.ts";
import { chunked } from "./support/pipeline.ts";
import { seededRandom } from "../src/kvs/backoff.ts";

// ---------------------------------------------------------------- helpers

if (skipReason) console.log(`skip: ${skipReason}`);

/** The data of a one-byte-id element (SimpleBlock A3, Block A1): header stripped. */
function dataOf(element: Uint8Array): Uint8Array {
  const size = readSize(element, 1, element.length)!;
  const data = element.subarray(1 + size.width);
  assert.equal(data.length, size.value);
  return data;
}

/** Frames of `n` bytes with distinct contents. */
function frame(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 31) & 0xff);
}

async function assemble(data: Uint8Array, opts: AssembleOptions = {}, chunkSize?: number): Promise<Fragment[]> {
  const src = chunkSize === undefined ? [data] : chunked(data, chunkSize);
  const out: Fragment[] = [];
  for await (const f of assembleFragments(src, opts)) out.push(f);
  return out;
}

async function assembleError(data: Uint8Array, opts: AssembleOptions = {}): Promise<DataError> {
  try {
    await assemble(data, opts);
  } catch (e) {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    return e;
  }
  assert.fail("expected a DataError");
}

const SEG_UNKNOWN = concat([encodeId(ID.Segment), unknownSize(8)]);
const CLUSTER_UNKNOWN = concat([encodeId(ID.Cluster), unknownSize(1)]);

/** A small KVS-like document: EBML header, unknown-size Segment, the given parts. */
function kvsDoc(...parts: Uint8Array[]): Uint8Array {
  return concat([ebmlHeader(), SEG_UNKNOWN, ...parts]);
}

const SMALL = { blocksPerTrack: 4, samplesPerBlock: 64 } as const;

// ---------------------------------------------------------------- block.ts: headers

Deno.test("block: SimpleBlock header with a 1-byte track VINT", () => {
  const data = bytes(0x81, 0x00, 0x40, 0x80, 0xaa, 0xbb);
  const b = parseBlock(data, 123, true);
  assert.deepEqual(
    { ...b, frames: b.frames.map(hex) },
    {
      track: 1,
      timecode: 64,
      timeMs: 0,
      keyframe: true,
      invisible: false,
      discardable: false,
      lacing: "none",
      frames: ["aabb"],
      offset: 123,
      simple: true,
    },
  );
  assert.equal(b.frames[0].buffer, data.buffer, "the frame is a view");
  assert.equal(b.frames[0].byteOffset, 4);
});

Deno.test("block: 2-byte track VINT, negative and extreme timecodes", () => {
  const b = parseBlock(dataOf(simpleBlock(200, -5, false, bytes(1, 2, 3))), 0, true);
  assert.equal(b.track, 200);
  assert.equal(b.timecode, -5);
  assert.equal(b.keyframe, false);
  assert.equal(hex(b.frames[0]), "010203");
  const b2 = parseBlock(bytes(0x40, 0x02, 0x80, 0x00, 0x00, 9), 0, true);
  assert.equal(b2.track, 2, "non-minimal 2-byte track number");
  assert.equal(b2.timecode, -32768);
  assert.equal(parseBlock(bytes(0x7f, 0xfe, 0x7f, 0xff, 0x00), 0, true).track, 0x3ffe);
  assert.equal(parseBlock(bytes(0x81, 0x7f, 0xff, 0x00), 0, true).timecode, 32767);
  assert.equal(parseBlock(bytes(0x82, 0xff, 0xff, 0x00), 100, true).timecode, -1);
  // header only: one empty frame
  const empty = parseBlock(bytes(0x81, 0x00, 0x00, 0x00), 0, true);
  assert.equal(empty.frames.length, 1);
  assert.equal(empty.frames[0].length, 0);
});

Deno.test("block: keyframe, invisible and discardable flags", () => {
  const flags = (f: number, simple: boolean) => {
    const b = parseBlock(bytes(0x81, 0x00, 0x00, f, 0xee), 0, simple);
    return [b.keyframe, b.invisible, b.discardable, b.lacing, b.simple];
  };
  assert.deepEqual(flags(0x00, true), [false, false, false, "none", true]);
  assert.deepEqual(flags(0x80, true), [true, false, false, "none", true]);
  assert.deepEqual(flags(0x08, true), [false, true, false, "none", true]);
  assert.deepEqual(flags(0x01, true), [false, false, true, "none", true]);
  assert.deepEqual(flags(0x89, true), [true, true, true, "none", true]);
  // a Block in a BlockGroup has no keyframe/discardable bits
  assert.deepEqual(flags(0x89, false), [false, true, false, "none", false]);
  // reserved bits 0x70 change nothing
  assert.deepEqual(flags(0x70, true), [false, false, false, "none", true]);
});

Deno.test("block: a block too short for its header is a DataError", () => {
  for (
    const [data, len] of [[bytes(0x81, 0x00), 2], [bytes(), 0], [bytes(0x40), 1], [bytes(0x40, 0x01, 0, 0), 4]] as const
  ) {
    const e = catchError(() => parseBlock(data, 77, true));
    assert.ok(e instanceof DataError);
    assert.equal(e.offset, 77);
    assert.equal(e.element, "SimpleBlock");
    assert.equal(e.message, `byte 77: SimpleBlock: too short for a block header (${len} bytes)`);
  }
  const e = catchError(() => parseBlock(bytes(0x00, 0x81, 0, 0, 0), 5, false));
  assert.ok(e instanceof DataError);
  assert.equal(e.element, "Block");
  // (Was "too short for a block header (5 bytes)": the block is long enough, its track number is invalid.)
  assert.equal(e.message, "byte 5: Block: invalid track number: first byte 0x00 (not a 1-8 byte EBML number)");
});

// ---------------------------------------------------------------- block.ts: lacing

Deno.test("block: Xiph lacing", () => {
  const frames = [frame(300, 1), frame(255, 2), frame(0, 3), frame(10, 4), frame(7, 5)];
  const data = dataOf(lacedBlock(3, -7, 0x80, frames, "xiph"));
  // lace header: count-1, 300 = FF 2D, 255 = FF 00, 0 = 00, 10 = 0A
  assert.equal(hex(data.subarray(0, 11)), "83fff982" + "04" + "ff2dff00000a");
  const b = parseBlock(data, 9, true);
  assert.equal(b.lacing, "xiph");
  assert.equal(b.track, 3);
  assert.equal(b.timecode, -7);
  assert.equal(b.keyframe, true);
  assert.deepEqual(b.frames.map(hex), frames.map(hex));
  assert.ok(b.frames.every((f) => f.buffer === data.buffer), "frames are views");
  // one frame
  const one = parseBlock(dataOf(lacedBlock(1, 0, 0, [frame(20, 9)], "xiph")), 0, true);
  assert.deepEqual(one.frames.map(hex), [hex(frame(20, 9))]);
  // 510 = FF FF 00
  const big = parseBlock(dataOf(lacedBlock(1, 0, 0, [frame(510, 1), frame(1, 2)], "xiph")), 0, true);
  assert.deepEqual(big.frames.map((f) => f.length), [510, 1]);
});

Deno.test("block: EBML lacing with positive, negative and wide differences", () => {
  const frames = [frame(300, 1), frame(100, 2), frame(5000, 3), frame(3, 4), frame(3, 5), frame(0, 6), frame(9, 7)];
  const data = dataOf(lacedBlock(2, 1000, 0x80, frames, "ebml"));
  const b = parseBlock(data, 0, true);
  assert.equal(b.lacing, "ebml");
  assert.equal(b.track, 2);
  assert.equal(b.timecode, 1000);
  assert.deepEqual(b.frames.map((f) => f.length), [300, 100, 5000, 3, 3, 0, 9]);
  assert.deepEqual(b.frames.map(hex), frames.map(hex));
  // hand-written: 3 frames of 2, 4 and 1 bytes: 02 | 82 | diff +2 = 0xC1 (bias 63: 65 = 0x41 | 0x80)
  const hand = bytes(0x81, 0x00, 0x00, 0x06, 0x02, 0x82, 0xc1, 1, 2, 3, 4, 5, 6, 7);
  assert.deepEqual(parseBlock(hand, 0, true).frames.map(hex), ["0102", "03040506", "07"]);
  // two frames: only the first size is coded
  const two = parseBlock(dataOf(lacedBlock(1, 0, 0, [frame(0, 1), frame(5, 2)], "ebml")), 0, true);
  assert.deepEqual(two.frames.map(hex), ["", hex(frame(5, 2))]);
});

Deno.test("block: EBML lacing of a single frame (no sizes coded)", () => {
  const f = frame(12, 3);
  const data = dataOf(lacedBlock(1, 0, 0, [f], "ebml"));
  assert.equal(hex(data.subarray(0, 5)), "8100000600", "lace count 0, no size field");
  const b = parseBlock(data, 0, true);
  assert.equal(b.lacing, "ebml");
  assert.deepEqual(b.frames.map(hex), [hex(f)]);
});

Deno.test("block: fixed-size lacing", () => {
  const frames = [frame(4, 1), frame(4, 2), frame(4, 3)];
  const data = dataOf(lacedBlock(1, 0, 0x08, frames, "fixed"));
  const b = parseBlock(data, 0, true);
  assert.equal(b.lacing, "fixed");
  assert.equal(b.invisible, true);
  assert.deepEqual(b.frames.map(hex), frames.map(hex));
  // 256 frames of one byte (count byte 0xFF)
  const many = Array.from({ length: 256 }, (_, i) => bytes(i));
  const m = parseBlock(dataOf(lacedBlock(1, 0, 0, many, "fixed")), 0, true);
  assert.equal(m.frames.length, 256);
  assert.deepEqual(m.frames.map((x) => x[0]), many.map((x) => x[0]));
  const one = parseBlock(dataOf(lacedBlock(1, 0, 0, [frame(6, 1)], "fixed")), 0, true);
  assert.deepEqual(one.frames.map(hex), [hex(frame(6, 1))]);
  // lacing in a Block (BlockGroup) too
  const inGroup = parseBlock(dataOf(lacedBlock(1, 0, 0, frames, "fixed")), 0, false);
  assert.equal(inGroup.frames.length, 3);
  assert.equal(inGroup.simple, false);
});

Deno.test("block: bad lacing is a DataError naming the block", () => {
  const cases: [Uint8Array, string][] = [
    [bytes(0x81, 0, 0, 0x02), "bad xiph lacing: no lace count"],
    [bytes(0x81, 0, 0, 0x06), "bad ebml lacing: no lace count"],
    [
      bytes(0x81, 0, 0, 0x04, 0x02, ...new Array(10).fill(1)),
      "bad fixed lacing: 10 bytes do not split into 3 equal frames",
    ],
    [bytes(0x81, 0, 0, 0x02, 0x02, 0xff, 0xff), "bad xiph lacing: lace sizes run past the block"],
    [
      bytes(0x81, 0, 0, 0x02, 0x01, 50, ...new Array(10).fill(1)),
      "bad xiph lacing: frame 0 (50 bytes) runs past the block",
    ],
    [bytes(0x81, 0, 0, 0x02, 0x02, 4, 4, 1, 2, 3, 4, 5), "bad xiph lacing: frame 1 (4 bytes) runs past the block"],
    [bytes(0x81, 0, 0, 0x06, 0x02, 0x85), "bad ebml lacing: lace sizes run past the block"],
    [bytes(0x81, 0, 0, 0x06, 0x01, 0x40), "bad ebml lacing: lace sizes run past the block"],
    [bytes(0x81, 0, 0, 0x06, 0x01, 0x00, 1, 2), "bad ebml lacing: lace sizes run past the block"],
    [
      concat([bytes(0x81, 0, 0, 0x06, 0x02, 0x85), encodeSignedVint(-10), new Uint8Array(20)]),
      "bad ebml lacing: negative frame size",
    ],
    [bytes(0x81, 0, 0, 0x06, 0x01, 0x90, 1, 2, 3), "bad ebml lacing: frame 0 (16 bytes) runs past the block"],
  ];
  for (const [data, reason] of cases) {
    for (const simple of [true, false]) {
      const e = catchError(() => parseBlock(data, 4242, simple));
      assert.ok(e instanceof DataError, reason);
      assert.equal(e.offset, 4242);
      assert.equal(e.element, simple ? "SimpleBlock" : "Block");
      assert.equal(e.reason, reason);
      assert.equal(e.message, `byte 4242: ${simple ? "SimpleBlock" : "Block"}: ${reason}`);
    }
  }
});

// ---------------------------------------------------------------- assembler: Connect streams

function checkConnectFragment(f: Fragment, g: GeneratedStream["fragments"][number], last: boolean): void {
  const label = `fragment ${g.index}`;
  assert.equal(f.offset, g.offset, label);
  assert.equal(f.size, g.bytes.length, label);
  assert.equal(f.complete, true, label);
  assert.equal(f.closedBy, last ? "end-of-input" : "next-document", label);
  assert.equal(f.docType, "matroska");
  assert.equal(f.timecodeScale, 1000000);
  assert.equal(f.unknownElements, 0);
  assert.equal(f.raw, undefined);
  assert.equal(f.tree, undefined);
  assert.deepEqual(f.tracks, [
    { number: 1, uid: 2, type: 2, name: "AUDIO_TO_CUSTOMER", codecId: "A_AAC", codecPrivate: bytes(0x11, 0x90) },
    { number: 2, uid: 1, type: 2, name: "AUDIO_FROM_CUSTOMER", codecId: "A_AAC", codecPrivate: bytes(0x11, 0x90) },
  ]);
  const connect = [
    ["ContactId", DEFAULT_CONTACT_ID],
    ["InstanceId", INSTANCE_ID],
    ["MimeType", "audio/L16;rate=8000;channels=1;"],
    ["AUDIO_TO_CUSTOMER", "2"],
    ["AUDIO_FROM_CUSTOMER", "1"],
  ];
  const ts = (ms: number) => `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
  assert.deepEqual(f.tags.map((t) => [t.name, t.value, t.position]), [
    ...connect.map(([n, v]) => [n, v, "before"]),
    ["AWS_KINESISVIDEO_FRAGMENT_NUMBER", g.fragmentNumber, "before"],
    ["AWS_KINESISVIDEO_SERVER_TIMESTAMP", ts(g.serverMs), "before"],
    ["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", ts(g.producerMs), "before"],
    ...connect.map(([n, v]) => [n, v, "after"]),
    ["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", MILLIS_BEHIND_NOW, "after"],
    ["AWS_KINESISVIDEO_CONTINUATION_TOKEN", g.fragmentNumber, "after"],
  ]);
  // tag offsets point at SimpleTag elements (67 C8) inside the fragment, increasing
  let prev = -1;
  for (const t of f.tags) {
    const rel = t.offset - g.offset;
    assert.ok(t.offset > prev);
    prev = t.offset;
    assert.equal(hex(g.bytes.subarray(rel, rel + 2)), "67c8", `${label} ${t.name} offset`);
  }
  assert.deepEqual(f.kvs, {
    fragmentNumber: g.fragmentNumber,
    serverTimestampMs: g.serverMs,
    producerTimestampMs: g.producerMs,
    millisBehindNow: Number(MILLIS_BEHIND_NOW),
    continuationToken: g.fragmentNumber,
  });
  assert.equal(f.isError, false);
  assert.equal(f.contactId, DEFAULT_CONTACT_ID);
  assert.equal(f.instanceId, INSTANCE_ID);
  assert.equal(f.mimeType, "audio/L16;rate=8000;channels=1;");
  assert.equal(f.tag("NoSuchTag"), undefined);
  assert.equal(f.clusters.length, 1);
  assert.equal(f.clusters[0].timecode, g.producerMs);
  assert.equal(f.clusters[0].blocks, g.blocks.length);
  assert.equal(
    hex(g.bytes.subarray(f.clusters[0].offset - g.offset, f.clusters[0].offset - g.offset + 5)),
    "1f43b675ff",
  );
  assert.equal(f.clusterTimecode, g.producerMs);
  assert.equal(f.clusterTimeMs, g.producerMs);
  assert.equal(f.blocks.length, g.blocks.length);
  for (let i = 0; i < f.blocks.length; i++) {
    const b = f.blocks[i];
    const e = g.blocks[i];
    assert.equal(b.track, e.track, `${label} block ${i}`);
    assert.equal(b.timeMs, e.timeMs, `${label} block ${i} timeMs`);
    assert.equal(b.timecode, e.timeMs - g.producerMs);
    assert.equal(b.keyframe, i === 0);
    assert.equal(b.lacing, "none");
    assert.equal(b.simple, true);
    assert.equal(b.frames.length, 1);
    assert.equal(hex(b.frames[0]), hex(e.pcm), `${label} block ${i} payload`);
    assert.equal(hex(g.bytes.subarray(b.offset - g.offset, b.offset - g.offset + 1)), "a3");
  }
  assert.deepEqual([...f.blockCounts()], [[1, SMALL.blocksPerTrack], [2, SMALL.blocksPerTrack]]);
  // 4 blocks of 8 ms per track: span 24 ms * 4/3
  assert.equal(f.durationMs, 32);
}

Deno.test("assembler: fragments of a generated Connect stream", async () => {
  const stream = connectStream({ fragments: 3, ...SMALL });
  for (const chunk of [undefined, 1, 13, 1000]) {
    const frags = await assemble(stream.bytes, {}, chunk);
    assert.equal(frags.length, 3);
    frags.forEach((f, i) => {
      assert.equal(f.index, i);
      checkConnectFragment(f, stream.fragments[i], i === 2);
    });
  }
});

Deno.test("assembler: fragment numbers compare as BigInt", async () => {
  // a base whose successive numbers differ in length: string order would be wrong
  const base = 10n ** 46n;
  const stream = connectStream({ fragments: 3, ...SMALL, fragmentNumberBase: base - FRAGMENT_NUMBER_STEP });
  const frags = await assemble(stream.bytes);
  const nums = frags.map((f) => parseFragmentNumber(f.kvs.fragmentNumber)!);
  assert.deepEqual(nums, [base - FRAGMENT_NUMBER_STEP, base, base + FRAGMENT_NUMBER_STEP]);
  assert.ok(nums[0] < nums[1] && nums[1] < nums[2]);
  assert.equal(nums[2] - nums[1], 2n ** 92n);
  assert.deepEqual(frags.map((f) => f.fragmentNumberBigInt), nums);
  assert.equal(frags[1].kvs.fragmentNumber!.length, 47);
  assert.equal(frags[0].kvs.fragmentNumber!.length, 46);
  assert.ok(frags[0].kvs.fragmentNumber! > frags[1].kvs.fragmentNumber!, "as strings they mis-order");
  assert.equal(parseFragmentNumber("gap-1"), undefined);
  assert.equal(parseFragmentNumber(undefined), undefined);
  assert.equal(parseFragmentNumber(""), undefined);
  assert.equal(parseFragmentNumber(" 12"), undefined);
  assert.equal(parseFragmentNumber("0012"), 12n);
  assert.equal(
    parseFragmentNumber("91343852333181551234925834077012571618243808844"),
    91343852333181551234925834077012571618243808844n,
  );
});

Deno.test("assembler: long spellings of the KVS tags and first-wins", async () => {
  const doc = kvsDoc(
    tagsEl([
      ["AWS_KINESISVIDEO_FRAGMENT_NUMBER", " 12345 "],
      ["AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP", "1599166395.421"],
      ["AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP", "1599166395.4"],
      ["AWS_KINESISVIDEO_SERVER_TIMESTAMP", "1.000"], // later: ignored
    ]),
    CLUSTER_UNKNOWN,
    uintEl(ID.Timecode, 10),
    tagsEl([
      ["AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE", "5000 "],
      ["AWS_KINESISVIDEO_EXCEPTION_MESSAGE", "internal error "],
      ["AWS_KINESISVIDEO_ERROR_ID", "17"],
      ["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "not a number"],
      ["AWS_KINESISVIDEO_CONTINUATION_TOKEN", " tok-1_a.B "],
      ["AWS_KINESISVIDEO_UNKNOWN_THING", "x"],
    ]),
  );
  const [f] = await assemble(doc);
  assert.deepEqual(f.kvs, {
    fragmentNumber: "12345",
    serverTimestampMs: 1599166395421,
    producerTimestampMs: 1599166395400,
    errorCode: "5000",
    errorMessage: "internal error ",
    errorId: "17",
    continuationToken: "tok-1_a.B",
  });
  assert.equal(f.isError, true);
  assert.equal(f.fragmentNumberBigInt, 12345n, "the number is trimmed first");
  assert.deepEqual(f.tags.map((t) => t.position), [
    "before",
    "before",
    "before",
    "before",
    ...new Array(6).fill("after"),
  ]);
});

Deno.test("fragment: parseKvsTimestamp", () => {
  assert.equal(parseKvsTimestamp("1599166395.421"), 1599166395421);
  assert.equal(parseKvsTimestamp("1599166395.4"), 1599166395400);
  assert.equal(parseKvsTimestamp("1599166395"), 1599166395000);
  assert.equal(parseKvsTimestamp(" 1599166395.000 "), 1599166395000);
  assert.equal(parseKvsTimestamp("1782912654.706"), 1782912654706);
  assert.equal(parseKvsTimestamp("1599166395.4215"), 1599166395421.5);
  assert.equal(parseKvsTimestamp("abc"), undefined);
  assert.equal(parseKvsTimestamp("-1.5"), undefined);
  assert.equal(parseKvsTimestamp(""), undefined);
});

/** parseKvsTimestamp as it was, with a regex: the hand-written parser must give the same results. */
function parseKvsTimestampRegex(text: string): number | undefined {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(text);
  if (!m) return undefined;
  const frac = (m[2] ?? "").padEnd(3, "0");
  return Number(m[1]) * 1000 + Number(frac.slice(0, 3)) +
    (frac.length > 3 ? Number("0." + frac.slice(3)) : 0);
}

Deno.test("fragment: parseKvsTimestamp edge cases match the regex version", () => {
  const cases = [
    "1599166395.421",
    "0",
    "0.0",
    "00001599166395.42",
    "1599166395.",
    ".421",
    "1599166395..421",
    "1599166395.4.2",
    "+1599166395",
    "1e3",
    "0x10",
    "1_000",
    "1 2",
    "1. 5",
    "1 .5",
    "\t\n\v\f\r 1599166395.5 \u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff",
    "\u180e1",
    "1\u200b",
    "\u0661",
    "１",
    " ",
    ".",
    "999999999999999.9999",
    "9999999999999999",
    "12345678901234567890123.5",
    "9".repeat(400),
    "9".repeat(400) + ".5",
    "1599166395.4215",
    "1599166395.000000000000000001",
    "1599166395.123456789012345",
    "1599166395.1234567890123456789",
    "1599166395.999999999999999999999999",
    "1599166395.0000000000000000000000001",
    "1.0001",
    "0.0005",
  ];
  for (const c of cases) assert.equal(parseKvsTimestamp(c), parseKvsTimestampRegex(c), JSON.stringify(c));
  // random digit strings with a fraction of 0–25 digits
  const rand = seededInts(99);
  const digits = (n: number) => Array.from({ length: n }, () => rand(10)).join("");
  for (let i = 0; i < 20000; i++) {
    const int = digits(1 + rand(22));
    const frac = rand(4) === 0 ? "" : "." + digits(rand(26));
    const text = (rand(3) === 0 ? " " : "") + int + frac + (rand(3) === 0 ? "\n" : "");
    assert.equal(parseKvsTimestamp(text), parseKvsTimestampRegex(text), JSON.stringify(text));
  }
});

Deno.test("fragment: kvs reads only exact AWS_KINESISVIDEO_ names, first string value wins", () => {
  const f = new Fragment(0, 0);
  const tag = (name: string, value: string | Uint8Array) => f.tags.push({ name, value, position: "before", offset: 0 });
  tag("AWS_KINESISVIDEO_", "x");
  tag("AWS_KINESISVIDEO_FRAGMENT_NUMBERS", "1");
  tag("aws_kinesisvideo_fragment_number", "2");
  tag("AWS-KINESISVIDEO_FRAGMENT_NUMBER", "3");
  tag("AWS_KINESISVIDEO_FRAGMENT_NUMBER", bytes(1));
  tag("AWS_KINESISVIDEO_FRAGMENT_NUMBER", " 42 ");
  tag("AWS_KINESISVIDEO_FRAGMENT_NUMBER", "43");
  tag("AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP", "bad");
  tag("AWS_KINESISVIDEO_SERVER_TIMESTAMP", "1.5");
  tag("AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP", "2.25");
  tag("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", "3");
  tag("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "soon");
  tag("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", " 7 ");
  tag("AWS_KINESISVIDEO_CONTINUATION_TOKEN", " tok ");
  tag("AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE", " 4000 ");
  tag("AWS_KINESISVIDEO_ERROR_CODE", "5000");
  tag("AWS_KINESISVIDEO_ERROR_ID", " 9 ");
  tag("AWS_KINESISVIDEO_EXCEPTION_MESSAGE", " boom ");
  tag("ContactId", "c");
  assert.deepEqual(f.kvs, {
    fragmentNumber: "42",
    serverTimestampMs: 1500,
    producerTimestampMs: 2250,
    millisBehindNow: 7,
    continuationToken: "tok",
    errorCode: "4000",
    errorId: "9",
    errorMessage: " boom ",
  });
});

Deno.test("fragment: hasTagAfterCluster looks only after the last Cluster, by any tag, name or predicate", () => {
  const f = new Fragment(0, 0);
  assert.equal(f.hasTagAfterCluster(), false, "no Cluster: nothing is after it");
  f.tags.push({ name: "ContactId", value: "c1", position: "before", offset: 40 });
  f.clusters.push({ offset: 100, timecode: 0, blocks: 1 });
  assert.equal(f.hasTagAfterCluster(), false, "a tag before the Cluster does not count");
  // Tags between two Clusters of one document: after the first, not after the last.
  f.tags.push({ name: "ContactId", value: "c1", position: "after", offset: 500 });
  f.clusters.push({ offset: 600, timecode: 64, blocks: 1 });
  assert.equal(f.hasTagAfterCluster(), false, "a tag between Clusters does not close the last one");
  assert.equal(f.hasTagAfterCluster("ContactId"), false);
  f.tags.push({ name: "MimeType", value: "audio/L16;rate=8000;channels=1;", position: "after", offset: 900 });
  f.tags.push({ name: "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", value: "5", position: "after", offset: 950 });
  assert.equal(f.hasTagAfterCluster(), true);
  assert.equal(f.hasTagAfterCluster("MimeType"), true);
  assert.equal(f.hasTagAfterCluster("ContactId"), false, "exact name: only the one before the last Cluster");
  assert.equal(f.hasTagAfterCluster("Mime"), false, "a name is matched whole");
  assert.equal(f.hasTagAfterCluster((n) => n.startsWith("AWS_KINESISVIDEO_")), true);
  assert.equal(f.hasTagAfterCluster((n) => n.startsWith("X_")), false);
});

Deno.test("fragment: durationMs and blockCounts, few or many track numbers, match a Map-based count", () => {
  const base = parseBlock(bytes(0x81, 0, 0, 0x80), 0, true);
  const rand = seededInts(7);
  for (let round = 0; round < 400; round++) {
    const f = new Fragment(round, 0);
    const trackCount = 1 + rand(12); // more than 8 takes the Map path
    const trackNumbers = Array.from({ length: trackCount }, () => rand(4) === 0 ? 2 ** 40 + rand(5) : rand(20));
    const blocks = rand(60);
    const time = new Map<number, number>();
    for (let i = 0; i < blocks; i++) {
      // runs of one track, or interleaved
      const track = trackNumbers[rand(3) === 0 ? 0 : rand(trackCount)];
      const ms = (time.get(track) ?? rand(1000) + 0.5) + rand(100) / 3;
      time.set(track, ms);
      f.addBlock({ ...base, track, timeMs: ms });
    }
    const first = new Map<number, number>(), last = new Map<number, number>(), count = new Map<number, number>();
    for (const b of f.blocks) {
      if (!first.has(b.track)) first.set(b.track, b.timeMs);
      last.set(b.track, b.timeMs);
      count.set(b.track, (count.get(b.track) ?? 0) + 1);
    }
    let best = 0;
    for (const [track, n] of count) {
      // (No PCM format or BlockDuration: the last block lasts one average interval.)
      const span = last.get(track)! - first.get(track)!;
      const d = span + (n > 1 ? span / (n - 1) : 0);
      if (d > best) best = d;
    }
    assert.deepEqual([...f.blockCounts()], [...count], `round ${round}`);
    assert.equal(f.durationMs, best, `round ${round}`);
  }
});

Deno.test("assembler: KVS error fragments", async () => {
  const stream = connectStream({ fragments: 3, ...SMALL, errorAt: { index: 1, code: "4000", id: 7 } });
  const frags = await assemble(stream.bytes);
  assert.equal(frags.length, 3);
  const e = frags[1];
  assert.equal(e.offset, stream.fragments[1].offset);
  assert.equal(e.size, stream.fragments[1].bytes.length);
  assert.equal(e.closedBy, "next-document");
  assert.equal(e.isError, true);
  assert.equal(e.kvs.serverTimestampMs, undefined);
  assert.deepEqual(e.kvs, { errorCode: "4000", errorId: "7", fragmentNumber: stream.fragments[1].fragmentNumber });
  assert.equal(e.clusters.length, 0);
  assert.equal(e.blocks.length, 0);
  assert.equal(e.clusterTimeMs, undefined);
  assert.equal(e.durationMs, 0);
  assert.equal(e.contactId, undefined);
  assert.ok(e.tags.every((t) => t.position === "before"));
  assert.deepEqual(frags.map((f) => f.isError), [false, true, false]);
  // an error fragment alone, at end of input
  const [only] = await assemble(errorFragment("3002", 1, "99"));
  assert.equal(only.isError, true);
  assert.equal(only.kvs.errorCode, "3002");
  assert.equal(only.kvs.errorId, "1");
  assert.equal(only.fragmentNumberBigInt, 99n);
  assert.equal(only.closedBy, "end-of-input");
  assert.equal(only.complete, true);
});

Deno.test("assembler: empty input is a DataError unless strictStart is off (both drivers, any chunking)", async () => {
  const collect = async (it: AsyncIterable<Fragment>) => {
    const got: Fragment[] = [];
    for await (const f of it) got.push(f);
    return got;
  };
  for (const chunks of [[], [new Uint8Array(0)], [new Uint8Array(0), new Uint8Array(0)]]) {
    for (
      const run of [
        (o: { strictStart?: boolean }) => assembleFragments(chunks, { ...o, source: "in.mkv" }),
        (o: { strictStart?: boolean }) =>
          fragmentsFromTokens(tokenizeBatches(chunks, { source: "in.mkv" }), { ...o, source: "in.mkv" }),
      ]
    ) {
      const e = await collect(run({})).then(() => assert.fail("expected a DataError"), (e) => e);
      assert.ok(e instanceof DataError, String(e));
      assert.equal(e.message, "in.mkv: byte 0: EBML: the input is empty: not a Matroska/GetMedia stream");
      assert.deepEqual(await collect(run({ strictStart: false })), [], "pull: an empty body is no error");
    }
  }
  // Bytes, but no document: a tester's two Voids (or a ChapterTimeStart-looking byte pair) were called empty.
  for (const bytes of [Uint8Array.of(0xec, 0x80, 0xec, 0x80), Uint8Array.of(0x91, 0x80)]) {
    const e = await collect(assembleFragments([bytes], { source: "in.mkv" })).then(() => assert.fail(), (e) => e);
    assert.equal(
      e.message,
      `in.mkv: byte 0: EBML: no EBML header in the input's ${bytes.length} bytes: not a Matroska/GetMedia stream`,
    );
  }
});

Deno.test("assembler: the last fragment is flushed only at end of input", () => {
  const stream = connectStream({ fragments: 3, ...SMALL });
  const tk = new EbmlTokenizer();
  const asm = new FragmentAssembler();
  const out: Fragment[] = [];
  const tokens: EbmlToken[] = [];
  tk.push(stream.bytes, tokens);
  asm.push({ tokens, chunk: stream.bytes, offset: 0, final: false }, out);
  assert.deepEqual(out.map((f) => f.index), [0, 1], "the last one waits");
  const end: EbmlToken[] = [];
  tk.end(end);
  asm.push({ tokens: end, chunk: new Uint8Array(0), offset: stream.bytes.length, final: true }, out);
  assert.deepEqual(out.map((f) => f.index), [0, 1, 2]);
  assert.equal(out[2].closedBy, "end-of-input");
  assert.equal(out[2].size, stream.fragments[2].bytes.length);
  assert.equal(out[2].complete, true);
});

Deno.test("assembler: a stream cut inside a SimpleBlock gives an incomplete last fragment", async () => {
  const stream = connectStream({ fragments: 3, ...SMALL });
  const g = stream.fragments[2];
  const cutAt = g.blocks[5].pcm.byteOffset + 17; // inside block 5's payload
  const cut = stream.bytes.subarray(0, cutAt);
  for (const chunk of [undefined, 1, 7, 100]) {
    const frags = await assemble(cut, {}, chunk);
    assert.equal(frags.length, 3);
    assert.deepEqual(frags.map((f) => f.complete), [true, true, false]);
    const last = frags[2];
    assert.equal(last.closedBy, "end-of-input");
    assert.equal(last.offset, g.offset);
    assert.equal(last.size, cutAt - g.offset);
    assert.equal(last.blocks.length, 5, "only whole blocks");
    assert.equal(last.kvs.fragmentNumber, g.fragmentNumber);
    assert.equal(last.kvs.continuationToken, undefined);
    assert.ok(last.tags.every((t) => t.position === "before"));
  }
  // cut inside a trailing SimpleTag: that tag is dropped, the fragment incomplete
  const afterTags = stream.bytes.subarray(0, stream.bytes.length - 10);
  const frags = await assemble(afterTags);
  assert.equal(frags[2].complete, false);
  assert.equal(frags[2].kvs.continuationToken, undefined);
  assert.equal(frags[2].tags.length, 14);
  assert.equal(frags[2].tags.at(-1)!.name, "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW");
  // a stream cut exactly at a fragment boundary is complete
  const atBoundary = stream.bytes.subarray(0, stream.fragments[2].offset);
  const two = await assemble(atBoundary);
  assert.deepEqual(two.map((f) => [f.complete, f.closedBy]), [[true, "next-document"], [true, "end-of-input"]]);
});

Deno.test("assembler: raw gives exactly each fragment's bytes for any chunk size", async () => {
  const stream = connectStream({ fragments: 4, ...SMALL, errorAt: { index: 2, code: "4000" }, magicInPcm: true });
  const r = seededRandom(11);
  const sizes: (() => number)[] = [
    () => stream.bytes.length,
    ...[1, 2, 3, 5, 7, 11, 12, 13, 64, 333, 1027, 4096].map((n) => () => n),
    () => 1 + Math.floor(r() * 300),
  ];
  for (const eager of [false, true]) {
    for (const next of sizes) {
      const out: Fragment[] = [];
      for await (const f of assembleFragments(chunked(stream.bytes, next), { raw: true, eager })) out.push(f);
      assert.equal(out.length, 4);
      out.forEach((f, i) => {
        assert.ok(f.raw !== undefined);
        assert.equal(f.raw.length, stream.fragments[i].bytes.length, `eager ${eager} fragment ${i} length`);
        assert.equal(hex(f.raw), hex(stream.fragments[i].bytes), `eager ${eager} fragment ${i} bytes`);
      });
    }
  }
});

// ---------------------------------------------------------------- assembler: tree

function treeChildrenSize(n: ElementNode): number {
  return n.children!.reduce((s, c) => s + c.headerSize + c.size, 0);
}

Deno.test("assembler: the element tree, by name and by path", async () => {
  const stream = connectStream({ fragments: 2, ...SMALL });
  const frags = await assemble(stream.bytes, { tree: true }, 37);
  assert.equal(frags.length, 2);
  for (const [i, f] of frags.entries()) {
    const g = stream.fragments[i];
    const tree = f.tree!;
    assert.deepEqual(tree.map((n) => n.name), ["EBML", "Segment"]);
    assert.equal(tree[0].offset, g.offset);
    assert.equal(findFirst(tree, "EBML/DocType")?.value, "matroska");
    assert.equal(findFirst(tree, "Segment/Cluster/Timecode")?.value, g.producerMs);
    assert.equal(findFirst(tree, "Timecode")?.value, g.producerMs);
    assert.equal(findAll(tree, "SimpleBlock").length, 2 * SMALL.blocksPerTrack);
    assert.equal(findAll(tree, "Segment/Cluster/SimpleBlock").length, 2 * SMALL.blocksPerTrack);
    assert.equal(findAll(tree, "Cluster/SimpleBlock").length, 0, "a path starts at the roots");
    assert.deepEqual(findAll(tree, "Segment/Tracks/TrackEntry/Name").map((n) => n.value), [
      "AUDIO_TO_CUSTOMER",
      "AUDIO_FROM_CUSTOMER",
    ]);
    assert.equal(findAll(tree, "Segment/*/TrackEntry").length, 2);
    assert.equal(findAll(tree, "*/*/TrackEntry/CodecID").length, 2);
    assert.equal(findAll(tree, "TagName").length, 15);
    assert.equal(findAll(tree, "Segment/Tags").length, 12);
    assert.equal(findFirst(tree, "Segment/Nope"), undefined);
    assert.equal(findFirst(tree, "Nope"), undefined);
    const sb = findFirst(tree, "SimpleBlock")!;
    assert.equal(sb.offset, f.blocks[0].offset);
    assert.equal(sb.headerSize, 9);
    assert.equal(sb.size, 4 + 128);
    assert.equal(hex((sb.value as Uint8Array).subarray(4)), hex(g.blocks[0].pcm));
    // unknown-size masters get the size they spanned
    const cluster = findFirst(tree, "Segment/Cluster")!;
    assert.equal(cluster.unknownSize, true);
    assert.equal(cluster.headerSize, 5);
    assert.equal(cluster.size, 10 + 3 + 2 * SMALL.blocksPerTrack * (9 + 4 + 128));
    assert.equal(cluster.size, treeChildrenSize(cluster));
    const seg = tree[1];
    assert.equal(seg.unknownSize, true);
    assert.equal(seg.headerSize, 12);
    assert.equal(seg.size, g.bytes.length - tree[0].headerSize - tree[0].size - 12);
    assert.equal(seg.size, treeChildrenSize(seg));
    const info = findFirst(tree, "Segment/Info")!;
    assert.equal(info.unknownSize, false);
    assert.equal(info.size, treeChildrenSize(info));
    assert.ok(findAll(tree, "*").every((n) => !n.truncated && !n.unknownElement));
  }
});

Deno.test("assembler: tree marks truncated and unknown elements", async () => {
  const doc = kvsDoc(
    CLUSTER_UNKNOWN,
    uintEl(ID.Timecode, 1000),
    el(0x4abc, bytes(1, 2, 3)),
    simpleBlock(1, 0, true, frame(40, 1)),
  );
  const [f] = await assemble(doc.subarray(0, doc.length - 10), { tree: true });
  assert.equal(f.complete, false);
  assert.equal(f.unknownElements, 1);
  const unknown = findFirst(f.tree!, "Segment/Cluster/0x4ABC")!;
  assert.equal(unknown.unknownElement, true);
  assert.equal(unknown.size, 3);
  const sb = findFirst(f.tree!, "Segment/Cluster/SimpleBlock")!;
  assert.equal(sb.truncated, true);
  assert.equal(sb.value, undefined);
  assert.equal(findFirst(f.tree!, "Segment/Cluster")!.truncated, true);
  assert.equal(f.tree![1].truncated, true);
  assert.equal(f.tree![0].truncated, undefined);
});

// ---------------------------------------------------------------- assembler: eager

Deno.test("assembler: eager mode emits at the trailing KVS tags, same fragments", async () => {
  const stream = connectStream({ fragments: 4, ...SMALL, errorAt: { index: 1, code: "4000" } });
  const lazy = await assemble(stream.bytes);
  for (const chunk of [undefined, 1, 29]) {
    const eager = await assemble(stream.bytes, { eager: true }, chunk);
    assert.deepEqual(eager.map((f) => f.closedBy), [
      "continuation-token",
      "next-document",
      "continuation-token",
      "continuation-token",
    ]);
    const summary = (f: Fragment) => ({
      index: f.index,
      offset: f.offset,
      size: f.size,
      complete: f.complete,
      tags: f.tags,
      kvs: f.kvs,
      blocks: f.blocks.map((b) => [b.track, b.timeMs, hex(b.frames[0])]),
      tracks: f.tracks,
    });
    assert.deepEqual(eager.map(summary), lazy.map(summary));
  }
  assert.deepEqual(lazy.map((f) => f.closedBy), ["next-document", "next-document", "next-document", "end-of-input"]);
});

Deno.test("assembler: eager mode does not wait for the next document", () => {
  const stream = connectStream({ fragments: 2, ...SMALL });
  const first = stream.fragments[0].bytes;
  for (const eager of [true, false]) {
    const tk = new EbmlTokenizer();
    const asm = new FragmentAssembler({ eager });
    const out: Fragment[] = [];
    const tokens: EbmlToken[] = [];
    tk.push(first, tokens);
    asm.push({ tokens, chunk: first, offset: 0, final: false }, out);
    assert.equal(out.length, eager ? 1 : 0, `eager ${eager}`);
    if (eager) {
      assert.equal(out[0].closedBy, "continuation-token");
      assert.equal(out[0].size, first.length);
      assert.equal(out[0].kvs.continuationToken, stream.fragments[0].fragmentNumber);
    }
  }
});

Deno.test("assembler: eager needs the continuation token and an unknown-size Segment", async () => {
  const noKvs = connectStream({ fragments: 2, ...SMALL, kvsTags: false });
  assert.deepEqual((await assemble(noKvs.bytes, { eager: true })).map((f) => f.closedBy), [
    "next-document",
    "end-of-input",
  ]);
  const known = connectStream({ fragments: 2, ...SMALL, segmentSize: "known" });
  const frags = await assemble(known.bytes, { eager: true });
  assert.deepEqual(frags.map((f) => [f.closedBy, f.size]), [
    ["segment-end", known.fragments[0].bytes.length],
    ["segment-end", known.fragments[1].bytes.length],
  ]);
});

// ---------------------------------------------------------------- assembler: ordinary MKV

Deno.test("assembler: an ordinary MKV gives one fragment per Cluster sharing the tracks", async () => {
  const track = el(ID.TrackEntry, [
    uintEl(ID.TrackNumber, 1),
    uintEl(ID.TrackUID, 0xabcdef),
    uintEl(ID.TrackType, 2),
    strEl(ID.CodecID, "A_PCM/INT/LIT", 32),
    el(ID.Audio, [floatEl(ID.SamplingFrequency, 48000, 4), uintEl(ID.Channels, 2), uintEl(ID.BitDepth, 16)]),
  ]);
  const clusters = [
    el(ID.Cluster, [
      uintEl(ID.Timecode, 0),
      simpleBlock(1, 0, true, frame(8, 1)),
      simpleBlock(1, 10, false, frame(8, 2)),
    ]),
    el(ID.Cluster, [
      uintEl(ID.Timecode, 2000),
      blockGroup(1, 10, frame(8, 3), 20),
      simpleBlock(1, 30, false, frame(8, 4)),
    ]),
    el(ID.Cluster, [uintEl(ID.Timecode, 4000), lacedBlock(1, -4, 0x80, [frame(3, 5), frame(5, 6)], "xiph")]),
  ];
  const head = ebmlHeader("webm");
  const preCluster = [
    el(ID.SeekHead, [el(ID.Seek, [el(ID.SeekID, encodeId(ID.Cluster)), uintEl(ID.SeekPosition, 100)])]),
    el(ID.Info, [uintEl(ID.TimecodeScale, 500000), floatEl(ID.Duration, 5000)]),
    el(ID.Tracks, track),
    el(ID.Void, new Uint8Array(6)),
  ];
  const cues = el(ID.Cues, [el(ID.CuePoint, [uintEl(0xb3, 0)])]);
  const segBody = concat([...preCluster, ...clusters, cues]);
  const segment = concat([encodeId(ID.Segment), encodeSize(segBody.length, 8), segBody]);
  const doc = concat([head, segment]);
  const segData = head.length + 12;
  let o = segData + preCluster.reduce((s, p) => s + p.length, 0);
  const clusterOffsets = clusters.map((c) => {
    const at = o;
    o += c.length;
    return at;
  });

  for (const chunk of [undefined, 1, 17]) {
    const frags = await assemble(doc, { raw: true }, chunk);
    assert.equal(frags.length, 3);
    assert.deepEqual(frags.map((f) => [f.index, f.offset, f.closedBy, f.complete]), [
      [0, 0, "next-cluster", true],
      [1, clusterOffsets[1], "next-cluster", true],
      [2, clusterOffsets[2], "segment-end", true],
    ]);
    assert.deepEqual(frags.map((f) => f.offset + f.size), [clusterOffsets[1], clusterOffsets[2], doc.length]);
    assert.equal(hex(frags[2].raw!), hex(doc.subarray(clusterOffsets[2])), "the last one holds the Cues");
    for (const f of frags) {
      assert.equal(f.docType, "webm");
      assert.equal(f.timecodeScale, 500000);
      assert.deepEqual(f.tracks, [{
        number: 1,
        uid: 0xabcdef,
        type: 2,
        codecId: "A_PCM/INT/LIT",
        audio: { samplingFrequency: 48000, channels: 2, bitDepth: 16 },
      }]);
      assert.equal(f.tags.length, 0);
      assert.equal(f.clusters.length, 1);
    }
    assert.deepEqual(frags[1].tracks, frags[0].tracks, "the document's tracks");
    assert.notEqual(frags[1].tracks, frags[0].tracks, "each fragment keeps its own list (a snapshot)");
    assert.deepEqual(frags.map((f) => f.clusters[0]), [
      { offset: clusterOffsets[0], timecode: 0, blocks: 2 },
      { offset: clusterOffsets[1], timecode: 2000, blocks: 2 },
      { offset: clusterOffsets[2], timecode: 4000, blocks: 1 },
    ]);
    assert.deepEqual(frags.map((f) => f.clusterTimeMs), [0, 1000, 2000]);
    const blocks = frags.flatMap((f) => f.blocks);
    const view = (b: Block) => [b.simple, b.timecode, b.timeMs, b.keyframe, b.duration, b.frames.map(hex)];
    assert.deepEqual(blocks.map(view), [
      [true, 0, 0, true, undefined, [hex(frame(8, 1))]],
      [true, 10, 5, false, undefined, [hex(frame(8, 2))]],
      [false, 10, 1005, false, 20, [hex(frame(8, 3))]],
      [true, 30, 1015, false, undefined, [hex(frame(8, 4))]],
      [true, -4, 1998, true, undefined, [hex(frame(3, 5)), hex(frame(5, 6))]],
    ]);
    assert.equal(blocks[2].offset, clusterOffsets[1] + 6 + 3, "a Block's offset is its BlockGroup's");
  }
});

Deno.test("assembler: BlockGroup blocks in an unknown-size Connect-like Cluster", async () => {
  const doc = kvsDoc(
    el(ID.Tracks, el(ID.TrackEntry, [uintEl(ID.TrackNumber, 5), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")])),
    CLUSTER_UNKNOWN,
    uintEl(ID.Timecode, 1782912654536, 8),
    blockGroup(5, 64, frame(16, 1), 64),
    blockGroup(5, 128, frame(16, 2)),
    simpleBlock(5, 192, false, frame(16, 3)),
    el(ID.BlockGroup, [uintEl(ID.BlockDuration, 3)]), // no Block: ignored
  );
  const [f] = await assemble(doc);
  assert.deepEqual(
    f.blocks.map((b) => [b.track, b.simple, b.timeMs, b.duration, hex(b.frames[0])]),
    [
      [5, false, 1782912654600, 64, hex(frame(16, 1))],
      [5, false, 1782912654664, undefined, hex(frame(16, 2))],
      [5, true, 1782912654728, undefined, hex(frame(16, 3))],
    ],
  );
  assert.equal(f.clusters[0].blocks, 3);
  assert.deepEqual(f.tracks, [{ number: 5, name: "AUDIO_FROM_CUSTOMER" }]);
});

// ---------------------------------------------------------------- assembler: misc

Deno.test("assembler: an unknown top-level element is a DataError", async () => {
  const junk = el(0x1badbeef, bytes(1, 2, 3));
  const e = await assembleError(junk, { source: "x.mkv" });
  assert.equal(e.offset, 0);
  assert.equal(e.element, "0x1BADBEEF");
  assert.equal(e.message, "x.mkv: byte 0: 0x1BADBEEF: unknown top-level element: not a Matroska/GetMedia stream");
  // after a good known-size fragment: the error names the junk's offset
  const stream = connectStream({ fragments: 1, ...SMALL, segmentSize: "known" });
  const e2 = await assembleError(concat([stream.bytes, junk]));
  assert.equal(e2.offset, stream.bytes.length);
  assert.equal(e2.element, "0x1BADBEEF");
  // after an unknown-size Segment an unknown id cannot close it: it is counted inside
  const open = connectStream({ fragments: 1, ...SMALL });
  const [last] = await assemble(concat([open.bytes, junk]));
  assert.equal(last.unknownElements, 1);
  assert.equal(last.size, open.bytes.length + junk.length);
  // an unknown element inside a fragment is only counted
  const doc = kvsDoc(el(0x4abc, bytes(1)), CLUSTER_UNKNOWN, uintEl(ID.Timecode, 1), el(0x4abd, bytes()));
  const [f] = await assemble(doc);
  assert.equal(f.unknownElements, 2);
  // tokenizer errors carry the source name through assembleFragments
  const bad = kvsDoc(CLUSTER_UNKNOWN, bytes(0xe7, 0x00));
  const e3 = await assembleError(bad, { source: "in.mkv" });
  assert.equal(e3.source, "in.mkv");
  assert.equal(e3.offset, ebmlHeader().length + 12 + 5);
  assert.match(e3.message, /^in\.mkv: byte \d+: Timecode: invalid element size/);
});

Deno.test("assembler: tags with TagBinary, empty SimpleTags, and one-Tags-per-tag", async () => {
  const simple = el(ID.SimpleTag, [strEl(ID.TagName, "BIN"), el(ID.TagBinary, bytes(1, 2, 3))]);
  const doc = kvsDoc(
    el(ID.Tags, el(ID.Tag, [simple, el(ID.SimpleTag, [strEl(ID.TagName, "EMPTY")])])),
    tagsEl([["ContactId", "c-1"], ["Events", "[]"]], { onePerTags: true, sizeWidth: 8 }),
    CLUSTER_UNKNOWN,
    uintEl(ID.Timecode, 1),
  );
  const [f] = await assemble(doc);
  assert.deepEqual(f.tags.map((t) => [t.name, t.value instanceof Uint8Array ? hex(t.value) : t.value, t.position]), [
    ["BIN", "010203", "before"],
    ["EMPTY", "", "before"],
    ["ContactId", "c-1", "before"],
    ["Events", "[]", "before"],
  ]);
  assert.equal(f.tag("BIN"), undefined, "tag() returns strings only");
  assert.equal(f.tag("EMPTY"), "");
  assert.equal(f.contactId, "c-1");
  assert.equal(f.instanceId, undefined);
});

Deno.test("assembler: ContactId changes between fragments and tags only after the Cluster", async () => {
  const stream = connectStream({ fragments: 3, ...SMALL, contactIds: ["a", "b", null], tagsPosition: "after" });
  const frags = await assemble(stream.bytes);
  assert.deepEqual(frags.map((f) => f.contactId), ["a", "b", undefined]);
  for (const f of frags) {
    assert.deepEqual(
      f.tags.filter((t) => !t.name.startsWith("AWS_")).map((t) => t.position),
      new Array(f.contactId === undefined ? 4 : 5).fill("after"),
    );
  }
});

Deno.test("assembler: fragmentsFromTokens and maxFragmentBytes", async () => {
  const stream = connectStream({ fragments: 2, ...SMALL });
  const frags: Fragment[] = [];
  for await (const f of fragmentsFromTokens(tokenizeBatches(chunked(stream.bytes, 100)))) frags.push(f);
  assert.deepEqual(frags.map((f) => [f.offset, f.size]), stream.fragments.map((g) => [g.offset, g.bytes.length]));
  // one endless unknown-size Segment with many Clusters is split at a Cluster past the limit
  const cl = (tc: number) =>
    concat([CLUSTER_UNKNOWN, uintEl(ID.Timecode, tc), simpleBlock(1, 0, true, frame(100, tc))]);
  const doc = kvsDoc(...[0, 1, 2, 3, 4].map(cl));
  const split = await assemble(doc, { maxFragmentBytes: 250 });
  assert.ok(split.length > 1 && split.length < 5, `split into ${split.length}`);
  assert.deepEqual(split.slice(0, -1).map((f) => f.closedBy), new Array(split.length - 1).fill("next-cluster"));
  assert.equal(split.flatMap((f) => f.clusters).length, 5);
  assert.equal(split.reduce((s, f) => s + f.size, 0), doc.length);
  assert.ok(split.slice(0, -1).every((f) => f.size >= 250));
  assert.equal((await assemble(doc)).length, 1);
});

Deno.test({
  name: "assembler: a real capture (test_mixed_tags.mkv)",
  ignore: !haveFixtures,
  fn: async () => {
    const data = loadFixture("kvs-getmedia/test_mixed_tags.mkv");
    const whole = await assemble(data, { raw: true });
    const inChunks = await assemble(data, { raw: true }, 61);
    for (const frags of [whole, inChunks]) {
      assert.equal(frags.length, 10);
      assert.equal(frags.reduce((s, f) => s + f.size, 0), data.length);
      assert.equal(hex(concat(frags.map((f) => f.raw!))), hex(data));
      assert.ok(frags.every((f) => f.complete && f.blocks.length === 10 && f.docType === "matroska"));
      const nums = frags.map((f) => f.fragmentNumberBigInt!);
      for (let i = 1; i < nums.length; i++) assert.ok(nums[i] > nums[i - 1]);
      assert.ok(frags.every((f) => f.kvs.continuationToken === f.kvs.fragmentNumber));
      assert.equal(frags[0].tags.filter((t) => t.name.startsWith("testTag_") && t.position === "before").length, 5);
      assert.equal(frags[1].tags.filter((t) => t.position === "before").length, 3);
      assert.deepEqual(frags.slice(0, 3).map((f) => f.kvs.producerTimestampMs), [0, 5000, 10000]);
    }
    const eager = await assemble(data, { eager: true }, 61);
    assert.deepEqual(eager.map((f) => f.size), whole.map((f) => f.size));
  },
});

Deno.test("fragment: the Fragment class on its own", () => {
  const f = new Fragment(4, 1000);
  assert.equal(f.index, 4);
  assert.equal(f.offset, 1000);
  assert.equal(f.size, 0);
  assert.equal(f.complete, true);
  assert.equal(f.closedBy, "end-of-input");
  assert.equal(f.timecodeScale, 1000000);
  assert.equal(f.clusterTimecode, undefined);
  assert.equal(f.durationMs, 0);
  assert.deepEqual(f.kvs, {});
  // while the fragment is open, kvs is recomputed: a tag added later shows
  f.tags.push({ name: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", value: "5", position: "before", offset: 0 });
  assert.equal(f.kvs.fragmentNumber, "5");
  f.tags.push({ name: "AWS_KINESISVIDEO_ERROR_CODE", value: bytes(1), position: "after", offset: 9 });
  assert.equal(f.isError, false, "a binary value is not a KVS string tag");
  f.timecodeScale = 500000;
  f.clusters.push({ offset: 1000, timecode: 3000, blocks: 1 });
  assert.equal(f.clusterTimeMs, 1500);
  // one block: no interval to extrapolate
  f.addBlock(parseBlock(bytes(0x81, 0, 0, 0x80), 1010, true));
  assert.equal(f.durationMs, 0);
  assert.deepEqual([...f.blockCounts()], [[1, 1]]);
});

Deno.test("assembler: a document cut off after its EBML header, before its Segment, is flagged truncated", async () => {
  const s = connectStream({ fragments: 2 });
  const second = s.fragments[1];
  // The whole EBML header of the second document (its size VINT is one byte), and nothing after it.
  const headerEnd = second.offset + 5 + (s.bytes[second.offset + 4] & 0x7f);
  for (const prefixCache of [true, false]) {
    for (const chunk of [undefined, 7]) {
      const frags = await assemble(s.bytes.subarray(0, headerEnd), { prefixCache }, chunk);
      assert.equal(frags.length, 2);
      assert.equal(frags[0].complete, true);
      assert.equal(frags[1].complete, false, `prefixCache ${prefixCache}, chunk ${chunk}`);
      assert.equal(frags[1].clusters.length, 0);
    }
  }
  // The whole stream: both complete.
  assert.deepEqual((await assemble(s.bytes)).map((f) => f.complete), [true, true]);
});

Deno.test("assembler: input cut 1–4 bytes into the next document's EBML id leaves the fragment before it complete", async () => {
  const s = connectStream({ fragments: 2 });
  const next = s.fragments[1].offset;
  for (const k of [1, 2, 3, 4]) {
    for (const prefixCache of [true, false]) {
      for (const chunk of [undefined, 5]) {
        const frags = await assemble(s.bytes.subarray(0, next + k), { prefixCache }, chunk);
        assert.equal(frags.length, 1, `k ${k}`);
        assert.equal(frags[0].complete, true, `k ${k}, prefixCache ${prefixCache}, chunk ${chunk}`);
        assert.equal(frags[0].size, next);
      }
    }
  }
  // Other bytes there are still a cut inside the Segment: the fragment is flagged.
  const other = s.bytes.slice(0, next + 2);
  other[next] = 0x1f; // a Cluster id's first byte
  assert.equal((await assemble(other))[0].complete, false);
});

Deno.test("fragmentsFromTokens: a tokenizer error carries the open fragment too, as assembleFragments' does", async () => {
  // Was: only assembleFragments attached it; the two-stage pipeline gave DataError.fragment undefined.
  const s = connectStream({ fragments: 3 });
  const bad = s.bytes.slice();
  let fifth = s.fragments[2].offset + (s.fragments[2].blocks[4].pcm.byteOffset - s.fragments[2].bytes.byteOffset) - 6;
  while (bad[fifth] !== 0xa3) fifth--;
  bad[fifth] = 0x00; // an invalid element id inside the 3rd fragment's Cluster
  const errorOf = async (fragments: AsyncIterable<Fragment>) => {
    try {
      for await (const _ of fragments) { /* the good fragments */ }
    } catch (e) {
      assert.ok(e instanceof DataError);
      return e;
    }
    throw new Error("no error");
  };
  for (const size of [100, 4096, bad.length]) {
    const chunks = () =>
      Array.from({ length: Math.ceil(bad.length / size) }, (_, i) => bad.subarray(i * size, (i + 1) * size));
    const a = await errorOf(assembleFragments(chunks()));
    const b = await errorOf(fragmentsFromTokens(tokenizeBatches(chunks())));
    for (const e of [a, b]) {
      assert.equal(e.offset, fifth);
      assert.equal(e.fragment?.offset, s.fragments[2].offset, `chunks of ${size}`);
      assert.equal(e.fragment?.closedBy, "bad-data");
      assert.equal(e.fragment?.complete, false);
      assert.equal(e.fragment?.blockTable.length, 4);
      assert.equal(e.fragment?.kvs.fragmentNumber, s.fragments[2].fragmentNumber);
    }
  }
});

Deno.test("assembler: damaged input found by fuzzing (each was exit 0 with audio lost, or unbounded memory)", async () => {
  const s = connectStream({ fragments: 5 });
  const at = (i: number) => s.fragments[i].offset;
  const EMPTY_DOC = Uint8Array.from([0x1a, 0x45, 0xdf, 0xa3, 0x80]); // an EBML header with nothing after it

  // Documents with no Segment: a few in a row are cut-off documents; thousands are damage, refused at the 17th
  // (was one fragment object each: 1.8 GB for 600,000 of them). The same in any chunking.
  const run = (n: number) => {
    const r = new Uint8Array(5 * n);
    for (let i = 0; i < n; i++) r.set(EMPTY_DOC, 5 * i);
    return concat([s.bytes.subarray(0, at(2)), r, s.bytes.subarray(at(2))]);
  };
  for (const chunk of [undefined, 7, 4096]) {
    assert.equal((await assemble(run(16), {}, chunk)).length, 5 + 16);
    const e = await assembleError(chunk === undefined ? run(20_000) : run(17));
    assert.equal(
      e.message,
      `byte ${at(2) + 16 * 5}: EBML: more than 16 documents in a row with no Segment: ` +
        "not a Connect stream's fragment (damaged input?)",
    );
  }

  // One byte wrong at a document's start can make an unknown element whose size runs past the end: bad data
  // (exit 3), not a cut (was: exit 0, "truncated", the rest of the call dropped in silence). The whole fragment
  // before it (its continuation token read) is still handed on.
  for (const byte of [0x8d, 0xc0, 0x21]) {
    const damaged = s.bytes.slice();
    damaged[at(3)] = byte;
    const got: Fragment[] = [];
    const e = await (async () => {
      for await (const f of assembleFragments([damaged], { source: "in.mkv" })) got.push(f);
    })().then(() => assert.fail(`0x${byte.toString(16)}: expected a DataError`), (e) => e);
    assert.ok(e instanceof DataError, String(e));
    assert.match(e.message, /damaged data, not a cut|invalid element id/);
    assert.equal(got.length, 3, `0x${byte.toString(16)}: fragments 0-2 handed on`);
    assert.equal(got[2].complete, true);
    assert.equal(got[2].kvs.fragmentNumber, s.fragments[2].fragmentNumber);
  }
  // Reserved ids (data bits all 1 or all 0) are never elements.
  for (const byte of [0xff]) {
    const damaged = s.bytes.slice();
    damaged[at(3)] = byte;
    const e = await assembleError(damaged);
    assert.match(e.message, /invalid element id 0xFF \(reserved by EBML/);
  }
  // A complete fragment followed by junk (a trailing newline) is kept (was: dropped with the error).
  const junk = await (async () => {
    const got: Fragment[] = [];
    const e = await (async () => {
      for await (const f of assembleFragments([concat([s.bytes, Uint8Array.of(0x0a)])])) got.push(f);
    })().then(() => undefined, (e) => e);
    return { got, e };
  })();
  assert.ok(junk.e instanceof DataError);
  assert.equal(junk.got.length, 5);
  assert.equal(junk.e.fragment, undefined, "handed on, not attached to the error");
});

Deno.test("assembler: a body cut inside a block with another body appended (`curl >> body.mkv`) is bad data, not a cut", async () => {
  // A foreign-MKV tester: the cut block's size ran on into the appended body, the rest of which was read as
  // an unknown Cluster child (or an element of another parent) running past the end: "truncated", exit 0, and
  // the whole appended body lost in silence.
  const a = connectStream({ fragments: 3 });
  const b = connectStream({ fragments: 3 });
  const f2 = a.fragments[2];
  const [first] = (await assemble(f2.bytes))[0].clusters;
  const blockAt = first.offset + 30; // (inside the Cluster's first blocks, counted from the fragment's start)
  let refused = 0;
  let cuts = 0;
  for (let c = blockAt; c < blockAt + 4000; c += 13) {
    const input = concat([a.bytes.subarray(0, f2.offset + c), b.bytes]);
    const got: Fragment[] = [];
    const e = await (async () => {
      for await (const f of assembleFragments([input], { source: "body.mkv" })) got.push(f);
    })().then(() => undefined, (e) => e);
    if (e === undefined) {
      // Taken as a cut only when nothing tells it from one: B's fragments then came through, or the block's
      // declared size is one a block may have (B's bytes read as its data).
      if (got.length < 5) cuts++;
      continue;
    }
    assert.ok(e instanceof DataError, String(e));
    assert.match(e.message, /^body\.mkv: byte \d+: /);
    assert.equal(got.length, 2, `the two whole fragments before it are handed on (cut at ${c}: ${e.message})`);
    refused++;
  }
  assert.ok(refused > 200, `refused ${refused}`);
  assert.ok(cuts < refused / 10, `taken as cuts: ${cuts} of ${refused + cuts}`);
  // Hand-made: an unknown Cluster child, and one of another parent (ChapterTimeEnd), running past the end.
  for (
    const [child, name] of [[concat([encodeId(0x4321), encodeSize(1 << 20, 4)]), /an unknown element/], [
      concat([encodeId(0x92), encodeSize(1 << 20, 4)]),
      /an element out of place \(ChapterTimeEnd\)/,
    ]] as const
  ) {
    const doc = liveDocument([namedTracks()], 1000, [simpleBlock(1, 0, true, new Uint8Array(1024))]);
    const input = concat([a.bytes, doc, child, new Uint8Array(100)]);
    const e = await assembleError(input);
    assert.match(e.message, name);
    assert.match(e.message, /declared 1048576 bytes long: damaged data, not a cut$/);
  }
});

Deno.test("assembler: what one fragment may hold is bounded (tags, tag bytes, Clusters split off)", async () => {
  const base = connectStream({ fragments: 1 });
  const [f0] = await assemble(base.bytes);
  const cluster = f0.clusters[0].offset;
  const before = (extra: Uint8Array) => concat([base.bytes.subarray(0, cluster), extra, base.bytes.subarray(cluster)]);
  // 5,000 tiny SimpleTags before the Cluster (a real fragment has ~15): refused (was: memory ~30× the input).
  const many = tagsEl(Array.from({ length: 5000 }, (_, i) => [`T${i}`, "x"] as [string, string]));
  assert.match((await assembleError(before(many))).message, /more than 4096 SimpleTags in one fragment/);
  // 4,096 tags are still fine.
  const ok = tagsEl(Array.from({ length: 4000 }, (_, i) => [`T${i}`, "x"] as [string, string]));
  assert.equal((await assemble(before(ok)))[0].tags.length, f0.tags.length + 4000);
  // Two tags of 9 MiB each: more than 16 MiB of tag values in one fragment.
  const big = tagsEl([["A", "a".repeat(9 << 20)], ["B", "b".repeat(9 << 20)]]);
  assert.match((await assembleError(before(big))).message, /more than 16777216 bytes of tag values in one fragment/);
  // 10,000 empty Clusters before the real one: split off 4,096 at a time, the audio's fragment unchanged.
  const empties = new Uint8Array(5 * 10_000);
  for (let i = 0; i < 10_000; i++) empties.set([0x1f, 0x43, 0xb6, 0x75, 0x80], 5 * i);
  const split = await assemble(before(empties));
  assert.ok(split.every((f) => f.clusters.length <= 4096), split.map((f) => f.clusters.length).join(","));
  assert.equal(split.reduce((n, f) => n + f.clusters.length, 0), 10_001);
  assert.equal(split.reduce((n, f) => n + f.blockTable.length, 0), f0.blockTable.length);
});

Deno.test("assembler: blocks and laced frames one fragment may hold are bounded; a large table keeps every row", async () => {
  // A fuzzer: 7-byte blocks of 256 empty laced frames each made a 1.4 MB input take 4.3 GB and kill Deno (V8 out of
  // memory); a million 6-byte blocks in one Cluster, within the old cap of 1,048,576, took 300–900 MB.
  const head = [namedTracks(["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"])];
  const empty = new Uint8Array(0);
  // Frames of no bytes: a few bytes of lacing for 256 frames. Refused at the first such block.
  const bomb = lacedBlock(1, 0, 0x80, Array.from({ length: 256 }, () => empty), "fixed");
  const bombed = liveDocument(head, 1000, [bomb, bomb]);
  const b = await assembleError(bombed);
  assert.match(b.message, /SimpleBlock: bad fixed lacing: 256 frames in 0 bytes/);
  assert.equal(b.offset, bombed.length - 2 * bomb.length);
  // Frames of a byte each: 65,536 in a fragment are taken, one more is not.
  const laced = lacedBlock(1, 0, 0x80, Array.from({ length: 256 }, () => Uint8Array.of(7)), "fixed");
  const tooLaced = liveDocument(head, 1000, Array.from({ length: 257 }, () => laced));
  const e = await assembleError(tooLaced);
  assert.match(e.message, /SimpleBlock: more than 65536 laced frames in one Cluster/);
  assert.equal(e.offset, tooLaced.length - laced.length, "at the block past the limit");
  const [full] = await assemble(liveDocument(head, 1000, Array.from({ length: 256 }, () => laced)));
  assert.equal(full.blockTable.lacedFrames, 65536);
  assert.equal(full.blockTable.frameCount(255), 256);
  assert.deepEqual([...full.blockTable.frame(255, 255)], [7]);
  assert.equal(full.blockTable.block(3).frames.length, 256);
  // An unknown-size Segment of many Clusters (a live capture) is split between them as their frames add up, not
  // refused (a review: the split came only when a fragment held exactly 65,536 at a Cluster's start).
  const few = lacedBlock(1, 0, 0x80, Array.from({ length: 255 }, () => Uint8Array.of(7)), "fixed");
  const clusters = Array.from(
    { length: 400 },
    (_, i) => concat([encodeId(ID.Cluster), unknownSize(1), uintEl(ID.Timecode, 1000 + i), few]),
  );
  const split = await assemble(concat([liveDocument(head, 999, []), ...clusters]));
  assert.ok(split.length >= 2, `${split.length} fragments`);
  assert.equal(split.reduce((n, f) => n + f.blockTable.lacedFrames, 0), 400 * 255);
  assert.ok(split.every((f) => f.blockTable.lacedFrames <= 65536 + 255));
  const tiny = simpleBlock(2, 0, true, empty);
  const tooMany = liveDocument(head, 1000, Array.from({ length: 65537 }, () => tiny));
  assert.match((await assembleError(tooMany)).message, /SimpleBlock: more than 65536 blocks in one Cluster/);
  // 65,536 blocks are still taken, each row as it was given (rows past the first 1,024 are kept in pages).
  const rows = Array.from(
    { length: 65536 },
    (_, i) => simpleBlock(1 + (i % 2), i % 30000, true, Uint8Array.of(i & 0xff, i >> 8)),
  );
  const [f] = await assemble(liveDocument(head, 1000, rows));
  const t = f.blockTable;
  assert.equal(t.length, 65536);
  for (const i of [0, 1023, 1024, 1025, 2047, 2048, 40000, 65535]) {
    assert.equal(t.track(i), 1 + (i % 2), `track of row ${i}`);
    assert.equal(t.timeMs(i), 1000 + (i % 30000), `time of row ${i}`);
    assert.deepEqual([...t.frame(i, 0)], [i & 0xff, i >> 8], `frame of row ${i}`);
    assert.equal(t.block(i).timecode, i % 30000, `block ${i}`);
    assert.equal(t.offset(i), t.block(i).offset);
  }
});

Deno.test("assembler: two TrackEntries of one TrackNumber and different names are damaged data", async () => {
  // A fuzzer: AUDIO_TO_CUSTOMER and AUDIO_FROM_CUSTOMER both numbered 1 put track 1's audio in both WAVs, exit 0.
  const te = (n: number, name: string, codec = "A_AAC") =>
    el(ID.TrackEntry, [
      uintEl(ID.TrackNumber, n),
      uintEl(ID.TrackType, 2),
      strEl(ID.Name, name),
      strEl(ID.CodecID, codec),
    ]);
  const tracks = el(ID.Tracks, [te(1, "AUDIO_TO_CUSTOMER"), te(1, "AUDIO_FROM_CUSTOMER")]);
  const doc = liveDocument([tracks], 1000, [simpleBlock(1, 0, true, new Uint8Array(64))]);
  const e = await assembleError(doc);
  assert.match(
    e.message,
    /TrackEntry: two TrackEntries have TrackNumber 1 \("AUDIO_TO_CUSTOMER" "A_AAC" and "AUDIO_FROM_CUSTOMER" "A_AAC"\)/,
  );
  // The same name with another codec was taken by whichever came first (a re-tester).
  const codec = el(ID.Tracks, [te(2, "AUDIO_FROM_CUSTOMER"), te(2, "AUDIO_FROM_CUSTOMER", "A_OPUS")]);
  assert.match(
    (await assembleError(liveDocument([codec], 1000, []))).message,
    /TrackNumber 2 \("AUDIO_FROM_CUSTOMER" "A_AAC" and "AUDIO_FROM_CUSTOMER" "A_OPUS"\)/,
  );
  // The same Tracks element twice (the same entries again) is still taken.
  const once = el(ID.Tracks, [te(1, "AUDIO_TO_CUSTOMER"), te(2, "AUDIO_FROM_CUSTOMER")]);
  const [f] = await assemble(liveDocument([once, once], 1000, [simpleBlock(1, 0, true, new Uint8Array(64))]));
  assert.deepEqual(f.tracks.map((t) => t.number), [1, 2, 1, 2]);
});

Deno.test("assembler: valid input the damage checks must let through (review)", async () => {
  const s = connectStream({ fragments: 2 });
  const [f0] = await assemble(s.bytes);
  const cluster = f0.clusters[0].offset;
  const before = (extra: Uint8Array) => concat([s.bytes.subarray(0, cluster), extra, s.bytes.subarray(cluster)]);
  // Chapters with a ChapterDisplay (id 0x80: all-zero data bits, yet allowed by RFC 9559).
  const chapters = el(0x1043a770, el(0x45b9, el(0xb6, el(0x80, strEl(0x85, "Intro")))));
  const withChapters = await assemble(before(chapters));
  assert.equal(withChapters.length, 2);
  assert.equal(withChapters[0].blockTable.length, f0.blockTable.length);
  // Chapters' and a video Colour's children are elements of the table, not unknown ones (were counted as unknown:
  // every ffmpeg WebM and every file with chapters was flagged).
  const named = el(0x1043a770, el(0x45b9, [uintEl(0x45bc, 7), el(0xb6, [uintEl(0x73c4, 1), uintEl(0x91, 0)])]));
  const [nf] = await assemble(before(named), { tree: true });
  assert.equal(nf.unknownElements, 0);
  const names: string[] = [];
  const walk = (n: { name: string; children?: unknown[] }) => {
    names.push(n.name);
    (n.children as { name: string }[] | undefined)?.forEach(walk);
  };
  nf.tree!.forEach(walk);
  for (const n of ["EditionUID", "ChapterUID", "ChapterTimeStart"]) assert.ok(names.includes(n), n);
  // An attachment larger than the 16 MiB kept of one element is skipped, not refused (was: "bad data", exit 3),
  // in whatever chunks it comes.
  const att = el(0x1941a469, el(0x61a7, [strEl(0x466e, "big.bin"), el(0x465c, new Uint8Array(17 << 20))]));
  for (const chunk of [undefined, 1 << 20]) {
    const fr = await assemble(before(att), {}, chunk);
    assert.equal(fr.length, 2, `chunk ${chunk}`);
    assert.equal(fr[0].blockTable.length, f0.blockTable.length);
  }
  // A cut inside an element the table does not know, below the Segment's own children (a Colour child in a
  // TrackEntry, say), is a cut, not damage: the last fragment comes flagged incomplete.
  const unknownDeep = el(0x1254c367, el(0x7373, [el(0x4f11, new Uint8Array(40))]));
  const doc = before(unknownDeep);
  const cut = cluster + unknownDeep.length - 20; // inside the unknown element
  const frags = await assemble(doc.subarray(0, cut));
  assert.equal(frags.length, 1);
  assert.equal(frags[0].complete, false);
  // The 16 MiB of tag values is the same limit however the document arrives (was: counted only while recording).
  const big = tagsEl([["A", "a".repeat(9 << 20)], ["B", "b".repeat(9 << 20)]]);
  const twice = concat([before(new Uint8Array(0)), before(big)]);
  for (const chunk of [undefined, 100, 4096]) {
    const e = await assemble(twice, {}, chunk).then(() => assert.fail(`chunk ${chunk}: expected an error`), (e) => e);
    assert.match(String(e), /more than 16777216 bytes of tag values in one fragment/, `chunk ${chunk}`);
  }
});

Deno.test("a Cluster Timecode past 2^53 (epoch at a 100 ns TimecodeScale) is kept, to the nearest double", async () => {
  // Was: the bigint value was dropped, every Cluster read as timecode 0.
  const t0 = 1782912654536n * 10000n; // ticks of 100 ns
  const docs: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) {
    docs.push(liveDocument(
      [el(ID.Info, [uintEl(ID.TimecodeScale, 100)]), namedTracks(["AUDIO_FROM_CUSTOMER"])],
      t0 + BigInt(i) * 640000n,
      [simpleBlock(1, 0, true, new Uint8Array(1024))],
    ));
  }
  const bytes = concat(docs);
  for (const chunk of [bytes.length, 100]) {
    const frags: Fragment[] = [];
    for await (const f of assembleFragments(chunked(bytes, chunk))) frags.push(f);
    assert.deepEqual(frags.map((f) => f.clusters[0].timecode), [0, 1, 2, 3].map((i) => Number(t0) + i * 640000));
    // 64 ms apart, on the epoch.
    assert.deepEqual(frags.map((f) => f.blockTable.timeMs(0) - 1782912654536), [0, 64, 128, 192]);
  }
});

Deno.test("assembler: a document inside an element whose size runs over it is damaged data, not a truncation", async () => {
  // An inspect tester: one byte of a Tags size (256 MiB) after fragment 5's Cluster hid the 14 fragments after it
  // inside that Tags element, and the run ended exit 0 as if the file were cut there.
  const s = connectStream({ fragments: 4 });
  const tags = tagsEl([["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "1"]]);
  const body = tags.subarray(encodeId(ID.Tags).length + 1); // (tagsEl's size is one byte here)
  const huge = concat([encodeId(ID.Tags), encodeSize(256 << 20, 8), body]);
  const f1 = s.fragments[1];
  const input = concat([
    s.bytes.subarray(0, f1.offset + f1.bytes.length),
    huge,
    s.bytes.subarray(f1.offset + f1.bytes.length),
  ]);
  const e = await assembleError(input);
  assert.match(e.message, /an EBML header inside another element: the size of an element before it is damaged/);
  assert.equal(e.offset, s.fragments[2].offset + huge.length);
});

Deno.test("fragment: durationMs ends a track at its last block's end (PCM bytes, BlockDuration), not one interval on", async () => {
  // An inspect tester: a fragment of one 64 ms block per track said 0.000 s, and a short last block was counted as
  // long as the others.
  const mime = tagsEl([["MimeType", "audio/L16;rate=8000;channels=1;"]]);
  const head = [namedTracks(["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"]), mime];
  const one = await assemble(liveDocument(head, 1000, [simpleBlock(1, 0, true, new Uint8Array(1024))]));
  assert.equal(one[0].durationMs, 64);
  // Blocks at 0 and 64 ms, the last of 16 ms (256 bytes): 80 ms, not 128.
  const [short] = await assemble(liveDocument(head, 1000, [
    simpleBlock(1, 0, true, new Uint8Array(1024)),
    simpleBlock(1, 64, true, new Uint8Array(256)),
  ]));
  assert.equal(short.durationMs, 80);
  // A BlockGroup's BlockDuration (ms ticks here) wins.
  const [group] = await assemble(liveDocument([namedTracks(["AUDIO_FROM_CUSTOMER"])], 1000, [
    simpleBlock(1, 0, true, new Uint8Array(10)),
    blockGroup(1, 40, new Uint8Array(10), 25),
  ]));
  assert.equal(group.durationMs, 65);
  // A MimeType of 0 channels says nothing of the PCM (a review: Infinity).
  const zero = [namedTracks(["AUDIO_FROM_CUSTOMER"]), tagsEl([["MimeType", "audio/L16;rate=8000;channels=0;"]])];
  const [none] = await assemble(liveDocument(zero, 1000, [simpleBlock(1, 0, true, new Uint8Array(1024))]));
  assert.equal(none.durationMs, 0);
  // As extract reads them (a re-tester: 0): Connect's A_AAC with no MimeType or Audio element is 8000 Hz mono
  // 16-bit; blocks stored out of time order end at the latest one's end.
  const plain = [
    el(ID.Tracks, [
      el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), strEl(ID.Name, "AUDIO_FROM_CUSTOMER"), strEl(ID.CodecID, "A_AAC")]),
    ]),
  ];
  const [bare] = await assemble(liveDocument(plain, 1000, [simpleBlock(1, 0, true, new Uint8Array(1600))]));
  assert.equal(bare.durationMs, 100);
  const [swapped] = await assemble(liveDocument(plain, 1000, [
    simpleBlock(1, 500, true, new Uint8Array(1600)),
    simpleBlock(1, 0, true, new Uint8Array(1600)),
  ]));
  assert.equal(swapped.durationMs, 600);
});

/** `n` tiny documents (one 2-byte block each), ContactId `c` + index; with `tokens`, KVS's tags after the Cluster. */
function tinyDocuments(n: number, tokens = false): Uint8Array {
  const docs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const tags = tagsEl([["ContactId", `c${String(i).padStart(5, "0")}`]]);
    docs.push(liveDocument([namedTracks(), tags], i, [simpleBlock(1, 0, true, new Uint8Array(2))]));
    if (tokens) docs.push(tagsEl([["AWS_KINESISVIDEO_CONTINUATION_TOKEN", `t${i}`]]));
  }
  return concat(docs);
}

Deno.test("assembler: a chunk of thousands of tiny fragments is handed on in parts, never all held at once", async () => {
  const n = 3000;
  const data = tinyDocuments(n);
  // feed stops after a few dozen fragments and says how far it got; the rest, fed next, gives the same fragments.
  const tk = new EbmlTokenizer();
  const asm = new FragmentAssembler();
  const out: Fragment[] = [];
  const used = asm.feed(tk, data, out);
  assert.ok(used < data.length / 10, `used ${used} of ${data.length}`);
  assert.ok(out.length > 0 && out.length <= 64, `${out.length} fragments`);
  let at = used;
  while (at < data.length) at += asm.feed(tk, data.subarray(at), out);
  asm.finish(tk, out);
  assert.equal(out.length, n);
  assert.deepEqual(out.map((f) => f.contactId), Array.from({ length: n }, (_, i) => `c${String(i).padStart(5, "0")}`));

  // Through assembleFragments, from a plain source and from a RereadableSource: when the first fragment is handed
  // on, the chunk's last document has not been read yet (a ContactId changed in the chunk then is seen).
  const last = new TextEncoder().encode(`c${String(n - 1).padStart(5, "0")}`);
  const lastAt = data.lastIndexOf(last[last.length - 1]) - last.length + 1;
  assert.deepEqual(data.subarray(lastAt, lastAt + last.length), last);
  const plain = async function* (bytes: Uint8Array) {
    yield bytes;
  };
  let unreads = 0;
  const rereadable = (bytes: Uint8Array) => {
    let back = 0;
    return {
      unread(k: number) {
        unreads++;
        back = k;
      },
      async *[Symbol.asyncIterator]() {
        yield bytes;
        while (back > 0) {
          const again = bytes.subarray(bytes.length - back);
          back = 0;
          yield again;
        }
      },
    };
  };
  for (const [label, source] of [["plain", plain], ["rereadable", rereadable]] as const) {
    const bytes = data.slice();
    const ids: (string | undefined)[] = [];
    for await (const f of assembleFragments(source(bytes))) {
      if (ids.length === 0) bytes.set(new TextEncoder().encode("xxxxxx"), lastAt);
      ids.push(f.contactId);
    }
    assert.equal(ids.length, n, label);
    assert.equal(ids[n - 2], `c${String(n - 2).padStart(5, "0")}`, label);
    assert.equal(ids[n - 1], "xxxxxx", `${label}: the last document was read after the first fragment was handed on`);
  }
  // Only the last document, which the chunk's end may cut, is given back: the rest of the chunk after a pause is fed
  // from the chunk, not read again.
  assert.equal(unreads, 1);
  // raw: each fragment's bytes exactly, the rest of a paused chunk kept once (a review: kept again at every pause,
  // 100,000 fragments in one chunk took 4.2 s instead of 0.85).
  let raws = 0;
  for await (const f of assembleFragments([data], { raw: true })) {
    assert.deepEqual(f.raw, data.subarray(f.offset, f.offset + f.size));
    raws++;
  }
  assert.equal(raws, n);
  // pull's eager mode, where a fragment is handed on at its continuation token (a review: that path never paused),
  // and a caller that keeps adding to one array (each feed adds at most 64, not: pauses once 64 are there).
  const tokened = tinyDocuments(n, true);
  for (const eager of [false, true]) {
    const tk2 = new EbmlTokenizer();
    const asm2 = new FragmentAssembler({ eager });
    const all: Fragment[] = [];
    let feeds = 0;
    for (let o = 0; o < tokened.length; feeds++) {
      const before = all.length;
      o += asm2.feed(tk2, tokened.subarray(o), all);
      assert.ok(all.length - before <= 64, `eager ${eager}: ${all.length - before} in one feed`);
      assert.equal(asm2.paused, o < tokened.length, "paused says whether the rest is to be fed");
    }
    asm2.finish(tk2, all);
    assert.equal(all.length, n, `eager ${eager}`);
    assert.ok(feeds >= n / 64 && feeds <= n / 64 + 2, `eager ${eager}: ${feeds} feeds`);
  }
});

Deno.test("BlockTable: inTimeOrder and trackNumbers, from added and pushed blocks", () => {
  const sb = (track: number, rel: number) => dataOf(simpleBlock(track, rel, true, new Uint8Array(4)));
  const t = new BlockTable();
  assert.deepEqual(t.trackNumbers, []);
  assert.equal(t.inTimeOrder, true);
  // Connect's interleaving: both tracks at each time.
  for (const [track, rel] of [[2, 0], [1, 0], [2, 64], [1, 64], [3, 64]]) {
    const d = sb(track, rel);
    t.add(d, 0, d.length, 0, true, 1000, 1000000);
  }
  assert.deepEqual(t.trackNumbers, [2, 1, 3]);
  assert.equal(t.inTimeOrder, true);
  t.push(parseBlock(sb(4, 0), 0, true));
  assert.deepEqual(t.trackNumbers, [2, 1, 3, 4]);
  assert.equal(t.inTimeOrder, false, "a block before the one added before it");
  // One track's blocks, then the other's: each track in order, not the table.
  const g = new BlockTable();
  for (const [track, rel] of [[1, 0], [1, 64], [2, 0], [2, 64]]) {
    const d = sb(track, rel);
    g.add(d, 0, d.length, 0, true, 1000, 1000000);
  }
  assert.equal(g.inTimeOrder, false);
  assert.deepEqual(g.trackNumbers, [1, 2]);
});

Deno.test("assembler: Connect's tag names in another case (ffmpeg's -c copy upper-cases them) are Connect's", async () => {
  // A foreign-MKV tester: `CONTACTID` and `MIMETYPE` were not recognised: --contact-id found "no ContactId tag".
  const doc = (names: [string, string]) =>
    liveDocument(
      [
        namedTracks(),
        tagsEl([[names[0], "c-1"], [names[1], "audio/L16;rate=16000;channels=1;"], ["CONTACTIDS", "x"]]),
      ],
      0,
      [simpleBlock(1, 0, true, new Uint8Array(64))],
    );
  for (const names of [["CONTACTID", "MIMETYPE"], ["contactid", "mimetype"], ["ContactId", "MimeType"]] as const) {
    const [f] = await assemble(doc([names[0], names[1]]));
    assert.deepEqual(f.contactIds, ["c-1"], names[0]);
    assert.equal(f.mimeType, "audio/L16;rate=16000;channels=1;", names[1]);
    assert.deepEqual(f.tags.map((t) => t.name), ["ContactId", "MimeType", "CONTACTIDS"], "other names as they came");
  }
});
