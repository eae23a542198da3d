/**
 * Access to the shared third-party test data in `../shared/fixtures/` (next to
 * the project checkout, as in CI). The data is never copied into the repo:
 * tests read it in place and skip, saying why, when the folder is absent.
 *
 * - `kvs-getmedia/*.mkv`: real KVS GetMedia captures, read as they are;
 * - `connect-synthetic/*.ebml.hex`: hex text; `#` lines are dropped,
 *   whitespace is stripped, the rest is hex-decoded.
 *
 * @module
 */

/**
 * The shared fixtures folder, computed relative to this file (tests/support/):
 * the same folder as `new URL("../../shared/fixtures/", import.meta.url)` from
 * a test file in tests/.
 */
export const fixturesDir: URL = new URL("../../../shared/fixtures/", import.meta.url);

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isDirectory;
  } catch {
    return false;
  }
}

/** True when the shared fixtures folder is present. */
export const haveFixtures: boolean = exists(fixturesDir);

/** Why fixture tests are skipped (undefined when they run). */
export const skipReason: string | undefined = haveFixtures
  ? undefined
  : `shared fixtures not found at ${fixturesDir.pathname}: skipping the tests that need them`;

/**
 * Decode hex text: lines starting with `#` are dropped, all whitespace is
 * stripped, the rest must be an even number of hex digits.
 */
export function decodeHexText(text: string): Uint8Array {
  const hex = text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("")
    .replace(/\s+/g, "");
  if (hex.length % 2 !== 0) throw new Error(`odd number of hex digits (${hex.length})`);
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new Error("non-hex character in hex fixture");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** URL of a fixture, given as a path relative to the fixtures folder. */
export function fixtureUrl(name: string): URL {
  return new URL(name, fixturesDir);
}

/**
 * The bytes of a fixture (`"kvs-getmedia/test_mixed_tags.mkv"`,
 * `"connect-synthetic/gap.ebml.hex"` or just `"connect-synthetic/gap"`):
 * `.hex` files are decoded, anything else is read as it is.
 */
export function loadFixture(name: string): Uint8Array {
  const path = name.startsWith("connect-synthetic/") && !name.endsWith(".hex") ? `${name}.ebml.hex` : name;
  const url = fixtureUrl(path);
  if (path.endsWith(".hex")) return decodeHexText(Deno.readTextFileSync(url));
  return Deno.readFileSync(url);
}

/** The `#` header comment lines of a hex fixture, without the `#`. */
export function hexHeader(name: string): string[] {
  const path = name.endsWith(".hex") ? name : `${name}.ebml.hex`;
  return Deno.readTextFileSync(fixtureUrl(path))
    .split(/\r?\n/)
    .filter((l) => l.startsWith("#"))
    .map((l) => l.slice(1).trim());
}

/** The names (without extension) of the connect-synthetic hex fixtures, sorted. */
export function syntheticNames(): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(fixtureUrl("connect-synthetic/"))) {
    if (e.isFile && e.name.endsWith(".ebml.hex")) names.push(e.name.slice(0, -".ebml.hex".length));
  }
  return names.sort();
}

// ------------------------------------------------------------------------
// An independent reference reader, sharing no code with src/: a plain EBML
// walk of a GetMedia body or MKV file that records per document what the
// tests cross-check (Segment/Cluster size kinds, Cluster timecodes, blocks
// with their payloads, TrackEntries, SimpleTags) and where the input ended
// inside an element. It knows just enough Matroska for the fixtures: an
// unknown-size Segment ends at the next EBML header, an unknown-size Cluster
// at the next top-level or Segment-level element.

const EBML_ID = 0x1A45DFA3;
const SEGMENT_ID = 0x18538067;
const CLUSTER_ID = 0x1F43B675;
/** Ids that end an unknown-size Cluster: Segment children and top-level ids. */
const CLUSTER_ENDERS = new Set([
  EBML_ID,
  SEGMENT_ID,
  CLUSTER_ID,
  0x114D9B74, // SeekHead
  0x1549A966, // Info
  0x1654AE6B, // Tracks
  0x1254C367, // Tags
  0x1C53BB6B, // Cues
  0x1043A770, // Chapters
  0x1941A469, // Attachments
]);

/** A block as the reference reader saw it (no lacing support needed here). */
export interface RefBlock {
  /** Track number. */
  track: number;
  /** Cluster timecode + relative timecode, in ms (TimecodeScale applied). */
  timeMs: number;
  /** Flags byte. */
  flags: number;
  /** Payload after the 4-byte-ish header (track VINT, int16, flags). */
  payload: Uint8Array;
  /** Offset of the SimpleBlock / Block element. */
  offset: number;
}

/** A Cluster as the reference reader saw it. */
export interface RefCluster {
  /** Offset of the Cluster element. */
  offset: number;
  /** Its size field said "unknown". */
  unknownSize: boolean;
  /** Its Timecode value. */
  timecode?: number;
  /** SimpleBlock elements in it. */
  simpleBlocks: number;
  /** BlockGroup elements in it. */
  blockGroups: number;
}

