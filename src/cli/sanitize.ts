/**
 * Making untrusted stream values safe for the terminal and the filesystem:
 * tag values, ContactIds and track names come from the stream and may hold
 * control characters, terminal escape sequences, path separators or megabytes
 * of text.
 *
 * @example
 * ```ts
 * import { displayText, safeFileName } from "./sanitize.ts";
 * displayText("abc\x1b[31mred"); // "abc\\x1b[31mred"
 * safeFileName("../../etc/passwd"); // "etc_passwd"
 * ```
 * @module
 */

export { hideSecrets } from "../secrets.ts";

/** Longest tag value shown in full by `inspect` (longer ones are cut). */
export const MAX_DISPLAY = 256;

/**
 * What shows as something else or as nothing: DEL and C1 controls, bidi controls, the Unicode line and paragraph
 * separators, the zero-width space, the word joiner, the BOM, the soft hyphen, Hangul fillers, … (not the
 * zero-width joiners that Persian, Indic scripts and emoji use). {@linkcode displayText} escapes these and C0;
 * {@linkcode jsonLine} these (JSON escapes C0 itself).
 */
const INVISIBLE =
  "\\x7f-\\x9f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b\\u200e\\u200f\\u2028\\u2029" +
  "\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb";
const DISPLAY_ESCAPED = new RegExp(`[\\x00-\\x1f${INVISIBLE}]`, "g");
const JSON_ESCAPED = new RegExp(`[${INVISIBLE}]`, "g");

/**
 * Escape control characters (C0, DEL, C1, bidi controls, the Unicode line and
 * paragraph separators, the zero-width space, the word joiner, the BOM and
 * other characters that show as nothing (soft hyphen, Hangul fillers, …);
 * not the zero-width joiners that Persian, Indic scripts and emoji use) as `\xNN`/`\u{…}` and
 * cut text longer than `max` characters, saying how much was cut. With
 * `keepEnd`, the cut text ends with its last `keepEnd` of those characters
 * (where an error message says why: a long path's "File name too long").
 *
 * @example
 * ```ts
 * import { displayText } from "./sanitize.ts";
 * displayText("a".repeat(300), 10); // "aaaaaaaaaa…(+290 chars)"
 * displayText("a".repeat(300) + ": why", 20, 5); // "aaaaaaaaaaaaaaa…(+285 chars)…: why"
 * ```
 */
export function displayText(text: string, max = MAX_DISPLAY, keepEnd = 0): string {
  if (text.length <= max && !hasControls(text)) return text;
  if (text.length <= max) return escaped(text);
  const tail = Math.min(keepEnd, max);
  const head = escaped(text.slice(0, max - tail));
  const cut = `…(+${text.length - max} chars)`;
  return tail > 0 ? `${head}${cut}…${escaped(text.slice(text.length - tail))}` : `${head}${cut}`;
}

function escaped(text: string): string {
  return text.replace(
    DISPLAY_ESCAPED,
    (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
    },
  );
}

/** True when `text` has a character {@linkcode displayText} escapes (a loop: cheaper than the regex when there is none). */
function hasControls(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) return true;
    if (
      c >= 0x7f &&
      (c <= 0x9f || c === 0xad || c === 0x034f || c === 0x061c || c === 0x115f || c === 0x1160 || c === 0x17b4 ||
        c === 0x17b5 || c === 0x180e || c === 0x200b || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) ||
        (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x2069) || c === 0x3164 || c === 0xfeff || c === 0xffa0 ||
        (c >= 0xfff9 && c <= 0xfffb))
    ) {
      return true;
    }
  }
  return false;
}

/**
 * A file-name-safe form of a stream value: letters, digits, `-`, `_` and `.`
 * only (others become `_`), no leading dots, at most 64 characters; empty
 * input gives `"unknown"`.
 *
 * @example
 * ```ts
 * import { safeFileName } from "./sanitize.ts";
 * safeFileName("87718f4a-d2ed-476a-ad11-f496ab09b3f8"); // unchanged
 * ```
 */
export function safeFileName(text: string): string {
  const s = text.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").replace(/_+$/, "").slice(0, 64);
  return s.length === 0 ? "unknown" : s;
}

/**
 * Hex of the first `max` bytes, with the total length when cut.
 *
 * @example
 * ```ts
 * import { hexPreview } from "./sanitize.ts";
 * hexPreview(new Uint8Array([0x11, 0x90])); // "11 90"
 * ```
 */
export function hexPreview(bytes: Uint8Array, max = 16): string {
  const parts: string[] = [];
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) parts.push(bytes[i].toString(16).padStart(2, "0"));
  const s = parts.join(" ");
  return bytes.length > max ? `${s} …(${bytes.length} bytes)` : s;
}

/**
 * Cut a stream value longer than `max` characters for JSON output, saying
 * how much was cut (no escaping: JSON does that).
 *
 * @example
 * ```ts
 * import { clip } from "./sanitize.ts";
 * clip("a".repeat(2000), 4); // "aaaa…(+1996 chars)"
 * ```
 */
export function clip(text: string, max = 1024): string {
  return text.length > max ? `${text.slice(0, max)}…(+${text.length - max} chars)` : text;
}

/**
 * {@linkcode clip} for an optional stream value: `null` when it is absent (a
 * JSON field that is always present).
 *
 * @example
 * ```ts
 * import { clipOrNull } from "./sanitize.ts";
 * clipOrNull(undefined); // null
 * clipOrNull("c-1"); // "c-1"
 * ```
 */
export function clipOrNull(text: string | undefined): string | null {
  return text === undefined ? null : clip(text);
}

/**
 * One NDJSON line that is safe on a terminal: `JSON.stringify`, plus `\uXXXX`
 * escapes for the C1 and bidi controls and the Unicode line and paragraph
 * separators it leaves raw (the same value once
 * parsed).
 *
 * @example
 * ```ts
 * import { jsonLine } from "./sanitize.ts";
 * jsonLine({ contactId: "\x1b[2J\u009b" }); // '{"contactId":"\\u001b[2J\\u009b"}'
 * ```
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_ESCAPED,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
