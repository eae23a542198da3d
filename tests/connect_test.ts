import assert from "node:assert/strict";
import { connectStream, expectedPcm, renameDirections } from "./support/connect_stream.ts";
import {
  concat,
  ebmlHeader,
  el,
  floatEl,
  ID,
  lacedBlock,
  namedTracks,
  simpleBlock,
  strEl,
  tagsEl,
  uintEl,
} from "./support/mkv_writer.ts";
import { chunked, interleave, readWav, runPipeline, sameBytes } from "./support/pipeline.ts";
import { DataError, KvsStreamError, UsageError } from "../src/errors.ts";
import { parseMimeType, streamFormat } from "../src/connect/format.ts";
import { mapTracks } from "../src/connect/tracks.ts";
import { ConnectDemuxer, demuxConnect } from "../src/connect/demuxer.ts";
import { CallWriter } from "../src/audio/call_writer.ts";
import { FragmentLayout } from "../src/connect/detect.ts";
import { assembleFragments, fragmentsFromTokens } from "../src/mkv/assembler.ts";
import { tokenize, tokenizeBatches } from "../src/ebml/tokenizer.ts";
import { Fragment, type Track } from "../src/mkv/fragment.ts";
import { seededInts } from "./support/util.ts";

async function checkStream(
  stream: ReturnType<typeof connectStream>,
  opts: Parameters<typeof runPipeline>[1] = {},
  expectOpts: Parameters<typeof expectedPcm>[1] = {},
) {
  const r = await runPipeline(stream.bytes, opts);
  const exp = expectedPcm(stream, expectOpts);
  const from = await readWav(`${r.dir}/from_customer.wav`);
  const to = await readWav(`${r.dir}/to_customer.wav`);
  sameBytes(from.data, exp.from ?? new Uint8Array(0), "from_customer");
  sameBytes(to.data, exp.to ?? new Uint8Array(0), "to_customer");
  await Deno.remove(r.dir, { recursive: true });
  return r;
}

Deno.test("parseMimeType: rate and channels, with or without the trailing ;", () => {
  assert.deepEqual(parseMimeType("audio/L16;rate=8000;channels=1;"), { type: "audio/L16", rate: 8000, channels: 1 });
  assert.deepEqual(parseMimeType("audio/L16;rate=16000;channels=2"), { type: "audio/L16", rate: 16000, channels: 2 });
  assert.deepEqual(parseMimeType("audio/L16; rate=abc"), { type: "audio/L16" });
  // A parameter value may be a quoted string (RFC 2045); a verifier's stream was refused for it (exit 3).
  assert.deepEqual(parseMimeType('audio/L16;rate="16000";channels="1"'), {
    type: "audio/L16",
    rate: 16000,
    channels: 1,
  });
  assert.deepEqual(parseMimeType('audio/L16;rate=""'), { type: "audio/L16" });
  assert.deepEqual(parseMimeType('audio/L16;rate="16000'), { type: "audio/L16" });
});

Deno.test("mapTracks maps by Name only", () => {
  const m = mapTracks([
    { number: 1, uid: 2, name: "AUDIO_TO_CUSTOMER" },
    { number: 2, uid: 1, name: "AUDIO_FROM_CUSTOMER" },
  ]);
  assert.equal(m.from?.number, 2);
  assert.equal(m.to?.number, 1);
  assert.deepEqual(mapTracks([{ number: 1, name: "video" }]), {});
});

