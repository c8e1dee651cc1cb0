/**
 * One hop of an SSH connection, described once for the target and for its proxy (jump host):
 * where it is, how to authenticate, which host key to expect, how hard to try.
 */
import type { ParsedKey } from "ssh2";
import { formatIssue } from "../../fields/issues";
import { type Connection, credentialsOf, type ProxyConnection } from "../../model/connection";
import type { PinnedHostKey } from "../../model/host-key";
import type { KeyProblem } from "../../model/private-key";
import { ConnectionError } from "./ssh-errors";

export interface Hop {
  /** The target, or the proxy (jump host) in front of it. */
  readonly role: "target" | "proxy";
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly auth: {
    /** Parsed and decrypted once, when the connection was validated. */
    readonly key?: ParsedKey;
    readonly password?: string;
    readonly agentSocketPath?: string;
  };
  /** The pinned host key; undefined only with insecureIgnoreHostKey. */
  readonly hostKey?: PinnedHostKey;
  /** Attempts on network errors (-1: unlimited). */
  readonly dialErrorLimit: number;
  /** Seconds per attempt until the SSH handshake completes (0: no limit). */
  readonly perDialTimeout: number;
}

/** `host:port`, IPv6 addresses in brackets. */
export const hostPort = (hop: { host: string; port: number }) =>
  hop.host.includes(":") ? `[${hop.host}]:${hop.port}` : `${hop.host}:${hop.port}`;

/** How messages name a hop: `proxy 198.18.0.1:22` or `198.18.0.2:22`. */
export const hopName = (hop: Hop) => `${hop.role === "proxy" ? "proxy " : ""}${hostPort(hop)}`;

/** How messages name a hop's login: `proxy jump@198.18.0.1:22` or `root@198.18.0.2:22`. */
export const loginName = (hop: Hop) => `${hop.role === "proxy" ? "proxy " : ""}${hop.user}@${hostPort(hop)}`;

const KEY_REASONS: Partial<Record<KeyProblem, string>> = {
  "encrypted-without-passphrase": "it is encrypted and privateKeyPassword is not set",
  "wrong-passphrase": "privateKeyPassword cannot decrypt it",
};

function hopOf(fields: ProxyConnection, role: Hop["role"], redact: (text: string) => string): Hop {
  const credentials = credentialsOf(fields);
  const partial = { role, host: fields.host, port: fields.port, user: fields.user } as Hop;
  if (!credentials.ok) {
    // Only a connection that bypassed parseConnection gets here.
    const issue = credentials.issues[0]!;
    const where = hopName(partial);
    if (issue.code === "host-key-required") {
      throw new ConnectionError(
        `refusing to connect to ${where}: no hostKey pinned (set hostKey, or insecureIgnoreHostKey: true)`,
        "config",
        hostPort(fields),
      );
    }
    if (issue.path[0] === "hostKey")
      throw new ConnectionError(
        `refusing to connect to ${where}: hostKey ${issue.message}`,
        "config",
        hostPort(fields),
      );
    if (issue.path[0] === "privateKey" || issue.path[0] === "privateKeyPassword") {
      const reason = KEY_REASONS[issue.code as KeyProblem] ?? "not a private key";
      throw new ConnectionError(
        redact(`cannot use privateKey for ${loginName(partial)}: ${reason}`),
        "config",
        hostPort(fields),
      );
    }
    throw new ConnectionError(
      redact(`refusing to connect to ${where}: ${formatIssue(issue, "connection")}`),
      "config",
      hostPort(fields),
    );
  }
  return {
    ...partial,
    auth: {
      ...(credentials.value.key ? { key: credentials.value.key } : {}),
      ...(fields.password !== undefined ? { password: fields.password } : {}),
      ...(fields.agentSocketPath !== undefined ? { agentSocketPath: fields.agentSocketPath } : {}),
    },
    ...(credentials.value.hostKey ? { hostKey: credentials.value.hostKey } : {}),
    dialErrorLimit: fields.dialErrorLimit,
    perDialTimeout: fields.perDialTimeout,
  };
}

/** Limits for dialing the target that replace the connection's own (the proof of access dials briefly). */
export type DialLimits = Partial<Pick<Connection, "dialErrorLimit" | "perDialTimeout">>;

/** The hops of a connection: the proxy first when there is one. Throws ConnectionError("config"). */
export function hopsOf(
  conn: Connection,
  limits: DialLimits = {},
  redact: (text: string) => string = (t) => t,
): { target: Hop; proxy?: Hop } {
  const proxy = conn.proxy ? hopOf(conn.proxy, "proxy", redact) : undefined;
  const own = hopOf(conn, "target", redact);
  const target = {
    ...own,
    dialErrorLimit: limits.dialErrorLimit ?? own.dialErrorLimit,
    perDialTimeout: limits.perDialTimeout ?? own.perDialTimeout,
  };
  return proxy ? { target, proxy } : { target };
}
