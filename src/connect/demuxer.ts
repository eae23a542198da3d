/**
 * The Connect demuxer: fragments in, per-direction PCM out.
 *
 * - tracks are mapped by TrackEntry Name (see `tracks.ts`);
 * - the payload is s16le PCM whatever CodecID says; rate and channels come
 *   from the `MimeType` tag (see `format.ts`);
 * - each block is placed by its absolute time (Cluster timecode + block
 *   timecode, × TimecodeScale) on one timeline shared by both directions, so
 *   the two stay aligned: a gap in time becomes silence, an overlap is
 *   dropped and counted;
 * - with a target ContactId (given, or taken from the first fragment unless
 *   `followStream`), the first fragment of another contact ends the stream
 *   and none of its audio is produced (also a fragment whose ContactId tags
 *   disagree, before and after its Cluster: it may hold the other's audio);
 * - an in-band KVS error fragment ends the stream with a `KvsStreamError`.
 *
 * @example
 * ```ts
 * import { assembleFragments } from "../mkv/assembler.ts";
 * import { demuxConnect } from "./demuxer.ts";
 * const file = await Deno.open("call.mkv");
 * for await (const item of demuxConnect(assembleFragments(file.readable))) {
 *   if (item.kind === "audio") console.log(item.fragment.index, item.from?.frames, item.to?.frames);
 *   else console.log("stopped:", item.reason);
 * }
 * ```
 * @module
 */

import { DataError, KvsStreamError } from "../errors.ts";
import type { BlockTable } from "../mkv/block_table.ts";
import type { Fragment, Tag, Track } from "../mkv/fragment.ts";
import { aacProblem, trackLabel } from "./codec.ts";
import { displayText } from "../cli/sanitize.ts";
import { FragmentLayout } from "./detect.ts";
import { audioElementFormat, DEFAULT_STREAM_FORMAT, type StreamFormat } from "./format.ts";
import { type Direction, TRACK_NAMES } from "./tracks.ts";

/** PCM bytes (a view into the input) or a number of silent frames. */
export type PcmPiece = Uint8Array | number;

/** One direction's audio from one fragment, in timeline order. */
export interface TrackAudio {
  /** Track number it came from. */
  track: number;
  /** Timeline position (in frames) of the first piece. */
  startFrame: number;
  /** PCM views and silence runs. */
  pieces: PcmPiece[];
  /** Frames in `pieces` (silence included). */
  frames: number;
  /** Silent frames inserted for gaps in time. */
  gapFrames: number;
  /** Number of gaps filled. */
  gaps: number;
  /** Frames dropped because they overlapped audio already placed. */
  overlapFrames: number;
  /** Blocks dropped entirely as overlaps. */
  droppedBlocks: number;
  /** Blocks used. */
  blocks: number;
}

/** Audio of one fragment. */
export interface AudioItem {
  /** Discriminant. */
  kind: "audio";
  /** The fragment it came from. */
  fragment: Fragment;
  /** The stream's format (fixed by the first fragment with audio). */
  format: StreamFormat;
  /** The customer's voice, if the fragment has that track. */
  from?: TrackAudio;
  /** What the customer hears, if the fragment has that track. */
  to?: TrackAudio;
  /** Warnings about this fragment (format change, odd payload size, …). */
  warnings: string[];
  /** Skipped: a fragment before the wanted contact's first (see {@linkcode DemuxOptions.skipUntilContact}). */
  skipped?: boolean;
}

/** Why the stream ended. */
export type StopReason = "end-of-input" | "contact-changed" | "contact-unknown";

/** Last item: why the stream ended. */
export interface StopItem {
  /** Discriminant. */
  kind: "stop";
  /** Why. */
  reason: StopReason;
  /**
   * The fragment that caused the stop, if any: another contact's
   * (`contact-changed`), or one cut off before its ContactId tag while a
   * contact is followed (`contact-unknown`: it may be another contact's).
   * Its audio is not given.
   */
  fragment?: Fragment;
  /** The ContactId that was followed, if any. */
  contactId?: string;
  /**
   * `contact-changed`: the other contact's ContactId (the fragment's; when
   * its ContactId tags disagree, the one that is not the followed contact's).
   */
  nextContactId?: string;
}

