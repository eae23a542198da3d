/**
 * Test helper: run the kvsaudio CLI as a subprocess (`deno run src/main.ts`).
 * @module
 */

/** Repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: Uint8Array;
  stdoutText: string;
  stderr: string;
}

/** Run `kvsaudio ARGS` with optional stdin bytes. */
export async function kvsaudio(
  args: string[],
  opts: { stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      `${ROOT}src/main.ts`,
      ...args,
    ],
    cwd: ROOT,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...opts.env },
  });
  const child = cmd.spawn();
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    try {
      await w.write(opts.stdin);
      await w.close();
    } catch {
      // the command exited before reading all of its input
    }
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: out.stdout,
    stdoutText: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Write bytes to a temp file; returns its path. */
export async function tempFile(bytes: Uint8Array, suffix = ".mkv"): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "kvsaudio-", suffix });
  await Deno.writeFile(path, bytes);
  return path;
}
