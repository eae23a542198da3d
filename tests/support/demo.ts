/**
 * `deno task demo`: the full pull pipeline a user runs against AWS, with no
 * AWS account. It writes a generated two-party call to fixtures/ (if
 * missing), serves it from the loopback KVS stand-in (slow, in odd chunk
 * sizes, with one dropped connection to show the resume), runs
 * `kvsaudio pull --endpoint-url …` against it, and prints the WAV paths.
 * @module
 */

import { assembleFragments } from "../../src/mkv/assembler.ts";
import { kvsaudioCommand, ROOT } from "./cli.ts";
import { ensureDemoCall } from "./demo_call.ts";
import { type StandinFragment, startStandin } from "./kvs_standin.ts";

const callPath = `${ROOT}fixtures/demo-call.mkv`;
const outDir = `${ROOT}fixtures/demo-out`;
const arn = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-demo-contact/1700000000000";

const { created } = await ensureDemoCall(callPath, 20);
console.log(`${created ? "generated" : "using"} ${callPath}`);

const fragments: StandinFragment[] = [];
for await (const f of assembleFragments([await Deno.readFile(callPath)], { raw: true })) {
  fragments.push({
    fragmentNumber: f.kvs.fragmentNumber!,
    producerMs: f.kvs.producerTimestampMs!,
    serverMs: f.kvs.serverTimestampMs!,
    continuationToken: f.kvs.continuationToken,
    bytes: f.raw!,
  });
}
const standin = startStandin({
  streams: { [arn]: fragments },
  chunkSize: [700, 9000],
  delayMs: 1,
  live: true,
  faults: { dropAtByte: [Math.floor(fragments.length / 2) * 34000 + 12345] },
});
console.log(`KVS stand-in on ${standin.url} serving ${fragments.length} fragments (one dropped connection included)`);

const args = [
  "pull",
  "--endpoint-url",
  standin.url,
  "--region",
  "us-east-1",
  "--arn",
  arn,
  "--start-fragment",
  fragments[0].fragmentNumber,
  "--idle-timeout",
  "1",
  "--out",
  outDir,
  "--stereo",
  "--force",
  "--verbose",
];
console.log(`$ kvsaudio ${args.join(" ")}`);
const child = kvsaudioCommand(args, {
  env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLEDEMO", AWS_SECRET_ACCESS_KEY: "demo-secret-not-real", AWS_REGION: "us-east-1" },
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const { code } = await child.status;
await standin.close();
if (code !== 0) {
  console.error(`demo: kvsaudio pull exited with ${code}`);
  Deno.exit(code);
}
console.log("\nThe call's audio:");
for (const name of ["from_customer.wav", "to_customer.wav", "stereo.wav"]) {
  const info = await Deno.stat(`${outDir}/${name}`);
  console.log(`  ${outDir}/${name}  (${info.size} bytes)`);
}