/** What the demuxer yields. */
export type ConnectItem = AudioItem | StopItem;

/** Options of {@linkcode demuxConnect}. */
export interface DemuxOptions {
  /**
   * Only this contact's audio; another contact's first fragment ends the
   * stream (as does a fragment with a ContactId tag of another contact
   * besides this one's).
   */
  contactId?: string;
  /** Do not stop when the ContactId changes (and take no target from the first fragment). */
  followStream?: boolean;
  /**
   * Holes in the whole call (no audio in either direction) longer than this
   * (ms) are skipped on both timelines and reported instead of filled with
   * silence (default 60,000). One direction's gap while the other has audio
   * is always filled, so both stay aligned.
   */
  maxGapMs?: number;
  /** Timing jitter absorbed without a gap or an overlap, in ms (default 2). */
  toleranceMs?: number;
  /** Produce no audio from fragments with `complete: false` (default: use their whole blocks). */
  dropIncomplete?: boolean;
  /**
   * With `contactId`: fragments before that contact's first one are skipped
   * (items with `skipped` set and no audio) instead of ending the stream
   * (picking one contact out of a saved body that holds several). Only
   * fragments whose ContactId tags all name it begin it. Default false.
   */
  skipUntilContact?: boolean;
  /**
   * The input's name, for errors (as the assembler's `source` option):
   * data errors carry it, and an in-band error fragment's message begins
   * with it and the fragment's byte offset.
   */
  source?: string;
}

/**
 * Demultiplex Connect audio from a fragment stream. Stateful across calls of
 * {@linkcode ConnectDemuxer.fragment}; {@linkcode demuxConnect} wraps it as an
 * async generator.
 *
 * @example
 * ```ts
 * import { ConnectDemuxer } from "./demuxer.ts";
 * import { Fragment } from "../mkv/fragment.ts";
 * const d = new ConnectDemuxer({ contactId: "abc" });
 * const item = d.fragment(new Fragment(0, 0)); // an AudioItem with no tracks
 * ```
 */
export class ConnectDemuxer {
  #opts: DemuxOptions;
  #target: string | undefined;
  /** `skipUntilContact`: the wanted contact's first fragment was seen. */
  #begun = false;
  #format: StreamFormat | undefined;
  /** Track roles and format, worked out again only when a fragment's tracks or MimeType change. */
  #layout = new FragmentLayout();
  /** The roles last warned about (a duplicate track name). */
  #warnedRoles: object | undefined;
  /** A MimeType tag and an Audio element that disagree were warned about. */
  #warnedDisagree = false;
  #originMs: number | undefined;
  #next: Record<Direction, number> = { from: 0, to: 0 };
  /** The tags of the last fragment with a ContactId (where this stream puts it), and its document. */
  #contactTags: readonly Tag[] | undefined;
  #contactDoc = -1;
  /** Frames skipped by capped gaps (timeline shift applied to both directions). */
  #shiftFrames = 0;
  /**
   * The current fragment's holes in the whole call (see `#fragmentHoles`),
   * worked out once when a direction first finds a gap that long: pairs of
   * (where the audio after the hole starts, the holes' length up to there),
   * in timeline positions before this fragment's skips.
   */
  #holes: number[] | undefined;
  /** Where both directions' audio ended when the current fragment began. */
  #coveredAtStart = 0;
  /** Gaps longer than `maxGapMs` that were not filled. */
  cappedGaps = 0;
  /** Fragments with blocks but no track named for a direction, and the first of them. */
  #unnamed = 0;
  #firstUnnamed: Fragment | undefined;
  /** Audio of the call was produced (a fragment had blocks on a track named for a direction). */
  #named = false;

