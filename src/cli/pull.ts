/**
 * `kvsaudio pull`: live or archived call audio straight from Kinesis Video
 * Streams — GetDataEndpoint + GetMedia (or ListFragments +
 * GetMediaForFragmentList) → EBML tokenizer → fragment assembler → Connect
 * demuxer → WAV sinks, resuming across dropped connections and session limits.
 *
 * @example
 * ```ts
 * import { pullCommand } from "./pull.ts";
 * const code = await pullCommand([
 *   "--arn",
 *   "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1700000000000",
 *   ...["--start-fragment", "91343852333181551234925834077012571618243808844", "--out", "calls/c-2"],
 *   ...["--idle-timeout", "1", "--quiet"], // done 1 s after the last fragment
 * ]);
 * console.log(code); // 0: calls/c-2/from_customer.wav and to_customer.wav written
 * ```
 * @module
 */

import { ConnectDemuxer } from "../connect/demuxer.ts";
import { DataError, KvsAudioError, KvsStreamError, UsageError } from "../errors.ts";
import { displayText } from "./sanitize.ts";
import { CallWriter } from "../audio/call_writer.ts";
import { parseFragmentNumber } from "../mkv/fragment.ts";
import type { Fragment } from "../mkv/fragment.ts";
import type { FragmentSource } from "../kvs/fragment_source.ts";
import type { PullEvent } from "../kvs/pull_source.ts";
import type { KvsClients } from "../kvs/client.ts";
import { checkEndpointUrl, checkEndpointVariables, checkRegionName } from "../kvs/endpoint_url.ts";
import type { StartSelector } from "../kvs/selector.ts";
import { choice, flag, num, parseCommand, str, type Values } from "./args.ts";
import { PULL_OPTIONS } from "./command_options.ts";
import { CallRun, warnLeftOver } from "./call_run.ts";
import { CONTINUATION_TOKEN, startToken, withOptions } from "./early_done.ts";
import { applyConfig, fromConfig } from "./config.ts";
import { type ConnectEventValues, readConnectEvent } from "./event.ts";
import { callHelp, type CallOutputOptions, outputOptions } from "./output_options.ts";
import { blameConfig, blameConfigFor, withValues } from "./configured.ts";
import { StatusLine } from "./progress.ts";
import { Reporter } from "./report.ts";
import { stopNewDescendantsAtExit } from "./children.ts";
import { printOut } from "./output.ts";
import { onInterrupt } from "./signals.ts";
import { parseTimestamp } from "./time.ts";

/** Help text of `pull`. */
export const PULL_HELP = `Usage: kvsaudio pull (--arn ARN | --stream-name NAME) START [STOP] --out DIR [options]

Pull Amazon Connect call audio from Kinesis Video Streams into WAV files:
from_customer.wav (the customer's voice) and to_customer.wav (what the
customer hears). Resumes across dropped connections and the ~45-minute
GetMedia session limit with no lost and no duplicated audio.

Stream:
  --arn ARN                 stream ARN (Connect's StreamARN)
  --stream-name NAME        stream name (instead of --arn)
  --event FILE|-            take ARN, start/stop fragment or timestamps and ContactId from a Connect
                            contact-flow Lambda event or a contact record (JSON); flags win
Start (one of):
  --start-fragment N        Connect's StartFragmentNumber; the audio of fragment N itself is included
  --start-timestamp T       ISO 8601 (without a zone: UTC) or epoch seconds/ms, with
                            --timestamp-type producer|server (default producer)
  --start now|earliest      the live edge, or the oldest data kept
  --continuation-token TOK  resume where a previous run stopped (its done event's continuationToken)
  --after-fragment N        resume after fragment N, which a previous run wrote (its done event's
                            lastFragmentNumber, when it has no continuationToken)
Stop (any):
  (another contact's fragment also ends a pull: see --contact-id and --follow-stream under Output)
  --stop-fragment N         stop after fragment N (Connect's StopFragmentNumber)
  --stop-timestamp T        stop at fragments produced after T
  --max-duration SECONDS    stop after this much stream time (more than 0; whole fragments)
  --idle-timeout SECONDS    finish when no fragment (and no byte) arrives for this long, across
                            reconnects (default 5; 0: never, wait until a stop bound or a signal;
                            past --stop-timestamp, 5 s without data end it)
Reading:
  --max-retries N           consecutive failed attempts (throttling, 5xx, network) before giving up
                            (default 8; exponential backoff with jitter, up to 10 s apart)
  --archived                read archived data (ListFragments + GetMediaForFragmentList) between
                            --start-timestamp and --stop-timestamp (both needed); automatic when
                            both are given and the stop lies more than a minute in the past
Output:
${callHelp("pull")}
AWS:
  --region REGION           AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region,
                            else the ARN's)
  --profile NAME            named profile from the AWS config/credentials files
  --endpoint-url URL        send all KVS calls (control and data plane) to this URL
  --config FILE             INI file with defaults for any long option (default ./kvsaudio.ini);
                            --no-FLAG turns off a flag it turns on (--no-stereo)
  -h, --help                show this help

Credentials come from the AWS SDK's default chain (environment, profile, SSO,
credential_process, web identity, container and instance roles). They never
appear in any output. SIGINT, SIGTERM and SIGHUP finalize the WAVs (exit 130).

Exit codes: 0 done, 1 cannot write output, 2 usage, 3 bad stream data, 4 AWS error, 5 in-band KVS error, 130 interrupted.`;

