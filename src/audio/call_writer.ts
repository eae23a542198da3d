/**
 * The last pipeline stage: Connect audio items in, WAV (or raw) files out.
 *
 * Writes `from_customer.wav` (the customer's voice) and `to_customer.wav`
 * (what the customer hears) in `outDir`, 16-bit PCM at the stream's rate, and
 * with `stereo` also `stereo.wav` (left = from customer, right = to customer).
 * Every sink is committed after each fragment, so each file is a valid WAV at
 * any moment. With `outDir` `-`, one track (or the stereo mix) goes to stdout.
 *
 * @example
 * ```ts
 * import { assembleFragments } from "../mkv/assembler.ts";
 * import { demuxConnect } from "../connect/demuxer.ts";
 * import { CallWriter } from "./call_writer.ts";
 * const writer = new CallWriter({ outDir: "out", format: "wav", stereo: true, tracks: "both", force: true });
 * writer.prepare();
 * const file = await Deno.open("call.mkv");
 * for await (const item of demuxConnect(assembleFragments(file.readable))) {
 *   if (item.kind === "audio") writer.write(item);
 * }
 * writer.close();
 * console.log(writer.paths, writer.frames);
 * ```
 * @module
 */

import { ExitCode, fsErrorMessage, KvsAudioError, UsageError } from "../errors.ts";
import type { AudioItem, PcmPiece } from "../connect/demuxer.ts";
import { type Direction, DIRECTIONS } from "../connect/tracks.ts";
import type { StreamFormat as PcmFormat } from "../connect/format.ts";
import { appendMismatch, checkReplaceable, PcmFileSink, refuseHeld } from "./file_sink.ts";
import { openSink } from "./open_sink.ts";
import { type AsyncWriter, PcmStreamSink } from "./stream_sink.ts";
import type { Fragment } from "../mkv/fragment.ts";
import type { AudioFormat, AudioSink } from "./sink.ts";
import { interleave, StereoMixer } from "./stereo.ts";
import { OPTION_NAMES, type OptionStyle } from "./option_names.ts";

export type { OptionStyle };

/** Which mono tracks to write. */
export type TrackChoice = "both" | "from" | "to";

/** Each prefix of `path` as given (`a`, `a/b`, …; `/a`, … for an absolute one), with its last part. */
function pathPrefixes(path: string): [prefix: string, part: string][] {
  const out: [string, string][] = [];
  let prefix = path.startsWith("/") ? "/" : "";
  for (const part of path.split("/")) {
    if (part === "") continue;
    prefix = prefix === "" || prefix.endsWith("/") ? prefix + part : `${prefix}/${part}`;
    out.push([prefix, part]);
  }
  return out;
}

/** What the first prefix of `path` that is there but no directory is (a file, a link to nothing), if any. */
function notADirectory(path: string): string | undefined {
  for (const [prefix] of pathPrefixes(path)) {
    try {
      if (!Deno.statSync(prefix).isDirectory) return `${prefix} exists and is not a directory`;
    } catch {
      try {
        Deno.lstatSync(prefix);
        return `${prefix} is a symbolic link to nothing`;
      } catch {
        return undefined; // missing from here on
      }
    }
  }
  return undefined;
}

/** Options of {@linkcode CallWriter}. */
export interface CallWriterOptions {
  /** Output directory, or `-` for stdout. */
  outDir: string;
  /** `wav` (the default) or `raw` (headerless s16le). */
  format?: AudioFormat;
  /** Also write `stereo.wav` (left = from customer, right = to customer); with `-`, write the mix. Default false. */
  stereo?: boolean;
  /** Mono tracks to write (`both` by default; with `-` one of `from`/`to` unless `stereo`). */
  tracks?: TrackChoice;
  /** Overwrite existing files (default false). */
  force?: boolean;
  /**
   * Continue existing output files instead of refusing (default false; not
   * with `force` or `-`): each is cut to what its header counts (the rest was
   * never committed), and this run's audio in each begins where the longest
   * output in the directory ends (padded with silence: the stereo mix at
   * once, a mono file when its track's audio comes), so the tracks stay on
   * one timeline. A missing output is created the same way. A file not laid
   * out as kvsaudio writes them, or whose format differs from the stream's,
   * is refused.
   */
  append?: boolean;
  /**
   * Least time between header rewrites, in ms (default 0: after every
   * fragment). Data is always written before the header that counts it, so
   * every output is a valid WAV at every moment whatever the interval; a
   * longer interval only means fewer syscalls when fragments arrive faster
   * than real time (a saved file), and that a `kill -9` may lose up to that
   * much of the most recent audio. The last fragment is always committed.
   */
  commitIntervalMs?: number;
  /**
   * With `outDir` `-`: write standard output through this writer's
   * asynchronous `write` (`Deno.stdout`), in the background, instead of
   * synchronously (see `PcmStreamSink.writeInBackground`). The caller bounds
   * what waits with {@linkcode CallWriter.drained} and awaits
   * {@linkcode CallWriter.finish} before closing; a program blocked on a
   * reader that stopped reading then still handles signals. Default: none.
   */
  backgroundWriter?: AsyncWriter;
  /**
   * How errors name these options: `library` (the default) names the fields
   * (`refusing to overwrite out/to_customer.wav (use force: true)`), `cli`
   * the command line's flags (`… (use --force)`).
   */
  optionStyle?: OptionStyle;
}

/**
 * Base file names per output.
 *
 * @example
 * ```ts
 * import { CallWriter, FILE_NAMES } from "./call_writer.ts";
 * const writer = new CallWriter({ outDir: "out", format: "raw", stereo: false, tracks: "to", force: true });
 * writer.paths[0] === `out/${FILE_NAMES.to}.raw`; // true
 * ```
 */
