/**
 * HostSession against real OpenSSH servers from the lab (network namespaces on a private bridge).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { Socket } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import { ConnectionError, HostKeyMismatchError, HostSession, withSession } from "../../src/host/ssh";
import { type Connection, fingerprintOf, parseConnection, parseHostKey } from "../../src/model/connection";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const OPERATOR_PASSWORD = "hnft-lab-password";
const PASSPHRASE = "hnft-passphrase-7Qx";
const WRONG_PASSWORD = "wrong-password-Ve2";
const WRONG_PASSPHRASE = "wrong-passphrase-Jd4";

function conn(input: Record<string, unknown>): Connection {
  const r = parseConnection(input);
  if (!r.ok) throw new Error(formatIssues(r.issues).join("\n"));
  return r.value;
}

function fp(hostKey: string): string {
  const k = parseHostKey(hostKey);
  if (!k.ok) throw new Error(formatIssues(k.issues).join("\n"));
  return k.value.fingerprint;
}

async function expectRejects<T extends Error>(p: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as T;
  }
  throw new Error(`expected a ${type.name}`);
}

/** Every way an error could be shown: message, stack, String(), JSON, inspect. */
function renderings(err: unknown): string {
  return [
    String(err),
    (err as Error).stack ?? "",
    JSON.stringify(err),
    inspect(err, { depth: 5, showHidden: true }),
  ].join("\n");
}

