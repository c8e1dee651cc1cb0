/**
 * Synchronous cleanups that run on normal exit, on SIGINT/SIGTERM/SIGHUP and after an uncaught
 * error, newest first. After cleaning up on a signal, the process still dies by that signal
 * unless somebody else handles it.
 */
const cleanups = new Set<() => void>();
let installed = false;

export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  if (!installed) {
    installed = true;
    process.on("exit", runCleanups);
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const handler = (): void => {
        runCleanups();
        process.removeListener(sig, handler);
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      };
      process.on(sig, handler);
    }
  }
  return () => cleanups.delete(fn);
}

export function runCleanups(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      /* keep cleaning */
    }
  }
}
