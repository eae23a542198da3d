/**
 * Options shared by `extract` and `pull`: where and how audio is written, and
 * which contact is followed.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * import { CALL_OPTIONS, outputOptions } from "./output_options.ts";
 * const { values } = parseCommand("extract", ["--out", "out", "--stereo"], CALL_OPTIONS);
 * outputOptions("extract", values).writer.stereo; // true
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import type { CallWriterOptions, TrackChoice } from "../audio/call_writer.ts";
import { choice, flag, num, type OptionSpec, str, type Values } from "./args.ts";
import { giveWay, settle } from "./configured.ts";

/** The option specs. */
export const CALL_OPTIONS: OptionSpec = {
  out: { type: "string", short: "o" },
  stereo: { type: "boolean" },
  format: { type: "string" },
  tracks: { type: "string" },
  force: { type: "boolean", short: "f" },
  append: { type: "boolean" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  "contact-id": { type: "string" },
  "follow-stream": { type: "boolean" },
  "max-gap": { type: "string" },
};

/** Help lines for {@linkcode CALL_OPTIONS}, as `command` takes them. */
export function callHelp(command: "pull" | "extract"): string {
  return CALL_HELP.replace(
    CONTACT_ID_HELP,
    command === "extract"
      ? `it ends the run (default: the first fragment's ContactId); the fragments
                        before its first are skipped (a saved body may hold several contacts;
                        exit 2 if it is not there)`
      : `it ends the run (default: the first fragment's ContactId); from a fragment
                        number: exit 2 if another's comes first; from a time, the fragments
                        before its first are skipped (exit 2 if it never comes)`,
  );
}

const CONTACT_ID_HELP = `it ends the run (default: the first fragment's ContactId); extract skips
                        the fragments before its first (a saved body may hold several contacts;
                        exit 2 if it is not there); pull from a fragment number: exit 2
                        if another's comes first; pull from a time skips as extract does`;

const CALL_HELP = `  -o, --out DIR         output directory (created if missing), or - to write audio to stdout
  --stereo              also write stereo.wav (left = from customer, right = to customer);
                        with --out -, write the stereo mix
  --format wav|raw      WAV files (default) or headerless s16le
  --tracks both|from|to mono tracks to write (default both; with --out -, pick one)
  -f, --force           overwrite existing output files
  --append              continue existing output files (e.g. a run resumed from its done
                        event's continuation token): each is cut to what its header counts,
                        and this run's audio follows where the longest output ends (silence
                        in between), so the tracks stay on one timeline
  --json                NDJSON events on stdout (stderr with --out -), ending with {"event":"done",…}
  -v, --verbose         a line per fragment
  -q, --quiet           no progress output
  --contact-id ID       only this contact's audio: the first fragment of another contact after
                        it ends the run (default: the first fragment's ContactId); extract skips
                        the fragments before its first (a saved body may hold several contacts;
                        exit 2 if it is not there); pull from a fragment number: exit 2
                        if another's comes first; pull from a time skips as extract does
  --follow-stream       do not stop when the ContactId changes
  --max-gap SECONDS     longest gap in the whole call filled with silence (default 60); longer
                        ones are skipped on both tracks and reported (one track's gap while
                        the other has audio is always filled, so both stay aligned)`;

/** Parsed shared options. */
export interface CallOutputOptions {
  /** For the CallWriter. */
  writer: CallWriterOptions;
  /** NDJSON events. */
  json: boolean;
  /** A line per fragment. */
  verbose: boolean;
  /** No progress output. */
  quiet: boolean;
  /** Target ContactId. */
  contactId?: string;
  /** Ignore ContactId changes. */
  followStream: boolean;
  /** Longest gap filled, in ms. */
  maxGapMs: number;
}

/** Read the shared options from parsed values. */
export function outputOptions(command: string, values: Values): CallOutputOptions {
  const outDir = str(values, "out");
  if (outDir === undefined || outDir === "") {
    throw new UsageError(`${command}: --out DIR is required (or --out - for stdout)`);
  }
  let tracks: TrackChoice = choice(command, values, "tracks", ["both", "from", "to"], "both");
  const format = choice(command, values, "format", ["wav", "raw"], "wav");
  let stereo = flag(values, "stereo");
  if (outDir === "-" && tracks !== "both" && stereo) {
    // A config file's default gives way to the flag it excludes.
    const refusal = `${command}: with --out -, use either --tracks ${tracks} or --stereo, not both`;
    if (settle(values, "tracks", "stereo", refusal) === "tracks") tracks = "both";
    else stereo = false;
  }
  if (outDir === "-" && tracks === "both" && !stereo) {
    throw new UsageError(`${command}: with --out -, choose one track (--tracks from|to) or the mix (--stereo)`);
  }
  let contactId = str(values, "contact-id");
  if (contactId !== undefined && contactId.trim() === "") throw new UsageError(`${command}: --contact-id is empty`);
  let followStream = flag(values, "follow-stream");
  if (contactId !== undefined && followStream) {
    const refusal = `${command}: --contact-id and --follow-stream cannot be combined`;
    if (settle(values, "contact-id", "follow-stream", refusal) === "contact-id") contactId = undefined;
    else followStream = false;
  }
  let force = flag(values, "force");
  let append = flag(values, "append");
  if (force && append) {
    if (settle(values, "force", "append", `${command}: --append and --force cannot be combined`) === "force") {
      force = false;
    } else append = false;
  }
  if (append && outDir === "-") {
    if (giveWay(values, "append", "out") === "append") append = false;
    else throw new UsageError(`${command}: --append continues files in an output directory, not --out -`);
  }
  return {
    writer: { outDir, format, stereo, tracks, force, append, optionStyle: "cli" },
    json: flag(values, "json"),
    verbose: flag(values, "verbose"),
    quiet: flag(values, "quiet"),
    contactId,
    followStream,
    maxGapMs: (num(command, values, "max-gap", 60) as number) * 1000,
  };
}