/** One MKV document (EBML header + Segment). */
export interface RefDocument {
  /** Offset of its EBML header. */
  offset: number;
  /** Raw DocType bytes (the KVS SDK writes a trailing NUL). */
  docTypeRaw?: Uint8Array;
  /** The Segment's size field said "unknown". */
  segmentUnknownSize?: boolean;
  /** Info TimecodeScale (default 1,000,000 ns). */
  timecodeScale: number;
  /** TrackEntries: number, Name and CodecID (trailing NULs stripped). */
  tracks: { number: number; name?: string; codecId?: string }[];
  /** SimpleTags in order, with their place relative to the first Cluster. */
  tags: { name: string; value: string; position: "before" | "after" }[];
  /** Clusters in order. */
  clusters: RefCluster[];
  /** SimpleBlocks (and Blocks of BlockGroups) in order. */
  blocks: RefBlock[];
}

/** What the reference reader found. */
export interface RefStream {
  /** Documents in order. */
  documents: RefDocument[];
  /** Set when the input ended inside an element: that element's id and offset. */
  truncated?: { id: number; offset: number };
}

interface Header {
  id: number;
  offset: number;
  dataStart: number;
  /** -1 for unknown. */
  size: number;
}

const utf8 = new TextDecoder();
const text = (b: Uint8Array) => utf8.decode(b).replace(/\0+$/, "");

