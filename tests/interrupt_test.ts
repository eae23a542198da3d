/**
 * SIGINT, SIGTERM and SIGKILL at seeded random moments of `extract` (reading
 * a slow stdin pipe) and `pull` (against a slow stand-in). After SIGINT or
 * SIGTERM: exit 130, a done event saying so, and WAVs whose headers match
 * their data, holding exactly the fragments the run reported. After kill -9:
 * WAVs still valid up to the last committed fragment (header sizes
 * consistent, data a prefix of the expected PCM, whole fragments, at least
 * the fragments the run reported).
 */

import assert from "node:assert/strict";
import { connectStream, expectedPcm, writeCallFile } from "./support/connect_stream.ts";
import { concat } from "./support/mkv_writer.ts";
import { ARN, AWS_ENV, leaksSecret, pullFrom, withStandin } from "./support/pull_harness.ts";
import { kvsaudioCommand, kvsaudioInShell, ROOT } from "./support/cli.ts";
import { firstDifference, interleave } from "./support/pipeline.ts";
import { pool, seeded, withTempDir } from "./support/util.ts";
import { parseWavHeader } from "../src/audio/wav.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// 12 fragments of 16 blocks × 512 frames per track: 16384 bytes of PCM per track per fragment.
const STREAM = connectStream({ fragments: 12 });
const FULL = expectedPcm(STREAM);
const FRAG_PCM = 16 * 512 * 2;
const STEREO = interleave(FULL.from!, FULL.to!);

type Sig = "SIGINT" | "SIGTERM" | "SIGKILL";

