/**
 * A DOM-like element tree of a fragment (name, id, offset, size, value,
 * children), as the Python KVS consumer offered, searchable by name or path.
 *
 * @example
 * ```ts
 * import { findAll, findFirst, type ElementNode } from "./tree.ts";
 * function example(tree: ElementNode[]) {
 *   // tree: from a Fragment assembled with { tree: true }
 *   findFirst(tree, "Segment/Cluster/Timecode")?.value; // e.g. 1782912654536
 *   findAll(tree, "SimpleBlock").length;                 // number of SimpleBlocks anywhere
 * }
 * ```
 * @module
 */

import type { EbmlValue } from "../ebml/token.ts";

/** One element of the tree. */
export interface ElementNode {
  /** Element name (hex id for unknown elements). */
  name: string;
  /** Element id. */
  id: number;
  /** Absolute byte offset of the element header. */
  offset: number;
  /** Header (id + size) length in bytes. */
  headerSize: number;
  /** Data size in bytes (for unknown-size masters, the size they spanned). */
  size: number;
  /** True when the size field said "unknown". */
  unknownSize: boolean;
  /** Decoded value of a leaf. */
  value?: EbmlValue;
  /** Children of a master. */
  children?: ElementNode[];
  /** True when the input ended inside this element. */
  truncated?: boolean;
  /** True for an element id not in the element table (skipped). */
  unknownElement?: boolean;
}

/**
 * All nodes matching `query` in document order. A query is an element name
 * (matched at any depth) or a `/`-separated path from the given roots
 * (`Segment/Tracks/TrackEntry/Name`); `*` matches any one element.
 *
 * @example
 * ```ts
 * import { findAll, type ElementNode } from "./tree.ts";
 * const leaf: ElementNode = { name: "TagName", id: 0x45a3, offset: 0, headerSize: 3, size: 9, unknownSize: false, value: "ContactId" };
 * findAll([leaf], "TagName").length; // 1
 * ```
 */
export function findAll(
  roots: readonly ElementNode[],
  query: string,
): ElementNode[] {
  const out: ElementNode[] = [];
  if (!query.includes("/")) {
    const walk = (nodes: readonly ElementNode[]) => {
      for (const n of nodes) {
        if (n.name === query) out.push(n);
        if (n.children) walk(n.children);
      }
    };
    walk(roots);
    return out;
  }
  const steps = query.split("/").filter((s) => s.length > 0);
  const walkPath = (nodes: readonly ElementNode[], depth: number) => {
    for (const n of nodes) {
      if (steps[depth] !== "*" && n.name !== steps[depth]) continue;
      if (depth === steps.length - 1) out.push(n);
      else if (n.children) walkPath(n.children, depth + 1);
    }
  };
  walkPath(roots, 0);
  return out;
}

/**
 * The first node matching `query` (see {@linkcode findAll}), or `undefined`.
 *
 * @example
 * ```ts
 * import { findFirst, type ElementNode } from "./tree.ts";
 * findFirst([] as ElementNode[], "Cluster"); // undefined
 * ```
 */
export function findFirst(
  roots: readonly ElementNode[],
  query: string,
): ElementNode | undefined {
  return findAll(roots, query)[0];
}
