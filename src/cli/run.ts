/**
 * Command dispatch and the error policy of the CLI: every failure is one line
 * on stderr (`kvsaudio: …`) and an exit code; never a stack trace unless
 * `KVSAUDIO_DEBUG=1`.
 *
 * @example
 * ```ts
 * import { run } from "./run.ts";
 * const code = await run(["inspect", "call.mkv"]);
 * ```
 * @module
 */

import { errorMessage, ExitCode, KvsAudioError, UsageError } from "../errors.ts";
import { earlyDone, toldInEvents } from "./early_done.ts";
import { blameConfig } from "./configured.ts";
import { printOut, say, warn } from "./output.ts";
import { displayText, hideSecrets } from "./sanitize.ts";
import { VERSION } from "./version.ts";

/** Top-level help. */
export const MAIN_HELP = `kvsaudio ${VERSION} — Amazon Connect call audio from Kinesis Video Streams to WAV

Usage: kvsaudio COMMAND [OPTIONS]
  kvsaudio pull --arn ARN --start-fragment N [--contact-id ID] --out DIR   pull a call from KVS
  kvsaudio extract FILE|- --out DIR [--stereo] [--format wav|raw]           extract a saved GetMedia body
  kvsaudio inspect FILE|- [--tree | --json]                                 list fragments, tags and tracks

Run 'kvsaudio COMMAND --help' for a command's options.

Exit codes: 0 done, 1 cannot write output, 2 usage, 3 bad stream data, 4 AWS error, 5 in-band KVS error, 130 interrupted.`;

/** Run the CLI with `args`; returns the process exit code. */
export async function run(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case undefined:
        // No command: the help goes to stderr, like any usage error, and stdout stays empty.
        warn(MAIN_HELP);
        return ExitCode.usage;
      case "help":
        // `kvsaudio help pull` = `kvsaudio pull --help`.
        if (rest.length > 0 && ["pull", "extract", "inspect"].includes(rest[0])) return await run([rest[0], "--help"]);
        // (`help help`, `help version`: the main help; anything else is no command.)
        if (rest.length > 0 && !["help", "version"].includes(rest[0])) return await run([rest[0]]);
        printOut(MAIN_HELP);
        return 0;
      case "-h":
      case "--help":
        printOut(MAIN_HELP);
        return 0;
      case "--version":
      case "version":
        printOut(VERSION);
        return 0;
      case "inspect": {
        const { inspectCommand } = await import("./inspect.ts");
        return await inspectCommand(rest);
      }
      case "extract": {
        const { extractCommand } = await import("./extract.ts");
        return await extractCommand(rest);
      }
      case "pull": {
        const { pullCommand } = await import("./pull.ts");
        return await pullCommand(rest);
      }
      default:
        throw new UsageError(`unknown command '${command}' (commands: pull, extract, inspect; see 'kvsaudio --help')`);
    }
  } catch (e) {
    // With --json, a pull or extract refused before its run existed still ends with a done event.
    if (e instanceof KvsAudioError) {
      blameConfig(e);
      const done = earlyDone(command, rest, e);
      if (done) say(done.line, done.toStderr ? Deno.stderr : Deno.stdout);
      // On standard error with the events, the done event (its exitCode and message) is the error's one line.
      if (done?.toStderr || toldInEvents(e)) return e.exitCode;
    }
    return report(e);
  }
}

/** Print an error as one line and return its exit code. */
export function report(e: unknown): number {
  if (e instanceof Deno.errors.BrokenPipe) return 0;
  // The debug dump holds causes as the SDK or a server wrote them: hide credentials there too.
  if (Deno.env.get("KVSAUDIO_DEBUG") === "1") warn(hideSecrets(Deno.inspect(e, { depth: 8 })));
  // Messages may quote stream data (an in-band error code): one escaped, bounded line.
  if (e instanceof KvsAudioError) {
    // (The end kept: it says why, after a path however long.)
    warn(`kvsaudio: ${displayText(hideSecrets(e.message), 2000, 400)}`);
    return e.exitCode;
  }
  const msg = errorMessage(e);
  warn(
    `kvsaudio: internal error: ${
      displayText(hideSecrets(msg.split("\n")[0]), 2000)
    } (set KVSAUDIO_DEBUG=1 for details)`,
  );
  return ExitCode.failure;
}
