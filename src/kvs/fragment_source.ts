/**
 * What live and archived pulls share: options, counters, the retry policy,
 * and the position reached (last fragment number and continuation token).
 *
 * @example
 * ```ts
 * import type { FragmentSource } from "./fragment_source.ts";
 * async function drain(source: FragmentSource) {
 *   for await (const f of source.fragments()) console.log(f.kvs.fragmentNumber);
 *   console.log(source.endReason, source.stats, source.continuationToken);
 * }
 * ```
 * @module
 */

import type { Fragment } from "../mkv/fragment.ts";
import { streamLabel, type StreamRef } from "./arn.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { KvsClients } from "./client.ts";
import { CREDENTIALS_NETWORK_ERROR } from "./credentials.ts";
import { AwsError } from "../errors.ts";
import { RetryPolicy } from "./retry.ts";

/** Progress events of a pull. */
export type PullEvent =
  | { type: "connect"; session: number; selector: string }
  | {
    type: "retry";
    attempt: number;
    delayMs: number;
    reason: string;
    /** False when no call failed: a body ended with nothing new, which is how the end of a stream shows. */
    failed: boolean;
  }
  | {
    type: "reconnect";
    /** `stalled`: the body went silent (live: idle in the middle of a fragment; archived: no data within the response deadline). */
    reason: "dropped" | "ended" | "session-age" | "truncated" | "stalled";
    lastFragmentNumber?: string;
  }
  | { type: "duplicate"; fragmentNumber: string }
  | { type: "discarded"; reason: string; offset: number }
  | {
    type: "first-fragment";
    requested: string;
    /** The first fragment GetMedia sent; `""` when it sent none before the pull ended. */
    received: string;
    matched: boolean;
    fetchedRequested?: boolean;
  }
  | { type: "warning"; message: string };

/** Why a source ended. */
export type PullEndReason = "idle" | "end-of-stream";

/** Counters of a pull. */
export interface PullStats {
  /** Sessions (bodies) opened. */
  sessions: number;
  /** Reconnections after the first session. */
  reconnects: number;
  /** Retried failures (throttling, 5xx, network). */
  retries: number;
  /** Fragments received again and dropped. */
  duplicates: number;
  /** Partial fragments discarded. */
  discarded: number;
}

/** Options every source takes. */
export interface SourceOptions {
  /** SDK clients. */
  clients: KvsClients;
  /** The stream. */
  stream: StreamRef;
  /** Aborts the pull (SIGINT). */
  signal?: AbortSignal;
  /** Consecutive failed attempts before giving up (default 8). */
  maxRetries?: number;
  /** Backoff settings. */
  backoff?: BackoffOptions;
  /** Called with progress events. */
  onEvent?: (event: PullEvent) => void;
  /** Sleep (tests may shorten it). */
  sleep?: (ms: number) => Promise<void>;
  /** The clients' region, for messages. */
  region?: string;
}

/** Base class of {@linkcode PullSource} and {@linkcode ArchivedSource} (`O`: their options). */
export abstract class FragmentSource<O extends SourceOptions = SourceOptions> {
  /** Stream label for messages. */
  protected readonly label: string;
  /** Retry policy (updates `stats.retries`). */
  protected readonly retry: RetryPolicy;
  /** Fragment number of the last fragment yielded. */
  protected lastNumber: string | undefined;
  /** Continuation token of the last fragment yielded. */
  protected token: string | undefined;
  /** Counters. */
  readonly stats: PullStats = { sessions: 0, reconnects: 0, retries: 0, duplicates: 0, discarded: 0 };
  /** Why the iteration ended (after it did). */
  endReason: PullEndReason | undefined;
  /** For an explicit start fragment: whether the first fragment received was it. */
  firstFragmentMatched: boolean | undefined;

  constructor(protected readonly options: O) {
    this.label = streamLabel(options.stream);
    this.retry = new RetryPolicy({
      ...options,
      label: this.label,
      endpoint: options.clients.endpointUrl,
      stats: this.stats,
      checkCredentials: () => options.clients.checkCredentials(),
    });
  }

  /**
   * Get the credentials before the first call, outside its response
   * deadline (see {@linkcode KvsClients.checkCredentials}): a network error on
   * the way (STS, a container endpoint) is retried like a call's; anything
   * else ends the pull, named.
   */
  protected async credentialsReady(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.options.clients.checkCredentials();
      } catch (e) {
        if (!(e instanceof AwsError && e.code === CREDENTIALS_NETWORK_ERROR)) throw e;
        await this.retry.failed(e.cause, attempt, "GetDataEndpoint");
      }
    }
  }

  /** Fragment number of the last fragment yielded. */
  get lastFragmentNumber(): string | undefined {
    return this.lastNumber;
  }

  /** Continuation token of the last fragment yielded (when KVS sent one). */
  get continuationToken(): string | undefined {
    return this.token;
  }

  /** Report a progress event. */
  protected emit(e: PullEvent): void {
    this.options.onEvent?.(e);
  }

  /** The fragments, in order, each once. */
  abstract fragments(): AsyncGenerator<Fragment>;
}