describe.runIf(requireRoot("ssh", ["ip", "sshd", "ssh-keygen", "ssh-agent", "ssh-add"]))(
  "HostSession over real sshd",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let h2: LabHost;
    let tmp: string;
    let encKey: string; // ed25519 encrypted with PASSPHRASE, authorized for the operator on h1
    const logs: string[] = [];
    const onLog = (line: string) => logs.push(line);
    const timings: Record<string, number> = {};

    const rootConn = (h: LabHost, extra: Record<string, unknown> = {}) =>
      conn({ host: h.ipv4, privateKey: h.root.privateKey, hostKey: h.hostKey, ...extra });

    beforeAll(async () => {
      lab = await createLab({ hosts: 2, label: "ssh-test" });
      [h1, h2] = lab.hosts as [LabHost, LabHost];
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-ssh-test-"));
      const keyPath = path.join(tmp, "enc_ed25519");
      const gen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "enc@test", "-f", keyPath]);
      expect(gen.status).toBe(0);
      encKey = fs.readFileSync(keyPath, "utf8");
      // sshd reads AuthorizedKeysFile <host dir>/authorized_keys/%u (see lab.ts)
      const authorized = path.join(h1.dir, "authorized_keys", h1.operator.user);
      await h1.sh(`cat >> '${authorized}'`, { stdin: fs.readFileSync(`${keyPath}.pub`, "utf8") });
    });

    afterAll(async () => {
      await lab?.destroy();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      if (Object.keys(timings).length > 0) console.log(`ssh timings (ms): ${JSON.stringify(timings)}`);
    });

    it("authenticates root with a key, runs one round trip, and reports stats", async () => {
      const t0 = performance.now();
      const s = await HostSession.open(rootConn(h1), { onLog });
      timings.connectDirect = Math.round(performance.now() - t0);
      try {
        const t1 = performance.now();
        const r = await s.run("id -u; hostname -I 2>/dev/null || ip -4 -o addr show dev eth0");
        timings.roundTrip = Math.round(performance.now() - t1);
        expect(r.code).toBe(0);
        expect(r.stdout.split("\n")[0]).toBe("0");
        expect(r.stdout).toContain(h1.ipv4);
        expect(s.stats).toEqual({ connections: 1, roundTrips: 1 });
        await s.run("true");
        expect(s.stats).toEqual({ connections: 1, roundTrips: 2 });
      } finally {
        await s.close();
      }
    });

    it("reuses one connection for many steps, with TCP_NODELAY on its socket", async () => {
      // Without TCP_NODELAY each exec waits ~40-90 ms on Nagle + delayed ACK. Speed is a benchmark
      // figure, not an assertion: the test checks the cause (the socket option) and records the median.
      const noDelay = vi.spyOn(Socket.prototype, "setNoDelay");
      await withSession(rootConn(h1), async (s) => {
        expect(noDelay).toHaveBeenCalledWith(true);
        noDelay.mockRestore();
        const times: number[] = [];
        for (let i = 0; i < 10; i++) {
          const t0 = performance.now();
          expect((await s.run("true")).code).toBe(0);
          times.push(performance.now() - t0);
        }
        const median = times.sort((a, b) => a - b)[5] ?? 0;
        timings.roundTripMedianOf10 = Math.round(median);
        expect(s.stats).toEqual({ connections: 1, roundTrips: 10 });
      });
    });

    it("reports exit code, stdout and stderr separately; a script that ignores stdin is fine", async () => {
      await withSession(rootConn(h1), async (s) => {
        const r = await s.run("echo out; echo err >&2; exit 3");
        expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
        expect(await s.run("exit 0", { stdin: randomBytes(4 * 1024 * 1024) })).toEqual({
          code: 0,
          stdout: "",
          stderr: "",
        });
        expect((await s.run("kill -TERM $$")).code).toBe(128 + 15);
      });
    });

    it("connects over IPv6", async () => {
      await withSession(conn({ host: h1.ipv6, privateKey: h1.root.privateKey, hostKey: h1.hostKey }), async (s) => {
        expect(s.target).toBe(`root@[${h1.ipv6}]:22`);
        expect((await s.run('echo "$SSH_CONNECTION"')).stdout.split(" ")[2]).toBe(h1.ipv6);
      });
    });

    it("authenticates with an encrypted key and its passphrase", async () => {
      const c = conn({
        host: h1.ipv4,
        user: h1.operator.user,
        privateKey: encKey,
        privateKeyPassword: PASSPHRASE,
        hostKey: h1.hostKey,
        sudo: false,
      });
      await withSession(c, async (s) => {
        expect((await s.run("id -un")).stdout.trim()).toBe(h1.operator.user);
      });
    });

    it("authenticates the operator with a password", async () => {
      const c = conn({
        host: h1.ipv4,
        user: h1.operator.user,
        password: OPERATOR_PASSWORD,
        hostKey: h1.hostKey,
        sudo: false,
      });
      await withSession(c, async (s) => {
        const r = await s.run("id -un; id -u");
        expect(r.stdout).toBe(`${h1.operator.user}\n${h1.operator.uid}\n`);
      });
    });

    it("authenticates through a real ssh-agent", async () => {
      const sock = path.join(tmp, "agent.sock");
      const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
      try {
        for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
        const add = spawnSync("ssh-add", [h1.root.keyPath], {
          env: { ...process.env, SSH_AUTH_SOCK: sock },
          encoding: "utf8",
        });
        expect(add.status, add.stderr).toBe(0);
        await withSession(conn({ host: h1.ipv4, agentSocketPath: sock, hostKey: h1.hostKey }), async (s) => {
          expect((await s.run("id -u")).stdout).toBe("0\n");
        });
      } finally {
        if (agent.pid) process.kill(agent.pid, "SIGTERM");
      }
    });

    it("runs through sudo -n as the operator by default, and without it when asked", async () => {
      const c = conn({
        host: h1.ipv4,
        user: h1.operator.user,
        privateKey: h1.operator.privateKey,
        hostKey: h1.hostKey,
      });
      expect(c.sudo).toBe(true);
      await withSession(c, async (s) => {
        expect((await s.run("id -u")).stdout).toBe("0\n");
        expect((await s.run("id -u", { sudo: false })).stdout).toBe(`${h1.operator.uid}\n`);
      });
    });

    it("jumps through a proxy (h1) to h2 with two connections", async () => {
      const c = conn({
        host: h2.ipv4,
        user: h2.operator.user,
        privateKey: h2.operator.privateKey,
        hostKey: h2.hostKey,
        proxy: { host: h1.ipv4, privateKey: h1.root.privateKey, hostKey: h1.hostKey },
      });
      const t0 = performance.now();
      const s = await HostSession.open(c, { onLog });
      timings.connectViaProxy = Math.round(performance.now() - t0);
      try {
        const r = await s.run('id -u; echo "$SSH_CONNECTION"', { sudo: false });
        const [uid, sshConnection] = r.stdout.split("\n");
        expect(uid).toBe(String(h2.operator.uid));
        expect((await s.run("id -u")).stdout).toBe("0\n"); // sudo through the tunnel
        // h2 sees the session coming from h1: it went through the tunnel
        expect(sshConnection?.split(" ")[0]).toBe(h1.ipv4);
        expect(sshConnection?.split(" ")[2]).toBe(h2.ipv4);
        expect(s.stats).toEqual({ connections: 2, roundTrips: 2 });
        expect(String(s)).toBe(`HostSession(${h2.operator.user}@${h2.ipv4}:22 via ${h1.ipv4}:22)`);
      } finally {
        await s.close();
      }
    });

    it("refuses a host whose key does not match the pin, naming both fingerprints, without retrying", async () => {
      const before = logs.length;
      const err = await expectRejects(
        HostSession.open(rootConn(h1, { hostKey: h2.hostKey }), { onLog }),
        HostKeyMismatchError,
      );
      expect(err.message).toBe(
        `host key mismatch for ${h1.ipv4}:22: expected ${fp(h2.hostKey)}, offered ${fp(h1.hostKey)}`,
      );
      expect(err.code).toBe("connection");
      expect(logs.slice(before).filter((l) => l.includes("connecting (attempt"))).toHaveLength(1);
      // the same pin given as a fingerprint is accepted
      await withSession(rootConn(h1, { hostKey: fp(h1.hostKey) }), async (s) =>
        expect((await s.run("true")).code).toBe(0),
      );
      // and a wrong fingerprint is refused the same way
      const wrongFp = fingerprintOf(Buffer.from("not the key"));
      const err2 = await expectRejects(HostSession.open(rootConn(h1, { hostKey: wrongFp })), HostKeyMismatchError);
      expect(err2.message).toBe(`host key mismatch for ${h1.ipv4}:22: expected ${wrongFp}, offered ${fp(h1.hostKey)}`);
    });

    it("checks the proxy's host key too", async () => {
      const c = conn({
        host: h2.ipv4,
        privateKey: h2.root.privateKey,
        hostKey: h2.hostKey,
        proxy: { host: h1.ipv4, privateKey: h1.root.privateKey, hostKey: h2.hostKey },
      });
      const err = await expectRejects(HostSession.open(c), HostKeyMismatchError);
      expect(err.message).toBe(
        `host key mismatch for proxy ${h1.ipv4}:22: expected ${fp(h2.hostKey)}, offered ${fp(h1.hostKey)}`,
      );
    });

    it("refuses to dial without a pinned host key (when parseConnection was bypassed)", async () => {
      const c = { ...rootConn(h1), hostKey: undefined };
      const err = await expectRejects(HostSession.open(c), ConnectionError);
      expect(err.reason).toBe("config");
    });

    it("gives up on an unreachable host within a few seconds (dialErrorLimit 2, perDialTimeout 1)", async () => {
      const dead = `198.18.${lab.slot}.250`; // on the lab bridge, nobody answers
      const before = logs.length;
      const t0 = performance.now();
      const err = await expectRejects(
        HostSession.open(
          conn({
            host: dead,
            privateKey: h1.root.privateKey,
            hostKey: h1.hostKey,
            dialErrorLimit: 2,
            perDialTimeout: 1,
          }),
          { onLog },
        ),
        ConnectionError,
      );
      const elapsed = performance.now() - t0;
      timings.unreachableGiveUp = Math.round(elapsed);
      expect(elapsed).toBeLessThan(5000);
      expect(["timeout", "unreachable"]).toContain(err.reason);
      expect(err.code).toBe("connection");
      expect(err.message).toContain(dead);
      expect(err.message).toContain("gave up after 2 attempts");
      expect(logs.slice(before).filter((l) => l.includes("connecting (attempt"))).toHaveLength(2);
    });

    it("retries a refused connection and fails as unreachable; through a proxy as well", async () => {
      await h2.stopSshd();
      try {
        const err = await expectRejects(
          HostSession.open(rootConn(h2, { dialErrorLimit: 2, perDialTimeout: 2 })),
          ConnectionError,
        );
        expect(err.reason).toBe("unreachable");
        expect(err.message).toMatch(/ECONNREFUSED/);
        const viaProxy = rootConn(h2, {
          dialErrorLimit: 2,
          proxy: { host: h1.ipv4, privateKey: h1.root.privateKey, hostKey: h1.hostKey },
        });
        const before = logs.length;
        const err2 = await expectRejects(HostSession.open(viaProxy, { onLog }), ConnectionError);
        expect(err2.reason).toBe("unreachable");
        expect(err2.message).toContain(`proxy ${h1.ipv4}:22 cannot open a tunnel to ${h2.ipv4}:22`);
        // the proxy connection is made once and reused for both tunnel attempts
        const attempts = logs.slice(before).filter((l) => l.includes("connecting (attempt"));
        expect(attempts.filter((l) => l.startsWith("proxy "))).toHaveLength(1);
        expect(attempts.filter((l) => !l.startsWith("proxy "))).toHaveLength(2);
      } finally {
        await h2.startSshd();
      }
    });

    it("carries stdin byte-exact: quotes, $(), backticks, newlines, and 1 MiB of binary", async () => {
      const tricky = `it's "quoted" $(touch /tmp/pwned) \`id\` $HOME \\ \n\nline3 ' " \u00e9\u2603\n`;
      const binary = randomBytes(1024 * 1024);
      const sha = createHash("sha256").update(binary).digest("hex");
      for (const c of [
        rootConn(h1),
        conn({ host: h1.ipv4, user: h1.operator.user, privateKey: h1.operator.privateKey, hostKey: h1.hostKey }),
      ]) {
        await withSession(c, async (s) => {
          expect((await s.run("cat", { stdin: tricky })).stdout).toBe(tricky);
          const r = await s.run("wc -c; ", { stdin: binary });
          expect(r.stdout.trim()).toBe(String(binary.length));
          const h = await s.run("sha256sum | cut -d' ' -f1", { stdin: binary });
          expect(h.stdout.trim()).toBe(sha);
          // and the fixed script itself may contain quotes: it is quoted as one shell word
          expect((await s.run(`printf '%s\\n' "it's" '$(x)'`)).stdout).toBe("it's\n$(x)\n");
          expect((await s.run("test -e /tmp/pwned && echo yes || echo no")).stdout).toBe("no\n");
        });
      }
    });

    it.each(["root", "operator (sudo)"])(
      "ends a command that exceeds timeoutMs, remote processes included (%s)",
      async (who) => {
        const c =
          who === "root"
            ? rootConn(h1)
            : conn({ host: h1.ipv4, user: h1.operator.user, privateKey: h1.operator.privateKey, hostKey: h1.hostKey });
        await withSession(c, async (s) => {
          const t0 = performance.now();
          const err = await expectRejects(s.run("sleep 37.25; echo never", { timeoutMs: 300 }), ConnectionError);
          expect(err.reason).toBe("command-timeout");
          expect(err.code).toBe("connection");
          expect(performance.now() - t0).toBeLessThan(2000);
          expect((await s.run("echo still-here")).stdout).toBe("still-here\n");
          // the remote sleep is gone too (pid namespaces are shared: match the unusual argument)
          let left = "";
          for (let i = 0; i < 50; i++) {
            left = (await h1.sh("ps -eo args | grep '[s]leep 37.25' || true")).stdout.trim();
            if (left === "") break;
            await new Promise((r) => setTimeout(r, 20));
          }
          expect(left).toBe("");
          // a command within its limit is not affected
          expect(await s.run("cat", { stdin: "x", timeoutMs: 5000 })).toEqual({ code: 0, stdout: "x", stderr: "" });
        });
      },
    );

    it("withSession always closes the session, also when fn throws", async () => {
      let kept: HostSession | undefined;
      await expect(
        withSession(rootConn(h1), async (s) => {
          kept = s;
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      const err = await expectRejects(kept!.run("true"), ConnectionError);
      expect(err.message).toContain("is closed");
    });

    it("never shows a secret: wrong password, wrong passphrase, sessions", async () => {
      // wrong password
      const badPw = conn({
        host: h1.ipv4,
        user: h1.operator.user,
        password: WRONG_PASSWORD,
        hostKey: h1.hostKey,
        dialErrorLimit: 3,
      });
      const before = logs.length;
      const e1 = await expectRejects(HostSession.open(badPw, { onLog }), ConnectionError);
      expect(e1.reason).toBe("auth");
      expect(e1.message).toBe(`authentication failed for ${h1.operator.user}@${h1.ipv4}:22 (tried password)`);
      expect(logs.slice(before).filter((l) => l.includes("connecting (attempt"))).toHaveLength(1); // auth is not retried

      // wrong passphrase (parseConnection would refuse it, so build the connection by hand)
      const badPp: Connection = {
        ...rootConn(h1),
        user: h1.operator.user,
        privateKey: encKey,
        privateKeyPassword: WRONG_PASSPHRASE,
      };
      const e2 = await expectRejects(HostSession.open(badPp, { onLog }), ConnectionError);
      expect(e2.message).toBe(`cannot use privateKey for hnftop@${h1.ipv4}:22: privateKeyPassword cannot decrypt it`);
      expect(e2.reason).toBe("config");

      // a key the host does not accept, plus a wrong password
      const badBoth = conn({
        host: h1.ipv4,
        privateKey: h2.root.privateKey,
        password: WRONG_PASSWORD,
        hostKey: h1.hostKey,
      });
      const e3 = await expectRejects(HostSession.open(badBoth), ConnectionError);
      expect(e3.message).toBe(`authentication failed for root@${h1.ipv4}:22 (tried publickey, password)`);

      const s = await HostSession.open(
        conn({ host: h1.ipv4, user: h1.operator.user, password: OPERATOR_PASSWORD, hostKey: h1.hostKey }),
        { onLog },
      );
      const sessionText = [
        String(s),
        JSON.stringify(s),
        inspect(s, { depth: 10, showHidden: true }),
        JSON.stringify({ s }),
      ].join("\n");
      // the session can redact remote output that happens to contain a secret
      const echoed = await s.run("cat", { stdin: `pw is ${OPERATOR_PASSWORD}` });
      expect(s.redact(echoed.stdout)).toBe("pw is [REDACTED]");
      await s.close();

      const text = [renderings(e1), renderings(e2), renderings(e3), sessionText, logs.join("\n")].join("\n");
      const keyLines = [encKey, h1.root.privateKey, h2.root.privateKey, h1.operator.privateKey].flatMap((k) =>
        k.split("\n").filter((l) => l.length >= 8 && !l.startsWith("-----")),
      );
      for (const secret of [WRONG_PASSWORD, WRONG_PASSPHRASE, PASSPHRASE, OPERATOR_PASSWORD, ...keyLines]) {
        expect(text.includes(secret), `secret leaked: ${secret.slice(0, 10)}...`).toBe(false);
      }
    });
  },
);
