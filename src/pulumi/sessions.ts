/**
 * SSH sessions reused within one run of the provider plugin's process.
 *
 * The engine starts one provider process per `pulumi up/preview/refresh/destroy` and calls it for
 * every resource, concurrently. A refresh followed by an update of the same host (`pulumi up
 * --refresh`), or two tables on one host, then share one SSH connection instead of dialing again.
 *
 * Why this is safe:
 * - the key is a hash of the WHOLE connection (address, user, credentials, pinned host key,
 *   proxy): a session is only reused by a caller that would have opened the very same one;
 * - commands on a session run one after the other (HostSession queues them), and every host
 *   step takes the on-host lock anyway;
 * - the proof of access after an apply always dials a NEW connection (applyOnSession), so reuse
 *   never hides a lockout;
 * - an idle session is closed after a few seconds and never outlives the process; a session
 *   that fails is dropped, and the step is retried once on a fresh connection only when the step
 *   is read-only or idempotent (probe, remove).
 */
import { createHash } from "node:crypto";
import { ConnectionError, HostSession } from "../host/ssh";
import type { Connection } from "../model/connection";

interface Entry {
  session: Promise<HostSession>;
  users: number;
  timer?: NodeJS.Timeout;
  /** Set once the session failed: not handed out again. */
  broken: boolean;
}

const IDLE_MS = 5_000;
const pool = new Map<string, Entry>();

export function sessionKey(connection: Connection): string {
  return createHash("sha256").update(JSON.stringify(connection)).digest("hex");
}

export interface Lease {
  readonly session: HostSession;
  /** true when this lease got an already-open session. */
  readonly reused: boolean;
  /** Mark the session unusable (it is closed once released). */
  discard(): void;
  release(): void;
}

export async function acquire(connection: Connection, onLog?: (line: string) => void): Promise<Lease> {
  const key = sessionKey(connection);
  let entry = pool.get(key);
  const reused = entry !== undefined && !entry.broken;
  if (!entry || entry.broken) {
    const fresh: Entry = { session: HostSession.open(connection, { onLog }), users: 0, broken: false };
    entry = fresh;
    pool.set(key, fresh);
    fresh.session.catch(() => {
      if (pool.get(key) === fresh) pool.delete(key);
    });
  }
  const current = entry;
  current.users++;
  if (current.timer) {
    clearTimeout(current.timer);
    current.timer = undefined;
  }
  let session: HostSession;
  try {
    session = await current.session;
  } catch (err) {
    current.users--;
    throw err;
  }
  let released = false;
  return {
    session,
    reused,
    discard() {
      current.broken = true;
      if (pool.get(key) === current) pool.delete(key);
    },
    release() {
      if (released) return;
      released = true;
      current.users--;
      if (current.users > 0) return;
      if (current.broken || pool.get(key) !== current) {
        void session.close();
        return;
      }
      current.timer = setTimeout(() => {
        if (current.users === 0 && pool.get(key) === current) {
          pool.delete(key);
          void session.close();
        }
      }, IDLE_MS);
      current.timer.unref();
    },
  };
}

/**
 * Runs `step` on a leased session and always releases it; a connection error marks the session
 * broken, so the pool never hands it out again.
 */
export async function onLease<T>(lease: Lease, step: (session: HostSession) => Promise<T>): Promise<T> {
  try {
    return await step(lease.session);
  } catch (err) {
    if (err instanceof ConnectionError) lease.discard();
    throw err;
  } finally {
    lease.release();
  }
}

/**
 * Run `step` on a pooled session. When a REUSED session fails with a connection error and
 * `retryable` is true, the step runs once more on a fresh connection.
 */
export async function withPooledSession<T>(
  connection: Connection,
  step: (session: HostSession) => Promise<T>,
  options: { retryable: boolean; onLog?: (line: string) => void },
): Promise<T> {
  const lease = await acquire(connection, options.onLog);
  try {
    return await onLease(lease, step);
  } catch (err) {
    if (!(err instanceof ConnectionError) || !lease.reused || !options.retryable) throw err;
  }
  return onLease(await acquire(connection, options.onLog), step);
}

/** Close every pooled session now (tests, and a provider process that wants to exit). */
export async function closeAllSessions(): Promise<void> {
  const entries = [...pool.values()];
  pool.clear();
  await Promise.all(
    entries.map(async (e) => {
      if (e.timer) clearTimeout(e.timer);
      try {
        await (await e.session).close();
      } catch {
        /* never opened */
      }
    }),
  );
}