/** Everything `pull` needs, validated. */
export interface PullPlan {
  stream: { arn?: string; name?: string };
  selector: StartSelector;
  timestampType: "producer" | "server";
  stopFragment?: bigint;
  stopTimestampMs?: number;
  maxDurationMs?: number;
  idleTimeoutMs: number;
  maxRetries: number;
  archived: boolean;
  startTimestampMs?: number;
  /** `--after-fragment`: fragment N and those before it were written by an earlier run. */
  afterFragment?: string;
  aws: { region?: string; profile?: string; endpointUrl?: string };
}

function fragmentNumber(name: string, value: string): string {
  if (!/^\d{1,64}$/.test(value)) {
    throw new UsageError(`pull: --${name} must be a decimal fragment number, not '${value}'`);
  }
  // Without leading zeros, as KVS writes them (it is asked for and compared as that number).
  return BigInt(value).toString();
}

/** Longest --idle-timeout (s): a timer waits at most 2^31 - 1 ms. */
const MAX_WAIT_S = 2_000_000;

function timestamp(name: string, value: string): number {
  const ms = parseTimestamp(value);
  if (ms === undefined) {
    throw new UsageError(
      `pull: --${name} must be an ISO 8601 date and time or epoch seconds/milliseconds, 1970 to 9999, not '${value}'`,
    );
  }
  return ms;
}

/** The refusal of an event's start or stop timestamp that is none (used, not only given). */
function badEventTime(which: "start" | "stop"): UsageError {
  return new UsageError(
    `pull: the --event's ${which} timestamp is not an ISO 8601 time or epoch seconds/milliseconds`,
  );
}

