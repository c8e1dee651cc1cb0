/**
 * One SSH session to one host, on ssh2: host key pinning, proxy jump, bounded dial retries,
 * and `run()` of fixed scripts whose data travels on stdin.
 *
 * Secrets (password, privateKey, privateKeyPassword, also the proxy's) never appear in an error
 * message, a log line, `toString()`, `JSON.stringify()` or `util.inspect()` of anything created
 * here: the connection and the ssh2 clients live in private fields, and every text that comes from
 * ssh2 or from the remote host goes through {@link redact} before it is put in a message.
 */
import { constants as osConstants } from "node:os";
import { stat } from "node:fs/promises";
import { inspect } from "node:util";
import type { Duplex } from "node:stream";
import { Client, utils, type AuthenticationType, type ClientChannel, type ConnectConfig, type ParsedKey } from "ssh2";
import {
  fingerprintOf,
  parseHostKey,
  redact,
  type Connection,
  type PinnedHostKey,
  type ProxyConnection,
} from "../model/connection";

export { redact } from "../model/connection";

export interface RunOptions {
  /** Data for the script's standard input (user data travels here, never on the command line). */
  stdin?: string | Buffer;
  /** Run through `sudo -n`; defaults to the connection's `sudo`. Ignored when the user is root. */
  sudo?: boolean;
  /** End the channel (and reject) when the script has not finished after this many ms. */
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SessionStats {
  /** SSH handshakes completed (a proxy hop is one more). */
  connections: number;
  /** Remote commands run: each `run()` is one round trip. */
  roundTrips: number;
}

export interface OpenOptions {
  /** Progress lines (never contain secrets). */
  onLog?: (line: string) => void;
}

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
export type ConnectionFailure = "unreachable" | "timeout" | "auth" | "protocol" | "closed" | "command-timeout" | "config";

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
    label = "",
  ) {
    super(
      offered === undefined
        ? `host key mismatch for ${label}${target}: expected ${expected}, offered no host key of the pinned type`
        : `host key mismatch for ${label}${target}: expected ${expected}, offered ${offered}`,
    );
  }
}

/** Quote `text` as one POSIX shell word. */
export function shellQuote(text: string): string {
  if (text.includes("\0")) throw new Error("shellQuote: NUL byte in text");
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

/**
 * The command line sent for a fixed script: `[sudo -n ][timeout -s KILL <s> ]/bin/sh -c '<script>'`.
 *
 * With a timeout, coreutils `timeout` (its own process group, killed as a group) ends the
 * remote processes: closing an SSH channel without a pty does not stop them, and a "signal"
 * channel request cannot reach processes that sudo runs as root.
 */
export function commandLine(script: string, sudo: boolean, timeoutMs?: number): string {
  const limit = timeoutMs === undefined ? "" : `timeout -s KILL ${(Math.max(1, timeoutMs) / 1000).toFixed(3)} `;
  return `${sudo ? "sudo -n " : ""}${limit}/bin/sh -c ${shellQuote(script)}`;
}

type Hop = ProxyConnection; // Connection without proxy/sudo has the same dialing fields.

const RSA_ALGOS = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
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

const hostPort = (hop: Hop) => (hop.host.includes(":") ? `[${hop.host}]:${hop.port}` : `${hop.host}:${hop.port}`);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Backoff between dial attempts: 250 ms, 500 ms, 1 s, then 2 s. */
const backoffMs = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 2000);

interface DialFailure {
  error: ConnectionError | HostKeyMismatchError;
  retryable: boolean;
}

class DialAttemptError extends Error {
  constructor(readonly failure: DialFailure) {
    super(failure.error.message);
  }
}

function signalNumber(signal: string | undefined): number | undefined {
  if (!signal) return undefined;
  const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as keyof typeof osConstants.signals;
  return osConstants.signals[name];
}

export class HostSession {
  readonly #conn: Connection;
  readonly #client: Client;
  readonly #proxy: Client | undefined;
  readonly #log: (line: string) => void;
  readonly #stats: SessionStats;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #lost: string | undefined;
  /** `user@host:port` of the target. */
  readonly target: string;

