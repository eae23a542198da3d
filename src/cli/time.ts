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

/** Epoch milliseconds of `text`, or `undefined` when it is not a timestamp. */
export function parseTimestamp(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return n > 1e11 ? Math.round(n) : Math.round(n * 1000);
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}
