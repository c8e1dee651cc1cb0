/**
 * Imported first by plugin-main.ts: Node's on-disk compile cache (Node >= 22.1), so the plugin's
 * modules (or the single-file bundle) are compiled once per version of their code, not on every
 * `pulumi` command. The cache is keyed by each file's content; a missing or unwritable cache
 * directory only costs the time it would have saved. NODE_COMPILE_CACHE names another directory.
 *
 * Node writes the cache when the process exits, but the engine ends its plugins with a signal:
 * flushCompiled() writes it once the plugin serves (and after a lazily loaded module).
 */
import * as nodeModule from "node:module";

const cache = nodeModule as { enableCompileCache?: () => unknown; flushCompileCache?: () => void };
cache.enableCompileCache?.();

/** Writes what was compiled so far to the cache (never throws: the cache is only a speed-up). */
export function flushCompiled(): void {
  try {
    cache.flushCompileCache?.();
  } catch {
    /* an unwritable cache directory costs only the time it would have saved */
  }
}
