/**
 * A resumable source of fragments from GetMedia: the first stages of the
 * pull pipeline (HTTP body → EBML tokenizer → fragment assembler), with
 * reconnection.
 *
 * - When the body ends early, the connection drops, or a session nears its
 *   time limit (~45 min on KVS), it reconnects from the last complete
 *   fragment's continuation token (or `FRAGMENT_NUMBER` of it), with backoff;
 *   throttling and 5xx are retried the same way.
 * - A fragment cut off by a dropped connection is discarded, never yielded.
 * - Fragments already yielded are dropped if KVS sends them again (fragment
 *   numbers compared as BigInt), so `FRAGMENT_NUMBER` may mean "from" or
 *   "after" that fragment: either way no audio is lost or duplicated.
 * - For an explicit start fragment, the first fragment received is compared
 *   with the one asked for; if KVS starts after it, that fragment is fetched
 *   with GetMediaForFragmentList so its audio is included.
 * - No new fragment for `idleTimeoutMs` ends the iteration cleanly (Connect
 *   stops sending when the call ends).
 *
 * @example
 * ```ts
 * import { createKvsClients } from "./client.ts";
 * import { PullSource } from "./pull_source.ts";
 * const clients = await createKvsClients({ region: "us-east-1" });
 * const src = new PullSource({ clients, stream: { arn: "arn:aws:kinesisvideo:…" }, selector: { type: "NOW" } });
 * for await (const f of src.fragments()) console.log(f.kvs.fragmentNumber);
 * clients.destroy();
 * ```
 * @module
 */

import { DataError, ExitCode, KvsAudioError } from "../errors.ts";
import { assembleFragments } from "../mkv/assembler.ts";
import { type Fragment, parseFragmentNumber } from "../mkv/fragment.ts";
import { classifyAwsError } from "./errors.ts";
import { describe } from "./retry.ts";
import { FragmentSource, type SourceOptions } from "./fragment_source.ts";

export type { PullEndReason, PullEvent, PullStats } from "./fragment_source.ts";
import { openFragmentList } from "./fragment_list.ts";
import { openMedia } from "./get_media.ts";
import { idleGuard } from "./idle.ts";
import type { MediaBody } from "./media_body.ts";
import { describeSelector, type StartSelector } from "./selector.ts";

/** Options of {@linkcode PullSource}. */
export interface PullSourceOptions extends SourceOptions {
  /** Where to start. */
  selector: StartSelector;
  /** End cleanly after this long without a new fragment or any bytes (default 5000 ms; 0 = never). */
  idleTimeoutMs?: number;
  /** Reconnect at a fragment boundary once a session is this old (default 40 min). */
  maxSessionMs?: number;
}

/** A resumable GetMedia fragment source. */
export class PullSource extends FragmentSource<PullSourceOptions> {
  #lastBig: bigint | undefined;
  #recent = new Set<string>();
  #lastFragmentAt = 0;
  #sawTokens = false;

  /** Whether `f`'s fragment number was already yielded. */
  #isDuplicate(f: Fragment): boolean {
    const n = f.kvs.fragmentNumber;
    if (n === undefined) return false;
    const big = f.fragmentNumberBigInt;
    if (big !== undefined && this.#lastBig !== undefined && big <= this.#lastBig) return true;
    if (big === undefined && this.#recent.has(n)) return true;
    return false;
  }

  /** Record `f` as yielded. */
  #accept(f: Fragment): void {
    const n = f.kvs.fragmentNumber;
    if (n !== undefined) {
      this.lastNumber = n;
      const big = f.fragmentNumberBigInt;
      if (big !== undefined) this.#lastBig = big;
      this.#recent.add(n);
      if (this.#recent.size > 256) this.#recent.delete(this.#recent.values().next().value!);
    }
    this.token = f.kvs.continuationToken ?? this.token;
    this.#lastFragmentAt = Date.now();
  }

  #resumeSelector(): StartSelector {
    if (this.token !== undefined) return { type: "CONTINUATION_TOKEN", token: this.token };
    if (this.lastNumber !== undefined) return { type: "FRAGMENT_NUMBER", fragmentNumber: this.lastNumber };
    return this.options.selector;
  }

