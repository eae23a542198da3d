/**
 * {@link PcmFileSink}: buffered s16le PCM into a WAV or raw file, with a
 * header that matches the data after every commit (crash-safe).
 *
 * @example
 * ```ts
 * import { PcmFileSink } from "./file_sink.ts";
 * const sink = PcmFileSink.open("call.wav", { rate: 8000, channels: 1, format: "wav", force: true });
 * sink.write(new Uint8Array(320));
 * sink.close();
 * ```
 * @module
 */

import { errorMessage, ExitCode, fsErrorMessage, KvsAudioError, UsageError } from "../errors.ts";
import { BufferedSink } from "./buffered_sink.ts";
import { DEFAULT_BUFFER_BYTES } from "./pcm_buffer.ts";
import { OPTION_NAMES, type OptionStyle } from "./option_names.ts";
import type { AudioFormat } from "./sink.ts";
import { parseWavHeader, wavHeader } from "./wav.ts";
import { writeAll } from "./write_all.ts";

/** Options for {@link PcmFileSink.open}.
 *
 * @example
 * ```ts
 * import type { FileSinkOptions } from "./file_sink.ts";
 * const opts: FileSinkOptions = { rate: 8000, channels: 1, format: "wav", force: true };
 * ```
 */
export interface FileSinkOptions {
  /** Sample rate in Hz. */
  rate: number;
  /** Interleaved channels per frame. */
  channels: number;
  /** `"wav"` writes a 44-byte header; `"raw"` writes bare s16le. */
  format: AudioFormat;
  /** Truncate an existing file instead of refusing. Default false. */
  force?: boolean;
  /**
   * Continue an existing file instead of refusing (see
   * {@linkcode PcmFileSink.open}); a missing one is created. Default false.
   */
  append?: boolean;
  /** Internal buffer size in bytes. Default 1 MiB. */
  bufferBytes?: number;
  /** How errors name `force`: `library` (the default, `force: true`) or `cli` (`--force`). */
  optionStyle?: OptionStyle;
}

/**
 * Writes s16le PCM to a file through a fixed 1 MiB buffer, using only
 * synchronous I/O. WAV files get a header with `dataBytes` 0 at open (an
 * empty call is a valid empty WAV); each {@link commit} writes the buffered
 * data first and then rewrites the 44-byte header, so the header never
 * claims more data than the file holds and the file is a valid WAV after
 * every commit, even if the process is killed right after. Commits protect
 * against the process dying, not against power loss (no fsync).
 *
 * Past 4 GiB of data (about 37 hours of 16 kHz stereo) the sink keeps
 * writing but the header sizes are clamped to `0xFFFFFFFF`, which most
 * readers treat as "read to end of file".
 *
 * After an I/O error the sink is failed: later writes and commits rethrow
 * that error, and {@link close} only releases the file handle.
 *
 * @example
 * ```ts
 * import { PcmFileSink } from "./file_sink.ts";
 * Deno.mkdirSync("out", { recursive: true });
 * const sink = PcmFileSink.open("out/agent.wav", {
 *   rate: 8000,
 *   channels: 1,
 *   format: "wav",
 *   force: false, // throws UsageError if out/agent.wav exists
 * });
 * sink.write(new Uint8Array(320)); // copied; the caller may reuse its view
 * sink.writeSilence(8000); // one second of silence
 * sink.commit(); // out/agent.wav is now a valid WAV of 8160 frames
 * sink.close();
 * ```
 */
export class PcmFileSink extends BufferedSink {
  /** File path as given to {@link PcmFileSink.open}. */
  readonly path: string;
  /** Sample rate in Hz. */
  readonly rate: number;
  /** `"wav"` or `"raw"`. */
  readonly format: AudioFormat;
  readonly #file: Deno.FsFile;
  /** A second handle on the same file for header rewrites: data writes never seek. */
  #headerFile: Deno.FsFile | undefined;
  #headerBytes = 0;

  #continued = false;
  /** A continued WAV that held no audio: its length before this run (0, or a header). */
  #heldLength = 0;

  /** It continues a file that was there before (`append`), rather than one it created. */
  get continued(): boolean {
    return this.#continued;
  }

