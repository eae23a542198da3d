/**
 * The retry policy shared by live and archived pulls: classify a failure,
 * give up with the final error past the budget, or report it and back off
 * (exponential, full jitter, abortable).
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "./retry.ts";
 * const retry = new RetryPolicy({ label: "calls", maxRetries: 3 });
 * for (let attempt = 1;; attempt++) {
 *   try {
 *     // … call KVS …
 *     break;
 *   } catch (e) {
 *     await retry.failed(e, attempt, "GetMedia"); // throws when it should not retry
 *   }
 * }
 * ```
 * @module
 */

import { AwsError, DataError, ExitCode, KvsAudioError } from "../errors.ts";
import { backoffDelays, type BackoffOptions } from "./backoff.ts";
import {
  classifyAwsError,
  finalAwsError,
  isClockSkew,
  type KvsApi,
  KvsTimeoutError,
  notKvsResponse,
  operationOf,
  redact,
} from "./errors.ts";
import type { PullEvent } from "./fragment_source.ts";
import { CREDENTIALS_NETWORK_ERROR } from "./credentials.ts";

/** Options of {@linkcode RetryPolicy}. */
export interface RetryOptions {
  /** Stream label for messages. */
  label: string;
  /** The clients' region, for messages. */
  region?: string;
  /** The endpoint called, for network messages. */
  endpoint?: string;
  /** Consecutive failed attempts before giving up (default 8). */
  maxRetries?: number;
  /** Backoff settings. */
  backoff?: BackoffOptions;
  /** Aborts a backoff (SIGINT). */
  signal?: AbortSignal;
  /** Sleep (tests may shorten it). */
  sleep?: (ms: number) => Promise<void>;
  /** Receives `retry` events. */
  onEvent?: (event: PullEvent) => void;
  /** Counters to update (`retries`). */
  stats?: { retries: number };
  /**
   * Before retrying a call that got no answer: get the credentials (see
   * `KvsClients.checkCredentials`), which throws their own error
   * when it is they that hang.
   */
  checkCredentials?: () => Promise<void>;
}

/** Classifies failures and backs off. */
export class RetryPolicy {
  #o: RetryOptions;
  /** The calls tried again after AWS refused their time (once each per run). */
  #skewRetried = new Set<string>();
  constructor(options: RetryOptions) {
    this.#o = options;
  }

  /** The retry budget. */
  get maxRetries(): number {
    return this.#o.maxRetries ?? 8;
  }

  /** The backoff delay for `attempt` (1-based). */
  delay(attempt: number): number {
    return backoffDelays(attempt, this.#o.backoff);
  }

  /** Wait `ms`; an abort rejects with the "interrupted" error. */
  async sleep(ms: number): Promise<void> {
    if (this.#o.sleep) return await this.#o.sleep(ms);
    const signal = this.#o.signal;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(new KvsAudioError("interrupted", ExitCode.interrupted));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Handle failure number `attempt` of a call: rethrow data errors and
   * errors not worth retrying, throw the final error past the budget, else
   * report a `retry` event and back off.
   */
  async failed(err: unknown, attempt: number, api: KvsApi): Promise<void> {
    if (err instanceof DataError) throw err;
    const o = this.#o;
    const ctx = { region: o.region, api, endpoint: o.endpoint };
    const op = operationOf(err) ?? api;
    if (isClockSkew(err) && !this.#skewRetried.has(op)) {
      // AWS refused the request's time; the SDK has corrected its client's clock offset from that answer: once
      // more at once, once per call (a second refusal is the error, "check the system clock").
      this.#skewRetried.add(op);
      if (o.stats) o.stats.retries++;
      o.onEvent?.({ type: "retry", attempt, delayMs: 0, reason: describe(err), failed: true });
      return;
    }
    const c = classifyAwsError(err, o.label, ctx);
    if (c !== "retry") throw c;
    if (attempt > this.maxRetries) throw finalAwsError(err, o.label, { ...ctx, retried: this.maxRetries > 0 });
    // A call that got no answer may have waited for credentials being refreshed (a credential_process or STS
    // that hangs): those are then the error, named, not the endpoint (at most their own deadline).
    if (err instanceof KvsTimeoutError && err.kind === "response") {
      // (A network error on their way is the call's to retry: it fails the same way, marked as theirs.)
      await o.checkCredentials?.().catch((e) => {
        if (!(e instanceof AwsError && e.code === CREDENTIALS_NETWORK_ERROR)) throw e;
      });
    }
    const delayMs = this.delay(attempt);
    if (o.stats) o.stats.retries++;
    o.onEvent?.({ type: "retry", attempt, delayMs, reason: describe(err), failed: true });
    await this.sleep(delayMs);
  }
}

/** A short, credential-free description of a failure. */
export function describe(err: unknown): string {
  const foreign = notKvsResponse(err);
  if (foreign) return `${operationOf(err) ?? "KVS call"}: ${foreign}, not a KVS response`;
  const e = err as { name?: string; code?: string; message?: string };
  return redact([e.name, e.code, e.message].filter((x) => x && x !== "Error").join(": ") || String(err));
}
