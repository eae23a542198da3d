/**
 * GetMedia: open a live (or from-the-past) media session on a stream.
 *
 * @example
 * ```ts
 * import { createKvsClients } from "./client.ts";
 * import { openMedia } from "./get_media.ts";
 * const clients = await createKvsClients({ region: "us-east-1" });
 * const body = await openMedia(clients, { name: "calls" }, { type: "EARLIEST" });
 * for await (const chunk of body) console.log(chunk.length);
 * clients.destroy();
 * ```
 * @module
 */

import { GetMediaCommand } from "@aws-sdk/client-kinesis-video-media";
import type { StreamRef } from "./arn.ts";
import { streamInput } from "./arn.ts";
import type { KvsClients } from "./client.ts";
import { getDataEndpoint } from "./data_endpoint.ts";
import { withResponseDeadline } from "./deadline.ts";
import { type MediaBody, mediaBody } from "./media_body.ts";
import { type StartSelector, toSdkStartSelector } from "./selector.ts";

/**
 * Start a GetMedia session: GetDataEndpoint (APIName `GET_MEDIA`) once, then
 * GetMedia from `selector`. Resolves once KVS answers with the response
 * headers; the body's chunks are yielded as they arrive. SDK and network
 * errors are thrown as they are (from this call or from the iteration):
 * classify them with `classifyAwsError`. `signal` aborts the call and drops
 * the connection. No response headers within `opts.responseTimeoutMs`
 * (default: the clients') throws a retryable `KvsTimeoutError`; the body
 * itself is not timed here (see `idleGuard`).
 *
 * @example
 * ```ts
 * async function example(clients: import("./client.ts").KvsClients, parser: { push(chunk: Uint8Array): void }) {
 *   const arn = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1599166395421";
 *   const token = "91343852333181432392682062607743920146264613494";
 *   const ac = new AbortController();
 *   const body = await openMedia(clients, { arn }, { type: "CONTINUATION_TOKEN", token }, ac.signal);
 *   for await (const chunk of body) parser.push(chunk);
 * }
 * ```
 */
export async function openMedia(
  clients: KvsClients,
  stream: StreamRef,
  selector: StartSelector,
  signal?: AbortSignal,
  opts: { responseTimeoutMs?: number } = {},
): Promise<MediaBody> {
  const input = { ...streamInput(stream), StartSelector: toSdkStartSelector(selector) };
  const dataEndpoint = await getDataEndpoint(clients, stream, "GET_MEDIA", signal);
  const client = clients.media(dataEndpoint);
  const out = await withResponseDeadline(
    (abortSignal) => client.send(new GetMediaCommand(input), { abortSignal }),
    {
      api: "GetMedia",
      timeoutMs: opts.responseTimeoutMs ?? clients.responseTimeoutMs,
      signal,
    },
  );
  return mediaBody(out.Payload, { dataEndpoint, contentType: out.ContentType, signal });
}
