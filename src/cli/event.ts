/**
 * Reading what Amazon Connect hands a consumer: a contact-flow Lambda event
 * (`Details.ContactData.MediaStreams.Customer.Audio.*`,
 * `Details.ContactData.ContactId`) or a contact record (`Recordings[]` with
 * `Location`, `FragmentStartNumber`, `FragmentStopNumber`; `ContactId`).
 *
 * @example
 * ```ts
 * import { parseConnectEvent } from "./event.ts";
 * const e = parseConnectEvent({
 *   Details: { ContactData: { ContactId: "c-1", MediaStreams: { Customer: { Audio: {
 *     StreamARN: "arn:aws:kinesisvideo:us-east-1:123456789012:stream/s/1", StartFragmentNumber: "9134…",
 *   } } } } },
 * }, "event.json");
 * e.contactId; // "c-1"
 * ```
 * @module
 */

import { fsErrorMessage, UsageError } from "../errors.ts";
import { parseTimestamp } from "./time.ts";

/** Values taken from an event. */
export interface ConnectEventValues {
  /** Stream ARN. */
  arn?: string;
  /** Start fragment number. */
  startFragment?: string;
  /** Start timestamp, epoch ms. */
  startTimestampMs?: number;
  /** Stop fragment number. */
  stopFragment?: string;
  /** Stop timestamp, epoch ms. */
  stopTimestampMs?: number;
  /** ContactId. */
  contactId?: string;
}

function obj(x: unknown): Record<string, unknown> | undefined {
  return typeof x === "object" && x !== null && !Array.isArray(x) ? x as Record<string, unknown> : undefined;
}

function text(x: unknown): string | undefined {
  if (typeof x === "string" && x.trim() !== "") return x.trim();
  if (typeof x === "number" && Number.isFinite(x)) return String(x);
  return undefined;
}

/**
 * A timestamp of the event: none when absent, NaN when it is no timestamp (refused by the run only if it uses it:
 * a contact record's start fragment is used before its timestamps).
 */
function time(x: unknown): number | undefined {
  const t = text(x);
  return t === undefined ? undefined : parseTimestamp(t) ?? NaN;
}

/** Extract the values from a parsed event; `source` names it in errors. */
export function parseConnectEvent(json: unknown, source: string): ConnectEventValues {
  const root = obj(json);
  if (!root) throw new UsageError(`${source}: not a JSON object`);
  const details = obj(root.Details);
  const contact = obj(details?.ContactData);
  const audio = obj(obj(obj(contact?.MediaStreams)?.Customer)?.Audio);
  if (audio) {
    return {
      arn: text(audio.StreamARN),
      startFragment: text(audio.StartFragmentNumber),
      startTimestampMs: time(audio.StartTimestamp),
      stopFragment: text(audio.StopFragmentNumber),
      stopTimestampMs: time(audio.StopTimestamp),
      contactId: text(contact?.ContactId),
    };
  }
  if (Array.isArray(root.Recordings)) {
    const recs = root.Recordings.map(obj).filter((r) => r !== undefined);
    const rec = recs.find((r) => text(r.Location)?.startsWith("arn:aws") && text(r.FragmentStartNumber)) ??
      recs.find((r) => text(r.FragmentStartNumber));
    if (!rec) throw new UsageError(`${source}: the contact record has no Recordings entry with FragmentStartNumber`);
    return {
      arn: text(rec.Location)?.startsWith("arn:") ? text(rec.Location) : undefined,
      startFragment: text(rec.FragmentStartNumber),
      stopFragment: text(rec.FragmentStopNumber),
      startTimestampMs: time(rec.StartTimestamp),
      stopTimestampMs: time(rec.StopTimestamp),
      contactId: text(root.ContactId),
    };
  }
  throw new UsageError(
    `${source}: neither a Connect Lambda event (Details.ContactData.MediaStreams.Customer.Audio) nor a contact record (Recordings[])`,
  );
}

/** Read and parse an event from a file or `-` (stdin). */
export async function readConnectEvent(path: string): Promise<ConnectEventValues> {
  let raw: string;
  try {
    raw = path === "-" ? await new Response(Deno.stdin.readable).text() : await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`cannot read event ${path}: ${fsErrorMessage(e)}`);
  }
  const source = path === "-" ? "stdin" : path;
  // A file saved "as UTF-8 with BOM": the BOM is no part of the JSON.
  if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  return parseConnectEvent(json, source);
}
