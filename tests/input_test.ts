/**
 * The CLI's input reader (src/cli/input.ts): chunks of a regular file can be
 * given again (`unread`), and the read buffer is reused once released.
 */

import assert from "node:assert/strict";
import { openInput, READ_SIZE } from "../src/cli/input.ts";
import type { RereadableSource } from "../src/mkv/assembler.ts";
import { seededRandom } from "../src/kvs/backoff.ts";
import { tempFile } from "./support/cli.ts";
import { noise } from "./support/util.ts";

Deno.test("input: a regular file's chunk ends can be given again; released, the same buffer is reused", async () => {
  const bytes = noise(3 * READ_SIZE + 12345, 5);
  const path = await tempFile(bytes, "");
  try {
    for (const releasing of [true, false]) {
      const random = seededRandom(releasing ? 1 : 2);
      const input = await openInput(path);
      const chunks = input.chunks as RereadableSource;
      assert.equal(typeof chunks.unread, "function");
      let pos = 0;
      const buffers = new Set<ArrayBufferLike>();
      let n = 0;
      for await (const chunk of chunks) {
        assert.deepEqual(chunk, bytes.subarray(pos, pos + chunk.length), `chunk ${n} at ${pos}`);
        buffers.add(chunk.buffer);
        // Give back up to half the chunk (never all of it: the reader must make progress).
        const back = n++ % 3 === 2 ? 0 : Math.floor(random() * (chunk.length / 2));
        chunks.unread(back);
        assert.throws(() => chunks.unread(chunk.length), RangeError);
        pos += chunk.length - back;
        if (releasing) input.release(pos);
      }
      assert.equal(pos, bytes.length, "every byte was used once");
      if (releasing) assert.equal(buffers.size, 1, "one buffer, reused in place");
      else assert.ok(buffers.size > 3, "without releases every chunk has its own buffer");
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("input: standard input cannot be given again (no unread: nothing is held back)", async () => {
  const input = await openInput("-");
  assert.equal("unread" in input.chunks, false);
  assert.equal(input.regularFile, false);
});
