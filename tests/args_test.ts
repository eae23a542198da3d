import assert from "node:assert/strict";
import { choice, num, parseCommand } from "../src/cli/args.ts";
import { UsageError } from "../src/errors.ts";
import { parseTimestamp } from "../src/cli/time.ts";
import { applyConfig } from "../src/cli/config.ts";
import { blameConfig, markConfigured, noteConfigFile } from "../src/cli/configured.ts";
import { EXTRACT_OPTIONS, PULL_OPTIONS } from "../src/cli/command_options.ts";
import { catchError } from "./support/util.ts";
import { planPull } from "../src/cli/pull.ts";
import { type ConnectEventValues, readConnectEvent } from "../src/cli/event.ts";

const SPEC = {
  out: { type: "string", short: "o" },
  json: { type: "boolean" },
  force: { type: "boolean", short: "f" },
  tag: { type: "string", multiple: true },
} as const;

Deno.test("parseCommand: long, short, inline values, flags, positionals, -- and -", () => {
  const r = parseCommand("extract", [
    "in.mkv",
    "--out",
    "dir",
    "-f",
    "--json",
    "--tag=a",
    "--tag",
    "b",
    "-",
    "--",
    "--x",
  ], {
    ...SPEC,
  });
  assert.deepEqual(r.values, { out: "dir", force: true, json: true, tag: ["a", "b"] });
  assert.deepEqual(r.positionals, ["in.mkv", "-", "--x"]);
  assert.deepEqual(parseCommand("extract", ["-o", "-"], { ...SPEC }).values, { out: "-" });
  assert.deepEqual(parseCommand("extract", ["--out=", "x"], { ...SPEC }), { values: { out: "" }, positionals: ["x"] });
});

Deno.test("parseCommand: one-line usage errors", () => {
  const err = (args: string[]) => {
    const e = catchError(() => parseCommand("pull", args, { ...SPEC }));
    assert.ok(e instanceof UsageError);
    assert.equal(e.exitCode, 2);
    return e.message;
  };
  assert.equal(err(["--bogus"]), "pull: unknown option '--bogus' (see 'kvsaudio pull --help')");
  assert.equal(err(["-z"]), "pull: unknown option '-z' (see 'kvsaudio pull --help')");
  assert.equal(err(["-fo"]), "pull: unknown option '-fo' (see 'kvsaudio pull --help')");
  assert.equal(err(["--out"]), "pull: option '--out' needs a value (see 'kvsaudio pull --help')");
  assert.equal(err(["-o", "--json"]), "pull: option '-o' needs a value (see 'kvsaudio pull --help')");
  assert.equal(err(["--json=yes"]), "pull: option '--json' does not take a value (see 'kvsaudio pull --help')");
  assert.equal(err(["--toString"]), "pull: unknown option '--toString' (see 'kvsaudio pull --help')");
});

Deno.test("choice and num validate values", () => {
  assert.equal(choice("x", { format: "raw" }, "format", ["wav", "raw"], "wav"), "raw");
  assert.equal(choice("x", {}, "format", ["wav", "raw"], "wav"), "wav");
  assert.throws(
    () => choice("x", { format: "mp3" }, "format", ["wav", "raw"], "wav"),
    /--format must be one of wav, raw/,
  );
  assert.equal(num("x", { n: "2.5" }, "n"), 2.5);
  assert.throws(() => num("x", { n: "-1" }, "n"), /non-negative number/);
  assert.throws(() => num("x", { n: " " }, "n"), /non-negative number/);
  // Decimal numbers only, within limits (was: hex, exponents and padded values passed, and
  // --idle-timeout 1e12 overflowed the timers; --max-retries 1.5 became 1).
  assert.equal(num("x", { n: ".5" }, "n"), 0.5);
  for (const bad of ["0x10", "1e3", " 5", "5 ", "Infinity", "1.", "+1"]) {
    assert.throws(() => num("x", { n: bad }, "n"), /needs a non-negative number/, bad);
  }
  assert.throws(
    () => num("x", { n: "1.5" }, "n", 8, { integer: true }),
    /needs a non-negative whole number, not '1\.5'/,
  );
  assert.equal(num("x", { n: "3" }, "n", 8, { integer: true }), 3);
  assert.throws(() => num("x", { n: "2000001" }, "n", 5, { max: 2_000_000 }), /--n must be at most 2000000/);
  assert.equal(num("x", { n: "2000000" }, "n", 5, { max: 2_000_000 }), 2_000_000);
});

