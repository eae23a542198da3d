/**
 * Telling a whole fragment from one cut off at an element boundary, where a
 * body ends without the tags KVS closes GetMedia fragments with
 * (`GetMediaForFragmentList` sends none of them): by the tags after the
 * Cluster that the pull's whole fragments had. Connect writes the same
 * trailing Tags after every Cluster of a stream, so a fragment without the
 * ContactId or MimeType that every whole fragment so far had there was cut
 * before them (its contact and format would otherwise be guessed).
 *
 * @example
 * ```ts
 * import { TrailingTags } from "./trailing_tags.ts";
 * import { Fragment } from "../mkv/fragment.ts";
 * const trailing = new TrailingTags();
 * const f = new Fragment(0, 0);
 * trailing.whole(f); // false: nothing learned yet (such a fragment is asked for again: wholeOrStored)
 * ```
 * @module
 */

import type { Fragment } from "../mkv/fragment.ts";

/** The tags whose absence matters: without them the fragment's contact or format would be guessed. */
const KEY_TAGS: readonly string[] = ["ContactId", "MimeType"];

/** What the whole fragments of a pull had after their Cluster. */
export class TrailingTags {
  /** Of {@linkcode KEY_TAGS}, those every whole fragment so far had after its last Cluster. */
  #always: string[] | undefined;

  /**
   * `f` is known to be whole (the next document began after it, or KVS's
   * own trailing tags were read): remember which of ContactId and MimeType
   * it had after its Cluster.
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
    const had = KEY_TAGS.filter((name) => f.hasTagAfterCluster(name));
    this.#always = this.#always === undefined ? had : this.#always.filter((name) => had.includes(name));
  }

  /**
   * Whether `f`, ended by the end of a body with its elements complete, has
   * after its Cluster each of ContactId and MimeType that every whole
   * fragment so far had there (false when there is nothing to go by: no
   * whole fragment seen, or none with either of them after its Cluster —
   * a body that ends inside such a fragment's Cluster looks the same). Other tags may
   * come and go (Connect adds `Events` now and then), so they are not asked
   * for.
   *
   * @example
   * ```ts
   * import { TrailingTags } from "./trailing_tags.ts";
   * import { Fragment } from "../mkv/fragment.ts";
   * new TrailingTags().whole(new Fragment(0, 0)); // false: nothing to go by
   * ```
   */
  whole(f: Fragment): boolean {
    const always = this.#always;
    return always !== undefined && always.length > 0 && always.every((name) => f.hasTagAfterCluster(name));
  }

  /**
   * Whether the last {@linkcode wholeOrStored} that said no had nothing to
   * go by (no whole fragment seen, or none with those tags after its
   * Cluster) and had not seen that fragment before: it is to be asked for
   * again once, to see whether it comes the same way (then it is stored so),
   * which is no sign of a cut.
   */
  unproven = false;

  /**
   * {@linkcode whole}, or, for a fragment without those tags, whether it came
   * exactly so (same number and size) when last asked about: then it is
   * stored that way, not cut (asking again would never change it).
   *
   * @example
   * ```ts
   * import { TrailingTags } from "./trailing_tags.ts";
   * import { Fragment } from "../mkv/fragment.ts";
   * const t = new TrailingTags();
   * t.wholeOrStored(new Fragment(0, 0)); // false: nothing learned yet (t.unproven: ask again)
   * t.wholeOrStored(new Fragment(0, 0)); // true: it came the same way again
   * ```
   */
  wholeOrStored(f: Fragment): boolean {
    this.unproven = false;
    if (this.whole(f)) return true;
    const last = this.#lacked;
    this.#lacked = { n: f.kvs.fragmentNumber, size: f.size };
    const seen = last !== undefined && last.n === f.kvs.fragmentNumber;
    if (seen && last.size === f.size) return true;
    this.unproven = !seen && (this.#always === undefined || this.#always.length === 0);
    return false;
  }

  /** The last fragment {@linkcode wholeOrStored} found without the tags. */
  #lacked: { n: string | undefined; size: number } | undefined;
}
