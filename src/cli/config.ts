/**
 * The tool's own INI config: default values for any long option of a
 * command, from `--config FILE` or `./kvsaudio.ini` when present. Keys are
 * option names without `--`; top-level keys apply to every command, a
 * `[pull]` / `[extract]` / `[inspect]` section to that command only. Flags on
 * the command line win.
 *
 * ```ini
 * region = eu-west-1
 * out = calls
 * [pull]
 * idle-timeout = 8
 * stereo = true
 * ```
 *
 * @example
 * ```ts
 * import { applyConfig } from "./config.ts";
 * const values: Record<string, string | boolean | undefined> = { out: "x" };
 * applyConfig("pull", values, { out: { type: "string" }, region: { type: "string" } }, undefined);
 * ```
 * @module
 */

import { parse } from "ini";
import { fsErrorMessage, UsageError } from "../errors.ts";
import type { OptionSpec, Values } from "./args.ts";

/** Default config file, read when present and no --config is given. */
export const DEFAULT_CONFIG = "kvsaudio.ini";

/**
 * Fill `values` from the config file: `explicit` (from --config; must exist)
 * or ./kvsaudio.ini if it exists. Returns the file used, if any.
 */
export function applyConfig(
  command: string,
  values: Values,
  spec: OptionSpec,
  explicit: string | undefined,
): string | undefined {
  const path = explicit ?? DEFAULT_CONFIG;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (explicit === undefined && e instanceof Deno.errors.NotFound) return undefined;
    throw new UsageError(`cannot read config ${path}: ${fsErrorMessage(e)}`);
  }
  const data = parse(text) as Record<string, unknown>;
  const section = data[command];
  const entries: [string, unknown][] = Object.entries(data).filter(([, v]) => typeof v !== "object");
  if (section && typeof section === "object") entries.push(...Object.entries(section as Record<string, unknown>));
  for (const [key, raw] of entries) {
    const opt = spec[key];
    if (!opt || key === "config" || key === "help") {
      // Sections for other commands are ignored; unknown keys are errors.
      if (["pull", "extract", "inspect"].includes(key)) continue;
      throw new UsageError(`${path}: unknown option '${key}' for ${command}`);
    }
    if (values[key] !== undefined) continue;
    if (opt.type === "boolean") {
      const v = String(raw).toLowerCase();
      if (!["true", "false", "1", "0", "yes", "no"].includes(v)) {
        throw new UsageError(`${path}: '${key}' must be true or false, not '${raw}'`);
      }
      values[key] = ["true", "1", "yes"].includes(v);
    } else {
      values[key] = String(raw);
    }
  }
  return path;
}
