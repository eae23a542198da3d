/**
 * Error types shared by every stage. Each carries the process exit code the
 * CLI uses for it, and a one-line message that says what went wrong and where.
 *
 * @example
 * ```ts
 * import { DataError } from "./errors.ts";
 * const err = new DataError("size overruns parent Cluster", { offset: 1234, element: "SimpleBlock" });
 * console.log(err.exitCode, err.message); // 3 "byte 1234: SimpleBlock: size overruns parent Cluster"
 * ```
 * @module
 */

import type { Fragment } from "./mkv/fragment.ts";

/**
 * Process exit codes, documented in the README.
 *
 * @example
 * ```ts
 * import { ExitCode, UsageError } from "./errors.ts";
 * ExitCode.data; // 3
 * new UsageError("unknown option --x").exitCode === ExitCode.usage; // true
 * ```
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  data: 3,
  aws: 4,
  kvsError: 5,
  interrupted: 130,
} as const;

/**
 * Base class: every error kvsaudio raises on purpose.
 *
 * @example
 * ```ts
 * import { DataError, ExitCode, KvsAudioError } from "./errors.ts";
 * function exitCodeOf(err: unknown): number {
 *   return err instanceof KvsAudioError ? err.exitCode : ExitCode.failure;
 * }
 * exitCodeOf(new DataError("bad size", { offset: 0 })); // 3
 * exitCodeOf(new Error("bug"));                          // 1
 * ```
 */
export class KvsAudioError extends Error {
  /** Exit code the CLI ends with for this error. */
  readonly exitCode: number;
  /**
   * Create an error that ends the CLI with `exitCode`.
   *
   * @param message the one-line message shown to the user
   * @param exitCode the process exit code for this error (see {@linkcode ExitCode})
   * @param options standard `Error` options (`cause`)
   */
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "KvsAudioError";
    this.exitCode = exitCode;
  }
}

/**
 * Bad command-line usage or an output that would be overwritten (exit 2).
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * const err = new UsageError("refusing to overwrite out/from_customer.wav (use --force)");
 * err.name;     // "UsageError"
 * err.exitCode; // 2
 * ```
 */
export class UsageError extends KvsAudioError {
  /**
   * Create a usage error (exit code {@linkcode ExitCode.usage}).
   *
   * @param message what is wrong with the command line or the output
   * @param options standard `Error` options (`cause`)
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
    this.name = "UsageError";
  }
}

/** Where in the input a data error happened. */
export interface DataErrorLocation {
  /**
   * Absolute byte offset in the input where the bad element starts (a track
   * refused for its codec or name: where its fragment begins).
   */
  offset: number;
  /** Element name (or hex id) involved, if known. */
  element?: string;
  /** Input name (file path, `-` for stdin, or a stream name), if known. */
  source?: string;
}

/**
 * Corrupt or unparseable stream data (exit 3).
 *
 * @example
 * ```ts
 * import { DataError } from "./errors.ts";
 * const err = new DataError("bad size", { offset: 42, element: "Cluster" }).withSource("call.mkv");
 * err.message;  // "call.mkv: byte 42: Cluster: bad size"
 * err.reason;   // "bad size"
 * err.exitCode; // 3
 * ```
 */
export class DataError extends KvsAudioError {
  /** Byte offset of the problem in the input. */
  readonly offset: number;
  /** Element involved, if known. */
  readonly element?: string;
  /** Input name, if known. */
  source?: string;
  /** The message without the location prefix. */
  readonly reason: string;
  /**
   * From the fragment assemblers: the fragment the bad data is in, as far as
   * it was read (`complete: false`, `closedBy: "bad-data"`), when its
   * document had begun. Its fragment number, tags and whole blocks before the
   * bad data are as in the input; it was not handed on. From the demuxer's
   * `notConnect`: the first fragment with blocks on no Connect track (handed
   * on earlier).
   */
  fragment?: Fragment;
  /**
   * The message is `reason` prefixed with the location: `[source: ]byte
   * <offset>: [element: ]<reason>`.
   *
   * @param reason what is wrong, without the location
   * @param where where in the input it is
   * @param options standard `Error` options (`cause`)
   */
  constructor(
    reason: string,
    where: DataErrorLocation,
    options?: ErrorOptions,
  ) {
    super(DataError.format(reason, where), ExitCode.data, options);
    this.name = "DataError";
    this.reason = reason;
    this.offset = where.offset;
    this.element = where.element;
    this.source = where.source;
  }
  /** Attach the input name and rebuild the message. */
  withSource(source: string): DataError {
    this.source = source;
    this.message = DataError.format(this.reason, this);
    return this;
  }
  /** The message: the parts of `where` that are known, then `reason`, joined by `": "`. */
  private static format(reason: string, where: DataErrorLocation): string {
    const parts: string[] = [];
    if (where.source !== undefined) parts.push(where.source);
    parts.push(`byte ${where.offset}`);
    if (where.element) parts.push(where.element);
    parts.push(reason);
    return parts.join(": ");
  }
}

/** An AWS API call failed (exit 4). */
export class AwsError extends KvsAudioError {
  /** The AWS error name (e.g. `ResourceNotFoundException`), if any. */
  readonly code?: string;
  constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, ExitCode.aws, options);
    this.name = "AwsError";
    this.code = code;
  }
}

