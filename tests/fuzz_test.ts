/**
 * Reliability: fuzzing. Valid streams are mutated (bit flips, insertions,
 * deletions, truncation at every offset, size fields set to unknown / 0x00 /
 * 0 / 2^56-2 / ±1, unknown sizes in impossible places, 10,000-deep nesting,
 * 2^56-byte elements, zero-length elements, splices, random chunkings) and
 * every mutant goes through the `inspect` and `extract` pipelines in-process
 * (in a Worker, so a hang is caught) and ~50 through the real CLI. A case
 * passes when it ends with success or the one-line data error (`DataError`,
 * exit 3, "byte <n>"), within {@link CASE_TIME_LIMIT_MS}, with the WAVs valid
 * at any moment and memory bounded by the bytes that arrived.
 *
 * - `KVSAUDIO_FUZZ_CASES=N`: number of random mutants (default 3000);
 * - `KVSAUDIO_FUZZ_SEED=S`: global seed (decimal, `0x…` or `random`).
 *
 * A failing case prints its recipe (seed, section#index, mutation) and the
 * path of a temp file holding its bytes (and the hex when short).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  CASE_TIME_LIMIT_MS,
  type CaseResult,
  checkWavHead,
  DEFAULT_SEED,
  fuzzContext,
  HUGE_RSS_LIMIT,
  makeCase,
  type OutcomeKind,
  parseSeed,
  readHead,
  runSection,
  type Section,
  sectionSize,
  sizeVint,
} from "./support/fuzz.ts";
import { kvsaudio, ROOT } from "./support/cli.ts";
import { connectStream } from "./support/connect_stream.ts";
import { concat, encodeId, ID } from "./support/mkv_writer.ts";
import { catchError, hex, pool, withTempDir } from "./support/util.ts";
import { assembleFragments } from "../src/mkv/assembler.ts";
import { EbmlTokenizer } from "../src/ebml/tokenizer.ts";
import type { EbmlToken } from "../src/ebml/token.ts";
import type { Fragment } from "../src/mkv/fragment.ts";
import { DataError } from "../src/errors.ts";

/**
 * Product bugs found by the fuzzer and not fixed yet. Each entry is a minimal
 * reproduction and a pattern that recognises the failure: random cases whose
 * failure matches a pattern are counted as "known" instead of failing the
 * run, and the "KNOWN_FAILURES still fail" test checks every entry still
 * fails (and fails when one passes: then remove it). Empty this list as the
 * bugs get fixed.
 */
const KNOWN_FAILURES: { name: string; hex: string; match: RegExp }[] = [];

/** Bugs the fuzzer found and that were fixed: each must now end in an allowed outcome. */
const REGRESSIONS: { name: string; hex: string }[] = [
  {
    // A DataError in the middle of a batch lost the fragments closed earlier in that batch.
    name: "fragments closed before an assembler DataError in the same chunk are kept",
    hex: "1a45dfa380 18538067ff 1f43b675ff e78100 a386810000800100 1a45dfa380 18538067ff 1f43b675ff a380",
  },
  {
    // Fragment.tracks was the document's array: a later TrackEntry changed an emitted fragment.
    name: "an emitted fragment's tracks do not change when a later TrackEntry arrives",
    hex: "1a45dfa380 1853806780 1654ae6b89 ae87d78101536e8141",
  },
  {
    // An Audio element's SamplingFrequency 1e10 reached wavHeader: RangeError, exit 1, no WAVs.
    name: "an Audio element out of WAV range falls back to the default format",
    hex: "1a45dfa380 18538067ff 1654ae6ba3aea1d78101536e93415544494f5f46524f4d5f435553544f4d4552e186b58450150" +
      "2f9 1f43b675ff e78100 a386810000800000",
  },
];

const SEED = parseSeed(Deno.env.get("KVSAUDIO_FUZZ_SEED"));
const RANDOM_CASES = count(Deno.env.get("KVSAUDIO_FUZZ_CASES"), 3000);
const CLI_CASES = 50;
/** Workers run side by side (the machine has 2 cores). */
const PARALLEL = 2;
const SEED_TEXT = `${SEED} (0x${SEED.toString(16)})${SEED === DEFAULT_SEED ? ", the default" : ""}`;

function count(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`KVSAUDIO_FUZZ_CASES: not a count: ${text}`);
  return n;
}

