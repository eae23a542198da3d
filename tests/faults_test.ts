/**
 * Fault injection against the loopback KVS stand-in, through the real CLI
 * (`pullCli`) and in-process (`pullInProcess`): dropped connections at every
 * fragment boundary and inside fragments, stalls, throttling storms, 5xx
 * bursts, in-band error fragments, bodies that end mid-fragment, DNS failure
 * and connection refused. For each: the exit code, the message, and the PCM
 * written (equal to an uninterrupted run where a resume is possible, a valid
 * prefix otherwise). No credential ever appears in any output.
 *
 * The last test prints a summary line (faults injected, outcomes).
 */

import assert from "node:assert/strict";
import {
  connectStream,
  errorFragment,
  expectedPcm,
  type GeneratedStream,
  renameDirections,
} from "./support/connect_stream.ts";
import {
  ARN,
  cutsInside,
  FAKE,
  leaksSecret,
  pullCli,
  pullInProcess,
  serve,
  standinFragments,
  withStandin,
} from "./support/pull_harness.ts";
import { type Standin, type StandinFragment, type StandinOptions, startStandin } from "./support/kvs_standin.ts";
import { sameBytes } from "./support/pipeline.ts";
import { concat } from "./support/mkv_writer.ts";
import { jsonLines } from "./support/cli.ts";
import { pool, seeded } from "./support/util.ts";
import { parseWavHeader } from "../src/audio/wav.ts";
import { createKvsClients, type KvsClients } from "../src/kvs/client.ts";
import { ArchivedSource } from "../src/kvs/archived_source.ts";
import { type PullEvent, PullSource } from "../src/kvs/pull_source.ts";

// ---------------------------------------------------------------- helpers

/** Faults injected and outcomes seen, for the summary line. */
const tally = {
  faults: new Map<string, number>(),
  outcomes: new Map<string, number>(),
  cliRuns: 0,
  inProcessRuns: 0,
};
function injected(kind: string, n = 1) {
  tally.faults.set(kind, (tally.faults.get(kind) ?? 0) + n);
}
function outcome(label: string) {
  tally.outcomes.set(label, (tally.outcomes.get(label) ?? 0) + 1);
}

/** Read a WAV and check its header against the file: data length == header dataBytes. */
async function validWav(path: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  const info = parseWavHeader(bytes);
  assert.equal(bytes.length, info.dataOffset + info.dataBytes, `${path}: file length matches the header`);
  assert.equal(info.riffSize, 36 + info.dataBytes, `${path}: RIFF size matches`);
  assert.equal(info.dataBytes % 2, 0, `${path}: whole samples`);
  return bytes.subarray(info.dataOffset);
}

/** Call `fn` for each request the stand-in records, as it arrives (before it is answered). */
function onRequest(standin: Standin, fn: (path: string) => void) {
  const reqs = standin.requests;
  const push = reqs.push.bind(reqs);
  reqs.push = (...items) => {
    const n = push(...items);
    for (const it of items) fn(it.path);
    return n;
  };
}

/** After the `n`-th GetDataEndpoint call (a reconnect when n ≥ 2), answer these errors, one per call. */
function stormFrom(standin: Standin, n: number, errors: { status: number; name: string; message?: string }[]) {
  let seen = 0;
  onRequest(standin, (path) => {
    if (path === "/getDataEndpoint" && ++seen === n) standin.setFaults({ apiErrors: [...errors] });
  });
}

/** A pull from the earliest fragment of {@linkcode ARN}, backing off 1–5 ms. */
const FROM_EARLIEST = {
  stream: { arn: ARN },
  selector: { type: "EARLIEST" as const },
  backoff: { baseMs: 1, capMs: 5 },
};

/** The real SDK's clients against a stand-in at `url`, with fake keys. */
function fakeClients(url: string, responseTimeoutMs: number): Promise<KvsClients> {
  return createKvsClients({ region: "us-east-1", endpointUrl: url, credentials: FAKE, responseTimeoutMs });
}

const THROTTLE = { status: 400, name: "ClientLimitExceededException", message: "Rate exceeded" };
const CONN_LIMIT = {
  status: 400,
  name: "ConnectionLimitExceededException",
  message: "Too many connections to this stream",
};
const S500 = { status: 500, name: "InternalFailure", message: "Internal service failure" };
const S503 = { status: 503, name: "ServiceUnavailableException", message: "Service unavailable" };

interface CliRun {
  code: number;
  stderr: string;
  stdout: string;
  events: Record<string, unknown>[];
  done: Record<string, unknown>;
  from: Uint8Array;
  to: Uint8Array;
  ms: number;
}

/**
 * `kvsaudio pull --arn ARN --out TMP --json ARGS` against `url`; checks that
 * no secret and no stack trace is printed, that stderr is empty on success
 * and one `kvsaudio:` line on failure, and that both WAVs are valid.
 */
/** Both directions hold the whole call's audio. */
function assertWholeCall(r: { from?: Uint8Array; to?: Uint8Array }): void {
  sameBytes(r.from, FULL.from, "from");
  sameBytes(r.to, FULL.to, "to");
}

async function cli(url: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const dir = await Deno.makeTempDir({ prefix: "kvsaudio-faults-" });
  try {
    const t0 = Date.now();
    const r = await pullCli(url, ["--arn", ARN, "--out", dir, "--json", ...args], { KVSAUDIO_DEBUG: "", ...env });
    const ms = Date.now() - t0;
    tally.cliRuns++;
    assert.equal(leaksSecret(r.stdoutText + r.stderr), undefined, "no credential or signed header in any output");
    assert.doesNotMatch(r.stderr, /^\s+at |Stack backtrace|error: Uncaught/m, "no stack trace");
    if (r.code === 0) assert.equal(r.stderr, "", "nothing on stderr");
    else {
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
      assert.match(lines[0], /^kvsaudio: /);
    }
    const events = jsonLines(r.stdoutText);
    const done = events.at(-1);
    assert.equal(done?.event, "done", "the last event is done");
    if (r.code !== 0) {
      assert.equal(done.reason, "error");
      assert.equal(done.exitCode, r.code);
      assert.equal(`kvsaudio: ${done.message}`, r.stderr.trimEnd(), "the done event carries the message");
    }
    // A failed run that wrote no audio may leave no files at all; any file there must be a valid WAV.
    const wav = async (name: string) => {
      const path = `${dir}/${name}`;
      const exists = await Deno.stat(path).then(() => true, () => false);
      if (!exists) {
        assert.equal(done.fragments, 0, `${name} is missing although audio was written`);
        assert.ok(!(done.files as string[]).includes(path), `the done event lists ${name}, which is missing`);
        return new Uint8Array(0);
      }
      return await validWav(path);
    };
    const from = await wav("from_customer.wav");
    const to = await wav("to_customer.wav");
    outcome(`exit ${r.code}${r.code === 0 ? ` (${done.reason})` : ""}`);
    return { code: r.code, stderr: r.stderr, stdout: r.stdoutText, events, done, from, to, ms };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** In-process pull, counted. */
async function inProcess(...a: Parameters<typeof pullInProcess>) {
  tally.inProcessRuns++;
  const r = await pullInProcess(...a);
  outcome(`in-process ${r.source.endReason}`);
  return r;
}

// 6 fragments of ~34 KB (1.024 s each).
const STREAM = connectStream({ fragments: 6 });
const F = STREAM.fragments;
const FULL = expectedPcm(STREAM);
const LAST = F.at(-1)!.fragmentNumber;
const FRAG_LEN = F[0].bytes.length;
const upTo = (n: number, s: GeneratedStream = STREAM) => expectedPcm(s, { untilIndex: n });

// ---------------------------------------------------------------- drops

Deno.test("CLI --json: a drop at every fragment boundary (one per run, incl. byte 0 and the very end): the uninterrupted PCM", async () => {
  const cuts = [0, ...F.slice(1).map((f) => f.offset), STREAM.bytes.length];
  await pool(cuts, 3, async (k) => {
    const standin = serve(STREAM, { live: true, faults: { dropAtByte: [k] }, seed: k + 1 });
    injected("drop");
    try {
      // The last cut comes after the last fragment: only the idle timeout can end that run.
      const stop = k === STREAM.bytes.length ? [] : ["--stop-fragment", LAST];
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "1.5", ...stop]);
      assert.equal(r.code, 0, `drop at ${k}: ${r.stderr}`);
      assert.equal(r.done.reason, k === STREAM.bytes.length ? "idle-timeout" : "stop-fragment");
      assert.equal(r.done.fragments, F.length);
      assert.equal(r.done.reconnects, 1, `drop at ${k}: one reconnect`);
      assert.equal(r.done.partialDiscarded, 0, "a drop at a boundary cuts no fragment");
      assert.equal(r.done.duplicatesDropped, 0);
      assert.equal(r.done.lastFragmentNumber, LAST);
      assert.equal(r.events.filter((e) => e.event === "reconnect").length, 1);
      assert.equal(r.events.filter((e) => e.event === "fragment").length, F.length);
      sameBytes(r.from, FULL.from, `from, drop at ${k}`);
      sameBytes(r.to, FULL.to, `to, drop at ${k}`);
    } finally {
      await standin.close();
    }
  });
});

