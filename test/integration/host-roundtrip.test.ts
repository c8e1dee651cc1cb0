/**
 * Host layer on real lab hosts (issue #3 §8): apply / observe / remove round trip, idempotency,
 * persistence (the persisted file loads to the same table; the systemd unit), foreign tables left
 * alone, a non-root sudo user, and host key pinning.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import { applyPolicy, HostKeyMismatchError, observePolicy, removeTable } from "../../src/host";
import { parseHostKey } from "../../src/model/connection";
import { assertPolicy } from "../../src/model/validate";
import {
  ALT_POLICY,
  BASE_POLICY,
  connectionFor,
  contents,
  expectRejects,
  guardianAlive,
  HOST_PATHS,
  hostSnapshot,
  listRulesetWithHandles,
  listTable,
  lockFree,
  MANAGED,
  managedFiles,
  TABLE,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const opts = { paths: HOST_PATHS, confirmTimeoutSeconds: 10 };
const timings: Record<string, number[]> = {};
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    (timings[name] ??= []).push(Math.round(performance.now() - t0));
  }
}

const FOREIGN = `
table ip filter {
	chain INPUT { type filter hook input priority filter; policy accept; }
	chain FORWARD { type filter hook forward priority filter; policy drop; jump DOCKER-USER; jump DOCKER-ISOLATION-STAGE-1; }
	chain DOCKER { iifname != "docker0" ip daddr 172.17.0.2 tcp dport 80 accept; }
	chain DOCKER-USER { return; }
	chain DOCKER-ISOLATION-STAGE-1 { iifname "docker0" oifname != "docker0" jump DOCKER-ISOLATION-STAGE-2; return; }
	chain DOCKER-ISOLATION-STAGE-2 { oifname "docker0" drop; return; }
}
table ip nat {
	chain PREROUTING { type nat hook prerouting priority dstnat; policy accept; fib daddr type local jump DOCKER; }
	chain POSTROUTING { type nat hook postrouting priority srcnat; policy accept; ip saddr 172.17.0.0/16 oifname != "docker0" masquerade; }
	chain DOCKER { iifname != "docker0" tcp dport 8080 dnat to 172.17.0.2:80; }
}
table inet f2b-table {
	set addr-set-sshd { type ipv4_addr; elements = { 192.0.2.7, 198.51.100.9 }; }
	chain f2b-chain { type filter hook input priority filter - 1; policy accept; tcp dport 22 ip saddr @addr-set-sshd reject; }
}
`;

describe.runIf(requireRoot("host round trip", ["ip", "sshd", "nft"]))(
  "host layer: round trip, persistence, foreign tables, users, host keys",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let h2: LabHost;

    beforeAll(async () => {
      lab = await createLab({ hosts: 2, label: "host-roundtrip" });
      [h1, h2] = lab.hosts as [LabHost, LabHost];
    });
    afterAll(async () => {
      await lab?.destroy();
      if (Object.keys(timings).length > 0) console.log(`host round-trip timings (ms): ${JSON.stringify(timings)}`);
    });

    it("applies, observes in sync, re-applies as a no-op (nothing rewritten, one connection) and removes", async () => {
      const conn = connectionFor(h1);
      expect(await listTable(h1)).toBe("");

      const first = await timed("apply", () => applyPolicy(conn, assertPolicy(BASE_POLICY), opts));
      expect(first.changed).toBe(true);
      expect(first.stats).toEqual({ connections: 2, roundTrips: 3 });
      expect(first.flushedConnections).toBe(0);
      const live = await listTable(h1);
      expect(live).toContain("tcp dport 22 counter accept");
      expect(live).toContain("tcp dport 443 counter accept");
      const files = await managedFiles(h1);
      const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
      expect(byPath[MANAGED.nft]!.content).toBe(first.artefacts.nft);
      expect(byPath[MANAGED.sysctl]!.content).toBe(first.artefacts.sysctl);
      expect(byPath[MANAGED.modprobe]!.content).toBe(first.artefacts.modprobe);
      expect(byPath[MANAGED.unit]!.present).toBe(false); // probe: no /etc/systemd/system, init none
      expect(await guardianAlive(h1)).toBe(false);
      expect(await lockFree(h1)).toBe(true);

      const report = await timed("observe", () =>
        observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS }),
      );
      expect(report.inSync).toBe(true);
      expect(report.tablePresent).toBe(true);
      expect(report.appliedHash).toBe(first.hash);
      expect(report.desiredHash).toBe(first.hash);
      expect(report.armed).toBe(false);
      expect(report.stats).toEqual({ connections: 1, roundTrips: 2 });

      const handlesBefore = await listRulesetWithHandles(h1);
      const filesBefore = await managedFiles(h1);
      // Everything the project owns on the host, its lock and state included, with ns timestamps.
      const everyFile = async () =>
        (
          await h1.sh(
            "find /etc/hardened-nftables /etc/sysctl.d /etc/modprobe.d -exec stat -c '%n %i %s %y %z' {} + | sort",
          )
        ).stdout;
      const everyFileBefore = await everyFile();
      const again = await timed("no-op apply", () => applyPolicy(conn, assertPolicy(BASE_POLICY), opts));
      expect(again.changed).toBe(false);
      expect(again.hash).toBe(first.hash);
      expect(again.stats).toEqual({ connections: 1, roundTrips: 2 });
      // not reloaded: every handle is the same; not rewritten: same inode and mtime
      expect(await listRulesetWithHandles(h1)).toBe(handlesBefore);
      expect(await managedFiles(h1)).toEqual(filesBefore);
      expect(await everyFile()).toBe(everyFileBefore);

      // a different policy is applied over it (a real change), then back: both in sync
      const alt = await applyPolicy(conn, assertPolicy(ALT_POLICY), opts);
      expect(alt.changed).toBe(true);
      expect(await listTable(h1)).toContain("tcp dport 25 counter accept");
      expect((await observePolicy(conn, assertPolicy(ALT_POLICY), { paths: HOST_PATHS })).inSync).toBe(true);
      const stale = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(stale.inSync).toBe(false);
      expect(stale.appliedHash).toBe(alt.hash);
      expect(stale.rules.added.map((r) => r.text)).toEqual(
        expect.arrayContaining([expect.stringContaining("tcp dport 25 counter accept")]),
      );

      const removed = await timed("remove", () => removeTable(conn, TABLE, { paths: HOST_PATHS }));
      expect(removed.removed).toEqual(
        expect.arrayContaining([`table inet ${TABLE}`, MANAGED.nft, MANAGED.sysctl, MANAGED.modprobe]),
      );
      expect(await listTable(h1)).toBe("");
      expect(contents(await managedFiles(h1))).toEqual(
        Object.fromEntries(Object.values(filesBefore).map((f) => [f.path, null])),
      );
      expect((await h1.sh(`ls -A '${MANAGED.stateDir}' 2>/dev/null | wc -l`)).stdout.trim()).toBe("0");
      const gone = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(gone.inSync).toBe(false);
      expect(gone.tablePresent).toBe(false);
      expect(gone.appliedHash).toBeUndefined();
      expect(gone.files.map((f) => [f.name, f.status])).toEqual([
        ["nft", "missing"],
        ["sysctl", "missing"],
        ["modprobe", "missing"],
      ]);
      // remove is idempotent
      expect((await removeTable(conn, TABLE, { paths: HOST_PATHS })).removed).toEqual([]);
    });

    it("persists a file that loads to the very same table, and a systemd unit enabled for sysinit", async () => {
      await wipeHost(h2);
      fs.mkdirSync(path.join(h2.etc, "systemd", "system"), { recursive: true }); // seen on h2 as /etc/systemd/system
      const conn = connectionFor(h2);
      const result = await applyPolicy(conn, assertPolicy(BASE_POLICY), opts);
      expect(result.facts.init).toBe("systemd-offline");
      expect(result.changed).toBe(true);

      const live = await listTable(h2);
      // a fresh network namespace (nothing loaded) gets the persisted file; listed by the same nft
      const fresh = await h2.sh(
        `unshare -n sh -c 'nft list ruleset | wc -l; nft -f ${MANAGED.nft} && nft -s list table inet ${TABLE}'`,
      );
      const [emptyCount, ...listing] = fresh.stdout.split("\n");
      expect(emptyCount!.trim()).toBe("0");
      expect(listing.join("\n")).toBe(live);

      const files = Object.fromEntries((await managedFiles(h2)).map((f) => [f.path, f]));
      const unit = files[MANAGED.unit]!;
      expect(unit.present).toBe(true);
      expect(unit.content).toMatch(new RegExp(`^ExecStart=${result.facts.nftBinary} -f ${MANAGED.nft}$`, "m"));
      expect(unit.content).toMatch(/^WantedBy=sysinit\.target$/m);
      expect(files[MANAGED.unitLink]!.content).toBe(MANAGED.unit); // symlink target
      // what systemd would run at boot, run in a fresh network namespace, gives the live table
      const execStart = /^ExecStart=(.*)$/m.exec(unit.content!)![1]!;
      const booted = await h2.sh(`unshare -n sh -c '${execStart} && nft -s list table inet ${TABLE}'`);
      expect(booted.stdout).toBe(live);
      // systemd would accept it: the link resolves and the unit parses as an INI-style unit
      expect((await h2.sh(`readlink -f '${MANAGED.unitLink}'`)).stdout.trim()).toBe(MANAGED.unit);
      const verify = await h2.sh(
        `command -v systemd-analyze >/dev/null && systemd-analyze verify --man=no '${MANAGED.unit}' 2>&1 | grep -v -i 'not found\\|offline\\|Failed to' || true`,
        { allowFail: true },
      );
      expect(verify.stdout).not.toMatch(/Unknown (key|section)|Invalid|bad-setting/i);

      const report = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(report.inSync).toBe(true);
      expect(report.files).toEqual([]);

      // the unit counts as a managed file: deleting it is drift, and remove deletes unit and link
      await h2.sh(`rm '${MANAGED.unit}'`);
      const drift = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(drift.files).toEqual([{ name: "unit", path: MANAGED.unit, status: "missing", added: [], removed: [] }]);
      const restored = await applyPolicy(conn, assertPolicy(BASE_POLICY), opts);
      expect(restored.changed).toBe(true);
      expect((await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS })).inSync).toBe(true);

      // `systemctl disable` (the enablement link deleted) means the table no longer loads at boot: drift
      await h2.sh(`rm '${MANAGED.unitLink}'`);
      const disabled = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(disabled.inSync).toBe(false);
      expect(disabled.files).toEqual([
        { name: "unit-link", path: MANAGED.unitLink, status: "missing", added: [], removed: [] },
      ]);
      const reenabled = await applyPolicy(conn, assertPolicy(BASE_POLICY), opts);
      expect(reenabled.changed).toBe(true);
      expect((await h2.sh(`readlink '${MANAGED.unitLink}'`)).stdout.trim()).toBe(MANAGED.unit);
      expect((await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS })).inSync).toBe(true);

      const removed = await removeTable(conn, TABLE, { paths: HOST_PATHS });
      expect(removed.removed).toEqual(expect.arrayContaining([MANAGED.unit, MANAGED.unitLink]));
      expect(
        (await h2.sh("ls -A /etc/systemd/system/sysinit.target.wants; ls -A /etc/systemd/system")).stdout.trim(),
      ).toBe("sysinit.target.wants");
      fs.rmSync(path.join(h2.etc, "systemd", "system"), { recursive: true, force: true });
    });

    it("leaves foreign tables (docker, fail2ban) untouched through apply, drift, no-op apply and remove", async () => {
      await wipeHost(h1);
      await h1.sh("nft -f -", { stdin: FOREIGN });
      const foreign = async () =>
        (await h1.sh("nft -a list table ip filter; nft -a list table ip nat; nft -a list table inet f2b-table")).stdout;
      const before = await foreign();
      expect(before).toContain("chain DOCKER-ISOLATION-STAGE-1");
      expect(before).toContain("198.51.100.9");

      const conn = connectionFor(h1);
      const applied = await applyPolicy(conn, assertPolicy(BASE_POLICY), opts);
      expect(applied.changed).toBe(true);
      expect(applied.facts.tables).toEqual(
        expect.arrayContaining(["table ip filter", "table ip nat", "table inet f2b-table"]),
      );
      expect(await foreign()).toBe(before);

      // foreign tables changing is not our drift
      await h1.sh(
        "nft add element inet f2b-table addr-set-sshd '{ 203.0.113.5 }'; nft add rule ip filter DOCKER tcp dport 443 accept; nft add chain ip nat DOCKER-X",
      );
      const report = await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(report.inSync).toBe(true);
      const changedForeign = await foreign();
      expect(changedForeign).toContain("203.0.113.5");

      const noop = await applyPolicy(conn, assertPolicy(BASE_POLICY), opts);
      expect(noop.changed).toBe(false);
      const changed = await applyPolicy(conn, assertPolicy(ALT_POLICY), opts);
      expect(changed.changed).toBe(true);
      expect(await foreign()).toBe(changedForeign);

      await removeTable(conn, TABLE, { paths: HOST_PATHS });
      expect(await foreign()).toBe(changedForeign);
      expect(await listTable(h1)).toBe("");
      await h1.sh("nft delete table ip filter; nft delete table ip nat; nft delete table inet f2b-table");
    });

    it("a non-root user with passwordless sudo applies, observes and removes", async () => {
      await wipeHost(h1);
      const conn = connectionFor(h1, "operator");
      expect(conn.user).toBe("hnftop");
      const applied = await applyPolicy(conn, assertPolicy(BASE_POLICY), opts);
      expect(applied.changed).toBe(true);
      expect(applied.stats).toEqual({ connections: 2, roundTrips: 3 });
      expect(applied.target).toBe(`hnftop@${h1.ipv4}:22`);
      expect(await listTable(h1)).toContain("tcp dport 443 counter accept");
      // files belong to root, as if root had written them
      expect((await h1.sh(`stat -c '%U %a' '${MANAGED.nft}'`)).stdout.trim()).toBe("root 644");
      expect((await observePolicy(conn, assertPolicy(BASE_POLICY), { paths: HOST_PATHS })).inSync).toBe(true);
      expect((await applyPolicy(conn, assertPolicy(BASE_POLICY), opts)).changed).toBe(false);
      const removed = await removeTable(conn, TABLE, { paths: HOST_PATHS });
      expect(removed.removed).toContain(`table inet ${TABLE}`);
      expect(await listTable(h1)).toBe("");
    });

    it("refuses a host whose key does not match the pin, naming both fingerprints, and changes nothing", async () => {
      await wipeHost(h1);
      await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), opts);
      const before = await hostSnapshot(h1);
      const handles = await listRulesetWithHandles(h1);
      const fp = (k: string) => {
        const p = parseHostKey(k);
        if (!p.ok) throw new Error(formatIssues(p.issues).join("\n"));
        return p.value.fingerprint;
      };
      // h1's address, h2's key pinned: what a man in the middle (or a re-installed host) looks like
      const wrong = connectionFor(h1, "root", { hostKey: h2.hostKey });
      for (const op of [
        () => applyPolicy(wrong, assertPolicy(ALT_POLICY), opts),
        () => observePolicy(wrong, assertPolicy(ALT_POLICY), { paths: HOST_PATHS }),
        () => removeTable(wrong, TABLE, { paths: HOST_PATHS }),
      ]) {
        const err = await expectRejects(op(), HostKeyMismatchError);
        expect(err.expected).toBe(fp(h2.hostKey));
        expect(err.offered).toBe(fp(h1.hostKey));
        expect(err.message).toContain(fp(h2.hostKey));
        expect(err.message).toContain(fp(h1.hostKey));
      }
      // also with a SHA256 fingerprint pin
      const err = await expectRejects(
        applyPolicy(connectionFor(h1, "root", { hostKey: fp(h2.hostKey) }), assertPolicy(ALT_POLICY), opts),
        HostKeyMismatchError,
      );
      expect(err.message).toContain(fp(h1.hostKey));
      expect(await hostSnapshot(h1)).toEqual(before);
      expect(await listRulesetWithHandles(h1)).toBe(handles);
      await removeTable(connectionFor(h1), TABLE, { paths: HOST_PATHS });
    });
  },
);
