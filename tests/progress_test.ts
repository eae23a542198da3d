import assert from "node:assert/strict";
import { connectStream } from "./support/connect_stream.ts";
import { ARN, AWS_ENV, withStandin } from "./support/pull_harness.ts";
import { MAIN, RUN_ARGS } from "./support/cli.ts";

const HAVE_SCRIPT = await Deno.stat("/usr/bin/script").then(() => true, () => false);
if (!HAVE_SCRIPT) console.log("skip: progress_test needs util-linux `script` to give kvsaudio a terminal");

/** Run `kvsaudio ARGS` on a pseudo-terminal (util-linux `script`); returns everything the terminal showed. */
async function onTerminal(args: string[], term = "xterm"): Promise<{ code: number; screen: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const cmd = [Deno.execPath(), ...RUN_ARGS, MAIN, ...args].map(quote).join(" ");
  const out = await new Deno.Command("/usr/bin/script", {
    args: ["-qfec", cmd, "/dev/null"],
    env: { ...AWS_ENV, NO_COLOR: "1", TERM: term },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, screen: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

const STREAM = connectStream({ fragments: 4 });

Deno.test({
  name: "pull on a terminal shows a live status line (seconds per track, fragments, millis behind, reconnects)",
  ignore: !HAVE_SCRIPT,
  fn: async () => {
    await withStandin(STREAM, { live: true, delayMs: 60, chunkSize: 3000 }, async (standin, dir) => {
      const base = ["pull", "--endpoint-url", standin.url, "--region", "us-east-1", "--arn", ARN];
      const r = await onTerminal([...base, "--start", "earliest", "--idle-timeout", "0.5", "--out", `${dir}/a`]);
      assert.equal(r.code, 0, r.screen);
      assert.match(
        r.screen,
        // deno-lint-ignore no-control-regex
        /\r\x1b\[2Kfrom \d+\.\d s \| to \d+\.\d s \| \d+ fragments \| 131207 ms behind \| 0 reconnects/,
      );
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(r.screen, /\x1b\[[0-9;]*m/, "no colours");
      const q = await onTerminal([
        ...base,
        "--start",
        "earliest",
        "--idle-timeout",
        "0.5",
        "--out",
        `${dir}/b`,
        "--quiet",
      ]);
      assert.equal(q.code, 0, q.screen);
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(q.screen, /\x1b\[2K/, "--quiet: no status line");
      // TERM=dumb: no escape codes; each line overwrites the one before with spaces (was: ESC [2K all the same).
      const d = await onTerminal(
        [...base, "--start", "earliest", "--idle-timeout", "0.5", "--out", `${dir}/c`],
        "dumb",
      );
      assert.equal(d.code, 0, d.screen);
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(d.screen, /\x1b/, "TERM=dumb: no escape codes");
      const lines = [...d.screen.matchAll(/\r( *)\r(from [^\r]*? reconnects)/g)];
      assert.ok(lines.length >= 2, d.screen);
      // Each status line after the first is written over the spaces that blank the one before it.
      for (let i = 1; i < lines.length; i++) assert.equal(lines[i][1].length, lines[i - 1][2].length);
    });
  },
});
