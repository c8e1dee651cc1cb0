/**
 * No secret in any output (issue #3 §8): failing and succeeding host operations with
 * secret-bearing connections (password, encrypted private key and its passphrase) never show a
 * secret in an error (message, stack, String, JSON, inspect), a result, a report or a log line.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import {
  applyOnSession,
  applyPolicy,
  ConnectionError,
  formatDrift,
  HostSession,
  LockoutRolledBackError,
  NftRejectedError,
  observePolicy,
  probeHost,
  probeSession,
  removeTable,
} from "../../src/host";
import { parseConnection } from "../../src/model/connection";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import {
  BASE_POLICY,
  connectionFor,
  expectRejects,
  HOST_PATHS,
  hostSnapshot,
  LOCKOUT_POLICY,
  TABLE,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const PASSPHRASE = "hnft-secret-passphrase-Zq81";
const WRONG_PASSPHRASE = "hnft-secret-wrong-passphrase-Lm27";
const WRONG_PASSWORD = "hnft-secret-wrong-password-Kd55";

/** Every way a value could be shown to a user. */
function renderings(value: unknown): string {
  const parts = [String(value), inspect(value, { depth: 8, showHidden: true, getters: true })];
  try {
    parts.push(JSON.stringify(value) ?? "");
  } catch {
    /* circular: inspect covers it */
  }
  if (value instanceof Error) parts.push(value.stack ?? "", value.message);
  return parts.join("\n");
}

