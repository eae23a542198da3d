/**
 * Every export in src/ carries a JSDoc example: they must stay correct code.
 * `deno check --doc` type-checks each example block against the module it
 * documents (running them would need their files, credentials and streams).
 */

import assert from "node:assert/strict";
import { ROOT } from "./support/cli.ts";

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
