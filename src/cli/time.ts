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

/**
 * ISO 8601: a date, optionally a time (`T` or a space, seconds and a
 * fraction optional) with `Z` or an offset (`+02:00`, `+0200`); a time
 * without either is UTC, like a date alone (KVS and Connect times are UTC:
 * the same command gives the same audio on a host in any time zone).
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

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
    // ISO 8601 only, checked whole: Date.parse alone takes "2026-07-01 junk" or "2026-02-30" as some other date.
    const m = ISO.exec(t);
    if (m === null) return undefined;
    const [, y, mo, d, hh, mm, ss, frac, zone] = m;
    if (Number(y) < 1970) return undefined; // (and Date.UTC would take years 0–99 as 1900–1999)
    const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return undefined;
    if (hh === undefined) ms = day.getTime();
    else {
      if (Number(hh) > 23 || Number(mm) > 59 || Number(ss ?? 0) > 59) return undefined;
      const z = zone === undefined || zone.toUpperCase() === "Z" ? "Z" : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
      const f = (frac ?? "").padEnd(3, "0").slice(0, 3);
      ms = Date.parse(`${y}-${mo}-${d}T${hh}:${mm}:${ss ?? "00"}.${f}${z}`);
    }
  }
  // A time a request can carry: 1970 to the end of year 9999.
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS ? ms : undefined;
}
