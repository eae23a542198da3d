import assert from "node:assert/strict";
import { connectStream, errorFragment, expectedPcm, renameDirections } from "./support/connect_stream.ts";
import { concat } from "./support/mkv_writer.ts";
import {
  ARN,
  AWS_ENV,
  cutsInside,
  FAKE,
  leaksSecret,
  profileEnv,
  pullCli,
  pullInProcess,
  standinFragments,
  withStandin,
} from "./support/pull_harness.ts";
import { startStandin } from "./support/kvs_standin.ts";
import { readWav, sameBytes } from "./support/pipeline.ts";
import { type CliResult, jsonLines, kvsaudio, MAIN, RUN_ARGS } from "./support/cli.ts";
import { seeded, withTempDir } from "./support/util.ts";
import { planPull } from "../src/cli/pull.ts";
import { parseConnectEvent } from "../src/cli/event.ts";
import { applyConfig } from "../src/cli/config.ts";
import { PULL_OPTIONS } from "../src/cli/command_options.ts";
import { outputOptions } from "../src/cli/output_options.ts";
import { TrailingTags } from "../src/kvs/trailing_tags.ts";
import { Fragment } from "../src/mkv/fragment.ts";
import { parseTimestamp } from "../src/cli/time.ts";
import { ExitCode, KvsAudioError } from "../src/errors.ts";

/** The last JSON event a `--json` run printed (the done event). */
const lastEvent = (r: CliResult) => jsonLines(r.stdoutText).at(-1);

const STREAM = connectStream({ fragments: 8 });
const FULL = expectedPcm(STREAM);
const F = STREAM.fragments;

Deno.test("start selectors: each returns the right first fragment", async (t) => {
  const cases: [string, Parameters<typeof pullInProcess>[1], number, Record<string, unknown>?][] = [
    ["FRAGMENT_NUMBER", { type: "FRAGMENT_NUMBER", fragmentNumber: F[3].fragmentNumber }, 3],
    ["PRODUCER_TIMESTAMP", { type: "PRODUCER_TIMESTAMP", timestampMs: F[2].producerMs - 10 }, 2],
    ["SERVER_TIMESTAMP", { type: "SERVER_TIMESTAMP", timestampMs: F[5].serverMs }, 5],
    ["EARLIEST", { type: "EARLIEST" }, 0],
    ["NOW", { type: "NOW" }, 6, { liveEdgeIndex: 6 }],
    ["CONTINUATION_TOKEN", { type: "CONTINUATION_TOKEN", token: F[4].continuationToken }, 5],
  ];
  for (const [name, selector, first, extra] of cases) {
    await t.step(name, async () => {
      await withStandin(STREAM, { live: true, ...extra }, async (standin) => {
        const r = await pullInProcess(standin.url, selector);
        sameBytes(r.from, expectedPcm(STREAM, { fromIndex: first }).from!, `${name} from`);
        sameBytes(r.to, expectedPcm(STREAM, { fromIndex: first }).to!, `${name} to`);
        assert.equal(r.source.endReason, "idle");
      });
    });
  }
});

Deno.test("FRAGMENT_NUMBER read as 'after': fragment N is fetched separately and included; reported", async () => {
  await withStandin(STREAM, { live: true, fragmentNumberMode: "after" }, async (standin) => {
    const r = await pullInProcess(standin.url, { type: "FRAGMENT_NUMBER", fragmentNumber: F[2].fragmentNumber });
    sameBytes(r.from, expectedPcm(STREAM, { fromIndex: 2 }).from!, "from");
    assert.equal(r.source.firstFragmentMatched, false);
    const ev = r.events.find((e) => e.type === "first-fragment");
    assert.ok(
      ev && ev.type === "first-fragment" && ev.fetchedRequested === true && ev.received === F[3].fragmentNumber,
    );
    assert.ok(standin.requests.some((q) => q.path === "/getMediaForFragmentList"));
  });
  await withStandin(STREAM, { live: true, fragmentNumberMode: "inclusive" }, async (inclusive) => {
    const r = await pullInProcess(inclusive.url, { type: "FRAGMENT_NUMBER", fragmentNumber: F[2].fragmentNumber });
    assert.equal(r.source.firstFragmentMatched, true);
    sameBytes(r.from, expectedPcm(STREAM, { fromIndex: 2 }).from!, "inclusive from");
  });
});

Deno.test("connection dropped at 24 random byte offsets: exactly the PCM of an uninterrupted pull", async () => {
  const total = STREAM.bytes.length;
  const rnd = seeded(42);
  const offsets = Array.from({ length: 24 }, () => 1 + Math.floor(rnd() * (total - 2)));
  // Also every fragment boundary and one byte either side of two of them.
  offsets.push(...F.slice(1).map((f) => f.offset), F[3].offset - 1, F[3].offset + 1);
  for (const k of offsets) {
    await withStandin(STREAM, { live: true, faults: { dropAtByte: [k] }, seed: k }, async (standin) => {
      const r = await pullInProcess(standin.url, { type: "FRAGMENT_NUMBER", fragmentNumber: F[0].fragmentNumber });
      sameBytes(r.from, FULL.from!, `from, drop at ${k}`);
      sameBytes(r.to, FULL.to!, `to, drop at ${k}`);
      assert.ok(r.source.stats.reconnects >= 1, `reconnected after drop at ${k}`);
    });
  }
});

Deno.test("several drops in one pull, in both FRAGMENT_NUMBER readings: no loss, no duplicates", async () => {
  for (const mode of ["inclusive", "after"] as const) {
    await withStandin(
      STREAM,
      { live: true, fragmentNumberMode: mode, faults: { dropAtByte: [5000, 9000, 70] } },
      async (standin) => {
        const r = await pullInProcess(standin.url, { type: "EARLIEST" });
        sameBytes(r.from, FULL.from!, `from (${mode})`);
        sameBytes(r.to, FULL.to!, `to (${mode})`);
        assert.equal(r.source.stats.reconnects, 3);
      },
    );
  }
});

Deno.test("bodies that end early (cleanly) mid-fragment: the partial fragment is discarded and fetched again", async () => {
  const rnd = seeded(7);
  const cuts = [
    F[2].offset + 500,
    F[4].offset + 33000,
    F[5].offset,
    // Inside the first document's first element header, its EBML header, and right after it (before the Segment).
    3,
    10,
    F[0].offset + 5 + (STREAM.bytes[F[0].offset + 4] & 0x7f),
    ...Array.from({ length: 6 }, () => 1 + Math.floor(rnd() * 30000)),
  ];
  for (const k of cuts) {
    await withStandin(STREAM, { live: true, faults: { endEarlyAtByte: [k, 20000] } }, async (standin) => {
      const r = await pullInProcess(standin.url, { type: "EARLIEST" });
      sameBytes(r.from, FULL.from!, `from, end at ${k}`);
      sameBytes(r.to, FULL.to!, `to, end at ${k}`);
    });
  }
});

Deno.test("CLI pull from a continuation token with nothing after it: the done event gives the same token back", async () => {
  // Was: continuationToken null, so a script resuming from the done event lost its place.
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const last = F.at(-1)!.continuationToken;
    const args = ["--arn", ARN, "--continuation-token", last, "--idle-timeout", "0.3", "--out", dir];
    const r = await pullCli(standin.url, [...args, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const done = jsonLines(r.stdoutText).at(-1);
    assert.deepEqual([done.event, done.fragments, done.lastFragmentNumber, done.continuationToken], [
      "done",
      0,
      null,
      last,
    ]);
    const text = await pullCli(standin.url, [...args, "--force"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdoutText,
      new RegExp(`^continuation token: ${last} \\(the one given: no fragment was written\\)$`, "m"),
    );
    // However the run is refused: outputs in the way, a bad option (was null for both, the token for others).
    for (const extra of [[], ["--tracks", "foo"]]) {
      const refused = await pullCli(standin.url, [...args, "--json", ...extra]);
      assert.equal(refused.code, 2, refused.stderr);
      const d = jsonLines(refused.stdoutText).at(-1);
      assert.deepEqual([d.event, d.reason, d.continuationToken], ["done", "error", last], extra.join(" "));
    }
  });
});

Deno.test("CLI pull resumed with --continuation-token --append: one set of WAVs, as if the run had not stopped", async () => {
  // Was: the second run was refused, or with --force replaced the first part; joining the parts needed another tool.
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const common = ["--arn", ARN, "--idle-timeout", "0.3", "--out", dir, "--stereo", "--json"];
    const first = await pullCli(standin.url, [
      ...common,
      "--start",
      "earliest",
      "--stop-fragment",
      F[2].fragmentNumber,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const token = jsonLines(first.stdoutText).at(-1).continuationToken;
    assert.equal(token, F[2].continuationToken);
    const second = await pullCli(standin.url, [...common, "--continuation-token", token, "--append"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(jsonLines(second.stdoutText).at(-1).fragments, F.length - 3);
    sameBytes((await readWav(`${dir}/from_customer.wav`)).data, FULL.from!, "from");
    sameBytes((await readWav(`${dir}/to_customer.wav`)).data, FULL.to!, "to");
    const mix = (await readWav(`${dir}/stereo.wav`)).data;
    const expected = new Uint8Array(FULL.from!.length * 2);
    for (let i = 0; i < FULL.from!.length; i += 2) {
      expected.set(FULL.from!.subarray(i, i + 2), 2 * i);
      expected.set(FULL.to!.subarray(i, i + 2), 2 * i + 2);
    }
    sameBytes(mix, expected, "stereo: left from, right to");
  });
});

Deno.test("without continuation tokens the resume uses FRAGMENT_NUMBER; repeated fragments are dropped (BigInt compare)", async () => {
  const s = connectStream({ fragments: 6, continuationTokens: false });
  for (const mode of ["inclusive", "after"] as const) {
    await withStandin(s, {
      live: true,
      fragmentNumberMode: mode,
      faults: { dropAtByte: [s.fragments[2].offset + 50, s.fragments[2].bytes.length + 40] },
    }, async (standin) => {
      const r = await pullInProcess(standin.url, { type: "EARLIEST" });
      sameBytes(r.from, expectedPcm(s).from!, `from (${mode})`);
      const resumed = standin.requests.filter((q) => q.path === "/getMedia")[1];
      const sel = (resumed.body as { StartSelector: { StartSelectorType: string; AfterFragmentNumber?: string } })
        .StartSelector;
      assert.equal(sel.StartSelectorType, "FRAGMENT_NUMBER");
      assert.equal(sel.AfterFragmentNumber, s.fragments[1].fragmentNumber);
      if (mode === "inclusive") assert.ok(r.source.stats.duplicates >= 1, "the repeated fragment was dropped");
    });
  }
});

Deno.test("without continuation tokens, a body that ends cleanly keeps its last fragment; a clean end inside one never yields it partial", async () => {
  const s = connectStream({ fragments: 5, continuationTokens: false });
  const full = expectedPcm(s);
  // Not live: every body ends cleanly right after the last fragment.
  await withStandin(s, {}, async (standin) => {
    const r = await pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 2 });
    // Was: 4 of 5 fragments, the last "cut off by the end of the body" in every session.
    sameBytes(r.from, full.from!, "from");
    sameBytes(r.to, full.to!, "to");
    // (Bodies that end with nothing new, for the idle timeout: the pull is idle.)
    assert.equal(r.source.endReason, "idle");
    assert.equal(r.source.lastFragmentNumber, s.fragments[4].fragmentNumber);
    assert.equal(r.source.stats.discarded, 0);
  });
  // Bodies that end cleanly inside fragment 2 or 4 (at a block boundary: every element so far complete).
  for (const i of [2, 4]) {
    for (const cut of await cutsInside(s, i)) {
      for (const mode of ["inclusive", "after"] as const) {
        await withStandin(s, { fragmentNumberMode: mode, faults: { endEarlyAtByte: [cut] } }, async (standin) => {
          // (A short idle timeout: after the last fragment every body ends with nothing new, and ~90 runs wait it.)
          const r = await pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 2, idleTimeoutMs: 150 });
          sameBytes(r.from, full.from!, `from, clean end at ${cut} (${mode})`);
          sameBytes(r.to, full.to!, `to, clean end at ${cut} (${mode})`);
        });
      }
    }
  }
});

