/**
 * What an AWS SDK or network error means for kvsaudio: retry, or stop with a
 * clear message (never one carrying credentials, signatures or headers).
 *
 * @example
 * ```ts
 * import { classifyAwsError } from "./errors.ts";
 * import { openMedia } from "./get_media.ts";
 * import type { KvsClients } from "./client.ts";
 * async function example(clients: KvsClients) {
 *   try {
 *     await openMedia(clients, { name: "calls" }, { type: "NOW" });
 *   } catch (err) {
 *     const verdict = classifyAwsError(err, "calls", { region: clients.region });
 *     if (verdict === "retry") {
 *       // wait backoffDelays(attempt), then retry
 *     } else {
 *       throw verdict; // an AwsError (exit 4), UsageError (exit 2), ...
 *     }
 *   }
 * }
 * ```
 * @module
 */

import { hideSecrets } from "../secrets.ts";
import { AwsError, ExitCode, KvsAudioError, UsageError } from "../errors.ts";
import { missingProfileMessage, profileDefined } from "./profiles.ts";
import { FROM_CREDENTIALS } from "./credentials.ts";
import { withoutPassword } from "./endpoint_url.ts";

/** The KVS API a call was for; picks the IAM permissions named in messages. */
export type KvsApi = "GetDataEndpoint" | "GetMedia" | "ListFragments" | "GetMediaForFragmentList";

/**
 * The endpoint went silent: no response to a call within its deadline
 * (`kind: "response"`), or a media body stopped in the middle of a fragment
 * (`kind: "stall"`). Retried like a dropped connection (its name is
 * `TimeoutError`); {@link finalAwsError} words it once retries run out.
 *
 * @example
 * ```ts
 * const e = new KvsTimeoutError("no response to GetMedia within 30 s", "response", "GetMedia", 30_000);
 * e.name; // "TimeoutError"
 * e.kind; // "response"
 * ```
 */
