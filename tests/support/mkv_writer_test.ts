/**
 * Unit tests of the test-side MKV writer and the synthetic Connect stream
 * generator. A small EBML walker below re-reads what they write.
 */
import assert from "node:assert/strict";
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
  intEl,
  lacedBlock,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
} from "./mkv_writer.ts";
import {
  connectStream,
  defaultPcm,
  type Direction,
  errorFragment,
  expectedPcm,
  FRAGMENT_NUMBER_STEP,
  type GeneratedStream,
  writeCallFile,
} from "./connect_stream.ts";
import { indexOfBytes } from "./util.ts";

const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0").toUpperCase()).join(
    " ",
  );
const bytes = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean), (x) => parseInt(x, 16));
const eq = (actual: Uint8Array, expected: string) => assert.equal(hex(actual), hex(bytes(expected)));

// ---------------------------------------------------------------- walker

interface Node {
  id: number;
  offset: number;
  dataOffset: number;
  size: number;
  unknown: boolean;
  depth: number;
}

const MASTERS = new Set<number>([
  ID.EBML,
  ID.Segment,
  ID.Info,
  ID.Tracks,
  ID.TrackEntry,
  ID.Audio,
  ID.Tags,
  ID.Tag,
  ID.SimpleTag,
  ID.Cluster,
  ID.BlockGroup,
]);
const CLUSTER_CHILDREN = new Set<number>([
  ID.Timecode,
  ID.Position,
  ID.PrevSize,
  ID.SimpleBlock,
  ID.BlockGroup,
  ID.Void,
  ID.CRC32,
]);
const UINTS = new Set<number>([
  ID.EBMLVersion,
  ID.EBMLReadVersion,
  ID.EBMLMaxIDLength,
  ID.EBMLMaxSizeLength,
  ID.DocTypeVersion,
  ID.DocTypeReadVersion,
  ID.TimecodeScale,
  ID.TrackNumber,
  ID.TrackUID,
  ID.TrackType,
  ID.Timecode,
  ID.Position,
]);
const STRINGS = new Set<number>([
  ID.DocType,
  ID.Title,
  ID.MuxingApp,
  ID.WritingApp,
  ID.Name,
  ID.CodecID,
  ID.TagName,
  ID.TagString,
]);

function readVint(b: Uint8Array, o: number, keepMarker: boolean) {
  const first = b[o];
  let len = 1;
  while (len <= 8 && !(first & (0x100 >> len))) len++;
  if (len > 8) throw new Error(`bad VINT at ${o}`);
  let v = keepMarker ? first : first & ((0x100 >> len) - 1);
  let allOnes = v === (0x100 >> len) - 1;
  for (let i = 1; i < len; i++) {
    v = v * 256 + b[o + i];
    if (b[o + i] !== 0xFF) allOnes = false;
  }
  return { value: v, len, allOnes };
}

/** Walk [start, end); an unknown-size parent stops at a non-child id. */
function walk(
  b: Uint8Array,
  start = 0,
  end = b.length,
  depth = 0,
  parent = 0,
  unknownParent = false,
  out: Node[] = [],
): { nodes: Node[]; stop: number } {
  let o = start;
  while (o < end) {
    const id = readVint(b, o, true);
    if (unknownParent) {
      if (parent === ID.Segment && (id.value === ID.EBML)) break;
      if (parent === ID.Cluster && !CLUSTER_CHILDREN.has(id.value)) break;
    }
    const size = readVint(b, o + id.len, false);
    const dataOffset = o + id.len + size.len;
    const node: Node = {
      id: id.value,
      offset: o,
      dataOffset,
      size: size.value,
      unknown: size.allOnes,
      depth,
    };
    out.push(node);
    if (MASTERS.has(id.value)) {
      if (size.allOnes) {
        const r = walk(b, dataOffset, end, depth + 1, id.value, true, out);
        node.size = r.stop - dataOffset;
        o = r.stop;
      } else {
        assert.ok(dataOffset + size.value <= end, `overrun at ${o}`);
        walk(b, dataOffset, dataOffset + size.value, depth + 1, id.value, false, out);
        o = dataOffset + size.value;
      }
    } else {
      assert.ok(!size.allOnes, `unknown size on a leaf at ${o}`);
      o = dataOffset + size.value;
    }
  }
  assert.ok(o <= end, `element overruns its parent at ${o}`);
  return { nodes: out, stop: o };
}