/** The KNOWN_FAILURES entry a failure text matches, if any. */
function knownAs(text: string): string | undefined {
  return KNOWN_FAILURES.find((k) => k.match.test(text))?.name;
}

// ---------------------------------------------------------------------------
// Tally and report

type Column = Exclude<OutcomeKind, "failure"> | "known" | "failure";
const COLUMNS: Column[] = ["ok", "data-error", "kvs-error", "usage-stereo", "known", "failure"];

class Tally {
  cases = 0;
  ms = 0;
  readonly outcomes = new Map<Column, number>();
  readonly byKind = new Map<string, Map<Column, number>>();
  readonly failures: CaseResult[] = [];
  readonly known: CaseResult[] = [];
  readonly knownBy = new Map<string, number>();
  slowest?: CaseResult;
  maxHugeRss = 0;

  add(r: CaseResult): void {
    this.cases++;
    let col: Column = r.outcome;
    if (r.outcome === "failure") {
      const known = knownAs(r.failures.join("; "));
      if (known !== undefined) {
        col = "known";
        this.known.push(r);
        this.knownBy.set(known, (this.knownBy.get(known) ?? 0) + 1);
        if (r.reproFile) Deno.removeSync(r.reproFile); // a known bug: no need to keep its bytes
      } else this.failures.push(r);
    }
    this.outcomes.set(col, (this.outcomes.get(col) ?? 0) + 1);
    let k = this.byKind.get(r.kind);
    if (!k) this.byKind.set(r.kind, k = new Map());
    k.set(col, (k.get(col) ?? 0) + 1);
    if (!this.slowest || r.ms > this.slowest.ms) this.slowest = r;
    if (r.rssGrowth > this.maxHugeRss) this.maxHugeRss = r.rssGrowth;
  }

  merge(other: Tally): void {
    this.cases += other.cases;
    this.ms += other.ms;
    for (const [c, n] of other.outcomes) this.outcomes.set(c, (this.outcomes.get(c) ?? 0) + n);
    for (const [kind, m] of other.byKind) {
      let k = this.byKind.get(kind);
      if (!k) this.byKind.set(kind, k = new Map());
      for (const [c, n] of m) k.set(c, (k.get(c) ?? 0) + n);
    }
    this.failures.push(...other.failures);
    this.known.push(...other.known);
    for (const [k, n] of other.knownBy) this.knownBy.set(k, (this.knownBy.get(k) ?? 0) + n);
    if (other.slowest && (!this.slowest || other.slowest.ms > this.slowest.ms)) this.slowest = other.slowest;
    this.maxHugeRss = Math.max(this.maxHugeRss, other.maxHugeRss);
  }

  report(title: string): string {
    const lines: string[] = [];
    lines.push(`${title}: ${this.cases} cases, seed ${SEED_TEXT}, ${(this.ms / 1000).toFixed(1)} s`);
    lines.push(`  outcomes: ${COLUMNS.map((c) => `${c} ${this.outcomes.get(c) ?? 0}`).join(", ")}`);
    const kinds = [...this.byKind.keys()].sort();
    const w = Math.max(12, ...kinds.map((k) => k.length));
    lines.push(`  ${"kind".padEnd(w)} ${"cases".padStart(6)} ${COLUMNS.map((c) => c.padStart(13)).join("")}`);
    for (const kind of kinds) {
      const m = this.byKind.get(kind)!;
      let n = 0;
      for (const v of m.values()) n += v;
      lines.push(
        `  ${kind.padEnd(w)} ${String(n).padStart(6)} ${
          COLUMNS.map((c) => String(m.get(c) ?? 0).padStart(13)).join("")
        }`,
      );
    }
    if (this.slowest) {
      lines.push(
        `  slowest case: ${this.slowest.ms.toFixed(0)} ms (${this.slowest.id}: ${this.slowest.desc.slice(0, 100)})`,
      );
    }
    for (const [k, n] of this.knownBy) lines.push(`  known failure (KNOWN_FAILURES) x${n}: ${k}`);
    lines.push(`  largest RSS growth on a huge-declared-size case: ${(this.maxHugeRss / 2 ** 20).toFixed(1)} MiB`);
    return lines.join("\n");
  }
}

const TOTAL = new Tally();

