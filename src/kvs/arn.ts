/**
 * Kinesis Video stream ARNs and stream references: parsing, labels for
 * messages, and the region check made before any call.
 *
 * @example
 * ```ts
 * import { parseStreamArn } from "./arn.ts";
 * parseStreamArn("arn:aws:kinesisvideo:us-east-1:123456789012:stream/my-stream/1599166395421");
 * // { partition: "aws", region: "us-east-1", account: "123456789012", name: "my-stream", creationTime: "1599166395421" }
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";

/** Which stream to read: by ARN or by name (ARN wins when both are set). */
export interface StreamRef {
  /** `arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/CREATION`. */
  arn?: string;
  /** Stream name. */
  name?: string;
}

/** The parts of a Kinesis Video stream ARN. */
export interface StreamArn {
  /** `aws`, `aws-cn`, `aws-us-gov`, ... */
  partition: string;
  /** Region, e.g. `us-east-1`. */
  region: string;
  /** Account id. */
  account: string;
  /** Stream name. */
  name: string;
  /** Creation time part (epoch ms as a string). */
  creationTime: string;
}

const ARN_RE = /^arn:([a-z0-9-]+):kinesisvideo:([a-z0-9-]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,256})\/(\d+)$/;

/**
 * Parse a Kinesis Video stream ARN; `undefined` when it is not one.
 *
 * @example
 * ```ts
 * parseStreamArn("arn:aws:kinesisvideo:eu-west-1:123456789012:stream/s/1")?.region; // "eu-west-1"
 * parseStreamArn("not-an-arn"); // undefined
 * ```
 */
export function parseStreamArn(arn: string): StreamArn | undefined {
  const m = ARN_RE.exec(arn);
  if (!m) return undefined;
  return { partition: m[1], region: m[2], account: m[3], name: m[4], creationTime: m[5] };
}

/**
 * A short label for messages: the stream name (from the ARN if need be).
 *
 * @example
 * ```ts
 * streamLabel({ arn: "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1" }); // "calls"
 * streamLabel({ name: "calls" }); // "calls"
 * ```
 */
export function streamLabel(stream: StreamRef): string {
  if (stream.arn) return parseStreamArn(stream.arn)?.name ?? stream.arn;
  return stream.name ?? "(no stream)";
}

/**
 * The SDK input fields naming the stream (`StreamARN` or `StreamName`).
 * Throws a UsageError when neither is set or the ARN is malformed.
 *
 * @example
 * ```ts
 * streamInput({ name: "calls" }); // { StreamName: "calls" }
 * ```
 */
export function streamInput(stream: StreamRef): { StreamARN: string } | { StreamName: string } {
  if (stream.arn) {
    if (!parseStreamArn(stream.arn)) {
      throw new UsageError(
        `not a Kinesis Video stream ARN: ${stream.arn} (expected arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/CREATION)`,
      );
    }
    return { StreamARN: stream.arn };
  }
  if (stream.name) return { StreamName: stream.name };
  throw new UsageError("no stream given: pass --arn or --stream-name");
}

/**
 * Throw a UsageError when a stream ARN names another region than the client's
 * (KVS would answer a misleading ResourceNotFoundException).
 *
 * @example
 * ```ts
 * import { UsageError } from "../errors.ts";
 * checkStreamRegion({ arn: "arn:aws:kinesisvideo:us-east-1:123456789012:stream/s/1" }, "us-east-1"); // fine
 * try {
 *   checkStreamRegion({ arn: "arn:aws:kinesisvideo:eu-west-1:123456789012:stream/s/1" }, "us-east-1");
 * } catch (e) {
 *   e instanceof UsageError; // true
 *   console.log((e as Error).message);
 *   // stream s is in region eu-west-1 but the AWS region is us-east-1: pass --region eu-west-1
 * }
 * ```
 */
export function checkStreamRegion(stream: StreamRef, region: string): void {
  if (!stream.arn) return;
  const arn = parseStreamArn(stream.arn);
  if (arn && arn.region !== region) {
    throw new UsageError(
      `stream ${arn.name} is in region ${arn.region} but the AWS region is ${region}: pass --region ${arn.region}`,
    );
  }
}