Deno.test("CLI --json: several drops in one run (every boundary; then seeded offsets inside fragments)", async () => {
  // Each session delivers exactly one fragment, then drops: a drop at every boundary.
  const everyBoundary = Array.from({ length: F.length - 1 }, () => FRAG_LEN);
  // Offsets inside fragments, relative to each resumed body (which starts at the next fragment).
  const rnd = seeded(2024);
  const inside = [
    FRAG_LEN + 1 + Math.floor(rnd() * (FRAG_LEN - 2)),
    7, // before the first fragment of that body completes: no progress, a retry
    1 + Math.floor(rnd() * (FRAG_LEN - 2)),
    2 * FRAG_LEN + 1 + Math.floor(rnd() * (FRAG_LEN - 2)),
  ];
  for (const [name, drops] of [["every boundary", everyBoundary], ["inside fragments", inside]] as const) {
    const standin = serve(STREAM, { live: true, faults: { dropAtByte: [...drops] } });
    injected("drop", drops.length);
    try {
      const r = await cli(standin.url, [
        "--start-fragment",
        F[0].fragmentNumber,
        "--stop-fragment",
        LAST,
        "--idle-timeout",
        "5",
        "--max-retries",
        "3",
      ]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(r.done.reconnects, drops.length, name);
      assert.equal(r.done.fragments, F.length);
      assert.equal(r.done.duplicatesDropped, 0);
      assert.equal(r.done.firstFragmentMatched, true);
      assert.equal(r.done.partialDiscarded, 0, "a dropped body is an error, not a clean early end");
      sameBytes(r.from, FULL.from, `from (${name})`);
      sameBytes(r.to, FULL.to, `to (${name})`);
    } finally {
      await standin.close();
    }
  }
});

Deno.test("in-process: drops one byte either side of every boundary and at 2 seeded offsets inside every fragment", async () => {
  const rnd = seeded(99);
  const cuts: number[] = [];
  for (const f of F) {
    if (f.index > 0) cuts.push(f.offset - 1, f.offset + 1);
    cuts.push(f.offset + 2 + Math.floor(rnd() * (f.bytes.length - 4)));
    cuts.push(f.offset + 2 + Math.floor(rnd() * (f.bytes.length - 4)));
  }
  for (const k of cuts) {
    // Not live: after the last fragment every body ends with nothing new, for the idle timeout.
    const standin = serve(STREAM, { faults: { dropAtByte: [k] }, seed: k });
    injected("drop");
    try {
      const r = await inProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 2, idleTimeoutMs: 150 });
      sameBytes(r.from, FULL.from, `from, drop at ${k}`);
      sameBytes(r.to, FULL.to, `to, drop at ${k}`);
      assert.equal(r.source.endReason, "idle");
      assert.equal(r.source.stats.duplicates, 0);
      assert.equal(r.source.lastFragmentNumber, LAST);
      assert.ok(r.events.some((e) => e.type === "reconnect" && e.reason === "dropped"), `reconnected after ${k}`);
    } finally {
      await standin.close();
    }
  }
});

// ---------------------------------------------------------------- stalls

Deno.test("CLI: a stall longer than --idle-timeout ends cleanly (idle-timeout) with the PCM received so far", async () => {
  const standin = serve(STREAM, { live: true, faults: { stallAfterFragments: { fragments: 3, ms: 30_000 } } });
  injected("stall > idle");
  try {
    const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.4"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.reason, "idle-timeout");
    assert.equal(r.done.fragments, 3);
    assert.equal(r.done.reconnects, 0);
    assert.equal(r.done.lastFragmentNumber, F[2].fragmentNumber);
    assert.equal(r.done.continuationToken, F[2].continuationToken, "a later run can resume from here");
    sameBytes(r.from, upTo(3).from, "from");
    sameBytes(r.to, upTo(3).to, "to");
    assert.ok(r.ms < 15_000, `did not wait for the stall (${r.ms} ms)`);
  } finally {
    await standin.close();
  }
});

Deno.test("CLI: a stall shorter than --idle-timeout has no effect", async () => {
  const standin = serve(STREAM, { live: true, faults: { stallAfterFragments: { fragments: 2, ms: 200 } } });
  injected("stall < idle");
  try {
    const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "2", "--stop-fragment", LAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.reason, "stop-fragment");
    assert.equal(r.done.reconnects, 0);
    assert.equal(r.done.retries, 0);
    sameBytes(r.from, FULL.from, "from");
    sameBytes(r.to, FULL.to, "to");
  } finally {
    await standin.close();
  }
});

Deno.test("CLI: a body that goes silent inside a fragment is a broken connection: resumed from the last whole fragment, no audio lost", async () => {
  // Silent 20000 bytes into fragment 1; 3 bytes into fragment 2 (no element of it complete yet); at a block
  // boundary of fragment 0 (every element so far complete, no tag after its Cluster yet).
  const inFirst = (await cutsInside(STREAM, 0))[3];
  for (const [at, whole] of [[F[1].offset + 20000, 1], [F[2].offset + 3, 2], [inFirst, 0]] as const) {
    const standin = serve(STREAM, { live: true, faults: { stallAtByte: [{ at, ms: 60_000 }] } });
    injected("stall inside a fragment");
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
      // Was: exit 0 "idle-timeout" after fragment 0 (or 1), the partial fragment dropped, no reconnect.
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.reason, "idle-timeout");
      assert.equal(r.done.fragments, F.length, `stall at ${at}`);
      assert.equal(r.done.reconnects, 1);
      assert.equal(r.done.lastFragmentNumber, LAST);
      assert.equal(r.events.filter((e) => e.event === "reconnect" && e.reason === "stalled").length, 1);
      const resumed = standin.requests.filter((q) => q.path === "/getMedia")[1];
      const sel = (resumed.body as { StartSelector: { StartSelectorType: string; ContinuationToken?: string } })
        .StartSelector;
      if (whole === 0) {
        assert.deepEqual(sel, { StartSelectorType: "EARLIEST" }, "no whole fragment yet: from the start");
      } else {
        assert.equal(sel.StartSelectorType, "CONTINUATION_TOKEN");
        assert.equal(sel.ContinuationToken, F[whole - 1].continuationToken, "from the last whole fragment");
      }
      sameBytes(r.from, FULL.from, `from, stall at ${at}`);
      sameBytes(r.to, FULL.to, `to, stall at ${at}`);
    } finally {
      await standin.close();
    }
  }
});

Deno.test("in-process: with --idle-timeout 0, a body silent inside a fragment is still a broken connection: resumed after the stall limit", async () => {
  // A tester: with idle timeout 0 (wait for a quiet stream) a body that went silent 50,000 bytes into a
  // fragment, its connection open, was waited for forever: no reconnect, no error, only SIGINT ended it.
  const standin = serve(STREAM, { faults: { stallAtByte: [{ at: F[1].offset + 20000, ms: 60_000 }] } });
  injected("stall inside a fragment, idle timeout 0");
  try {
    const r = await inProcess(standin.url, { type: "EARLIEST" }, { idleTimeoutMs: 0, maxRetries: 1 }, {
      responseTimeoutMs: 150,
    });
    assertWholeCall(r);
    const reconnects = r.events.filter((e) => e.type === "reconnect").map((e) => e.type === "reconnect" && e.reason);
    assert.equal(reconnects[0], "stalled");
    const retry = r.events.find((e) => e.type === "retry");
    assert.ok(
      retry?.type === "retry" &&
        /the body stopped in the middle of a fragment \(no data for 0\.\d+ s\)/.test(retry.reason),
      JSON.stringify(retry),
    );
    assert.equal(r.source.endReason, "end-of-stream");
  } finally {
    await standin.close();
  }
});

Deno.test("in-process: with idle timeout 0, the stall limit never ends the call, also on a stream without KVS's tags after the Cluster", async () => {
  // A review: there the last fragment is held back for its document's end, so the body looked silent inside a
  // fragment; when the stall limit closed it, that fragment turned out whole, and the pull ended as "idle". On
  // such a stream bytes past the last whole fragment do not tell a cut-off one: the limit is not applied.
  const tagless = connectStream({ fragments: 3, kvsTags: false });
  const standin = serve(tagless, { live: true });
  const clients = await fakeClients(standin.url, 200);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 1500);
  const events: PullEvent[] = [];
  const source = new PullSource({
    clients,
    stream: { arn: ARN },
    selector: { type: "EARLIEST" },
    idleTimeoutMs: 0,
    backoff: { baseMs: 1, capMs: 5 },
    onEvent: (e) => events.push(e),
    signal: stop.signal,
  });
  let got = 0;
  try {
    await assert.rejects(async () => {
      for await (const _ of source.fragments()) got++;
    }, (e: Error & { exitCode?: number }) => e.exitCode === 130);
    // The third is still held for its document's end (nothing says it is whole), and waited for, not cut off.
    assert.equal(got, 2);
    assert.notEqual(source.endReason, "idle", "waited for more, until stopped");
    assert.ok(!events.some((e) => e.type === "reconnect"), JSON.stringify(events));
  } finally {
    clearTimeout(timer);
    clients.destroy();
    await standin.close();
  }
});

Deno.test("CLI: the first fragment cut off after some of its trailing Tags, before KVS's (stall or clean end): resumed, no audio lost", async () => {
  // Was: before the first continuation token, any Tags after the Cluster counted as the end of the
  // fragment, so a stall there ended the pull (exit 0 "idle-timeout", the rest of the call lost), and a
  // clean end there wrote the fragment without its trailing MimeType (8000 Hz WAVs for a 16 kHz call).
  const s16 = connectStream({ fragments: 3, rate: 16000, tagsPosition: "after" });
  const full16 = expectedPcm(s16);
  for (const [stream, full] of [[STREAM, FULL], [s16, full16]] as const) {
    // The trailing Tags elements' starts, except the first (nothing after the Cluster yet: covered above):
    // the second (in the 16 kHz call, before its MimeType) and the last (right before KVS's own).
    const tagStarts = (await trailingTagsStarts(stream, 0)).slice(1);
    assert.ok(tagStarts.length >= 2);
    for (const at of [tagStarts[0], tagStarts.at(-1)!]) {
      for (const fault of ["stall", "end"] as const) {
        const faults = fault === "stall" ? { stallAtByte: [{ at, ms: 60_000 }] } : { endEarlyAtByte: [at] };
        const standin = serve(stream, { live: true, faults });
        injected(`${fault} in the first fragment's trailing tags`);
        try {
          const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
          const label = `${fault} at byte ${at} of ${stream === s16 ? "the 16 kHz call" : "the 8 kHz call"}`;
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.done.fragments, stream.fragments.length, label);
          assert.equal(r.done.reconnects, 1, label);
          assert.deepEqual(r.events.filter((e) => e.event === "warning"), [], label);
          sameBytes(r.from, full.from!, `from, ${label}`);
          sameBytes(r.to, full.to!, `to, ${label}`);
        } finally {
          await standin.close();
        }
      }
    }
  }
});