const decoder = new TextDecoder();
function describe(b: Uint8Array, n: Node): string {
  const data = b.subarray(n.dataOffset, n.dataOffset + n.size);
  let v = "";
  if (UINTS.has(n.id)) {
    let x = 0n;
    for (const d of data) x = x * 256n + BigInt(d);
    v = " " + x;
  } else if (STRINGS.has(n.id)) v = " " + decoder.decode(data);
  return `${n.offset} ${n.size} ${n.id.toString(16).toUpperCase()}${v}`;
}

/** Element layout of the real Connect fragment in the reference dump
 * (offset, data size, id, value), SimpleBlocks left out. */
const DUMP = `
  0 35 1A45DFA3
  5 1 4286 1
  9 1 42F7 1
  13 1 42F2 4
  17 1 42F3 8
  21 8 4282 matroska
  32 1 4287 2
  36 1 4285 2
  40 34716 18538067
  52 119 1549A966
  58 16 73A4
  77 8 2AD7B1 1000000
  89 17 7BA9 Kinesis Video SDK
  109 31 4D80 Kinesis Video SDK 1.1.0 JNI 2.0
  143 31 5741 Kinesis Video SDK 1.1.0 JNI 2.0
  177 110 1654AE6B
  185 49 AE
  190 1 D7 1
  193 8 73C5 2
  204 1 83 2
  207 17 536E AUDIO_TO_CUSTOMER
  227 5 86 A_AAC
  234 2 63A2
  239 51 AE
  244 1 D7 2
  247 8 73C5 1
  258 1 83 2
  261 19 536E AUDIO_FROM_CUSTOMER
  283 5 86 A_AAC
  290 2 63A2
  295 85 1254C367
  307 75 7373
  317 65 67C8
  327 9 45A3 ContactId
  346 36 4487 87718f4a-d2ed-476a-ad11-f496ab09b3f8
  392 86 1254C367
  404 76 7373
  414 66 67C8
  424 10 45A3 InstanceId
  444 36 4487 3087be6e-771a-48a8-90da-93b5326a43a1
  490 79 1254C367
  502 69 7373
  512 59 67C8
  522 8 45A3 MimeType
  540 31 4487 audio/L16;rate=8000;channels=1;
  581 58 1254C367
  593 48 7373
  603 38 67C8
  613 17 45A3 AUDIO_TO_CUSTOMER
  640 1 4487 2
  651 60 1254C367
  663 50 7373
  673 40 67C8
  683 19 45A3 AUDIO_FROM_CUSTOMER
  712 1 4487 1
  723 235 1254C367
  731 229 7373
  737 91 67C8
  743 32 45A3 AWS_KINESISVIDEO_FRAGMENT_NUMBER
  781 47 4487 91343852333181551234925834077012571618243808844
  834 59 67C8
  840 33 45A3 AWS_KINESISVIDEO_SERVER_TIMESTAMP
  879 14 4487 1782912654.706
  899 61 67C8
  905 35 45A3 AWS_KINESISVIDEO_PRODUCER_TIMESTAMP
  946 14 4487 1782912654.536
  966 33197 1F43B675
  971 8 E7 1782912654536
  981 1 A7 0
  34168 85 1254C367
  34180 75 7373
  34190 65 67C8
  34200 9 45A3 ContactId
  34219 36 4487 87718f4a-d2ed-476a-ad11-f496ab09b3f8
  34265 86 1254C367
  34277 76 7373
  34287 66 67C8
  34297 10 45A3 InstanceId
  34317 36 4487 3087be6e-771a-48a8-90da-93b5326a43a1
  34363 79 1254C367
  34375 69 7373
  34385 59 67C8
  34395 8 45A3 MimeType
  34413 31 4487 audio/L16;rate=8000;channels=1;
  34454 58 1254C367
  34466 48 7373
  34476 38 67C8
  34486 17 45A3 AUDIO_TO_CUSTOMER
  34513 1 4487 2
  34524 60 1254C367
  34536 50 7373
  34546 40 67C8
  34556 19 45A3 AUDIO_FROM_CUSTOMER
  34585 1 4487 1
  34596 164 1254C367
  34604 158 7373
  34610 52 67C8
  34616 34 45A3 AWS_KINESISVIDEO_MILLIS_BEHIND_NOW
  34656 6 4487 131207
  34668 94 67C8
  34674 35 45A3 AWS_KINESISVIDEO_CONTINUATION_TOKEN
  34715 47 4487 91343852333181551234925834077012571618243808844
`.trim().split("\n").map((l) => l.trim());

