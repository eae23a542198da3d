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
import { AwsError, type DataError } from "../errors.ts";
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

  /**
   * The response the fragments come in, for messages: `""` for the first
   * (byte offsets from the start fragment on), `GetMedia response 2` after a
   * reconnection (offsets from that response's start).
   */
  protected response = "";
  /**
   * The response each fragment handed on came in (see
   * {@linkcode FragmentSource.handedOn}), and whether it is the fragment's own
   * (a start fragment fetched with GetMediaForFragmentList).
   */
  readonly #responses: WeakMap<Fragment, { response: string; own: boolean }> = new WeakMap();
  /** Data errors already named by {@linkcode FragmentSource.locate}. */
  readonly #located: WeakSet<DataError> = new WeakSet();

  /**
   * Name a data error in this source's fragments by the stream, the response
   * its byte offset counts from (after the first) and its fragment:
   * `stream NAME (GetMedia response 2, fragment N): byte 35754: …`.
   *
   * @param e the error, renamed in place (once: an error already named keeps its name)
   * @param fragmentNumber the fragment the bad data is in, if known
   * @param response the response it came in (default: the one being read)
   * @returns `e`
   */
  locate(e: DataError, fragmentNumber?: string, response: string = this.response): DataError {
    if (this.#located.has(e)) return e; // (named where it was found, on its way out)
    this.#located.add(e);
    return e.withSource(this.describe(fragmentNumber, response));
  }

  /**
   * {@linkcode FragmentSource.locate} for a data error in fragment `f`: once
   * `f` was handed on (an error of the demuxer's), named by the response it
   * came in; else by the response being read.
   *
   * @param e the error, renamed in place
   * @param f the fragment the bad data is in, if known
   * @returns `e`
   */
  locateIn(e: DataError, f: Fragment | undefined): DataError {
    const r = f === undefined ? undefined : this.#responses.get(f);
    if (r === undefined) return this.locate(e, f?.kvs.fragmentNumber);
    return this.locate(e, r.own ? undefined : f!.kvs.fragmentNumber, r.response);
  }

  /**
   * This source's name for a message about fragment `f` once it was handed
   * on: `stream NAME`, with the response it came in (after the first).
   *
   * @param f the fragment, if any
   */
  describeFor(f?: Fragment): string {
    return this.describe(
      undefined,
      f === undefined ? this.response : this.#responses.get(f)?.response ?? this.response,
    );
  }

  /**
   * Note the response that fragment `f`, about to be handed on, came in:
   * the one being read, or its own (`own`, named by itself).
   */
  protected handedOn(f: Fragment, own?: string): void {
    if (own !== undefined) this.#responses.set(f, { response: own, own: true });
    else if (!this.#responses.has(f)) this.#responses.set(f, { response: this.response, own: false });
  }

  /**
   * This source's name for messages: `stream NAME`, with the response being
   * read (after the first) and a fragment number when given.
   *
   * @param fragmentNumber a fragment to name, if any
   * @param response the response (default: the one being read)
   */
  describe(fragmentNumber?: string, response: string = this.response): string {
    const parts = [response, fragmentNumber !== undefined && fragmentNumber !== "" ? `fragment ${fragmentNumber}` : ""]
      .filter((p) => p !== "");
    return `stream ${this.label}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
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
