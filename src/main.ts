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

if (import.meta.main) {
  const code = await run(Deno.args);
  Deno.exit(code);
}
