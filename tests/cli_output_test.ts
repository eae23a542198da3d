/**
 * Unit tests of the per-fragment text output of `inspect`: `isoTime`,
 * `displayText` and the text line, each against the straightforward version
 * it replaced (the output must stay byte-identical).
 */
import assert from "node:assert/strict";
import { isoTime, outputError, timeMsOrNull } from "../src/cli/output.ts";
import { displayText, jsonLine } from "../src/cli/sanitize.ts";
import { fragmentJson, textLine } from "../src/cli/inspect.ts";
import { Fragment } from "../src/mkv/fragment.ts";
import { parseBlock } from "../src/mkv/block.ts";
import { seededInts } from "./support/util.ts";

function isoTimeDate(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return "-";
  return new Date(ms).toISOString();
}

/** The characters displayText escapes (built from a string: the linter's exception must sit on the line it flags, and deno fmt wraps a long regex literal onto the next). */
// deno-lint-ignore no-control-regex
const DISPLAY_ESCAPED = new RegExp(
  "[\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb]",
  "g",
);

function displayTextRegex(text: string, max = 256): string {
  let s = text.length > max ? text.slice(0, max) : text;
  s = s.replace(
    DISPLAY_ESCAPED,
    (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
    },
  );
  return text.length > max ? `${s}…(+${text.length - max} chars)` : s;
}

function flagsOfArray(f: Fragment): string {
  const flags: string[] = [];
  if (!f.complete) flags.push(f.closedBy === "bad-data" ? "bad-data" : "truncated");
  if (f.isError) flags.push(`error=${displayTextRegex(f.kvs.errorCode!, 32)}`);
  const lastCluster = f.clusters.at(-1);
  if (lastCluster && f.tags.some((t) => t.offset > lastCluster.offset)) flags.push("tags-after");
  const ids = new Set(
    f.tags.filter((t) => t.name === "ContactId" && typeof t.value === "string" && t.value !== "")
      .map((t) => t.value),
  );
  if (ids.size > 1) flags.push("contact-mixed");
  if (f.clusters.length === 0) flags.push("no-cluster");
  if (f.clusters.length > 1) flags.push(`clusters=${f.clusters.length}`);
  if (f.unknownElements > 0) flags.push(`unknown-elements=${f.unknownElements}`);
  return flags.join(",") || "-";
}

function textLineArray(f: Fragment): string {
  const k = f.kvs;
  const counts = [...f.blockCounts()].map(([t, n]) => `${t}:${n}`).join(",") || "-";
  return [
    String(f.index).padStart(5),
    String(f.offset).padStart(10),
    String(f.size).padStart(8),
    displayTextRegex(k.fragmentNumber ?? "-", 64).padEnd(47),
    isoTimeDate(k.producerTimestampMs).padEnd(24),
    displayTextRegex(
      f.contactId || f.tags.find((t) => t.name === "ContactId" && typeof t.value === "string" && t.value)?.value as
        | string
        | undefined ||
        "-",
      64,
    ).padEnd(36),
    counts.padEnd(11),
    (f.durationMs / 1000).toFixed(3).padStart(7),
    flagsOfArray(f),
  ].join("  ");
}

const rand = seededInts(2024);

Deno.test("isoTime: same as Date#toISOString, day after day and at the edges", () => {
  const cases = [
    undefined,
    NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    0.5,
    -0.5,
    -1,
    -1.5,
    999.9,
    -999.9,
    -1000,
    -1001,
    86399999,
    86400000,
    -86400000,
    -86400001,
    1782912654536,
    1599166395421.5,
    253402300799999, // 9999-12-31T23:59:59.999Z
    253402300800000, // +010000-01-01
    -62167219200000, // 0000-01-01
    -62167219200001, // -000001-12-31
    8.64e15,
    -8.64e15,
    8.64e15 + 1,
    -8.64e15 - 1,
    8.64e15 - 0.5,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
  ];
  for (const ms of cases) assert.equal(isoTime(ms), isoTimeDate(ms), String(ms));
  // a call's timestamps (the cached day), then jumps anywhere
  for (let ms = 1782912654536 - 5e6; ms < 1782912654536 + 2e8; ms += 1024 + rand(7)) {
    assert.equal(isoTime(ms), isoTimeDate(ms), String(ms));
  }
  for (let i = 0; i < 100000; i++) {
    const ms = rand(2) === 0 ? (rand(2e9) / 1e9 - 1) * 8.64e15 : (rand(2e9) - 1e9) * (rand(2) === 0 ? 1 : 1.5);
    assert.equal(isoTime(ms), isoTimeDate(ms), String(ms));
  }
});

Deno.test("displayText: same as the regex version, for every UTF-16 code unit", () => {
  for (let c = 0; c < 0x10000; c++) {
    const ch = String.fromCharCode(c);
    for (const text of [ch, `ab${ch}cd`]) {
      for (const max of [1, 3, 256]) assert.equal(displayText(text, max), displayTextRegex(text, max), `${c} ${max}`);
    }
  }
  assert.equal(displayText("a".repeat(300), 10), "aaaaaaaaaa…(+290 chars)");
  // Keeping the end: an error about a very long path said neither its end nor why (an environment tester).
  assert.equal(displayText("a".repeat(300) + ": why", 20, 5), "aaaaaaaaaaaaaaa…(+285 chars)…: why");
  assert.equal(displayText("a\x1b".repeat(20) + "\x07!", 10, 2), "a\\x1ba\\x1ba\\x1ba\\x1b…(+32 chars)…\\x07!");
  assert.equal(displayText("short", 10, 4), "short");
  assert.equal(displayText("abc"), "abc");
});

