/**
 * One run of the audio pipeline's last stage, shared by `extract` and `pull`:
 * writes each audio item, reports progress and warnings, and ends with a
 * summary (text, or the `{"event":"done",…}` JSON event) whether the run
 * finished, failed or was interrupted. The WAVs are finalized in every case.
 *
 * @example
 * ```ts
 * import { CallRun } from "./call_run.ts";
 * import { CallWriter } from "../audio/call_writer.ts";
 * import { Reporter } from "./report.ts";
 * const writer = new CallWriter({ outDir: "out", format: "wav", stereo: false, tracks: "both", force: true });
 * const run = new CallRun(writer, new Reporter({ json: false, toStderr: false }), "call.mkv");
 * // for each ConnectItem: run.item(item); then: run.done()
 * ```
 * @module
 */

import type { CallWriter } from "../audio/call_writer.ts";
import type { ConnectItem } from "../connect/demuxer.ts";
import type { Fragment } from "../mkv/fragment.ts";
import { formatId } from "../ebml/vint.ts";
import { KvsAudioError, UsageError } from "../errors.ts";
import type { Reporter } from "./report.ts";
import { markAnnounced } from "./early_done.ts";
import { timeMsOrNull } from "./output.ts";
import { blameConfig, blameConfigFor } from "./configured.ts";
import { clip, clipOrNull, displayText } from "./sanitize.ts";

/** Why a run ended. */
export type EndReason = string;

/** The `done` event's fields. */
export interface RunSummary {
  /** Why it ended (`end-of-input`, `contact-changed`, `interrupted`, `error`, …). */
  reason: EndReason;
  /** Fragments whose audio was written. */
  fragments: number;
  /** Fragment number of the last fragment written. */
  lastFragmentNumber: string | null;
  /** Continuation token of the last fragment written (resume a later run from it). */
  continuationToken: string | null;
  /** Frames written per file. */
  samples: { from_customer: number; to_customer: number };
}

/** Drives the writer and the reporter for one run. */
export class CallRun {
  #writer: CallWriter;
  #rep: Reporter;
  #source: string;
  #reason: EndReason = "end-of-input";
  /**
   * Fragment number and continuation token of the last fragment every output
   * holds (see CallWriter.durable): a later run resumes there, so a failed
   * write must not move them past what is in the files.
   */
  #lastFragment: string | undefined;
  #token: string | undefined;
  /** The same for the last fragment handed to the writer (they become the above at each commit). */
  #latestFragment: string | undefined;
  #latestToken: string | undefined;
  /** The last fragment handed to the writer. */
  #latestWritten: Fragment | undefined;
  #contactId: string | undefined;

  /**
   * The contact asked for (`--contact-id`, the event, the config file): the done event's `contactId` until a
   * fragment of it is written, so that a run that writes nothing still tells a resuming script which contact
   * to pass on.
   */
  set contactId(id: string | undefined) {
    this.#contactId ??= id;
  }
  /** The ContactId of the fragment that ended the run, if another contact's. */
  #nextContactId: string | undefined;
  /** The fragment that ended the contact has the followed ContactId too (its tags disagree). */
  #mixedContact = false;
  #stopFragment: string | undefined;
  /** Where that fragment begins (named when it has no fragment number). */
  #stopOffset = 0;
  /** Stopped at a Cluster of a document whose ContactId would come after its Clusters (not cut off). */
  #laterTags = false;
  #finished = false;
  #count = 0;
  /** Extra fields for the done event (pull adds its own). */
  extra: Record<string, unknown> = {};
  /** Fragments skipped before the wanted contact's first (`extract --contact-id`). */
  skipped = 0;
  /** Whether fragments before the wanted contact's first are skipped: the done event then counts them, also 0. */
  skipping = false;
  /** Their ContactIds (the first 8). */
  skippedContacts: string[] = [];
  /** A fragment not skipped arrived. */
  found = false;
  /**
   * The continuation token the run started from (`pull --continuation-token`):
   * the done event's token while no fragment is written, so that a later run
   * resumes from the same place.
   */
  startToken: string | undefined;
  /** `pull --after-fragment N`: N, given back as the last fragment while this run writes none. */
  startAfter: string | undefined;

