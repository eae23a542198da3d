/**
 * The assembler's document prefix cache (src/mkv/prefix_cache.ts) must never
 * change a fragment: with it and without it, every stream, chunking and
 * corruption gives the same fragments (or the same error). These tests also
 * check that the cache is really used on GetMedia-shaped streams.
 */

import assert from "node:assert/strict";
import { EbmlTokenizer } from "../src/ebml/tokenizer.ts";
import { FragmentAssembler } from "../src/mkv/assembler.ts";
import type { Fragment } from "../src/mkv/fragment.ts";
import {
  concat,
  ebmlHeader,
  el,
  encodeId,
  ID,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
  voidEl,
} from "./support/mkv_writer.ts";
import { connectStream, type GeneratedStream } from "./support/connect_stream.ts";
import { hex, indexOfBytes } from "./support/util.ts";
import { seededRandom } from "../src/kvs/backoff.ts";

const EBML_MAGIC = encodeId(ID.EBML);

/** Everything a fragment says, as plain data. */
function describe(f: Fragment): unknown {
  const blocks = f.blocks.map((b) => ({ ...b, frames: b.frames.map(hex) }));
  return {
    index: f.index,
    offset: f.offset,
    size: f.size,
    complete: f.complete,
    closedBy: f.closedBy,
    docType: f.docType,
    timecodeScale: f.timecodeScale,
    tracks: f.tracks.map((t) => ({ ...t, codecPrivate: t.codecPrivate && hex(t.codecPrivate) })),
    tags: f.tags.map((t) => ({ ...t, value: typeof t.value === "string" ? t.value : hex(t.value) })),
    clusters: f.clusters,
    unknownElements: f.unknownElements,
    unknownInSegment: f.unknownInSegment,
    kvs: f.kvs,
    blocks,
  };
}

interface Outcome {
  fragments: unknown[];
  error?: string;
  hits: number;
  /** Bytes taken from the cache (`FragmentAssembler.prefixBytes`). */
  prefixBytes: number;
  /** Feeds that held a document back (with `hold`). */
  heldBack: number;
}

/**
 * Assemble `data` in chunks of `sizes()` bytes. With `hold`, feeding holds
 * documents back (`FragmentAssembler.feed(…, true)`): each chunk starts where
 * the last one's used bytes ended, as a `RereadableSource` gives them, and
 * every feed must use at least one byte and never more than it was given.
 */
function run(data: Uint8Array, sizes: () => number, prefixCache: boolean, eager = false, hold = false): Outcome {
  const tk = new EbmlTokenizer();
  const asm = new FragmentAssembler({ prefixCache, eager });
  const out: Fragment[] = [];
  const fragments: unknown[] = [];
  let heldBack = 0;
  try {
    for (let o = 0; o < data.length;) {
      const chunk = data.subarray(o, o + Math.max(1, sizes()));
      const used = asm.feed(tk, chunk, out, hold);
      assert.ok(used >= 1 && used <= chunk.length, `used ${used} of ${chunk.length}`);
      if (used < chunk.length) heldBack++;
      o += used;
      fragments.push(...out.map(describe));
      out.length = 0;
    }
    asm.finish(tk, out);
    fragments.push(...out.map(describe));
  } catch (e) {
    fragments.push(...out.map(describe));
    return { fragments, error: (e as Error).message, hits: asm.prefixHits, prefixBytes: asm.prefixBytes, heldBack };
  }
  return { fragments, hits: asm.prefixHits, prefixBytes: asm.prefixBytes, heldBack };
}

function same(data: Uint8Array, sizes: () => number, label: string, eager = false): Outcome {
  const on = run(data, sizes, true, eager);
  const off = run(data, sizes, false, eager);
  assert.equal(off.hits, 0);
  assert.deepEqual(on.fragments, off.fragments, label);
  assert.equal(on.error, off.error, label);
  return on;
}

const small = { blocksPerTrack: 3, samplesPerBlock: 32 } as const;