Deno.test("inspect text line: same as the array-and-join version, with every flag", () => {
  const base = parseBlock(new Uint8Array([0x81, 0, 0, 0x80]), 0, true);
  const names = [
    "AWS_KINESISVIDEO_FRAGMENT_NUMBER",
    "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP",
    "AWS_KINESISVIDEO_ERROR_CODE",
    "ContactId",
  ];
  const values = ["91343852333181551234925834077012571618243808844", "1782912654.536", "\x1b[31m", "x".repeat(70), ""];
  for (let i = 0; i < 3000; i++) {
    const f = new Fragment(rand(200000), rand(2e10));
    f.size = rand(1e8);
    f.complete = rand(4) !== 0;
    if (!f.complete && rand(2) === 0) f.closedBy = "bad-data";
    // Clusters at offsets 100, 200, …; each tag anywhere before, between or after them.
    const clusters = rand(4);
    for (let n = rand(7); n > 0; n--) {
      const offset = rand(100 * (clusters + 1));
      f.tags.push({
        name: names[rand(names.length)],
        value: rand(5) === 0
          ? new Uint8Array(2)
          : rand(3) === 0
          ? String(rand(2e12) / 1000)
          : values[rand(values.length)],
        position: clusters > 0 && offset > 100 ? "after" : "before",
        offset,
      });
    }
    for (let n = 1; n <= clusters; n++) f.clusters.push({ offset: 100 * n, timecode: 0, blocks: 0 });
    f.unknownElements = rand(3) === 0 ? rand(5) : 0;
    let ms = 1782912654536 + rand(1e6);
    for (let n = rand(40); n > 0; n--) {
      f.addBlock({ ...base, track: 1 + rand(rand(2) === 0 ? 2 : 12), timeMs: ms += rand(70) });
    }
    assert.equal(textLine(f), textLineArray(f), `case ${i}`);
  }
});

Deno.test("a write to a full non-blocking pipe says what to do (it is not retried: Deno does not tell how much went out)", () => {
  // A tester: a parent that leaves standard output non-blocking made kvsaudio fail with "Resource temporarily
  // unavailable (os error 11)" and nothing more.
  const e = outputError(
    "standard output",
    new Deno.errors.WouldBlock("Resource temporarily unavailable (os error 11)"),
  );
  assert.equal(e.exitCode, 1);
  assert.match(
    e.message,
    /^standard output: write failed: Resource temporarily unavailable \(os error 11\): the output is a non-blocking pipe, .* \(e\.g\. through `\| cat`\)$/,
  );
  assert.equal(
    outputError("standard output", new Error("No space left on device (os error 28)")).message,
    "standard output: write failed: No space left on device (os error 28)",
  );
});

Deno.test("inspect --json: tags named like Object.prototype members, whole-ms times, invisible characters escaped", () => {
  // An inspect tester: tags named constructor, toString, hasOwnProperty became [null, value] arrays; a timestamp tag
  // with a fourth decimal gave a fractional producerTimestampMs; U+200B and U+FEFF reached the terminal as they were.
  const f = new Fragment(0, 0);
  for (const [name, value] of [["constructor", "y"], ["toString", "z"], ["__proto__", "p"], ["hasOwnProperty", "w"]]) {
    f.tags.push({ name, value, position: "before", offset: 0 });
  }
  const json = JSON.parse(jsonLine(fragmentJson(f)));
  assert.deepEqual(Object.entries(json.tags), [
    ["constructor", "y"],
    ["toString", "z"],
    ["__proto__", "p"],
    ["hasOwnProperty", "w"],
  ]);
  assert.equal(timeMsOrNull(1599166395000.5), 1599166395000);
  assert.equal(timeMsOrNull(1599166395999.9), 1599166395999);
  assert.equal(displayText("a\u200bb\ufeffc\u2060d"), "a\\u{200b}b\\u{feff}c\\u{2060}d");
  // …and the others that show as nothing (a re-tester: `a\u2061b` looked like `ab`).
  for (const c of ["\u00ad", "\u034f", "\u180e", "\u2061", "\u2064", "\u115f", "\u3164", "\uffa0", "\ufffa"]) {
    const code = c.charCodeAt(0);
    assert.equal(displayText(`a${c}b`), code <= 0xff ? `a\\x${code.toString(16)}b` : `a\\u{${code.toString(16)}}b`);
  }
  assert.equal(jsonLine({ v: "a\u200bb\ufeff" }), '{"v":"a\\u200bb\\ufeff"}');
  // (Not the joiners of Persian, Indic scripts and emoji.)
  assert.equal(
    displayText("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u{1f469}\u200d\u{1f4bb}"),
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u{1f469}\u200d\u{1f4bb}",
  );
});