Deno.test("not KVS: fragment numbers but no tags after the Clusters, or other tags only: every fragment, also the last", async () => {
  // KVS always ends a fragment with its own tags; a server that does not is taken as it is once its whole
  // fragments show it (was, for a moment: the last fragment taken as cut off, exit 4).
  const trimmed = async (tagsPosition: "before" | "both") => {
    const s = connectStream({ fragments: 4, tagsPosition });
    for (const f of s.fragments) {
      const cuts = await cutsInside(s, f.index);
      const kvsTags = cuts.at(-2)!; // the last Tags element after the Cluster: KVS's own
      f.bytes = f.bytes.subarray(0, kvsTags - f.offset);
    }
    let at = 0;
    for (const f of s.fragments) f.offset = (at += f.bytes.length) - f.bytes.length;
    s.bytes = concat(s.fragments.map((f) => f.bytes));
    return s;
  };
  for (const tagsPosition of ["before", "both"] as const) {
    const s = await trimmed(tagsPosition);
    await withStandin(s, { live: true }, async (standin) => {
      const r = await pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 2, idleTimeoutMs: 500 });
      sameBytes(r.from, expectedPcm(s).from!, `from, Connect tags ${tagsPosition}`);
      sameBytes(r.to, expectedPcm(s).to!, `to, Connect tags ${tagsPosition}`);
      assert.equal(r.source.endReason, "idle");
    });
  }
});

Deno.test("FRAGMENT_NUMBER read as 'after' and N the newest fragment: N is fetched when nothing follows it", async () => {
  const s = connectStream({ fragments: 3 });
  const n = s.fragments[2].fragmentNumber;
  for (const live of [true, false]) {
    await withStandin(s, { live, fragmentNumberMode: "after" }, async (standin) => {
      const r = await pullInProcess(standin.url, { type: "FRAGMENT_NUMBER", fragmentNumber: n }, { maxRetries: 1 });
      // Was: nothing written, no warning.
      sameBytes(r.from, expectedPcm(s, { fromIndex: 2 }).from!, `from (live ${live})`);
      sameBytes(r.to, expectedPcm(s, { fromIndex: 2 }).to!, `to (live ${live})`);
      assert.equal(r.source.endReason, "idle");
      assert.equal(r.source.firstFragmentMatched, false);
      assert.equal(r.source.lastFragmentNumber, n);
      const ev = r.events.find((e) => e.type === "first-fragment");
      assert.deepEqual(ev, {
        type: "first-fragment",
        requested: n,
        received: "",
        matched: false,
        fetchedRequested: true,
      });
      assert.ok(!r.events.some((e) => e.type === "warning"));
    });
  }
});

Deno.test("FRAGMENT_NUMBER read as 'after': fetching N failing past the retries ends the pull (exit 4), retries counted", async () => {
  const n = F[1].fragmentNumber;
  await withStandin(STREAM, {
    live: true,
    fragmentNumberMode: "after",
    faults: { noResponse: { path: "/getMediaForFragmentList", calls: 5 } },
  }, async (standin) => {
    const err = await pullInProcess(
      standin.url,
      { type: "FRAGMENT_NUMBER", fragmentNumber: n },
      { maxRetries: 1 },
      { responseTimeoutMs: 150 },
    ).then(() => undefined, (e) => e);
    // Was: a warning, exit 0, and fragment N's audio missing; the retry neither counted nor reported.
    assert.ok(err instanceof KvsAudioError, String(err));
    assert.equal(err.exitCode, ExitCode.aws);
    assert.match(err.message, /GetMediaForFragmentList/);
    assert.equal(standin.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 2);
  });
});

Deno.test("FRAGMENT_NUMBER read as 'after', no permission to fetch N: a warning, and the pull goes on without it", async () => {
  await withStandin(STREAM, {
    live: true,
    fragmentNumberMode: "after",
    faults: { apiErrors: [{ status: 403, name: "AccessDeniedException", path: "/getMediaForFragmentList" }] },
  }, async (standin) => {
    const r = await pullInProcess(standin.url, { type: "FRAGMENT_NUMBER", fragmentNumber: F[1].fragmentNumber });
    const warnings = r.events.flatMap((e) => e.type === "warning" ? [e.message] : []);
    assert.equal(warnings.length, 1, JSON.stringify(r.events));
    assert.match(
      warnings[0],
      /^KVS started after fragment .*, and fetching that fragment failed \(access denied.*\): its audio is missing$/,
    );
    assert.equal(r.source.stats.retries, 0);
    sameBytes(r.from, expectedPcm(STREAM, { fromIndex: 2 }).from!, "from");
    assert.equal(standin.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 1);
  });
});

Deno.test("a start fragment that does not exist: the warning says the fragment is missing, not the stream", async () => {
  const between = BigInt(F[2].fragmentNumber) - 1n;
  assert.ok(between > BigInt(F[1].fragmentNumber));
  const beyond = (BigInt(F.at(-1)!.fragmentNumber) + 1n).toString();
  for (
    const [missing, fromIndex, context] of [[between.toString(), 2, "started after"], [
      beyond,
      F.length,
      "sent no",
    ]] as const
  ) {
    await withStandin(STREAM, { live: true }, async (standin) => {
      const r = await pullInProcess(standin.url, { type: "FRAGMENT_NUMBER", fragmentNumber: missing });
      const warnings = r.events.filter((e) => e.type === "warning").map((e) => e.type === "warning" ? e.message : "");
      assert.equal(warnings.length, 1, JSON.stringify(r.events));
      // Was: "KVS started after fragment … and fetching it failed (stream connect-test not found in …: check --arn/--stream-name and --region) …"
      assert.match(
        warnings[0],
        new RegExp(`^KVS ${context} .*${missing}.*, and stream connect-test has no fragment ${missing} \\(expired`),
      );
      assert.doesNotMatch(warnings[0], /stream connect-test not found|--arn/);
      sameBytes(r.from, expectedPcm(STREAM, { fromIndex }).from!, "from");
    });
  }
});

Deno.test("CLI pull: an --endpoint-url that is not an http(s) URL → exit 2 before any call", async () => {
  for (const bad of ["notaurl", "127.0.0.1:4566", "ftp://example.com/"]) {
    const r = await withTempDir("kvsaudio-pull-test-", async (dir) => {
      const res = await pullCli(bad, ["--arn", ARN, "--start", "now", "--out", `${dir}/out`]);
      // Refused while planning: no output directory was created.
      assert.equal(await Deno.stat(`${dir}/out`).then(() => true, () => false), false);
      return res;
    });
    // Was: exit 4 "AWS GetMedia call for stream connect-test failed: TypeError: Invalid URL".
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    assert.match(
      r.stderr,
      new RegExp(`^kvsaudio: --endpoint-url "${bad.replaceAll(".", "\\.")}" is not an http\\(s\\) URL`),
    );
  }
});

Deno.test("resume asks for the continuation token of the last complete fragment", async () => {
  const s = connectStream({ fragments: 5 });
  await withStandin(s, { live: true, faults: { dropAtByte: [s.fragments[3].offset + 50] } }, async (standin) => {
    const r = await pullInProcess(standin.url, { type: "EARLIEST" });
    sameBytes(r.from, expectedPcm(s).from!, "from");
    const resumed = standin.requests.filter((q) => q.path === "/getMedia")[1];
    const sel =
      (resumed.body as { StartSelector: { StartSelectorType: string; ContinuationToken?: string } }).StartSelector;
    assert.equal(sel.StartSelectorType, "CONTINUATION_TOKEN");
    assert.equal(sel.ContinuationToken, s.fragments[2].continuationToken);
  });
});