/** Offsets in `s` where fragment `i`'s Tags elements after its Cluster begin. */
async function trailingTagsStarts(s: GeneratedStream, i: number): Promise<number[]> {
  // cutsInside: each SimpleBlock's start, then each trailing Tags element's start and 5 bytes into it.
  const cuts = await cutsInside(s, i);
  return cuts.slice(s.fragments[i].blocks.length).filter((_, k) => k % 2 === 0);
}

/**
 * `pull --archived` of all of 16 kHz `s`, its first GetMediaForFragmentList body ending cleanly at byte `at`:
 * checks that every fragment came, at 16 kHz, byte for byte, with no warning and one reconnection; returns
 * how many fragments each GetMediaForFragmentList call asked for.
 */
async function archivedAfterCut(s: GeneratedStream, at: number, fault: string): Promise<number[]> {
  const standin = serve(s, { faults: { listEndEarlyAtByte: [at] } });
  injected(fault);
  try {
    const first = s.fragments[0].producerMs, last = s.fragments.at(-1)!.producerMs;
    const r = await cli(standin.url, [
      "--archived",
      "--start-timestamp",
      String(first),
      "--stop-timestamp",
      String(last),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.fragments, s.fragments.length);
    assert.equal(r.done.rate, 16000);
    assert.equal(r.done.reconnects, 1, "the cut body (a next batch is no reconnection)");
    assert.deepEqual(r.events.filter((e) => e.event === "warning"), []);
    const full = expectedPcm(s);
    sameBytes(r.from, full.from!, `from, archived, cut at ${at}`);
    sameBytes(r.to, full.to!, `to, archived, cut at ${at}`);
    const asked = standin.requests.filter((q) => q.path === "/getMediaForFragmentList");
    return asked.map((q) => (q.body as { Fragments: string[] }).Fragments.length);
  } finally {
    await standin.close();
  }
}

Deno.test("CLI: a GetMediaForFragmentList body that ends cleanly between a fragment's trailing Tags: asked for again, no audio lost", async () => {
  // These bodies carry no KVS trailing tags. Was: the fragment was taken whole without its MimeType, and
  // a 16 kHz call became 8000 Hz WAVs with half its audio dropped as overlap.
  const s = connectStream({ fragments: 4, rate: 16000, tagsPosition: "after" });
  const full = expectedPcm(s);
  const beforeMime = async (i: number) => (await trailingTagsStarts(s, i))[1]; // the 2nd trailing Tags
  // --archived, the first body cut in fragment 2 (fragments 0 and 1 came whole before it), or in fragment 0
  // (nothing whole before it: the body ended before the fragments asked for, so it was cut).
  for (const at of [await beforeMime(2), await beforeMime(0)]) {
    const asked = await archivedAfterCut(s, at, "fragment-list clean end between trailing tags");
    assert.deepEqual(asked, [4, 4 - (at > s.fragments[2].offset ? 2 : 0)]);
  }
  // --start-fragment N read as "after N": N alone is fetched, and that body is cut before N's MimeType.
  const cut0 = await beforeMime(0);
  const standin = serve(s, { live: true, fragmentNumberMode: "after", faults: { listEndEarlyAtByte: [cut0] } });
  injected("fragment-list clean end in the start fragment");
  try {
    const r = await cli(standin.url, ["--start-fragment", s.fragments[0].fragmentNumber, "--idle-timeout", "0.5"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.fragments, 4);
    assert.equal(r.done.rate, 16000);
    sameBytes(r.from, full.from!, "from, start fragment fetched");
    sameBytes(r.to, full.to!, "to, start fragment fetched");
    assert.equal(standin.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 2);
  } finally {
    await standin.close();
  }
});

/** Read STREAM's whole time range with an ArchivedSource; checks that each fragment came once, in order. */
/** An ArchivedSource over STREAM's whole range, its events into `events`. */
function archivedSource(clients: KvsClients, events: PullEvent[], maxRetries?: number): ArchivedSource {
  return new ArchivedSource({
    clients,
    stream: { arn: ARN },
    range: { type: "PRODUCER_TIMESTAMP", startMs: F[0].producerMs, endMs: F.at(-1)!.producerMs },
    backoff: { baseMs: 1, capMs: 5 },
    maxRetries,
    onEvent: (e) => events.push(e),
  });
}

async function readArchived(clients: KvsClients): Promise<{ source: ArchivedSource; events: PullEvent[] }> {
  const events: PullEvent[] = [];
  const source = archivedSource(clients, events);
  const got: string[] = [];
  for await (const f of source.fragments()) got.push(f.kvs.fragmentNumber!);
  assert.deepEqual(got, F.map((f) => f.fragmentNumber), "each fragment once, in order");
  return { source, events };
}

Deno.test("CLI: a list-body fragment stored without the tags the others had after their Cluster is taken once it comes the same twice", async () => {
  // Was: judged cut every time, asked for again until the retries ran out (exit 4), its audio lost.
  // (Connect's tags before and after the Cluster: its ContactId before it says whose audio it is.)
  const s = connectStream({ fragments: 4, rate: 16000, tagsPosition: "both" });
  const last = s.fragments[3];
  const bare = (await trailingTagsStarts(s, 3))[0] - last.offset; // no Tags at all after its Cluster
  const frags = standinFragments(s);
  frags[3] = { ...frags[3], bytes: frags[3].bytes.subarray(0, bare) };
  const standin = startStandin({ streams: { [ARN]: frags } });
  injected("a fragment stored without trailing tags");
  try {
    const first = s.fragments[0].producerMs, end = last.producerMs;
    const r = await cli(standin.url, [
      "--archived",
      "--start-timestamp",
      String(first),
      "--stop-timestamp",
      String(end),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.fragments, 4);
    sameBytes(r.from, expectedPcm(s).from!, "from, with the last fragment");
    const asked = standin.requests.filter((q) => q.path === "/getMediaForFragmentList");
    assert.deepEqual(asked.map((q) => (q.body as { Fragments: string[] }).Fragments.length), [4, 1]);
  } finally {
    await standin.close();
  }
  // The same for a start fragment fetched alone under the "after" reading.
  const bare0 = (await trailingTagsStarts(s, 0))[0];
  const frags0 = standinFragments(s);
  frags0[0] = { ...frags0[0], bytes: frags0[0].bytes.subarray(0, bare0) };
  const after = startStandin({ streams: { [ARN]: frags0 }, live: true, fragmentNumberMode: "after" });
  injected("a start fragment stored without trailing tags");
  try {
    const r = await cli(after.url, ["--start-fragment", s.fragments[0].fragmentNumber, "--idle-timeout", "0.5"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.fragments, 4);
    sameBytes(r.from, expectedPcm(s).from!, "from, with the start fragment");
    assert.equal(after.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 2);
  } finally {
    await after.close();
  }
});

Deno.test("in-process archived: a call that fails to open is retried, and is no reconnection", async () => {
  // Was: counted as one (sessions 1, reconnects 1) and a "dropped" reconnect event emitted.
  const standin = serve(STREAM, {
    faults: { apiErrors: [{ status: 500, name: "InternalFailure", path: "/getMediaForFragmentList" }] },
  });
  injected("5xx opening a fragment-list body");
  const clients = await createKvsClients({ region: "us-east-1", endpointUrl: standin.url, credentials: FAKE });
  try {
    const { source, events } = await readArchived(clients);
    assert.deepEqual([source.stats.sessions, source.stats.reconnects, source.stats.retries], [1, 0, 1]);
    assert.deepEqual(events.filter((e) => e.type === "reconnect"), []);
  } finally {
    clients.destroy();
    await standin.close();
  }
});

Deno.test("in-process archived: a fragment ListFragments lists twice is asked for and given once, counted as a duplicate", async () => {
  // Was: fetched twice, counted as two fragments, the second copy dropped only as overlapping audio.
  const list = standinFragments(STREAM);
  list.splice(3, 0, { ...list[2] });
  const standin = startStandin({ streams: { [ARN]: list } });
  const clients = await createKvsClients({ region: "us-east-1", endpointUrl: standin.url, credentials: FAKE });
  try {
    const { source, events } = await readArchived(clients);
    assert.equal(source.stats.duplicates, 1);
    assert.deepEqual(events.filter((e) => e.type === "duplicate"), [{
      type: "duplicate",
      fragmentNumber: F[2].fragmentNumber,
    }]);
    const asked = standin.requests.filter((q) => q.path === "/getMediaForFragmentList");
    assert.deepEqual((asked[0].body as { Fragments: string[] }).Fragments, F.map((f) => f.fragmentNumber));
  } finally {
    clients.destroy();
    await standin.close();
  }
});

Deno.test("CLI: review mends of the list-body rule: batches of 1000, a start fragment fetched alone that is cut early or an in-band error", async () => {
  // More than 1000 fragments, the first body cut inside fragment 0's trailing Tags. Was: the batches were one
  // joined stream, so the next batch's first document closed the cut fragment as whole (8000 Hz WAVs, exit 0).
  const big = connectStream({ fragments: 1002, blocksPerTrack: 2, rate: 16000, tagsPosition: "after" });
  const at = (await trailingTagsStarts(big, 0))[1];
  const asked = await archivedAfterCut(big, at, "fragment-list clean end in a batch of 1000");
  assert.deepEqual(asked, [1000, 1000, 2], "one batch per body; the cut one asked for again");
  let standin: Standin;
  // The body of the start fragment fetched alone ends before its fragment number (was: "returned other data
  // for it", no retry, its audio missing).
  // Cut inside an element (60), at an element boundary (53: a whole fragment with no number yet), or before
  // anything (0) (was, for the last two: "returned other data for it").
  const early = connectStream({ fragments: 3 });
  for (const at of [60, 53, 0]) {
    standin = serve(early, { live: true, fragmentNumberMode: "after", faults: { listEndEarlyAtByte: [at] } });
    injected("fragment-list clean end before the fragment number");
    try {
      const r = await cli(standin.url, [
        "--start-fragment",
        early.fragments[0].fragmentNumber,
        "--idle-timeout",
        "0.5",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.fragments, 3, `cut at ${at}`);
      assert.equal(r.done.firstFragmentMatched, false);
      sameBytes(r.from, expectedPcm(early).from!, `from, start fragment fetched again after a cut at ${at}`);
      assert.equal(standin.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 2);
    } finally {
      await standin.close();
    }
  }
  // The start fragment, fetched alone under the "after" reading, is an in-band error fragment. Was: taken for
  // a cut fragment (no Cluster, so no trailing tags), asked for again and again, then exit 0 without the error.
  const err = connectStream({ fragments: 4, tagsPosition: "after", errorAt: { index: 0, code: "4000", id: 4000 } });
  standin = serve(err, { live: true, fragmentNumberMode: "after" });
  injected("in-band error for the fetched start fragment");
  try {
    const r = await cli(standin.url, ["--start-fragment", err.fragments[0].fragmentNumber, "--idle-timeout", "0.5"]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /AWS_KINESISVIDEO_ERROR_CODE 4000/);
    assert.equal(standin.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 1);
  } finally {
    await standin.close();
  }
});

Deno.test("in-process archived: a GetMediaForFragmentList body silent inside a fragment reconnects with reason 'stalled' and loses nothing", async () => {
  const standin = serve(STREAM, { faults: { listStallAtByte: [{ at: F[2].offset + 300, ms: 60_000 }] } });
  injected("fragment-list stall inside a fragment");
  const clients = await fakeClients(standin.url, 150);
  try {
    const { source, events } = await readArchived(clients);
    const reconnects = events.filter((e) => e.type === "reconnect");
    assert.deepEqual(reconnects.map((e) => e.type === "reconnect" && e.reason), ["stalled"]);
    assert.equal(source.stats.retries, 1);
  } finally {
    clients.destroy();
    await standin.close();
  }
});

// ---------------------------------------------------------------- no response at all

Deno.test("in-process: a server that never answers GetMedia or GetDataEndpoint: a bounded wait, retried, then exit 4 naming the call", async () => {
  for (const [path, api] of [["/getMedia", "GetMedia"], ["/getDataEndpoint", "GetDataEndpoint"]] as const) {
    const standin = serve(STREAM, { live: true, faults: { noResponse: { path, calls: 1000 } } });
    injected("no response", 2);
    try {
      tally.inProcessRuns++;
      // Was: a hang (only the TCP connect had a timeout).
      await assert.rejects(
        () =>
          pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 1, idleTimeoutMs: 100 }, {
            responseTimeoutMs: 150,
          }),
        (e: Error & { exitCode?: number }) => {
          assert.equal(e.exitCode, 4, e.message);
          assert.match(
            e.message,
            new RegExp(
              `^${api} for stream connect-test: the endpoint http://127\\.0\\.0\\.1:\\d+ sent no response within [\\d.]+ s, also when retried: check --endpoint-url and the network$`,
            ),
          );
          return true;
        },
      );
      outcome("in-process AwsError 4");
      assert.equal(standin.requests.filter((q) => q.path === path).length, 2, `${path}: tried, retried once`);
      // Also with idle timeout 0 (never finish on a quiet body): was a hang, the deadline was off then.
      await assert.rejects(
        () =>
          pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 0, idleTimeoutMs: 0 }, {
            responseTimeoutMs: 150,
          }),
        // (--max-retries 0: not "also when retried", a tester.)
        (e: Error & { exitCode?: number }) =>
          e.exitCode === 4 && /sent no response within [\d.]+ s: check --endpoint-url and the network$/.test(e.message),
      );
    } finally {
      await standin.close();
    }
  }
});

Deno.test("in-process: one GetMedia call left unanswered is retried like a drop; the deadline never cuts a long body", async () => {
  {
    const standin = serve(STREAM, { faults: { noResponse: { path: "/getMedia", calls: 1 } } });
    injected("no response");
    try {
      const r = await inProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 1, idleTimeoutMs: 100 }, {
        responseTimeoutMs: 150,
      });
      sameBytes(r.from, FULL.from, "from");
      sameBytes(r.to, FULL.to, "to");
      assert.equal(r.source.stats.retries, 1);
      const retry = r.events.find((e) => e.type === "retry");
      assert.ok(retry?.type === "retry" && /no response to GetMedia within/.test(retry.reason), JSON.stringify(retry));
    } finally {
      await standin.close();
    }
  }
  {
    // The body streams in ~40 slow chunks, far longer than the response deadline (max(idle, 100 ms)).
    const standin = serve(STREAM, { live: true, delayMs: 30, chunkSize: 5000 });
    try {
      const r = await inProcess(standin.url, { type: "EARLIEST" }, { idleTimeoutMs: 300 }, { responseTimeoutMs: 100 });
      sameBytes(r.from, FULL.from, "from: the whole slow body");
      sameBytes(r.to, FULL.to, "to");
      assert.equal(r.source.stats.retries, 0);
      assert.equal(r.source.stats.reconnects, 0);
      assert.equal(r.source.endReason, "idle");
    } finally {
      await standin.close();
    }
  }
});

