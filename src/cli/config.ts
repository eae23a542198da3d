/**
 * The tool's own INI config: default values for any long option of a
 * command, from `--config FILE` or `./kvsaudio.ini` when present. Keys are
 * option names without `--`; top-level keys apply to every command that has
 * that option (the others skip them; a key no command has is an error), a
 * `[pull]` / `[extract]` / `[inspect]` section to that command only. Flags on
 * the command line win, and so does what `pull --event` gives: a default
 * gives way also to an option it excludes (`start` to `--start-fragment`).
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
 * await applyConfig("pull", values, { out: { type: "string" }, region: { type: "string" } }, undefined);
 * ```
 * @module
 */

import { fsErrorMessage, UsageError } from "../errors.ts";
import type { OptionSpec, Values } from "./args.ts";
import { ALL_OPTIONS, EXTRACT_OPTIONS, INSPECT_OPTIONS, PULL_OPTIONS } from "./command_options.ts";
import { markConfigured, noteConfigFile } from "./configured.ts";

export { fromConfig } from "./configured.ts";

/** Default config file, read when present and no --config is given. */
export const DEFAULT_CONFIG = "kvsaudio.ini";

/** Help line of `--config` for `extract` and `inspect`. */
export const CONFIG_HELP = `  --config FILE         INI file with defaults for any long option (default ./kvsaudio.ini);
                        --no-FLAG turns off a flag it turns on (--no-stereo)`;

/** The commands that read the config, each with a section of its own, and their options. */
const SECTIONS: Record<string, OptionSpec> = { pull: PULL_OPTIONS, extract: EXTRACT_OPTIONS, inspect: INSPECT_OPTIONS };

/**
 * Whether `e`, from reading `path`, means its directory cannot be searched
 * (`sudo -u svc kvsaudio …` run from root's home): then no file there can be
 * read, nor told to exist. A file there that exists but cannot be read is
 * another matter (its stat succeeds).
 */
function unsearchableDir(e: unknown, path: string): boolean {
  if (!(e instanceof Deno.errors.PermissionDenied)) return false;
  try {
    Deno.statSync(path);
    return false;
  } catch (s) {
    return s instanceof Deno.errors.PermissionDenied;
  }
}

/**
 * The config file's text; a UsageError naming the file and line for bytes
 * that are not UTF-8 (a Latin-1 `é` would become U+FFFD in a path: a
 * directory the user never named).
 */
function utf8Text(path: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const lossy = new TextDecoder().decode(bytes);
    const line = lossy.slice(0, Math.max(0, lossy.indexOf("\ufffd"))).split("\n").length;
    throw new UsageError(`${path}: line ${line}: not UTF-8 text (save the file as UTF-8)`);
  }
}

/**
 * Fill `values` from the config file: `explicit` (from --config; must exist)
 * or ./kvsaudio.ini if it exists. Returns the file used, if any. The INI
 * parser is loaded only when there is a file to read. The options filled in
 * are given by {@linkcode fromConfig}.
 */
