/**
 * {@link StereoMixer}: combine two mono s16le tracks (e.g. customer and agent)
 * into one interleaved stereo stream, with bounded memory.
 *
 * @example
 * ```ts
 * import { PcmFileSink } from "./file_sink.ts";
 * import { StereoMixer } from "./stereo.ts";
 * const sink = PcmFileSink.open("call.wav", { rate: 8000, channels: 2, format: "wav", force: true });
 * const mixer = new StereoMixer(sink, { rate: 8000 });
 * mixer.pushLeft(new Uint8Array(320));
 * mixer.pushRight(new Uint8Array(320));
 * mixer.flush();
 * sink.close();
 * ```
 * @module
 */

import type { AudioSink } from "./sink.ts";

/** Frames interleaved per `sink.write` call (32 KiB of stereo s16). */
const CHUNK_FRAMES = 8192;
/** Initial capacity, in samples, of a side's pending buffer. */
const INITIAL_PENDING = 16384;

/** Options for {@link StereoMixer}.
 *
 * @example
 * ```ts
 * import type { StereoMixerOptions } from "./stereo.ts";
 * const opts: StereoMixerOptions = { rate: 8000, maxLagFrames: 8000 }; // 1 s
 * ```
 */
export interface StereoMixerOptions {
  /** Sample rate in Hz (used for the default lag bound). */
  rate: number;
  /**
   * How far (in frames) one side may run ahead of the other before the
   * lagging side is padded with silence. Default `rate * 5` (5 seconds).
   * `Infinity` disables the bound (memory then grows with the lag).
   */
  maxLagFrames?: number;
}

/** Frame counts for each side of a {@link StereoMixer}.
 *
 * @example
 * ```ts
 * import type { SideFrames } from "./stereo.ts";
 * const none: SideFrames = { left: 0, right: 0 };
 * ```
 */
export interface SideFrames {
  /** Left channel. */
  left: number;
  /** Right channel. */
  right: number;
}

/**
 * Interleaves two mono s16le tracks into stereo frames on a 2-channel
 * {@link AudioSink}. Each push appends to one side; frames are written as
 * soon as both sides have them, so at most one side has audio pending.
 *
 * Memory is bounded: when one side gets more than `maxLagFrames` ahead, the
 * oldest excess frames are written against silence on the lagging side.
 * Such padding is counted in {@link padded}. Both sides stay on one
 * timeline: the lagging side's next frames take the padded places, so they
 * are skipped (they are silence when the lag came from a gap in that side's
 * timeline, as with kvsaudio's demuxer, whose writer always pushes the side
 * that is behind, a second at a time; audio arriving that late is dropped and
 * counted in {@link late}). {@link flush} ends the stream by padding the
 * shorter side and writing everything; pushes after it start at the common
 * length.
 *
 * Inputs may be any `Uint8Array` view (odd byte offsets are copied into an
 * aligned scratch buffer first); they are never retained. Samples are moved
 * as opaque 16-bit units, so byte order is preserved on any host.
 *
 * @example
 * ```ts
 * import { PcmStreamSink } from "./stream_sink.ts";
 * import { StereoMixer } from "./stereo.ts";
 * const sink = new PcmStreamSink({ rate: 8000, channels: 2, format: "wav" });
 * const mixer = new StereoMixer(sink, { rate: 8000 });
 * mixer.pushLeft(new Uint8Array([1, 0, 2, 0])); // 2 frames pending
 * mixer.pushRight(new Uint8Array([9, 0])); // writes frame (1, 9)
 * mixer.pushRightSilence(3); // writes (2, 0); right is 2 frames ahead
 * const tail = mixer.flush(); // writes (0, 0) x 2; tail.left === 2
 * sink.close();
 * ```
 */
export class StereoMixer {
  /** The 2-channel sink receiving interleaved frames. */
  readonly sink: AudioSink;
  /** The lag bound in frames. */
  readonly maxLagFrames: number;
  readonly #left: Side;
  readonly #right: Side;
  readonly #out = new Uint16Array(CHUNK_FRAMES * 2);
  readonly #outBytes = new Uint8Array(this.#out.buffer);
  readonly #align = new Uint16Array(CHUNK_FRAMES);
  readonly #alignBytes = new Uint8Array(this.#align.buffer);

