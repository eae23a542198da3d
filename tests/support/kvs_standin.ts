/**
 * A loopback stand-in for the Kinesis Video Streams HTTP API, for tests.
 *
 * It speaks the rest-json shapes the AWS SDK v3 clients send and expect
 * (`getDataEndpoint`, `getMedia`, `listFragments`, `getMediaForFragmentList`),
 * answers errors the way AWS does (`x-amzn-ErrorType`, `x-amzn-RequestId`,
 * `{"message": ...}`), checks that every request is SigV4-signed, records
 * every request, and can inject faults: dropped connections, early ends,
 * throttling, server errors, in-band error fragments and stalls.
 *
 * @example
 * ```ts
 * import { startStandin } from "./kvs_standin.ts";
 * const enc = new TextEncoder();
 * const standin = startStandin({
 *   streams: { "my-stream": [{ fragmentNumber: "1", producerMs: 1000, serverMs: 1100, bytes: enc.encode("frag-1|") }] },
 * });
 * // point the SDK at standin.url (endpoint for control and data plane) ...
 * await standin.close();
 * ```
 * @module
 */

import { seededRandom } from "../../src/kvs/backoff.ts";
import { concat } from "./mkv_writer.ts";

/** One fragment of a stand-in stream. */
export interface StandinFragment {
  /** Fragment number (decimal string in real KVS). */
  fragmentNumber: string;
  /** Producer timestamp, epoch ms. */
  producerMs: number;
  /** Server timestamp, epoch ms. */
  serverMs: number;
  /** Continuation token KVS reports for this fragment; default the fragment number. */
  continuationToken?: string;
  /** The bytes the stand-in sends for this fragment (any bytes will do). */
  bytes: Uint8Array;
  /** Duration reported by ListFragments; default 1024. */
  lengthMs?: number;
}

/**
 * Faults to inject. All optional; each counter belongs to the stand-in and is
 * used up as it fires.
 */
export interface FaultPlan {
  /**
   * For successive getMedia calls: reset the connection (not a clean end)
   * after sending K bytes of that response. `[1000, 5000]` drops the first
   * call at byte 1000 and the second at byte 5000.
   */
  dropAtByte?: number[];
  /** Like `dropAtByte`, but end the body cleanly after K bytes. */
  endEarlyAtByte?: number[];
  /** The next N API calls answer 400 ClientLimitExceededException. */
  throttle?: number;
  /** The next N API calls answer 500 InternalFailure. */
  serverErrors?: number;
  /**
   * Once: after serving N fragments in a getMedia body, send `bytes` (an
   * in-band error fragment built by the caller) and end the body. If the body
   * runs out of fragments first (not live), the bytes are sent at its end.
   * `code` and `id` are informational.
   */
  errorFragmentAfter?: { fragments: number; code: string; id: number; bytes: Uint8Array };
  /** Once: pause a getMedia body for `ms` after N fragments. */
  stallAfterFragments?: { fragments: number; ms: number };
  /**
   * For successive getMedia calls: after sending `at` bytes of that response
   * (which may be inside a fragment), send nothing for `ms`, then go on.
   * `[{ at: 40000, ms: 60000 }]` makes the first body go silent at byte 40000.
   */
  stallAtByte?: { at: number; ms: number }[];
  /** The same as `stallAtByte`, for successive getMediaForFragmentList calls. */
  listStallAtByte?: { at: number; ms: number }[];
  /** The same as `endEarlyAtByte`, for successive getMediaForFragmentList calls. */
  listEndEarlyAtByte?: number[];
  /**
   * The next N API calls to these paths (e.g. `/getMedia`,
   * `/getDataEndpoint`) never answer: no status line, no headers, until the
   * stand-in closes.
   */
  noResponse?: { path: string; calls: number };
  /**
   * The next calls answer these responses, one each, in order, as something
   * other than KVS would (a proxy's "Bad Gateway", a captive portal's HTML):
   * no `x-amzn-*` headers, any body.
   */
  foreignResponses?: { status: number; contentType: string; body: string; path?: string }[];
  /**
   * The next API calls answer these errors, one each, in order (after
   * `throttle` and `serverErrors`), e.g.
   * `[{ status: 401, name: "NotAuthorizedException" }]`. An error with a
   * `path` (e.g. `/getMediaForFragmentList`) waits for a call to that path.
   */
  apiErrors?: { status: number; name: string; message?: string; path?: string }[];
  /**
   * ListFragments never ends its listing: every page is empty and carries a
   * NextToken, the same one each time (`same-token`) or a new one
   * (`new-tokens`).
   */
  endlessListing?: "same-token" | "new-tokens";
  /**
   * The next call to `path` answers `status` with a JSON content type and a
   * body that never ends (`{"a":"xxxx…` in 1 MiB chunks, until the reader
   * stops).
   */
  endlessAnswer?: { path: string; status: number };
  /**
   * Once, in a getMedia body: after N fragments, bytes that make no new
   * fragment, every 20 ms for ever: the last fragment again (`repeat`), or an
   * endless Void element's zeros (`void`).
   */
  noProgressAfter?: { fragments: number; kind: "repeat" | "void" };
}

