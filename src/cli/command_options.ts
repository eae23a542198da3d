/**
 * The options of each command, in one place: the commands parse with them,
 * and the INI config derives from them which keys any command knows.
 *
 * @example
 * ```ts
 * import { EXTRACT_OPTIONS } from "./command_options.ts";
 * import { parseCommand } from "./args.ts";
 * const { values } = parseCommand("extract", ["call.mkv", "--out", "out"], EXTRACT_OPTIONS);
 * values.out; // "out"
 * ```
 * @module
 */

import type { OptionSpec } from "./args.ts";
import { CALL_OPTIONS } from "./output_options.ts";

/** The options of `extract`. */
export const EXTRACT_OPTIONS: OptionSpec = {
  ...CALL_OPTIONS,
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** The options of `inspect`. */
export const INSPECT_OPTIONS: OptionSpec = {
  tree: { type: "boolean" },
  json: { type: "boolean" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** The options of `pull`. */
export const PULL_OPTIONS: OptionSpec = {
  ...CALL_OPTIONS,
  arn: { type: "string" },
  "stream-name": { type: "string" },
  event: { type: "string" },
  "start-fragment": { type: "string" },
  "start-timestamp": { type: "string" },
  "timestamp-type": { type: "string" },
  start: { type: "string" },
  "continuation-token": { type: "string" },
  "after-fragment": { type: "string" },
  "stop-fragment": { type: "string" },
  "stop-timestamp": { type: "string" },
  "max-duration": { type: "string" },
  "idle-timeout": { type: "string" },
  "max-retries": { type: "string" },
  archived: { type: "boolean" },
  region: { type: "string" },
  profile: { type: "string" },
  "endpoint-url": { type: "string" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** Every long option of any command (for the config's top-level keys). */
export const ALL_OPTIONS: readonly string[] = [
  ...new Set([...Object.keys(PULL_OPTIONS), ...Object.keys(EXTRACT_OPTIONS), ...Object.keys(INSPECT_OPTIONS)]),
].sort();