function readUint(b: Uint8Array): number {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

/** Reads an element header at `p`; undefined when the input ends inside it. */
function readHeader(bytes: Uint8Array, p: number): Header | undefined {
  if (p >= bytes.length) return undefined;
  const first = bytes[p];
  const idLen = first >= 0x80 ? 1 : first >= 0x40 ? 2 : first >= 0x20 ? 3 : first >= 0x10 ? 4 : 0;
  if (idLen === 0) throw new Error(`reference reader: invalid element id byte ${first} at ${p}`);
  if (p + idLen >= bytes.length) return undefined;
  let id = 0;
  for (let i = 0; i < idLen; i++) id = id * 256 + bytes[p + i];
  const s0 = bytes[p + idLen];
  let sizeLen = 1;
  while (sizeLen <= 8 && (s0 & (0x100 >> sizeLen)) === 0) sizeLen++;
  if (sizeLen > 8) throw new Error(`reference reader: invalid size byte at ${p + idLen}`);
  if (p + idLen + sizeLen > bytes.length) return undefined;
  let size = s0 & ((0x100 >> sizeLen) - 1);
  let allOnes = size === (0x100 >> sizeLen) - 1;
  for (let i = 1; i < sizeLen; i++) {
    const x = bytes[p + idLen + i];
    size = size * 256 + x;
    if (x !== 0xFF) allOnes = false;
  }
  return { id, offset: p, dataStart: p + idLen + sizeLen, size: allOnes ? -1 : size };
}

/** Children of a known-size master, as [header, data] pairs. */
function* children(bytes: Uint8Array, start: number, end: number): Generator<[Header, Uint8Array]> {
  let p = start;
  while (p < end) {
    const h = readHeader(bytes, p);
    if (!h || h.size < 0 || h.dataStart + h.size > end) return;
    yield [h, bytes.subarray(h.dataStart, h.dataStart + h.size)];
    p = h.dataStart + h.size;
  }
}

/**
 * Walk `bytes` independently of the product's parser. Throws on inputs it
 * was not written for (an unknown size anywhere but Segment or Cluster).
 */
export function readReference(bytes: Uint8Array): RefStream {
  const out: RefStream = { documents: [] };
  let doc: RefDocument | undefined;
  const newDoc = (offset: number): RefDocument => {
    doc = { offset, timecodeScale: 1000000, tracks: [], tags: [], clusters: [], blocks: [] };
    out.documents.push(doc);
    return doc;
  };
  const truncatedAt = (h: Header) => {
    out.truncated = { id: h.id, offset: h.offset };
  };
  const fits = (h: Header) => h.size >= 0 && h.dataStart + h.size <= bytes.length;
  /** The header at `p`; undefined (recorded as the truncation point) when the input ends inside it. */
  const headerAt = (p: number): Header | undefined => {
    const h = readHeader(bytes, p);
    if (!h) out.truncated = { id: -1, offset: p };
    return h;
  };

  const block = (d: RefDocument, c: RefCluster, data: Uint8Array, offset: number) => {
    // The track number is a VINT with its marker bit cleared.
    let len = 1;
    while ((data[0] & (0x80 >> (len - 1))) === 0) len++;
    const track = readUint(data.subarray(0, len)) - ((0x80 >> (len - 1)) * 256 ** (len - 1));
    const rel = new DataView(data.buffer, data.byteOffset + len, 2).getInt16(0);
    d.blocks.push({
      track,
      timeMs: ((c.timecode ?? 0) + rel) * d.timecodeScale / 1e6,
      flags: data[len + 2],
      payload: data.subarray(len + 3),
      offset,
    });
  };

  const cluster = (d: RefDocument, ch: Header, segEnd: number): number => {
    const c: RefCluster = { offset: ch.offset, unknownSize: ch.size < 0, simpleBlocks: 0, blockGroups: 0 };
    d.clusters.push(c);
    const end = ch.size < 0 ? segEnd : Math.min(ch.dataStart + ch.size, segEnd);
    let p = ch.dataStart;
    while (p < end) {
      const h = headerAt(p);
      if (!h) return bytes.length;
      if (ch.size < 0 && CLUSTER_ENDERS.has(h.id)) return p;
      if (!fits(h)) {
        truncatedAt(h);
        return bytes.length;
      }
      const data = bytes.subarray(h.dataStart, h.dataStart + h.size);
      if (h.id === 0xE7) c.timecode = readUint(data);
      else if (h.id === 0xA3) {
        c.simpleBlocks++;
        block(d, c, data, h.offset);
      } else if (h.id === 0xA0) {
        c.blockGroups++;
        for (const [bh, bd] of children(bytes, h.dataStart, h.dataStart + h.size)) {
          if (bh.id === 0xA1) block(d, c, bd, bh.offset);
        }
      }
      p = h.dataStart + h.size;
    }
    if (ch.size >= 0 && ch.dataStart + ch.size > bytes.length) truncatedAt(ch);
    return end;
  };

  const simpleTags = (d: RefDocument, start: number, end: number) => {
    for (const [h] of children(bytes, start, end)) {
      if (h.id === 0x67C8) {
        let name = "";
        let value = "";
        for (const [th, td] of children(bytes, h.dataStart, h.dataStart + h.size)) {
          if (th.id === 0x45A3) name = text(td);
          else if (th.id === 0x4487) value = text(td);
        }
        d.tags.push({ name, value, position: d.clusters.length > 0 ? "after" : "before" });
      } else if (h.id === 0x7373) simpleTags(d, h.dataStart, h.dataStart + h.size);
    }
  };

  const segment = (d: RefDocument, sh: Header): number => {
    d.segmentUnknownSize = sh.size < 0;
    const end = sh.size < 0 ? bytes.length : Math.min(sh.dataStart + sh.size, bytes.length);
    let p = sh.dataStart;
    while (p < end) {
      const h = headerAt(p);
      if (!h) return bytes.length;
      if (h.id === EBML_ID && sh.size < 0) return p;
      if (h.id === CLUSTER_ID) {
        p = cluster(d, h, end);
        continue;
      }
      if (h.size < 0) throw new Error(`reference reader: unknown size of 0x${h.id.toString(16)} at ${h.offset}`);
      if (!fits(h)) {
        truncatedAt(h);
        return bytes.length;
      }
      if (h.id === 0x1549A966) { // Info
        for (const [ih, idata] of children(bytes, h.dataStart, h.dataStart + h.size)) {
          if (ih.id === 0x2AD7B1) d.timecodeScale = readUint(idata);
        }
      } else if (h.id === 0x1654AE6B) { // Tracks
        for (const [eh] of children(bytes, h.dataStart, h.dataStart + h.size)) {
          if (eh.id !== 0xAE) continue;
          const t: RefDocument["tracks"][number] = { number: 0 };
          for (const [fh, fd] of children(bytes, eh.dataStart, eh.dataStart + eh.size)) {
            if (fh.id === 0xD7) t.number = readUint(fd);
            else if (fh.id === 0x536E) t.name = text(fd);
            else if (fh.id === 0x86) t.codecId = text(fd);
          }
          d.tracks.push(t);
        }
      } else if (h.id === 0x1254C367) simpleTags(d, h.dataStart, h.dataStart + h.size);
      p = h.dataStart + h.size;
    }
    if (sh.size >= 0 && sh.dataStart + sh.size > bytes.length) truncatedAt(sh);
    return end;
  };

  let p = 0;
  while (p < bytes.length) {
    const h = headerAt(p);
    if (!h) break;
    if (h.id === EBML_ID) {
      if (!fits(h)) {
        truncatedAt(h);
        break;
      }
      const d = newDoc(h.offset);
      for (const [ch, cd] of children(bytes, h.dataStart, h.dataStart + h.size)) {
        if (ch.id === 0x4282) d.docTypeRaw = cd;
      }
      p = h.dataStart + h.size;
    } else if (h.id === SEGMENT_ID) {
      p = segment(doc ?? newDoc(h.offset), h);
    } else {
      throw new Error(`reference reader: unexpected top-level element 0x${h.id.toString(16)} at ${h.offset}`);
    }
  }
  return out;
}
