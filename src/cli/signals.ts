/**
 * SIGINT/SIGTERM/SIGHUP handling: run a synchronous finalizer (commit and close the
 * WAVs), print a line, and exit 130. All writes are synchronous, so at any
 * signal the sinks are between writes and can be closed consistently.
 *
 * @example
 * ```ts
 * import { onInterrupt } from "./signals.ts";
 * const remove = onInterrupt(() => console.error("finalized"));
 * // … work …
 * remove();
 * ```
 * @module
 */

import { ExitCode, KvsAudioError } from "../errors.ts";
import { toldInEvents } from "./early_done.ts";
import { report } from "./run.ts";
import { atExit, stopDescendants } from "./children.ts";

/** Install the handler; returns a function that removes it. */
export function onInterrupt(finalize: (signal: Deno.Signal) => void): () => void {
  // (SIGHUP: the terminal or SSH session went away; ending as interrupted keeps the done event and its token.)
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const h = () => {
      let code: number = ExitCode.interrupted;
      try {
        finalize(sig);
      } catch (e) {
        // Finalizing failed (e.g. stdout closed): say so, with that error's exit code (on stderr only once:
        // with --json --out - its done event told it there).
        code = e instanceof KvsAudioError && toldInEvents(e) ? e.exitCode : report(e);
      } finally {
        if (atExit.stopDescendants) stopDescendants();
        Deno.exit(code);
      }
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  };
}
