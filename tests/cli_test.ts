import assert from "node:assert/strict";
import { connectStream, expectedPcm, renameDirections } from "./support/connect_stream.ts";
import {
  jsonLines,
  kvsaudio,
  kvsaudioCommand,
  kvsaudioInShell,
  MAIN,
  ROOT,
  RUN_ARGS,
  tempFile,
} from "./support/cli.ts";
import { readWav, sameBytes } from "./support/pipeline.ts";
import {
  concat,
  ebmlHeader,
  el,
  ID,
  liveDocument,
  namedTracks,
  simpleBlock,
  tagsEl,
  uintEl,
} from "./support/mkv_writer.ts";
import { indexOfBytes, makeFifo, openFifoWriter, withTempDir } from "./support/util.ts";
import { READ_SIZE } from "../src/cli/input.ts";
import { parseWavHeader } from "../src/audio/wav.ts";

const STACK = /^\s+at |Stack backtrace|error: Uncaught/m;

/** The per-fragment objects of `inspect --json` output. */
function fragmentObjects(text: string) {
  return jsonLines(text).filter((o) => o.index !== undefined && o.offset !== undefined);
}

/**
 * Wait (up to 20 s) until the WAV at `path` counts at least `bytes` bytes of
 * audio, and return its data; `what` names the wait in the failure.
 */
async function waitForAudio(path: string, bytes: number, what: string): Promise<Uint8Array> {
  for (const until = Date.now() + 20000;;) {
    const wav = await readWav(path).catch(() => undefined); // not written yet
    if (wav !== undefined && wav.data.length >= bytes) return wav.data;
    if (Date.now() > until) throw new Error(`${what}: ${wav?.data.length ?? 0} of ${bytes} bytes after 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function oneLineError(stderr: string) {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, STACK);
  assert.match(lines[0], /^kvsaudio: /);
  return lines[0];
}

/** Both mono WAVs in `dir` hold exactly the expected PCM. */
async function sameWavs(dir: string, exp: ReturnType<typeof expectedPcm>): Promise<void> {
  sameBytes((await readWav(`${dir}/from_customer.wav`)).data, exp.from, "from_customer.wav");
  sameBytes((await readWav(`${dir}/to_customer.wav`)).data, exp.to, "to_customer.wav");
}

Deno.test("--help on every command; no command shows help and exits 2", async () => {
  for (const cmd of [["--help"], ["inspect", "--help"], ["extract", "--help"], ["pull", "--help"]]) {
    const r = await kvsaudio(cmd);
    assert.equal(r.code, 0, cmd.join(" "));
    assert.match(r.stdoutText, /Usage: kvsaudio/);
  }
  const r = await kvsaudio([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdoutText, "");
  assert.match(r.stderr, /Usage: kvsaudio COMMAND/);
  // `help COMMAND` is that command's help.
  const h = await kvsaudio(["help", "pull"]);
  assert.equal(h.code, 0);
  assert.match(h.stdoutText, /^Usage: kvsaudio pull/);
  // `help` of no command is that unknown command's error (a tester: the main help, exit 0).
  const bogus = await kvsaudio(["help", "bogus"]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^kvsaudio: unknown command 'bogus'/);
  // Each command's help speaks of that command (a tester: extract's told of pull's starts).
  assert.doesNotMatch((await kvsaudio(["extract", "--help"])).stdoutText, /\bpull\b/);
  // Each option is listed once.
  for (const cmd of ["pull", "extract", "inspect"]) {
    const text = (await kvsaudio([cmd, "--help"])).stdoutText;
    const listed = [...text.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
    assert.deepEqual(listed, [...new Set(listed)], `${cmd} --help lists an option twice`);
  }
});

Deno.test("usage errors: unknown flag, bad value, missing input, unknown command → one line, exit 2", async () => {
  let r = await kvsaudio(["inspect", "--bogus", "x.mkv"]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r.stderr), /unknown option '--bogus'/);
  r = await kvsaudio(["extract", "x.mkv", "--out", "o", "--format", "mp3"]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r.stderr), /--format must be one of wav, raw/);
  // A negative number is a bad value, not a missing one.
  r = await kvsaudio(["extract", "x.mkv", "--out", "o", "--max-gap", "-1"]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r.stderr), /--max-gap needs a non-negative number, not '-1'/);
  r = await kvsaudio(["inspect", "/nonexistent/file.mkv"]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r.stderr), /cannot open \/nonexistent\/file\.mkv/);
  r = await kvsaudio(["frobnicate"]);
  assert.equal(r.code, 2);
  oneLineError(r.stderr);
  r = await kvsaudio(["extract", "x.mkv"]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r.stderr), /--out DIR is required/);
});

Deno.test("inspect: one line per fragment and a summary; --json NDJSON with the documented fields", async () => {
  const s = connectStream({ fragments: 3, contactIds: ["c-1", "c-1", "c-2"] });
  const path = await tempFile(s.bytes);
  const text = await kvsaudio(["inspect", path]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdoutText.trim().split("\n");
  assert.match(lines[0], /fragment number/);
  assert.equal(lines.filter((l) => /^\s+\d+\s+\d+\s+\d+\s+\d{47}/.test(l)).length, 3);
  assert.match(text.stdoutText, /3 fragment\(s\), 96 block\(s\)/);
  assert.match(text.stdoutText, /contact ids: c-1, c-2/);

  const json = await kvsaudio(["inspect", "--json", path]);
  assert.equal(json.code, 0);
  const objs = jsonLines(json.stdoutText);
  assert.equal(objs.length, 4);
  for (const [i, o] of objs.slice(0, 3).entries()) {
    const g = s.fragments[i];
    assert.equal(o.index, i);
    assert.equal(o.offset, g.offset);
    assert.equal(o.size, g.bytes.length);
    assert.equal(o.complete, true);
    assert.equal(o.fragmentNumber, g.fragmentNumber);
    assert.equal(o.producerTimestamp, new Date(g.producerMs).toISOString());
    assert.equal(o.serverTimestamp, new Date(g.serverMs).toISOString());
    assert.equal(o.contactId, g.contactId);
    assert.equal(o.tags.AWS_KINESISVIDEO_CONTINUATION_TOKEN, g.continuationToken);
    assert.equal(o.tags.MimeType, "audio/L16;rate=8000;channels=1;");
    assert.deepEqual(
      o.tracks.map((t: { number: number; name: string; codecId: string }) => [t.number, t.name, t.codecId]),
      [
        [1, "AUDIO_TO_CUSTOMER", "A_AAC"],
        [2, "AUDIO_FROM_CUSTOMER", "A_AAC"],
      ],
    );
    assert.deepEqual(o.blocks, { "1": 16, "2": 16 });
  }
  assert.deepEqual(objs[3].summary.contactIds, ["c-1", "c-2"]);
  // A fragment whose ContactId after its Cluster differs: both are in the summary.
  const m = s.bytes.slice(0, s.fragments[2].offset);
  m[new TextDecoder("latin1").decode(m).lastIndexOf("c-1") + 2] = 0x33; // fragment 1's trailing ContactId → "c-3"
  const mixed = await tempFile(m);
  const mj = jsonLines((await kvsaudio(["inspect", "--json", mixed])).stdoutText);
  assert.deepEqual(mj.at(-1).summary.contactIds, ["c-1", "c-3"]);
  // … and per fragment (was: only the first, no flag).
  assert.deepEqual(mj.map((o) => o.contactIds).slice(0, 2), [["c-1"], ["c-1", "c-3"]]);
  const mixedText = (await kvsaudio(["inspect", mixed])).stdoutText;
  assert.match(mixedText, /contact ids: c-1, c-3/);
  assert.deepEqual(mixedText.split("\n").slice(1, 3).map((l) => l.endsWith("contact-mixed")), [false, true]);
  await Deno.remove(mixed);
  // A fragment whose first ContactId tag is empty (NULs) is the next one's, as the demuxer has it (was "-" in the
  // text column and "" in --json, while contactIds said otherwise).
  const e = s.bytes.slice();
  e.fill(0, new TextDecoder("latin1").decode(e).indexOf("c-1"), new TextDecoder("latin1").decode(e).indexOf("c-1") + 3);
  const emptyFirst = await tempFile(e);
  const ej = jsonLines((await kvsaudio(["inspect", "--json", emptyFirst])).stdoutText)[0];
  assert.deepEqual([ej.contactId, ej.contactIds], ["c-1", ["c-1"]]);
  assert.match((await kvsaudio(["inspect", emptyFirst])).stdoutText.split("\n")[1], /\.\d{3}Z {2}c-1 /);
  await Deno.remove(emptyFirst);
  // A producer time out of a Date's range is null in --json (was "-", the text column's placeholder); an empty
  // MILLIS_BEHIND_NOW is null (was 0); an empty ContactId is "-" in the text column (was blank, shifting columns).
  const odd = connectStream({ fragments: 1, contactIds: [""], millisBehindNow: () => "" });
  const oddBytes = odd.bytes.slice();
  const pts = new TextDecoder("latin1").decode(oddBytes).indexOf((odd.fragments[0].producerMs / 1000).toFixed(3));
  assert.ok(pts > 0);
  oddBytes.set(new TextEncoder().encode("99999999999999"), pts);
  const oddPath = await tempFile(oddBytes);
  const oj = jsonLines((await kvsaudio(["inspect", "--json", oddPath])).stdoutText)[0];
  // …and so is its number of milliseconds, which no double holds exactly (was 99999999999999000).
  assert.deepEqual([oj.producerTimestamp, oj.producerTimestampMs, oj.millisBehindNow], [null, null, null]);
  const oddLine = (await kvsaudio(["inspect", oddPath])).stdoutText.split("\n")[1];
  assert.match(oddLine, /\d{47} {2}- {25}- {37}1:16/, oddLine);
  // extract's fragment events say the same.
  await withTempDir("kvsaudio-odd-", async (dir) => {
    const x = await kvsaudio(["extract", oddPath, "--out", dir, "--json"]);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(jsonLines(x.stdoutText).find((o) => o.event === "fragment").producerTimestampMs, null);
  });
  await Deno.remove(oddPath);
  // A Cluster Timecode past 2^53 is a string of its exact digits (was the nearest double, 9007199254740992).
  const big = connectStream({ fragments: 1 });
  const bigBytes = big.bytes.slice();
  const tcAt = indexOfBytes(bigBytes, Uint8Array.of(0x1f, 0x43, 0xb6, 0x75));
  const tc = indexOfBytes(bigBytes.subarray(tcAt), Uint8Array.of(0xe7, 0x88)) + tcAt;
  assert.ok(tc > tcAt, "the Cluster's 8-byte Timecode");
  new DataView(bigBytes.buffer).setBigUint64(tc + 2, 2n ** 53n + 1n);
  const bigPath = await tempFile(bigBytes);
  const bj = jsonLines((await kvsaudio(["inspect", "--json", bigPath])).stdoutText)[0];
  assert.equal(bj.clusterTimecode, "9007199254740993");
  await Deno.remove(bigPath);
  const tree = await kvsaudio(["inspect", "--tree", path]);
  assert.equal(tree.code, 0);
  assert.equal((tree.stdoutText.match(/SimpleBlock:/g) ?? []).length, 96);
  assert.match(tree.stdoutText, /TagString: '87718f4a|TagString: 'c-1'/);
  await Deno.remove(path);
});

Deno.test("inspect: corrupt input → exit 3, one line naming file, byte offset and element, after the good fragments", async () => {
  const s = connectStream({ fragments: 3 });
  const bad = s.bytes.slice();
  // Make the 3rd fragment's Tracks size (4-byte field) overrun: find the Tracks id after its offset.
  const base = s.fragments[2].offset;
  let at = -1;
  for (let i = base; i < bad.length - 4; i++) {
    if (bad[i] === 0x16 && bad[i + 1] === 0x54 && bad[i + 2] === 0xae && bad[i + 3] === 0x6b) {
      at = i;
      break;
    }
  }
  assert.ok(at > 0);
  bad[at + 4] = 0x00; // an invalid size VINT on the 3rd fragment's Tracks
  const path = await tempFile(bad);
  const r = await kvsaudio(["inspect", "--json", path]);
  assert.equal(r.code, 3);
  const line = oneLineError(r.stderr);
  assert.equal(
    line,
    `kvsaudio: ${path}: byte ${at}: Tracks: invalid element size: first byte 0x00 (VINT wider than 8 bytes)`,
  );
  // The two good fragments, then the one the bad data is in, as far as it was read.
  const objs = jsonLines(r.stdoutText);
  assert.equal(objs.length, 3);
  assert.deepEqual(objs.map((o) => [o.offset, o.complete, o.closedBy]), [
    [s.fragments[0].offset, true, "next-document"],
    [s.fragments[1].offset, true, "next-document"],
    [s.fragments[2].offset, false, "bad-data"],
  ]);
  assert.equal(objs[2].size, at - s.fragments[2].offset);
  await Deno.remove(path);
  // Bad data inside the Cluster: the fragment's number, tags and whole blocks before it are shown, flagged.
  const inCluster = s.bytes.slice();
  const third = s.fragments[2];
  // The 5th SimpleBlock's element id (0xA3), just before its size and 4-byte block header.
  let fifth = third.offset + (third.blocks[4].pcm.byteOffset - third.bytes.byteOffset) - 6;
  while (inCluster[fifth] !== 0xa3) fifth--;
  inCluster[fifth] = 0x00; // an invalid element id
  const p2 = await tempFile(inCluster);
  const t2 = await kvsaudio(["inspect", p2]);
  assert.equal(t2.code, 3);
  assert.equal(
    oneLineError(t2.stderr),
    `kvsaudio: ${p2}: byte ${fifth}: element header: invalid element id: first byte 0x00 (not a 1-4 byte EBML id)`,
  );
  const rows = t2.stdoutText.trim().split("\n");
  assert.equal(rows.length, 4, "header, two good fragments, the bad one");
  assert.match(
    rows[3],
    new RegExp(
      `^\\s+2\\s+${third.offset}\\s+${fifth - third.offset}\\s+${third.fragmentNumber}\\s.*\\s1:2,2:2\\s.*bad-data`,
    ),
  );
  const tree = await kvsaudio(["inspect", "--tree", p2]);
  assert.match(
    tree.stdoutText,
    new RegExp(`fragment 2 at byte ${third.offset} \\(${fifth - third.offset} bytes, bad data at its end\\)`),
  );
  await Deno.remove(p2);
  // Input that ends inside its first element (two bytes of text, the first three bytes of a body), or before its
  // first Segment began (inside the EBML header, right after it): exit 3, not a silent success.
  const headerEnd = 5 + (s.bytes[4] & 0x7f);
  for (
    const [tiny, element, why] of [
      [new TextEncoder().encode("ab"), "(element header)", "the input ends inside its first element"],
      [s.bytes.subarray(0, 3), "(element header)", "the input ends inside its first element"],
      [s.bytes.subarray(0, 10), "EBML", "the input ends before its first Segment"],
      [s.bytes.subarray(0, headerEnd), "EBML", "the input ends before its first Segment"],
    ] as const
  ) {
    const p = await tempFile(tiny);
    const t = await kvsaudio(["inspect", p]);
    assert.equal(t.code, 3);
    assert.equal(
      oneLineError(t.stderr),
      `kvsaudio: ${p}: byte 0: ${element}: ${why}: not a complete Matroska/GetMedia stream`,
    );
    // Nothing but the header line: no fragment of 0 bytes "with bad data" (a truncation, not bad data).
    assert.equal(t.stdoutText.trim().split("\n").length, 1, t.stdoutText);
    await Deno.remove(p);
  }
  // Empty input (a file, stdin): exit 3 too, for inspect and extract (was: 0 fragments, exit 0, two empty WAVs).
  const empty = await tempFile(new Uint8Array(0));
  const dir = await Deno.makeTempDir();
  for (
    const [args, stdin, name] of [
      [["inspect", empty], undefined, empty],
      [["inspect", "-", "--json"], new Uint8Array(0), "stdin"],
      [["extract", empty, "--out", dir], undefined, empty],
      [["extract", "-", "--out", dir], new Uint8Array(0), "stdin"],
    ] as const
  ) {
    const t = await kvsaudio([...args], { stdin });
    assert.equal(t.code, 3, `${args.join(" ")}: ${t.stderr}`);
    assert.equal(
      oneLineError(t.stderr),
      `kvsaudio: ${name}: byte 0: EBML: the input is empty: not a Matroska/GetMedia stream`,
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir)], [], "no empty WAVs");
  await Deno.remove(dir);
  await Deno.remove(empty);
});

Deno.test("extract: files, summary, --json done event; refuses to overwrite without --force", async () => {
  const s = connectStream({ fragments: 3 });
  const path = await tempFile(s.bytes);
  const dir = await Deno.makeTempDir();
  const r = await kvsaudio(["extract", path, "--out", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdoutText);
  const done = events.at(-1);
  assert.equal(done.event, "done");
  assert.equal(done.reason, "end-of-input");
  assert.equal(done.fragments, 3);
  assert.equal(done.lastFragmentNumber, s.fragments[2].fragmentNumber);
  assert.equal(done.continuationToken, s.fragments[2].continuationToken);
  assert.deepEqual(done.samples, { from_customer: 3 * 16 * 512, to_customer: 3 * 16 * 512 });
  assert.equal(events.filter((e) => e.event === "fragment").length, 3);
  // Each fragment event carries its continuation token (a run killed with no done event resumes from the last one).
  assert.deepEqual(
    events.filter((e) => e.event === "fragment").map((e) => e.continuationToken),
    s.fragments.map((f) => f.continuationToken),
  );
  const exp = expectedPcm(s);
  await sameWavs(dir, exp);

  const again = await kvsaudio(["extract", "/nonexistent.mkv", "--out", dir]);
  assert.equal(again.code, 2);
  assert.match(oneLineError(again.stderr), /refusing to overwrite .*from_customer\.wav \(use --force\)/);
  // With --json, a run refused before it began still ends with its done event (was: no JSON at all).
  for (
    const [input, code, why] of [[path, 2, /refusing to overwrite/], ["/nonexistent.mkv", 2, /cannot open/]] as const
  ) {
    const j = await kvsaudio(["extract", input, "--out", input === path ? dir : `${dir}/new2`, "--json"]);
    assert.equal(j.code, code, j.stderr);
    const last = jsonLines(j.stdoutText).at(-1);
    assert.deepEqual([last.event, last.reason, last.exitCode, last.fragments], ["done", "error", code, 0]);
    assert.match(last.message, why);
    assert.equal(jsonLines(j.stdoutText).filter((e) => e.event === "done").length, 1, "one done event");
  }
  // So does one refused for its options, before the run exists (was: the error line only). With --out - the
  // events go to stderr; without --json there is none.
  for (
    const [args, why] of [
      [["extract", path, "--out", `${dir}/new3`, "--json", "--tracks", "foo"], /--tracks must be one of/],
      [["extract", path, "--json", "--bogus", "--out", `${dir}/new3`], /unknown option '--bogus'/],
      [["pull", "--json", "--arn", "x", "--start", "now", "--out", `${dir}/new3`], /--arn is not a Kinesis/],
    ] as const
  ) {
    const j = await kvsaudio([...args]);
    assert.equal(j.code, 2, j.stderr);
    const events = jsonLines(j.stdoutText);
    assert.equal(events.length, 1, j.stdoutText);
    assert.deepEqual([events[0].event, events[0].reason, events[0].exitCode, events[0].fragments], [
      "done",
      "error",
      2,
      0,
    ]);
    assert.deepEqual(Object.keys(events[0]), Object.keys(jsonLines(r.stdoutText).at(-1)).concat("exitCode", "message"));
    assert.match(events[0].message, why);
    assert.match(oneLineError(j.stderr), why);
    const quiet = await kvsaudio(args.filter((a) => a !== "--json"));
    assert.equal(quiet.code, 2);
    assert.equal(quiet.stdoutText, "");
  }
  const toStderr = await kvsaudio(["extract", path, "--out", "-", "--json", "--tracks", "foo"]);
  assert.equal(toStderr.code, 2);
  assert.equal(toStderr.stdoutText, "");
  // On standard error with the events, the done event is the error's one line (NDJSON to its end).
  const lines = toStderr.stderr.trim().split("\n");
  assert.equal(lines.length, 1, toStderr.stderr);
  assert.equal(JSON.parse(lines[0]).event, "done");
  assert.match(JSON.parse(lines[0]).message, /^extract: --tracks must be one of/);
  // `out = -` and `json = true` from the config file count as well (was: the event on stdout, the audio's stream).
  await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "out = -\ntracks = from\njson = true\n");
  for (const json of [[], ["--json"]]) {
    const cfg = await kvsaudio(["extract", path, "--config", `${dir}/kvsaudio.ini`, "--max-gap", "x", ...json]);
    assert.equal(cfg.code, 2);
    assert.equal(cfg.stdoutText, "");
    assert.equal(JSON.parse(cfg.stderr.split("\n")[0]).event, "done", cfg.stderr);
  }
  // An input that cannot be opened leaves no output directory behind.
  const none = await kvsaudio(["extract", "/nonexistent.mkv", "--out", `${dir}/new/sub`]);
  assert.equal(none.code, 2);
  assert.match(oneLineError(none.stderr), /cannot open \/nonexistent\.mkv/);
  assert.equal(await Deno.stat(`${dir}/new`).then(() => true, () => false), false);
  // An output path that is a directory or a FIFO: exit 1 before anything is written, --force or not (was: exit 2
  // "refusing to overwrite … (use --force)", and with --force a FIFO's open waited for a reader).
  await Deno.mkdir(`${dir}/blocked/to_customer.wav`, { recursive: true });
  // (from_customer.wav exists too: no "use --force" for it when --force would fail on the directory anyway.)
  await Deno.writeTextFile(`${dir}/blocked/from_customer.wav`, "x");
  for (const extra of [[], ["--force"]]) {
    const blocked = await kvsaudio(["extract", path, "--out", `${dir}/blocked`, ...extra]);
    assert.equal(blocked.code, 1, blocked.stderr);
    assert.equal(
      oneLineError(blocked.stderr),
      `kvsaudio: cannot create ${dir}/blocked/to_customer.wav: it is a directory`,
    );
    assert.doesNotMatch(blocked.stdoutText, /wrote/);
  }
  await Deno.remove(`${dir}/blocked/to_customer.wav`);
  await Deno.remove(`${dir}/blocked/from_customer.wav`);
  if (await makeFifo(`${dir}/blocked/stereo.wav`, "extract: an output path that is a FIFO")) {
    const fifo = await kvsaudio(["extract", path, "--out", `${dir}/blocked`, "--stereo", "--force"]);
    assert.equal(fifo.code, 1, fifo.stderr);
    assert.equal(
      oneLineError(fifo.stderr),
      `kvsaudio: cannot create ${dir}/blocked/stereo.wav: it is not a regular file`,
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/blocked`)].map((e) => e.name), ["stereo.wav"], "nothing written");
  }
  // The output directory cannot be created (a file is in the way): exit 1 too (was 2).
  await Deno.writeTextFile(`${dir}/afile`, "x");
  const file = await kvsaudio(["extract", path, "--out", `${dir}/afile`]);
  assert.equal(file.code, 1, file.stderr);
  // (It said "File exists (os error 17)", which the file in the way does, but not why that stops the run.)
  assert.equal(
    oneLineError(file.stderr),
    `kvsaudio: cannot create output directory ${dir}/afile: ${dir}/afile exists and is not a directory`,
  );
  await Deno.symlink(`${dir}/nowhere`, `${dir}/dangling`);
  const dangling = await kvsaudio(["extract", path, "--out", `${dir}/dangling/sub`]);
  assert.equal(dangling.code, 1, dangling.stderr);
  assert.equal(
    oneLineError(dangling.stderr),
    `kvsaudio: cannot create output directory ${dir}/dangling/sub: ${dir}/dangling is a symbolic link to nothing`,
  );
  const forced = await kvsaudio(["extract", path, "--out", dir, "--force", "--stereo"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdoutText, /wrote .*from_customer\.wav, .*to_customer\.wav, .*stereo\.wav/);
  assert.match(forced.stdoutText, /3 fragment\(s\); from customer 3\.072 s, to customer 3\.072 s/);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(path);
});