/** How the stand-in behaves. */
export interface StandinOptions {
  /**
   * Streams by ARN or name, each a list of fragments in stream order. A
   * stream keyed by ARN is also found by its name, and the other way round.
   */
  streams: Record<string, StandinFragment[]>;
  /** Bytes per body chunk, or a `[min, max]` range drawn (seeded) per chunk. Default 64 KiB. */
  chunkSize?: number | [number, number];
  /** Pause between body chunks, ms. Default 0. */
  delayMs?: number;
  /** Seed for chunk sizes and the ListFragments shuffle. Default 1. */
  seed?: number;
  /** How `FRAGMENT_NUMBER` is read: start at that fragment (default) or after it. */
  fragmentNumberMode?: "inclusive" | "after";
  /** Index a `NOW` selector starts at; default the last fragment. */
  liveEdgeIndex?: number;
  /**
   * Live streams: after the last fragment keep the getMedia body open (idle,
   * serving fragments added with `addFragment`) until the client goes away,
   * `closeAfterMs` passes, or the stand-in closes.
   */
  live?: boolean;
  /** With `live`: end an idle body cleanly after this many ms. */
  closeAfterMs?: number;
  /** Faults to inject. */
  faults?: FaultPlan;
  /** Reject requests without a SigV4 `authorization` header (default true). */
  requireAuth?: boolean;
  /**
   * The stand-in's clock is this many ms off the machine's: as AWS does, it
   * refuses (403 InvalidSignatureException, "Signature expired" or "not yet
   * current") a request whose X-Amz-Date is more than 5 minutes from its own
   * time, and sends that time in its errors' `Date` header.
   */
  clockOffsetMs?: number;
}

/** A request the stand-in received. */
export interface RecordedRequest {
  /** URL path, e.g. `/getMedia`. */
  path: string;
  /** Parsed JSON body (`undefined` if it was not JSON). */
  body: Record<string, unknown> | undefined;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
}

/** A running stand-in. */
export interface Standin {
  /** `http://127.0.0.1:PORT` — use it as the SDK endpoint. */
  url: string;
  /** Port it listens on. */
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Replace the fault plan. */
  setFaults(f: FaultPlan): void;
  /** How many media bodies are still open (being sent or waiting for the client). */
  readonly openBodies: number;
  /** Append a fragment to a stream; open live bodies of that stream send it. */
  addFragment(stream: string, fragment: StandinFragment): void;
  /** Abort open bodies and stop the server. */
  close(): Promise<void>;
}

const ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.kinesis.video.v20170930/";
const WAIT = Symbol("wait");
const API_NAMES = new Set([
  "PUT_MEDIA",
  "GET_MEDIA",
  "LIST_FRAGMENTS",
  "GET_MEDIA_FOR_FRAGMENT_LIST",
  "GET_HLS_STREAMING_SESSION_URL",
  "GET_DASH_STREAMING_SESSION_URL",
  "GET_CLIP",
  "GET_IMAGES",
]);

