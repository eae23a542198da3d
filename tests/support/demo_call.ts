/**
 * A generated two-party Connect call for the demo and the compile check:
 * the customer and the agent take turns speaking (tones with a syllable-like
 * envelope), written in the real Connect GetMedia shape.
 *
 * Run: `deno run --allow-read --allow-write tests/support/demo_call.ts OUT.mkv [SECONDS]`
 * @module
 */

import { type Direction, writeCallFile } from "./connect_stream.ts";

/** One sample of the demo conversation at 8 kHz. */
export function demoPcm(dir: Direction, sample: number): number {
  const t = sample / 8000;
  const turn = Math.floor(t / 2.5) % 2 === 0 ? "from" : "to"; // 2.5 s turns
  if (turn !== dir) return Math.round(40 * Math.sin(sample * 0.9)); // faint line noise
  const f0 = dir === "from" ? 210 : 130; // customer / agent pitch
  const syllable = 0.5 - 0.5 * Math.cos(2 * Math.PI * ((t * 4) % 1)); // ~4 syllables a second
  const v = Math.sin(2 * Math.PI * f0 * t) + 0.5 * Math.sin(2 * Math.PI * 2 * f0 * t) +
    0.25 * Math.sin(2 * Math.PI * 3 * f0 * t);
  return Math.round(6000 * syllable * v);
}

/** Write the demo call (unless it exists); returns the path. */
export async function ensureDemoCall(path: string, seconds = 20): Promise<{ created: boolean }> {
  try {
    await Deno.stat(path);
    return { created: false };
  } catch {
    await writeCallFile(path, seconds, { pcm: demoPcm, startMs: Date.now() - seconds * 1000 - 5000 });
    return { created: true };
  }
}

if (import.meta.main) {
  const [path, seconds] = Deno.args;
  if (!path) {
    console.error("usage: demo_call.ts OUT.mkv [SECONDS]");
    Deno.exit(2);
  }
  await Deno.remove(path).catch(() => {});
  await ensureDemoCall(path, Number(seconds ?? 20));
  console.log(path);
}
