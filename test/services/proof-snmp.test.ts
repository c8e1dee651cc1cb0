/**
 * Proof (issue #12, part 2): SNMP through the RENDERED table, APPLIED THROUGH THE HOST API, with
 * real peers: Net-SNMP's snmpd on the server (answering its community from ANY source, so only the
 * table can keep a source out), snmpget (SNMPv2c GET sysName.0) on the client and on the attacker.
 *
 * Policy: ssh; snmp on udp/161 from the client's addresses only, helper "none"; then the same with
 * helper "scoped" (the snmp helper exists only for IPv4: IPv6 gets the port without it).
 *
 * What is proved:
 * - the client's GET is answered over IPv4 and IPv6 (the agent's sysName comes back);
 * - the attacker's GET goes unanswered over IPv4 and IPv6, although the agent would answer it;
 * - helper "scoped": the client's IPv4 query flow carries helper=snmp in conntrack, its IPv6 flow
 *   none; queries work the same; the helper creates no expectation for them (see the finding).
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied
 * through the host API, which reports a change, and the GET works again):
 * - helper none: removed `ip saddr @snmp_v4 udp dport 161 accept` and the ip6 twin (comment
 *   "snmp: agent") -> snmpget `Timeout: No Response`, IPv4 and IPv6.
 * - helper scoped: removed `ip saddr @snmp_v4 udp dport 161 ct helper set "snmp-helper" accept`
 *   (comment "snmp: agent, helper snmp") -> IPv4 GET times out, while IPv6 (its own rule "snmp:
 *   agent (IPv6, no helper)") still works.
 *
 * Finding (kernel): nf_conntrack_snmp is the broadcast helper (nf_conntrack_broadcast_help). It
 * acts only on queries this host itself SENDS to a broadcast address (it then expects the unicast
 * answers); on an agent's inbound queries it does nothing, so "scoped" on an agent changes no
 * packet's fate and expect_create stays unchanged. The catalog's `snmp` exposure is the agent side;
 * a host that polls by broadcast is not covered by it.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { LabHost } from "../support/lab";
import { type SnmpdHandle, snmpGet, startSnmpd } from "../support/peers/snmp";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  expectStats,
  liveComments,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

describe.runIf(requireRoot("proof snmp", ["ip", "nft", "sshd", "snmpd", "snmpget", "conntrack"]))(
  "proof: SNMP through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let agent: SnmpdHandle;
    let policy: (helper: "none" | "scoped") => ProofPolicy;

    beforeAll(async () => {
      p = await createProofLab("proof-snmp");
      policy = (helper) => ({
        exposures: [{ service: "ssh" }, { service: "snmp", helper, sources: [p.client.ipv4, p.client.ipv6] }],
      });
    }, 120_000);
    beforeEach(async () => {
      agent = await startSnmpd(p.server);
    });
    afterEach(async () => {
      await agent?.stop();
      await afterEachProof(p);
    });
    afterAll(async () => destroyProofLab(p, "proof-snmp"));

    async function getOk(from: LabHost, ipv6: boolean): Promise<void> {
      const r = await snmpGet(from, ipv6 ? p.server.ipv6 : p.server.ipv4, { community: agent.community });
      expect(r.error, `${from.name} IPv${ipv6 ? 6 : 4}`).toBeNull();
      expect(r.value).toBe(`STRING: "${agent.sysName}"`);
    }

    async function getFails(from: LabHost, ipv6: boolean): Promise<string> {
      const r = await snmpGet(from, ipv6 ? p.server.ipv6 : p.server.ipv4, {
        community: agent.community,
        timeoutSec: 1,
      });
      expect(r.ok, `${from.name} IPv${ipv6 ? 6 : 4}`).toBe(false);
      expect(r.error).toMatch(/^Timeout: No Response/);
      return `${from.name === p.client.name ? "client" : "attacker"} IPv${ipv6 ? 6 : 4}: ${r.error}`;
    }

    /** The agent itself answers anyone: shown from the server's own namespace (loopback is always accepted). */
    async function agentAnswersAnyone(): Promise<void> {
      const r = await snmpGet(p.server, p.server.ipv4, { community: agent.community });
      expect(r.value).toBe(`STRING: "${agent.sysName}"`);
    }

    it("helper none: the client's GET is answered over IPv4 and IPv6, the attacker's is filtered; negative control", async () => {
      const applied = await applyToServer(p, policy("none"));
      expect(applied.artefacts.ruleLines).toContain(
        'chain input: ip saddr @snmp_v4 udp dport 161 counter accept comment "snmp: agent"',
      );
      await agentAnswersAnyone();
      await getOk(p.client, false);
      await getOk(p.client, true);
      await getFails(p.attacker, false);
      await getFails(p.attacker, true);

      await negativeControl(p, {
        test: "SNMP (helper none), IPv4+IPv6",
        policy: policy("none"),
        comment: "snmp: agent",
        fails: async () => (await Promise.all([getFails(p.client, false), getFails(p.client, true)])).join("; "),
        works: async () => {
          await getOk(p.client, false);
          await getOk(p.client, true);
        },
      });
    }, 90_000);

    it("helper scoped: helper=snmp on the client's IPv4 queries (none on IPv6), answered; attacker filtered; negative control", async () => {
      await applyToServer(p, policy("scoped"));
      expect(await liveComments(p.server)).toEqual(
        expect.arrayContaining(["snmp: agent, helper snmp", "snmp: agent (IPv6, no helper)"]),
      );
      const before = await expectStats(p.server);
      await getOk(p.client, false);
      await getOk(p.client, true);
      const ct = (await p.server.sh("conntrack -L -p udp 2>/dev/null")).stdout
        .split("\n")
        .filter((l) => / dport=161 /.test(l));
      const v4 = ct.filter((l) => l.includes(`src=${p.client.ipv4} `));
      const v6 = ct.filter((l) => l.includes(`src=${p.client.ipv6} `));
      expect(v4.length).toBeGreaterThan(0);
      expect(v6.length).toBeGreaterThan(0);
      for (const l of v4) expect(l).toContain("helper=snmp");
      for (const l of v6) expect(l).not.toContain("helper=");
      // the broadcast helper acts only on broadcasts this host sends: nothing expected for an agent's queries
      expect((await expectStats(p.server)).create).toBe(before.create);
      await getFails(p.attacker, false);
      await getFails(p.attacker, true);

      await negativeControl(p, {
        test: "SNMP (helper scoped), IPv4",
        policy: policy("scoped"),
        comment: "snmp: agent, helper snmp",
        fails: async () => {
          const observed = await getFails(p.client, false);
          await getOk(p.client, true);
          return `${observed}; IPv6 (its own rule) still answered`;
        },
        works: async () => getOk(p.client, false),
      });
    }, 90_000);
  },
);
