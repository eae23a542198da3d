/**
 * kvsaudio against the shared third-party fixtures (`../shared/fixtures/`,
 * read in place, never copied into the repo):
 *
 * 1. connect-synthetic/*.ebml.hex against EXPECTED.json and each file's notes;
 * 2. kvs-getmedia/*.mkv (real GetMedia captures) against the facts in
 *    fixtures/README.md, cross-checked with an independent reference reader
 *    (tests/support/shared_fixtures.ts, no code shared with src/);
 * 3. the CLI: `inspect --json` on every fixture, `extract` on the Connect
 *    ones (PCM computed independently from the blocks' times);
 * 4. an ffmpeg cross-check of extracted PCM on a generated plain-PCM stream.
 *
 * Without the fixtures folder the fixture tests are ignored (and say why);
 * without ffmpeg on PATH the ffmpeg test is ignored (and says why).
 *
 * Run: `deno test -A tests/fixtures_test.ts`
 * @module
 */

import assert from "node:assert/strict";
import {
  assembleFragments,
  demuxConnect,
  type ElementNode,
  findAll,
  type Fragment,
  mapTracks,
  parseWavHeader,
} from "../src/mod.ts";
import {
  fixturesDir,
  haveFixtures,
  hexHeader,
  loadFixture,
  readReference,
  type RefDocument,
  type RefStream,
  skipReason,
  syntheticNames,
} from "./support/shared_fixtures.ts";
import {
  concat,
  ebmlHeader,
  el,
  encodeId,
  floatEl,
  ID,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
  unknownSize,
} from "./support/mkv_writer.ts";
import { jsonLines, kvsaudio } from "./support/cli.ts";
import { indexOfBytes, noise, withTempDir } from "./support/util.ts";
import { sameBytes } from "./support/pipeline.ts";

// ---------------------------------------------------------------- setup

if (!haveFixtures) console.log(`fixtures_test: ${skipReason}`);
const ignore = !haveFixtures;

/** The connect-synthetic fixtures (a test checks this list against the folder and EXPECTED.json). */
const SYNTHETIC = [
  "connect_real_shape",
  "false_ebml_magic_in_pcm",
  "gap",
  "known_size_cluster",
  "multi_cluster",
  "stream_reuse",
  "tagless_single",
  "track_order_swapped",
  "two_tracks",
  "unknown_elements",
] as const;

/** The kvs-getmedia captures (a test checks this list against the folder). */
const CAPTURES = [
  "test_mixed_tags",
  "output_get_media",
  "output-get-media-equal-timecode",
  "empty-mkv-with-tags",
  "test_tags_empty_cluster",
  "vogels_480",
] as const;

interface Expected {
  fragments: number;
  segments: number;
  clusters: number;
  simple_blocks: number;
  ebml_headers: number;
  unknown_size_segment: boolean;
  known_size_cluster: boolean;
  contact_ids: string[];
  producer_timestamps: string[];
  fragment_numbers: string[];
  bytes: number;
  notes: string;
}

function expectedOf(name: string): Expected {
  const json = JSON.parse(Deno.readTextFileSync(new URL("connect-synthetic/EXPECTED.json", fixturesDir)));
  const e = json.fixtures[name];
  assert.ok(e, `EXPECTED.json has no entry for ${name}`);
  return e as Expected;
}

const synthetic = (name: string) => loadFixture(`connect-synthetic/${name}`);
const capture = (name: string) => loadFixture(`kvs-getmedia/${name}.mkv`);

async function assemble(bytes: Uint8Array, tree = true): Promise<Fragment[]> {
  const out: Fragment[] = [];
  for await (const f of assembleFragments([bytes], { tree })) out.push(f);
  return out;
}

/** Every node of a forest, depth first. */
function allNodes(roots: readonly ElementNode[]): ElementNode[] {
  const out: ElementNode[] = [];
  const walk = (ns: readonly ElementNode[]) => {
    for (const n of ns) {
      out.push(n);
      if (n.children) walk(n.children);
    }
  };
  walk(roots);
  return out;
}

/** `"1000000001.024"` → 1000000001024, by string arithmetic (no float parsing). */
function kvsMs(text: string): number {
  const m = /^(\d+)\.(\d{3})$/.exec(text);
  assert.ok(m, `not a seconds.millis timestamp: ${text}`);
  return Number(m[1]) * 1000 + Number(m[2]);
}

function countBytes(hay: Uint8Array, needle: Uint8Array): number {
  let n = 0;
  for (let i = indexOfBytes(hay, needle); i >= 0; i = indexOfBytes(hay, needle, i + 1)) n++;
  return n;
}

const EBML_MAGIC = Uint8Array.of(0x1A, 0x45, 0xDF, 0xA3);
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const names = (f: Fragment, position: "before" | "after") =>
  f.tags.filter((t) => t.position === position).map((t) => t.name);

// ------------------------------------------------- the fixture lists match

Deno.test("fixtures: the folder is ../../shared/fixtures/ relative to this test file", () => {
  assert.equal(fixturesDir.href, new URL("../../shared/fixtures/", import.meta.url).href);
});

Deno.test({
  name: "fixtures: the folders hold exactly the listed fixtures, EXPECTED.json covers every hex file",
  ignore,
  fn() {
    assert.deepEqual(syntheticNames(), [...SYNTHETIC].sort());
    const json = JSON.parse(Deno.readTextFileSync(new URL("connect-synthetic/EXPECTED.json", fixturesDir)));
    assert.deepEqual(Object.keys(json.fixtures).sort(), [...SYNTHETIC].sort());
    const mkv = [...Deno.readDirSync(new URL("kvs-getmedia/", fixturesDir))]
      .filter((e) => e.isFile && e.name.endsWith(".mkv")).map((e) => e.name.slice(0, -4)).sort();
    assert.deepEqual(mkv, [...CAPTURES].sort());
    // Each hex header states its decoded length; the decoder must agree.
    for (const name of SYNTHETIC) {
      const stated = hexHeader(`connect-synthetic/${name}`).map((l) => /^bytes=(\d+)$/.exec(l)).find((m) => m);
      assert.ok(stated, `${name}: no bytes= line in the header`);
      assert.equal(synthetic(name).length, Number(stated[1]), `${name}: decoded length`);
    }
  },
});

// ------------------------------------- 1. connect-synthetic vs EXPECTED.json