function describeFailure(r: CaseResult): string {
  return [
    `- ${r.id} [${r.kind}] ${r.desc}`,
    ...r.failures.map((f) => `    ${f}`),
    `    reproduce: KVSAUDIO_FUZZ_SEED=${SEED} makeCase(fuzzContext(${SEED}), "${r.id.split("#")[0]}", ${
      r.id.split("#")[1]
    })` +
    (r.reproFile ? `; bytes in ${r.reproFile}` : ""),
    ...(r.reproHex !== undefined ? [`    hex (${r.bytes} bytes): ${r.reproHex}`] : []),
  ].join("\n");
}

function assertNoFailures(t: Tally): void {
  if (t.failures.length === 0) return;
  const shown = t.failures.slice(0, 15).map(describeFailure).join("\n");
  const more = t.failures.length > 15 ? `\n… and ${t.failures.length - 15} more` : "";
  assert.fail(`${t.failures.length} fuzz case(s) failed (seed ${SEED_TEXT}):\n${shown}${more}`);
}

/** Run cases [0, n) of a section in PARALLEL workers; tally, print and check them. */
async function fuzzSection(section: Section, n: number, title: string, dirs: string[]): Promise<Tally> {
  const t0 = performance.now();
  const per = Math.ceil(n / PARALLEL);
  const runs = await Promise.all(
    dirs.slice(0, PARALLEL).map((dir, w) =>
      runSection({ seed: SEED, section, dir }, w * per, Math.min(n, (w + 1) * per))
    ),
  );
  const tally = new Tally();
  for (const run of runs) {
    for (const r of [...run.results, ...run.hangs]) tally.add(r);
  }
  tally.ms = performance.now() - t0;
  console.log(tally.report(title));
  TOTAL.merge(tally);
  const ids = new Set(runs.flatMap((r) => [...r.results, ...r.hangs].map((x) => x.id)));
  assert.equal(ids.size, n, `${title}: every case must report (a worker died outside a case?)`);
  assertNoFailures(tally);
  return tally;
}

