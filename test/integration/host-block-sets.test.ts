/**
 * Block sets and per-source limits on a real lab host (issue 21): the elements another tool wrote
 * into a block set survive an apply, a no-op apply and a rollback (each with its remaining time),
 * and are never drift; a limit's meters fill with the controller's own connections and are never
 * drift either; the deployer's proof of access passes a limit (it counts only what comes after
 * it), while denying the deployer's address is rolled back as a lock-out.
 *
 * Boot: what the boot unit runs (its ExecStart) on a host whose kernel lost the table (a reboot)
 * loads the table with its block sets declared and empty (the elements were the kernel's only; the
 * tools write them again: fail2ban from its database, CrowdSec's bouncer from its local API), its
 * deny.sources with their elements, in sync; and a block set filled after boot drops a real peer's
 * connections (h2 reaches h1's sshd before, not while, it is in the set).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyPolicy, formatDrift, LockoutRolledBackError, observePolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, expectRejects, HOST_PATHS, MANAGED, TABLE, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const CONFIRM = 5;
const opts = { paths: HOST_PATHS, confirmTimeoutSeconds: CONFIRM };
const blockSets = [{ name: "f2b-sshd", family: "ipv4", timeout: "1h", comment: "fail2ban sshd" }];
// A limit the test's own connections stay under: its meters fill, and must not be drift.
const roomyLimit = { rate: "600/minute", connections: 50 };
const policy = { table: TABLE, exposures: [{ service: "ssh", limit: roomyLimit }, { service: "https" }], blockSets };
const changed = { ...policy, exposures: [...policy.exposures, { service: "http" }] };

describe.runIf(requireRoot("host block sets", ["ip", "sshd", "nft"]))("host layer: block sets and limits", () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;

  const elements = async () => (await h1.sh(`nft list set inet ${TABLE} f2b-sshd`)).stdout;
  const inSync = async (p: unknown) => {
    const report = await observePolicy(connectionFor(h1), assertPolicy(p), { paths: HOST_PATHS });
    expect(formatDrift(report)).toEqual([`root@${h1.ipv4}:22: table inet ${TABLE} in sync`]);
  };
  /** Minutes left on an element, from `nft list set`'s `expires 9m58s...`. */
  const minutesLeft = (listing: string, element: string) =>
    Number(new RegExp(`${element.replace(/\./g, "\\.")}[^,}]* expires (\\d+)m`).exec(listing)?.[1] ?? NaN);

  beforeAll(async () => {
    lab = await createLab({ hosts: 2, label: "host-block-sets" });
    [h1, h2] = lab.hosts as [LabHost, LabHost];
    await wipeHost(h1);
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it("elements another tool wrote survive an apply, a no-op apply and a rollback, and are never drift", async () => {
    expect((await applyPolicy(connectionFor(h1), assertPolicy(policy), opts)).changed).toBe(true);
    await h1.sh(`nft add element inet ${TABLE} f2b-sshd '{ 198.51.100.7 timeout 10m, 203.0.113.0/24 }'`);
    await inSync(policy);
    // the meter holds the controller's address: the kernel wrote it, and it is not drift
    expect((await h1.sh(`nft list set inet ${TABLE} ssh_rate_v4`)).stdout).toContain(lab.controllerIpv4);

    expect((await applyPolicy(connectionFor(h1), assertPolicy(changed), opts)).changed).toBe(true);
    let listed = await elements();
    expect(listed).toContain("203.0.113.0/24");
    // the remaining time is kept, not restarted at the set's hour
    expect(minutesLeft(listed, "198.51.100.7")).toBeLessThanOrEqual(9);
    await inSync(changed);
    expect((await applyPolicy(connectionFor(h1), assertPolicy(changed), opts)).changed).toBe(false);

    // a lock-out rolls back; what the tool added while the apply waited for its proof stays too
    const lockout = { table: TABLE, exposures: [{ service: "https" }], blockSets };
    const pending = expectRejects(applyPolicy(connectionFor(h1), assertPolicy(lockout), opts), LockoutRolledBackError);
    await new Promise((r) => setTimeout(r, 2500));
    await h1.sh(`nft add element inet ${TABLE} f2b-sshd '{ 192.0.2.99 }'`);
    await pending;
    listed = await elements();
    for (const e of ["198.51.100.7", "203.0.113.0/24", "192.0.2.99"]) expect(listed).toContain(e);
    await inSync(changed);
  }, 120_000);

  it("an unchanged block set stays in place (same table, same set) over an apply; what was added by hand still goes; a changed declaration or table flags re-create it, the elements carried", async () => {
    // the handles of the table and the set: a table deleted and declared again gets a new one
    const tableHandle = async () =>
      /table inet \S+ \{ # handle (\d+)/.exec((await h1.sh(`nft -a list table inet ${TABLE} | head -n 1`)).stdout)?.[1];
    const handle = async () =>
      /set f2b-sshd \{ # handle (\d+)/.exec((await h1.sh(`nft -a list set inet ${TABLE} f2b-sshd`)).stdout)?.[1];
    const kept = async () => {
      const listed = await elements();
      for (const e of ["198.51.100.7", "203.0.113.0/24", "192.0.2.99"]) expect(listed).toContain(e);
    };
    const before = await handle();
    const tableBefore = await tableHandle();
    expect(before).toMatch(/^\d+$/);
    expect(tableBefore).toMatch(/^\d+$/);
    expect((await applyPolicy(connectionFor(h1), assertPolicy(policy), opts)).changed).toBe(true);
    expect(await tableHandle()).toBe(tableBefore);
    expect(await handle()).toBe(before);
    await kept();
    await inSync(policy);

    // a rule, a chain and a set added by hand are drift, and the next apply removes them
    await h1.sh(
      [
        `nft insert rule inet ${TABLE} input tcp dport 8443 accept comment '"by hand"'`,
        `nft add chain inet ${TABLE} byhand`,
        `nft add set inet ${TABLE} byhand_set '{ type ipv4_addr; }'`,
      ].join(" && "),
    );
    const drift = formatDrift(await observePolicy(connectionFor(h1), assertPolicy(policy), { paths: HOST_PATHS })).join(
      "\n",
    );
    expect(drift).toContain("by hand");
    expect(drift).toContain("byhand");
    expect((await applyPolicy(connectionFor(h1), assertPolicy(policy), opts)).changed).toBe(true);
    const table = (await h1.sh(`nft -t list table inet ${TABLE}`)).stdout;
    expect(table).not.toContain("by hand");
    expect(table).not.toContain("byhand");
    expect(await handle()).toBe(before);
    await kept();
    await inSync(policy);

    // a changed timeout: the set is declared anew (here with the table: no block set is left to
    // keep in place), its elements carried into it
    const longer = { ...policy, blockSets: [{ ...blockSets[0]!, timeout: "2h" }] };
    expect((await applyPolicy(connectionFor(h1), assertPolicy(longer), opts)).changed).toBe(true);
    const tableAfter = await tableHandle();
    expect(tableAfter).not.toBe(tableBefore);
    expect(await elements()).toContain("timeout 2h");
    await kept();
    await inSync(longer);

    // a table switched off by hand (flags dormant) is replaced whole: only that undoes it
    await h1.sh(`nft add table inet ${TABLE} '{ flags dormant; }'`);
    expect((await h1.sh(`nft -t list table inet ${TABLE}`)).stdout).toContain("dormant");
    expect((await applyPolicy(connectionFor(h1), assertPolicy(longer), opts)).changed).toBe(true);
    expect((await h1.sh(`nft -t list table inet ${TABLE}`)).stdout).not.toContain("dormant");
    expect(await tableHandle()).not.toBe(tableAfter);
    await kept();
    await inSync(longer);
    expect((await applyPolicy(connectionFor(h1), assertPolicy(longer), opts)).changed).toBe(false);
  }, 120_000);

  it("a block set whose family changed starts empty, with a warning", async () => {
    const v6 = { ...changed, blockSets: [{ name: "f2b-sshd", family: "ipv6", timeout: "1h" }] };
    const r = await applyPolicy(connectionFor(h1), assertPolicy(v6), opts);
    expect(r.changed).toBe(true);
    expect(r.warnings.join("\n")).toContain("block set f2b-sshd was ipv4_addr and is now ipv6_addr");
    expect(await elements()).not.toContain("elements");
    await inSync(v6);
  }, 60_000);

  it("boot: the unit's command loads the table with its block sets empty and deny.sources filled, in sync; a set filled after boot drops a peer", async () => {
    await wipeHost(h1);
    const systemd = path.join(h1.etc, "systemd", "system"); // seen on h1 as /etc/systemd/system
    fs.mkdirSync(systemd, { recursive: true });
    try {
      const booting = {
        table: TABLE,
        exposures: [{ service: "ssh" }],
        blockSets: [
          { name: "f2b-sshd", family: "ipv4", timeout: "1h" },
          { name: "crowdsec-v4", family: "ipv4", timeout: "4h", prefixes: false },
        ],
        deny: { sources: ["203.0.113.0/24"] },
      };
      const applied = await applyPolicy(connectionFor(h1), assertPolicy(booting), opts);
      expect(applied.facts.init).toBe("systemd-offline");
      await h1.sh(
        `nft add element inet ${TABLE} f2b-sshd '{ 198.51.100.0/24 }'; nft add element inet ${TABLE} crowdsec-v4 '{ 192.0.2.5 }'`,
      );
      const unit = (await h1.sh(`cat '${MANAGED.unit}'`)).stdout;
      const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!;
      // the reboot: the kernel's ruleset is gone (and with it every element a tool wrote)
      await h1.sh(`nft delete table inet ${TABLE}`);
      const boot = await h1.sh(execStart, { allowFail: true });
      expect(boot.code, boot.stderr).toBe(0);
      const listed = (await h1.sh(`nft list table inet ${TABLE}`)).stdout;
      const setBlock = (name: string) => new RegExp(`set ${name} \\{[^}]*\\}`).exec(listed)?.[0] ?? "";
      expect(setBlock("f2b-sshd")).toContain("flags interval,timeout");
      expect(setBlock("f2b-sshd")).not.toContain("elements");
      expect(setBlock("crowdsec-v4")).toContain("timeout 4h");
      expect(setBlock("crowdsec-v4")).not.toContain("elements");
      expect(listed).toMatch(/elements = \{ 203\.0\.113\.0\/24 \}/);
      await inSync(booting);

      // a tool fills the set again after boot: the peer's new connections are dropped, then let in
      const banner = async () =>
        (
          await h2.sh(`timeout 2 bash -c 'exec 3<>/dev/tcp/${h1.ipv4}/22; head -c 7 <&3' 2>/dev/null || true`, {
            allowFail: true,
          })
        ).stdout;
      expect(await banner()).toBe("SSH-2.0");
      await h1.sh(`nft add element inet ${TABLE} crowdsec-v4 '{ ${h2.ipv4} }'`);
      expect(await banner()).toBe("");
      await inSync(booting);
      // and an apply after boot keeps it
      expect(
        (
          await applyPolicy(
            connectionFor(h1),
            assertPolicy({ ...booting, exposures: [{ service: "ssh" }, { service: "https" }] }),
            opts,
          )
        ).changed,
      ).toBe(true);
      expect(await banner()).toBe("");
      await h1.sh(`nft delete element inet ${TABLE} crowdsec-v4 '{ ${h2.ipv4} }'`);
      expect(await banner()).toBe("SSH-2.0");
    } finally {
      await wipeHost(h1);
      fs.rmSync(systemd, { recursive: true, force: true });
    }
  }, 90_000);

  it("a limit counts only connections made after it: the proof passes, the next deploy is dropped; denying the deployer is rolled back", async () => {
    // The apply's session was made before the table: ct count never saw it, and a rate's bucket
    // starts full, so the one new connection that proves access is always within a limit.
    const strict = {
      table: TABLE,
      exposures: [{ service: "ssh", limit: { connections: 1, rate: "1/hour", burst: 1 } }],
    };
    expect((await applyPolicy(connectionFor(h1), assertPolicy(strict), opts)).changed).toBe(true);
    // ...but the proof spent the deployer's hour: its next connection (the next deploy) is dropped
    await expect(applyPolicy(connectionFor(h1), assertPolicy(strict), opts)).rejects.toThrow(/timed out connecting/);
    await wipeHost(h1);
    // a source the policy drops before any exposure is locked out: the guardian rolls back and says why
    const denied = { ...strict, deny: { sources: [lab.controllerIpv4, lab.controllerIpv6] } };
    const err = await expectRejects(applyPolicy(connectionFor(h1), assertPolicy(denied), opts), LockoutRolledBackError);
    expect(err.message).toContain("would lock you out");
    const exempt = {
      table: TABLE,
      exposures: [
        { service: "ssh", limit: { connections: 1, exemptSources: [lab.controllerIpv4, lab.controllerIpv6] } },
      ],
    };
    expect((await applyPolicy(connectionFor(h1), assertPolicy(exempt), opts)).changed).toBe(true);
    await inSync(exempt);
  }, 90_000);
});