/** Streams whose documents repeat, change part-way, or change shape. */
function streams(): [string, Uint8Array][] {
  return [
    ["steady", connectStream({ fragments: 8, ...small }).bytes],
    [
      "contact changes",
      connectStream({ fragments: 8, contactIds: ["a", "a", "b", "b", "b", null, "c", "c"], ...small }).bytes,
    ],
    ["tags before only", connectStream({ fragments: 5, tagsPosition: "before", ...small }).bytes],
    ["tags after only", connectStream({ fragments: 5, tagsPosition: "after", ...small }).bytes],
    ["no KVS tags", connectStream({ fragments: 5, kvsTags: false, ...small }).bytes],
    ["known-size Cluster", connectStream({ fragments: 5, clusterSize: "known", ...small }).bytes],
    ["known-size Segment", connectStream({ fragments: 3, segmentSize: "known", ...small }).bytes],
    ["PCM magic", connectStream({ fragments: 4, magicInPcm: true, ...small }).bytes],
    [
      "an unknown element in Tags after the Cluster",
      withUnknownInTags(connectStream({ fragments: 6, ...small }), [2, 4]),
    ],
    [
      "MILLIS_BEHIND_NOW changing length",
      connectStream({ fragments: 8, millisBehindNow: (i) => "9".repeat(1 + (i * 5) % 4), ...small }).bytes,
    ],
    ["Clusters of 3 or 4 blocks", connectStream({ fragments: 9, blockCounts: [3, 4, 4], samplesPerBlock: 32 }).bytes],
    [
      "the Cluster last in its document, of 3 or 4 blocks",
      connectStream({
        fragments: 9,
        kvsTags: false,
        tagsPosition: "before",
        blockCounts: [3, 4, 4],
        samplesPerBlock: 32,
      })
        .bytes,
    ],
    [
      "six Cluster sizes in turn (more than the templates kept)",
      connectStream({ fragments: 14, blockCounts: [1, 2, 3, 4, 5, 6], samplesPerBlock: 32 }).bytes,
    ],
    [
      "tracks change between documents",
      concat([
        connectStream({ fragments: 3, ...small }).bytes,
        connectStream({ fragments: 3, trackNumbers: [2, 1], startMs: 1_700_000_010_000, ...small }).bytes,
        connectStream({ fragments: 2, tracks: ["AUDIO_FROM_CUSTOMER"], ...small }).bytes,
        connectStream({ fragments: 3, mimeType: "audio/L16;rate=16000;channels=1;", ...small }).bytes,
        connectStream({ fragments: 2, audioElement: true, codecId: "A_PCM/INT/LIT", ...small }).bytes,
      ]),
    ],
  ];
}

/** `stream`'s bytes with a Tags element holding an element of unknown id (0x4F11) after the documents `at`. */
function withUnknownInTags(stream: GeneratedStream, at: number[]): Uint8Array {
  const extra = el(ID.Tags, Uint8Array.of(0x4f, 0x11, 0x81, 0x00));
  return concat(stream.fragments.flatMap((f, i) => at.includes(i) ? [f.bytes, extra] : [f.bytes]));
}

Deno.test("prefix cache: same fragments as without it, for every stream and chunking", () => {
  const random = seededRandom(7);
  for (const [name, data] of streams()) {
    for (const size of [1, 3, 17, 500, 4096, data.length]) {
      const on = same(data, () => size, `${name}, chunks of ${size}`);
      if (size === data.length && name !== "known-size Segment") {
        assert.ok(on.hits > 0, `${name}: the cache was used`);
      }
    }
    same(data, () => 1 + Math.floor(random() * 3000), `${name}, random chunks`);
    same(data, () => data.length, `${name}, eager`, true);
  }
});

Deno.test("prefix cache: a steady GetMedia stream reuses every document's prefix after the first", () => {
  const data = connectStream({ fragments: 10, ...small }).bytes;
  const on = same(data, () => data.length, "steady");
  assert.equal(on.hits, 9);
});

/**
 * Bytes the cache should take from `stream` (read whole, in one chunk): every
 * document but the first, the ones in `partly` only up to their Cluster.
 */
function expectedReplay(stream: GeneratedStream, partly: number[]): number {
  const cluster = encodeId(ID.Cluster);
  let bytes = 0;
  stream.fragments.forEach((f, i) => {
    if (i > 0) bytes += partly.includes(i) ? indexOfBytes(f.bytes, cluster) : f.bytes.length;
  });
  return bytes;
}

