/**
 * `--endpoint-url` validation, free of the AWS SDK so the CLI can check the
 * option while planning a pull, before it loads the SDK or creates outputs.
 *
 * @example
 * ```ts
 * import { checkEndpointUrl } from "./endpoint_url.ts";
 * checkEndpointUrl("http://127.0.0.1:4566");
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";

/**
 * Refuse an `--endpoint-url` that is not an http(s) URL (UsageError, exit 2)
 * before any call: the SDK would only fail on the first request, with a bare
 * "Invalid URL". `from` names where it came from in the message (an
 * `AWS_ENDPOINT_URL…` variable).
 *
 * @example
 * ```ts
 * import { UsageError } from "../errors.ts";
 * checkEndpointUrl("http://127.0.0.1:4566"); // fine
 * try {
 *   checkEndpointUrl("localhost:4566");
 * } catch (e) {
 *   e instanceof UsageError; // true: "--endpoint-url "localhost:4566" is not an http(s) URL: …"
 * }
 * ```
 */
export function checkEndpointUrl(endpointUrl: string, from = "--endpoint-url"): void {
  let url: URL | undefined;
  try {
    url = new URL(endpointUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    const bare = withoutPassword(endpointUrl);
    const shown = JSON.stringify(bare.length > 100 ? bare.slice(0, 100) + "…" : bare);
    throw new UsageError(
      `${from} ${shown} is not an http(s) URL: give one like https://kinesisvideo.us-east-1.amazonaws.com or http://127.0.0.1:4566`,
    );
  }
}

/**
 * Check the endpoint variables the SDK takes when no `--endpoint-url` is
 * given (`AWS_ENDPOINT_URL_KINESIS_VIDEO`, else `AWS_ENDPOINT_URL`, unless
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true) like the flag (UsageError
 * naming the variable).
 *
 * @example
 * ```ts
 * import { checkEndpointVariables } from "./endpoint_url.ts";
 * checkEndpointVariables(); // throws if AWS_ENDPOINT_URL=localhost:4566
 * ```
 */
export function checkEndpointVariables(): void {
  if ((Deno.env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") ?? "").toLowerCase() === "true") return;
  for (const name of ["AWS_ENDPOINT_URL_KINESIS_VIDEO", "AWS_ENDPOINT_URL"]) {
    const v = Deno.env.get(name);
    if (v) return checkEndpointUrl(v, name);
  }
}

/**
 * Refuse a region that is no region name (UsageError naming `from`): the SDK
 * would send it into a host name and fail the first call (exit 4, which a
 * resuming script retries).
 *
 * @example
 * ```ts
 * import { checkRegionName } from "./endpoint_url.ts";
 * checkRegionName("eu-west-1", "--region"); // fine
 * ```
 */
export function checkRegionName(region: string, from: string): void {
  // (Lower case: a region is part of the signature, where `US-EAST-1` is not `us-east-1`.)
  if (/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(region)) return;
  const shown = JSON.stringify(region.length > 64 ? region.slice(0, 64) + "…" : region);
  throw new UsageError(`${from} ${shown} is not an AWS region name (like us-east-1)`);
}

/**
 * `url` without the password of its user part, for messages
 * (`http://user:…@host`); a password holding `@` included.
 *
 * @example
 * ```ts
 * import { withoutPassword } from "./endpoint_url.ts";
 * withoutPassword("http://me:secret@127.0.0.1:4566"); // "http://me:…@127.0.0.1:4566"
 * ```
 */
export function withoutPassword(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // A URL with a host and no password: as it is (an `@` in its path is no user part).
  if (parsed !== undefined && parsed.host !== "" && parsed.password === "") return url;
  // Otherwise everything from the user name's `:` to the last `@` may be its password, whatever comes before
  // the user name: `scheme://`, `scheme:` or `scheme:/` (which the URL parser takes for `scheme://` too), `//`,
  // spaces, or nothing (`user:pass@host`).
  return url.replace(/^(\s*(?:[a-z][\w+.-]*:)?\/*)([^/@:\s]*):.*@/is, "$1$2:…@");
}