  /**
   * The error for a stream that is no Connect call: fragments with blocks
   * came, but none had a track named `AUDIO_FROM_CUSTOMER` or
   * `AUDIO_TO_CUSTOMER` (a video stream, unnamed tracks); `undefined`
   * otherwise. {@linkcode demuxConnect} throws it at the end of its input.
   *
   * @example
   * ```ts
   * import { ConnectDemuxer } from "./demuxer.ts";
   * const demuxer = new ConnectDemuxer();
   * // … demuxer.fragment(f) for each fragment …
   * demuxer.notConnect(); // undefined: no fragment with blocks on unnamed tracks came
   * ```
   */
  notConnect(): DataError | undefined {
    const first = this.#firstUnnamed;
    if (first === undefined || this.#named) return undefined;
    const e = notConnectError(this.#unnamed, first.offset, first.tracks, this.#opts.source);
    e.fragment = first; // (where it is: a pull names the response it came in)
    return e;
  }

  /**
   * Create a demuxer at the start of a stream (both timelines at frame 0).
   *
   * @param options the contact to follow, gap and jitter limits, incomplete fragments
   * @throws RangeError for a `maxGapMs` or `toleranceMs` that is negative or not a number (`toleranceMs` also when infinite)
   */
  constructor(options: DemuxOptions = {}) {
    const { maxGapMs, toleranceMs } = options;
    if (maxGapMs !== undefined && !(maxGapMs >= 0)) {
      throw new RangeError(`maxGapMs must be a number of ms, 0 or more, got ${maxGapMs}`);
    }
    if (toleranceMs !== undefined && !(toleranceMs >= 0 && toleranceMs < Infinity)) {
      throw new RangeError(`toleranceMs must be a finite number of ms, 0 or more, got ${toleranceMs}`);
    }
    if (options.contactId !== undefined && options.followStream) {
      throw new TypeError("contactId and followStream exclude each other: followStream takes every contact's audio");
    }
    this.#opts = options;
    this.#target = options.contactId;
  }

  /** The ContactId being followed (given, or taken from the first fragment). */
  get contactId(): string | undefined {
    return this.#target;
  }

  /** The stream's format, once a fragment with audio was seen. */
  get format(): StreamFormat | undefined {
    return this.#format;
  }

  /** Timeline position (frames) of the next sample of each direction. */
  position(dir: Direction): number {
    return this.#next[dir];
  }

  /**
   * Process one fragment: an AudioItem, or a StopItem when the contact
   * changed. Throws `KvsStreamError` for an in-band error fragment.
   */
  fragment(f: Fragment): ConnectItem {
    const kvs = f.kvs;
    if (kvs.errorCode !== undefined) {
      const id = kvs.errorId !== undefined ? ` (error id ${kvs.errorId})` : "";
      const source = this.#opts.source;
      const where = source !== undefined ? `${source}: byte ${f.offset}: ` : "";
      const at = kvs.fragmentNumber !== undefined && kvs.fragmentNumber !== ""
        ? ` at fragment ${kvs.fragmentNumber}`
        : source === undefined
        ? ` at byte ${f.offset}`
        : "";
      const msg = kvs.errorMessage ? `: ${kvs.errorMessage}` : "";
      throw new KvsStreamError(
        `${where}KVS sent an in-band error fragment${at}: AWS_KINESISVIDEO_ERROR_CODE ${kvs.errorCode}${id}${msg}`,
        kvs.errorCode,
        kvs.errorId,
        f,
      );
    }
    // An empty ContactId tag says nothing: then the fragment's first non-empty one counts.
    const cid = f.contactId || otherContactId(f.tags, "");
    if (this.#opts.skipUntilContact && !this.#begun && this.#target !== undefined && !this.#opts.followStream) {
      if (cid !== this.#target || otherContactId(f.tags, cid) !== undefined) {
        return {
          kind: "audio",
          fragment: f,
          format: this.#format ?? DEFAULT_STREAM_FORMAT,
          warnings: [],
          skipped: true,
        };
      }
      this.#begun = true;
    }
    if (!this.#opts.followStream) {
      if (cid !== undefined && cid !== "") {
        this.#target ??= cid;
        // A fragment whose ContactId tags disagree (before and after its
        // Cluster) may hold the other contact's audio: it ends the contact too.
        const other = cid !== this.#target ? cid : otherContactId(f.tags, cid);
        if (other !== undefined) {
          return {
            kind: "stop",
            reason: "contact-changed",
            fragment: f,
            contactId: this.#target,
            nextContactId: other,
          };
        }
        this.#contactTags = f.tags;
        this.#contactDoc = f.document;
      } else if (
        this.#target !== undefined &&
        (!f.complete || (f.closedBy === "end-of-input" && !f.hasTagAfterCluster() && this.#contactAfter()) ||
          // One Cluster of a later document split into several (a plain file's), where this stream puts
          // the ContactId after the Clusters: its tags reach only the document's last fragment.
          (f.closedBy === "next-cluster" && f.document !== this.#contactDoc && this.#contactAfter()))
      ) {
        // Cut off before its ContactId tag (Connect's may come only after the
        // Cluster; an input ending before its trailing Tags, where this
        // stream carries it, cuts it off too): whose audio this is cannot be
        // told, so none of it is given.
        return { kind: "stop", reason: "contact-unknown", fragment: f, contactId: this.#target };
      }
    }
    const warnings: string[] = [];
    const roles = this.#layout.roles(f.tracks);
    const fmt = this.#layout.format(f, roles);
    if (roles.problem !== undefined || roles.aacTrack !== undefined || roles.mismatch !== undefined) {
      const problem = roles.problem ?? (roles.aacTrack && aacProblem(roles.aacTrack, f.mimeType)) ??
        (fmt.source !== "mime-type" ? roles.mismatch : undefined);
      // Written as 16-bit PCM, any of these would be noise.
      if (problem !== undefined) {
        throw new DataError(problem, { offset: f.offset, element: "TrackEntry", source: this.#opts.source });
      }
    }
    const mimeProblem = this.#layout.mimeProblem;
    if (mimeProblem !== undefined && (roles.hasFrom || roles.hasTo)) {
      throw new DataError(mimeProblem, {
        offset: tagOffset(f, "MimeType"),
        element: "MimeType tag",
        source: this.#opts.source,
      });
    }
    if (roles.duplicate !== undefined && roles !== this.#warnedRoles) {
      this.#warnedRoles = roles; // once for these tracks
      warnings.push(roles.duplicate);
    }
    const hasFrom = roles.hasFrom, hasTo = roles.hasTo;
    if (fmt.source === "mime-type" && !this.#warnedDisagree) {
      const said = disagreeingAudio(f.tracks, fmt);
      if (said !== undefined) {
        this.#warnedDisagree = true; // once per stream
        warnings.push(
          `the MimeType tag says ${fmt.rate} Hz ${fmt.channels} ch, but the tracks' Audio element ${said.rate} Hz ` +
            `${said.channels} ch: written as the MimeType tag says`,
        );
      }
    }
    const was = this.#format;
    if (was === undefined || (this.#originMs === undefined && fmt.source !== "default")) {
      // Until audio is placed, a format that is said replaces one assumed.
      if (hasFrom || hasTo) this.#format = fmt;
    } else if (fmt.source !== "default" && (fmt.rate !== was.rate || fmt.channels !== was.channels)) {
      // The samples so far were placed and written at the first format: the rest cannot join them.
      const assumed = was.source === "default" ? " (assumed: no MimeType tag or Audio element said)" : "";
      throw new DataError(
        `the format changed to ${fmt.rate} Hz ${fmt.channels} ch from the ${was.rate} Hz ${was.channels} ch ` +
          `written so far${assumed}: kvsaudio writes one format per call`,
        fmt.source === "mime-type"
          ? { offset: tagOffset(f, "MimeType"), element: "MimeType tag", source: this.#opts.source }
          : { offset: f.offset, element: "Audio", source: this.#opts.source },
      );
    }
    const format = this.#format ?? fmt;
    const item: AudioItem = { kind: "audio", fragment: f, format, warnings };
    if (this.#opts.dropIncomplete && !f.complete) return item;
    if (!hasFrom && !hasTo) {
      // Blocks on no track named for a direction: not audio of this call (see notConnect).
      if (f.blockTable.length > 0 && this.#unnamed++ === 0) this.#firstUnnamed = f;
      return item;
    }
    if (this.#originMs === undefined) {
      // A missing direction's number is NaN and matches no block.
      const from = roles.from, to = roles.to;
      let min = Infinity;
      const t = f.blockTable;
      for (let i = 0; i < t.length; i++) {
        const ms = t.timeMs(i);
        if (ms < min) {
          const track = t.track(i);
          if (track === from || track === to) min = ms;
        }
      }
      if (min === Infinity) return item;
      this.#originMs = min;
    }
    // A hole in the whole call is worked out once for the fragment, from both
    // directions' blocks, and skipped by both alike: each block moves back by
    // the holes before it. (Shifting the timeline as the first direction
    // placed met a hole moved the other's audio before it too, onto audio
    // already placed, where it was dropped as overlap.)
    const stray = undeclaredBlocks(f, roles.from, roles.to);
    if (stray !== undefined) warnings.push(stray);
    this.#holes = undefined;
    this.#coveredAtStart = Math.max(this.#next.from, this.#next.to);
    if (hasFrom) item.from = this.#place("from", roles.from, roles.to, f.blockTable, format, warnings);
    if (hasTo) item.to = this.#place("to", roles.to, roles.from, f.blockTable, format, warnings);
    const holes = this.#holes as number[] | undefined;
    if (holes !== undefined) {
      for (let h = 0; h < holes.length; h += 2) {
        const len = holes[h + 1] - (h > 0 ? holes[h - 1] : 0);
        warnings.push(`gap of ${(len / format.rate).toFixed(3)} s not filled (over the maximum gap)`);
      }
      this.cappedGaps += holes.length / 2;
      if (holes.length > 0) this.#shiftFrames += holes[holes.length - 1];
    }
    this.#named = true; // audio of the call was produced
    return item;
  }

  /**
   * The holes in the whole call from where both directions' audio ended
   * before this fragment to the end of its audio: stretches longer than
   * `limit` frames that no block of `a` or `b` covers. As `#holes` pairs.
   */
  #fragmentHoles(blocks: BlockTable, a: number, b: number, rate: number, frameBytes: number, limit: number): number[] {
    const spans: number[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const track = blocks.track(i);
      if (track !== a && track !== b) continue;
      spans.push(this.#rawPosition(blocks, i, rate), Math.floor(blocks.data(i).length / frameBytes));
    }
    const order = Array.from({ length: spans.length / 2 }, (_, j) => 2 * j).sort((x, y) => spans[x] - spans[y]);
    const holes: number[] = [];
    let covered = this.#coveredAtStart;
    let total = 0;
    for (const j of order) {
      const at = spans[j];
      if (at - covered > limit) {
        total += at - covered;
        holes.push(at, total);
      }
      covered = Math.max(covered, at + spans[j + 1]);
    }
    return holes;
  }

  /** Timeline position of block `i` before the current fragment's skips. */
  #rawPosition(blocks: BlockTable, i: number, rate: number): number {
    return Math.round(((blocks.timeMs(i) - this.#originMs!) * rate) / 1000) - this.#shiftFrames;
  }

  /** Whether the last fragment with a ContactId had it only in the Tags after its Cluster. */
  #contactAfter(): boolean {
    return this.#contactTags !== undefined && contactTagAfterOnly(this.#contactTags);
  }

  #place(
    dir: Direction,
    track: number,
    otherTrack: number,
    blocks: BlockTable,
    format: StreamFormat,
    warnings: string[],
  ): TrackAudio {
    const rate = format.rate;
    const frameBytes = 2 * format.channels;
    const tol = Math.ceil((rate * (this.#opts.toleranceMs ?? 2)) / 1000);
    const maxGap = Math.round((rate * (this.#opts.maxGapMs ?? 60000)) / 1000);
    const out: TrackAudio = {
      track,
      startFrame: this.#next[dir],
      pieces: [],
      frames: 0,
      gapFrames: 0,
      gaps: 0,
      overlapFrames: 0,
      droppedBlocks: 0,
      blocks: 0,
    };
    let next = this.#next[dir];
    let oddBytes = 0;
    /** Holes before the current block: the index into `#holes` of the next one, and their length. */
    let hole = 0;
    let skipped = 0;
    // Blocks are placed in time order: a Cluster's blocks out of order are
    // taken in order of time (ties as stored), not as overlaps.
    const order = timeOrder(blocks, track);
    const n = order === undefined ? blocks.length : order.length;
    for (let j = 0; j < n; j++) {
      const i = order === undefined ? j : order[j];
      if (blocks.track(i) !== track) continue;
      const raw = this.#rawPosition(blocks, i, rate);
      // A gap longer than the maximum in this direction may be a hole in the
      // whole call (or only this direction's: the other's audio then fills it).
      if (this.#holes === undefined && raw - next > maxGap && raw - next > tol) {
        this.#holes = this.#fragmentHoles(blocks, track, otherTrack, rate, frameBytes, Math.max(maxGap, tol));
      }
      const holes = this.#holes;
      if (holes !== undefined) {
        while (hole < holes.length && holes[hole] <= raw) {
          skipped = holes[hole + 1];
          hole += 2;
        }
      }
      const pos = raw - skipped;
      if (pos > next + tol) {
        // Time that passed in the call: filled with silence, so both stay aligned.
        const gap = pos - next;
        out.pieces.push(gap);
        out.frames += gap;
        out.gapFrames += gap;
        out.gaps++;
        next = pos;
      }
      const skip = pos < next - tol ? next - pos : 0;
      // A laced block's frames are one run of samples (they lie back to back; a frame may end inside a sample).
      const data = blocks.data(i);
      let len = data.length - (data.length % frameBytes);
      oddBytes += data.length - len;
      const frameCount = len / frameBytes;
      if (skip >= frameCount) {
        out.overlapFrames += frameCount;
        if (frameCount > 0) out.droppedBlocks++; // (a block without one whole frame is no audio lost)
        continue;
      }
      let start = 0;
      if (skip > 0) {
        start = skip * frameBytes;
        out.overlapFrames += skip;
        len -= start;
      }
      out.pieces.push(start === 0 && len === data.length ? data : data.subarray(start, start + len));
      out.frames += len / frameBytes;
      next += len / frameBytes;
      out.blocks++;
    }
    if (oddBytes > 0) warnings.push(`${dir}: ${oddBytes} trailing bytes not a whole sample frame were dropped`);
    if (out.droppedBlocks > 0) {
      // Whole blocks lost (the summary counts partial overlaps too): say so where it happens.
      warnings.push(
        `${dir}: ${out.droppedBlocks} block(s) lie wholly before audio already written (out of time order, or repeated); ` +
          `not written`,
      );
    }
    this.#next[dir] = next;
    return out;
  }
}

/**
 * A warning for `f`'s blocks on track numbers that no TrackEntry of the
 * fragment declares (damage: a block's track byte), or undefined. Blocks on
 * declared tracks of no direction (a video track) are not audio of the call.
 */
function undeclaredBlocks(f: Fragment, from: number, to: number): string | undefined {
  const blocks = f.blockTable;
  const declared = (t: number) => t === from || t === to || f.tracks.some((tr) => tr.number === t);
  if (blocks.trackNumbers.every(declared)) return undefined;
  const counts = new Map<number, number>();
  for (let i = 0; i < blocks.length; i++) {
    const t = blocks.track(i);
    if (!declared(t)) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const list = [...counts].map(([t, n]) => `${n} on track ${t}`).join(", ");
  return `block(s) on a track number that no TrackEntry declares (damaged?), not written: ${list}`;
}

/**
 * The rows of `track`'s blocks in order of time (a stable sort), or undefined
 * when they are in time order as stored (as a Connect stream's are).
 */
function timeOrder(blocks: BlockTable, track: number): number[] | undefined {
  if (blocks.inTimeOrder) return undefined;
  let last = -Infinity;
  for (let i = 0; i < blocks.length; i++) {
    if (blocks.track(i) !== track) continue;
    const ms = blocks.timeMs(i);
    if (ms < last) {
      const rows: number[] = [];
      for (let r = 0; r < blocks.length; r++) if (blocks.track(r) === track) rows.push(r);
      return rows.sort((a, b) => blocks.timeMs(a) - blocks.timeMs(b) || a - b);
    }
    last = ms;
  }
  return undefined;
}

/** Whether the ContactId tags among `tags` all come after their Cluster. */
function contactTagAfterOnly(tags: readonly Tag[]): boolean {
  let after = false;
  for (const t of tags) {
    if (t.name !== "ContactId") continue;
    if (t.position !== "after") return false;
    after = true;
  }
  return after;
}

/** The first non-empty ContactId among `tags` that is not `cid`, if any. */
function otherContactId(tags: readonly Tag[], cid: string): string | undefined {
  for (const t of tags) {
    if (t.name === "ContactId" && typeof t.value === "string" && t.value !== "" && t.value !== cid) return t.value;
  }
  return undefined;
}

/**
 * Demultiplex a fragment stream. Yields one AudioItem per fragment and ends
 * with one StopItem (`end-of-input`, `contact-changed` or `contact-unknown`).
 * The PCM pieces are views into the input chunks the fragments were read
 * from (no copy): they stay valid as long as those chunks are not changed.
 *
 * @example
 * ```ts
 * import { assembleFragments } from "../mkv/assembler.ts";
 * import { demuxConnect } from "./demuxer.ts";
 * const bytes = await Deno.readFile("call.mkv");
 * let frames = 0;
 * for await (const item of demuxConnect(assembleFragments([bytes]), { contactId: "87718f4a-d2ed-476a-ad11-f496ab09b3f8" })) {
 *   if (item.kind === "audio") frames += item.from?.frames ?? 0;
 * }
 * ```
 */
export async function* demuxConnect(
  fragments: AsyncIterable<Fragment>,
  options: DemuxOptions = {},
): AsyncGenerator<ConnectItem> {
  const demuxer = new ConnectDemuxer(options);
  try {
    for await (const f of fragments) {
      const item = demuxer.fragment(f);
      if (item.kind === "stop") {
        // Not a Connect call at all: an error, not a run that quietly produced no audio.
        const notConnect = demuxer.notConnect();
        if (notConnect !== undefined) throw notConnect;
      }
      yield item;
      if (item.kind === "stop") return;
    }
  } catch (e) {
    // Bad data inside a fragment: its whole blocks before it are audio like a truncated fragment's (unless
    // the contact cannot be told, or the fragment is unusable itself); then the error goes on.
    const f = e instanceof DataError ? e.fragment : undefined;
    if (f !== undefined && f.blockTable.length > 0 && !options.dropIncomplete) {
      let item: ConnectItem | undefined;
      try {
        item = demuxer.fragment(f);
      } catch {
        // (The bad data is the error to report.)
      }
      if (item?.kind === "audio") yield item;
    }
    throw e;
  }
  // Not a Connect call at all: an error, not a run that quietly produced no audio.
  const notConnect = demuxer.notConnect();
  if (notConnect !== undefined) throw notConnect;
  yield { kind: "stop", reason: "end-of-input", contactId: demuxer.contactId };
}

/**
 * The error for a stream whose `count` fragments with blocks had no track
 * named for a direction, the first at `offset` with `tracks` (exit 3).
 *
 * @example
 * ```ts
 * import { notConnectError } from "./demuxer.ts";
 * notConnectError(9, 0, [{ number: 1, type: 1, codecId: "V_MPEG4/ISO/AVC" }]).message;
 * // "byte 0: Tracks: no audio: the 9 fragment(s) with blocks have no track named AUDIO_FROM_CUSTOMER or
 * //  AUDIO_TO_CUSTOMER (tracks: track 1 V_MPEG4/ISO/AVC): not an Amazon Connect stream"
 * ```
 */
export function notConnectError(
  count: number,
  offset: number,
  tracks: readonly Track[],
  source?: string,
): DataError {
  const names = tracks.map((t) => `${trackLabel(t)}${t.codecId ? ` ${displayText(t.codecId, 32)}` : ""}`);
  return new DataError(
    `no audio: the ${count} fragment(s) with blocks have no track named AUDIO_FROM_CUSTOMER or ` +
      `AUDIO_TO_CUSTOMER (tracks: ${names.slice(0, 4).join(", ") || "none"}): not an Amazon Connect stream`,
    { offset, element: "Tracks", source },
  );
}

/** Where the fragment's first string tag `name` begins (where the fragment does, if it has none). */
function tagOffset(f: Fragment, name: string): number {
  for (const t of f.tags) if (t.name === name && typeof t.value === "string") return t.offset;
  return f.offset;
}

/**
 * The format that the Audio element of a direction's track says, when it
 * says one other than `fmt` (a MimeType tag's); Connect's tracks have none.
 */
function disagreeingAudio(tracks: readonly Track[], fmt: StreamFormat): StreamFormat | undefined {
  let named: Track[] | undefined;
  for (const t of tracks) {
    if (t.audio !== undefined && (t.name === TRACK_NAMES.from || t.name === TRACK_NAMES.to)) (named ??= []).push(t);
  }
  if (named === undefined) return undefined;
  const said = audioElementFormat(named);
  return said.source === "audio-element" && (said.rate !== fmt.rate || said.channels !== fmt.channels)
    ? said
    : undefined;
}
