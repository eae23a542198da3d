/**
 * Command-line parsing on top of `node:util` `parseArgs`: strict options,
 * one-line usage errors (exit 2), and typed value checks.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * const { values, positionals } = parseCommand("inspect", ["--json", "call.mkv"], {
 *   json: { type: "boolean" },
 * });
 * values.json;    // true
 * positionals[0]; // "call.mkv"
 * ```
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";

/** Option specs, as `parseArgs` takes them. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Parsed values: strings, booleans and their arrays. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parse `args` for `command`. Unknown options, missing values and the like
 * become a UsageError naming the command.
 */
export function parseCommand(
  command: string,
  args: string[],
  options: OptionSpec,
): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: values as Values, positionals };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]
      .replace(/\. To specify a positional argument.*$/, "")
      .replace(/^Unknown option '([^']*)'.*/, "unknown option '$1'")
      .replace(/^Option '([^']*)' argument missing$/, "option '$1' needs a value");
    throw new UsageError(`${command}: ${msg} (see 'kvsaudio ${command} --help')`);
  }
}

/**
 * A string option's value (the last one when given several times).
 *
 * @example
 * ```ts
 * import { str } from "./args.ts";
 * str({ out: "dir" }, "out"); // "dir"
 * ```
 */
export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/**
 * A boolean flag's value.
 *
 * @example
 * ```ts
 * import { flag } from "./args.ts";
 * flag({ json: true }, "json"); // true
 * ```
 */
export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

/**
 * A string option restricted to `choices` (default `fallback`).
 *
 * @example
 * ```ts
 * import { choice } from "./args.ts";
 * choice("extract", { format: "raw" }, "format", ["wav", "raw"], "wav"); // "raw"
 * ```
 */
export function choice<T extends string>(
  command: string,
  values: Values,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = str(values, name);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(`${command}: --${name} must be one of ${choices.join(", ")}, not '${v}'`);
  }
  return v as T;
}

/**
 * A non-negative number option.
 *
 * @example
 * ```ts
 * import { num } from "./args.ts";
 * num("pull", { "idle-timeout": "5" }, "idle-timeout"); // 5
 * ```
 */
export function num(command: string, values: Values, name: string, fallback?: number): number | undefined {
  const v = str(values, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`${command}: --${name} needs a non-negative number, not '${v}'`);
  }
  return n;
}