for (const name of SYNTHETIC) {
  Deno.test({
    name: `connect-synthetic/${name}: assembled fragments match EXPECTED.json`,
    ignore,
    async fn() {
      const e = expectedOf(name);
      const bytes = synthetic(name);
      const frags = await assemble(bytes);

      assert.equal(frags.length, e.fragments, "fragments");
      assert.equal(bytes.length, e.bytes, "input length");
      const last = frags[frags.length - 1];
      assert.equal(last.offset + last.size, e.bytes, "bytes = last fragment offset + size");
      let at = 0;
      for (const f of frags) {
        assert.equal(f.offset, at, `fragment ${f.index} starts where the previous one ended`);
        assert.equal(f.complete, true, `fragment ${f.index} complete`);
        at += f.size;
      }

      assert.equal(frags.reduce((n, f) => n + f.clusters.length, 0), e.clusters, "clusters");
      assert.equal(frags.reduce((n, f) => n + f.blocks.length, 0), e.simple_blocks, "simple_blocks");

      const trees = frags.map((f) => f.tree ?? []);
      assert.equal(trees.reduce((n, t) => n + findAll(t, "EBML").length, 0), e.ebml_headers, "ebml_headers (tree)");
      assert.equal(trees.reduce((n, t) => n + findAll(t, "Segment").length, 0), e.segments, "segments (tree)");
      // The tree's SimpleBlock elements, counted apart from fragment.blocks.
      assert.equal(
        trees.reduce((n, t) => n + findAll(t, "SimpleBlock").length, 0),
        e.simple_blocks,
        "tree SimpleBlocks",
      );

      for (const t of trees) {
        for (const s of findAll(t, "Segment")) assert.equal(s.unknownSize, e.unknown_size_segment, "Segment size kind");
        const clusters = findAll(t, "Cluster");
        assert.ok(clusters.length > 0);
        for (const c of clusters) assert.equal(!c.unknownSize, e.known_size_cluster, "Cluster size kind");
      }

      // ContactIds: EXPECTED lists one per fragment ("" for none), except
      // gap.ebml.hex, whose list holds its one distinct id for 3 fragments.
      const cids = frags.map((f) => f.contactId ?? "");
      if (e.contact_ids.length === frags.length) assert.deepEqual(cids, e.contact_ids, "contact_ids");
      else assert.deepEqual([...new Set(cids.filter((c) => c !== ""))], e.contact_ids, "distinct contact_ids");

      // The independent reference reader sees the same structure.
      const ref = readReference(bytes);
      const tagless = ref.documents.map((d) => d.tags.length === 0);

      // Fragment numbers and producer timestamps live in the KVS tags. The
      // generator's manifest lists them even for a document without any Tags
      // element (tagless_single's middle fragment), where the bytes cannot
      // carry them: there, expect none.
      const fromTags = <T>(list: T[]) => list.map((v, i) => tagless[i] ? undefined : v);
      assert.deepEqual(
        frags.map((f) => f.tag("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP")),
        fromTags(e.producer_timestamps),
        "producer_timestamps",
      );
      assert.deepEqual(frags.map((f) => f.kvs.producerTimestampMs), fromTags(e.producer_timestamps.map(kvsMs)));
      assert.deepEqual(frags.map((f) => f.kvs.fragmentNumber), fromTags(e.fragment_numbers), "fragment_numbers");
      assert.equal(tagless.filter((t) => t).length, name === "tagless_single" ? 1 : 0, "tagless documents");
      assert.equal(ref.truncated, undefined);
      assert.equal(ref.documents.length, e.ebml_headers);
      assert.deepEqual(
        frags.map((f) => f.clusters.map((c) => [c.timecode, c.blocks])),
        ref.documents.map((d) => d.clusters.map((c) => [c.timecode, c.simpleBlocks])),
      );
    },
  });
}

