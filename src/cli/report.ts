/**
 * Progress events and the final summary of `extract` and `pull`, as text
 * (stderr when stdout carries audio) or NDJSON (`--json`).
 *
 * @example
 * ```ts
 * import { Reporter } from "./report.ts";
 * const r = new Reporter({ json: true, toStderr: false });
 * r.event({ event: "warning", message: "fragment 3 is truncated" });
 * r.flush();
 * ```
 * @module
 */

import { LineWriter } from "./output.ts";
import { displayText, hideSecrets, jsonLine } from "./sanitize.ts";

/** Options of the reporter. */
export interface ReporterOptions {
  /** NDJSON instead of text. */
  json: boolean;
  /** Write to stderr (when stdout carries audio). */
  toStderr: boolean;
  /** Also report each fragment (text mode). */
  verbose?: boolean;
}

/** Prints events. */
export class Reporter {
  #out: LineWriter;
  #err: LineWriter;
  #json: boolean;
  #verbose: boolean;
  /** JSON events go to standard error (the audio to standard output). */
  readonly eventsOnStderr: boolean;

  constructor(opts: ReporterOptions) {
    // Results (stdout) must arrive: a failed write ends the run (exit 1). Messages on stderr are dropped instead,
    // but not the events of `--json --out -`, which are results there.
    this.#out = opts.toStderr
      ? new LineWriter(Deno.stderr, "standard error", !opts.json)
      : new LineWriter(Deno.stdout, "standard output");
    this.#err = opts.toStderr ? this.#out : new LineWriter(Deno.stderr, "standard error", true);
    this.#json = opts.json;
    this.#verbose = opts.verbose ?? false;
    this.eventsOnStderr = opts.json && opts.toStderr;
  }

  /** Whether {@linkcode Reporter.event} prints events (callers skip building them otherwise). */
  get detailed(): boolean {
    return this.#json || this.#verbose;
  }

  /** Print an event: NDJSON as is, or with `--verbose` a text line when `text` is given. */
  event(ev: Record<string, unknown> & { event: string }, text?: string): void {
    const line = this.eventLine(ev, text);
    if (line !== undefined) this.#out.line(line);
  }

  /** The line {@linkcode Reporter.event} would print for `ev` (none without `--json` or `--verbose`). */
  eventLine(ev: Record<string, unknown> & { event: string }, text?: string): string | undefined {
    if (this.#json) return hideSecrets(jsonLine(ev));
    if (text !== undefined && this.#verbose) return displayText(hideSecrets(text), 400);
    return undefined;
  }

  /** Print a line made by {@linkcode Reporter.eventLine}. */
  print(line: string): void {
    this.#out.line(line);
  }

  /** A warning (always shown). */
  warning(message: string): void {
    if (this.#json) this.event({ event: "warning", message });
    else {
      // Text mode: warnings go to stderr, keeping stdout for results.
      this.#out.flush();
      this.#err.line(displayText(hideSecrets(`kvsaudio: warning: ${message}`), 400, 120));
      this.#err.flush();
    }
  }

  /** A line on stderr in text mode only (`kvsaudio: …`): what is going on, not a result. */
  notice(message: string): void {
    if (this.#json) return;
    this.#out.flush();
    this.#err.line(displayText(hideSecrets(`kvsaudio: ${message}`), 400, 120));
    this.#err.flush();
  }

  /** Print a text line (text mode only). */
  text(line: string): void {
    if (!this.#json) this.#out.line(hideSecrets(line));
  }

  /** Write out what is queued. */
  flush(): void {
    this.#out.flush();
  }
}