Deno.test("CLI: an endpoint that answers something other than KVS: the message names the call that failed and says so", async () => {
  const html = { status: 200, contentType: "text/html", body: "<html><body>Welcome to the hotel Wi-Fi</body></html>" };
  const badGateway = { status: 502, contentType: "text/plain", body: "Bad Gateway" };
  {
    const standin = serve(STREAM, { live: true, faults: { foreignResponses: [html] } });
    injected("foreign response");
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
      // Was: "AWS GetMedia call for stream connect-test failed: SyntaxError (HTTP 200): Unexpected token '<' …"
      assert.equal(r.code, 4, r.stderr);
      assert.match(
        r.stderr.trimEnd(),
        /^kvsaudio: GetDataEndpoint for stream connect-test: the endpoint http:\/\/127\.0\.0\.1:\d+ answered HTTP 200 \(text\/html\) with something that is not a KVS response: check --endpoint-url$/,
      );
    } finally {
      await standin.close();
    }
  }
  {
    const standin = serve(STREAM, { live: true, faults: { foreignResponses: [badGateway, badGateway] } });
    injected("foreign response", 2);
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5", "--max-retries", "1"]);
      // Was: "KVS kept failing for stream connect-test: SyntaxError (HTTP 502)"
      assert.equal(r.code, 4, r.stderr);
      assert.match(
        r.stderr.trimEnd(),
        /^kvsaudio: GetDataEndpoint for stream connect-test kept failing: the endpoint http:\/\/127\.0\.0\.1:\d+ answered HTTP 502 \(text\/plain\), which is not a KVS response: check --endpoint-url and the network$/,
      );
      const retry = r.events.find((e) => e.event === "retry");
      assert.equal(retry?.reason, "GetDataEndpoint: HTTP 502 (text/plain), not a KVS response");
    } finally {
      await standin.close();
    }
  }
  {
    // GetDataEndpoint answers; GetMedia meets the proxy.
    const standin = serve(STREAM, { live: true });
    onRequest(standin, (path) => {
      if (path === "/getMedia") standin.setFaults({ foreignResponses: [{ ...html, status: 403 }] });
    });
    injected("foreign response");
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(
        r.stderr,
        /^kvsaudio: GetMedia for stream connect-test: the endpoint \S+ answered HTTP 403 \(text\/html\)/,
      );
    } finally {
      await standin.close();
    }
  }
  for (const api of ["GetMedia", "GetMediaForFragmentList"]) {
    // The same page with HTTP 200, from a media call: was exit 3 "byte 0: 0x3C6874: unknown top-level element"
    // (bad stream data, which a resuming script does not retry), found by a tester.
    const path = api === "GetMedia" ? "/getMedia" : "/getMediaForFragmentList";
    const standin = serve(STREAM, { live: true, faults: { foreignResponses: [{ ...html, path }] } });
    injected("foreign 200 media body");
    try {
      const args = api === "GetMedia" ? ["--start", "earliest", "--idle-timeout", "0.5"] : [
        "--start-timestamp",
        new Date(F[0].producerMs).toISOString(),
        "--stop-timestamp",
        new Date(F.at(-1)!.producerMs + 1).toISOString(),
      ];
      const r = await cli(standin.url, args);
      assert.equal(r.code, 4, r.stderr);
      assert.match(
        r.stderr.trimEnd(),
        new RegExp(
          `^kvsaudio: ${api}: http://127\\.0\\.0\\.1:\\d+ answered HTTP 200 \\(text/html\\) with something that is not a KVS media body: check --endpoint-url and the network$`,
        ),
      );
    } finally {
      await standin.close();
    }
  }
});

// ---------------------------------------------------------------- throttling and 5xx

Deno.test("in-process: throttling storms and 5xx bursts within the retry budget, at the start and after a drop → the uninterrupted PCM", async () => {
  const storm = (n: number) =>
    Array.from({ length: n }, (_, i) => i % 3 === 0 ? CONN_LIMIT : i % 3 === 1 ? THROTTLE : { ...THROTTLE });
  const cases: { name: string; errors: typeof S500[]; afterDrop: boolean }[] = [
    { name: "20 ClientLimit/ConnectionLimitExceeded at the start", errors: storm(20), afterDrop: false },
    { name: "16 throttles after a drop", errors: storm(16), afterDrop: true },
    {
      name: "5xx burst (500, 503) after a drop",
      errors: Array.from({ length: 12 }, (_, i) => i % 2 ? S503 : S500),
      afterDrop: true,
    },
  ];
  for (const c of cases) {
    const standin = serve(STREAM, c.afterDrop ? { faults: { dropAtByte: [F[2].offset + 500] } } : {});
    if (c.afterDrop) injected("drop");
    injected(c.errors[0].status >= 500 ? "5xx" : "throttle", c.errors.length);
    stormFrom(standin, c.afterDrop ? 2 : 1, c.errors);
    try {
      // The drop uses one attempt too.
      const r = await inProcess(standin.url, { type: "EARLIEST" }, {
        maxRetries: c.errors.length + (c.afterDrop ? 1 : 0),
        idleTimeoutMs: 1500,
      });
      sameBytes(r.from, FULL.from, `from: ${c.name}`);
      sameBytes(r.to, FULL.to, `to: ${c.name}`);
      assert.equal(r.source.endReason, "idle");
      const retries = r.events.filter((e) => e.type === "retry" && e.reason !== "the body ended with no new fragment");
      assert.equal(retries.length, c.errors.length + (c.afterDrop ? 1 : 0), c.name);
    } finally {
      await standin.close();
    }
  }
});

