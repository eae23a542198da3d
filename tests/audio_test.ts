import assert from "node:assert/strict";
import { ExitCode, KvsAudioError, UsageError } from "../src/errors.ts";
import {
  type AudioSink,
  BrokenPipeError,
  openSink,
  parseWavHeader,
  PcmFileSink,
  PcmStreamSink,
  StereoMixer,
  type SyncWriter,
  WAV_HEADER_BYTES,
  WAV_MAX_SIZE,
  wavHeader,
  writeAll,
} from "../src/audio/mod.ts";
import { concat, liveDocument, namedTracks, simpleBlock } from "./support/mkv_writer.ts";
import { CallWriter } from "../src/audio/call_writer.ts";
import { assembleFragments } from "../src/mkv/assembler.ts";
import { Fragment } from "../src/mkv/fragment.ts";
import { demuxConnect } from "../src/connect/demuxer.ts";
import { interleave, readWav, sameBytes } from "./support/pipeline.ts";
import { connectStream } from "./support/connect_stream.ts";
import { noise, withTempDir } from "./support/util.ts";

// ---------------------------------------------------------------- helpers

const canRun = Deno.permissions.querySync({ name: "run" }).state === "granted";

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
const u16 = (n: number) => [n & 0xff, n >> 8];

/** Reads a WAV file and checks the header matches the data on disk. */
function readValidWav(path: string) {
  const bytes = Deno.readFileSync(path);
  const info = parseWavHeader(bytes);
  assert.equal(info.dataOffset, WAV_HEADER_BYTES);
  assert.equal(info.dataBytes, bytes.length - WAV_HEADER_BYTES, "data size");
  assert.equal(info.riffSize, bytes.length - 8, "RIFF size");
  return { info, data: bytes.subarray(WAV_HEADER_BYTES) };
}

/** A writer that accepts at most `max` bytes per call and records them. */
class ChunkyWriter implements SyncWriter {
  readonly chunks: Uint8Array[] = [];
  calls = 0;
  constructor(readonly max: number) {}
  writeSync(p: Uint8Array): number {
    this.calls++;
    const n = Math.min(this.max, p.length);
    this.chunks.push(p.slice(0, n));
    return n;
  }
  get bytes(): Uint8Array {
    return concat(this.chunks);
  }
}

/** An in-memory AudioSink with 2 channels, for mixer tests. */
class MemorySink implements AudioSink {
  readonly path = "memory";
  readonly channels = 2;
  readonly parts: Uint8Array[] = [];
  frames = 0;
  write(pcm: Uint8Array): void {
    assert.equal(pcm.length % 4, 0, "whole stereo frames");
    this.parts.push(pcm.slice());
    this.frames += pcm.length / 4;
  }
  writeSilence(frames: number): void {
    this.parts.push(new Uint8Array(frames * 4));
    this.frames += frames;
  }
  commit(): void {}
  close(): void {}
  /** Output as [left, right] sample pairs (little-endian s16). */
  samples(): number[] {
    const b = concat(this.parts);
    const v = new DataView(b.buffer);
    const out: number[] = [];
    for (let i = 0; i < b.length; i += 2) out.push(v.getInt16(i, true));
    return out;
  }
}

function s16(...samples: number[]): Uint8Array {
  const b = new Uint8Array(samples.length * 2);
  const v = new DataView(b.buffer);
  samples.forEach((s, i) => v.setInt16(i * 2, s, true));
  return b;
}

// ---------------------------------------------------------------- wav.ts

Deno.test("wavHeader: byte-exact 8 kHz mono", () => {
  const expected = new Uint8Array([
    ...ascii("RIFF"),
    ...u32(36 + 1000),
    ...ascii("WAVE"),
    ...ascii("fmt "),
    ...u32(16),
    ...u16(1), // PCM
    ...u16(1), // mono
    ...u32(8000),
    ...u32(16000), // byte rate
    ...u16(2), // block align
    ...u16(16),
    ...ascii("data"),
    ...u32(1000),
  ]);
  assert.equal(expected.length, 44);
  assert.deepEqual(
    wavHeader({ rate: 8000, channels: 1, dataBytes: 1000 }),
    expected,
  );
  // Same bytes, spelled out, for the fields the brief names.
  const h = wavHeader({ rate: 8000, channels: 1, dataBytes: 1000 });
  assert.deepEqual([...h.subarray(0, 12)], [
    0x52,
    0x49,
    0x46,
    0x46,
    0x0c,
    0x04,
    0x00,
    0x00,
    0x57,
    0x41,
    0x56,
    0x45,
  ]);
  assert.deepEqual([...h.subarray(28, 36)], [
    0x80,
    0x3e,
    0x00,
    0x00,
    0x02,
    0x00,
    0x10,
    0x00,
  ]);
});

Deno.test("wavHeader: stereo 16 kHz fields", () => {
  const info = parseWavHeader(
    wavHeader({ rate: 16000, channels: 2, dataBytes: 64 }),
  );
  assert.deepEqual(info, {
    rate: 16000,
    channels: 2,
    bitsPerSample: 16,
    dataOffset: 44,
    dataBytes: 64,
    riffSize: 100,
  });
  const v = new DataView(
    wavHeader({ rate: 16000, channels: 2, dataBytes: 64 }).buffer,
  );
  assert.equal(v.getUint32(28, true), 64000);
  assert.equal(v.getUint16(32, true), 4);
});

Deno.test("wavHeader: streaming and clamping", () => {
  const read = (h: Uint8Array) => {
    const v = new DataView(h.buffer);
    return [v.getUint32(4, true), v.getUint32(40, true)];
  };
  assert.deepEqual(
    read(wavHeader({ rate: 8000, channels: 1, dataBytes: "streaming" })),
    [0xffffffff, 0xffffffff],
  );
  assert.deepEqual(
    read(wavHeader({ rate: 8000, channels: 1, dataBytes: 5 * 2 ** 30 })),
    [WAV_MAX_SIZE, WAV_MAX_SIZE],
  );
  // Data fits but RIFF size (data + 36) does not.
  assert.deepEqual(
    read(wavHeader({ rate: 8000, channels: 1, dataBytes: 0xffffffff - 10 })),
    [WAV_MAX_SIZE, 0xffffffff - 10],
  );
  assert.deepEqual(
    read(wavHeader({ rate: 8000, channels: 1, dataBytes: 0xffffffff - 36 })),
    [0xffffffff, 0xffffffff - 36],
  );
  assert.deepEqual(read(wavHeader({ rate: 8000, channels: 1, dataBytes: 0 })), [
    36,
    0,
  ]);
});

Deno.test("wavHeader: rejects bad arguments", () => {
  assert.throws(
    () => wavHeader({ rate: 0, channels: 1, dataBytes: 0 }),
    RangeError,
  );
  assert.throws(
    () => wavHeader({ rate: 8000, channels: 0, dataBytes: 0 }),
    RangeError,
  );
  assert.throws(
    () => wavHeader({ rate: 8000, channels: 1, dataBytes: -2 }),
    RangeError,
  );
  assert.throws(
    () => wavHeader({ rate: 8000, channels: 1, dataBytes: 1.5 }),
    RangeError,
  );
  assert.throws(
    () => wavHeader({ rate: 8000, channels: 1, bitsPerSample: 12, dataBytes: 0 }),
    RangeError,
  );
});

