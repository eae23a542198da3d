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
 * const src = new PullSource({
 *   clients,
 *   stream: { arn: "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1700000000000" },
 *   selector: { type: "NOW" },
 *   idleTimeoutMs: 1000, // the call has ended when nothing comes for 1 s
 * });
 * for await (const f of src.fragments()) console.log(f.kvs.fragmentNumber);
 * clients.destroy();
 * ```
 * @module
 */

import { DataError, ExitCode, KvsAudioError } from "../errors.ts";
import { assembleFragments, fragmentOpenAt } from "../mkv/assembler.ts";
import { type Fragment, parseFragmentNumber } from "../mkv/fragment.ts";
import { classifyAwsError, KvsTimeoutError, operationOf, seconds } from "./errors.ts";
import { stallGuard } from "./deadline.ts";
import { FragmentSource, type SourceOptions } from "./fragment_source.ts";

export type { PullEndReason, PullEvent, PullStats } from "./fragment_source.ts";
import { openFragmentList } from "./fragment_list.ts";
import { openMedia } from "./get_media.ts";
import { idleGuard } from "./idle.ts";
import type { MediaBody } from "./media_body.ts";
import { describeSelector, type StartSelector } from "./selector.ts";
import { TrailingTags } from "./trailing_tags.ts";

/** Options of {@linkcode PullSource}. */
export interface PullSourceOptions extends SourceOptions {
  /** Where to start. */
  selector: StartSelector;
  /** End cleanly after this long without a new fragment or any bytes (default 5000 ms; 0 = never). */
  idleTimeoutMs?: number;
  /** Reconnect at a fragment boundary once a session is this old (default 40 min). */
  maxSessionMs?: number;
  /**
   * How long a body may keep sending with no new fragment (an endless
   * element, a trickle, one fragment sent again and again) before it counts
   * as stalled: then resumed like a dropped connection, within the retry
   * budget; at a fragment boundary (only fragments already written came), the
   * stream has ended. Default: 12 × `idleTimeoutMs`, at least 60 s.
   */
  progressTimeoutMs?: number;
  /**
   * Fragment number (decimal) an earlier run wrote last: with a `FRAGMENT_NUMBER`
   * selector of it, it and any fragment before it are dropped if KVS sends
   * them (it reads the selector as "from" or "after" N), and nothing is
   * fetched separately.
   */
  after?: string;
  /**
   * With `idleTimeoutMs` 0: once the wall clock is past this (epoch ms: a stop
   * timestamp), a body quiet for {@linkcode QUIET_AFTER_STOP_MS} ends the pull
   * as idle (no fragment can reach the bound any more).
   */
  quietAfterMs?: number;
}

/** See {@linkcode PullSourceOptions.quietAfterMs}. */
export const QUIET_AFTER_STOP_MS = 5000;

/** How recent a body's last chunk must be for it to count as still sending (at most a quarter of `progressTimeoutMs`). */
const KEPT_SENDING_MS = 10_000;

/** A resumable GetMedia fragment source. */
export class PullSource extends FragmentSource<PullSourceOptions> {
  #lastBig: bigint | undefined;
  #recent = new Set<string>();
  #lastFragmentAt = 0;
  /**
   * When the stream last sent something (a fragment, or bytes in a body):
   * bodies that end with nothing new (GetMedia's answer when no fragment
   * comes within ~3 s) count as quiet from here, across reconnects and failed
   * calls (what was sent meanwhile comes in the next body).
   */
  #quietFrom = 0;
  #sawTokens = false;
  /** A fragment had tags after its Cluster. */
  #sawTrailingTags = false;
  /** A fragment had KVS's own tags after its Cluster (`MILLIS_BEHIND_NOW`). */
  #sawKvsTrailing = false;
  /** The tags after the Cluster of the whole fragments (for GetMediaForFragmentList bodies, which have no KVS trailing tags). */
  #trailing = new TrailingTags();
  /** A whole fragment with KVS's tags before its Cluster had other tags after it, but none of KVS's (not KVS). */
  #sawTrailedWithoutKvs = false;
  /** A fragment closed by the next document had none. */
  #sawUntrailed = false;
  /** A whole fragment came (after which, without KVS's tags after the Cluster, bytes past it may be one held back). */
  #sawWhole = false;
  /** The number of the first fragment a body began, even cut off (what KVS started at). */
  #firstSeen: string | undefined;
  /** The warning that a NOW start's first fragment was lost was given. */
  #nowLossSaid = false;
  /** The fragment cut off every time (KVS started at it) was then fetched on its own. */
  #fetchedCut = false;
  /**
   * `NOW`: the fragment a body was cut inside before any whole one came. The
   * live edge has moved on by the reconnection: it is asked for by number.
   */
  #firstCut: string | undefined;

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
    this.handedOn(f);
    const n = f.kvs.fragmentNumber;
    if (n !== undefined) {
      this.lastNumber = n;
      const big = f.fragmentNumberBigInt;
      if (big !== undefined) this.#lastBig = big;
      this.#recent.add(n);
      if (this.#recent.size > 256) this.#recent.delete(this.#recent.values().next().value!);
    }
    this.token = f.kvs.continuationToken ?? this.token;
    this.#lastFragmentAt = this.#quietFrom = Date.now();
  }

  /**
   * Fragment `n` (if its number was read) came cut off before any whole
   * one: KVS started at it, and a NOW start asks for it again by number.
   */
  #firstCutOff(n: string | undefined): void {
    if (n === undefined) return;
    this.#firstSeen ??= n;
    if (this.options.selector.type === "NOW" && this.lastNumber === undefined) this.#firstCut ??= n;
  }

  #resumeSelector(): StartSelector {
    if (this.token !== undefined) return { type: "CONTINUATION_TOKEN", token: this.token };
    if (this.lastNumber !== undefined) return { type: "FRAGMENT_NUMBER", fragmentNumber: this.lastNumber };
    if (this.#firstCut !== undefined) return { type: "FRAGMENT_NUMBER", fragmentNumber: this.#firstCut };
    return this.options.selector;
  }

  /**
   * Whether `f`, read up to the end of a body that ended cleanly or went
   * idle (never a reset: a reset throws before the assembler flushes), is
   * whole. A fragment with a continuation token is (its trailing tags were
   * read); in a stream that has tokens, one without is cut off. KVS ends
   * each fragment with its own Tags (`MILLIS_BEHIND_NOW`, then the token
   * when the stream has them), after any other tags after the Cluster: a
   * fragment with other tags after its Cluster but not KVS's is cut off, even
   * before the first token was seen (Connect's trailing Tags, ContactId and
   * MimeType among them, come before KVS's) — unless it carries no KVS tags
   * at all, or whole fragments of this stream were seen to end that way (not
   * KVS). Only in a stream whose fragments are known to carry no trailing
   * tags does an idle end accept a last fragment without them.
   */
  #wholeAtEnd(f: Fragment, idle: boolean): boolean {
    if (!f.complete) return false;
    if (f.kvs.continuationToken !== undefined) return true;
    if (this.#sawTokens) return false;
    if (f.hasTagAfterCluster(isKvsTag)) return true;
    if (this.#sawKvsTrailing) return false;
    if (f.hasTagAfterCluster()) return f.kvs.fragmentNumber === undefined || this.#sawTrailedWithoutKvs;
    return idle && this.#sawUntrailed && !this.#sawTrailingTags;
  }

  /** Fragments, in order, each once. */
  async *fragments(): AsyncGenerator<Fragment> {
    const o = this.options;
    await this.credentialsReady();
    const idleMs = o.idleTimeoutMs ?? 5000;
    const maxSessionMs = o.maxSessionMs ?? 40 * 60 * 1000;
    // GetMedia may hold its headers back until it has something to send: wait for them at least as long
    // as for an idle body (the body itself is timed by the idle guard, never cut by this). With
    // --idle-timeout 0 (never finish on a quiet body) the response deadline still holds: a server that
    // never answers is retried, then an error, never a hang.
    const responseMs = o.clients.responseTimeoutMs;
    /** How long a body may go silent inside a fragment with `idleTimeoutMs` 0 (0: forever, as the deadline). */
    const stallMs = responseMs;
    const headersMs = responseMs > 0 ? Math.max(idleMs, responseMs) : 0;
    const progressMs = o.progressTimeoutMs ?? Math.max(60_000, 12 * idleMs);
    let selector = o.selector;
    /** Failed calls in a row (throttling, 5xx, drops): the retry budget. */
    let attempt = 0;
    /** Bodies in a row that ended with nothing new: their own back-off. */
    let quiet = 0;
    /** Of those, the ones no quiet deadline ends (cut inside a fragment; --idle-timeout 0 and no stop): a budget. */
    let empties = 0;
    /** Bodies since the last whole fragment that ended inside the next one. */
    let cutOff = 0;
    let first = true;
    const requested = o.selector.type === "FRAGMENT_NUMBER" && o.after === undefined
      ? o.selector.fragmentNumber
      : undefined;
    /** The fragment to begin with: the one asked for, or the first one of a NOW start cut off (not reported). */
    const wanted = () => requested ?? this.#firstCut;
    if (o.after !== undefined && this.#lastBig === undefined) {
      // As if the earlier run's last fragment had been read in this one.
      this.#lastBig = parseFragmentNumber(o.after);
      this.#recent.add(o.after);
    }
    this.#quietFrom = Date.now();
    for (;;) {
      let body: MediaBody;
      try {
        this.emit({ type: "connect", session: this.stats.sessions + 1, selector: describeSelector(selector) });
        body = await openMedia(o.clients, o.stream, selector, o.signal, { responseTimeoutMs: headersMs });
      } catch (e) {
        await this.retry.failed(e, ++attempt, "GetMedia");
        continue;
      }
      this.stats.sessions++;
      if (this.stats.sessions > 1) this.stats.reconnects++;
      this.response = this.stats.sessions > 1 ? `GetMedia response ${this.stats.sessions}` : "";
      const started = Date.now();
      // The idle clock restarts with each session: time spent backing off is not idleness.
      this.#lastFragmentAt = started;
      const state = { idle: false, bytes: 0, lastAt: 0 };
      let ended: "eof" | "error" | "age" | "stalled" = "eof";
      let error: unknown;
      let progressed = false;
      let truncated = false;
      /** Body offset where the last whole fragment of this session ended. */
      let wholeEnd = 0;
      /** With idleMs 0: the guard's deadline is the stall limit (a body silent inside a fragment), not quiet. */
      let stallFirst = false;
      /** Body offset where the last fragment handed on ended (bytes past it that make no new one: no progress). */
      let acceptedEnd = 0;
      /** The guard's deadline is the progress limit (bytes kept coming, no new fragment). */
      let progressFirst = false;
      /** When the body last began sending after a quiet gap, and the last chunk time the deadline saw. */
      let sendingSince = 0;
      let seenChunkAt = 0;
      try {
        // Idle = no new fragment and no bytes either for idleMs: a slow fragment still arriving is not idleness.
        // With --idle-timeout 0 a quiet stream is waited for, but not a body gone silent inside a fragment: that
        // connection is broken (stallMs, as for the other calls' bodies), and is resumed like any other.
        const deadline = (lastChunkAt: number) => {
          if (idleMs > 0) return Math.max(this.#lastFragmentAt, lastChunkAt) + idleMs;
          // (Only where bytes past the last whole fragment mean one cut off: not on a stream whose fragments
          // lack KVS's tags after the Cluster, where the last one is held back until the next begins.)
          const partial = state.bytes > wholeEnd && (this.#sawKvsTrailing || !this.#sawWhole);
          const stall = partial && stallMs > 0 ? lastChunkAt + stallMs : Infinity;
          const quiet = o.quietAfterMs !== undefined
            ? Math.max(o.quietAfterMs, this.#lastFragmentAt, lastChunkAt) + QUIET_AFTER_STOP_MS
            : Infinity;
          stallFirst = stall < quiet;
          return Math.min(stall, quiet);
        };
        const chunks = idleGuard(
          body,
          (lastChunkAt) => {
            const d = deadline(lastChunkAt);
            // Bytes that make no new fragment do not keep a body alive for ever: once progressMs passed since the
            // last new fragment, a body still sending (its last chunk within KEPT_SENDING_MS) is cut. A body gone
            // quiet is the idle and stall limits' to judge: a fragment held back until the next begins, a
            // fragment sent again at a resume point, then a pause that --idle-timeout 0 waits through.
            // It counts from the later of the last new fragment and the moment the body began sending again
            // after going quiet: a pause, then the next fragment arriving in several chunks, is no cut.
            const window = Math.min(KEPT_SENDING_MS, progressMs / 4);
            if (lastChunkAt !== seenChunkAt) {
              if (lastChunkAt - seenChunkAt > window) sendingSince = lastChunkAt;
              seenChunkAt = lastChunkAt;
            }
            let progress = Infinity;
            if (progressMs > 0 && state.bytes > acceptedEnd && lastChunkAt > this.#lastFragmentAt) {
              const at = Math.max(this.#lastFragmentAt, sendingSince) + progressMs;
              const now = Date.now();
              if (now < at || now - lastChunkAt < window) progress = at;
            }
            progressFirst = progress < d;
            if (progressFirst) stallFirst = false;
            return Math.min(d, progress);
          },
          state,
        );
        for await (
          const f of assembleFragments(chunks, { eager: true, source: `stream ${this.label}`, strictStart: false })
        ) {
          // A fragment is whole once its trailing KVS tags were read, or the next document began.
          const whole = f.closedBy === "end-of-input" ? this.#wholeAtEnd(f, state.idle) : f.complete;
          if (f.kvs.continuationToken !== undefined) this.#sawTokens = true;
          if (first) this.#firstSeen ??= f.kvs.fragmentNumber;
          if (!whole && !f.isError) {
            if (first) this.#firstCutOff(f.kvs.fragmentNumber);
            this.stats.discarded++;
            truncated = true;
            this.emit({ type: "discarded", reason: "cut off by the end of the body", offset: f.offset });
            continue;
          }
          wholeEnd = f.offset + f.size;
          this.#sawWhole = true;
          if (!f.isError) this.#trailing.learn(f);
          if (f.hasTagAfterCluster(isKvsTag)) this.#sawKvsTrailing = true;
          if (f.hasTagAfterCluster()) {
            this.#sawTrailingTags = true;
            if (!this.#sawKvsTrailing && f.kvs.fragmentNumber !== undefined) this.#sawTrailedWithoutKvs = true;
          } else if (f.closedBy !== "end-of-input" && !f.isError) this.#sawUntrailed = true;
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
          const want = first ? wanted() : undefined;
          if (want !== undefined) {
            const received = f.kvs.fragmentNumber ?? "";
            const matched = sameNumber(received, want);
            const qb = parseFragmentNumber(want);
            let fetched = false;
            const big = f.fragmentNumberBigInt;
            if (!matched && big !== undefined && qb !== undefined && big > qb) {
              const missing = await this.#fetchOne(
                want,
                requested !== undefined
                  ? `KVS started after fragment ${want}`
                  : `fragment ${want}, cut off by a dropped connection, did not come again`,
              );
              if (missing) {
                fetched = true;
                this.#accept(missing);
                yield missing;
              }
            }
            if (requested !== undefined) {
              this.firstFragmentMatched = matched;
              this.emit({ type: "first-fragment", requested, received, matched, fetchedRequested: fetched });
            }
          }
          first = false;
          progressed = true;
          attempt = quiet = empties = 0;
          acceptedEnd = f.offset + f.size;
          this.#accept(f);
          yield f;
          if (Date.now() - started >= maxSessionMs) {
            ended = "age";
            break;
          }
        }
      } catch (e) {
        if (e instanceof DataError) throw this.locate(e, e.fragment?.kvs.fragmentNumber);
        if (e instanceof KvsAudioError && e.exitCode !== ExitCode.aws) throw e;
        ended = "error";
        error = e;
        if (first) this.#firstCutOff(fragmentOpenAt(e));
      } finally {
        body.close();
      }
      // Counted since the last whole fragment: a body with nothing at all in between does not reset it.
      // Part of a fragment came (no whole one after it): a cut, even where it formed no fragment to discard.
      const cut = truncated || state.bytes > wholeEnd;
      cutOff = cut ? (progressed ? 1 : cutOff + 1) : progressed ? 0 : cutOff;
      if (state.idle) {
        // (With --idle-timeout 0 the stall limit does not end the call where the first fragment, held back for
        // its end, turned out whole when the body was closed: that is resumed, if a fragment number tells where.)
        if (state.bytes <= wholeEnd && !(idleMs === 0 && stallFirst && this.lastNumber !== undefined)) {
          // Idle at a fragment boundary: the call is over.
          yield* this.#unseenStart(first, wanted(), requested !== undefined);
          this.endReason = "idle";
          return;
        }
        // Idle with part of a fragment in hand: the connection broke; resume like after a drop.
        ended = "stalled";
        const waited = idleMs > 0 ? idleMs : stallMs;
        error = progressFirst
          ? new KvsTimeoutError(
            `no new fragment within ${seconds(progressMs)} while the body kept sending (${
              state.bytes - wholeEnd
            } bytes past the last whole fragment)`,
            "stall",
            "GetMedia",
            progressMs,
          )
          : new KvsTimeoutError(
            `the body stopped in the middle of a fragment (no data for ${seconds(waited)})`,
            "stall",
            "GetMedia",
            waited,
          );
      }
      // Bytes past the last whole fragment (part of one) are the stream sending; a fragment sent again (as the
      // resume point of a stream without continuation tokens is) is not.
      if (state.bytes > wholeEnd) this.#quietFrom = Math.max(this.#quietFrom, state.lastAt);
      if (ended === "error" || ended === "stalled") {
        if (progressed) attempt = 0;
        // (Time spent failing counts as quiet: data sent meanwhile comes in the next body, as progress.)
        await this.retry.failed(error, ++attempt, "GetMedia");
      } else if (ended === "eof" && !progressed) {
        // A call that opened and ended cleanly breaks a run of failed calls (not while bodies keep being cut
        // inside the fragment after the last whole one: a drop, a quiet body, a drop… would never end).
        if (!cut && cutOff === 0) attempt = 0;
        // The body ended with nothing new (GetMedia ends its body when no fragment comes within ~3 s): quiet
        // for the idle timeout since the stream last sent something, across reconnects, ends the pull as idle
        // (with --idle-timeout 0, quiet for QUIET_AFTER_STOP_MS once past the stop timestamp).
        const quietEnd = cut
          ? Infinity
          : idleMs > 0
          ? this.#quietFrom + idleMs
          : o.quietAfterMs !== undefined
          ? Math.max(o.quietAfterMs, this.#quietFrom) + QUIET_AFTER_STOP_MS
          : Infinity;
        if (Date.now() >= quietEnd) {
          yield* this.#unseenStart(first, wanted(), requested !== undefined);
          this.endReason = "idle";
          return;
        }
        // Else back off. Where no quiet deadline ends it (bodies cut inside a fragment, --idle-timeout 0 with no
        // stop timestamp), past the retry budget the stream has ended. (Failed calls have a budget of their own:
        // quiet bodies before a throttling burst must not use it up.)
        ++quiet;
        if (quietEnd === Infinity && ++empties > this.retry.maxRetries) {
          yield* this.#unseenStart(first, wanted(), requested !== undefined);
          // (Not when the fragment cut off every time was then fetched on its own.)
          if (cutOff > 0 && !this.#fetchedCut) {
            // Never silently: the audio after the last whole fragment is missing.
            const after = this.lastNumber !== undefined ? `fragment ${this.lastNumber}` : "the start";
            this.emit({
              type: "warning",
              message: `the stream ends inside the fragment after ${after}: it came cut off ${cutOff} time(s), ` +
                "and its audio is not written",
            });
          }
          this.endReason = "end-of-stream";
          return;
        }
        // Backing off no further than the idle timeout: the stream is asked once more after it, and a fragment
        // that came while waiting is not missed.
        const delayMs = Math.min(this.retry.delay(quiet), Math.max(0, quietEnd - Date.now()));
        this.emit({
          type: "retry",
          attempt: quiet,
          delayMs,
          reason: "the body ended with no new fragment",
          failed: false,
        });
        await this.retry.sleep(delayMs);
      }
      if (
        first && o.selector.type === "NOW" && this.#firstCut === undefined && this.lastNumber === undefined &&
        state.bytes > 0 && (ended !== "eof" || truncated) && !this.#nowLossSaid
      ) {
        // Nothing tells which fragment it was: the live edge is asked for again, which has moved on.
        this.#nowLossSaid = true;
        this.emit({
          type: "warning",
          message: "the first fragment from NOW was cut off before its fragment number: the pull goes on from the " +
            "live edge, which may have moved past it (its audio is then not written)",
        });
      }
      selector = this.#resumeSelector();
      this.emit({
        type: "reconnect",
        reason: ended === "age"
          ? "session-age"
          : ended === "error"
          ? "dropped"
          : ended === "stalled"
          ? "stalled"
          : truncated
          ? "truncated"
          : "ended",
        lastFragmentNumber: this.lastNumber,
      });
    }
  }

  /**
   * The pull ends and GetMedia sent nothing at all from an explicit start
   * fragment N: when KVS reads `FRAGMENT_NUMBER` as "after N" and N is the
   * newest fragment, only GetMediaForFragmentList gives N.
   */
  async *#unseenStart(first: boolean, requested: string | undefined, report: boolean): AsyncGenerator<Fragment> {
    if (!first || requested === undefined) return;
    // KVS may have started at it, every body cut off inside it: then it is what it started with.
    const received = this.#firstSeen ?? "";
    const matched = sameNumber(received, requested);
    const missing = await this.#fetchOne(
      requested,
      matched ? `fragment ${requested} came cut off every time` : `KVS sent no fragment from ${requested} on`,
    );
    this.#fetchedCut = matched && missing !== undefined;
    if (report) {
      this.firstFragmentMatched = matched;
      this.emit({ type: "first-fragment", requested, received, matched, fetchedRequested: !!missing });
    }
    if (missing) {
      this.#accept(missing);
      yield missing;
    }
  }

  /**
   * Fetch one fragment with GetMediaForFragmentList. Failures worth retrying
   * are retried like any call (counted, reported), and past the retry budget
   * end the pull (exit 4). Others (a fragment KVS does not have, no
   * permission, bad data) give undefined, with a warning that starts with
   * `context`: the pull goes on without that fragment's audio.
   */
  async #fetchOne(fragmentNumber: string, context: string): Promise<Fragment | undefined> {
    const o = this.options;
    const missing = (why: string): undefined => {
      this.emit({ type: "warning", message: `${context}, and ${why}: its audio is missing` });
      return undefined;
    };
    /** The response it comes in, for messages (its byte offsets count from that response's start). */
    const own = `GetMediaForFragmentList of fragment ${fragmentNumber}`;
    /** Asked for again once, to see whether it comes the same way (nothing else tells a cut from the whole). */
    let reasked = false;
    for (let attempt = 1;; attempt++) {
      let body: MediaBody | undefined;
      try {
        body = await openFragmentList(o.clients, o.stream, [fragmentNumber], o.signal);
        const chunks = stallGuard(body, o.clients.responseTimeoutMs, "GetMediaForFragmentList");
        // A body with no fragment at all, or one without a fragment number, was cut before that tag.
        let cut = true;
        let unproven = false;
        for await (const f of assembleFragments(chunks, { source: `stream ${this.label}`, strictStart: false })) {
          if (f.isError) {
            // An in-band error answers the call, whatever fragment number it carries.
            this.handedOn(f, own);
            return f;
          }
          if (!sameNumber(f.kvs.fragmentNumber, fragmentNumber)) {
            if (f.kvs.fragmentNumber !== undefined) cut = false; // another fragment's data
            continue;
          }
          if (f.complete && (f.closedBy !== "end-of-input" || this.#trailing.wholeOrStored(f))) {
            this.handedOn(f, own);
            return f;
          }
          unproven = f.complete && this.#trailing.unproven;
          cut = true;
        }
        if (!cut) return missing("GetMediaForFragmentList returned other data for it");
        if (unproven && !reasked) {
          reasked = true;
          attempt--; // (not a retry)
          continue;
        }
        // The body ended inside it: asked for again, as after a drop, within the retry budget.
        this.stats.discarded++;
        this.emit({ type: "discarded", reason: "cut off by the end of the body", offset: 0 });
        if (attempt > this.retry.maxRetries) return missing("it came cut off every time");
        await this.retry.sleep(this.retry.delay(attempt));
        continue;
      } catch (e) {
        const name = (e as { name?: unknown } | undefined)?.name;
        if (name === "ResourceNotFoundException" && operationOf(e) !== "GetDataEndpoint") {
          return missing(
            `stream ${this.label} has no fragment ${fragmentNumber} ` +
              "(expired, or not a fragment of this stream: check the start fragment)",
          );
        }
        // Bad data in it is bad stream data (exit 3), as in a GetMedia body; not a fragment to go on without.
        if (e instanceof DataError) {
          throw this.locate(e, undefined, own);
        }
        const ctx = { api: "GetMediaForFragmentList" as const, region: o.region, endpoint: o.clients.endpointUrl };
        const c = classifyAwsError(e, this.label, ctx);
        if (c === "retry") {
          // Counted and reported like any retry; past the budget the pull ends (exit 4).
          await this.retry.failed(e, attempt, "GetMediaForFragmentList");
          continue;
        }
        if (c.exitCode === ExitCode.interrupted) throw c;
        // Not worth retrying (e.g. no permission for GetMediaForFragmentList): the pull goes on without N.
        return missing(`fetching that fragment failed (${c.message})`);
      } finally {
        body?.close();
      }
    }
  }
}

/** Whether two fragment numbers are the same number (compared as BigInt when both are decimal). */
function sameNumber(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const x = parseFragmentNumber(a), y = parseFragmentNumber(b);
  return x !== undefined && y !== undefined ? x === y : a === b;
}

/** Whether a tag name is one of KVS's own (`AWS_KINESISVIDEO_…`). */
function isKvsTag(name: string): boolean {
  return name.startsWith("AWS_KINESISVIDEO_");
}