Deno.test("prefix cache: documents whose Clusters hold a few different block counts are replayed whole once each was seen", () => {
  // Fragments of ~1 s made of 64 ms blocks may hold 15 or 16 blocks per track.
  const stream = connectStream({ fragments: 16, blockCounts: [3, 4, 4, 5], samplesPerBlock: 32 });
  const on = same(stream.bytes, () => stream.bytes.length, "3, 4, 4, 5 blocks");
  // Document 0 is tokenized; 1 (the first with 4 blocks) and 3 (the first
  // with 5) are replayed up to their Cluster; every later one whole.
  assert.equal(on.hits, 15);
  assert.equal(on.prefixBytes, expectedReplay(stream, [1, 3]));
});

Deno.test("prefix cache: a document ending with its Cluster learns each Cluster size too", () => {
  // No tags after the Cluster: it is the document's last Segment child, ended by the next EBML header.
  const stream = connectStream({
    fragments: 12,
    kvsTags: false,
    tagsPosition: "before",
    blockCounts: [3, 4, 3, 3],
    samplesPerBlock: 32,
  });
  const on = same(stream.bytes, () => stream.bytes.length, "3, 4, 3, 3 blocks, Cluster last");
  // Document 0 is tokenized; 1 (the first with 4 blocks) is replayed up to its
  // Cluster; the last one too (no EBML header follows its Cluster); every
  // other one whole.
  assert.equal(on.hits, 11);
  assert.equal(on.prefixBytes, expectedReplay(stream, [1, 11]));
});

Deno.test("prefix cache: corrupted bytes anywhere give the same fragments or the same error", () => {
  const random = seededRandom(11);
  const base = concat([
    connectStream({ fragments: 4, ...small }).bytes,
    connectStream({ fragments: 3, contactIds: "other", trackNumbers: [2, 1], ...small }).bytes,
  ]);
  // Positions in the first ~600 bytes of each document hit the prefix (headers,
  // Info, Tracks, tags); others hit anything.
  const starts: number[] = [];
  for (let i = indexOfBytes(base, EBML_MAGIC); i >= 0; i = indexOfBytes(base, EBML_MAGIC, i + 1)) starts.push(i);
  for (let n = 0; n < 300; n++) {
    const data = base.slice();
    const at = n % 3 === 2
      ? Math.floor(random() * data.length)
      : starts[Math.floor(random() * starts.length)] + Math.floor(random() * 600);
    if (at >= data.length) continue;
    data[at] = n % 2 === 0 ? data[at] ^ (1 << Math.floor(random() * 8)) : Math.floor(random() * 256);
    const size = [data.length, 257, 4096][n % 3];
    same(data, () => size, `byte ${at} changed (case ${n})`);
  }
});

/** A document with `n` tiny Tags and Voids before its Cluster (more Segment children than the cache records). */
function crowdedDoc(n: number, contact: string, tc: number): Uint8Array {
  const children: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    children.push(i % 2 === 0 ? tagsEl([[`T${i}`, i === n - 2 ? contact : "x"]]) : voidEl(1));
  }
  const cluster = concat([
    encodeId(ID.Cluster),
    unknownSize(1),
    uintEl(ID.Timecode, tc, 8),
    simpleBlock(1, 0, true, new Uint8Array(64).fill(tc & 0xff)),
  ]);
  return concat([ebmlHeader(), encodeId(ID.Segment), unknownSize(8), ...children, cluster]);
}

Deno.test("prefix cache: documents with more Segment children than the cache records stay exact", () => {
  const data = concat([
    crowdedDoc(300, "a", 1000),
    crowdedDoc(300, "a", 2000),
    crowdedDoc(300, "b", 3000),
    crowdedDoc(300, "b", 4000),
    crowdedDoc(20, "c", 5000),
    crowdedDoc(20, "c", 6000),
  ]);
  const on = same(data, () => data.length, "crowded");
  assert.ok(on.hits >= 3, `the first ${64} children were reused (${on.hits} hits)`);
  same(data, () => 1000, "crowded, chunks of 1000");
});

/**
 * Random documents that each take the one before and change a little: a tag
 * value (same or other length), a tag added or dropped, the block count, a
 * track renamed, the Cluster timecode, a SegmentUID. Partial matches,
 * re-recordings and value reuse all happen many times.
 */