/** Validate options (after config and event defaults) into a plan. */
export function planPull(values: Values, event: ConnectEventValues | undefined, now = Date.now()): PullPlan {
  // Checked before any output is created or the SDK is loaded.
  const endpointUrl = str(values, "endpoint-url");
  if (endpointUrl !== undefined) checkEndpointUrl(endpointUrl);
  else checkEndpointVariables();
  const region = str(values, "region");
  if (region !== undefined) checkRegionName(region, "--region");
  // (An empty name would be none at all: no profile, said only after the SDK's chain.)
  if (str(values, "profile")?.trim() === "") {
    throw new UsageError(`pull: --profile needs a name, not '${str(values, "profile")}'`);
  }
  // Flags first, then the event, then the config file's defaults: a default never excludes what a flag or
  // the event gives (its stream, start or stop).
  const configured = fromConfig(values);
  const flagged = (k: string) => configured.has(k) ? undefined : str(values, k);
  const defaulted = (k: string) => configured.has(k) ? str(values, k) : undefined;
  let name = flagged("stream-name");
  let arn = flagged("arn") ?? (name === undefined ? event?.arn : undefined);
  if (arn === undefined && name === undefined) {
    name = defaulted("stream-name");
    arn = defaulted("arn");
  }
  if (arn !== undefined && name !== undefined) throw new UsageError("pull: give --arn or --stream-name, not both");
  // (The stream in effect: a config file's empty stream-name that --arn overrides is no matter.)
  if (name?.trim() === "") throw new UsageError(`pull: --stream-name needs a name, not '${name}'`);
  if (arn === undefined && name === undefined) {
    throw new UsageError("pull: --arn ARN or --stream-name NAME is required");
  }
  if (arn !== undefined && !/^arn:aws[a-z-]*:kinesisvideo:[a-z0-9-]+:\d{12}:stream\/[^/]+\/\d+$/.test(arn)) {
    // (Named where it came from: the event's, when no flag or config file gave one.)
    const from = arn === flagged("arn") || arn === defaulted("arn") ? "--arn" : "the --event's stream ARN";
    throw new UsageError(`pull: ${from} is not a Kinesis Video stream ARN: '${arn}'`);
  }
  const timestampType = choice("pull", values, "timestamp-type", ["producer", "server"], "producer");
  const starts = ["start-fragment", "start-timestamp", "start", "continuation-token", "after-fragment"];
  // The flags' start, else the event's, else the config file's.
  const startFrom = starts.some((k) => flagged(k) !== undefined) ||
      event?.startFragment !== undefined || event?.startTimestampMs !== undefined
    ? flagged
    : defaulted;
  const explicitStarts = starts.filter((k) => startFrom(k) !== undefined);
  if (explicitStarts.length > 1) {
    throw new UsageError(`pull: give one start, not ${explicitStarts.map((k) => `--${k}`).join(" and ")}`);
  }
  let selector: StartSelector | undefined;
  let startTimestampMs: number | undefined;
  const sf = startFrom("start-fragment");
  const st = startFrom("start-timestamp");
  const s = startFrom("start");
  const tok = startFrom("continuation-token");
  const af = startFrom("after-fragment");
  let afterFragment: string | undefined;
  if (af !== undefined) {
    // GetMedia from N (read as "from" or "after" N): N itself, if it comes, is dropped as written.
    afterFragment = fragmentNumber("after-fragment", af);
    selector = { type: "FRAGMENT_NUMBER", fragmentNumber: afterFragment };
  } else if (sf !== undefined) {
    selector = { type: "FRAGMENT_NUMBER", fragmentNumber: fragmentNumber("start-fragment", sf) };
  } else if (st !== undefined) startTimestampMs = timestamp("start-timestamp", st);
  else if (s !== undefined) {
    if (s !== "now" && s !== "earliest") throw new UsageError(`pull: --start must be now or earliest, not '${s}'`);
    selector = { type: s === "now" ? "NOW" : "EARLIEST" };
  } else if (tok !== undefined) {
    if (!CONTINUATION_TOKEN.test(tok)) throw new UsageError("pull: --continuation-token has invalid characters");
    selector = { type: "CONTINUATION_TOKEN", token: tok };
  } else if (event?.startFragment !== undefined) {
    selector = {
      type: "FRAGMENT_NUMBER",
      fragmentNumber: fragmentNumber("event StartFragmentNumber", event.startFragment),
    };
  } else if (event?.startTimestampMs !== undefined) {
    if (Number.isNaN(event.startTimestampMs)) throw badEventTime("start");
    startTimestampMs = event.startTimestampMs;
  } else {
    throw new UsageError(
      "pull: a start is required: --start-fragment N, --start-timestamp T, --start now|earliest or --continuation-token TOKEN",
    );
  }
  if (startTimestampMs !== undefined) {
    selector = {
      type: timestampType === "producer" ? "PRODUCER_TIMESTAMP" : "SERVER_TIMESTAMP",
      timestampMs: startTimestampMs,
    };
  }
  const stopFragmentText = flagged("stop-fragment") ?? event?.stopFragment ?? defaulted("stop-fragment");
  const stopTsFlag = flagged("stop-timestamp");
  const stopTsDefault = defaulted("stop-timestamp");
  const stopTimestampMs = stopTsFlag !== undefined
    ? timestamp("stop-timestamp", stopTsFlag)
    : event?.stopTimestampMs ?? (stopTsDefault !== undefined ? timestamp("stop-timestamp", stopTsDefault) : undefined);
  if (Number.isNaN(stopTimestampMs)) throw badEventTime("stop");
  if (startTimestampMs !== undefined && stopTimestampMs !== undefined && stopTimestampMs < startTimestampMs) {
    // Each named by where it came from (a config file's value is blamed on the file only when it is named).
    const stopName = stopTsFlag !== undefined || event?.stopTimestampMs === undefined
      ? "--stop-timestamp"
      : "the event's stop timestamp";
    const startName = st !== undefined ? "--start-timestamp" : "the event's start timestamp";
    throw new UsageError(
      `pull: ${stopName} (${new Date(stopTimestampMs).toISOString()}) is before ${startName} ` +
        `(${new Date(startTimestampMs).toISOString()})`,
    );
  }
  const maxDuration = num("pull", values, "max-duration", undefined, { positive: true });
  // (Fragments are whole: a duration shorter than one still writes the first; 0 would mean none at all.)
  // (Timers take at most 2^31 - 1 ms: ~24.8 days.)
  const idle = num("pull", values, "idle-timeout", 5, { max: MAX_WAIT_S }) as number;
  let archived = flag(values, "archived");
  if (archived && (startTimestampMs === undefined || stopTimestampMs === undefined)) {
    // A config file's `archived = true` gives way to a start or stop that archived reading cannot take,
    // given by a flag or the event; with a timestamp missing otherwise (or both from the file), refused.
    const otherStart = startTimestampMs === undefined && startFrom === flagged;
    const otherStop = (flagged("stop-fragment") ?? event?.stopFragment) !== undefined;
    if (configured.has("archived") && (otherStart || otherStop)) archived = false;
    else throw new UsageError("pull: --archived needs --start-timestamp and --stop-timestamp");
  }
  if (!archived && startTimestampMs !== undefined && stopTimestampMs !== undefined && stopTimestampMs < now - 60_000) {
    archived = true; // the whole range lies in the past
  }
  const stopFromEvent = flagged("stop-fragment") === undefined && event?.stopFragment !== undefined;
  const stopFragment = stopFragmentText !== undefined
    ? parseFragmentNumber(
      fragmentNumber(stopFromEvent ? "event StopFragmentNumber" : "stop-fragment", stopFragmentText),
    )
    : undefined;
  const sel = selector!;
  if (stopFragment !== undefined && sel.type === "FRAGMENT_NUMBER" && stopFragment < BigInt(sel.fragmentNumber)) {
    // (Fragment numbers grow along a stream: nothing from the start on could be the stop's.)
    throw new UsageError(`pull: the stop fragment ${stopFragment} is before the start fragment ${sel.fragmentNumber}`);
  }
  return {
    stream: arn !== undefined ? { arn } : { name },
    selector: sel,
    timestampType,
    stopFragment,
    stopTimestampMs,
    maxDurationMs: maxDuration !== undefined ? maxDuration * 1000 : undefined,
    idleTimeoutMs: idle * 1000,
    maxRetries: num("pull", values, "max-retries", 8, { integer: true }) as number,
    archived,
    startTimestampMs,
    afterFragment,
    aws: { region: str(values, "region"), profile: str(values, "profile"), endpointUrl },
  };
}

