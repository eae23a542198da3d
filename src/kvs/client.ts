/**
 * The AWS SDK v3 clients kvsaudio talks to KVS with: one control-plane
 * client (GetDataEndpoint) and, per data endpoint, a media client (GetMedia)
 * and an archived-media client (ListFragments, GetMediaForFragmentList).
 *
 * Credentials come from the SDK default chain (environment, shared files,
 * SSO, process, container/instance metadata), from `profile` when given.
 * With `endpointUrl`, both control- and data-plane calls go there, like the
 * AWS CLI's `--endpoint-url`.
 *
 * @example
 * ```ts
 * import { createKvsClients } from "./client.ts";
 * const clients = await createKvsClients({ region: "us-east-1" });
 * try {
 *   // ... openMedia(clients, { name: "calls" }, { type: "NOW" })
 * } finally {
 *   clients.destroy();
 * }
 * ```
 * @module
 */

import { KinesisVideoClient, type KinesisVideoClientConfig } from "@aws-sdk/client-kinesis-video";
import { KinesisVideoMediaClient } from "@aws-sdk/client-kinesis-video-media";
import { KinesisVideoArchivedMediaClient } from "@aws-sdk/client-kinesis-video-archived-media";
import { AwsError, UsageError } from "../errors.ts";
import { DEFAULT_RESPONSE_TIMEOUT_MS } from "./deadline.ts";
import { limitAnswerBodies } from "./body_limit.ts";
import { CREDENTIALS_NETWORK_ERROR, FROM_CREDENTIALS, guardCredentials } from "./credentials.ts";
import { checkEndpointUrl, checkEndpointVariables, checkRegionName } from "./endpoint_url.ts";
import { describeNetworkError, isNetworkError } from "./errors.ts";
import { checkProfile, missingProfileMessage, profileDefined, profileSettings, withoutHome } from "./profiles.ts";

export { checkProfile };

/** AWS settings taken from the command line. */
export interface AwsOptions {
  /** `--region`; else AWS_REGION or the profile's region. */
  region?: string;
  /** `--profile`; else AWS_PROFILE or `default`. */
  profile?: string;
  /** `--endpoint-url`: send every call (control and data plane) here. */
  endpointUrl?: string;
}

/** Static credentials or a credentials provider, as the SDK accepts them. */
export type KvsCredentials = NonNullable<KinesisVideoClientConfig["credentials"]>;

/** {@link AwsOptions} plus knobs for programs and tests. */
export interface KvsClientOptions extends AwsOptions {
  /** Region to use when neither `region` nor the SDK's resolution gives one (e.g. the stream ARN's). */
  fallbackRegion?: string;
  /** Credentials instead of the default chain (tests). */
  credentials?: KvsCredentials;
  /**
   * SDK attempts per call (default 1: the SDK does not retry on its own; the
   * caller retries with `classifyAwsError` and `backoffDelays`).
   */
  maxAttempts?: number;
  /** Give up getting credentials after this many ms (default 60 000). */
  credentialsTimeoutMs?: number;
  /** Give up connecting after this many ms (default 10 000). */
  connectionTimeoutMs?: number;
  /**
   * Give up waiting for a call's response after this many ms (default
   * 20 000; 0 = never): the headers of a media call (its body may then stream
   * for as long as it lasts), the whole answer of any other call. A missed
   * deadline is retried like a dropped connection.
   */
  responseTimeoutMs?: number;
  /**
   * Where the warnings the SDK prints itself go (its credential providers'
   * "Multiple credential sources detected" when a profile and key variables
   * are both set), as one string each; default: `console.warn`, several lines.
   */
  onSdkWarning?: (message: string) => void;
}

