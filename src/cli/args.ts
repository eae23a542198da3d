/**
 * Command-line parsing: strict long and short options (`--name value`,
 * `--name=value`, `-n value`, boolean flags, `--` ends options), one-line
 * usage errors (exit 2), and typed value checks. It follows `node:util`
 * `parseArgs` (strict, positionals allowed) but is written here: loading
 * `node:util` costs every command 13–40 ms of start-up (measured), more than
 * the whole parser.
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

import { UsageError } from "../errors.ts";

/** One option: its type, an optional one-letter alias, and whether it may repeat. */
export interface OptionDef {
  /** `string` takes a value; `boolean` is a flag. */
  type: "string" | "boolean";
  /** One-letter alias (`-o`). */
  short?: string;
  /** Collect every occurrence in an array. */
  multiple?: boolean;
}

/** Option specs by long name. */
export type OptionSpec = Record<string, OptionDef>;

/** Parsed values: strings, booleans and their arrays. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const NEGATIVE_NUMBER = /^-\d+(\.\d+)?$/;

/**
 * Parse `args` for `command`. Unknown options, missing values and the like
 * become a UsageError naming the command.
 */
export function parseCommand(
  command: string,
  args: string[],
  options: OptionSpec,
): { values: Values; positionals: string[] } {
  const fail = (msg: string): never => {
    throw new UsageError(`${command}: ${msg} (see 'kvsaudio ${command} --help')`);
  };
  const byShort = new Map<string, string>();
  for (const [name, def] of Object.entries(options)) if (def.short) byShort.set(def.short, name);
  const values: Values = {};
  const positionals: string[] = [];
  const set = (name: string, value: string | boolean) => {
    const def = options[name];
    if (def.multiple) {
      const prev = values[name];
      values[name] = Array.isArray(prev) ? [...prev, value] : [value];
    } else values[name] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      // `--no-stereo`: a flag turned off (one the config file turns on).
      const negated = name.startsWith("no-") ? name.slice(3) : undefined;
      if (!Object.hasOwn(options, name) && negated !== undefined && options[negated]?.type === "boolean") {
        if (!Object.hasOwn(options, negated)) fail(`unknown option '--${name}'`);
        if (inline !== undefined) fail(`option '--${name}' does not take a value`);
        set(negated, false);
        continue;
      }
      if (!Object.hasOwn(options, name)) fail(`unknown option '--${name}'`);
    } else {
      if (arg.length !== 2) fail(`unknown option '${arg}'`);
      name = byShort.get(arg[1]);
      if (name === undefined) fail(`unknown option '${arg}'`);
    }
    const def = options[name!];
    const shown = arg.startsWith("--") ? `--${name}` : arg;
    if (def.type === "boolean") {
      if (inline !== undefined) fail(`option '${shown}' does not take a value`);
      set(name!, true);
    } else if (inline !== undefined) {
      set(name!, inline);
    } else {
      const next = args[i + 1];
      // A negative number is a value (validated by the option), not an option.
      if (next === undefined || (next.startsWith("-") && next !== "-" && !NEGATIVE_NUMBER.test(next))) {
        fail(`option '${shown}' needs a value`);
      }
      set(name!, next);
      i++;
    }
  }
  return { values, positionals };
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
 * A non-negative decimal number option (`5`, `0.5`), at most `limits.max`,
 * a whole number with `limits.integer`, more than 0 with `limits.positive`.
 *
 * @example
 * ```ts
 * import { num } from "./args.ts";
 * num("pull", { "idle-timeout": "5" }, "idle-timeout"); // 5
 * num("pull", { "max-retries": "3" }, "max-retries", 8, { integer: true }); // 3
 * ```
 */
export function num(
  command: string,
  values: Values,
  name: string,
  fallback?: number,
  limits: { max?: number; integer?: boolean; positive?: boolean } = {},
): number | undefined {
  const v = str(values, name);
  if (v === undefined) return fallback;
  const integer = limits.integer === true;
  const kind = `${limits.positive ? "" : "non-negative "}${integer ? "whole " : ""}number${
    limits.positive ? " more than 0" : ""
  }`;
  if (!(integer ? /^\d+$/ : /^\d+(\.\d+)?$|^\.\d+$/).test(v)) {
    throw new UsageError(`${command}: --${name} needs a ${kind}, not '${v}'`);
  }
  const n = Number(v);
  if (limits.positive && n === 0) throw new UsageError(`${command}: --${name} needs a ${kind}, not '${v}'`);
  const max = limits.max ?? Number.MAX_SAFE_INTEGER;
  if (n > max) throw new UsageError(`${command}: --${name} must be at most ${max}, not '${v}'`);
  return n;
}