Deno.test("CLI: AWS refusing the request time is tried again at once, once (the SDK has corrected its clock then); twice: check the system clock", async () => {
  // A tester: a clock an hour off gave exit 4 after one request, though the SDK had corrected itself by then
  // and a second request would have succeeded; a clock ahead was called an IAM problem.
  const skew = (ahead: boolean) => ({
    status: 403,
    name: "InvalidSignatureException",
    message: ahead
      ? "Signature not yet current: 20261125T110000Z is still later than 20261125T100500Z (20261125T100000Z + 5 min.)"
      : "Signature expired: 20261125T090000Z is now earlier than 20261125T095500Z (20261125T100000Z - 5 min.)",
  });
  for (const ahead of [false, true]) {
    const once = serve(STREAM, { live: true, faults: { apiErrors: [skew(ahead)] } });
    injected("clock skew once");
    try {
      const r = await cli(once.url, ["--start", "earliest", "--idle-timeout", "0.5", "--max-retries", "0"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.fragments, F.length);
      const retries = r.events.filter((e) => e.event === "retry");
      assert.equal(retries.length, 1);
      assert.equal(retries[0].delayMs, 0, "at once");
    } finally {
      await once.close();
    }
    const twice = serve(STREAM, { live: true, faults: { apiErrors: [skew(ahead), skew(ahead), skew(ahead)] } });
    injected("clock skew twice");
    try {
      const r = await cli(twice.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stderr.trim(), "kvsaudio: AWS rejected the request time: check the system clock");
      assert.equal(twice.requests.length, 2, "tried again once, not through the whole retry budget");
    } finally {
      await twice.close();
    }
  }
});

Deno.test("CLI: a machine clock 10 minutes off either way: each client's first call is refused, tried again, and the pull succeeds", async () => {
  // A re-test: GetDataEndpoint's retry got through (the SDK corrects the clock of the client that was refused),
  // then GetMedia was refused on the media client, whose clock nobody had corrected, and the one retry of the run
  // was spent: exit 4.
  for (const offset of [600_000, -600_000]) {
    const standin = serve(STREAM, { live: true, clockOffsetMs: offset });
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.fragments, F.length);
      const refused = standin.requests.filter((q) => q.path === "/getDataEndpoint").length;
      assert.equal(refused, 2, "GetDataEndpoint refused once, then through");
    } finally {
      await standin.close();
    }
  }
});

Deno.test("CLI: HTTP 429 from GetMedia is throttling: retried", async () => {
  // A tester: exit 4 after one attempt ("Unknown (HTTP 429): Rate exceeded").
  const standin = serve(STREAM, {
    live: true,
    faults: { apiErrors: [{ status: 429, name: "Unknown", message: "Rate exceeded", path: "/getMedia" }] },
  });
  injected("429");
  try {
    const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done.fragments, F.length);
    assert.equal(r.events.filter((e) => e.event === "retry").length, 1);
  } finally {
    await standin.close();
  }
});

Deno.test("in-process: a throttling storm past the retry budget → AwsError (exit 4) saying KVS kept refusing", async () => {
  const standin = serve(STREAM, { faults: { apiErrors: [THROTTLE, CONN_LIMIT, THROTTLE, CONN_LIMIT, CONN_LIMIT] } });
  injected("throttle", 5);
  try {
    tally.inProcessRuns++;
    await assert.rejects(
      () => pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 4 }),
      (e: Error & { exitCode?: number }) => {
        assert.equal(e.exitCode, 4);
        assert.match(
          e.message,
          /^KVS kept refusing calls for stream connect-test \(ConnectionLimitExceededException\)/,
        );
        return true;
      },
    );
    outcome("in-process AwsError 4");
    assert.equal(standin.requests.length, 5, "one call per attempt, then it gave up");
  } finally {
    await standin.close();
  }
});

Deno.test("CLI: throttling within --max-retries → success; past it mid-call → exit 4 with a message, earlier audio kept", async () => {
  {
    const standin = serve(STREAM, { live: true, faults: { apiErrors: [CONN_LIMIT, THROTTLE] } });
    injected("throttle", 2);
    try {
      const r = await cli(standin.url, [
        "--start",
        "earliest",
        "--stop-fragment",
        LAST,
        "--idle-timeout",
        "3",
        "--max-retries",
        "2",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.retries, 2);
      const reasons = r.events.filter((e) => e.event === "retry").map((e) => e.reason);
      assert.equal(reasons.length, 2);
      assert.match(String(reasons[0]), /ConnectionLimitExceededException/);
      assert.match(String(reasons[1]), /ClientLimitExceededException/);
      sameBytes(r.from, FULL.from, "from");
      sameBytes(r.to, FULL.to, "to");
    } finally {
      await standin.close();
    }
  }
  for (
    const [kind, err, message] of [
      [
        "throttle",
        CONN_LIMIT,
        /^kvsaudio: KVS kept refusing calls for stream connect-test \(ConnectionLimitExceededException\): too many readers or calls; try again later$/,
      ],
      ["5xx", S500, /^kvsaudio: KVS kept failing for stream connect-test: InternalFailure \(HTTP 500\)$/],
    ] as const
  ) {
    // A drop after 3 fragments, then the reconnect meets a storm longer than the budget.
    const standin = serve(STREAM, { live: true, faults: { dropAtByte: [F[3].offset + 100] } });
    stormFrom(standin, 2, [err, err, err]);
    injected("drop");
    injected(kind, 2);
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "3", "--max-retries", "2"]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.done.fragments, 3);
      assert.equal(r.done.lastFragmentNumber, F[2].fragmentNumber);
      assert.equal(r.done.continuationToken, F[2].continuationToken, "a later run can resume from here");
      sameBytes(r.from, upTo(3).from, `from: a valid prefix (${kind})`);
      sameBytes(r.to, upTo(3).to, `to: a valid prefix (${kind})`);
    } finally {
      await standin.close();
    }
  }
});

// ---------------------------------------------------------------- in-band errors, early ends

