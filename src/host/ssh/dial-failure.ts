/**
 * What a failed dial attempt means, read from ssh2's and Node's errors: which typed error to
 * throw, and whether another attempt can help (network trouble can pass; a refused login or a
 * host key mismatch cannot).
 */
import type { PinnedHostKey } from "../../model/host-key";
import { type Hop, hopName, hostPort, loginName } from "./hop";
import { ConnectionError, HostKeyMismatchError } from "./ssh-errors";

export interface DialFailure {
  readonly error: ConnectionError | HostKeyMismatchError;
  readonly retryable: boolean;
}

/** Carries a classified failure out of one attempt. */
export class DialAttemptError extends Error {
  constructor(readonly failure: DialFailure) {
    super(failure.error.message);
  }
}

const RETRYABLE_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "ETIMEDOUT",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

/** What an attempt saw before it failed. */
export interface AttemptSeen {
  /** Fingerprint of the host key the server offered, if it got that far. */
  readonly offered?: string;
  /** Authentication methods tried, in order. */
  readonly tried: readonly string[];
}

export function classify(
  err: Error & { code?: string; level?: string },
  hop: Hop,
  seen: AttemptSeen,
  redact: (text: string) => string,
): DialFailure {
  const where = hostPort(hop);
  const name = hopName(hop);
  const pinned: PinnedHostKey | undefined = hop.hostKey;
  if (/Host denied/.test(err.message) && pinned !== undefined) {
    return { error: new HostKeyMismatchError(where, pinned.fingerprint, seen.offered, hop.role), retryable: false };
  }
  if (/no matching host key format/i.test(err.message) && pinned?.kind === "key") {
    return {
      error: new HostKeyMismatchError(where, `${pinned.fingerprint} (${pinned.type})`, undefined, hop.role),
      retryable: false,
    };
  }
  if (err.level === "client-timeout") {
    const message = `timed out connecting to ${name}: no SSH handshake within perDialTimeout ${hop.perDialTimeout}s`;
    return { error: new ConnectionError(message, "timeout", where), retryable: true };
  }
  if (err.level === "client-authentication") {
    const how = seen.tried.length > 0 ? seen.tried.join(", ") : "no method the server accepts";
    return {
      error: new ConnectionError(`authentication failed for ${loginName(hop)} (tried ${how})`, "auth", where),
      retryable: false,
    };
  }
  if (err.code === "ENOTFOUND") {
    return {
      error: new ConnectionError(
        `cannot resolve ${hop.role === "proxy" ? "proxy " : ""}${hop.host}`,
        "unreachable",
        where,
      ),
      retryable: false,
    };
  }
  const text = redact(err.message);
  if ((err.code && RETRYABLE_CODES.has(err.code)) || /Connection lost before handshake/.test(err.message)) {
    return { error: new ConnectionError(`cannot reach ${name}: ${text}`, "unreachable", where), retryable: true };
  }
  return {
    error: new ConnectionError(`SSH connection to ${name} failed: ${text}`, "protocol", where),
    retryable: false,
  };
}