// ------------------------------------------------------------ mkv_writer

Deno.test("encodeSize: minimal, non-minimal and out-of-range VINTs", () => {
  eq(encodeSize(0), "80");
  eq(encodeSize(1), "81");
  eq(encodeSize(126), "FE");
  eq(encodeSize(127), "40 7F"); // 7F would be "unknown"
  eq(encodeSize(300), "41 2C");
  eq(encodeSize(16382), "7F FE");
  eq(encodeSize(16383), "20 3F FF");
  eq(encodeSize(2 ** 53 - 1), "01 1F FF FF FF FF FF FF");
  eq(encodeSize(5, 8), "01 00 00 00 00 00 00 05");
  eq(encodeSize(1028, 8), "01 00 00 00 00 00 04 04");
  eq(encodeSize(85, 4), "10 00 00 55");
  eq(encodeSize(0, 2), "40 00");
  assert.throws(() => encodeSize(127, 1), RangeError);
  assert.throws(() => encodeSize(16383, 2), RangeError);
  assert.throws(() => encodeSize(1, 9), RangeError);
  assert.throws(() => encodeSize(1, 0), RangeError);
  assert.throws(() => encodeSize(-1), RangeError);
});

Deno.test("unknownSize and encodeId", () => {
  eq(unknownSize(1), "FF");
  eq(unknownSize(2), "7F FF");
  eq(unknownSize(4), "1F FF FF FF");
  eq(unknownSize(8), "01 FF FF FF FF FF FF FF");
  eq(encodeId(ID.EBML), "1A 45 DF A3");
  eq(encodeId(ID.SimpleBlock), "A3");
  eq(encodeId(ID.DocType), "42 82");
  eq(encodeId(ID.TimecodeScale), "2A D7 B1");
  eq(encodeId(ID.Segment), "18 53 80 67");
  assert.throws(() => encodeId(0x0A), RangeError); // no marker bit
  assert.throws(() => encodeId(0x8001), RangeError); // 1-byte marker, 2 bytes
  eq(el(ID.Segment, [], { unknownSize: true, sizeWidth: 8 }), "18 53 80 67 01 FF FF FF FF FF FF FF");
  eq(el(ID.Cluster, [], { unknownSize: true }), "1F 43 B6 75 FF");
});

Deno.test("encodeSignedVint (EBML lacing differences)", () => {
  eq(encodeSignedVint(0), "BF");
  eq(encodeSignedVint(-1), "BE");
  eq(encodeSignedVint(63), "FE");
  eq(encodeSignedVint(-63), "80");
  eq(encodeSignedVint(64), "60 3F");
  eq(encodeSignedVint(-64), "5F BF");
  eq(encodeSignedVint(-300), "5E D3"); // the spec's example
  eq(encodeSignedVint(0, 2), "5F FF");
  assert.throws(() => encodeSignedVint(64, 1), RangeError);
});

