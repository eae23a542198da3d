/**
 * Archived calls: `ListFragments` over a timestamp range, ordered by producer
 * timestamp, then `GetMediaForFragmentList` in batches, through the same
 * assembler as live pulls. A dropped connection resumes with the fragments
 * not yet received; fragments already yielded are never yielded again.
 *
 * @example
 * ```ts
 * import { createKvsClients } from "./client.ts";
 * import { ArchivedSource } from "./archived_source.ts";
 * const clients = await createKvsClients({ region: "us-east-1" });
 * const src = new ArchivedSource({
 *   clients,
 *   stream: { name: "calls" },
 *   range: { type: "PRODUCER_TIMESTAMP", startMs: Date.parse("2026-11-01T10:00:00Z"), endMs: Date.parse("2026-11-01T10:30:00Z") },
 * });
 * for await (const f of src.fragments()) console.log(f.kvs.fragmentNumber);
 * ```
 * @module
 */

import { AwsError, DataError } from "../errors.ts";
import { assembleFragments } from "../mkv/assembler.ts";
import { type Fragment, parseFragmentNumber } from "../mkv/fragment.ts";
import { stallGuard } from "./deadline.ts";
import { KvsTimeoutError } from "./errors.ts";
import { MAX_FRAGMENTS_PER_CALL, openFragmentList } from "./fragment_list.ts";
import { listFragments } from "./list_fragments.ts";
import type { MediaBody } from "./media_body.ts";
import { FragmentSource, type SourceOptions } from "./fragment_source.ts";
import { TrailingTags } from "./trailing_tags.ts";

/** Options of {@linkcode ArchivedSource}. */
export interface ArchivedSourceOptions extends SourceOptions {
  /** Timestamp range to list. */
  range: { type: "PRODUCER_TIMESTAMP" | "SERVER_TIMESTAMP"; startMs: number; endMs: number };
  /** Start at this fragment number (inclusive) within the listed ones. */
  startFragment?: string;
}

/** Fragments of an archived time range. */
export class ArchivedSource extends FragmentSource<ArchivedSourceOptions> {
  /** Fragments listed in the range. */
  listed = 0;

