import assert from "node:assert/strict";
import { MAIN, ROOT, RUN_ARGS } from "./support/cli.ts";
import { connectStream } from "./support/connect_stream.ts";

const SRC = new URL("../src/", import.meta.url);

/** Static import closure of a module (type-only imports and dynamic `import()` excluded). */
function staticClosure(entry: URL): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const url = todo.pop()!;
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    if (url.protocol !== "file:") continue;
    const text = Deno.readTextFileSync(url);
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)";/gms)) {
      const spec = m[1];
      if (spec.startsWith(".")) todo.push(new URL(spec, url));
      else seen.add(spec); // bare (npm/node) specifier
    }
    for (const m of text.matchAll(/^\s*import\s+"([^"]+)";/gm)) {
      if (m[1].startsWith(".")) todo.push(new URL(m[1], url));
      else seen.add(m[1]);
    }
  }
  return seen;
}

Deno.test("the AWS SDK is loaded only by pull: the static graph of main.ts, inspect and extract has no SDK", () => {
  for (const entry of ["main.ts", "cli/run.ts", "cli/inspect.ts", "cli/extract.ts", "mod.ts"]) {
    const closure = [...staticClosure(new URL(entry, SRC))];
    const sdk = closure.filter((m) => m.includes("@aws-sdk") || m.includes("/src/kvs/"));
    assert.deepEqual(sdk, [], `${entry} statically imports ${sdk.join(", ")}`);
  }
  const pull = [...staticClosure(new URL("kvs/mod.ts", SRC))];
  assert.ok(pull.some((m) => m.startsWith("@aws-sdk/")), "the closure walk does find the SDK where it is imported");
});

Deno.test("commands are dispatched through dynamic imports", () => {
  const run = Deno.readTextFileSync(new URL("cli/run.ts", SRC));
  for (const cmd of ["inspect", "extract", "pull"]) {
    assert.match(run, new RegExp(`await import\\("\\./${cmd}\\.ts"\\)`));
  }
  const pull = Deno.readTextFileSync(new URL("cli/pull.ts", SRC));
  assert.match(pull, /await import\("\.\.\/kvs\/mod\.ts"\)/);
});

/**
 * The URLs of Deno's Node compatibility scripts (`ext:deno_node/…`) V8
 * compiled while running `deno run` with kvsaudio's flags on `args` in the
 * repository root (as `deno task kvsaudio` runs), read from V8's
 * function-event log, which is written to `dir`.
 */
async function nodeCompatScripts(dir: string, args: string[]): Promise<Set<string>> {
  const log = `${dir}/v8-${crypto.randomUUID()}.log`;
  const v8 = RUN_ARGS.find((a) => a.startsWith("--v8-flags="));
  const flags = [
    ...RUN_ARGS.filter((a) => a !== v8),
    `${v8 ?? "--v8-flags="}${v8 ? "," : ""}--log-function-events,--logfile=${log},--no-logfile-per-isolate`,
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...flags, ...args],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const scripts = new Set<string>();
  for (const line of (await Deno.readTextFile(log)).split("\n")) {
    const m = /^script-details,\d+,(ext:deno_node\/[^,]+),/.exec(line);
    if (m) scripts.add(m[1]);
  }
  return scripts;
}

Deno.test("file commands load none of Deno's Node compatibility modules (the timer globals load node:timers, ~10 ms of start-up)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvsaudio-startup-" });
  try {
    const call = `${dir}/call.mkv`;
    await Deno.writeFile(call, connectStream({ fragments: 3 }).bytes);
    await Deno.writeTextFile(`${dir}/empty.ts`, "");
    await Deno.writeTextFile(`${dir}/timer.ts`, "clearTimeout(undefined);\n");
    const baseline = await nodeCompatScripts(dir, [`${dir}/empty.ts`]);
    const extra = (s: Set<string>) => [...s].filter((u) => !baseline.has(u));
    // The check can see the cost it guards against.
    assert.ok(extra(await nodeCompatScripts(dir, [`${dir}/timer.ts`])).includes("ext:deno_node/internal/timers.mjs"));
    for (
      const args of [
        ["--help"],
        ["inspect", call],
        ["inspect", "--json", call],
        ["extract", call, "--out", `${dir}/out`],
      ]
    ) {
      assert.deepEqual(extra(await nodeCompatScripts(dir, [MAIN, ...args])), [], `kvsaudio ${args.join(" ")}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