/** The clients for one run. Call `destroy()` when done. */
export interface KvsClients {
  /** The region every client uses (and signs for). */
  readonly region: string;
  /** `endpointUrl`, if one was given. */
  readonly endpointUrl?: string;
  /** How long a call waits for its response, ms (see {@link KvsClientOptions.responseTimeoutMs}). */
  readonly responseTimeoutMs: number;
  /** Control plane: GetDataEndpoint. */
  readonly control: KinesisVideoClient;
  /** GetMedia client for a data endpoint (cached; `endpointUrl` overrides the endpoint). */
  media(dataEndpoint: string): KinesisVideoMediaClient;
  /** ListFragments / GetMediaForFragmentList client for a data endpoint (cached; same override). */
  archived(dataEndpoint: string): KinesisVideoArchivedMediaClient;
  /**
   * Get the credentials now, outside any call's deadline (which a slow
   * `credential_process` or STS would otherwise run into, and be retried as
   * a silent endpoint): bounded by `credentialsTimeoutMs`, failing with one
   * {@link AwsError} that names their source. Later calls reuse them.
   */
  checkCredentials(): Promise<void>;
  /** Close every client's connections. */
  destroy(): void;
}

/**
 * Build the clients, resolving the region now: explicit `region`, else the
 * SDK's resolution (AWS_REGION, the profile's `region`), else
 * `fallbackRegion`; none of them → UsageError. Where there is no home
 * directory, it sets `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` in
 * the process's environment, where unset (see `withoutHome`).
 *
 * @example
 * ```ts
 * const clients = await createKvsClients({ profile: "prod", endpointUrl: "http://127.0.0.1:4566" });
 * console.log(clients.region);
 * clients.destroy();
 * ```
 */