/** Why a pull stopped before its source ended. */
type StopCheck = "stop-fragment" | "stop-timestamp" | "max-duration" | undefined;

function stopBefore(plan: PullPlan, f: Fragment, firstMs: number | undefined): StopCheck {
  const k = f.kvs;
  if (plan.stopFragment !== undefined) {
    const n = f.fragmentNumberBigInt;
    if (n !== undefined && n > plan.stopFragment) return "stop-fragment";
  }
  const ts = plan.timestampType === "server" ? k.serverTimestampMs : k.producerTimestampMs;
  if (plan.stopTimestampMs !== undefined && ts !== undefined && ts > plan.stopTimestampMs) return "stop-timestamp";
  if (plan.maxDurationMs !== undefined && firstMs !== undefined && k.producerTimestampMs !== undefined) {
    if (k.producerTimestampMs - firstMs >= plan.maxDurationMs) return "max-duration";
  }
  return undefined;
}

/**
 * One line for a warning the AWS SDK prints (they come as several, indented);
 * `profileFlag` tells whether the profile came from `--profile`.
 */
export function sdkWarning(message: string, profileFlag: boolean): string {
  if (/Multiple credential sources detected/.test(message)) {
    return `both ${
      profileFlag ? "--profile" : "AWS_PROFILE"
    } and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set: the AWS SDK takes the profile and ignores the keys`;
  }
  return `AWS SDK: ${message.replace(/\s+/g, " ").trim()}`;
}