export const FILE_NAMES = { from: "from_customer", to: "to_customer", stereo: "stereo" } as const;

/**
 * Writes a call's audio items to files or stdout.
 *
 * @example
 * ```ts
 * import { CallWriter } from "./call_writer.ts";
 * import type { AudioItem } from "../connect/demuxer.ts";
 * import { Fragment } from "../mkv/fragment.ts";
 * const outDir = Deno.makeTempDirSync();
 * const writer = new CallWriter({ outDir, format: "wav", stereo: false, tracks: "from", force: false });
 * writer.prepare(); // creates outDir; UsageError if an output already exists
 * // One fragment's audio, as demuxConnect yields it: 160 frames of PCM, then 80 silent frames.
 * const item: AudioItem = {
 *   kind: "audio",
 *   fragment: new Fragment(0, 0),
 *   format: { rate: 8000, channels: 1, source: "mime-type" },
 *   from: {
 *     track: 1, startFrame: 0, pieces: [new Uint8Array(320), 80], frames: 240,
 *     gapFrames: 0, gaps: 0, overlapFrames: 0, droppedBlocks: 0, blocks: 1,
 *   },
 *   warnings: [],
 * };
 * writer.write(item);
 * writer.close();
 * writer.written;                         // [`${outDir}/from_customer.wav`]
 * writer.frames.from;                     // 240
 * Deno.statSync(writer.written[0]).size; // 524: 44-byte header + 240 frames × 2 bytes
 * ```
 */
export class CallWriter {
  #opts: Required<Omit<CallWriterOptions, "commitIntervalMs" | "backgroundWriter" | "optionStyle">>;
  readonly #backgroundWriter: AsyncWriter | undefined;
  readonly #optionStyle: OptionStyle;
  /** The output written in the background (standard output), once open. */
  #background: PcmStreamSink | undefined;
  #sinks: Partial<Record<Direction, AudioSink>> = {};
  #stereoSink: AudioSink | undefined;
  #mixer: StereoMixer | undefined;
  /** Set when the outputs are opened. */
  #format: PcmFormat | undefined;
  /** The format of the last item without audio whose stream said one (for files made with none). */
  #saidFormat: PcmFormat | undefined;
  #closed = false;
  /** A write or commit failed: {@linkcode CallWriter.durable} stays as it was then. */
  #failed = false;
  /** …because an output could not be written (a full disk, a closed pipe), not for what was written. */
  #writeFailed = false;
  #lastCommit = -Infinity;
  /** Paths of the outputs opened so far. */
  #opened: string[] = [];
  /** Each output's frames at the last commit that reached them all (where a failed run cuts them back to). */
  #durableFrames = new Map<AudioSink, number>();
  /** Those of them this run created (or replaced), not continued: a failed run that committed nothing removes them. */
  #created: string[] = [];
  /**
   * Frames per direction on the call's timeline (silence included): what
   * each direction's file holds, and as much for a direction that
   * `tracks` leaves unwritten.
   */
  readonly frames: Record<Direction, number> = { from: 0, to: 0 };
  /** Gaps filled with silence, per direction. */
  readonly gaps: Record<Direction, number> = { from: 0, to: 0 };
  /** Silent frames inserted for gaps, per direction. */
  readonly gapFrames: Record<Direction, number> = { from: 0, to: 0 };
  /** Frames dropped as overlaps, per direction. */
  readonly overlapFrames: Record<Direction, number> = { from: 0, to: 0 };
  /** Blocks dropped as overlaps, per direction. */
  readonly droppedBlocks: Record<Direction, number> = { from: 0, to: 0 };
  /** Fragments whose audio was written. */
  fragments = 0;
  /**
   * `append`: frames of the longest output in the directory before this
   * run's audio (undefined for raw files until the stream's format is known).
   */
  appendedFrames: number | undefined = 0;
  /** `append`: where each output's audio of this run begins. */
  #padTo = 0;
  /**
   * Called whenever {@linkcode CallWriter.durable} moves on, with the last
   * fragment whose audio it now counts: after each commit that reached every
   * output, and, writing to a stream that failed, for the fragments that got
   * through before the failure.
   */
  onDurable: ((last: Fragment) => void) | undefined;
  /**
   * The counts above as of the last commit that reached every output: what
   * the files' headers count (a direction not written counted as above). Behind them only after a failed write (a full
   * disk, a closed pipe), when a summary must not claim audio that is not in
   * the files.
   */
  readonly durable: DurableCounts = noCounts();
  /** See {@linkcode CallWriterOptions.commitIntervalMs}. */
  readonly #commitIntervalMs: number;
  /** The last fragment written. */
  #lastFragment: Fragment | undefined;
  /** The stereo mix may be written through this timeline frame (see `#write`). */
  #mixThrough = 0;
  /** Directories {@linkcode CallWriter.createDirectory} made, deepest first. */
  #madeDirs: string[] = [];
  /**
   * Writing to a stream (stdout): each fragment written since the last commit,
   * with the stream position after it and the counts then. A failed write
   * leaves the counts of the last one the reader got (not the last commit's,
   * up to 100 ms of fragments earlier). Entries the stream has passed on are
   * dropped as it goes, the newest of them kept in `#through`.
   */
  #pending: StreamMark[] = [];
  /**
   * The one output when it is a stream (`-`) of one track (set when the
   * outputs open). Not the stereo mix: the mixer may still hold part of a
   * fragment's audio.
   */
  #stream: PcmStreamSink | undefined;
  #through: StreamMark | undefined;