Deno.test("parseWavHeader: accepts LIST (odd size, padded) before data", () => {
  const h = wavHeader({ rate: 8000, channels: 1, dataBytes: 4 });
  const list = new Uint8Array([
    ...ascii("LIST"),
    ...u32(5),
    ...ascii("INFOx"),
    0, // pad byte
  ]);
  const file = concat([
    h.subarray(0, 36),
    list,
    h.subarray(36),
    new Uint8Array([1, 2, 3, 4]),
  ]);
  const info = parseWavHeader(file);
  assert.equal(info.dataOffset, 44 + list.length);
  assert.equal(info.dataBytes, 4);
  assert.equal(info.rate, 8000);
  assert.deepEqual(
    [...file.subarray(info.dataOffset, info.dataOffset + 4)],
    [1, 2, 3, 4],
  );
  // A view at a non-zero offset into a larger buffer works too.
  const padded = new Uint8Array(file.length + 3);
  padded.set(file, 3);
  assert.deepEqual(parseWavHeader(padded.subarray(3)), info);
});

Deno.test("parseWavHeader: clear errors", () => {
  const h = wavHeader({ rate: 8000, channels: 1, dataBytes: 0 });
  assert.throws(
    () => parseWavHeader(new Uint8Array(4)),
    /too short for a WAV header/,
  );
  assert.throws(
    () => parseWavHeader(new TextEncoder().encode("RIFX....WAVEfmt ")),
    /not a RIFF\/WAVE file/,
  );
  assert.throws(() => parseWavHeader(h.subarray(0, 40)), /no data chunk/);
  const float = h.slice();
  float[20] = 3; // IEEE float
  assert.throws(() => parseWavHeader(float), /not PCM \(format tag 3\)/);
  const badAlign = h.slice();
  badAlign[32] = 4;
  assert.throws(() => parseWavHeader(badAlign), /inconsistent format/);
  const noFmt = concat([h.subarray(0, 12), h.subarray(36)]);
  assert.throws(() => parseWavHeader(noFmt), /data chunk before fmt chunk/);
  try {
    parseWavHeader(float);
  } catch (err) {
    assert.ok(err instanceof KvsAudioError);
    assert.equal(err.exitCode, ExitCode.data);
  }
});

// ---------------------------------------------------------------- file sink

Deno.test("PcmFileSink: empty WAV is valid right after open", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/empty.wav`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 1,
      format: "wav",
    });
    // Not closed yet: the header is already on disk.
    assert.equal(readValidWav(path).data.length, 0);
    sink.close();
    sink.close(); // idempotent
    const { info } = readValidWav(path);
    assert.equal(info.rate, 8000);
    assert.equal(info.channels, 1);
    assert.equal(sink.frames, 0);
  });
});

Deno.test("PcmFileSink: header matches data after every commit", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/a.wav`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 2,
      format: "wav",
      bufferBytes: 1000, // small, so some writes flush on their own
    });
    const expected: Uint8Array[] = [];
    const scratch = new Uint8Array(2048);
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 7; i++) {
        const n = ((round * 7 + i) * 52) % 1600 + 4; // multiple of 4
        const chunk = noise(n, round * 100 + i + 1);
        scratch.set(chunk); // the sink must copy: we reuse `scratch`
        sink.write(scratch.subarray(0, n));
        scratch.fill(0xee);
        expected.push(chunk);
      }
      sink.writeSilence(round * 3);
      expected.push(new Uint8Array(round * 12));
      sink.commit();
      const { info, data } = readValidWav(path);
      assert.equal(info.channels, 2);
      assert.deepEqual(data, concat(expected));
      assert.equal(sink.frames, data.length / 4);
      assert.equal(sink.dataBytes, data.length);
    }
    sink.close();
    assert.deepEqual(readValidWav(path).data, concat(expected));
  });
});

Deno.test("PcmFileSink: committed file is valid without close (kill -9)", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/killed.wav`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 1,
      format: "wav",
    });
    const a = noise(3200, 7);
    sink.write(a);
    sink.commit();
    // Read while the sink is still open and never closed: valid, and exactly
    // the committed data.
    assert.deepEqual(readValidWav(path).data, a);
    // Accepted but not committed: the file is still the committed prefix.
    sink.write(noise(320, 8));
    assert.deepEqual(readValidWav(path).data, a);
    sink.close();
    assert.equal(readValidWav(path).data.length, 3520);
  });
});

Deno.test({
  name: "PcmFileSink: real SIGKILL after commit leaves a valid WAV" +
    (canRun ? "" : " (skipped: needs --allow-run)"),
  ignore: !canRun || Deno.build.os === "windows",
  fn: async () => {
    await withTempDir("kvsaudio_audio_test_", async (dir) => {
      const script = `${dir}/child.ts`;
      const path = `${dir}/killed.wav`;
      const sinkUrl = new URL("../src/audio/file_sink.ts", import.meta.url);
      Deno.writeTextFileSync(
        script,
        `import { PcmFileSink } from ${JSON.stringify(sinkUrl.href)};
const sink = PcmFileSink.open(Deno.args[0], { rate: 8000, channels: 1, format: "wav" });
const chunk = new Uint8Array(320).fill(1);
for (let i = 0; i < 100; i++) sink.write(chunk);
sink.commit();
sink.write(chunk); // accepted, never committed
Deno.stdout.writeSync(new TextEncoder().encode("ready\\n"));
setTimeout(() => {}, 60_000);
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", script, path],
        stdout: "piped",
        stderr: "inherit",
        cwd: dir,
      }).spawn();
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assert.equal(new TextDecoder().decode(value).trim(), "ready");
      child.kill("SIGKILL");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      assert.equal(status.signal, "SIGKILL");
      const { data } = readValidWav(path);
      assert.equal(data.length, 32_000);
      assert.ok(data.every((b) => b === 1));
    });
  },
});

Deno.test("PcmFileSink: refuses to overwrite without force", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/exists.wav`;
    Deno.writeTextFileSync(path, "precious");
    assert.throws(
      () => PcmFileSink.open(path, { rate: 8000, channels: 1, format: "wav" }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.message, `refusing to overwrite ${path} (use force: true)`);
        assert.equal(e.exitCode, ExitCode.usage);
        return true;
      },
    );
    assert.equal(Deno.readTextFileSync(path), "precious");
    // openSink follows the same rule.
    assert.throws(
      () => openSink(path, { rate: 8000, channels: 1, format: "raw" }),
      UsageError,
    );
    assert.equal(Deno.readTextFileSync(path), "precious");
  });
});

Deno.test("PcmFileSink: overwrites (truncates) with force", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/exists.wav`;
    Deno.writeFileSync(path, new Uint8Array(100_000).fill(7));
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 1,
      format: "wav",
      force: true,
    });
    sink.write(s16(1, 2, 3));
    sink.close();
    assert.deepEqual(readValidWav(path).data, s16(1, 2, 3));
  });
});

Deno.test("PcmFileSink: other open failures are exit 1", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    assert.throws(
      () =>
        PcmFileSink.open(`${dir}/missing/x.wav`, {
          rate: 8000,
          channels: 1,
          format: "wav",
        }),
      (e: unknown) => {
        assert.ok(e instanceof KvsAudioError && !(e instanceof UsageError));
        assert.equal(e.exitCode, ExitCode.failure);
        assert.match(e.message, /^cannot create .*missing\/x\.wav: /);
        return true;
      },
    );
  });
});

