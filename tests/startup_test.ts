import assert from "node:assert/strict";

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
