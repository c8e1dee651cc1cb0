/**
 * Proof (issue #12, part 2): the NetBIOS name service through the RENDERED table, APPLIED THROUGH
 * THE HOST API, with real peers: Samba's nmbd on the server (it answers for its name to anyone who
 * asks), nmblookup on the client and on the attacker, by unicast (`-U server`) and by broadcast
 * (`-B 198.18.N.255`: the query reaches every host on the lab's bridge, the answer comes back by
 * unicast from the server's udp/137). NetBIOS over TCP/IP is IPv4 only.
 *
 * Policy: ssh; netbios-ns on udp/137 from the client's IPv4 address only, helper "none"; the same
 * with `output.policy: drop`; the same with helper "scoped".
 *
 * What is proved:
 * - the client's unicast and broadcast queries are answered by the server;
 * - the attacker's unicast and broadcast queries are not answered (nmbd would answer them);
 * - with output restricted, the answer to a BROADCAST query is a new outbound flow (conntrack
 *   tracked the query as client -> 198.18.N.255, so the server's unicast answer is not its reply
 *   direction): the rendered output rule `udp sport 137` to the sources lets it out, and removing
 *   it fails the broadcast lookup while unicast lookups (answered as established) still work;
 * - with output restricted, nmbd must also BROADCAST from udp/137 (name registration): it answers
 *   broadcast queries only once its name is registered on the subnet. The rendered rule
 *   `udp sport 137 udp dport 137 fib daddr type broadcast` lets that out (found by this proof: the
 *   first rendering had no such rule, and nmbd never answered a broadcast query behind output drop);
 * - helper "scoped": the client's query flows carry helper=netbios-ns, queries work the same, and
 *   the helper creates no expectation for them (see the finding in proof-snmp.test.ts: the
 *   broadcast helper acts only on broadcasts this host sends).
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied through
 * the host API, which reports a change, and the lookups work again):
 * - helper none: removed `ip saddr @netbios-ns_v4 udp dport 137 accept` (comment "netbios-ns: name
 *   service") -> unicast and broadcast lookups from the client get no answer.
 * - output drop: removed (chain output) `ip daddr @netbios-ns_v4 udp sport 137 accept` (comment
 *   "netbios-ns: name service sent by the server") -> the broadcast lookup gets no answer, the
 *   unicast one still does.
 * - output drop: removed (chain output) `meta nfproto ipv4 udp sport 137 udp dport 137 fib daddr
 *   type broadcast accept` (comment "netbios-ns: name service broadcasts") and restarted nmbd ->
 *   nmbd logs `Packet send failed to 198.18.N.255(137) ERRNO=Operation not permitted`, never
 *   registers, and the broadcast lookup gets no answer.
 * - helper scoped: removed the `ct helper set "netbios-ns-helper"` rule (comment "netbios-ns: name
 *   service, helper netbios-ns") -> no answer to either lookup.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../support/lab";
import { broadcastOf, type NmbdHandle, nmbLookup, startNmbd } from "../support/peers/netbios";
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

describe.runIf(requireRoot("proof netbios", ["ip", "nft", "sshd", "nmbd", "nmblookup", "conntrack"]))(
  "proof: NetBIOS name service through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let nmbd: NmbdHandle | undefined;
    let policy: (o: { helper?: "none" | "scoped"; output?: "accept" | "drop" }) => ProofPolicy;

    beforeAll(async () => {
      p = await createProofLab("proof-netbios");
      policy = (o) => ({
        exposures: [
          { service: "ssh" },
          { service: "netbios-ns", helper: o.helper ?? "none", sources: [p.client.ipv4] },
        ],
        output: { policy: o.output ?? "accept" },
      });
    }, 120_000);
    afterEach(async () => {
      await nmbd?.stop();
      nmbd = undefined;
      await afterEachProof(p);
    });
    afterAll(async () => destroyProofLab(p, "proof-netbios"));

    /** Applies the policy, then starts nmbd (its registration broadcasts go out through the applied table). */
    async function setUp(pol: ProofPolicy): Promise<NmbdHandle> {
      await applyToServer(p, pol);
      nmbd = await startNmbd(p.server);
      return nmbd;
    }

    async function lookupOk(from: LabHost, mode: "unicast" | "broadcast"): Promise<void> {
      const r = await nmbLookup(
        from,
        nmbd!.name,
        mode === "unicast" ? { unicast: p.server.ipv4 } : { broadcast: broadcastOf(p.server) },
      );
      expect(r.answers, `${from.name} ${mode}:\n${r.output}`).toContainEqual({
        address: p.server.ipv4,
        name: nmbd!.name,
      });
    }

    async function lookupFails(from: LabHost, mode: "unicast" | "broadcast"): Promise<string> {
      const r = await nmbLookup(
        from,
        nmbd!.name,
        mode === "unicast" ? { unicast: p.server.ipv4 } : { broadcast: broadcastOf(p.server) },
      );
      expect(
        r.answers.filter((a) => a.address === p.server.ipv4),
        `${from.name} ${mode}:\n${r.output}`,
      ).toEqual([]);
      const said = r.output.split("\n").find((l) => /failed to find name/.test(l));
      expect(said, r.output).toBeDefined();
      return `${from === p.client ? "client" : "attacker"} ${mode}: ${said}`;
    }

    it("helper none: the client's unicast and broadcast queries are answered, the attacker's are not; negative control", async () => {
      await setUp(policy({}));
      await lookupOk(p.client, "unicast");
      await lookupOk(p.client, "broadcast");
      await lookupFails(p.attacker, "unicast");
      await lookupFails(p.attacker, "broadcast");

      await negativeControl(p, {
        test: "NetBIOS name service (helper none)",
        policy: policy({}),
        comment: "netbios-ns: name service",
        fails: async () => `${await lookupFails(p.client, "unicast")}; ${await lookupFails(p.client, "broadcast")}`,
        works: async () => {
          await lookupOk(p.client, "unicast");
          await lookupOk(p.client, "broadcast");
        },
      });
    }, 120_000);

    it("output drop: the answer to a broadcast query leaves through the rendered output rule; negative control", async () => {
      const applied = await applyToServer(p, policy({ output: "drop" }));
      expect(applied.artefacts.ruleLines).toContain(
        'chain output: ip daddr @netbios-ns_v4 udp sport 137 counter accept comment "netbios-ns: name service sent by the server"',
      );
      nmbd = await startNmbd(p.server);
      await lookupOk(p.client, "unicast");
      await lookupOk(p.client, "broadcast");
      await lookupFails(p.attacker, "broadcast");
      // the broadcast query's flow is tracked towards the broadcast address, so the answer is no reply of it
      const ct = (await p.server.sh("conntrack -L -p udp 2>/dev/null")).stdout;
      expect(ct).toMatch(
        new RegExp(
          `src=${p.client.ipv4.replace(/\./g, "\\.")} dst=${broadcastOf(p.server).replace(/\./g, "\\.")} sport=\\d+ dport=137 `,
        ),
      );

      await negativeControl(p, {
        test: "NetBIOS name service (output drop), broadcast answer",
        policy: policy({ output: "drop" }),
        comment: "netbios-ns: name service sent by the server",
        chain: "output",
        fails: async () => {
          const observed = await lookupFails(p.client, "broadcast");
          await lookupOk(p.client, "unicast");
          return `${observed}; the unicast lookup (answered as established) still works`;
        },
        works: async () => lookupOk(p.client, "broadcast"),
      });

      // nmbd registers its name by broadcast before it answers broadcast queries: without the
      // broadcast rule its registration packets are refused (EPERM) and it never answers them
      await negativeControl(p, {
        test: "NetBIOS name service (output drop), name registration broadcasts",
        policy: policy({ output: "drop" }),
        comment: "netbios-ns: name service broadcasts",
        chain: "output",
        fails: async () => {
          await nmbd!.stop();
          nmbd = await startNmbd(p.server, { waitRegistered: false });
          const refused = await nmbd.waitLog(
            new RegExp(
              `Packet send failed to ${broadcastOf(p.server).replace(/\./g, "\\.")}\\(137\\) ERRNO=Operation not permitted`,
            ),
          );
          const observed = await lookupFails(p.client, "broadcast");
          return `nmbd: "${refused.trim()}"; ${observed}`;
        },
        works: async () => {
          await nmbd!.stop();
          nmbd = await startNmbd(p.server);
          await lookupOk(p.client, "broadcast");
        },
      });
    }, 180_000);

    it("helper scoped: helper=netbios-ns on the client's queries, answered; attacker not; negative control", async () => {
      await setUp(policy({ helper: "scoped" }));
      expect(await liveComments(p.server)).toContain("netbios-ns: name service, helper netbios-ns");
      const before = await expectStats(p.server);
      await lookupOk(p.client, "unicast");
      await lookupOk(p.client, "broadcast");
      const ct = (await p.server.sh("conntrack -L -p udp 2>/dev/null")).stdout.split("\n");
      const queries = ct.filter((l) =>
        new RegExp(`^udp\\s+17\\s+\\d+\\s+src=${p.client.ipv4.replace(/\./g, "\\.")} \\S+ sport=\\d+ dport=137 `).test(
          l,
        ),
      );
      expect(queries.length).toBeGreaterThanOrEqual(2);
      for (const l of queries) expect(l).toContain("helper=netbios-ns");
      expect((await expectStats(p.server)).create, "no expectation for inbound queries").toBe(before.create);
      await lookupFails(p.attacker, "unicast");
      await lookupFails(p.attacker, "broadcast");

      await negativeControl(p, {
        test: "NetBIOS name service (helper scoped)",
        policy: policy({ helper: "scoped" }),
        comment: "netbios-ns: name service, helper netbios-ns",
        fails: async () => `${await lookupFails(p.client, "unicast")}; ${await lookupFails(p.client, "broadcast")}`,
        works: async () => {
          await lookupOk(p.client, "unicast");
          await lookupOk(p.client, "broadcast");
        },
      });
    }, 120_000);
  },
);
