/**
 * Hostile stream values and existing outputs: ContactIds and other tags with
 * path separators, `..`, control characters and terminal escape sequences
 * never reach the terminal raw (inspect text/tree/JSON, extract/pull text and
 * JSON, warnings, error messages); megabyte tag values are cut; outputs are
 * written only under --out; an existing output file is never silently
 * destroyed (exit 2 before KVS is contacted or stdin is read).
 */

import assert from "node:assert/strict";
import { connectStream, errorFragment, expectedPcm, type GeneratedStream } from "./support/connect_stream.ts";
import { concat, tagsEl } from "./support/mkv_writer.ts";
import { ARN, AWS_ENV, leaksSecret, serve } from "./support/pull_harness.ts";
import { kvsaudio, MAIN, ROOT, RUN_ARGS } from "./support/cli.ts";
import { firstDifference, readWav } from "./support/pipeline.ts";

// ---------------------------------------------------------------- helpers

const dec = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `kvsaudio ARGS` in `cwd` (default a fresh temp dir is NOT made: pass one), with stdin bytes. */
async function run(
  args: string[],
  opts: { cwd?: string; stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<Result> {
  const out = await kvsaudio(args, { ...opts, env: { KVSAUDIO_DEBUG: "", ...AWS_ENV, ...opts.env } });
  const r = { code: out.code, stdout: out.stdoutText, stderr: out.stderr };
  assert.equal(leaksSecret(r.stdout + r.stderr), undefined, "no credential in any output");
  assert.doesNotMatch(r.stderr, /^\s+at |Stack backtrace|error: Uncaught/m, "no stack trace");
  return r;
}

/** Terminal-unsafe characters: C0 except newline, DEL, C1, bidi controls, Unicode line and paragraph separators. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

function terminalSafe(text: string, what: string) {
  const m = UNSAFE.exec(text);
  assert.equal(
    m,
    null,
    m ? `${what}: raw U+${m[0].charCodeAt(0).toString(16).padStart(4, "0")} at ${m.index}` : what,
  );
}

/** NDJSON output: every line parses and is terminal-safe as it stands. */
function ndjson(text: string, what: string): Record<string, unknown>[] {
  terminalSafe(text, what);
  return text.trim().split("\n").map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`${what}: line ${i} is not JSON: ${l.slice(0, 200)}`);
    }
  });
}

/** Every file and directory under `dir`, as relative paths, sorted. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = `${prefix}${e.name}`;
    out.push(e.isDirectory ? `${rel}/` : rel);
    if (e.isDirectory) out.push(...await tree(`${dir}/${e.name}`, `${rel}/`));
  }
  return out.sort();
}

// The hostile values: path tricks, OSC/CSI escapes, BEL, newlines, NUL, C1 CSI, bidi override and mark, line separator.
const EVIL = "../../etc/passwd\x1b]0;pwned\x07\x1b[2J/a\nb\r\x00\u009b31m\u2028\u061c\u202eexe.wav";
const EVIL2 = "..\\..\\x\x1b[31m/../" + EVIL.slice(0, 12);
const EVIL_TAG = "\x1b]0;tag\x07/../../n\na\u009b";

/** Each fragment followed by an extra Tags element with hostile names and values (after the KVS tags). */
function withExtraTags(s: GeneratedStream, tags: [string, string][]): Uint8Array {
  const extra = tagsEl(tags);
  return concat(s.fragments.map((f) => concat([f.bytes, extra])));
}

const HOSTILE = connectStream({ fragments: 3, contactIds: [EVIL, EVIL, EVIL2] });
const HOSTILE_BYTES = concat([
  withExtraTags(HOSTILE, [[EVIL_TAG, EVIL], ["Note", "\x1b[2J\x1b[H"]]),
  errorFragment(`\x1b]0;err\x07${"E".repeat(10)}`, 3, `\x1b[2J${EVIL}`),
]);

let tmpRoot: string;
async function temp(prefix: string) {
  tmpRoot ??= await Deno.makeTempDir({ prefix: "kvsaudio-hostile-" });
  return await Deno.makeTempDir({ dir: tmpRoot, prefix });
}

// ---------------------------------------------------------------- escapes

