/**
 * Every export in src/ carries a JSDoc example: they must stay correct code.
 * `deno check --doc` type-checks each example block against the module it
 * documents, and `deno test --doc` runs them all, in a directory holding
 * the files they name, against a loopback KVS stand-in.
 */

import assert from "node:assert/strict";
import { ROOT } from "./support/cli.ts";
import { connectStream } from "./support/connect_stream.ts";
import { startStandin } from "./support/kvs_standin.ts";
import { AWS_ENV, standinFragments } from "./support/pull_harness.ts";
import { withTempDir } from "./support/util.ts";

Deno.test("docs: every JSDoc example in src/ type-checks (deno check --doc)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc", "src/"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr);
  const errors = text.split("\n").filter((l) => /ERROR|Found \d+ error/.test(l));
  assert.ok(out.success, `deno check --doc src/ failed:\n${errors.slice(0, 20).join("\n")}\n${text.slice(-2000)}`);
});

Deno.test("docs: every JSDoc example in src/ also type-checks as a doc test (deno test --doc --no-run)", async () => {
  // `deno test --doc` wraps each example in a test function, where `declare const x: T` is an error (TS1184)
  // that `deno check --doc` does not report: examples take such values as parameters of a function instead.
  const out = await deno(["test", "--doc", "--no-run", "src/"]);
  const text = out.stdout + out.stderr;
  const errors = text.split("\n").filter((l) => /ERROR|Found \d+ error/.test(l));
  assert.ok(
    out.success,
    `deno test --doc --no-run src/ failed:\n${errors.slice(0, 20).join("\n")}\n${text.slice(-2000)}`,
  );
});

/** Runs `deno <args>` at the repository root without colour codes. */
async function deno(args: string[]): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { success: out.success, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("docs: the public API passes deno doc --lint src/mod.ts", async () => {
  const out = await deno(["doc", "--lint", "src/mod.ts"]);
  const text = out.stdout + out.stderr;
  const problems = text.split("\n").filter((l) => /^error|-->/.test(l.trim()));
  assert.ok(out.success, `deno doc --lint src/mod.ts failed:\n${problems.slice(0, 60).join("\n")}`);
});

/** The parts of `deno doc --json` output this test reads. */
interface DocDeclaration {
  kind: string;
  jsDoc?: { tags?: { kind: string }[] };
  def?: { elements?: DocSymbol[] };
}
interface DocSymbol {
  name: string;
  declarations: DocDeclaration[];
}

Deno.test("docs: every exported class, function, variable and enum of src/mod.ts has an @example", async () => {
  const out = await deno(["doc", "--json", "src/mod.ts"]);
  assert.ok(out.success, `deno doc --json src/mod.ts failed:\n${out.stderr.slice(-2000)}`);
  const doc = JSON.parse(out.stdout) as { version: number; nodes: Record<string, { symbols?: DocSymbol[] }> };
  assert.equal(doc.version, 2, "unexpected deno doc --json format version");
  const entry = Object.keys(doc.nodes).find((url) => url.endsWith("/src/mod.ts"));
  assert.ok(entry, `src/mod.ts missing from deno doc --json output: ${Object.keys(doc.nodes).join(", ")}`);

  const checked: string[] = [];
  const missing: string[] = [];
  // `deno doc --json` resolves re-exports (`export { x } from`, `export *`) into
  // the entry's symbol list; namespaces are walked for their members.
  const walk = (symbols: DocSymbol[], prefix: string) => {
    for (const symbol of symbols) {
      const name = prefix + symbol.name;
      for (const decl of symbol.declarations) {
        if (decl.kind === "namespace") walk(decl.def?.elements ?? [], `${name}.`);
      }
      const runtime = symbol.declarations.filter((d) => ["class", "function", "variable", "enum"].includes(d.kind));
      if (runtime.length === 0) continue;
      checked.push(name);
      // Overloads repeat a function's declaration; an example on any of them documents it.
      const hasExample = runtime.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"));
      if (!hasExample) missing.push(`${name} (${runtime[0].kind})`);
    }
  };
  walk(doc.nodes[entry].symbols ?? [], "");

  assert.ok(checked.length > 20, `suspiciously few exports found (${checked.length}): ${checked.join(", ")}`);
  assert.deepEqual(missing, [], `exports of src/mod.ts without an @example:\n  ${missing.join("\n  ")}`);
});

Deno.test("docs: every JSDoc example in src/ runs (deno test --doc), with its files and a KVS stand-in", async () => {
  // The examples read a saved GetMedia body (getmedia.mkv, call.mkv) from the directory they run in, write
  // WAVs there, use the AWS profile "prod" and a stream "calls": a temporary directory holds those files, an
  // AWS config file defines the profile, and the SDK's endpoint (AWS_ENDPOINT_URL) is a loopback stand-in
  // serving a stream "calls".
  const call = connectStream({ fragments: 3 });
  // Live, as a call's stream is: a body stays open after the last fragment (the examples' idle timeouts end
  // them), and ends 1.5 s later (the raw-body examples read to its end).
  const standin = startStandin({
    streams: { "arn:aws:kinesisvideo:us-east-1:123456789012:stream/calls/1700000000000": standinFragments(call) },
    live: true,
    closeAfterMs: 1500,
  });
  try {
    await withTempDir("kvsaudio-doc-", async (dir) => {
      await Deno.writeFile(`${dir}/getmedia.mkv`, call.bytes);
      await Deno.writeFile(`${dir}/call.mkv`, call.bytes);
      await Deno.writeTextFile(`${dir}/aws-config`, "[profile prod]\nregion = us-east-1\n");
      const out = await new Deno.Command(Deno.execPath(), {
        // (--no-check: the tests above type-check every example; checking them again here took ~40 s.)
        args: ["test", "--doc", "--no-check", "--allow-all", "--config", `${ROOT}deno.json`, `${ROOT}src/`],
        cwd: dir,
        env: {
          ...AWS_ENV,
          AWS_CONFIG_FILE: `${dir}/aws-config`,
          AWS_ENDPOINT_URL: standin.url,
          HOME: dir,
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const failed = text.split("\n").filter((l) => / \.\.\. FAILED/.test(l) || /^error: /.test(l));
      assert.ok(out.success, `deno test --doc src/ failed:\n${failed.slice(0, 40).join("\n")}\n${text.slice(-3000)}`);
      assert.match(text, /ok \| \d{3,} passed/, text.slice(-500));
    });
  } finally {
    await standin.close();
  }
});
