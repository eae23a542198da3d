/**
 * The done event of a `pull` or `extract` refused before its run exists (an
 * option error such as `--tracks foo`, an unknown option, a bad INI file),
 * so that with `--json` every run ends with
 * `{"event":"done",…}`, as runs refused later do ({@linkcode CallRun.refused}).
 *
 * @example
 * ```ts
 * import { earlyDone } from "./early_done.ts";
 * import { UsageError } from "../errors.ts";
 * const done = earlyDone("extract", ["call.mkv", "--json", "--tracks", "foo"], new UsageError("bad --tracks"));
 * done?.line; // '{"event":"done","reason":"error",…,"exitCode":2,"message":"bad --tracks"}'
 * ```
 * @module
 */

import type { KvsAudioError } from "../errors.ts";
import { clip, hideSecrets, jsonLine } from "./sanitize.ts";
import type { Values } from "./args.ts";
import { fromConfig } from "./configured.ts";

/** Errors whose run printed its own done event (or knew it needs none). */
const announced = new WeakSet<object>();

/** What the options said (config file included) for errors raised once they were read. */
const resolved = new WeakMap<object, { json: boolean; toStderr: boolean; token?: string }>();

/**
 * A continuation token as KVS makes them (`pull --continuation-token`).
 *
 * @example
 * ```ts
 * import { CONTINUATION_TOKEN } from "./early_done.ts";
 * CONTINUATION_TOKEN.test("91343852333181551234925834077012571618243808844"); // true
 * ```
 */
export const CONTINUATION_TOKEN = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * The `--continuation-token` a pull starts from, if it is one: the done event
 * gives it back while no fragment is written, so a script keeps its place.
 *
 * @example
 * ```ts
 * import { startToken } from "./early_done.ts";
 * startToken({ "continuation-token": "91343852333181551234925834077012571618243808844" }); // that token
 * ```
 */
export function startToken(values: Record<string, unknown>): string | undefined {
  const t = values["continuation-token"];
  if (typeof t !== "string" || !CONTINUATION_TOKEN.test(t)) return undefined;
  // A config file's token gives way to another start given as a flag (as the pull's plan has it): the run
  // does not start from it, so it is no token to give back.
  const configured = fromConfig(values as Values);
  if (configured.has("continuation-token")) {
    for (const k of OTHER_STARTS) if (values[k] !== undefined && !configured.has(k)) return undefined;
  }
  return t;
}

/** The starts other than a continuation token. */
const OTHER_STARTS = ["start-fragment", "start-timestamp", "start", "after-fragment"] as const;

/**
 * Note, for `e` raised once the command line and config file were read, what
 * `values` say about `--json`, `--out -` and `--continuation-token`; returns
 * `e` (to rethrow).
 */
export function withOptions(e: unknown, values: Record<string, unknown>): unknown {
  if (typeof e === "object" && e !== null) {
    resolved.set(e, { json: values.json === true, toStderr: values.out === "-", token: startToken(values) });
  }
  return e;
}

/** Errors whose done event went to standard error with the other events: no text line after it there. */
const inEvents = new WeakSet<object>();

/**
 * Note that `e`'s run has ended with its own done event; `onStderr` when
 * that went to standard error (`--json` with `--out -`), where the error's
 * text line would break the NDJSON stream (the event holds its message).
 */
export function markAnnounced(e: object, onStderr = false): void {
  announced.add(e);
  if (onStderr) inEvents.add(e);
}

/** Whether `e` was told in a done event on standard error (see {@linkcode markAnnounced}). */
export function toldInEvents(e: object): boolean {
  return inEvents.has(e);
}

/**
 * The done event line for `e` when `command` is `pull` or `extract`, no run
 * announced `e`, and `--json` was given: as the options said
 * ({@linkcode withOptions}), else as `args` say (before `--`); `toStderr`
 * when the audio goes to stdout (`--out -`), as the events of a run do then.
 */
export function earlyDone(
  command: string | undefined,
  args: string[],
  e: KvsAudioError,
): { line: string; toStderr: boolean } | undefined {
  if ((command !== "pull" && command !== "extract") || announced.has(e)) return undefined;
  const known = resolved.get(e);
  let json = known?.json ?? false, toStderr = known?.toStderr ?? false, token = known?.token;
  // Refused while reading the options: the command line is all there is to go by.
  for (let i = 0; !known && i < args.length && args[i] !== "--"; i++) {
    const a = args[i];
    if (a === "--json") json = true;
    else if (a === "--no-json") json = false;
    else if (a === "--out" || a === "-o") toStderr = args[i + 1] === "-";
    else if (a.startsWith("--out=")) toStderr = a === "--out=-";
    else if (a === "--continuation-token") token = startToken({ "continuation-token": args[i + 1] });
    else if (a.startsWith("--continuation-token=")) {
      token = startToken({ "continuation-token": a.slice("--continuation-token=".length) });
    }
  }
  if (!json) return undefined;
  const zero = { from_customer: 0, to_customer: 0 };
  const event = {
    event: "done",
    reason: "error",
    fragments: 0,
    lastFragmentNumber: null,
    continuationToken: command === "pull" ? token ?? null : null,
    samples: zero,
    contactId: null,
    stopFragmentNumber: null,
    rate: 8000,
    seconds: zero,
    gaps: zero,
    gapSeconds: zero,
    overlapFrames: zero,
    files: [],
    exitCode: e.exitCode,
    message: clip(e.message, 2000),
  };
  return { line: hideSecrets(jsonLine(event)), toStderr };
}