/** A running kvsaudio whose stdout lines are collected as they arrive. */
class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly stdoutDone: Promise<void>;
  readonly stderr: Promise<string>;

  constructor(args: string[], opts: { stdin: boolean; env?: Record<string, string> }) {
    this.child = kvsaudioCommand(args, {
      cwd: ROOT,
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", KVSAUDIO_DEBUG: "", ...AWS_ENV, ...opts.env },
    }).spawn();
    const stdout = this.child.stdout;
    this.stdoutDone = (async () => {
      let buf = "";
      for await (const text of stdout.pipeThrough(new TextDecoderStream())) {
        buf += text;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        this.lines.push(...parts);
      }
      if (buf) this.lines.push(buf);
    })();
    this.stderr = new Response(this.child.stderr).text();
  }

  /** Lines that report a written fragment (a JSON fragment event, or a --verbose text line). */
  get fragmentsReported(): number {
    return this.lines.filter((l) => l.startsWith('{"event":"fragment"') || /^fragment \d+ /.test(l)).length;
  }

  /** Wait (polling) until `pred` holds; fail after 20 s. */
  async until(pred: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout:\n${this.lines.join("\n")}`);
      await sleep(5);
    }
  }

  async finish(): Promise<{ code: number; signal: Deno.Signal | null; stderr: string }> {
    const status = await this.child.status;
    await this.stdoutDone;
    return { code: status.code, signal: status.signal, stderr: await this.stderr };
  }
}

/**
 * Check a WAV after an interruption. `exact`: the header matches the file and
 * the data is exactly `fragments` fragments of `expected`. Otherwise (kill -9):
 * the header is consistent, its data a whole number of fragments, at least
 * `fragments`, and everything in the file after the header a prefix of `expected`.
 */
async function checkWav(path: string, expected: Uint8Array, frag: number, fragments: number, exact: boolean) {
  const bytes = await Deno.readFile(path);
  const info = parseWavHeader(bytes);
  assert.equal(info.dataOffset, 44);
  assert.equal(info.riffSize, 36 + info.dataBytes, `${path}: RIFF size consistent`);
  const body = bytes.subarray(info.dataOffset);
  if (exact) {
    assert.equal(body.length, info.dataBytes, `${path}: data length == header dataBytes`);
    assert.equal(info.dataBytes, fragments * frag, `${path}: exactly the ${fragments} fragments reported`);
  } else {
    assert.ok(info.dataBytes <= body.length, `${path}: the header claims no more than the file holds`);
    assert.equal(info.dataBytes % frag, 0, `${path}: whole fragments committed (${info.dataBytes} bytes)`);
    assert.ok(info.dataBytes >= fragments * frag, `${path}: at least the ${fragments} fragments reported`);
  }
  assert.ok(body.length <= expected.length, `${path}: not longer than the stream`);
  assert.equal(firstDifference(body, expected.subarray(0, body.length)), undefined, `${path}: a prefix of the PCM`);
  return info.dataBytes / frag;
}

interface Outcome {
  reported: number;
  committed: number;
}

/** Check what a killed run left behind. */
async function checkAfter(
  p: Proc,
  sig: Sig,
  dir: string,
  opts: { json: boolean; stereo: boolean },
): Promise<Outcome> {
  const { code, signal, stderr } = await p.finish();
  const stdout = p.lines.join("\n");
  assert.equal(leaksSecret(stdout + stderr), undefined);
  assert.doesNotMatch(stderr, /^\s+at |Stack backtrace|error: Uncaught/m, "no stack trace");
  const reported = p.fragmentsReported;
  if (sig === "SIGKILL") {
    assert.equal(signal, "SIGKILL");
    const a = await checkWav(`${dir}/from_customer.wav`, FULL.from!, FRAG_PCM, reported, false);
    const b = await checkWav(`${dir}/to_customer.wav`, FULL.to!, FRAG_PCM, reported, false);
    if (opts.stereo) await checkWav(`${dir}/stereo.wav`, STEREO, 2 * FRAG_PCM, reported, false);
    return { reported, committed: Math.min(a, b) };
  }
  assert.equal(code, 130, `${sig}: exit 130 (stderr: ${stderr})`);
  assert.equal(stderr, "", "nothing on stderr");
  if (opts.json) {
    const done = JSON.parse(p.lines.at(-1)!);
    assert.equal(done.event, "done");
    assert.equal(done.reason, "interrupted");
    assert.equal(done.signal, sig);
    assert.equal(done.fragments, reported, "the done event counts the fragments reported");
    assert.equal(done.samples.from_customer, reported * FRAG_PCM / 2);
  } else {
    assert.match(stdout, new RegExp(`stopped: interrupted by ${sig}; the files hold everything received so far`));
  }
  await checkWav(`${dir}/from_customer.wav`, FULL.from!, FRAG_PCM, reported, true);
  await checkWav(`${dir}/to_customer.wav`, FULL.to!, FRAG_PCM, reported, true);
  if (opts.stereo) await checkWav(`${dir}/stereo.wav`, STEREO, 2 * FRAG_PCM, reported, true);
  return { reported, committed: reported };
}

interface Case {
  sig: Sig;
  json: boolean;
  stereo: boolean;
  /** Fragments to wait for before the signal. */
  after: number;
  /** Extra random delay, ms. */
  delayMs: number;
}

/** Seeded cases: each signal with a random fragment count and delay. */
function cases(seed: number, sigs: Sig[]): Case[] {
  const rnd = seeded(seed);
  return sigs.map((sig, i) => ({
    sig,
    json: i % 3 !== 2,
    stereo: i % 2 === 1,
    after: 1 + Math.floor(rnd() * 6),
    delayMs: Math.floor(rnd() * 80),
  }));
}

const summary: string[] = [];

Deno.test("extract from a slow pipe: SIGINT/SIGTERM/SIGKILL at seeded random moments", async () => {
  const list = cases(11, ["SIGINT", "SIGTERM", "SIGKILL", "SIGINT", "SIGTERM", "SIGKILL", "SIGINT", "SIGTERM"]);
  const results = await pool(list, 3, (c) =>
    withTempDir("kvsaudio-int-", async (dir) => {
      const args = ["extract", "-", "--out", dir, ...(c.json ? ["--json"] : ["--verbose"])];
      if (c.stereo) args.push("--stereo");
      const p = new Proc(args, { stdin: true });
      // Feed the stream slowly (2 KiB every 4 ms) and never close it: only the signal ends the run.
      let stop = false;
      const writer = p.child.stdin.getWriter();
      const feeding = (async () => {
        for (let o = 0; o < STREAM.bytes.length && !stop; o += 2048) {
          await writer.write(STREAM.bytes.subarray(o, o + 2048));
          await sleep(4);
        }
      })().catch(() => {}); // the pipe breaks when the process dies
      await p.until(() => p.fragmentsReported >= c.after, `${c.after} fragments`);
      await sleep(c.delayMs);
      p.child.kill(c.sig);
      const r = await checkAfter(p, c.sig, dir, c);
      stop = true;
      await feeding;
      await writer.close().catch(() => {});
      assert.ok(r.reported >= c.after);
      return `${c.sig}@${c.after}+${c.delayMs}ms→${r.committed}`;
    }));
  summary.push(`extract: ${results.join(", ")}`);
});

Deno.test("extract from a pipe that goes quiet: a fragment is decided at its document's end, the last at end of input", async () => {
  // FORMAT.md: decide on a fragment only once its document ends (the next one begins, or the input ends). A tag
  // after KVS's own could still come (a ContactId of another contact), so the third waits while the pipe is open.
  await withTempDir("kvsaudio-quiet-", async (dir) => {
    const three = STREAM.fragments[2].offset + STREAM.fragments[2].bytes.length;
    const p = new Proc(["extract", "-", "--out", dir, "--json"], { stdin: true });
    const writer = p.child.stdin.getWriter();
    await writer.write(STREAM.bytes.subarray(0, three));
    await p.until(() => p.fragmentsReported === 2, "2 fragments");
    // The headers count what is written whenever kvsaudio waits: two fragments.
    await p.until(() => {
      try {
        return parseWavHeader(Deno.readFileSync(`${dir}/from_customer.wav`)).dataBytes === 2 * FRAG_PCM;
      } catch {
        return false;
      }
    }, "the WAV header to count 2 fragments");
    await writer.close(); // the input ends: the last fragment is flushed
    const { code, stderr } = await p.finish();
    assert.equal(code, 0, stderr);
    const done = JSON.parse(p.lines.at(-1)!);
    assert.deepEqual([done.event, done.reason, done.fragments], ["done", "end-of-input", 3]);
    assert.equal(p.fragmentsReported, 3);
    await checkWav(`${dir}/from_customer.wav`, FULL.from!, FRAG_PCM, 3, true);
  });
});

Deno.test("pull from a slow stand-in: SIGINT/SIGTERM/SIGKILL at seeded random moments, and during a backoff", async () => {
  const list = cases(23, ["SIGTERM", "SIGINT", "SIGKILL", "SIGTERM", "SIGINT", "SIGKILL"]);
  const results = await pool(list, 3, async (c) => {
    // ~25 chunks of 500..2500 bytes per fragment, 3 ms apart; the body stays open after the last one.
    const opts = { live: true, delayMs: 3, chunkSize: [500, 2500] as [number, number], seed: c.after };
    return await withStandin(STREAM, opts, async (standin, dir) => {
      const args = [
        ...pullFrom(standin.url, STREAM.fragments[0].fragmentNumber),
        "--idle-timeout",
        "30",
        "--out",
        dir,
        ...(c.json ? ["--json"] : ["--verbose"]),
      ];
      if (c.stereo) args.push("--stereo");
      const p = new Proc(args, { stdin: false });
      await p.until(() => p.fragmentsReported >= c.after, `${c.after} fragments`);
      await sleep(c.delayMs);
      p.child.kill(c.sig);
      const r = await checkAfter(p, c.sig, dir, c);
      assert.ok(r.reported >= c.after);
      if (c.json && c.sig !== "SIGKILL") {
        // Was: an interrupted pull's done event lacked the source's counts (firstFragmentMatched, sessions, …).
        const done = JSON.parse(p.lines.at(-1)!);
        assert.equal(done.firstFragmentMatched, true);
        assert.equal(done.sessions, 1);
        assert.equal(done.archived, false);
      }
      return `${c.sig}@${c.after}+${c.delayMs}ms→${r.committed}`;
    });
  });
  // A signal while the pull waits to reconnect (a drop after 3 fragments, then throttling).
  for (const sig of ["SIGINT", "SIGKILL"] as const) {
    const f3 = STREAM.fragments[3].offset;
    await withStandin(STREAM, { live: true, faults: { dropAtByte: [f3 + 100] } }, async (standin, dir) => {
      let calls = 0;
      const push = standin.requests.push.bind(standin.requests);
      standin.requests.push = (...items) => {
        for (const it of items) {
          if (it.path === "/getDataEndpoint" && ++calls === 2) standin.setFaults({ throttle: 1000 });
        }
        return push(...items);
      };
      const p = new Proc([
        "pull",
        "--endpoint-url",
        standin.url,
        "--arn",
        ARN,
        "--start",
        "earliest",
        "--idle-timeout",
        "30",
        "--max-retries",
        "20",
        "--out",
        dir,
        "--json",
      ], { stdin: false });
      await p.until(() => p.lines.filter((l) => l.startsWith('{"event":"retry"')).length >= 2, "two retries");
      p.child.kill(sig);
      const r = await checkAfter(p, sig, dir, { json: true, stereo: false });
      assert.equal(r.reported, 3, "the three fragments before the drop");
      assert.equal(r.committed, 3);
      results.push(`${sig}@backoff→${r.committed}`);
    });
  }
  summary.push(`pull: ${results.join(", ")}`);
});

/**
 * Run kvsaudio writing `--out -` into a pipe whose reader stops reading after 300,000 bytes, with --json events
 * on stderr: once it is blocked on the full pipe, SIGINT. Returns its status (or null if it had not ended 15 s later: then it is killed), the
 * bytes the pipe took, and its done event.
 */
async function signalWhileStalled(args: string[], env: Record<string, string> = {}) {
  const child = kvsaudioCommand([...args, "--out", "-", "--json"], {
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", KVSAUDIO_DEBUG: "", ...AWS_ENV, ...env },
  }).spawn();
  let stderr = "";
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (stderr += t) }),
  );
  // The reader takes 300,000 bytes, then stops; the run fills the pipe (64 KiB) and blocks on it.
  const reader = child.stdout.getReader();
  const parts: Uint8Array[] = [];
  let taken = 0;
  while (taken < 300_000) {
    const r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
    taken += r.value.length;
  }
  await sleep(700);
  child.kill("SIGINT");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    child.status,
    new Promise<null>((r) => timer = setTimeout(() => r(null), 15_000)),
  ]);
  clearTimeout(timer);
  if (status === null) child.kill("SIGKILL");
  // What the pipe took (the process has ended: it is all there).
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  const received = concat(parts);
  await child.status;
  await reading;
  const done = stderr.split("\n").filter((l) => l.startsWith('{"event":"done"')).map((l) => JSON.parse(l))[0];
  return { status, received, done, stderr };
}

Deno.test("a signal while the reader of --out - has stopped reading ends the run (exit 130, done event), extract and pull", async () => {
  // Was: the writes to standard output were synchronous, so a run blocked on a full pipe never handled SIGINT
  // (or SIGTERM): it stayed blocked until the reader read again or went away, and only SIGKILL ended it.
  const long = connectStream({ fragments: 200 });
  const exp = expectedPcm(long);
  const mono = ["--tracks", "from"];
  await withTempDir("kvsaudio-stall-", async (dir) => {
    await Deno.writeFile(`${dir}/call.mkv`, long.bytes);
    const runs = [
      { name: "extract", go: () => signalWhileStalled(["extract", `${dir}/call.mkv`, ...mono]) },
      {
        name: "pull",
        go: () =>
          withStandin(
            long,
            {},
            (standin) => signalWhileStalled([...pullFrom(standin.url, long.fragments[0].fragmentNumber), ...mono]),
          ),
      },
      // The mix: a re-test found its done event at 0 fragments however much the pipe had taken.
      { name: "extract --stereo", go: () => signalWhileStalled(["extract", `${dir}/call.mkv`, "--stereo"]) },
    ];
    for (const { name, go } of runs) {
      const stereo = name.endsWith("--stereo");
      const pcm = stereo ? interleave(exp.from!, exp.to!) : exp.from!;
      const frag = (stereo ? 2 : 1) * FRAG_PCM;
      const { status, received, done, stderr } = await go();
      assert.ok(status !== null, `${name}: still running 15 s after SIGINT; stderr:\n${stderr}`);
      assert.equal(status.code, 130, `${name}: ${stderr}`);
      assert.deepEqual([done?.reason, done?.signal], ["interrupted", "SIGINT"], `${name}: ${stderr}`);
      // The pipe holds a prefix of the audio: the streaming header, then whole frames as far as they got.
      assert.ok(received.length > 44 && received.length < 44 + pcm.length, `${name}: ${received.length} bytes`);
      const data = received.subarray(44);
      const diff = firstDifference(data, pcm.subarray(0, data.length));
      assert.equal(diff, undefined, `${name}: not a prefix of the audio: ${diff}`);
      // The done event counts whole fragments the pipe took: none it did not, at most one 64 KiB write fewer.
      const claimed = (stereo ? 4 : 2) * (done.samples.from_customer as number);
      assert.ok(claimed <= data.length, `${name}: claimed ${claimed} bytes, the pipe took ${data.length}`);
      assert.ok(claimed >= data.length - 65536 - frag, `${name}: claimed ${claimed}, the pipe took ${data.length}`);
      assert.equal(claimed % frag, 0);
      assert.equal(done.fragments, claimed / frag);
    }
  });
});

Deno.test("a signal whose finalizing fails: that error's one line and exit code, not a silent 130", async () => {
  // Was: the summary said "error (exit 1)", then the process exited 130 without the error line.
  await withTempDir("kvsaudio-finalize-", async (dir) => {
    const script = `${dir}/finalize_fails.ts`;
    await Deno.writeTextFile(
      script,
      `import { onInterrupt } from "${ROOT}/src/cli/signals.ts";
import { KvsAudioError } from "${ROOT}/src/errors.ts";
onInterrupt(() => { throw new KvsAudioError("standard output was closed before the run ended", 1); });
Deno.kill(Deno.pid, "SIGINT");
await new Promise((r) => setTimeout(r, 10_000));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script], stderr: "piped" }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.equal(stderr.trim(), "kvsaudio: standard output was closed before the run ended");
  });
});

