/**
 * SIGINT/SIGTERM handling: run a synchronous finalizer (commit and close the
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

import { ExitCode } from "../errors.ts";

/** Install the handler; returns a function that removes it. */
export function onInterrupt(finalize: (signal: Deno.Signal) => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => {
      try {
        finalize(sig);
      } finally {
        Deno.exit(ExitCode.interrupted);
      }
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  };
}
