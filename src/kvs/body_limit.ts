/**
 * A bound on the answers kvsaudio reads whole: every response body but a
 * successful GetMedia's or GetMediaForFragmentList's (the media, streamed)
 * is read into memory by the AWS SDK, and a server that never ends one
 * (an endless JSON or error body) would take all of it. Past
 * {@linkcode MAX_ANSWER_BYTES} the connection is cut and the call fails,
 * named.
 *
 * @example
 * ```ts
 * import { KinesisVideoClient } from "@aws-sdk/client-kinesis-video";
 * import { limitAnswerBodies } from "./body_limit.ts";
 * const client = new KinesisVideoClient({ region: "us-east-1" });
 * limitAnswerBodies(client);
 * ```
 * @module
 */

import { Transform } from "node:stream";
import { AwsError } from "../errors.ts";

/** Largest answer read whole (a ListFragments page of 1,000 fragments is ~250 KB). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** Operations whose successful body is media, streamed by kvsaudio itself. */
const MEDIA = new Set(["GetMediaCommand", "GetMediaForFragmentListCommand"]);

/** What the SDK's deserialize step hands on (only the parts used here). */
interface RawResult {
  response?: { statusCode?: number; body?: unknown };
}

/** A client whose middleware stack takes a deserialize-step middleware (every AWS SDK v3 client). */
interface WithStack {
  middlewareStack: {
    // deno-lint-ignore no-explicit-any
    add(middleware: any, options: { step: "deserialize"; priority: "low"; name: string }): void;
  };
}

/**
 * Bound the answers `client` reads whole (see the module doc): once a body
 * passes `maxBytes`, its stream fails with an {@linkcode AwsError} (exit 4)
 * naming the operation, and the connection is closed.
 *
 * @param client an AWS SDK v3 client
 * @param maxBytes the bound (default {@linkcode MAX_ANSWER_BYTES})
 */
export function limitAnswerBodies(client: WithStack, maxBytes: number = MAX_ANSWER_BYTES): void {
  client.middlewareStack.add(
    // deno-lint-ignore no-explicit-any
    (next: (args: unknown) => Promise<RawResult>, context: { commandName?: string }) => async (args: any) => {
      const result = await next(args);
      const response = result.response;
      const status = response?.statusCode ?? 0;
      const body = response?.body as NodeJS.ReadableStream & { destroy?: (e?: Error) => void } | undefined;
      const command = context.commandName ?? "";
      if (response && body && typeof body.pipe === "function" && (!MEDIA.has(command) || status >= 300)) {
        let seen = 0;
        const api = command.replace(/Command$/, "") || "AWS";
        const limited = new Transform({
          transform(chunk: Uint8Array, _encoding, done) {
            seen += chunk.length;
            if (seen <= maxBytes) return done(null, chunk);
            body.destroy?.();
            done(
              new AwsError(
                `the ${api} answer (HTTP ${status}) runs past ${maxBytes / 1024 / 1024} MiB: not an answer of KVS's`,
                "AnswerTooLarge",
              ),
            );
          },
        });
        body.on("error", (e: Error) => limited.destroy(e));
        body.pipe(limited);
        response.body = limited;
      }
      return result;
    },
    { step: "deserialize", priority: "low", name: "kvsaudioAnswerLimit" },
  );
}