Deno.test({
  name:
    "connect-synthetic/connect_real_shape: the Connect profile (tags after, epoch Cluster time, A_AAC 11 90, no Audio)",
  ignore,
  async fn() {
    const bytes = synthetic("connect_real_shape");
    const [f, ...rest] = await assemble(bytes);
    assert.equal(rest.length, 0);
    const tree = f.tree!;

    // MILLIS_BEHIND_NOW and CONTINUATION_TOKEN: present, and only after the Cluster.
    for (const n of ["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "AWS_KINESISVIDEO_CONTINUATION_TOKEN"]) {
      const tags = f.tags.filter((t) => t.name === n);
      assert.ok(tags.length > 0, `${n} present`);
      assert.deepEqual(tags.map((t) => t.position), tags.map(() => "after"), `${n} only after the Cluster`);
    }
    // Four Segment-level Tags, two before and two after the Cluster; the
    // Connect tags both before and after.
    const cluster = findFirst1(tree, "Segment/Cluster");
    const segTags = findAll(tree, "Segment/Tags");
    assert.equal(segTags.length, 4);
    assert.equal(segTags.filter((t) => t.offset < cluster.offset).length, 2);
    assert.ok(names(f, "before").includes("ContactId") && names(f, "after").includes("ContactId"));
    assert.equal(f.mimeType, "audio/L16;rate=8000;channels=1");

    // The Cluster timecode is epoch ms, the same instant as PRODUCER_TIMESTAMP.
    assert.equal(f.clusters[0].timecode, 1000000000000);
    assert.equal(findFirst1(tree, "Segment/Cluster/Timecode").value, 1000000000000);
    assert.equal(f.clusterTimeMs, f.kvs.producerTimestampMs);
    assert.equal(f.kvs.producerTimestampMs, kvsMs("1000000000.000"));

    // No Audio element; A_AAC + CodecPrivate 11 90 over PCM.
    assert.equal(f.tracks.length, 2);
    for (const t of f.tracks) {
      assert.equal(t.audio, undefined, `track ${t.number} has no Audio`);
      assert.equal(t.codecId, "A_AAC");
      assert.deepEqual([...(t.codecPrivate ?? [])], [0x11, 0x90]);
    }
    assert.equal(findAll(tree, "Audio").length, 0);
    // Info: Title, MuxingApp = WritingApp.
    assert.ok(findAll(tree, "Segment/Info/Title").length === 1);
    assert.equal(findFirst1(tree, "Segment/Info/MuxingApp").value, findFirst1(tree, "Segment/Info/WritingApp").value);
  },
});

function findFirst1(tree: readonly ElementNode[], query: string): ElementNode {
  const n = findAll(tree, query)[0];
  assert.ok(n, `no ${query} in the tree`);
  return n;
}

Deno.test({
  name: "connect-synthetic: track directions come from the TrackEntry Name (connect_real_shape vs track_order_swapped)",
  ignore,
  async fn() {
    const [real] = await assemble(synthetic("connect_real_shape"));
    const [swapped] = await assemble(synthetic("track_order_swapped"));
    const byNumber = (f: Fragment) => Object.fromEntries(f.tracks.map((t) => [t.number, t.name]));
    assert.deepEqual(byNumber(real), { 1: "AUDIO_FROM_CUSTOMER", 2: "AUDIO_TO_CUSTOMER" });
    assert.deepEqual(byNumber(swapped), { 1: "AUDIO_TO_CUSTOMER", 2: "AUDIO_FROM_CUSTOMER" });
    assert.equal(mapTracks(real.tracks).from?.number, 1);
    assert.equal(mapTracks(real.tracks).to?.number, 2);
    assert.equal(mapTracks(swapped.tracks).from?.number, 2);
    assert.equal(mapTracks(swapped.tracks).to?.number, 1);
    // The AUDIO_*_CUSTOMER tag values are the same constants in both: useless for mapping.
    for (const f of [real, swapped]) {
      assert.equal(f.tag("AUDIO_TO_CUSTOMER"), "1");
      assert.equal(f.tag("AUDIO_FROM_CUSTOMER"), "2");
    }
    // TrackUID follows the name.
    const uid = (f: Fragment, n: string) => f.tracks.find((t) => t.name === n)?.uid;
    assert.equal(uid(real, "AUDIO_FROM_CUSTOMER"), uid(swapped, "AUDIO_FROM_CUSTOMER"));

    // The demuxer's "from" audio is the AUDIO_FROM_CUSTOMER track's first payload in both.
    for (const f of [real, swapped]) {
      const fromTrack = f.tracks.find((t) => t.name === "AUDIO_FROM_CUSTOMER")!.number;
      const firstFrom = f.blocks.find((b) => b.track === fromTrack)!.frames[0];
      let first: Uint8Array | undefined;
      for await (
        const item of demuxConnect((async function* () {
          yield f;
        })())
      ) {
        if (item.kind === "audio") first = item.from?.pieces.find((p) => p instanceof Uint8Array) as Uint8Array;
      }
      assert.deepEqual(first, firstFrom);
    }
  },
});

Deno.test({
  name: "connect-synthetic/false_ebml_magic_in_pcm: 1A 45 DF A3 inside a SimpleBlock payload does not split the stream",
  ignore,
  async fn() {
    const bytes = synthetic("false_ebml_magic_in_pcm");
    assert.ok(countBytes(bytes, EBML_MAGIC) >= 2, "the file holds the magic more than once");
    const frags = await assemble(bytes);
    assert.equal(frags.length, 1);
    const withMagic = frags[0].blocks.filter((b) => b.frames.some((fr) => indexOfBytes(fr, EBML_MAGIC) >= 0));
    assert.ok(withMagic.length >= 1, "a SimpleBlock payload really contains the magic");
    assert.equal(frags[0].blocks.length, 3);
    assert.equal(frags[0].size, bytes.length);
    assert.equal(findAll(frags[0].tree!, "EBML").length, 1);
  },
});

Deno.test({
  name: "connect-synthetic/unknown_elements: 0x4FFE and 0x4FFF are counted and skipped, the rest parses",
  ignore,
  async fn() {
    const [f, ...rest] = await assemble(synthetic("unknown_elements"));
    assert.equal(rest.length, 0);
    assert.equal(f.unknownElements, 2);
    const unknown = allNodes(f.tree!).filter((n) => n.unknownElement);
    assert.deepEqual(unknown.map((n) => n.id).sort(), [0x4FFE, 0x4FFF]);
    assert.equal(unknown.find((n) => n.id === 0x4FFE)!.size, 1);
    // 0x4FFF's content (Name "vendor-box", TrackNumber 7) is not read as a track.
    assert.deepEqual(f.tracks.map((t) => t.number), [1, 2]);
    assert.ok(!f.tracks.some((t) => t.name === "vendor-box"));
    assert.equal(f.contactId, "00000000-0000-4000-8000-000000000001");
    assert.equal(f.kvs.fragmentNumber, "unknown-0");
    assert.equal(f.clusters.length, 1);
    assert.equal(f.blocks.length, 1);
  },
});

Deno.test({
  name: "connect-synthetic/two_tracks: track 1 has blocks of 24 and 16 bytes, track 2 one of 32",
  ignore,
  async fn() {
    const [f] = await assemble(synthetic("two_tracks"));
    const sizes = (track: number) =>
      f.blocks.filter((b) => b.track === track).map((b) => b.frames.reduce((n, x) => n + x.length, 0));
    assert.deepEqual(sizes(1), [24, 16]);
    assert.deepEqual(sizes(2), [32]);
    assert.equal(f.clusters.length, 1);
    const ref = readReference(synthetic("two_tracks")).documents[0];
    assert.deepEqual(ref.blocks.map((b) => [b.track, b.payload.length]), [[1, 24], [2, 32], [1, 16]]);
  },
});

// ------------------------------------------------ 2. kvs-getmedia captures

/** Reference per-fragment view: a GetMedia document, or one Cluster of a known-size Segment. */
interface RefFragment {
  tags: RefDocument["tags"];
  tracks: RefDocument["tracks"];
  clusters: RefDocument["clusters"];
  blocks: RefDocument["blocks"];
}

function refFragments(ref: RefStream): RefFragment[] {
  const out: RefFragment[] = [];
  for (const d of ref.documents) {
    if (d.segmentUnknownSize || d.clusters.length <= 1) {
      out.push(d);
      continue;
    }
    d.clusters.forEach((c, i) => {
      const end = d.clusters[i + 1]?.offset ?? Infinity;
      out.push({
        tags: i === 0 ? d.tags : [],
        tracks: d.tracks,
        clusters: [c],
        blocks: d.blocks.filter((b) => b.offset > c.offset && b.offset < end),
      });
    });
  }
  return out;
}

/** Checks shared by every capture: the library agrees with the reference reader. */
function crossCheck(frags: Fragment[], bytes: Uint8Array, ref: RefStream): void {
  const rf = refFragments(ref);
  assert.equal(frags.length, rf.length, "fragments (reference reader)");
  frags.forEach((f, i) => {
    const r = rf[i];
    assert.deepEqual(f.clusters.map((c) => c.timecode), r.clusters.map((c) => c.timecode), `fragment ${i} timecodes`);
    assert.equal(f.blocks.length, r.blocks.length, `fragment ${i} blocks (reference)`);
    assert.deepEqual(f.blocks.map((b) => b.offset), r.blocks.map((b) => b.offset), `fragment ${i} block offsets`);
    const treeBlocks = findAll(f.tree!, "SimpleBlock").filter((n) => !n.truncated).length +
      findAll(f.tree!, "BlockGroup").length;
    assert.equal(treeBlocks, f.blocks.length, `fragment ${i} tree blocks vs fragment.blocks`);
    assert.deepEqual(
      f.tags.map((t) => [t.name, t.position, t.value]),
      r.tags.map((t) => [t.name, t.position, t.value]),
      `fragment ${i} tags`,
    );
  });
  const last = frags[frags.length - 1];
  assert.equal(last.offset + last.size, bytes.length, "fragments cover the input");
}

function assertIncreasingFragmentNumbers(frags: Fragment[]): void {
  const nums = frags.map((f) => f.kvs.fragmentNumber);
  assert.ok(nums.every((n) => n !== undefined && /^\d{47}$/.test(n)), "47-digit fragment numbers");
  const big = nums.map((n) => BigInt(n!));
  assert.deepEqual(frags.map((f) => f.fragmentNumberBigInt), big);
  for (let i = 1; i < big.length; i++) assert.ok(big[i] > big[i - 1], `fragment number ${i} increases`);
}

const KVS_BEFORE = [
  "AWS_KINESISVIDEO_FRAGMENT_NUMBER",
  "AWS_KINESISVIDEO_SERVER_TIMESTAMP",
  "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP",
];
const KVS_AFTER = ["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "AWS_KINESISVIDEO_CONTINUATION_TOKEN"];
const TEST_TAGS = [0, 1, 2, 3, 4].map((i) => `testTag_${i}`);

Deno.test({
  name: "kvs-getmedia/test_mixed_tags: 10 fragments, tag positions, DocType, size fields, fragment numbers",
  ignore,
  async fn() {
    const bytes = capture("test_mixed_tags");
    const frags = await assemble(bytes);
    const ref = readReference(bytes);
    crossCheck(frags, bytes, ref);
    assert.equal(frags.length, 10);
    for (const f of frags) {
      assert.equal(f.clusters.length, 1);
      assert.equal(f.clusters[0].blocks, 10);
      assert.deepEqual(f.blocks.map((b) => b.frames.reduce((n, x) => n + x.length, 0)), new Array(10).fill(100));
      const before = names(f, "before");
      const after = names(f, "after");
      const testBefore = before.filter((n) => n.startsWith("testTag_"));
      assert.deepEqual(testBefore, f.index === 0 ? TEST_TAGS : [], `fragment ${f.index} producer tags before`);
      assert.deepEqual(
        after.filter((n) => n.startsWith("testTag_")),
        TEST_TAGS,
        `fragment ${f.index} producer tags after`,
      );
      assert.deepEqual(before.filter((n) => n.startsWith("AWS_")), KVS_BEFORE, `fragment ${f.index} KVS tags before`);
      assert.deepEqual(after.filter((n) => n.startsWith("AWS_")), KVS_AFTER, `fragment ${f.index} KVS tags after`);
      assert.equal(f.docType, "matroska");
      // Raw size fields: Segment 01 FF FF FF FF FF FF FF, Cluster FF.
      const seg = findFirst1(f.tree!, "Segment");
      assert.equal(seg.unknownSize, true);
      assert.equal(hex(bytes.subarray(seg.offset + 4, seg.offset + 12)), "01 ff ff ff ff ff ff ff");
      const cl = findFirst1(f.tree!, "Segment/Cluster");
      assert.equal(cl.unknownSize, true);
      assert.equal(bytes[cl.offset + 4], 0xFF);
      assert.equal(cl.headerSize, 5);
      assert.equal(f.kvs.continuationToken, f.kvs.fragmentNumber);
    }
    // DocType is written as "matroska\0" and read without the NUL.
    for (const d of ref.documents) assert.equal(hex(d.docTypeRaw!), hex(new TextEncoder().encode("matroska\0")));
    assertIncreasingFragmentNumbers(frags);
  },
});

Deno.test({
  name: "kvs-getmedia/output_get_media: 5 fragments × 60 blocks, known-size Clusters at 0, 2000, …",
  ignore,
  async fn() {
    const bytes = capture("output_get_media");
    const frags = await assemble(bytes);
    crossCheck(frags, bytes, readReference(bytes));
    assert.equal(frags.length, 5);
    assert.deepEqual(frags.map((f) => f.blocks.length), [60, 60, 60, 60, 60]);
    assert.deepEqual(frags.map((f) => f.clusters.map((c) => c.timecode)), [[0], [2000], [4000], [6000], [8000]]);
    for (const f of frags) {
      assert.equal(findFirst1(f.tree!, "Segment").unknownSize, true);
      assert.equal(findFirst1(f.tree!, "Segment/Cluster").unknownSize, false);
      assert.deepEqual(names(f, "after"), KVS_AFTER);
      assert.equal(f.complete, true);
    }
    assertIncreasingFragmentNumbers(frags);
  },
});

Deno.test({
  name: "kvs-getmedia/output-get-media-equal-timecode: 2 fragments, equal timecodes, the 2nd cut inside a SimpleBlock",
  ignore,
  async fn() {
    const bytes = capture("output-get-media-equal-timecode");
    const frags = await assemble(bytes);
    const ref = readReference(bytes);
    crossCheck(frags, bytes, ref);
    assert.equal(frags.length, 2);
    assert.equal(frags[0].clusters[0].timecode, frags[1].clusters[0].timecode);
    assert.equal(frags[0].complete, true);
    assert.deepEqual(names(frags[0], "after"), KVS_AFTER);
    // The 2nd: no trailing Tags at all.
    assert.deepEqual(names(frags[1], "after"), []);
    assert.equal(frags[1].kvs.continuationToken, undefined);
    assert.equal(frags[1].kvs.millisBehindNow, undefined);
    // What the file really holds: the capture ends inside the Cluster's
    // last SimpleBlock (README: "cut after its Cluster"). The reference reader
    // and the tree agree; the fragment is flagged incomplete and the cut block
    // is not a block.
    assert.ok(ref.truncated, "the input ends inside an element");
    assert.equal(ref.truncated.id, 0xA3, "…a SimpleBlock");
    const sbs = findAll(frags[1].tree!, "SimpleBlock");
    const cut = sbs[sbs.length - 1];
    assert.equal(cut.truncated, true);
    assert.equal(cut.offset, ref.truncated.offset);
    assert.equal(findFirst1(frags[1].tree!, "Segment/Cluster").truncated, true);
    assert.equal(frags[1].complete, false);
    assert.equal(frags[1].blocks.length, sbs.length - 1);
    assert.equal(frags[1].closedBy, "end-of-input");
    assertIncreasingFragmentNumbers(frags);
  },
});

Deno.test({
  name: "kvs-getmedia/empty-mkv-with-tags: 1 fragment, the three pre-Cluster KVS tags, no Cluster",
  ignore,
  async fn() {
    const bytes = capture("empty-mkv-with-tags");
    const frags = await assemble(bytes);
    crossCheck(frags, bytes, readReference(bytes));
    assert.equal(frags.length, 1);
    const [f] = frags;
    assert.deepEqual(f.tags.map((t) => [t.name, t.position]), KVS_BEFORE.map((n) => [n, "before"]));
    assert.equal(f.clusters.length, 0);
    assert.equal(f.blocks.length, 0);
    assert.equal(findAll(f.tree!, "Cluster").length, 0);
    assert.ok(f.fragmentNumberBigInt !== undefined);
    assert.equal(f.kvs.producerTimestampMs, kvsMs(f.tag("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP")!));
  },
});

Deno.test({
  name: "kvs-getmedia/test_tags_empty_cluster: only Tags, no blocks, the demuxer gives no audio",
  ignore,
  async fn() {
    const bytes = capture("test_tags_empty_cluster");
    const frags = await assemble(bytes);
    crossCheck(frags, bytes, readReference(bytes));
    assert.equal(frags.length, 1);
    assert.equal(frags[0].blocks.length, 0);
    assert.equal(findAll(frags[0].tree!, "SimpleBlock").length, 0);
    const items = [];
    for await (const item of demuxConnect(assembleFragments([bytes]))) items.push(item);
    const audio = items.filter((i) => i.kind === "audio");
    assert.ok(audio.every((i) => i.from === undefined && i.to === undefined), "no audio");
    assert.deepEqual(items[items.length - 1], { kind: "stop", reason: "end-of-input", contactId: undefined });
  },
});

Deno.test({
  name: "kvs-getmedia/vogels_480: known-size Segment, one fragment per Cluster, A_AAC 11 90 with an Audio element",
  ignore,
  async fn() {
    const bytes = capture("vogels_480");
    const frags = await assemble(bytes);
    const ref = readReference(bytes);
    crossCheck(frags, bytes, ref);
    assert.equal(ref.documents.length, 1);
    assert.equal(ref.documents[0].segmentUnknownSize, false);
    assert.equal(findFirst1(frags[0].tree!, "Segment").unknownSize, false);
    assert.equal(frags.length, ref.documents[0].clusters.length, "one fragment per Cluster");
    assert.ok(frags.length > 1);
    for (const f of frags) assert.equal(f.clusters.length, 1);
    assert.deepEqual(frags.map((f) => f.clusters[0].offset), ref.documents[0].clusters.map((c) => c.offset));
    const aac = frags[0].tracks.find((t) => t.codecId === "A_AAC");
    assert.ok(aac, "an A_AAC track");
    assert.equal(aac.type, 2);
    assert.deepEqual([...(aac.codecPrivate ?? [])], [0x11, 0x90]);
    assert.ok(aac.audio, "an Audio element");
    assert.equal(aac.audio.channels, 2);
    assert.equal(
      aac.audio.samplingFrequency,
      findFirst1(frags[0].tree!, "Segment/Tracks/TrackEntry/Audio/SamplingFrequency").value,
    );
    assert.ok((aac.audio.samplingFrequency ?? 0) > 0);
  },
});

// --------------------------------------------------------------- 3. the CLI

/** A file path for a fixture: the capture itself, or the decoded hex in `dir`. */
async function fixturePath(kind: "synthetic" | "capture", name: string, dir: string): Promise<string> {
  if (kind === "capture") return new URL(`kvs-getmedia/${name}.mkv`, fixturesDir).pathname;
  const path = `${dir}/${name}.mkv`;
  await Deno.writeFile(path, synthetic(name));
  return path;
}

type Json = Record<string, unknown>;

/** Checks `inspect --json` output against the reference reader and the library. */
function checkInspect(lines: Json[], bytes: Uint8Array, frags: Fragment[]): Json[] {
  const ref = refFragments(readReference(bytes));
  const summaryLine = lines[lines.length - 1];
  const objs = lines.slice(0, -1);
  assert.equal(objs.length, frags.length, "one NDJSON object per fragment");
  assert.equal(objs.length, ref.length);
  objs.forEach((o, i) => {
    const f = frags[i];
    const r = ref[i];
    for (
      const key of [
        "index",
        "offset",
        "size",
        "complete",
        "fragmentNumber",
        "producerTimestamp",
        "serverTimestamp",
        "contactId",
        "tags",
        "tracks",
        "blocks",
      ]
    ) assert.ok(key in o, `fragment ${i}: field ${key}`);
    assert.equal(o.index, i);
    assert.equal(o.offset, f.offset);
    assert.equal(o.size, f.size);
    assert.equal(o.complete, f.complete);
    const tag = (n: string) => r.tags.find((t) => t.name === n)?.value;
    assert.equal(o.fragmentNumber, tag("AWS_KINESISVIDEO_FRAGMENT_NUMBER") ?? null);
    const iso = (s: string | undefined) => s === undefined ? null : new Date(kvsMs(s)).toISOString();
    assert.equal(o.producerTimestamp, iso(tag("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP")));
    assert.equal(o.serverTimestamp, iso(tag("AWS_KINESISVIDEO_SERVER_TIMESTAMP")));
    assert.equal(o.contactId, tag("ContactId") ?? null);
    // tags: name → value, or the distinct values when a name repeats with different ones.
    const tags = o.tags as Record<string, string | string[]>;
    assert.deepEqual(
      Object.keys(tags).sort(),
      [...new Set(r.tags.map((t) => t.name))].sort(),
      `fragment ${i} tag names`,
    );
    for (const t of r.tags) {
      const v = tags[t.name];
      assert.ok(v === t.value || (Array.isArray(v) && v.includes(t.value)), `fragment ${i} tag ${t.name}`);
    }
    const tracks = o.tracks as Json[];
    assert.deepEqual(
      tracks.map((t) => [t.number, t.name, t.codecId]),
      r.tracks.map((t) => [t.number, t.name ?? null, t.codecId ?? null]),
      `fragment ${i} tracks`,
    );
    assert.deepEqual(
      tracks.map((t) => t.uid === null ? null : String(t.uid)),
      f.tracks.map((t) => t.uid === undefined ? null : String(t.uid)),
    );
    const counts: Record<string, number> = {};
    for (const b of r.blocks) counts[String(b.track)] = (counts[String(b.track)] ?? 0) + 1;
    assert.deepEqual(o.blocks, counts, `fragment ${i} blocks per track`);
  });
  const summary = summaryLine.summary as Json;
  assert.ok(summary, "a summary object last");
  assert.equal(summary.fragments, frags.length);
  assert.equal(summary.blocks, ref.reduce((n, r) => n + r.blocks.length, 0));
  assert.equal(summary.bytes, bytes.length);
  assert.equal(summary.incomplete, frags.filter((f) => !f.complete).length);
  const cids = [...new Set(ref.map((r) => r.tags.find((t) => t.name === "ContactId")?.value).filter((c) => c))];
  assert.deepEqual(summary.contactIds, cids);
  const fns = objs.map((o) => o.fragmentNumber).filter((n) => n !== null);
  assert.equal(summary.firstFragmentNumber, fns[0] ?? null);
  assert.equal(summary.lastFragmentNumber, fns[fns.length - 1] ?? null);
  return objs;
}

for (const name of SYNTHETIC) {
  Deno.test({
    name: `cli inspect --json: connect-synthetic/${name}`,
    ignore,
    async fn() {
      await withTempDir("kvsaudio_fixtures_test_", async (dir) => {
        const bytes = synthetic(name);
        const r = await kvsaudio(["inspect", "--json", await fixturePath("synthetic", name, dir)]);
        assert.equal(r.code, 0, r.stderr);
        const objs = checkInspect(jsonLines(r.stdoutText), bytes, await assemble(bytes, false));
        const e = expectedOf(name);
        assert.equal(objs.length, e.fragments);
        // (A document without Tags carries neither; see the EXPECTED.json test.)
        const tagless = readReference(bytes).documents.map((d) => d.tags.length === 0);
        assert.deepEqual(objs.map((o) => o.fragmentNumber), e.fragment_numbers.map((v, i) => tagless[i] ? null : v));
        assert.deepEqual(
          objs.map((o) => o.producerTimestampMs),
          e.producer_timestamps.map((v, i) => tagless[i] ? null : kvsMs(v)),
        );
        if (e.contact_ids.length === objs.length) {
          assert.deepEqual(objs.map((o) => o.contactId ?? ""), e.contact_ids);
        }
        const blocks = objs.reduce(
          (n, o) => n + Object.values(o.blocks as Record<string, number>).reduce((a, b) => a + b, 0),
          0,
        );
        assert.equal(blocks, e.simple_blocks);
        assert.equal(objs.reduce((n, o) => n + (o.clusters as number), 0), e.clusters);
      });
    },
  });
}

const CAPTURE_FACTS: Record<(typeof CAPTURES)[number], (objs: Json[]) => void> = {
  test_mixed_tags: (objs) => {
    assert.equal(objs.length, 10);
    for (const o of objs) assert.deepEqual(o.blocks, { 1: 10 });
  },
  output_get_media: (objs) => {
    assert.equal(objs.length, 5);
    for (const o of objs) assert.deepEqual(o.blocks, { 1: 60 });
    assert.deepEqual(objs.map((o) => o.clusterTimecode), [0, 2000, 4000, 6000, 8000]);
  },
  "output-get-media-equal-timecode": (objs) => {
    assert.deepEqual(objs.map((o) => o.complete), [true, false]);
    assert.equal(objs[0].clusterTimecode, objs[1].clusterTimecode);
  },
  "empty-mkv-with-tags": (objs) => {
    assert.equal(objs.length, 1);
    assert.deepEqual(objs[0].blocks, {});
    assert.deepEqual(Object.keys(objs[0].tags as Json), KVS_BEFORE);
  },
  test_tags_empty_cluster: (objs) => {
    assert.equal(objs.length, 1);
    assert.deepEqual(objs[0].blocks, {});
  },
  vogels_480: (objs) => {
    assert.ok(objs.length > 1);
    const aac = (objs[0].tracks as Json[]).find((t) => t.codecId === "A_AAC");
    assert.ok(aac);
    assert.equal(aac.codecPrivate, "11 90");
  },
};

for (const name of CAPTURES) {
  Deno.test({
    name: `cli inspect --json: kvs-getmedia/${name}`,
    ignore,
    async fn() {
      await withTempDir("kvsaudio_fixtures_test_", async (dir) => {
        const bytes = capture(name);
        const r = await kvsaudio(["inspect", "--json", await fixturePath("capture", name, dir)]);
        assert.equal(r.code, 0, r.stderr);
        const objs = checkInspect(jsonLines(r.stdoutText), bytes, await assemble(bytes, false));
        CAPTURE_FACTS[name](objs);
      });
    },
  });
}

/** Parses a PCM WAV (independently of src/audio): format fields and the data chunk. */
function readWav(bytes: Uint8Array): { rate: number; channels: number; bits: number; data: Uint8Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => new TextDecoder().decode(bytes.subarray(o, o + 4));
  assert.equal(tag(0), "RIFF");
  assert.equal(tag(8), "WAVE");
  assert.equal(dv.getUint32(4, true), bytes.length - 8, "RIFF size");
  let p = 12;
  let fmt: { rate: number; channels: number; bits: number } | undefined;
  while (p + 8 <= bytes.length) {
    const id = tag(p);
    const size = dv.getUint32(p + 4, true);
    if (id === "fmt ") {
      assert.equal(dv.getUint16(p + 8, true), 1, "PCM format tag");
      fmt = {
        channels: dv.getUint16(p + 10, true),
        rate: dv.getUint32(p + 12, true),
        bits: dv.getUint16(p + 22, true),
      };
    } else if (id === "data") {
      assert.ok(fmt, "fmt before data");
      assert.equal(p + 8 + size, bytes.length, "data chunk runs to the end");
      // Cross-check with the product's own parser too.
      assert.equal(parseWavHeader(bytes).dataBytes, size);
      return { ...fmt, data: bytes.subarray(p + 8, p + 8 + size) };
    }
    p += 8 + size + (size & 1);
  }
  throw new assert.AssertionError({ message: "no data chunk" });
}

/**
 * Expected s16le mono PCM per direction for the given documents, computed
 * from the reference reader's blocks alone: tracks by Name, each block's
 * payload at frame round((t - t0) * rate / 1000) where t0 is the earliest
 * block of either named track, zeros (gap silence) in between.
 */
function expectedPcm(docs: RefDocument[], rate: number): { from: Uint8Array; to: Uint8Array } {
  const dirOf = (d: RefDocument, track: number) => {
    const n = d.tracks.find((t) => t.number === track)?.name;
    return n === "AUDIO_FROM_CUSTOMER" ? "from" : n === "AUDIO_TO_CUSTOMER" ? "to" : undefined;
  };
  const placed: { dir: "from" | "to"; timeMs: number; payload: Uint8Array }[] = [];
  for (const d of docs) {
    for (const b of d.blocks) {
      const dir = dirOf(d, b.track);
      if (dir) placed.push({ dir, timeMs: b.timeMs, payload: b.payload });
    }
  }
  const t0 = Math.min(...placed.map((p) => p.timeMs));
  const build = (dir: "from" | "to") => {
    const mine = placed.filter((p) => p.dir === dir).map((p) => ({
      at: Math.round(((p.timeMs - t0) * rate) / 1000) * 2,
      payload: p.payload,
    }));
    const len = Math.max(0, ...mine.map((m) => m.at + m.payload.length));
    const out = new Uint8Array(len);
    for (const m of mine) out.set(m.payload, m.at);
    return out;
  };
  return { from: build("from"), to: build("to") };
}

function rateOf(d: RefDocument): number {
  const mime = d.tags.find((t) => t.name === "MimeType")?.value;
  assert.ok(mime, "a MimeType tag");
  const m = /(?:^|;)rate=(\d+)/.exec(mime);
  assert.ok(m, `a rate in ${mime}`);
  assert.match(mime, /channels=1(;|$)/);
  return Number(m[1]);
}

async function extract(dir: string, input: string, ...extra: string[]) {
  const out = `${dir}/out`;
  const r = await kvsaudio(["extract", input, "--out", out, "--json", ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdoutText);
  const done = events[events.length - 1];
  assert.equal(done.event, "done");
  return {
    events,
    done,
    from: readWav(await Deno.readFile(`${out}/from_customer.wav`)),
    to: readWav(await Deno.readFile(`${out}/to_customer.wav`)),
  };
}

for (const name of ["connect_real_shape", "track_order_swapped"]) {
  Deno.test({
    name: `cli extract: connect-synthetic/${name} writes each direction's payload by TrackEntry Name`,
    ignore,
    async fn() {
      await withTempDir("kvsaudio_fixtures_test_", async (dir) => {
        const bytes = synthetic(name);
        const ref = readReference(bytes);
        const rate = rateOf(ref.documents[0]);
        const want = expectedPcm(ref.documents, rate);
        const got = await extract(dir, await fixturePath("synthetic", name, dir));
        for (const w of [got.from, got.to]) {
          assert.deepEqual([w.rate, w.channels, w.bits], [rate, 1, 16]);
        }
        sameBytes(got.from.data, want.from, "from_customer.wav = AUDIO_FROM_CUSTOMER payload (+ gap silence)");
        sameBytes(got.to.data, want.to, "to_customer.wav = AUDIO_TO_CUSTOMER payload (+ gap silence)");
        assert.equal(got.done.reason, "end-of-input");
        // The FROM track's first payload opens from_customer.wav, whatever its number.
        const d = ref.documents[0];
        const fromNumber = d.tracks.find((t) => t.name === "AUDIO_FROM_CUSTOMER")!.number;
        const firstFrom = d.blocks.find((b) => b.track === fromNumber)!.payload;
        sameBytes(
          got.from.data.subarray(0, firstFrom.length),
          firstFrom,
          "from_customer.wav opens with the FROM track",
        );
        assert.equal(fromNumber, name === "connect_real_shape" ? 1 : 2);
        if (name === "track_order_swapped") {
          // Track 2 (FROM) carries one block of 32 bytes; track 1 (TO) two of 24.
          assert.equal(got.from.data.length, 32);
          assert.ok(got.to.data.length > 48);
        }
      });
    },
  });
}

Deno.test({
  name: "cli extract: connect-synthetic/stream_reuse stops at the ContactId change, only contact …0002's audio",
  ignore,
  async fn() {
    await withTempDir("kvsaudio_fixtures_test_", async (dir) => {
      const bytes = synthetic("stream_reuse");
      const ref = readReference(bytes);
      const cid = (d: RefDocument) => d.tags.find((t) => t.name === "ContactId")?.value;
      const first = ref.documents.filter((d) => cid(d) === "00000000-0000-4000-8000-000000000002");
      assert.equal(first.length, 2);
      assert.deepEqual(ref.documents.slice(0, 2), first, "contact …0002 comes first");
      const want = expectedPcm(first, rateOf(first[0]));
      const got = await extract(dir, await fixturePath("synthetic", "stream_reuse", dir));
      assert.equal(got.done.reason, "contact-changed");
      assert.equal(got.done.contactId, "00000000-0000-4000-8000-000000000002");
      assert.equal(got.done.stopFragmentNumber, "reuse-c-0");
      const changed = got.events.find((e) => e.event === "contact-changed");
      assert.ok(changed);
      assert.equal(changed.nextContactId, "00000000-0000-4000-8000-000000000003");
      assert.equal(got.events.filter((e) => e.event === "fragment").length, 2);
      sameBytes(got.from.data, want.from, "from_customer.wav");
      sameBytes(got.to.data, want.to, "to_customer.wav");
      // (Contact …0003's payloads repeat …0002's bytes, so only the exact
      // length above shows they are absent; 5 days of gap would not fit it.)
      assert.deepEqual(got.done.samples, { from_customer: want.from.length / 2, to_customer: want.to.length / 2 });
    });
  },
});

Deno.test({
  name: "cli extract: kvs-getmedia/test_tags_empty_cluster gives no audio",
  ignore,
  async fn() {
    await withTempDir("kvsaudio_fixtures_test_", async (dir) => {
      const got = await extract(dir, await fixturePath("capture", "test_tags_empty_cluster", dir));
      assert.equal(got.from.data.length, 0);
      assert.equal(got.to.data.length, 0);
      assert.deepEqual(got.done.samples, { from_customer: 0, to_customer: 0 });
      assert.equal(got.done.reason, "end-of-input");
    });
  },
});

// ------------------------------------------------------ 4. ffmpeg cross-check

function haveFfmpegOnPath(): boolean {
  try {
    return new Deno.Command("which", { args: ["ffmpeg"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}
const haveFfmpeg = haveFfmpegOnPath();
if (!haveFfmpeg) console.log("fixtures_test: ffmpeg is not on PATH: skipping the ffmpeg cross-check");

/**
 * A Connect-shaped stream whose tracks honestly say A_PCM/INT/LIT with an
 * Audio element, so ffmpeg decodes what kvsaudio extracts. One MKV document
 * (unknown-size Segment, KVS-style unknown-size Clusters), three Clusters of
 * 4 contiguous 64 ms blocks per track, AUDIO_TO_CUSTOMER first as in the real
 * Connect dump. Real Connect streams cannot be compared this way: they
 * declare A_AAC (CodecPrivate 11 90) over raw L16 PCM, and ffmpeg trusts the
 * CodecID, so it feeds the PCM to its AAC decoder and yields noise or errors
 * instead of the samples (and a GetMedia body's later documents, each a new
 * EBML header, are only read while the first Segment is unknown-size).
 */
function pcmStream(): { bytes: Uint8Array; order: ("from" | "to")[]; payload: Record<"from" | "to", Uint8Array> } {
  const rate = 8000;
  const samples = 512;
  const blockMs = (samples * 1000) / rate; // 64
  const tracks = [
    { number: 1, name: "AUDIO_TO_CUSTOMER", dir: "to" as const, seed: 7 },
    { number: 2, name: "AUDIO_FROM_CUSTOMER", dir: "from" as const, seed: 99 },
  ];
  const start = 1782912654536;
  const trackEntries = tracks.map((t) =>
    el(ID.TrackEntry, [
      uintEl(ID.TrackNumber, t.number),
      uintEl(ID.TrackUID, t.number, 8),
      uintEl(ID.TrackType, 2),
      strEl(ID.Name, t.name),
      strEl(ID.CodecID, "A_PCM/INT/LIT"),
      el(ID.Audio, [floatEl(ID.SamplingFrequency, rate), uintEl(ID.Channels, 1), uintEl(ID.BitDepth, 16)]),
    ])
  );
  const connectTags = tagsEl([
    ["ContactId", "00000000-0000-4000-8000-00000000ffff"],
    ["MimeType", `audio/L16;rate=${rate};channels=1;`],
  ], { onePerTags: true });
  const payload: Record<"from" | "to", Uint8Array[]> = { from: [], to: [] };
  const clusters: Uint8Array[] = [];
  for (let c = 0; c < 3; c++) {
    const blocks: Uint8Array[] = [];
    for (let k = 0; k < 4; k++) {
      for (const t of tracks) {
        const pcm = noise(samples * 2, t.seed * 1000 + c * 10 + k);
        payload[t.dir].push(pcm);
        blocks.push(simpleBlock(t.number, k * blockMs, c === 0 && k === 0 && t.number === 1, pcm));
      }
    }
    clusters.push(concat([
      encodeId(ID.Cluster),
      unknownSize(1),
      uintEl(ID.Timecode, start + c * 4 * blockMs, 8),
      uintEl(ID.Position, 0),
      ...blocks,
    ]));
  }
  const segment = concat([
    encodeId(ID.Segment),
    unknownSize(8),
    el(ID.Info, [
      uintEl(ID.TimecodeScale, 1000000),
      strEl(ID.MuxingApp, "kvsaudio test"),
      strEl(ID.WritingApp, "kvsaudio test"),
    ]),
    el(ID.Tracks, trackEntries),
    connectTags,
    ...clusters,
    connectTags,
  ]);
  return {
    bytes: concat([ebmlHeader(), segment]),
    order: tracks.map((t) => t.dir),
    payload: { from: concat(payload.from), to: concat(payload.to) },
  };
}

Deno.test({
  name: "ffmpeg cross-check: kvsaudio's from/to PCM equals ffmpeg's decode of each A_PCM/INT/LIT track",
  ignore: !haveFfmpeg,
  async fn() {
    await withTempDir("kvsaudio_fixtures_test_", async (dir) => {
      const s = pcmStream();
      const input = `${dir}/pcm.mkv`;
      await Deno.writeFile(input, s.bytes);
      const got = await extract(dir, input);
      sameBytes(got.from.data, s.payload.from, "kvsaudio from = the FROM payloads");
      sameBytes(got.to.data, s.payload.to, "kvsaudio to = the TO payloads");
      // ffmpeg numbers audio tracks in file order: 0:a:0 is track 1 (TO), 0:a:1 track 2 (FROM).
      for (let n = 0; n < s.order.length; n++) {
        const out = await new Deno.Command("ffmpeg", {
          args: ["-v", "error", "-i", input, "-map", `0:a:${n}`, "-c:a", "pcm_s16le", "-f", "s16le", "-"],
          stdout: "piped",
          stderr: "piped",
          stdin: "null",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        const dirn = s.order[n];
        const mine = dirn === "from" ? got.from.data : got.to.data;
        assert.ok(out.stdout.length > 0, `ffmpeg decoded 0:a:${n}`);
        sameBytes(mine, out.stdout, `${dirn}_customer.wav = ffmpeg 0:a:${n}`);
      }
    });
  },
});
