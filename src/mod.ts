/**
 * kvsaudio as a library: the pipeline stages that turn a Kinesis Video
 * Streams GetMedia body written by Amazon Connect into WAV files.
 *
 * bytes → {@linkcode tokenizeBatches} (EBML tokens) → {@linkcode fragmentsFromTokens}
 * (fragments) → {@linkcode demuxConnect} (per-direction PCM) → {@linkcode CallWriter} (WAV sinks)
 *
 * @example
 * ```ts
 * import { assembleFragments, CallWriter, demuxConnect } from "./mod.ts";
 * const file = await Deno.open("getmedia.mkv");
 * const writer = new CallWriter({ outDir: "out", format: "wav", stereo: false, tracks: "both", force: true });
 * writer.prepare();
 * for await (const item of demuxConnect(assembleFragments(file.readable))) {
 *   if (item.kind === "audio") writer.write(item);
 * }
 * writer.close(); // out/from_customer.wav, out/to_customer.wav
 * ```
 * @module
 */

export { DataError, type DataErrorLocation, ExitCode, KvsAudioError, KvsStreamError, UsageError } from "./errors.ts";

export { formatId, readBlockVint, readId, readSize, UNKNOWN_SIZE, type Vint } from "./ebml/vint.ts";
export { canDescend, elementById, elementByName, type ElementDef, type ElementType, ID } from "./ebml/elements.ts";
export { decodeValue } from "./ebml/decode.ts";
export type { EbmlToken, EbmlValue, PrefixTaken, TokenBatch, TokenKind, TokenSink } from "./ebml/token.ts";
export { type ByteSource, EbmlTokenizer, tokenize, tokenizeBatches, type TokenizerOptions } from "./ebml/tokenizer.ts";

export { type Block, type BlockHeader, type Lacing, parseBlock, readBlockHeader } from "./mkv/block.ts";
export { BlockTable } from "./mkv/block_table.ts";
export {
  type AudioSettings,
  type ClosedBy,
  type ClusterInfo,
  Fragment,
  type KvsTags,
  parseFragmentNumber,
  parseKvsTimestamp,
  type Tag,
  type TagPosition,
  type Track,
} from "./mkv/fragment.ts";
export { type ElementNode, findAll, findFirst } from "./mkv/tree.ts";
export {
  assembleFragments,
  type AssembleOptions,
  FragmentAssembler,
  fragmentOpenAt,
  fragmentsFromTokens,
  type RereadableSource,
} from "./mkv/assembler.ts";

export { type MimeType, parseMimeType, type StreamFormat, streamFormat } from "./connect/format.ts";
export { type Direction, DIRECTIONS, mapTracks, TRACK_NAMES, type TrackMap } from "./connect/tracks.ts";
export {
  type AudioItem,
  ConnectDemuxer,
  type ConnectItem,
  demuxConnect,
  type DemuxOptions,
  notConnectError,
  type PcmPiece,
  type StopItem,
  type StopReason,
  type TrackAudio,
} from "./connect/demuxer.ts";

export {
  CallWriter,
  type CallWriterOptions,
  type DurableCounts,
  FILE_NAMES,
  type TrackChoice,
} from "./audio/call_writer.ts";
export * from "./audio/mod.ts";
