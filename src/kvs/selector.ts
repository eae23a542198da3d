/**
 * Where a GetMedia session starts: a typed model of the KVS StartSelector and
 * its conversion to the SDK's shape.
 *
 * @example
 * ```ts
 * import { toSdkStartSelector } from "./selector.ts";
 * toSdkStartSelector({ type: "PRODUCER_TIMESTAMP", timestampMs: 1599166395421 });
 * // { StartSelectorType: "PRODUCER_TIMESTAMP", StartTimestamp: new Date(1599166395421) }
 * ```
 * @module
 */

import type { StartSelector as SdkStartSelector } from "@aws-sdk/client-kinesis-video-media";

/** A GetMedia start position. */
export type StartSelector =
  /** At (or, depending on how KVS reads it, after) this fragment. */
  | { type: "FRAGMENT_NUMBER"; fragmentNumber: string }
  /** First fragment whose producer / server timestamp is at or after `timestampMs` (epoch ms). */
  | { type: "PRODUCER_TIMESTAMP" | "SERVER_TIMESTAMP"; timestampMs: number }
  /** The live edge. */
  | { type: "NOW" }
  /** The oldest fragment kept. */
  | { type: "EARLIEST" }
  /** The fragment after the one a previous session's continuation token names. */
  | { type: "CONTINUATION_TOKEN"; token: string };

/** The selector type names. */
export type StartSelectorType = StartSelector["type"];

/**
 * Convert to the SDK's StartSelector (`StartTimestamp` is a Date there; the
 * SDK sends it as epoch seconds with millisecond fraction).
 *
 * @example
 * ```ts
 * toSdkStartSelector({ type: "FRAGMENT_NUMBER", fragmentNumber: "91343852333181432392682062607743920146264613494" });
 * // { StartSelectorType: "FRAGMENT_NUMBER", AfterFragmentNumber: "9134..." }
 * ```
 */
export function toSdkStartSelector(selector: StartSelector): SdkStartSelector {
  switch (selector.type) {
    case "FRAGMENT_NUMBER":
      return { StartSelectorType: "FRAGMENT_NUMBER", AfterFragmentNumber: selector.fragmentNumber };
    case "PRODUCER_TIMESTAMP":
    case "SERVER_TIMESTAMP":
      return { StartSelectorType: selector.type, StartTimestamp: new Date(selector.timestampMs) };
    case "NOW":
      return { StartSelectorType: "NOW" };
    case "EARLIEST":
      return { StartSelectorType: "EARLIEST" };
    case "CONTINUATION_TOKEN":
      return { StartSelectorType: "CONTINUATION_TOKEN", ContinuationToken: selector.token };
  }
}

/**
 * A one-line description for logs and messages.
 *
 * @example
 * ```ts
 * describeSelector({ type: "SERVER_TIMESTAMP", timestampMs: 0 }); // "SERVER_TIMESTAMP 1970-01-01T00:00:00.000Z"
 * describeSelector({ type: "NOW" }); // "NOW"
 * ```
 */
export function describeSelector(selector: StartSelector): string {
  switch (selector.type) {
    case "FRAGMENT_NUMBER":
      return `FRAGMENT_NUMBER ${selector.fragmentNumber}`;
    case "PRODUCER_TIMESTAMP":
    case "SERVER_TIMESTAMP":
      return `${selector.type} ${new Date(selector.timestampMs).toISOString()}`;
    case "CONTINUATION_TOKEN":
      return `CONTINUATION_TOKEN ${selector.token}`;
    default:
      return selector.type;
  }
}