  /** Fragments, in order, each once. */
  async *fragments(): AsyncGenerator<Fragment> {
    const o = this.options;
    const idleMs = o.idleTimeoutMs ?? 5000;
    const maxSessionMs = o.maxSessionMs ?? 40 * 60 * 1000;
    let selector = o.selector;
    let attempt = 0;
    let first = true;
    const requested = o.selector.type === "FRAGMENT_NUMBER" ? o.selector.fragmentNumber : undefined;
    for (;;) {
      let body: MediaBody;
      try {
        this.emit({ type: "connect", session: this.stats.sessions + 1, selector: describeSelector(selector) });
        body = await openMedia(o.clients, o.stream, selector, o.signal);
      } catch (e) {
        await this.retry.failed(e, ++attempt, "GetMedia");
        continue;
      }
      this.stats.sessions++;
      if (this.stats.sessions > 1) this.stats.reconnects++;
      const started = Date.now();
      // The idle clock restarts with each session: time spent backing off is not idleness.
      this.#lastFragmentAt = started;
      const state = { idle: false };
      let ended: "eof" | "error" | "age" = "eof";
      let error: unknown;
      let progressed = false;
      let truncated = false;
      try {
        // Idle = no new fragment and no bytes either for idleMs: a slow fragment still arriving is not idleness.
        const chunks = idleGuard(
          body,
          (lastChunkAt) => idleMs > 0 ? Math.max(this.#lastFragmentAt, lastChunkAt) + idleMs : Infinity,
          state,
        );
        for await (const f of assembleFragments(chunks, { eager: true, source: `stream ${this.label}` })) {
          // A fragment is whole once its trailing KVS tags were read, or the next document began.
          // At an idle end (no drop), a stream that carries no continuation tokens at all has no other
          // mark of a fragment's end: accept its last complete fragment.
          const whole = f.complete &&
            (f.closedBy !== "end-of-input" || f.kvs.continuationToken !== undefined ||
              (state.idle && !this.#sawTokens));
          if (f.kvs.continuationToken !== undefined) this.#sawTokens = true;
          if (!whole && !f.isError) {
            this.stats.discarded++;
            truncated = true;
            this.emit({ type: "discarded", reason: "cut off by the end of the body", offset: f.offset });
            continue;
          }
          if (f.isError) {
            // An in-band error ends the pull whatever its fragment number (it may repeat the last one).
            this.#accept(f);
            yield f;
            return;
          }
          if (this.#isDuplicate(f)) {
            this.stats.duplicates++;
            this.emit({ type: "duplicate", fragmentNumber: f.kvs.fragmentNumber! });
            continue;
          }
          if (first && requested !== undefined) {
            const received = f.kvs.fragmentNumber ?? "";
            const matched = received === requested;
            this.firstFragmentMatched = matched;
            const qb = parseFragmentNumber(requested);
            let fetched = false;
            const big = f.fragmentNumberBigInt;
            if (!matched && big !== undefined && qb !== undefined && big > qb) {
              const missing = await this.#fetchOne(requested);
              if (missing) {
                fetched = true;
                this.#accept(missing);
                yield missing;
              }
            }
            this.emit({ type: "first-fragment", requested, received, matched, fetchedRequested: fetched });
          }
          first = false;
          progressed = true;
          attempt = 0;
          this.#accept(f);
          yield f;
          if (Date.now() - started >= maxSessionMs) {
            ended = "age";
            break;
          }
        }
      } catch (e) {
        if (e instanceof KvsAudioError && e.exitCode !== ExitCode.aws) throw e;
        ended = "error";
        error = e;
      } finally {
        body.close();
      }
      if (state.idle) {
        this.endReason = "idle";
        return;
      }
      if (ended === "error") {
        if (progressed) attempt = 0;
        await this.retry.failed(error, ++attempt, "GetMedia");
      } else if (ended === "eof" && !progressed) {
        // The body ended with nothing new: back off; past the retry budget, the stream has ended.
        if (++attempt > this.retry.maxRetries) {
          this.endReason = "end-of-stream";
          return;
        }
        const delayMs = this.retry.delay(attempt);
        this.emit({ type: "retry", attempt, delayMs, reason: "the body ended with no new fragment" });
        await this.retry.sleep(delayMs);
      }
      selector = this.#resumeSelector();
      this.emit({
        type: "reconnect",
        reason: ended === "age" ? "session-age" : ended === "error" ? "dropped" : truncated ? "truncated" : "ended",
        lastFragmentNumber: this.lastNumber,
      });
    }
  }

  /** Fetch one fragment with GetMediaForFragmentList; undefined (with a warning) if that fails. */
  async #fetchOne(fragmentNumber: string): Promise<Fragment | undefined> {
    const o = this.options;
    for (let attempt = 1;; attempt++) {
      let body: MediaBody | undefined;
      try {
        body = await openFragmentList(o.clients, o.stream, [fragmentNumber], o.signal);
        for await (const f of assembleFragments(body, { source: `stream ${this.label}` })) {
          if (f.complete && f.kvs.fragmentNumber === fragmentNumber) return f;
        }
        throw new Error("the fragment was not in the response");
      } catch (e) {
        const c = e instanceof DataError ? e : classifyAwsError(e, this.label, { api: "GetMediaForFragmentList" });
        if (c === "retry" && attempt <= this.retry.maxRetries) {
          await this.retry.sleep(this.retry.delay(attempt));
          continue;
        }
        this.emit({
          type: "warning",
          message: `KVS started after fragment ${fragmentNumber} and fetching it failed (${
            c === "retry" ? describe(e) : c.message
          }): its audio is missing`,
        });
        return undefined;
      } finally {
        body?.close();
      }
    }
  }
}