  /**
   * Mix into `sink`. Throws `RangeError` for a bad rate or lag bound.
   *
   * @param sink destination; must have 2 channels (checked when the sink
   *   exposes a `channels` property, as the kvsaudio sinks do)
   */
  constructor(sink: AudioSink, options: StereoMixerOptions) {
    const { rate } = options;
    if (!Number.isInteger(rate) || rate < 1) {
      throw new RangeError(`rate must be a positive integer, got ${rate}`);
    }
    const maxLag = options.maxLagFrames ?? rate * 5;
    if (
      !(maxLag === Infinity || (Number.isInteger(maxLag) && maxLag >= 0))
    ) {
      throw new RangeError(
        `maxLagFrames must be a non-negative integer, got ${maxLag}`,
      );
    }
    const channels = (sink as { channels?: unknown }).channels;
    if (channels !== undefined && channels !== 2) {
      throw new RangeError(
        `StereoMixer needs a 2-channel sink, ${sink.path} has ${channels}`,
      );
    }
    this.sink = sink;
    this.maxLagFrames = maxLag;
    this.#left = new Side(maxLag);
    this.#right = new Side(maxLag);
  }

  /** Left-channel frames so far: pushed audio and silence plus padding. */
  get leftFrames(): number {
    return this.#left.frames;
  }

  /** Right-channel frames so far: pushed audio and silence plus padding. */
  get rightFrames(): number {
    return this.#right.frames;
  }