export async function createKvsClients(opts: KvsClientOptions = {}): Promise<KvsClients> {
  if (opts.endpointUrl !== undefined) checkEndpointUrl(opts.endpointUrl);
  else checkEndpointVariables();
  if (opts.region) checkRegionName(opts.region, "--region");
  // No home directory: the SDK would fail on the shared files' paths, even with keys in the environment.
  withoutHome();
  // The AWS CLI's AWS_DEFAULT_PROFILE, which the SDK ignores, when neither --profile nor AWS_PROFILE is set (as
  // AWS CLI v2 has it); as for the AWS CLI, keys in the environment win over it, but its region still counts.
  const defaultProfile = !opts.profile && !Deno.env.get("AWS_PROFILE")
    ? Deno.env.get("AWS_DEFAULT_PROFILE") || undefined
    : undefined;
  const keysInEnv = Boolean(Deno.env.get("AWS_ACCESS_KEY_ID"));
  const profile = opts.profile || (keysInEnv ? undefined : defaultProfile);
  // With credentials given, a profile only names where the region may come from. (An AWS_PROFILE no
  // file defines is not refused here: container, web-identity or instance credentials may still come.)
  if (profile && !opts.credentials) {
    if (defaultProfile !== undefined && !profileDefined(defaultProfile)) {
      throw new UsageError(missingProfileMessage(defaultProfile, "AWS_DEFAULT_PROFILE"));
    }
    await checkProfile(profile);
  }
  const base = {
    ...(profile ? { profile } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    maxAttempts: opts.maxAttempts ?? 1,
    ...(opts.onSdkWarning ? { logger: sdkLogger(opts.onSdkWarning) } : {}),
    requestHandler: { connectionTimeout: opts.connectionTimeoutMs ?? 10_000 },
  };
  // The AWS CLI's AWS_DEFAULT_REGION (after AWS_REGION, before the profile's), which the SDK ignores.
  let region = opts.region || Deno.env.get("AWS_REGION") || Deno.env.get("AWS_DEFAULT_REGION") || undefined;
  if (region && !opts.region) {
    checkRegionName(region, Deno.env.get("AWS_REGION") ? "AWS_REGION" : "AWS_DEFAULT_REGION");
  }
  if (!region) {
    // The profile's region, read as the SDK reads it (and checked: the SDK's resolution throws on one that is
    // no region name, which would read as none at all, or let the ARN's region take its place unsaid). Beside
    // keys in the environment, AWS_DEFAULT_PROFILE still names it, as for the AWS CLI.
    const named = profile ?? defaultProfile ?? (Deno.env.get("AWS_PROFILE") || "default");
    region = profileSettings(named).region;
    if (region) checkRegionName(region, `the region of profile '${named}'`);
  }
  region ||= opts.fallbackRegion;
  if (!region) throw new UsageError("no AWS region: pass --region or set AWS_REGION");

  const config = { ...base, region };
  const control = new KinesisVideoClient({
    ...config,
    ...(opts.endpointUrl ? { endpoint: opts.endpointUrl } : {}),
  });
  limitAnswerBodies(control);
  // One credentials chain for every client: SSO, process or assume-role
  // credentials are then resolved (and refreshed) once, not per client; and
  // bounded (a credential_process or STS that never answers is no hang).
  // (The SDK reads a client's `config.credentials` at each request.)
  const credentials = guardCredentials(control.config.credentials, {
    profile,
    ...(opts.credentials ? { source: "the credentials given to createKvsClients" } : {}),
    timeoutMs: opts.credentialsTimeoutMs,
    isNetworkError,
  });
  control.config.credentials = credentials;
  const dataConfig = { ...config, credentials };
  const mediaClients = new Map<string, KinesisVideoMediaClient>();
  const archivedClients = new Map<string, KinesisVideoArchivedMediaClient>();
  return {
    region,
    endpointUrl: opts.endpointUrl,
    responseTimeoutMs: opts.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS,
    control,
    media(dataEndpoint: string): KinesisVideoMediaClient {
      const endpoint = opts.endpointUrl ?? dataEndpoint;
      let c = mediaClients.get(endpoint);
      if (!c) {
        mediaClients.set(endpoint, c = new KinesisVideoMediaClient({ ...dataConfig, endpoint }));
        limitAnswerBodies(c);
      }
      return sameClock(c, control);
    },
    archived(dataEndpoint: string): KinesisVideoArchivedMediaClient {
      const endpoint = opts.endpointUrl ?? dataEndpoint;
      let c = archivedClients.get(endpoint);
      if (!c) {
        archivedClients.set(endpoint, c = new KinesisVideoArchivedMediaClient({ ...dataConfig, endpoint }));
        limitAnswerBodies(c);
      }
      return sameClock(c, control);
    },
    async checkCredentials(): Promise<void> {
      try {
        await credentials();
      } catch (e) {
        // A network error met on the way (STS, a container endpoint): said as such, once.
        const network = typeof e === "object" && e !== null && FROM_CREDENTIALS in e
          ? describeNetworkError(e)
          : undefined;
        throw network === undefined ? e : new AwsError(network, CREDENTIALS_NETWORK_ERROR, { cause: e });
      }
    },
    destroy(): void {
      control.destroy();
      for (const c of mediaClients.values()) c.destroy();
      for (const c of archivedClients.values()) c.destroy();
      mediaClients.clear();
      archivedClients.clear();
    },
  };
}

/**
 * `client`, its clock offset set to `control`'s: when AWS refused a request's
 * time, the SDK corrected the offset of the client that sent it (every data
 * call comes after a GetDataEndpoint on `control`), and each client keeps its
 * own. (A tester: a clock 10 minutes off got GetDataEndpoint through on its
 * retry, then GetMedia refused on the media client.)
 */
function sameClock<C extends { config: { systemClockOffset?: number } }>(
  client: C,
  control: { config: { systemClockOffset?: number } },
): C {
  const offset = control.config.systemClockOffset;
  if (offset !== undefined) client.config.systemClockOffset = offset;
  return client;
}

/**
 * An SDK logger that hands on the warnings the SDK would print itself (its
 * credential providers fall back to `console.warn`, e.g. "Multiple credential
 * sources detected"); the rest stays as quiet as the SDK's default logger.
 */
function sdkLogger(onWarning: (message: string) => void) {
  const quiet = () => {};
  // A provider may say one thing in several calls in a row ("… you have set both A and B." then "A will take
  // precedence."): the lines of one synchronous burst are joined into one warning.
  let burst: string[] | undefined;
  return {
    debug: quiet,
    info: quiet,
    warn: (...parts: unknown[]) => {
      const message = parts.map(String).join(" ");
      if (burst) burst.push(message);
      else if (message.startsWith("@aws-sdk/credential-provider")) {
        burst = [message];
        queueMicrotask(() => {
          const lines = burst!;
          burst = undefined;
          onWarning(lines.join(" "));
        });
      }
    },
    error: quiet,
  };
}
