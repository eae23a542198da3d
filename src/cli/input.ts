/**
 * Reading the input of `inspect` and `extract`: a file path, or `-` for
 * standard input, as an async iterable of fresh chunks (never reused, since
 * later stages keep views into them).
 *
 * @example
 * ```ts
 * import { openInput } from "./input.ts";
 * const input = await openInput("call.mkv");
 * for await (const chunk of input.chunks) console.log(chunk.length);
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";

/** An opened input. */
export interface Input {
  /** Name used in messages (`-` is shown as `stdin`). */
  name: string;
  /** The bytes, as fresh chunks. */
  chunks: AsyncIterable<Uint8Array>;
}

/** Size of each read (1 MiB). */
export const READ_SIZE = 1 << 20;

/**
 * Open `path` (or `-` for stdin). Throws UsageError when it cannot be opened.
 *
 * @example
 * ```ts
 * import { openInput } from "./input.ts";
 * const stdin = await openInput("-");
 * stdin.name; // "stdin"
 * ```
 */
export async function openInput(path: string): Promise<Input> {
  if (path === "-") return { name: "stdin", chunks: readAll(Deno.stdin, false) };
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (info.isDirectory) {
      file.close();
      throw new UsageError(`${path}: is a directory, not a file`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot open ${path}: ${(e as Error).message.replace(/, (open|stat) '.*'$/, "")}`);
  }
  return { name: path, chunks: readAll(file, true) };
}

interface Reader {
  read(p: Uint8Array): Promise<number | null>;
  close?(): void;
}

async function* readAll(reader: Reader, close: boolean): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      const buf = new Uint8Array(READ_SIZE);
      let filled = 0;
      // Fill most of the buffer before yielding: fewer, larger chunks.
      while (filled < READ_SIZE) {
        const n = await reader.read(buf.subarray(filled));
        if (n === null) break;
        filled += n;
        if (filled > 0 && reader === Deno.stdin) break;
      }
      if (filled === 0) return;
      yield buf.subarray(0, filled);
      if (filled < READ_SIZE && reader !== Deno.stdin) return;
    }
  } finally {
    if (close) reader.close?.();
  }
}