  /**
   * Where each side's next pushed frame goes on the timeline: its frames so
   * far, less the padded places its own frames have not reached yet.
   */
  get next(): SideFrames {
    return { left: this.#left.frames - this.#left.owed, right: this.#right.frames - this.#right.owed };
  }

  /** Frames waiting for the other side (at most one side is non-zero). */
  get pending(): SideFrames {
    return { left: this.#left.pending, right: this.#right.pending };
  }

  /** Silence frames inserted on each side because it lagged > maxLagFrames. */
  get padded(): SideFrames {
    return { left: this.#left.padded, right: this.#right.padded };
  }

  /** Frames with sound (a non-zero sample) that arrived for places already padded, dropped. */
  get late(): SideFrames {
    return { left: this.#left.late, right: this.#right.late };
  }

  /**
   * No more audio will come for places before timeline frame `to` on the
   * side that has none waiting: write the other side's waiting audio up to
   * there against silence (as padding: later frames of the silent side for
   * those places are skipped, audible ones counted in {@link late}).
   *
   * @example
   * ```ts
   * import { PcmFileSink } from "./file_sink.ts";
   * import { StereoMixer } from "./stereo.ts";
   * const sink = PcmFileSink.open("call.wav", { rate: 8000, channels: 2, format: "wav", force: true });
   * const m = new StereoMixer(sink, { rate: 8000 });
   * m.pushLeft(new Uint8Array(16)); // 8 frames on the left, none on the right: held
   * m.catchUp(8);                   // the right side is silent there: written
   * sink.close();
   * ```
   */
  catchUp(to: number): void {
    const l = this.#left, r = this.#right;
    const [a, b, aIsLeft] = l.pending > 0 ? [l, r, true] : [r, l, false];
    const k = Math.min(a.pending, to - b.frames);
    if (k <= 0) return;
    this.#emitPending(a, aIsLeft, k);
    this.#owe(b, k);
  }

  /** Write `k` of side a's waiting frames against silence on the other side. */
  #emitPending(a: Side, aIsLeft: boolean, k: number): void {
    this.#emitPair(aIsLeft, a.buf, a.head, null, 0, k);
    a.head += k;
    if (a.head === a.tail) a.clear();
  }

  /** `k` frames of side b were written as silence: its own frames for those places are skipped when they come. */
  #owe(b: Side, k: number): void {
    b.padded += k;
    b.frames += k;
    b.owed += k;
  }

  /** Append mono s16le audio to the left channel (even length). */
  pushLeft(pcm: Uint8Array): void {
    this.#pushBytes(this.#left, this.#right, true, pcm);
  }

  /** Append `frames` frames of silence to the left channel. */
  pushLeftSilence(frames: number): void {
    this.#push(this.#left, this.#right, true, null, 0, checkFrames(frames));
  }

  /** Append mono s16le audio to the right channel (even length). */
  pushRight(pcm: Uint8Array): void {
    this.#pushBytes(this.#right, this.#left, false, pcm);
  }

  /** Append `frames` frames of silence to the right channel. */
  pushRightSilence(frames: number): void {
    this.#push(this.#right, this.#left, false, null, 0, checkFrames(frames));
  }

  /**
   * Pad the shorter side with silence to the longer side's length and write
   * everything pending. Returns the silence frames added per side (not
   * counted in {@link padded}). The mixer can keep going afterwards.
   */
  flush(): SideFrames {
    const l = this.#left;
    const r = this.#right;
    const tail = { left: r.pending, right: l.pending };
    if (l.pending > 0) this.#emit(l.buf, l.head, null, 0, l.pending);
    if (r.pending > 0) this.#emit(null, 0, r.buf, r.head, r.pending);
    l.frames += tail.left;
    r.frames += tail.right;
    // The end of the stream: a later push starts a new stretch at the common length.
    l.owed = r.owed = 0;
    l.clear();
    r.clear();
    return tail;
  }

  #pushBytes(a: Side, b: Side, aIsLeft: boolean, pcm: Uint8Array): void {
    if (pcm.length % 2 !== 0) {
      throw new RangeError(
        `${pcm.length} bytes is not a whole number of s16 samples`,
      );
    }
    const n = pcm.length >> 1;
    if (n === 0) return;
    if (pcm.byteOffset % 2 === 0) {
      this.#push(
        a,
        b,
        aIsLeft,
        new Uint16Array(pcm.buffer, pcm.byteOffset, n),
        0,
        n,
      );
      return;
    }
    const align = this.#align;
    const alignBytes = this.#alignBytes;
    for (let off = 0; off < n; off += CHUNK_FRAMES) {
      const k = Math.min(CHUNK_FRAMES, n - off);
      alignBytes.set(pcm.subarray(off * 2, (off + k) * 2));
      this.#push(a, b, aIsLeft, align, 0, k);
    }
  }

  /** Append n samples (src from off, or silence if src is null) to side a. */
  #push(
    a: Side,
    b: Side,
    aIsLeft: boolean,
    src: Uint16Array | null,
    off: number,
    n: number,
  ): void {
    // Places already written as padding on this side: skip as many frames.
    if (a.owed > 0) {
      const k = Math.min(a.owed, n);
      a.owed -= k;
      if (src !== null) a.late += countAudible(src, off, k);
      off += k;
      n -= k;
      if (n === 0) return;
    }
    a.frames += n;
    // b has audio waiting (so a has none): pair it with the new samples.
    const waiting = b.pending;
    if (waiting > 0 && n > 0) {
      const k = Math.min(waiting, n);
      this.#emitPair(aIsLeft, src, off, b.buf, b.head, k);
      b.head += k;
      if (b.head === b.tail) b.clear();
      off += k;
      n -= k;
    }
    if (n === 0) return;
    // b is now empty; a runs ahead by a.pending + n. Bound it.
    const excess = a.pending + n - this.maxLagFrames;
    if (excess > 0) {
      const fromPending = Math.min(a.pending, excess);
      if (fromPending > 0) this.#emitPending(a, aIsLeft, fromPending);
      const fromInput = excess - fromPending;
      if (fromInput > 0) {
        this.#emitPair(aIsLeft, src, off, null, 0, fromInput);
        off += fromInput;
        n -= fromInput;
      }
      this.#owe(b, excess);
    }
    if (n > 0) a.append(src, off, n);
  }

  #emitPair(
    aIsLeft: boolean,
    a: Uint16Array | null,
    aOff: number,
    b: Uint16Array | null,
    bOff: number,
    n: number,
  ): void {
    if (aIsLeft) this.#emit(a, aOff, b, bOff, n);
    else this.#emit(b, bOff, a, aOff, n);
  }

  /** Interleave n frames to the sink; a null side is silence. */
  #emit(
    l: Uint16Array | null,
    lOff: number,
    r: Uint16Array | null,
    rOff: number,
    n: number,
  ): void {
    if (l === null && r === null) {
      this.sink.writeSilence(n);
      return;
    }
    const out = this.#out;
    while (n > 0) {
      const k = Math.min(n, CHUNK_FRAMES);
      if (l !== null && r !== null) interleave(out, l, lOff, r, rOff, k);
      else if (l !== null) interleaveOne(out, 0, l, lOff, k);
      else interleaveOne(out, 1, r!, rOff, k);
      this.sink.write(this.#outBytes.subarray(0, k * 4));
      lOff += k;
      rOff += k;
      n -= k;
    }
  }
}

