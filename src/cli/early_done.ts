/**
 * The done event of a `pull` or `extract` refused before its run exists (an
 * option error such as `--tracks foo`, an unknown option, a bad INI file),
 * so that with `--json` on the command line every run ends with
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

/** Errors whose run printed its own done event (or knew it needs none). */
const announced = new WeakSet<object>();

/** Note that `e`'s run has ended with its own done event. */
export function markAnnounced(e: object): void {
  announced.add(e);
}

/**
 * The done event line for `e` when `command` is `pull` or `extract`, `--json`
 * is among `args` (before `--`) and no run announced `e`; `toStderr` when the
 * audio goes to stdout (`--out -`), as the events of a run do then.
 */
export function earlyDone(
  command: string | undefined,
  args: string[],
  e: KvsAudioError,
): { line: string; toStderr: boolean } | undefined {
  if ((command !== "pull" && command !== "extract") || announced.has(e)) return undefined;
  let json = false, toStderr = false;
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    const a = args[i];
    if (a === "--json") json = true;
    else if (a === "--out" || a === "-o") toStderr = args[i + 1] === "-";
    else if (a.startsWith("--out=")) toStderr = a === "--out=-";
  }
  if (!json) return undefined;
  const zero = { from_customer: 0, to_customer: 0 };
  const event = {
    event: "done",
    reason: "error",
    fragments: 0,
    lastFragmentNumber: null,
    continuationToken: null,
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
