/**
 * Parsing timestamps given on the command line: ISO 8601, or epoch seconds
 * or milliseconds (numbers above 10^11 are taken as milliseconds).
 *
 * @example
 * ```ts
 * import { parseTimestamp } from "./time.ts";
 * parseTimestamp("2026-11-24T10:00:00Z"); // 1795514400000
 * parseTimestamp("1599166395.421");       // 1599166395421
 * parseTimestamp("1599166395421");        // 1599166395421
 * ```
 * @module
 */

/** The last millisecond of year 9999 (ISO 8601's four-digit years). */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Epoch milliseconds of `text`, or `undefined` when it is not a timestamp. */
export function parseTimestamp(text: string): number | undefined {
  const t = text.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    ms = n > 1e11 ? Math.round(n) : Math.round(n * 1000);
  } else {
    if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
    ms = Date.parse(t);
  }
  // A time a request can carry: 1970 to the end of year 9999.
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS ? ms : undefined;
}