  private constructor(conn: Connection, client: Client, proxy: Client | undefined, stats: SessionStats, log: (line: string) => void) {
    this.#conn = conn;
    this.#client = client;
    this.#proxy = proxy;
    this.#stats = stats;
    this.#log = log;
    this.target = `${conn.user}@${hostPort(conn)}`;
    client.on("close", () => {
      if (!this.#closed) this.#lost ??= "connection closed by the remote host";
    });
    client.on("error", (err: Error) => {
      this.#lost ??= redact(err.message, conn);
      this.#log(`${this.target}: connection error: ${this.#lost}`);
    });
  }

  /**
   * Connect (through `conn.proxy` when set), pinning host keys, retrying network errors up to
   * `dialErrorLimit` attempts per hop. Authentication failures and host key mismatches are
   * never retried.
   */
  static async open(conn: Connection, opts: OpenOptions = {}): Promise<HostSession> {
    const log = (line: string) => opts.onLog?.(redact(line, conn));
    const stats: SessionStats = { connections: 0, roundTrips: 0 };
    let proxyClient: Client | undefined;
    try {
      if (conn.proxy) {
        const proxyHop = conn.proxy;
        proxyClient = await dialWithRetry(proxyHop, conn, log, "proxy ", undefined);
        stats.connections++;
        const bastion = proxyClient;
        const client = await dialWithRetry(conn, conn, log, "", () => forwardOut(bastion, conn, proxyHop));
        stats.connections++;
        // If the bastion goes, the tunnelled session goes with it.
        bastion.on("close", () => client.end());
        return new HostSession(conn, client, proxyClient, stats, log);
      }
      const client = await dialWithRetry(conn, conn, log, "", undefined);
      stats.connections++;
      return new HostSession(conn, client, undefined, stats, log);
    } catch (err) {
      proxyClient?.end();
      throw err;
    }
  }

  /** Connections made and round trips run so far (a copy). */
  get stats(): SessionStats {
    return { ...this.#stats };
  }

  /** The connection's `sudo` setting, as `run()` applies it by default. */
  get sudo(): boolean {
    return this.#conn.sudo && this.#conn.user !== "root";
  }

  /** Redact this connection's secrets from `text` (for messages built from remote output). */
  redact(text: string): string {
    return redact(text, this.#conn);
  }

  /**
   * Run a fixed script with `/bin/sh -c` (through `sudo -n` when asked). `script` must be
   * written by our code; user data goes on `stdin`. Runs are serialized on the session.
   */
  run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    const next = this.#queue.then(
      () => this.#runNow(script, opts),
      () => this.#runNow(script, opts),
    );
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #runNow(script: string, opts: RunOptions): Promise<RunResult> {
    const target = hostPort(this.#conn);
    if (this.#closed) return Promise.reject(new ConnectionError(`session to ${this.target} is closed`, "closed", target));
    if (this.#lost !== undefined) {
      return Promise.reject(new ConnectionError(`connection to ${this.target} lost: ${this.#lost}`, "closed", target));
    }
    const sudo = (opts.sudo ?? this.#conn.sudo) && this.#conn.user !== "root";
    const command = commandLine(script, sudo, opts.timeoutMs);
    this.#stats.roundTrips++;
    const started = Date.now();
    const n = this.#stats.roundTrips;
    return new Promise<RunResult>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        reject(err);
      };
      this.#client.exec(command, (err, stream: ClientChannel) => {
        if (err) {
          fail(
            new ConnectionError(
              `cannot run a command on ${this.target}: ${redact(err.message, this.#conn)}`,
              "closed",
              target,
            ),
          );
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | undefined;
        let signal: string | undefined;
        if (opts.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            this.#log(`${this.target}: run #${n} timed out after ${opts.timeoutMs} ms; ending the channel`);
            stream.close();
            fail(
              new ConnectionError(
                `command on ${this.target} timed out after ${opts.timeoutMs} ms`,
                "command-timeout",
                target,
              ),
            );
          }, opts.timeoutMs);
        }
        stream.on("data", (chunk: Buffer) => out.push(chunk));
        stream.stderr.on("data", (chunk: Buffer) => errOut.push(chunk));
        stream.on("exit", (c: number | null, s?: string) => {
          if (typeof c === "number") code = c;
          else signal = s ?? undefined;
        });
        stream.on("error", (e: Error) =>
          fail(new ConnectionError(`channel error on ${this.target}: ${redact(e.message, this.#conn)}`, "closed", target)),
        );
        stream.on("close", () => {
          if (settled) return;
          if (code === undefined && signal === undefined) {
            fail(
              new ConnectionError(
                `connection to ${this.target} lost while running a command${this.#lost ? `: ${this.#lost}` : ""}`,
                "closed",
                target,
              ),
            );
            return;
          }
          settled = true;
          if (timer) clearTimeout(timer);
          const exit = code ?? 128 + (signalNumber(signal) ?? 127);
          this.#log(`${this.target}: run #${n} exit ${exit} in ${Date.now() - started} ms`);
          resolve({
            code: exit,
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(errOut).toString("utf8"),
          });
        });
        stream.on("error", () => undefined);
        if (opts.stdin === undefined) stream.end();
        else stream.end(opts.stdin);
      });
    });
  }

  /** Close the session (and the proxy hop). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([endClient(this.#client), this.#proxy ? endClient(this.#proxy) : Promise.resolve()]);
  }

  toJSON(): Record<string, unknown> {
    return {
      target: this.target,
      via: this.#conn.proxy ? `${this.#conn.proxy.user}@${hostPort(this.#conn.proxy)}` : undefined,
      stats: this.stats,
      closed: this.#closed,
    };
  }

  toString(): string {
    return `HostSession(${this.target}${this.#conn.proxy ? ` via ${hostPort(this.#conn.proxy)}` : ""})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Open a session, run `fn`, and always close the session. */