/**
 * KVS sent an in-band error fragment (exit 5).
 *
 * @example
 * ```ts
 * import { KvsStreamError } from "./errors.ts";
 * import { ConnectDemuxer } from "./connect/demuxer.ts";
 * import { Fragment } from "./mkv/fragment.ts";
 * const f = new Fragment(0, 0);
 * f.tags.push({ name: "AWS_KINESISVIDEO_ERROR_CODE", value: "4000", position: "after", offset: 0 });
 * try {
 *   new ConnectDemuxer().fragment(f);
 * } catch (err) {
 *   if (err instanceof KvsStreamError) console.log(err.code, err.exitCode, err.offset); // "4000" 5 0
 * }
 * ```
 */
export class KvsStreamError extends KvsAudioError {
  /** `AWS_KINESISVIDEO_ERROR_CODE` value. */
  readonly code: string;
  /** `AWS_KINESISVIDEO_ERROR_ID` value, if present. */
  readonly errorId?: string;
  /** The error fragment (its offset, fragment number and tags), when known. */
  readonly fragment?: Fragment;
  /**
   * Create the error for an in-band error fragment (exit code {@linkcode ExitCode.kvsError}).
   *
   * @param message the whole message (what the fragment said, and where)
   * @param code the `AWS_KINESISVIDEO_ERROR_CODE` value
   * @param errorId the `AWS_KINESISVIDEO_ERROR_ID` value, if present
   * @param fragment the error fragment
   */
  constructor(message: string, code: string, errorId?: string, fragment?: Fragment) {
    super(message, ExitCode.kvsError);
    this.name = "KvsStreamError";
    this.code = code;
    this.errorId = errorId;
    this.fragment = fragment;
  }

  /** Byte offset of the error fragment in its input, when known. */
  get offset(): number | undefined {
    return this.fragment?.offset;
  }
}

/**
 * The message of a thrown value (an `Error`'s message, anything else as a string).
 *
 * @example
 * ```ts
 * import { errorMessage } from "./errors.ts";
 * errorMessage(new Error("disk full")); // "disk full"
 * errorMessage("odd");                  // "odd"
 * ```
 */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * {@linkcode errorMessage} of a failed file operation without the operation
 * and path Deno appends (`…: open '/x'`), for messages that name the file
 * themselves.
 *
 * @example
 * ```ts
 * import { fsErrorMessage } from "./errors.ts";
 * fsErrorMessage(new Error("No such file or directory (os error 2): readfile '/x'"));
 * // "No such file or directory (os error 2)"
 * ```
 */
export function fsErrorMessage(err: unknown): string {
  return errorMessage(err)
    // Deno's sandbox refuses some paths (/proc, /dev, …) even with --allow-write; its advice is for `deno run`.
    .replace(
      /^Requires (\w+) access to "?(.*?)"?, run again with the --allow-\S+ flag$/,
      "$1 access to $2 is not permitted",
    )
    .replace(/[,:] \w+ '[\s\S]*'$/, ""); // (the path may hold a newline)
}

/**
 * {@linkcode errorMessage} of a failed write, saying what to do when the
 * output is a non-blocking pipe that was full (EAGAIN): such a write cannot
 * be retried, since Deno does not tell how much of it went out.
 *
 * @example
 * ```ts
 * import { writeErrorMessage } from "./errors.ts";
 * writeErrorMessage(new Deno.errors.WouldBlock("Resource temporarily unavailable (os error 11)"));
 * // "Resource temporarily unavailable (os error 11): the output is a non-blocking pipe, …"
 * ```
 */
export function writeErrorMessage(err: unknown): string {
  const text = fsErrorMessage(err);
  if (!(err instanceof Deno.errors.WouldBlock)) return text;
  return `${text}: the output is a non-blocking pipe, left so by the program that started kvsaudio, and was full; ` +
    "give kvsaudio a blocking one (e.g. through `| cat`)";
}

/**
 * Whether `err` says the reader of a pipe went away (EPIPE), e.g. after
 * `kvsaudio … | head`.
 *
 * @example
 * ```ts
 * import { isBrokenPipe } from "./errors.ts";
 * isBrokenPipe(new Deno.errors.BrokenPipe()); // true
 * ```
 */
export function isBrokenPipe(err: unknown): boolean {
  return err instanceof Deno.errors.BrokenPipe ||
    (err instanceof Error && (err as { code?: unknown }).code === "EPIPE");
}