Deno.test("typed elements", () => {
  eq(uintEl(ID.TrackNumber, 1), "D7 81 01");
  eq(uintEl(ID.Position, 0), "A7 81 00");
  eq(uintEl(ID.TimecodeScale, 1000000), "2A D7 B1 83 0F 42 40");
  eq(
    uintEl(ID.TimecodeScale, 1000000, 8),
    "2A D7 B1 88 00 00 00 00 00 0F 42 40",
  );
  eq(
    uintEl(ID.Timecode, 1782912654536, 8),
    "E7 88 00 00 01 9F 1D E0 1C C8",
  );
  eq(uintEl(ID.TrackUID, 2n ** 64n - 1n), "73 C5 88 FF FF FF FF FF FF FF FF");
  eq(uintEl(ID.TrackNumber, 1, 1, { sizeWidth: 4 }), "D7 10 00 00 01 01");
  assert.throws(() => uintEl(ID.TrackNumber, 256, 1), RangeError);
  eq(intEl(ID.ReferenceBlock, -1), "FB 81 FF");
  eq(intEl(ID.ReferenceBlock, 127), "FB 81 7F");
  eq(intEl(ID.ReferenceBlock, 128), "FB 82 00 80");
  eq(intEl(ID.ReferenceBlock, -129), "FB 82 FF 7F");
  eq(intEl(ID.ReferenceBlock, -2, 4), "FB 84 FF FF FF FE");
  eq(floatEl(ID.SamplingFrequency, 8000, 4), "B5 84 45 FA 00 00");
  eq(floatEl(ID.SamplingFrequency, 8000), "B5 88 40 BF 40 00 00 00 00 00");
  eq(strEl(ID.CodecID, "A_AAC"), "86 85 41 5F 41 41 43");
  eq(strEl(ID.CodecID, "A_AAC", 8), "86 88 41 5F 41 41 43 00 00 00");
  eq(strEl(ID.CodecID, "é"), "86 82 C3 A9");
  assert.throws(() => strEl(ID.CodecID, "A_AAC", 3), RangeError);
  const h = ebmlHeader();
  eq(h.subarray(0, 5), "1A 45 DF A3 A4"); // 36 bytes with "matroska\0"
  assert.equal(h.length, 41);
  assert.equal(ebmlHeader("matroska").length, 40); // as in the dump (0..40)
  eq(concat([Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)]), "01 02 03");
});

Deno.test("simpleBlock and blockGroup", () => {
  eq(simpleBlock(1, 64, true, Uint8Array.of(1, 2)), "A3 86 81 00 40 80 01 02");
  eq(simpleBlock(2, -1, false, new Uint8Array(0)), "A3 84 82 FF FF 00");
  eq(
    simpleBlock(127, 0, false, Uint8Array.of(9), { sizeWidth: 8 }),
    "A3 01 00 00 00 00 00 00 06 40 7F 00 00 00 09",
  );
  assert.throws(() => simpleBlock(1, 32768, false, new Uint8Array(0)));
  eq(blockGroup(1, 0, Uint8Array.of(9), 64), "A0 8A A1 85 81 00 00 00 09 9B 81 40");
  eq(blockGroup(3, 5, Uint8Array.of(7)), "A0 87 A1 85 83 00 05 00 07");
});