Deno.test("inspect: hostile ContactIds, tag names/values, error codes never reach the terminal raw", async () => {
  const dir = await temp("inspect-");
  const path = `${dir}/hostile.mkv`;
  await Deno.writeFile(path, HOSTILE_BYTES);
  const text = await run(["inspect", path]);
  assert.equal(text.code, 0, text.stderr);
  terminalSafe(text.stdout, "inspect text");
  // header + 4 fragment lines + 3 summary lines: no line break smuggled in
  assert.equal(text.stdout.trimEnd().split("\n").length, 8, text.stdout);
  assert.match(text.stdout, /\.\.\/\.\.\/etc\/passwd\\x1b\]0;pwned\\x07\\x1b\[2J\/a\\x0ab/, "shown escaped");
  assert.match(text.stdout, /error=\\x1b\]0;err\\x07/);

  const tree = await run(["inspect", "--tree", path]);
  assert.equal(tree.code, 0, tree.stderr);
  terminalSafe(tree.stdout, "inspect --tree");
  assert.match(tree.stdout, /TagName: '\\x1b\]0;tag\\x07/);

  const json = await run(["inspect", "--json", path]);
  assert.equal(json.code, 0, json.stderr);
  const objs = ndjson(json.stdout, "inspect --json");
  assert.equal(objs.length, 5);
  assert.equal(objs[0].contactId, EVIL, "JSON escapes round-trip");
  assert.equal((objs[0].tags as Record<string, string>)[EVIL_TAG], EVIL);
  assert.equal(objs[2].contactId, EVIL2);
  assert.equal(objs[3].errorCode, `\x1b]0;err\x07${"E".repeat(10)}`);
  assert.deepEqual((objs[4].summary as { contactIds: string[] }).contactIds, [EVIL, EVIL2]);
});