Deno.test("CLI pull: throttling and 5xx are retried; done event says so; credentials never printed", async () => {
  await withStandin(STREAM, { live: true, faults: { throttle: 2, serverErrors: 2 } }, async (standin, dir) => {
    const r = await pullCli(standin.url, [
      "--arn",
      ARN,
      "--start-fragment",
      F[0].fragmentNumber,
      "--idle-timeout",
      "0.5",
      "--out",
      dir,
      "--json",
      "--verbose",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const events = jsonLines(r.stdoutText);
    const done = events.at(-1);
    assert.equal(done.event, "done");
    assert.equal(done.reason, "idle-timeout");
    assert.equal(done.retries, 4);
    assert.equal(done.firstFragmentMatched, true);
    assert.equal(done.lastFragmentNumber, F[7].fragmentNumber);
    assert.equal(done.continuationToken, F[7].continuationToken);
    assert.equal(events.filter((e) => e.event === "retry").length, 4);
    sameBytes((await readWav(`${dir}/from_customer.wav`)).data, FULL.from!, "from");
    assert.equal(leaksSecret(r.stdoutText + r.stderr), undefined);
    const auth = standin.requests.map((q) => q.headers["authorization"] ?? "");
    assert.ok(auth.every((a) => a.startsWith("AWS4-HMAC-SHA256") && a.includes(FAKE.accessKeyId)));
  });
});

Deno.test("CLI pull: a ContactId switch stops before the other contact's audio", async () => {
  const s = connectStream({ fragments: 5, contactIds: ["c-1", "c-1", "c-1", "c-2", "c-2"] });
  await withStandin(s, { live: true }, async (standin, dir) => {
    const r = await pullCli(standin.url, ["--arn", ARN, "--start", "earliest", "--out", dir, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const done = lastEvent(r);
    assert.equal(done.reason, "contact-changed");
    assert.equal(done.contactId, "c-1");
    assert.equal(done.stopFragmentNumber, s.fragments[3].fragmentNumber);
    sameBytes((await readWav(`${dir}/to_customer.wav`)).data, expectedPcm(s, { untilIndex: 3 }).to!, "to");
  });
});

Deno.test("CLI pull: stop bounds (--stop-fragment inclusive, --max-duration) and --out - streaming", async () => {
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const r = await pullCli(standin.url, [
      "--arn",
      ARN,
      "--start-fragment",
      F[1].fragmentNumber,
      "--stop-fragment",
      F[3].fragmentNumber,
      "--out",
      dir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const done = lastEvent(r);
    assert.equal(done.reason, "stop-fragment");
    assert.equal(done.fragments, 3);
    // The contact whose audio was written, though no other contact ended the run.
    assert.equal(done.contactId, STREAM.fragments[1].contactId);
    sameBytes(
      (await readWav(`${dir}/from_customer.wav`)).data,
      expectedPcm(STREAM, { fromIndex: 1, untilIndex: 4 }).from!,
      "from",
    );

    const d = await pullCli(standin.url, [
      "--arn",
      ARN,
      "--start",
      "earliest",
      "--max-duration",
      "2",
      "--out",
      "-",
      "--tracks",
      "to",
      "--format",
      "raw",
    ]);
    assert.equal(d.code, 0, d.stderr);
    sameBytes(d.stdout, expectedPcm(STREAM, { untilIndex: 2 }).to!, "stdout raw: fragments within 2 s of stream time");
  });
});

Deno.test("CLI pull: errors get their exit code and a one-line message naming the stream and the fix", async (t) => {
  const run = async (faults: Parameters<typeof withStandin>[1], args: string[]) => {
    return await withStandin(STREAM, { live: true, ...faults }, async (standin, dir) => {
      const r = await pullCli(standin.url, [...args, "--out", dir, "--max-retries", "2", "--idle-timeout", "0.5"]);
      assert.equal(leaksSecret(r.stdoutText + r.stderr), undefined, "no secret in output");
      assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
      return r;
    });
  };
  await t.step("not found → 4", async () => {
    const r = await run({}, ["--stream-name", "no-such-stream", "--start", "now"]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /stream no-such-stream not found in us-east-1: check --arn\/--stream-name and --region/);
  });
  await t.step("access denied → 4", async () => {
    const r = await run({ faults: { apiErrors: [{ status: 401, name: "NotAuthorizedException" }] } }, [
      "--arn",
      ARN,
      "--start",
      "now",
    ]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /access denied to stream .*IAM permissions/);
  });
  await t.step("expired credentials → 4", async () => {
    const r = await run({ faults: { apiErrors: [{ status: 403, name: "ExpiredTokenException" }] } }, [
      "--arn",
      ARN,
      "--start",
      "now",
    ]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /credentials expired/);
  });
  await t.step("wrong region → 2 before any call", async () => {
    const arn = ARN.replace("us-east-1", "eu-west-1");
    const r = await run({}, ["--arn", arn, "--start", "now"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /eu-west-1.*--region eu-west-1/);
    // Refused before the output directory is made (it was left behind, empty).
    await withStandin(STREAM, { live: true }, async (standin, dir) => {
      const sub = await pullCli(standin.url, ["--arn", arn, "--start", "now", "--out", `${dir}/new`]);
      assert.equal(sub.code, 2, sub.stderr);
      assert.equal(await Deno.stat(`${dir}/new`).then(() => true, () => false), false, "no output directory left");
      assert.equal(standin.requests.length, 0);
    });
  });
  await t.step("throttled past --max-retries → 4", async () => {
    const r = await run({ faults: { throttle: 10 } }, ["--arn", ARN, "--start", "now"]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /ClientLimitExceeded|throttl/i);
  });
  await t.step("in-band error fragment → 5, earlier audio kept", async () => {
    const bytes = errorFragment("4000", 1, F[2].fragmentNumber);
    const r = await run({ faults: { errorFragmentAfter: { fragments: 2, code: "4000", id: 1, bytes } } }, [
      "--arn",
      ARN,
      "--start",
      "earliest",
    ]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /AWS_KINESISVIDEO_ERROR_CODE 4000/);
  });
  await t.step(
    "a stream that has ended: the back-off after bodies with nothing new is no failure and is not announced",
    async () => {
      await withStandin(STREAM, {}, async (standin, dir) => {
        const r = await pullCli(standin.url, ["--arn", ARN, "--start", "earliest", "--out", dir, "--max-retries", "1"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
      });
    },
  );
  await t.step("two drops far apart: one retry notice for the run, and the audio whole", async () => {
    const faults = { dropAtByte: [F[1].offset + 700, F[2].bytes.length + 900] };
    await withStandin(STREAM, { live: true, faults }, async (standin, dir) => {
      const r = await pullCli(standin.url, [
        "--arn",
        ARN,
        "--start",
        "earliest",
        "--out",
        dir,
        "--idle-timeout",
        "0.5",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.match(/retrying in/g)?.length, 1, r.stderr);
      sameBytes((await readWav(`${dir}/from_customer.wav`)).data, FULL.from!, "from");
    });
  });
  await t.step("connection refused → 4 naming the endpoint", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const r = await withTempDir(
      "kvsaudio-pull-test-",
      (dir) =>
        pullCli(`http://127.0.0.1:${port}`, ["--arn", ARN, "--start", "now", "--out", dir, "--max-retries", "1"]),
    );
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /refused/);
    // Text mode says that it is retrying (once, without -v), then the error as the last line.
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, r.stderr);
    assert.match(
      lines[0],
      /^kvsaudio: retrying in \d+ ms after: .*refused.* \(-v shows every retry; --max-retries 1\)$/i,
    );
    assert.match(lines[1], /^kvsaudio: connection refused by /);
  });
  await t.step("usage: no start, two starts, bad fragment number → 2", async () => {
    for (
      const args of [["--arn", ARN], ["--arn", ARN, "--start", "now", "--start-fragment", "1"], [
        "--arn",
        ARN,
        "--start-fragment",
        "12ab",
      ]]
    ) {
      const r = await run({}, args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
  });
});

Deno.test("CLI pull: refuses to overwrite before contacting KVS", async () => {
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    await Deno.writeFile(`${dir}/from_customer.wav`, new Uint8Array([1, 2, 3]));
    const r = await pullCli(standin.url, ["--arn", ARN, "--start", "now", "--out", dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refusing to overwrite .*from_customer\.wav/);
    // With --json: the done event too (was: no JSON at all).
    const j = await pullCli(standin.url, ["--arn", ARN, "--start", "now", "--out", dir, "--json"]);
    assert.equal(j.code, 2);
    const done = JSON.parse(j.stdoutText.trim().split("\n").at(-1)!);
    assert.deepEqual([done.event, done.reason, done.exitCode], ["done", "error", 2]);
    assert.match(done.message, /refusing to overwrite/);
    assert.equal(standin.requests.length, 0);
    assert.deepEqual(await Deno.readFile(`${dir}/from_customer.wav`), new Uint8Array([1, 2, 3]));
  });
});

Deno.test("CLI pull: --event (Lambda event) and --config INI supply defaults; flags win", async () => {
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const event = {
      Details: {
        ContactData: {
          ContactId: STREAM.fragments[0].contactId,
          MediaStreams: {
            Customer: {
              Audio: {
                StreamARN: ARN,
                StartFragmentNumber: F[2].fragmentNumber,
                StartTimestamp: String(F[2].producerMs),
                StopFragmentNumber: F[4].fragmentNumber,
              },
            },
          },
        },
      },
    };
    await Deno.writeTextFile(`${dir}/event.json`, JSON.stringify(event));
    await Deno.writeTextFile(`${dir}/k.ini`, `json = true\n[pull]\nidle-timeout = 0.5\nout = ${dir}/out\n`);
    const r = await pullCli(standin.url, ["--event", `${dir}/event.json`, "--config", `${dir}/k.ini`]);
    assert.equal(r.code, 0, r.stderr);
    const done = lastEvent(r);
    assert.equal(done.fragments, 3);
    assert.equal(done.reason, "stop-fragment");
    sameBytes(
      (await readWav(`${dir}/out/from_customer.wav`)).data,
      expectedPcm(STREAM, { fromIndex: 2, untilIndex: 5 }).from!,
      "from",
    );
    const r2 = await pullCli(standin.url, [
      "--event",
      `${dir}/event.json`,
      "--config",
      `${dir}/k.ini`,
      "--stop-fragment",
      F[2].fragmentNumber,
      "--force",
    ]);
    assert.equal(lastEvent(r2).fragments, 1);
    // Both contact-id and follow-stream as defaults: the event's ContactId settles them (was: exit 2, the two
    // defaults checked against each other before the event was read).
    await Deno.writeTextFile(
      `${dir}/both.ini`,
      `json = true\n[pull]\nidle-timeout = 0.5\nout = ${dir}/out3\ncontact-id = c-ini\nfollow-stream = true\n`,
    );
    const r3 = await pullCli(standin.url, ["--event", `${dir}/event.json`, "--config", `${dir}/both.ini`]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(lastEvent(r3).contactId, STREAM.fragments[0].contactId);
    assert.equal(lastEvent(r3).fragments, 3);
    await Deno.writeTextFile(`${dir}/bad.ini`, "colour = blue\n");
    const bad = await pullCli(standin.url, [
      "--event",
      `${dir}/event.json`,
      "--config",
      `${dir}/bad.ini`,
      "--out",
      dir,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option 'colour'/);
    // An event (or --contact-id) whose contact is not the one at its start fragment: exit 2 saying so, no files
    // (was: exit 0, "nothing was written", two empty WAVs that a script took for the call).
    const staleEvent = structuredClone(event);
    staleEvent.Details.ContactData.ContactId = "c-stale";
    await Deno.writeTextFile(`${dir}/stale.json`, JSON.stringify(staleEvent));
    const stale = await pullCli(standin.url, ["--event", `${dir}/stale.json`, "--out", `${dir}/stale`, "--json"]);
    assert.equal(stale.code, 2, stale.stderr);
    assert.equal(
      stale.stderr.trim(),
      `kvsaudio: a fragment of ContactId ${STREAM.fragments[2].contactId} (${
        F[2].fragmentNumber
      }) came before any of c-stale: check the start fragment (--start-fragment or the event's) and the ContactId`,
    );
    assert.deepEqual([lastEvent(stale).reason, lastEvent(stale).exitCode], ["error", 2]);
    // No empty WAVs, nor the directory the run made.
    assert.equal(await Deno.stat(`${dir}/stale`).then(() => true, () => false), false);
  });
});

Deno.test("CLI pull --archived: ListFragments (shuffled) + GetMediaForFragmentList, in producer order", async () => {
  await withStandin(STREAM, {}, async (standin, dir) => {
    const r = await pullCli(standin.url, [
      "--arn",
      ARN,
      "--archived",
      "--start-timestamp",
      String(F[1].producerMs),
      "--stop-timestamp",
      String(F[6].producerMs),
      "--out",
      dir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const done = lastEvent(r);
    assert.equal(done.archived, true);
    assert.equal(done.fragments, 6);
    sameBytes(
      (await readWav(`${dir}/to_customer.wav`)).data,
      expectedPcm(STREAM, { fromIndex: 1, untilIndex: 7 }).to!,
      "to",
    );
    assert.ok(standin.requests.some((q) => q.path === "/listFragments"));
  });
});

Deno.test("CLI pull and a stream reused by several contacts: the contact's end, its start in a range, a stale start", async () => {
  const two = connectStream({ fragments: 6, contactIds: ["c-a", "c-a", "c-a", "c-b", "c-b", "c-b"] });
  const T = two.fragments;
  await withStandin(two, { live: true }, async (standin, dir) => {
    // Resumed right after the contact's last fragment: its end, exit 0 (a review found exit 2 "check the start").
    const end = await pullCli(standin.url, [
      ...["--arn", ARN, "--contact-id", "c-a", "--continuation-token", T[2].continuationToken],
      ...["--idle-timeout", "0.3", "--out", `${dir}/end`, "--json"],
    ]);
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual([lastEvent(end).reason, lastEvent(end).fragments], ["contact-changed", 0]);
    // A first fragment with no ContactId does not make the contact asked for seen (was: exit 0, "c-b" written).
    const none = connectStream({ fragments: 3, contactIds: [null, "c-a", "c-b"] });
    await withStandin(none, { live: true }, async (standin2, dir2) => {
      const r = await pullCli(standin2.url, [
        ...["--arn", ARN, "--contact-id", "c-b", "--start-fragment", none.fragments[0].fragmentNumber],
        ...["--idle-timeout", "0.3", "--out", `${dir2}/x`],
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /a fragment of ContactId c-a \(\d+\) came before any of c-b/);
    });
    // A start by time (earliest here) in the previous contact's fragments: skipped until the contact begins (was:
    // exit 0 and two empty WAVs); --max-duration counts from the contact's first fragment.
    const early = await pullCli(standin.url, [
      ...["--arn", ARN, "--contact-id", "c-b", "--start", "earliest", "--idle-timeout", "0.3", "--max-duration", "2"],
      ...["--out", `${dir}/early`, "--json"],
    ]);
    assert.equal(early.code, 0, early.stderr);
    assert.deepEqual([lastEvent(early).reason, lastEvent(early).fragments, lastEvent(early).skippedFragments], [
      "max-duration",
      2,
      3,
    ]);
    sameBytes(
      (await readWav(`${dir}/early/to_customer.wav`)).data,
      expectedPcm(two, { fromIndex: 3, untilIndex: 5 }).to!,
      "c-b's first two fragments",
    );
    // A contact that never comes: exit 2, whether the stream goes quiet, reaches a stop bound of the user's first, or
    // sends nothing at all (found in review: exit 0 and two empty WAVs for the last two).
    const never = await pullCli(standin.url, [
      ...["--arn", ARN, "--contact-id", "c-z", "--start", "earliest", "--idle-timeout", "0.3", "--out", `${dir}/z`],
    ]);
    assert.equal(never.code, 2, never.stderr);
    assert.match(
      never.stderr,
      /ContactId c-z is not in the stream from that start: its 6 fragment\(s\) are of ContactId c-a, c-b/,
    );
    const bounded = await pullCli(standin.url, [
      ...["--arn", ARN, "--contact-id", "c-b", "--start", "earliest", "--stop-fragment", T[1].fragmentNumber],
      ...["--idle-timeout", "0.3", "--out", `${dir}/bounded`, "--json"],
    ]);
    assert.equal(bounded.code, 2, bounded.stderr);
    assert.match(
      bounded.stderr,
      /ContactId c-b is not in the stream before the stop fragment: its 2 fragment\(s\) are of ContactId c-a/,
    );
    assert.doesNotMatch(bounded.stderr, /no audio/, "skipped fragments are not 'fragments without audio'");
    await withStandin(two, { live: true, liveEdgeIndex: T.length }, async (quiet, dir3) => {
      const nothing = await pullCli(quiet.url, [
        ...["--arn", ARN, "--contact-id", "c-b", "--start", "now", "--idle-timeout", "0.3", "--out", `${dir3}/n`],
      ]);
      assert.equal(nothing.code, 2, nothing.stderr);
      assert.match(nothing.stderr, /ContactId c-b is not in the stream from that start: no fragment came/);
    });
  });
  // An archived range that begins in the previous contact's last fragments: those are skipped.
  await withStandin(two, {}, async (standin, dir) => {
    const args = ["--arn", ARN, "--archived", "--start-timestamp", String(T[1].producerMs)];
    const r = await pullCli(standin.url, [
      ...args,
      ...["--stop-timestamp", String(T[5].producerMs), "--contact-id", "c-b", "--out", `${dir}/b`, "--json"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([lastEvent(r).fragments, lastEvent(r).skippedFragments], [3, 2]);
    sameBytes(
      (await readWav(`${dir}/b/from_customer.wav`)).data,
      expectedPcm(two, { fromIndex: 3 }).from!,
      "c-b's audio",
    );
    const missing = await pullCli(standin.url, [
      ...args,
      ...["--stop-timestamp", String(T[5].producerMs), "--contact-id", "c-z", "--out", `${dir}/z`],
    ]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /ContactId c-z is not in the archived range: its 5 fragment\(s\) are of ContactId c-a, c-b/,
    );
    // A stop fragment before the contact begins is named, as in a live pull (an archived-mode tester: "not in the
    // archived range", though it is).
    const stopped = await pullCli(standin.url, [
      ...args,
      ...["--stop-timestamp", String(T[5].producerMs), "--contact-id", "c-b", "--stop-fragment", T[2].fragmentNumber],
      ...["--out", `${dir}/s`],
    ]);
    assert.equal(stopped.code, 2);
    assert.match(
      stopped.stderr,
      /ContactId c-b is not in the archived range before the stop fragment: its 2 fragment\(s\) are of ContactId c-a/,
    );
  });
});

Deno.test("planPull, parseConnectEvent and parseTimestamp", () => {
  assert.equal(parseTimestamp("2026-11-24T10:00:00Z"), Date.UTC(2026, 10, 24, 10));
  assert.equal(parseTimestamp("1599166395.421"), 1599166395421);
  assert.equal(parseTimestamp("1599166395421"), 1599166395421);
  assert.equal(parseTimestamp("yesterday"), undefined);
  // ISO 8601 checked whole (was: Date.parse took these as other dates).
  for (
    const bad of [
      "2026-07-01 junk",
      "2026-07-011",
      "2026-02-30T00:00:00Z",
      "2026-13-01",
      "2026-11-24T24:00:00Z",
      "0075-06-01",
    ]
  ) {
    assert.equal(parseTimestamp(bad), undefined, bad);
  }
  assert.equal(parseTimestamp("2026-11-24"), Date.UTC(2026, 10, 24));
  assert.equal(parseTimestamp("2026-07-01T13:31:00"), Date.UTC(2026, 6, 1, 13, 31));
  assert.equal(parseTimestamp("2026-11-24 10:00:00.5+02:00"), Date.UTC(2026, 10, 24, 8, 0, 0, 500));
  assert.equal(parseTimestamp("2026-11-24t10:00:00.123456z"), Date.UTC(2026, 10, 24, 10, 0, 0, 123));
  assert.equal(parseTimestamp("2026-11-24T10:00:00-0130"), Date.UTC(2026, 10, 24, 11, 30));
  const p = planPull({ arn: ARN, "start-timestamp": "1000000", "stop-timestamp": "2000000" }, undefined, 5e12);
  assert.equal(p.archived, true, "a stop bound in the past selects archived mode");
  assert.equal(p.selector.type, "PRODUCER_TIMESTAMP");
  // A reversed range (was: a ListFragments call with start after end) and --max-duration 0 (was: one fragment).
  assert.throws(
    () => planPull({ arn: ARN, "start-timestamp": "2000000", "stop-timestamp": "1000000" }, undefined, 5e12),
    /pull: --stop-timestamp \(1970-01-12T13:46:40\.000Z\) is before --start-timestamp \(1970-01-24T03:33:20\.000Z\)/,
  );
  assert.equal(
    planPull({ arn: ARN, "start-timestamp": "1000000", "stop-timestamp": "1000000" }, undefined).archived,
    true,
  );
  // The stop from the event: named so (a config file's stop-timestamp is not blamed for it).
  const ev = parseConnectEvent({
    Details: {
      ContactData: {
        ContactId: "c-1",
        MediaStreams: {
          Customer: {
            Audio: {
              StreamARN: ARN,
              StartFragmentNumber: "1",
              StartTimestamp: "1000000",
              StopTimestamp: "900000",
            },
          },
        },
      },
    },
  }, "e.json");
  assert.equal(typeof ev.stopTimestampMs, "number");
  assert.throws(
    () => planPull({ arn: ARN, "start-timestamp": "1000000" }, ev),
    /pull: the event's stop timestamp \(.*\) is before --start-timestamp/,
  );
  assert.throws(
    () => planPull({ arn: ARN, start: "now", "max-duration": "0" }, undefined),
    /^UsageError: pull: --max-duration needs a number more than 0, not '0'$/,
  );
  // A tester: a bad value was asked for as "a non-negative number", which 0 is, and 0 was then refused.
  assert.throws(
    () => planPull({ arn: ARN, start: "now", "max-duration": "abc" }, undefined),
    /^UsageError: pull: --max-duration needs a number more than 0, not 'abc'$/,
  );
  assert.equal(planPull({ arn: ARN, start: "now", "max-duration": "0.5" }, undefined).maxDurationMs, 500);
  const rec = parseConnectEvent({
    ContactId: "c-9",
    Recordings: [{ Location: ARN, FragmentStartNumber: "123", FragmentStopNumber: "456", MediaStreamType: "AUDIO" }],
  }, "record.json");
  assert.deepEqual([rec.arn, rec.startFragment, rec.stopFragment, rec.contactId], [ARN, "123", "456", "c-9"]);
  assert.throws(() => parseConnectEvent({ foo: 1 }, "x.json"), /neither a Connect Lambda event/);
});

Deno.test("planPull: flags, then the event, then the config file's defaults, also for options that exclude each other", async () => {
  // Was: a default counted as a flag: `start = earliest` in the INI made --start-fragment a usage error,
  // `arn =` made --stream-name one, and an INI arn beat the event's StreamARN (the wrong stream was read).
  const OTHER = ARN.replace("connect-test", "some-default-stream");
  const N = "91343852333181551234925834077012571618243808844";
  const event = parseConnectEvent({
    Details: {
      ContactData: {
        ContactId: "c-ev",
        MediaStreams: { Customer: { Audio: { StreamARN: ARN, StartFragmentNumber: N } } },
      },
    },
  }, "event.json");
  await withTempDir("kvsaudio-plan-", async (dir) => {
    const ini = `${dir}/kvsaudio.ini`;
    const plan = async (text: string, values: Record<string, string | boolean>, ev = false) => {
      await Deno.writeTextFile(ini, text);
      const v: Record<string, string | boolean | undefined> = { ...values };
      await applyConfig("pull", v, PULL_OPTIONS, ini);
      return planPull(v, ev ? event : undefined);
    };
    const a = await plan("[pull]\nstart = earliest\narn = " + OTHER, { "start-fragment": N, "stream-name": "s" });
    assert.deepEqual([a.selector, a.stream], [{ type: "FRAGMENT_NUMBER", fragmentNumber: N }, { name: "s" }]);
    const b = await plan("[pull]\nstart = earliest\narn = " + OTHER + "\nstop-fragment = " + N, {}, true);
    assert.deepEqual([b.selector, b.stream], [{ type: "FRAGMENT_NUMBER", fragmentNumber: N }, { arn: ARN }]);
    assert.equal(b.stopFragment, BigInt(N), "what the event does not give still comes from the file");
    const c = await plan("[pull]\nstream-name = x\n", { start: "now" }, true);
    assert.deepEqual(c.stream, { arn: ARN }, "the event's stream beats the file's stream-name");
    const d = await plan("[pull]\nstart = now\n", { arn: OTHER });
    assert.deepEqual([d.selector, d.stream], [{ type: "NOW" }, { arn: OTHER }], "defaults still apply");
    // contact-id and follow-stream: a default gives way to the flag it excludes, and to the event's ContactId.
    for (
      const [text, flags, want] of [
        ["[pull]\ncontact-id = c-ini\n", { "follow-stream": true }, { contactId: undefined, followStream: true }],
        ["[pull]\nfollow-stream = true\n", { "contact-id": "c-x" }, { contactId: "c-x", followStream: false }],
      ] as const
    ) {
      await Deno.writeTextFile(ini, text);
      const v: Record<string, string | boolean | undefined> = { arn: ARN, start: "now", out: dir, ...flags };
      await applyConfig("pull", v, PULL_OPTIONS, ini);
      const o = outputOptions("pull", v);
      assert.deepEqual({ contactId: o.contactId, followStream: o.followStream }, want, text);
    }
    // tracks and --stereo with --out -: the default gives way to the flag (was: exit 2 either way round).
    for (
      const [text, flags, want] of [
        ["[pull]\ntracks = from\n", { stereo: true }, { tracks: "both", stereo: true }],
        ["[pull]\nstereo = true\n", { tracks: "to" }, { tracks: "to", stereo: false }],
      ] as const
    ) {
      await Deno.writeTextFile(ini, text);
      const v: Record<string, string | boolean | undefined> = { arn: ARN, start: "now", out: "-", ...flags };
      await applyConfig("pull", v, PULL_OPTIONS, ini);
      const o = outputOptions("pull", v);
      assert.deepEqual({ tracks: o.writer.tracks, stereo: o.writer.stereo }, want, text);
    }
    assert.throws(() => outputOptions("pull", { out: "-", tracks: "from", stereo: true }), /not both/);
    // archived = true gives way to a start that is not a timestamp (was: "--archived needs --start-timestamp …").
    const e = await plan("[pull]\narchived = true\n", { arn: ARN, "start-fragment": N });
    assert.deepEqual([e.archived, e.selector], [false, { type: "FRAGMENT_NUMBER", fragmentNumber: N }]);
    await assert.rejects(
      () => plan("", { arn: ARN, "start-fragment": N, archived: true }),
      /--archived needs --start-timestamp and --stop-timestamp/,
    );
    // …but only to a start or stop given by a flag or the event: a missing stop, or a start from the file too, is refused.
    await assert.rejects(
      () => plan("[pull]\narchived = true\n", { arn: ARN, "start-timestamp": "2026-01-01T00:00:00Z" }),
      /--archived needs/,
    );
    await assert.rejects(() => plan("[pull]\narchived = true\nstart = earliest\n", { arn: ARN }), /--archived needs/);
    const f = await plan("[pull]\narchived = true\n", { arn: ARN, "start-timestamp": "1000000", "stop-fragment": N });
    assert.deepEqual([f.archived, f.stopFragment], [false, BigInt(N)]);
    // Two flags that exclude each other are still an error, and so are two defaults.
    await assert.rejects(() => plan("", { arn: ARN, "stream-name": "s", start: "now" }), /not both/);
    await assert.rejects(() => plan("[pull]\nstart = now\nstart-fragment = " + N, { arn: ARN }), /give one start/);
  });
});

Deno.test("CLI pull --event: INI defaults still give way to flags, and --json refusals end with a done event", async () => {
  await withTempDir("kvsaudio-event-", async (dir) => {
    await Deno.writeTextFile(
      `${dir}/event.json`,
      JSON.stringify({
        Details: { ContactData: { ContactId: "c-1", MediaStreams: { Customer: { Audio: { StreamARN: ARN } } } } },
      }),
    );
    // Was: with --event the options were checked on a copy that forgot which came from the file: exit 2
    // "use either --tracks from or --stereo". Now the options hold, and the run gets as far as KVS (refused: 4).
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "[pull]\ntracks = from\nout = -\n");
    const args = ["pull", "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1", "--max-retries", "0"];
    const r = await kvsaudio([...args, "--event", "event.json", "--start", "now", "--stereo"], {
      cwd: dir,
      env: AWS_ENV,
    });
    assert.equal(r.code, 4, r.stderr);
    // Was: an output in the way, or an unreadable event, ended a --json run with no JSON at all.
    await Deno.writeTextFile(`${dir}/kvsaudio.ini`, "");
    await Deno.writeTextFile(`${dir}/from_customer.wav`, "x");
    for (const [event, why] of [["event.json", /refusing to overwrite/], ["missing.json", /missing\.json/]] as const) {
      const outDir = event === "event.json" ? dir : `${dir}/o`;
      const j = await kvsaudio([...args, "--event", event, "--start", "now", "--out", outDir, "--json"], {
        cwd: dir,
        env: AWS_ENV,
      });
      assert.equal(j.code, 2, j.stderr);
      const done = jsonLines(j.stdoutText).at(-1);
      assert.deepEqual([done?.event, done?.reason, done?.exitCode], ["done", "error", 2], j.stdoutText);
      assert.match(done.message, why);
    }
  });
});

Deno.test("CLI pull: with no region given or configured, the ARN's region is used", async () => {
  // Was: "no AWS region: pass --region or set AWS_REGION" (exit 2), though the ARN names it.
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const args = ["pull", "--endpoint-url", standin.url, "--start", "earliest", "--idle-timeout", "0.5", "--json"];
    const env = { ...AWS_ENV, AWS_REGION: "", AWS_DEFAULT_REGION: "" };
    const r = await kvsaudio([...args, "--arn", ARN, "--out", `${dir}/a`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastEvent(r).fragments, F.length);
    const auth = standin.requests.map((q) => q.headers["authorization"] ?? "");
    assert.ok(auth.every((a) => a.includes("/us-east-1/kinesisvideo/")), auth[0]);
    // A stream name names no region: still a usage error.
    const n = await kvsaudio([...args, "--stream-name", "connect-test", "--out", `${dir}/n`], { env });
    assert.equal(n.code, 2);
    assert.match(n.stderr, /no AWS region: pass --region or set AWS_REGION/);
  });
});

Deno.test("CLI pull --profile: credentials and region come from the named profile of the AWS files", async () => {
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    await Deno.writeTextFile(`${dir}/config`, "[profile kvstest]\nregion = us-east-1\n");
    await Deno.writeTextFile(
      `${dir}/credentials`,
      "[kvstest]\naws_access_key_id = AKIDPROFILETEST00001\naws_secret_access_key = profileSecretDoNotPrint01\n",
    );
    const r = await kvsaudio(
      ["pull", "--endpoint-url", standin.url, "--profile", "kvstest", "--arn", ARN, "--start", "earliest"].concat(
        ["--idle-timeout", "0.5", "--out", `${dir}/out`, "--json"],
      ),
      {
        env: {
          AWS_CONFIG_FILE: `${dir}/config`,
          AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
          AWS_EC2_METADATA_DISABLED: "true",
        },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastEvent(r).fragments, F.length);
    const auth = standin.requests.map((q) => q.headers["authorization"] ?? "");
    assert.ok(auth.length > 0 && auth.every((a) => a.includes("Credential=AKIDPROFILETEST00001/")), auth[0]);
    assert.ok(!(r.stdoutText + r.stderr).includes("profileSecretDoNotPrint01"));
    // AWS_PROFILE and keys in the environment, both set.
    const profileAndKeys = (profile: string) => ({
      AWS_CONFIG_FILE: `${dir}/config`,
      AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_PROFILE: profile,
      AWS_ACCESS_KEY_ID: "AKIDENVTEST000000001",
      AWS_SECRET_ACCESS_KEY: "envSecretDoNotPrint01",
    });
    // AWS_PROFILE names it just as well, and beats keys in the environment (the SDK's rule), which is said in one
    // line (was: the SDK's eight-line console warning).
    const before = standin.requests.length;
    const viaEnv = await kvsaudio(
      ["pull", "--endpoint-url", standin.url, "--arn", ARN, "--start", "earliest"].concat(
        ["--idle-timeout", "0.5", "--out", `${dir}/out-env`],
      ),
      { env: profileAndKeys("kvstest") },
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(
      viaEnv.stderr,
      "kvsaudio: warning: both AWS_PROFILE and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set: the AWS SDK takes the profile and ignores the keys\n",
    );
    assert.ok(!(viaEnv.stdoutText + viaEnv.stderr).includes("envSecretDoNotPrint01"));
    const envAuth = standin.requests.slice(before).map((q) => q.headers["authorization"] ?? "");
    assert.ok(envAuth.length > 0 && envAuth.every((a) => a.includes("Credential=AKIDPROFILETEST00001/")), envAuth[0]);
    // A profile neither file defines: exit 2 naming it and the files, before any call.
    const calls = standin.requests.length;
    const missing = await kvsaudio(
      [
        "pull",
        "--endpoint-url",
        standin.url,
        "--profile",
        "nosuch",
        "--arn",
        ARN,
        "--start",
        "now",
        "--out",
        `${dir}/o2`,
      ],
      { env: { AWS_CONFIG_FILE: `${dir}/config`, AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials` } },
    );
    assert.equal(missing.code, 2, missing.stderr);
    assert.equal(
      missing.stderr.trim(),
      `kvsaudio: AWS profile 'nosuch' not found in ${dir}/config or ${dir}/credentials: check --profile or AWS_PROFILE`,
    );
    assert.equal(standin.requests.length, calls);
    assert.equal(await Deno.stat(`${dir}/o2`).then(() => true, () => false), false, "no output directory left");
    // AWS_PROFILE naming such a profile, and no other source of credentials: the failure says so (was: exit 4 "no
    // AWS credentials found: set … AWS_PROFILE …", though it was set). Not refused up front: see the next test.
    const fromEnv = await kvsaudio(
      ["pull", "--endpoint-url", standin.url, "--arn", ARN, "--start", "now", "--out", `${dir}/o3`],
      { env: profileAndKeys("nosuch") },
    );
    assert.equal(fromEnv.code, 2, fromEnv.stderr);
    assert.equal(
      fromEnv.stderr.trim().split("\n").at(-1),
      `kvsaudio: AWS profile 'nosuch' (AWS_PROFILE) not found in ${dir}/config or ${dir}/credentials, and no other source gave credentials: check AWS_PROFILE`,
    );
    assert.equal(standin.requests.length, calls);
  });
});

Deno.test("CLI pull: AWS_PROFILE naming no profile of the AWS files still lets container credentials through", async () => {
  // The SDK skips the key variables for AWS_PROFILE, then goes on to web-identity, container and instance
  // credentials; a check up front refused this working setup (exit 2).
  const ac = new AbortController();
  const creds = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, () =>
    Response.json({
      AccessKeyId: "AKIDCONTAINER0000001",
      SecretAccessKey: "containerSecretDoNotPrint",
      Token: "containerToken",
      Expiration: new Date(Date.now() + 3600_000).toISOString(),
    }));
  try {
    await withStandin(STREAM, { live: true }, async (standin, dir) => {
      const r = await kvsaudio(
        ["pull", "--endpoint-url", standin.url, "--arn", ARN, "--start", "earliest", "--idle-timeout", "0.5"].concat(
          ["--out", `${dir}/out`, "--json"],
        ),
        {
          env: {
            AWS_CONFIG_FILE: `${dir}/none-config`,
            AWS_SHARED_CREDENTIALS_FILE: `${dir}/none-credentials`,
            AWS_EC2_METADATA_DISABLED: "true",
            AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${creds.addr.port}/creds`,
            AWS_PROFILE: "default",
          },
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lastEvent(r).fragments, F.length);
      const auth = standin.requests.map((q) => q.headers["authorization"] ?? "");
      assert.ok(auth.length > 0 && auth.every((a) => a.includes("Credential=AKIDCONTAINER0000001/")), auth[0]);
    });
  } finally {
    ac.abort();
    await creds.finished;
  }
});

Deno.test("a session reaching its age limit reconnects at a fragment boundary with no loss or duplicates", async () => {
  await withStandin(STREAM, { live: true }, async (standin) => {
    // maxSessionMs 0: every fragment ends its session (KVS ends them after ~45 minutes).
    const r = await pullInProcess(standin.url, { type: "EARLIEST" }, { maxSessionMs: 0 });
    sameBytes(r.from, FULL.from!, "from");
    sameBytes(r.to, FULL.to!, "to");
    assert.equal(r.source.stats.sessions, F.length + 1);
    assert.ok(r.events.some((e) => e.type === "reconnect" && e.reason === "session-age"));
    const selectors = standin.requests.filter((q) => q.path === "/getMedia").map((q) =>
      (q.body as { StartSelector: { StartSelectorType: string } }).StartSelector.StartSelectorType
    );
    assert.deepEqual(selectors.slice(1, 3), ["CONTINUATION_TOKEN", "CONTINUATION_TOKEN"]);
  });
});

Deno.test("TrailingTags: a list-body fragment is cut only without the ContactId or MimeType whole ones had after the Cluster", () => {
  // Was (counting all trailing tags): one whole fragment with an occasional Events tag made every fragment
  // without it "cut", and a start fragment fetched alone was never taken.
  const frag = (names: string[]) => {
    const f = new Fragment(0, 0);
    f.clusters.push({ offset: 100, timecode: 0, blocks: 0 });
    f.tags.push({ name: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", value: "1", position: "before", offset: 50 });
    names.forEach((name, i) => f.tags.push({ name, value: "x", position: "after", offset: 200 + i }));
    return f;
  };
  const all = ["ContactId", "InstanceId", "MimeType", "AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"];
  const t = new TrailingTags();
  // Nothing to go by: not taken as whole at once (was: a body ending between SimpleBlocks was taken whole), but
  // asked for again, and taken when it comes the same way.
  assert.ok(!t.whole(frag([])), "nothing learned yet");
  assert.ok(!t.wholeOrStored(frag([])) && t.unproven, "asked for again");
  assert.ok(t.wholeOrStored(frag([])), "it came the same way");
  t.learn(frag([...all, "Events"]));
  assert.ok(t.whole(frag(all)), "without the occasional Events tag");
  assert.ok(!t.whole(frag(["ContactId", "InstanceId"])), "cut before its MimeType");
  assert.ok(!t.whole(frag([])), "cut before its trailing Tags");
  t.learn(frag(["ContactId"])); // a stream whose fragments do not all carry MimeType after the Cluster
  assert.ok(t.whole(frag(["ContactId", "InstanceId"])));
});

Deno.test("parseTimestamp: a time without a zone is UTC whatever the machine's time zone", async () => {
  // Was: local time, so one cron line pulled other audio on hosts in other zones.
  const code = `import { parseTimestamp } from "${new URL("../src/cli/time.ts", import.meta.url).href}";
    console.log(JSON.stringify([parseTimestamp("2026-07-01T13:31:00"), parseTimestamp("2026-07-01 13:31"),
      new Date(2026, 6, 1).getTimezoneOffset()]));`;
  for (const tz of ["Asia/Tokyo", "America/New_York"]) {
    const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code], env: { TZ: tz }, stderr: "inherit" })
      .output();
    const [a, b, offset] = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.notEqual(offset, 0, `${tz} is not UTC in the child`);
    assert.deepEqual([a, b], [Date.UTC(2026, 6, 1, 13, 31), Date.UTC(2026, 6, 1, 13, 31)], tz);
  }
});

Deno.test("CLI pull: a profile whose credentials come from credential_process works (as with the AWS CLI)", async () => {
  // Was: "no AWS credentials found" (exit 4): the task's permissions did not let the SDK run the helper.
  const s = connectStream({ fragments: 2 });
  await withStandin(s, { live: true }, async (standin, dir) => {
    const helper = `${dir}/creds.sh`;
    await Deno.writeTextFile(
      helper,
      `#!/bin/sh\necho '${
        JSON.stringify({ Version: 1, AccessKeyId: FAKE.accessKeyId, SecretAccessKey: FAKE.secretAccessKey })
      }'\n`,
    );
    await Deno.chmod(helper, 0o755);
    await Deno.writeTextFile(`${dir}/config`, `[profile helper]\nregion = us-east-1\ncredential_process = ${helper}\n`);
    const env = profileEnv(`${dir}/config`);
    const args = ["--arn", ARN, "--start", "earliest", "--idle-timeout", "0.5", "--profile", "helper"];
    const r = await kvsaudio(["pull", "--endpoint-url", standin.url, ...args, "--out", `${dir}/out`, "--json"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastEvent(r).fragments, 2);
    assert.ok(standin.requests.every((q) => (q.headers["authorization"] ?? "").includes(FAKE.accessKeyId)));
    assert.equal(leaksSecret(r.stdoutText + r.stderr), undefined);
  });
});

Deno.test("CLI pull: the SDK's own console lines stay off stderr's NDJSON; a failing credential_process is named", async () => {
  const s = connectStream({ fragments: 2 });
  // Container credentials that answer after the SDK's 1 s request timeout, which it only warns about.
  const creds = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await new Promise((r) => setTimeout(r, 1300));
    return Response.json({
      AccessKeyId: FAKE.accessKeyId,
      SecretAccessKey: FAKE.secretAccessKey,
      Token: FAKE.sessionToken,
      Expiration: new Date(Date.now() + 3600_000).toISOString(),
    });
  });
  try {
    await withStandin(s, { live: true }, async (standin, dir) => {
      const base = ["--arn", ARN, "--start", "earliest", "--idle-timeout", "0.5"];
      const env = {
        ...AWS_ENV,
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
        AWS_SESSION_TOKEN: "",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${creds.addr.port}/creds`,
      };
      const args = ["pull", "--endpoint-url", standin.url, ...base, "--out", "-", "--tracks", "from", "--json"];
      const r = await kvsaudio(args, { env });
      assert.equal(r.code, 0, r.stderr);
      // Was: "@smithy/node-http-handler - [WARN] a request has exceeded the configured 1000 ms requestTimeout…"
      // among the events.
      for (const line of r.stderr.trim().split("\n")) assert.doesNotThrow(() => JSON.parse(line), line);
      assert.equal(jsonLines(r.stderr).at(-1).fragments, 2);
      // A credential_process that fails: named, with what to do (was "no AWS credentials found: …, or pass
      // --profile" to a run that passed one).
      const helper = `${dir}/fails.sh`;
      await Deno.writeTextFile(helper, "#!/bin/sh\necho 'MFA device not found' >&2\nexit 3\n");
      await Deno.chmod(helper, 0o755);
      await Deno.writeTextFile(`${dir}/config`, `[profile ci]\ncredential_process = ${helper}\n`);
      const f = await kvsaudio(
        ["pull", "--endpoint-url", standin.url, ...base, "--profile", "ci", "--out", `${dir}/o`],
        { env: { ...env, AWS_CONTAINER_CREDENTIALS_FULL_URI: "", AWS_CONFIG_FILE: `${dir}/config` } },
      );
      assert.equal(f.code, 4, f.stderr);
      assert.match(
        f.stderr.trim(),
        /^kvsaudio: (no AWS credentials found|cannot get AWS credentials) from profile 'ci' \(its credential_process\): /,
      );
    });
  } finally {
    await creds.shutdown();
  }
});

Deno.test("CLI pull --after-fragment N resumes after a fragment an earlier run wrote, under either reading of FRAGMENT_NUMBER", async () => {
  // For a run whose last fragment came from GetMediaForFragmentList (no continuation token in real bodies): its done
  // event gives lastFragmentNumber and no token; before, the README's "no token" advice re-pulled it (twice in the files).
  for (const fragmentNumberMode of ["inclusive", "after"] as const) {
    await withStandin(STREAM, { live: true, fragmentNumberMode }, async (standin, dir) => {
      const first = await pullCli(standin.url, [
        ...["--arn", ARN, "--start-fragment", F[2].fragmentNumber, "--stop-fragment", F[2].fragmentNumber],
        ...["--idle-timeout", "0.5", "--out", dir, "--json"],
      ]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(lastEvent(first).lastFragmentNumber, F[2].fragmentNumber);
      const args = ["--arn", ARN, "--after-fragment", F[2].fragmentNumber, "--idle-timeout", "0.5", "--json"];
      const rest = await pullCli(standin.url, [...args, "--out", dir, "--append"]);
      assert.equal(rest.code, 0, rest.stderr);
      const done = lastEvent(rest);
      assert.deepEqual([done.fragments, done.duplicatesDropped], [5, fragmentNumberMode === "inclusive" ? 1 : 0]);
      const exp = expectedPcm(STREAM, { fromIndex: 2 });
      sameBytes((await readWav(`${dir}/from_customer.wav`)).data, exp.from!, `from (${fragmentNumberMode})`);
      sameBytes((await readWav(`${dir}/to_customer.wav`)).data, exp.to!, `to (${fragmentNumberMode})`);
      // Nothing after the last fragment: the run gives N back, to resume from again.
      const none = await pullCli(standin.url, [
        ...["--arn", ARN, "--after-fragment", F[7].fragmentNumber, "--idle-timeout", "0.5", "--json"],
        ...["--out", `${dir}/none`],
      ]);
      assert.equal(none.code, 0, none.stderr);
      assert.deepEqual([lastEvent(none).fragments, lastEvent(none).lastFragmentNumber], [0, F[7].fragmentNumber]);
      // A config file's after-fragment that a flag's start overrides is not given back (a review).
      await Deno.writeTextFile(`${dir}/k.ini`, "[pull]\nafter-fragment = 123456\n");
      const over = await pullCli(standin.url, [
        ...["--arn", ARN, "--start-fragment", F[1].fragmentNumber, "--stop-fragment", F[1].fragmentNumber],
        ...["--idle-timeout", "0.5", "--json", "--config", `${dir}/k.ini`, "--out", `${dir}/over`],
      ]);
      assert.equal(over.code, 0, over.stderr);
      assert.equal(lastEvent(over).lastFragmentNumber, F[1].fragmentNumber);
    });
  }
  assert.throws(
    () => planPull({ arn: ARN, "after-fragment": "12", "start-fragment": "12" }, undefined),
    /give one start, not --start-fragment and --after-fragment/,
  );
});

Deno.test("CLI pull --idle-timeout 0 with a stop timestamp already past: a quiet stream ends the pull there", async () => {
  // Was: it waited until killed, though no fragment could reach the bound any more (found by a code review).
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const stop = new Date(F[7].producerMs + 3000).toISOString();
    const t0 = Date.now();
    const r = await pullCli(standin.url, [
      ...["--arn", ARN, "--start", "earliest", "--stop-timestamp", stop, "--idle-timeout", "0"],
      ...["--out", dir, "--json"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const done = lastEvent(r);
    assert.deepEqual([done.reason, done.fragments], ["stop-timestamp", 8]);
    assert.ok(Date.now() - t0 < 30_000);
    sameBytes((await readWav(`${dir}/from_customer.wav`)).data, FULL.from!, "from");
  });
});

Deno.test("CLI pull: a run that writes nothing gives back the ContactId it was asked for", async () => {
  // A tester: resumed from the contact's last token, a run that wrote nothing said contactId null, so a script
  // following the README's advice passed no --contact-id next time and appended the next contact's call.
  await withStandin(STREAM, { live: true }, async (standin, dir) => {
    const r = await pullCli(standin.url, [
      ...["--arn", ARN, "--continuation-token", F[7].continuationToken!, "--contact-id", "c-asked"],
      ...["--idle-timeout", "0.5", "--out", dir, "--json"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([lastEvent(r).fragments, lastEvent(r).contactId], [0, "c-asked"]);
  });
});

Deno.test("pull of a stream whose blocks are on no Connect-named track: exit 3, the not-Connect error, no files", async () => {
  // (pull asks its demuxer, as demuxConnect does for extract; one rule for both.)
  const s = connectStream({ fragments: 2 });
  for (const f of s.fragments) renameDirections(f.bytes);
  await withStandin(s, { live: true }, async (standin, dir) => {
    const r = await pullCli(standin.url, [
      "--arn",
      ARN,
      "--start",
      "earliest",
      "--idle-timeout",
      "0.5",
      "--out",
      dir + "/o",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^kvsaudio: stream \S+ \(fragment \d{47}\): byte 0: Tracks: no audio: the 2 fragment\(s\) with blocks have no track named AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER .*: not an Amazon Connect stream\n$/,
    );
    await assert.rejects(Deno.stat(`${dir}/o`), Deno.errors.NotFound);
  });
});

/** `pull --json` from fragment `n` into `dir`, ending after 1 s without data. */
function pullFromFragment(url: string, n: string, dir: string) {
  return pullCli(url, ["--arn", ARN, "--start-fragment", n, "--idle-timeout", "1", "--out", dir, "--json"]);
}

/** The WAV data of a pull's two outputs in `dir`. */
async function pulledPcm(dir: string) {
  return {
    from: (await readWav(`${dir}/from_customer.wav`)).data,
    to: (await readWav(`${dir}/to_customer.wav`)).data,
  };
}

Deno.test("CLI pull --start now: a drop inside the first fragment asks for that fragment again by number (the live edge has moved on)", async () => {
  const s = connectStream({ fragments: 4 });
  const all = standinFragments(s);
  const standin = startStandin({
    streams: { [ARN]: all.slice(0, 3) },
    chunkSize: [100, 5000],
    live: true,
    faults: { dropAtByte: [3000] },
  });
  // A fragment arrives while kvsaudio backs off, as Connect adds one every second.
  let calls = 0;
  const push = standin.requests.push.bind(standin.requests);
  standin.requests.push = (...items) => {
    for (const q of items) if (q.path === "/getMedia" && ++calls === 2) standin.addFragment(ARN, all[3]);
    return push(...items);
  };
  try {
    await withTempDir("kvsaudio-now-", async (dir) => {
      const r = await pullCli(standin.url, ["--arn", ARN, "--start", "now", "--idle-timeout", "1", "--out", dir]);
      assert.equal(r.code, 0, r.stderr);
      // Was: the second GetMedia asked for NOW again, and fragment 2 was lost without a word.
      const exp = expectedPcm(s, { fromIndex: 2 });
      const got = await pulledPcm(dir);
      sameBytes(got.from, exp.from!, "from");
      sameBytes(got.to, exp.to!, "to");
      const selectors = standin.requests.filter((q) => q.path === "/getMedia").map((q) =>
        (q.body as { StartSelector: { StartSelectorType: string } }).StartSelector.StartSelectorType
      );
      assert.deepEqual(selectors, ["NOW", "FRAGMENT_NUMBER"]);
    });
  } finally {
    await standin.close();
  }
});

Deno.test("CLI pull --start now cut before the first fragment's number: a warning that its audio is not written", async () => {
  const s = connectStream({ fragments: 3 });
  const standin = startStandin({
    streams: { [ARN]: standinFragments(s) },
    chunkSize: [100, 5000],
    live: true,
    faults: { dropAtByte: [300] },
  });
  try {
    await withTempDir("kvsaudio-now-", async (dir) => {
      const r = await pullCli(standin.url, [
        "--arn",
        ARN,
        "--start",
        "now",
        "--idle-timeout",
        "1",
        "--out",
        dir,
        "--json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      // Was: lost without a word.
      const warnings = jsonLines(r.stdoutText).filter((e) => e.event === "warning");
      assert.equal(warnings.length, 1, r.stdoutText);
      assert.match(warnings[0].message, /first fragment from NOW was cut off before its fragment number/);
    });
  } finally {
    await standin.close();
  }
});

Deno.test("CLI pull: a config file's continuation token that a flag's start overrides is not given back", async () => {
  const s = connectStream({ fragments: 4 });
  const F = s.fragments;
  await withStandin(s, { live: true, faults: { throttle: 100 } }, async (standin, dir) => {
    await Deno.writeTextFile(`${dir}/k.ini`, `[pull]\ncontinuation-token = ${F[0].continuationToken}\n`);
    const args = ["--arn", ARN, "--config", `${dir}/k.ini`, "--start-fragment", F[2].fragmentNumber];
    const r = await pullCli(standin.url, [...args, "--max-retries", "1", "--out", `${dir}/o`, "--json"]);
    assert.equal(r.code, 4, r.stderr);
    // Was: F0's token, from which a resuming script would append audio from before the start asked for.
    assert.equal(lastEvent(r).continuationToken, null);
  });
});

Deno.test("CLI pull: a GetMediaForFragmentList body that ends between SimpleBlocks of a fragment with no tags after its Cluster is asked for again", async () => {
  // Nothing tells such a cut from the whole fragment (was: taken whole, the rest of its audio lost, exit 0).
  const s = connectStream({ fragments: 4, tagsPosition: "before" });
  const F = s.fragments;
  const cut = (await cutsInside(s, 3))[10] - F[3].offset;
  const opts = { live: true, fragmentNumberMode: "after" as const, faults: { listEndEarlyAtByte: [cut] } };
  await withStandin(s, opts, async (standin, dir) => {
    const r = await pullFromFragment(standin.url, F[3].fragmentNumber, dir);
    assert.equal(r.code, 0, r.stderr);
    const exp = expectedPcm(s, { fromIndex: 3 });
    const got = await pulledPcm(dir);
    sameBytes(got.from, exp.from!, "from");
    sameBytes(got.to, exp.to!, "to");
    assert.equal(standin.requests.filter((q) => q.path === "/getMediaForFragmentList").length, 3);
  });
  // --archived: the last fragment of the range, cut the same way.
  const range = [
    "--start-timestamp",
    String(F[0].producerMs / 1000),
    "--stop-timestamp",
    String(F[3].producerMs / 1000),
  ];
  const lastCut = (await cutsInside(s, 3))[10] - F[0].offset;
  await withStandin(s, { faults: { listEndEarlyAtByte: [lastCut] } }, async (standin, dir) => {
    const r = await pullCli(standin.url, ["--arn", ARN, "--archived", ...range, "--out", dir, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const exp = expectedPcm(s);
    const got = await pulledPcm(dir);
    sameBytes(got.from, exp.from!, "archived from");
    sameBytes(got.to, exp.to!, "archived to");
    assert.equal(lastEvent(r).partialDiscarded, 1);
  });
  // The last fragment of a batch (1000 fragments) cut so: the next batch begins with it, whole; the cut is counted
  // then (was: not at all).
  const big = connectStream({ fragments: 1002, blocksPerTrack: 2, samplesPerBlock: 32, tagsPosition: "before" });
  const B = big.fragments;
  const batchCut = (await cutsInside(big, 999))[1] - B[0].offset;
  const wide = [
    "--start-timestamp",
    String(B[0].producerMs / 1000),
    "--stop-timestamp",
    String(B[1001].producerMs / 1000),
  ];
  await withStandin(big, { faults: { listEndEarlyAtByte: [batchCut] } }, async (standin, dir) => {
    const r = await pullCli(standin.url, ["--arn", ARN, "--archived", ...wide, "--out", dir, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    sameBytes((await pulledPcm(dir)).from, expectedPcm(big).from!, "batches from");
    assert.deepEqual([lastEvent(r).partialDiscarded, lastEvent(r).reconnects], [1, 1]);
  });
});

Deno.test("CLI pull --start-fragment with leading zeros is that fragment (compared as a number, under either reading)", async () => {
  const s = connectStream({ fragments: 3 });
  const n = "0" + s.fragments[1].fragmentNumber;
  for (const mode of ["inclusive", "after"] as const) {
    await withStandin(s, { live: true, fragmentNumberMode: mode }, async (standin, dir) => {
      const r = await pullFromFragment(standin.url, n, dir);
      assert.equal(r.code, 0, r.stderr);
      // Was: inclusive, firstFragmentMatched false; after, fragment 1 asked for as "0…", not found, its audio lost.
      assert.equal(lastEvent(r).firstFragmentMatched, mode === "inclusive", mode);
      const exp = expectedPcm(s, { fromIndex: 1 });
      sameBytes((await pulledPcm(dir)).from, exp.from!, `${mode} from`);
    });
  }
});

Deno.test("CLI pull: KVS starting at N with every body cut inside it: N matched, fetched alone, and no warning that audio is missing", async () => {
  const s = connectStream({ fragments: 4 });
  const F = s.fragments;
  const opts = { fragmentNumberMode: "inclusive" as const, faults: { endEarlyAtByte: [3000, 3000, 3000] } };
  await withStandin(s, opts, async (standin, dir) => {
    const r = await pullCli(standin.url, [
      "--arn",
      ARN,
      "--start-fragment",
      F[3].fragmentNumber,
      "--max-retries",
      "2",
      "--out",
      dir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const events = jsonLines(r.stdoutText);
    // Was: received "", matched false, and "the stream ends inside the fragment after fragment N … not written".
    assert.deepEqual(
      events.filter((e) => e.event === "first-fragment").map((e) => [e.received, e.matched, e.fetchedRequested]),
      [[F[3].fragmentNumber, true, true]],
    );
    assert.equal(lastEvent(r).firstFragmentMatched, true);
    assert.equal(events.filter((e) => e.event === "warning").length, 0, r.stdoutText);
    sameBytes((await pulledPcm(dir)).from, expectedPcm(s, { fromIndex: 3 }).from!, "from");
  });
});

Deno.test("pull: a fragment cut once and then whole does not hide a later cut's warning that audio is missing", async () => {
  // F2 cut once, then whole; after it every body ends inside F3 before its number. Was: no warning, exit 0.
  const s = connectStream({ fragments: 6 });
  const F = s.fragments;
  const cuts = [F[2].offset - F[0].offset + 5000, F[3].offset - F[2].offset + 200, 200, 200, 200, 200];
  await withStandin(s, { fragmentNumberMode: "inclusive", faults: { endEarlyAtByte: cuts } }, async (standin) => {
    const start = { type: "FRAGMENT_NUMBER" as const, fragmentNumber: F[0].fragmentNumber };
    const r = await pullInProcess(standin.url, start, { maxRetries: 2 });
    assert.equal(r.source.endReason, "end-of-stream");
    assert.equal(r.source.lastFragmentNumber, F[2].fragmentNumber);
    const warnings = r.events.filter((e) => e.type === "warning");
    assert.equal(warnings.length, 1, JSON.stringify(r.events));
  });
});

Deno.test("CLI pull: STS refusing the role's credentials is retried like a call, then named as the credentials source", async () => {
  const s = connectStream({ fragments: 2 });
  await withStandin(s, {}, async (standin, dir) => {
    await Deno.writeTextFile(
      `${dir}/config`,
      "[profile base]\nregion = us-east-1\n[profile role]\nrole_arn = arn:aws:iam::123456789012:role/R\n" +
        "source_profile = base\nregion = us-east-1\n",
    );
    await Deno.writeTextFile(
      `${dir}/credentials`,
      `[base]\naws_access_key_id = ${FAKE.accessKeyId}\naws_secret_access_key = x\n`,
    );
    const env = profileEnv(`${dir}/config`, {
      AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
      AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9",
    });
    const args = ["--arn", ARN, "--start", "earliest", "--profile", "role", "--max-retries", "2"];
    const r = await kvsaudio(["pull", "--endpoint-url", standin.url, ...args, "--out", `${dir}/o`, "--json"], { env });
    assert.equal(r.code, 4, r.stderr);
    // Was (for a moment today): exit 4 at once, with no retry.
    assert.equal(jsonLines(r.stdoutText).filter((e) => e.event === "retry" && e.failed).length, 2);
    assert.match(
      r.stderr,
      /^kvsaudio: connection refused by the AWS credentials source \(127\.0\.0\.1:9\): check the network$/m,
    );
    assert.equal(standin.requests.length, 0);
  });
});

Deno.test("CLI pull from a cron-like environment: an empty Deno cache prints nothing of Deno's; no home directory still takes keys from the environment", async () => {
  // An environment tester: with a fresh (or read-only) DENO_DIR, Deno's coloured "Download …" lines for the AWS SDK
  // came first on stderr, breaking --json --out -'s NDJSON; the npm registry is made unreachable here, so nothing
  // is fetched (node_modules has the packages).
  await withStandin(STREAM, {}, async (standin, dir) => {
    const cache = await Deno.makeTempDir({ prefix: "kvsaudio-deno-dir-" });
    try {
      const r = await pullCli(standin.url, [
        ...["--arn", ARN, "--start", "earliest", "--out", "-", "--tracks", "from", "--json", "--max-retries", "1"],
      ], { DENO_DIR: cache, NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/" });
      assert.equal(r.code, 0, r.stderr);
      for (const line of r.stderr.trim().split("\n")) JSON.parse(line); // every line an event
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
    // A uid with no passwd entry and no HOME (a container's numeric --user): the SDK failed on the shared files'
    // paths ("The \"path\" argument must be of type string"), exit 4, with keys in the environment.
    const setpriv = "/usr/bin/setpriv";
    if (Deno.uid() !== 0 || !(await Deno.stat(setpriv).then(() => true, () => false))) {
      console.log("skip: no home directory case (needs root and setpriv)");
      return;
    }
    await Deno.chmod(dir, 0o777);
    const cmd = new Deno.Command(setpriv, {
      args: [
        ...["--reuid=54321", "--regid=54321", "--clear-groups", Deno.execPath()],
        ...RUN_ARGS,
        ...[MAIN, "pull", "--endpoint-url", standin.url, "--region", "us-east-1", "--arn", ARN, "--start", "earliest"],
        ...["--out", `${dir}/nohome`, "--max-retries", "1"],
      ],
      clearEnv: true,
      env: {
        // (Not AWS_ENV's file variables: with them the SDK never looked for a home directory.)
        AWS_ACCESS_KEY_ID: AWS_ENV.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: AWS_ENV.AWS_SECRET_ACCESS_KEY,
        AWS_EC2_METADATA_DISABLED: "true",
        PATH: Deno.env.get("PATH") ?? "",
        DENO_DIR: `${dir}/cache`,
        NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
      },
      stdout: "piped",
      stderr: "piped",
    });
    const out = await cmd.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    sameBytes((await readWav(`${dir}/nohome/from_customer.wav`)).data, FULL.from!, "from");
  });
});

Deno.test("idleGuard: a deadline weeks ahead (a far --stop-timestamp with --idle-timeout 0) waits quietly", async () => {
  // A hang hunter: a timer past 2^31 − 1 ms fired at once with a TimeoutOverflowWarning on stderr, re-armed in a loop:
  // ~900 lines a second while a call was on hold.
  const script = `
    import { idleGuard } from ${JSON.stringify(new URL("../src/kvs/idle.ts", import.meta.url).href)};
    async function* body() {
      await new Promise((r) => setTimeout(r, 300));
      yield new Uint8Array([1]);
    }
    const state = { idle: false };
    let n = 0;
    for await (const _ of idleGuard(body(), () => Date.now() + 30 * 86_400_000, state)) n++;
    console.log(n, state.idle);
  `;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script], stdout: "piped", stderr: "piped" })
    .output();
  assert.equal(new TextDecoder().decode(out.stderr), "");
  assert.equal(new TextDecoder().decode(out.stdout), "1 false\n");
});