  /** The fragments, in producer-timestamp order, each once. */
  async *fragments(): AsyncGenerator<Fragment> {
    const o = this.options;
    await this.credentialsReady();
    let numbers: string[] = [];
    for (let attempt = 1;; attempt++) {
      try {
        const list = await listFragments(o.clients, o.stream, { range: o.range, signal: o.signal });
        // A fragment listed twice (pages of an unordered listing can repeat one) is asked for once.
        const seen = new Set<string>();
        numbers = [];
        for (const f of list) {
          const n = f.fragmentNumber;
          const key = parseFragmentNumber(n)?.toString() ?? n;
          if (!seen.has(key)) {
            seen.add(key);
            numbers.push(n);
            continue;
          }
          this.stats.duplicates++;
          this.emit({ type: "duplicate", fragmentNumber: n });
        }
        break;
      } catch (e) {
        await this.retry.failed(e, attempt, "ListFragments");
      }
    }
    this.listed = numbers.length;
    if (o.startFragment !== undefined) {
      const i = numbers.indexOf(o.startFragment);
      this.firstFragmentMatched = i >= 0;
      if (i > 0) numbers = numbers.slice(i);
    }
    // A body that stops sending is a dropped connection (retried), never a clean end.
    const stallMs = o.clients.responseTimeoutMs;
    let next = 0; // index in `numbers` of the first fragment not yet yielded
    let attempt = 0;
    // The end of a body may cut a fragment at an element boundary (these bodies carry no continuation tokens).
    const trailing = new TrailingTags();
    /** A body was cut or failed after it opened: the next one opened is a reconnection (not a next batch). */
    let reconnecting = false;
    /** The last fragment of the body is to be asked for again to see whether it comes the same way. */
    let confirming = false;
    /** That fragment as it came (a later copy of another size proves it was cut: counted then). */
    let unconfirmed: { n: string | undefined; size: number } | undefined;
    /**
     * A whole fragment (its tags after the Cluster read) that ended a body before the fragments asked for after
     * it: a cut at its end, or KVS not sending those. Taken when the next body ends after it the same way.
     */
    let endedEarly: { n: string | undefined; size: number } | undefined;
    /** Bodies in a row cut inside the fragment the pull is at. */
    let cutTimes = 0;
    while (next < numbers.length) {
      let body: MediaBody | undefined;
      let failure: unknown;
      const before = next;
      confirming = false;
      /** Fragments of this body discarded as cut off. */
      let cutHere = 0;
      /** Bytes this body brought, and fragments (of any kind) they formed. */
      let bodyBytes = 0;
      let formed = 0;
      // One batch per body (at most MAX_FRAGMENTS_PER_CALL): the end of each body is then seen, and checked.
      const asked = numbers.slice(next, next + MAX_FRAGMENTS_PER_CALL);
      try {
        body = await openFragmentList(o.clients, o.stream, asked, o.signal);
        this.stats.sessions++;
        this.response = this.stats.sessions > 1 ? `GetMediaForFragmentList response ${this.stats.sessions}` : "";
        if (reconnecting) this.stats.reconnects++;
        reconnecting = false;
        const guarded = stallGuard(body, stallMs, "GetMediaForFragmentList");
        const chunks = (async function* () {
          for await (const c of guarded) {
            bodyBytes += c.length;
            yield c;
          }
        })();
        for await (const f of assembleFragments(chunks, { source: `stream ${this.label}`, strictStart: false })) {
          formed++;
          // At the end of the body: whole only if it is the last fragment asked for (KVS sends them all in one
          // body, so ending before them is a cut) and has the tags after its Cluster whole fragments had.
          const atEnd = f.closedBy === "end-of-input" && !f.isError;
          const lastAsked = f.kvs.fragmentNumber === asked[asked.length - 1];
          if (f.complete && atEnd && !lastAsked && trailing.whole(f)) {
            const again = endedEarly?.n === f.kvs.fragmentNumber && endedEarly?.size === f.size;
            endedEarly = { n: f.kvs.fragmentNumber, size: f.size };
            if (!again) {
              this.stats.discarded++;
              cutHere++;
              continue;
            }
            // (Then taken: the next body asks for the fragments after it.)
          } else if (!f.complete || (atEnd && (!lastAsked || !trailing.wholeOrStored(f)))) {
            // Nothing tells whether it is whole (no whole fragment with ContactId or MimeType after its Cluster
            // yet): the next body asks for it again, which is no reconnection, and takes it if it comes the same.
            if (f.complete && atEnd && lastAsked && trailing.unproven) {
              confirming = true;
              unconfirmed = { n: f.kvs.fragmentNumber, size: f.size };
            } else {
              this.stats.discarded++;
              cutHere++;
              // (Counted now: the copy that left it unconfirmed needs no count of its own.)
              if (unconfirmed?.n === f.kvs.fragmentNumber) unconfirmed = undefined;
            }
            continue;
          }
          if (unconfirmed !== undefined && f.kvs.fragmentNumber === unconfirmed.n) {
            // It came again: of another size, the first copy was cut (a discarded fragment, a reconnection).
            if (f.size !== unconfirmed.size) {
              this.stats.discarded++;
              this.stats.reconnects++;
            }
            unconfirmed = undefined;
          }
          if (f.closedBy !== "end-of-input") trailing.learn(f);
          const n = f.kvs.fragmentNumber;
          const at = n === undefined ? -1 : numbers.indexOf(n, next);
          if (at < 0) {
            if (f.isError) {
              this.handedOn(f);
              yield f;
              return;
            }
            if (n !== undefined && numbers.includes(n)) this.stats.duplicates++;
            else {
              // Not asked for (KVS sends only those): never silently, nor as a duplicate.
              this.emit({
                type: "warning",
                message: `GetMediaForFragmentList sent fragment ${n ?? "without a number"} at byte ${f.offset}, ` +
                  "which was not asked for (not in the listed range): not written",
              });
            }
            continue;
          }
          if (at > next) {
            // KVS sends the fragments asked for in order: those before this one did not come (gone, or not
            // readable). Never silently: their audio is missing (a gap, filled as any other).
            this.emit({
              type: "warning",
              message: `GetMediaForFragmentList did not send ${at - next} fragment(s) that ListFragments listed ` +
                `(${numbers[next]}${at - next > 1 ? " …" : ""}): their audio is missing`,
            });
          }
          next = at + 1;
          endedEarly = undefined;
          this.lastNumber = n;
          this.token = f.kvs.continuationToken ?? this.token;
          attempt = 0;
          this.handedOn(f);
          yield f;
          if (f.isError) return;
        }
      } catch (e) {
        if (e instanceof DataError) throw this.locate(e, e.fragment?.kvs.fragmentNumber);
        failure = e;
      } finally {
        body?.close();
      }
      // (A body that brought fragments and was then cut counts as the first cut of the fragment after them.)
      // (Bytes that formed no fragment at all are a cut too.)
      cutTimes = next > before ? cutHere : cutTimes + (bodyBytes > 0 && formed === 0 ? 1 : cutHere);
      if (next >= numbers.length) break;
      if (failure === undefined && next >= before + asked.length) continue; // the batch is done: the next one
      if (failure === undefined && confirming) {
        confirming = false;
        continue; // its last fragment, asked for again (above)
      }
      // A call that failed to open connected nothing: no reconnection (as in live pulls).
      const opened = body !== undefined;
      if (opened) reconnecting = true;
      if (failure !== undefined) {
        await this.retry.failed(failure, ++attempt, "GetMediaForFragmentList");
      } else if (next === before) {
        if (++attempt > this.retry.maxRetries) {
          // Cut inside the fragment, in this body or an earlier one: never "none sent".
          if (cutTimes > 0) {
            throw new AwsError(
              `GetMediaForFragmentList on stream ${this.label} kept ending inside fragment ${
                numbers[next]
              } (cut off ${cutTimes} times)`,
            );
          }
          // Listed, but none of them sent (gone since the listing, or not readable): said, as a gap is.
          this.emit({
            type: "warning",
            message: `GetMediaForFragmentList sent none of the last ${numbers.length - next} fragment(s) that ` +
              `ListFragments listed (from ${numbers[next]}): their audio is missing`,
          });
          break;
        }
        await this.retry.sleep(this.retry.delay(attempt));
      }
      // A body that went silent is "stalled", as in live pulls; other failures "dropped".
      const reason = failure instanceof KvsTimeoutError && failure.kind === "stall"
        ? "stalled"
        : failure
        ? "dropped"
        : "ended";
      if (opened) this.emit({ type: "reconnect", reason, lastFragmentNumber: this.lastNumber });
    }
    this.endReason = "end-of-stream";
  }
}
