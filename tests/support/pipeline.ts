/**
 * Test helpers: run the library pipeline (assembler → demuxer → CallWriter)
 * on bytes fed in chunks of a chosen size, and read the outputs back.
 * @module
 */

import assert from "node:assert/strict";
import { assembleFragments, type AssembleOptions } from "../../src/mkv/assembler.ts";
import { type ConnectItem, demuxConnect, type DemuxOptions } from "../../src/connect/demuxer.ts";
import { CallWriter, type CallWriterOptions } from "../../src/audio/call_writer.ts";
import { parseWavHeader, type WavInfo } from "../../src/audio/wav.ts";

/** Split `bytes` into chunks (views) of `size` bytes, or of the sizes `size()` returns in turn (at least 1). */
export function chunked(bytes: Uint8Array, size: number | (() => number)): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = typeof size === "number" ? size : Math.max(1, size());
    out.push(bytes.subarray(i, Math.min(bytes.length, i + n)));
    i += n;
  }
  return out;
}

/** Result of {@linkcode runPipeline}. */
export interface PipelineResult {
  dir: string;
  items: ConnectItem[];
  writer: CallWriter;
  error?: unknown;
}

/** Run the whole pipeline into a fresh temp dir. */
export async function runPipeline(
  bytes: Uint8Array,
  opts: {
    chunkSize?: number;
    demux?: DemuxOptions;
    assemble?: AssembleOptions;
    writer?: Partial<CallWriterOptions>;
  } = {},
): Promise<PipelineResult> {
  const dir = await Deno.makeTempDir({ prefix: "kvsaudio-test-" });
  const writer = new CallWriter({
    outDir: dir,
    format: "wav",
    stereo: false,
    tracks: "both",
    force: false,
    ...opts.writer,
  });
  writer.prepare();
  const items: ConnectItem[] = [];
  let error: unknown;
  try {
    const source = chunked(bytes, opts.chunkSize ?? 1 << 20);
    for await (const item of demuxConnect(assembleFragments(source, opts.assemble), opts.demux)) {
      items.push(item);
      if (item.kind === "audio") writer.write(item);
    }
  } catch (e) {
    error = e;
  }
  writer.close();
  return { dir, items, writer, error };
}

/** Read a WAV file: its header and its data bytes. */
export async function readWav(path: string): Promise<{ info: WavInfo; data: Uint8Array }> {
  const bytes = await Deno.readFile(path);
  const info = parseWavHeader(bytes);
  return { info, data: bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes) };
}

/** Interleave two mono s16le buffers into stereo, padding the shorter with zeros. */
export function interleave(left: Uint8Array, right: Uint8Array): Uint8Array {
  const frames = Math.max(left.length, right.length) / 2;
  const out = new Uint8Array(frames * 4);
  for (let i = 0; i < frames; i++) {
    if (2 * i < left.length) out.set(left.subarray(2 * i, 2 * i + 2), 4 * i);
    if (2 * i < right.length) out.set(right.subarray(2 * i, 2 * i + 2), 4 * i + 2);
  }
  return out;
}

/** Compare two byte arrays and say where they first differ. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} != ${b[i]}`;
  if (a.length !== b.length) return `lengths ${a.length} != ${b.length}`;
  return undefined;
}

/** Assert two byte arrays (both present) are equal, saying where they first differ if not. */
export function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array | undefined, what: string): void {
  assert.ok(actual && expected, `${what}: missing`);
  const diff = firstDifference(actual, expected);
  assert.equal(diff, undefined, `${what}: ${diff}`);
}
