/**
 * The live status line on stderr (only on a terminal, and not with --quiet
 * or --json): audio seconds per track, fragments, MILLIS_BEHIND_NOW,
 * reconnects. Redrawn at most 4 times a second. No colours (so NO_COLOR holds);
 * with `TERM=dumb`, no escape codes either: the line is overwritten with
 * spaces.
 *
 * @example
 * ```ts
 * import { StatusLine } from "./progress.ts";
 * const status = new StatusLine(Deno.stderr.isTerminal());
 * status.update("from 1.0 s | to 1.0 s | 1 fragment");
 * status.clear();
 * ```
 * @module
 */

import { writeAll } from "../audio/write_all.ts";

const enc = new TextEncoder();

/** A redrawable single status line. */
export class StatusLine {
  #enabled: boolean;
  #last = 0;
  #shown = false;
  /** `TERM=dumb`: a terminal without escape codes. */
  readonly #dumb: boolean;
  /** Characters of the line shown (what a dumb terminal's next line must cover). */
  #width = 0;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
    let term: string | undefined;
    try {
      term = Deno.env.get("TERM");
    } catch {
      // no --allow-env: a terminal that takes escape codes, as most do
    }
    this.#dumb = term === "dumb";
  }

  /** Show `text` (throttled unless `force`). */
  update(text: string, force = false): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (!force && now - this.#last < 250) return;
    this.#last = now;
    let width = 100;
    try {
      const columns = Deno.consoleSize().columns;
      if (columns > 0) width = columns; // 0: a terminal that does not say its width
    } catch {
      // not a terminal after all
    }
    // (One column short of the width: a line that fills it would wrap on some terminals, and then the
    // carriage return would go back to its second row only.)
    const line = text.slice(0, Math.max(1, width - 1));
    writeAll(Deno.stderr, enc.encode(`\r${this.#erase()}${line}`));
    this.#width = line.length;
    this.#shown = true;
  }

  /** Remove the line. */
  clear(): void {
    if (!this.#enabled || !this.#shown) return;
    writeAll(Deno.stderr, enc.encode(`\r${this.#erase()}`));
    this.#shown = false;
  }

  /** After a carriage return: erase the line (ESC [2K), or on a dumb terminal overwrite it with spaces. */
  #erase(): string {
    return this.#dumb ? `${" ".repeat(this.#width)}\r` : "\x1b[2K";
  }
}
