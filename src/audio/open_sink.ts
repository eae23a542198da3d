/**
 * {@link openSink}: pick the sink for an output path (`"-"` is stdout).
 *
 * @example
 * ```ts
 * import { openSink } from "./open_sink.ts";
 * const sink = openSink("-", { rate: 8000, channels: 1, format: "wav" });
 * sink.close();
 * ```
 * @module
 */

import { type FileSinkOptions, PcmFileSink } from "./file_sink.ts";
import type { AudioSink } from "./sink.ts";
import { PcmStreamSink } from "./stream_sink.ts";

/**
 * Open a {@link PcmStreamSink} on `Deno.stdout` when `path` is `"-"` (WAV
 * then gets a streaming header; `force` is ignored), otherwise a
 * {@link PcmFileSink} (which refuses to overwrite without `force`).
 *
 * @example
 * ```ts
 * import { openSink } from "./open_sink.ts";
 * const sink = openSink("agent.wav", { rate: 8000, channels: 1, format: "wav", force: true });
 * sink.writeSilence(8000);
 * sink.close();
 * ```
 */
export function openSink(path: string, options: FileSinkOptions): AudioSink {
  if (path === "-") {
    return new PcmStreamSink({
      rate: options.rate,
      channels: options.channels,
      format: options.format,
      bufferBytes: options.bufferBytes,
    });
  }
  return PcmFileSink.open(path, options);
}
