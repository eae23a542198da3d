import assert from "node:assert/strict";
import { connectStream, expectedPcm } from "./support/connect_stream.ts";
import { concat, ebmlHeader, el, ID, simpleBlock, strEl, tagsEl, uintEl } from "./support/mkv_writer.ts";
import { chunked, firstDifference, interleave, readWav, runPipeline } from "./support/pipeline.ts";
import { KvsStreamError } from "../src/errors.ts";
import { parseMimeType } from "../src/connect/format.ts";
import { mapTracks } from "../src/connect/tracks.ts";
import { ConnectDemuxer } from "../src/connect/demuxer.ts";
import { assembleFragments } from "../src/mkv/assembler.ts";

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string) {
  const diff = firstDifference(actual, expected);
  assert.equal(diff, undefined, `${what}: ${diff}`);
}

async function checkStream(
  stream: ReturnType<typeof connectStream>,
  opts: Parameters<typeof runPipeline>[1] = {},
  expectOpts: Parameters<typeof expectedPcm>[1] = {},
) {
  const r = await runPipeline(stream.bytes, opts);
  const exp = expectedPcm(stream, expectOpts);
  const from = await readWav(`${r.dir}/from_customer.wav`);
  const to = await readWav(`${r.dir}/to_customer.wav`);
  assertBytes(from.data, exp.from ?? new Uint8Array(0), "from_customer");
  assertBytes(to.data, exp.to ?? new Uint8Array(0), "to_customer");
  await Deno.remove(r.dir, { recursive: true });
  return r;
}

Deno.test("parseMimeType: rate and channels, with or without the trailing ;", () => {
  assert.deepEqual(parseMimeType("audio/L16;rate=8000;channels=1;"), { type: "audio/L16", rate: 8000, channels: 1 });
  assert.deepEqual(parseMimeType("audio/L16;rate=16000;channels=2"), { type: "audio/L16", rate: 16000, channels: 2 });
  assert.deepEqual(parseMimeType("audio/L16; rate=abc"), { type: "audio/L16" });
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
  assertBytes(from.data, exp.from!, "from");
  assertBytes((await readWav(`${r.dir}/to_customer.wav`)).data, exp.to!, "to");
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
  assert.equal(r.writer.gaps, 2);
  assert.equal(r.writer.gapFrames, 2 * 2 * 16 * 512);
});

Deno.test("a gap longer than --max-gap is skipped, not filled, on both tracks", async () => {
  const s = connectStream({ fragments: 4, omit: [1, 2] });
  const r = await runPipeline(s.bytes, { demux: { maxGapMs: 1000 } });
  assert.equal(r.writer.gapFrames, 0);
  assert.equal(r.writer.frames.from, 2 * 16 * 512);
  assert.equal(r.writer.frames.to, 2 * 16 * 512);
  await Deno.remove(r.dir, { recursive: true });
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
  const exp = expectedPcm(s, { untilIndex: 2 });
  assertBytes((await readWav(`${r.dir}/from_customer.wav`)).data, exp.from!, "from");
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
  assertBytes(from, exp.from!.subarray(0, from.length), "from prefix");
  assertBytes(to, exp.to!.subarray(0, to.length), "to prefix");
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

Deno.test("rate and channels from MimeType, else the Audio element, else 8000 Hz mono", async () => {
  const r16 = await checkStream(connectStream({ fragments: 2, rate: 16000 }));
  assert.equal(r16.writer.format?.rate, 16000);
  assert.equal(r16.writer.format?.source, "mime-type");
  const ra = await checkStream(connectStream({ fragments: 2, rate: 16000, mimeType: null, audioElement: true }));
  assert.equal(ra.writer.format?.rate, 16000);
  assert.equal(ra.writer.format?.source, "audio-element");
  const rd = await checkStream(connectStream({ fragments: 2, mimeType: null }));
  assert.equal(rd.writer.format?.source, "default");
  assert.equal(rd.writer.format?.rate, 8000);
});

Deno.test("stereo.wav: left = from customer, right = to customer, interleaved", async () => {
  const s = connectStream({ fragments: 3, omit: [1] });
  const r = await runPipeline(s.bytes, { writer: { stereo: true } });
  const exp = expectedPcm(s);
  const st = await readWav(`${r.dir}/stereo.wav`);
  assert.equal(st.info.channels, 2);
  assertBytes(st.data, interleave(exp.from!, exp.to!), "stereo");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("--format raw writes headerless s16le", async () => {
  const s = connectStream({ fragments: 2 });
  const r = await runPipeline(s.bytes, { writer: { format: "raw" } });
  assertBytes(await Deno.readFile(`${r.dir}/from_customer.raw`), expectedPcm(s).from!, "raw from");
  await Deno.remove(r.dir, { recursive: true });
});

Deno.test("chunk-boundary independence: every chunk size gives the same PCM", async () => {
  const s = connectStream({ fragments: 3, blocksPerTrack: 3, samplesPerBlock: 64, magicInPcm: true });
  const exp = expectedPcm(s);
  const sizes = [1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 31, 64, 127, 500, 1024, 4099, s.bytes.length];
  for (const size of sizes) {
    const r = await runPipeline(s.bytes, { chunkSize: size });
    assertBytes((await readWav(`${r.dir}/from_customer.wav`)).data, exp.from!, `from @${size}`);
    assertBytes((await readWav(`${r.dir}/to_customer.wav`)).data, exp.to!, `to @${size}`);
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
  assert.equal(r.writer.overlapFrames, 256);
  assert.equal(r.writer.gapFrames, 0);
  assertBytes(from, concat([a, b.subarray(512), c]), "trimmed");
  await Deno.remove(r.dir, { recursive: true });
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
