/**
 * Named AWS profiles as the AWS SDK finds them: the shared config file
 * (AWS_CONFIG_FILE, else ~/.aws/config: `[profile NAME]`, `[default]`) and
 * credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials:
 * `[NAME]`), with the SDK's rules: an empty variable means the default path,
 * a leading `~/` is the home directory, and a section counts once it holds a
 * setting.
 *
 * @example
 * ```ts
 * import { profileDefined } from "./profiles.ts";
 * if (!profileDefined("prod")) console.log("no profile prod in the AWS files");
 * ```
 * @module
 */

import { homedir } from "node:os";
import { fsErrorMessage, UsageError } from "../errors.ts";

/**
 * The SDK's home directory: HOME, else USERPROFILE, else HOMEDRIVE + HOMEPATH,
 * else the account's (none for a uid with no passwd entry).
 */
function homeDir(): string | undefined {
  const env = (name: string) => Deno.env.get(name) || undefined;
  return env("HOME") ?? env("USERPROFILE") ??
    (env("HOMEPATH") !== undefined ? `${env("HOMEDRIVE") ?? "C:/"}${env("HOMEPATH")}` : homedir() || undefined);
}

/** Where {@linkcode withoutHome} points the shared files' variables: a directory that does not exist. */
const NO_HOME = "/nonexistent";

/**
 * With no home directory (HOME unset, a uid with no passwd entry: a
 * container's numeric `--user`), the SDK fails on the shared files' paths
 * (`TypeError: The "path" argument must be of type string`), even with keys
 * in the environment. Then this points `AWS_CONFIG_FILE` and
 * `AWS_SHARED_CREDENTIALS_FILE`, where unset, at files that do not exist,
 * so that the SDK reads none, as when they are absent. Returns whether it
 * did.
 *
 * @example
 * ```ts
 * import { withoutHome } from "./profiles.ts";
 * withoutHome(); // false where HOME is set
 * ```
 */
export function withoutHome(): boolean {
  if (homeDir() !== undefined) return false;
  if (!Deno.env.get("AWS_CONFIG_FILE")) Deno.env.set("AWS_CONFIG_FILE", `${NO_HOME}/.aws/config`);
  if (!Deno.env.get("AWS_SHARED_CREDENTIALS_FILE")) {
    Deno.env.set("AWS_SHARED_CREDENTIALS_FILE", `${NO_HOME}/.aws/credentials`);
  }
  return true;
}

/**
 * Where the SDK reads the two shared AWS files.
 *
 * @example
 * ```ts
 * import { awsFilePaths } from "./profiles.ts";
 * const { config, credentials } = awsFilePaths(); // e.g. /home/me/.aws/config, /home/me/.aws/credentials
 * ```
 */
export function awsFilePaths(): { config: string; credentials: string } {
  // (No home directory: no file there, as withoutHome has the SDK read it.)
  const home = homeDir() ?? NO_HOME;
  const path = (variable: string, fallback: string) => {
    const p = Deno.env.get(variable) || `${home}/.aws/${fallback}`;
    return p.startsWith("~/") ? `${home}/${p.slice(2)}` : p;
  };
  return { config: path("AWS_CONFIG_FILE", "config"), credentials: path("AWS_SHARED_CREDENTIALS_FILE", "credentials") };
}

/** A section name the SDK reads as `PREFIX NAME` (`[profile "x"]` included). */
const PREFIXED = /^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/;
const SECTION_TYPES = new Set(["profile", "sso-session", "services"]);

/**
 * The profile names one file defines, parsed as the SDK's `parseIni` does:
 * in the config file `[profile NAME]` and `[default]`, in the credentials file
 * `[NAME]`; only sections with at least one setting; none at all in a file
 * with a `[__proto__]` section, which the SDK reads as empty.
 *
 * @example
 * ```ts
 * import { definedProfiles } from "./profiles.ts";
 * definedProfiles("[profile prod]\nregion = eu-west-1\n[empty]\n", true); // Set { "prod" }
 * ```
 */
