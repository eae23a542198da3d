/**
 * A streamed media response body (GetMedia, GetMediaForFragmentList) as an
 * async iterable of `Uint8Array` chunks, delivered as they arrive.
 *
 * @example
 * ```ts
 * import { GetMediaCommand, type KinesisVideoMediaClient } from "@aws-sdk/client-kinesis-video-media";
 * import { mediaBody } from "./media_body.ts";
 * async function example(mediaClient: KinesisVideoMediaClient, parser: { push(chunk: Uint8Array): void }) {
 *   const dataEndpoint = "https://s-1.kinesisvideo.us-east-1.amazonaws.com";
 *   const input = { StreamName: "calls", StartSelector: { StartSelectorType: "NOW" as const } };
 *   const out = await mediaClient.send(new GetMediaCommand(input));
 *   const body = mediaBody(out.Payload, { dataEndpoint, contentType: out.ContentType });
 *   for await (const chunk of body) parser.push(chunk);
 * }
 * ```
 * @module
 */

import { AwsError } from "../errors.ts";
import { redact } from "./errors.ts";

/** A media response body. Iterate it once; `close()` if you stop early without iterating. */
export interface MediaBody extends AsyncIterable<Uint8Array> {
  /** `Content-Type` KVS sent (commonly `video/webm`; do not depend on it). */
  readonly contentType?: string;
  /** The data endpoint the body comes from. */
  readonly dataEndpoint: string;
  /** Drop the connection. Safe to call more than once. */
  close(): void;
}

/** What the SDK hands back as `Payload`: a Node Readable in Deno, a web stream elsewhere. */
type Payload = unknown;

interface Destroyable {
  destroy(error?: Error): void;
}

function isDestroyable(x: unknown): x is Destroyable {
  return typeof x === "object" && x !== null && typeof (x as Destroyable).destroy === "function";
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === "object" && x !== null && Symbol.asyncIterator in x;
}

function isWebStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof x === "object" && x !== null && typeof (x as ReadableStream).getReader === "function";
}

/** A view on a chunk (Buffer or string) as a plain Uint8Array, without copying. */
function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`unexpected body chunk type ${typeof chunk}`);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Wrap an SDK streaming `Payload`. Chunks are yielded as they arrive, never
 * buffered. A dropped connection surfaces as the underlying error (e.g. a
 * plain `Error` with `code: "ECONNRESET"`, message `aborted`); when `signal`
 * aborts, iteration throws the signal's reason and the connection is dropped.
 *
 * @example
 * ```ts
 * async function example(out: { Payload?: unknown }) {
 *   const body = mediaBody(out.Payload, { dataEndpoint: "https://s-1.kinesisvideo.us-east-1.amazonaws.com" });
 *   for await (const chunk of body) console.log(chunk.length);
 * }
 * ```
 */
export function mediaBody(
  payload: Payload,
  info: { dataEndpoint: string; contentType?: string; signal?: AbortSignal; api?: string },
): MediaBody {
  if (payload === undefined || payload === null) throw new AwsError("KVS returned no media body");
  let closed = false;
  let iterated = false;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    if (isDestroyable(payload)) payload.destroy();
    else if (reader) reader.cancel().catch(() => {});
    else if (isWebStream(payload)) payload.cancel().catch(() => {});
  };
  const type = info.contentType ?? "";
  if (/^\s*(text\/|application\/(json|xml|xhtml)|[^;]*\+(json|xml)\b)/i.test(type)) {
    // A captive portal's page or a proxy's notice, answered with HTTP 200: not media, and not bad stream data.
    close();
    throw new AwsError(
      `${info.api ?? "GetMedia"}: ${info.dataEndpoint} answered HTTP 200 (${
        redact(type).slice(0, 60)
      }) with something that is not a KVS media body: check --endpoint-url and the network`,
    );
  }
  const { signal } = info;

  async function* chunks(): AsyncGenerator<Uint8Array> {
    const onAbort = () => close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) throw abortReason(signal);
      if (isAsyncIterable(payload)) {
        for await (const chunk of payload) {
          const bytes = toBytes(chunk);
          if (bytes.length) yield bytes;
        }
      } else if (isWebStream(payload)) {
        reader = payload.getReader();
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          if (r.value.length) yield toBytes(r.value);
        }
      } else {
        throw new AwsError("KVS returned a media body kvsaudio cannot read");
      }
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      close();
    }
  }

  return {
    contentType: info.contentType,
    dataEndpoint: info.dataEndpoint,
    close,
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      if (iterated) throw new TypeError("a media body can be iterated only once");
      iterated = true;
      return chunks();
    },
  };
}
