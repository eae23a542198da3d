/**
 * Processes kvsaudio started that would outlive it: a `credential_process`
 * (run by the AWS SDK through `/bin/sh -c`) that hangs, waiting on a
 * terminal or a network, is left running when a pull gives up on it or is
 * interrupted, re-parented to init; cron or CI retries would pile them up.
 * `pull` asks for them to be ended as it exits (Linux: found in `/proc`).
 *
 * @example
 * ```ts
 * import { atExit, stopDescendants } from "./children.ts";
 * atExit.stopDescendants = true; // pull does this
 * // … at exit:
 * if (atExit.stopDescendants) stopDescendants();
 * ```
 * @module
 */

/** What to do as the process exits. */
export const atExit = {
  /** End the processes this one started (and theirs). Set by `pull`, whose only children are credential helpers. */
  stopDescendants: false,
};

/**
 * Send SIGTERM to every process descended from this one (Linux; elsewhere
 * nothing). Never throws.
 */
export function stopDescendants(): void {
  if (Deno.build.os !== "linux") return;
  try {
    const parentOf = new Map<number, number>();
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        // `pid (comm) state ppid …`: comm may hold spaces or parentheses, so read after the last ')'.
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parentOf.set(Number(e.name), ppid);
      } catch {
        // gone meanwhile
      }
    }
    const ours = new Set([Deno.pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [pid, ppid] of parentOf) {
        if (!ours.has(pid) && ours.has(ppid)) {
          ours.add(pid);
          grew = true;
        }
      }
    }
    ours.delete(Deno.pid);
    for (const pid of ours) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch {
        // gone, or not ours to signal
      }
    }
  } catch {
    // no /proc to read: nothing to do
  }
}