Deno.test("CLI: an in-band error fragment → exit 5 naming the code; the audio before it is kept", async () => {
  // The error fragment carries the number of the next fragment (F[3]) in both cases.
  for (const [after, resumeFirst] of [[3, false], [2, true]] as const) {
    const bytes = errorFragment("4504", 17, F[3].fragmentNumber);
    const faults = {
      errorFragmentAfter: { fragments: after, code: "4504", id: 17, bytes },
      // With resumeFirst, the first body ends cleanly inside fragment 1 (no error yet: it counts per body).
      ...(resumeFirst ? { endEarlyAtByte: [F[1].offset + 999] } : {}),
    };
    const standin = serve(STREAM, { live: true, faults });
    injected("error fragment");
    if (resumeFirst) injected("early end");
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "3"]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^kvsaudio: stream \\S+${
            resumeFirst ? " \\(GetMedia response 2\\)" : ""
          }: KVS sent an in-band error fragment at fragment ${
            F[3].fragmentNumber
          }: AWS_KINESISVIDEO_ERROR_CODE 4504 \\(error id 17\\)$`,
          "m",
        ),
      );
      sameBytes(r.from, upTo(3).from, "from: the audio before the error fragment");
      sameBytes(r.to, upTo(3).to, "to");
      assert.equal(r.done.fragments, 3);
      // (The done event of a failed pull has no session counters: count the reconnect events.)
      assert.equal(r.events.filter((e) => e.event === "reconnect").length, resumeFirst ? 1 : 0);
    } finally {
      await standin.close();
    }
  }
});

/** A copy of `s` whose fragment `k` has its first SimpleBlock's track number set to 0 (bad data); and that block's offset. */
function badTrackIn(s: GeneratedStream, k: number): { stream: GeneratedStream; at: number } {
  const f = s.fragments[k];
  const bytes = f.bytes.slice();
  let b = -1;
  for (let i = 0; i + 4 < bytes.length && b < 0; i++) {
    if (bytes[i] === 0x1f && bytes[i + 1] === 0x43 && bytes[i + 2] === 0xb6 && bytes[i + 3] === 0x75) { // Cluster
      for (let j = i + 4; j < bytes.length; j++) {
        if (bytes[j] === 0xa3) { // SimpleBlock
          b = j;
          break;
        }
      }
    }
  }
  assert.ok(b > 0, "a SimpleBlock");
  const width = Math.clz32(bytes[b + 1]) - 23; // its size's length
  assert.equal(bytes[b + 1 + width] & 0x80, 0x80, "a one-byte track number");
  bytes[b + 1 + width] = 0x00; // no valid track number
  const fragments = s.fragments.map((x, i) => (i === k ? { ...x, bytes } : x));
  return { stream: { ...s, fragments, bytes: concat(fragments.map((x) => x.bytes)) }, at: f.offset + b };
}

Deno.test("CLI: bad data after a reconnection names the response and the fragment; in a start fragment fetched on its own it is exit 3", async () => {
  const bad2 = badTrackIn(STREAM, 2);
  const bad0 = badTrackIn(STREAM, 0);
  const withFragments = (bytes: (f: GeneratedStream["fragments"][number], i: number) => Uint8Array) => ({
    ...STREAM,
    fragments: STREAM.fragments.map((f, i) => ({ ...f, bytes: bytes(f, i) })),
  });
  const unnamed = withFragments((f) => {
    const b = f.bytes.slice();
    renameDirections(b);
    return b;
  });
  const errorFirst = withFragments((f, i) => i === 0 ? errorFragment("4504", 17, F[0].fragmentNumber) : f.bytes);
  const cases: {
    why: string;
    stream: GeneratedStream;
    opts: Omit<StandinOptions, "streams">;
    args: string[];
    code: number;
    message: string;
  }[] = [
    {
      // Was: after a reconnection, "stream …: byte N" counted from the second response's start, as if from the
      // stream's, and sent the user to another fragment.
      why: "after a reconnection",
      stream: bad2.stream,
      opts: { live: true, faults: { dropAtByte: [F[1].offset + 500] } },
      args: ["--start", "earliest", "--idle-timeout", "3"],
      code: 3,
      message: `\\(GetMedia response 2, fragment ${F[2].fragmentNumber}\\): byte ${
        bad2.at - F[1].offset
      }: SimpleBlock: `,
    },
    {
      // Was: a start fragment that KVS skipped ("after" reading), fetched with GetMediaForFragmentList and holding
      // bad data, was only a warning ("its audio is missing") and the pull went on to exit 0.
      why: "in a fetched start fragment",
      stream: bad0.stream,
      opts: { live: true, fragmentNumberMode: "after" },
      args: ["--start-fragment", F[0].fragmentNumber, "--idle-timeout", "1"],
      code: 3,
      message: `\\(GetMediaForFragmentList of fragment ${F[0].fragmentNumber}\\): byte ${bad0.at}: SimpleBlock: `,
    },
    {
      // (A review:) "no audio" comes at the end, about the first fragment: named by the response it came in (the
      // first, so none), not by the one being read then.
      why: "no audio",
      stream: unnamed,
      opts: { live: true, faults: { dropAtByte: [F[2].offset + 300] } },
      args: ["--start", "earliest", "--idle-timeout", "2"],
      code: 3,
      message: `\\(fragment ${F[0].fragmentNumber}\\): byte 0: Tracks: no audio`,
    },
    {
      // (A review:) an in-band error in a start fragment fetched on its own is named by that call.
      why: "an in-band error in a fetched start fragment",
      stream: errorFirst,
      opts: { live: true, fragmentNumberMode: "after", faults: { dropAtByte: [200] } },
      args: ["--start-fragment", F[0].fragmentNumber, "--idle-timeout", "2"],
      code: 5,
      message: `\\(GetMediaForFragmentList of fragment ${F[0].fragmentNumber}\\): KVS sent an in-band error`,
    },
  ];
  for (const c of cases) {
    const standin = serve(c.stream, c.opts);
    if (c.opts.faults?.dropAtByte) injected("drop");
    try {
      const r = await cli(standin.url, c.args);
      assert.equal(r.code, c.code, `${c.why}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^kvsaudio: stream \\S+ ${c.message}`, "m"), c.why);
      if (c.why === "after a reconnection") sameBytes(r.from, upTo(2).from, "from: the audio before the bad fragment");
    } finally {
      await standin.close();
    }
  }
});

Deno.test("CLI: bodies that end without a final (whole) fragment", async (t) => {
  await t.step("a clean early end mid-fragment: resumed, the PCM of an uninterrupted run", async () => {
    const standin = serve(STREAM, { live: true, faults: { endEarlyAtByte: [F[2].offset + 500] } });
    injected("early end");
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--stop-fragment", LAST, "--idle-timeout", "2"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.reconnects, 1);
      assert.equal(r.done.partialDiscarded, 1);
      assert.equal(r.events.filter((e) => e.event === "discarded").length, 1);
      sameBytes(r.from, FULL.from, "from");
      sameBytes(r.to, FULL.to, "to");
    } finally {
      await standin.close();
    }
  });
  // A stream whose last fragment is cut off (and stays cut off): never half-written.
  const cut = F.at(-1)!.bytes.length >> 1;
  const truncated: GeneratedStream = {
    ...STREAM,
    fragments: STREAM.fragments.map((f, i) => i === F.length - 1 ? { ...f, bytes: f.bytes.subarray(0, cut) } : f),
  };
  await t.step(
    "live: the cut fragment is discarded; a body silent inside it is a broken connection: reconnected, then exit 4",
    async () => {
      const standin = serve(truncated, { live: true });
      injected("truncated last fragment");
      try {
        const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.4", "--max-retries", "1"]);
        assert.equal(r.code, 4, r.stderr);
        assert.match(
          r.stderr.trimEnd(),
          /^kvsaudio: GetMedia for stream connect-test: the body stopped in the middle of a fragment \(no data for 0\.4 s\), also after reconnecting: check the network$/,
        );
        assert.equal(r.done.fragments, F.length - 1);
        assert.equal(r.events.filter((e) => e.event === "discarded").length, 2, "cut off in both sessions");
        assert.equal(r.events.filter((e) => e.event === "reconnect" && e.reason === "stalled").length, 1);
        assert.equal(r.done.lastFragmentNumber, F.at(-2)!.fragmentNumber);
        assert.equal(r.done.continuationToken, F.at(-2)!.continuationToken, "a later run can resume from here");
        sameBytes(r.from, upTo(F.length - 1).from, "from: a valid prefix");
        sameBytes(r.to, upTo(F.length - 1).to, "to");
      } finally {
        await standin.close();
      }
    },
  );
  await t.step("not live: retried, then end-of-stream with the whole fragments", async () => {
    const standin = serve(truncated, {});
    injected("truncated last fragment");
    try {
      const r = await cli(standin.url, ["--start", "earliest", "--max-retries", "1"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.done.reason, "end-of-stream");
      assert.equal(r.done.fragments, F.length - 1);
      assert.ok((r.done.partialDiscarded as number) >= 2);
      // Never silently (was: nothing said but the discarded events of --json).
      assert.deepEqual(r.events.filter((e) => e.event === "warning").map((e) => e.message), [
        `the stream ends inside the fragment after fragment ${
          F.at(-2)!.fragmentNumber
        }: it came cut off 3 time(s), and its audio is not written`,
      ]);
      sameBytes(r.from, upTo(F.length - 1).from, "from: a valid prefix");
    } finally {
      await standin.close();
    }
  });
});

// ---------------------------------------------------------------- network

Deno.test("CLI: DNS failure and connection refused fail fast with exit 4 and a clear one-line message", async () => {
  injected("dns failure");
  const dns = await cli("http://kvsaudio-nonexistent.invalid", ["--start", "now", "--max-retries", "1"]);
  assert.equal(dns.code, 4, dns.stderr);
  assert.match(dns.stderr, /kvsaudio-nonexistent\.invalid/, "names the host");
  assert.match(dns.stderr, /ENOTFOUND|resolve/i, "says it could not be resolved");
  assert.ok(dns.ms < 10_000, `fast (${dns.ms} ms)`);
  assert.equal(dns.done.fragments, 0);
  assert.equal(dns.from.length + dns.to.length, 0, "empty but valid WAVs");

  injected("connection refused");
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const refused = await cli(`http://127.0.0.1:${port}`, ["--start", "now", "--max-retries", "1"]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /^kvsaudio: connection refused by .*: check --endpoint-url and the network$/m);
  assert.ok(refused.ms < 10_000, `fast (${refused.ms} ms)`);
  assert.equal(refused.events.filter((e) => e.event === "retry").length, 1, "retried once (--max-retries 1)");
  assert.equal(refused.from.length, 0);
});

// ---------------------------------------------------------------- secrets

