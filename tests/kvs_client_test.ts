/**
 * The SDK layer (src/kvs) against the loopback KVS stand-in: the real AWS
 * SDK v3 clients, signed requests, streamed bodies, faults and error
 * classification. Never reaches AWS.
 *
 * Run: `deno test --allow-net --allow-env --allow-read --allow-sys tests/kvs_client_test.ts`
 * @module
 */

import assert from "node:assert/strict";
import { homedir } from "node:os";
import { AwsError, ExitCode, KvsAudioError, UsageError } from "../src/errors.ts";
import { awsFilePaths, definedProfiles, profileDefined } from "../src/kvs/profiles.ts";
import { checkRegionName, withoutPassword } from "../src/kvs/endpoint_url.ts";
import {
  backoffDelays,
  checkProfile,
  classifyAwsError,
  createKvsClients,
  credentialsError,
  describeNetworkError,
  finalAwsError,
  isClockSkew,
  type KvsClientOptions,
  type KvsClients,
  listFragments,
  type MediaBody,
  openFragmentList,
  openMedia,
  redact,
  seededRandom,
  type StartSelector,
  toSdkStartSelector,
} from "../src/kvs/mod.ts";
import { type Standin, type StandinFragment, type StandinOptions, startStandin } from "./support/kvs_standin.ts";
import { ARN as ARN_FOR_PULL, pullInProcess, standinFragments } from "./support/pull_harness.ts";
import { connectStream } from "./support/connect_stream.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENxyz0123456789abcdefABCDEF";
const REGION = "us-east-1";
const ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1599166395421";
const BASE_MS = 1_599_166_395_421;

/** Fragment i: number 1000+i, producer BASE+1024 i, server 300 ms later, bytes "frag-i|". */
function fragments(n: number, extra = ""): StandinFragment[] {
  return Array.from({ length: n }, (_, i) => ({
    fragmentNumber: String(1000 + i),
    producerMs: BASE_MS + 1024 * i,
    serverMs: BASE_MS + 1024 * i + 300,
    bytes: enc.encode(`frag-${i}|${extra}`),
  }));
}

interface Fixture {
  standin: Standin;
  clients: KvsClients;
}

/** Start a stand-in and clients pointed at it; always cleaned up. */
async function withKvs(
  standinOpts: Partial<StandinOptions>,
  fn: (f: Fixture) => Promise<void>,
  clientOpts: Partial<KvsClientOptions> = {},
): Promise<void> {
  const standin = startStandin({ streams: { calls: fragments(6) }, ...standinOpts });
  let clients: KvsClients | undefined;
  try {
    clients = await createKvsClients({
      region: REGION,
      endpointUrl: standin.url,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET },
      ...clientOpts,
    });
    await fn({ standin, clients });
  } finally {
    clients?.destroy();
    await standin.close();
  }
}

async function readAll(body: MediaBody): Promise<{ text: string; chunks: number }> {
  let text = "";
  let chunks = 0;
  for await (const chunk of body) {
    assert.ok(chunk instanceof Uint8Array);
    assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype, "plain Uint8Array, not Buffer");
    text += dec.decode(chunk, { stream: true });
    chunks++;
  }
  return { text, chunks };
}

async function firstFragment(f: Fixture, selector: StartSelector): Promise<string> {
  const { text } = await readAll(await openMedia(f.clients, { name: "calls" }, selector));
  return text.split("|")[0];
}

