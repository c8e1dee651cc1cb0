/**
 * Dialing one hop with ssh2: the pinned host key, the parsed key / agent / password, bounded
 * retries of network errors, and the tunnel through a proxy (jump host).
 */
import { stat } from "node:fs/promises";
import type { Duplex } from "node:stream";
import { type AuthenticationType, Client, type ConnectConfig } from "ssh2";
import { fingerprintOf } from "../../model/host-key";
import { classify, DialAttemptError, type DialFailure } from "./dial-failure";
import { type Hop, hopName, hostPort, loginName } from "./hop";
import { ConnectionError } from "./ssh-errors";

export interface DialContext {
  /** Progress lines (already redacted by the caller's logger). */
  readonly log: (line: string) => void;
  /** Removes the connection's secrets from texts that come from ssh2. */
  readonly redact: (text: string) => string;
}

const RSA_ALGOS = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/** Backoff between dial attempts: 250 ms, 500 ms, 1 s, then 2 s. */
const backoffMs = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 2000);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Connect to `hop` (through `makeSock`'s tunnel when given), retrying network errors up to
 * `dialErrorLimit` attempts. Authentication failures and host key mismatches are never retried.
 */
export async function dialWithRetry(hop: Hop, ctx: DialContext, makeSock?: () => Promise<Duplex>): Promise<Client> {
  const limit = hop.dialErrorLimit === -1 ? Number.POSITIVE_INFINITY : Math.max(1, hop.dialErrorLimit);
  const agent = await usableAgent(hop, ctx);
  let last: DialFailure | undefined;
  for (let attempt = 1; attempt <= limit; attempt++) {
    const started = Date.now();
    ctx.log(
      `${loginName(hop)}: connecting (attempt ${attempt}${Number.isFinite(limit) ? `/${limit}` : ""}${makeSock ? ", through the proxy" : ""})`,
    );
    try {
      let sock: Duplex | undefined;
      try {
        sock = makeSock ? await makeSock() : undefined;
      } catch (err) {
        throw new DialAttemptError(classify(err as Error, hop, { tried: [] }, ctx.redact));
      }
      const client = await dialOnce(hop, agent, sock, ctx);
      ctx.log(`${loginName(hop)}: connected in ${Date.now() - started} ms`);
      return client;
    } catch (err) {
      if (!(err instanceof DialAttemptError)) throw err;
      last = err.failure;
      ctx.log(`${loginName(hop)}: ${last.error.message}`);
      if (!last.retryable || attempt >= limit) break;
      await sleep(backoffMs(attempt));
    }
  }
  const failure = last as DialFailure;
  if (failure.error instanceof ConnectionError && failure.retryable) {
    const attempts = Number.isFinite(limit) ? limit : "unlimited";
    throw new ConnectionError(
      `${failure.error.message} (gave up after ${attempts} attempt${limit === 1 ? "" : "s"})`,
      failure.error.reason,
      failure.error.target,
    );
  }
  throw failure.error;
}

/** A tunnel from the proxy's client to `target`. Failures carry network error codes, so they are retried. */
export function forwardOut(bastion: Client, target: Hop, proxy: Hop): Promise<Duplex> {
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

/** The agent socket path when it exists; a missing socket is an auth error only if nothing else is configured. */
async function usableAgent(hop: Hop, ctx: DialContext): Promise<string | undefined> {
  const path = hop.auth.agentSocketPath;
  if (path === undefined) return undefined;
  const isSocket = await stat(path).then(
    (s) => s.isSocket(),
    () => false,
  );
  if (isSocket) return path;
  if (hop.auth.key === undefined && hop.auth.password === undefined) {
    throw new ConnectionError(
      `authentication failed for ${loginName(hop)}: agentSocketPath ${path} is not an ssh-agent socket`,
      "auth",
      hostPort(hop),
    );
  }
  ctx.log(`${loginName(hop)}: agentSocketPath ${path} is not a socket; not using the agent`);
  return undefined;
}

/** ssh2's settings for one attempt: the pinned key's algorithms, keepalives, the tunnel. */
function connectConfig(hop: Hop, agent: string | undefined, sock: Duplex | undefined): ConnectConfig {
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
  };
  if (agent !== undefined) config.agent = agent;
  if (hop.auth.password !== undefined) {
    config.password = hop.auth.password;
    config.tryKeyboard = true;
  }
  if (hop.hostKey?.kind === "key") {
    // Ask only for the pinned key's type: a host with several keys would otherwise offer
    // whichever ssh2 prefers, and a correct pin would look like a mismatch.
    const algos = hop.hostKey.type === "ssh-rsa" ? RSA_ALGOS : [hop.hostKey.type];
    config.algorithms = { serverHostKey: algos as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] };
  }
  if (sock !== undefined) config.sock = sock as unknown as NonNullable<ConnectConfig["sock"]>;
  return config;
}

