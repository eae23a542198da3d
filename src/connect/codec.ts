/**
 * Which tracks hold audio kvsaudio can write: 16-bit little-endian PCM.
 *
 * Connect labels its tracks `A_AAC` (CodecPrivate `11 90`) but sends PCM and
 * writes no Audio element; ordinary files say `A_PCM/INT/LIT` with a BitDepth
 * of 16. Anything else (big-endian, float, 8/24-bit PCM, real AAC, Opus,
 * compressed tracks, video) would be written as noise, so it is refused.
 *
 * @example
 * ```ts
 * import { trackProblem } from "./codec.ts";
 * trackProblem({ number: 1, name: "AUDIO_FROM_CUSTOMER", codecId: "A_AAC" }); // undefined: Connect's PCM
 * trackProblem({ number: 1, codecId: "A_OPUS" }); // "track 1 has CodecID A_OPUS, …"
 * ```
 * @module
 */

import type { Track } from "../mkv/fragment.ts";
import {
  MAX_CHANNELS,
  MAX_RATE,
  type MimeType,
  type MimeTypeRead,
  parseMimeType,
  usableChannels,
  usableRate,
} from "./format.ts";
import { displayText } from "../cli/sanitize.ts";

/** What kvsaudio writes, for the end of each refusal. */
const WRITES = "kvsaudio writes 16-bit little-endian PCM only (Connect's A_AAC-labelled PCM, or A_PCM/INT/LIT)";

/** `track N "NAME"`, for messages. */
export function trackLabel(t: Track): string {
  return t.name !== undefined ? `track ${t.number} "${displayText(t.name, 64)}"` : `track ${t.number}`;
}

/**
 * Why `t` cannot be written as 16-bit little-endian PCM, or undefined when it
 * can. An `A_AAC` track with an Audio element is real AAC unless the
 * fragment's MimeType says `audio/L16`: that is for {@linkcode aacProblem}.
 *
 * @example
 * ```ts
 * import { trackProblem } from "./codec.ts";
 * trackProblem({ number: 2, codecId: "A_PCM/INT/LIT", audio: { bitDepth: 24 } });
 * // 'track 2 is 24-bit PCM: kvsaudio writes 16-bit …'
 * ```
 */
export function trackProblem(t: Track): string | undefined {
  const label = trackLabel(t);
  if (t.type !== undefined && t.type !== 2) return `${label} is not an audio track (TrackType ${t.type})`;
  if (t.encoded) {
    return `${label} is compressed or encrypted (ContentEncodings), which kvsaudio does not undo`;
  }
  const codec = t.codecId;
  if (codec === "A_PCM/INT/LIT") {
    const depth = t.audio?.bitDepth;
    if (depth !== undefined && depth !== 16) return `${label} is ${depth}-bit PCM: ${WRITES}`;
  } else if (codec !== undefined && codec !== "A_AAC") {
    return `${label} has CodecID ${displayText(codec, 64)}: ${WRITES}`;
  }
  const a = t.audio;
  if (a !== undefined) {
    const sf = a.samplingFrequency, ch = a.channels;
    if (sf !== undefined && !usableRate(sf)) {
      const what = Number.isFinite(sf) ? `SamplingFrequency ${sf}` : "a SamplingFrequency that is not a number";
      return `${label} has ${what}: kvsaudio writes whole rates from 1 to ${MAX_RATE} Hz`;
    }
    if (ch !== undefined && !usableChannels(ch)) {
      return `${label} has ${ch} channels: kvsaudio writes 1 to ${MAX_CHANNELS}`;
    }
  }
  return undefined;
}

/**
 * Why an `A_AAC` track with an Audio element is refused: without a MimeType
 * of `audio/L16` it is real AAC (Connect's PCM tracks have no Audio element).
 * Undefined for any other track, or when `mime` says `audio/L16`.
 *
 * @example
 * ```ts
 * import { aacProblem } from "./codec.ts";
 * const t = { number: 1, codecId: "A_AAC", audio: { samplingFrequency: 48000, channels: 2 } };
 * aacProblem(t, undefined);                  // 'track 1 is A_AAC with an Audio element …'
 * aacProblem(t, "audio/L16;rate=8000;");     // undefined
 * ```
 */
export function aacProblem(t: Track, mime: string | undefined): string | undefined {
  if (t.codecId !== "A_AAC" || t.audio === undefined) return undefined;
  if (mime !== undefined && isL16(parseMimeType(mime))) return undefined;
  const a = t.audio;
  const what = [
    a.samplingFrequency !== undefined ? `${a.samplingFrequency} Hz` : "",
    a.channels ? `${a.channels} ch` : "",
  ]
    .filter((s) => s !== "").join(", ");
  return `${trackLabel(t)} is A_AAC with an Audio element${what ? ` (${what})` : ""} and no audio/L16 MimeType tag: ` +
    `real AAC, which kvsaudio does not decode (Connect's PCM tracks have no Audio element; a copy of a Connect ` +
    `stream that carries its MimeType tag only after the audio, as mkvmerge's, cannot be told from AAC)`;
}

/** Whether a MimeType is `audio/L16` (any case). */
function isL16(m: MimeType): boolean {
  return m.type.toLowerCase() === "audio/l16";
}

/**
 * Why a fragment's MimeType tag rules out writing its audio as 16-bit PCM: another type than `audio/L16`,
 * or a rate or channel count that is no such number. Undefined when it is usable (a rate may be missing).
 *
 * @example
 * ```ts
 * import { mimeProblem } from "./codec.ts";
 * import { readMimeType } from "./format.ts";
 * mimeProblem(readMimeType("audio/L16;rate=8000;channels=1;")); // undefined
 * mimeProblem(readMimeType("audio/L24;rate=8000;"));            // "the MimeType tag says audio/L24: …"
 * ```
 */
export function mimeProblem(read: MimeTypeRead): string | undefined {
  const m = read.mime;
  if (!isL16(m)) {
    return `the MimeType tag says ${displayText(m.type, 64) || "no type"}: kvsaudio writes 16-bit PCM (audio/L16) only`;
  }
  // (The value itself is not quoted: it is anything a stream may hold.)
  if (read.invalid === "rate") {
    return `the MimeType tag's rate is no whole number of Hz kvsaudio can write (1 to ${MAX_RATE})`;
  }
  if (read.invalid === "channels") {
    return `the MimeType tag's channels is no channel count kvsaudio can write (1 to ${MAX_CHANNELS})`;
  }
  return undefined;
}
