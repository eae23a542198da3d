import assert from "node:assert/strict";
import { choice, num, parseCommand } from "../src/cli/args.ts";
import { UsageError } from "../src/errors.ts";
import { parseTimestamp } from "../src/cli/time.ts";
import { applyConfig } from "../src/cli/config.ts";
import { blameConfig, noteConfigFile } from "../src/cli/configured.ts";
import { EXTRACT_OPTIONS, PULL_OPTIONS } from "../src/cli/command_options.ts";
import { catchError } from "./support/util.ts";

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