/**
 * Lines the AWS SDK's parts print with `console.warn` themselves (an HTTP
 * handler made without a logger, such as the container credentials
 * provider's: "@smithy/node-http-handler - [WARN] a request has exceeded the
 * configured 1000 ms requestTimeout…") go to `onWarning` instead, as one
 * kvsaudio warning line, so that stderr keeps its form (NDJSON with `--json
 * --out -`); a request timeout, which the call's own deadline handles, is
 * dropped. Other lines print as before.
 */
function sdkConsoleWarnings(onWarning: (message: string) => void): () => void {
  const warn = console.warn;
  const mine = (...parts: unknown[]) => {
    const message = parts.map(String).join(" ");
    if (!/^@(smithy|aws-sdk)\b/.test(message)) return warn(...parts);
    if (!/requestTimeout/.test(message)) onWarning(message);
  };
  console.warn = mine;
  // Put back when the run ends (pullCommand may run in-process again).
  return () => {
    if (console.warn === mine) console.warn = warn;
  };
}

/** Run `pull`; returns the exit code. */
export async function pullCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand("pull", args, PULL_OPTIONS);
  if (flag(values, "help")) {
    printOut(PULL_HELP);
    return 0;
  }
  // A credential_process that hangs is not left running when the pull ends.
  stopNewDescendantsAtExit();
  if (positionals.length > 0) throw new UsageError(`pull: unexpected argument '${positionals[0]}'`);
  await applyConfig("pull", values, PULL_OPTIONS, str(values, "config"));
  const eventPath = str(values, "event");
  // The outputs and the reporter come from the options alone: the event may only settle contact-id against
  // follow-stream defaults, which neither depends on.
  let early, writer;
  try {
    early = outputOptions("pull", withValues(values, { "contact-id": undefined, "follow-stream": undefined }));
    // Standard output is written in the background, so that a signal is handled while its reader does not read.
    writer = new CallWriter({ ...early.writer, backgroundWriter: Deno.stdout });
  } catch (e) {
    throw withOptions(e, values); // for the done event of a refused --json run
  }
  const toStderr = early.writer.outDir === "-";
  const reporter = new Reporter({ json: early.json, toStderr, verbose: early.verbose });
  const run = new CallRun(writer, reporter, "stream");
  // A run started from a token gives it back while it writes no fragment, however and whenever it ends.
  run.startToken = startToken(values);
  const abort = new AbortController();
  const status = new StatusLine(Deno.stderr.isTerminal() && !early.quiet && !early.json);
  let millisBehindNow: number | undefined;
  let sourceCounts: (() => Record<string, unknown>) | undefined;
  /** The fragment source, once made (to name where a failure is). */
  let from: FragmentSource | undefined;
  /** The fragment being demultiplexed and written (for a data error's place). */
  let current: Fragment | undefined;
  // SIGINT/SIGTERM: finalize and exit 130, also while the event is read (stdin, a FIFO).
  const removeSignals = onInterrupt((sig) => {
    status.clear();
    abort.abort();
    // The done event of an interrupted pull has the counts of any other (firstFragmentMatched, sessions, …).
    if (sourceCounts) run.extra = sourceCounts();
    run.interrupted(sig);
  });
  let restoreWarn = () => {};
  let plan: PullPlan;
  let out: CallOutputOptions;
  let kvs: typeof import("../kvs/mod.ts");
  let clients: KvsClients;
  try {
    // Refuse to overwrite before contacting KVS, and before an event that can be read only once is read
    // (standard input, a pipe or FIFO by name, /dev/stdin); otherwise after every option is checked, so that a
    // wrong value is told as such, not as files in the way.
    const eventStream = eventPath === "-" || (eventPath !== undefined && eventPath !== "" && notAFile(eventPath));
    if (eventStream) writer.refuseExisting();
    if (eventPath === "") throw blameConfig(new UsageError("pull: --event needs a file (or - for standard input)"));
    let event;
    try {
      event = eventPath !== undefined ? await readConnectEvent(eventPath) : undefined;
    } catch (e) {
      throw blameConfigFor(e, "event");
    }
    // The event's ContactId beats the config file's contact-id and follow-stream defaults, never the flags.
    const configured = fromConfig(values);
    const followFlag = flag(values, "follow-stream") && !configured.has("follow-stream");
    if (
      (values["contact-id"] === undefined || configured.has("contact-id")) && event?.contactId !== undefined &&
      !followFlag
    ) {
      values["contact-id"] = event.contactId;
      if (configured.has("follow-stream")) values["follow-stream"] = false;
    }
    plan = planPull(values, event);
    // The token given back is the one the run starts from (not a config file's that a flag or the event overrode).
    run.startToken = plan.selector.type === "CONTINUATION_TOKEN" ? plan.selector.token : undefined;
    // (The start in effect, checked: not a config file's after-fragment that a flag or the event overrode.)
    run.startAfter = plan.afterFragment;
    out = outputOptions("pull", values);
    run.contactId = out.contactId;
    kvs = await import("../kvs/mod.ts");
    restoreWarn = sdkConsoleWarnings((m) => reporter.warning(sdkWarning(m, Boolean(plan.aws.profile))));
    run.source = `stream ${kvs.streamLabel(plan.stream)}`;
    // No region given or configured: the ARN names it.
    const arnRegion = plan.stream.arn !== undefined ? kvs.parseStreamArn(plan.stream.arn)?.region : undefined;
    clients = await kvs.createKvsClients({
      ...plan.aws,
      fallbackRegion: arnRegion,
      onSdkWarning: (m) => reporter.warning(sdkWarning(m, Boolean(plan.aws.profile))),
    });
    try {
      kvs.checkStreamRegion(plan.stream, clients.region);
      // (After every check of the options, also the profile's and region's: a wrong one is not told as files
      // in the way.)
      if (!eventStream) writer.refuseExisting();
    } catch (e) {
      clients.destroy();
      throw e;
    }
    warnLeftOver(writer, reporter);
    // The directory only once the options hold (an undefined --profile or a region other than the ARN's
    // is refused above).
    writer.createDirectory();
  } catch (e) {
    removeSignals();
    restoreWarn();
    // With --json, a run refused before it began still ends with its done event.
    if (e instanceof KvsAudioError) return run.refused(e);
    throw e;
  }
  const label = kvs.streamLabel(plan.stream);
  let retryAnnounced = false;
  const onEvent = (e: PullEvent) => {
    if (e.type === "warning") {
      reporter.warning(e.message);
      return;
    }
    const text = e.type === "retry"
      ? `retrying in ${e.delayMs} ms after: ${e.reason}`
      : e.type === "reconnect"
      ? `reconnecting (${e.reason}) after fragment ${e.lastFragmentNumber ?? "-"}`
      : e.type === "first-fragment"
      ? e.received === ""
        ? `KVS sent no fragment from ${e.requested} on${e.fetchedRequested ? "; fetched it separately" : ""}`
        : `first fragment ${e.received} ${e.matched ? "is" : "is not"} the one asked for (${e.requested})${
          e.fetchedRequested ? "; fetched it separately" : ""
        }`
      : undefined;
    // The run's first retry after a failure is said even without -v (the backoff can last tens of seconds);
    // later ones only with -v, so a flaky link does not fill the terminal.
    if (e.type === "retry" && e.failed && !retryAnnounced && !out.verbose && !out.quiet) {
      retryAnnounced = true;
      reporter.notice(`${text} (-v shows every retry; --max-retries ${plan.maxRetries})`);
    }
    const { type, ...rest } = e;
    reporter.event({ event: type, ...rest }, text);
    reporter.flush();
  };
  try {
    const common = {
      clients,
      stream: plan.stream,
      signal: abort.signal,
      onEvent,
      region: clients.region,
      maxRetries: plan.maxRetries,
    };
    const source = plan.archived
      ? new kvs.ArchivedSource({
        ...common,
        range: {
          type: plan.timestampType === "producer" ? "PRODUCER_TIMESTAMP" : "SERVER_TIMESTAMP",
          startMs: plan.startTimestampMs!,
          endMs: plan.stopTimestampMs!,
        },
      })
      : new kvs.PullSource({
        ...common,
        selector: plan.selector,
        idleTimeoutMs: plan.idleTimeoutMs,
        after: plan.afterFragment,
        // --idle-timeout 0 waits for a stop bound: past a stop timestamp, a quiet stream has reached it.
        quietAfterMs: plan.idleTimeoutMs === 0 ? plan.stopTimestampMs : undefined,
      });
    const counts = () => ({
      stream: label,
      firstFragmentMatched: source.firstFragmentMatched ?? null,
      sessions: source.stats.sessions,
      reconnects: source.stats.reconnects,
      retries: source.stats.retries,
      duplicatesDropped: source.stats.duplicates,
      partialDiscarded: source.stats.discarded,
      millisBehindNow: millisBehindNow ?? null,
      archived: plan.archived,
    });
    sourceCounts = counts;
    from = source;
    // A start by time (a timestamp, an archived range, earliest, now) may fall in the previous contact's
    // fragments: those are skipped until the contact asked for begins, as extract does. A fragment number
    // or a continuation token names the contact's own place.
    const skipping = out.contactId !== undefined &&
      (plan.archived || (plan.selector.type !== "FRAGMENT_NUMBER" && plan.selector.type !== "CONTINUATION_TOKEN"));
    run.skipping = skipping;
    const demuxer = new ConnectDemuxer({
      contactId: out.contactId,
      followStream: out.followStream,
      maxGapMs: out.maxGapMs,
      skipUntilContact: skipping,
    });
    let firstMs: number | undefined;
    let stopped: string | undefined;
    /** A fragment of the contact asked for was seen. */
    let seen = false;
    for await (const f of source.fragments()) {
      const why = stopBefore(plan, f, firstMs);
      if (why) {
        stopped = why;
        break;
      }
      millisBehindNow = f.kvs.millisBehindNow ?? millisBehindNow;
      current = f;
      const item = demuxer.fragment(f);
      current = undefined;
      // --max-duration counts from the contact's first fragment, not from skipped ones.
      if (!(item.kind === "audio" && item.skipped)) firstMs ??= f.kvs.producerTimestampMs;
      run.item(item);
      reporter.flush(); // live: show each fragment's events as it arrives
      const backlog = writer.backlog();
      if (backlog) await backlog;
      if (item.kind === "stop") {
        stopped = item.reason;
        // Started from a fragment number, the contact asked for (flag, config or event) never came before
        // another's: the start and the ContactId do not go together (a stale event, another stream). An
        // error, not empty WAVs and exit 0. (From a continuation token it is the contact's end: a resume
        // right after its last fragment.)
        if (
          item.reason === "contact-changed" && out.contactId !== undefined && !seen &&
          plan.selector.type === "FRAGMENT_NUMBER" && plan.afterFragment === undefined && !plan.archived
        ) {
          const at = item.fragment?.kvs.fragmentNumber;
          throw blameConfigFor(
            new UsageError(
              `a fragment of ContactId ${displayText(item.nextContactId ?? "-", 64)}${
                at !== undefined ? ` (${displayText(at, 64)})` : ""
              } came before any of ${
                displayText(out.contactId, 64)
              }: check the start fragment (--start-fragment or the event's) and the ContactId`,
            ),
            "contact-id",
          );
        }
        break;
      }
      if (!seen && out.contactId !== undefined && f.contactIds.includes(out.contactId)) seen = true;
      const rate = item.format.rate;
      status.update(
        `from ${(writer.frames.from / rate).toFixed(1)} s | to ${
          (writer.frames.to / rate).toFixed(1)
        } s | ${writer.fragments} fragments | ${
          millisBehindNow ?? "-"
        } ms behind | ${source.stats.reconnects} reconnects`,
      );
      if (plan.stopFragment !== undefined && f.fragmentNumberBigInt === plan.stopFragment) {
        stopped = "stop-fragment";
        break;
      }
    }
    status.clear();
    run.extra = counts();
    // The contact asked for never began: the stream (range) ended, went quiet or reached a stop bound first,
    // or nothing came at all. An error, not empty WAVs and exit 0.
    if (skipping && !run.found) {
      throw run.missingContact(
        out.contactId!,
        stopped !== undefined
          ? `the ${plan.archived ? "archived range" : "stream"} before the ${stopped.replaceAll("-", " ")}`
          : plan.archived
          ? "the archived range"
          : "the stream from that start",
      );
    }
    const notConnect = demuxer.notConnect();
    if (notConnect) throw notConnect;
    if (stopped === undefined) {
      stopped = source.endReason !== "idle"
        ? "end-of-stream"
        : plan.idleTimeoutMs === 0 && plan.stopTimestampMs !== undefined
        ? "stop-timestamp"
        : "idle-timeout";
    }
    if (stopped !== "contact-changed") run.stop(stopped);
    if (source.firstFragmentMatched === false && plan.selector.type === "FRAGMENT_NUMBER") {
      reporter.text(
        `note: KVS started after fragment ${plan.selector.fragmentNumber}; it was fetched separately if possible`,
      );
    }
    await writer.finish();
    return run.done();
  } catch (caught) {
    status.clear();
    if (sourceCounts) run.extra = sourceCounts();
    let e = kvs.blameMissingProfile(caught, plan.aws.profile);
    // A demuxer's error (bad data in a fragment the source handed on): named by its response and fragment.
    if (e instanceof DataError && (e.source === undefined || e.source === `stream ${label}`)) {
      // (A demuxer's error about a fragment handed on earlier, "no audio" at the end, carries that fragment.)
      if (from) from.locateIn(e, current ?? e.fragment);
      else e.withSource(`stream ${label}`);
    }
    // An in-band error fragment: named by the stream (and the response, after a reconnection).
    if (e instanceof KvsStreamError && from) {
      e = new KvsStreamError(`${from.describeFor(e.fragment)}: ${e.message}`, e.code, e.errorId, e.fragment);
    }
    // The audio before the failure still reaches standard output (a failed write to it is the error itself).
    if (e instanceof KvsAudioError) await writer.finish(false).catch(() => {});
    if (e instanceof KvsAudioError) return run.failed(e);
    throw e;
  } finally {
    removeSignals();
    restoreWarn();
    clients.destroy();
  }
}

/** Whether `path` names something that is not a regular file (following links): a FIFO, a device. */
function notAFile(path: string): boolean {
  try {
    return !Deno.statSync(path).isFile;
  } catch {
    return false; // (nothing there: reading it says so)
  }
}