Deno.test("extract: hostile values in text, --verbose, --json, warnings and the error message", async () => {
  const dir = await temp("extract-");
  const path = `${dir}/hostile.mkv`;
  await Deno.writeFile(path, HOSTILE_BYTES);
  // Stops at the contact change: the text names both ContactIds.
  const text = await run(["extract", path, "--out", `${dir}/t`, "--verbose"]);
  assert.equal(text.code, 0, text.stderr);
  terminalSafe(text.stdout + text.stderr, "extract text");
  assert.match(text.stdout, /stopped: the ContactId changed after \.\.\/\.\.\/etc\/passwd\\x1b/);
  const json = await run(["extract", path, "--out", `${dir}/j`, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const events = ndjson(json.stdout, "extract --json");
  assert.equal(events.find((e) => e.event === "contact-changed")?.nextContactId, EVIL2);
  assert.equal(events.at(-1)?.contactId, EVIL);

  // --follow-stream reaches the hostile in-band error fragment: exit 5, one escaped line.
  for (const mode of [[], ["--json"]]) {
    const r = await run(["extract", path, "--out", `${dir}/e${mode.length}`, "--follow-stream", ...mode]);
    assert.equal(r.code, 5, r.stderr);
    terminalSafe(r.stdout + r.stderr, `extract error ${mode}`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    assert.match(
      r.stderr,
      /^kvsaudio: \/\S+\/hostile\.mkv: byte \d+: KVS sent an in-band error fragment at fragment \\x1b\[2J\.\.\/\.\.\/etc/,
    );
    assert.match(r.stderr, /AWS_KINESISVIDEO_ERROR_CODE \\x1b\]0;err\\x07E/);
    if (mode.length) ndjson(r.stdout, "extract --json error");
    const wav = await readWav(`${dir}/e${mode.length}/from_customer.wav`);
    assert.equal(firstDifference(wav.data, expectedPcm(HOSTILE).from!), undefined, "audio before the error kept");
  }

  // A truncated last fragment: its warning goes through the same escaping.
  const cut = HOSTILE_BYTES.subarray(0, HOSTILE.fragments[1].offset + 5000);
  const w = await run(["extract", "-", "--out", `${dir}/w`], { stdin: cut });
  assert.equal(w.code, 0, w.stderr);
  // Warnings go to stderr in text mode (stdout keeps the results).
  assert.match(w.stderr, /kvsaudio: warning: fragment 1 at byte \d+ of stdin is truncated/);
  terminalSafe(w.stdout + w.stderr, "warning");
});

Deno.test("pull: hostile ContactIds and in-band error codes from KVS, in text and --json", async () => {
  const s = connectStream({
    fragments: 4,
    contactIds: [EVIL, EVIL, EVIL2],
    errorAt: { index: 3, code: `\x1b]0;x\x07` },
  });
  const standin = serve(s, { live: true });
  const dir = await temp("pull-");
  try {
    const base = ["pull", "--endpoint-url", standin.url, "--region", "us-east-1", "--arn", ARN, "--start", "earliest"];
    const text = await run([...base, "--out", `${dir}/t`, "--verbose", "--idle-timeout", "1"]);
    assert.equal(text.code, 0, text.stderr);
    terminalSafe(text.stdout + text.stderr, "pull text");
    assert.match(text.stdout, /stopped: the ContactId changed after \.\.\/\.\.\/etc\/passwd\\x1b/);
    const json = await run([...base, "--out", `${dir}/j`, "--json", "--idle-timeout", "1"]);
    assert.equal(json.code, 0, json.stderr);
    const events = ndjson(json.stdout, "pull --json");
    assert.equal(events.filter((e) => e.event === "fragment")[0].contactId, EVIL);
    const err = await run([...base, "--out", `${dir}/e`, "--follow-stream", "--idle-timeout", "1"]);
    assert.equal(err.code, 5, err.stderr);
    terminalSafe(err.stdout + err.stderr, "pull error");
    assert.match(err.stderr, /AWS_KINESISVIDEO_ERROR_CODE \\x1b\]0;x\\x07/);
  } finally {
    await standin.close();
  }
});

// ---------------------------------------------------------------- megabytes

Deno.test("megabyte tag values are cut: inspect text/tree/--json and extract --json stay small", async () => {
  const big = "C".repeat(3 << 20);
  const s = connectStream({ fragments: 3, contactIds: big });
  const bytes = concat([
    withExtraTags(s, [["N".repeat(1 << 20), "v"], ["Huge", "\x1b[2J" + "V".repeat(2 << 20)]]),
    errorFragment("X".repeat(1 << 20), 1, "9".repeat(1 << 20)),
  ]);
  const dir = await temp("big-");
  const path = `${dir}/big.mkv`;
  await Deno.writeFile(path, bytes);
  for (const args of [["inspect", path], ["inspect", "--tree", path], ["inspect", "--json", path]]) {
    const r = await run(args);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length < 64 * 1024, `${args.join(" ")}: ${r.stdout.length} bytes of output`);
    terminalSafe(r.stdout, args.join(" "));
    if (args.includes("--json")) {
      const objs = ndjson(r.stdout, "inspect --json");
      assert.match(String(objs[0].contactId), /^C{1024}…\(\+3144704 chars\)$/);
    }
  }
  for (const args of [["--json"], ["--verbose"]]) {
    const r = await run(["extract", path, "--out", `${dir}/o${args.join("")}`, ...args]);
    assert.equal(r.code, 5, r.stderr.slice(0, 300)); // the stream ends with the error fragment
    const size = r.stdout.length + r.stderr.length;
    assert.ok(size < 64 * 1024, `extract ${args.join(" ")}: ${size} bytes of output`);
    terminalSafe(r.stdout + r.stderr, `extract ${args}`);
    if (args.includes("--json")) ndjson(r.stdout, "extract --json");
  }
});

// ---------------------------------------------------------------- where outputs go

Deno.test("outputs are written only under --out, whatever the ContactId says", async () => {
  const root = await temp("tree-");
  const cwd = `${root}/cwd`;
  await Deno.mkdir(cwd);
  await Deno.writeFile(`${root}/hostile.mkv`, HOSTILE_BYTES);
  const standin = serve(HOSTILE, { live: true });
  try {
    const before = await tree(root);
    const r1 = await run(["extract", `${root}/hostile.mkv`, "--out", "out/x", "--stereo", "--follow-stream"], { cwd });
    assert.equal(r1.code, 5, r1.stderr);
    const r2 = await run([
      "pull",
      "--endpoint-url",
      standin.url,
      "--arn",
      ARN,
      "--start",
      "earliest",
      "--idle-timeout",
      "0.5",
      "--out",
      "pulled",
      "--follow-stream",
      "--format",
      "raw",
    ], { cwd });
    assert.equal(r2.code, 0, r2.stderr);
    const after = await tree(root);
    assert.deepEqual(
      after.filter((p) => !before.includes(p)),
      [
        "cwd/out/",
        "cwd/out/x/",
        "cwd/out/x/from_customer.wav",
        "cwd/out/x/stereo.wav",
        "cwd/out/x/to_customer.wav",
        "cwd/pulled/",
        "cwd/pulled/from_customer.raw",
        "cwd/pulled/to_customer.raw",
      ],
    );
    const pcm = expectedPcm(HOSTILE);
    assert.equal(firstDifference(await Deno.readFile(`${cwd}/pulled/to_customer.raw`), pcm.to!), undefined);
  } finally {
    await standin.close();
  }
});

// ---------------------------------------------------------------- existing outputs

/**
 * Run through `sh` so that what the command leaves of its stdin is passed on
 * by `cat`: stdout is the command's stdout, a `<<rc=N>>` marker, then the
 * unread rest of stdin.
 */
async function runKeepingStdin(args: string[], stdin: Uint8Array, env: Record<string, string> = {}) {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `"$0" ${RUN_ARGS.join(" ")} "$@"; echo "<<rc=$?>>"; exec cat`,
      Deno.execPath(),
      MAIN,
      ...args,
    ],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", KVSAUDIO_DEBUG: "", ...AWS_ENV, ...env },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(stdin); // smaller than a pipe buffer: written before anything reads
  await w.close();
  const out = await child.output();
  const stdout = out.stdout;
  const marker = new TextEncoder().encode("<<rc=");
  let at = -1;
  for (let i = 0; i + marker.length <= stdout.length && at < 0; i++) {
    if (marker.every((b, j) => stdout[i + j] === b)) at = i;
  }
  assert.ok(at >= 0, `no marker in ${dec.decode(stdout)}`);
  const end = stdout.indexOf(0x0a, at);
  const code = Number(dec.decode(stdout.subarray(at + marker.length, end - 2)));
  return {
    code,
    stdout: dec.decode(stdout.subarray(0, at)),
    stderr: dec.decode(out.stderr),
    rest: stdout.subarray(end + 1),
  };
}

