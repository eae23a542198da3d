/**
 * What an AWS SDK or network error means for kvsaudio: retry, or stop with a
 * clear message (never one carrying credentials, signatures or headers).
 *
 * @example
 * ```ts
 * import { classifyAwsError } from "./errors.ts";
 * import { openMedia } from "./get_media.ts";
 * import type { KvsClients } from "./client.ts";
 * declare const clients: KvsClients;
 * try {
 *   await openMedia(clients, { name: "calls" }, { type: "NOW" });
 * } catch (err) {
 *   const verdict = classifyAwsError(err, "calls", { region: clients.region });
 *   if (verdict === "retry") {
 *     // wait backoffDelays(attempt), then retry
 *   } else {
 *     throw verdict; // an AwsError (exit 4), UsageError (exit 2), ...
 *   }
 * }
 * ```
 * @module
 */

import { hideSecrets } from "../secrets.ts";
import { AwsError, ExitCode, KvsAudioError, UsageError } from "../errors.ts";

/** The KVS API a call was for; picks the IAM permissions named in messages. */
export type KvsApi = "GetMedia" | "ListFragments" | "GetMediaForFragmentList";

/** Context for messages. */
export interface ClassifyContext {
  /** The region the clients use. */
  region?: string;
  /** The data-plane API involved (default `GetMedia`). */
  api?: KvsApi;
  /** The endpoint called, for network messages. */
  endpoint?: string;
}

/** What `classifyAwsError` says: try again, or this error. */
export type Classification = KvsAudioError | "retry";

const ACCESS_DENIED = new Set([
  "NotAuthorizedException",
  "AccessDeniedException",
  "AccessDenied",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "InvalidClientTokenId",
  "MissingAuthenticationTokenException",
  "IncompleteSignature",
]);
const EXPIRED = new Set(["ExpiredTokenException", "ExpiredToken", "TokenRefreshRequired"]);
const THROTTLED = new Set([
  "ClientLimitExceededException",
  "ConnectionLimitExceededException",
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "LimitExceededException",
]);
const TRANSIENT = new Set([
  "InternalFailure",
  "InternalServerError",
  "InternalServerException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InvalidEndpointException", // stale data endpoint: a new session asks GetDataEndpoint again
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);
const CREDENTIALS_MISSING = new Set(["CredentialsProviderError", "ProviderError", "TokenProviderError"]);
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
]);
const NETWORK_MESSAGES = ["aborted", "socket hang up", "premature close", "connection reset", "broken pipe"];

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

function shape(err: unknown): ErrorShape {
  return typeof err === "object" && err !== null ? err as ErrorShape : {};
}

function str(x: unknown): string {
  return typeof x === "string" ? x : "";
}

/** The AWS or Node error code of `err` (`name` for SDK errors, `code` for network ones). */
function errorCode(err: unknown): { name: string; code: string; status: number | undefined } {
  const e = shape(err);
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  return { name: str(e.name), code: str(e.code), status };
}

/**
 * Strip anything credential-like from a message and keep it to one short line.
 *
 * @example
 * ```ts
 * redact("bad Credential=AKIDEXAMPLE/20200101/us-east-1 Signature=abcd"); // "bad Credential=[redacted] Signature=[redacted]"
 * ```
 */
export function redact(message: string): string {
  let m = hideSecrets(message.split(/\r?\n/, 1)[0]);
  m = m.replace(/(?=[A-Za-z0-9+/=]*[A-Za-z])[A-Za-z0-9+/=]{40,}/g, "[redacted]");
  return m.length > 300 ? m.slice(0, 300) + "…" : m;
}

/** Does `err` (or its cause) look like a network failure? */
function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = shape(e).cause, depth++) {
    const { code, name } = errorCode(e);
    if (NETWORK_CODES.has(code)) return code;
    if (name === "TimeoutError") return "ETIMEDOUT";
    // Only errors that are not service responses: an AWS exception whose
    // text happens to say "aborted" is not a network failure.
    if (shape(e).$metadata?.httpStatusCode !== undefined) continue;
    const message = str(shape(e).message).toLowerCase();
    if (NETWORK_MESSAGES.some((m) => message.includes(m))) return code || "ECONNRESET";
  }
  return undefined;
}

/**
 * A plain-words description of a network error, or `undefined` when `err` is
 * not one. Use it once retries are exhausted (connection refused in
 * particular means a wrong `--endpoint-url` or no network, not a KVS problem).
 *
 * @example
 * ```ts
 * describeNetworkError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }), "http://127.0.0.1:9");
 * // "connection refused by http://127.0.0.1:9: check --endpoint-url and the network"
 * ```
 */
export function describeNetworkError(err: unknown, endpoint?: string): string | undefined {
  const code = networkCode(err);
  if (!code) return undefined;
  const where = endpoint ? ` ${endpoint}` : " KVS";
  switch (code) {
    case "ECONNREFUSED":
      return `connection refused by${where}: check --endpoint-url and the network`;
    case "ETIMEDOUT":
      return `connection to${where} timed out: check the network`;
    case "ENETUNREACH":
    case "EHOSTUNREACH":
    case "ENETDOWN":
      return `network unreachable trying${where}: check the network`;
    case "EAI_AGAIN":
      return `cannot resolve the host of${where} (temporary DNS failure): check the network`;
    default:
      return `connection to${where} was dropped (${code})`;
  }
}