  /**
   * Plan the outputs; nothing is created or opened yet (see
   * {@linkcode CallWriter.prepare}). Throws `UsageError` for `outDir` `-`
   * with `tracks` `both` and no `stereo` (stdout takes one output).
   *
   * @param options where and what to write
   */
  constructor(options: CallWriterOptions) {
    this.#opts = {
      outDir: options.outDir,
      format: options.format ?? "wav",
      stereo: options.stereo ?? false,
      tracks: options.tracks ?? "both",
      force: options.force ?? false,
      append: options.append ?? false,
    };
    this.#commitIntervalMs = options.commitIntervalMs ?? 0;
    this.#backgroundWriter = options.backgroundWriter;
    this.#optionStyle = options.optionStyle ?? "library";
    const n = OPTION_NAMES[this.#optionStyle];
    if (this.#opts.outDir === "-" && !this.#opts.stereo && this.#opts.tracks === "both") {
      throw new UsageError(`with ${n.stdout}, choose one track (${n.oneTrack}) or the stereo mix (${n.stereo})`);
    }
    if (this.#opts.append && this.#opts.force) throw new UsageError(`${n.append} and ${n.force} exclude each other`);
    if (this.#opts.append && this.#opts.outDir === "-") {
      throw new UsageError(`${n.append} continues files in an output directory, not ${n.stdout}`);
    }
  }

  /** Paths of the outputs that exist (opened), in the order from, to, stereo. */
  get written(): string[] {
    return this.#opened;
  }

  /** Paths of the outputs, in the order from, to, stereo. */
  get paths(): string[] {
    return this.#planned().map(([, p]) => p);
  }

  /**
   * Frames of audio the stereo mix left out because they came after their
   * place had been padded (see `StereoMixer.late`): the mono files hold them.
   *
   * @example
   * ```ts
   * import { CallWriter } from "./call_writer.ts";
   * const w = new CallWriter({ outDir: "out", format: "wav", stereo: true, tracks: "both", force: false });
   * w.stereoLate; // 0
   * ```
   */
  get stereoLate(): number {
    const late = this.#mixer?.late;
    return late ? late.left + late.right : 0;
  }

  /**
   * Whether `dir`'s audio goes into an output: its own file, or the stereo mix.
   *
   * @example
   * ```ts
   * import { CallWriter } from "./call_writer.ts";
   * const w = new CallWriter({ outDir: "out", format: "wav", stereo: false, tracks: "from", force: false });
   * w.keeps("to"); // false
   * ```
   */
  keeps(dir: Direction): boolean {
    return this.#planned().some(([what]) => what === dir || what === "stereo");
  }

  /** Whether the outputs are continued (`append`). */
  get appending(): boolean {
    return this.#opts.append;
  }

  /** The stream format, once known. */
  get format(): PcmFormat | undefined {
    return this.#format;
  }

  /**
   * Each output and its path (`-`: the one output the constructor allowed);
   * `all`: the three a directory can hold, whatever this run writes.
   */
  #planned(all = false): [Direction | "stereo", string][] {
    const o = this.#opts;
    if (o.outDir === "-") return [[o.stereo ? "stereo" : o.tracks as Direction, "-"]];
    const ext = o.format === "wav" ? ".wav" : ".raw";
    // "out/" → "out/NAME", "/" → "/NAME" (the root, not the working directory), "" → "./NAME".
    const dir = o.outDir.replace(/\/+$/, "") || (o.outDir.startsWith("/") ? "" : ".");
    const join = (name: string) => `${dir}/${name}${ext}`;
    const list: [Direction | "stereo", string][] = [];
    if (all || o.tracks !== "to") list.push(["from", join(FILE_NAMES.from)]);
    if (all || o.tracks !== "from") list.push(["to", join(FILE_NAMES.to)]);
    if (all || o.stereo) list.push(["stereo", join(FILE_NAMES.stereo)]);
    return list;
  }

  /**
   * Check the outputs before any input is read or KVS is contacted: refuse
   * (UsageError, exit 2) when a file exists and `force` is not set, then
   * create the directory.
   */
  prepare(): void {
    this.refuseExisting();
    this.createDirectory();
  }

