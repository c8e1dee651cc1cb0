/**
 * One SSH session to one host: opened through its proxy when it has one, and `run()` of fixed
 * scripts whose data travels on stdin, one after the other.
 *
 * Secrets (password, privateKey, privateKeyPassword, also the proxy's) never appear in an error
 * message, a log line, `toString()`, `JSON.stringify()` or `util.inspect()` of a session: the
 * connection and the ssh2 clients live in private fields, and every text that comes from ssh2 or
 * from the remote host goes through {@link redact} before it is put in a message.
 */
import { constants as osConstants } from "node:os";
import { inspect } from "node:util";
import type { Client, ClientChannel } from "ssh2";
import { type Connection, redact } from "../../model/connection";
import { dialWithRetry, forwardOut } from "./dial";
import { type DialLimits, hopsOf, hostPort } from "./hop";
import { commandLine } from "./shell";
import { ConnectionError } from "./ssh-errors";

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
  /** Dial the target with these limits instead of the connection's (the proxy keeps its own). */
  limits?: DialLimits;
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

  private constructor(
    conn: Connection,
    client: Client,
    proxy: Client | undefined,
    stats: SessionStats,
    log: (line: string) => void,
  ) {
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
    const ctx = {
      log: (line: string) => opts.onLog?.(redact(line, conn)),
      redact: (text: string) => redact(text, conn),
    };
    const { target, proxy } = hopsOf(conn, opts.limits, ctx.redact);
    const stats: SessionStats = { connections: 0, roundTrips: 0 };
    let bastion: Client | undefined;
    try {
      if (proxy) {
        bastion = await dialWithRetry(proxy, ctx);
        stats.connections++;
        const via = bastion;
        const client = await dialWithRetry(target, ctx, () => forwardOut(via, target, proxy));
        stats.connections++;
        // If the bastion goes, the tunnelled session goes with it.
        via.on("close", () => client.end());
        return new HostSession(conn, client, bastion, stats, ctx.log);
      }
      const client = await dialWithRetry(target, ctx);
      stats.connections++;
      return new HostSession(conn, client, undefined, stats, ctx.log);
    } catch (err) {
      bastion?.end();
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
    if (this.#closed)
      return Promise.reject(new ConnectionError(`session to ${this.target} is closed`, "closed", target));
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
              `cannot run a command on ${this.target}: ${this.redact(err.message)}`,
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
          fail(new ConnectionError(`channel error on ${this.target}: ${this.redact(e.message)}`, "closed", target)),
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
        if (opts.stdin === undefined) stream.end();
        else stream.end(opts.stdin);
      });
    });
  }

  /**
   * Whether the host answers on this session within `timeoutMs`: one `true` on a channel of its
   * own, beside the serialized steps (a step may be waiting on the host meanwhile). Not counted in
   * the stats: it runs only while a proof of access is pending, to tell a lock-out (this session
   * still answers) from lost contact (nothing does).
   */
  answers(timeoutMs: number): Promise<boolean> {
    if (this.#closed || this.#lost !== undefined) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      try {
        this.#client.exec("true", (err, stream: ClientChannel) => {
          if (err) return done(false);
          if (settled) return stream.close();
          stream.on("error", () => done(false));
          stream.on("exit", () => done(true));
          // a channel closed by a lost connection has no exit status: no answer
          stream.on("close", () => done(false));
          stream.resume();
          stream.stderr.resume();
          stream.end();
        });
      } catch {
        done(false);
      }
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
