/**
 * Telling a whole fragment from one cut off at an element boundary, where a
 * body ends without the tags KVS closes GetMedia fragments with
 * (`GetMediaForFragmentList` sends none of them): by the tags after the
 * Cluster that the pull's whole fragments had. Connect writes the same
 * trailing Tags (ContactId, MimeType, …) after every Cluster of a stream, so
 * a fragment with fewer of them than every whole fragment so far was cut.
 *
 * @example
 * ```ts
 * import { TrailingTags } from "./trailing_tags.ts";
 * import { Fragment } from "../mkv/fragment.ts";
 * const trailing = new TrailingTags();
 * const f = new Fragment(0, 0);
 * trailing.whole(f); // true: nothing learned yet
 * ```
 * @module
 */

import type { Fragment } from "../mkv/fragment.ts";

/** What the whole fragments of a pull had after their Cluster. */
export class TrailingTags {
  /** Fewest tags (other than KVS's own) any whole fragment had after its last Cluster. */
  #fewest: number | undefined;

  /**
   * `f` is known to be whole (the next document began after it, or KVS's
   * own trailing tags were read): remember its tags after the Cluster.
   *
   * @example
   * ```ts
   * import { TrailingTags } from "./trailing_tags.ts";
   * import { Fragment } from "../mkv/fragment.ts";
   * const trailing = new TrailingTags();
   * trailing.learn(new Fragment(0, 0));
   * ```
   */
  learn(f: Fragment): void {
    if (f.clusters.length === 0) return;
    const n = trailingCount(f);
    if (this.#fewest === undefined || n < this.#fewest) this.#fewest = n;
  }

  /**
   * Whether `f`, ended by the end of a body with its elements complete, has
   * at least as many tags after its Cluster as every whole fragment so far
   * (true before any was seen).
   *
   * @example
   * ```ts
   * import { TrailingTags } from "./trailing_tags.ts";
   * import { Fragment } from "../mkv/fragment.ts";
   * new TrailingTags().whole(new Fragment(0, 0)); // true
   * ```
   */
  whole(f: Fragment): boolean {
    return this.#fewest === undefined || trailingCount(f) >= this.#fewest;
  }
}

/** Tags after `f`'s last Cluster, KVS's own (`AWS_KINESISVIDEO_…`) not counted. */
function trailingCount(f: Fragment): number {
  const cluster = f.clusters.at(-1);
  if (cluster === undefined) return 0;
  let n = 0;
  for (const t of f.tags) if (t.offset > cluster.offset && !t.name.startsWith("AWS_KINESISVIDEO_")) n++;
  return n;
}