Deno.test("extract: gaps per file, the followed ContactId, a cut fragment of unknown contact, a contact never seen", async () => {
  const dir = await Deno.makeTempDir();
  // Two missing fragments: each WAV gets their silence once.
  const gap = connectStream({ fragments: 5, omit: [2, 3], contactIds: "c-1" });
  const gapPath = await tempFile(gap.bytes);
  const g = await kvsaudio(["extract", gapPath, "--out", `${dir}/g`, "--json"]);
  assert.equal(g.code, 0, g.stderr);
  const gd = jsonLines(g.stdoutText).at(-1);
  assert.deepEqual(gd.gaps, { from_customer: 1, to_customer: 1 });
  assert.deepEqual(gd.gapSeconds, { from_customer: 2.048, to_customer: 2.048 });
  assert.deepEqual(gd.overlapFrames, { from_customer: 0, to_customer: 0 });
  assert.equal(gd.contactId, "c-1");
  const gt = await kvsaudio(["extract", gapPath, "--out", `${dir}/gt`]);
  assert.match(gt.stdoutText, /; gaps filled: from customer 1 \(2\.048 s\), to customer 1 \(2\.048 s\)\n/);

  // The input ends inside another contact's fragment whose ContactId (after the Cluster) never came.
  const s = connectStream({ fragments: 4, tagsPosition: "after", contactIds: ["aaa", "aaa", "bbb", "bbb"] });
  const third = s.fragments[2];
  const cutPath = await tempFile(s.bytes.subarray(0, third.offset + Math.floor(third.bytes.length / 2)));
  const c = await kvsaudio(["extract", cutPath, "--out", `${dir}/c`, "--json"]);
  assert.equal(c.code, 0, c.stderr);
  const cd = jsonLines(c.stdoutText).at(-1);
  assert.equal(cd.reason, "contact-unknown");
  assert.equal(cd.contactId, "aaa");
  assert.deepEqual(cd.samples, { from_customer: 2 * 16 * 512, to_customer: 2 * 16 * 512 });
  const ct = await kvsaudio(["extract", cutPath, "--out", `${dir}/ct`]);
  assert.match(
    ct.stderr,
    new RegExp(`fragment 2 at byte ${third.offset} .* cut off before its ContactId tag; not written`),
  );
  assert.match(
    ct.stdoutText,
    /stopped: the input ended inside a fragment, before its ContactId; that fragment was not/,
  );

  // --contact-id of a contact that comes later: the fragments before it are skipped; here its one fragment is cut off
  // before its ContactId, so the input holds none of its fragments: exit 2 (was: exit 0, "the first fragment belongs
  // to ContactId aaa, not bbb", two empty WAVs).
  const later = await kvsaudio(["extract", cutPath, "--out", `${dir}/l`, "--contact-id", "bbb"]);
  assert.equal(later.code, 2, later.stderr);
  assert.match(later.stderr, /^kvsaudio: ContactId bbb is not in .*: its 3 fragment\(s\) are of ContactId aaa$/m);

  // A fragment tagged with two ContactIds (before and after its Cluster): named as such, not written.
  const both = connectStream({ fragments: 3, contactIds: "aaa" });
  const mixed = both.bytes.slice();
  const second = both.fragments[1];
  const text = new TextDecoder("latin1").decode(mixed.subarray(0, second.offset + second.bytes.length));
  mixed.set(new TextEncoder().encode("bbb"), text.lastIndexOf("aaa")); // fragment 1's trailing ContactId
  const mixedPath = await tempFile(mixed);
  const m = await kvsaudio(["extract", mixedPath, "--out", `${dir}/m`]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(
    m.stdoutText,
    new RegExp(
      `stopped: fragment ${second.fragmentNumber} is tagged with ContactId aaa and bbb \\(before and after its Cluster\\); that fragment was not written`,
    ),
  );
  assert.match(m.stdoutText, /^1 fragment\(s\)/m);
  await Deno.remove(mixedPath);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(gapPath);
  await Deno.remove(cutPath);
});

Deno.test("extract: bad data mid-stream → exit 3 and the WAVs stay valid with the audio before it", async () => {
  const s = connectStream({ fragments: 3 });
  const bad = s.bytes.slice(0, s.fragments[2].offset + 60);
  bad.set([0x00], s.fragments[2].offset + 59); // an invalid size byte inside the 3rd fragment's header
  const path = await tempFile(bad);
  const dir = await Deno.makeTempDir();
  const r = await kvsaudio(["extract", path, "--out", dir]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(oneLineError(r.stderr), /byte \d+/);
  const exp = expectedPcm(s, { untilIndex: 2 });
  sameBytes((await readWav(`${dir}/from_customer.wav`)).data, exp.from!, "from_customer.wav");
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(path);
});

Deno.test("extract: in-band error fragment → exit 5 naming the code", async () => {
  const s = connectStream({ fragments: 3, errorAt: { index: 1, code: "4000", id: 3 } });
  const path = await tempFile(s.bytes);
  const dir = await Deno.makeTempDir();
  const r = await kvsaudio(["extract", path, "--out", dir]);
  assert.equal(r.code, 5);
  assert.match(oneLineError(r.stderr), /AWS_KINESISVIDEO_ERROR_CODE 4000/);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(path);
});

Deno.test("extract from stdin to stdout: raw track, streaming WAV, stereo mix", async () => {
  const s = connectStream({ fragments: 2 });
  const exp = expectedPcm(s);
  const raw = await kvsaudio(["extract", "-", "--out", "-", "--tracks", "to", "--format", "raw"], { stdin: s.bytes });
  assert.equal(raw.code, 0, raw.stderr);
  sameBytes(raw.stdout, exp.to!, "raw stdout");
  const wav = await kvsaudio(["extract", "-", "--out", "-", "--tracks", "from"], { stdin: s.bytes });
  assert.equal(wav.code, 0, wav.stderr);
  const info = parseWavHeader(wav.stdout);
  assert.equal(info.rate, 8000);
  sameBytes(wav.stdout.subarray(info.dataOffset), exp.from!, "WAV stdout");
  const st = await kvsaudio(["extract", "-", "--out", "-", "--stereo", "--format", "raw"], { stdin: s.bytes });
  assert.equal(st.code, 0, st.stderr);
  assert.equal(st.stdout.length, exp.from!.length * 2);
  const both = await kvsaudio(["extract", "-", "--out", "-"], { stdin: s.bytes });
  assert.equal(both.code, 2);
});

/** Run kvsaudio with a stdout reader that, like `| head -c 100`, takes the first bytes and goes away. */
async function readerGoesAway(args: string[]): Promise<{ code: number; text: string }> {
  const child = kvsaudioCommand(args, { stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  await reader.read();
  await reader.cancel();
  return { code: (await child.status).code, text: await stderr };
}

Deno.test("extract --out - into a pipe closed early: the summary says the run failed, exit 1", async () => {
  // Was: "stopped: end of input" (as if the audio had been delivered), then the error line.
  // 20 fragments: more audio than a pipe holds, all written when the input ends.
  const s = connectStream({ fragments: 20 });
  const path = await tempFile(s.bytes);
  const { code, text } = await readerGoesAway(["extract", path, "--out", "-", "--tracks", "from"]);
  assert.equal(code, 1, text);
  assert.match(text, /^stopped: error \(exit 1\); stdout received the audio up to then$/m);
  assert.doesNotMatch(text, /end of input/);
  assert.match(text, /^kvsaudio: .*output pipe closed/m);
  // With --json: a fragment event only for what the reader got, as the done event counts it (was: one for every
  // fragment read, ahead of the audio, so a script took a token of audio never delivered).
  const j = await readerGoesAway(["extract", path, "--out", "-", "--tracks", "from", "--json"]);
  assert.equal(j.code, 1, j.text);
  const events = jsonLines(j.text);
  const frags = events.filter((e) => e.event === "fragment");
  const done = events.at(-1);
  assert.equal(done.event, "done");
  assert.ok(done.fragments < 20, `${done.fragments} of 20 fragments reached the reader`);
  assert.equal(frags.length, done.fragments);
  assert.equal(frags.at(-1)?.continuationToken ?? null, done.continuationToken);
  await Deno.remove(path);
});

Deno.test("stdout closed early (--json | head, inspect | head): exit 1 naming it, the WAVs finalized", async () => {
  // Was: exit 0 with no message, and WAV headers counting only the audio of the last commit.
  const s = connectStream({ fragments: 800 }); // JSON events (~240 KB) and tree lines far beyond what pipes hold
  const path = await tempFile(s.bytes);
  const dir = await Deno.makeTempDir();
  try {
    for (const args of [["extract", path, "--out", `${dir}/json`, "--json"], ["inspect", path, "--tree"]]) {
      const { code, text } = await readerGoesAway(args);
      assert.equal(code, 1, `${args[0]}: ${text}`);
      assert.match(
        text.trimEnd().split("\n").at(-1)!,
        /^kvsaudio: standard output was closed before the run ended \(the reader went away, e\.g\. \| head\)$/,
      );
    }
    for (const name of ["from_customer.wav", "to_customer.wav"]) {
      const bytes = await Deno.readFile(`${dir}/json/${name}`);
      const info = parseWavHeader(bytes);
      assert.equal(info.dataOffset + info.dataBytes, bytes.length, `${name}: the header counts every byte written`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(path);
  }
});

/** Wait until one of process `pid`'s threads blocks opening a FIFO (Linux: its wchan); elsewhere a fixed while. */
async function waitInFifoOpen(pid: number): Promise<void> {
  // (Deno reads /proc/PID only with --allow-all: ask cat.)
  const wchans = () =>
    new Deno.Command("sh", { args: ["-c", `cat /proc/${pid}/task/*/wchan`], stderr: "null" }).output()
      .then((r) => new TextDecoder().decode(r.stdout), () => "");
  for (let i = 0; i < 200; i++) {
    const all = await wchans();
    if (all === "") break; // no /proc
    if (all.includes("wait_for_partner") || all.includes("fifo")) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, 1500));
}

Deno.test("SIGTERM or SIGHUP while extract waits for a FIFO writer, or pull for its --event: exit 130 and the done event", async () => {
  // Was: no handler yet at that point, so the signal killed the process (exit 143); SIGHUP had none at all (129).
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/in.fifo`;
    if (!await makeFifo(fifo, "FIFO signal test")) return;
    // (pull: while it waits for its --event; was no handler yet there either: no done event, SIGTERM exit 143.)
    for (
      const [sig, args] of (["SIGTERM", "SIGHUP"] as const).flatMap((sig) =>
        [["extract", fifo, "--out", `${dir}/out-${sig}`, "--json"], [
          "pull",
          "--event",
          fifo,
          "--out",
          `${dir}/out2-${sig}`,
          "--json",
          "--continuation-token",
          "tok-123",
        ]].map((a) => [sig, a] as const)
      )
    ) {
      const child = kvsaudioCommand(args, { stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).spawn();
      const stdout = new Response(child.stdout).text();
      const stderr = new Response(child.stderr).text();
      await waitInFifoOpen(child.pid);
      child.kill(sig);
      const status = await child.status;
      assert.equal(status.code, 130, `${args[0]} ${sig}: ${await stderr}`);
      // --json output still ends with its done event.
      const done = jsonLines(await stdout).at(-1);
      assert.deepEqual([done.event, done.reason, done.signal, done.fragments], ["done", "interrupted", sig, 0]);
      // A pull started from a token gives it back (was null: it was taken only after the event was read).
      assert.equal(done.continuationToken, args[0] === "pull" ? "tok-123" : null);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after a failed write, the done event counts only what the outputs hold (its token is safe to resume from)", async () => {
  // Was: every fragment handed to the writer, and the last one's continuation
  // token, although the failed write left them out of the output.
  const s = connectStream({ fragments: 20 });
  const path = await tempFile(s.bytes);
  try {
    const { code, text } = await readerGoesAway(["extract", path, "--out", "-", "--tracks", "from", "--json"]);
    assert.equal(code, 1, text);
    const done = jsonLines(text.split("\n").filter((l) => l.startsWith("{")).join("\n")).find((e) =>
      e.event === "done"
    )!;
    assert.equal(done.reason, "error");
    assert.equal(text.split("\n").filter((l) => l.startsWith('{"event":"done"')).length, 1, "one done event");
    const n = done.fragments as number;
    assert.ok(n < 20, `${n} fragments claimed, but the output failed`);
    assert.deepEqual(done.samples, { from_customer: n * 16 * 512, to_customer: n * 16 * 512 });
    assert.equal(done.continuationToken, n === 0 ? null : s.fragments[n - 1].continuationToken);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("extract: fragments whose tracks lose their names are counted in a warning, not dropped in silence", async () => {
  const s = connectStream({ fragments: 3 });
  const bytes = s.bytes.slice();
  // Fragments 1 and 2 name their tracks otherwise (same length): no direction for their blocks.
  const enc = new TextEncoder();
  const text = new TextDecoder("latin1");
  for (const i of [1, 2]) {
    const f = s.fragments[i];
    const doc = text.decode(bytes.subarray(f.offset, f.offset + f.bytes.length));
    for (const name of ["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"]) {
      for (let at = doc.indexOf(name); at >= 0; at = doc.indexOf(name, at + 1)) {
        bytes.set(enc.encode(name.replace("AUDIO", "VIDEO")), f.offset + at);
      }
    }
  }
  const path = await tempFile(bytes);
  const dir = await Deno.makeTempDir();
  try {
    const r = await kvsaudio(["extract", path, "--out", dir]);
    assert.equal(r.code, 0, r.stderr);
    // (Was: exit 0, "1 fragment(s)", and nothing said about the other two.)
    assert.match(
      r.stderr,
      /warning: 2 fragment\(s\) had blocks but no track named AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER; their audio is not written/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(path);
  }
});

Deno.test("extract --out - into a reader that goes away: the done event counts what went into the pipe", async () => {
  // Was: with file input, the counts stood at the last commit (at most every 100 ms), so after `| head -c 1000000`
  // the done event claimed 1 fragment (and its token) while the reader had ~30: a resume would repeat them.
  const s = connectStream({ fragments: 60 });
  const path = await tempFile(s.bytes);
  try {
    const child = kvsaudioCommand(["extract", path, "--out", "-", "--tracks", "from", "--json"], {
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.getReader();
    let received = 0;
    while (received < 400_000) received += (await reader.read()).value?.length ?? Infinity;
    await reader.cancel();
    assert.equal((await child.status).code, 1);
    const text = await stderr;
    const done = jsonLines(text.split("\n").filter((l) => l.startsWith("{")).join("\n")).find((e) =>
      e.event === "done"
    )!;
    const frag = 16 * 512 * 2;
    const claimed = 44 + 2 * (done.samples.from_customer as number);
    // What the pipe took: at least what we read, at most a pipe's buffer (64 KiB) more. The count is in whole
    // fragments and may miss one 64 KiB write: within a fragment and 64 KiB below what we read, never above.
    assert.ok(claimed >= received - frag - 65536, `claimed ${claimed} bytes, ${received} received`);
    assert.ok(claimed <= received + 65536, `claimed ${claimed} bytes, ${received} received`);
    assert.equal(done.continuationToken, s.fragments[done.fragments - 1].continuationToken);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("--force replaces a symbolic or hard link among the outputs, never the file behind it", async () => {
  // Was: the link was followed and the file outside --out overwritten.
  const s = connectStream({ fragments: 1 });
  const path = await tempFile(s.bytes);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/precious.txt`, "keep me");
    await Deno.mkdir(`${dir}/out`);
    await Deno.symlink(`${dir}/precious.txt`, `${dir}/out/from_customer.wav`);
    await Deno.writeTextFile(`${dir}/linked.txt`, "keep me too");
    await Deno.link(`${dir}/linked.txt`, `${dir}/out/to_customer.wav`); // a hard link: another name of that file
    const refused = await kvsaudio(["extract", path, "--out", `${dir}/out`]);
    assert.equal(refused.code, 2, refused.stderr);
    const r = await kvsaudio(["extract", path, "--out", `${dir}/out`, "--force"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/precious.txt`), "keep me");
    assert.equal(await Deno.readTextFile(`${dir}/linked.txt`), "keep me too");
    assert.ok((await Deno.lstat(`${dir}/out/from_customer.wav`)).isFile);
    sameBytes((await readWav(`${dir}/out/from_customer.wav`)).data, expectedPcm(s).from!, "from_customer");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(path);
  }
});

Deno.test("extract --tracks from: the summary marks the direction it did not write", async () => {
  const s = connectStream({ fragments: 2 });
  const path = await tempFile(s.bytes);
  const dir = await Deno.makeTempDir();
  const r = await kvsaudio(["extract", path, "--out", dir, "--tracks", "from"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdoutText, /^2 fragment\(s\); from customer 2\.048 s, to customer 2\.048 s \(not written\)$/m);
  const both = await kvsaudio(["extract", path, "--out", `${dir}/both`]);
  assert.match(both.stdoutText, /^2 fragment\(s\); from customer 2\.048 s, to customer 2\.048 s$/m);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(path);
});

Deno.test("extract: SIGINT while reading a live pipe finalizes valid WAVs and exits 130", async () => {
  const s = connectStream({ fragments: 4 });
  const dir = await Deno.makeTempDir();
  const child = kvsaudioCommand(["extract", "-", "--out", dir], {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const w = child.stdin.getWriter();
  // Two whole fragments and the start of the third (the first two are emitted once the third begins).
  await w.write(s.bytes.subarray(0, s.fragments[2].offset + 100));
  const path = `${dir}/from_customer.wav`;
  await waitForAudio(path, 2 * 16 * 1024, "extract produced no audio");
  child.kill("SIGINT");
  const out = await child.output();
  await w.close().catch(() => {});
  assert.equal(out.code, 130);
  const wav = await readWav(path);
  sameBytes(wav.data, expectedPcm(s, { untilIndex: 2 }).from!, "audio");
  assert.match(new TextDecoder().decode(out.stdout), /interrupted by SIGINT/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("extract from a named pipe whose writer comes later: waits for it, then writes the same audio as from a file", async (t) => {
  await withTempDir("kvsaudio-fifo-", async (dir) => {
    const fifo = `${dir}/call.fifo`;
    if (!await makeFifo(fifo, t.name)) return;
    const s = connectStream({ fragments: 4 });
    const run = kvsaudio(["extract", fifo, "--out", `${dir}/out`]);
    // The reader blocks in open() until this writer appears; it must not fail or give up meanwhile.
    const early = await Promise.race([run, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
    assert.equal(early, undefined, `extract ended before the writer came: ${early?.stderr}`);
    const w = await openFifoWriter(fifo, run);
    await w.write(s.bytes);
    w.close();
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    await sameWavs(`${dir}/out`, expectedPcm(s));
  });
});

Deno.test("extract and inspect of a call spanning many read buffers: exact audio, every fragment", async () => {
  await withTempDir("kvsaudio-buffers-", async (dir) => {
    // ~4 MiB: documents fall across the 1 MiB read buffers at many places, one with a gap before it.
    const s = connectStream({ fragments: 120, contactIds: "c-1", omit: [57], blocksPerTrack: 17 });
    assert.ok(s.bytes.length > 3 * READ_SIZE, "the call spans several read buffers");
    const path = `${dir}/call.mkv`;
    await Deno.writeFile(path, s.bytes);
    const r = await kvsaudio(["extract", path, "--out", `${dir}/out`]);
    assert.equal(r.code, 0, r.stderr);
    await sameWavs(`${dir}/out`, expectedPcm(s));
    const ins = await kvsaudio(["inspect", "--json", path]);
    assert.equal(ins.code, 0, ins.stderr);
    const frags = fragmentObjects(ins.stdoutText);
    assert.deepEqual(
      frags.map((o) => [o.index, o.offset, o.fragmentNumber]),
      s.fragments.map((f, i) => [i, f.offset, f.fragmentNumber]),
    );

    // Fragments larger than a read buffer: a document cannot be held back whole and spans buffers as before.
    const big = connectStream({ fragments: 3, rate: 48000, channels: 2, samplesPerBlock: 4800, blocksPerTrack: 40 });
    assert.ok(big.fragments[0].bytes.length > READ_SIZE, "a fragment larger than the read buffer");
    const bigPath = `${dir}/big.mkv`;
    await Deno.writeFile(bigPath, big.bytes);
    const rb = await kvsaudio(["extract", bigPath, "--out", `${dir}/big`]);
    assert.equal(rb.code, 0, rb.stderr);
    await sameWavs(`${dir}/big`, expectedPcm(big));
  });
});

Deno.test("standard input, redirected from a file or through a pipe: the same audio and fragments as the file", async () => {
  await withTempDir("kvsaudio-stdin-", async (dir) => {
    // Several read buffers' worth, with uneven fragments and a gap.
    const s = connectStream({ fragments: 110, blockCounts: [16, 15, 16], omit: [40] });
    assert.ok(s.bytes.length > 3 * READ_SIZE);
    const path = `${dir}/call.mkv`;
    await Deno.writeFile(path, s.bytes);
    const fromFile = await kvsaudio(["inspect", "--json", path]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fragmentObjects(fromFile.stdoutText).length, 109);

    // `kvsaudio … - < call.mkv`: standard input is the file itself.
    const rx = await kvsaudio(["extract", "-", "--out", `${dir}/redirected`], { stdinFile: path });
    assert.equal(rx.code, 0, rx.stderr);
    await sameWavs(`${dir}/redirected`, expectedPcm(s));
    const ri = await kvsaudio(["inspect", "--json", "-"], { stdinFile: path });
    assert.equal(ri.code, 0, ri.stderr);
    assert.deepEqual(fragmentObjects(ri.stdoutText), fragmentObjects(fromFile.stdoutText));

    // `cat call.mkv | kvsaudio …`: a pipe.
    const px = await kvsaudio(["extract", "-", "--out", `${dir}/piped`], { stdin: s.bytes });
    assert.equal(px.code, 0, px.stderr);
    await sameWavs(`${dir}/piped`, expectedPcm(s));
    const pi = await kvsaudio(["inspect", "--json", "-"], { stdin: s.bytes });
    assert.equal(pi.code, 0, pi.stderr);
    assert.deepEqual(fragmentObjects(pi.stdoutText), fragmentObjects(fromFile.stdoutText));
  });
});

Deno.test("live pipe: while the writer is idle, inspect has printed every finished fragment and extract's WAVs hold their audio", async () => {
  const s = connectStream({ fragments: 4 });
  // Two whole fragments and the start of the third: the first two are finished once the third begins.
  const part = s.bytes.subarray(0, s.fragments[2].offset + 100);
  const fragmentLines = (text: string) => text.split("\n").filter((l) => /^\s*\d+\s+\d+\s+\d+\s/.test(l)).length;

  const inspect = kvsaudioCommand(["inspect", "-"], { stdin: "piped", stdout: "piped", stderr: "null" }).spawn();
  const w = inspect.stdin.getWriter();
  await w.write(part);
  const reader = inspect.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 20000;
  while (fragmentLines(text) < 2) {
    const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), deadline - Date.now()));
    const chunk = await Promise.race([reader.read(), timeout]);
    if (chunk === undefined || chunk.done) throw new Error(`inspect printed no fragment lines while idle: ${text}`);
    text += new TextDecoder().decode(chunk.value);
  }
  assert.equal(fragmentLines(text), 2, text);
  await w.write(s.bytes.subarray(part.length));
  await w.close();
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  assert.equal((await inspect.status).code, 0);
  assert.equal(fragmentLines(text), 4, text);

  await withTempDir("kvsaudio-live-", async (dir) => {
    const extract = kvsaudioCommand(["extract", "-", "--out", dir], { stdin: "piped", stdout: "null", stderr: "null" })
      .spawn();
    const we = extract.stdin.getWriter();
    await we.write(part);
    const exp = expectedPcm(s);
    const want = exp.from!.subarray(0, 2 * 16 * 1024);
    const idle = await waitForAudio(`${dir}/from_customer.wav`, want.length, "extract wrote no audio while idle");
    sameBytes(idle, want, "the first two fragments, counted by the header while the writer is idle");
    await we.write(s.bytes.subarray(part.length));
    await we.close();
    assert.equal((await extract.status).code, 0);
    await sameWavs(dir, exp);
  });
});

Deno.test("deno task kvsaudio: paths and ./kvsaudio.ini are the caller's, not the project root's", async () => {
  // Was: deno task runs in the directory of deno.json, so `inspect ../x.mkv` opened the wrong file and the
  // caller's kvsaudio.ini was ignored.
  await withTempDir("kvsaudio-task-", async (dir) => {
    await Deno.writeFile(`${dir}/call.mkv`, connectStream({ fragments: 2 }).bytes);
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "[inspect]\njson = true\n");
    // INIT_CWD is inherited when the tests themselves run under `deno task`: start from a clean environment.
    const env: Record<string, string> = { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "" };
    for (const k of ["HOME", "DENO_DIR", "XDG_CACHE_HOME"]) if (Deno.env.get(k)) env[k] = Deno.env.get(k)!;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "--config", `${ROOT}deno.json`, "kvsaudio", "inspect", "call.mkv"],
      cwd: dir,
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(jsonLines(stdout).filter((l) => "index" in l).length, 2, stdout);
  });
});

Deno.test("config: ./kvsaudio.ini and --config give extract and inspect their defaults; flags win; unknown keys are errors", async () => {
  await withTempDir("kvsaudio-config-", async (dir) => {
    const s = connectStream({ fragments: 3, omit: [1] });
    await Deno.writeFile(`${dir}/call.mkv`, s.bytes);
    // Top level: an option of extract (max-gap), one only pull has (region: skipped here); a section per command.
    await Deno.writeTextFile(
      `${dir}/kvsaudio.ini`,
      "region = eu-west-1\nmax-gap = 0.5\n[extract]\nout = fromini\nstereo = true\n[inspect]\njson = true\n[pull]\nidle-timeout = 3\n",
    );
    const r = await kvsaudio(["extract", "call.mkv"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdoutText, /wrote fromini\/from_customer\.wav, fromini\/to_customer\.wav, fromini\/stereo\.wav/);
    // max-gap 0.5 s: the missing fragment (1 s) is skipped, not filled.
    assert.equal((await readWav(`${dir}/fromini/from_customer.wav`)).data.length, 2 * 16 * 1024);
    // A flag wins over the file.
    const flags = await kvsaudio(["extract", "call.mkv", "--out", "flags", "--max-gap", "5"], { cwd: dir });
    assert.equal(flags.code, 0, flags.stderr);
    assert.equal((await readWav(`${dir}/flags/from_customer.wav`)).data.length, 3 * 16 * 1024);
    const i = await kvsaudio(["inspect", "call.mkv"], { cwd: dir });
    assert.equal(i.code, 0, i.stderr);
    assert.equal(fragmentObjects(i.stdoutText).length, 2);
    // json = true gives way to --tree, which excludes it (was: "--tree and --json cannot be combined", exit 2).
    const it = await kvsaudio(["inspect", "call.mkv", "--tree"], { cwd: dir });
    assert.equal(it.code, 0, it.stderr);
    assert.match(it.stdoutText, /EBML: \(master\)/);
    // --config names another file, which must exist; a key no command has is an error.
    await Deno.writeTextFile(`${dir}/other.ini`, "[inspect]\ntree = true\n");
    const t = await kvsaudio(["inspect", "call.mkv", "--config", "other.ini"], { cwd: dir });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdoutText, /EBML: \(master\)/);
    const missing = await kvsaudio(["inspect", "call.mkv", "--config", "nope.ini"], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(oneLineError(missing.stderr), /cannot read config nope\.ini/);
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "regoin = eu-west-1\n");
    const typo = await kvsaudio(["extract", "call.mkv", "--out", "x"], { cwd: dir });
    assert.equal(typo.code, 2);
    assert.match(oneLineError(typo.stderr), /kvsaudio\.ini: unknown option 'regoin' for extract/);
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "[extract]\nregion = eu-west-1\n");
    const wrongSection = await kvsaudio(["extract", "call.mkv", "--out", "x"], { cwd: dir });
    assert.equal(wrongSection.code, 2);
    assert.match(oneLineError(wrongSection.stderr), /unknown option 'region' for extract/);
    // The whole file is checked, whichever command runs (was: other sections were never read).
    for (
      const [ini, error] of [
        ["[Extract]\nout = x\n", /unknown section \[Extract\] \(sections: pull, extract, inspect\)/],
        ["[bogus]\nout = x\n", /unknown section \[bogus\]/],
        ["[pull]\nbogus = 1\n", /unknown option 'bogus' for pull/],
        ["[extract]\ntree = true\n", /unknown option 'tree' for extract/],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/kvsaudio.ini`, ini);
      const r = await kvsaudio(["inspect", "call.mkv"], { cwd: dir });
      assert.equal(r.code, 2, ini);
      assert.match(oneLineError(r.stderr), error);
    }
  });
});

Deno.test("extract: a stream without AUDIO_FROM_CUSTOMER / AUDIO_TO_CUSTOMER tracks is refused (exit 3), no WAVs written", async () => {
  const bytes = connectStream({ fragments: 2 }).bytes.slice();
  // Rename both tracks (same length): ...CUSTOMER -> ...CUSTOMEX, wherever the name appears.
  assert.ok(renameDirections(bytes) >= 2);
  const path = await tempFile(bytes);
  const dir = await Deno.makeTempDir();
  // Exit 3 and no empty WAVs (was: exit 0, a warning and two 44-byte WAVs, which also replaced earlier ones with
  // --force): not a Connect stream.
  await Deno.writeTextFile(`${dir}/from_customer.wav`, "earlier");
  const r = await kvsaudio(["extract", path, "--out", dir, "--force"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    oneLineError(r.stderr),
    /byte 0: Tracks: no audio: the 2 fragment\(s\) with blocks have no track named AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER \(tracks: track \d+ "AUDIO_\w+_CUSTOMEX" A_AAC, track \d+ "AUDIO_\w+_CUSTOMEX" A_AAC\): not an Amazon Connect stream/,
  );
  assert.equal(await Deno.readTextFile(`${dir}/from_customer.wav`), "earlier", "left as it was");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["from_customer.wav"]);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(path);
});

Deno.test("extract --append continues the files of an earlier run: the two runs make the same WAVs as one", async () => {
  // Was: a second run into the same directory was refused, or with --force replaced the first part.
  const s = connectStream({ fragments: 6 });
  const cut = s.fragments[2].offset;
  const [whole, a, b] = [s.bytes, s.bytes.subarray(0, cut), s.bytes.subarray(cut)];
  await withTempDir("kvsaudio-append-", async (dir) => {
    const paths = await Promise.all([whole, a, b].map((bytes) => tempFile(bytes)));
    try {
      const stereo = ["--stereo"];
      assert.equal((await kvsaudio(["extract", paths[0], "--out", `${dir}/one`, ...stereo])).code, 0);
      assert.equal((await kvsaudio(["extract", paths[1], "--out", `${dir}/two`, ...stereo])).code, 0);
      // A killed run leaves bytes its header does not count: they are cut, not taken for audio.
      const junk = await Deno.open(`${dir}/two/from_customer.wav`, { append: true });
      await junk.write(new Uint8Array(1000).fill(0x55));
      junk.close();
      const r = await kvsaudio(["extract", paths[2], "--out", `${dir}/two`, "--append", "--json", ...stereo]);
      assert.equal(r.code, 0, r.stderr);
      const done = jsonLines(r.stdoutText).at(-1);
      assert.deepEqual([done.fragments, done.appendedAfterFrames, done.appendedAfterSeconds], [4, 2 * 16 * 512, 2.048]);
      for (const name of ["from_customer", "to_customer", "stereo"]) {
        sameBytes(
          await Deno.readFile(`${dir}/two/${name}.wav`),
          await Deno.readFile(`${dir}/one/${name}.wav`),
          name,
        );
      }
      // Raw files too; a missing output is created and padded to the others (one timeline).
      assert.equal((await kvsaudio(["extract", paths[1], "--out", `${dir}/raw`, "--format", "raw"])).code, 0);
      await Deno.remove(`${dir}/raw/to_customer.raw`);
      const raw = await kvsaudio(["extract", paths[2], "--out", `${dir}/raw`, "--format", "raw", "--append"]);
      assert.equal(raw.code, 0, raw.stderr);
      const full = (await readWav(`${dir}/one/from_customer.wav`)).data;
      sameBytes(await Deno.readFile(`${dir}/raw/from_customer.raw`), full, "raw from");
      const to = await Deno.readFile(`${dir}/raw/to_customer.raw`);
      assert.equal(to.length, full.length);
      assert.ok(to.subarray(0, 2 * 16 * 512 * 2).every((x) => x === 0), "the missing part is silence");
      sameBytes(
        to.subarray(2 * 16 * 512 * 2),
        (await readWav(`${dir}/one/to_customer.wav`)).data.subarray(2 * 16 * 512 * 2),
        "raw to",
      );
    } finally {
      for (const p of paths) await Deno.remove(p);
    }
  });
});

Deno.test("extract --append keeps one timeline across runs that write other tracks, or a track that ends early", async () => {
  // Found in review: outputs this run did not write were left out of "the longest" (run 2 --tracks to began at 0,
  // not after run 1's from track), and a track with no audio in the later run was padded anyway.
  const both = connectStream({ fragments: 6 });
  const fromOnly = connectStream({ fragments: 6, tracks: ["AUDIO_FROM_CUSTOMER"] });
  const join = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  };
  await withTempDir("kvsaudio-append-", async (dir) => {
    const files: string[] = [];
    const file = async (bytes: Uint8Array) => (files.push(await tempFile(bytes)), files.at(-1)!);
    try {
      const cut = both.fragments[2].offset;
      const [p0, p1] = [await file(both.bytes.subarray(0, cut)), await file(both.bytes.subarray(cut))];
      assert.equal((await kvsaudio(["extract", p0, "--out", `${dir}/t`, "--tracks", "from"])).code, 0);
      const r = await kvsaudio(["extract", p1, "--out", `${dir}/t`, "--tracks", "to", "--append", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(jsonLines(r.stdoutText).at(-1).appendedAfterFrames, 2 * 16 * 512);
      const to = (await readWav(`${dir}/t/to_customer.wav`)).data;
      assert.ok(to.subarray(0, 2 * 16 * 512 * 2).every((x) => x === 0), "run 1's time, silent");
      sameBytes(to.subarray(2 * 16 * 512 * 2), expectedPcm(both, { fromIndex: 2 }).to!, "run 2's to track after it");
      // Fragments 0-2 with both tracks, 3-5 with the customer's only; split after fragment 3: as one run.
      const mixed = join([...both.fragments.slice(0, 3), ...fromOnly.fragments.slice(3)].map((f) => f.bytes));
      const at = mixed.length - fromOnly.fragments.slice(4).reduce((n, f) => n + f.bytes.length, 0); // fragment 4
      const [m, m0, m1] = [await file(mixed), await file(mixed.subarray(0, at)), await file(mixed.subarray(at))];
      assert.equal((await kvsaudio(["extract", m, "--out", `${dir}/one`, "--stereo"])).code, 0);
      assert.equal((await kvsaudio(["extract", m0, "--out", `${dir}/two`, "--stereo"])).code, 0);
      assert.equal((await kvsaudio(["extract", m1, "--out", `${dir}/two`, "--stereo", "--append"])).code, 0);
      for (const name of ["from_customer", "to_customer", "stereo"]) {
        sameBytes(await Deno.readFile(`${dir}/two/${name}.wav`), await Deno.readFile(`${dir}/one/${name}.wav`), name);
      }
      // A refused run still says what the files held.
      const empty = await kvsaudio([
        "extract",
        await file(new Uint8Array(0)),
        "--out",
        `${dir}/two`,
        "--append",
        "--json",
      ]);
      assert.equal(empty.code, 3);
      assert.equal(jsonLines(empty.stdoutText).at(-1).appendedAfterFrames, 6 * 16 * 512);
    } finally {
      for (const f of files) await Deno.remove(f);
    }
  });
});

Deno.test("extract --append: a file with other names is refused, an empty one (killed before its header) continued", async () => {
  const s = connectStream({ fragments: 2 });
  await withTempDir("kvsaudio-append-", async (dir) => {
    const path = await tempFile(s.bytes);
    try {
      assert.equal((await kvsaudio(["extract", path, "--out", `${dir}/a`])).code, 0);
      await Deno.link(`${dir}/a/from_customer.wav`, `${dir}/archived.wav`);
      const linked = await kvsaudio(["extract", path, "--out", `${dir}/a`, "--append"]);
      assert.equal(linked.code, 1);
      assert.match(oneLineError(linked.stderr), /cannot append to .*from_customer\.wav: the file has other names/);
      await Deno.mkdir(`${dir}/b`);
      await Deno.writeFile(`${dir}/b/from_customer.wav`, new Uint8Array(0));
      const r = await kvsaudio(["extract", path, "--out", `${dir}/b`, "--append"]);
      assert.equal(r.code, 0, r.stderr);
      sameBytes(
        await Deno.readFile(`${dir}/b/from_customer.wav`),
        await Deno.readFile(`${dir}/a/from_customer.wav`),
        "from",
      );
    } finally {
      await Deno.remove(path);
    }
  });
});

Deno.test("extract --append refuses what it cannot continue, before reading the input", async () => {
  const s = connectStream({ fragments: 2 });
  const s16 = connectStream({ fragments: 2, rate: 16000 });
  await withTempDir("kvsaudio-append-", async (dir) => {
    const path = await tempFile(s.bytes);
    const path16 = await tempFile(s16.bytes);
    try {
      const run = (args: string[]) => kvsaudio(["extract", path, "--out", dir, "--append", ...args]);
      for (
        const [args, code, why] of [
          [["--force"], 2, /--append and --force cannot be combined/],
          [["--out", "-", "--tracks", "from"], 2, /--append continues files in an output directory, not --out -/],
        ] as const
      ) {
        const r = await run([...args]);
        assert.equal(r.code, code, r.stderr);
        assert.match(oneLineError(r.stderr), why);
      }
      await Deno.writeTextFile(`${dir}/from_customer.wav`, "not a wav file at all, just text of some length");
      const foreign = await run([]);
      assert.equal(foreign.code, 1, foreign.stderr);
      assert.match(
        oneLineError(foreign.stderr),
        /^kvsaudio: cannot append to .*from_customer\.wav: not a WAV file as kvsaudio writes them/,
      );
      assert.equal(
        await Deno.readTextFile(`${dir}/from_customer.wav`),
        "not a wav file at all, just text of some length",
      );
      // Another rate: refused when the stream's format is known, before any file is cut or written.
      assert.equal((await kvsaudio(["extract", path16, "--out", dir, "--force"])).code, 0);
      const before = await Deno.readFile(`${dir}/from_customer.wav`);
      const other = await run([]);
      assert.equal(other.code, 2, other.stderr);
      assert.match(
        oneLineError(other.stderr),
        /cannot append to .*: it holds 16000 Hz 1-channel audio, the stream is 8000 Hz/,
      );
      sameBytes(await Deno.readFile(`${dir}/from_customer.wav`), before, "untouched");
      // A symbolic link would write outside the directory.
      await Deno.remove(`${dir}/to_customer.wav`);
      await Deno.symlink(`${dir}/from_customer.wav`, `${dir}/to_customer.wav`);
      const link = await run([]);
      assert.equal(link.code, 1);
      assert.match(oneLineError(link.stderr), /cannot append to .*to_customer\.wav: it is a symbolic link/);
    } finally {
      await Deno.remove(path);
      await Deno.remove(path16);
    }
  });
});

Deno.test("extract --contact-id picks one contact out of a body that holds several; one it does not hold is exit 2", async () => {
  // Was: the first fragment (another contact's) ended the run: exit 0, "nothing was written", two empty WAVs.
  const s = connectStream({ fragments: 6, contactIds: ["c-1", "c-1", "c-2", "c-2", "c-2", "c-3"] });
  await withTempDir("kvsaudio-contact-", async (dir) => {
    const path = await tempFile(s.bytes);
    try {
      const r = await kvsaudio(["extract", path, "--out", `${dir}/c2`, "--contact-id", "c-2", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const done = jsonLines(r.stdoutText).at(-1);
      assert.deepEqual([done.reason, done.fragments, done.contactId, done.lastFragmentNumber, done.skippedFragments], [
        "contact-changed",
        3,
        "c-2",
        s.fragments[4].fragmentNumber,
        2,
      ]);
      // None skipped is 0, not left out.
      const first = await kvsaudio(["extract", path, "--out", `${dir}/c1`, "--contact-id", "c-1", "--json"]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(jsonLines(first.stdoutText).at(-1).skippedFragments, 0);
      const exp = expectedPcm(s, { fromIndex: 2, untilIndex: 5 });
      sameBytes((await readWav(`${dir}/c2/from_customer.wav`)).data, exp.from!, "from");
      sameBytes((await readWav(`${dir}/c2/to_customer.wav`)).data, exp.to!, "to");
      const text = await kvsaudio(["extract", path, "--out", `${dir}/c3`, "--contact-id", "c-3"]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdoutText, /^skipped 5 fragment\(s\) before the first of ContactId c-3$/m);
      const missing = await kvsaudio(["extract", path, "--out", `${dir}/c9`, "--contact-id", "c-9"]);
      assert.equal(missing.code, 2);
      assert.equal(
        oneLineError(missing.stderr),
        `kvsaudio: ContactId c-9 is not in ${path}: its 6 fragment(s) are of ContactId c-1, c-2, c-3`,
      );
      // No empty WAVs left, nor the directory the run made (was: an empty directory).
      assert.equal(await Deno.stat(`${dir}/c9`).then(() => true, () => false), false);
      // Set in the config file, the ContactId is blamed on it (an error-path audit: the file went unnamed).
      await Deno.writeTextFile(`${dir}/c9.ini`, "[extract]\ncontact-id = c-9\n");
      const configured = await kvsaudio(["extract", path, "--out", `${dir}/c9`, "--config", `${dir}/c9.ini`]);
      assert.equal(configured.code, 2);
      assert.equal(
        oneLineError(configured.stderr),
        `kvsaudio: ContactId c-9 is not in ${path}: its 6 fragment(s) are of ContactId c-1, c-2, c-3 ` +
          `(contact-id is set in ${dir}/c9.ini)`,
      );
      // A fragment whose ContactId tags disagree (c-2 before its Cluster, c-1 after) is not the contact's first.
      const mixed = s.bytes.slice();
      const f2 = s.fragments[2];
      const at = new TextDecoder("latin1").decode(mixed.subarray(f2.offset, f2.offset + f2.bytes.length)).lastIndexOf(
        "c-2",
      );
      mixed[f2.offset + at + 2] = 0x31;
      const mixedPath = await tempFile(mixed);
      const m = await kvsaudio(["extract", mixedPath, "--out", `${dir}/m`, "--contact-id", "c-2", "--json"]);
      await Deno.remove(mixedPath);
      assert.equal(m.code, 0, m.stderr);
      assert.equal(jsonLines(m.stdoutText).at(-1).fragments, 2);
      // A contact only in a fragment whose tags disagree: said so (was listed among the ContactIds the input holds,
      // after "is not in").
      const abc = connectStream({ fragments: 3, contactIds: ["c-a", "c-b", "c-c"] });
      const f1 = abc.fragments[1];
      const b1 = new TextDecoder("latin1").decode(abc.bytes.subarray(f1.offset, f1.offset + f1.bytes.length));
      /** extract --contact-id `id` of `abc` whose fragment 1 ends its trailing ContactId with `last`: the error. */
      const refused = async (last: number, id: string) => {
        const bytes = abc.bytes.slice();
        bytes[f1.offset + b1.lastIndexOf("c-b") + 2] = last;
        const path = await tempFile(bytes);
        const r = await kvsaudio(["extract", path, "--out", `${dir}/x-${id}`, "--contact-id", id]);
        await Deno.remove(path);
        assert.equal(r.code, 2);
        return oneLineError(r.stderr);
      };
      assert.match(
        await refused(0x63, "c-b"), // its trailing ContactId → c-c
        /is not in .*: its 3 fragment\(s\) are of ContactId c-a, c-c \(it is only in fragments also tagged with another ContactId\)$/,
      );
      // …also when it is only in the ContactId tag after a Cluster (was: not named among them, as if not in the input).
      assert.match(
        await refused(0x64, "c-d"), // its trailing ContactId → c-d
        /is not in .*: its 3 fragment\(s\) are of ContactId c-a, c-b, c-c \(it is only in fragments also tagged with another ContactId\)$/,
      );
      sameBytes(
        (await readWav(`${dir}/m/from_customer.wav`)).data,
        expectedPcm(s, { fromIndex: 3, untilIndex: 5 }).from!,
        "from fragment 3",
      );
    } finally {
      await Deno.remove(path);
    }
  });
});

Deno.test("a second run writing the same files while the first still runs is refused; the first's files stay whole", async () => {
  // Was: two --append runs wrote over each other's audio (both exit 0), and --force truncated a running one's files.
  const s = connectStream({ fragments: 4 });
  await withTempDir("kvsaudio-lock-", async (dir) => {
    const first = kvsaudioCommand(["extract", "-", "--out", dir], { stdin: "piped", stdout: "null", stderr: "null" })
      .spawn();
    const w = first.stdin.getWriter();
    try {
      await w.write(s.bytes.subarray(0, s.fragments[2].offset)); // fragment 0 whole once fragment 1 begins
      await waitForAudio(`${dir}/from_customer.wav`, 16 * 512 * 2, "first run");
      for (const mode of ["--append", "--force"]) {
        const path = await tempFile(s.bytes);
        const second = await kvsaudio(["extract", path, "--out", dir, mode]);
        await Deno.remove(path);
        assert.equal(second.code, 1, `${mode}: ${second.stderr}`);
        assert.match(
          oneLineError(second.stderr),
          /^kvsaudio: cannot write .*_customer\.wav: another kvsaudio run is writing it$/,
          mode,
        );
      }
      await w.write(s.bytes.subarray(s.fragments[2].offset));
    } finally {
      await w.close();
    }
    assert.equal((await first.status).code, 0);
    await sameWavs(dir, expectedPcm(s));
    // A run that writes more outputs than the running one holds is refused before it cuts any of them (was:
    // --force truncated from_customer.wav of an earlier run, then was refused on to_customer.wav).
    const before = await Deno.readFile(`${dir}/from_customer.wav`);
    await Deno.mkdir(`${dir}/t`);
    await Deno.writeFile(`${dir}/t/from_customer.wav`, before);
    const only = kvsaudioCommand(["extract", "-", "--out", `${dir}/t`, "--tracks", "to"], {
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const w2 = only.stdin.getWriter();
    try {
      await w2.write(s.bytes.subarray(0, s.fragments[2].offset));
      await waitForAudio(`${dir}/t/to_customer.wav`, 16 * 512 * 2, "the to-only run");
      const path = await tempFile(s.bytes);
      const forced = await kvsaudio(["extract", path, "--out", `${dir}/t`, "--force"]);
      await Deno.remove(path);
      assert.equal(forced.code, 1, forced.stderr);
      sameBytes(await Deno.readFile(`${dir}/t/from_customer.wav`), before, "from_customer.wav not cut");
    } finally {
      await w2.close();
    }
    assert.equal((await only.status).code, 0);
  });
});

Deno.test("extract: a contact change in a body without KVS fragment numbers names the fragment by its byte", async () => {
  // Was: the done event's stopFragmentNumber was the text "at byte N", and the summary said "at fragment at byte N".
  const s = connectStream({ fragments: 3, contactIds: ["c-1", "c-1", "c-2"], kvsTags: false });
  await withTempDir("kvsaudio-nokvs-", async (dir) => {
    const path = await tempFile(s.bytes);
    try {
      const r = await kvsaudio(["extract", path, "--out", `${dir}/j`, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const done = jsonLines(r.stdoutText).at(-1);
      assert.deepEqual([done.reason, done.fragments, done.stopFragmentNumber], ["contact-changed", 2, null]);
      const text = await kvsaudio(["extract", path, "--out", `${dir}/t`]);
      assert.match(
        text.stdoutText,
        new RegExp(`the ContactId changed after c-1 \\(at the fragment at byte ${s.fragments[2].offset}\\)`),
      );
    } finally {
      await Deno.remove(path);
    }
  });
});

Deno.test("extract: WAVs made with no audio take the format the stream said, and --append re-heads a WAV with no audio", async () => {
  // Was: 44-byte WAVs "at 8000 Hz" for a 16 kHz stream, and --append of its audio into them refused (exit 2).
  // A document with both tracks and a Cluster but no block.
  const noBlocks = (mime?: string) =>
    liveDocument([namedTracks(), ...(mime ? [tagsEl([["MimeType", mime]])] : [])], 1000);
  const audio = connectStream({ fragments: 2, rate: 16000 });
  const exp = expectedPcm(audio);
  await withTempDir("kvsaudio-noaudio-", async (dir) => {
    const nonePath = await tempFile(noBlocks("audio/L16;rate=16000;channels=1;")),
      audioPath = await tempFile(audio.bytes);
    const unsaid = await tempFile(noBlocks());
    try {
      for (const [first, rate] of [[nonePath, 16000], [unsaid, 8000]] as const) {
        const out = `${dir}/${rate}`;
        const r = await kvsaudio(["extract", first, "--out", out]);
        assert.equal(r.code, 0, r.stderr);
        const empty = await readWav(`${out}/from_customer.wav`);
        assert.deepEqual([empty.info.rate, empty.data.length], [rate, 0]);
        const a = await kvsaudio(["extract", audioPath, "--out", out, "--append"]);
        assert.equal(a.code, 0, a.stderr);
        const from = await readWav(`${out}/from_customer.wav`);
        assert.equal(from.info.rate, 16000);
        sameBytes(from.data, exp.from!, `from after ${rate}`);
        sameBytes((await readWav(`${out}/to_customer.wav`)).data, exp.to!, `to after ${rate}`);
      }
    } finally {
      for (const p of [nonePath, audioPath, unsaid]) await Deno.remove(p);
    }
  });
});

Deno.test("--json with --out -: standard error is NDJSON to its end, also on an error (the done event tells it)", async () => {
  // Was: the error's text line came after the done event there, so a JSON reader failed exactly on errors.
  const s = connectStream({ fragments: 4, errorAt: { index: 2, code: "4000" } });
  const path = await tempFile(s.bytes);
  try {
    for (const extra of [[], ["--bogus"]]) {
      const r = await kvsaudio(["extract", path, "--out", "-", "--tracks", "from", "--json", ...extra]);
      assert.equal(r.code, extra.length ? 2 : 5, r.stderr);
      const lines = r.stderr.trim().split("\n");
      const events = lines.map((l) => JSON.parse(l));
      const done = events.at(-1);
      assert.equal(done.event, "done");
      assert.equal(done.exitCode, r.code);
      assert.match(done.message, extra.length ? /unknown option/ : /in-band error fragment/);
    }
    // Without --out -, the events are on standard output and the error line on standard error, as before.
    const dir = await Deno.makeTempDir();
    const r = await kvsaudio(["extract", path, "--out", dir, "--json"]);
    assert.equal(r.code, 5);
    assert.match(
      oneLineError(r.stderr),
      /^kvsaudio: \/.*\.mkv: byte \d+: KVS sent an in-band error fragment at fragment \d{47}: /,
    );
    await Deno.remove(dir, { recursive: true });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("config file: a bad value names the file it came from; a UTF-8 BOM is no part of the first line", async () => {
  // Was: "--max-gap needs …" with no such flag given, and "unknown option '[extract]'" for a file saved with a BOM.
  await withTempDir("kvsaudio-config-", async (dir) => {
    const ini = `${dir}/k.ini`;
    await Deno.writeTextFile(ini, "[extract]\nmax-gap = 5s\n");
    const r = await kvsaudio(["extract", "x.mkv", "--out", `${dir}/o`, "--config", ini]);
    assert.equal(r.code, 2);
    assert.equal(
      oneLineError(r.stderr),
      `kvsaudio: extract: --max-gap needs a non-negative number, not '5s' (max-gap is set in ${ini})`,
    );
    // The same value as a flag is the flag's fault.
    const flagged = await kvsaudio(["extract", "x.mkv", "--out", `${dir}/o`, "--max-gap", "5s"]);
    assert.equal(oneLineError(flagged.stderr), "kvsaudio: extract: --max-gap needs a non-negative number, not '5s'");
    await Deno.writeTextFile(ini, "\ufeff[extract]\nformat = flac\n");
    const bom = await kvsaudio(["extract", "x.mkv", "--out", `${dir}/o`, "--config", ini]);
    assert.equal(bom.code, 2);
    assert.equal(
      oneLineError(bom.stderr),
      `kvsaudio: extract: --format must be one of wav, raw, not 'flac' (format is set in ${ini})`,
    );
  });
});

Deno.test("a run that fails before writing audio leaves no directory it made; one that was there stays", async () => {
  // Was: an empty output directory (and its new parents) after exit 3 on an empty input, or exit 4 in pull.
  await withTempDir("kvsaudio-nodir-", async (dir) => {
    const empty = await tempFile(new Uint8Array(0));
    try {
      const r = await kvsaudio(["extract", empty, "--out", `${dir}/new/sub/out`]);
      assert.equal(r.code, 3, r.stderr);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing left in the temp dir");
      await Deno.mkdir(`${dir}/there`);
      const kept = await kvsaudio(["extract", empty, "--out", `${dir}/there/out`]);
      assert.equal(kept.code, 3);
      assert.deepEqual([...Deno.readDirSync(`${dir}/there`)], [], "the made one is gone");
      assert.ok((await Deno.stat(`${dir}/there`)).isDirectory, "the one that was there stays");
      // Paths with `.` and `..` (a review: the removal stopped at such a part).
      for (
        const out of [`${dir}/there/new/./x`, `${dir}/there/a/b/../c`, `${dir}/there//d/`, `${dir}/there/e/f/../f`]
      ) {
        assert.equal((await kvsaudio(["extract", empty, "--out", out])).code, 3);
        assert.deepEqual([...Deno.readDirSync(`${dir}/there`)], [], out);
      }
    } finally {
      await Deno.remove(empty);
    }
  });
});

Deno.test("extract warns of an element of unknown id right in a Segment or a Cluster (a damaged Cluster or block id)", async () => {
  // Was: skipped silently, its audio lost with exit 0 (only inspect's unknown-elements flag told).
  const block = (t: number, rel: number) => simpleBlock(t, rel, rel === 0, new Uint8Array(1024).fill(t));
  const tracks = namedTracks();
  const cluster = (tc: number, id: number = ID.Cluster) => el(id, [uintEl(ID.Timecode, tc), block(1, 0), block(2, 0)]);
  const damagedCluster = concat([
    ebmlHeader(),
    el(ID.Segment, [tracks, cluster(0), cluster(64, 0x1a43b675), cluster(128)]),
  ]);
  const damagedBlock = concat([
    ebmlHeader(),
    el(ID.Segment, [
      tracks,
      el(ID.Cluster, [uintEl(ID.Timecode, 0), block(1, 0), el(0x7aaa, new Uint8Array(9)), block(2, 0)]),
    ]),
  ]);
  for (
    const [bytes, where] of [[damagedCluster, /0x1A43B675 \(\d+ bytes at byte \d+\) in its Segment was skipped/], [
      damagedBlock,
      /0x7AAA \(12 bytes at byte \d+\) in its Cluster was skipped/,
    ]] as const
  ) {
    const path = await tempFile(bytes);
    await withTempDir("kvsaudio-unknown-", async (dir) => {
      const r = await kvsaudio(["extract", path, "--out", dir, "--force"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, where);
      assert.match(r.stderr, /audio in it, if any, is not written/);
    });
    await Deno.remove(path);
  }
  // Known elements a plain file may hold there (Cues, Void, Chapters) are no such thing.
  const plain = concat([ebmlHeader(), el(ID.Segment, [tracks, cluster(0), el(0xec, new Uint8Array(4)), cluster(64)])]);
  const path = await tempFile(plain);
  await withTempDir("kvsaudio-unknown-", async (dir) => {
    const r = await kvsaudio(["extract", path, "--out", dir, "--force"]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /unknown id/);
  });
  await Deno.remove(path);
});

Deno.test("extract --json: events in the order of the stream (a fragment's warnings before its event, contact-changed after the last)", async () => {
  // Was, for a while: fragment events waited for their commit while warnings and contact-changed did not.
  const s = connectStream({ fragments: 6, omit: [2], contactIds: ["c-1", "c-1", "c-1", "c-1", "c-1", "c-2"] });
  const path = await tempFile(s.bytes);
  await withTempDir("kvsaudio-order-", async (dir) => {
    const r = await kvsaudio(["extract", path, "--out", dir, "--json", "--max-gap", "0"]);
    assert.equal(r.code, 0, r.stderr);
    const kinds = jsonLines(r.stdoutText).map((e) => e.event === "fragment" ? `f${e.index}` : e.event);
    assert.deepEqual(kinds, ["f0", "f1", "warning", "f2", "f3", "contact-changed", "done"]);
  });
  await Deno.remove(path);
});

Deno.test("--append: an empty WAV of this run takes the stream's format only if no other output holds audio in another", async () => {
  // A review: a 16 kHz from_customer.wav with audio, an empty to_customer.wav; `--append --tracks to` of an 8 kHz
  // stream re-headed the empty one at 8 kHz, leaving two formats in one directory.
  const from16 = connectStream({ fragments: 2, rate: 16000, tracks: ["AUDIO_FROM_CUSTOMER"] });
  const to8 = connectStream({ fragments: 1, tracks: ["AUDIO_TO_CUSTOMER"] });
  await withTempDir("kvsaudio-mixed-", async (dir) => {
    const a = await tempFile(from16.bytes), b = await tempFile(to8.bytes);
    try {
      assert.equal((await kvsaudio(["extract", a, "--out", dir])).code, 0);
      const r = await kvsaudio(["extract", b, "--out", dir, "--append", "--tracks", "to"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(oneLineError(r.stderr), /cannot append to .*from_customer\.wav: it holds 16000 Hz 1-channel audio/);
      assert.equal((await readWav(`${dir}/to_customer.wav`)).info.rate, 16000, "left as it was");
    } finally {
      await Deno.remove(a);
      await Deno.remove(b);
    }
  });
});

Deno.test("--stereo on a body with no audio whose MimeType says 2 channels: empty mono files, exit 0", async () => {
  // A review: the empty files were opened at the format said, refused for --stereo after a normal end (exit 2).
  const doc = liveDocument(
    [namedTracks(["AUDIO_FROM_CUSTOMER"]), tagsEl([["MimeType", "audio/L16;rate=16000;channels=2;"]])],
    1000,
  );
  const path = await tempFile(doc);
  await withTempDir("kvsaudio-stereo-empty-", async (dir) => {
    const r = await kvsaudio(["extract", path, "--out", dir, "--stereo"]);
    assert.equal(r.code, 0, r.stderr);
    const st = await readWav(`${dir}/stereo.wav`);
    assert.deepEqual([st.info.rate, st.info.channels, st.data.length], [16000, 2, 0]);
  });
  await Deno.remove(path);
});

Deno.test("extract: an output path with a newline is written escaped in the summary (one line)", async () => {
  const path = await tempFile(connectStream({ fragments: 1 }).bytes);
  await withTempDir("kvsaudio-nl-", async (dir) => {
    const r = await kvsaudio(["extract", path, "--out", `${dir}/a\nb`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdoutText.split("\n")[0], /^wrote .*a\\x0ab\/from_customer\.wav, .*a\\x0ab\/to_customer\.wav$/);
  });
  await Deno.remove(path);
});

Deno.test("--no-json after --json: a run refused while reading its options prints no done event", async () => {
  const r = await kvsaudio(["extract", "x.mkv", "--out", "o", "--json", "--no-json", "--bogus"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdoutText, "");
});

Deno.test("extract --append: a track that has a TrackEntry but no more blocks is not padded by the next run", async () => {
  // A tester: the next run padded it with silence to the other track's end, though one run leaves it as it ended.
  const doc = (i: number, withTo: boolean) =>
    liveDocument([namedTracks()], 1000 + 64 * i, [
      simpleBlock(1, 0, true, new Uint8Array(1024).fill(i + 1)),
      ...(withTo ? [simpleBlock(2, 0, false, new Uint8Array(1024).fill(0x40 + i))] : []),
    ]);
  const docs = [0, 1, 2, 3, 4, 5].map((i) => doc(i, i < 2));
  await withTempDir("kvsaudio-nopad-", async (dir) => {
    const whole = await tempFile(concat(docs)), first = await tempFile(concat(docs.slice(0, 4)));
    const rest = await tempFile(concat(docs.slice(4)));
    try {
      assert.equal((await kvsaudio(["extract", whole, "--out", `${dir}/one`])).code, 0);
      assert.equal((await kvsaudio(["extract", first, "--out", `${dir}/two`])).code, 0);
      const r = await kvsaudio(["extract", rest, "--out", `${dir}/two`, "--append"]);
      assert.equal(r.code, 0, r.stderr);
      for (const name of ["from_customer.wav", "to_customer.wav"]) {
        sameBytes(await Deno.readFile(`${dir}/two/${name}`), await Deno.readFile(`${dir}/one/${name}`), name);
      }
    } finally {
      for (const p of [whole, first, rest]) await Deno.remove(p);
    }
  });
});

Deno.test("a truncated stream of no Connect tracks is refused in one line (no 'its whole blocks were written')", async () => {
  const doc = liveDocument([el(ID.Tracks, [el(ID.TrackEntry, [uintEl(ID.TrackNumber, 1)])])], 1000, [
    simpleBlock(1, 0, true, new Uint8Array(1024)),
    simpleBlock(1, 64, false, new Uint8Array(1024)),
  ]);
  const path = await tempFile(doc.subarray(0, doc.length - 500));
  await withTempDir("kvsaudio-trunc-", async (dir) => {
    const r = await kvsaudio(["extract", path, "--out", `${dir}/o`]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(oneLineError(r.stderr), /not an Amazon Connect stream/);
  });
  await Deno.remove(path);
});

Deno.test("an input that fails to read (standard input a directory, /proc/self/mem): one line naming it, exit 2, no output directory", async () => {
  // A tester: "kvsaudio: internal error: Is a directory (os error 21)", exit 1, no summary or done event, and an
  // empty output directory left behind.
  await withTempDir("kvsaudio-readfail-", async (dir) => {
    const x = await kvsaudio(["extract", "-", "--out", `${dir}/out`], { stdinFile: dir });
    assert.equal(x.code, 2, x.stderr);
    assert.equal(oneLineError(x.stderr), "kvsaudio: stdin: read failed: Is a directory (os error 21)");
    assert.match(x.stdoutText, /stopped: error \(exit 2\); no audio was written/);
    await assert.rejects(Deno.stat(`${dir}/out`), Deno.errors.NotFound);
    const j = await kvsaudio(["extract", "-", "--out", `${dir}/out`, "--json"], { stdinFile: dir });
    assert.equal(j.code, 2, j.stderr);
    const done = jsonLines(j.stdoutText).find((e) => e.event === "done")!;
    assert.deepEqual([done.reason, done.exitCode, done.message], [
      "error",
      2,
      "stdin: read failed: Is a directory (os error 21)",
    ]);
    const i = await kvsaudio(["inspect", "-"], { stdinFile: dir });
    assert.equal(i.code, 2, i.stderr);
    assert.equal(oneLineError(i.stderr), "kvsaudio: stdin: read failed: Is a directory (os error 21)");
    if (Deno.build.os === "linux") {
      const m = await kvsaudio(["extract", "/proc/self/mem", "--out", `${dir}/out`]);
      assert.equal(m.code, 2, m.stderr);
      assert.equal(oneLineError(m.stderr), "kvsaudio: /proc/self/mem: read failed: Input/output error (os error 5)");
    }
  });
});

Deno.test("cannot open: a path with a newline gets the same message as any other (no ': stat …' tail)", async () => {
  await withTempDir("kvsaudio-nl-", async (dir) => {
    const r = await kvsaudio(["inspect", `${dir}/a\nb.mkv`]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      oneLineError(r.stderr),
      `kvsaudio: cannot open ${dir}/a\\x0ab.mkv: No such file or directory (os error 2)`,
    );
  });
});

Deno.test({
  name:
    "a full disk (a file size limit): every WAV cut back to the last commit, as the summary counts; none at all at the first",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    // A tester, on a small tmpfs: at the first write, a 0-byte from_customer.wav and the directory were left (and
    // the next run refused to overwrite it); later, each WAV held megabytes its header did not count, and
    // to_customer.wav was committed further at close than the summary said. `ulimit -f` makes writes past a size
    // fail (EFBIG) as a full disk does (ENOSPC).
    const s = connectStream({ fragments: 60 });
    const exp = expectedPcm(s);
    await withTempDir("kvsaudio-full-", async (dir) => {
      await Deno.writeFile(`${dir}/call.mkv`, s.bytes);
      const run = (blocks: number, out: string, extra: string[] = []) =>
        new Deno.Command("sh", {
          args: [
            "-c",
            `ulimit -f ${blocks}; trap '' XFSZ; exec "$@"`,
            "sh",
            Deno.execPath(),
            ...RUN_ARGS,
            MAIN,
            "extract",
            `${dir}/call.mkv`,
            "--out",
            out,
            "--json",
            ...extra,
          ],
          env: { NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
      // 512 bytes: the headers fit, the first fragment's audio does not.
      const first = await run(1, `${dir}/a`);
      const firstErr = new TextDecoder().decode(first.stderr);
      assert.equal(first.code, 1, firstErr);
      assert.match(firstErr, /a\/from_customer\.wav: write failed: File too large/);
      await assert.rejects(Deno.stat(`${dir}/a`), Deno.errors.NotFound, "no directory, no 0-byte or header-only WAV");
      // 100 KiB: a few fragments fit.
      for (const extra of [[], ["--stereo"]]) {
        const out = `${dir}/b${extra.length}`;
        const r = await run(200, out, extra);
        const err = new TextDecoder().decode(r.stderr);
        assert.equal(r.code, 1, err);
        const done = jsonLines(new TextDecoder().decode(r.stdout)).find((e) => e.event === "done")!;
        const frames = done.samples as { from_customer: number; to_customer: number };
        assert.ok(done.fragments >= 1, err);
        for (
          const [name, pcm, n] of [
            ["from_customer", exp.from!, frames.from_customer],
            ["to_customer", exp.to!, frames.to_customer],
          ] as const
        ) {
          const bytes = await Deno.readFile(`${out}/${name}.wav`);
          const h = parseWavHeader(bytes);
          assert.equal(bytes.length, 44 + h.dataBytes, `${name}: the file is what its header counts`);
          assert.equal(h.dataBytes, 2 * n, `${name}: the header counts what the summary does`);
          sameBytes(bytes.subarray(44), pcm.subarray(0, 2 * n), name);
        }
        if (extra.length > 0) {
          const mix = await Deno.readFile(`${out}/stereo.wav`);
          const h = parseWavHeader(mix);
          assert.equal(mix.length, 44 + h.dataBytes);
          assert.ok(h.dataBytes <= 4 * frames.from_customer, "the mix holds no more than the mono files");
        }
      }
      // --append, where only the mix (twice the size) meets the limit at the first commit: every file stays as it
      // was before the run (a re-test: the mono files kept one more fragment than the mix and the done event).
      const ten = connectStream({ fragments: 10 });
      await Deno.writeFile(`${dir}/ten.mkv`, ten.bytes);
      const before = await kvsaudio(["extract", `${dir}/ten.mkv`, "--out", `${dir}/c`, "--stereo"]);
      assert.equal(before.code, 0, before.stderr);
      const names = ["from_customer.wav", "to_customer.wav", "stereo.wav"];
      const held = await Promise.all(names.map((n) => Deno.readFile(`${dir}/c/${n}`)));
      const blocks = Math.ceil((held[2].length + 8000) / 512); // the mix can take less than a fragment more
      const r = await run(blocks, `${dir}/c`, ["--stereo", "--append"]);
      assert.equal(r.code, 1, new TextDecoder().decode(r.stderr));
      const done = jsonLines(new TextDecoder().decode(r.stdout)).find((e) => e.event === "done")!;
      assert.equal(done.fragments, 0);
      for (const [i, n] of names.entries()) sameBytes(await Deno.readFile(`${dir}/c/${n}`), held[i], `${n} as it was`);
      // --append to empty files (a review: left as 44 zero bytes and audio, a file the next --append refused).
      await Deno.mkdir(`${dir}/d`);
      for (const n of names.slice(0, 2)) await Deno.writeFile(`${dir}/d/${n}`, new Uint8Array(0));
      const empty = await run(1, `${dir}/d`, ["--append"]);
      assert.equal(empty.code, 1, new TextDecoder().decode(empty.stderr));
      for (const n of names.slice(0, 2)) assert.equal((await Deno.stat(`${dir}/d/${n}`)).size, 0, `${n} empty again`);
    });
  },
});

Deno.test("extract --append that adds no audio does not say it wrote the files", async () => {
  // A tester: with stereo.wav immutable, `--append --stereo` failed before any audio (exit 1, nothing changed), yet
  // the summary said "wrote …/from_customer.wav, …/to_customer.wav" and "the files hold everything written before
  // it". (As root no file is refused: the run goes through a script that refuses stereo.wav as the system would.)
  await withTempDir("kvsaudio-append-none-", async (dir) => {
    const input = await tempFile(connectStream({ fragments: 2 }).bytes);
    assert.equal((await kvsaudio(["extract", input, "--out", dir, "--stereo"])).code, 0);
    const before = await Deno.readFile(`${dir}/from_customer.wav`);
    const script = `${dir}/refusing.ts`;
    await Deno.writeTextFile(
      script,
      `const openSync = Deno.openSync;
Deno.openSync = (path, options) => {
  if (String(path).endsWith("/stereo.wav") && options?.write) throw new Deno.errors.PermissionDenied("Operation not permitted (os error 1)");
  return openSync(path, options);
};
const { run } = await import(${JSON.stringify(`${ROOT}src/cli/run.ts`)});
Deno.exit(await run(Deno.args));
`,
    );
    const refusing = (...extra: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--no-check",
          script,
          "extract",
          input,
          "--out",
          `${dir}`,
          "--stereo",
          "--append",
          ...extra,
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
    const out = await refusing();
    const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /stereo\.wav: Operation not permitted/);
    assert.doesNotMatch(stdout, /wrote|the files hold/);
    assert.match(stdout, /no audio was written/);
    assert.deepEqual(await Deno.readFile(`${dir}/from_customer.wav`), before);
    // The done event's `files` (the paths written) likewise.
    const json = await refusing("--json");
    assert.equal(json.code, 1);
    const done = jsonLines(new TextDecoder().decode(json.stdout)).find((e) => e.event === "done")!;
    assert.deepEqual(done.files, []);
    await Deno.remove(input);
  });
});

Deno.test("extract under a file size limit (ulimit -f), SIGXFSZ not ignored: exit 1 with one line, the files at their last commit", async () => {
  // A tester: the process was killed by SIGXFSZ (exit 153): no error line, no done event, and a WAV holding bytes its
  // header did not count. (The test above ignores the signal, as `trap '' XFSZ` does; a shell does not by default.)
  await withTempDir("kvsaudio-fsize-", async (dir) => {
    const input = `${dir}/call.mkv`;
    await Deno.writeFile(input, connectStream({ fragments: 30 }).bytes);
    // (Once without the limit: Deno's own cache is written then, not under the limit.)
    assert.equal((await kvsaudio(["extract", input, "--out", `${dir}/warm`, "--stereo"])).code, 0);
    const out = await kvsaudioInShell('ulimit -f 300 && exec "$@"', [
      "extract",
      input,
      "--out",
      `${dir}/o`,
      "--stereo",
      "--json",
    ], { stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.signal, null, "not killed by a signal");
    assert.equal(out.code, 1, stderr);
    assert.match(oneLineError(stderr), /^kvsaudio: .*\/o\/[a-z_]+\.wav: write failed: File too large \(os error 27\)$/);
    const done = jsonLines(new TextDecoder().decode(out.stdout)).find((e) => e.event === "done")!;
    assert.equal(done.exitCode, 1);
    for (const name of ["from_customer", "to_customer", "stereo"]) {
      const bytes = await Deno.readFile(`${dir}/o/${name}.wav`);
      const info = parseWavHeader(bytes);
      assert.equal(bytes.length, 44 + info.dataBytes, `${name}: the header counts what the file holds`);
      const perFragment = 8192 * 2 * (name === "stereo" ? 2 : 1);
      assert.equal(info.dataBytes, done.fragments * perFragment, `${name}: the fragments the done event counts`);
    }
    assert.ok(done.fragments > 0 && done.fragments < 30);
    // Standard output into a file under the limit: Deno writes what it did not take again as the process exits,
    // which raised SIGXFSZ once more after kvsaudio's listener was gone (exit 153 in most runs).
    for (let i = 0; i < 3; i++) {
      const piped = await kvsaudioInShell('ulimit -f 40 && exec "$@" > "$OUT"', [
        "extract",
        input,
        "--out",
        "-",
        "--tracks",
        "from",
        "--json",
      ], { stdout: "null", stderr: "piped", env: { NO_COLOR: "1", OUT: `${dir}/stdout.wav` } }).output();
      assert.equal(piped.signal, null, "--out -: not killed by a signal");
      assert.equal(piped.code, 1, new TextDecoder().decode(piped.stderr));
    }
  });
});

Deno.test("extract --json --out -: events that cannot be written to standard error fail the run (exit 1)", async () => {
  // A tester: with the events on stderr (the audio on stdout), `2>/dev/full` or a reader of stderr that went away
  // lost every event silently, and the run exited 0.
  const input = await tempFile(connectStream({ fragments: 3 }).bytes);
  const run = (...extra: string[]) =>
    kvsaudioInShell('exec "$@" 2>/dev/full', ["extract", input, "--out", "-", "--tracks", "from", ...extra], {
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).output();
  const out = await run("--json");
  assert.equal(out.code, 1);
  // Without --json, stderr holds messages only: those are dropped, and the run goes on.
  const text = await run();
  assert.equal(text.code, 0);
  assert.equal(text.stdout.length, 44 + 3 * 8192 * 2, "the audio on standard output");
  await Deno.remove(input);
});

Deno.test("extract --json into a standard output closed before the first commit: the files keep the audio committed", async () => {
  // A review: the lines printed at a commit are written out at once now; a write to a closed standard output failed
  // inside the commit's report, before its counts were recorded, and the run then removed its files and their
  // directory as if nothing had been committed, though their headers counted audio.
  await withTempDir("kvsaudio-closed-", async (dir) => {
    const s = connectStream({ fragments: 5 });
    // (The first fragment is not Connect's: no audio, its event is printed before any commit.)
    const first = s.fragments[0].bytes.slice();
    renameDirections(first);
    const input = `${dir}/call.mkv`;
    await Deno.writeFile(input, concat([first, s.bytes.subarray(s.fragments[1].offset)]));
    const child = kvsaudioInShell('exec "$@" > "$FIFO"', ["extract", input, "--out", `${dir}/o`, "--json"], {
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", FIFO: `${dir}/fifo` },
    });
    if (!(await makeFifo(`${dir}/fifo`, "fifo"))) return;
    const running = child.output();
    // The reader opens the FIFO and goes away at once: every write to it fails (EPIPE).
    (await Deno.open(`${dir}/fifo`, { read: true })).close();
    const out = await running;
    assert.equal(out.code, 1, new TextDecoder().decode(out.stderr));
    for (const name of ["from_customer", "to_customer"]) {
      const bytes = await Deno.readFile(`${dir}/o/${name}.wav`);
      const info = parseWavHeader(bytes);
      assert.equal(bytes.length, 44 + info.dataBytes, `${name}: the header counts what the file holds`);
      assert.ok(info.dataBytes > 0, `${name}: the audio committed is kept`);
    }
  });
});

Deno.test("pull: a wrong value is told as such before files in the way; an event the config file names names the file", async () => {
  // A tester: with a file in the output directory, every pull value error was told as "refusing to overwrite …
  // (use --force)"; `event = missing.json` in kvsaudio.ini was not blamed on the file.
  await withTempDir("kvsaudio-pullorder-", async (dir) => {
    await Deno.mkdir(`${dir}/o`);
    await Deno.writeFile(`${dir}/o/from_customer.wav`, new Uint8Array(0));
    const arn = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-x/1700000000000";
    const env = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" };
    const bad = await kvsaudio(["pull", "--arn", arn, "--start-timestamp", "2026-02-30", "--out", "o"], {
      cwd: dir,
      env,
    });
    assert.equal(bad.code, 2);
    assert.match(oneLineError(bad.stderr), /--start-timestamp must be/);
    // The profile's and the region's checks too (a re-tester: --region eu-west-1 was told as "use --force").
    const region = await kvsaudio(["pull", "--arn", arn, "--start", "now", "--out", "o", "--region", "eu-west-1"], {
      cwd: dir,
      env,
    });
    assert.equal(region.code, 2);
    assert.match(oneLineError(region.stderr), /is in region us-east-1 but the AWS region is eu-west-1/);
    const fine = await kvsaudio(["pull", "--arn", arn, "--start", "now", "--out", "o"], { cwd: dir, env });
    assert.equal(fine.code, 2);
    assert.match(oneLineError(fine.stderr), /refusing to overwrite o\/from_customer\.wav \(use --force\)/);
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "[pull]\nevent = missing.json\n");
    const ev = await kvsaudio(["pull", "--out", "p"], { cwd: dir, env });
    assert.equal(ev.code, 2);
    assert.match(oneLineError(ev.stderr), /cannot read event missing\.json: .* \(event is set in kvsaudio\.ini\)$/);
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "[pull]\nevent =\n");
    const empty = await kvsaudio(["pull", "--out", "p"], { cwd: dir, env });
    assert.equal(empty.code, 2);
    assert.match(oneLineError(empty.stderr), /--event needs a file .* \(event is set in kvsaudio\.ini\)$/);
  });
});

Deno.test("extract --force says which outputs of an earlier run it leaves as they are", async () => {
  // A re-tester: --force without --stereo left an earlier run's stereo.wav; the resume's --append then lined the mono
  // files up with it, and ~29 s of silence went into the middle of the call, without a word.
  await withTempDir("kvsaudio-leftover-", async (dir) => {
    const input = await tempFile(connectStream({ fragments: 2 }).bytes);
    assert.equal((await kvsaudio(["extract", input, "--out", dir, "--stereo"])).code, 0);
    const r = await kvsaudio(["extract", input, "--out", dir, "--force"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^kvsaudio: warning: .*\/stereo\.wav is from an earlier run and is left as it is/m);
    const again = await kvsaudio(["extract", input, "--out", dir, "--force", "--stereo"]);
    assert.equal(again.stderr, "");
    await Deno.remove(input);
  });
});

Deno.test("a working directory the user cannot search holds no config: extract and inspect run (sudo -u svc from root's home)", async () => {
  // An environment tester: every command refused with "cannot read config kvsaudio.ini: Permission denied", exit 2,
  // though no such file existed. (A kvsaudio.ini that exists but cannot be read is still refused: its stat works.)
  const setpriv = "/usr/bin/setpriv";
  if (Deno.uid() !== 0 || !(await Deno.stat(setpriv).then(() => true, () => false))) {
    console.log("skip: needs root and setpriv to run as a user who cannot search the directory");
    return;
  }
  await withTempDir("kvsaudio-cwd-", async (dir) => {
    const s = connectStream({ fragments: 2 });
    await Deno.chmod(dir, 0o777);
    await Deno.writeFile(`${dir}/in.mkv`, s.bytes);
    await Deno.chmod(`${dir}/in.mkv`, 0o644);
    await Deno.mkdir(`${dir}/closed`, { mode: 0o700 });
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(setpriv, {
        args: ["--reuid=54321", "--regid=54321", "--clear-groups", Deno.execPath(), ...RUN_ARGS, MAIN, ...args],
        cwd: `${dir}/closed`,
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "", DENO_DIR: `${dir}/cache`, HOME: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    const x = await run("extract", `${dir}/in.mkv`, "--out", `${dir}/out`, "-q");
    assert.equal(x.code, 0, x.stderr);
    sameBytes((await readWav(`${dir}/out/from_customer.wav`)).data, expectedPcm(s).from!, "from");
    const i = await run("inspect", `${dir}/in.mkv`);
    assert.equal(i.code, 0, i.stderr);
    // An unreadable config file where it can be seen is still an error.
    await Deno.chmod(`${dir}/closed`, 0o777);
    await Deno.writeTextFile(`${dir}/closed/kvsaudio.ini`, "[extract]\nstereo = true\n");
    await Deno.chmod(`${dir}/closed/kvsaudio.ini`, 0o600);
    const u = await run("inspect", `${dir}/in.mkv`);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /cannot read config kvsaudio\.ini: Permission denied/);
  });
});

Deno.test("an input that is a directory or a socket: one line saying what it is, exit 2, no files", async () => {
  await withTempDir("kvsaudio-input-kind-", async (dir) => {
    const sock = Deno.listen({ transport: "unix", path: `${dir}/sock` });
    try {
      for (const [path, what] of [[dir, "a directory"], [`${dir}/sock`, "a socket"]]) {
        for (const cmd of [["inspect", path], ["extract", path, "--out", `${dir}/out`]]) {
          const r = await kvsaudio(cmd);
          assert.equal(r.code, 2, r.stderr);
          // (A socket said "cannot open …: No such device or address", an environment tester.)
          assert.match(oneLineError(r.stderr), new RegExp(`^kvsaudio: ${path}: is ${what}, not a file`));
        }
      }
      assert.equal(await Deno.stat(`${dir}/out`).then(() => true, () => false), false);
    } finally {
      sock.close();
    }
  });
});

Deno.test("--help and --version that cannot be written say so on stderr, exit 1; a reader that went away ends them quietly", async () => {
  // An error-path audit: `--version >/dev/full` said "internal error: No space left on device (set KVSAUDIO_DEBUG=1
  // for details)".
  for (
    const args of [["--version"], ["--help"], ["help"], ["pull", "--help"], ["extract", "--help"], ["inspect", "-h"]]
  ) {
    const full = await kvsaudioInShell('exec "$@" >/dev/full', args, { stdout: "null", stderr: "piped" }).output();
    assert.equal(full.code, 1, args.join(" "));
    assert.equal(
      new TextDecoder().decode(full.stderr),
      "kvsaudio: standard output: write failed: No space left on device (os error 28)\n",
    );
    // (`| head -1`: the help's first line, no message, exit 0.)
    const head = await kvsaudioInShell('"$@" | head -c 1 >/dev/null; exit "${PIPESTATUS[0]}"', args, {
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(head.stderr), "", args.join(" "));
    assert.equal(head.code, 0);
  }
});