Deno.test("lacing headers", () => {
  const frame = (n: number, v: number) => new Uint8Array(n).fill(v);
  // Xiph: 3 frames of 300, 2, 255 bytes: count-1, then 300 = FF 2D, 2 = 02.
  const xf = [frame(300, 1), frame(2, 2), frame(255, 3)];
  const x = lacedBlock(1, 0, 0x80, xf, "xiph");
  eq(x.subarray(0, 13), "A3 42 35 81 00 00 82 02 FF 2D 02 01 01");
  assert.equal(x.length, 3 + 4 + 4 + 557);
  // 255 and 510 need a terminating 0; 500 = FF F5 (the spec's example).
  eq(
    lacedBlock(1, 0, 0, [frame(255, 0), frame(510, 0), frame(500, 0), frame(1, 0)], "xiph")
      .subarray(3, 14),
    "81 00 00 02 03 FF 00 FF FF 00 FF",
  );
  // EBML: 300, 2, 255, 10 -> 41 2C, then 2-300 = -298 = 5E D5, 255-2 = 253 = 60 FC.
  const ef = [frame(300, 1), frame(2, 2), frame(255, 3), frame(10, 4)];
  const e = lacedBlock(1, 0, 0x80, ef, "ebml");
  eq(e.subarray(3, 15), "81 00 00 86 03 41 2C 5E D5 60 FC 01");
  assert.equal(e.length, 3 + 4 + 7 + 567);
  // EBML with a small difference: 10, 12, 5 -> 8A, +2 = C1.
  eq(
    lacedBlock(2, -2, 0x86, [frame(10, 0), frame(12, 0), frame(5, 0)], "ebml")
      .subarray(2, 9),
    "82 FF FE 86 02 8A C1",
  );
  // fixed: no sizes, equal frames only; a flags' own lacing bits are replaced
  const f = lacedBlock(1, 0, 0x06 | 0x80, [frame(4, 1), frame(4, 2), frame(4, 3)], "fixed");
  eq(f, "A3 91 81 00 00 84 02 01 01 01 01 02 02 02 02 03 03 03 03");
  assert.throws(() => lacedBlock(1, 0, 0, [frame(4, 0), frame(5, 0)], "fixed"));
});

Deno.test("tagsEl: KVS style (one Tag) and Connect style (one Tags per tag)", () => {
  eq(
    tagsEl([["a", "1"], ["b", "2"]]),
    "12 54 C3 67 99 73 73 96 67 C8 88 45 A3 81 61 44 87 81 31 " +
      "67 C8 88 45 A3 81 62 44 87 81 32",
  );
  const c = tagsEl([["a", "1"], ["b", "2"]], { onePerTags: true, sizeWidth: 8 });
  const nodes = walk(c).nodes;
  assert.deepEqual(
    nodes.filter((n) => n.depth === 0).map((n) => n.id),
    [ID.Tags, ID.Tags],
  );
  assert.equal(c.length, 2 * (12 + 10 + 10 + 11 + 11));
});

// ------------------------------------------------------- connect_stream

Deno.test("a generated fragment reproduces the reference dump's layout", () => {
  const s = connectStream({ fragments: 1, docType: "matroska" });
  assert.equal(s.bytes.length, 34768);
  const nodes = walk(s.bytes).nodes;
  const blocks = nodes.filter((n) => n.id === ID.SimpleBlock);
  assert.equal(blocks.length, 32);
  blocks.forEach((n, k) => {
    assert.equal(n.offset, 984 + 1037 * k);
    assert.equal(n.size, 1028);
  });
  const got = nodes.filter((n) => n.id !== ID.SimpleBlock).map((n) => describe(s.bytes, n));
  assert.deepEqual(got, DUMP);
  // block headers: track, relative timecode k*64, keyframe on the first only
  blocks.forEach((n, k) => {
    const d = s.bytes.subarray(n.dataOffset, n.dataOffset + 4);
    const round = Math.floor(k / 2);
    const rel = round * 64;
    eq(d, hex(Uint8Array.of(0x81 + (k % 2), rel >> 8, rel & 0xFF, k === 0 ? 0x80 : 0)));
  });
  // the default docType carries the SDK's trailing NUL: everything moves by 1
  const d = connectStream({ fragments: 1 });
  assert.equal(d.bytes.length, 34769);
  eq(d.bytes.subarray(21, 33), "42 82 89 6D 61 74 72 6F 73 6B 61 00");
});

