/**
 * How errors name the options of the audio stage: the library's fields or the
 * CLI's flags.
 * @module
 */

/**
 * How errors name the options: as `CallWriter` and sink option fields
 * (`force: true`), the default, or as the CLI's flags (`--force`).
 *
 * @example
 * ```ts
 * import { CallWriter } from "./call_writer.ts";
 * import type { OptionStyle } from "./option_names.ts";
 * const optionStyle: OptionStyle = "cli";
 * try {
 *   new CallWriter({ outDir: "-", tracks: "both", optionStyle });
 * } catch (err) {
 *   console.error((err as Error).message); // with --out -, choose one track (--tracks from|to) or …
 * }
 * ```
 */
export type OptionStyle = "library" | "cli";

/**
 * Each option as errors name it, per {@linkcode OptionStyle}.
 *
 * @example
 * ```ts
 * import { OPTION_NAMES } from "./option_names.ts";
 * OPTION_NAMES.cli.force === "--force"; // true
 * ```
 */
export const OPTION_NAMES = {
  library: {
    force: "force: true",
    append: "append: true",
    stereo: "stereo: true",
    oneTrack: 'tracks: "from" or "to"',
    stdout: 'outDir "-"',
  },
  cli: {
    force: "--force",
    append: "--append",
    stereo: "--stereo",
    oneTrack: "--tracks from|to",
    stdout: "--out -",
  },
} as const;