Deno.test("an existing output is never destroyed: exit 2 naming it, before reading input or contacting KVS", async (t) => {
  const sentinel = new TextEncoder().encode("precious, not a WAV\n");
  const cases: { name: string; existing: string; flags: string[] }[] = [
    { name: "from_customer.wav", existing: "from_customer.wav", flags: [] },
    { name: "to_customer.wav only", existing: "to_customer.wav", flags: [] },
    { name: "stereo.wav with --stereo", existing: "stereo.wav", flags: ["--stereo"] },
    { name: "to_customer.raw with --format raw", existing: "to_customer.raw", flags: ["--format", "raw"] },
  ];
  const input = HOSTILE.bytes.subarray(0, 20_000);
  for (const c of cases) {
    await t.step(c.name, async () => {
      const dir = await temp("exists-");
      const file = `${dir}/${c.existing}`;
      await Deno.writeFile(file, sentinel);
      const refusal = new RegExp(`^kvsaudio: refusing to overwrite ${file.replaceAll(".", "\\.")} \\(use --force\\)$`);
      const check = async (r: { code: number; stderr: string }, what: string) => {
        assert.equal(r.code, 2, `${what}: ${r.stderr}`);
        assert.match(r.stderr.trimEnd(), refusal, what);
        assert.deepEqual(await Deno.readFile(file), sentinel, `${what}: untouched`);
        assert.deepEqual(await tree(dir), [c.existing], `${what}: nothing else created`);
      };
      // extract from stdin: the input is left for the next reader.
      const ex = await runKeepingStdin(["extract", "-", "--out", dir, ...c.flags], input);
      await check(ex, "extract -");
      assert.equal(ex.stdout, "");
      assert.equal(firstDifference(ex.rest, input), undefined, "extract did not read stdin");
      // pull: no request reaches KVS; with --event -, the event is not read either.
      const standin = serve(HOSTILE, { live: true });
      try {
        const pull = ["pull", "--endpoint-url", standin.url, "--region", "us-east-1", "--out", dir, ...c.flags];
        await check(await run([...pull, "--arn", ARN, "--start", "now"]), "pull");
        const event = new TextEncoder().encode(JSON.stringify({
          Details: {
            ContactData: {
              ContactId: "c-1",
              MediaStreams: {
                Customer: { Audio: { StreamARN: ARN, StartFragmentNumber: HOSTILE.fragments[0].fragmentNumber } },
              },
            },
          },
        }));
        const ev = await runKeepingStdin([...pull, "--event", "-"], event);
        await check(ev, "pull --event -");
        assert.equal(firstDifference(ev.rest, event), undefined, "pull did not read the event from stdin");
        assert.equal(standin.requests.length, 0, "KVS was not contacted");
      } finally {
        await standin.close();
      }
    });
  }
  await t.step("--force does overwrite", async () => {
    const dir = await temp("force-");
    await Deno.writeFile(`${dir}/from_customer.wav`, sentinel);
    const r = await run(["extract", "-", "--out", dir, "--force"], { stdin: HOSTILE.bytes });
    assert.equal(r.code, 0, r.stderr);
    const wav = await readWav(`${dir}/from_customer.wav`);
    assert.equal(firstDifference(wav.data, expectedPcm(HOSTILE, { untilIndex: 2 }).from!), undefined);
  });
});

Deno.test("cleanup", async () => {
  if (tmpRoot) await Deno.remove(tmpRoot, { recursive: true });
});