function checkStream(s: GeneratedStream) {
  let offset = 0;
  for (const f of s.fragments) {
    assert.equal(f.offset, offset);
    assert.equal(f.bytes.buffer, s.bytes.buffer);
    assert.equal(f.bytes.byteOffset, s.bytes.byteOffset + f.offset);
    eq(f.bytes.subarray(0, 4), "1A 45 DF A3");
    for (const b of f.blocks) {
      assert.equal(b.pcm.buffer, s.bytes.buffer);
      const at = b.pcm.byteOffset - f.bytes.byteOffset;
      assert.ok(at > 0 && at + b.pcm.length <= f.bytes.length);
    }
    offset += f.bytes.length;
  }
  assert.equal(offset, s.bytes.length);
  // the whole body walks cleanly as a chain of documents
  const top = walk(s.bytes).nodes.filter((n) => n.depth === 0);
  assert.equal(top.length, 2 * s.fragments.length);
  top.forEach((n, i) => {
    assert.equal(n.id, i % 2 ? ID.Segment : ID.EBML);
    if (i % 2 === 0) assert.equal(n.offset, s.fragments[i / 2].offset);
  });
}

Deno.test("connectStream defaults: offsets, numbers, times, PCM", () => {
  const s = connectStream();
  eq(s.bytes.subarray(0, 4), "1A 45 DF A3");
  assert.equal(s.fragments.length, 3);
  assert.deepEqual(s.trackNumbers, { to: 1, from: 2 });
  checkStream(s);
  s.fragments.forEach((f, i) => {
    assert.equal(f.index, i);
    assert.equal(f.fragmentNumber.length, 47);
    assert.equal(
      BigInt(f.fragmentNumber),
      91343852333181551234925834077012571618243808844n +
        BigInt(i) * FRAGMENT_NUMBER_STEP,
    );
    assert.equal(f.continuationToken, f.fragmentNumber);
    assert.equal(f.producerMs, 1782912654536 + 1024 * i);
    assert.equal(f.serverMs, f.producerMs + 170);
    assert.equal(f.contactId, "87718f4a-d2ed-476a-ad11-f496ab09b3f8");
    assert.equal(f.blocks.length, 32);
    f.blocks.forEach((b, j) => {
      const k = Math.floor(j / 2);
      assert.equal(b.dir, j % 2 ? "from" : "to");
      assert.equal(b.track, j % 2 ? 2 : 1);
      assert.equal(b.timeMs, f.producerMs + 64 * k);
      assert.equal(b.pcm.length, 1024);
      const dv = new DataView(b.pcm.buffer, b.pcm.byteOffset, b.pcm.length);
      const first = (i * 16 + k) * 512;
      for (const n of [0, 1, 255, 511]) {
        assert.equal(dv.getInt16(2 * n, true), defaultPcm(b.dir, first + n));
      }
    });
  });
  const text = decoder.decode(s.fragments[1].bytes);
  assert.ok(text.includes("1782912655.560")); // producer ts of fragment 1
  assert.ok(text.includes("1782912655.730")); // server ts of fragment 1
});

Deno.test("defaultPcm: never 0, directions disjoint, no repeat within 16384", () => {
  const seen: Record<Direction, Set<number>> = { from: new Set(), to: new Set() };
  for (let s = 0; s < 16384; s++) {
    const f = defaultPcm("from", s);
    const t = defaultPcm("to", s);
    assert.ok(f >= 1 && f <= 16384, `from ${f}`);
    assert.ok(t >= -16384 && t <= -1, `to ${t}`);
    seen.from.add(f);
    seen.to.add(t);
  }
  assert.equal(seen.from.size, 16384);
  assert.equal(seen.to.size, 16384);
});