Deno.test("extract of a saved file, stopped after its commits: the fragment events printed account for every fragment the WAVs count", async () => {
  // The periodic commits of a saved file (every 100 ms) printed their fragments' events only when the 64 KiB line
  // buffer filled: a run killed then had committed up to ~150 fragments more than its last event said, and a resume
  // from that event repeated them all.
  await withTempDir("kvsaudio-stop-", async (dir) => {
    const input = `${dir}/call.mkv`;
    const { fragments } = await writeCallFile(input, 3600);
    const perFragment = 8192 * 2;
    // Standard output straight into a file (`> FILE`), as a script that keeps the events would have it.
    const child = kvsaudioInShell('exec "$@" > "$EVENTS"', ["extract", input, "--out", `${dir}/o`, "--json"], {
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
      env: { EVENTS: `${dir}/events.ndjson` },
    }).spawn();
    const committed = async (): Promise<number> => {
      let file;
      try {
        file = await Deno.open(`${dir}/o/from_customer.wav`);
      } catch {
        return 0;
      }
      try {
        const head = new Uint8Array(44);
        return (await file.read(head)) === 44 ? parseWavHeader(head).dataBytes / perFragment : 0;
      } finally {
        file.close();
      }
    };
    const printed = async (): Promise<number> => {
      const text = await Deno.readTextFile(`${dir}/events.ndjson`);
      return text.split("\n").filter((l) => l.startsWith('{"event":"fragment"')).length;
    };
    // The run goes on in slices of 5 ms; between them it is stopped, and what the files hold is compared with the
    // events printed. Stopped between a commit and its lines, the events lag once: by the next stop they are out.
    const seen: { committed: number; printed: number }[] = [];
    let ended = false;
    try {
      child.kill("SIGSTOP");
      for (let i = 0; i < 2000; i++) {
        try {
          child.kill("SIGCONT");
          await sleep(5);
          child.kill("SIGSTOP");
        } catch {
          ended = true; // (it ended in this slice)
          break;
        }
        seen.push({ committed: await committed(), printed: await printed() });
      }
    } finally {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch {
        // (ended)
      }
      await child.status;
    }
    assert.ok(ended, "the run ended");
    const said = seen.map((c) => `${c.printed} events for ${c.committed} fragments committed`).join("; ");
    const during = seen.filter((c) => c.committed > 1 && c.committed < fragments);
    assert.ok(during.length >= 2, `stopped at least twice after a periodic commit, before the end: ${said}`);
    // Never an event before the commit that puts its audio in the files.
    for (const c of seen) assert.ok(c.printed <= c.committed, `an event before its audio was committed: ${said}`);
    for (let i = 1; i < seen.length; i++) {
      const [before, now] = [seen[i - 1], seen[i]];
      if (now.committed === before.committed) {
        assert.ok(now.printed >= now.committed, `the events lag behind the commits: ${said}`);
      }
    }
  });
});

