/**
 * Bounded waits for KVS calls: a deadline for the response (headers, or the
 * whole answer of a non-streaming call) and a stall guard for media bodies.
 * The TCP connect timeout alone does not cover a server that accepts the
 * request and then never answers.
 *
 * @example
 * ```ts
 * import { withResponseDeadline } from "./deadline.ts";
 * import { GetDataEndpointCommand } from "@aws-sdk/client-kinesis-video";
 * import type { KvsClients } from "./client.ts";
 * async function example(clients: KvsClients) {
 *   const out = await withResponseDeadline(
 *     (abortSignal) => clients.control.send(new GetDataEndpointCommand({ StreamName: "calls", APIName: "GET_MEDIA" }), { abortSignal }),
 *     { api: "GetDataEndpoint", timeoutMs: 20_000 },
 *   );
 * }
 * ```
 * @module
 */

import { type KvsApi, KvsTimeoutError, seconds, tagOperation } from "./errors.ts";
import { idleGuard } from "./idle.ts";

/** How long a call may wait for its response unless told otherwise, ms. */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 20_000;

/**
 * Run `call` with a signal that aborts when `signal` does or when
 * `timeoutMs` passes before `call` settles (0 or Infinity: no deadline). The
 * deadline ends when `call` settles, so a streamed body that `call` returns
 * is never cut by it, while `signal` (SIGINT) still drops that body. A
 * missed deadline throws {@link KvsTimeoutError} (retried like a dropped
 * connection); other errors are tagged with `api` (see `tagOperation`).
 *
 * @example
 * ```ts
 * async function example(send: (signal?: AbortSignal) => Promise<string>) {
 *   const answer = await withResponseDeadline(send, { api: "ListFragments", timeoutMs: 20_000 });
 * }
 * ```
 */
export async function withResponseDeadline<T>(
  call: (signal: AbortSignal | undefined) => Promise<T>,
  opts: { api: KvsApi; timeoutMs: number; signal?: AbortSignal },
): Promise<T> {
  const { api, timeoutMs, signal } = opts;
  if (!(timeoutMs > 0) || timeoutMs === Infinity) {
    try {
      return await call(signal);
    } catch (e) {
      throw tagOperation(e, api);
    }
  }
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new KvsTimeoutError(`no response to ${api} within ${seconds(timeoutMs)}`, "response", api, timeoutMs),
      ),
    timeoutMs,
  );
  const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  try {
    return await call(combined);
  } catch (e) {
    if (deadline.signal.aborted && !signal?.aborted) throw deadline.signal.reason;
    throw tagOperation(e, api);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Yield `source`'s chunks; when none arrives for `timeoutMs` (0 or Infinity:
 * no limit), throw a {@link KvsTimeoutError} of kind `stall` instead of
 * ending, so a fragment assembler reading it never mistakes a stall for a
 * clean end. The caller closes the source.
 *
 * @example
 * ```ts
 * async function example(body: AsyncIterable<Uint8Array>) {
 *   for await (const chunk of stallGuard(body, 20_000, "GetMediaForFragmentList")) console.log(chunk.length);
 * }
 * ```
 */
export async function* stallGuard(
  source: AsyncIterable<Uint8Array>,
  timeoutMs: number,
  api: KvsApi,
): AsyncGenerator<Uint8Array> {
  if (!(timeoutMs > 0) || timeoutMs === Infinity) {
    yield* source;
    return;
  }
  const state = { idle: false };
  yield* idleGuard(source, (last) => last + timeoutMs, state);
  if (state.idle) {
    throw new KvsTimeoutError(
      `the body stopped (no data for ${seconds(timeoutMs)})`,
      "stall",
      api,
      timeoutMs,
    );
  }
}
