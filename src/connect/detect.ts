/**
 * Which track is which direction, and the stream's format, for one fragment
 * after another: the same answers as {@linkcode mapTracks} and `streamFormat`
 * (`format.ts`), worked out again only when the fragment's tracks
 * or `MimeType` differ from the previous fragment's (a GetMedia body repeats
 * them in every fragment, as new objects).
 *
 * @example
 * ```ts
 * import { FragmentLayout } from "./detect.ts";
 * import { Fragment } from "../mkv/fragment.ts";
 * const layout = new FragmentLayout();
 * const f = new Fragment(0, 0);
 * f.tracks = [{ number: 1, name: "AUDIO_FROM_CUSTOMER" }];
 * const roles = layout.roles(f.tracks);
 * roles.hasFrom;       // true
 * roles.from;          // 1
 * layout.format(f, roles); // { rate: 8000, channels: 1, source: "default" }
 * ```
 * @module
 */

import type { Fragment, Track } from "../mkv/fragment.ts";
import { audioElementFormat, mimeTypeFormat, readMimeType, type StreamFormat } from "./format.ts";
import { mapTracks, nameKey } from "./tracks.ts";
import { mimeProblem, trackLabel, trackProblem } from "./codec.ts";

/** The directions found among a fragment's tracks. */
export interface TrackRoles {
  /** A track is named `AUDIO_FROM_CUSTOMER`. */
  readonly hasFrom: boolean;
  /** Its TrackNumber (NaN when there is none: it equals no block's track). */
  readonly from: number;
  /** A track is named `AUDIO_TO_CUSTOMER`. */
  readonly hasTo: boolean;
  /** Its TrackNumber (NaN when there is none: it equals no block's track). */
  readonly to: number;
  /**
   * The format those two tracks' Audio elements give (or the default): what
   * `streamFormat` returns when the `MimeType` has no rate.
   */
  readonly audioFormat: StreamFormat;
  /**
   * Why those tracks cannot be written as 16-bit little-endian PCM (another
   * codec, bit depth, track type, ContentEncodings, an Audio element out of
   * range), or undefined.
   */
  readonly problem?: string;
  /** The first of them labelled `A_AAC` with an Audio element: real AAC unless the MimeType says `audio/L16`. */
  readonly aacTrack?: Track;
  /** The two tracks' Audio elements give different formats (what is said, when no MimeType gives the rate). */
  readonly mismatch?: string;
  /** A second track named for a direction (not written: the first one is), as a warning. */
  readonly duplicate?: string;
}

/**
 * Remembers the last tracks and `MimeType` seen. The objects it returns are
 * shared between calls: treat them as read-only.
 */
export class FragmentLayout {
  /** Names of the last tracks, in order. */
  #names: (string | undefined)[] = [];
  /** Index in them of the first `from` and `to` track, or -1. */
  #fromIndex = -1;
  #toIndex = -1;
  /** Fields of those two tracks the roles depend on (their numbers are in `#roles`). */
  #fromRate: number | undefined;
  #fromChannels: number | undefined;
  #toRate: number | undefined;
  #toChannels: number | undefined;
  /** Those two tracks (their codec fields are what `problem` depends on besides the rates). */
  #fromTrack: Track | undefined;
  #toTrack: Track | undefined;
  #roles: TrackRoles | undefined;
  #mime: string | undefined;
  #mimeFormat: StreamFormat | undefined;
  #mimeProblem: string | undefined;

  /** The directions of `tracks` (as {@linkcode mapTracks} maps them). */
  roles(tracks: readonly Track[]): TrackRoles {
    const last = this.#roles;
    if (last !== undefined && this.#same(tracks, last)) return last;
    const map = mapTracks(tracks);
    const names = new Array<string | undefined>(tracks.length);
    for (let i = 0; i < tracks.length; i++) names[i] = tracks[i].name;
    this.#names = names;
    this.#fromIndex = map.from === undefined ? -1 : tracks.indexOf(map.from);
    this.#toIndex = map.to === undefined ? -1 : tracks.indexOf(map.to);
    this.#fromRate = map.from?.audio?.samplingFrequency;
    this.#fromChannels = map.from?.audio?.channels;
    this.#toRate = map.to?.audio?.samplingFrequency;
    this.#toChannels = map.to?.audio?.channels;
    this.#fromTrack = map.from;
    this.#toTrack = map.to;
    const found: Track[] = [];
    if (map.from) found.push(map.from);
    if (map.to) found.push(map.to);
    let problem: string | undefined, aacTrack: Track | undefined;
    for (const t of found) {
      problem ??= trackProblem(t);
      if (aacTrack === undefined && t.codecId === "A_AAC" && t.audio !== undefined) aacTrack = t;
    }
    this.#roles = {
      hasFrom: map.from !== undefined,
      from: map.from !== undefined ? map.from.number : NaN,
      hasTo: map.to !== undefined,
      to: map.to !== undefined ? map.to.number : NaN,
      audioFormat: audioElementFormat(found),
      problem,
      aacTrack,
      mismatch: map.from && map.to ? formatMismatch(map.from, map.to) : undefined,
      duplicate: duplicateName(tracks, map),
    };
    return this.#roles;
  }

