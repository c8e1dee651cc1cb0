/**
 * Apply's two refusals on a real lab host (issue #3 §8): a ruleset that would lock the operator
 * out is rolled back by the host itself; a table nft rejects on the target changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyOnSession,
  applyPolicy,
  HostSession,
  LockoutRolledBackError,
  NftRejectedError,
  observePolicy,
  probeSession,
} from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import {
  BASE_POLICY,
  connectionFor,
  expectRejects,
  guardianAlive,
  HOST_PATHS,
  hostSnapshot,
  LOCKOUT_POLICY,
  listRulesetWithHandles,
  listTable,
  lockFree,
  MANAGED,
  TABLE,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const CONFIRM = 5;
const timings: Record<string, number[]> = {};

describe.runIf(requireRoot("host rollback", ["ip", "sshd", "nft"]))(
  "host layer: lock-out rollback and nft rejection",
  () => {
    let lab: Lab;
    let h1: LabHost;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "host-rollback" });
      [h1] = lab.hosts as [LabHost];
    });
    afterAll(async () => {
      await lab?.destroy();
      if (Object.keys(timings).length > 0) console.log(`host rollback timings (ms): ${JSON.stringify(timings)}`);
    });

    async function expectLockout(policy: unknown) {
      const logs: string[] = [];
      const t0 = performance.now();
      const err = await expectRejects(
        applyPolicy(connectionFor(h1), assertPolicy(policy), {
          paths: HOST_PATHS,
          confirmTimeoutSeconds: CONFIRM,
          onLog: (l) => logs.push(l),
        }),
        LockoutRolledBackError,
      );
      const ms = Math.round(performance.now() - t0);
      (timings.rollback ??= []).push(ms);
      expect(err.message).toContain("would lock you out");
      expect(err.target).toBe(`root@${h1.ipv4}:22`);
      // the host decided after CONFIRM seconds; the controller learns it within a few more
      expect(ms).toBeGreaterThanOrEqual(CONFIRM * 1000);
      expect(ms).toBeLessThan((CONFIRM + 8) * 1000);
      expect(logs.some((l) => l.includes("rollback armed for 5s"))).toBe(true);
      return err;
    }

    it("a policy that closes tcp/22 is rolled back to the previous table and files, exactly", async () => {
      await wipeHost(h1);
      const previous = await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      expect(previous.changed).toBe(true);
      const before = await hostSnapshot(h1);
      const state = (await h1.sh(`cat ${MANAGED.stateDir}/applied.hash`)).stdout;

      await expectLockout(LOCKOUT_POLICY);

      expect(await hostSnapshot(h1)).toEqual(before);
      expect((await h1.sh(`cat ${MANAGED.stateDir}/applied.hash`)).stdout).toBe(state);
      expect(await guardianAlive(h1)).toBe(false);
      expect(await lockFree(h1)).toBe(true);
      expect((await h1.sh(`cat ${MANAGED.runDir}/${TABLE}.txn/result`)).stdout.trim()).toBe("rolled-back");
      // the host is as the previous policy left it: in sync, and the next apply of it is a no-op
      const report = await observePolicy(connectionFor(h1), assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(report.inSync).toBe(true);
      expect(report.appliedHash).toBe(previous.hash);
      expect((await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), { paths: HOST_PATHS })).changed).toBe(
        false,
      );
    });

    it("a previous table with sets, a ct helper object and hand edits is restored exactly, handles aside", async () => {
      await wipeHost(h1);
      const rich = {
        table: TABLE,
        exposures: [
          { service: "ssh" },
          { service: "https", sources: ["198.18.0.0/15", "192.0.2.0/24", "2001:db8::/32"] },
          { service: "ftp", helper: "scoped", passivePorts: "50000-50100", sources: ["198.18.0.0/15"] },
        ],
      };
      await applyPolicy(connectionFor(h1), assertPolicy(rich), { paths: HOST_PATHS, confirmTimeoutSeconds: CONFIRM });
      // drifted by hand before the failed apply: the rollback restores what was live, drift included
      await h1.sh(
        `nft add element inet ${TABLE} https_v4 '{ 203.0.113.0/24 }'; nft add rule inet ${TABLE} input tcp dport 8443 counter accept comment '"by hand"'`,
      );
      const before = await hostSnapshot(h1);
      expect(before.table).toContain("ct helper ftp-helper");
      expect(before.table).toContain("203.0.113.0/24");
      await expectLockout(LOCKOUT_POLICY);
      expect(await hostSnapshot(h1)).toEqual(before);
      const report = await observePolicy(connectionFor(h1), assertPolicy(rich), { paths: HOST_PATHS });
      expect(report.sets).toEqual([{ name: "https_v4", added: ["203.0.113.0/24"], removed: [] }]);
      expect(report.rules.added).toEqual([
        { chain: "input", text: 'tcp dport 8443 counter accept comment "by hand"', comment: "by hand" },
      ]);
      expect(report.helpers).toEqual([]);
    });

    it("on a host never hardened, a lock-out leaves no table and no files behind", async () => {
      await wipeHost(h1);
      const before = await hostSnapshot(h1);
      expect(before.table).toBe("");
      await expectLockout(LOCKOUT_POLICY);
      expect(await hostSnapshot(h1)).toEqual(before);
      expect((await h1.sh(`[ -e ${MANAGED.stateDir}/applied.hash ] && echo yes || echo no`)).stdout.trim()).toBe("no");
      expect(await lockFree(h1)).toBe(true);
      expect(
        (
          await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
            paths: HOST_PATHS,
            confirmTimeoutSeconds: CONFIRM,
          })
        ).changed,
      ).toBe(true);
    });

    it("allowNothing (SSH closed on purpose) is still refused by the lock-out guard", async () => {
      await wipeHost(h1);
      await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      const before = await hostSnapshot(h1);
      await expectLockout({ table: TABLE, exposures: [], allowNothing: true });
      expect(await hostSnapshot(h1)).toEqual(before);
    });

    async function rejectWith(corrupt: (nft: string) => string) {
      await wipeHost(h1);
      await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      const before = await hostSnapshot(h1);
      const handles = await listRulesetWithHandles(h1);
      const txn = () => h1.sh(`cd ${MANAGED.runDir}/${TABLE}.txn && cat token result && ls -A`).then((r) => r.stdout);
      const txnBefore = await txn();
      expect(txnBefore).toContain("committed");
      const session = await HostSession.open(connectionFor(h1));
      try {
        const facts = await probeSession(session);
        const good = renderPolicy(
          assertPolicy({ ...BASE_POLICY, exposures: [...BASE_POLICY.exposures, { service: "http" }] }),
          { profile: facts.profile },
        );
        const nft = corrupt(good.nft);
        expect(nft).not.toBe(good.nft);
        const err = await expectRejects(
          applyOnSession(session, connectionFor(h1), { ...good, nft, hash: `${good.hash}x` }, facts, {
            paths: HOST_PATHS,
            confirmTimeoutSeconds: CONFIRM,
          }),
          NftRejectedError,
        );
        expect(session.stats.connections).toBe(1); // no confirming connection was attempted
        expect(await listRulesetWithHandles(h1)).toBe(handles);
        expect(await hostSnapshot(h1)).toEqual(before);
        expect(await guardianAlive(h1)).toBe(false);
        expect(await lockFree(h1)).toBe(true);
        expect(await txn()).toBe(txnBefore); // no transaction was started: the last one's record is untouched
        return { err, nft };
      } finally {
        await session.close();
      }
    }

    it("a syntax error: NftRejectedError with nft's message and the offending line; host unchanged", async () => {
      const { err, nft } = await rejectWith((text) =>
        text.replace(
          'tcp dport 80 counter accept comment "http: web requests"',
          'tcp dport 80 counter acept comment "http: web requests"',
        ),
      );
      expect(err.target).toBe(`root@${h1.ipv4}:22`);
      expect(err.nftMessage).toMatch(/Error: syntax error/);
      expect(err.line).toBe(nft.split("\n").findIndex((l) => l.includes("acept")) + 1);
      expect(err.lineText).toBe('tcp dport 80 counter acept comment "http: web requests"');
      expect(err.message).toContain("nothing changed");
      expect(err.message).toContain(`offending line ${err.line}: tcp dport 80 counter acept`);
    });

    it("a table the kernel refuses (unknown conntrack helper): NftRejectedError naming it; host unchanged", async () => {
      const { err } = await rejectWith((text) =>
        text.replace(
          /(table inet \S+ \{\n)/,
          '$1\tct helper bogus-helper {\n\t\ttype "no-such-helper" protocol tcp\n\t\tl3proto inet\n\t}\n\n',
        ),
      );
      expect(err.nftMessage).toMatch(/Error/);
      expect(err.nftMessage + (err.lineText ?? "")).toMatch(/no-such-helper|bogus-helper|No such file/);
    });

    it("a candidate that collides with a foreign object is rejected as a whole; the live table and files stay", async () => {
      // rendering adds rules that use a set the candidate does not define: nft -c fails on the target
      const { err } = await rejectWith((text) =>
        text.replace(
          'tcp dport 80 counter accept comment "http: web requests"',
          'ip saddr @not_defined tcp dport 80 counter accept comment "http: web requests"',
        ),
      );
      expect(err.nftMessage).toMatch(/not_defined/);
      expect(err.lineText).toContain("@not_defined");
      expect(await listTable(h1)).not.toContain("tcp dport 80");
    });
  },
);