function driftingStream(random: () => number, docs: number): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const word = () => pick(["a", "b", "ab", "ba", "abc", "x", "xyz", "12", "21", "123"]);
  let tags: [string, string][] = [["ContactId", "c1"], ["InstanceId", "i1"], [
    "MimeType",
    "audio/L16;rate=8000;channels=1;",
  ]];
  let after: [string, string][] = [["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "10"]];
  let names = ["AUDIO_TO_CUSTOMER", "AUDIO_FROM_CUSTOMER"];
  let blocks = 4;
  let uid = 1;
  const out: Uint8Array[] = [];
  for (let d = 0; d < docs; d++) {
    const r = random();
    if (r < 0.15) tags = tags.map(([n, v], i) => [n, i === Math.floor(random() * tags.length) ? word() : v]);
    else if (r < 0.2) tags = [...tags, [`T${Math.floor(random() * 5)}`, word()]];
    else if (r < 0.25 && tags.length > 1) tags = tags.slice(0, -1);
    else if (r < 0.3) blocks = 1 + Math.floor(random() * 6);
    else if (r < 0.33) names = [names[1], names[0]];
    else if (r < 0.36) uid++;
    else if (r < 0.45) after = [["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", String(Math.floor(random() * 2000))]];
    const tracks = el(
      ID.Tracks,
      names.map((name, i) =>
        el(ID.TrackEntry, [
          uintEl(ID.TrackNumber, i + 1),
          uintEl(ID.TrackUID, i + 1, 8),
          uintEl(ID.TrackType, 2),
          strEl(ID.Name, name),
          strEl(ID.CodecID, "A_AAC"),
        ])
      ),
    );
    const fragmentTags = tagsEl([
      ["AWS_KINESISVIDEO_FRAGMENT_NUMBER", String(91343852333181551234925834077012571618243808844n + BigInt(d))],
      ["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", `${1700000000 + d}.${String(d % 1000).padStart(3, "0")}`],
    ]);
    const cluster = concat([
      encodeId(ID.Cluster),
      unknownSize(1),
      uintEl(ID.Timecode, 1_700_000_000_000 + d * 1024, 8),
      ...Array.from(
        { length: blocks },
        (_, b) => simpleBlock(1 + (b % 2), 64 * (b >> 1), b === 0, new Uint8Array(16).fill((d * 7 + b) & 0xff)),
      ),
    ]);
    out.push(concat([
      ebmlHeader(),
      encodeId(ID.Segment),
      unknownSize(8),
      el(ID.Info, [el(ID.SegmentUID, new Uint8Array(16).fill(uid & 0xff)), uintEl(ID.TimecodeScale, 1000000)]),
      tracks,
      tagsEl(tags, { onePerTags: true }),
      // A binary tag whose bytes change now and then.
      el(ID.Tags, [
        el(ID.Tag, [el(ID.SimpleTag, [strEl(ID.TagName, "Bin"), el(ID.TagBinary, new Uint8Array(4).fill(uid))])]),
      ]),
      fragmentTags,
      cluster,
      tagsEl(after),
    ]));
  }
  return concat(out);
}

Deno.test("prefix cache: drifting random documents give the same fragments with and without it", () => {
  let hits = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(seed);
    const data = driftingStream(random, 30);
    for (const size of [data.length, 997, 64]) {
      hits += same(data, () => size, `seed ${seed}, chunks of ${size}`).hits;
    }
    same(data, () => 1 + Math.floor(random() * 2000), `seed ${seed}, random chunks`);
  }
  assert.ok(hits > 1000, `documents replayed: ${hits}`);
});

Deno.test("prefix cache: documents cut by chunk ends neither shorten nor replace the template", () => {
  const data = connectStream({ fragments: 12, ...small }).bytes;
  const whole = new FragmentAssembler();
  whole.feed(new EbmlTokenizer(), data, []);
  const points = whole.templatePoints;
  assert.ok(points >= 10, `a Connect document has many Segment children (${points})`);
  for (const size of [Math.floor(data.length / 7), Math.floor(data.length / 5) + 13, 3001]) {
    const tk = new EbmlTokenizer();
    const asm = new FragmentAssembler();
    for (let o = 0; o < data.length;) o += asm.feed(tk, data.subarray(o, o + size), []);
    assert.equal(asm.templatePoints, points, `chunks of ${size}`);
    assert.ok(asm.prefixHits > 0);
  }
});

