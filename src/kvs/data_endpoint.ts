/**
 * GetDataEndpoint: where a stream's data-plane calls go.
 *
 * @example
 * ```ts
 * import { getDataEndpoint } from "./data_endpoint.ts";
 * import type { KvsClients } from "./client.ts";
 * async function example(clients: KvsClients) {
 *   const endpoint = await getDataEndpoint(clients, { name: "calls" }, "GET_MEDIA");
 *   // "https://s-1234abcd.kinesisvideo.us-east-1.amazonaws.com"
 * }
 * ```
 * @module
 */

import { GetDataEndpointCommand } from "@aws-sdk/client-kinesis-video";
import { AwsError } from "../errors.ts";
import { checkStreamRegion, streamInput, streamLabel, type StreamRef } from "./arn.ts";
import type { KvsClients } from "./client.ts";
import { withResponseDeadline } from "./deadline.ts";
import { withoutPassword } from "./endpoint_url.ts";

/** The data-plane APIs kvsaudio calls. */
export type DataApiName = "GET_MEDIA" | "LIST_FRAGMENTS" | "GET_MEDIA_FOR_FRAGMENT_LIST";

/**
 * Ask the control plane for the stream's data endpoint for `apiName`. Checks
 * first that a stream ARN's region matches the clients' (UsageError if not).
 * SDK errors are thrown as they are, tagged as GetDataEndpoint's (classify
 * them with `classifyAwsError`); no answer within the clients'
 * `responseTimeoutMs` throws a retryable `KvsTimeoutError`.
 *
 * @example
 * ```ts
 * async function example(clients: import("./client.ts").KvsClients) {
 *   const arn = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1599166395421";
 *   const ep = await getDataEndpoint(clients, { arn }, "LIST_FRAGMENTS", AbortSignal.timeout(10_000));
 * }
 * ```
 */
export async function getDataEndpoint(
  clients: KvsClients,
  stream: StreamRef,
  apiName: DataApiName,
  signal?: AbortSignal,
): Promise<string> {
  checkStreamRegion(stream, clients.region);
  const command = new GetDataEndpointCommand({ ...streamInput(stream), APIName: apiName });
  const out = await withResponseDeadline(
    (abortSignal) => clients.control.send(command, { abortSignal }),
    { api: "GetDataEndpoint", timeoutMs: clients.responseTimeoutMs, signal },
  );
  if (!out.DataEndpoint) {
    const where = clients.endpointUrl
      ? ` (is ${withoutPassword(clients.endpointUrl)} a KVS endpoint? check --endpoint-url)`
      : "";
    throw new AwsError(`GetDataEndpoint returned no endpoint for stream ${streamLabel(stream)}${where}`);
  }
  return out.DataEndpoint;
}
