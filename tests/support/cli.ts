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

/** The CLI entry point. */
export const MAIN = `${ROOT}src/main.ts`;

/**
 * `deno run` exactly as `deno task kvsaudio` runs it: its permissions and
 * flags (V8 flags, lazy dynamic imports) are read from `deno.json`, so the
 * tests run the command users run.
 */
export const RUN_ARGS: readonly string[] = [
  "run",
  ...(JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.kvsaudio as string)
    .split(/\s+/)
    .filter((a) => a.startsWith("--")),
];

/** A command that runs `kvsaudio ARGS`; cwd, stdio and env are the caller's `options`. */
export function kvsaudioCommand(args: string[], options: Omit<Deno.CommandOptions, "args"> = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), { ...options, args: [...RUN_ARGS, MAIN, ...args] });
}

/**
 * Run `kvsaudio ARGS` (in the repository root unless `cwd` says otherwise)
 * with optional stdin bytes (through a pipe) or `stdinFile` (standard input
 * redirected from that file, as `kvsaudio ARGS < FILE` does).
 */
export async function kvsaudio(
  args: string[],
  opts: { stdin?: Uint8Array; stdinFile?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const options: Deno.CommandOptions = {
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...opts.env, ...(opts.stdinFile ? { KVSAUDIO_STDIN: opts.stdinFile } : {}) },
  };
  const child = opts.stdinFile
    ? new Deno.Command("sh", {
      ...options,
      args: ["-c", 'exec "$@" < "$KVSAUDIO_STDIN"', "sh", Deno.execPath(), ...RUN_ARGS, MAIN, ...args],
    }).spawn()
    : kvsaudioCommand(args, options).spawn();
  // Read the output while writing the input: a command that writes as it
  // reads would otherwise fill its stdout pipe and wait for us forever.
  const output = child.output();
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    try {
      await w.write(opts.stdin);
      await w.close();
    } catch {
      // the command exited before reading all of its input
    }
  }
  const out = await output;
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

/** The JSON values of NDJSON output (`--json`), one a non-empty line, as `JSON.parse` returns them. */
export function jsonLines(text: string) {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

/**
 * A command that runs `kvsaudio ARGS` through `bash -c SCRIPT`, whose `exec "$@"` runs it with what the script puts
 * around it: redirections, limits (`ulimit -f 300 && exec "$@" 2>/dev/full`).
 */
export function kvsaudioInShell(
  script: string,
  args: string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  return new Deno.Command("bash", {
    ...options,
    args: ["-c", script, "bash", Deno.execPath(), ...RUN_ARGS, MAIN, ...args],
  });
}
