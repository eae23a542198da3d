/**
 * Getting AWS credentials, bounded and named: the SDK's default chain may run
 * a `credential_process`, refresh an SSO token, assume a role through STS or
 * ask a container or instance endpoint, and none of those is bounded by a
 * call's deadline. {@linkcode guardCredentials} gives them one, and turns
 * what they fail with into a message that names where the credentials were
 * to come from (the chain itself only says "Could not load credentials from
 * any providers").
 *
 * @example
 * ```ts
 * import { guardCredentials } from "./credentials.ts";
 * const never = () => new Promise<never>(() => {});
 * const guarded = guardCredentials(never, { timeoutMs: 50 });
 * await guarded().catch((e) => console.log(e.message)); // "no AWS credentials within 0.05 s from …"
 * ```
 * @module
 */

import { AwsError, KvsAudioError } from "../errors.ts";
import { hideSecrets } from "../secrets.ts";
import { profileSettings } from "./profiles.ts";

/** How long getting credentials may take, ms (an MFA prompt in a `credential_process` included). */
export const DEFAULT_CREDENTIALS_TIMEOUT_MS = 60_000;

/** The code of `KvsClients.checkCredentials`'s error for a network error met on the way (its cause). */
export const CREDENTIALS_NETWORK_ERROR = "CredentialsNetworkError";

/** Set on a network error met while getting credentials: retried, then named as such (not as KVS's). */
export const FROM_CREDENTIALS: unique symbol = Symbol("kvsaudio.credentials");

/** Options of {@linkcode guardCredentials}. */
export interface GuardOptions {
  /** Give up after this many ms (default {@linkcode DEFAULT_CREDENTIALS_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** `--profile`, if given (else AWS_PROFILE or `default` is the profile in effect). */
  profile?: string;
  /** Where the credentials come from, in messages, when not the SDK's default chain (a caller's own provider). */
  source?: string;
  /** Whether the network error `e` is one (then it is passed on, marked, to be retried). */
  isNetworkError?: (e: unknown) => boolean;
}

/**
 * Where the SDK's default chain takes credentials from, in words, as far as
 * the environment and the shared files tell: `profile 'ci' (its
 * credential_process)`, `the container credentials endpoint`, …
 *
 * @example
 * ```ts
 * import { credentialSource } from "./credentials.ts";
 * credentialSource(undefined); // e.g. "the AWS SDK's default chain (no keys in the environment, no profile)"
 * ```
 */
export function credentialSource(profileFlag: string | undefined): string {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const profile = profileFlag ?? env("AWS_PROFILE");
  if (profile === undefined && env("AWS_ACCESS_KEY_ID")) return "the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables";
  const name = profile ?? "default";
  const s = profileSettings(name);
  const named = `profile '${name}'${profileFlag !== undefined ? "" : profile !== undefined ? " (AWS_PROFILE)" : ""}`;
  if (s.credential_process) return `${named} (its credential_process)`;
  if (s.sso_session || s.sso_start_url) return `${named} (its SSO login)`;
  if (s.role_arn) {
    const from = s.source_profile ? `source_profile '${s.source_profile}'` : s.credential_source ?? "?";
    return `${named} (its role_arn, assumed through STS with ${from})`;
  }
  if (s.web_identity_token_file) return `${named} (its web_identity_token_file, through STS)`;
  if (s.aws_access_key_id) return `${named} (its keys)`;
  if (env("AWS_WEB_IDENTITY_TOKEN_FILE")) return "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, through STS)";
  if (env("AWS_CONTAINER_CREDENTIALS_FULL_URI") || env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    return "the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_*)";
  }
  if (profile !== undefined) return named;
  return "the AWS SDK's default chain (no keys in the environment, no profile with credentials, instance metadata)";
}

/** What to do about credentials that did not come from `source`. */
function advice(source: string, name: string): string {
  if (source.includes("credential_process")) {
    return "it failed, or printed no valid, unexpired credentials: run it by hand to see why";
  }
  if (source.includes("SSO login")) return `its token is missing or expired: run aws sso login --profile ${name}`;
  if (source.includes("role_arn")) return "check its source_profile's credentials and that it may assume the role";
  if (source.includes("container credentials")) {
    return "it gave none (refused, failed or answered no credentials): check AWS_CONTAINER_CREDENTIALS_* and that endpoint";
  }
  if (source.includes("web identity")) return "STS gave none for its token: check the token file and the role";
  return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or pass --profile";
}

/**
 * `provider`, bounded by a deadline, with what it fails with named: a
 * network error passes on marked {@linkcode FROM_CREDENTIALS} (the caller
 * retries it like any other), anything else becomes one
 * {@linkcode AwsError} (exit 4) naming the source — its code stays the
 * SDK's (`CredentialsProviderError`, …).
 *
 * @example
 * ```ts
 * import { guardCredentials } from "./credentials.ts";
 * const keys = guardCredentials(async () => ({ accessKeyId: "AKID", secretAccessKey: "secret" }));
 * (await keys()).accessKeyId; // "AKID"
 * ```
 */
export function guardCredentials<A extends unknown[], T>(
  provider: (...args: A) => Promise<T>,
  opts: GuardOptions = {},
): (...args: A) => Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CREDENTIALS_TIMEOUT_MS;
  return async (...args: A): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const source = opts.source ?? credentialSource(opts.profile);
        reject(
          new AwsError(
            `no AWS credentials within ${timeoutMs / 1000} s from ${source}: it does not answer`,
            "CredentialsTimeout",
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([provider(...args), deadline]);
    } catch (e) {
      if (e instanceof KvsAudioError) throw e;
      if (opts.isNetworkError?.(e) && typeof e === "object" && e !== null) {
        (e as Record<symbol, unknown>)[FROM_CREDENTIALS] = true;
        throw e;
      }
      throw credentialsError(e, opts.profile, opts.source);
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The error for credentials that did not come: the chain's "Could not load
 * credentials from any providers" names the source the environment points
 * at and what to do; another provider error is quoted (secrets hidden).
 *
 * @example
 * ```ts
 * import { credentialsError } from "./credentials.ts";
 * const e = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
 * credentialsError(e, undefined).message; // "no AWS credentials found from …"
 * ```
 */
export function credentialsError(e: unknown, profileFlag: string | undefined, given?: string): AwsError {
  const err = (typeof e === "object" && e !== null ? e : {}) as { name?: unknown; message?: unknown };
  const name = typeof err.name === "string" ? err.name : "Error";
  const message = typeof err.message === "string" ? err.message : String(e);
  const source = given ?? credentialSource(profileFlag);
  const profile = profileFlag ?? (Deno.env.get("AWS_PROFILE") || "default");
  let text: string;
  if (/could not load credentials from any providers/i.test(message)) {
    const what = advice(source, profile);
    // "…or pass --profile" is no advice to a run that passed one.
    text = `no AWS credentials found from ${source}: ${
      profileFlag !== undefined ? what.replace(/, or AWS_PROFILE, or pass --profile$/, "") : what
    }`;
  } else {
    const quoted = hideSecrets(message.replace(/\s+/g, " ").trim()).slice(0, 300);
    text = `cannot get AWS credentials from ${source}: ${name}: ${quoted}`;
  }
  return new AwsError(text, name, { cause: e });
}