  constructor(writer: CallWriter, reporter: Reporter, source: string) {
    this.#writer = writer;
    this.#rep = reporter;
    this.#source = source;
    // A commit that reached every output holds every fragment handed over so far.
    writer.onDurable = (last) => {
      this.#durableLast = last;
      // (A commit made by the write of `last` itself: its event is not queued yet, and every line waiting is
      // of a fragment before it.)
      if (this.#pending.length > 0) this.#flushEvents(last, last === this.#inWrite);
      // Out at once, not when the line buffer fills: a run killed after this commit has said what it holds.
      this.#rep.flush();
      if (last === this.#latestWritten) {
        this.#lastFragment = this.#latestFragment;
        this.#token = this.#latestToken;
      } else {
        // An earlier fragment (a stream that failed after its reader got this one).
        const k = last.kvs;
        if (k.fragmentNumber !== undefined) this.#lastFragment = k.fragmentNumber;
        this.#token = k.continuationToken;
      }
    };
  }

  /** Where the input comes from, as messages name it (`pull` knows its stream once its options are read). */
  set source(name: string) {
    this.#source = name;
  }

  /** Record why the run ends (a stop bound of `pull`, an idle timeout, …). */
  stop(reason: EndReason): void {
    this.#reason = reason;
  }

  /**
   * The error for a ContactId asked for that `where` (the input, a range)
   * does not hold: every fragment was skipped (exit 2, naming the ContactIds
   * it holds).
   */
  missingContact(contactId: string, where: string): UsageError {
    // The contact asked for may be among them only in fragments whose ContactId tags disagree.
    const mixed = this.skippedContacts.includes(contactId);
    const others = this.skippedContacts.filter((c) => c !== contactId).map((c) => displayText(c, 64)).join(", ");
    const its = `its ${this.skipped} fragment(s)`;
    const held = this.skipped === 0
      ? "no fragment came"
      : others === "" && !mixed
      ? `${its} are of no contact (they carry no ContactId tag: leave out the ContactId)`
      : others === ""
      ? `${its} are tagged with it and with another ContactId each`
      : `${its} are of ContactId ${others}${
        mixed ? " (it is only in fragments also tagged with another ContactId)" : ""
      }`;
    // (A ContactId that the config file set: the message says so.)
    return blameConfigFor(
      new UsageError(`ContactId ${displayText(contactId, 64)} is not in ${where}: ${held}`),
      "contact-id",
    );
  }

  /** Handle one demuxer item. */
  item(item: ConnectItem): void {
    if (item.kind === "stop") {
      this.#reason = item.reason;
      this.#contactId = item.contactId ?? this.#contactId;
      if (item.reason === "contact-unknown" && item.fragment) {
        this.#laterTags = item.fragment.complete && item.fragment.closedBy === "next-cluster";
        const msg = this.#laterTags
          ? `fragment ${this.#count} at byte ${item.fragment.offset} of ${this.#source} is a Cluster of a document whose ContactId tags come after its last Cluster; not written (it may be another contact's audio)`
          : `fragment ${this.#count} at byte ${item.fragment.offset} of ${this.#source} is cut off before its ContactId tag; not written (it may be another contact's audio)`;
        this.#sayWarning(msg);
      } else if (item.fragment) {
        this.#nextContactId = item.nextContactId ?? item.fragment.contactId;
        // Its ContactId tags disagree: one of them is the followed contact's.
        this.#mixedContact = item.fragment.tags.some((t) => t.name === "ContactId" && t.value === item.contactId);
        this.#stopFragment = item.fragment.kvs.fragmentNumber;
        this.#stopOffset = item.fragment.offset;
        const ev = {
          event: "contact-changed",
          contactId: clipOrNull(item.contactId),
          nextContactId: clipOrNull(this.#nextContactId),
          fragmentNumber: clipOrNull(item.fragment.kvs.fragmentNumber),
          offset: item.fragment.offset,
        };
        this.#sayEvent(ev);
      }
      return;
    }
    const f = item.fragment;
    if (item.skipped) {
      // Before the wanted contact's first fragment (extract --contact-id): not written, named at the end;
      // counted in the fragment numbering, so that it stays inspect's.
      this.skipped++;
      this.#count++;
      // Every ContactId it is tagged with (the one after its Cluster may differ from the one before).
      for (const cid of f.contactIds) {
        if (this.skippedContacts.length < 8 && !this.skippedContacts.includes(cid)) this.skippedContacts.push(cid);
      }
      return;
    }
    this.found = true;
    const n = this.#count++;
    const k = f.kvs;
    if (item.from || item.to) {
      // Before the write: it may commit, and then this fragment is held.
      if (k.fragmentNumber !== undefined) this.#latestFragment = k.fragmentNumber;
      this.#latestToken = k.continuationToken;
      this.#latestWritten = f;
    }
    this.#inWrite = f;
    try {
      this.#writer.write(item);
    } finally {
      this.#inWrite = undefined;
    }
    // Blocks, but on no track named for a direction (names lost after the first fragments): counted, warned at the end.
    if (!item.from && !item.to && f.blockTable.length > 0) this.#unnamed++;
    if (item.from || item.to) {
      // The contact whose audio was written (the last one with --follow-stream).
      const cid = f.contactId;
      if (cid !== undefined && cid !== "") this.#contactId = cid;
    }
    // The fragment that holds bad data: the error that follows is the one line that tells about it.
    const quiet = f.closedBy === "bad-data";
    if (!quiet) {
      for (const w of item.warnings) {
        const msg = `fragment ${n} (byte ${f.offset}): ${w}`;
        this.#sayWarning(msg);
      }
    }
    const lost = f.unknownInSegment;
    if (lost !== undefined && !quiet) {
      const msg =
        `fragment ${n} at byte ${f.offset} of ${this.#source}: an element of unknown id ${formatId(lost.id)} ` +
        `(${lost.size} bytes at byte ${lost.offset}) in its ${lost.parent} was skipped; audio in it, if any, is not written`;
      this.#sayWarning(msg);
    }
    if (!f.complete && !quiet && (item.from !== undefined || item.to !== undefined)) {
      const msg = `fragment ${n} at byte ${f.offset} of ${this.#source} is truncated; its whole blocks were written`;
      this.#sayWarning(msg);
    }
    // Per-fragment events print only with --json or -v: build them only then.
    if (!this.#rep.detailed) return;
    const rate = item.format.rate;
    const ev: FragmentEvent = {
      event: "fragment",
      index: n,
      offset: f.offset,
      fragmentNumber: clipOrNull(k.fragmentNumber),
      // (Printed after the commit that put this fragment's audio in the files, so a run killed with
      // no done event can resume from the last one's token.)
      continuationToken: clipOrNull(k.continuationToken),
      producerTimestampMs: timeMsOrNull(k.producerTimestampMs),
      millisBehindNow: k.millisBehindNow ?? null,
      contactId: clipOrNull(f.contactId),
      complete: f.complete,
      samples: { from_customer: item.from?.frames ?? 0, to_customer: item.to?.frames ?? 0 },
    };
    const text = `fragment ${n} ${k.fragmentNumber ?? "-"}: from ${
      ((item.from?.frames ?? 0) / rate).toFixed(3)
    } s, to ${((item.to?.frames ?? 0) / rate).toFixed(3)} s`;
    this.#queue(f, item.from !== undefined || item.to !== undefined, ev, text);
  }

  /**
   * Lines not printed yet, in order: fragment events wait for the commit that puts their audio in the files,
   * and what came after them waits with them. A fragment is named by its offset and number (holding the
   * Fragment itself would keep its blocks alive for the young generation to copy).
   */
  #pending: { offset: number; fn: string | undefined; audio: boolean; emit: string | (() => void) }[] = [];
  /** The last fragment the writer reported durable. */
  #durableLast: Fragment | undefined;
  /** The fragment whose audio the writer is taking now (a commit it makes is of every fragment before it too). */
  #inWrite: Fragment | undefined;

  // (The closures are made in these small methods: made in item(), they would share its context, which holds
  // the item, and keep every waiting fragment alive.)

  #sayWarning(msg: string): void {
    this.#say(() => this.#rep.warning(msg));
  }

  #sayEvent(ev: Record<string, unknown> & { event: string }): void {
    this.#say(() => this.#rep.event(ev));
  }

  #emit(e: string | (() => void)): void {
    if (typeof e === "string") this.#rep.print(e);
    else e();
  }

