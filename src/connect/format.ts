/**
 * The audio format of a Connect stream: sample rate and channels from the
 * `MimeType` tag (`audio/L16;rate=8000;channels=1;`), falling back to the
 * track's Audio element, then to 8000 Hz mono. The payload is always treated
 * as signed 16-bit little-endian PCM, whatever CodecID says (Connect declares
 * `A_AAC`).
 *
 * @example
 * ```ts
 * import { parseMimeType } from "./format.ts";
 * parseMimeType("audio/L16;rate=8000;channels=1;"); // { type: "audio/L16", rate: 8000, channels: 1 }
 * ```
 * @module
 */

import type { Fragment, Track } from "../mkv/fragment.ts";

/** Highest sample rate accepted from the stream (Hz). */
export const MAX_RATE = 384000;
/** Most channels per track accepted from the stream. */
export const MAX_CHANNELS = 8;

/** Sample format of the PCM kvsaudio writes. */
export interface StreamFormat {
  /** Samples per second. */
  rate: number;
  /** Interleaved channels per track (Connect: 1). */
  channels: number;
  /** Where the values came from. */
  source: "mime-type" | "audio-element" | "default";
}

/** Parsed `MimeType` tag. */
export interface MimeType {
  /** The media type, e.g. `audio/L16`. */
  type: string;
  /** `rate=` parameter. */
  rate?: number;
  /** `channels=` parameter. */
  channels?: number;
}

/** A `MimeType` tag as read: the parsed type, and the first parameter whose value is no such number. */
export interface MimeTypeRead {
  /** The type and the usable parameters. */
  mime: MimeType;
  /** The first `rate=` or `channels=` parameter whose value is unusable (left out of `mime`). */
  invalid?: "rate" | "channels";
}

/**
 * Whether `n` is a sample rate kvsaudio writes (a whole number of Hz, 1 to {@linkcode MAX_RATE}).
 *
 * @example
 * ```ts
 * import { usableRate } from "./format.ts";
 * usableRate(8000); // true
 * usableRate(0);    // false
 * ```
 */
export function usableRate(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_RATE;
}

/**
 * Whether `n` is a channel count kvsaudio writes (1 to {@linkcode MAX_CHANNELS}).
 *
 * @example
 * ```ts
 * import { usableChannels } from "./format.ts";
 * usableChannels(2); // true
 * ```
 */
export function usableChannels(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_CHANNELS;
}

/**
 * Parse a MIME type with parameters; the trailing `;` is optional.
 *
 * @example
 * ```ts
 * import { parseMimeType } from "./format.ts";
 * parseMimeType("audio/L16;rate=16000;channels=1").rate; // 16000
 * ```
 */
export function parseMimeType(text: string): MimeType {
  return readMimeType(text).mime;
}

/**
 * {@linkcode parseMimeType}, also telling which parameter was unusable.
 *
 * @example
 * ```ts
 * import { readMimeType } from "./format.ts";
 * readMimeType("audio/L16;rate=0").invalid; // "rate"
 * ```
 */
export function readMimeType(text: string): MimeTypeRead {
  const [type, ...params] = text.split(";");
  const out: MimeTypeRead = { mime: { type: type.trim() } };
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq < 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    if (key !== "rate" && key !== "channels") continue;
    // (A parameter value may be a quoted string, RFC 2045: `rate="16000"`.)
    const text = p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1").trim();
    const value = text === "" ? NaN : Number(text);
    if (!(key === "rate" ? usableRate(value) : usableChannels(value))) out.invalid ??= key;
    else if (key === "rate") out.mime.rate = value;
    else out.mime.channels = value;
  }
  return out;
}

/**
 * Work out the format of a fragment's audio for the given tracks.
 *
 * @example
 * ```ts
 * import { streamFormat } from "./format.ts";
 * import { Fragment } from "../mkv/fragment.ts";
 * streamFormat(new Fragment(0, 0), []); // { rate: 8000, channels: 1, source: "default" }
 * ```
 */
export function streamFormat(fragment: Fragment, tracks: readonly Track[]): StreamFormat {
  const mime = fragment.mimeType;
  return (mime !== undefined ? mimeTypeFormat(mime) : undefined) ?? audioElementFormat(tracks);
}

/**
 * The format a `MimeType` tag gives, or `undefined` when it has no usable
 * `rate=` (the first step of {@linkcode streamFormat}).
 *
 * @example
 * ```ts
 * import { mimeTypeFormat } from "./format.ts";
 * mimeTypeFormat("audio/L16;rate=16000;"); // { rate: 16000, channels: 1, source: "mime-type" }
 * ```
 */
export function mimeTypeFormat(mime: string | MimeType): StreamFormat | undefined {
  const m = typeof mime === "string" ? parseMimeType(mime) : mime;
  return m.rate !== undefined ? { rate: m.rate, channels: m.channels ?? 1, source: "mime-type" } : undefined;
}

/**
 * The format from the first of `tracks` with a usable Audio element, else
 * 8000 Hz mono (the fallback steps of {@linkcode streamFormat}).
 *
 * @example
 * ```ts
 * import { audioElementFormat } from "./format.ts";
 * audioElementFormat([{ number: 1, audio: { samplingFrequency: 16000 } }]); // { rate: 16000, channels: 1, source: "audio-element" }
 * ```
 */
export function audioElementFormat(tracks: readonly Track[]): StreamFormat {
  for (const t of tracks) {
    // Matroska's defaults for an Audio element's children: 8000 Hz, 1 channel (mkvmerge leaves out
    // SamplingFrequency 8000 and keeps Channels 2).
    const sf = t.audio === undefined ? undefined : t.audio.samplingFrequency ?? 8000;
    const ch = t.audio?.channels ?? 1;
    // Same bounds as the MimeType path: anything else is not a usable PCM format.
    if (sf !== undefined && usableRate(sf) && usableChannels(ch)) {
      return { rate: sf, channels: ch, source: "audio-element" };
    }
  }
  return { ...DEFAULT_STREAM_FORMAT };
}

/**
 * The format of a stream that says none (no MimeType, no Audio element):
 * 8000 Hz mono, as Connect sends.
 *
 * @example
 * ```ts
 * import { DEFAULT_STREAM_FORMAT } from "./format.ts";
 * DEFAULT_STREAM_FORMAT.rate; // 8000
 * ```
 */
export const DEFAULT_STREAM_FORMAT: Readonly<StreamFormat> = Object.freeze({
  rate: 8000,
  channels: 1,
  source: "default",
});
