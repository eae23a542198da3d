/**
 * `kvsaudio extract FILE|- --out DIR`: the pull pipeline on a saved GetMedia
 * body — tokenizer → fragment assembler → Connect demuxer → WAV sinks.
 *
 * @example
 * ```ts
 * import { extractCommand } from "./extract.ts";
 * const code = await extractCommand(["call.mkv", "--out", "out", "--stereo", "--force"]);
 * ```
 * @module
 */

import { assembleFragments } from "../mkv/assembler.ts";
import { demuxConnect } from "../connect/demuxer.ts";
import { DataError, KvsAudioError, UsageError } from "../errors.ts";
import { CallWriter } from "../audio/call_writer.ts";
import { flag, parseCommand, str } from "./args.ts";
import { EXTRACT_OPTIONS } from "./command_options.ts";
import { applyConfig, CONFIG_HELP } from "./config.ts";
import { openInput } from "./input.ts";
import { onInterrupt } from "./signals.ts";
import { Reporter } from "./report.ts";
import { printOut } from "./output.ts";
import { callHelp, outputOptions } from "./output_options.ts";
import { CallRun, warnLeftOver } from "./call_run.ts";
import { withOptions } from "./early_done.ts";

/** Longest time between WAV header rewrites while input keeps coming (ms). */
const COMMIT_INTERVAL_MS = 100;

/** Help text of `extract`. */
export const EXTRACT_HELP = `Usage: kvsaudio extract FILE|- --out DIR [options]

Extract Amazon Connect call audio from a saved GetMedia body (a file, or - for
stdin): from_customer.wav (the customer's voice) and to_customer.wav (what the
customer hears), 16-bit PCM at the stream's rate, both on one timeline.

Options:
${callHelp("extract")}
${CONFIG_HELP}
  -h, --help            show this help

Exit codes: 0 done, 1 cannot write output, 2 usage, 3 bad stream data, 5 in-band KVS error fragment, 130 interrupted.
Audio written before an error or an interruption stays a valid WAV.`;

/** Run `extract`; returns the exit code. */
export async function extractCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand("extract", args, EXTRACT_OPTIONS);
  if (flag(values, "help")) {
    printOut(EXTRACT_HELP);
    return 0;
  }
  await applyConfig("extract", values, EXTRACT_OPTIONS, str(values, "config"));
  let out, writer;
  try {
    if (positionals.length !== 1) throw new UsageError("extract: give exactly one input (a file, or - for stdin)");
    out = outputOptions("extract", values);
    // Input read faster than real time: rewrite the WAV headers at most every
    // 100 ms instead of after each fragment (the files are valid at every moment
    // either way). Live input (a pipe) also commits, and shows progress,
    // whenever reading may have to wait for the writer.
    // Standard output is written in the background, so that a signal is handled while its reader does not read.
    writer = new CallWriter({ ...out.writer, commitIntervalMs: COMMIT_INTERVAL_MS, backgroundWriter: Deno.stdout });
  } catch (e) {
    throw withOptions(e, values); // for the done event of a refused --json run
  }
  const reporter = new Reporter({ json: out.json, toStderr: out.writer.outDir === "-", verbose: out.verbose });
  const name = positionals[0] === "-" ? "stdin" : positionals[0];
  const run = new CallRun(writer, reporter, name);
  run.contactId = out.contactId;
  run.skipping = out.contactId !== undefined;
  // SIGINT/SIGTERM: finalize what is written and exit 130 (also while a FIFO waits for its writer).
  const removeSignals = onInterrupt((sig) => run.interrupted(sig));
  let input;
  try {
    // Refuse to overwrite before anything else; create the directory only once the input is open.
    writer.refuseExisting();
    input = await openInput(positionals[0]);
    warnLeftOver(writer, reporter);
    writer.createDirectory();
  } catch (e) {
    removeSignals();
    // With --json, a run refused before it began still ends with its done event.
    if (e instanceof KvsAudioError) return run.refused(e);
    throw e;
  }
  input.whenIdle = () => {
    writer.commit();
    reporter.flush();
  };
  try {
    // A fragment is decided only at its document's end: when the next one begins, or the input ends (not
    // eagerly at KVS's tags after the Cluster: a tag after them, e.g. a ContactId, would be lost). From a
    // live pipe the last fragment therefore waits for the next; SIGINT leaves it out.
    const items = demuxConnect(assembleFragments(input.chunks, { source: input.name }), {
      contactId: out.contactId,
      followStream: out.followStream,
      maxGapMs: out.maxGapMs,
      // A saved body may hold several contacts: --contact-id picks one out.
      skipUntilContact: out.contactId !== undefined,
      source: input.name,
    });
    for await (const item of items) {
      run.item(item);
      // The fragment is written: its input buffers may be reused.
      if (item.kind === "audio") input.release(item.fragment.offset + item.fragment.size);
      const backlog = writer.backlog();
      if (backlog) await backlog;
    }
    if (out.contactId !== undefined && run.skipped > 0 && !run.found) {
      throw run.missingContact(out.contactId, input.name);
    }
    // (A stream with blocks on no Connect-named track: demuxConnect ended it with its not-Connect error.)
    await writer.finish();
    return run.done();
  } catch (e) {
    if (e instanceof DataError && e.source === undefined) e.withSource(input.name);
    // The audio before bad data still reaches standard output (a failed write to it is the error itself).
    if (e instanceof KvsAudioError) await writer.finish(false).catch(() => {});
    if (e instanceof KvsAudioError) return run.failed(e);
    throw e;
  } finally {
    removeSignals();
  }
}