  /** Print now, or after the lines that wait. */
  #say(emit: () => void): void {
    if (this.#pending.length === 0) emit();
    else this.#pending.push({ offset: -1, fn: undefined, audio: false, emit });
  }

  /** Print `f`'s event once its audio is committed (at once when it is, or when `f` wrote none and none waits). */
  #queue(f: Fragment, audio: boolean, ev: FragmentEvent, text: string): void {
    if (this.#pending.length === 0 && (!audio || this.#durableLast === f)) {
      this.#rep.event(ev, text);
      // (Its audio was committed by its own write: the line goes out with it, not at the next commit.)
      if (audio) this.#rep.flush();
      return;
    }
    // Kept as its line (one string, not the event's objects, waits in the young generation).
    const line = this.#rep.eventLine(ev, text);
    if (line !== undefined) this.#pending.push({ offset: f.offset, fn: f.kvs.fragmentNumber, audio, emit: line });
    if (this.#durableLast === f) this.#flushEvents(f);
  }

  /**
   * Print the lines up to fragment `upTo`'s event (now committed), and those after it that are no fragment's audio;
   * `all`: every line waiting (`upTo` is being written, its event not queued yet).
   */
  #flushEvents(upTo: Fragment, all = false): void {
    const p = this.#pending;
    const fn = upTo.kvs.fragmentNumber;
    let n = all ? p.length : 0;
    for (let i = p.length - 1; i >= 0 && !all; i--) {
      if (p[i].audio && p[i].offset === upTo.offset && p[i].fn === fn) {
        n = i + 1;
        break;
      }
    }
    while (n < p.length && !p[n].audio) n++;
    for (let i = 0; i < n; i++) this.#emit(p[i].emit);
    p.splice(0, n);
  }

  /** Finish normally: close the outputs, print the summary, return 0. */
  done(): number {
    this.#finish(this.#reason);
    return 0;
  }

  /** Finish after an error: close the outputs, report, rethrow it. */
  failed(e: KvsAudioError): never {
    blameConfig(e);
    markAnnounced(e, this.#rep.eventsOnStderr);
    try {
      this.#finish("error", e);
    } catch {
      // the original error matters more
    }
    throw e;
  }

  /**
   * Finish a run refused before it began (an output in the way, an input that
   * cannot be opened, an unknown profile): with `--json` its done event, in
   * text mode nothing (the error line says it all); rethrow the error.
   */
  refused(e: KvsAudioError): never {
    this.#beforeStart = true;
    return this.failed(e);
  }

  /**
   * Fragments with blocks on no track named for a direction (their audio is not written): warned about at the
   * end. (A run that wrote no audio at all for that is the demuxer's not-Connect error, exit 3.)
   */
  #unnamed = 0;

  /** Set by {@linkcode CallRun.refused}: the done event only, no summary lines. */
  #beforeStart = false;

  /** Finish on a signal: close the outputs and print the summary. */
  interrupted(signal: string): void {
    this.#finish("interrupted", undefined, signal);
  }

  /** The summary fields. */
  #summary(reason: EndReason): RunSummary {
    const w = this.#writer;
    return {
      reason,
      fragments: w.durable.fragments,
      lastFragmentNumber: clipOrNull(this.#lastFragment ?? this.startAfter),
      continuationToken: clipOrNull(this.#lastFragment === undefined ? this.startToken : this.#token),
      samples: { from_customer: w.durable.frames.from, to_customer: w.durable.frames.to },
    };
  }

  #finish(reason: EndReason, error?: KvsAudioError, signal?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const w = this.#writer;
    // A failed or interrupted run that wrote no audio leaves no empty files behind.
    let closeError: unknown;
    try {
      w.close(reason !== "error" && reason !== "interrupted");
    } catch (e) {
      closeError = e; // reported after the summary
      // The last audio could not be written (e.g. stdout closed): the run failed.
      if (e instanceof KvsAudioError && error === undefined) {
        reason = "error";
        error = e;
      }
    }
    // Fragment events whose audio never reached the files are left out; the other lines that waited still hold.
    for (const e of this.#pending) if (!e.audio) this.#emit(e.emit);
    this.#pending.length = 0;
    // (Files appended to without audio of this run are as they were: not named as written.)
    const written = w.appending && w.durable.fragments === 0 ? [] : w.written;
    // What the files hold (behind what was written only after a failed write).
    const d = w.durable;
    const s = this.#summary(reason);
    const rate = w.format?.rate ?? 8000;
    const seconds = (n: number) => Math.round((n / rate) * 1000) / 1000;
    if (w.stereoLate > 0) {
      this.#rep.warning(
        `stereo.wav: ${
          seconds(w.stereoLate).toFixed(3)
        } s of audio came after the mix had been written past its place (a fragment or more after the other side's, or more than 5 s behind) and is missing from the mix (the mono files hold it)`,
      );
    }
    if (this.#unnamed > 0 && w.fragments > 0 && reason !== "error" && reason !== "interrupted") {
      this.#rep.warning(
        `${this.#unnamed} fragment(s) had blocks but no track named AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER; their audio is not written`,
      );
    }
    // (Fragments skipped before the contact asked for are not among them.)
    const demuxed = this.#count - this.skipped;
    if (demuxed > 0 && w.fragments === 0 && reason !== "error" && reason !== "interrupted") {
      this.#rep.warning(
        `no audio: none of the ${demuxed} fragment(s) had blocks on a track named AUDIO_FROM_CUSTOMER or AUDIO_TO_CUSTOMER`,
      );
    }
    this.#rep.event({
      event: "done",
      ...s,
      ...this.extra,
      contactId: clipOrNull(this.#contactId),
      stopFragmentNumber: clipOrNull(this.#stopFragment),
      rate,
      seconds: { from_customer: seconds(d.frames.from), to_customer: seconds(d.frames.to) },
      gaps: { from_customer: d.gaps.from, to_customer: d.gaps.to },
      gapSeconds: { from_customer: seconds(d.gapFrames.from), to_customer: seconds(d.gapFrames.to) },
      overlapFrames: { from_customer: d.overlapFrames.from, to_customer: d.overlapFrames.to },
      files: written,
      ...(w.appending
        ? {
          appendedAfterFrames: w.appendedFrames ?? null,
          appendedAfterSeconds: w.appendedFrames === undefined ? null : seconds(w.appendedFrames),
        }
        : {}),
      ...(this.skipped > 0 || this.skipping ? { skippedFragments: this.skipped } : {}),
      ...(error ? { exitCode: error.exitCode, message: clip(error.message, 2000) } : {}),
      ...(signal ? { signal } : {}),
    });
    if (this.#beforeStart) {
      this.#rep.flush();
      return;
    }
    const files = written.filter((p) => p !== "-");
    if (files.length > 0) {
      this.#rep.text(`wrote ${files.map((p) => displayText(p)).join(", ")}`); // (a newline in a path stays one line)
    }
    // Where the audio written before a failure or an interruption went.
    const kept = (inFiles: string, onStdout: string) =>
      files.length > 0 ? inFiles : written.length > 0 ? onStdout : "no audio was written";
    // Gaps and overlaps are per file: each direction has its own.
    const gaps = d.gaps.from + d.gaps.to > 0
      ? `; gaps filled: from customer ${d.gaps.from} (${
        seconds(d.gapFrames.from).toFixed(3)
      } s), to customer ${d.gaps.to} (${seconds(d.gapFrames.to).toFixed(3)} s)`
      : "";
    const overlaps = d.overlapFrames.from + d.overlapFrames.to > 0
      ? `; overlapping frames dropped: from customer ${d.overlapFrames.from}, to customer ${d.overlapFrames.to}`
      : "";
    // A direction with no output of its own (--tracks) is still measured; say so.
    const track = (dir: "from" | "to") =>
      `${dir} customer ${seconds(d.frames[dir]).toFixed(3)} s${w.keeps(dir) ? "" : " (not written)"}`;
    this.#rep.text(`${s.fragments} fragment(s); ${track("from")}, ${track("to")}${gaps}${overlaps}`);
    if (this.skipped > 0 && this.found) {
      this.#rep.text(
        `skipped ${this.skipped} fragment(s) before the first of ContactId ${displayText(this.#contactId ?? "-", 64)}`,
      );
    }
    if (w.appending && w.format !== undefined && w.appendedFrames !== undefined) {
      this.#rep.text(`appended after ${seconds(w.appendedFrames).toFixed(3)} s already in the files`);
    }
    const stopped = this.#stopFragment !== undefined
      ? `fragment ${displayText(this.#stopFragment, 64)}`
      : `the fragment at byte ${this.#stopOffset}`;
    const at = `at ${stopped}`;
    const why = reason === "contact-changed"
      ? this.#mixedContact
        ? `${stopped} is tagged with ContactId ${displayText(this.#contactId ?? "-", 64)} and ${
          displayText(this.#nextContactId ?? "-", 64)
        } (before and after its Cluster); that fragment was not written`
        : this.#count === 0
        ? `the first fragment belongs to ContactId ${displayText(this.#nextContactId ?? "-", 64)}, not ${
          displayText(this.#contactId ?? "-", 64)
        } (${at}); nothing was written`
        : `the ContactId changed after ${
          displayText(this.#contactId ?? "-", 64)
        } (${at}); that fragment was not written`
      : reason === "contact-unknown"
      ? this.#laterTags
        ? "a document whose ContactId is not known before its end began; it was not written"
        : "the input ended inside a fragment, before its ContactId; that fragment was not written"
      : reason === "interrupted"
      ? `interrupted by ${signal}; ${
        kept("the files hold everything received so far", "stdout received everything up to then")
      }`
      : reason === "error"
      ? `error (exit ${error?.exitCode}); ${
        kept("the files hold everything written before it", "stdout received the audio up to then")
      }`
      : reason.replaceAll("-", " ");
    this.#rep.text(`stopped: ${why}`);
    if (s.lastFragmentNumber !== null) {
      this.#rep.text(
        `last fragment: ${displayText(s.lastFragmentNumber, 64)}; continuation token: ${
          displayText(s.continuationToken ?? "-", 140)
        }`,
      );
    } else if (s.continuationToken !== null) {
      this.#rep.text(
        `continuation token: ${displayText(s.continuationToken, 140)} (the one given: no fragment was written)`,
      );
    }
    this.#rep.flush();
    if (closeError !== undefined) {
      // Its done event is out.
      if (typeof closeError === "object" && closeError !== null) markAnnounced(closeError, this.#rep.eventsOnStderr);
      throw closeError;
    }
  }
}

/** A `fragment` event. */
type FragmentEvent = Record<string, unknown> & { event: string };

/** Say which outputs of an earlier run `--force` leaves as they were (a later `--append` lines up with them too). */
export function warnLeftOver(writer: CallWriter, reporter: Reporter): void {
  for (const path of writer.leftOver()) {
    reporter.warning(
      `${displayText(path)} is from an earlier run and is left as it is (this run does not write it); a later ` +
        "--append lines up with the longest output there, this one too: remove it if it is not this call's",
    );
  }
}