Deno.test("PcmFileSink: raw format has no header", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/a.raw`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 1,
      format: "raw",
    });
    assert.equal(Deno.statSync(path).size, 0);
    const a = noise(1000, 3);
    sink.write(a);
    sink.writeSilence(5);
    sink.commit();
    assert.deepEqual(Deno.readFileSync(path), concat([a, new Uint8Array(10)]));
    sink.close();
    assert.equal(sink.frames, 505);
  });
});

Deno.test("PcmFileSink: large writes go straight to the file, in order", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/big.wav`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 1,
      format: "wav",
      bufferBytes: 4096,
    });
    const small = noise(100, 1);
    sink.write(small);
    assert.equal(Deno.statSync(path).size, 44, "small write is buffered");
    const big = noise(10_000, 2);
    sink.write(big); // does not fit: flush, then write through
    assert.equal(Deno.statSync(path).size, 44 + 100 + 10_000);
    const fits = noise(2048, 3); // fits in the free space: buffered
    sink.write(fits);
    assert.equal(Deno.statSync(path).size, 44 + 100 + 10_000);
    const half = noise(3000, 4); // does not fit, >= half the buffer
    sink.write(half); // flush, then write through
    assert.equal(Deno.statSync(path).size, 44 + 100 + 10_000 + 2048 + 3000);
    const last = noise(1000, 5);
    sink.write(last);
    sink.commit();
    assert.deepEqual(
      readValidWav(path).data,
      concat([small, big, fits, half, last]),
    );
    sink.close();
  });
});

