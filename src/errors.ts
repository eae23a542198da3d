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

/** Process exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  data: 3,
  aws: 4,
  kvsError: 5,
  interrupted: 130,
} as const;

/** Base class: every error kvsaudio raises on purpose. */
export class KvsAudioError extends Error {
  /** Exit code the CLI ends with for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "KvsAudioError";
    this.exitCode = exitCode;
  }
}

/** Bad command-line usage or an output that would be overwritten (exit 2). */
export class UsageError extends KvsAudioError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
    this.name = "UsageError";
  }
}

/** Where in the input a data error happened. */
export interface DataErrorLocation {
  /** Absolute byte offset in the input where the bad element starts. */
  offset: number;
  /** Element name (or hex id) involved, if known. */
  element?: string;
  /** Input name (file path, `-` for stdin, or a stream name), if known. */
  source?: string;
}

/** Corrupt or unparseable stream data (exit 3). */
export class DataError extends KvsAudioError {
  /** Byte offset of the problem in the input. */
  readonly offset: number;
  /** Element involved, if known. */
  readonly element?: string;
  /** Input name, if known. */
  source?: string;
  /** The message without the location prefix. */
  readonly reason: string;
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

/** KVS sent an in-band error fragment (exit 5). */
export class KvsStreamError extends KvsAudioError {
  /** `AWS_KINESISVIDEO_ERROR_CODE` value. */
  readonly code: string;
  /** `AWS_KINESISVIDEO_ERROR_ID` value, if present. */
  readonly errorId?: string;
  constructor(message: string, code: string, errorId?: string) {
    super(message, ExitCode.kvsError);
    this.name = "KvsStreamError";
    this.code = code;
    this.errorId = errorId;
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
  return errorMessage(err).replace(/[,:] \w+ '.*'$/, "");
}