describe.runIf(requireRoot("host secrets", ["ip", "sshd", "nft", "ssh-keygen"]))(
  "host layer: no secret in any output",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let tmp: string;
    let encKey: string;
    let secrets: string[];
    const logs: string[] = [];
    const onLog = (l: string) => logs.push(l);
    const seen: unknown[] = [];

    /** A password login as the sudo operator (the lab's real password). */
    const passwordConn = (password: string) => connectionFor(h1, "operator", { privateKey: undefined, password });
    /** Root with an encrypted key. */
    const encKeyConn = (passphrase: string) =>
      connectionFor(h1, "root", { privateKey: encKey, privateKeyPassword: passphrase });

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "host-secrets" });
      [h1] = lab.hosts as [LabHost];
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-secrets-"));
      const keyPath = path.join(tmp, "enc_ed25519");
      expect(
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "enc@test", "-f", keyPath]).status,
      ).toBe(0);
      encKey = fs.readFileSync(keyPath, "utf8");
      await h1.sh(`cat >> '${path.join(h1.dir, "authorized_keys", "root")}'`, {
        stdin: fs.readFileSync(`${keyPath}.pub`, "utf8"),
      });
      const keyLines = (k: string) =>
        k
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l.length >= 8 && !l.startsWith("-----"));
      secrets = [
        PASSPHRASE,
        WRONG_PASSPHRASE,
        WRONG_PASSWORD,
        h1.operator.password!,
        ...keyLines(encKey),
        ...keyLines(h1.root.privateKey),
        ...keyLines(h1.operator.privateKey),
      ];
      expect(h1.operator.password).toBeTruthy();
    });
    afterAll(async () => {
      await lab?.destroy();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    function expectClean(what: string, value: unknown): void {
      seen.push(value);
      const text = renderings(value);
      for (const s of secrets) expect(text.includes(s), `${what} shows a secret (${s.slice(0, 6)}...)`).toBe(false);
    }

    it("wrong password: an auth error without the password", async () => {
      const err = await expectRejects(
        applyPolicy(passwordConn(WRONG_PASSWORD), assertPolicy(BASE_POLICY), { paths: HOST_PATHS, onLog }),
        ConnectionError,
      );
      expect(err.reason).toBe("auth");
      expectClean("wrong password error", err);
      const err2 = await expectRejects(
        observePolicy(passwordConn(WRONG_PASSWORD), assertPolicy(BASE_POLICY), { paths: HOST_PATHS, onLog }),
        ConnectionError,
      );
      expectClean("wrong password error (observe)", err2);
    });

    it("encrypted key with the wrong passphrase: refused at parse time and at connect time, without key or passphrase", async () => {
      const parsed = parseConnection({
        host: h1.ipv4,
        privateKey: encKey,
        privateKeyPassword: WRONG_PASSPHRASE,
        hostKey: h1.hostKey,
      });
      expect(parsed.ok).toBe(false);
      expect(parsed.ok ? [] : formatIssues(parsed.issues)).toEqual([
        "connection.privateKeyPassword: cannot decrypt connection.privateKey",
      ]);
      expectClean("parse errors", parsed);
      // a Connection built without parseConnection (e.g. deserialized) reaches the host layer as is
      const unchecked = { ...encKeyConn(PASSPHRASE), privateKeyPassword: WRONG_PASSPHRASE };
      const err = await expectRejects(
        applyPolicy(unchecked, assertPolicy(BASE_POLICY), { paths: HOST_PATHS, onLog }),
        ConnectionError,
      );
      expect(err.message).toMatch(/privateKeyPassword cannot decrypt it/);
      expectClean("wrong passphrase error", err);
      const err2 = await expectRejects(removeTable(unchecked, TABLE, { paths: HOST_PATHS, onLog }), ConnectionError);
      expectClean("wrong passphrase error (remove)", err2);
    });

    it("successful apply, observe (with drift), probe and remove with secret-bearing connections", async () => {
      await wipeHost(h1);
      for (const conn of [passwordConn(h1.operator.password!), encKeyConn(PASSPHRASE)]) {
        const applied = await applyPolicy(conn, assertPolicy(BASE_POLICY), {
          paths: HOST_PATHS,
          confirmTimeoutSeconds: 10,
          onLog,
        });
        expectClean("apply result", applied);
        await h1.sh(`nft add rule inet ${TABLE} input tcp dport 9 accept`);
        const report = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS, onLog });
        expect(report.inSync).toBe(false);
        expectClean("drift report", report);
        expectClean("formatted drift", formatDrift(report));
        expectClean("probe", await probeHost(conn));
        expectClean("remove result", await removeTable(conn, TABLE, { paths: HOST_PATHS, onLog }));
        expectClean(
          "connection's session",
          await HostSession.open(conn).then(async (s) => [s, String(s), s.toJSON(), await s.close()]),
        );
      }
    });

    it("lock-out rollback with a password connection: the error and logs hold no secret", async () => {
      await wipeHost(h1);
      await applyPolicy(passwordConn(h1.operator.password!), assertPolicy(BASE_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: 5,
        onLog,
      });
      const before = await hostSnapshot(h1);
      const err = await expectRejects(
        applyPolicy(passwordConn(h1.operator.password!), assertPolicy(LOCKOUT_POLICY), {
          paths: HOST_PATHS,
          confirmTimeoutSeconds: 5,
          onLog,
        }),
        LockoutRolledBackError,
      );
      expectClean("lock-out error", err);
      expect(await hostSnapshot(h1)).toEqual(before);
      const err2 = await expectRejects(
        applyPolicy(encKeyConn(PASSPHRASE), assertPolicy(LOCKOUT_POLICY), {
          paths: HOST_PATHS,
          confirmTimeoutSeconds: 5,
          onLog,
        }),
        LockoutRolledBackError,
      );
      expectClean("lock-out error (encrypted key)", err2);
    });

    it("nft rejection with secret-bearing connections: the error holds nft's message but no secret", async () => {
      for (const conn of [passwordConn(h1.operator.password!), encKeyConn(PASSPHRASE)]) {
        const session = await HostSession.open(conn, { onLog });
        try {
          const facts = await probeSession(session);
          const good = renderPolicy(assertPolicy(BASE_POLICY), { profile: facts.profile });
          const err = await expectRejects(
            applyOnSession(
              session,
              conn,
              {
                ...good,
                nft: good.nft.replace("tcp dport 443 counter accept", "tcp dport 443 counter acept"),
                hash: "x",
              },
              facts,
              { paths: HOST_PATHS, onLog },
            ),
            NftRejectedError,
          );
          expect(err.nftMessage).toMatch(/syntax error/);
          expectClean("nft rejection", err);
        } finally {
          await session.close();
        }
      }
    });

    it("no log line, from any of the above, holds a secret", () => {
      expect(logs.length).toBeGreaterThan(20);
      expectClean("log lines", logs);
      expect(seen.length).toBeGreaterThan(10);
    });
  },
);