Deno.test("PcmFileSink: big silence spans many buffer flushes", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/silence.wav`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 1,
      format: "wav",
      bufferBytes: 1000,
    });
    sink.write(s16(5));
    sink.writeSilence(12_345);
    sink.write(s16(6));
    sink.close();
    const { data } = readValidWav(path);
    assert.equal(data.length, 2 * 12_347);
    assert.deepEqual([...data.subarray(0, 2)], [5, 0]);
    assert.ok(data.subarray(2, data.length - 2).every((b) => b === 0));
    assert.deepEqual([...data.subarray(data.length - 2)], [6, 0]);
  });
});

Deno.test("PcmFileSink: rejects partial frames and use after close", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const sink = PcmFileSink.open(`${dir}/x.wav`, {
      rate: 8000,
      channels: 2,
      format: "wav",
    });
    assert.throws(() => sink.write(new Uint8Array(6)), RangeError);
    assert.throws(() => sink.writeSilence(-1), RangeError);
    assert.throws(() => sink.writeSilence(1.5), RangeError);
    sink.close();
    assert.throws(() => sink.write(new Uint8Array(4)), /closed/);
    assert.throws(
      () =>
        PcmFileSink.open(`${dir}/y.wav`, {
          rate: 8000,
          channels: 1,
          format: "mp3" as "wav",
        }),
      RangeError,
    );
  });
});

// ---------------------------------------------------------------- stream sink

Deno.test("PcmStreamSink: WAV through 3-byte partial writes is exact", () => {
  const w = new ChunkyWriter(3);
  const sink = new PcmStreamSink({
    rate: 8000,
    channels: 1,
    format: "wav",
    writer: w,
    bufferBytes: 256,
  });
  assert.equal(sink.path, "-");
  assert.equal(w.calls, 0, "header is buffered, no I/O yet");
  const parts = [noise(10, 1), noise(500, 2), noise(6, 3)]; // 500: direct
  for (const p of parts) sink.write(p);
  sink.writeSilence(300);
  sink.close();
  sink.close();
  const expected = concat([
    wavHeader({ rate: 8000, channels: 1, dataBytes: "streaming" }),
    ...parts,
    new Uint8Array(600),
  ]);
  assert.deepEqual(w.bytes, expected);
  assert.ok(w.chunks.every((c) => c.length <= 3));
  const info = parseWavHeader(w.bytes);
  assert.equal(info.dataBytes, 0xffffffff);
  assert.equal(info.riffSize, 0xffffffff);
  assert.equal(sink.frames, 258 + 300);
});

Deno.test("PcmStreamSink: raw has no header; commit flushes", () => {
  const w = new ChunkyWriter(3);
  const sink = new PcmStreamSink({
    rate: 8000,
    channels: 2,
    format: "raw",
    writer: w,
  });
  const a = noise(400, 9);
  sink.write(a);
  assert.equal(w.bytes.length, 0);
  sink.commit();
  assert.deepEqual(w.bytes, a);
  sink.commit(); // nothing new: no calls
  const calls = w.calls;
  sink.commit();
  assert.equal(w.calls, calls);
  sink.close();
  assert.deepEqual(w.bytes, a);
});

Deno.test("PcmStreamSink: broken pipe becomes BrokenPipeError", () => {
  let calls = 0;
  const sink = new PcmStreamSink({
    rate: 8000,
    channels: 1,
    format: "wav",
    writer: {
      writeSync(p: Uint8Array) {
        if (calls++ === 0) return Math.min(p.length, 10);
        throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
      },
    },
  });
  sink.write(noise(100));
  assert.throws(() => sink.commit(), BrokenPipeError);
  try {
    sink.write(noise(2));
    assert.fail("expected a throw");
  } catch (e) {
    assert.ok(e instanceof BrokenPipeError);
    assert.ok(e instanceof KvsAudioError);
    assert.equal(e.message, "output pipe closed");
    assert.equal(e.exitCode, ExitCode.failure);
    assert.ok(e.cause instanceof Deno.errors.BrokenPipe);
  }
  sink.close(); // quiet: the reader is gone
  sink.close();
});

/** An asynchronous writer whose writes complete only when the test says: takes at most `max` bytes each. */
class HeldWriter {
  readonly chunks: Uint8Array[] = [];
  readonly #held: { p: Uint8Array; resolve: (n: number) => void; reject: (e: unknown) => void }[] = [];
  constructor(readonly max = Infinity) {}
  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => this.#held.push({ p, resolve, reject }));
  }
  get held(): number {
    return this.#held.length;
  }
  /** Complete the oldest write (taking at most `max` bytes of it), or fail it with `err`. */
  async take(err?: unknown): Promise<void> {
    const w = this.#held.shift();
    assert.ok(w, "no write is waiting");
    if (err !== undefined) w.reject(err);
    else {
      const n = Math.min(w.p.length, this.max);
      this.chunks.push(w.p.slice(0, n));
      w.resolve(n);
    }
    for (let i = 0; i < 5; i++) await Promise.resolve(); // let the sink go on
  }
  get bytes(): Uint8Array {
    return concat(this.chunks);
  }
}

Deno.test("PcmStreamSink in the background: writes never wait for the reader; drained() bounds the queue", async () => {
  const w = new HeldWriter(40_000);
  const sink = new PcmStreamSink({ rate: 8000, channels: 1, format: "raw", bufferBytes: 1 << 16 });
  sink.writeInBackground(w);
  let told = 0;
  sink.onWritten = () => told++;
  const parts = [noise(50_000, 1), noise(30_000, 2), noise(100_000, 3)];
  // Nothing is written while the writer holds its first write: everything flushed waits (copied) in the queue.
  for (const p of parts) {
    sink.write(p);
    sink.commit();
  }
  assert.equal(w.held, 1);
  assert.equal(sink.waiting, 180_000);
  assert.deepEqual(sink.bytes, { accepted: 180_000, written: 0 });
  assert.equal(sink.drained(180_000), undefined);
  let drained = false;
  const p = sink.drained(100_000)!.then(() => drained = true);
  // 40,000 bytes per write, at most a pipe's worth (64 KiB) asked for at a time, in order.
  await w.take();
  assert.equal(sink.bytes.written, 40_000);
  assert.equal(told, 1);
  assert.equal(drained, false);
  await w.take(); // the rest of the first flush: 10,000
  assert.equal(drained, false);
  await w.take(); // the second: 30,000
  await p;
  assert.equal(drained, true);
  assert.equal(sink.waiting, 100_000);
  while (w.held > 0) await w.take();
  assert.equal(sink.waiting, 0);
  assert.equal(sink.drained(0), undefined);
  assert.deepEqual(w.bytes, concat(parts));
  assert.ok(w.chunks.every((c) => c.length <= 40_000));
  sink.close();
  assert.equal(w.held, 0);
});

Deno.test("PcmStreamSink in the background: a failed write fails the sink; drained() and the next call throw it", async () => {
  const w = new HeldWriter();
  const sink = new PcmStreamSink({ rate: 8000, channels: 1, format: "wav" });
  sink.writeInBackground(w);
  sink.write(noise(1000));
  sink.commit();
  const waiting = sink.drained(0)!;
  await w.take(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
  await assert.rejects(waiting, BrokenPipeError);
  await assert.rejects(sink.drained(0)!, BrokenPipeError);
  assert.throws(() => sink.write(noise(2)), BrokenPipeError);
  assert.throws(() => sink.commit(), BrokenPipeError);
  assert.deepEqual(sink.bytes, { accepted: 1044, written: 0 });
  sink.close(); // quiet: the reader is gone
  assert.throws(() => sink.writeInBackground(w), /after a write/);
});

Deno.test("CallWriter with a background writer: durable counts (and onDurable) follow what the reader took", async () => {
  const w = new HeldWriter();
  const writer = new CallWriter({ outDir: "-", tracks: "from", format: "raw", backgroundWriter: w });
  const heard: number[] = [];
  writer.onDurable = (f) => heard.push(f.index);
  const item = (i: number) => ({
    kind: "audio" as const,
    fragment: new Fragment(i, i * 1000),
    format: { rate: 8000, channels: 1, source: "mime-type" as const },
    from: {
      track: 1,
      startFrame: i * 100,
      pieces: [noise(200, i)],
      frames: 100,
      gapFrames: 0,
      gaps: 0,
      overlapFrames: 0,
      droppedBlocks: 0,
      blocks: 1,
    },
    warnings: [],
  });
  writer.write(item(0)); // commits: queued, not yet taken
  assert.equal(writer.durable.fragments, 0);
  assert.deepEqual(heard, []);
  assert.ok(writer.backlog() === undefined, "200 bytes are within the backlog");
  await w.take();
  assert.equal(writer.durable.fragments, 1);
  assert.deepEqual(heard, [0]);
  writer.write(item(1));
  writer.write(item(2));
  const finished = writer.finish();
  await w.take();
  await w.take();
  await finished;
  assert.equal(writer.durable.fragments, 3);
  assert.deepEqual(heard, [0, 1, 2]);
  writer.close();
  assert.equal(w.held, 0);
  // A failed write: drained() rejects, and the counts stay at what the reader took.
  const w2 = new HeldWriter();
  const failing = new CallWriter({ outDir: "-", tracks: "from", format: "raw", backgroundWriter: w2 });
  failing.write(item(0));
  await w2.take();
  failing.write(item(1));
  const waiting = failing.drained(0)!;
  await w2.take(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
  await assert.rejects(waiting, BrokenPipeError);
  assert.equal(failing.durable.fragments, 1);
  assert.throws(() => failing.write(item(2)), BrokenPipeError);
  failing.close();
  assert.equal(failing.durable.fragments, 1);
});

Deno.test("CallWriter, the stereo mix in the background: a fragment counts once the mix is written through its end", async () => {
  // A review: with both sides' audio unequal, the mixer held part of the fragment while everything it had
  // emitted was written, and the fragment was counted whole: after a signal the done event claimed 100 frames
  // the reader never got 40 of.
  const w = new HeldWriter();
  const writer = new CallWriter({ outDir: "-", stereo: true, format: "raw", backgroundWriter: w });
  const side = (frames: number, seed: number) => ({
    track: 1,
    startFrame: 0,
    pieces: [noise(2 * frames, seed)],
    frames,
    gapFrames: 0,
    gaps: 0,
    overlapFrames: 0,
    droppedBlocks: 0,
    blocks: 1,
  });
  writer.write({
    kind: "audio",
    fragment: new Fragment(0, 0),
    format: { rate: 8000, channels: 1, source: "mime-type" },
    from: side(100, 1),
    to: side(60, 2),
    warnings: [],
  });
  while (w.held > 0) await w.take();
  assert.equal(w.bytes.length, 60 * 4, "the mix of the frames both sides have");
  assert.equal(writer.durable.fragments, 0, "40 frames of it are still in the mixer");
  const finished = writer.finish();
  for (let i = 0; i < 10 && w.held === 0; i++) await Promise.resolve();
  while (w.held > 0) await w.take();
  await finished;
  assert.equal(w.bytes.length, 100 * 4);
  assert.equal(writer.durable.fragments, 1);
  writer.close();
});

Deno.test({
  name: "PcmStreamSink: real closed stdout pipe gives BrokenPipeError" +
    (canRun ? "" : " (skipped: needs --allow-run)"),
  ignore: !canRun || Deno.build.os === "windows",
  fn: async () => {
    await withTempDir("kvsaudio_audio_test_", async (dir) => {
      const script = `${dir}/child.ts`;
      const sinkUrl = new URL("../src/audio/stream_sink.ts", import.meta.url);
      Deno.writeTextFileSync(
        script,
        `import { PcmStreamSink } from ${JSON.stringify(sinkUrl.href)};
const sink = new PcmStreamSink({ rate: 8000, channels: 1, format: "wav" });
try {
  for (let i = 0; i < 10_000; i++) {
    sink.write(new Uint8Array(64_000));
    sink.commit();
  }
} catch (err) {
  sink.close(); // must not throw again
  const e = err as { name: string; message: string; exitCode: number };
  Deno.stderr.writeSync(new TextEncoder().encode(e.name + ": " + e.message));
  Deno.exit(e.exitCode);
}
Deno.exit(99);
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", script],
        stdout: "piped",
        stderr: "piped",
        cwd: dir,
      }).spawn();
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assert.deepEqual([...value!.subarray(0, 4)], ascii("RIFF"));
      await reader.cancel(); // the reader goes away
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
      ]);
      assert.equal(stderr, "BrokenPipeError: output pipe closed");
      assert.equal(status.code, ExitCode.failure);
    });
  },
});

