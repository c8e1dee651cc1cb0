/**
 * The provider plugin outlives a killed engine: the engine stops its plugins when it exits, but a
 * SIGKILLed `pulumi` stops nothing, and the plugin (in a process group of its own) went on to
 * finish an apply for a run that no longer exists, with nobody to report its outcome to. This
 * watch ends the plugin once the process that started it is gone (it is re-parented), and leaves
 * the host to its rollback guardian: an armed change that no proof of access reaches rolls back by
 * itself, and the next run reports the guardian's record.
 */

/** How often the parent is checked: well inside the shortest confirmation window (5 s). */
const CHECK_MS = 500;

export interface EngineGone {
  /** the engine's pid when the plugin started */
  readonly enginePid: number;
}

/**
 * Calls `onGone` once when this process's parent changes. The timer does not keep the process
 * alive. Returns a function that stops the watch.
 */
export function watchEngine(onGone: (gone: EngineGone) => void, checkMs = CHECK_MS): () => void {
  const enginePid = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === enginePid) return;
    clearInterval(timer);
    onGone({ enginePid });
  }, checkMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** What the plugin says as it stops (stderr; the engine that would have shown it is gone). */
export function engineGoneMessage({ enginePid }: EngineGone): string {
  return (
    `pulumi-resource-hardened-nftables: the engine that started this plugin (pid ${enginePid}) is gone; stopping. ` +
    "A host change in flight is left to the host's rollback guardian (no proof of access arrives, so it restores the previous state); " +
    "the next `pulumi up`, `pulumi preview --refresh` or `hardened-nftables diff` reports what the host ended with.\n"
  );
}
