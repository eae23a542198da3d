/**
 * Bench-only floor program, not part of kvsaudio: `deno run single_loop.ts
 * CALL.mkv OUTDIR` writes the same two WAVs as `kvsaudio extract` for the
 * bench's generated call, from one loop over the elements with no stages, no
 * objects per fragment and none of kvsaudio's checks. It handles only what
 * that call holds: 8 kHz mono tracks named AUDIO_FROM_CUSTOMER and
 * AUDIO_TO_CUSTOMER, unlaced SimpleBlocks, a ContactId that never changes
 * (a fragment of another contact ends it), small gaps filled with silence.
 * The bench checks that its WAVs equal kvsaudio's byte for byte and times
 * it in turn with `extract`: what a fused, single-loop design would cost on
 * this machine, for comparison with the staged pipeline.
 *
 * @example
 * ```sh
 * deno run -A tests/bench/single_loop.ts call.mkv out/
 * ```
 * @module
 */

const [input, outDir] = Deno.args;
const READ = 1 << 20;
const RATE = 8000;
/** Blocks within this many frames of where the timeline expects them are not gaps or overlaps. */
const TOLERANCE = 16;
/** EBML master elements walked into (their children follow their header). */
const MASTERS = new Set([0x1a45dfa3, 0x18538067, 0x1654ae6b, 0xae, 0x1254c367, 0x7373, 0x67c8, 0x1f43b675]);

interface Out {
  file: Deno.FsFile;
  buf: Uint8Array;
  fill: number;
  /** Timeline position (frames) of the next sample. */
  next: number;
  bytes: number;
}

function open(name: string): Out {
  const file = Deno.openSync(`${outDir}/${name}`, { write: true, createNew: true });
  file.writeSync(new Uint8Array(44));
  return { file, buf: new Uint8Array(1 << 20), fill: 0, next: 0, bytes: 0 };
}
function flush(o: Out): void {
  for (let done = 0; done < o.fill;) done += o.file.writeSync(o.buf.subarray(done, o.fill));
  o.bytes += o.fill;
  o.fill = 0;
}
function zeros(o: Out, n: number): void {
  while (n > 0) {
    if (o.fill === o.buf.length) flush(o);
    const k = Math.min(n, o.buf.length - o.fill);
    o.buf.fill(0, o.fill, o.fill + k);
    o.fill += k;
    n -= k;
  }
}
function finish(o: Out): void {
  flush(o);
  const h = new DataView(new ArrayBuffer(44));
  const tag = (s: string, at: number) => {
    for (let i = 0; i < 4; i++) h.setUint8(at + i, s.charCodeAt(i));
  };
  tag("RIFF", 0);
  h.setUint32(4, 36 + o.bytes, true);
  tag("WAVE", 8);
  tag("fmt ", 12);
  h.setUint32(16, 16, true);
  h.setUint16(20, 1, true);
  h.setUint16(22, 1, true);
  h.setUint32(24, RATE, true);
  h.setUint32(28, RATE * 2, true);
  h.setUint16(32, 2, true);
  h.setUint16(34, 16, true);
  tag("data", 36);
  h.setUint32(40, o.bytes, true);
  o.file.seekSync(0, Deno.SeekMode.Start);
  o.file.writeSync(new Uint8Array(h.buffer));
  o.file.close();
}

Deno.mkdirSync(outDir, { recursive: true });
const from = open("from_customer.wav");
const to = open("to_customer.wav");
const file = Deno.openSync(input);
const buf = new Uint8Array(2 * READ);
let len = 0;
let pos = 0;
/** Track number → output, from this document's TrackEntries. */
const byTrack = new Map<number, Out>();
let trackNumber = 0;
let tagName = 0; // 1: ContactId
let contact: string | undefined;
let target: string | undefined;
let clusterMs = 0;
let originMs = -1;
/** This document's blocks: track, time (ms), payload start and end in `buf`, four numbers each. */
const rows: number[] = [];
let blocks = 0;
let inDocument = false;
let docStart = 0;
let stop = false;
const codes: number[] = [];

function text(at: number, n: number): string {
  codes.length = n;
  for (let i = 0; i < n; i++) codes[i] = buf[at + i];
  return String.fromCharCode.apply(null, codes);
}