Deno.test("PcmStreamSink: EPIPE code and other errors are mapped", () => {
  const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
  const a = new PcmStreamSink({
    rate: 8000,
    channels: 1,
    format: "raw",
    writer: {
      writeSync() {
        throw epipe;
      },
    },
  });
  a.write(noise(2));
  assert.throws(() => a.close(), BrokenPipeError);
  a.close(); // already closed by the failed close

  const b = new PcmStreamSink({
    rate: 8000,
    channels: 1,
    format: "raw",
    writer: {
      writeSync() {
        throw new Deno.errors.PermissionDenied("nope");
      },
    },
  });
  b.writeSilence(1);
  assert.throws(() => b.commit(), (e: unknown) => {
    assert.ok(e instanceof KvsAudioError && !(e instanceof BrokenPipeError));
    assert.equal(e.exitCode, ExitCode.failure);
    assert.match(e.message, /^standard output: write failed: nope/);
    return true;
  });

  const c = new PcmStreamSink({
    rate: 8000,
    channels: 1,
    format: "raw",
    writer: { writeSync: () => 0 },
  });
  c.writeSilence(1);
  assert.throws(() => c.commit(), /write made no progress/);
});

Deno.test("writeAll: loops over partial writes", () => {
  const w = new ChunkyWriter(7);
  const data = noise(100, 5);
  writeAll(w, data);
  assert.deepEqual(w.bytes, data);
  assert.equal(w.calls, 15);
});

// ---------------------------------------------------------------- stereo

/** Per-sample reference model of the mixer. */
class ReferenceMixer {
  pend: [number[], number[]] = [[], []];
  out: number[] = [];
  padded = [0, 0];
  /** Places padded on each side that its own samples have not reached yet (one timeline). */
  owed = [0, 0];
  late = [0, 0];
  constructor(readonly maxLag: number) {}
  push(side: 0 | 1, samples: number[]) {
    const other = (1 - side) as 0 | 1;
    for (const s of samples) {
      if (this.owed[side] > 0) {
        this.owed[side]--;
        if (s !== 0) this.late[side]++;
        continue;
      }
      if (this.pend[other].length > 0) {
        const o = this.pend[other].shift()!;
        this.pair(side, s, o);
      } else {
        this.pend[side].push(s);
        if (this.pend[side].length > this.maxLag) {
          this.pair(side, this.pend[side].shift()!, 0);
          this.padded[other]++;
          this.owed[other]++;
        }
      }
    }
  }
  pair(side: number, a: number, b: number) {
    if (side === 0) this.out.push(a, b);
    else this.out.push(b, a);
  }
  flush() {
    for (const s of this.pend[0]) this.out.push(s, 0);
    for (const s of this.pend[1]) this.out.push(0, s);
    this.pend = [[], []];
    this.owed = [0, 0];
  }
}

Deno.test("StereoMixer: interleaves small arrays", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000 });
  m.pushLeft(s16(1, 2, 3));
  assert.equal(sink.frames, 0);
  assert.deepEqual(m.pending, { left: 3, right: 0 });
  m.pushRight(s16(-1, -2, -3));
  assert.deepEqual(sink.samples(), [1, -1, 2, -2, 3, -3]);
  assert.deepEqual(m.pending, { left: 0, right: 0 });
  assert.deepEqual(m.flush(), { left: 0, right: 0 });
  assert.equal(sink.frames, 3);
});

Deno.test("StereoMixer: uneven pushes and silence", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000 });
  m.pushLeft(s16(1));
  m.pushRight(s16(10, 20, 30));
  m.pushLeft(s16(2, 3, 4, 5));
  m.pushRightSilence(1);
  m.pushLeftSilence(2);
  m.pushRight(s16(60, 70));
  assert.deepEqual(
    sink.samples(),
    [1, 10, 2, 20, 3, 30, 4, 0, 5, 60, 0, 70],
  );
  m.pushRight(s16(80, 90)); // 80 pairs with left's pending silence
  assert.deepEqual(m.flush(), { left: 1, right: 0 });
  assert.deepEqual(sink.samples().slice(12), [0, 80, 0, 90]);
  assert.equal(m.leftFrames, 8);
  assert.equal(m.rightFrames, 8);
  assert.deepEqual(m.padded, { left: 0, right: 0 });
  // Keeps working after flush.
  m.pushRight(s16(100));
  m.pushLeft(s16(200));
  assert.deepEqual(sink.samples().slice(16), [200, 100]);
});

Deno.test("StereoMixer: odd byteOffset inputs", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000 });
  const backing = new Uint8Array(1 + 6);
  backing.set(s16(7, 8, 9), 1);
  const odd = backing.subarray(1); // byteOffset 1
  assert.equal(odd.byteOffset % 2, 1);
  m.pushLeft(odd);
  backing.fill(0xff); // the mixer must not keep the caller's view
  const backing2 = new Uint8Array(3 + 4);
  backing2.set(s16(-7, -8), 3);
  m.pushRight(backing2.subarray(3));
  m.pushRight(s16(-9));
  assert.deepEqual(sink.samples(), [7, -7, 8, -8, 9, -9]);
  assert.throws(() => m.pushLeft(new Uint8Array(3)), RangeError);
});

Deno.test("StereoMixer: long odd-offset pushes span scratch chunks", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000, maxLagFrames: Infinity });
  const n = 20_001; // > 8192-sample scratch chunk, twice
  const left = noise(n * 2 + 1, 11).subarray(1);
  const right = noise(n * 2 + 3, 12).subarray(3);
  m.pushLeft(left);
  m.pushRight(right);
  assert.equal(sink.frames, n);
  const out = concat(sink.parts);
  for (let i = 0; i < n; i++) {
    assert.equal(out[4 * i], left[2 * i]);
    assert.equal(out[4 * i + 1], left[2 * i + 1]);
    assert.equal(out[4 * i + 2], right[2 * i]);
    assert.equal(out[4 * i + 3], right[2 * i + 1]);
  }
});

Deno.test("StereoMixer: lag bound pads the lagging side", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000, maxLagFrames: 4 });
  m.pushLeft(s16(1, 2, 3));
  assert.equal(sink.frames, 0);
  m.pushLeft(s16(4, 5, 6, 7)); // 7 ahead: 3 oldest written with silence
  assert.deepEqual(sink.samples(), [1, 0, 2, 0, 3, 0]);
  assert.deepEqual(m.pending, { left: 4, right: 0 });
  assert.deepEqual(m.padded, { left: 0, right: 3 });
  assert.equal(m.rightFrames, 3);
  m.pushLeftSilence(10); // all 4 pending + 6 silence go out
  assert.deepEqual(m.pending, { left: 4, right: 0 });
  assert.deepEqual(m.padded, { left: 0, right: 13 });
  // One timeline: the right side's own 13 frames for the padded places (its
  // gap, as silence) take those places instead of landing after them…
  m.pushRightSilence(13);
  assert.equal(sink.frames, 13);
  assert.equal(m.rightFrames, 13);
  m.pushRight(s16(50, 51)); // …so its audio pairs with the left audio of the same place
  assert.deepEqual(sink.samples().slice(-4), [0, 50, 0, 51]);
  assert.deepEqual(m.flush(), { left: 0, right: 2 });
  assert.equal(m.leftFrames, 17);
  assert.equal(m.rightFrames, 17);
  assert.equal(sink.frames, 17);
  assert.deepEqual(m.padded, { left: 0, right: 13 });
  assert.deepEqual(m.late, { left: 0, right: 0 });
  // maxLagFrames 0: everything goes out immediately.
  const sink0 = new MemorySink();
  const m0 = new StereoMixer(sink0, { rate: 8000, maxLagFrames: 0 });
  m0.pushRight(s16(5, 6));
  assert.deepEqual(sink0.samples(), [0, 5, 0, 6]);
  assert.deepEqual(m0.padded, { left: 2, right: 0 });
  // Audio that arrives for places already padded is dropped and counted.
  m0.pushLeft(s16(7, 0, 9));
  assert.deepEqual(sink0.samples(), [0, 5, 0, 6, 9, 0]);
  assert.deepEqual(m0.late, { left: 1, right: 0 }, "7 was late; the 0 sample is silence");
});