  /**
   * The second half of {@linkcode CallWriter.prepare}: create the output
   * directory (a `KvsAudioError`, exit 1, when that fails); nothing for stdout.
   *
   * @example
   * ```ts
   * import { CallWriter } from "./call_writer.ts";
   * const w = new CallWriter({ outDir: "calls/c-1", format: "wav", stereo: false, tracks: "both", force: false });
   * w.refuseExisting();
   * // … open the input …
   * w.createDirectory();
   * ```
   */
  createDirectory(): void {
    const o = this.#opts;
    if (o.outDir === "-") return;
    // The directories this makes, deepest first: a run that ends writing nothing takes them away again.
    // (Each prefix of the path as given, as the system resolves it; `.` and `..` name others, not new ones.)
    const made: string[] = [];
    for (const [prefix, part] of pathPrefixes(o.outDir)) {
      if (part !== "." && part !== ".." && !exists(prefix)) made.unshift(prefix);
    }
    try {
      // (`new/.`: the system's recursive mkdir takes the `.` for a directory to make, in one not made yet.)
      Deno.mkdirSync(o.outDir.replace(/(?<=[^/])(\/+\.)+\/*$/, ""), { recursive: true });
      this.#madeDirs = [...made, ...this.#madeDirs.filter((d) => !made.includes(d))];
    } catch (e) {
      // EEXIST from a recursive mkdir: a part of the path is there, but no directory (a file, a dangling link).
      // (NotADirectory: a file in the middle of the path.)
      const why = e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory
        ? notADirectory(o.outDir) ?? fsErrorMessage(e)
        : fsErrorMessage(e);
      throw new KvsAudioError(`cannot create output directory ${o.outDir}: ${why}`, ExitCode.failure, { cause: e });
    }
  }

  /**
   * The check of {@linkcode CallWriter.prepare} alone, creating nothing:
   * refuse (UsageError, exit 2) when an output file exists and neither
   * `force` nor `append` is set, and (exit 1, `force` or not) when an output
   * path is a directory or another kind of file that is not a regular one (a
   * FIFO, a device). With `append`, existing outputs are checked instead:
   * files kvsaudio can continue, of one format, no symbolic links (exit 1).
   *
   * @example
   * ```ts
   * import { CallWriter } from "./call_writer.ts";
   * const w = new CallWriter({ outDir: "calls/c-1", format: "wav", stereo: false, tracks: "both", force: false });
   * w.refuseExisting(); // throws if calls/c-1/from_customer.wav or to_customer.wav exists
   * ```
   */
  refuseExisting(): void {
    const o = this.#opts;
    if (o.outDir === "-") return;
    const existing: [string, Deno.FileInfo][] = [];
    for (const [, path] of this.#planned()) {
      try {
        existing.push([path, Deno.lstatSync(path)]);
      } catch {
        // does not exist: good
      }
    }
    // A directory (or FIFO, socket, device) in the way is no file to overwrite: --force could not help
    // (exit 1, as when creating it fails; and opening a FIFO would wait for a reader). Checked first, so
    // that no refusal suggests --force when --force would fail too.
    for (const [path, info] of existing) {
      if (!info.isFile && !info.isSymlink) {
        const what = info.isDirectory ? "a directory" : "not a regular file";
        throw new KvsAudioError(`cannot create ${path}: it is ${what}`, ExitCode.failure);
      }
    }
    if (!o.append && existing.length > 0 && !o.force) {
      throw new UsageError(`refusing to overwrite ${existing[0][0]} (use ${OPTION_NAMES[this.#optionStyle].force})`);
    }
    // Another run writing any of them: refused before this one changes (truncates, cuts) one.
    for (const [path, info] of existing) if (info.isFile) refuseHeld(path);
    if (o.append) this.#checkHeld(existing);
  }

  /**
   * With `force`: the outputs of an earlier run this one does not write
   * (`stereo.wav` without `stereo`, a track left out by `tracks`), which stay
   * as they were. A later `append` lines up with the longest output there,
   * these too, so a caller should say so.
   *
   * @example
   * ```ts
   * import { CallWriter } from "./call_writer.ts";
   * const w = new CallWriter({ outDir: "calls/c-1", format: "wav", stereo: false, tracks: "both", force: true });
   * w.leftOver(); // ["calls/c-1/stereo.wav"] if an earlier run wrote one
   * ```
   */
  leftOver(): string[] {
    const o = this.#opts;
    if (!o.force || o.outDir === "-") return [];
    const written = new Set(this.#planned().map(([, path]) => path));
    return this.#planned(true).map(([, path]) => path).filter((path) => !written.has(path) && exists(path));
  }

  /**
   * `append`: check the existing outputs now, before any input is read (each
   * one kvsaudio can continue, all of one format); a symbolic link is refused
   * (appending would write outside the output directory).
   */
  #checkHeld(existing: [string, Deno.FileInfo][]): void {
    let mono: { rate: number; channels: number; path: string } | undefined;
    for (const [path] of existing) {
      const held = PcmFileSink.existing(path, this.#opts.format);
      if (held?.rate === undefined) continue;
      const channels = path.endsWith(`/${FILE_NAMES.stereo}.wav`) ? held.channels! / 2 : held.channels!;
      if (mono && (mono.rate !== held.rate || mono.channels !== channels)) {
        throw new UsageError(`cannot append: ${mono.path} and ${path} hold audio of different formats`);
      }
      mono ??= { rate: held.rate, channels, path };
    }
    // (Raw files carry no format: their frames are known once the stream's is.)
    this.appendedFrames = this.#opts.format === "raw" ? undefined : this.#heldFrames(mono?.channels ?? 1);
  }

  /**
   * `append`: the frames of the longest output in the directory — also one
   * this run does not write (its tracks must stay on that timeline too).
   * Raw files, which carry no format, count in `channels` per track.
   */
  #heldFrames(channels: number, skipOpened = false): number {
    let longest = 0;
    for (const [what, path] of this.#planned(true)) {
      // (An output this run opened counts by its sink: reading it anew through another handle could release
      // its lock where locks are emulated with POSIX ones.)
      if (skipOpened && this.#opened.includes(path)) continue;
      let held;
      try {
        held = PcmFileSink.existing(path, this.#opts.format);
      } catch {
        continue; // one this run does not write may be anything (a planned one was checked)
      }
      if (held === undefined) continue;
      const perFrame = 2 * (held.channels ?? (what === "stereo" ? 2 * channels : channels));
      longest = Math.max(longest, Math.floor(held.dataBytes / perFrame));
    }
    return longest;
  }

  #open(format: PcmFormat): void {
    const o = this.#opts;
    // Refused before any output exists, so that a run without --stereo is not blocked by empty files.
    if (o.stereo && format.channels !== 1) {
      throw new UsageError(
        `${
          OPTION_NAMES[this.#optionStyle].stereo
        } needs mono tracks; this stream has ${format.channels} channels per track`,
      );
    }
    if (o.append) {
      // Every existing output checked against the stream before any is opened (and cut); also those this run
      // does not write, that hold audio: one directory, one format (an empty file of this run's takes it).
      const planned = new Set(this.#planned().map(([, path]) => path));
      for (const [what, path] of this.#planned(true)) {
        let held;
        try {
          held = PcmFileSink.existing(path, o.format);
        } catch (e) {
          if (planned.has(path)) throw e;
          continue; // one this run does not write may be anything
        }
        if (held === undefined || (!planned.has(path) && held.dataBytes === 0)) continue;
        const channels = what === "stereo" ? 2 * format.channels : format.channels;
        const mismatch = appendMismatch(path, held, format.rate, channels);
        if (mismatch) throw mismatch;
      }
    }
    this.#format = format;
    const common = {
      rate: format.rate,
      format: o.format,
      force: o.force,
      append: o.append,
      optionStyle: this.#optionStyle,
    };
    // Another run that created the same new directory, and failed, took it away while it was empty (the
    // outputs are created at the first audio): it is made again.
    if (o.outDir !== "-" && !exists(o.outDir)) this.createDirectory();
    let planned = this.#planned();
    if (o.force) {
      // Every file that --force empties is checked first and emptied last, after those created anew (which may
      // fail: a directory without write permission, no inodes left): a run that fails before any audio leaves
      // the files that were there as they were.
      // (A symbolic link or a hard-linked name, unlinked and created anew, comes between them.)
      const inPlace = new Set(planned.filter(([, path]) => path !== "-" && checkReplaceable(path)));
      const rank = (p: [Direction | "stereo", string]) => inPlace.has(p) ? 2 : p[1] !== "-" && exists(p[1]) ? 1 : 0;
      planned = [...planned].sort((a, b) => rank(a) - rank(b));
    }
    for (const [what, path] of planned) {
      const sink = openSink(path, { ...common, channels: (what === "stereo" ? 2 : 1) * format.channels });
      if (what === "stereo") this.#stereoSink = sink;
      else this.#sinks[what] = sink;
      this.#opened.push(path);
      if (sink instanceof PcmFileSink && !sink.continued) this.#created.push(path);
      // Where a failed write takes it back to until a commit reaches every output (a file continued: as it was).
      this.#durableFrames.set(sink, sink.frames);
    }
    // (Named, and written, in the usual order.)
    const order = this.#planned();
    this.#opened.sort((a, b) => order.findIndex(([, p]) => p === a) - order.findIndex(([, p]) => p === b));
    const sinks = this.#sinks;
    this.#sinks = {};
    for (const [what] of order) if (what !== "stereo" && sinks[what]) this.#sinks[what] = sinks[what];
    if (o.append) {
      // One timeline: each output is padded to the longest in the directory before this run's audio in it
      // (a mono file when its track's first audio comes, as one run leaves a track that ends early; the mix,
      // which one run pads to equal sides, at once).
      const opened = [...Object.values(this.#sinks), ...(this.#stereoSink ? [this.#stereoSink] : [])];
      const longest = Math.max(this.#heldFrames(format.channels, true), ...opened.map((s) => s.frames));
      this.appendedFrames = longest;
      this.#padTo = longest;
      const mix = this.#stereoSink;
      if (mix && mix.frames < longest) this.#fillMix(mix, longest);
    }
    const only = this.#opts.outDir === "-" && !this.#stereoSink ? Object.values(this.#sinks)[0] : undefined;
    if (only instanceof PcmStreamSink) this.#stream = only;
    const out = this.#stereoSink ?? only;
    if (this.#backgroundWriter !== undefined && out instanceof PcmStreamSink) {
      out.writeInBackground(this.#backgroundWriter);
      out.onWritten = () => this.#advance();
      this.#background = out;
    }
    if (this.#stereoSink) {
      this.#mixer = new StereoMixer(this.#stereoSink, { rate: format.rate });
    }
  }

  /** Write one fragment's audio, then commit every output. */
  write(item: AudioItem): void {
    if (this.#closed) throw new Error("CallWriter: write() after close()");
    if (!item.from && !item.to) {
      // No audio yet: files made at the end without any still take the format the stream said.
      if (item.format.source !== "default") this.#saidFormat = item.format;
      return;
    }
    try {
      this.#write(item);
    } catch (e) {
      throw this.#failedWith(e);
    }
  }

  #write(item: AudioItem): void {
    if (this.#format === undefined) this.#open(item.format);
    this.fragments++;
    for (const dir of DIRECTIONS) {
      const audio = item[dir];
      if (!audio) continue;
      this.frames[dir] += audio.frames;
      this.gaps[dir] += audio.gaps;
      this.gapFrames[dir] += audio.gapFrames;
      this.overlapFrames[dir] += audio.overlapFrames;
      this.droppedBlocks[dir] += audio.droppedBlocks;
      const sink = this.#sinks[dir];
      if (sink) {
        // append (see #open): padded to the other outputs once its track has audio again, not for a fragment
        // where it has none (a run's track that ends early stays as it ended).
        if (sink.frames < this.#padTo && audio.frames > 0) sink.writeSilence(this.#padTo - sink.frames);
        writePieces(sink, audio.pieces);
      }
    }
    if (this.#mixer) {
      mix(this.#mixer, item.from?.pieces ?? [], item.to?.pieces ?? [], this.#format!.rate);
      // While one side has no audio, the mix is written at the next commit, not held until that side has
      // audio again (up to 5 s, and missing from the file after a kill -9): through this fragment when the
      // side has no track in it at all (a one-track stream), else up to where this fragment's audio begins
      // (its audio for the places before would be in this fragment: each holds both directions' audio for its
      // time, give or take a block or two; later than that it is left out of the mix and counted).
      const f = item.from, t = item.to;
      const hasF = f !== undefined && f.blocks > 0, hasT = t !== undefined && t.blocks > 0;
      if (hasF !== hasT) {
        const a = hasF ? f! : t!;
        const noTrack = hasF ? t === undefined : f === undefined;
        const first = a.pieces[0], last = a.pieces[a.pieces.length - 1];
        const lead = typeof first === "number" ? first : 0;
        // (Up to where its last block begins: the other side's grid of blocks may be offset by up to one.)
        const tail = typeof last === "number" ? 0 : last.length >> 1;
        this.#mixThrough = Math.max(
          this.#mixThrough,
          noTrack ? a.startFrame + a.frames - tail : a.startFrame + lead,
        );
      }
    }
    this.#lastFragment = item.fragment;
    if (this.#stream !== undefined) this.#mark(this.#stream, this.#stream.bytes.accepted);
    else if (this.#background !== undefined) {
      // The stereo mix written in the background: the mixer may still hold part of this fragment's audio, so
      // the fragment counts once the mix is written through its end on the timeline, not as far as it was.
      let end = 0;
      for (const a of [item.from, item.to]) if (a) end = Math.max(end, a.startFrame + a.frames);
      const bg = this.#background;
      this.#mark(bg, (bg.format === "wav" ? 44 : 0) + end * 2 * bg.channels);
    }
    const interval = this.#commitIntervalMs;
    if (interval <= 0) this.commit();
    else {
      // Date.now() is a V8 builtin; performance.now() is a Deno op (~1.5 µs each).
      const now = Date.now();
      if (now - this.#lastCommit >= interval) {
        this.#lastCommit = now;
        this.commit();
      }
    }
  }

  /** Make every output a valid file holding all audio written so far. */
  commit(): void {
    try {
      if (this.#mixThrough > 0) this.#mixer?.catchUp(this.#mixThrough);
      for (const s of Object.values(this.#sinks)) s.commit();
      this.#stereoSink?.commit();
    } catch (e) {
      throw this.#failedWith(e);
    }
    // (In the background, durable moves on as the writer takes the bytes: #advance. The stereo mix only by its
    // marks: the mixer may hold audio of fragments written.)
    const bg = this.#background;
    if (bg === undefined || (bg.waiting === 0 && this.#stream !== undefined)) this.#durable();
    else this.#advance();
  }

  /**
   * With a {@linkcode CallWriterOptions.backgroundWriter}: resolves once at
   * most `limit` bytes wait to be written to standard output; rejects with
   * the output's error if a write failed (the writer is failed then, as
   * after a failed synchronous write). `undefined` when nothing is to wait for.
   */
  drained(limit = 0): Promise<void> | undefined {
    const p = this.#background?.drained(limit);
    return p?.catch((e) => {
      throw this.#failedWith(e);
    });
  }

  /**
   * {@linkcode drained} to at most 1 MiB waiting: what a loop over items
   * awaits after each, so that a reader that stopped reading holds the
   * pipeline back (with at most that much copied), and signals are handled.
   */
  backlog(): Promise<void> | undefined {
    return this.drained(BACKLOG_BYTES);
  }

  /**
   * Write out everything (the stereo mix's held audio too) and wait until a
   * background writer has taken it all; then {@linkcode close} writes
   * nothing more. Standard output that got no audio gets its empty WAV
   * first, unless `createEmpty` is false (as for `close`). Without a
   * background writer, nothing.
   */
  async finish(createEmpty = true): Promise<void> {
    // (No audio came: standard output gets its empty WAV now, while it can still be waited for.)
    if (this.#format === undefined && createEmpty && !this.#closed && this.#opts.outDir === "-") this.#openEmpty();
    if (this.#background === undefined || this.#closed || this.#failed) return;
    this.#mixer?.flush();
    this.commit();
    await this.drained(0);
  }

  /**
   * A write or commit failed with `e` (returned, to be thrown): what the outputs hold stays as of the last
   * commit, or, on a stream, as far as its reader got.
   */
  #failedWith(e: unknown): unknown {
    this.#failed = true;
    if (outputFailed(e)) this.#writeFailed = true;
    this.#settle();
    return e;
  }

  /** A background write went through: durable follows what the reader has got. */
  #advance(): void {
    const out = this.#background!;
    if (this.#failed) return;
    const { accepted, written } = out.bytes;
    if (written === accepted && this.#stream !== undefined) {
      this.#durable();
      return;
    }
    let m: StreamMark | undefined;
    const pending = this.#pending;
    let passed = 0;
    while (passed < pending.length && pending[passed].end <= written) m = pending[passed++];
    if (passed === 0) return;
    pending.splice(0, passed);
    this.#through = undefined;
    if (m!.counts.fragments <= this.durable.fragments) return;
    copyCounts(m!.counts, this.durable);
    this.onDurable?.(m!.fragment);
  }

  /** Record where the stream stands after a fragment; drop the marks it has passed on. */
  #mark(stream: PcmStreamSink, end: number): void {
    const { written } = stream.bytes;
    const pending = this.#pending;
    pending.push({ end, fragment: this.#lastFragment!, counts: this.#counts() });
    let passed = 0;
    while (passed < pending.length && pending[passed].end <= written) passed++;
    if (passed > 0) this.#through = pending[passed - 1];
    if (passed > 0) pending.splice(0, passed);
  }

  /** After a failed write to a stream: the counts of the last fragment its reader got, if past the last commit. */
  #settle(): void {
    const stream = this.#stream ?? this.#background;
    if (stream === undefined) return;
    const { written } = stream.bytes;
    for (const m of this.#pending) if (m.end <= written) this.#through = m;
    const m = this.#through;
    this.#pending = [];
    this.#through = undefined;
    if (m === undefined || m.counts.fragments <= this.durable.fragments) return;
    copyCounts(m.counts, this.durable);
    this.onDurable?.(m.fragment);
  }

  /** The counts now, as a record apart. */
  #counts(): DurableCounts {
    const c = noCounts();
    copyCounts(this, c);
    return c;
  }

  /** Everything written so far is in every output: record the counts as durable. */
  #durable(): void {
    this.#pending = [];
    this.#through = undefined;
    for (const s of Object.values(this.#sinks)) this.#durableFrames.set(s, s.frames);
    if (this.#stereoSink) this.#durableFrames.set(this.#stereoSink, this.#stereoSink.frames);
    // (Counted before it is told: a listener that fails, e.g. on a closed standard output, leaves them right.)
    copyCounts(this, this.durable);
    if (this.#lastFragment !== undefined) this.onDurable?.(this.#lastFragment);
  }

  /**
   * Finish: pad the stereo mix to equal sides, commit and close everything.
   * When no audio arrived, the outputs are created empty (valid WAVs at
   * 8000 Hz) — unless `createEmpty` is false (a failed run), so a retry is
   * not blocked by empty files. Idempotent; safe to call from a signal handler.
   */
  close(createEmpty = true): void {
    if (this.#closed) return;
    if (this.#format === undefined && createEmpty && this.#opts.append && this.#opts.stereo) {
      // Appending with no audio, to a mix left behind the mono files (kill -9 while the run that wrote them
      // waited for more): brought up to them all the same.
      const held = this.#mixBehind();
      if (held !== undefined) this.#open(held);
    }
    if (this.#format === undefined) {
      // (Appending with no audio: the files stay as they were.)
      if (!createEmpty || this.#opts.append) {
        this.#closed = true;
        // A failed run leaves no empty directory of its own behind.
        if (!createEmpty) this.#removeMadeDirs();
        return;
      }
      this.#openEmpty();
    }
    this.#closed = true;
    let first: unknown;
    const attempt = (f: () => void) => {
      try {
        f();
      } catch (e) {
        first ??= e;
      }
    };
    const sinks = [...Object.values(this.#sinks), ...(this.#stereoSink ? [this.#stereoSink] : [])];
    if (!this.#failed) {
      // The last commit, for every output at once before any is closed: if one fails (a full disk), the
      // others must not stay committed further than the summary counts.
      if (this.#mixer) attempt(() => this.#mixer!.flush());
      if (first === undefined) attempt(() => this.commit());
      else this.#failed = this.#writeFailed = true;
    }
    const removing = (!createEmpty || this.#writeFailed) && this.durable.fragments === 0;
    if (removing) {
      // A failed run that committed no audio (a full disk at the first write) leaves no file or directory of
      // its own: a header, or less, is no use, and it would make the next run refuse to overwrite. (Removed
      // while this run still holds them: another run cannot have taken them over yet.)
      for (const path of this.#created) {
        try {
          Deno.removeSync(path);
        } catch {
          // (gone already)
        }
      }
      this.#opened = this.#opened.filter((p) => !this.#created.includes(p));
      this.#created = [];
    }
    if (this.#writeFailed) {
      // A write failed: every output goes back to the last commit that reached them all, which the summary
      // counts, and nothing more is written.
      for (const s of sinks) attempt(() => s.abandon ? s.abandon(this.#durableFrames.get(s)) : s.close());
    } else {
      for (const s of sinks) attempt(() => s.close());
    }
    if (removing) this.#removeMadeDirs();
    if (first !== undefined) {
      this.#settle();
      throw first;
    }
    // (A sink that failed before closes without an error: its file holds what it held then. Bytes still
    // waiting for a background writer, at a signal, are not counted: the program ends without them.)
    if (this.#background !== undefined && this.#background.waiting > 0) this.#settle();
    else if (!this.#failed) this.#durable();
  }

  /**
   * Bring a continued mix up to frame `end` from the mono files it continues: a run that ended by a failed write or
   * by SIGKILL leaves the mix behind them (a side with no block in the last fragments), and what they hold there
   * is its audio. Silence where a mono file has none (or is not written by this run).
   */
  #fillMix(mix: AudioSink, end: number): void {
    const sides = [this.#sinks.from, this.#sinks.to].map((s) =>
      s instanceof PcmFileSink && s.continued ? s : undefined
    );
    const held = sides.map((s) => s?.frames ?? 0);
    const step = 1 << 15;
    const side = [new Uint16Array(step), new Uint16Array(step)];
    const out = new Uint16Array(2 * step);
    for (let at = mix.frames; at < end;) {
      const k = Math.min(step, end - at);
      for (let c = 0; c < 2; c++) {
        side[c].fill(0, 0, k);
        const s = sides[c];
        if (s !== undefined && at < held[c]) {
          s.readData(2 * at, new Uint8Array(side[c].buffer, 0, 2 * Math.min(k, held[c] - at)));
        }
      }
      interleave(out, side[0], 0, side[1], 0, k);
      mix.write(new Uint8Array(out.buffer, 0, 4 * k));
      at += k;
    }
  }

  /**
   * The format of the mono files when stereo.wav is behind them (WAV: their headers'), for a run that appends
   * no audio; undefined when it is not, or they say no format.
   */
  #mixBehind(): PcmFormat | undefined {
    let mix: number | undefined;
    let mono = 0;
    let rate: number | undefined;
    for (const [what, path] of this.#planned(true)) {
      let held;
      try {
        held = PcmFileSink.existing(path, this.#opts.format);
      } catch {
        return undefined; // (opening it says why)
      }
      if (held === undefined) continue;
      if (what === "stereo") mix = Math.floor(held.dataBytes / 4);
      else {
        if (held.channels !== undefined && held.channels !== 1) return undefined;
        mono = Math.max(mono, Math.floor(held.dataBytes / 2));
        rate ??= held.rate;
      }
    }
    if (mix === undefined || mix >= mono) return undefined;
    if (rate === undefined && this.#opts.format === "wav") return undefined;
    return { rate: rate ?? 8000, channels: 1, source: "default" };
  }

  /** Open the outputs of a run that gave no audio: at the format the stream said, if any, else 8000 Hz mono. */
  #openEmpty(): void {
    // (--stereo takes mono tracks: a stream that said otherwise but gave no audio gets mono files.)
    const said = this.#saidFormat;
    const usable = said !== undefined && (!this.#opts.stereo || said.channels === 1);
    this.#open(usable ? said : { rate: said?.rate ?? 8000, channels: 1, source: "default" });
  }

  /** Take away the directories {@linkcode CallWriter.createDirectory} made, deepest first, while they are empty. */
  #removeMadeDirs(): void {
    for (const d of this.#madeDirs) {
      try {
        Deno.removeSync(d);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // another name of one removed already (`a/b/../b`)
        break; // not empty: something else is in it now
      }
    }
  }
}

/** Whether `e` says an output could not be written (exit 1), rather than refusing what was to be written. */
function outputFailed(e: unknown): boolean {
  return e instanceof KvsAudioError && e.exitCode === ExitCode.failure;
}

/** Bytes that may wait for a background writer before {@linkcode CallWriter.backlog} waits. */
const BACKLOG_BYTES = 1 << 20;

/** Where a stream stood after a fragment (see `CallWriter.#pending`). */
interface StreamMark {
  end: number;
  fragment: Fragment;
  counts: DurableCounts;
}

/** Counts of nothing written yet. */
function noCounts(): DurableCounts {
  return {
    fragments: 0,
    frames: { from: 0, to: 0 },
    gaps: { from: 0, to: 0 },
    gapFrames: { from: 0, to: 0 },
    overlapFrames: { from: 0, to: 0 },
  };
}

/** Copy the counts of `from` (a writer, or counts) into `to`. */
function copyCounts(from: DurableCounts, to: DurableCounts): void {
  to.fragments = from.fragments;
  for (const dir of DIRECTIONS) {
    to.frames[dir] = from.frames[dir];
    to.gaps[dir] = from.gaps[dir];
    to.gapFrames[dir] = from.gapFrames[dir];
    to.overlapFrames[dir] = from.overlapFrames[dir];
  }
}

/**
 * Counts of a {@linkcode CallWriter} that its outputs hold for certain.
 *
 * @example
 * ```ts
 * import type { DurableCounts } from "./call_writer.ts";
 * const none: DurableCounts = {
 *   fragments: 0,
 *   frames: { from: 0, to: 0 },
 *   gaps: { from: 0, to: 0 },
 *   gapFrames: { from: 0, to: 0 },
 *   overlapFrames: { from: 0, to: 0 },
 * };
 * ```
 */
export interface DurableCounts {
  /** Fragments whose audio every output holds. */
  fragments: number;
  /** Frames per direction (silence included). */
  frames: Record<Direction, number>;
  /** Gaps filled with silence, per direction. */
  gaps: Record<Direction, number>;
  /** Silent frames inserted for gaps, per direction. */
  gapFrames: Record<Direction, number>;
  /** Frames dropped as overlaps, per direction. */
  overlapFrames: Record<Direction, number>;
}

/**
 * Push a fragment's two directions into the stereo mixer a second at a time,
 * always the side that is behind on the timeline, so that neither runs ahead
 * of the other by more than the mixer's lag bound (5 s): a side is padded
 * only where it has no audio of its own in this fragment. (One whole
 * direction first, or strict turns when one side starts the fragment behind,
 * would pad places the other side has audio for, which would then come too
 * late and be dropped.)
 */
function mix(mixer: StereoMixer, left: readonly PcmPiece[], right: readonly PcmPiece[], rate: number): void {
  const l = new PieceCursor(left);
  const r = new PieceCursor(right);
  while (!l.done || !r.done) {
    const next = mixer.next;
    if (!l.done && (r.done || next.left <= next.right)) {
      l.push(rate, (p) => typeof p === "number" ? mixer.pushLeftSilence(p) : mixer.pushLeft(p));
    } else r.push(rate, (p) => typeof p === "number" ? mixer.pushRightSilence(p) : mixer.pushRight(p));
  }
}

/** Walks mono s16 pieces (PCM views and silence frame counts) a number of frames at a time. */
class PieceCursor {
  #pieces: readonly PcmPiece[];
  #i = 0;
  /** Frames of the current piece already pushed. */
  #at = 0;

  constructor(pieces: readonly PcmPiece[]) {
    this.#pieces = pieces;
  }

  get done(): boolean {
    return this.#i >= this.#pieces.length;
  }

  /** Hand on up to `frames` frames (parts of pieces as needed). */
  push(frames: number, to: (piece: PcmPiece) => void): void {
    while (frames > 0 && !this.done) {
      const p = this.#pieces[this.#i];
      const length = typeof p === "number" ? p : p.length >> 1;
      const k = Math.min(frames, length - this.#at);
      if (typeof p === "number") to(k);
      else to(this.#at === 0 && k === length ? p : p.subarray(2 * this.#at, 2 * (this.#at + k)));
      frames -= k;
      this.#at += k;
      if (this.#at === length) {
        this.#i++;
        this.#at = 0;
      }
    }
  }
}

function writePieces(sink: AudioSink, pieces: readonly PcmPiece[]): void {
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (typeof p === "number") sink.writeSilence(p);
    else sink.write(p);
  }
}

/** Whether anything is at `path` (a broken symbolic link counts). */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