/** Held-back feeding gives exactly the fragments (or error) of plain tokenizing without the cache. */
function sameHeld(data: Uint8Array, sizes: () => number, label: string, eager = false) {
  const held = run(data, sizes, true, eager, true);
  const plain = run(data, () => data.length, false, eager);
  assert.deepEqual(held.fragments, plain.fragments, label);
  assert.equal(held.error, plain.error, label);
  return held;
}

Deno.test("hold-back: same fragments as plain tokenizing, for every stream and chunking", () => {
  const random = seededRandom(17);
  let heldBack = 0;
  for (const [name, data] of streams()) {
    for (const size of [1, 3, 17, 500, 4096, data.length]) {
      heldBack += sameHeld(data, () => size, `${name}, ${size}`).heldBack;
    }
    sameHeld(data, () => 1 + Math.floor(random() * 3000), `${name}, random chunks`);
    const eager = sameHeld(data, () => 700, `${name}, eager`, true);
    assert.equal(eager.heldBack, 0, "eager mode uses every byte");
  }
  assert.ok(heldBack > 50, `documents were held back (${heldBack})`);
});

Deno.test("hold-back: a document held back inside its Cluster leaves no Cluster open for what follows", () => {
  // An unknown element in Tags after the Cluster is not in the Cluster (was: reported in it after a held-back
  // document was replayed, so the CLI warned that audio in a Cluster may be lost).
  const stream = connectStream({ fragments: 6, ...small });
  const data = withUnknownInTags(stream, [2, 4]);
  const cluster = encodeId(ID.Cluster);
  let at = 0;
  for (const [i, f] of stream.fragments.entries()) {
    const cut = at + indexOfBytes(f.bytes, cluster) + 40;
    let first = true;
    const held = sameHeld(data, () => first ? (first = false, cut) : data.length, `cut in document ${i}'s Cluster`);
    if (i > 0) assert.ok(held.heldBack >= 1, `document ${i} was held back`);
    at += f.bytes.length + (i === 2 || i === 4 ? 11 : 0);
  }
});

Deno.test("hold-back: in chunks that cut documents, every document after the first is replayed whole", () => {
  const data = connectStream({ fragments: 40, ...small }).bytes;
  const docSize = data.length / 40;
  for (const size of [Math.floor(docSize * 2.5), Math.floor(docSize * 7.3), 4096]) {
    const held = sameHeld(data, () => size, `chunks of ${size}`);
    assert.equal(held.prefixBytes, 39 * docSize, `chunks of ${size}: whole documents replayed`);
    const plain = run(data, () => size, true).prefixBytes;
    assert.ok(
      plain < 39 * docSize,
      `chunks of ${size}: without hold-back, cut documents are replayed in part (${plain})`,
    );
  }
});

Deno.test("hold-back: corrupted bytes, drifting and crowded documents give the same fragments or the same error", () => {
  const random = seededRandom(23);
  const base = concat([
    connectStream({ fragments: 4, ...small }).bytes,
    connectStream({ fragments: 3, contactIds: "other", trackNumbers: [2, 1], ...small }).bytes,
  ]);
  for (let n = 0; n < 300; n++) {
    const data = base.slice();
    const at = Math.floor(random() * data.length);
    data[at] = n % 2 === 0 ? data[at] ^ (1 << Math.floor(random() * 8)) : Math.floor(random() * 256);
    sameHeld(data, () => [257, 1000, 4096][n % 3], `byte ${at} changed (case ${n})`);
    sameHeld(data.subarray(0, Math.floor(random() * data.length)), () => 900, `cut short (case ${n})`);
  }
  for (let seed = 1; seed <= 20; seed++) {
    const data = driftingStream(seededRandom(seed), 30);
    for (const size of [997, 64, 5000]) sameHeld(data, () => size, `drifting seed ${seed}, chunks of ${size}`);
  }
  const crowded = concat([crowdedDoc(300, "a", 1000), crowdedDoc(300, "a", 2000), crowdedDoc(20, "b", 3000)]);
  for (const size of [1000, 3000, 7000]) sameHeld(crowded, () => size, `crowded, chunks of ${size}`);
});