export async function withSession<T>(
  conn: Connection,
  fn: (session: HostSession) => Promise<T>,
  opts: OpenOptions = {},
): Promise<T> {
  const session = await HostSession.open(conn, opts);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

function endClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    client.on("error", () => undefined);
    client.end();
  });
}

function forwardOut(bastion: Client, target: Hop, proxy: Hop): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    try {
      bastion.forwardOut("127.0.0.1", 0, target.host, target.port, (err, stream) => {
        if (err) {
          const e = new Error(`proxy ${hostPort(proxy)} cannot open a tunnel to ${hostPort(target)}: ${err.message}`);
          (e as { code?: string }).code = "ECONNREFUSED"; // channel open failures are network errors
          reject(e);
        } else resolve(stream);
      });
    } catch {
      // ssh2 throws "Not connected": the bastion is gone.
      const e = new Error(`proxy ${hostPort(proxy)} is not connected`);
      (e as { code?: string }).code = "ECONNRESET";
      reject(e);
    }
  });
}

async function dialWithRetry(
  hop: Hop,
  conn: Connection,
  log: (line: string) => void,
  label: string,
  makeSock: (() => Promise<Duplex>) | undefined,
): Promise<Client> {
  const limit = hop.dialErrorLimit === -1 ? Number.POSITIVE_INFINITY : Math.max(1, hop.dialErrorLimit);
  const pinned = pinnedKeyOf(hop, label);
  const key = privateKeyOf(hop, conn, label);
  const agent = await usableAgent(hop, log, label);
  let last: DialFailure | undefined;
  for (let attempt = 1; attempt <= limit; attempt++) {
    const started = Date.now();
    log(
      `${label}${hop.user}@${hostPort(hop)}: connecting (attempt ${attempt}${Number.isFinite(limit) ? `/${limit}` : ""}${makeSock ? ", through the proxy" : ""})`,
    );
    try {
      let sock: Duplex | undefined;
      try {
        sock = makeSock ? await makeSock() : undefined;
      } catch (err) {
        throw new DialAttemptError(classify(err as Error & { code?: string; level?: string }, hop, conn, label, pinned, undefined, []));
      }
      const client = await dialOnce(hop, conn, label, pinned, key, agent, sock);
      log(`${label}${hop.user}@${hostPort(hop)}: connected in ${Date.now() - started} ms`);
      return client;
    } catch (err) {
      if (!(err instanceof DialAttemptError)) throw err;
      last = err.failure;
      log(`${label}${hop.user}@${hostPort(hop)}: ${last.error.message}`);
      if (!last.retryable || attempt >= limit) break;
      await sleep(backoffMs(attempt));
    }
  }
  const failure = last as DialFailure;
  if (failure.error instanceof ConnectionError && failure.retryable) {
    const attempts = Number.isFinite(limit) ? limit : "unlimited";
    throw new ConnectionError(`${failure.error.message} (gave up after ${attempts} attempt${limit === 1 ? "" : "s"})`, failure.error.reason, failure.error.target);
  }
  throw failure.error;
}