function permissions(api: KvsApi): string {
  return `kinesisvideo:GetDataEndpoint, kinesisvideo:${api}`;
}

/**
 * Map an SDK, credential or network error to `"retry"` or to the error
 * kvsaudio should stop with. Decides by `err.name` / `err.code` (each SDK
 * client package has its own exception classes, so no `instanceof`).
 * `KvsAudioError`s pass through unchanged.
 *
 * Retry: ClientLimitExceededException, ConnectionLimitExceededException (and
 * other throttling), any 5xx, InvalidEndpointException, timeouts, and network
 * errors (ECONNRESET, ECONNREFUSED, ETIMEDOUT, EPIPE, `aborted`,
 * `socket hang up`). After the last retry, turn the error into a message with
 * {@link finalAwsError}.
 *
 * @example
 * ```ts
 * declare const err: unknown;
 * const verdict = classifyAwsError(err, "calls", { region: "us-east-1" });
 * // ResourceNotFoundException → AwsError "stream calls not found in us-east-1: check --arn/--stream-name and --region"
 * ```
 */
export function classifyAwsError(err: unknown, streamLabel: string, ctx: ClassifyContext = {}): Classification {
  if (err instanceof KvsAudioError) return err;
  const { name, code, status } = errorCode(err);
  const message = str(shape(err).message);
  const api = ctx.api ?? "GetMedia";
  const options = { cause: err };
  if (name === "AbortError" || (err instanceof DOMException && err.name === "AbortError")) {
    return new KvsAudioError("interrupted", ExitCode.interrupted, options);
  }
  if (THROTTLED.has(name) || TRANSIENT.has(name) || (status !== undefined && status >= 500)) return "retry";
  if (name === "ResourceNotFoundException") {
    const where = ctx.region ? ` in ${ctx.region}` : "";
    return new AwsError(
      `stream ${streamLabel} not found${where}: check --arn/--stream-name and --region`,
      name,
      options,
    );
  }
  if (name === "RequestExpired" || name === "InvalidSignatureException" && /expired/i.test(message)) {
    return new AwsError("AWS rejected the request time: check the system clock", name, options);
  }
  if (ACCESS_DENIED.has(name)) {
    return new AwsError(
      `access denied to stream ${streamLabel} (${name}): check the credentials and their IAM permissions (${
        permissions(api)
      })`,
      name,
      options,
    );
  }
  if (EXPIRED.has(name)) return new AwsError("AWS credentials expired: refresh them", name, options);
  if (CREDENTIALS_MISSING.has(name)) {
    return new AwsError(
      "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or pass --profile",
      name,
      options,
    );
  }
  if (/^Region is missing/.test(message)) {
    return new UsageError("no AWS region: pass --region or set AWS_REGION", options);
  }
  if (/ENOTFOUND|getaddrinfo/.test(`${code} ${message}`)) {
    const host = /ENOTFOUND\s+(\S+)/.exec(message)?.[1];
    return new AwsError(
      `cannot resolve ${host ?? "the KVS endpoint"}: check --endpoint-url, --region and DNS`,
      "ENOTFOUND",
      options,
    );
  }
  if (networkCode(err)) return "retry";
  if (name === "NoDataRetentionException") {
    return new AwsError(`stream ${streamLabel} keeps no data (retention 0): nothing to read`, name, options);
  }
  if (name === "InvalidArgumentException") {
    const detail = redact(message);
    return new AwsError(
      `KVS rejected the ${api} request for stream ${streamLabel}${detail ? `: ${detail}` : ""}`,
      name,
      options,
    );
  }
  const what = name && name !== "Error" ? name : "error";
  const detail = redact(message || String(err));
  const statusPart = status !== undefined ? ` (HTTP ${status})` : "";
  return new AwsError(
    `AWS ${api} call for stream ${streamLabel} failed: ${what}${statusPart}: ${detail}`,
    name,
    options,
  );
}

/**
 * The error to stop with once retries are exhausted: network errors get
 * {@link describeNetworkError}'s wording, throttling says so, other errors
 * go through {@link classifyAwsError}.
 *
 * @example
 * ```ts
 * declare const lastError: unknown;
 * throw finalAwsError(lastError, "calls", { region: "us-east-1", endpoint: "http://127.0.0.1:4566" });
 * ```
 */
export function finalAwsError(err: unknown, streamLabel: string, ctx: ClassifyContext = {}): KvsAudioError {
  const verdict = classifyAwsError(err, streamLabel, ctx);
  if (verdict !== "retry") return verdict;
  const { name, status } = errorCode(err);
  const options = { cause: err };
  const network = describeNetworkError(err, ctx.endpoint);
  if (network && status === undefined) return new AwsError(network, networkCode(err), options);
  if (THROTTLED.has(name)) {
    return new AwsError(
      `KVS kept refusing calls for stream ${streamLabel} (${name}): too many readers or calls; try again later`,
      name,
      options,
    );
  }
  const statusPart = status !== undefined ? ` (HTTP ${status})` : "";
  return new AwsError(`KVS kept failing for stream ${streamLabel}: ${name || "error"}${statusPart}`, name, options);
}
