/**
 * Audio output: WAV headers, file and stdout sinks for s16le PCM, and the
 * stereo mixer.
 *
 * @example
 * ```ts
 * import { openSink, StereoMixer } from "./mod.ts";
 * const sink = openSink("call.wav", { rate: 8000, channels: 2, format: "wav", force: true });
 * const mixer = new StereoMixer(sink, { rate: 8000 });
 * mixer.pushLeft(new Uint8Array(320));
 * mixer.pushRight(new Uint8Array(320));
 * mixer.flush();
 * sink.close();
 * ```
 * @module
 */

export {
  parseWavHeader,
  WAV_HEADER_BYTES,
  WAV_MAX_SIZE,
  wavHeader,
  type WavHeaderOptions,
  type WavInfo,
} from "./wav.ts";
export type { AudioFormat, AudioSink } from "./sink.ts";
export type { OptionStyle } from "./option_names.ts";
export { type SyncWriter, writeAll } from "./write_all.ts";
export { DEFAULT_BUFFER_BYTES, PcmBuffer } from "./pcm_buffer.ts";
export { BufferedSink } from "./buffered_sink.ts";
export { type FileSinkOptions, PcmFileSink } from "./file_sink.ts";
export { type AsyncWriter, BrokenPipeError, PcmStreamSink, type StreamSinkOptions } from "./stream_sink.ts";
export { openSink } from "./open_sink.ts";
export { type SideFrames, StereoMixer, type StereoMixerOptions } from "./stereo.ts";