Deno.test("StereoMixer: a gap longer than the lag bound on both sides keeps them aligned", () => {
  // Was: the first side's gap went out against padding on the other, whose own
  // gap then landed after that padding, shifting it by the gap's length.
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000, maxLagFrames: 4 });
  m.pushLeft(s16(1, 2));
  m.pushRight(s16(-1, -2));
  m.pushLeftSilence(10);
  m.pushLeft(s16(3, 4));
  m.pushRightSilence(10);
  m.pushRight(s16(-3, -4));
  m.flush();
  const out = sink.samples();
  assert.equal(sink.frames, 14);
  assert.deepEqual(out.slice(0, 4), [1, -1, 2, -2]);
  assert.deepEqual(out.slice(-4), [3, -3, 4, -4]);
  assert.deepEqual(m.late, { left: 0, right: 0 });
});

Deno.test("StereoMixer: default lag bound is 5 s and memory stays bounded", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000 });
  assert.equal(m.maxLagFrames, 40_000);
  const chunk = noise(320, 4);
  for (let i = 0; i < 1000; i++) m.pushLeft(chunk); // 160k frames, no right
  assert.deepEqual(m.pending, { left: 40_000, right: 0 });
  assert.equal(m.padded.right, 160_000 - 40_000);
  assert.equal(sink.frames, 120_000);
});

Deno.test("StereoMixer: flush pads the shorter side", () => {
  const sink = new MemorySink();
  const m = new StereoMixer(sink, { rate: 8000 });
  m.pushRight(s16(1, 2, 3));
  m.pushLeft(s16(9));
  assert.deepEqual(m.flush(), { left: 2, right: 0 });
  assert.deepEqual(sink.samples(), [9, 1, 0, 2, 0, 3]);
  assert.deepEqual(m.flush(), { left: 0, right: 0 });
  assert.deepEqual(m.padded, { left: 0, right: 0 }, "tail is not lag padding");
});

Deno.test("StereoMixer: matches a per-sample reference on random pushes", () => {
  for (const maxLag of [0, 1, 7, 100, 5000, Infinity]) {
    const sink = new MemorySink();
    const m = new StereoMixer(sink, { rate: 8000, maxLagFrames: maxLag });
    const ref = new ReferenceMixer(maxLag);
    let x = 12345;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let step = 0; step < 400; step++) {
      const side = rnd(2) as 0 | 1;
      const frames = rnd(5) === 0 ? rnd(12_000) : rnd(300);
      if (rnd(4) === 0) {
        if (side === 0) m.pushLeftSilence(frames);
        else m.pushRightSilence(frames);
        ref.push(side, new Array(frames).fill(0));
      } else {
        const samples = Array.from({ length: frames }, () => rnd(65536) - 32768);
        const bytes = s16(...samples);
        const odd = rnd(2) === 1;
        const view = odd ? concat([new Uint8Array(1), bytes]).subarray(1) : bytes;
        if (side === 0) m.pushLeft(view);
        else m.pushRight(view);
        ref.push(side, samples);
      }
      if (maxLag !== Infinity) {
        assert.ok(m.pending.left <= maxLag && m.pending.right <= maxLag);
      }
      assert.ok(m.pending.left === 0 || m.pending.right === 0);
    }
    assert.deepEqual(m.padded, { left: ref.padded[0], right: ref.padded[1] });
    assert.deepEqual(m.late, { left: ref.late[0], right: ref.late[1] });
    m.flush();
    ref.flush();
    assert.deepEqual(sink.samples(), ref.out, `maxLag ${maxLag}`);
    assert.equal(m.leftFrames, m.rightFrames);
    assert.equal(m.leftFrames, sink.frames);
  }
});

Deno.test("StereoMixer: into a stereo WAV file", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const path = `${dir}/stereo.wav`;
    const sink = PcmFileSink.open(path, {
      rate: 8000,
      channels: 2,
      format: "wav",
    });
    const m = new StereoMixer(sink, { rate: 8000 });
    m.pushLeft(s16(1, 2));
    m.pushRight(s16(3));
    m.flush();
    sink.close();
    const { info, data } = readValidWav(path);
    assert.equal(info.channels, 2);
    assert.deepEqual(data, s16(1, 3, 2, 0));
  });
});

Deno.test("StereoMixer: rejects a mono sink and bad options", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const mono = PcmFileSink.open(`${dir}/mono.wav`, {
      rate: 8000,
      channels: 1,
      format: "wav",
    });
    assert.throws(() => new StereoMixer(mono, { rate: 8000 }), /2-channel/);
    mono.close();
    assert.throws(
      () => new StereoMixer(new MemorySink(), { rate: 8000, maxLagFrames: -1 }),
      RangeError,
    );
    assert.throws(
      () => new StereoMixer(new MemorySink(), { rate: 0 }),
      RangeError,
    );
  });
});

// ---------------------------------------------------------------- external tools