Deno.test("parseTimestamp: only times a request can carry (1970 to year 9999)", () => {
  assert.equal(parseTimestamp("1599166395.421"), 1599166395421);
  assert.equal(parseTimestamp("9999-12-31T23:59:59.999Z"), Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  // Was: accepted, then the SDK failed with "RangeError: Invalid time value" (exit 4).
  assert.equal(parseTimestamp("99999999999999999999"), undefined);
  assert.equal(parseTimestamp("1969-12-31T23:59:59Z"), undefined);
});

Deno.test("applyConfig: a key named like a section is an unknown option, at the top level and in the command's own section", async () => {
  // Was: skipped silently (`pull = 1` by every command, `[pull] extract = 1` by pull).
  const path = await Deno.makeTempFile({ suffix: ".ini" });
  try {
    const cases: [string, RegExp][] = [
      ["pull = 1\n", /unknown option 'pull' for pull/],
      ["[pull]\nextract = 1\n", /unknown option 'extract' for pull/],
      // (Was accepted: found on the object prototype.)
      ["toString = 1\n", /unknown option 'toString' for pull/],
      ["[pull]\nconstructor = 1\n", /unknown option 'constructor' for pull/],
    ];
    for (const [ini, error] of cases) {
      await Deno.writeTextFile(path, ini);
      await assert.rejects(() => applyConfig("pull", {}, PULL_OPTIONS, path), (e: Error) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, error);
        return true;
      });
    }
    await Deno.writeTextFile(path, "region = eu-west-1\n[pull]\nidle-timeout = 3\n");
    const values: Record<string, string | boolean | undefined> = {};
    await applyConfig("pull", values, PULL_OPTIONS, path);
    assert.deepEqual(values, { region: "eu-west-1", "idle-timeout": "3" });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("applyConfig: the command's section wins over the same key at the top level; a flag wins over both", async () => {
  // Was: the top-level value won (`out = A` at the top made `[pull] out = B` write to A).
  const path = await Deno.makeTempFile({ suffix: ".ini" });
  try {
    await Deno.writeTextFile(
      path,
      "out = shared\nidle-timeout = 1\nregion = eu-west-1\n[pull]\nout = pulls\nidle-timeout = 30\n",
    );
    const values: Record<string, string | boolean | undefined> = {};
    await applyConfig("pull", values, PULL_OPTIONS, path);
    assert.deepEqual(values, { out: "pulls", "idle-timeout": "30", region: "eu-west-1" });
    const flagged: Record<string, string | boolean | undefined> = { out: "flag" };
    await applyConfig("pull", flagged, PULL_OPTIONS, path);
    assert.equal(flagged.out, "flag");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("blameConfig: names the file for an option it set, not for one whose quoted value came from elsewhere", () => {
  noteConfigFile("k.ini", "stop-fragment", "123");
  noteConfigFile("k.ini", "out", "-");
  const fromEvent = blameConfig(new UsageError("pull: --stop-fragment must be a decimal fragment number, not '12x'"));
  assert.equal(fromEvent.message, "pull: --stop-fragment must be a decimal fragment number, not '12x'");
  const fromFile = blameConfig(new UsageError("pull: --stop-fragment must be at most 100, not '123'"));
  assert.match(fromFile.message, /\(stop-fragment is set in k\.ini\)$/);
  const unquoted = blameConfig(new UsageError("extract: with --out -, choose one track"));
  assert.match(unquoted.message, /\(out is set in k\.ini\)$/);
  // Once only.
  assert.equal(blameConfig(unquoted).message.match(/is set in/g)?.length, 1);
});

Deno.test("parseCommand: --no-FLAG turns a boolean off (over the config file); not for string options or unknown names", async () => {
  // Was: a flag the config file turned on could not be turned off from the command line.
  const spec = { stereo: { type: "boolean" as const }, out: { type: "string" as const } };
  assert.deepEqual(parseCommand("extract", ["--no-stereo"], spec).values, { stereo: false });
  assert.throws(() => parseCommand("extract", ["--no-out"], spec), /unknown option '--no-out'/);
  assert.throws(() => parseCommand("extract", ["--no-bogus"], spec), /unknown option '--no-bogus'/);
  assert.throws(() => parseCommand("extract", ["--no-stereo=1"], spec), /does not take a value/);
  const path = await Deno.makeTempFile({ suffix: ".ini" });
  try {
    await Deno.writeTextFile(path, "[extract]\nstereo = true\n");
    const { values } = parseCommand("extract", ["--no-stereo"], EXTRACT_OPTIONS);
    await applyConfig("extract", values, EXTRACT_OPTIONS, path);
    assert.equal(values.stereo, false);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("applyConfig: values the INI parser makes of what is no `key = value` of kvsaudio's are refused, naming the file", async () => {
  // A tester: `out[] = a` twice wrote to a directory named "a,b"; a bare `out` to one named "true"; `out = null`
  // was dropped at the top level and taken as "null" in a section; `out = "o3` kept its quote; `[extract.sub]` was
  // called an unknown option; `json = maybe` passed when --json was given.
  const path = await Deno.makeTempFile({ suffix: ".ini" });
  try {
    const cases: [string, RegExp, Record<string, string | boolean | undefined>?][] = [
      ["[extract]\nout[] = a\nout[] = b\n", /'out' is given as a list \(out\[\]\); give one value/],
      ["out[] = a\n", /'out' is given as a list/],
      ["[extract]\nout\n", /'out' needs a value \(out = VALUE\), not true/],
      ["out = null\n", /'out' is null; give a value, or leave the key out/],
      ["[extract]\nout = null\n", /'out' is null/],
      ['[extract]\nout = "o3\n', /'out' = "o3: a quote the INI reader did not take/],
      // (A review: the INI reader keeps the quotes of a value with a comment after it, or a \ inside.)
      ['[extract]\nout = "calls" ; my dir\n', /'out' = "calls": a quote the INI reader did not take/],
      ['[extract]\nout = "C:\\calls"\n', /'out' = "C:\\calls": a quote the INI reader did not take/],
      ["[extract.sub]\nx = 1\n", /unknown section \[extract\.sub\]/],
      // (A re-tester: read as JSON escapes, "C:\temp" was a directory named C:<tab>emp.)
      ['[extract]\nout = "C:\\temp"\n', /'out' holds a control character \(a \\ in a quoted value is an escape/],
      ["[pull.x]\ny = 1\n", /unknown section \[pull\.x\]/],
      ["json = maybe\n", /'json' must be true or false, not 'maybe'/, { json: true }],
      // (An error-path audit: the INI reader drops __proto__ without a word; the run went on, exit 0.)
      ["[__proto__]\nbogus = 1\n", /: line 1: unknown section \[__proto__\]$/],
      ["[extract]\nout = o\n  __proto__ = 1\n", /: line 3: unknown option '__proto__'$/],
      // (A review: quoted, as a list, or before a comment, the reader dropped it all the same.)
      ['"__proto__" = x\n', /: line 1: unknown option '__proto__'$/],
      ["[extract]\n__proto__[] = x\n", /: line 2: unknown option '__proto__'$/],
      ["__proto__ ; note\n", /: line 1: unknown option '__proto__'$/],
      ["__proto__\r\n", /: line 1: unknown option '__proto__'$/],
    ];
    for (const [ini, error, values] of cases) {
      await Deno.writeTextFile(path, ini);
      await assert.rejects(() => applyConfig("extract", { ...values }, EXTRACT_OPTIONS, path), (e: Error) => {
        assert.ok(e instanceof UsageError, ini);
        assert.match(e.message, error, ini);
        assert.ok(e.message.startsWith(`${path}: `), ini);
        return true;
      });
    }
    // Bytes that are not UTF-8 are refused with their line (was: a Latin-1 é became U+FFFD, and `out` a directory
    // the user never named); an empty --config is no file name.
    await Deno.writeFile(path, new Uint8Array([...new TextEncoder().encode("[extract]\nout = caf"), 0xe9, 0x0a]));
    await assert.rejects(
      () => applyConfig("extract", {}, EXTRACT_OPTIONS, path),
      (e: Error) => e instanceof UsageError && e.message === `${path}: line 2: not UTF-8 text (save the file as UTF-8)`,
    );
    await assert.rejects(
      () => applyConfig("extract", {}, EXTRACT_OPTIONS, ""),
      (e: Error) => e instanceof UsageError && e.message === "extract: --config needs a file name",
    );
    // Quoted values, and a bare boolean key, are still taken.
    await Deno.writeTextFile(path, '[extract]\nout = "a b"\nstereo\n');
    const values: Record<string, string | boolean | undefined> = {};
    await applyConfig("extract", values, EXTRACT_OPTIONS, path);
    assert.deepEqual(values, { out: "a b", stereo: true });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("planPull: an event's values are named as the event's, an empty name is refused, a stop fragment before the start", () => {
  const ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-x/1700000000000";
  const refused = (values: Record<string, string | boolean | undefined>, event: ConnectEventValues | undefined) =>
    catchError(() => planPull(values, event)) as Error;
  // A tester: an event's bad StreamARN was called "--arn", though no --arn was given.
  assert.match(refused({}, { arn: "arn:bad", startFragment: "1" }).message, /^pull: the --event's stream ARN is not/);
  assert.match(refused({ arn: "arn:bad", "start-fragment": "1" }, undefined).message, /^pull: --arn is not/);
  // …and an event's start timestamp that is no time was dropped: "a start is required".
  assert.match(
    refused({}, { arn: ARN, startTimestampMs: NaN }).message,
    /^pull: the --event's start timestamp is not an ISO 8601 time/,
  );
  // (Not refused where the event's start fragment is used instead.)
  assert.equal(planPull({}, { arn: ARN, startFragment: "5", startTimestampMs: NaN }).selector.type, "FRAGMENT_NUMBER");
  // `--profile ""` was taken as no profile (then "no credentials … pass --profile"); `--stream-name ""` failed late.
  assert.match(refused({ arn: ARN, start: "now", profile: "" }, undefined).message, /^pull: --profile needs a name/);
  assert.match(refused({ "stream-name": " ", start: "now" }, undefined).message, /^pull: --stream-name needs a name/);
  // An event's bad StopFragmentNumber is the event's, as its start's is (a re-tester: "--stop-fragment").
  assert.match(
    refused({}, { arn: ARN, startFragment: "1", stopFragment: "zz" }).message,
    /^pull: --event StopFragmentNumber must be a decimal fragment number, not 'zz'/,
  );
  // A config file's empty stream-name gives way to --arn as any default does (a review: it refused the run).
  const configured: Record<string, string | boolean | undefined> = { "stream-name": "", arn: ARN, start: "now" };
  markConfigured(configured, "stream-name");
  assert.equal(planPull(configured, undefined).stream.arn, ARN);
  // A stop fragment before the start fragment wrote two empty WAVs, exit 0.
  assert.match(
    refused({ arn: ARN, "start-fragment": "0200", "stop-fragment": "199" }, undefined).message,
    /^pull: the stop fragment 199 is before the start fragment 200$/,
  );
  assert.equal(planPull({ arn: ARN, "start-fragment": "200", "stop-fragment": "200" }, undefined).stopFragment, 200n);
});

Deno.test("readConnectEvent: a file saved as UTF-8 with a BOM is read (a re-tester: 'not valid JSON')", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      path,
      "\ufeff" + JSON.stringify({ ContactId: "c-1", Recordings: [{ FragmentStartNumber: "12" }] }),
    );
    const ev = await readConnectEvent(path);
    assert.deepEqual([ev.contactId, ev.startFragment], ["c-1", "12"]);
  } finally {
    await Deno.remove(path);
  }
});