async function withDirs<T>(f: (dirs: string[]) => Promise<T>): Promise<T> {
  const dirs: string[] = [];
  for (let i = 0; i < PARALLEL; i++) dirs.push(await Deno.makeTempDir({ prefix: "kvsaudio-fuzz-" }));
  try {
    return await f(dirs);
  } finally {
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// In-process sections

const CTX = fuzzContext(SEED);
console.log(
  `fuzz: seed ${SEED_TEXT}; ${CTX.seeds.length} seeds; ${RANDOM_CASES} random mutants (KVSAUDIO_FUZZ_CASES), ` +
    `${sectionSize(CTX, "truncate")} truncations, ${sectionSize(CTX, "sizes")} size-field cases, ` +
    `${sectionSize(CTX, "patho")} pathological inputs, ${CLI_CASES} CLI mutants`,
);

Deno.test(`fuzz: every seed passes unmodified (${CTX.seeds.length} seeds)`, async () => {
  await withDirs((dirs) => fuzzSection("seeds", sectionSize(CTX, "seeds"), "fuzz seeds", dirs));
});

Deno.test(`fuzz: truncation at every offset of ${CTX.small.name} (${CTX.small.bytes.length} bytes)`, async () => {
  await withDirs((dirs) => fuzzSection("truncate", sectionSize(CTX, "truncate"), "fuzz truncate", dirs));
});

Deno.test("fuzz: every size field set to unknown, FF, 0x00, 0, 2^56-2, +1, -1 and the width's maximum", async () => {
  await withDirs((dirs) => fuzzSection("sizes", sectionSize(CTX, "sizes"), "fuzz size fields", dirs));
});

Deno.test("fuzz: pathological inputs (10,000-deep nesting, 2^56-byte elements, zero sizes, lacing, timing)", async () => {
  await withDirs((dirs) => fuzzSection("patho", sectionSize(CTX, "patho"), "fuzz pathological", dirs));
});

Deno.test(`fuzz: ${RANDOM_CASES} random mutants (seed ${SEED})`, async () => {
  await withDirs((dirs) => fuzzSection("random", RANDOM_CASES, "fuzz random", dirs));
});

// ---------------------------------------------------------------------------
// Memory: a 2^56-byte declared element that really streams in

const MiB = 1 << 20;

function clusterPrefix(): Uint8Array {
  const s = connectStream({ fragments: 1, blocksPerTrack: 2, samplesPerBlock: 16 }).bytes;
  const tk = new EbmlTokenizer();
  const out: EbmlToken[] = [];
  tk.push(s, out);
  return s.subarray(0, out.find((t) => t.name === "SimpleBlock")!.offset);
}

/** `head`, then `mib` fresh 1 MiB chunks (calling `sample` every 4). */
async function* streamed(head: Uint8Array, mib: number, sample: () => void): AsyncGenerator<Uint8Array> {
  yield head;
  for (let i = 0; i < mib; i++) {
    yield new Uint8Array(MiB).fill(i & 0xff);
    if (i % 4 === 0) sample();
  }
}

Deno.test("fuzz: memory stays bounded by the bytes that arrived, never by a declared 2^56-byte size", async () => {
  const prefix = clusterPrefix();
  const huge = sizeVint((1n << 56n) - 2n, 8);
  const arrived = 48;
  for (
    const [name, id] of [["SimpleBlock", ID.SimpleBlock], ["Void", ID.Void], ["unknown id 0x4321", 0x4321]] as const
  ) {
    // Header then end of input: nothing is allocated for the declared size.
    const head = concat([prefix, encodeId(id), huge]);
    const rss0 = Deno.memoryUsage().rss;
    const tk = new EbmlTokenizer();
    const toks: EbmlToken[] = [];
    tk.push(head, toks);
    if (id === ID.SimpleBlock) {
      // A kept value that could never be taken: refused at the end of input.
      assert.ok(catchError(() => tk.end(toks)) instanceof DataError, name);
    } else {
      tk.end(toks);
      const cut = toks.find((t) => t.id === id && t.truncated);
      assert.ok(cut, `${name}: a truncated token for the huge element`);
      assert.equal(cut.size, 2 ** 56 - 2);
    }
    assert.ok(Deno.memoryUsage().rss - rss0 < 64 * MiB, `${name}: RSS grew with only the header read`);

    // Then 48 MiB really arrive in 1 MiB chunks: growth follows them, not the 2^56 bytes declared.
    let peak = Deno.memoryUsage().rss;
    const start = peak;
    const sample = () => peak = Math.max(peak, Deno.memoryUsage().rss);
    const frags: Fragment[] = [];
    const t0 = performance.now();
    let error: unknown;
    try {
      for await (const f of assembleFragments(streamed(head, arrived, sample), { source: "huge" })) frags.push(f);
    } catch (e) {
      error = e;
    }
    peak = Math.max(peak, Deno.memoryUsage().rss);
    const growth = peak - start;
    console.log(
      `fuzz memory: ${name} declared 2^56-2 bytes, ${arrived} MiB arrived: RSS +${(growth / MiB).toFixed(0)} MiB, ` +
        `${(performance.now() - t0).toFixed(0)} ms`,
    );
    if (id === ID.SimpleBlock) {
      // A kept value: refused once more than 16 MiB of it arrived.
      assert.ok(error instanceof DataError, `${name}: ${error}`);
      assert.match(
        error.message,
        /^huge: byte \d+: SimpleBlock: \d+ bytes, more than the 16777216 kept of one element$/,
      );
      assert.equal(frags.length, 0);
    } else if (id !== ID.Void) {
      // A Cluster child of an unknown id whose declared size runs past the end: damaged data, not a cut (as a
      // damaged Segment child: tests/mkv_test.ts).
      assert.ok(error instanceof DataError, `${name}: ${error}`);
      assert.match(error.message, /^huge: byte \d+: 0x4321: the input ends inside an unknown element declared/);
      assert.equal(frags.length, 0);
    } else {
      // Void past the end is a cut.
      assert.equal(error, undefined);
      assert.equal(frags.length, 1);
      assert.equal(frags[0].complete, false, `${name}: the fragment is flagged truncated`);
    }
    assert.ok(growth < arrived * MiB + HUGE_RSS_LIMIT, `${name}: RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
  }
});

// ---------------------------------------------------------------------------
// The real CLI

function listTree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    out.push(`${prefix}${e.name}${e.isDirectory ? "/" : ""}`);
    if (e.isDirectory) out.push(...listTree(`${dir}/${e.name}`, `${prefix}${e.name}/`));
  }
  return out.sort();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no exit after ${ms / 1000} s (hang)`)), ms);
    }),
  ]);
}

function hasErrorFragmentTag(bytes: Uint8Array): boolean {
  const text = new TextDecoder("latin1").decode(bytes);
  return text.includes("AWS_KINESISVIDEO_ERROR_CODE") || text.includes("AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE");
}