function findTool(name: string): string | undefined {
  for (const dir of ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/bin"]) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

const ffprobe = findTool("ffprobe");
const sox = findTool("sox");

Deno.test({
  name: "external: ffprobe reads our WAV (skipped: needs ffprobe and --allow-run)",
  ignore: !ffprobe || !canRun,
  fn: async () => {
    await withTempDir("kvsaudio_audio_test_", async (dir) => {
      const path = `${dir}/probe.wav`;
      const sink = PcmFileSink.open(path, { rate: 8000, channels: 2, format: "wav" });
      sink.writeSilence(8000);
      sink.close();
      const out = await new Deno.Command(ffprobe!, {
        args: ["-v", "error", "-show_streams", "-of", "json", path],
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const stream = JSON.parse(new TextDecoder().decode(out.stdout)).streams[0];
      assert.equal(stream.codec_name, "pcm_s16le");
      assert.equal(stream.sample_rate, "8000");
      assert.equal(stream.channels, 2);
    });
  },
});

Deno.test({
  name: "external: sox reads our WAV (skipped: needs sox and --allow-run)",
  ignore: !sox || !canRun,
  fn: async () => {
    await withTempDir("kvsaudio_audio_test_", async (dir) => {
      const path = `${dir}/sox.wav`;
      const sink = PcmFileSink.open(path, { rate: 8000, channels: 1, format: "wav" });
      sink.writeSilence(8000);
      sink.close();
      const out = await new Deno.Command(sox!, {
        args: ["--i", "-s", path],
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "8000");
    });
  },
});

Deno.test("stereo.wav keeps up with the mono files while one side has no audio: each commit writes the mix through", async () => {
  // Was: the mix held the other side's audio up to 5 s while one side had no block (a one-track stream, a
  // direction silent for a while), though the fragment was counted written: after kill -9 that audio was missing.
  const doc = (i: number, withTo: boolean, toTrack = withTo) =>
    liveDocument(
      [namedTracks(["AUDIO_FROM_CUSTOMER", toTrack ? "AUDIO_TO_CUSTOMER" : undefined])],
      1000 + 128 * i,
      [0, 64].flatMap((rel) => [
        simpleBlock(1, rel, rel === 0, noise(1024, 10 * i + rel)),
        ...(withTo ? [simpleBlock(2, rel, false, noise(1024, 7 * i + rel + 1))] : []),
      ]),
    );
  const oneTrack = concat([0, 1, 2, 3, 4].map((i) => doc(i, false)));
  // The agent's track there, without blocks for three fragments: the mix trails by at most one fragment.
  const toLate = concat([0, 1, 2, 3, 4, 5].map((i) => doc(i, i >= 3, true)));
  // (One track: up to its last block's start, one block behind; the other track there but silent: a fragment.)
  for (const [bytes, trail] of [[oneTrack, 512], [toLate, 1024]] as const) {
    await withTempDir("kvsaudio-mix-", async (dir) => {
      const w = new CallWriter({ outDir: dir, format: "wav", stereo: true, tracks: "both", force: false });
      w.prepare();
      let from = 0;
      for await (const item of demuxConnect(assembleFragments([bytes]))) {
        if (item.kind !== "audio") continue;
        w.write(item);
        from += item.from?.frames ?? 0;
        const st = await readWav(`${dir}/stereo.wav`);
        assert.ok(st.data.length / 4 >= from - trail, `stereo.wav after fragment ${item.fragment.index}`);
      }
      w.close();
      const left = (await readWav(`${dir}/from_customer.wav`)).data;
      const right = (await readWav(`${dir}/to_customer.wav`)).data;
      sameBytes((await readWav(`${dir}/stereo.wav`)).data, interleave(left, right), "the mix = the mono files");
      assert.equal(w.stereoLate, 0);
    });
  }
});

Deno.test("stereo.wav = the mono files interleaved, committed after every fragment, for tracks on offset block grids that come and go", async () => {
  // A review (240 random streams): writing the mix through the end of a fragment where one track was absent
  // dropped that track's first block when its grid was offset and it came back in the next fragment.
  let seed = 0x5eed;
  const rnd = () => {
    seed ^= seed << 13, seed >>>= 0, seed ^= seed >>> 17, seed ^= seed << 5, seed >>>= 0;
    return seed / 4294967296;
  };
  const pcm = (ms: number, sign: number) => {
    const b = new Uint8Array(1024), v = new DataView(b.buffer);
    for (let i = 0; i < 512; i++) v.setInt16(2 * i, sign * (1 + ((ms * 8 + i) % 3000)), true);
    return b;
  };
  await withTempDir("kvsaudio-grid-", async (dir) => {
    for (let stream = 0; stream < 120; stream++) {
      const n = 3 + Math.floor(rnd() * 8);
      const off = [Math.floor(rnd() * 64), Math.floor(rnd() * 64)];
      const carry: { track: number; ms: number }[][] = [[], []];
      const docs: Uint8Array[] = [];
      for (let k = 0; k < n; k++) {
        const blocks: { track: number; ms: number }[] = [];
        const names: (string | undefined)[] = [];
        for (let t = 0; t < 2; t++) {
          const x = rnd();
          const mode = x < 0.6 ? "blocks" : x < 0.8 ? "empty" : "absent";
          names.push(mode === "absent" ? undefined : t ? "AUDIO_TO_CUSTOMER" : "AUDIO_FROM_CUSTOMER");
          if (mode !== "blocks") {
            carry[t] = [];
            continue;
          }
          blocks.push(...carry[t]);
          carry[t] = [];
          for (let ms = off[t] + k * 1024 - (off[t] > 0 ? 64 : 0); ms < (k + 1) * 1024; ms += 64) {
            if (ms < k * 1024) continue;
            // A block at the boundary sometimes comes in the next fragment.
            if (ms + 64 >= (k + 1) * 1024 && rnd() < 0.3) carry[t].push({ track: t + 1, ms });
            else blocks.push({ track: t + 1, ms });
          }
        }
        if (names.every((n) => n === undefined)) continue;
        blocks.sort((a, b) => a.ms - b.ms);
        const base = blocks.length ? blocks[0].ms : k * 1024;
        docs.push(liveDocument(
          [namedTracks(names)],
          100000 + base,
          blocks.map((b, j) => simpleBlock(b.track, b.ms - base, j === 0, pcm(b.ms, b.track === 1 ? 1 : -1))),
        ));
      }
      const w = new CallWriter({ outDir: dir, format: "wav", stereo: true, tracks: "both", force: true });
      w.prepare();
      for await (const item of demuxConnect(assembleFragments([concat(docs)]))) {
        if (item.kind === "audio") w.write(item);
      }
      w.close();
      const left = (await readWav(`${dir}/from_customer.wav`)).data;
      const right = (await readWav(`${dir}/to_customer.wav`)).data;
      sameBytes((await readWav(`${dir}/stereo.wav`)).data, interleave(left, right), `stream ${stream}`);
      assert.equal(w.stereoLate, 0, `stream ${stream}`);
    }
  });
});

Deno.test("CallWriter --force: an output it cannot open leaves every file that was there as it was (no audio yet)", async () => {
  // --force emptied each existing file as it opened it: when a later one could not be opened (a root-owned
  // stereo.wav, an immutable file, a read-only mount, no inodes left for a new file), the run failed before any
  // audio, and the user's earlier WAVs were gone.
  await withTempDir("kvsaudio-force-", async (dir) => {
    const stream = concat([liveDocument([namedTracks(["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"])], 100000, [
      simpleBlock(1, 0, true, new Uint8Array(64).fill(1)),
      simpleBlock(2, 0, true, new Uint8Array(64).fill(2)),
    ])]);
    const old = new Uint8Array(1000).fill(7);
    const openSync = Deno.openSync;
    const refuse = (what: string, refused: string, present: string[], more?: () => Promise<void>) => async () => {
      for (const name of ["from_customer.wav", "to_customer.wav", "stereo.wav"]) {
        await Deno.remove(`${dir}/${name}`).catch(() => {});
      }
      for (const name of present) await Deno.writeFile(`${dir}/${name}`, old);
      await more?.();
      // (As root, no permission is refused: the refusal is the file system's answer, simulated.)
      Deno.openSync = ((path: string | URL, options?: Deno.OpenOptions) => {
        if (String(path).endsWith(`/${refused}`) && (options?.write || options?.createNew)) {
          throw new Deno.errors.PermissionDenied("Permission denied (os error 13)");
        }
        return openSync(path, options);
      }) as typeof Deno.openSync;
      let err: unknown;
      try {
        const w = new CallWriter({ outDir: dir, format: "wav", stereo: true, tracks: "both", force: true });
        w.prepare();
        try {
          for await (const item of demuxConnect(assembleFragments([stream]))) {
            if (item.kind === "audio") w.write(item);
          }
        } catch (e) {
          err = e;
          w.close(false);
        }
      } finally {
        Deno.openSync = openSync;
      }
      assert.ok(err instanceof KvsAudioError && err.exitCode === ExitCode.failure, `${what}: exit 1 (${err})`);
      assert.match(String((err as Error).message), new RegExp(`cannot create .*${refused}: Permission denied`));
      for (const name of present) {
        assert.deepEqual(await Deno.readFile(`${dir}/${name}`), old, `${what}: ${name} as it was`);
      }
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !more || n !== "from_customer.wav");
      assert.deepEqual(left.sort(), [...present].sort(), `${what}: no file of this run left behind`);
    };
    // An existing stereo.wav that cannot be opened for writing: checked before any file is emptied.
    await refuse("existing", "stereo.wav", ["from_customer.wav", "to_customer.wav", "stereo.wav"])();
    // A new stereo.wav that cannot be created: created before the existing files are emptied.
    await refuse("new", "stereo.wav", ["from_customer.wav", "to_customer.wav"])();
    // The first of them, existing and refused, with a new one after it.
    await refuse("first", "from_customer.wav", ["from_customer.wav"])();
    // A symbolic link (which --force replaces by a file of its own) is not unlinked before a new file fails.
    await Deno.writeFile(`${dir}/target`, old);
    const link = async () => {
      await Deno.remove(`${dir}/from_customer.wav`).catch(() => {});
      await Deno.symlink(`${dir}/target`, `${dir}/from_customer.wav`);
    };
    await refuse("link", "stereo.wav", ["to_customer.wav", "target"], link)();
    assert.equal((await Deno.lstat(`${dir}/from_customer.wav`)).isSymlink, true, "the link is still there");
  });
});

Deno.test("CallWriter: an output directory named with a trailing `/.`, and one another run took away before the first audio", async () => {
  await withTempDir("kvsaudio-outdir-", async (dir) => {
    const stream = concat([liveDocument([namedTracks(["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"])], 100000, [
      simpleBlock(1, 0, true, new Uint8Array(64).fill(1)),
      simpleBlock(2, 0, true, new Uint8Array(64).fill(2)),
    ])]);
    const run = async (w: CallWriter) => {
      for await (const item of demuxConnect(assembleFragments([stream]))) {
        if (item.kind === "audio") w.write(item);
      }
      w.close();
    };
    // `mkdir -p new/.` makes `new`; the system's recursive mkdir refused it ("No such file or directory").
    for (const out of [`${dir}/new/.`, `${dir}/new2/./.`, `${dir}/new3//.`]) {
      const w = new CallWriter({ outDir: out, format: "wav", stereo: false, tracks: "both", force: false });
      w.prepare();
      await run(w);
      assert.equal((await readWav(`${out}/from_customer.wav`)).data.length, 64, out);
    }
    // Two runs start on one new directory (each writing its own track); the first to fail, before any audio,
    // removes it as its own; the other then made its files in a directory that was gone (exit 1).
    const shared = `${dir}/shared`;
    const a = new CallWriter({ outDir: shared, format: "wav", stereo: false, tracks: "from", force: false });
    const b = new CallWriter({ outDir: shared, format: "wav", stereo: false, tracks: "to", force: false });
    a.prepare();
    b.prepare();
    a.close(false);
    await run(b);
    assert.equal((await readWav(`${shared}/to_customer.wav`)).data.length, 64);
  });
});

Deno.test("CallWriter --append --stereo: a mix left behind the mono files (failed write, kill -9) is brought up to them from their audio", async () => {
  // A tester: after a full disk, stereo.wav ended one block short of from_customer.wav (the mix is written a block
  // behind a side with no track), and the resume with --append padded it with silence: 64 ms of the customer's
  // voice missing from the mix. The mono files hold that audio.
  await withTempDir("kvsaudio-mixfill-", async (dir) => {
    const s = connectStream({ fragments: 6, tracks: ["AUDIO_FROM_CUSTOMER"] });
    const run = async (bytes: Uint8Array, append: boolean) => {
      const w = new CallWriter({ outDir: dir, format: "wav", stereo: true, tracks: "both", force: false, append });
      w.prepare();
      for await (const item of demuxConnect(assembleFragments([bytes]))) {
        if (item.kind === "audio") w.write(item);
      }
      w.close();
    };
    await run(concat(s.fragments.slice(0, 3).map((f) => f.bytes)), false);
    // As a failed write or kill -9 leaves it: the mix's header counts 700 frames less than the mono file holds.
    const path = `${dir}/stereo.wav`;
    const mix = await Deno.readFile(path);
    const dataBytes = parseWavHeader(mix).dataBytes - 700 * 4;
    const cut = new Uint8Array(44 + dataBytes);
    cut.set(mix.subarray(0, cut.length));
    cut.set(wavHeader({ rate: 8000, channels: 2, dataBytes }), 0);
    await Deno.writeFile(path, cut);
    // A resume that brings no audio (killed while it waited for more after its last fragment) fills it too.
    const before = await Deno.readFile(path);
    await run(concat([liveDocument([namedTracks(["AUDIO_FROM_CUSTOMER"])], 5000, [])]), true);
    const three = (await readWav(`${dir}/from_customer.wav`)).data;
    assert.equal(three.length, 3 * 8192 * 2);
    sameBytes(
      (await readWav(path)).data,
      interleave(three, new Uint8Array(three.length)),
      "the mix, no audio appended",
    );
    await Deno.writeFile(path, before);
    await run(concat(s.fragments.slice(3).map((f) => f.bytes)), true);
    const from = (await readWav(`${dir}/from_customer.wav`)).data;
    assert.equal(from.length, 6 * 8192 * 2);
    sameBytes((await readWav(path)).data, interleave(from, new Uint8Array(from.length)), "the mix of the whole call");
  });
});

Deno.test("CallWriter: errors name the library's options, or the CLI's flags with optionStyle cli", async () => {
  await withTempDir("kvsaudio_audio_test_", (dir) => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof UsageError, String(e));
        return e.message;
      }
      assert.fail("no error");
    };
    // Was: the library's errors named CLI flags (`--force`, `--tracks`) that a library user has no way to pass.
    for (
      const [style, stdout, appendForce, appendStdout, overwrite] of [
        [
          undefined,
          'with outDir "-", choose one track (tracks: "from" or "to") or the stereo mix (stereo: true)',
          "append: true and force: true exclude each other",
          'append: true continues files in an output directory, not outDir "-"',
          "(use force: true)",
        ],
        [
          "cli",
          "with --out -, choose one track (--tracks from|to) or the stereo mix (--stereo)",
          "--append and --force exclude each other",
          "--append continues files in an output directory, not --out -",
          "(use --force)",
        ],
      ] as const
    ) {
      const optionStyle = style;
      assert.equal(message(() => new CallWriter({ outDir: "-", optionStyle })), stdout);
      assert.equal(message(() => new CallWriter({ outDir: dir, append: true, force: true, optionStyle })), appendForce);
      assert.equal(
        message(() => new CallWriter({ outDir: "-", tracks: "to", append: true, optionStyle })),
        appendStdout,
      );
      Deno.writeTextFileSync(`${dir}/to_customer.wav`, "precious");
      assert.equal(
        message(() => new CallWriter({ outDir: dir, optionStyle }).prepare()),
        `refusing to overwrite ${dir}/to_customer.wav ${overwrite}`,
      );
      Deno.removeSync(`${dir}/to_customer.wav`);
      const path = `${dir}/x.wav`;
      Deno.writeTextFileSync(path, "precious");
      assert.equal(
        message(() => PcmFileSink.open(path, { rate: 8000, channels: 1, format: "wav", optionStyle })),
        `refusing to overwrite ${path} ${overwrite}`,
      );
      Deno.removeSync(path);
    }
  });
});