function pinnedKeyOf(hop: Hop, label: string): PinnedHostKey | undefined {
  if (hop.hostKey === undefined) {
    if (hop.insecureIgnoreHostKey) return undefined;
    throw new ConnectionError(
      `refusing to connect to ${label}${hostPort(hop)}: no hostKey pinned (set hostKey, or insecureIgnoreHostKey: true)`,
      "config",
      hostPort(hop),
    );
  }
  const pinned = parseHostKey(hop.hostKey);
  if ("error" in pinned) {
    throw new ConnectionError(`refusing to connect to ${label}${hostPort(hop)}: hostKey ${pinned.error}`, "config", hostPort(hop));
  }
  return pinned;
}

/** Parse (and decrypt) the private key once per open(). ssh2's parser texts hold no key material. */
function privateKeyOf(hop: Hop, conn: Connection, label: string): ParsedKey | undefined {
  if (hop.privateKey === undefined) return undefined;
  const parsed = utils.parseKey(hop.privateKey, hop.privateKeyPassword);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key !== undefined && !(key instanceof Error) && key.isPrivateKey()) return key;
  const reason =
    key instanceof Error && /passphrase|encrypted/i.test(key.message)
      ? hop.privateKeyPassword === undefined
        ? "it is encrypted and privateKeyPassword is not set"
        : "privateKeyPassword cannot decrypt it"
      : "not a private key";
  throw new ConnectionError(
    redact(`cannot use privateKey for ${label}${hop.user}@${hostPort(hop)}: ${reason}`, conn),
    "config",
    hostPort(hop),
  );
}

/** The agent socket path when it exists; a missing socket is an auth error only if nothing else is configured. */
async function usableAgent(hop: Hop, log: (line: string) => void, label: string): Promise<string | undefined> {
  if (hop.agentSocketPath === undefined) return undefined;
  const isSocket = await stat(hop.agentSocketPath).then(
    (s) => s.isSocket(),
    () => false,
  );
  if (isSocket) return hop.agentSocketPath;
  if (hop.privateKey === undefined && hop.password === undefined) {
    throw new ConnectionError(
      `authentication failed for ${label}${hop.user}@${hostPort(hop)}: agentSocketPath ${hop.agentSocketPath} is not an ssh-agent socket`,
      "auth",
      hostPort(hop),
    );
  }
  log(`${label}${hop.user}@${hostPort(hop)}: agentSocketPath ${hop.agentSocketPath} is not a socket; not using the agent`);
  return undefined;
}

