/**
 * Direction of a Connect audio track, mapped by TrackEntry Name only (track
 * numbers, TrackUIDs and the `AUDIO_*_CUSTOMER` tag values are not reliable).
 *
 * @example
 * ```ts
 * import { mapTracks } from "./tracks.ts";
 * mapTracks([{ number: 1, name: "AUDIO_TO_CUSTOMER" }, { number: 2, name: "AUDIO_FROM_CUSTOMER" }]);
 * // { from: { number: 2, … }, to: { number: 1, … } }
 * ```
 * @module
 */

import type { Track } from "../mkv/fragment.ts";

/** `from` = the customer's voice; `to` = what the customer hears. */
export type Direction = "from" | "to";

/**
 * Both directions, in output order.
 *
 * @example
 * ```ts
 * import { DIRECTIONS, TRACK_NAMES } from "./tracks.ts";
 * DIRECTIONS.map((dir) => TRACK_NAMES[dir]); // ["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"]
 * ```
 */
export const DIRECTIONS: readonly Direction[] = ["from", "to"];

/**
 * TrackEntry Name of each direction.
 *
 * @example
 * ```ts
 * import { type Direction, TRACK_NAMES } from "./tracks.ts";
 * const dir: Direction = "to";
 * TRACK_NAMES[dir]; // "AUDIO_TO_CUSTOMER"
 * ```
 */
export const TRACK_NAMES: Readonly<Record<Direction, string>> = {
  from: "AUDIO_FROM_CUSTOMER",
  to: "AUDIO_TO_CUSTOMER",
};

/** Tracks found for each direction. */
export interface TrackMap {
  /** Track carrying `AUDIO_FROM_CUSTOMER`. */
  from?: Track;
  /** Track carrying `AUDIO_TO_CUSTOMER`. */
  to?: Track;
}

/**
 * Map a document's tracks to directions by Name (trailing NULs were already
 * stripped; surrounding spaces and case are ignored).
 *
 * @example
 * ```ts
 * import { mapTracks } from "./tracks.ts";
 * mapTracks([{ number: 7, name: "AUDIO_FROM_CUSTOMER" }]).from?.number; // 7
 * ```
 */
export function mapTracks(tracks: readonly Track[]): TrackMap {
  const map: TrackMap = {};
  for (const t of tracks) {
    const name = nameKey(t.name);
    if (name === TRACK_NAMES.from && map.from === undefined) map.from = t;
    else if (name === TRACK_NAMES.to && map.to === undefined) map.to = t;
  }
  return map;
}

/**
 * A track name as directions are mapped by it: trimmed, in upper case (`" audio_to_customer"` is
 * `AUDIO_TO_CUSTOMER`).
 *
 * @example
 * ```ts
 * import { nameKey } from "./tracks.ts";
 * nameKey(" audio_to_customer "); // "AUDIO_TO_CUSTOMER"
 * ```
 */
export function nameKey(name: string | undefined): string | undefined {
  return name?.trim().toUpperCase();
}
