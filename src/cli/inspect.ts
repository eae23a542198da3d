/**
 * `kvsaudio inspect FILE|-`: one line per fragment and a summary; `--tree`
 * for each fragment's element tree; `--json` for NDJSON.
 *
 * @example
 * ```ts
 * import { inspectCommand } from "./inspect.ts";
 * await inspectCommand(["--json", "call.mkv"]);
 * ```
 * @module
 */

import { assembleFragments } from "../mkv/assembler.ts";
import type { Fragment } from "../mkv/fragment.ts";
import type { ElementNode } from "../mkv/tree.ts";
import { DataError, UsageError } from "../errors.ts";
import { flag, parseCommand, str } from "./args.ts";
import { INSPECT_OPTIONS } from "./command_options.ts";
import { applyConfig } from "./config.ts";
import { settle } from "./configured.ts";
import { openInput } from "./input.ts";
import { isoTime, LineWriter, printOut, timeMsOrNull } from "./output.ts";
import { clip, clipOrNull, displayText, hexPreview, jsonLine } from "./sanitize.ts";

/** Help text of `inspect`. */
export const INSPECT_HELP = `Usage: kvsaudio inspect FILE|- [--tree | --json]

Read a saved GetMedia body (or any MKV file; - for stdin) and print one line
per fragment: index, byte offset, size, fragment number, producer time,
ContactId, blocks per track, duration and flags; then a summary.

Options:
  --tree         print each fragment's element tree instead (offset, size, name, value)
  --json         print NDJSON: one object per fragment, then a {"summary": ...} object
  --config FILE  INI file with defaults for any long option (default ./kvsaudio.ini);
                 --no-FLAG turns off a flag it turns on (--no-json)
  -h, --help     show this help

Exit codes: 0 ok, 1 cannot write output, 2 usage, 3 bad stream data (after printing what was read),
130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP.`;

/** JSON form of a fragment (the fields `inspect --json` prints). */
export function fragmentJson(f: Fragment): Record<string, unknown> {
  const k = f.kvs;
  // (No prototype: a tag named `constructor` or `__proto__` is a tag like any other.)
  const tags: Record<string, string | string[]> = Object.create(null);
  for (const t of f.tags) {
    const v = typeof t.value === "string" ? clip(t.value) : `hex:${hexPreview(t.value, 64)}`;
    const name = clip(t.name);
    const prev = tags[name];
    if (prev === undefined) tags[name] = v;
    else if (Array.isArray(prev)) {
      if (!prev.includes(v)) prev.push(v);
    } else if (prev !== v) tags[name] = [prev, v];
  }
  const blocks: Record<string, number> = {};
  for (const [track, n] of f.blockCounts()) blocks[String(track)] = n;
  return {
    index: f.index,
    offset: f.offset,
    size: f.size,
    complete: f.complete,
    closedBy: f.closedBy,
    fragmentNumber: clipOrNull(k.fragmentNumber),
    producerTimestamp: isoOrNull(k.producerTimestampMs),
    producerTimestampMs: timeMsOrNull(k.producerTimestampMs),
    serverTimestamp: isoOrNull(k.serverTimestampMs),
    serverTimestampMs: timeMsOrNull(k.serverTimestampMs),
    millisBehindNow: k.millisBehindNow ?? null,
    continuationToken: clipOrNull(k.continuationToken),
    errorCode: clipOrNull(k.errorCode),
    errorId: clipOrNull(k.errorId),
    contactId: clipOrNull(f.contactIds[0]),
    contactIds: f.contactIds.map((c) => clip(c)),
    instanceId: clipOrNull(f.instanceId),
    mimeType: clipOrNull(f.mimeType),
    docType: clipOrNull(f.docType),
    timecodeScale: f.timecodeScale,
    // Past 2^53 no JSON number holds it exactly: the digits, as a string.
    clusterTimecode: f.clusters[0]?.exactTimecode?.toString() ?? f.clusterTimecode ?? null,
    clusters: f.clusters.length,
    durationMs: Math.round(f.durationMs),
    tags,
    tracks: f.tracks.map((t) => ({
      number: t.number,
      uid: t.uid === undefined ? null : typeof t.uid === "bigint" ? t.uid.toString() : t.uid,
      name: clipOrNull(t.name),
      codecId: clipOrNull(t.codecId),
      codecPrivate: t.codecPrivate ? hexPreview(t.codecPrivate, 64) : null,
      type: t.type ?? null,
      audio: t.audio ?? null,
    })),
    blocks,
    unknownElements: f.unknownElements,
  };
}

