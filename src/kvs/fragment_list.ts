/**
 * GetMediaForFragmentList: the media of given archived fragments, in the
 * order asked, as one body (batches of at most 1000 fragments, fetched one
 * after another as the body is read).
 *
 * @example
 * ```ts
 * import { listFragments } from "./list_fragments.ts";
 * import { openFragmentList } from "./fragment_list.ts";
 * import type { KvsClients } from "./client.ts";
 * async function example(clients: KvsClients, parser: { push(chunk: Uint8Array): void }) {
 *   const frags = await listFragments(clients, { name: "calls" });
 *   const body = await openFragmentList(clients, { name: "calls" }, frags.map((f) => f.fragmentNumber));
 *   for await (const chunk of body) parser.push(chunk);
 * }
 * ```
 * @module
 */

import { GetMediaForFragmentListCommand } from "@aws-sdk/client-kinesis-video-archived-media";
import { UsageError } from "../errors.ts";
import type { StreamRef } from "./arn.ts";
import { streamInput } from "./arn.ts";
import type { KvsClients } from "./client.ts";
import { getDataEndpoint } from "./data_endpoint.ts";
import { withResponseDeadline } from "./deadline.ts";
import { type MediaBody, mediaBody } from "./media_body.ts";

/** KVS accepts at most this many fragments per GetMediaForFragmentList call. */
export const MAX_FRAGMENTS_PER_CALL = 1000;

/**
 * Call GetDataEndpoint (`GET_MEDIA_FOR_FRAGMENT_LIST`) once and
 * GetMediaForFragmentList for the first batch; further batches are requested
 * when the previous one has been read. SDK and network errors are thrown as
 * they are: classify them with `classifyAwsError`.
 *
 * @example
 * ```ts
 * async function example(clients: import("./client.ts").KvsClients) {
 *   const arn = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1599166395421";
 *   const body = await openFragmentList(clients, { arn }, ["91343852333181432392682062607743920146264613494"]);
 *   for await (const chunk of body) console.log(chunk.length);
 * }
 * ```
 */
export async function openFragmentList(
  clients: KvsClients,
  stream: StreamRef,
  fragmentNumbers: readonly string[],
  signal?: AbortSignal,
): Promise<MediaBody> {
  if (fragmentNumbers.length === 0) throw new UsageError("no fragments to fetch");
  const base = streamInput(stream);
  const dataEndpoint = await getDataEndpoint(clients, stream, "GET_MEDIA_FOR_FRAGMENT_LIST", signal);
  const client = clients.archived(dataEndpoint);
  const timeoutMs = clients.responseTimeoutMs;
  const open = async (start: number): Promise<MediaBody> => {
    const batch = fragmentNumbers.slice(start, start + MAX_FRAGMENTS_PER_CALL);
    const command = new GetMediaForFragmentListCommand({ ...base, Fragments: batch });
    const out = await withResponseDeadline(
      (abortSignal) => client.send(command, { abortSignal }),
      { api: "GetMediaForFragmentList", timeoutMs, signal },
    );
    return mediaBody(out.Payload, {
      dataEndpoint,
      contentType: out.ContentType,
      signal,
      api: "GetMediaForFragmentList",
    });
  };
  const first = await open(0);
  if (fragmentNumbers.length <= MAX_FRAGMENTS_PER_CALL) return first;

  let current: MediaBody | undefined = first;
  let iterated = false;
  let closed = false;
  async function* all(): AsyncGenerator<Uint8Array> {
    for (let start = 0; start < fragmentNumbers.length; start += MAX_FRAGMENTS_PER_CALL) {
      if (closed) return;
      current = start === 0 ? first : await open(start);
      if (closed) {
        current.close();
        return;
      }
      yield* current;
    }
  }
  return {
    contentType: first.contentType,
    dataEndpoint,
    close() {
      closed = true;
      current?.close();
      current = undefined;
    },
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      if (iterated) throw new TypeError("a media body can be iterated only once");
      iterated = true;
      return all();
    },
  };
}