Deno.test("two tracks (real order: 1 = TO): PCM byte-exact, WAV header at the MimeType rate", async () => {
  const s = connectStream({ fragments: 4 });
  assert.equal(s.trackNumbers.to, 1);
  const r = await runPipeline(s.bytes);
  const exp = expectedPcm(s);
  const from = await readWav(`${r.dir}/from_customer.wav`);
  assert.equal(from.info.rate, 8000);
  assert.equal(from.info.channels, 1);
  assert.equal(from.info.bitsPerSample, 16);
  sameBytes(from.data, exp.from!, "from");
  sameBytes((await readWav(`${r.dir}/to_customer.wav`)).data, exp.to!, "to");
  assert.equal(r.writer.frames.from, 4 * 16 * 512);
  const stop = r.items.at(-1)!;
  assert.equal(stop.kind, "stop");
  assert.equal(stop.kind === "stop" && stop.reason, "end-of-input");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("swapped track order and arbitrary track numbers map by Name", async () => {
  await checkStream(connectStream({ fragments: 3, tracks: ["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"] }));
  await checkStream(connectStream({ fragments: 3, trackNumbers: [9, 200] }));
});

Deno.test("one track only: the other file is a valid empty WAV", async () => {
  const s = connectStream({ fragments: 2, tracks: ["AUDIO_TO_CUSTOMER"] });
  const r = await checkStream(s);
  assert.equal(r.writer.frames.from, 0);
  assert.equal(r.writer.frames.to, 2 * 16 * 512);
});

Deno.test("gaps in time become silence; both tracks stay aligned", async () => {
  const s = connectStream({ fragments: 6, omit: [2, 3] });
  const r = await checkStream(s);
  // Counted per file: each WAV holds the two missing fragments' silence once.
  assert.deepEqual(r.writer.gaps, { from: 1, to: 1 });
  assert.deepEqual(r.writer.gapFrames, { from: 2 * 16 * 512, to: 2 * 16 * 512 });
});

Deno.test("a gap longer than --max-gap is skipped, not filled, on both tracks", async () => {
  const s = connectStream({ fragments: 4, omit: [1, 2] });
  const r = await runPipeline(s.bytes, { demux: { maxGapMs: 1000 } });
  assert.deepEqual(r.writer.gapFrames, { from: 0, to: 0 });
  assert.equal(r.writer.frames.from, 2 * 16 * 512);
  assert.equal(r.writer.frames.to, 2 * 16 * 512);
  await Deno.remove(r.dir, { recursive: true });
});

/** `both` with fragment slots `missing` taken from a stream that has only the agent's track (same timing and samples). */
function customerMissing(slots: number, missing: number[]) {
  const both = connectStream({ fragments: slots });
  const toOnly = connectStream({ fragments: slots, tracks: ["AUDIO_TO_CUSTOMER"] });
  const bytes = concat(both.fragments.map((f, i) => missing.includes(i) ? toOnly.fragments[i].bytes : f.bytes));
  const exp = expectedPcm(both);
  // The customer's file: silence where its track is missing.
  const block = 512 * 2;
  const from = exp.from!.slice();
  for (const i of missing) from.fill(0, i * 16 * block, (i + 1) * 16 * block);
  return { bytes, from, to: exp.to! };
}

Deno.test("one direction missing for longer than --max-gap: filled (the other has audio then), both on one timeline", async () => {
  // Was: the customer's 5.12 s gap shifted the shared timeline, so the agent's
  // next 5.12 s of audio counted as overlap and were dropped.
  const c = customerMissing(12, [2, 3, 4, 5, 6]);
  const r = await runPipeline(c.bytes, { demux: { maxGapMs: 3000 }, writer: { stereo: true } });
  assert.equal(r.error, undefined);
  sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, c.from, "from_customer");
  sameBytes((await readWav(`${r.dir}/to_customer.wav`)).data, c.to, "to_customer");
  assert.deepEqual(r.writer.overlapFrames, { from: 0, to: 0 });
  assert.deepEqual(r.writer.gapFrames, { from: 5 * 16 * 512, to: 0 });
  sameBytes(
    (await readWav(`${r.dir}/stereo.wav`)).data,
    interleave(c.from, c.to),
    "stereo: the two files side by side",
  );
  await Deno.remove(r.dir, { recursive: true });
});

/** A fragment of 20 ms blocks (160 frames each) from `startMs` to `endMs`; `has(track, t)` says which are present. */
function blocksFragment(index: number, startMs: number, endMs: number, has: (track: 1 | 2, t: number) => boolean) {
  const f = new Fragment(index, index * 100000);
  f.tracks = [{ number: 1, name: "AUDIO_TO_CUSTOMER" }, { number: 2, name: "AUDIO_FROM_CUSTOMER" }];
  f.tags.push({ name: "ContactId", value: "c", position: "before", offset: 0 });
  for (let t = startMs; t < endMs; t += 20) {
    for (const track of [1, 2] as const) {
      if (!has(track, t)) continue;
      f.blockTable.push({
        track,
        timecode: 0,
        timeMs: t,
        keyframe: true,
        invisible: false,
        discardable: false,
        lacing: "none",
        frames: [new Uint8Array(320).fill(1)],
        offset: 0,
        simple: true,
      });
    }
  }
  return f;
}

Deno.test("max-gap: a gap is judged against both directions' audio, also the other's in the same fragment", () => {
  const total = (d: ConnectDemuxer, frags: Fragment[]) => {
    const t = { from: 0, to: 0, overlap: 0, capped: 0 };
    for (const f of frags) {
      const it = d.fragment(f);
      assert.ok(it.kind === "audio");
      t.from += it.from!.frames;
      t.to += it.to!.frames;
      t.overlap += it.from!.overlapFrames + it.to!.overlapFrames;
    }
    t.capped = d.cappedGaps;
    return t;
  };
  // A 98 s hole in the whole call: skipped from where both stopped (2 s) to where the
  // first resumes (the agent, 100.0 s), whichever is placed first. Was: skipped to the
  // customer's 100.5 s, and the agent's first 500 ms dropped as overlap.
  for (const [fromAt, toAt] of [[100500, 100000], [100000, 100500]]) {
    const t = total(new ConnectDemuxer(), [
      blocksFragment(0, 0, 2000, () => true),
      blocksFragment(1, 100000, 102000, (track, ms) => ms >= (track === 2 ? fromAt : toAt)),
    ]);
    assert.deepEqual(t, { from: 32000, to: 32000, overlap: 0, capped: 1 }, `from ${fromAt}, to ${toAt}`);
  }
  // The customer misses 0.8 s inside a fragment while the agent talks: always filled,
  // whatever --max-gap (was: skipped, and 0.8 s of the agent's audio dropped).
  for (const maxGapMs of [0, 100, 60000]) {
    const frags = [0, 1, 2, 3].map((i) =>
      blocksFragment(i, i * 2000, (i + 1) * 2000, (track, ms) => track === 1 || ms < 2200 || ms >= 3000)
    );
    assert.deepEqual(total(new ConnectDemuxer({ maxGapMs }), frags), {
      from: 64000,
      to: 64000,
      overlap: 0,
      capped: 0,
    });
  }
});

Deno.test("fragments longer than the stereo lag bound (5 s): stereo.wav holds both directions whole", async () => {
  // Was: a fragment's customer audio went in first, past the bound, and the agent's
  // audio for the padded places was then dropped as late.
  for (const blocksPerTrack of [70, 100, 200]) {
    const s = connectStream({ fragments: 3, blocksPerTrack });
    const r = await runPipeline(s.bytes, { writer: { stereo: true } });
    const exp = expectedPcm(s);
    sameBytes(
      (await readWav(`${r.dir}/stereo.wav`)).data,
      interleave(exp.from!, exp.to!),
      `stereo, fragments of ${blocksPerTrack * 64} ms`,
    );
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("max-gap: a hole inside one fragment is skipped on both directions alike, none of either's audio lost", () => {
  // Was: the direction placed first skipped the hole and shifted the shared timeline at
  // once, so the other direction's audio before the hole was placed the hole's length
  // too early and dropped as overlap (with --max-gap 0, any hole of a block or more).
  const cases: [number, [number, number][]][] = [
    [100, [[1000, 1500]]],
    [0, [[1000, 1500]]],
    [0, [[400, 420], [1000, 1500], [1700, 1900]]],
    [250, [[400, 420], [1000, 1500], [1700, 1900]]],
  ];
  for (const [maxGapMs, holes] of cases) {
    const inHole = (ms: number) => holes.some(([a, b]) => ms >= a && ms < b);
    const d = new ConnectDemuxer({ maxGapMs });
    const frags = [0, 1].map((i) => blocksFragment(i, i * 2000, (i + 1) * 2000, (_, ms) => !inHole(ms % 2000)));
    const got = { from: 0, to: 0, overlap: 0, gapFrames: 0, capped: 0 };
    const starts: number[] = [];
    for (const f of frags) {
      const it = d.fragment(f);
      assert.ok(it.kind === "audio");
      for (const a of [it.from!, it.to!]) {
        got.overlap += a.overlapFrames;
        got.gapFrames += a.gapFrames;
      }
      got.from += it.from!.frames;
      got.to += it.to!.frames;
      starts.push(it.from!.startFrame, it.to!.startFrame);
    }
    got.capped = d.cappedGaps;
    const skipped = holes.filter(([a, b]) => b - a > maxGapMs);
    const filled = holes.filter(([a, b]) => b - a <= maxGapMs);
    const ms = (hs: [number, number][]) => hs.reduce((s, [a, b]) => s + b - a, 0);
    // Per direction: 4 s of blocks less the holes, plus the filled holes' silence.
    const frames = 8 * (4000 - 2 * ms(skipped));
    assert.deepEqual(got, {
      from: frames,
      to: frames,
      overlap: 0,
      gapFrames: 2 * 2 * 8 * ms(filled),
      capped: 2 * skipped.length,
    }, `max-gap ${maxGapMs} ms, holes ${JSON.stringify(holes)}`);
    // Each fragment starts both directions at the same place.
    assert.equal(starts[0], starts[1]);
    assert.equal(starts[2], starts[3]);
    assert.equal(d.position("from"), d.position("to"));
  }
});

Deno.test("max-gap, 300 random streams of dropouts: each direction is the model's timeline, byte for byte", () => {
  // The model: every block at its time less the holes before it, where a hole is a
  // stretch longer than the limit (--max-gap, at least the 2 ms tolerance) that no
  // block of either direction covers; silence between a direction's blocks.
  const SLOT = 20, FRAMES = 160, TOL = 16;
  const rnd = seededInts(4242);
  for (let run = 0; run < 300; run++) {
    const maxGapMs = [0, 20, 100, 300, 1000][rnd(5)];
    const limit = Math.max((maxGapMs * 8000) / 1000, TOL);
    const fragments = 1 + rnd(4), slots = 100;
    // Runs of present and missing slots per track.
    const present = [1, 2].map(() => {
      const p: boolean[] = [];
      while (p.length < fragments * slots) {
        const on = rnd(3) > 0, len = 1 + rnd(on ? 40 : 30);
        for (let k = 0; k < len; k++) p.push(on);
      }
      return p.slice(0, fragments * slots);
    });
    const value = (track: number, slot: number) => (track * 7 + slot) % 251 + 1;
    const frags: Fragment[] = [];
    for (let i = 0; i < fragments; i++) {
      const f = new Fragment(i, i * 100000);
      f.tracks = [{ number: 1, name: "AUDIO_TO_CUSTOMER" }, { number: 2, name: "AUDIO_FROM_CUSTOMER" }];
      for (let s = i * slots; s < (i + 1) * slots; s++) {
        for (const track of [1, 2]) {
          if (!present[track - 1][s]) continue;
          f.blockTable.push({
            track,
            timecode: 0,
            timeMs: s * SLOT,
            keyframe: true,
            invisible: false,
            discardable: false,
            lacing: "none",
            frames: [new Uint8Array(2 * FRAMES).fill(value(track, s))],
            offset: 0,
            simple: true,
          });
        }
      }
      frags.push(f);
    }
    // Model.
    const used = present[0].map((p, s) => p || present[1][s]);
    const first = used.indexOf(true);
    const shift: number[] = [];
    let covered = first, skipped = 0;
    for (let s = first; s >= 0 && s < used.length; s++) {
      if (!used[s]) continue;
      if ((s - covered) * FRAMES > limit) skipped += s - covered;
      shift[s] = skipped;
      covered = s + 1;
    }
    const expected = (track: number) => {
      const out: number[] = [];
      if (first < 0) return out;
      for (let s = first; s < used.length; s++) {
        if (!present[track - 1][s]) continue;
        const at = (s - first - shift[s]) * FRAMES;
        while (out.length < at) out.push(0);
        for (let k = 0; k < FRAMES; k++) out.push(value(track, s));
      }
      return out;
    };
    // Demultiplexed.
    const d = new ConnectDemuxer({ maxGapMs });
    const got: Record<"from" | "to", number[]> = { from: [], to: [] };
    for (const f of frags) {
      const it = d.fragment(f);
      assert.ok(it.kind === "audio");
      for (const dir of ["from", "to"] as const) {
        for (const p of it[dir]?.pieces ?? []) {
          if (typeof p === "number") { for (let k = 0; k < p; k++) got[dir].push(0); }
          else for (let k = 0; k < p.length; k += 2) got[dir].push(p[k]);
        }
      }
    }
    const label = `run ${run}: max-gap ${maxGapMs} ms, ${fragments} fragment(s)`;
    assert.deepEqual(got.from, expected(2), `${label}: from`);
    assert.deepEqual(got.to, expected(1), `${label}: to`);
  }
});

/** Demultiplex `frags` and write them, with stereo.wav, into a new temporary directory. */
async function writeWithStereo(frags: Fragment[]): Promise<{ dir: string; writer: CallWriter }> {
  const dir = await Deno.makeTempDir();
  const writer = new CallWriter({ outDir: dir, format: "wav", stereo: true, tracks: "both", force: false });
  writer.prepare();
  const d = new ConnectDemuxer();
  for (const f of frags) {
    const it = d.fragment(f);
    assert.ok(it.kind === "audio");
    writer.write(it);
  }
  writer.close();
  return { dir, writer };
}

Deno.test("ConnectDemuxer: maxGapMs and toleranceMs are checked (was: NaN or negative values silently misplaced audio)", () => {
  for (const bad of [-1, -0.5, NaN]) {
    assert.throws(
      () => new ConnectDemuxer({ maxGapMs: bad }),
      (e) => e instanceof RangeError && /maxGapMs/.test(e.message),
    );
  }
  for (const bad of [-5, NaN, Infinity]) {
    assert.throws(
      () => new ConnectDemuxer({ toleranceMs: bad }),
      (e) => e instanceof RangeError && /toleranceMs/.test(e.message),
    );
  }
  // Allowed: 0, fractions, and an infinite maxGapMs (never skip a hole).
  new ConnectDemuxer({ maxGapMs: 0, toleranceMs: 0 });
  new ConnectDemuxer({ maxGapMs: Infinity, toleranceMs: 0.5 });
});

Deno.test("CallWriter: --stereo on a stream of 2-channel tracks is refused before any file exists", async () => {
  const dir = await Deno.makeTempDir();
  const frags = [];
  for await (const f of assembleFragments([connectStream({ fragments: 2, channels: 2 }).bytes])) frags.push(f);
  const writer = new CallWriter({ outDir: dir, stereo: true });
  writer.prepare();
  const item = new ConnectDemuxer().fragment(frags[0]);
  assert.ok(item.kind === "audio");
  assert.throws(
    () => writer.write(item),
    (e) => e instanceof UsageError && /^stereo: true needs mono tracks/.test(e.message),
  );
  writer.close(false); // a failed run
  assert.deepEqual([...Deno.readDirSync(dir)], [], "no empty file blocks a retry");
  assert.deepEqual(writer.written, []);
  // Was: all three files were created first, so the retry without --stereo was refused.
  const retry = new CallWriter({ outDir: dir });
  retry.prepare();
  retry.write(item);
  retry.close();
  assert.equal((await readWav(`${dir}/from_customer.wav`)).info.channels, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CallWriter: output paths for any spelling of the directory; format, tracks, stereo and force default", () => {
  const cases: [string, string][] = [
    ["out", "out/from_customer.wav"],
    ["out/", "out/from_customer.wav"],
    ["out//", "out/from_customer.wav"],
    ["/", "/from_customer.wav"], // was ./from_customer.wav: the working directory, not the root
    ["//", "/from_customer.wav"],
    ["", "./from_customer.wav"],
    ["/tmp/x/", "/tmp/x/from_customer.wav"],
  ];
  for (const [outDir, first] of cases) {
    const w = new CallWriter({ outDir });
    assert.deepEqual(w.paths, [first, first.replace("from_customer", "to_customer")], JSON.stringify(outDir));
    assert.equal(w.keeps("from") && w.keeps("to"), true);
  }
  assert.deepEqual(new CallWriter({ outDir: "o", format: "raw", tracks: "to", stereo: true }).paths, [
    "o/to_customer.raw",
    "o/stereo.raw",
  ]);
});

Deno.test("stereo: a side that starts a fragment more than 4 s behind the other loses nothing", async () => {
  // Was (pushing the sides in strict turns): the side ahead ran past the 5 s lag bound at
  // every turn, and the other side's audio for the padded places was dropped as late.
  for (const [leadMs, lengthMs] of [[4500, 12000], [6000, 8000]]) {
    const frags = [
      blocksFragment(0, 0, 2000, () => true),
      // The agent (track 1) stops `leadMs` before the customer in fragment 1.
      blocksFragment(1, 2000, 4000 + leadMs, (track, ms) => track === 2 || ms < 4000),
      blocksFragment(2, 4000 + leadMs, 4000 + leadMs + lengthMs, () => true),
    ];
    const { dir } = await writeWithStereo(frags);
    const from = (await readWav(`${dir}/from_customer.wav`)).data;
    const to = (await readWav(`${dir}/to_customer.wav`)).data;
    sameBytes((await readWav(`${dir}/stereo.wav`)).data, interleave(from, to), `lead ${leadMs} ms`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stereo: audio that comes more than 5 s after the other side's is counted as left out of the mix", async () => {
  // Fragment 0 holds only the agent's 0–8 s; fragment 1 the customer's 0–8 s (late) and both 8–10 s.
  const frags = [
    blocksFragment(0, 0, 8000, (track) => track === 1),
    blocksFragment(1, 0, 10000, (track, ms) => ms >= 8000 || track === 2),
  ];
  const { dir, writer: w } = await writeWithStereo(frags);
  // The mix padded the customer's first 3 s (8 s ahead, 5 s allowed); its audio for them came later.
  assert.equal(w.stereoLate, 3 * 8000);
  assert.equal((await readWav(`${dir}/from_customer.wav`)).data.length, 10 * 8000 * 2, "the mono file holds it all");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a gap in both directions longer than the stereo lag bound (5 s): stereo.wav stays aligned", async () => {
  // Was: the customer's gap went out against padding on the agent's side, whose
  // own gap then landed after it: the agent's audio came 5 s late.
  for (const omit of [[2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]]) {
    const s = connectStream({ fragments: omit.length + 5, omit });
    const r = await runPipeline(s.bytes, { writer: { stereo: true } });
    const exp = expectedPcm(s);
    const from = await readWav(`${r.dir}/from_customer.wav`);
    sameBytes(from.data, exp.from!, "from_customer");
    sameBytes(
      (await readWav(`${r.dir}/stereo.wav`)).data,
      interleave(exp.from!, exp.to!),
      `stereo, ${omit.length} missing`,
    );
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("input ending at a block boundary before the trailing Tags that carry the ContactId: that fragment is not written", async () => {
  // Was: cut inside a block it was contact-unknown, but cut between blocks
  // (or right after the Cluster) the fragment counted as whole and its audio,
  // which may be another contact's, was written as the followed contact's.
  for (const position of ["after", "both"] as const) {
    const s = connectStream({ fragments: 3, tagsPosition: position, contactIds: "aaa" });
    const last = s.fragments[2];
    const endOf = (k: number) => {
      const pcm = last.blocks[k].pcm;
      return last.offset + pcm.byteOffset - last.bytes.byteOffset + pcm.length;
    };
    for (const k of [10, last.blocks.length - 1]) {
      const cut = s.bytes.subarray(0, endOf(k));
      const r = await runPipeline(cut);
      assert.equal(r.error, undefined);
      const stop = r.items.at(-1)!;
      assert.ok(stop.kind === "stop");
      if (position === "after") {
        assert.equal(stop.reason, "contact-unknown", `cut after block ${k}`);
        assert.equal(r.items.filter((i) => i.kind === "audio").length, 2);
        const exp = expectedPcm(s, { untilIndex: 2 });
        sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, exp.from!, "from: fragments 0-1 only");
      } else {
        // The ContactId came before the Cluster: the fragment's owner is known; it is flushed.
        assert.equal(stop.reason, "end-of-input", `cut after block ${k}`);
        assert.equal(r.items.filter((i) => i.kind === "audio").length, 3);
      }
      await Deno.remove(r.dir, { recursive: true });
      // Not following a contact: written either way.
      const all = await runPipeline(cut, { demux: { followStream: true } });
      assert.equal(all.items.filter((i) => i.kind === "audio").length, 3);
      await Deno.remove(all.dir, { recursive: true });
    }
  }
});

Deno.test("ContactId switch ends the stream before the other contact's audio", async () => {
  const s = connectStream({ fragments: 5, contactIds: ["aaa", "aaa", "bbb", "bbb", "aaa"] });
  const r = await checkStream(s, {}, { untilIndex: 2 });
  const stop = r.items.at(-1)!;
  assert.ok(stop.kind === "stop");
  assert.equal(stop.reason, "contact-changed");
  assert.equal(stop.contactId, "aaa");
  assert.equal(stop.fragment?.contactId, "bbb");
  assert.equal(r.items.filter((i) => i.kind === "audio").length, 2);
});

Deno.test("a fragment whose ContactId before its Cluster differs from the one after ends the contact, unwritten", async () => {
  // Was: the first ContactId tag decided, so audio tagged as another contact's after its
  // Cluster was written into the followed contact's files.
  const s = connectStream({ fragments: 4, contactIds: "aaa" });
  const enc = new TextEncoder();
  /** Fragment `i` with its first or last "aaa" (the ContactId before or after the Cluster) made "bbb". */
  const mixed = (i: number, which: "first" | "last") => {
    const b = s.fragments[i].bytes.slice();
    const text = new TextDecoder("latin1").decode(b);
    const at = which === "first" ? text.indexOf("aaa") : text.lastIndexOf("aaa");
    b.set(enc.encode("bbb"), at);
    return b;
  };
  for (const which of ["first", "last"] as const) {
    for (const [index, demux] of [[2, {}], [2, { contactId: "aaa" }], [0, {}]] as const) {
      const bytes = concat(s.fragments.map((f, i) => i === index ? mixed(i, which) : f.bytes));
      const r = await runPipeline(bytes, { demux });
      const label = `fragment ${index}'s ${which} ContactId, ${JSON.stringify(demux)}`;
      assert.equal(r.error, undefined, label);
      const stop = r.items.at(-1)!;
      assert.ok(stop.kind === "stop" && stop.reason === "contact-changed", label);
      assert.equal(stop.fragment?.offset, s.fragments[index].offset, label);
      // The followed contact: given, else the first fragment's first ContactId.
      const followed = index === 0 && which === "first" ? "bbb" : "aaa";
      assert.equal(stop.contactId, followed, label);
      assert.equal(stop.nextContactId, followed === "aaa" ? "bbb" : "aaa", label);
      assert.equal(r.writer.frames.from, index * 16 * 512, label);
      assert.equal(r.writer.frames.to, index * 16 * 512, label);
      await Deno.remove(r.dir, { recursive: true });
    }
  }
});

Deno.test("an empty ContactId tag says nothing: the fragment's next one decides", () => {
  // Was: an empty ContactId before the Cluster hid another contact's after it, and the fragment was written.
  for (const contactId of [undefined, "c"]) {
    const d = new ConnectDemuxer({ contactId });
    const frags = [0, 1, 2].map((i) => blocksFragment(i, i * 1000, (i + 1) * 1000, () => true));
    frags[1].tags[0] = { ...frags[1].tags[0], value: "" }; // "" before, nothing after: keeps the contact
    frags[2].tags[0] = { ...frags[2].tags[0], value: "" };
    frags[2].tags.push({ name: "ContactId", value: "d", position: "after", offset: 0 });
    const items = frags.map((f) => d.fragment(f));
    assert.deepEqual(items.map((i) => i.kind), ["audio", "audio", "stop"]);
    const stop = items[2];
    assert.ok(stop.kind === "stop");
    assert.equal(stop.reason, "contact-changed");
    assert.equal(stop.contactId, "c");
    assert.equal(stop.nextContactId, "d");
  }
});

Deno.test("a fragment cut off before its ContactId tag is not written while a contact is followed", async () => {
  // ContactId only after the Cluster; the input ends inside fragment 2's Cluster (another contact's).
  const s = connectStream({ fragments: 4, tagsPosition: "after", contactIds: ["aaa", "aaa", "bbb", "bbb"] });
  const third = s.fragments[2];
  const cut = s.bytes.subarray(0, third.offset + Math.floor(third.bytes.length / 2));
  for (const demux of [{}, { contactId: "aaa" }]) {
    const r = await runPipeline(cut, { demux });
    assert.equal(r.error, undefined);
    assert.equal(r.writer.frames.from, 2 * 16 * 512);
    assert.equal(r.writer.frames.to, 2 * 16 * 512);
    const stop = r.items.at(-1)!;
    assert.ok(stop.kind === "stop" && stop.reason === "contact-unknown");
    assert.equal(stop.fragment?.offset, third.offset);
    assert.equal(stop.fragment?.complete, false);
    assert.equal(stop.contactId, "aaa");
    await Deno.remove(r.dir, { recursive: true });
  }
  // Not following a contact: the truncated fragment's whole blocks are written, as before.
  const all = await runPipeline(cut, { demux: { followStream: true } });
  assert.ok(all.writer.frames.from > 2 * 16 * 512);
  const end = all.items.at(-1)!;
  assert.ok(end.kind === "stop" && end.reason === "end-of-input");
  await Deno.remove(all.dir, { recursive: true });
  // ContactId before the Cluster: the cut fragment's contact is known, and it is another's.
  const before = connectStream({ fragments: 4, tagsPosition: "before", contactIds: ["aaa", "aaa", "bbb", "bbb"] });
  const b = before.fragments[2];
  const r = await runPipeline(before.bytes.subarray(0, b.offset + Math.floor(b.bytes.length / 2)));
  const changed = r.items.at(-1)!;
  assert.ok(changed.kind === "stop" && changed.reason === "contact-changed");
  assert.equal(r.writer.frames.from, 2 * 16 * 512);
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("explicit target ContactId: a first fragment of another contact ends it with no audio", async () => {
  const s = connectStream({ fragments: 3, contactIds: ["aaa", "bbb", "bbb"] });
  const r = await runPipeline(s.bytes, { demux: { contactId: "bbb" } });
  assert.equal(r.writer.frames.from, 0);
  const stop = r.items.at(-1)!;
  assert.ok(stop.kind === "stop" && stop.reason === "contact-changed");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("--follow-stream keeps going across contacts; fragments without ContactId keep the contact", async () => {
  const s = connectStream({ fragments: 4, contactIds: ["aaa", null, "bbb", "bbb"] });
  const r = await checkStream(s, { demux: { followStream: true } });
  assert.equal(r.writer.fragments, 4);
  const r2 = await checkStream(connectStream({ fragments: 3, contactIds: ["aaa", null, "aaa"] }));
  assert.equal(r2.writer.fragments, 3);
});

Deno.test("in-band error fragment: KvsStreamError naming the code; earlier audio kept valid", async () => {
  const s = connectStream({ fragments: 4, errorAt: { index: 2, code: "4000", id: 7 } });
  const r = await runPipeline(s.bytes);
  assert.ok(r.error instanceof KvsStreamError);
  assert.equal(r.error.code, "4000");
  assert.equal(r.error.exitCode, 5);
  assert.match(r.error.message, /4000/);
  // Where, as data (was: only in the message).
  assert.equal(r.error.offset, s.fragments[2].offset);
  assert.equal(r.error.fragment?.kvs.errorCode, "4000");
  assert.equal(r.error.fragment?.index, 2);
  const exp = expectedPcm(s, { untilIndex: 2 });
  sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, exp.from!, "from");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("truncated input: the last fragment is flagged incomplete and only its whole blocks are written", async () => {
  const s = connectStream({ fragments: 3 });
  const last = s.fragments[2];
  const blk = last.blocks[5];
  const blkEnd = blk.pcm.byteOffset - s.bytes.byteOffset + blk.pcm.length;
  const cut = blkEnd + 300; // inside the next block
  const r = await runPipeline(s.bytes.subarray(0, cut));
  const audio = r.items.filter((i) => i.kind === "audio");
  assert.equal(audio.length, 3);
  assert.equal(audio[2].kind === "audio" && audio[2].fragment.complete, false);
  const exp = expectedPcm(s);
  const whole = last.blocks.slice(0, 6);
  const fromBlocks = whole.filter((b) => b.dir === "from").length;
  const toBlocks = whole.filter((b) => b.dir === "to").length;
  const from = (await readWav(`${r.dir}/from_customer.wav`)).data;
  const to = (await readWav(`${r.dir}/to_customer.wav`)).data;
  assert.equal(from.length, (2 * 16 + fromBlocks) * 1024);
  assert.equal(to.length, (2 * 16 + toBlocks) * 1024);
  sameBytes(from, exp.from!.subarray(0, from.length), "from prefix");
  sameBytes(to, exp.to!.subarray(0, to.length), "to prefix");
  // With dropIncomplete (what pull uses), the cut fragment writes nothing.
  const r2 = await runPipeline(s.bytes.subarray(0, cut), { demux: { dropIncomplete: true } });
  assert.equal(r2.writer.frames.from, 2 * 16 * 512);
  await Deno.remove(r.dir, { recursive: true });
  await Deno.remove(r2.dir, { recursive: true });
});

Deno.test("known and unknown sizes, tags before/after only, EBML magic inside PCM: same PCM", async () => {
  await checkStream(connectStream({ fragments: 3, clusterSize: "known" }));
  await checkStream(connectStream({ fragments: 3, segmentSize: "known", clusterSize: "known" }));
  await checkStream(connectStream({ fragments: 3, tagsPosition: "before" }));
  await checkStream(connectStream({ fragments: 3, tagsPosition: "after" }));
  const r = await checkStream(connectStream({ fragments: 3, magicInPcm: true }));
  assert.equal(r.items.filter((i) => i.kind === "audio").length, 3);
});

Deno.test("fragments holding 15 or 16 blocks per track: one gapless timeline, byte-exact", async () => {
  const s = connectStream({ fragments: 9, blockCounts: [16, 15, 16], millisBehindNow: (i) => "9".repeat(1 + i) });
  assert.deepEqual(s.fragments.map((f) => f.blocks.length / 2), [16, 15, 16, 16, 15, 16, 16, 15, 16]);
  assert.equal(s.fragments[2].producerMs - s.fragments[1].producerMs, 15 * 64);
  const r = await checkStream(s);
  assert.deepEqual(r.writer.gaps, { from: 0, to: 0 });
  assert.deepEqual(r.writer.overlapFrames, { from: 0, to: 0 });
  assert.equal(r.writer.frames.from, 141 * 512);
  // Each fragment's MILLIS_BEHIND_NOW as generated, one digit longer each time.
  assert.deepEqual(
    r.items.flatMap((i) => i.kind === "audio" ? [i.fragment.kvs.millisBehindNow] : []),
    s.fragments.map((_, i) => Number("9".repeat(1 + i))),
  );
  // The same with a slot omitted: its 15 blocks become silence.
  const omitted = await checkStream(connectStream({ fragments: 9, blockCounts: [16, 15, 16], omit: [4] }));
  assert.deepEqual(omitted.writer.gapFrames, { from: 15 * 512, to: 15 * 512 });
});

Deno.test("rate and channels from MimeType, else the Audio element, else 8000 Hz mono", async () => {
  const r16 = await checkStream(connectStream({ fragments: 2, rate: 16000 }));
  assert.equal(r16.writer.format?.rate, 16000);
  assert.equal(r16.writer.format?.source, "mime-type");
  const ra = await checkStream(
    connectStream({ fragments: 2, rate: 16000, mimeType: null, audioElement: true, codecId: "A_PCM/INT/LIT" }),
  );
  assert.equal(ra.writer.format?.rate, 16000);
  assert.equal(ra.writer.format?.source, "audio-element");
  const rd = await checkStream(connectStream({ fragments: 2, mimeType: null }));
  assert.equal(rd.writer.format?.source, "default");
  assert.equal(rd.writer.format?.rate, 8000);
  // An Audio element without SamplingFrequency is 8000 Hz (Matroska's default), with its own Channels (was: 8000 Hz
  // mono, as if it had none: mkvmerge's copy of an 8 kHz stereo file was written as mono, half of it "overlap").
  const r2 = await checkStream(
    connectStream({
      fragments: 2,
      channels: 2,
      mimeType: null,
      audioElement: "no-rate",
      codecId: "A_PCM/INT/LIT",
    }),
  );
  assert.deepEqual(
    [r2.writer.format?.rate, r2.writer.format?.channels, r2.writer.format?.source],
    [8000, 2, "audio-element"],
  );
});

Deno.test("stereo.wav: left = from customer, right = to customer, interleaved", async () => {
  const s = connectStream({ fragments: 3, omit: [1] });
  const r = await runPipeline(s.bytes, { writer: { stereo: true } });
  const exp = expectedPcm(s);
  const st = await readWav(`${r.dir}/stereo.wav`);
  assert.equal(st.info.channels, 2);
  sameBytes(st.data, interleave(exp.from!, exp.to!), "stereo");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("--format raw writes headerless s16le", async () => {
  const s = connectStream({ fragments: 2 });
  const r = await runPipeline(s.bytes, { writer: { format: "raw" } });
  sameBytes(await Deno.readFile(`${r.dir}/from_customer.raw`), expectedPcm(s).from!, "raw from");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("chunk-boundary independence: every chunk size gives the same PCM", async () => {
  const s = connectStream({ fragments: 3, blocksPerTrack: 3, samplesPerBlock: 64, magicInPcm: true });
  const exp = expectedPcm(s);
  const sizes = [1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 31, 64, 127, 500, 1024, 4099, s.bytes.length];
  for (const size of sizes) {
    const r = await runPipeline(s.bytes, { chunkSize: size });
    sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, exp.from!, `from @${size}`);
    sameBytes((await readWav(`${r.dir}/to_customer.wav`)).data, exp.to!, `to @${size}`);
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("overlapping blocks are trimmed and counted; jitter within tolerance is absorbed", async () => {
  const pcm = (v: number, frames: number) => {
    const b = new Uint8Array(frames * 2);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < frames; i++) dv.setInt16(2 * i, v + i, true);
    return b;
  };
  const a = pcm(100, 512); // 64 ms at 8 kHz
  const b = pcm(2000, 512); // starts 32 ms in: 256 frames overlap
  const c = pcm(5000, 512); // 1 ms late: within tolerance
  const doc = concat([
    ebmlHeader(),
    el(ID.Segment, [
      el(ID.Tracks, [
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), uintEl(ID.TrackType, 2), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")]),
      ]),
      el(ID.Cluster, [
        uintEl(ID.Timecode, 1000),
        simpleBlock(1, 0, true, a),
        simpleBlock(1, 32, false, b),
        simpleBlock(1, 97, false, c),
      ]),
      tagsEl([["ContactId", "x"]]),
    ], { unknownSize: true }),
  ]);
  const r = await runPipeline(doc);
  const from = (await readWav(`${r.dir}/from_customer.wav`)).data;
  assert.deepEqual(r.writer.overlapFrames, { from: 256, to: 0 });
  assert.deepEqual(r.writer.gapFrames, { from: 0, to: 0 });
  sameBytes(from, concat([a, b.subarray(512), c]), "trimmed");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("a Cluster's blocks out of time order are placed by time; a fragment before audio already written is warned about", async () => {
  const pcm = (v: number) => {
    const b = new Uint8Array(512 * 2); // 64 ms at 8 kHz
    const dv = new DataView(b.buffer);
    for (let i = 0; i < 512; i++) dv.setInt16(2 * i, v + i, true);
    return b;
  };
  const blocks = [pcm(100), pcm(2000), pcm(5000), pcm(9000)];
  const tracks = el(ID.Tracks, [
    el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), uintEl(ID.TrackType, 2), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")]),
  ]);
  const doc = (timecode: number, order: number[], cid = "x") =>
    concat([
      ebmlHeader(),
      el(ID.Segment, [
        tracks,
        el(ID.Cluster, [uintEl(ID.Timecode, timecode), ...order.map((k) => simpleBlock(1, 64 * k, true, blocks[k]))]),
        tagsEl([["ContactId", cid]]),
      ], { unknownSize: true }),
    ]);
  // A verifier's stream: the blocks in reverse order lost three quarters of the audio as "overlaps" (exit 0).
  for (const order of [[3, 2, 1, 0], [2, 0, 3, 1], [0, 1, 2, 3]]) {
    const r = await runPipeline(doc(1000, order));
    const from = (await readWav(`${r.dir}/from_customer.wav`)).data;
    assert.deepEqual(r.writer.overlapFrames, { from: 0, to: 0 }, `order ${order}`);
    sameBytes(from, concat(blocks), `order ${order}`);
    const audio = r.items.find((i) => i.kind === "audio");
    assert.deepEqual(audio?.kind === "audio" && audio.warnings, [], `order ${order}`);
    await Deno.remove(r.dir, { recursive: true });
  }
  // A whole fragment before audio already written cannot be placed in a file written in order: its blocks are
  // dropped, and now said so with the fragment (it used to show only as a count in the summary).
  const r = await runPipeline(concat([doc(2000, [0, 1, 2, 3]), doc(1000, [0, 1, 2, 3]), doc(2192, [0])]));
  assert.deepEqual(r.writer.overlapFrames, { from: 4 * 512 + 512, to: 0 });
  const warned = r.items.flatMap((i) => i.kind === "audio" ? i.warnings : []);
  assert.deepEqual(warned, [
    "from: 4 block(s) lie wholly before audio already written (out of time order, or repeated); not written",
    "from: 1 block(s) lie wholly before audio already written (out of time order, or repeated); not written",
  ]);
  await Deno.remove(r.dir, { recursive: true });
  // An empty block there is no audio lost: no warning (the review's 10,000 empty blocks each said so).
  const empty = concat([
    ebmlHeader(),
    el(ID.Segment, [
      tracks,
      el(ID.Cluster, [uintEl(ID.Timecode, 1000), simpleBlock(1, 0, true, new Uint8Array(0))]),
      tagsEl([["ContactId", "x"]]),
    ], { unknownSize: true }),
  ]);
  const e = await runPipeline(concat([doc(2000, [0, 1, 2, 3]), empty]));
  assert.deepEqual(e.items.flatMap((i) => i.kind === "audio" ? i.warnings : []), []);
  await Deno.remove(e.dir, { recursive: true });
});

Deno.test("blocks on a track number no TrackEntry declares are warned about with their fragment; a declared other track is not", async () => {
  const a = new Uint8Array(1024).fill(1);
  const doc = concat([
    ebmlHeader(),
    el(ID.Segment, [
      el(ID.Tracks, [
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), uintEl(ID.TrackType, 2), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")]),
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 2), uintEl(ID.TrackType, 2), strEl(ID.Name, "AUDIO_TO_CUSTOMER")]),
        el(ID.TrackEntry, [uintEl(ID.TrackNumber, 3), uintEl(ID.TrackType, 1), strEl(ID.Name, "video")]),
      ]),
      el(ID.Cluster, [
        uintEl(ID.Timecode, 1000),
        simpleBlock(5, 0, true, a), // a verifier's damaged track byte: was dropped without a word, exit 0
        simpleBlock(2, 0, true, a),
        simpleBlock(3, 0, true, a),
        simpleBlock(1, 64, true, a),
        simpleBlock(5, 64, true, a),
        simpleBlock(7, 64, true, a),
      ]),
      tagsEl([["ContactId", "x"]]),
    ], { unknownSize: true }),
  ]);
  const r = await runPipeline(doc);
  const audio = r.items.find((i) => i.kind === "audio");
  assert.deepEqual(audio?.kind === "audio" && audio.warnings, [
    "block(s) on a track number that no TrackEntry declares (damaged?), not written: 2 on track 5, 1 on track 7",
  ]);
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("demuxer: errors name the input given as source; contactId with followStream is refused (library)", async () => {
  const s = connectStream({ fragments: 3, errorAt: { index: 1, code: "4000" } });
  const e = await (async () => {
    for await (const _ of demuxConnect(assembleFragments([s.bytes], { source: "in.mkv" }), { source: "in.mkv" })) {
      // audio of the first fragment
    }
  })().then(() => assert.fail("expected the in-band error"), (e) => e);
  assert.ok(e instanceof KvsStreamError);
  assert.match(e.message, /^in\.mkv: byte \d+: KVS sent an in-band error fragment at fragment \d{47}: .*4000/);
  assert.equal(e.message.split(": ")[1], `byte ${e.offset}`);
  // The data errors of a block (parsed where no name is known) carry the assembler's source too.
  const bad = connectStream({ fragments: 2 }).bytes.slice();
  const tokens = [];
  for await (const t of tokenize([bad])) if (t.name === "SimpleBlock") tokens.push(t);
  bad[tokens[3].offset + tokens[3].headerSize] = 0; // an invalid track number
  for (
    const run of [
      () => assembleFragments([bad], { source: "in.mkv" }),
      () => fragmentsFromTokens(tokenizeBatches([bad], { source: "in.mkv" }), { source: "in.mkv" }),
    ]
  ) {
    const d = await (async () => {
      for await (const _ of run()) { /* fragments */ }
    })().then(() => assert.fail("expected a DataError"), (e) => e);
    assert.ok(d instanceof DataError);
    assert.equal(d.source, "in.mkv");
    assert.match(d.message, new RegExp(`^in\\.mkv: byte ${tokens[3].offset}: SimpleBlock: invalid track number`));
  }
  // A library caller's contactId and followStream: the CLI refuses the pair; the demuxer took every contact.
  assert.throws(() => new ConnectDemuxer({ contactId: "b", followStream: true }), TypeError);
});

Deno.test("ConnectDemuxer: positions advance per direction; format is fixed by the first audio fragment", async () => {
  const s = connectStream({ fragments: 2 });
  const d = new ConnectDemuxer();
  for await (const f of assembleFragments(chunked(s.bytes, 999))) d.fragment(f);
  assert.equal(d.position("from"), 2 * 16 * 512);
  assert.equal(d.position("to"), 2 * 16 * 512);
  assert.equal(d.contactId, "87718f4a-d2ed-476a-ad11-f496ab09b3f8");
  assert.equal(d.format?.rate, 8000);
});

/** A fragment with these tracks, MimeType and one 4-byte block (2 frames: ¼ ms at 8 kHz) per track at `timeMs`. */
function layoutFragment(
  index: number,
  tracks: Track[],
  mime: string | undefined,
  timeMs = 1000 + index / 4,
): Fragment {
  const f = new Fragment(index, index * 100);
  f.tracks = tracks;
  if (mime !== undefined) f.tags.push({ name: "MimeType", value: mime, position: "before", offset: f.offset + 40 });
  for (const t of tracks) {
    f.addBlock({
      track: t.number,
      timecode: 0,
      timeMs,
      keyframe: true,
      invisible: false,
      discardable: false,
      lacing: "none",
      frames: [new Uint8Array([t.number, 0, t.number, 0])],
      offset: f.offset,
      simple: true,
    });
  }
  f.size = 100;
  return f;
}

Deno.test("FragmentLayout: same roles and format as mapTracks + streamFormat as tracks and MimeType change", () => {
  const names = [
    "AUDIO_FROM_CUSTOMER",
    "AUDIO_TO_CUSTOMER",
    " audio_from_customer ",
    "Audio_To_Customer",
    "video",
    undefined,
  ];
  const mimes = [
    "audio/L16;rate=8000;channels=1;",
    "audio/L16;rate=16000;channels=1;",
    "audio/L16;rate=16000;channels=2",
    "audio/L16;channels=2",
    "audio/L16; rate=abc",
    undefined,
  ];
  const audios = [
    undefined,
    { samplingFrequency: 8000 },
    { samplingFrequency: 16000, channels: 2 },
    { samplingFrequency: 16000, channels: 1 },
    { samplingFrequency: 16000 },
    { samplingFrequency: 16000, channels: 9 },
    { samplingFrequency: 44100.5 },
    { samplingFrequency: NaN },
    { channels: 1 },
  ];
  const rand = seededInts(12345);
  const freshTrack = (): Track => ({
    number: 1 + rand(4),
    name: names[rand(names.length)],
    audio: audios[rand(audios.length)],
  });
  const layout = new FragmentLayout();
  let tracks: Track[] = [freshTrack(), freshTrack()];
  let mime = mimes[0];
  for (let i = 0; i < 6000; i++) {
    // The second half: MimeTypes without a rate only, so the Audio elements decide the format.
    const mimeChoices = i < 3000 ? mimes : mimes.slice(3);
    if (i === 3000) mime = undefined;
    switch (rand(10)) {
      case 0: // the same Track objects in a new array (one document, many Clusters)
        tracks = tracks.slice();
        break;
      case 1: // fresh objects with equal fields (a GetMedia body: one document per fragment)
        tracks = tracks.map((t) => ({ ...t, audio: t.audio && { ...t.audio } }));
        break;
      case 2: // swapped
        tracks = tracks.slice().reverse();
        break;
      case 3: // renamed in place (same objects, same array)
        if (tracks.length > 0) tracks[rand(tracks.length)].name = names[rand(names.length)];
        break;
      case 4: // renumbered or a new Audio element, in place
        if (tracks.length > 0) {
          const t = tracks[rand(tracks.length)];
          if (rand(2) === 0) t.number = 1 + rand(4);
          else t.audio = audios[rand(audios.length)];
        }
        break;
      case 5: // a track added or removed
        tracks = rand(2) === 0 || tracks.length === 0 ? [...tracks, freshTrack()] : tracks.slice(1);
        break;
      case 6:
        mime = mimeChoices[rand(mimeChoices.length)];
        break;
      default: // unchanged
    }
    const f = layoutFragment(i, tracks, mime === undefined ? undefined : String(mime));
    const map = mapTracks(f.tracks);
    const roles = layout.roles(f.tracks);
    const what = `step ${i}: ${JSON.stringify(f.tracks)} ${mime}`;
    assert.equal(roles.hasFrom, map.from !== undefined, what);
    assert.equal(roles.hasTo, map.to !== undefined, what);
    if (map.from) assert.equal(roles.from, map.from.number, what);
    if (map.to) assert.equal(roles.to, map.to.number, what);
    const expected = streamFormat(f, [map.from, map.to].filter((t) => t !== undefined));
    assert.deepEqual(layout.format(f, roles), expected, what);
  }
});

Deno.test("ConnectDemuxer: renamed and swapped tracks and MimeType changes between fragments", () => {
  const d = new ConnectDemuxer();
  const from = "AUDIO_FROM_CUSTOMER", to = "AUDIO_TO_CUSTOMER";
  const steps: { tracks: Track[]; mime?: string; from?: number; to?: number; warnings: string[] }[] = [
    {
      tracks: [{ number: 1, name: to }, { number: 2, name: from }],
      mime: "audio/L16;rate=8000;",
      from: 2,
      to: 1,
      warnings: [],
    },
    // fresh objects, same fields
    {
      tracks: [{ number: 1, name: to }, { number: 2, name: from }],
      mime: "audio/L16;rate=8000;",
      from: 2,
      to: 1,
      warnings: [],
    },
    // swapped names
    {
      tracks: [{ number: 1, name: from }, { number: 2, name: to }],
      mime: "audio/L16;rate=8000;",
      from: 1,
      to: 2,
      warnings: [],
    },
    {
      tracks: [{ number: 1, name: from }, { number: 2, name: to }],
      mime: "audio/L16;rate=8000;",
      from: 1,
      to: 2,
      warnings: [],
    },
    // no MimeType: the Audio element, then the default
    {
      tracks: [{ number: 1, name: from, audio: { samplingFrequency: 8000 } }, { number: 2, name: to }],
      from: 1,
      to: 2,
      warnings: [],
    },
    { tracks: [{ number: 1, name: from }, { number: 2, name: to }], mime: "audio/L16;", from: 1, to: 2, warnings: [] },
    // one track renamed away, then renumbered
    {
      tracks: [{ number: 1, name: from }, { number: 2, name: "video" }],
      mime: "audio/L16;rate=8000;",
      from: 1,
      warnings: [],
    },
    {
      tracks: [{ number: 2, name: from }, { number: 1, name: "video" }],
      mime: "audio/L16;rate=8000;",
      from: 2,
      warnings: [],
    },
  ];
  steps.forEach((s, i) => {
    const item = d.fragment(layoutFragment(i, s.tracks, s.mime));
    assert.equal(item.kind, "audio");
    if (item.kind !== "audio") return;
    assert.equal(item.from?.track, s.from, `step ${i} from`);
    assert.equal(item.to?.track, s.to, `step ${i} to`);
    assert.deepEqual(item.warnings, s.warnings, `step ${i} warnings`);
    assert.equal(item.format.rate, 8000);
    // each block is 4 bytes of track-number samples: 2 frames from the right track
    if (s.from !== undefined) assert.deepEqual(item.from?.pieces, [new Uint8Array([s.from, 0, s.from, 0])]);
  });
});

Deno.test("a format said after audio was written at another ends the run; before any audio it replaces the one assumed", () => {
  const from = "AUDIO_FROM_CUSTOMER", to = "AUDIO_TO_CUSTOMER";
  const tracks = (): Track[] => [{ number: 1, name: from }, { number: 2, name: to }];
  // Placed at 8000 Hz (said), then 16000 Hz: refused where it changes, naming both formats.
  const d = new ConnectDemuxer();
  assert.equal(d.fragment(layoutFragment(0, tracks(), "audio/L16;rate=8000;")).kind, "audio");
  const changed = layoutFragment(1, tracks(), "audio/L16;rate=16000;channels=1;");
  const err = thrown(() => d.fragment(changed));
  assert.equal(err.offset, changed.tags[0].offset, "where the MimeType tag is");
  assert.match(err.message, /MimeType tag: the format changed to 16000 Hz 1 ch from the 8000 Hz 1 ch written so far: /);
  // Assumed (no MimeType, no Audio element), then said: refused too, saying it was assumed.
  const d2 = new ConnectDemuxer();
  d2.fragment(layoutFragment(0, tracks(), undefined));
  assert.throws(
    () =>
      d2.fragment(
        layoutFragment(1, [{ number: 1, name: from, audio: { samplingFrequency: 16000 } }, tracks()[1]], undefined),
      ),
    /Audio: the format changed to 16000 Hz 1 ch from the 8000 Hz 1 ch written so far \(assumed: no MimeType/,
  );
  // A fragment that says nothing keeps the format; one that says the same is fine.
  const d3 = new ConnectDemuxer();
  d3.fragment(layoutFragment(0, tracks(), "audio/L16;rate=16000;"));
  const same = d3.fragment(layoutFragment(1, tracks(), undefined));
  assert.equal(same.kind === "audio" && same.format.rate, 16000);
  // No audio placed yet (tracks, no blocks): a format said later replaces the one assumed.
  const d4 = new ConnectDemuxer();
  const empty = new Fragment(0, 0);
  empty.tracks = tracks();
  d4.fragment(empty);
  assert.equal(d4.format?.source, "default");
  const later = d4.fragment(layoutFragment(1, tracks(), "audio/L16;rate=16000;"));
  assert.equal(later.kind === "audio" && later.format.rate, 16000);
});

Deno.test("tracks kvsaudio cannot write as 16-bit PCM are refused where their document begins", () => {
  const from = "AUDIO_FROM_CUSTOMER", to = "AUDIO_TO_CUSTOMER";
  const cases: [Track, RegExp][] = [
    [
      { number: 1, name: from, codecId: "A_OPUS" },
      /track 1 "AUDIO_FROM_CUSTOMER" has CodecID A_OPUS: kvsaudio writes 16-bit/,
    ],
    [{ number: 1, name: from, codecId: "A_PCM/INT/BIG" }, /has CodecID A_PCM\/INT\/BIG/],
    [{ number: 1, name: from, codecId: "A_PCM/INT/LIT", audio: { bitDepth: 24 } }, /is 24-bit PCM/],
    [
      { number: 1, name: from, codecId: "A_PCM/INT/LIT", encoded: true },
      /compressed or encrypted \(ContentEncodings\)/,
    ],
    [{ number: 1, name: from, type: 1, codecId: "V_MPEG4/ISO/ASP" }, /is not an audio track \(TrackType 1\)/],
    [
      { number: 1, name: from, codecId: "A_PCM/INT/LIT", audio: { samplingFrequency: 16000, channels: 10 } },
      /has 10 channels/,
    ],
    [
      { number: 1, name: from, codecId: "A_AAC", audio: { samplingFrequency: 48000, channels: 2 } },
      /is A_AAC with an Audio element \(48000 Hz, 2 ch\) and no audio\/L16 MimeType tag: real AAC/,
    ],
  ];
  for (const [track, re] of cases) {
    const f = layoutFragment(12, [track, { number: 2, name: to }], undefined);
    const err = thrown(() => new ConnectDemuxer().fragment(f));
    assert.match(err.message, re, JSON.stringify(track));
    assert.match(err.message, /^byte 1200: TrackEntry: /);
  }
  // The two directions in different formats.
  const two = layoutFragment(0, [
    { number: 1, name: from, codecId: "A_PCM/INT/LIT", audio: { samplingFrequency: 16000 } },
    { number: 2, name: to, codecId: "A_PCM/INT/LIT", audio: { samplingFrequency: 8000 } },
  ], undefined);
  assert.throws(() => new ConnectDemuxer().fragment(two), /16000 Hz 1 ch but track 2 "AUDIO_TO_CUSTOMER" 8000 Hz 1 ch/);
  // Accepted: Connect's A_AAC with no Audio element; A_AAC with an Audio element under an audio/L16 MimeType;
  // 16-bit A_PCM/INT/LIT; an unnamed track of another codec (not written).
  for (
    const [tracks, mime] of [
      [[{ number: 1, name: from, codecId: "A_AAC", codecPrivate: Uint8Array.of(0x11, 0x90) }], undefined],
      [
        [{ number: 1, name: from, codecId: "A_AAC", audio: { samplingFrequency: 48000, channels: 2 } }],
        "audio/L16;rate=8000;",
      ],
      [
        [{ number: 1, name: from, codecId: "A_PCM/INT/LIT", audio: { samplingFrequency: 8000, bitDepth: 16 } }],
        undefined,
      ],
      [[{ number: 1, name: from }, { number: 3, name: "video", type: 1, codecId: "V_VP8" }], undefined],
    ] as [Track[], string | undefined][]
  ) {
    const item = new ConnectDemuxer().fragment(layoutFragment(0, tracks, mime));
    assert.equal(item.kind === "audio" && item.format.rate, 8000, JSON.stringify(tracks));
  }
});

/** The DataError `fn` throws. */
function thrown(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error("no DataError thrown");
}

Deno.test("plain files whose ContactId comes after their Clusters: another file's first Clusters are not written as this contact's", async () => {
  // Was: `cat A.mkv B.mkv` (mkvmerge files, global tags at the end) wrote B's first Clusters into A's WAVs.
  const doc = (contact: string, startMs: number, fill: number) =>
    concat([
      ebmlHeader(),
      el(ID.Segment, [
        el(ID.Info, [uintEl(ID.TimecodeScale, 1000000)]),
        namedTracks(),
        ...[0, 1, 2].map((c) =>
          el(ID.Cluster, [
            uintEl(ID.Timecode, startMs + c * 64),
            simpleBlock(1, 0, true, new Uint8Array(1024).fill(fill)),
            simpleBlock(2, 0, true, new Uint8Array(1024).fill(fill + 1)),
          ])
        ),
        tagsEl([["ContactId", contact]]),
      ]),
    ]);
  const bytes = concat([doc("c-a", 1000, 10), doc("c-b", 1192, 20)]);
  for (const chunkSize of [bytes.length, 777]) {
    const r = await runPipeline(bytes, { chunkSize });
    const stop = r.items.at(-1)!;
    assert.equal(stop.kind === "stop" && stop.reason, "contact-unknown");
    assert.equal(stop.kind === "stop" && stop.fragment?.document, 1);
    const from = await readWav(`${r.dir}/from_customer.wav`);
    sameBytes(from.data, new Uint8Array(3 * 1024).fill(10), "only c-a's three Clusters");
    await Deno.remove(r.dir, { recursive: true });
  }
  // The ContactId before the Clusters (each document's first fragment carries it): every Cluster is written.
  const before = (contact: string, startMs: number) =>
    concat([
      ebmlHeader(),
      el(ID.Segment, [
        namedTracks(["AUDIO_FROM_CUSTOMER"]),
        tagsEl([["ContactId", contact]]),
        ...[0, 1].map((c) =>
          el(ID.Cluster, [uintEl(ID.Timecode, startMs + c * 64), simpleBlock(1, 0, true, new Uint8Array(1024))])
        ),
      ]),
    ]);
  const r2 = await runPipeline(concat([before("c-a", 1000), before("c-a", 1128)]));
  assert.equal(r2.items.filter((i) => i.kind === "audio").length, 4);
  assert.equal(r2.items.at(-1)?.kind === "stop" && (r2.items.at(-1) as { reason: string }).reason, "end-of-input");
  await Deno.remove(r2.dir, { recursive: true });
});

Deno.test("bad data inside a fragment: its whole blocks before it are written (unless its contact cannot be told), then the error", async () => {
  // Was: the fragment holding the bad data was lost whole, e.g. a plain file's only Cluster for a damaged Cues.
  for (const tagsPosition of ["both", "after"] as const) {
    const s = connectStream({ fragments: 2, tagsPosition, continuationTokens: false });
    const bytes = s.bytes.slice();
    const f1 = s.fragments[1];
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const text = hex(bytes.subarray(f1.offset, f1.offset + f1.bytes.length));
    const cluster = text.indexOf("1f43b675") / 2;
    const tagsAfter = (text.indexOf("1254c367", 2 * cluster)) / 2;
    assert.ok(cluster > 0 && tagsAfter > cluster);
    bytes[f1.offset + tagsAfter] = 0x00; // not an element id
    const r = await runPipeline(bytes);
    assert.ok(r.error instanceof DataError, String(r.error));
    assert.equal((r.error as DataError).offset, f1.offset + tagsAfter);
    const exp = expectedPcm(s, { untilIndex: tagsPosition === "both" ? 2 : 1 });
    sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, exp.from!, `from, ContactId ${tagsPosition}`);
    sameBytes((await readWav(`${r.dir}/to_customer.wav`)).data, exp.to!, `to, ContactId ${tagsPosition}`);
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("two tracks with one direction's name: the first is written, the second warned about once", () => {
  // Was: the second was ignored without a word.
  const d = new ConnectDemuxer();
  const tracks =
    (): Track[] => [{ number: 1, name: "AUDIO_FROM_CUSTOMER" }, { number: 2, name: "audio_from_customer" }];
  const a = d.fragment(layoutFragment(0, tracks(), undefined));
  assert.deepEqual(a.kind === "audio" && a.warnings, [
    `track 2 "audio_from_customer" has the name of track 1 "AUDIO_FROM_CUSTOMER": only track 1's audio is written`,
  ]);
  assert.equal(a.kind === "audio" && a.from?.track, 1);
  const b = d.fragment(layoutFragment(1, tracks(), undefined));
  assert.deepEqual(b.kind === "audio" && b.warnings, []);
});

Deno.test("a MimeType that is not audio/L16, or whose rate or channels are no such number, is refused", () => {
  // A tester: audio/L24, audio/PCMU, rate=0 or channels=200 were written as 16-bit 8000 Hz mono, exit 0.
  const tracks = (): Track[] => [{ number: 1, name: "AUDIO_FROM_CUSTOMER" }];
  const cases: [string, RegExp][] = [
    // (At the MimeType tag, not where the fragment begins: a library tester.)
    ["audio/L24;rate=8000;", /^byte 1240: MimeType tag: the MimeType tag says audio\/L24: kvsaudio writes 16-bit PCM/],
    ["audio/PCMU;rate=8000", /says audio\/PCMU:/],
    ["x", /says x:/],
    ["audio/L16;rate=0;", /the MimeType tag's rate is no whole number of Hz kvsaudio can write \(1 to 384000\)/],
    ["audio/L16;rate=8000;channels=200;", /the MimeType tag's channels is no channel count kvsaudio can write/],
    ["audio/L16;rate=abc;", /rate is no whole number/],
  ];
  for (const [mime, re] of cases) {
    assert.match(thrown(() => new ConnectDemuxer().fragment(layoutFragment(12, tracks(), mime))).message, re, mime);
  }
  for (const mime of ["audio/L16;rate=8000;channels=1;", "AUDIO/l16; rate=16000", "audio/L16;", "audio/L16"]) {
    assert.equal(new ConnectDemuxer().fragment(layoutFragment(0, tracks(), mime)).kind, "audio", mime);
  }
});

Deno.test("demuxConnect: a stream with blocks on no track named for a direction ends in the not-Connect DataError", async () => {
  // A library tester: the CLI refused it (exit 3), but demuxConnect yielded items without audio and a quiet
  // end-of-input stop, so a program built on the library wrote two empty WAVs and said nothing.
  const bytes = connectStream({ fragments: 2 }).bytes.slice();
  renameDirections(bytes);
  const items: string[] = [];
  const e = await (async () => {
    try {
      for await (const item of demuxConnect(assembleFragments([bytes]))) items.push(item.kind);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(e instanceof DataError, String(e));
  assert.equal(e.offset, 0);
  assert.equal(e.element, "Tracks");
  assert.match(e.message, /^byte 0: Tracks: no audio: the 2 fragment\(s\) with blocks have no track named/);
  assert.match(e.message, /AUDIO_\w+_CUSTOMEX.*not an Amazon Connect stream$/);
  assert.deepEqual(items, ["audio", "audio"], "the fragments come first, without audio; no stop item");
  // A Connect stream ends as before.
  const kinds: string[] = [];
  for await (const item of demuxConnect(assembleFragments([connectStream({ fragments: 2 }).bytes]))) {
    kinds.push(item.kind);
  }
  assert.deepEqual(kinds, ["audio", "audio", "stop"]);
});

Deno.test("laced blocks are one run of samples, whatever sizes the lacing gives the frames; bad lacing writes none of its block", async () => {
  const tracks = el(ID.Tracks, [
    el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1), uintEl(ID.TrackType, 2), strEl(ID.Name, "AUDIO_FROM_CUSTOMER")]),
  ]);
  const pcm = (k: number) => Uint8Array.from({ length: 1024 }, (_, i) => (k * 31 + i * 7) & 0xff);
  const doc = (blocks: Uint8Array[]) =>
    concat([
      ebmlHeader(),
      el(ID.Segment, [
        tracks,
        tagsEl([["MimeType", "audio/L16;rate=8000;channels=1;"]]),
        el(ID.Cluster, [uintEl(ID.Timecode, 1000), ...blocks]),
        tagsEl([["ContactId", "x"]]),
      ], { unknownSize: true }),
    ]);
  // A foreign-MKV tester: 1,024-byte blocks laced as 101 + 923 bytes were read a frame at a time, the second one a
  // byte off: the whole file became noise, exit 0.
  for (const lacing of ["xiph", "ebml"] as const) {
    const r = await runPipeline(
      doc([0, 1, 2].map((k) => lacedBlock(1, 64 * k, 0x80, [pcm(k).subarray(0, 101), pcm(k).subarray(101)], lacing))),
    );
    sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, concat([pcm(0), pcm(1), pcm(2)]), lacing);
    assert.deepEqual(r.items.flatMap((i) => i.kind === "audio" ? i.warnings : []), [], lacing);
    await Deno.remove(r.dir, { recursive: true });
  }
  // Bad fixed lacing (1,024 bytes in 3 frames) in the middle of a fragment: the blocks before it are written, and
  // none of its bytes (was: its whole payload, lace byte included, as 512 samples of noise).
  const badLaced = lacedBlock(1, 64, 0x80, [pcm(1).subarray(0, 512), pcm(1).subarray(512)], "fixed");
  badLaced[badLaced.length - 1024 - 1] = 2; // the lace count (frames - 1), right before the data: 3 frames
  const r = await runPipeline(doc([simpleBlock(1, 0, true, pcm(0)), badLaced, simpleBlock(1, 128, true, pcm(2))]));
  assert.ok(r.error instanceof DataError, String(r.error));
  assert.match(r.error.message, /SimpleBlock: bad fixed lacing/);
  sameBytes((await readWav(`${r.dir}/from_customer.wav`)).data, pcm(0), "the block before it, and nothing of it");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("a MimeType tag and an Audio element that disagree: written as the tag says, with one warning", async () => {
  // A foreign-MKV tester: a 16 kHz tag over 8 kHz tracks gave choppy audio at exit 0 and no word of the conflict.
  const entry = (n: number, name: string) =>
    el(ID.TrackEntry, [
      uintEl(ID.TrackNumber, n),
      uintEl(ID.TrackType, 2),
      strEl(ID.Name, name),
      el(ID.Audio, [floatEl(ID.SamplingFrequency, 8000)]),
    ]);
  const tracks = el(ID.Tracks, [entry(1, "AUDIO_FROM_CUSTOMER"), entry(2, "AUDIO_TO_CUSTOMER")]);
  const doc = (tc: number, rate: number) =>
    concat([
      ebmlHeader(),
      el(ID.Segment, [
        tracks,
        tagsEl([["MimeType", `audio/L16;rate=${rate};channels=1;`], ["ContactId", "x"]]),
        el(ID.Cluster, [uintEl(ID.Timecode, tc), simpleBlock(1, 0, true, new Uint8Array(2048))]),
      ], { unknownSize: true }),
    ]);
  const r = await runPipeline(concat([doc(1000, 16000), doc(1064, 16000)]));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.items.flatMap((i) => i.kind === "audio" ? i.warnings : []), [
    "the MimeType tag says 16000 Hz 1 ch, but the tracks' Audio element 8000 Hz 1 ch: written as the MimeType tag says",
  ]);
  assert.equal((await readWav(`${r.dir}/from_customer.wav`)).info.rate, 16000);
  await Deno.remove(r.dir, { recursive: true });
  // Agreeing, no word.
  const ok = await runPipeline(concat([doc(1000, 8000), doc(1128, 8000)]));
  assert.deepEqual(ok.items.flatMap((i) => i.kind === "audio" ? i.warnings : []), []);
  await Deno.remove(ok.dir, { recursive: true });
});

Deno.test("pushed Blocks (Fragment.addBlock): frames in separate buffers are one run; a Block with no frame is no audio", async () => {
  const s = connectStream({ fragments: 1 });
  for (const variant of ["split", "empty"] as const) {
    const frags: Fragment[] = [];
    for await (const x of assembleFragments([s.bytes])) frags.push(x);
    const f = frags[0];
    const b = f.blocks[f.blocks.length - 1];
    const data = b.frames[0];
    // (A review: a Block with no frame threw a TypeError in the demuxer.)
    const frames = variant === "split" ? [data.slice(0, 3), data.slice(3)] : [];
    f.addBlock({ ...b, timecode: b.timecode + 64, timeMs: b.timeMs + 64, frames });
    const item = new ConnectDemuxer().fragment(f);
    assert.ok(item.kind === "audio");
    const track = b.track === item.from?.track ? item.from : item.to;
    const before = expectedPcm(s)[b.track === item.from?.track ? "from" : "to"]!.length / 2;
    assert.equal(track?.frames, before + (variant === "split" ? data.length / 2 : 0), variant);
    if (variant === "split") sameBytes(concat(track!.pieces.slice(-1) as Uint8Array[]), data, "the two frames as one");
  }
});
