/**
 * Test harness for pulls against the loopback KVS stand-in: generated
 * Connect fragments as stand-in fragments, an in-process pull through the
 * real SDK (PullSource → ConnectDemuxer → CallWriter), and CLI runs with
 * recognisable fake credentials.
 * @module
 */

import type { GeneratedStream } from "./connect_stream.ts";
import { type Standin, type StandinFragment, type StandinOptions, startStandin } from "./kvs_standin.ts";
import { withTempDir } from "./util.ts";
import { createKvsClients, type KvsClientOptions } from "../../src/kvs/client.ts";
import { type PullEvent, PullSource, type PullSourceOptions } from "../../src/kvs/pull_source.ts";
import { ConnectDemuxer } from "../../src/connect/demuxer.ts";
import { CallWriter } from "../../src/audio/call_writer.ts";
import { kvsaudio } from "./cli.ts";
import { assembleFragments } from "../../src/mkv/assembler.ts";
import type { Fragment } from "../../src/mkv/fragment.ts";
import type { ElementNode } from "../../src/mkv/tree.ts";
import assert from "node:assert/strict";

/** A stream ARN in us-east-1. */
export const ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-test/1700000000000";

/** Fake credentials that must never appear in any output. */
export const FAKE = {
  accessKeyId: "AKIDFAKEKVSAUDIO0001",
  secretAccessKey: "fakeSecretKeyDoNotPrint/0123456789abcdef",
  sessionToken: "FakeSessionTokenDoNotPrint0123456789",
};

/** Environment for CLI runs: fake credentials, no real AWS config. */
export const AWS_ENV: Record<string, string> = {
  AWS_ACCESS_KEY_ID: FAKE.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE.secretAccessKey,
  AWS_SESSION_TOKEN: FAKE.sessionToken,
  AWS_REGION: "us-east-1",
  AWS_CONFIG_FILE: "/nonexistent/aws-config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
  AWS_EC2_METADATA_DISABLED: "true",
};

/** {@linkcode AWS_ENV} without keys in the environment, with the config file at `config` (profile tests). */
export function profileEnv(config: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...AWS_ENV,
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_SESSION_TOKEN: "",
    AWS_CONFIG_FILE: config,
    ...extra,
  };
}

/** Stand-in fragments from a generated stream. */
export function standinFragments(s: GeneratedStream): StandinFragment[] {
  return s.fragments.map((f) => ({
    fragmentNumber: f.fragmentNumber,
    producerMs: f.producerMs,
    serverMs: f.serverMs,
    continuationToken: f.continuationToken,
    bytes: f.bytes,
  }));
}

/** Start a stand-in serving `s` under {@linkcode ARN}. */
export function serve(s: GeneratedStream, opts: Omit<StandinOptions, "streams"> = {}) {
  return startStandin({ streams: { [ARN]: standinFragments(s) }, chunkSize: [100, 5000], ...opts });
}

/** Run `fn` against a stand-in serving `s`, with a temp dir for outputs; both are gone afterwards. */
export async function withStandin<T>(
  s: GeneratedStream,
  opts: Parameters<typeof serve>[1],
  fn: (standin: Standin, dir: string) => Promise<T>,
): Promise<T> {
  const standin = serve(s, opts);
  try {
    return await withTempDir("kvsaudio-pull-test-", (dir) => fn(standin, dir));
  } finally {
    await standin.close();
  }
}

/** Result of an in-process pull. */
export interface InProcessPull {
  from: Uint8Array;
  to: Uint8Array;
  source: PullSource;
  events: PullEvent[];
  stop?: string;
}

/** Pull in-process through the real SDK (`clientOpts` tune the clients); outputs raw PCM read back from files. */
export async function pullInProcess(
  url: string,
  selector: PullSourceOptions["selector"],
  opts: Partial<PullSourceOptions> = {},
  clientOpts: Partial<KvsClientOptions> = {},
): Promise<InProcessPull> {
  const clients = await createKvsClients({ region: "us-east-1", endpointUrl: url, credentials: FAKE, ...clientOpts });
  const dir = await Deno.makeTempDir({ prefix: "kvsaudio-pull-" });
  const events: PullEvent[] = [];
  const source = new PullSource({
    clients,
    stream: { arn: ARN },
    selector,
    idleTimeoutMs: 400,
    backoff: { baseMs: 1, capMs: 5 },
    onEvent: (e) => events.push(e),
    ...opts,
  });
  const writer = new CallWriter({ outDir: dir, format: "raw", stereo: false, tracks: "both", force: false });
  writer.prepare();
  const demux = new ConnectDemuxer();
  let stop: string | undefined;
  try {
    for await (const f of source.fragments()) {
      const item = demux.fragment(f);
      if (item.kind === "stop") {
        stop = item.reason;
        break;
      }
      writer.write(item);
    }
  } catch (e) {
    writer.close();
    clients.destroy();
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  writer.close();
  clients.destroy();
  const from = await Deno.readFile(`${dir}/from_customer.raw`);
  const to = await Deno.readFile(`${dir}/to_customer.raw`);
  await Deno.remove(dir, { recursive: true });
  return { from, to, source, events, stop };
}

/** `pull`'s arguments for the stand-in at `url`, stream {@linkcode ARN} from fragment `start` (add --out …). */
export function pullFrom(url: string, start: string): string[] {
  return ["pull", "--endpoint-url", url, "--region", "us-east-1", "--arn", ARN, "--start-fragment", start];
}

/** Run `kvsaudio pull` against a stand-in URL with fake credentials. */
export function pullCli(url: string, args: string[], env: Record<string, string> = {}) {
  return kvsaudio(["pull", "--endpoint-url", url, "--region", "us-east-1", ...args], { env: { ...AWS_ENV, ...env } });
}

/** Assert no fake credential appears in `text`. */
export function leaksSecret(text: string): string | undefined {
  for (const v of Object.values(FAKE)) if (text.includes(v)) return v;
  if (/AWS4-HMAC-SHA256|Signature=|x-amz-security-token/i.test(text)) return "a signed header";
  return undefined;
}

/** Absolute stream offsets inside fragment `i` of `s` where a clean early end must not yield it: every block start, the end of its Cluster (start of the trailing Tags), a few bytes into those Tags. */
export async function cutsInside(s: GeneratedStream, i: number): Promise<number[]> {
  let frag: Fragment | undefined;
  for await (const f of assembleFragments([s.bytes], { tree: true })) if (f.index === i) frag = f;
  const cuts: number[] = [];
  const walk = (n: ElementNode) => {
    if (n.name === "SimpleBlock") cuts.push(n.offset);
    n.children?.forEach(walk);
  };
  frag!.tree!.forEach(walk);
  const segment = frag!.tree!.find((n) => n.name === "Segment")!;
  const trailing = segment.children!.filter((n) => n.name === "Tags" && n.offset > cuts.at(-1)!);
  assert.ok(trailing.length > 0, "the fragment has tags after its Cluster");
  for (const t of trailing) cuts.push(t.offset, t.offset + 5);
  return cuts;
}