function dialOnce(hop: Hop, agent: string | undefined, sock: Duplex | undefined, ctx: DialContext): Promise<Client> {
  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    const { key, password } = hop.auth;
    const methods: AuthenticationType[] = [];
    if (key !== undefined) methods.push("publickey");
    if (agent !== undefined) methods.push("agent");
    if (password !== undefined) methods.push("password", "keyboard-interactive");
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
      ...connectConfig(hop, agent, sock),
      authHandler: (methodsLeft) => {
        // methodsLeft is null before the first attempt; afterwards, what the server still accepts.
        const allowed = methodsLeft ?? methods;
        const method = methods.find((m) => !tried.includes(m) && allowed.includes(m));
        if (method === undefined) return false;
        tried.push(method);
        if (method === "publickey" && key !== undefined) return { type: "publickey", username: hop.user, key };
        return method;
      },
      hostVerifier: (offeredKey: Buffer) => {
        offered = fingerprintOf(offeredKey);
        const pinned = hop.hostKey;
        if (pinned === undefined) return true;
        if (pinned.kind === "key") return offeredKey.equals(pinned.blob);
        return offered === pinned.fingerprint;
      },
    };

    client.on("keyboard-interactive", (_name, _instructions, _lang, prompts, finish) => {
      // Answer password prompts only (echo off); anything else gets empty answers.
      finish(prompts.map((p) => (p.echo ? "" : (password ?? ""))));
    });
    client.once("ready", () => settle(undefined));
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      // Errors of single auth attempts (a failing agent, a key that cannot sign) are not final:
      // ssh2 moves on to the next method and reports the end with "All configured ... failed".
      if ((err.level === "agent" || err.level === "client-authentication") && !/All configured/.test(err.message)) {
        return;
      }
      settle(new DialAttemptError(classify(err, hop, { offered, tried }, ctx.redact)));
    });
    client.on("close", () => {
      const error = new ConnectionError(
        `${hopName(hop)} closed the connection before the SSH handshake completed`,
        "unreachable",
        hostPort(hop),
      );
      settle(new DialAttemptError({ error, retryable: true }));
    });
    try {
      client.connect(config);
      // Nagle + delayed ACK costs ~40-90 ms per exec round trip (channel open and exec request
      // are two small writes); with TCP_NODELAY a round trip takes a few ms. A proxied session
      // rides on the bastion's socket, which gets this too. Node applies it once connected.
      if (sock === undefined) client.setNoDelay(true);
    } catch (err) {
      const error = new ConnectionError(
        `cannot connect to ${hopName(hop)}: ${ctx.redact((err as Error).message)}`,
        "config",
        hostPort(hop),
      );
      settle(new DialAttemptError({ error, retryable: false }));
    }
  }).catch((err: unknown) => {
    throw err instanceof DialAttemptError
      ? err
      : new DialAttemptError(classify(err as Error, hop, { tried: [] }, ctx.redact));
  });
}
