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
 * "Invalid URL".
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
export function checkEndpointUrl(endpointUrl: string): void {
  let url: URL | undefined;
  try {
    url = new URL(endpointUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    const shown = JSON.stringify(endpointUrl.length > 100 ? endpointUrl.slice(0, 100) + "…" : endpointUrl);
    throw new UsageError(
      `--endpoint-url ${shown} is not an http(s) URL: give one like https://kinesisvideo.us-east-1.amazonaws.com or http://127.0.0.1:4566`,
    );
  }
}