  /**
   * The format of `f` with these roles: `streamFormat` of `f` and the
   * roles' tracks.
   */
  format(f: Fragment, roles: TrackRoles): StreamFormat {
    const mime = f.mimeType;
    if (mime !== this.#mime) {
      this.#mime = mime;
      const read = mime === undefined ? undefined : readMimeType(mime);
      this.#mimeFormat = read === undefined ? undefined : mimeTypeFormat(read.mime);
      this.#mimeProblem = read === undefined ? undefined : mimeProblem(read);
    }
    return this.#mimeFormat ?? roles.audioFormat;
  }

  /** Why the MimeType of the fragment last given to {@linkcode FragmentLayout.format} rules its audio out. */
  get mimeProblem(): string | undefined {
    return this.#mimeProblem;
  }

  /** True when `tracks` map exactly as the last ones did (to `roles`). */
  #same(tracks: readonly Track[], roles: TrackRoles): boolean {
    const names = this.#names;
    if (tracks.length !== names.length) return false;
    // The mapping depends on the names only; the numbers and formats on the
    // two mapped tracks' fields.
    for (let i = 0; i < names.length; i++) if (tracks[i].name !== names[i]) return false;
    if (this.#fromIndex >= 0) {
      const t = tracks[this.#fromIndex];
      if (t.number !== roles.from || t.audio?.samplingFrequency !== this.#fromRate) return false;
      if (t.audio?.channels !== this.#fromChannels || !sameCodec(t, this.#fromTrack!)) return false;
    }
    if (this.#toIndex >= 0) {
      const t = tracks[this.#toIndex];
      if (t.number !== roles.to || t.audio?.samplingFrequency !== this.#toRate) return false;
      if (t.audio?.channels !== this.#toChannels || !sameCodec(t, this.#toTrack!)) return false;
    }
    return true;
  }
}

/** Whether `a` and `b` get the same codec verdict (replayed documents share their Track objects). */
function sameCodec(a: Track, b: Track): boolean {
  if (a === b) return true;
  return a.type === b.type && a.codecId === b.codecId && a.encoded === b.encoded &&
    (a.audio === undefined) === (b.audio === undefined) && a.audio?.bitDepth === b.audio?.bitDepth;
}

/** Why the two tracks' Audio elements disagree on the format, or undefined. */
function formatMismatch(from: Track, to: Track): string | undefined {
  const a = from.audio, b = to.audio;
  if (a === undefined || b === undefined) return undefined;
  // (Matroska's defaults: 8000 Hz, 1 channel.)
  const ra = a.samplingFrequency ?? 8000, rb = b.samplingFrequency ?? 8000;
  const ca = a.channels ?? 1, cb = b.channels ?? 1;
  if (ra === rb && ca === cb) return undefined;
  return `${trackLabel(from)} is ${ra} Hz ${ca} ch but ${trackLabel(to)} ` +
    `${rb} Hz ${cb} ch: kvsaudio writes both directions in one format`;
}

/** A warning for a second track named like a mapped one, or undefined. */
function duplicateName(tracks: readonly Track[], map: { from?: Track; to?: Track }): string | undefined {
  for (const t of tracks) {
    const first = t === map.from || t === map.to ? undefined : [map.from, map.to].find((m) =>
      // (Another TrackEntry with the same number: its blocks are that track's, written.)
      m !== undefined && m.number !== t.number && nameKey(m.name) === nameKey(t.name)
    );
    if (first !== undefined) {
      return `${trackLabel(t)} has the name of ${trackLabel(first)}: only track ${first.number}'s audio is written`;
    }
  }
  return undefined;
}