Deno.test("summary", () => {
  console.log(`interrupt_test (signal@fragments+delay→fragments in the WAVs): ${summary.join("; ")}`);
});

Deno.test("pull interrupted while a credential_process hangs: the helper does not outlive kvsaudio", async () => {
  // A hang hunter: after SIGINT/SIGTERM (or kvsaudio's own credentials deadline) the helper's shell and its `sleep`
  // went on running, re-parented to init: cron retries would pile them up.
  if (Deno.build.os !== "linux") return;
  await withTempDir("kvsaudio-cred-", async (dir) => {
    Deno.writeTextFileSync(`${dir}/helper.sh`, `#!/bin/sh\necho $$ > ${dir}/helper.pid\nexec sleep 1000\n`);
    Deno.chmodSync(`${dir}/helper.sh`, 0o755);
    Deno.writeTextFileSync(`${dir}/config`, `[profile p]\ncredential_process = ${dir}/helper.sh\n`);
    const env: Record<string, string> = {
      AWS_CONFIG_FILE: `${dir}/config`,
      AWS_SHARED_CREDENTIALS_FILE: `${dir}/none`,
      AWS_EC2_METADATA_DISABLED: "true",
    };
    const child = kvsaudioCommand([
      ...["pull", "--profile", "p", "--arn", ARN, "--start", "now", "--region", "us-east-1"],
      ...["--endpoint-url", "http://127.0.0.1:9", "--out", `${dir}/out`],
    ], { env, stdout: "null", stderr: "null" }).spawn();
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        pid = Number(Deno.readTextFileSync(`${dir}/helper.pid`).trim()) || undefined;
      } catch {
        // not yet
      }
    }
    assert.ok(pid !== undefined, "the helper ran");
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 130);
    let alive = true;
    for (let i = 0; i < 20 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        alive = !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`)); // (a zombie is gone)
      } catch {
        alive = false;
      }
    }
    if (alive) Deno.kill(pid, "SIGKILL");
    assert.equal(alive, false, "the helper was ended with kvsaudio");
  });
});

Deno.test("pull under a shell that execs it: the shell's own background jobs and output readers are left alone", async () => {
  // A review: the descendants ended at exit included what the shell had started before `exec kvsaudio` (a
  // background job, the `tee` of `2> >(tee log)`): the log lost kvsaudio's error line.
  if (Deno.build.os !== "linux") return;
  await withTempDir("kvsaudio-exec-", async (dir) => {
    const script = `( sleep 1.5; echo done > ${dir}/bg ) &
exec "$@" 2> >(sleep 0.5; cat > ${dir}/log)`;
    const r = await kvsaudioInShell(script, [
      ...["pull", "--arn", ARN, "--start", "now", "--region", "us-east-1", "--max-retries", "0"],
      ...["--endpoint-url", "http://127.0.0.1:9", "--out", `${dir}/out`],
    ], { env: AWS_ENV, stdout: "null", stderr: "null" }).output();
    assert.equal(r.code, 4);
    await new Promise((res) => setTimeout(res, 2500));
    assert.match(Deno.readTextFileSync(`${dir}/log`), /^kvsaudio: connection refused by http:\/\/127\.0\.0\.1:9/);
    assert.equal(Deno.readTextFileSync(`${dir}/bg`), "done\n");
  });
});