export function definedProfiles(text: string, configFile: boolean): Set<string> {
  const names = new Set<string>();
  let section: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.split(/(^|\s)[;#]/)[0].trim();
    if (line[0] === "[" && line[line.length - 1] === "]") {
      const name = line.slice(1, -1);
      // The SDK refuses these names and then reads the whole file as empty.
      if (name === "__proto__" || name === "profile __proto__") return new Set();
      const m = PREFIXED.exec(name);
      // The SDK's keys: `profile.NAME` (whose prefix the config file drops), others as written.
      section = m ? (SECTION_TYPES.has(m[1]) ? `${m[1]}.${m[3]}` : undefined) : name;
      continue;
    }
    const eq = line.indexOf("=");
    if (section === undefined || eq <= 0 || line.slice(eq + 1).trim() === "") continue;
    if (!configFile) names.add(section);
    else if (section === "default") names.add("default");
    else if (section.startsWith("profile.")) names.add(section.slice("profile.".length));
  }
  return names;
}

/**
 * The settings of `profile` in one file (keys lower-cased), parsed as
 * {@linkcode definedProfiles} reads sections; empty when it has none.
 *
 * @example
 * ```ts
 * import { profileSettingsIn } from "./profiles.ts";
 * profileSettingsIn("[profile ci]\ncredential_process = /bin/creds\n", true, "ci"); // { credential_process: "/bin/creds" }
 * ```
 */
export function profileSettingsIn(text: string, configFile: boolean, profile: string): Record<string, string> {
  const settings: Record<string, string> = {};
  let inProfile = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.split(/(^|\s)[;#]/)[0].trim();
    if (line[0] === "[" && line[line.length - 1] === "]") {
      const name = line.slice(1, -1);
      if (name === "__proto__" || name === "profile __proto__") return {};
      const m = PREFIXED.exec(name);
      inProfile = configFile
        ? (m ? m[1] === "profile" && m[3] === profile : name === "default" && profile === "default")
        : !m && name === profile;
      continue;
    }
    const eq = line.indexOf("=");
    if (!inProfile || eq <= 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (value !== "" && !Object.hasOwn(settings, key)) settings[key] = value;
  }
  return settings;
}

/**
 * The settings of `profile` in both shared AWS files (the credentials file's
 * first, as the SDK merges them); a missing or unreadable file gives none.
 *
 * @example
 * ```ts
 * import { profileSettings } from "./profiles.ts";
 * profileSettings("default").region; // e.g. "eu-west-1"
 * ```
 */
export function profileSettings(profile: string): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [text, configFile] of readAwsFiles().texts) {
    for (const [k, v] of Object.entries(profileSettingsIn(text, configFile, profile))) merged[k] ??= v;
  }
  return merged;
}

/**
 * The shared AWS files: the texts of those that can be read, credentials file
 * first, each with whether it is the config file; and why each one that is
 * there cannot be read (a missing file is no problem: it defines nothing).
 */
function readAwsFiles(): { texts: [string, boolean][]; unreadable: string[] } {
  const { config, credentials } = awsFilePaths();
  const texts: [string, boolean][] = [];
  const unreadable: string[] = [];
  for (const [path, configFile] of [[credentials, false], [config, true]] as const) {
    try {
      texts.push([Deno.readTextFileSync(path), configFile]);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) && !path.startsWith(`${NO_HOME}/`)) {
        const why = `cannot read ${path}: ${fsErrorMessage(e)}`;
        if (configFile) unreadable.unshift(why); // (the config file named first)
        else unreadable.push(why);
      }
    }
  }
  return { texts, unreadable };
}

/**
 * Whether either shared AWS file defines `profile` (a missing or unreadable
 * file defines nothing).
 *
 * @example
 * ```ts
 * import { profileDefined } from "./profiles.ts";
 * profileDefined("default");
 * ```
 */
export function profileDefined(profile: string): boolean {
  return readAwsFiles().texts.some(([text, configFile]) => definedProfiles(text, configFile).has(profile));
}

/**
 * The message for a profile that neither shared AWS file defines; `from`
 * names where it came from (`--profile` or `AWS_PROFILE`).
 *
 * @example
 * ```ts
 * import { missingProfileMessage } from "./profiles.ts";
 * missingProfileMessage("prod", "--profile"); // "AWS profile 'prod' not found in …/config or …/credentials: check --profile or AWS_PROFILE"
 * ```
 */
export function missingProfileMessage(
  profile: string,
  from: "--profile" | "AWS_PROFILE" | "AWS_DEFAULT_PROFILE",
): string {
  const { config, credentials } = awsFilePaths();
  const noHome = [config, credentials].every((p) => p.startsWith(`${NO_HOME}/`));
  const files = noHome
    ? "the shared AWS files (there is no home directory: HOME is unset; AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE " +
      "can name them)"
    : `${config} or ${credentials}`;
  // A file that is there but cannot be read (permissions, a directory) is the likelier cause: said first.
  const { unreadable } = readAwsFiles();
  if (unreadable.length > 0) {
    const named = from === "--profile" ? "" : ` (${from})`;
    return `AWS profile '${profile}'${named} not found: ${unreadable.join("; ")}`;
  }
  if (from === "AWS_DEFAULT_PROFILE") {
    return `AWS profile '${profile}' (AWS_DEFAULT_PROFILE) not found in ${files}: check AWS_DEFAULT_PROFILE`;
  }
  return from === "AWS_PROFILE"
    ? `AWS profile '${profile}' (AWS_PROFILE) not found in ${files}, and no other source gave credentials: check AWS_PROFILE`
    : `AWS profile '${profile}' not found in ${files}: check --profile or AWS_PROFILE`;
}

/**
 * Refuse (UsageError, exit 2) a `--profile` that neither shared AWS file
 * defines, before any call: the SDK would only say that no provider gave
 * credentials.
 *
 * @example
 * ```ts
 * import { checkProfile } from "./profiles.ts";
 * await checkProfile("prod"); // throws UsageError unless [profile prod] or [prod] is defined
 * ```
 */
export function checkProfile(profile: string): Promise<void> {
  return profileDefined(profile)
    ? Promise.resolve()
    : Promise.reject(new UsageError(missingProfileMessage(profile, "--profile")));
}