export class KvsTimeoutError extends Error {
  /** What went silent, and for how long (ms). */
  constructor(
    message: string,
    readonly kind: "response" | "stall",
    readonly api: KvsApi,
    readonly waitedMs: number,
  ) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** The operation each failed call was for, when it differs from the caller's (GetDataEndpoint before a data call). */
const OPERATION = new WeakMap<object, KvsApi>();

/**
 * Remember that `err` came from `api` (the first tag wins), so messages name
 * the call that failed, e.g. GetDataEndpoint rather than the GetMedia it
 * preceded. Returns `err`.
 *
 * @example
 * ```ts
 * function example(err: unknown) {
 *   throw tagOperation(err, "GetDataEndpoint");
 * }
 * ```
 */
export function tagOperation(err: unknown, api: KvsApi): unknown {
  if (typeof err === "object" && err !== null && !OPERATION.has(err)) OPERATION.set(err, api);
  return err;
}

/** The operation `err` was tagged with (see {@link tagOperation}). */
export function operationOf(err: unknown): KvsApi | undefined {
  if (err instanceof KvsTimeoutError) return err.api;
  return typeof err === "object" && err !== null ? OPERATION.get(err) : undefined;
}

/**
 * A duration in ms as seconds with one decimal, for messages.
 *
 * @example
 * ```ts
 * import { seconds } from "./errors.ts";
 * seconds(1500); // "1.5 s"
 * ```
 */
export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Context for messages. */
export interface ClassifyContext {
  /** The region the clients use. */
  region?: string;
  /** The data-plane API involved (default `GetMedia`); an error tagged with its own operation names that one. */
  api?: KvsApi;
  /** The endpoint called, for network messages. */
  endpoint?: string;
  /** The call was tried more than once (default true): final messages say "also when retried". */
  retried?: boolean;
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
  $response?: { headers?: Record<string, unknown> };
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
/**
 * Whether `err` is a network failure (a refused, reset or timed-out
 * connection, a DNS failure), not an answer.
 *
 * @example
 * ```ts
 * import { isNetworkError } from "./errors.ts";
 * isNetworkError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" })); // true
 * ```
 */
export function isNetworkError(err: unknown): boolean {
  return networkCode(err) !== undefined;
}

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
  // Met while getting credentials (STS, a container endpoint): not KVS, nor --endpoint-url.
  const credentials = typeof err === "object" && err !== null && FROM_CREDENTIALS in err;
  if (credentials) endpoint = undefined;
  // Without --endpoint-url: the address the system named, if it did (a data endpoint from GetDataEndpoint).
  const address = endpoint ? undefined : /\b(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH) (\S+:\d+)/.exec(
    str(shape(err).message),
  )?.[1];
  const service = credentials ? "the AWS credentials source" : "KVS";
  const where = endpoint ? ` ${withoutPassword(endpoint)}` : address ? ` ${service} (${address})` : ` ${service}`;
  switch (code) {
    case "ECONNREFUSED":
      return `connection refused by${where}: check ${endpoint ? "--endpoint-url and " : ""}the network`;
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

function permissions(api: KvsApi, dataApi: KvsApi): string {
  const data = api === "GetDataEndpoint" ? dataApi : api;
  return data === "GetDataEndpoint"
    ? "kinesisvideo:GetDataEndpoint"
    : `kinesisvideo:GetDataEndpoint, kinesisvideo:${data}`;
}

/**
 * When `err` is an HTTP answer the SDK could not read as a KVS response (an
 * HTML page, a proxy's "Bad Gateway", ...): its status and content type, as
 * words (`HTTP 502 (text/plain)`); else `undefined`.
 *
 * @example
 * ```ts
 * function example(err: unknown) {
 *   notKvsResponse(err); // "HTTP 200 (text/html)"
 * }
 * ```
 */
export function notKvsResponse(err: unknown): string | undefined {
  const { name, status } = errorCode(err);
  if (status === undefined) return undefined;
  if (name !== "SyntaxError" && !/Deserialization error/.test(str(shape(err).message))) return undefined;
  const type = shape(err).$response?.headers?.["content-type"];
  const ct = typeof type === "string" && type ? ` (${redact(type).slice(0, 60)})` : "";
  return `HTTP ${status}${ct}`;
}

/** "the endpoint URL" or "the endpoint". */
function theEndpoint(ctx: ClassifyContext): string {
  return ctx.endpoint ? `the endpoint ${withoutPassword(ctx.endpoint)}` : "the endpoint";
}

/**
 * A run that found no credentials while AWS_PROFILE names a profile neither
 * shared AWS file defines (and no `profile` was given, which would beat it):
 * that is the likely cause, so say so (UsageError, exit 2). The SDK skips the
 * key variables for AWS_PROFILE, so it is not refused up front: container,
 * web-identity or instance credentials may still come. Other errors pass
 * through.
 *
 * @example
 * ```ts
 * import { blameMissingProfile } from "./errors.ts";
 * function example(err: unknown) {
 *   throw blameMissingProfile(err, undefined); // with AWS_PROFILE=nosuch: "AWS profile 'nosuch' not found in …"
 * }
 * ```
 */
export function blameMissingProfile(err: unknown, profile: string | undefined): unknown {
  if (profile || !(err instanceof AwsError) || !CREDENTIALS_MISSING.has(err.code ?? "")) return err;
  const fromEnv = Deno.env.get("AWS_PROFILE");
  if (!fromEnv || profileDefined(fromEnv)) return err;
  return new UsageError(missingProfileMessage(fromEnv, "AWS_PROFILE"), { cause: err });
}

/**
 * Map an SDK, credential or network error to `"retry"` or to the error
 * kvsaudio should stop with. Decides by `err.name` / `err.code` (each SDK
 * client package has its own exception classes, so no `instanceof`).
 * `KvsAudioError`s pass through unchanged.
 *
 * Retry: ClientLimitExceededException, ConnectionLimitExceededException (and
 * other throttling), any 5xx, InvalidEndpointException, timeouts (also
 * {@link KvsTimeoutError}), and network errors (ECONNRESET, ECONNREFUSED,
 * ETIMEDOUT, EPIPE, `aborted`, `socket hang up`). After the last retry, turn
 * the error into a message with {@link finalAwsError}.
 *
 * Messages name the call that failed: the operation `err` was tagged with
 * ({@link tagOperation}, e.g. GetDataEndpoint), else `ctx.api`. An answer
 * that is not a KVS response at all (HTML, a proxy's text) is called that.
 *
 * @example
 * ```ts
 * function example(err: unknown) {
 *   const verdict = classifyAwsError(err, "calls", { region: "us-east-1" });
 *   // ResourceNotFoundException → AwsError "stream calls not found in us-east-1: check --arn/--stream-name and --region"
 * }
 * ```
 */
export function classifyAwsError(err: unknown, streamLabel: string, ctx: ClassifyContext = {}): Classification {
  if (err instanceof KvsAudioError) {
    // (Ours, thrown from a response body the SDK was reading: it appends a hint about `$response` to the message.)
    err.message = err.message.replace(/\n\s*Deserialization error:[\s\S]*$/, "");
    return err;
  }
  const { name, code, status } = errorCode(err);
  const message = str(shape(err).message);
  const dataApi = ctx.api ?? "GetMedia";
  const api = operationOf(err) ?? dataApi;
  const options = { cause: err };
  if (name === "AbortError" || (err instanceof DOMException && err.name === "AbortError")) {
    return new KvsAudioError("interrupted", ExitCode.interrupted, options);
  }
  // (HTTP 429 is throttling whatever the body says: a proxy's or gateway's too.)
  if (THROTTLED.has(name) || TRANSIENT.has(name) || (status !== undefined && (status >= 500 || status === 429))) {
    return "retry";
  }
  const foreign = notKvsResponse(err);
  if (foreign) {
    return new AwsError(
      `${api} for stream ${streamLabel}: ${
        theEndpoint(ctx)
      } answered ${foreign} with something that is not a KVS response: check --endpoint-url`,
      name,
      options,
    );
  }
  if (name === "ResourceNotFoundException" && api === "GetMediaForFragmentList") {
    // GetDataEndpoint found the stream just before: what is missing is a fragment.
    const detail = redact(message);
    return new AwsError(
      `stream ${streamLabel} has no such fragment${
        detail ? ` (${detail})` : ""
      }: it may have expired (the stream's data retention) or never existed`,
      name,
      options,
    );
  }
  if (name === "ResourceNotFoundException") {
    const where = ctx.region ? ` in ${ctx.region}` : "";
    return new AwsError(
      `stream ${streamLabel} not found${where}: check --arn/--stream-name and --region`,
      name,
      options,
    );
  }
  if (isClockSkew(err)) {
    return new AwsError("AWS rejected the request time: check the system clock", name, options);
  }
  if (ACCESS_DENIED.has(name)) {
    return new AwsError(
      `access denied to stream ${streamLabel} (${name}): check the credentials and their IAM permissions (${
        permissions(api, dataApi)
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
  // A temporary DNS failure ("getaddrinfo EAI_AGAIN host") is retried below, like other network errors.
  if (/ENOTFOUND|getaddrinfo/.test(`${code} ${message}`) && !/EAI_AGAIN/.test(`${code} ${message}`)) {
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
    // Named after the request the caller made (GetDataEndpoint only serves it).
    const detail = redact(message);
    return new AwsError(
      `KVS rejected the ${dataApi} request for stream ${streamLabel}${detail ? `: ${detail}` : ""}`,
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
 * Whether AWS refused `err`'s request for its time (the signing clock is off
 * by more than 5 minutes, either way). The SDK corrects its clock offset from
 * that answer, so the call is worth one more try.
 *
 * @example
 * ```ts
 * isClockSkew({ name: "InvalidSignatureException", message: "Signature not yet current: 20261125T100000Z is still later than 20261125T090500Z" }); // true
 * isClockSkew({ name: "AccessDeniedException", message: "User is not authorized" }); // false
 * ```
 */
export function isClockSkew(err: unknown): boolean {
  const { name } = errorCode(err);
  if (CLOCK_SKEW.has(name)) return true;
  return name === "InvalidSignatureException" && /expired|not yet current/i.test(str(shape(err).message));
}

/** Error names that say the request's time is off (the SDK's own list, and KVS's). */
const CLOCK_SKEW = new Set([
  "RequestExpired",
  "RequestTimeTooSkewed",
  "RequestInTheFuture",
  "SignatureExpired",
]);

/**
 * The error to stop with once retries are exhausted: network errors get
 * {@link describeNetworkError}'s wording, throttling says so, other errors
 * go through {@link classifyAwsError}.
 *
 * @example
 * ```ts
 * function example(lastError: unknown) {
 *   throw finalAwsError(lastError, "calls", { region: "us-east-1", endpoint: "http://127.0.0.1:4566" });
 * }
 * ```
 */
export function finalAwsError(err: unknown, streamLabel: string, ctx: ClassifyContext = {}): KvsAudioError {
  const verdict = classifyAwsError(err, streamLabel, ctx);
  if (verdict !== "retry") return verdict;
  const { name, status } = errorCode(err);
  const options = { cause: err };
  const api = operationOf(err) ?? ctx.api ?? "GetMedia";
  if (err instanceof KvsTimeoutError) {
    const s = seconds(err.waitedMs);
    const again = ctx.retried === false
      ? ""
      : err.kind === "response"
      ? ", also when retried"
      : ", also after reconnecting";
    return new AwsError(
      err.kind === "response"
        ? `${api} for stream ${streamLabel}: ${theEndpoint(ctx)} sent no response within ${s}${again}: ` +
          "check --endpoint-url and the network"
        : `${api} for stream ${streamLabel}: ${err.message}${again}: check the network`,
      "TimeoutError",
      options,
    );
  }
  const foreign = notKvsResponse(err);
  if (foreign) {
    return new AwsError(
      `${api} for stream ${streamLabel} kept failing: ${
        theEndpoint(ctx)
      } answered ${foreign}, which is not a KVS response: check --endpoint-url and the network`,
      name,
      options,
    );
  }
  const network = describeNetworkError(err, ctx.endpoint);
  if (network && status === undefined) return new AwsError(network, networkCode(err), options);
  if (THROTTLED.has(name) || status === 429) {
    return new AwsError(
      `KVS kept refusing calls for stream ${streamLabel} (${
        THROTTLED.has(name) ? name : "HTTP 429"
      }): too many readers or calls; try again later`,
      name,
      options,
    );
  }
  const statusPart = status !== undefined ? ` (HTTP ${status})` : "";
  return new AwsError(`KVS kept failing for stream ${streamLabel}: ${name || "error"}${statusPart}`, name, options);
}