Deno.test("omitted fragments: gaps in the stream, zeros in expectedPcm", () => {
  const s = connectStream({ fragments: 5, omit: [1, 3] });
  checkStream(s);
  assert.deepEqual(s.fragments.map((f) => f.index), [0, 2, 4]);
  assert.equal(s.fragments[1].producerMs - s.fragments[0].producerMs, 2048);
  const fragBytes = 16 * 512 * 2;
  const all = expectedPcm(s);
  for (const dir of ["from", "to"] as const) {
    const pcm = all[dir]!;
    assert.equal(pcm.length, 5 * fragBytes);
    const dv = new DataView(pcm.buffer, pcm.byteOffset, pcm.length);
    for (let i = 0; i < 5; i++) {
      for (const n of [0, 4000, 8191]) {
        const sample = i * 8192 + n;
        const want = i === 1 || i === 3 ? 0 : defaultPcm(dir, sample);
        assert.equal(dv.getInt16(2 * sample, true), want);
      }
    }
  }
  assert.equal(expectedPcm(s, { untilIndex: 3 }).from!.length, 3 * fragBytes);
  assert.equal(expectedPcm(s, { untilIndex: 2 }).to!.length, 1 * fragBytes);
  assert.equal(expectedPcm(s, { untilIndex: 0 }).to!.length, 0);
  // the timeline starts at the first written fragment
  const late = connectStream({ fragments: 4, omit: [0, 2] });
  const e = expectedPcm(late);
  assert.equal(e.from!.length, 3 * fragBytes);
  const dv = new DataView(e.from!.buffer);
  assert.equal(dv.getInt16(0, true), defaultPcm("from", 8192));
  assert.equal(dv.getInt16(fragBytes, true), 0);
  // fromIndex (extra) starts the timeline later
  assert.equal(expectedPcm(s, { fromIndex: 2 }).from!.length, 3 * fragBytes);
});

Deno.test("one track, other numbers, stereo 16 kHz, custom pcm", () => {
  const s = connectStream({
    tracks: ["AUDIO_FROM_CUSTOMER"],
    trackNumbers: [200],
    rate: 16000,
    channels: 2,
    fragments: 2,
    blocksPerTrack: 4,
    pcm: (dir, n) => (dir === "from" ? n % 30000 : 0),
    audioElement: true,
  });
  checkStream(s);
  assert.deepEqual(s.trackNumbers, { from: 200, to: undefined });
  assert.equal(s.params.blockMs, 32);
  assert.equal(s.fragments[1].producerMs - s.fragments[0].producerMs, 128);
  const e = expectedPcm(s);
  assert.equal(e.to, undefined);
  assert.equal(e.from!.length, 2 * 4 * 512 * 2 * 2);
  const dv = new DataView(e.from!.buffer);
  for (const n of [0, 1, 2047, 2048, 4095]) assert.equal(dv.getInt16(2 * n, true), n);
  const text = decoder.decode(s.bytes);
  assert.ok(text.includes("audio/L16;rate=16000;channels=2;"));
  assert.ok(!text.includes("AUDIO_TO_CUSTOMER"));
  const nodes = walk(s.bytes).nodes;
  assert.equal(nodes.filter((n) => n.id === ID.Audio).length, 2);
  const block = nodes.find((n) => n.id === ID.SimpleBlock)!;
  eq(s.bytes.subarray(block.dataOffset, block.dataOffset + 2), "40 C8"); // track 200
});

Deno.test("magicInPcm puts element ids inside SimpleBlock payloads", () => {
  const s = connectStream({ fragments: 2, magicInPcm: true });
  const f = s.fragments[1];
  const nodes = walk(f.bytes).nodes;
  const blocks = nodes.filter((n) => n.id === ID.SimpleBlock);
  for (const magic of ["1A 45 DF A3", "1F 43 B6 75", "12 54 C3 67"]) {
    const at = indexOfBytes(f.bytes, bytes(magic), blocks[0].offset);
    assert.ok(at > 0, magic);
    const inside = blocks.find((n) => at >= n.dataOffset + 4 && at + 4 <= n.dataOffset + n.size);
    assert.ok(inside, `${magic} at ${at} is inside a SimpleBlock payload`);
  }
  // first block of each track, at payload offsets 16 and 41
  for (const b of f.blocks.slice(0, 2)) {
    eq(b.pcm.subarray(16, 28), "1A 45 DF A3 1F 43 B6 75 12 54 C3 67");
    eq(b.pcm.subarray(41, 45), "1A 45 DF A3");
  }
  // expectedPcm follows the bytes actually written
  const e = expectedPcm(s);
  eq(e.to!.subarray(16, 20), "1A 45 DF A3");
  eq(e.from!.subarray(16384 + 41, 16384 + 45), "1A 45 DF A3");
});