function dialOnce(
  hop: Hop,
  conn: Connection,
  label: string,
  pinned: PinnedHostKey | undefined,
  key: ParsedKey | undefined,
  agent: string | undefined,
  sock: Duplex | undefined,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const methods: AuthenticationType[] = [];
    if (key !== undefined) methods.push("publickey");
    if (agent !== undefined) methods.push("agent");
    if (hop.password !== undefined) methods.push("password", "keyboard-interactive");
    const tried: string[] = [];
    let offered: string | undefined;
    let settled = false;

    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      if (err) {
        client.removeAllListeners("ready");
        client.on("error", () => undefined);
        client.end();
        sock?.destroy();
        reject(err);
      } else {
        resolve(client);
      }
    };

    const config: ConnectConfig = {
      host: hop.host,
      port: hop.port,
      username: hop.user,
      readyTimeout: Math.round(hop.perDialTimeout * 1000),
      // Short keepalives bound the silence after a table loads: on a host whose ruleset used no
      // conntrack, this session was never tracked, and with output policy drop the server's next
      // packet is picked up mid-stream as NEW and dropped until the client sends one (which
      // passes the ssh rule and creates the entry). A 15 s interval stalled the apply past short
      // confirm windows (a false lock-out). 2 s x 30 keeps the 60 s dead-peer limit.
      keepaliveInterval: 2_000,
      keepaliveCountMax: 30,
      authHandler: (methodsLeft) => {
        // methodsLeft is null before the first attempt; afterwards, what the server still accepts.
        const allowed = methodsLeft ?? methods;
        const method = methods.find((m) => !tried.includes(m) && allowed.includes(m));
        if (method === undefined) return false;
        tried.push(method);
        // The key was parsed (and decrypted: bcrypt KDF, ~0.3 s) once for all attempts.
        if (method === "publickey" && key !== undefined) return { type: "publickey", username: hop.user, key };
        return method;
      },
      hostVerifier: (key: Buffer) => {
        offered = fingerprintOf(key);
        if (pinned === undefined) return true;
        if (pinned.kind === "key") return key.equals(pinned.blob);
        return offered === pinned.fingerprint;
      },
    };
    if (agent !== undefined) config.agent = agent;
    if (hop.password !== undefined) {
      config.password = hop.password;
      config.tryKeyboard = true;
    }
    if (pinned?.kind === "key") {
      // Ask only for the pinned key's type: a host with several keys would otherwise offer
      // whichever ssh2 prefers, and a correct pin would look like a mismatch.
      const algos = pinned.type === "ssh-rsa" ? RSA_ALGOS : [pinned.type];
      config.algorithms = { serverHostKey: algos as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] };
    }
    if (sock !== undefined) config.sock = sock as unknown as NonNullable<ConnectConfig["sock"]>;

    client.on("keyboard-interactive", (_name, _instructions, _lang, prompts, finish) => {
      // Answer password prompts only (echo off); anything else gets empty answers.
      finish(prompts.map((p) => (p.echo ? "" : (hop.password ?? ""))));
    });
    client.once("ready", () => settle(undefined));
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      // Errors of single auth attempts (a failing agent, a key that cannot sign) are not final:
      // ssh2 moves on to the next method and reports the end with "All configured ... failed".
      if ((err.level === "agent" || err.level === "client-authentication") && !/All configured/.test(err.message)) {
        return;
      }
      settle(new DialAttemptError(classify(err, hop, conn, label, pinned, offered, tried)));
    });
    client.on("close", () => {
      settle(
        new DialAttemptError({
          error: new ConnectionError(
            `${label}${hostPort(hop)} closed the connection before the SSH handshake completed`,
            "unreachable",
            hostPort(hop),
          ),
          retryable: true,
        }),
      );
    });
    try {
      client.connect(config);
      // Nagle + delayed ACK costs ~40-90 ms per exec round trip (channel open and exec request
      // are two small writes); with TCP_NODELAY a round trip takes a few ms. A proxied session
      // rides on the bastion's socket, which gets this too. Node applies it once connected.
      if (sock === undefined) client.setNoDelay(true);
    } catch (err) {
      settle(
        new DialAttemptError({
          error: new ConnectionError(
            `cannot connect to ${label}${hostPort(hop)}: ${redact((err as Error).message, conn)}`,
            "config",
            hostPort(hop),
          ),
          retryable: false,
        }),
      );
    }
  }).catch((err: unknown) => {
    throw err instanceof DialAttemptError ? err : new DialAttemptError(classify(err as Error, hop, conn, label, pinned, undefined, []));
  }) as Promise<Client>;
}

function classify(
  err: Error & { code?: string; level?: string },
  hop: Hop,
  conn: Connection,
  label: string,
  pinned: PinnedHostKey | undefined,
  offered: string | undefined,
  tried: string[],
): DialFailure {
  const where = hostPort(hop);
  const text = redact(err.message, conn);
  const wrap = (error: ConnectionError | HostKeyMismatchError, retryable: boolean) =>
    ({ error, retryable }) as DialFailure;
  let failure: DialFailure;
  if (/Host denied/.test(err.message) && pinned !== undefined) {
    failure = wrap(new HostKeyMismatchError(where, pinned.fingerprint, offered, label), false);
  } else if (/no matching host key format/i.test(err.message) && pinned?.kind === "key") {
    failure = wrap(new HostKeyMismatchError(where, `${pinned.fingerprint} (${pinned.type})`, undefined, label), false);
  } else if (err.level === "client-timeout") {
    failure = wrap(
      new ConnectionError(
        `timed out connecting to ${label}${where}: no SSH handshake within perDialTimeout ${hop.perDialTimeout}s`,
        "timeout",
        where,
      ),
      true,
    );
  } else if (err.level === "client-authentication") {
    const how = tried.length > 0 ? tried.join(", ") : "no method the server accepts";
    failure = wrap(
      new ConnectionError(`authentication failed for ${label}${hop.user}@${where} (tried ${how})`, "auth", where),
      false,
    );
  } else if (err.code === "ENOTFOUND") {
    failure = wrap(new ConnectionError(`cannot resolve ${label}${hop.host}`, "unreachable", where), false);
  } else if ((err.code && RETRYABLE_CODES.has(err.code)) || /Connection lost before handshake/.test(err.message)) {
    failure = wrap(new ConnectionError(`cannot reach ${label}${where}: ${text}`, "unreachable", where), true);
  } else {
    failure = wrap(new ConnectionError(`SSH connection to ${label}${where} failed: ${text}`, "protocol", where), false);
  }
  return failure;
}