/** Compare fragment numbers: as BigInt when both are decimal, else as strings. */
function compareFragmentNumbers(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly errorName: string, message: string) {
    super(message);
  }
}

/** Abortable sleep: resolves after ms, rejects (and clears its timer) on abort. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Start a stand-in on `127.0.0.1` and an ephemeral port.
 *
 * @example
 * ```ts
 * const standin = startStandin({ streams: { s: [] }, faults: { throttle: 1 } });
 * console.log(standin.url); // http://127.0.0.1:PORT
 * await standin.close();
 * ```
 */
export function startStandin(opts: StandinOptions): Standin {
  const streams: Record<string, StandinFragment[]> = {};
  for (const [k, v] of Object.entries(opts.streams)) streams[k] = [...v];
  const requireAuth = opts.requireAuth ?? true;
  const seed = opts.seed ?? 1;
  const chunkRandom = seededRandom(seed);
  let faults: FaultPlan = cloneFaults(opts.faults ?? {});
  const requests: RecordedRequest[] = [];
  /** Kill switches of the open bodies. */
  const bodies = new Set<() => void>();
  /** Releases requests held by `noResponse`. */
  const silences = new Set<() => void>();
  /** Wakes live bodies waiting for new fragments, per stream key. */
  const waiters = new Map<string, Set<() => void>>();

  function cloneFaults(f: FaultPlan): FaultPlan {
    return {
      ...f,
      dropAtByte: f.dropAtByte ? [...f.dropAtByte] : undefined,
      endEarlyAtByte: f.endEarlyAtByte ? [...f.endEarlyAtByte] : undefined,
      listEndEarlyAtByte: f.listEndEarlyAtByte ? [...f.listEndEarlyAtByte] : undefined,
      stallAtByte: f.stallAtByte ? f.stallAtByte.map((x) => ({ ...x })) : undefined,
      listStallAtByte: f.listStallAtByte ? f.listStallAtByte.map((x) => ({ ...x })) : undefined,
      noResponse: f.noResponse ? { ...f.noResponse } : undefined,
      apiErrors: f.apiErrors ? [...f.apiErrors] : undefined,
      foreignResponses: f.foreignResponses ? [...f.foreignResponses] : undefined,
      noProgressAfter: f.noProgressAfter ? { ...f.noProgressAfter } : undefined,
      endlessAnswer: f.endlessAnswer ? { ...f.endlessAnswer } : undefined,
    };
  }

  function nextChunkSize(): number {
    const c = opts.chunkSize ?? 65536;
    if (typeof c === "number") return Math.max(1, c);
    const [min, max] = c;
    return Math.max(1, min + Math.floor(chunkRandom() * (max - min + 1)));
  }

  function errorResponse(status: number, name: string, message: string): Response {
    return new Response(JSON.stringify({ message }), {
      status,
      headers: {
        "content-type": "application/json",
        "x-amzn-ErrorType": `${name}:${ERROR_NAMESPACE}`,
        "x-amzn-RequestId": crypto.randomUUID(),
      },
    });
  }

  function jsonResponse(value: unknown): Response {
    return new Response(JSON.stringify(value), {
      status: 200,
      headers: { "content-type": "application/json", "x-amzn-RequestId": crypto.randomUUID() },
    });
  }

  /** The key a stream is registered under: exact, or the same stream by ARN ↔ name. */
  function resolveStream(key: string): string | undefined {
    if (key in streams) return key;
    const nameOf = (k: string) => /^arn:[^:]+:kinesisvideo:[^:]*:[^:]*:stream\/([^/]+)\//.exec(k)?.[1] ?? k;
    return Object.keys(streams).find((k) => nameOf(k) === nameOf(key));
  }

  function streamKey(body: Record<string, unknown>): string {
    const arn = body.StreamARN, name = body.StreamName;
    const key = typeof arn === "string" ? arn : typeof name === "string" ? name : undefined;
    if (key === undefined) {
      throw new ApiError(400, "InvalidArgumentException", "StreamARN or StreamName is required");
    }
    const known = resolveStream(key);
    if (known !== undefined) return known;
    throw new ApiError(404, "ResourceNotFoundException", `The requested stream is not found or not active.`);
  }

  function startIndex(fragments: StandinFragment[], selector: Record<string, unknown>): number {
    const type = selector.StartSelectorType;
    switch (type) {
      case "EARLIEST":
        return 0;
      case "NOW":
        return Math.max(0, opts.liveEdgeIndex ?? fragments.length - 1);
      case "FRAGMENT_NUMBER": {
        const n = selector.AfterFragmentNumber;
        if (typeof n !== "string") {
          throw new ApiError(400, "InvalidArgumentException", "AfterFragmentNumber is required");
        }
        const after = (opts.fragmentNumberMode ?? "inclusive") === "after";
        const i = fragments.findIndex((f) => {
          const c = compareFragmentNumbers(f.fragmentNumber, n);
          return after ? c > 0 : c >= 0;
        });
        return i < 0 ? fragments.length : i;
      }
      case "PRODUCER_TIMESTAMP":
      case "SERVER_TIMESTAMP": {
        const ts = selector.StartTimestamp;
        if (typeof ts !== "number") {
          throw new ApiError(400, "InvalidArgumentException", "StartTimestamp is required");
        }
        const ms = Math.round(ts * 1000);
        const i = fragments.findIndex((f) => (type === "PRODUCER_TIMESTAMP" ? f.producerMs : f.serverMs) >= ms);
        return i < 0 ? fragments.length : i;
      }
      case "CONTINUATION_TOKEN": {
        const token = selector.ContinuationToken;
        const i = fragments.findIndex((f) => (f.continuationToken ?? f.fragmentNumber) === token);
        if (i < 0) throw new ApiError(400, "InvalidArgumentException", "Invalid continuation token");
        return i + 1;
      }
      default:
        throw new ApiError(400, "InvalidArgumentException", `Invalid StartSelectorType`);
    }
  }

  /** Wait until a fragment is added to `key` (or abort). */
  function waitForFragment(key: string, signal: AbortSignal, timeoutMs: number | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      let set = waiters.get(key);
      if (!set) waiters.set(key, set = new Set());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (added: boolean) => {
        set.delete(wake);
        signal.removeEventListener("abort", onAbort);
        if (timer !== undefined) clearTimeout(timer);
        resolve(added);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      set.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs);
    });
  }

  /**
   * Build a chunked body: the fragments of `key` from `first` (or the listed
   * indexes), with the configured chunking, delays and faults.
   */
  function mediaBody(
    key: string,
    plan: { first?: number; indexes?: number[]; live: boolean; media: boolean },
  ): Response {
    const ac = new AbortController();
    const signal = ac.signal;
    const dropAt = plan.media ? faults.dropAtByte?.shift() : undefined;
    const endAt = plan.media ? faults.endEarlyAtByte?.shift() : faults.listEndEarlyAtByte?.shift();
    const limit = Math.min(dropAt ?? Infinity, endAt ?? Infinity);
    const dropping = dropAt !== undefined && dropAt <= (endAt ?? Infinity);
    let stall = plan.media ? faults.stallAtByte?.shift() : faults.listStallAtByte?.shift();

    /** Yields fragment bytes, and WAIT right before it may block for a while. */
    async function* pieces(): AsyncGenerator<Uint8Array | typeof WAIT> {
      const fragments = streams[key];
      let served = 0;
      let i = plan.first ?? 0;
      let k = 0;
      for (;;) {
        let frag: StandinFragment | undefined;
        if (plan.indexes) {
          if (k >= plan.indexes.length) return;
          frag = fragments[plan.indexes[k++]];
        } else if (i < fragments.length) {
          frag = fragments[i++];
        } else if (plan.live) {
          yield WAIT;
          if (!await waitForFragment(key, signal, opts.closeAfterMs)) return;
          continue;
        } else {
          const ef = plan.media ? faults.errorFragmentAfter : undefined;
          if (ef) {
            faults.errorFragmentAfter = undefined;
            yield ef.bytes;
          }
          return;
        }
        yield frag.bytes;
        served++;
        if (!plan.media) continue;
        const np = faults.noProgressAfter;
        if (np && served >= np.fragments) {
          faults.noProgressAfter = undefined;
          // (A Void declared 2^56 − 2 bytes long, then its zeros.)
          if (np.kind === "void") yield Uint8Array.of(0xec, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe);
          for (;;) {
            yield np.kind === "repeat" ? frag.bytes : new Uint8Array(4096);
            await sleep(20, signal);
          }
        }
        const ef = faults.errorFragmentAfter;
        if (ef && served >= ef.fragments) {
          faults.errorFragmentAfter = undefined;
          yield ef.bytes;
          return;
        }
        const st = faults.stallAfterFragments;
        if (st && served >= st.fragments) {
          faults.stallAfterFragments = undefined;
          yield WAIT;
          await sleep(st.ms, signal);
        }
      }
    }

    const it = pieces();
    let pending: Uint8Array = new Uint8Array(0);
    let sent = 0;
    let first = true;
    let finished = false;
    let ctrl: ReadableStreamDefaultController<Uint8Array> | undefined;
    const finish = (how: "close" | Error) => {
      if (finished) return;
      finished = true;
      bodies.delete(kill);
      ac.abort(new Error("body finished"));
      it.return(undefined).catch(() => {});
      try {
        if (how === "close") ctrl?.close();
        else ctrl?.error(how);
      } catch { /* already closed */ }
    };
    /** Stand-in closing: end the body. */
    const kill = () => finish("close");
    bodies.add(kill);

    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        ctrl = controller;
      },
      async pull(controller) {
        try {
          if (!first && opts.delayMs) await sleep(opts.delayMs, signal);
          first = false;
          const size = nextChunkSize();
          const parts: Uint8Array[] = [];
          let have = 0;
          let done = false;
          while (have < size) {
            if (pending.length === 0) {
              const r = await it.next();
              if (r.done) {
                done = true;
                break;
              }
              if (r.value === WAIT) {
                if (have > 0) break; // send what we have before blocking
                continue;
              }
              pending = r.value;
              continue;
            }
            const take = Math.min(size - have, pending.length);
            parts.push(pending.subarray(0, take));
            pending = pending.subarray(take);
            have += take;
          }
          if (finished) return;
          let chunk = concat(parts);
          if (stall && stall.at < limit && sent + chunk.length > stall.at) {
            // Send up to the stall point, keep the rest, and go silent.
            const head = chunk.subarray(0, stall.at - sent);
            pending = concat([chunk.subarray(head.length), pending]);
            sent += head.length;
            if (head.length) controller.enqueue(head);
            const ms = stall.ms;
            stall = undefined;
            await sleep(ms, signal);
            return;
          }
          if (sent + chunk.length >= limit) {
            chunk = chunk.subarray(0, limit - sent);
            if (chunk.length) controller.enqueue(chunk);
            sent = limit;
            // A dropped body is framed with an oversized Content-Length (see
            // mediaResponse), so ending it here cuts the connection short.
            finish("close");
            return;
          }
          sent += chunk.length;
          if (chunk.length) controller.enqueue(chunk);
          if (done && pending.length === 0) finish("close");
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      },
      cancel() {
        // The client went away.
        finish("close");
      },
    }, { highWaterMark: 0 });
    return mediaResponse(body, dropping);
  }

  /**
   * A streamed 200 response. Normally chunked. A body that will be dropped
   * announces a Content-Length it never reaches: when the stream ends short,
   * Deno closes the connection mid-body and the client sees the same
   * ECONNRESET "aborted" as for a reset — without Deno logging a stream
   * error, which `controller.error()` would.
   */
  function mediaResponse(body: ReadableStream<Uint8Array>, dropping: boolean): Response {
    const headers: Record<string, string> = { "content-type": "video/webm", "x-amzn-RequestId": crypto.randomUUID() };
    if (dropping) headers["content-length"] = String(2 ** 40);
    return new Response(body, { status: 200, headers });
  }

  function route(path: string, body: Record<string, unknown>): Response {
    switch (path) {
      case "/getDataEndpoint": {
        streamKey(body);
        if (typeof body.APIName !== "string" || !API_NAMES.has(body.APIName)) {
          throw new ApiError(400, "InvalidArgumentException", "Invalid APIName");
        }
        return jsonResponse({ DataEndpoint: url });
      }
      case "/getMedia": {
        const key = streamKey(body);
        const selector = body.StartSelector;
        if (typeof selector !== "object" || selector === null) {
          throw new ApiError(400, "InvalidArgumentException", "StartSelector is required");
        }
        const first = startIndex(streams[key], selector as Record<string, unknown>);
        return mediaBody(key, { first, live: opts.live ?? false, media: true });
      }
      case "/listFragments":
        return jsonResponse(listFragments(body));
      case "/getMediaForFragmentList": {
        const key = streamKey(body);
        const list = body.Fragments;
        if (!Array.isArray(list) || list.length === 0 || list.length > 1000) {
          throw new ApiError(400, "InvalidArgumentException", "Fragments must list 1 to 1000 fragment numbers");
        }
        const fragments = streams[key];
        const indexes = list.map((n) => {
          const i = fragments.findIndex((f) => f.fragmentNumber === n);
          if (i < 0) throw new ApiError(404, "ResourceNotFoundException", `Fragment ${String(n)} not found`);
          return i;
        });
        return mediaBody(key, { indexes, live: false, media: false });
      }
      default:
        throw new ApiError(404, "UnknownOperationException", `Unknown operation ${path}`);
    }
  }

  function listFragments(body: Record<string, unknown>): unknown {
    const key = streamKey(body);
    if (faults.endlessListing !== undefined) {
      const n = typeof body.NextToken === "string" ? Number(/^page-(\d+)$/.exec(body.NextToken)?.[1] ?? 0) : 0;
      return { Fragments: [], NextToken: faults.endlessListing === "same-token" ? "page-0" : `page-${n + 1}` };
    }
    let fragments = [...streams[key]];
    const sel = body.FragmentSelector as Record<string, unknown> | undefined;
    if (sel !== undefined) {
      const type = sel.FragmentSelectorType;
      const range = sel.TimestampRange as Record<string, unknown> | undefined;
      if ((type !== "PRODUCER_TIMESTAMP" && type !== "SERVER_TIMESTAMP") || typeof range !== "object") {
        throw new ApiError(400, "InvalidArgumentException", "Invalid FragmentSelector");
      }
      const start = Math.round(Number(range.StartTimestamp) * 1000);
      const end = Math.round(Number(range.EndTimestamp) * 1000);
      fragments = fragments.filter((f) => {
        const t = type === "PRODUCER_TIMESTAMP" ? f.producerMs : f.serverMs;
        return t >= start && t <= end;
      });
    }
    // Same seed every call, so pages of one listing are consistent.
    const rnd = seededRandom(seed ^ 0x5bd1e995);
    for (let i = fragments.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [fragments[i], fragments[j]] = [fragments[j], fragments[i]];
    }
    const max = typeof body.MaxResults === "number" ? body.MaxResults : 1000;
    let offset = 0;
    if (typeof body.NextToken === "string") {
      const m = /^page-(\d+)$/.exec(body.NextToken);
      if (!m) throw new ApiError(400, "InvalidArgumentException", "Invalid NextToken");
      offset = Number(m[1]);
    }
    const page = fragments.slice(offset, offset + max);
    const next = offset + max < fragments.length ? `page-${offset + max}` : undefined;
    return {
      Fragments: page.map((f) => ({
        FragmentNumber: f.fragmentNumber,
        FragmentSizeInBytes: f.bytes.length,
        ProducerTimestamp: f.producerMs / 1000,
        ServerTimestamp: f.serverMs / 1000,
        FragmentLengthInMilliseconds: f.lengthMs ?? 1024,
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  async function handler(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => headers[k] = v);
    const text = await req.text();
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = text ? JSON.parse(text) : {};
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      body = undefined;
    }
    requests.push({ path, body, headers });
    if (requireAuth && !(headers["authorization"] ?? "").startsWith("AWS4-HMAC-SHA256 ")) {
      return errorResponse(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    }
    if (req.method !== "POST") return errorResponse(405, "UnknownOperationException", "Use POST");
    if (opts.clockOffsetMs) {
      const now = Date.now() + opts.clockOffsetMs;
      const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(headers["x-amz-date"] ?? "");
      const signed = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
      if (!(Math.abs(signed - now) <= 5 * 60_000)) {
        return errorResponse(
          403,
          "InvalidSignatureException",
          signed < now
            ? `Signature expired: ${headers["x-amz-date"]} is now earlier than the server's time minus 5 min.`
            : `Signature not yet current: ${headers["x-amz-date"]} is still later than the server's time plus 5 min.`,
        );
      }
    }
    if (faults.throttle && faults.throttle > 0) {
      faults.throttle--;
      return errorResponse(400, "ClientLimitExceededException", "Rate exceeded");
    }
    if (faults.serverErrors && faults.serverErrors > 0) {
      faults.serverErrors--;
      return errorResponse(500, "InternalFailure", "Internal service failure");
    }
    const silent = faults.noResponse;
    if (silent && silent.calls > 0 && silent.path === path) {
      silent.calls--;
      // Hold the request until the stand-in closes (a client that gave up has gone by then).
      await new Promise<void>((resolve) => {
        const done = () => {
          silences.delete(done);
          resolve();
        };
        silences.add(done);
      });
      return errorResponse(503, "ServiceUnavailableException", "gave up waiting");
    }
    // (An entry with a `path` waits for a call to that path, as `apiErrors` do.)
    if (faults.endlessAnswer?.path === path) {
      const { status } = faults.endlessAnswer;
      faults.endlessAnswer = undefined;
      const mib = new TextEncoder().encode("x".repeat(1 << 20));
      let first = true;
      const endless = new ReadableStream<Uint8Array>({
        pull(c) {
          c.enqueue(first ? new TextEncoder().encode('{"a":"') : mib);
          first = false;
        },
      });
      return new Response(endless, { status, headers: { "content-type": "application/x-amz-json-1.1" } });
    }
    const nextForeign = faults.foreignResponses?.[0];
    const foreign = nextForeign && (nextForeign.path === undefined || nextForeign.path === path)
      ? faults.foreignResponses!.shift()
      : undefined;
    if (foreign) {
      return new Response(foreign.body, { status: foreign.status, headers: { "content-type": foreign.contentType } });
    }
    // The next planned error, unless it is aimed at another path (`path`: it waits for a call to that one).
    const next = faults.apiErrors?.[0];
    const planned = next && (next.path === undefined || next.path === path) ? faults.apiErrors!.shift() : undefined;
    if (planned) return errorResponse(planned.status, planned.name, planned.message ?? planned.name);
    if (body === undefined) return errorResponse(400, "SerializationException", "Request body is not a JSON object");
    try {
      return route(path, body);
    } catch (err) {
      if (err instanceof ApiError) return errorResponse(err.status, err.errorName, err.message);
      return errorResponse(500, "InternalFailure", String(err));
    }
  }

  // A stand-in with its own clock says its time in every response, as a server does (the SDK reads it from each).
  const dated = opts.clockOffsetMs
    ? async (req: Request) => {
      const r = await handler(req);
      r.headers.set("date", new Date(Date.now() + opts.clockOffsetMs!).toUTCString());
      return r;
    }
    : handler;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, dated);
  const port = server.addr.port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    requests,
    setFaults(f: FaultPlan) {
      faults = cloneFaults(f);
    },
    get openBodies() {
      return bodies.size;
    },
    addFragment(stream: string, fragment: StandinFragment) {
      const key = resolveStream(stream) ?? stream;
      (streams[key] ??= []).push(fragment);
      for (const wake of [...(waiters.get(key) ?? [])]) wake();
    },
    async close() {
      for (const kill of [...bodies]) kill();
      for (const release of [...silences]) release();
      await server.shutdown();
    },
  };
}