Deno.test("error fragments, contact changes, tag positions, known sizes", () => {
  const s = connectStream({
    fragments: 4,
    errorAt: { index: 2, code: "4000" },
    contactIds: ["c-1", null, "x"],
    tagsPosition: "after",
    clusterSize: "known",
    segmentSize: "known",
    mimeType: null,
  });
  checkStream(s);
  const [f0, f1, f2, f3] = s.fragments;
  assert.deepEqual(f2.error, { code: "4000", id: 1 });
  assert.equal(f2.blocks.length, 0);
  assert.deepEqual(
    [f0.contactId, f1.contactId, f2.contactId, f3.contactId],
    ["c-1", null, null, "x"],
  );
  const t2 = decoder.decode(f2.bytes);
  assert.ok(t2.includes("AWS_KINESISVIDEO_ERROR_CODE") && t2.includes("4000"));
  assert.ok(t2.includes(f2.fragmentNumber));
  assert.equal(indexOfBytes(f2.bytes, bytes("1F 43 B6 75")), -1);
  assert.equal(indexOfBytes(f1.bytes, new TextEncoder().encode("ContactId")), -1);
  assert.ok(!decoder.decode(f0.bytes).includes("MimeType"));
  // known sizes: Segment (8-byte field) spans the document, Cluster is sized
  for (const f of [f0, f1, f3]) {
    const nodes = walk(f.bytes).nodes;
    const seg = nodes.find((n) => n.id === ID.Segment)!;
    assert.ok(!seg.unknown);
    assert.equal(seg.dataOffset - seg.offset, 12);
    assert.equal(seg.dataOffset + seg.size, f.bytes.length);
    const cl = nodes.find((n) => n.id === ID.Cluster)!;
    assert.ok(!cl.unknown);
    // "after": the Connect tags all follow the Cluster
    const tags = nodes.filter((n) => n.id === ID.Tags);
    assert.equal(tags.filter((n) => n.offset < cl.offset).length, 1); // KVS
  }
  // expectedPcm spans the error fragment with zeros
  assert.equal(expectedPcm(s).to!.length, 4 * 16384);
  eq(
    errorFragment("5000", 7, "1").subarray(36 + 5, 36 + 5 + 12),
    "18 53 80 67 01 FF FF FF FF FF FF FF",
  );
  // kvsTags: false and tagsPosition "before"
  const b = connectStream({ fragments: 1, kvsTags: false, tagsPosition: "before" });
  const text = decoder.decode(b.bytes);
  assert.ok(!text.includes("AWS_KINESISVIDEO"));
  const nodes = walk(b.bytes).nodes;
  const cl = nodes.find((n) => n.id === ID.Cluster)!;
  assert.ok(cl.unknown);
  assert.equal(cl.dataOffset + cl.size, b.bytes.length); // nothing after it
});

Deno.test("writeCallFile: ~5 s call equals connectStream's bytes", async () => {
  const path = await Deno.makeTempFile({ suffix: ".mkv" });
  try {
    const r = await writeCallFile(path, 5, { omit: [3] });
    assert.deepEqual(r, { bytes: r.bytes, fragments: 4 });
    const file = await Deno.readFile(path);
    assert.equal(file.length, r.bytes);
    const s = connectStream({ fragments: 5, omit: [3] });
    assert.equal(hex(file.subarray(0, 64)), hex(s.bytes.subarray(0, 64)));
    assert.deepEqual(file, s.bytes);
  } finally {
    await Deno.remove(path);
  }
});
