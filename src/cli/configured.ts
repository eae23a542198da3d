/**
 * Which options of a command's values came from the config file (defaults,
 * which give way to a flag or to what `pull --event` gives, also for options
 * that exclude each other). Filled by `applyConfig` in `config.ts`; kept
 * apart so that option parsing can ask without loading the config reader.
 *
 * @example
 * ```ts
 * import { fromConfig, markConfigured } from "./configured.ts";
 * const values = { out: "calls" };
 * markConfigured(values, "out");
 * fromConfig(values).has("out"); // true
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import type { Values } from "./args.ts";

const CONFIGURED = new WeakMap<Values, Set<string>>();

/**
 * The options of `values` that a config file filled in.
 *
 * @example
 * ```ts
 * import { fromConfig } from "./configured.ts";
 * fromConfig({ out: "x" }).size; // 0: nothing from a config file
 * ```
 */
export function fromConfig(values: Values): ReadonlySet<string> {
  return CONFIGURED.get(values) ?? new Set();
}

/**
 * Record that the config file filled in option `key` of `values`.
 *
 * @example
 * ```ts
 * import { markConfigured } from "./configured.ts";
 * markConfigured({ region: "eu-west-1" }, "region");
 * ```
 */
export function markConfigured(values: Values, key: string): void {
  let set = CONFIGURED.get(values);
  if (set === undefined) CONFIGURED.set(values, set = new Set());
  set.add(key);
}

/**
 * Options `a` and `b` exclude each other and both are set: the one a config
 * file filled in gives way to the other (a default never overrules a flag).
 * Returns the option to drop, or `undefined` when both came from the same
 * place (both flags, or both defaults): then the caller refuses the pair.
 *
 * @example
 * ```ts
 * import { giveWay, markConfigured } from "./configured.ts";
 * const values = { json: true, tree: true };
 * markConfigured(values, "json"); // json = true in kvsaudio.ini, --tree on the command line
 * giveWay(values, "json", "tree"); // "json"
 * ```
 */
export function giveWay(values: Values, a: string, b: string): string | undefined {
  const configured = fromConfig(values);
  if (configured.has(a) && !configured.has(b)) return a;
  if (configured.has(b) && !configured.has(a)) return b;
  return undefined;
}

/**
 * {@linkcode giveWay} for two options set together that exclude each other:
 * the one to drop, or a UsageError saying `refusal` when both came from the
 * same place.
 *
 * @example
 * ```ts
 * import { markConfigured, settle } from "./configured.ts";
 * const values = { force: true, append: true };
 * markConfigured(values, "force"); // force = true in kvsaudio.ini, --append on the command line
 * settle(values, "force", "append", "--append and --force cannot be combined"); // "force"
 * ```
 */
export function settle(values: Values, a: string, b: string, refusal: string): string {
  const drop = giveWay(values, a, b);
  if (drop === undefined) throw new UsageError(refusal);
  return drop;
}

/**
 * A copy of `values` with `overrides` applied that still knows which of the
 * other options came from the config file (a plain spread would forget).
 *
 * @example
 * ```ts
 * import { fromConfig, markConfigured, withValues } from "./configured.ts";
 * const values = { tracks: "from", "contact-id": "c-1" };
 * markConfigured(values, "tracks");
 * fromConfig(withValues(values, { "contact-id": undefined })).has("tracks"); // true
 * ```
 */
export function withValues(values: Values, overrides: Values): Values {
  const copy: Values = { ...values, ...overrides };
  for (const key of fromConfig(values)) if (!(key in overrides)) markConfigured(copy, key);
  return copy;
}

/** The config file this process read and the options it set, with their values (one command per process). */
let applied: { path: string; keys: Map<string, string> } | undefined;

/** Note that `key` was set to `value` from the config file at `path` (for {@linkcode blameConfig}). */
export function noteConfigFile(path: string, key: string, value = ""): void {
  if (applied === undefined || applied.path !== path) applied = { path, keys: new Map() };
  applied.keys.set(key, value);
}

const blamed = new WeakSet<object>();

/**
 * A usage error about an option the config file set (`--max-gap needs …`)
 * names the file: the user gave no such flag. Changes `e`'s message once.
 *
 * @example
 * ```ts
 * import { blameConfig, noteConfigFile } from "./configured.ts";
 * import { UsageError } from "../errors.ts";
 * noteConfigFile("kvsaudio.ini", "max-gap");
 * blameConfig(new UsageError("extract: --max-gap needs a non-negative number, not '5s'")).message;
 * // "extract: --max-gap needs a non-negative number, not '5s' (max-gap is set in kvsaudio.ini)"
 * ```
 */
export function blameConfig<E>(e: E): E {
  if (!(e instanceof UsageError) || applied === undefined || blamed.has(e)) return e;
  blamed.add(e);
  // An option the message names, whose value from the file it quotes if it quotes one (a value that came from
  // --event instead is not the file's fault).
  const quoted = /'[^']*'/.test(e.message);
  const keys = [...applied.keys].filter(([k, v]) =>
    new RegExp(`--${k}(?![\\w-])`).test(e.message) && (!quoted || e.message.includes(`'${v}'`))
  ).map(([k]) => k);
  if (keys.length > 0) e.message += ` (${keys.join(", ")} ${keys.length > 1 ? "are" : "is"} set in ${applied.path})`;
  return e;
}

/**
 * A usage error about option `key`'s value that does not name it as a flag
 * (`cannot read event x.json: …`) names the config file when the file set
 * it. Changes `e`'s message once.
 *
 * @example
 * ```ts
 * import { blameConfigFor, noteConfigFile } from "./configured.ts";
 * import { UsageError } from "../errors.ts";
 * noteConfigFile("kvsaudio.ini", "event", "x.json");
 * blameConfigFor(new UsageError("cannot read event x.json: No such file or directory (os error 2)"), "event").message;
 * // "cannot read event x.json: No such file or directory (os error 2) (event is set in kvsaudio.ini)"
 * ```
 */
export function blameConfigFor<E>(e: E, key: string): E {
  if (!(e instanceof UsageError) || applied === undefined || blamed.has(e) || !applied.keys.has(key)) return e;
  blamed.add(e);
  e.message += ` (${key} is set in ${applied.path})`;
  return e;
}