/** An ISO 8601 time, or null for none or one out of a Date's range (the text column's "-"). */
function isoOrNull(ms: number | undefined): string | null {
  const iso = isoTime(ms);
  return iso === "-" ? null : iso;
}

function flagsOf(f: Fragment): string {
  let flags = "";
  if (!f.complete) flags = f.closedBy === "bad-data" ? "bad-data" : "truncated";
  if (f.isError) flags = addFlag(flags, `error=${displayText(f.kvs.errorCode!, 32)}`);
  if (f.hasTagAfterCluster()) flags = addFlag(flags, "tags-after");
  if (f.contactIds.length > 1) flags = addFlag(flags, "contact-mixed");
  const clusters = f.clusters.length;
  if (clusters === 0) flags = addFlag(flags, "no-cluster");
  if (clusters > 1) flags = addFlag(flags, `clusters=${clusters}`);
  if (f.unknownElements > 0) flags = addFlag(flags, `unknown-elements=${f.unknownElements}`);
  return flags || "-";
}

function addFlag(flags: string, flag: string): string {
  return flags === "" ? flag : flags + "," + flag;
}

/** One text line of `inspect` for a fragment (see TEXT_HEADER). */
export function textLine(f: Fragment): string {
  const k = f.kvs;
  let counts = "";
  for (const [t, n] of f.blockCounts()) counts += counts === "" ? `${t}:${n}` : `,${t}:${n}`;
  const d = f.durationMs;
  if (d !== lastDuration) {
    lastDuration = d;
    lastDurationText = padStart((d / 1000).toFixed(3), 7);
  }
  return padStart(String(f.index), 5) + "  " +
    padStart(String(f.offset), 10) + "  " +
    padStart(String(f.size), 8) + "  " +
    padEnd(displayText(k.fragmentNumber ?? "-", 64), 47) + "  " +
    padEnd(isoTime(k.producerTimestampMs), 24) + "  " +
    padEnd(displayText(f.contactIds[0] ?? "-", 64), 36) + "  " +
    padEnd(counts || "-", 11) + "  " +
    lastDurationText + "  " +
    flagsOf(f);
}

/** The duration column of the last line (fragments of a stream mostly last the same). */
let lastDuration = NaN;
let lastDurationText = "";

/** Runs of 0 … 63 spaces. */
const SPACES: readonly string[] = Array.from({ length: 64 }, (_, i) => " ".repeat(i));

/** `s.padStart(width)` for widths up to 64, without the builtin's overhead. */
function padStart(s: string, width: number): string {
  return s.length >= width ? s : SPACES[width - s.length] + s;
}

/** `s.padEnd(width)` for widths up to 64. */
function padEnd(s: string, width: number): string {
  return s.length >= width ? s : s + SPACES[width - s.length];
}

const TEXT_HEADER = [
  "index".padStart(5),
  "offset".padStart(10),
  "size".padStart(8),
  "fragment number".padEnd(47),
  "producer time".padEnd(24),
  "contact id".padEnd(36),
  "blocks".padEnd(11),
  "dur (s)".padStart(7),
  "flags",
].join("  ");

function treeLines(nodes: readonly ElementNode[], depth: number, out: LineWriter): void {
  for (const n of nodes) {
    let value = "";
    if (n.children) value = n.unknownSize ? "(master, unknown size)" : "(master)";
    else if (n.unknownElement) value = "(unknown element, skipped)";
    else if (n.value instanceof Uint8Array) {
      // (Void padding, and an attachment's bytes that did not lie in one read buffer, are not kept.)
      value = n.value.length === 0 && n.size > 0 ? "(not kept)" : `<${hexPreview(n.value, 8)}>`;
    } else if (n.value instanceof Date) value = n.value.toISOString();
    else if (typeof n.value === "string") value = `'${displayText(n.value, 80)}'`;
    else if (n.value !== undefined) value = String(n.value);
    if (n.truncated) value += " [truncated]";
    out.line(
      `${String(n.offset).padStart(10)} ${String(n.size).padStart(8)}  ${"  ".repeat(depth)}${n.name}: ${value}`,
    );
    if (n.children) treeLines(n.children, depth + 1, out);
  }
}