/** The document ends: write its blocks, unless it is another contact's. */
function endDocument(): void {
  if (!inDocument) return;
  inDocument = false;
  if (contact !== undefined) {
    target ??= contact;
    if (contact !== target) {
      stop = true;
      return;
    }
  }
  for (let i = 0; i < blocks; i++) {
    const o = byTrack.get(rows[4 * i]);
    if (o === undefined) continue;
    const ms = rows[4 * i + 1];
    if (originMs < 0) originMs = ms;
    const at = Math.round(((ms - originMs) * RATE) / 1000);
    let start = rows[4 * i + 2];
    const end = rows[4 * i + 3];
    if (at > o.next + TOLERANCE) {
      zeros(o, 2 * (at - o.next));
      o.next = at;
    } else if (at < o.next - TOLERANCE) {
      start += 2 * (o.next - at);
      if (start >= end) continue;
    }
    const n = end - start;
    if (o.fill + n > o.buf.length) flush(o);
    o.buf.set(buf.subarray(start, end), o.fill);
    o.fill += n;
    o.next += n >> 1;
  }
  blocks = 0;
  contact = undefined;
}

/** Walk the elements in `buf[pos, len)`; stops before one not wholly read unless `last`. */
function walk(last: boolean): void {
  while (pos < len && !stop) {
    if (!last && pos + 12 > len) return;
    const idWidth = Math.clz32(buf[pos]) - 23;
    let id = 0;
    for (let i = 0; i < idWidth; i++) id = id * 256 + buf[pos + i];
    const sizeWidth = Math.clz32(buf[pos + idWidth]) - 23;
    let size = buf[pos + idWidth] & (0xff >> sizeWidth);
    for (let i = 1; i < sizeWidth; i++) size = size * 256 + buf[pos + idWidth + i];
    const data = pos + idWidth + sizeWidth;
    if (id === 0x1a45dfa3) {
      endDocument();
      if (stop) return;
      inDocument = true;
      docStart = pos;
      byTrack.clear();
    }
    if (MASTERS.has(id)) {
      pos = data;
      continue;
    }
    if (data + size > len) {
      if (last) pos = len;
      return;
    }
    switch (id) {
      case 0xa3: { // SimpleBlock: track (1-byte vint), 16-bit timecode, flags, payload
        const r = 4 * blocks++;
        rows[r] = buf[data] & 0x7f;
        rows[r + 1] = clusterMs + (((buf[data + 1] << 8) | buf[data + 2]) << 16 >> 16);
        rows[r + 2] = data + 4;
        rows[r + 3] = data + size;
        break;
      }
      case 0xe7: // Cluster Timecode
        clusterMs = 0;
        for (let i = 0; i < size; i++) clusterMs = clusterMs * 256 + buf[data + i];
        break;
      case 0xd7: // TrackNumber
        trackNumber = 0;
        for (let i = 0; i < size; i++) trackNumber = trackNumber * 256 + buf[data + i];
        break;
      case 0x536e: { // Name
        const name = text(data, size);
        if (name === "AUDIO_FROM_CUSTOMER") byTrack.set(trackNumber, from);
        else if (name === "AUDIO_TO_CUSTOMER") byTrack.set(trackNumber, to);
        break;
      }
      case 0x45a3: // TagName
        tagName = size === 9 && text(data, size) === "ContactId" ? 1 : 0;
        break;
      case 0x4487: // TagString
        if (tagName === 1) contact = text(data, size);
        break;
    }
    pos = data + size;
  }
}

for (;;) {
  // Keep the document in progress (its blocks point into `buf`) and move it to the start.
  const keep = inDocument ? docStart : pos;
  if (keep > 0) {
    buf.copyWithin(0, keep, len);
    len -= keep;
    pos -= keep;
    docStart -= keep;
    for (let i = 0; i < blocks; i++) rows[4 * i + 2] -= keep, rows[4 * i + 3] -= keep;
  }
  const n = file.readSync(buf.subarray(len, len + READ));
  if (n === null) {
    walk(true);
    break;
  }
  len += n;
  walk(false);
  if (stop) break;
}
endDocument();
file.close();
finish(from);
finish(to);