/** `message` only, or also the whole inspected error (own properties, cause). */
function assertNoSecrets(err: unknown, whole = true): void {
  const rendered = [err instanceof Error ? err.message : String(err)];
  if (whole) rendered.push(Deno.inspect(err, { depth: 10 }));
  for (const text of rendered) {
    assert.ok(!text.includes(SECRET), `secret key leaked: ${text}`);
    assert.ok(!text.includes(SESSION_TOKEN), `session token leaked: ${text}`);
    assert.ok(!/Signature=(?!\[redacted\])/.test(text), `signature leaked: ${text}`);
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function catchError(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

/** Run `fn` with some environment variables set (or deleted with `undefined`), then restore them. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) x === undefined ? Deno.env.delete(k) : Deno.env.set(k, x);
  };
  apply(vars);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

const NO_AWS_FILES = {
  AWS_CONFIG_FILE: "/nonexistent/kvsaudio-test/config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/kvsaudio-test/credentials",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  AWS_PROFILE: undefined,
  AWS_SESSION_TOKEN: undefined,
};

// ---------------------------------------------------------------- selectors

Deno.test("StartSelector: EARLIEST and NOW", async () => {
  await withKvs({}, async (f) => {
    assert.equal(await firstFragment(f, { type: "EARLIEST" }), "frag-0");
    assert.equal(await firstFragment(f, { type: "NOW" }), "frag-5");
  });
  await withKvs({ liveEdgeIndex: 3 }, async (f) => {
    assert.equal(await firstFragment(f, { type: "NOW" }), "frag-3");
  });
});

Deno.test("StartSelector: FRAGMENT_NUMBER, inclusive and after", async () => {
  await withKvs({}, async (f) => {
    const { text } = await readAll(
      await openMedia(f.clients, { name: "calls" }, { type: "FRAGMENT_NUMBER", fragmentNumber: "1002" }),
    );
    assert.equal(text, "frag-2|frag-3|frag-4|frag-5|");
    const sent = f.standin.requests.find((r) => r.path === "/getMedia")?.body;
    assert.deepEqual(sent, {
      StreamName: "calls",
      StartSelector: { StartSelectorType: "FRAGMENT_NUMBER", AfterFragmentNumber: "1002" },
    });
  });
  await withKvs({ fragmentNumberMode: "after" }, async (f) => {
    assert.equal(await firstFragment(f, { type: "FRAGMENT_NUMBER", fragmentNumber: "1002" }), "frag-3");
  });
});

Deno.test("StartSelector: PRODUCER_TIMESTAMP and SERVER_TIMESTAMP send epoch seconds", async () => {
  await withKvs({}, async (f) => {
    // Between fragment 1 (BASE+1024) and 2 (BASE+2048): the first at or after is 2.
    assert.equal(await firstFragment(f, { type: "PRODUCER_TIMESTAMP", timestampMs: BASE_MS + 1500 }), "frag-2");
    // Exactly fragment 3's producer timestamp.
    assert.equal(await firstFragment(f, { type: "PRODUCER_TIMESTAMP", timestampMs: BASE_MS + 3072 }), "frag-3");
    // Server timestamps are 300 ms later: BASE+1324 is fragment 1's server time.
    assert.equal(await firstFragment(f, { type: "SERVER_TIMESTAMP", timestampMs: BASE_MS + 1324 }), "frag-1");
    assert.equal(await firstFragment(f, { type: "SERVER_TIMESTAMP", timestampMs: BASE_MS + 1325 }), "frag-2");
    const sent = f.standin.requests.filter((r) => r.path === "/getMedia").map((r) => r.body?.StartSelector);
    assert.deepEqual(sent[0], { StartSelectorType: "PRODUCER_TIMESTAMP", StartTimestamp: (BASE_MS + 1500) / 1000 });
    assert.deepEqual(sent[2], { StartSelectorType: "SERVER_TIMESTAMP", StartTimestamp: (BASE_MS + 1324) / 1000 });
  });
});

Deno.test("StartSelector: CONTINUATION_TOKEN starts after the token's fragment", async () => {
  const frags = fragments(4).map((f, i) => ({ ...f, continuationToken: `tok_${i}` }));
  await withKvs({ streams: { calls: frags } }, async (f) => {
    assert.equal(await firstFragment(f, { type: "CONTINUATION_TOKEN", token: "tok_1" }), "frag-2");
  });
  await withKvs({}, async (f) => {
    // Default token = fragment number.
    assert.equal(await firstFragment(f, { type: "CONTINUATION_TOKEN", token: "1004" }), "frag-5");
  });
});

Deno.test("toSdkStartSelector: every type", () => {
  assert.deepEqual(toSdkStartSelector({ type: "NOW" }), { StartSelectorType: "NOW" });
  assert.deepEqual(toSdkStartSelector({ type: "EARLIEST" }), { StartSelectorType: "EARLIEST" });
  assert.deepEqual(toSdkStartSelector({ type: "CONTINUATION_TOKEN", token: "t" }), {
    StartSelectorType: "CONTINUATION_TOKEN",
    ContinuationToken: "t",
  });
  assert.deepEqual(toSdkStartSelector({ type: "FRAGMENT_NUMBER", fragmentNumber: "9" }), {
    StartSelectorType: "FRAGMENT_NUMBER",
    AfterFragmentNumber: "9",
  });
  const ts = toSdkStartSelector({ type: "SERVER_TIMESTAMP", timestampMs: 5 });
  assert.equal(ts.StartSelectorType, "SERVER_TIMESTAMP");
  assert.ok(ts.StartTimestamp instanceof Date && ts.StartTimestamp.getTime() === 5);
});

Deno.test("stream by ARN sends StreamARN", async () => {
  await withKvs({}, async (f) => {
    const { text } = await readAll(await openMedia(f.clients, { arn: ARN }, { type: "EARLIEST" }));
    assert.ok(text.startsWith("frag-0|"));
    assert.deepEqual(
      f.standin.requests.map((r) => [r.path, r.body?.StreamARN, r.body?.APIName]),
      [["/getDataEndpoint", ARN, "GET_MEDIA"], ["/getMedia", ARN, undefined]],
    );
  });
});

// ---------------------------------------------------------------- streaming

Deno.test("GetMedia body arrives incrementally, in several chunks", async () => {
  await withKvs({ chunkSize: [7, 19], delayMs: 3, streams: { calls: fragments(8, "x".repeat(40)) } }, async (f) => {
    const body = await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" });
    assert.equal(body.contentType, "video/webm");
    assert.equal(body.dataEndpoint, f.standin.url);
    const { text, chunks } = await readAll(body);
    assert.equal(text, fragments(8, "x".repeat(40)).map((x) => dec.decode(x.bytes)).join(""));
    assert.ok(chunks >= 5, `expected several chunks, got ${chunks}`);
  });
});

Deno.test("first chunk is delivered before the body ends (no buffering)", async () => {
  await withKvs({ live: true, streams: { calls: fragments(1) } }, async (f) => {
    const body = await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" });
    const it = body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(dec.decode(first.value), "frag-0|");
    f.standin.addFragment("calls", fragments(2)[1]);
    const second = await it.next();
    assert.equal(dec.decode(second.value), "frag-1|");
    await it.return?.();
  });
});

Deno.test("live body ends after closeAfterMs", async () => {
  await withKvs({ live: true, closeAfterMs: 50, streams: { calls: fragments(2) } }, async (f) => {
    const { text } = await readAll(await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }));
    assert.equal(text, "frag-0|frag-1|");
  });
});

Deno.test("closing a live body mid-stream releases the stand-in", async () => {
  await withKvs({ live: true, streams: { calls: fragments(2) } }, async (f) => {
    const body = await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" });
    for await (const chunk of body) {
      assert.ok(chunk.length > 0);
      break; // the for-await return() drops the connection
    }
    await waitFor(() => f.standin.openBodies === 0, "the stand-in saw the client go away");
    const unread = await openMedia(f.clients, { name: "calls" }, { type: "NOW" });
    assert.equal(f.standin.openBodies, 1);
    unread.close();
    unread.close(); // idempotent
    await waitFor(() => f.standin.openBodies === 0, "closing an unread body drops the connection");
  });
});

Deno.test("drop at byte K surfaces as a retryable network error", async () => {
  await withKvs({ chunkSize: 10, faults: { dropAtByte: [25, 40] } }, async (f) => {
    for (const k of [25, 40]) {
      let got = 0;
      const err = await catchError((async () => {
        for await (const c of await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" })) got += c.length;
      })());
      assert.equal(got, k);
      assert.ok(err instanceof Error);
      assert.equal((err as Error & { code?: string }).code, "ECONNRESET");
      assert.equal(classifyAwsError(err, "calls"), "retry");
      assert.match(describeNetworkError(err) ?? "", /dropped \(ECONNRESET\)/);
    }
    // Faults used up: the third call reads everything.
    const { text } = await readAll(await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }));
    assert.equal(text.split("|").length - 1, 6);
  });
});

Deno.test("end early at byte K is a clean end", async () => {
  await withKvs({ faults: { endEarlyAtByte: [9] } }, async (f) => {
    const { text } = await readAll(await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }));
    assert.equal(text, "frag-0|fr");
  });
});

Deno.test("stand-in: in-band error fragment and stall", async () => {
  const errorBytes = enc.encode("ERROR-4000|");
  await withKvs({
    faults: {
      errorFragmentAfter: { fragments: 2, code: "4000", id: 1, bytes: errorBytes },
      stallAfterFragments: { fragments: 1, ms: 60 },
    },
  }, async (f) => {
    const t0 = performance.now();
    const { text } = await readAll(await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }));
    assert.equal(text, "frag-0|frag-1|ERROR-4000|");
    assert.ok(performance.now() - t0 >= 55, "stalled");
    // Used once.
    const again = await readAll(await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }));
    assert.equal(again.text.split("|").length - 1, 6);
  });
});

Deno.test("abort signal mid-body throws the abort reason and classifies as interrupted", async () => {
  await withKvs({ live: true }, async (f) => {
    const ac = new AbortController();
    const body = await openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }, ac.signal);
    const err = await catchError((async () => {
      for await (const _ of body) ac.abort();
    })());
    assert.equal((err as Error).name, "AbortError");
    const verdict = classifyAwsError(err, "calls");
    assert.ok(verdict instanceof KvsAudioError);
    assert.equal(verdict.exitCode, ExitCode.interrupted);
  });
});

// ---------------------------------------------------------------- errors

Deno.test("throttling: classify says retry; after retries a clear AwsError", async () => {
  await withKvs({ faults: { throttle: 1 } }, async (f) => {
    const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
    assert.equal((err as Error).name, "ClientLimitExceededException");
    assert.equal(classifyAwsError(err, "calls"), "retry");
    const final = finalAwsError(err, "calls");
    assert.ok(final instanceof AwsError);
    assert.match(final.message, /KVS kept refusing calls for stream calls \(ClientLimitExceededException\)/);
    // The SDK does not retry it on its own (maxAttempts 1): one request only, then success.
    assert.equal(f.standin.requests.length, 1);
    const { text } = await readAll(await openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
    assert.equal(text, "frag-5|");
  });
});

Deno.test("a temporary DNS failure (EAI_AGAIN) is retried; a name that does not resolve (ENOTFOUND) is not", () => {
  // As Deno's node:http words them.
  const host = "kinesisvideo.us-east-1.amazonaws.com";
  const again = Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), {
    code: "EAI_AGAIN",
    syscall: "getaddrinfo",
  });
  assert.equal(classifyAwsError(again, "calls"), "retry");
  assert.match(describeNetworkError(again) ?? "", /temporary DNS failure/);
  const none = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND", syscall: "getaddrinfo" });
  const verdict = classifyAwsError(none, "calls");
  assert.ok(verdict instanceof AwsError);
  assert.match(verdict.message, new RegExp(`cannot resolve ${host.replaceAll(".", "\\.")}`));
});

Deno.test("server errors (5xx) classify as retry", async () => {
  await withKvs({ faults: { serverErrors: 1 } }, async (f) => {
    const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
    assert.equal((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 500);
    assert.equal(classifyAwsError(err, "calls"), "retry");
  });
});

Deno.test("404: AwsError naming the stream and region", async () => {
  await withKvs({}, async (f) => {
    const err = await catchError(openMedia(f.clients, { name: "no-such-stream" }, { type: "NOW" }));
    assert.equal((err as Error).name, "ResourceNotFoundException");
    const verdict = classifyAwsError(err, "no-such-stream", { region: REGION });
    assert.ok(verdict instanceof AwsError);
    assert.equal(verdict.exitCode, ExitCode.aws);
    assert.equal(verdict.code, "ResourceNotFoundException");
    assert.equal(
      verdict.message,
      "stream no-such-stream not found in us-east-1: check --arn/--stream-name and --region",
    );
  });
});

Deno.test("access denied, expired token, bad argument: clear AwsErrors", async () => {
  await withKvs({
    faults: {
      apiErrors: [
        { status: 401, name: "NotAuthorizedException", message: "Unauthorized" },
        {
          status: 403,
          name: "ExpiredTokenException",
          message: "The security token included in the request is expired",
        },
        { status: 400, name: "InvalidArgumentException", message: "Invalid fragment number 1234" },
        { status: 403, name: "UnrecognizedClientException", message: "The security token is invalid" },
      ],
    },
  }, async (f) => {
    const stream = { name: "calls" };
    const e1 = classifyAwsError(await catchError(openMedia(f.clients, stream, { type: "NOW" })), "calls");
    assert.ok(e1 instanceof AwsError);
    assert.match(e1.message, /^access denied to stream calls \(NotAuthorizedException\): .*kinesisvideo:GetMedia/);
    const e2 = classifyAwsError(await catchError(openMedia(f.clients, stream, { type: "NOW" })), "calls");
    assert.ok(e2 instanceof AwsError);
    assert.equal(e2.message, "AWS credentials expired: refresh them");
    const e3 = classifyAwsError(await catchError(listFragments(f.clients, stream)), "calls", { api: "ListFragments" });
    assert.ok(e3 instanceof AwsError);
    assert.equal(e3.message, "KVS rejected the ListFragments request for stream calls: Invalid fragment number 1234");
    const e4 = classifyAwsError(await catchError(openMedia(f.clients, stream, { type: "NOW" })), "calls");
    assert.ok(e4 instanceof AwsError);
    assert.match(e4.message, /UnrecognizedClientException/);
  });
});

Deno.test("classifyAwsError: the retry table and the plain-error cases", () => {
  const sdk = (name: string, status: number, message = name) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
  const net = (code: string, message: string) => Object.assign(new Error(message), { code });
  for (
    const err of [
      sdk("ConnectionLimitExceededException", 400),
      sdk("InvalidEndpointException", 400),
      sdk("ServiceUnavailable", 503),
      sdk("SomethingElse", 502),
      net("EPIPE", "write EPIPE"),
      net("ETIMEDOUT", "connect ETIMEDOUT"),
      new Error("socket hang up"),
      Object.assign(new Error("timed out"), { name: "TimeoutError" }),
    ]
  ) assert.equal(classifyAwsError(err, "calls"), "retry", String(err));

  const aborted = sdk("SomethingElse", 400, "upload aborted by policy");
  assert.ok(classifyAwsError(aborted, "calls") instanceof AwsError, "a service error saying 'aborted' is final");
  const skew = classifyAwsError(sdk("InvalidSignatureException", 403, "Signature expired: 20200101T000000Z"), "c");
  assert.ok(skew instanceof AwsError && /system clock/.test(skew.message));
  // A clock ahead of AWS's, and AWS's other names for it (a tester: "not yet current" was called an IAM problem).
  for (
    const e of [
      sdk(
        "InvalidSignatureException",
        403,
        "Signature not yet current: 20261125T100000Z is still later than 20261125T090500Z",
      ),
      sdk("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."),
      sdk("RequestExpired", 400),
    ]
  ) {
    const c = classifyAwsError(e, "c");
    assert.ok(
      c instanceof AwsError && c.message === "AWS rejected the request time: check the system clock",
      e.message,
    );
    assert.ok(isClockSkew(e));
  }
  assert.ok(!isClockSkew(sdk("InvalidSignatureException", 403, "The request signature we calculated does not match")));
  assert.ok(!isClockSkew(sdk("AccessDeniedException", 403)));
  // HTTP 429 is throttling whatever the body says (a tester: exit 4 after one attempt).
  assert.equal(classifyAwsError(sdk("Unknown", 429, "Rate exceeded"), "calls"), "retry");
  assert.equal(
    finalAwsError(sdk("Unknown", 429, "Rate exceeded"), "calls").message,
    "KVS kept refusing calls for stream calls (HTTP 429): too many readers or calls; try again later",
  );
  // Without --endpoint-url, a refused connection names the address, not the option (a data endpoint refused).
  assert.equal(
    describeNetworkError(net("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1")),
    "connection refused by KVS (127.0.0.1:1): check the network",
  );
  const region = classifyAwsError(new Error("Region is missing"), "calls");
  assert.ok(region instanceof UsageError);
  const mine = new UsageError("x");
  assert.equal(classifyAwsError(mine, "calls"), mine);
  const plain = classifyAwsError(new TypeError("boom"), "calls", { api: "ListFragments" });
  assert.ok(plain instanceof AwsError);
  assert.equal(plain.message, "AWS ListFragments call for stream calls failed: TypeError: boom");
  const denied = classifyAwsError(sdk("AccessDeniedException", 401), "calls", { api: "GetMediaForFragmentList" });
  assert.ok(denied instanceof AwsError);
  assert.match(denied.message, /kinesisvideo:GetDataEndpoint, kinesisvideo:GetMediaForFragmentList\)$/);
  assert.equal(describeNetworkError(new Error("nope")), undefined);
  assert.equal(
    finalAwsError(sdk("InternalFailure", 500), "calls").message,
    "KVS kept failing for stream calls: InternalFailure (HTTP 500)",
  );
});

Deno.test("wrong region in the ARN: UsageError before any request", async () => {
  await withKvs({}, async (f) => {
    const arn = "arn:aws:kinesisvideo:eu-west-1:123456789012:stream/calls/1599166395421";
    const err = await catchError(openMedia(f.clients, { arn }, { type: "NOW" }));
    assert.ok(err instanceof UsageError);
    assert.equal(
      err.message,
      "stream calls is in region eu-west-1 but the AWS region is us-east-1: pass --region eu-west-1",
    );
    const bad = await catchError(openMedia(f.clients, { arn: "arn:nope" }, { type: "NOW" }));
    assert.ok(bad instanceof UsageError);
    assert.equal(f.standin.requests.length, 0);
  });
});

Deno.test("connection refused: retry, then a distinct message", async () => {
  const standin = startStandin({ streams: {} });
  const url = standin.url;
  await standin.close();
  const clients = await createKvsClients({
    region: REGION,
    endpointUrl: url,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET },
  });
  try {
    const err = await catchError(openMedia(clients, { name: "calls" }, { type: "NOW" }));
    assert.equal((err as { code?: string }).code, "ECONNREFUSED");
    assert.equal(classifyAwsError(err, "calls"), "retry");
    const final = finalAwsError(err, "calls", { endpoint: url });
    assert.equal(final.message, `connection refused by ${url}: check --endpoint-url and the network`);
    assert.equal(final.exitCode, ExitCode.aws);
    // An endpoint URL's password is not printed (was: as given).
    const withUser = url.replace("://", "://user:S3cretPass@");
    assert.equal(
      finalAwsError(err, "calls", { endpoint: withUser }).message,
      `connection refused by ${url.replace("://", "://user:…@")}: check --endpoint-url and the network`,
    );
  } finally {
    clients.destroy();
  }
});

Deno.test("errors never carry the secret key or session token", async () => {
  const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET, sessionToken: SESSION_TOKEN };
  await withKvs({
    faults: {
      throttle: 1,
      apiErrors: [
        { status: 403, name: "InvalidSignatureException", message: "Signature mismatch" },
        { status: 400, name: "SomethingNewException", message: `echo Signature=abc ${SECRET}` },
      ],
    },
  }, async (f) => {
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) errors.push(await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" })));
    errors.push(await catchError(openMedia(f.clients, { name: "missing" }, { type: "NOW" })));
    for (const [i, err] of errors.entries()) {
      // What the SDK raises carries no credentials (no request, no headers)...
      if (i !== 2) assertNoSecrets(err);
      // ...and kvsaudio's messages carry none even when the server echoes one.
      const verdict = classifyAwsError(err, "calls", { region: REGION });
      assertNoSecrets(verdict === "retry" ? finalAwsError(err, "calls") : verdict, i !== 2);
    }
    const unknown = classifyAwsError(errors[2], "calls");
    assert.ok(unknown instanceof AwsError);
    assert.match(unknown.message, /SomethingNewException \(HTTP 400\): echo \[redacted\] \[redacted\]/);
  }, { credentials: creds });
});

Deno.test("redact strips credential-like text but keeps fragment numbers", () => {
  const fragment = "91343852333181432392682062607743920146264613494";
  assert.equal(
    redact(`Credential=AKIAIOSFODNN7EXAMPLE/x ${SECRET} fragment ${fragment}\nsecond line`),
    `[redacted] [redacted] fragment ${fragment}`,
  );
});

// ---------------------------------------------------------------- signing

Deno.test("requests are SigV4-signed, with the security token when a session token is set", async () => {
  await withKvs({}, async (f) => {
    await readAll(await openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
    for (const r of f.standin.requests) {
      assert.match(
        r.headers["authorization"],
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/kinesisvideo\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
      );
      assert.match(r.headers["x-amz-date"], /^\d{8}T\d{6}Z$/);
      assert.equal(r.headers["x-amz-security-token"], undefined);
    }
  });
  await withKvs({}, async (f) => {
    await readAll(await openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
    assert.equal(f.standin.requests.length, 2);
    for (const r of f.standin.requests) {
      assert.equal(r.headers["x-amz-security-token"], SESSION_TOKEN);
      assert.match(r.headers["authorization"], /SignedHeaders=[a-z0-9;-]*x-amz-security-token/);
    }
  }, {
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET, sessionToken: SESSION_TOKEN },
  });
});

Deno.test("stand-in rejects unsigned requests and a missing StartSelector", async () => {
  const standin = startStandin({ streams: { calls: fragments(1) } });
  try {
    const unsigned = await fetch(`${standin.url}/getMedia`, {
      method: "POST",
      body: JSON.stringify({ StreamName: "calls", StartSelector: { StartSelectorType: "NOW" } }),
    });
    assert.equal(unsigned.status, 403);
    assert.match(unsigned.headers.get("x-amzn-errortype") ?? "", /^MissingAuthenticationTokenException:/);
    await unsigned.body?.cancel();
    const noSelector = await fetch(`${standin.url}/getMedia`, {
      method: "POST",
      headers: { authorization: "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=00" },
      body: JSON.stringify({ StreamName: "calls" }),
    });
    assert.equal(noSelector.status, 400);
    assert.match(noSelector.headers.get("x-amzn-errortype") ?? "", /^InvalidArgumentException:http:\/\/internal/);
    assert.ok(noSelector.headers.get("x-amzn-requestid"));
    assert.deepEqual(await noSelector.json(), { message: "StartSelector is required" });
    assert.equal(standin.requests.length, 2);
  } finally {
    await standin.close();
  }
});

// ---------------------------------------------------------------- archived media

Deno.test("listFragments: all pages, sorted by producer timestamp then fragment number", async () => {
  // 47-digit fragment numbers that do not sort as strings; two share a timestamp.
  const big = (i: number) => (91343852333181432392682062607743920146264613494n + BigInt(i) * (1n << 92n)).toString();
  const frags: StandinFragment[] = Array.from({ length: 23 }, (_, i) => ({
    fragmentNumber: big(i),
    producerMs: BASE_MS + 1024 * Math.min(i, 21),
    serverMs: BASE_MS + 1024 * i + 300,
    bytes: enc.encode(`frag-${i}|`),
    lengthMs: 1024,
  }));
  await withKvs({ streams: { calls: frags }, seed: 7 }, async (f) => {
    const list = await listFragments(f.clients, { name: "calls" }, { pageSize: 5 });
    assert.deepEqual(list.map((x) => x.fragmentNumber), frags.map((x) => x.fragmentNumber));
    assert.deepEqual(list[3], {
      fragmentNumber: big(3),
      sizeBytes: 7,
      producerMs: BASE_MS + 3072,
      serverMs: BASE_MS + 3072 + 300,
      lengthMs: 1024,
    });
    const calls = f.standin.requests.filter((r) => r.path === "/listFragments");
    assert.equal(calls.length, 5);
    assert.deepEqual(calls.map((r) => r.body?.NextToken), [undefined, "page-5", "page-10", "page-15", "page-20"]);
    assert.equal(f.standin.requests[0].body?.APIName, "LIST_FRAGMENTS");
    // The stand-in really shuffles: the first page is not in stream order.
    const raw = await fetchFirstPage(f.standin);
    assert.notDeepEqual(raw, frags.slice(0, 5).map((x) => x.fragmentNumber));

    const ranged = await listFragments(f.clients, { name: "calls" }, {
      range: { type: "PRODUCER_TIMESTAMP", startMs: BASE_MS + 2048, endMs: BASE_MS + 4096 },
    });
    assert.deepEqual(ranged.map((x) => x.fragmentNumber), [big(2), big(3), big(4)]);
    const sel = f.standin.requests.at(-1)?.body?.FragmentSelector;
    assert.deepEqual(sel, {
      FragmentSelectorType: "PRODUCER_TIMESTAMP",
      TimestampRange: { StartTimestamp: (BASE_MS + 2048) / 1000, EndTimestamp: (BASE_MS + 4096) / 1000 },
    });
  });
});

async function fetchFirstPage(standin: Standin): Promise<string[]> {
  const res = await fetch(`${standin.url}/listFragments`, {
    method: "POST",
    headers: { authorization: "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=00" },
    body: JSON.stringify({ StreamName: "calls", MaxResults: 5 }),
  });
  const json = await res.json() as { Fragments: { FragmentNumber: string }[] };
  return json.Fragments.map((x) => x.FragmentNumber);
}

Deno.test("getMediaForFragmentList: fragments in the order asked", async () => {
  await withKvs({ chunkSize: [3, 8], delayMs: 2 }, async (f) => {
    const body = await openFragmentList(f.clients, { name: "calls" }, ["1004", "1001", "1003"]);
    const { text, chunks } = await readAll(body);
    assert.equal(text, "frag-4|frag-1|frag-3|");
    assert.ok(chunks > 1);
    assert.deepEqual(f.standin.requests.map((r) => [r.path, r.body?.APIName ?? r.body?.Fragments]), [
      ["/getDataEndpoint", "GET_MEDIA_FOR_FRAGMENT_LIST"],
      ["/getMediaForFragmentList", ["1004", "1001", "1003"]],
    ]);
    const missing = await catchError(openFragmentList(f.clients, { name: "calls" }, ["1"]));
    assert.equal((missing as Error).name, "ResourceNotFoundException");
  });
});

Deno.test("getMediaForFragmentList: more than 1000 fragments go in batches", async () => {
  const frags = fragments(1203);
  await withKvs({ streams: { calls: frags } }, async (f) => {
    const numbers = frags.map((x) => x.fragmentNumber).reverse();
    const { text } = await readAll(await openFragmentList(f.clients, { name: "calls" }, numbers));
    assert.equal(text, [...frags].reverse().map((x) => dec.decode(x.bytes)).join(""));
    const calls = f.standin.requests.filter((r) => r.path === "/getMediaForFragmentList");
    assert.deepEqual(calls.map((r) => (r.body?.Fragments as string[]).length), [1000, 203]);
  });
});

// ---------------------------------------------------------------- clients

Deno.test("region: explicit, else AWS_REGION, else fallback, else UsageError", async () => {
  const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET };
  await withEnv({ ...NO_AWS_FILES, AWS_REGION: undefined }, async () => {
    const err = await catchError(createKvsClients({ credentials: creds }));
    assert.ok(err instanceof UsageError);
    assert.equal(err.message, "no AWS region: pass --region or set AWS_REGION");

    const fb = await createKvsClients({ credentials: creds, fallbackRegion: "ap-south-1" });
    assert.equal(fb.region, "ap-south-1");
    fb.destroy();
  });
  await withEnv({ ...NO_AWS_FILES, AWS_REGION: "eu-central-1" }, async () => {
    const env = await createKvsClients({ credentials: creds, fallbackRegion: "ap-south-1" });
    assert.equal(env.region, "eu-central-1");
    env.destroy();

    const explicit = await createKvsClients({ credentials: creds, region: "us-west-2", profile: "someone" });
    assert.equal(explicit.region, "us-west-2");
    assert.equal(explicit.control.config.profile, "someone");
    assert.equal(await explicit.control.config.region(), "us-west-2");
    explicit.destroy();
  });
});

Deno.test("clients: data-plane clients are cached and --endpoint-url overrides the data endpoint", async () => {
  const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET };
  const withUrl = await createKvsClients({ region: REGION, credentials: creds, endpointUrl: "http://127.0.0.1:1" });
  const plain = await createKvsClients({ region: REGION, credentials: creds });
  try {
    assert.equal(withUrl.media("https://a.example"), withUrl.media("https://b.example"));
    assert.notEqual(plain.media("https://a.example"), plain.media("https://b.example"));
    assert.equal(plain.archived("https://a.example"), plain.archived("https://a.example"));
    const ep = await withUrl.media("https://a.example").config.endpoint?.();
    assert.equal(ep?.hostname, "127.0.0.1");
    const ep2 = await plain.media("https://s-1.kinesisvideo.us-east-1.amazonaws.com").config.endpoint?.();
    assert.equal(ep2?.hostname, "s-1.kinesisvideo.us-east-1.amazonaws.com");
  } finally {
    withUrl.destroy();
    plain.destroy();
  }
});

Deno.test("default chain: environment credentials sign control- and data-plane calls", async () => {
  await withEnv({ ...NO_AWS_FILES, AWS_ACCESS_KEY_ID: "AKIDFROMENV", AWS_SECRET_ACCESS_KEY: SECRET }, async () => {
    await withKvs({}, async (f) => {
      await readAll(await openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
      assert.deepEqual(
        f.standin.requests.map((r) => [r.path, r.headers["authorization"].split("/")[0]]),
        [
          ["/getDataEndpoint", "AWS4-HMAC-SHA256 Credential=AKIDFROMENV"],
          ["/getMedia", "AWS4-HMAC-SHA256 Credential=AKIDFROMENV"],
        ],
      );
    }, { credentials: undefined });
  });
});

Deno.test("default chain: a profile with no credentials is a clear AwsError; a profile no file defines is a UsageError", async () => {
  const dir = await Deno.makeTempDir();
  // The profile exists (a region) but holds no credentials.
  await Deno.writeTextFile(`${dir}/config`, "[profile kvsaudio-test-nocreds]\nregion = us-east-1\n");
  const env = { ...NO_AWS_FILES, AWS_CONFIG_FILE: `${dir}/config`, AWS_ACCESS_KEY_ID: undefined };
  try {
    await withEnv({ ...env, AWS_SECRET_ACCESS_KEY: undefined }, async () => {
      await withKvs({}, async (f) => {
        const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
        assert.ok(err instanceof AwsError);
        assert.equal(err.code, "CredentialsProviderError");
        assert.equal(classifyAwsError(err, "calls"), err);
        // The profile passed is named, and not advised (was: "…, or AWS_PROFILE, or pass --profile").
        assert.equal(
          err.message,
          "no AWS credentials found from profile 'kvsaudio-test-nocreds': " +
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        );
        assert.equal(f.standin.requests.length, 0);
      }, { credentials: undefined, profile: "kvsaudio-test-nocreds" });
      const missing = await catchError(createKvsClients({ region: REGION, profile: "kvsaudio-test-missing" }));
      assert.ok(missing instanceof UsageError);
      assert.equal(
        missing.message,
        `AWS profile 'kvsaudio-test-missing' not found in ${dir}/config or ${NO_AWS_FILES.AWS_SHARED_CREDENTIALS_FILE}: check --profile or AWS_PROFILE`,
      );
    });
    // A shared file that is there but cannot be read is named with why (was: "not found in …", which sent the
    // user to the profile's name rather than the file's permissions).
    await withEnv({ ...env, AWS_CONFIG_FILE: dir }, async () => {
      const unreadable = await catchError(createKvsClients({ region: REGION, profile: "kvsaudio-test-missing" }));
      assert.ok(unreadable instanceof UsageError);
      assert.match(
        unreadable.message,
        new RegExp(`^AWS profile 'kvsaudio-test-missing' not found: cannot read ${dir}: `),
      );
      assert.doesNotMatch(unreadable.message, /\n/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("credentials that never come end the call after the deadline, naming their source; a failing credential_process or SSO login is named", async () => {
  const dir = await Deno.makeTempDir();
  const script = (name: string, body: string) => {
    Deno.writeTextFileSync(`${dir}/${name}`, `#!/bin/sh\n${body}\n`);
    Deno.chmodSync(`${dir}/${name}`, 0o755);
    return `${dir}/${name}`;
  };
  await Deno.writeTextFile(
    `${dir}/config`,
    `[profile hang]\ncredential_process = ${script("hang.sh", "exec sleep 30")}\n` +
      `[profile fails]\ncredential_process = ${script("fails.sh", "echo denied >&2; exit 3")}\n` +
      "[profile sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n" +
      "sso_account_id = 123456789012\nsso_role_name = R\n",
  );
  const env = {
    ...NO_AWS_FILES,
    AWS_CONFIG_FILE: `${dir}/config`,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    HOME: dir,
  };
  try {
    await withEnv(env, async () => {
      // Was: the call waited for ever (the SDK's credential providers heed no call deadline).
      const t0 = performance.now();
      await withKvs({}, async (f) => {
        const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
        assert.ok(err instanceof AwsError, String(err));
        assert.equal(
          err.message,
          "no AWS credentials within 0.3 s from profile 'hang' (its credential_process): it does not answer",
        );
        assert.equal(classifyAwsError(err, "calls"), err, "not retried");
        assert.equal(f.standin.requests.length, 0);
      }, { credentials: undefined, profile: "hang", credentialsTimeoutMs: 300 });
      // checkCredentials (what pull does before its first call, outside the call's 20 s deadline, which would
      // otherwise fire first and be retried as a silent endpoint): the same error.
      await withKvs({}, async (f) => {
        const err = await catchError(f.clients.checkCredentials());
        assert.ok(err instanceof AwsError, String(err));
        assert.match(err.message, /^no AWS credentials within 0\.3 s from profile 'hang'/);
      }, { credentials: undefined, profile: "hang", credentialsTimeoutMs: 300, responseTimeoutMs: 100 });
      assert.ok(performance.now() - t0 < 10_000);
      // Was: "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or pass
      // --profile" for both.
      await withKvs({}, async (f) => {
        const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
        assert.ok(err instanceof AwsError, String(err));
        assert.match(
          err.message,
          /^no AWS credentials found from profile 'fails' \(its credential_process\): it failed/,
        );
      }, { credentials: undefined, profile: "fails" });
      await withKvs({}, async (f) => {
        const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
        assert.ok(err instanceof AwsError, String(err));
        assert.match(
          err.message,
          // (The SDK's own words, when its provider says more than that none gave credentials.)
          /^cannot get AWS credentials from profile 'sso' \(its SSO login\): .*run aws sso login/,
        );
      }, { credentials: undefined, profile: "sso" });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a connection refused while getting credentials (STS for a role) is retried and then named as such, not as KVS's", async () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
  await withKvs({}, async (f) => {
    const err = await catchError(openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
    assert.equal(err, refused);
    assert.equal(classifyAwsError(err, "calls"), "retry");
    const final = finalAwsError(err, "calls", { endpoint: f.standin.url });
    // Was: "connection refused by http://127.0.0.1:PORT (the stand-in): check --endpoint-url and the network".
    assert.equal(final.message, "connection refused by the AWS credentials source (127.0.0.1:9): check the network");
    const checked = await catchError(f.clients.checkCredentials());
    assert.ok(checked instanceof AwsError);
    assert.equal(checked.message, final.message);
    assert.equal(f.standin.requests.length, 0);
  }, { credentials: () => Promise.reject(refused) });
});

Deno.test("region names and endpoint variables are checked before any call; AWS_DEFAULT_REGION and AWS_DEFAULT_PROFILE count as for the AWS CLI", async () => {
  // Was: exit 4 after a call ("Region not accepted: … is not a valid hostname component"), which scripts retry.
  for (const bad of ["us_east_1", "us-east-1 ", "../x"]) {
    const e = await catchError(
      createKvsClients({ region: bad, credentials: { accessKeyId: "A", secretAccessKey: "B" } }),
    );
    assert.ok(e instanceof UsageError, bad);
    assert.match(e.message, /^--region ".*" is not an AWS region name \(like us-east-1\)$/);
  }
  await withEnv({ ...NO_AWS_FILES, AWS_REGION: undefined, AWS_DEFAULT_REGION: "eu-west-1" }, async () => {
    const c = await createKvsClients({ credentials: { accessKeyId: "A", secretAccessKey: "B" } });
    assert.equal(c.region, "eu-west-1");
    c.destroy();
  });
  await withEnv({ ...NO_AWS_FILES, AWS_REGION: "eu_west_1" }, async () => {
    const e = await catchError(createKvsClients({ credentials: { accessKeyId: "A", secretAccessKey: "B" } }));
    assert.ok(e instanceof UsageError);
    assert.equal(e.message, 'AWS_REGION "eu_west_1" is not an AWS region name (like us-east-1)');
  });
  // Was: the SDK's "Unknown (HTTP 404)" from wherever that pointed, exit 4.
  await withEnv({ ...NO_AWS_FILES, AWS_ENDPOINT_URL: "localhost:4566" }, async () => {
    const e = await catchError(
      createKvsClients({ region: REGION, credentials: { accessKeyId: "A", secretAccessKey: "B" } }),
    );
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /^AWS_ENDPOINT_URL "localhost:4566" is not an http\(s\) URL/);
  });
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/credentials`,
    "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n[q]\naws_access_key_id = AKIDPROFILEQ\naws_secret_access_key = s2\n",
  );
  try {
    await withEnv(
      {
        ...NO_AWS_FILES,
        AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_PROFILE: undefined,
        AWS_DEFAULT_PROFILE: "q",
      },
      async () => {
        // Was: signed with the default profile's keys, without a word.
        await withKvs({}, async (f) => {
          await readAll(await openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
          assert.match(f.standin.requests[0].headers["authorization"], /Credential=AKIDPROFILEQ\//);
        }, { credentials: undefined });
        Deno.env.set("AWS_DEFAULT_PROFILE", "nosuch");
        const e = await catchError(createKvsClients({ region: REGION }));
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /^AWS profile 'nosuch' \(AWS_DEFAULT_PROFILE\) not found in /);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AWS files found and read as the SDK does: empty variables, ~/ paths, quoted names, sections without settings", async () => {
  const home = await Deno.makeTempDir();
  await Deno.mkdir(`${home}/alt`);
  await Deno.writeTextFile(
    `${home}/alt/config`,
    '[profile "quoted"]\nregion = us-east-1\n[profile empty]\n; region = x\n[profile sub]\ns3 =\n  max_concurrent_requests = 2\n',
  );
  await Deno.writeTextFile(`${home}/alt/credentials`, "[plain] # comment\naws_access_key_id = a\n");
  try {
    // Was: `~/alt/config` taken literally, and an empty variable taken as the path "".
    await withEnv(
      { ...NO_AWS_FILES, HOME: home, AWS_CONFIG_FILE: "~/alt/config", AWS_SHARED_CREDENTIALS_FILE: "" },
      () => {
        assert.deepEqual(awsFilePaths(), { config: `${home}/alt/config`, credentials: `${home}/.aws/credentials` });
        assert.equal(profileDefined("quoted"), true);
        assert.equal(profileDefined("sub"), true);
        assert.equal(profileDefined("empty"), false, "a section with no setting defines nothing for the SDK");
        assert.equal(profileDefined("plain"), false, "the credentials file is ~/.aws/credentials here");
        return Promise.resolve();
      },
    );
    await withEnv({ ...NO_AWS_FILES, HOME: home, AWS_SHARED_CREDENTIALS_FILE: "~/alt/credentials" }, async () => {
      assert.equal(profileDefined("plain"), true);
      await checkProfile("plain");
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
  // No HOME (nor USERPROFILE, HOMEPATH): the account's home directory, as the SDK's os.homedir() (was "").
  await withEnv({ HOME: "", USERPROFILE: undefined, HOMEPATH: undefined, AWS_CONFIG_FILE: undefined }, () => {
    assert.equal(awsFilePaths().config, `${homedir()}/.aws/config`);
    return Promise.resolve();
  });
  // A [__proto__] section makes the SDK read the whole file as empty.
  assert.equal(definedProfiles("[profile a]\nx=1\n[__proto__]\ny=2\n", true).size, 0);
  assert.deepEqual([...definedProfiles("[default]\nx=1\n[profile default]\ny=2\n[other]\nz=3\n", true)], ["default"]);
  assert.deepEqual([...definedProfiles("[a]\nx=1\n[profile b]\ny=2\n", false)], ["a", "profile.b"]);
});

Deno.test("onSdkWarning: a credential provider's warning in several calls comes as one; other SDK warnings stay quiet", async () => {
  const warnings: string[] = [];
  await withEnv({
    ...NO_AWS_FILES,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/kvsaudio-test-creds",
    AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:9/creds",
  }, async () => {
    const clients = await createKvsClients({ region: REGION, onSdkWarning: (m) => warnings.push(m) });
    try {
      // Was: only the first line ("… you have set both …"), not which one wins.
      await catchError(clients.control.config.credentials());
      const logger = clients.control.config.logger;
      logger.warn("Expected string, got number"); // a serde warning the SDK's default logger keeps quiet
      await Promise.resolve();
    } finally {
      clients.destroy();
    }
  });
  assert.deepEqual(warnings, [
    "@aws-sdk/credential-provider-http: you have set both awsContainerCredentialsRelativeUri and awsContainerCredentialsFullUri. awsContainerCredentialsRelativeUri will take precedence.",
  ]);
});

Deno.test("backoffDelays: exponential, full jitter, capped, seedable", () => {
  assert.equal(backoffDelays(0, { random: () => 0.999999 }), 200);
  assert.equal(backoffDelays(3, { random: () => 0.5 }), 800);
  assert.equal(backoffDelays(40, { random: () => 0.999999 }), 10_000);
  assert.equal(backoffDelays(5, { random: () => 0 }), 0);
  assert.equal(backoffDelays(2, { baseMs: 100, capMs: 300, random: () => 0.999999 }), 300);
  const a = seededRandom(42), b = seededRandom(42);
  const xs = [0, 1, 2, 3, 4, 5].map((n) => backoffDelays(n, { random: a }));
  assert.deepEqual(xs, [0, 1, 2, 3, 4, 5].map((n) => backoffDelays(n, { random: b })));
  for (const [n, d] of xs.entries()) assert.ok(d >= 0 && d <= Math.min(10_000, 200 * 2 ** n));
});

Deno.test("checkProfile: profiles as the SDK reads the AWS files ([default], [profile default], dotted names)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/config`,
    "[profile default]\nregion = us-east-1\n[profile my.prod]\nregion = eu-west-1\n[plainname]\nregion = x\n",
  );
  await Deno.writeTextFile(`${dir}/credentials`, "[cred.one]\naws_access_key_id = a\n");
  try {
    await withEnv({
      ...NO_AWS_FILES,
      AWS_CONFIG_FILE: `${dir}/config`,
      AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
    }, async () => {
      for (const ok of ["default", "my.prod", "cred.one"]) await checkProfile(ok);
      // A config-file section without `profile ` names no profile (except [default]); "profile x" is not a name.
      for (const bad of ["plainname", "nosuch", "profile my.prod"]) {
        assert.ok(await catchError(checkProfile(bad)) instanceof UsageError, bad);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("credentials refreshed mid-pull that never come: the pull ends naming them, not the endpoint", async () => {
  // Credentials that expire within the SDK's refresh window: every call after the first refreshes them, and the
  // refresh hangs. Was: each call's response deadline fired first, retried as a silent endpoint, then "the endpoint
  // … sent no response within 20 s, also when retried" after minutes.
  let calls = 0;
  const credentials = () => {
    calls++;
    if (calls > 1) return new Promise<never>(() => {});
    return Promise.resolve({
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: SECRET,
      expiration: new Date(Date.now() + 60_000),
    });
  };
  const standin = startStandin({ streams: { [ARN_FOR_PULL]: fragments(3) }, live: true });
  try {
    const err = await catchError(pullInProcess(standin.url, { type: "EARLIEST" }, {}, {
      credentials,
      credentialsTimeoutMs: 300,
      responseTimeoutMs: 200,
    }));
    assert.ok(err instanceof AwsError, String(err));
    assert.match(err.message, /^no AWS credentials within 0\.3 s from /);
  } finally {
    await standin.close();
  }
});

Deno.test("a profile's region that is no region name is refused, also where an ARN would name one", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config`, "[profile badreg]\nregion = us_east_1\n");
  try {
    await withEnv({ ...NO_AWS_FILES, AWS_CONFIG_FILE: `${dir}/config`, AWS_REGION: undefined }, async () => {
      // Was: the ARN's region used without a word, or "no AWS region: pass --region or set AWS_REGION".
      for (const fallbackRegion of [undefined, "us-east-1"]) {
        const e = await catchError(
          createKvsClients({
            profile: "badreg",
            fallbackRegion,
            credentials: { accessKeyId: "A", secretAccessKey: "B" },
          }),
        );
        assert.ok(e instanceof UsageError, String(e));
        assert.equal(
          e.message,
          `the region of profile 'badreg' "us_east_1" is not an AWS region name (like us-east-1)`,
        );
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an endpoint URL's password is never printed, not even one holding @ or in a URL refused as not http(s)", async () => {
  const e = await catchError(
    createKvsClients({
      region: REGION,
      endpointUrl: "hxxp://alice:Sup3rSecretPw@127.0.0.1:9",
      credentials: { accessKeyId: "A", secretAccessKey: "B" },
    }),
  );
  assert.ok(e instanceof UsageError);
  assert.ok(!e.message.includes("Sup3rSecretPw"), e.message);
  assert.match(e.message, /"hxxp:\/\/alice:…@127\.0\.0\.1:9"/);
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
  const m = finalAwsError(refused, "calls", { endpoint: "http://alice:Sup3r@Secret@127.0.0.1:9" }).message;
  assert.equal(m, "connection refused by http://alice:…@127.0.0.1:9: check --endpoint-url and the network");
});

Deno.test("AWS_DEFAULT_PROFILE does not take over from keys in the environment (as for the AWS CLI)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/credentials`, "[q]\naws_access_key_id = AKIDPROFILEQ\naws_secret_access_key = s2\n");
  try {
    await withEnv(
      {
        ...NO_AWS_FILES,
        AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
        AWS_ACCESS_KEY_ID: "AKIDFROMENV",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_DEFAULT_PROFILE: "q",
      },
      async () => {
        await withKvs({}, async (f) => {
          await readAll(await openMedia(f.clients, { name: "calls" }, { type: "NOW" }));
          assert.match(f.standin.requests[0].headers["authorization"], /Credential=AKIDFROMENV\//);
        }, { credentials: undefined });
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("credentialsError: no credentials from a container endpoint says to check it (was: set keys or pass --profile)", async () => {
  await withEnv(
    { ...NO_AWS_FILES, AWS_ACCESS_KEY_ID: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:9/creds" },
    () => {
      const none = Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      });
      assert.equal(
        credentialsError(none, undefined).message,
        "no AWS credentials found from the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_*): it gave " +
          "none (refused, failed or answered no credentials): check AWS_CONTAINER_CREDENTIALS_* and that endpoint",
      );
      return Promise.resolve();
    },
  );
});

Deno.test("a connection refused while getting credentials before the first call is retried like a call's", async () => {
  // Was (for a moment today): exit 4 at once, no retry.
  let calls = 0;
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
  const credentials = () => {
    calls++;
    return calls < 3
      ? Promise.reject(refused)
      : Promise.resolve({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET });
  };
  const standin = startStandin({ streams: { [ARN_FOR_PULL]: standinFragments(connectStream({ fragments: 2 })) } });
  try {
    const r = await pullInProcess(standin.url, { type: "EARLIEST" }, { maxRetries: 3 }, { credentials });
    assert.equal(r.events.filter((e) => e.type === "retry" && e.failed).length, 2);
    assert.ok(r.from.length > 0);
  } finally {
    await standin.close();
  }
});

Deno.test("a caller's own credentials provider that fails is named as such, not as the environment's", async () => {
  await withKvs({}, async (f) => {
    const err = await catchError(f.clients.checkCredentials());
    assert.ok(err instanceof AwsError);
    assert.equal(
      err.message,
      "cannot get AWS credentials from the credentials given to createKvsClients: VaultError: vault lease expired",
    );
  }, { credentials: () => Promise.reject(Object.assign(new Error("vault lease expired"), { name: "VaultError" })) });
});

Deno.test("AWS_DEFAULT_PROFILE's region counts also when keys in the environment sign (as for the AWS CLI)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/config`,
    "[default]\nregion = us-west-2\n[profile work]\nregion = eu-west-1\n[profile bare]\noutput = json\n",
  );
  try {
    await withEnv(
      {
        ...NO_AWS_FILES,
        AWS_CONFIG_FILE: `${dir}/config`,
        AWS_REGION: undefined,
        AWS_ACCESS_KEY_ID: "AKIDFROMENV",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_DEFAULT_PROFILE: "work",
      },
      async () => {
        const c = await createKvsClients({});
        assert.equal(c.region, "eu-west-1");
        c.destroy();
        // A profile without a region: the ARN's, not [default]'s (was us-west-2).
        Deno.env.set("AWS_DEFAULT_PROFILE", "bare");
        const d = await createKvsClients({ fallbackRegion: "us-east-1" });
        assert.equal(d.region, "us-east-1");
        d.destroy();
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("withoutPassword: a password with / or @ in a URL refused as not http(s) is hidden too", () => {
  assert.equal(withoutPassword("http://me:se/cret@127.0.0.1:4566"), "http://me:…@127.0.0.1:4566");
  assert.equal(withoutPassword("http://me:a@b@127.0.0.1:9/x"), "http://me:…@127.0.0.1:9/x");
  assert.equal(withoutPassword("http://127.0.0.1:9/a@b"), "http://127.0.0.1:9/a@b");
  // Without a scheme (a tester: shown whole, in the message and the done event).
  assert.equal(withoutPassword("user:s3cr3tpw@host"), "user:…@host");
  assert.equal(withoutPassword("//user:s3cr3tpw@host"), "//user:…@host");
  assert.equal(withoutPassword("localhost:s3cr3tpw@x"), "localhost:…@x");
  assert.equal(withoutPassword("localhost:4566"), "localhost:4566");
  // Forms the URL parser takes for http://user:pass@… (a re-tester: shown whole in the error and the done event).
  assert.equal(withoutPassword("http:u:s3cretE@127.0.0.1:9"), "http:u:…@127.0.0.1:9");
  assert.equal(withoutPassword(" http://u:s3cretK@h"), " http://u:…@h");
  assert.equal(withoutPassword("http:/u:pw@h"), "http:/u:…@h");
  assert.equal(withoutPassword("http://user@host"), "http://user@host");
});

Deno.test("checkRegionName: a region in capitals is refused (it is part of the signature)", () => {
  assert.throws(() => checkRegionName("US-EAST-1", "--region"), /--region "US-EAST-1" is not an AWS region name/);
  checkRegionName("us-east-1", "--region");
});

Deno.test("listFragments: a listing that does not end (a NextToken given again, pages without end) is refused", async () => {
  // A hang hunter: the same NextToken each time looped at ~1,700 calls a second forever; new tokens on every page
  // grew memory ~80 MB a second, and no audio was written.
  await withKvs({ faults: { endlessListing: "same-token" } }, async (f) => {
    const e = await catchError(listFragments(f.clients, { name: "calls" }));
    assert.ok(e instanceof AwsError, String(e));
    assert.equal(e.exitCode, ExitCode.aws);
    assert.equal(
      e.message,
      "ListFragments on stream calls gave the same NextToken again after 2 page(s): its listing does not end",
    );
    assert.equal(f.standin.requests.filter((r) => r.path === "/listFragments").length, 2);
  });
  await withKvs({ faults: { endlessListing: "new-tokens" } }, async (f) => {
    const e = await catchError(listFragments(f.clients, { name: "calls" }));
    assert.ok(e instanceof AwsError, String(e));
    assert.match(e.message, /^ListFragments on stream calls listed more than 10000 pages: narrow the range/);
  });
});

Deno.test("an answer that never ends (JSON, or an error's body) fails the call past 8 MiB, named; memory stays bounded", async () => {
  // A hang hunter: the SDK read such a body whole: 13.5 GB of RSS in 38 s.
  for (const [path, status] of [["/getDataEndpoint", 200], ["/getDataEndpoint", 500], ["/getMedia", 500]] as const) {
    await withKvs({ faults: { endlessAnswer: { path, status } } }, async (f) => {
      const rss0 = Deno.memoryUsage().rss;
      const e = await catchError(openMedia(f.clients, { name: "calls" }, { type: "EARLIEST" }));
      const c = classifyAwsError(e, "calls");
      assert.ok(c instanceof AwsError, `${path} ${status}: ${e}`);
      assert.equal(c.exitCode, ExitCode.aws);
      const api = path === "/getMedia" ? "GetMedia" : "GetDataEndpoint";
      assert.equal(c.message, `the ${api} answer (HTTP ${status}) runs past 8 MiB: not an answer of KVS's`);
      assert.ok(Deno.memoryUsage().rss - rss0 < 200 * 1024 * 1024, "memory bounded");
    });
  }
});
