/**
 * kvsaudio command-line entry point.
 *
 * ```sh
 * deno task kvsaudio inspect call.mkv
 * deno task kvsaudio extract call.mkv --out calls/
 * deno task kvsaudio pull --arn ARN --start-fragment N --out calls/
 * ```
 * @module
 */

import { run } from "./cli/run.ts";
import { atExit, stopDescendants } from "./cli/children.ts";

if (import.meta.main) {
  // A file size limit (`ulimit -f`) reached: not a silent death by SIGXFSZ, but a write that fails (EFBIG), so that
  // the outputs go back to their last commit and the error is told, exit 1. For the whole process: Deno writes
  // what standard output did not take again as it exits. (A listener does not keep the process alive.)
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGXFSZ", () => {});
  const code = await run(Deno.args);
  if (atExit.stopDescendants) stopDescendants();
  Deno.exit(code);
}