  private constructor(path: string, file: Deno.FsFile, options: FileSinkOptions) {
    super(options.channels, options.bufferBytes ?? DEFAULT_BUFFER_BYTES);
    this.path = path;
    this.rate = options.rate;
    this.format = options.format;
    this.#file = file;
  }

  /**
   * Create `path` and, for WAV, write an empty-data header right away.
   * Without `force` the file is created with `createNew` (atomic, no race)
   * and an existing file raises
   * `UsageError("refusing to overwrite PATH (use force: true)")` (`--force` with `optionStyle` `cli`); with `force`
   * an existing file is truncated, and a symbolic link or a name of a
   * hard-linked file is replaced by a new file: nothing outside it changes. With `append` an
   * existing file is continued instead ({@linkcode PcmFileSink.existing} says what it holds): cut to
   * what its header counts, its format checked against `rate` and `channels` (UsageError). Other
   * failures raise a {@link KvsAudioError} with exit code 1.
   *
   * @example
   * ```ts
   * import { PcmFileSink } from "./file_sink.ts";
   * const raw = PcmFileSink.open("call.raw", { rate: 8000, channels: 2, format: "raw", force: true });
   * raw.close(); // empty file
   * ```
   */
  static open(path: string, options: FileSinkOptions): PcmFileSink {
    checkFormat(options);
    if (options.append) {
      const existing = PcmFileSink.existing(path, options.format);
      if (existing !== undefined) return PcmFileSink.#continue(path, existing, options);
    }
    let file: Deno.FsFile;
    try {
      // --force never writes through a symbolic link (out of the output directory) or into a
      // hard-linked file's other names: those are unlinked and the file created anew. A plain
      // file is truncated in place (that needs no write permission on the directory), and a
      // directory is left for the open to refuse ("Is a directory").
      const replace = options.force ? unlinkShared(path) : "create";
      file = Deno.openSync(path, replace === "truncate" ? { write: true } : { write: true, createNew: true });
      try {
        // Truncated only once this run holds it: another run writing it is not cut short.
        lockFor(file, path);
        if (replace === "truncate") file.truncateSync(0);
      } catch (err) {
        file.close();
        throw err;
      }
    } catch (err) {
      if (err instanceof KvsAudioError) throw err;
      if (err instanceof Deno.errors.AlreadyExists && options.force) {
        throw new KvsAudioError(
          `cannot create ${path}: something created it again while it was being replaced`,
          ExitCode.failure,
          { cause: err },
        );
      }
      if (err instanceof Deno.errors.AlreadyExists) {
        throw new UsageError(
          `refusing to overwrite ${path} (use ${OPTION_NAMES[options.optionStyle ?? "library"].force})`,
          {
            cause: err,
          },
        );
      }
      throw new KvsAudioError(
        `cannot create ${path}: ${fsErrorMessage(err)}`,
        ExitCode.failure,
        { cause: err },
      );
    }
    const sink = new PcmFileSink(path, file, options);
    if (options.format === "wav") {
      try {
        sink.io(() => writeAll(file, sink.#header()));
      } catch (err) {
        file.close();
        // Not even its header fits (a full disk): no empty or cut-off file is left behind.
        try {
          Deno.removeSync(path);
        } catch {
          // (gone already)
        }
        throw err;
      }
    }
    return sink;
  }

  /**
   * What an existing output file holds, for appending to it: its format (WAV:
   * from its header; raw: unknown) and its committed data bytes (WAV: as its
   * header says — bytes after them were never committed —, whole frames of
   * the file if the header says 0xFFFFFFFF; raw: the file's size; an empty
   * file: nothing). Undefined when `path` does not exist. A WAV not laid out
   * as kvsaudio writes them (data at byte 44, 16-bit PCM), one shorter than
   * its header says, a symbolic link and a file with other names (hard
   * links) are refused (exit 1), naming the file. `through`: read it through
   * this open handle (which may hold the file's lock) instead of another.
   *
   * @example
   * ```ts
   * import { PcmFileSink } from "./file_sink.ts";
   * const held = PcmFileSink.existing("calls/from_customer.wav", "wav");
   * if (held) console.log(held.rate, held.channels, held.dataBytes);
   * ```
   */
  static existing(
    path: string,
    format: AudioFormat,
    through?: Deno.FsFile,
  ): { rate?: number; channels?: number; dataBytes: number } | undefined {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw new KvsAudioError(`cannot append to ${path}: ${fsErrorMessage(err)}`, ExitCode.failure, { cause: err });
    }
    const refuse = (why: string, cause?: unknown): never => {
      throw new KvsAudioError(`cannot append to ${path}: ${why}`, ExitCode.failure, { cause });
    };
    // Never written through: a link would lead out of the output directory, another name of the file
    // (a hard link, maybe the other track's file) would change with it.
    if (info.isSymlink) refuse("it is a symbolic link");
    if (!info.isFile) refuse("it is not a regular file");
    if ((info.nlink ?? 1) > 1) refuse("the file has other names (hard links)");
    if (format === "raw") return { dataBytes: info.size };
    // Killed between creating it and writing its header: nothing in it yet.
    if (info.size === 0) return { dataBytes: 0 };
    let head: Uint8Array;
    try {
      // Read through the caller's handle when it holds the file's lock: where locks are emulated with
      // POSIX ones (NFS), closing any other handle on the file would release it.
      const file = through ?? Deno.openSync(path, { read: true });
      try {
        if (through) file.seekSync(0, Deno.SeekMode.Start);
        head = new Uint8Array(WAV_HEADER_BYTES);
        let got = 0;
        while (got < head.length) {
          const n = file.readSync(head.subarray(got));
          if (n === null) break;
          got += n;
        }
        head = head.subarray(0, got);
      } finally {
        if (!through) file.close();
      }
    } catch (err) {
      return refuse(fsErrorMessage(err), err);
    }
    let wav;
    try {
      wav = parseWavHeader(head);
    } catch (err) {
      return refuse(`not a WAV file as kvsaudio writes them (${errorMessage(err)})`, err);
    }
    if (wav.dataOffset !== WAV_HEADER_BYTES || wav.bitsPerSample !== 16) {
      refuse("not a WAV file as kvsaudio writes them (16-bit PCM, data at byte 44)");
    }
    const held = info.size - WAV_HEADER_BYTES;
    const blockAlign = 2 * wav.channels;
    const dataBytes = wav.dataBytes === 0xffffffff ? held - (held % blockAlign) : wav.dataBytes;
    if (dataBytes > held) refuse(`its header counts ${dataBytes} bytes of audio but the file holds ${held}`);
    if (dataBytes % blockAlign !== 0) refuse(`its header counts ${dataBytes} bytes, not whole frames`);
    return { rate: wav.rate, channels: wav.channels, dataBytes };
  }

  /** Open `path` to continue it: cut what its header does not count, write on at the end. */
  static #continue(
    path: string,
    existing: { rate?: number; channels?: number; dataBytes: number },
    options: FileSinkOptions,
  ): PcmFileSink {
    const mismatch = appendMismatch(path, existing, options.rate, options.channels);
    if (mismatch) throw mismatch;
    const header = options.format === "wav" ? WAV_HEADER_BYTES : 0;
    // Raw: whole frames only (a cut-off frame would shift every sample after it).
    const blockAlign = 2 * options.channels;
    const dataBytes = existing.dataBytes - (existing.dataBytes % blockAlign);
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true });
    } catch (err) {
      throw new KvsAudioError(`cannot append to ${path}: ${fsErrorMessage(err)}`, ExitCode.failure, { cause: err });
    }
    try {
      lockFor(file, path);
      // Read again now that no other run writes it (one may have finished since the first look).
      const now = PcmFileSink.existing(path, options.format, file);
      if (now === undefined || now.dataBytes !== existing.dataBytes || now.rate !== existing.rate) {
        throw new KvsAudioError(`cannot append to ${path}: it changed while this run started`, ExitCode.failure);
      }
      file.truncateSync(header + dataBytes);
      file.seekSync(header + dataBytes, Deno.SeekMode.Start);
    } catch (err) {
      file.close();
      if (err instanceof KvsAudioError) throw err;
      throw new KvsAudioError(`cannot append to ${path}: ${fsErrorMessage(err)}`, ExitCode.failure, { cause: err });
    }
    const sink = new PcmFileSink(path, file, options);
    sink.#continued = true;
    sink.startAt(dataBytes);
    sink.#committed = dataBytes;
    // (An empty file, or a header with no audio after it, gets this stream's header at the first commit.)
    sink.#headerBytes = (existing.rate === undefined || dataBytes === 0) && options.format === "wav" ? -1 : dataBytes;
    // (Such a file was empty, or a header alone.)
    sink.#heldLength = existing.rate === undefined ? 0 : header;
    return sink;
  }

  /**
   * Write the buffer (looping over partial writes), then for WAV rewrite the
   * header at offset 0 if the data size changed (through a second handle, so
   * data writes never seek). No syscalls when nothing changed since the last
   * commit.
   */
  override commit(): void {
    super.commit();
    if (this.format === "wav" && this.#headerBytes !== this.dataBytes) {
      this.io(() => this.#rewriteHeader(this.dataBytes));
    }
    this.#committed = this.dataBytes;
  }

  /**
   * Read data bytes from `at` (counted from the start of the data) into
   * `into`, as far as the file holds them (a continued file: what it held
   * before this run); returns how many were read. Through this sink's own
   * handle (which holds the file's lock); writing goes on at the end.
   *
   * @example
   * ```ts
   * import { PcmFileSink } from "./file_sink.ts";
   * const sink = PcmFileSink.open("call.wav", { rate: 8000, channels: 1, format: "wav", append: true });
   * const first = new Uint8Array(320);
   * sink.readData(0, first); // 0 for a new file
   * sink.close();
   * ```
   */
  readData(at: number, into: Uint8Array): number {
    const file = this.#file;
    let got = 0;
    try {
      file.seekSync((this.format === "wav" ? WAV_HEADER_BYTES : 0) + at, Deno.SeekMode.Start);
      while (got < into.length) {
        const n = file.readSync(into.subarray(got));
        if (n === null || n === 0) break;
        got += n;
      }
    } catch (err) {
      throw new KvsAudioError(`cannot read ${this.path}: ${fsErrorMessage(err)}`, ExitCode.failure, { cause: err });
    } finally {
      file.seekSync(0, Deno.SeekMode.End);
    }
    return got;
  }

  /** Data bytes as of the last commit (a continued file's from before this run included). */
  #committed = 0;

  /** Append `bytes` to the file (data writes never seek). */
  protected override output(bytes: Uint8Array): void {
    writeAll(this.#file, bytes);
  }

  /**
   * Close the file and the header handle. After a failed write (a full
   * disk), cut the file to what its last commit counts first: the bytes
   * written after it (whole fragments among them) are not counted by its
   * header, nor by the summary, and would be left after the data chunk.
   */
  protected override release(): void {
    this.#file.close();
    this.#headerFile?.close();
  }

  /**
   * Cut the file back to `dataBytes` of data (by default what its last commit
   * counts; never more), its WAV header saying so: after a failed write (a
   * full disk) the bytes written after that are counted by no header and
   * would be left after the data chunk. Best effort.
   */
  protected override cutBack(dataBytes: number = this.#committed): void {
    if (this.#headerBytes < 0) {
      // A continued file whose header still waits for this stream's (it held no audio): back to as it was.
      try {
        this.#file.truncateSync(this.#heldLength);
      } catch {
        // (left as it is)
      }
      return;
    }
    const to = Math.min(dataBytes, this.#committed);
    try {
      if (this.format === "wav" && to !== this.#headerBytes) this.#rewriteHeader(to);
      this.#file.truncateSync((this.format === "wav" ? WAV_HEADER_BYTES : 0) + to);
      this.#committed = to;
    } catch {
      // (left as it is: valid up to what its header counts)
    }
  }

  #header(): Uint8Array {
    const dataBytes = this.dataBytes;
    const header = wavHeader({ rate: this.rate, channels: this.channels, dataBytes });
    this.#headerBytes = dataBytes;
    return header;
  }

  /** Rewrite the header at offset 0 to count `dataBytes` (through a second handle: data writes never seek). */
  #rewriteHeader(dataBytes: number): void {
    this.#headerFile ??= Deno.openSync(this.path, { write: true });
    this.#headerFile.seekSync(0, Deno.SeekMode.Start);
    writeAll(this.#headerFile, wavHeader({ rate: this.rate, channels: this.channels, dataBytes }));
    this.#headerBytes = dataBytes;
  }
}

/**
 * Hold `file` for this run (an exclusive advisory lock, released when the
 * process ends however it ends): another kvsaudio writing it is refused
 * (exit 1) instead of both writing one file. The caller closes `file` on
 * failure.
 */
function lockFor(file: Deno.FsFile, path: string): void {
  let locked: boolean;
  try {
    locked = file.tryLockSync(true);
  } catch {
    return; // a file system without locks: as before
  }
  if (!locked) throw new KvsAudioError(`cannot write ${path}: another kvsaudio run is writing it`, ExitCode.failure);
}

/**
 * Refuse (exit 1) `path` when another kvsaudio run holds it (see
 * {@linkcode PcmFileSink.open}), before this run changes any file; a missing
 * or unreadable file passes (opening it says more).
 *
 * @example
 * ```ts
 * import { refuseHeld } from "./file_sink.ts";
 * refuseHeld("calls/from_customer.wav");
 * ```
 */
export function refuseHeld(path: string): void {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return;
  }
  try {
    lockFor(file, path);
    file.unlockSync();
  } finally {
    file.close();
  }
}

/**
 * With `force`: refuse (exit 1) `path` when it is a file that
 * {@linkcode PcmFileSink.open} would truncate in place but cannot open for
 * writing (no permission, immutable, a read-only mount), so that a run checks
 * every output before it empties any. Returns whether `path` is such a file
 * (one truncated in place): it is opened after those created anew, which
 * may fail too.
 *
 * @example
 * ```ts
 * import { checkReplaceable } from "./file_sink.ts";
 * checkReplaceable("calls/from_customer.wav"); // false: no such file yet
 * ```
 */
export function checkReplaceable(path: string): boolean {
  if (replaceHow(path) !== "truncate") return false;
  try {
    Deno.openSync(path, { write: true }).close();
  } catch (err) {
    throw new KvsAudioError(`cannot create ${path}: ${fsErrorMessage(err)}`, ExitCode.failure, { cause: err });
  }
  return true;
}

/**
 * The refusal (UsageError, exit 2) for appending `rate` Hz `channels`-channel
 * audio to `path`, which holds `held` ({@linkcode PcmFileSink.existing}), when
 * the formats differ; undefined when they agree or the file says none (raw).
 *
 * @example
 * ```ts
 * import { appendMismatch } from "./file_sink.ts";
 * appendMismatch("a.wav", { rate: 16000, channels: 1 }, 8000, 1)?.message;
 * // "cannot append to a.wav: it holds 16000 Hz 1-channel audio, the stream is 8000 Hz 1-channel"
 * ```
 */
export function appendMismatch(
  path: string,
  held: { rate?: number; channels?: number; dataBytes?: number },
  rate: number,
  channels: number,
): UsageError | undefined {
  if (held.rate === undefined || (held.rate === rate && held.channels === channels)) return undefined;
  // A header with no audio after it (a run that found none) takes the stream's format.
  if (held.dataBytes === 0) return undefined;
  return new UsageError(
    `cannot append to ${path}: it holds ${held.rate} Hz ${held.channels}-channel audio, the stream is ${rate} Hz ${channels}-channel`,
  );
}

/** kvsaudio's WAV header: RIFF, fmt (16 bytes), data. */
const WAV_HEADER_BYTES = 44;

function checkFormat(o: FileSinkOptions) {
  const size = o.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`bufferBytes must be a positive integer, got ${size}`);
  }
  if (o.format !== "wav" && o.format !== "raw") {
    throw new RangeError(`format must be "wav" or "raw", got ${o.format}`);
  }
  // Validates rate and channels the same way the header writer does.
  wavHeader({ rate: o.rate, channels: o.channels, dataBytes: 0 });
}

/** Unlink `path` if it is a symbolic link or a file with other names; says how to open it then. */
function unlinkShared(path: string): "create" | "truncate" {
  const how = replaceHow(path);
  if (how === "unlink") {
    Deno.removeSync(path);
    return "create";
  }
  return how;
}

/**
 * How `--force` replaces `path`: a symbolic link or a name of a hard-linked file is unlinked (and the file
 * created anew), anything else there is opened and truncated in place (a directory: refused by the open),
 * nothing there is created.
 */
function replaceHow(path: string): "create" | "truncate" | "unlink" {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return "create"; // absent (or unreadable: opening it reports that)
  }
  return info.isSymlink || (info.isFile && (info.nlink ?? 1) > 1) ? "unlink" : "truncate";
}