/** One side's pending mono samples, kept in a linear buffer [head, tail). */
class Side {
  buf: Uint16Array;
  head = 0;
  tail = 0;
  frames = 0;
  padded = 0;
  /** Frames written as padding that this side's own frames have not reached yet. */
  owed = 0;
  /** Audible frames skipped because their places were padded. */
  late = 0;
  readonly #limit: number;

  constructor(maxLag: number) {
    // 2 × maxLag keeps compaction amortised O(1) per sample.
    this.#limit = maxLag * 2;
    this.buf = new Uint16Array(Math.min(this.#limit, INITIAL_PENDING));
  }

  get pending(): number {
    return this.tail - this.head;
  }

  clear(): void {
    this.head = this.tail = 0;
  }

  append(src: Uint16Array | null, off: number, n: number): void {
    if (this.tail + n > this.buf.length) this.#makeRoom(n);
    if (src === null) this.buf.fill(0, this.tail, this.tail + n);
    else this.buf.set(src.subarray(off, off + n), this.tail);
    this.tail += n;
  }

  #makeRoom(n: number): void {
    const pending = this.pending;
    const need = pending + n;
    if (need * 2 <= this.buf.length) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      const size = Math.min(
        this.#limit,
        Math.max(this.buf.length * 2, need * 2),
      );
      const grown = new Uint16Array(Math.max(size, need));
      grown.set(this.buf.subarray(this.head, this.tail));
      this.buf = grown;
    }
    this.head = 0;
    this.tail = pending;
  }
}

/**
 * Interleave `n` s16 frames of two mono sides, from `lOff` of `l` and `rOff`
 * of `r`, into `out` (left, right, left, …).
 *
 * @example
 * ```ts
 * import { interleave } from "./stereo.ts";
 * const out = new Uint16Array(4);
 * interleave(out, Uint16Array.of(1, 2), 0, Uint16Array.of(3, 4), 0, 2);
 * out; // Uint16Array [1, 3, 2, 4]
 * ```
 */
export function interleave(
  out: Uint16Array,
  l: Uint16Array,
  lOff: number,
  r: Uint16Array,
  rOff: number,
  n: number,
): void {
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    out[j] = l[lOff + i];
    out[j + 1] = r[rOff + i];
  }
}

function interleaveOne(
  out: Uint16Array,
  channel: 0 | 1,
  src: Uint16Array,
  off: number,
  n: number,
): void {
  const silent = channel ^ 1;
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    out[j + channel] = src[off + i];
    out[j + silent] = 0;
  }
}

/** How many of the n samples from `off` are not zero. */
function countAudible(src: Uint16Array, off: number, n: number): number {
  let k = 0;
  for (let i = off; i < off + n; i++) if (src[i] !== 0) k++;
  return k;
}

function checkFrames(frames: number): number {
  if (!Number.isInteger(frames) || frames < 0) {
    throw new RangeError(
      `silence must be a whole number of frames, got ${frames}`,
    );
  }
  return frames;
}
