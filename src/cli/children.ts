/**
 * Processes kvsaudio started that would outlive it: a `credential_process`
 * (run by the AWS SDK through `/bin/sh -c`) that hangs, waiting on a
 * terminal or a network, is left running when a pull gives up on it or is
 * interrupted, re-parented to init; cron or CI retries would pile them up.
 * `pull` asks for them to be ended as it exits (Linux: found in `/proc`).
 *
 * @example
 * ```ts
 * import { atExit, stopDescendants, stopNewDescendantsAtExit } from "./children.ts";
 * stopNewDescendantsAtExit(); // pull does this
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
 * Children this process had before it asked for {@linkcode stopDescendants}:
 * a shell that `exec`s kvsaudio hands it its background jobs and the
 * readers of its process substitutions (`> >(tee log)`): never ours to end.
 */
let inherited: ReadonlySet<number> = new Set();

/**
 * Ask for the processes this one starts from now on to be ended at exit
 * (sets {@linkcode atExit}`.stopDescendants`); children it already has are
 * left alone.
 */
export function stopNewDescendantsAtExit(): void {
  if (atExit.stopDescendants) return;
  atExit.stopDescendants = true;
  const parentOf = processParents();
  inherited = new Set([...parentOf].filter(([, ppid]) => ppid === Deno.pid).map(([pid]) => pid));
}

/** Each process's parent, from `/proc` (empty where there is none). */
function processParents(): Map<number, number> {
  const parentOf = new Map<number, number>();
  if (Deno.build.os !== "linux") return parentOf;
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        // `pid (comm) state ppid …`: comm may hold spaces or parentheses, so read after the last ')'.
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        parentOf.set(Number(e.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc to read
  }
  return parentOf;
}

/**
 * Send SIGTERM to every process descended from this one, but those it had
 * before {@linkcode stopNewDescendantsAtExit} and theirs (Linux; elsewhere
 * nothing). Never throws.
 */
export function stopDescendants(): void {
  const parentOf = processParents();
  const ours = new Set([Deno.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (!ours.has(pid) && ours.has(ppid) && !inherited.has(pid)) {
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
}