Deno.test("secrets: no credential, token or signed header in any output, even when KVS echoes them back", async () => {
  const { accessKeyId: id, sessionToken: token, secretAccessKey: secret } = FAKE;
  // What a signature error, a proxy or a confused service may send back.
  const echo = `header x-amz-security-token:${token} key ${id} secret ${secret}; ` +
    `Authorization: AWS4-HMAC-SHA256 Credential=${id}/20260101/us-east-1/kinesisvideo/aws4_request, ` +
    `SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=0123abcd`;
  const canonical = `The request signature we calculated does not match.\n\nThe Canonical String for this request ` +
    `should have been\n'POST\n/getMedia\n\nhost:127.0.0.1\nx-amz-security-token:${token}\n'\n\n` +
    `The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/kinesisvideo/aws4_request'`;
  const cases: [string, { status: number; name: string; message: string }[]][] = [
    ["retried 500 echoing the request", [{ ...S500, message: echo }]],
    ["500s echoing the request, past the retries", [{ ...S500, message: echo }, { ...S500, message: echo }]],
    ["InvalidArgumentException echoing the request", [{
      status: 400,
      name: "InvalidArgumentException",
      message: echo,
    }]],
    ["unknown 400 echoing the request", [{ status: 400, name: "SomeNewException", message: echo }]],
    ["SignatureDoesNotMatch with the canonical request", [{
      status: 403,
      name: "InvalidSignatureException",
      message: canonical,
    }]],
    ["success", []],
  ];
  const json: [string, string[], Record<string, string>] = ["--json", ["--json"], {}];
  const verbose: [string, string[], Record<string, string>] = ["--verbose", ["--verbose"], {}];
  const debug = ([m, flags]: typeof json): typeof json => [`${m}, KVSAUDIO_DEBUG=1`, flags, { KVSAUDIO_DEBUG: "1" }];
  // Each case in text and JSON, with and without the debug dump (which only failures print).
  const modes = [[json, verbose], [verbose, debug(json)], [json, debug(verbose)], [verbose, debug(json)], [
    json,
    debug(verbose),
  ], [debug(verbose)]];
  const runs = cases.flatMap(([name, errors], i) => modes[i].map((m) => [name, errors, m] as const));
  await pool(runs, 3, async ([name, errors, [mode, flags, env]]) => {
    const standin = serve(STREAM, { live: true, faults: { apiErrors: [...errors] } });
    injected("credential echo", errors.length);
    const dir = await Deno.makeTempDir({ prefix: "kvsaudio-secrets-" });
    try {
      tally.cliRuns++;
      const r = await pullCli(standin.url, [
        "--arn",
        ARN,
        "--start",
        "earliest",
        "--stop-fragment",
        F[1].fragmentNumber,
        "--idle-timeout",
        "2",
        "--max-retries",
        "1",
        "--out",
        dir,
        ...flags,
      ], { KVSAUDIO_DEBUG: "", ...env });
      outcome(`exit ${r.code}`);
      const all = r.stdoutText + r.stderr;
      assert.equal(leaksSecret(all), undefined, `${name}, ${mode}: leaked in\n${all}`);
      assert.ok(!all.includes(secret) && !all.includes(token) && !all.includes(id), `${name}, ${mode}`);
      if (errors.length === 0 || name.startsWith("retried")) assert.equal(r.code, 0, `${name}, ${mode}: ${r.stderr}`);
      else assert.equal(r.code, 4, `${name}, ${mode}: ${r.stderr}`);
      if (mode === "--verbose" && name.startsWith("retried")) assert.match(r.stdoutText, /retrying in \d+ ms after/);
    } finally {
      await standin.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
  // The requests were signed with these very credentials.
});

// ---------------------------------------------------------------- fixed bugs (regression tests)

Deno.test({
  name: "time spent retrying does not count against the idle timeout",
  fn: async () => {
    const standin = serve(STREAM, { live: true, delayMs: 20, chunkSize: 4000, faults: { throttle: 1 } });
    try {
      const r = await pullInProcess(standin.url, { type: "EARLIEST" }, {
        idleTimeoutMs: 400,
        backoff: { baseMs: 250, capMs: 250, random: () => 0.99 },
      });
      // Was: endReason "idle" after the one retry, 0 bytes written, exit 0.
      sameBytes(r.from, FULL.from, "from");
    } finally {
      await standin.close();
    }
  },
});

Deno.test({
  name: "an in-band error fragment numbered like a fragment already read still ends the pull with exit 5",
  fn: async () => {
    // KVS names "the fragment that caused the error"; here the last one it sent (F[2]).
    const bytes = errorFragment("3002", 1, F[2].fragmentNumber);
    const standin = serve(STREAM, {
      live: true,
      faults: { errorFragmentAfter: { fragments: 3, code: "3002", id: 1, bytes } },
    });
    try {
      // Was: exit 0 (idle-timeout) with all 6 fragments; the error only showed as a "duplicate" event.
      const r = await cli(standin.url, ["--start", "earliest", "--idle-timeout", "0.5"]);
      assert.equal(r.code, 5, r.stderr);
    } finally {
      await standin.close();
    }
  },
});

Deno.test("summary", () => {
  const faults = [...tally.faults.values()].reduce((a, b) => a + b, 0);
  const kinds = [...tally.faults].map(([k, n]) => `${k} ${n}`).join(", ");
  const outcomes = [...tally.outcomes].map(([k, n]) => `${k}: ${n}`).join(", ");
  console.log(
    `faults_test: ${faults} faults injected (${kinds}) over ${tally.cliRuns} CLI and ${tally.inProcessRuns} in-process pulls; outcomes: ${outcomes}`,
  );
  assert.ok(faults > 0);
});

Deno.test("in-process: bodies that end with nothing new (GetMedia's ~3 s answer on a quiet stream) end the pull at the idle timeout, counted across reconnects", async () => {
  // A tester: with the stand-in ending each idle body cleanly after 3 s (as KVS documents for GetMedia), the idle
  // clock restarted with each reconnect, so the pull ran on until the retries ran out (~45 s, "end-of-stream"),
  // and with --idle-timeout 1 never ended after 1 s.
  const standin = serve(STREAM, { live: true, closeAfterMs: 300 });
  injected("idle bodies that end cleanly");
  try {
    const r = await inProcess(standin.url, { type: "EARLIEST" }, { idleTimeoutMs: 1000, maxRetries: 8 });
    assertWholeCall(r);
    // Ended by the idle timeout, 1 s after the last fragment, not by the eight retries ("end-of-stream").
    assert.equal(r.source.endReason, "idle");
    const getMedia = standin.requests.filter((q) => q.path === "/getMedia").length;
    assert.ok(getMedia >= 2, `${getMedia} GetMedia calls: quiet counted across a reconnect`);
  } finally {
    await standin.close();
  }
  // A stream without continuation tokens is resumed at its last fragment, which each body sends again: a fragment
  // dropped as seen is no sign of life (a review: the clock restarted with it, "end-of-stream" after the retries).
  const tokenless = connectStream({ fragments: 3, continuationTokens: false });
  await withStandin(tokenless, { live: true, closeAfterMs: 300 }, async (plain) => {
    const r = await inProcess(plain.url, { type: "EARLIEST" }, {
      idleTimeoutMs: 1000,
      maxRetries: 8,
      backoff: { baseMs: 400, capMs: 400 },
    });
    const exp = expectedPcm(tokenless);
    sameBytes(r.from, exp.from!, "from");
    sameBytes(r.to, exp.to!, "to");
    assert.equal(r.source.endReason, "idle");
    assert.ok(r.source.stats.duplicates > 0, "the resume point came again");
  });
});

/** A live stand-in serving STREAM but its last fragment (`all[5]`, to add later); idle bodies end after 50 ms. */
function liveWithoutLast() {
  const all = standinFragments(STREAM);
  const standin = startStandin({
    streams: { [ARN]: all.slice(0, 5) },
    chunkSize: [100, 5000],
    live: true,
    closeAfterMs: 50,
  });
  return { all, standin };
}

Deno.test("in-process: a fragment that comes while bodies end with nothing new, within the idle timeout, is written", async () => {
  // A review: after an empty body the back-off that would have run past the idle timeout was cut short by ending
  // the pull there, without asking again: a fragment added meanwhile was lost (4 of 8 runs), reason "idle".
  const { all, standin } = liveWithoutLast();
  injected("a fragment after a pause, bodies ending with nothing new");
  try {
    let added = false;
    const r = await inProcess(standin.url, { type: "EARLIEST" }, {
      idleTimeoutMs: 1500,
      // Each back-off ~2 s, longer than the idle timeout.
      backoff: { baseMs: 2000, capMs: 2000, random: () => 0.99 },
      onEvent: (e) => {
        if (e.type === "retry" && !added) {
          added = true;
          setTimeout(() => standin.addFragment(ARN, all[5]), 600);
        }
      },
    });
    assert.ok(added);
    assertWholeCall(r);
    assert.equal(r.source.endReason, "idle");
  } finally {
    await standin.close();
  }
});

Deno.test("in-process: quiet bodies do not use up the retry budget of failed calls; with idle timeout 0, the quiet after the stop timestamp spans reconnects", async () => {
  // A tester: bodies that ended with nothing new counted as failed attempts, so a short throttling burst after a
  // quiet spell ended the pull (exit 4) and lost the fragment that came next.
  const { all, standin } = liveWithoutLast();
  injected("throttling after quiet bodies");
  try {
    let armed = false;
    const events: PullEvent[] = [];
    const r = await inProcess(standin.url, { type: "EARLIEST" }, {
      idleTimeoutMs: 3000,
      maxRetries: 2,
      backoff: { baseMs: 20, capMs: 20 },
      onEvent: (e) => {
        events.push(e);
        if (!armed && e.type === "retry" && !e.failed && e.attempt === 2) {
          armed = true;
          standin.setFaults({ throttle: 2 });
          standin.addFragment(ARN, all[5]);
        }
      },
    });
    assert.ok(armed);
    assertWholeCall(r);
    assert.equal(r.source.endReason, "idle");
    assert.equal(events.filter((e) => e.type === "retry" && e.failed).length, 2, "the burst retried");
  } finally {
    await standin.close();
  }
  // --idle-timeout 0 past the stop timestamp: 5 s of quiet end the pull, also when each body ends after a moment
  // (it was measured within one body, so such bodies ran the retries out: "end-of-stream").
  await withStandin(STREAM, { live: true, closeAfterMs: 100 }, async (quiet) => {
    const r = await inProcess(quiet.url, { type: "EARLIEST" }, {
      idleTimeoutMs: 0,
      quietAfterMs: Date.now(),
      maxRetries: 2,
    });
    assertWholeCall(r);
    assert.equal(r.source.endReason, "idle");
  });
});

Deno.test("in-process archived: a fragment listed but never sent is warned about wherever it falls; the one before a missing last one is kept", async () => {
  // An archived-mode tester: a listed fragment whose media never came was skipped without a word in the middle or
  // at the start; at the end, the whole fragment before it was taken for cut, asked for until the retries ran out,
  // and the run failed (exit 4) blaming it, its audio lost.
  for (const k of [0, 2, 5]) {
    const frags = standinFragments(STREAM);
    frags[k] = { ...frags[k], bytes: new Uint8Array(0) }; // listed, but its media comes empty
    const standin = startStandin({ streams: { [ARN]: frags }, chunkSize: [100, 5000] });
    injected("a listed fragment that never comes");
    const clients = await createKvsClients({ region: "us-east-1", endpointUrl: standin.url, credentials: FAKE });
    try {
      const events: PullEvent[] = [];
      const source = archivedSource(clients, events, 2);
      const got: string[] = [];
      for await (const f of source.fragments()) got.push(f.kvs.fragmentNumber!);
      assert.deepEqual(got, F.filter((_, i) => i !== k).map((f) => f.fragmentNumber), `missing ${k}`);
      const warnings = events.filter((e) => e.type === "warning").map((e) => e.type === "warning" && e.message);
      assert.equal(warnings.length, 1, `missing ${k}: ${JSON.stringify(warnings)}`);
      assert.match(warnings[0] as string, new RegExp(`ListFragments listed \\((from )?${F[k].fragmentNumber}\\)`));
      assert.equal(source.endReason, "end-of-stream");
    } finally {
      clients.destroy();
      await standin.close();
    }
  }
  // Cut inside fragment 2, then bodies with nothing: still the cut's error (a review: "sent none of the rest" was
  // decided from the last body alone, exit 0 with 2 of 6 fragments).
  {
    const cutStandin = serve(STREAM, { faults: { listEndEarlyAtByte: [F[2].offset - F[0].offset + 500, 0, 500, 0] } });
    const clients = await createKvsClients({ region: "us-east-1", endpointUrl: cutStandin.url, credentials: FAKE });
    try {
      const source = archivedSource(clients, [], 2);
      const got: string[] = [];
      await assert.rejects(
        async () => {
          for await (const f of source.fragments()) got.push(f.kvs.fragmentNumber!);
        },
        new RegExp(`kept ending inside fragment ${F[2].fragmentNumber} \\(cut off 2 times\\)`),
      );
      assert.deepEqual(got, [F[0].fragmentNumber, F[1].fragmentNumber]);
    } finally {
      clients.destroy();
      await cutStandin.close();
    }
  }
  // A fragment the body carries that was not asked for (not listed): warned about, not counted as a duplicate.
  const frags = standinFragments(STREAM);
  frags[2] = { ...frags[2], bytes: concat([frags[2].bytes, frags[3].bytes]) };
  frags[3] = { ...frags[3], producerMs: 1, serverMs: 1 }; // listed outside the range
  const standin = startStandin({ streams: { [ARN]: frags }, chunkSize: [100, 5000] });
  const clients = await createKvsClients({ region: "us-east-1", endpointUrl: standin.url, credentials: FAKE });
  try {
    const events: PullEvent[] = [];
    const source = archivedSource(clients, events, 2);
    for await (const _ of source.fragments()) { /* read */ }
    assert.equal(source.stats.duplicates, 0);
    const warnings = events.filter((e) => e.type === "warning").map((e) => e.type === "warning" && e.message);
    assert.deepEqual(warnings, [
      `GetMediaForFragmentList sent fragment ${F[3].fragmentNumber} at byte ${F[3].offset - F[0].offset}, ` +
      "which was not asked for (not in the listed range): not written",
    ]);
  } finally {
    clients.destroy();
    await standin.close();
  }
});

Deno.test("in-process: a body that ends a few bytes into a fragment is a cut whatever the deadline; a quiet body ends a run of failed calls", async () => {
  // A review: bytes that formed no fragment moved the quiet clock on, so a stream whose bodies each ended 3 bytes
  // into the next fragment was asked again and again (309 calls, never ending with a fault that stays).
  const F5 = F[5].offset - F[0].offset;
  injected("bodies ending 3 bytes into a fragment");
  await withStandin(STREAM, {
    live: true,
    closeAfterMs: 50,
    faults: { endEarlyAtByte: [F5 + 3, ...Array(50).fill(3)] },
  }, async (few) => {
    const r = await inProcess(few.url, { type: "EARLIEST" }, { idleTimeoutMs: 400, maxRetries: 3 });
    assert.equal(r.source.endReason, "end-of-stream");
    assert.equal(few.requests.filter((q) => q.path === "/getMedia").length, 5, "the first body and 4 more, no more");
    // Never silently (a review: the lost fragment had no warning).
    assert.ok(
      r.events.some((e) => e.type === "warning" && /the stream ends inside the fragment after/.test(e.message)),
      JSON.stringify(r.events.filter((e) => e.type === "warning")),
    );
  });
  // Two throttling bursts, each within --max-retries 2, with quiet bodies between them: the second had only the
  // budget the first left (exit 4, the fragment after them lost).
  const { all, standin } = liveWithoutLast();
  injected("two throttling bursts between quiet bodies");
  try {
    let quiet = 0;
    const r = await inProcess(standin.url, { type: "EARLIEST" }, {
      idleTimeoutMs: 5000,
      maxRetries: 2,
      backoff: { baseMs: 20, capMs: 20 },
      onEvent: (e) => {
        if (e.type !== "retry" || e.failed) return;
        quiet++;
        if (quiet === 1 || quiet === 3) standin.setFaults({ throttle: 2 });
        if (quiet === 5) standin.addFragment(ARN, all[5]);
      },
    });
    assertWholeCall(r);
  } finally {
    await standin.close();
  }
  // A server that answers a failed call after every quiet body: the idle timeout still ends the pull (a review:
  // each failure restarted the quiet clock and each quiet body the failed calls' count, so it never ended).
  await withStandin(STREAM, { live: true, closeAfterMs: 100 }, async (alternating) => {
    const r = await inProcess(alternating.url, { type: "EARLIEST" }, {
      idleTimeoutMs: 1000,
      maxRetries: 2,
      backoff: { baseMs: 20, capMs: 20 },
      onEvent: (e) => {
        if (e.type === "retry" && !e.failed) alternating.setFaults({ throttle: 1 });
      },
    });
    assertWholeCall(r);
    assert.equal(r.source.endReason, "idle");
  });
  // Bodies that drop 700 bytes into the next fragment, each followed by a quiet body: the drops' retry budget runs
  // out (a review: each drop moved the quiet clock and each quiet body cleared the count, so it never ended).
  const { all: rest, standin: dropping } = liveWithoutLast();
  try {
    let armed = false;
    const never = 1e12;
    await assert.rejects(
      () =>
        inProcess(dropping.url, { type: "EARLIEST" }, {
          idleTimeoutMs: 1000,
          maxRetries: 3,
          backoff: { baseMs: 20, capMs: 20 },
          onEvent: (e) => {
            if (armed || e.type !== "retry" || e.failed) return;
            armed = true;
            dropping.setFaults({
              dropAtByte: Array.from({ length: 40 }, (_, i) => i % 2 ? never : 700),
              endEarlyAtByte: Array.from({ length: 40 }, (_, i) => i % 2 ? 0 : never),
            });
            dropping.addFragment(ARN, rest[5]);
          },
        }),
      /dropped/,
    );
    assert.ok(dropping.requests.filter((q) => q.path === "/getMedia").length < 20, "bounded by the retries");
  } finally {
    await dropping.close();
  }
});

Deno.test("in-process: a body that keeps sending with no new fragment is not followed for ever", async () => {
  // A hang hunter: an endless element (or a trickle) kept the pull at 100% CPU for ever, --max-duration or not, and
  // one fragment sent again and again made duplicate events without end.
  for (const kind of ["void", "repeat"] as const) {
    const standin = serve(STREAM, { live: true, faults: { noProgressAfter: { fragments: 2, kind } } });
    const clients = await fakeClients(standin.url, 2000);
    const events: PullEvent[] = [];
    // (Without the bound the pull never ends: stopped, so that the test fails rather than hangs.)
    const stop = new AbortController();
    const guard = setTimeout(() => stop.abort(), 10_000);
    const source = new PullSource({
      clients,
      stream: { arn: ARN },
      selector: { type: "EARLIEST" },
      idleTimeoutMs: 1000,
      progressTimeoutMs: 400,
      maxRetries: 1,
      backoff: { baseMs: 1, capMs: 5 },
      onEvent: (e) => events.push(e),
      signal: stop.signal,
    });
    let got = 0;
    const t0 = Date.now();
    try {
      const error = await (async () => {
        for await (const _ of source.fragments()) got++;
      })().then(() => undefined, (e) => e);
      assert.equal(error, undefined, String(error));
      if (got === 2 && kind === "repeat") {
        // Cut at a fragment boundary, with only fragments already written coming: the stream has ended.
        assert.equal(source.endReason, "idle");
      } else {
        // Inside a fragment: resumed like a stall (the next body goes on after the last whole fragment).
        assert.ok(events.some((e) => e.type === "reconnect" && e.reason === "stalled"), JSON.stringify(events));
        assert.equal(got, 6, kind);
      }
      assert.ok(Date.now() - t0 < 4000, `${kind}: ended in ${Date.now() - t0} ms`);
    } finally {
      clearTimeout(guard);
      clients.destroy();
      await standin.close();
    }
  }
});

/**
 * A live stand-in serving the first three of `all`, the rest added after `addAfterMs`, and an in-process pull of
 * it with idle timeout 0 and a progress limit of `progressTimeoutMs`, stopped after `stopAfterMs`.
 */
async function pausedPull(
  all: StandinFragment[],
  o: {
    chunkSize: number | [number, number];
    delayMs?: number;
    addAfterMs: number;
    stopAfterMs: number;
    progressTimeoutMs: number;
    maxSessionMs?: number;
  },
) {
  const standin = startStandin({
    streams: { [ARN]: all.slice(0, 3) },
    live: true,
    chunkSize: o.chunkSize,
    delayMs: o.delayMs,
  });
  const clients = await fakeClients(standin.url, 2000);
  const stop = new AbortController();
  const guard = setTimeout(() => stop.abort(), o.stopAfterMs);
  const more = setTimeout(() => all.slice(3).forEach((f) => standin.addFragment(ARN, f)), o.addAfterMs);
  const events: PullEvent[] = [];
  const source = new PullSource({
    ...FROM_EARLIEST,
    clients,
    idleTimeoutMs: 0,
    progressTimeoutMs: o.progressTimeoutMs,
    ...(o.maxSessionMs !== undefined ? { maxSessionMs: o.maxSessionMs } : {}),
    signal: stop.signal,
    onEvent: (e) => events.push(e),
  });
  /** The fragments handed on until the stop (which must be how it ended: exit 130). */
  const run = async () => {
    let got = 0;
    await assert.rejects(async () => {
      for await (const _ of source.fragments()) {
        got++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }, (e: Error & { exitCode?: number }) => e.exitCode === 130);
    return got;
  };
  const close = async () => {
    clearTimeout(guard);
    clearTimeout(more);
    clients.destroy();
    await standin.close();
  };
  return { standin, events, run, close };
}

Deno.test("in-process: with idle timeout 0, a pause after a held-back fragment or a resent one is waited through, not cut as no progress", async () => {
  // A review of the progress limit: on a stream without KVS's tags after the Cluster (the last fragment held back
  // until the next begins), and after a reconnect whose resume point KVS sent again, a pause longer than the limit
  // ended the pull as idle (exit 0, the rest of the call lost), though --idle-timeout 0 waits for ever.
  for (
    const [name, s, maxSessionMs] of [
      ["held back", connectStream({ fragments: 6, kvsTags: false }), undefined],
      ["resent", connectStream({ fragments: 6, continuationTokens: false }), 200],
    ] as const
  ) {
    const p = await pausedPull(standinFragments(s), {
      chunkSize: [100, 5000],
      addAfterMs: 2500,
      stopAfterMs: 5000,
      progressTimeoutMs: 800,
      maxSessionMs,
    });
    try {
      // Not ended at the pause: fragments added after it came (held back, the sixth waits for a seventh to begin).
      const got = await p.run();
      assert.ok(got > 3, `${name}: ${got}`);
    } finally {
      await p.close();
    }
  }
});

Deno.test("in-process: with idle timeout 0, a pause between whole fragments, then the next one in many chunks: no reconnect", async () => {
  // A review: the progress limit counted from the last fragment, so after a pause longer than it the first chunk
  // of the next fragment cut a body that was simply arriving (a failed retry, a needless reconnect).
  const p = await pausedPull(standinFragments(connectStream({ fragments: 6 })), {
    chunkSize: 1000,
    delayMs: 2,
    addAfterMs: 2000,
    stopAfterMs: 4000,
    progressTimeoutMs: 800,
  });
  try {
    assert.equal(await p.run(), 6);
    assert.deepEqual(p.events.filter((e) => e.type === "reconnect" || e.type === "retry"), []);
    assert.equal(p.standin.requests.filter((q) => q.path === "/getMedia").length, 1);
  } finally {
    await p.close();
  }
});
