/**
 * kvsaudio's AWS SDK layer for Kinesis Video Streams. The CLI imports this
 * module lazily (`await import("./kvs/mod.ts")`) so commands that never talk
 * to AWS do not load the SDK.
 *
 * @example
 * ```ts
 * const kvs = await import("./mod.ts");
 * const clients = await kvs.createKvsClients({ region: "us-east-1" });
 * try {
 *   const body = await kvs.openMedia(clients, { name: "calls" }, { type: "NOW" });
 *   for await (const chunk of body) console.log(chunk.length);
 * } finally {
 *   clients.destroy();
 * }
 * ```
 * @module
 */

export { checkStreamRegion, parseStreamArn, type StreamArn, streamInput, streamLabel, type StreamRef } from "./arn.ts";
export { backoffDelays, type BackoffOptions, seededRandom } from "./backoff.ts";
export {
  type AwsOptions,
  checkProfile,
  createKvsClients,
  type KvsClientOptions,
  type KvsClients,
  type KvsCredentials,
} from "./client.ts";
export { type DataApiName, getDataEndpoint } from "./data_endpoint.ts";
export { checkEndpointUrl, checkEndpointVariables, checkRegionName } from "./endpoint_url.ts";
export {
  CREDENTIALS_NETWORK_ERROR,
  credentialsError,
  credentialSource,
  DEFAULT_CREDENTIALS_TIMEOUT_MS,
  FROM_CREDENTIALS,
  guardCredentials,
  type GuardOptions,
} from "./credentials.ts";
export {
  blameMissingProfile,
  type Classification,
  classifyAwsError,
  type ClassifyContext,
  describeNetworkError,
  finalAwsError,
  isClockSkew,
  type KvsApi,
  KvsTimeoutError,
  notKvsResponse,
  operationOf,
  redact,
  tagOperation,
} from "./errors.ts";
export { DEFAULT_RESPONSE_TIMEOUT_MS, stallGuard, withResponseDeadline } from "./deadline.ts";
export { MAX_FRAGMENTS_PER_CALL, openFragmentList } from "./fragment_list.ts";
export { openMedia } from "./get_media.ts";
export {
  compareFragmentNumbers,
  compareFragments,
  type FragmentInfo,
  listFragments,
  type ListFragmentsOptions,
} from "./list_fragments.ts";
export { type MediaBody, mediaBody } from "./media_body.ts";
export { describeSelector, type StartSelector, type StartSelectorType, toSdkStartSelector } from "./selector.ts";
export {
  type PullEndReason,
  type PullEvent,
  PullSource,
  type PullSourceOptions,
  type PullStats,
} from "./pull_source.ts";
export { ArchivedSource, type ArchivedSourceOptions } from "./archived_source.ts";
export { FragmentSource, type SourceOptions } from "./fragment_source.ts";
export { describe, type RetryOptions, RetryPolicy } from "./retry.ts";
export { idleGuard } from "./idle.ts";