function checkCliResult(
  what: string,
  res: { code: number; stdoutText: string; stderr: string },
  allowed: number[],
): string[] {
  const p: string[] = [];
  const lines = res.stderr.split("\n").filter((l) => l !== "");
  if (!allowed.includes(res.code)) p.push(`exit code ${res.code} (allowed ${allowed.join(", ")})`);
  // Success may come with warnings (a truncated last fragment, odd bytes), one
  // line each; a failure is exactly one line.
  const warnings = lines.filter((l) => l.startsWith("kvsaudio: warning: "));
  if (res.code === 0 && warnings.length < lines.length) p.push("stderr not empty on success (other than warnings)");
  if (res.code !== 0 && lines.length !== 1) p.push(`no one-line error on stderr (${lines.length} lines)`);
  if (lines.some((l) => !l.startsWith("kvsaudio:"))) p.push("stderr line not starting with kvsaudio:");
  if (res.code === 3 && !/\bbyte \d+\b/.test(lines[0] ?? "")) p.push('data error without "byte <n>"');
  if (/^\s+at /m.test(res.stderr) || /^\s+at /m.test(res.stdoutText)) p.push("stack trace printed");
  if (/internal error/.test(res.stderr)) p.push("internal error");
  return p.map((x) => `${what}: ${x}${lines.length ? ` | stderr: ${lines.join(" / ").slice(0, 300)}` : ""}`);
}

function checkWavFile(path: string): string | undefined {
  const [head, size] = readHead(path);
  return checkWavHead(path, head, size).problem;
}