export async function applyConfig(
  command: string,
  values: Values,
  spec: OptionSpec,
  explicit: string | undefined,
): Promise<string | undefined> {
  if (explicit === "") throw new UsageError(`${command}: --config needs a file name`);
  const path = explicit ?? DEFAULT_CONFIG;
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (explicit === undefined && (e instanceof Deno.errors.NotFound || unsearchableDir(e, path))) return undefined;
    throw new UsageError(`cannot read config ${path}: ${fsErrorMessage(e)}`);
  }
  let text = utf8Text(path, bytes);
  // A file saved "as UTF-8 with BOM" (Windows editors): the BOM is no part of the first line.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // The INI parser drops a section or key named __proto__ without a word: refused as unknown, like any other.
  // (Any spelling the reader takes as that key: quoted, as a list `__proto__[]`, bare, before a comment.)
  const proto = /^[ \t]*(?:\[[^\]\n]*__proto__[^\]\n]*\]|(["']?)__proto__\1(?:\[\])?[ \t]*(?:[=;#\r]|$))/m.exec(text);
  if (proto) {
    const line = text.slice(0, proto.index).split("\n").length;
    const what = proto[0].trim().startsWith("[") ? `section ${proto[0].trim()}` : "option '__proto__'";
    throw new UsageError(`${path}: line ${line}: unknown ${what}`);
  }
  const { parse } = await import("ini");
  const data = parse(text) as Record<string, unknown>;
  // The whole file is checked, whichever command reads it: a typo in another
  // command's section is found now, not when that command runs.
  for (const [name, v] of Object.entries(data)) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) continue;
    const other = Object.hasOwn(SECTIONS, name) ? SECTIONS[name] : undefined;
    if (other === undefined) {
      throw new UsageError(`${path}: unknown section [${name}] (sections: ${Object.keys(SECTIONS).join(", ")})`);
    }
    for (const [key, value] of Object.entries(v)) {
      // (`[extract.sub]` is read as a section inside [extract].)
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        throw new UsageError(
          `${path}: unknown section [${name}.${key}] (sections: ${Object.keys(SECTIONS).join(", ")})`,
        );
      }
      if (name === command) continue; // checked below, with its values
      if (key === "config" || key === "help" || !Object.hasOwn(other, key)) {
        throw new UsageError(`${path}: unknown option '${key}' for ${name}`);
      }
    }
  }
  const section = data[command];
  // [key, value, at the top level]: this command's section first, then the top-level keys, so that the
  // command's own setting wins over a shared one (as in AWS's and git's files; the first value set stays).
  const entries: [string, unknown, boolean][] = [];
  if (section && typeof section === "object") {
    for (const [k, v] of Object.entries(section as Record<string, unknown>)) entries.push([k, v, false]);
  }
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) entries.push([k, v, true]);
  }
  for (const [key, raw, topLevel] of entries) {
    const settable = key !== "config" && key !== "help";
    const opt = settable && Object.hasOwn(spec, key) ? spec[key] : undefined;
    if (!opt) {
      // Sections for other commands, and top-level keys of other commands' options, are skipped.
      // (Sections are not entries: a key named like one is an unknown option too.)
      if (topLevel && settable && ALL_OPTIONS.includes(key)) continue;
      throw new UsageError(`${path}: unknown option '${key}' for ${command}`);
    }
    // Checked even when a flag overrides it: the file is wrong either way.
    const value = configValue(path, key, raw, opt.type === "boolean");
    if (values[key] !== undefined) continue;
    markConfigured(values, key);
    noteConfigFile(path, key, String(raw));
    values[key] = value;
  }
  return path;
}

/**
 * The value of `key` as the INI parser gave it (`raw`): a boolean option's
 * true/false spelling, otherwise a string. A UsageError naming the file for
 * what the parser makes of lines that are no `key = value` of kvsaudio's: a
 * list (`key[] = …`), a bare key or `= true` where a value is wanted, `null`,
 * a quote opened and not closed.
 */
function configValue(path: string, key: string, raw: unknown, boolean: boolean): string | boolean {
  if (Array.isArray(raw)) throw new UsageError(`${path}: '${key}' is given as a list (${key}[]); give one value`);
  if (raw === null) throw new UsageError(`${path}: '${key}' is null; give a value, or leave the key out`);
  if (boolean) {
    const v = String(raw).toLowerCase();
    if (!["true", "false", "1", "0", "yes", "no"].includes(v)) {
      throw new UsageError(`${path}: '${key}' must be true or false, not '${raw}'`);
    }
    return ["true", "1", "yes"].includes(v);
  }
  if (typeof raw === "boolean") {
    throw new UsageError(`${path}: '${key}' needs a value (${key} = VALUE), not ${raw}`);
  }
  const text = String(raw);
  // The INI reader reads a double-quoted value as JSON: `"C:\temp"` holds a tab. No option takes a control
  // character.
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(text)) {
    throw new UsageError(
      `${path}: '${key}' holds a control character (a \\ in a quoted value is an escape: write \\\\ for one)`,
    );
  }
  // A quoted value the INI reader took is unquoted by now: a quote still there is one it could not take.
  if (/^["']/.test(text)) {
    throw new UsageError(
      `${path}: '${key}' = ${text}: a quote the INI reader did not take (not closed, a comment after it, or a \\ ` +
        "inside: write \\\\ for one)",
    );
  }
  return text;
}