/** Run `inspect` with its arguments; returns the exit code. */
export async function inspectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand("inspect", args, INSPECT_OPTIONS);
  if (flag(values, "help")) {
    printOut(INSPECT_HELP);
    return 0;
  }
  await applyConfig("inspect", values, INSPECT_OPTIONS, str(values, "config"));
  if (positionals.length !== 1) throw new UsageError("inspect: give exactly one input (a file, or - for stdin)");
  let json = flag(values, "json");
  let tree = flag(values, "tree");
  if (json && tree) {
    // A config file's default gives way to the flag it excludes.
    if (settle(values, "json", "tree", "inspect: --tree and --json cannot be combined") === "json") json = false;
    else tree = false;
  }
  // No signal handler: inspect writes nothing that needs finishing, and a handler could not run while a
  // write to a full pipe (`| less`) blocks, so SIGINT/SIGTERM end it at once, as they end any filter.
  const input = await openInput(positionals[0], { signals: false });
  const out = new LineWriter(Deno.stdout);
  let fragments = 0;
  let blocks = 0;
  let incomplete = 0;
  let errors = 0;
  let bytes = 0;
  const contacts = new Set<string>();
  let first: string | undefined;
  let last: string | undefined;
  if (!json && !tree) out.line(TEXT_HEADER);
  // Live input: show the fragments done whenever reading may wait for more.
  input.whenIdle = () => out.flush();
  try {
    for await (const f of assembleFragments(input.chunks, { source: input.name, tree })) {
      show(f);
      input.release(f.offset + f.size);
    }
  } catch (e) {
    // The fragment the bad data is in, as far as it was read, before the error.
    if (e instanceof DataError && e.fragment !== undefined) show(e.fragment);
    out.flush();
    if (e instanceof DataError && e.source === undefined) e.withSource(input.name);
    throw e;
  }
  function show(f: Fragment): void {
    fragments++;
    blocks += f.blockTable.length;
    bytes = f.offset + f.size;
    if (!f.complete) incomplete++;
    if (f.isError) errors++;
    // Every ContactId value: the one before the Cluster may differ from the one after.
    for (const t of f.tags) {
      if (t.name === "ContactId" && typeof t.value === "string" && t.value) contacts.add(t.value);
    }
    const fn = f.kvs.fragmentNumber;
    if (fn !== undefined) {
      first ??= fn;
      last = fn;
    }
    if (json) out.line(jsonLine(fragmentJson(f)));
    else if (tree) {
      const state = f.closedBy === "bad-data" ? ", bad data at its end" : f.complete ? "" : ", truncated";
      out.line(`fragment ${f.index} at byte ${f.offset} (${f.size} bytes${state})`);
      treeLines(f.tree ?? [], 1, out);
    } else out.line(textLine(f));
  }
  const summary = {
    fragments,
    blocks,
    bytes,
    incomplete,
    errorFragments: errors,
    contactIds: Array.from(contacts, (c) => clip(c)),
    firstFragmentNumber: clipOrNull(first),
    lastFragmentNumber: clipOrNull(last),
  };
  if (json) out.line(jsonLine({ summary }));
  else {
    out.line(
      `${fragments} fragment(s), ${blocks} block(s), ${bytes} bytes; ${incomplete} truncated, ${errors} error fragment(s)`,
    );
    out.line(`contact ids: ${Array.from(contacts, (c) => displayText(c, 64)).join(", ") || "-"}`);
    if (first !== undefined) out.line(`fragment numbers: ${displayText(first, 64)} … ${displayText(last!, 64)}`);
  }
  out.flush();
  return 0;
}