Deno.test(`fuzz: the CLI (inspect, extract) on ${CLI_CASES} mutants: exit 0 or 3, one stderr line, files only in --out`, async () => {
  const rootBefore = listTree(ROOT).filter((p) => !p.startsWith("node_modules/") && !p.startsWith(".git/"));
  const cases = Array.from({ length: CLI_CASES }, (_, k) => makeCase(CTX, "cli", k));
  const problems: string[] = [];
  const known: string[] = [];
  const codes = new Map<string, number>();
  const t0 = performance.now();
  await pool(cases, 3, async (c, k) => {
    const tmp = await Deno.makeTempDir({ prefix: "kvsaudio-fuzz-cli-" });
    const found: string[] = [];
    try {
      const input = `${tmp}/in.mkv`;
      await Deno.writeFile(input, c.bytes);
      // inspect --json for every mutant; the text and --tree forms for some.
      const modes = [["--json"], ...(k % 10 === 1 ? [[]] : k % 10 === 6 ? [["--tree"]] : [])];
      for (const [m, mode] of modes.entries()) {
        const inspectStdin = (k + m) % 2 === 1;
        const insp = await withTimeout(
          kvsaudio(["inspect", ...mode, inspectStdin ? "-" : input], inspectStdin ? { stdin: c.bytes } : {}),
          60000,
          `inspect ${c.id}`,
        );
        const key = `inspect ${mode[0] ?? "(text)"} ${insp.code}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
        found.push(...checkCliResult(`inspect ${mode.join(" ")}${inspectStdin ? " (stdin)" : ""}`, insp, [0, 3]));
        if (mode[0] === "--json") {
          for (const line of insp.stdoutText.split("\n").filter((l) => l !== "")) {
            try {
              JSON.parse(line);
            } catch {
              found.push(`inspect --json: stdout line is not JSON: ${line.slice(0, 120)}`);
            }
          }
        }
        if (JSON.stringify(listTree(tmp)) !== JSON.stringify(["in.mkv"])) {
          found.push(`inspect wrote files: ${listTree(tmp).join(", ")}`);
        }
      }

      const out = `${tmp}/out`;
      const extractStdin = k % 4 >= 2;
      const extra = k % 5 === 0 ? ["--json"] : [];
      const ex = await withTimeout(
        kvsaudio(
          ["extract", extractStdin ? "-" : input, "--out", out, ...extra],
          extractStdin ? { stdin: c.bytes } : {},
        ),
        60000,
        `extract ${c.id}`,
      );
      codes.set(`extract ${ex.code}`, (codes.get(`extract ${ex.code}`) ?? 0) + 1);
      const allowed = hasErrorFragmentTag(c.bytes) ? [0, 3, 5] : [0, 3];
      found.push(...checkCliResult(`extract${extractStdin ? " (stdin)" : ""} ${extra.join(" ")}`, ex, allowed));
      const files = listTree(tmp);
      const allowedFiles = ["in.mkv", "out/", "out/from_customer.wav", "out/to_customer.wav"];
      const stray = files.filter((f) => !allowedFiles.includes(f));
      if (stray.length) found.push(`extract wrote outside the expected outputs: ${stray.join(", ")}`);
      for (const name of ["from_customer.wav", "to_customer.wav"]) {
        if (!files.includes(`out/${name}`)) {
          if (ex.code === 0) found.push(`extract exit 0 without out/${name}`);
          continue;
        }
        const bad = checkWavFile(`${out}/${name}`);
        if (bad) found.push(`extract: ${bad}`);
      }
    } catch (e) {
      found.push(`harness: ${(e as Error).message}`);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
    for (const f of found) {
      const line = `${c.id} [${c.kind}] ${c.desc.slice(0, 200)}: ${f}` +
        (c.bytes.length <= 400 ? ` | hex ${hex(c.bytes)}` : "");
      (knownAs(f) !== undefined ? known : problems).push(line);
    }
  });
  const rootAfter = listTree(ROOT).filter((p) => !p.startsWith("node_modules/") && !p.startsWith(".git/"));
  const added = rootAfter.filter((p) => !rootBefore.includes(p));
  console.log(
    `fuzz CLI: ${CLI_CASES} mutants x (inspect, extract), seed ${SEED_TEXT}, ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s; ` +
      `exit codes: ${[...codes].sort().map(([k, n]) => `${k}: ${n}`).join(", ")}; known failures: ${known.length}`,
  );
  assert.deepEqual(added, [], "files appeared in the repository");
  assert.equal(problems.length, 0, `CLI problems (seed ${SEED_TEXT}):\n${problems.slice(0, 20).join("\n")}`);
});

// ---------------------------------------------------------------------------
// Known failures and the summary

Deno.test(`fuzz: KNOWN_FAILURES still fail (${KNOWN_FAILURES.length}; remove an entry once its bug is fixed)`, async () => {
  if (KNOWN_FAILURES.length === 0) return;
  await withTempDir("kvsaudio-fuzz-known-", async (dir) => {
    const run = await runSection(
      { seed: SEED, section: "explicit", dir, explicit: KNOWN_FAILURES.map((k) => ({ name: k.name, hex: k.hex })) },
      0,
      KNOWN_FAILURES.length,
    );
    const byId = new Map([...run.results, ...run.hangs].map((r) => [r.id, r]));
    for (const r of byId.values()) if (r.reproFile) Deno.removeSync(r.reproFile);
    const fixed: string[] = [];
    for (let i = 0; i < KNOWN_FAILURES.length; i++) {
      const k = KNOWN_FAILURES[i];
      const r = byId.get(`explicit#${i}`);
      const text = r?.failures.join("; ") ?? "";
      console.log(`fuzz known failure "${k.name}": ${r?.outcome === "failure" ? text.slice(0, 300) : "now passes"}`);
      if (!r || r.outcome !== "failure" || !k.match.test(text)) fixed.push(k.name);
    }
    assert.deepEqual(fixed, [], "these KNOWN_FAILURES no longer fail as recorded: remove them from the list");
  });
});

Deno.test("fuzz: summary", () => {
  console.log(TOTAL.report("fuzz total (in-process sections run in this process)"));
  console.log(
    `fuzz: per-case time limit ${CASE_TIME_LIMIT_MS} ms; RSS limit on huge cases ${HUGE_RSS_LIMIT / MiB} MiB`,
  );
});

Deno.test(`fuzz: regressions of fixed bugs (${REGRESSIONS.length}) end in an allowed outcome`, async () => {
  await withTempDir("kvsaudio-fuzz-regress-", async (dir) => {
    const run = await runSection(
      { seed: SEED, section: "explicit", dir, explicit: REGRESSIONS.map((k) => ({ name: k.name, hex: k.hex })) },
      0,
      REGRESSIONS.length,
    );
    const byId = new Map([...run.results, ...run.hangs].map((r) => [r.id, r]));
    for (let i = 0; i < REGRESSIONS.length; i++) {
      const r = byId.get(`explicit#${i}`);
      assert.ok(r, `no result for ${REGRESSIONS[i].name}`);
      assert.notEqual(r.outcome, "failure", `${REGRESSIONS[i].name}: ${r.failures.join("; ")}`);
    }
  });
});
