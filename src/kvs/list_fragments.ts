/**
 * ListFragments: the archived fragments of a stream, all pages, in stream
 * order (KVS returns them in no promised order).
 *
 * @example
 * ```ts
 * import { listFragments } from "./list_fragments.ts";
 * import type { KvsClients } from "./client.ts";
 * async function example(clients: KvsClients) {
 *   const frags = await listFragments(clients, { name: "calls" }, {
 *     range: { type: "PRODUCER_TIMESTAMP", startMs: Date.now() - 3600_000, endMs: Date.now() },
 *   });
 *   console.log(frags.map((f) => f.fragmentNumber));
 * }
 * ```
 * @module
 */

import { type Fragment, ListFragmentsCommand } from "@aws-sdk/client-kinesis-video-archived-media";
import type { StreamRef } from "./arn.ts";
import { streamInput, streamLabel } from "./arn.ts";
import { AwsError } from "../errors.ts";
import type { KvsClients } from "./client.ts";
import { getDataEndpoint } from "./data_endpoint.ts";
import { withResponseDeadline } from "./deadline.ts";

/** Most fragments a listing may hold (~55 hours of 1-second fragments; a Connect call lasts hours at most). */
const MAX_LISTED = 200_000;
/** Most pages a listing may take (KVS fills them up to MaxResults; empty ones mean nothing new). */
const MAX_PAGES = 10_000;

/** One archived fragment. */
export interface FragmentInfo {
  /** Fragment number (decimal string; compare as BigInt). */
  fragmentNumber: string;
  /** Size in bytes. */
  sizeBytes: number;
  /** Producer timestamp, epoch ms. */
  producerMs: number;
  /** Server timestamp, epoch ms. */
  serverMs: number;
  /** Duration, ms. */
  lengthMs: number;
}

/** Which fragments to list. */
export interface ListFragmentsOptions {
  /** Only fragments whose producer / server timestamp is in `[startMs, endMs]`. */
  range?: { type: "PRODUCER_TIMESTAMP" | "SERVER_TIMESTAMP"; startMs: number; endMs: number };
  /** Page size asked of KVS (1–1000, default 1000). */
  pageSize?: number;
  /** Aborts the listing. */
  signal?: AbortSignal;
}

/**
 * Compare fragments by producer timestamp, then fragment number (as BigInt).
 *
 * @example
 * ```ts
 * function example(frags: FragmentInfo[]) {
 *   frags.sort(compareFragments);
 * }
 * ```
 */
export function compareFragments(a: FragmentInfo, b: FragmentInfo): number {
  if (a.producerMs !== b.producerMs) return a.producerMs - b.producerMs;
  return compareFragmentNumbers(a.fragmentNumber, b.fragmentNumber);
}

/**
 * Compare two fragment numbers: as BigInt when both are decimal, else as strings.
 *
 * @example
 * ```ts
 * compareFragmentNumbers("9", "10"); // -1
 * ```
 */
export function compareFragmentNumbers(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function toInfo(f: Fragment): FragmentInfo | undefined {
  if (!f.FragmentNumber) return undefined;
  return {
    fragmentNumber: f.FragmentNumber,
    sizeBytes: f.FragmentSizeInBytes ?? 0,
    producerMs: f.ProducerTimestamp?.getTime() ?? 0,
    serverMs: f.ServerTimestamp?.getTime() ?? 0,
    lengthMs: f.FragmentLengthInMilliseconds ?? 0,
  };
}

/**
 * List every fragment (following NextToken), sorted by producer timestamp
 * then fragment number. Calls GetDataEndpoint (`LIST_FRAGMENTS`) once. SDK
 * errors are thrown as they are: classify them with `classifyAwsError`.
 *
 * @example
 * ```ts
 * async function example(clients: import("./client.ts").KvsClients) {
 *   const arn = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1599166395421";
 *   const all = await listFragments(clients, { arn });
 *   const first = all[0]?.fragmentNumber;
 * }
 * ```
 */
export async function listFragments(
  clients: KvsClients,
  stream: StreamRef,
  opts: ListFragmentsOptions = {},
): Promise<FragmentInfo[]> {
  const endpoint = await getDataEndpoint(clients, stream, "LIST_FRAGMENTS", opts.signal);
  const client = clients.archived(endpoint);
  const base = streamInput(stream);
  const selector = opts.range
    ? {
      FragmentSelectorType: opts.range.type,
      TimestampRange: { StartTimestamp: new Date(opts.range.startMs), EndTimestamp: new Date(opts.range.endMs) },
    }
    : undefined;
  const out: FragmentInfo[] = [];
  let nextToken: string | undefined;
  const tokens = new Set<string>();
  let pages = 0;
  do {
    // A listing that does not end (a token given again, pages without end) is refused, not followed forever.
    if (++pages > MAX_PAGES || out.length > MAX_LISTED) {
      throw new AwsError(
        `ListFragments on stream ${streamLabel(stream)} listed more than ${
          out.length > MAX_LISTED ? `${MAX_LISTED} fragments` : `${MAX_PAGES} pages`
        }: narrow the range (--start-timestamp, --stop-timestamp)`,
        "ListFragmentsTooLong",
      );
    }
    const command = new ListFragmentsCommand({
      ...base,
      MaxResults: opts.pageSize ?? 1000,
      ...(nextToken ? { NextToken: nextToken } : {}),
      ...(selector ? { FragmentSelector: selector } : {}),
    });
    const page = await withResponseDeadline(
      (abortSignal) => client.send(command, { abortSignal }),
      {
        api: "ListFragments",
        timeoutMs: clients.responseTimeoutMs,
        signal: opts.signal,
      },
    );
    for (const f of page.Fragments ?? []) {
      const info = toInfo(f);
      if (info) out.push(info);
    }
    nextToken = page.NextToken || undefined;
    if (nextToken !== undefined) {
      if (tokens.has(nextToken)) {
        throw new AwsError(
          `ListFragments on stream ${streamLabel(stream)} gave the same NextToken again after ${pages} page(s): ` +
            "its listing does not end",
          "ListFragmentsLoop",
        );
      }
      tokens.add(nextToken);
    }
  } while (nextToken);
  return out.sort(compareFragments);
}
