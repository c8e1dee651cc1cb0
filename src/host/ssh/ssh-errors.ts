/** How an SSH connection fails: the typed errors the host layer throws for its transport. */

/**
 * Why a connection could not be used:
 * - `unreachable`: TCP/proxy failure (refused, no route, reset, lost before handshake);
 * - `timeout`: no SSH handshake within perDialTimeout;
 * - `auth`: every configured authentication method was refused;
 * - `protocol`: SSH negotiation failed;
 * - `closed`: the connection dropped while in use;
 * - `command-timeout`: a `run()` exceeded its timeoutMs;
 * - `config`: the connection settings cannot be used (e.g. no pinned host key).
 */
export type ConnectionFailure =
  | "unreachable"
  | "timeout"
  | "auth"
  | "protocol"
  | "closed"
  | "command-timeout"
  | "config";

export class ConnectionError extends Error {
  readonly code = "connection" as const;
  override readonly name = "ConnectionError";
  constructor(
    message: string,
    readonly reason: ConnectionFailure,
    /** `host:port` this error is about (the proxy's for a proxy failure). */
    readonly target: string,
  ) {
    super(message);
  }
}

export class HostKeyMismatchError extends Error {
  readonly code = "connection" as const;
  override readonly name = "HostKeyMismatchError";
  constructor(
    readonly target: string,
    readonly expected: string,
    /** Offered fingerprint, or undefined when the host offers no key of the pinned type. */
    readonly offered: string | undefined,
    /** Which hop offered it: the target, or the proxy (jump host) in front of it. */
    readonly role: "target" | "proxy" = "target",
  ) {
    const which = `${role === "proxy" ? "proxy " : ""}${target}`;
    super(
      offered === undefined
        ? `host key mismatch for ${which}: expected ${expected}, offered no host key of the pinned type`
        : `host key mismatch for ${which}: expected ${expected}, offered ${offered}`,
    );
  }
}
