/**
 * Proof (issue 19): custom exposures of ESP, AH, GRE, SCTP, IGMP and VRRP through the RENDERED table, APPLIED
 * THROUGH THE HOST API over SSH. This kernel has no ESP, GRE or SCTP driver, so the packets are
 * raw ones (support/peers/raw.ts): well-formed protocol headers sent from a raw socket, received by
 * a raw socket, which sees a packet only after the input chain accepted it. What is proved is the
 * table's part, not an IPsec or GRE tunnel coming up.
 *
 * - ESP (IPv4 and IPv6) and GRE from the client arrive; ESP from the attacker, not in the
 *   exposure's sources, does not;
 * - AH (carrying ESP, as IPsec sends it when both are used) over IPv4 and IPv6 arrives from its
 *   source, not from the attacker;
 * - SCTP to the declared port arrives, to an undeclared one does not;
 * - IGMP (IPv4) arrives from its source, not from the attacker;
 * - VRRP to 224.0.0.18 and to ff02::12 (from the client's link-local address) arrives from its
 *   sources, not from the attacker, and not when sent to the host's own address (the rule matches
 *   the group); the receiver joins the groups on eth0 as keepalived does;
 * - negative control for each: its accept rule deleted from the live table -> the same packets
 *   no longer arrive; re-applied through the host API -> they arrive again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../support/lab";
import { type RawProtocol, rawArrivals, sendRaw } from "../support/peers/raw";
import { requireRoot } from "../support/privileges";
import {
  applyToServer,
  createProofLab,
  destroyProofLab,
  flushConntrack,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const SCTP_PORT = 9899;

describe.runIf(requireRoot("proof ip protocols", ["ip", "nft", "sshd", "python3"]))(
  "proof: ESP, AH, GRE, SCTP, IGMP and VRRP through the table",
  () => {
    let p: ProofLab;
    let policy: ProofPolicy;

    beforeAll(async () => {
      p = await createProofLab("proof-ipproto");
      policy = {
        exposures: [
          { service: "ssh" },
          { name: "ipsec", protocol: "esp", sources: [p.client.ipv4, p.client.ipv6] },
          { name: "ipsec-auth", protocol: "ah", sources: [p.client.ipv4, p.client.ipv6] },
          { name: "tunnel", protocol: "gre", sources: [p.client.ipv4, p.client.ipv6] },
          { name: "signalling", protocol: "sctp", ports: SCTP_PORT },
          { name: "multicast", protocol: "igmp", sources: [p.client.ipv4] },
          { name: "ha", protocol: "vrrp", sources: [p.client.ipv4, p.client.ipv6, "fe80::/10"] },
        ],
      };
      await applyToServer(p, policy);
    }, 120_000);
    afterEach(async () => flushConntrack(p.server));
    afterAll(async () => destroyProofLab(p, "proof-ip-protocols"));

    let n = 0;
    /** The sources whose marked `protocol` packets from `from` to the server's `dst` arrived. */
    const arrivals = (from: LabHost, protocol: RawProtocol, dst: string, port = 0) => {
      const marker = `hnft${process.pid}m${++n}`;
      return rawArrivals(p.server, protocol, marker, () => sendRaw(from, dst, protocol, marker, port));
    };

    async function control(protocol: RawProtocol, comment: string, dst: string, port = 0) {
      await negativeControl(p, {
        test: `${protocol} to ${dst}`,
        policy,
        comment,
        fails: async () => {
          expect(await arrivals(p.client, protocol, dst, port)).toEqual([]);
          return `raw ${protocol} packets from the client to ${dst} no longer arrive`;
        },
        works: async () => expect((await arrivals(p.client, protocol, dst, port)).length).toBe(1),
      });
    }

    it("ESP over IPv4 and IPv6 arrives from its source, not from the attacker", async () => {
      expect(await arrivals(p.client, "esp", p.server.ipv4)).toEqual([p.client.ipv4]);
      expect(await arrivals(p.client, "esp", p.server.ipv6)).toEqual([p.client.ipv6]);
      expect(await arrivals(p.attacker, "esp", p.server.ipv4), "attacker").toEqual([]);
      await control("esp", "ipsec: esp", p.server.ipv4);
      await control("esp", "ipsec: esp", p.server.ipv6);
    });

    it("AH over IPv4 and IPv6 arrives from its source", async () => {
      expect(await arrivals(p.client, "ah", p.server.ipv4)).toEqual([p.client.ipv4]);
      // IPv6 carries AH as an extension header; nft's meta l4proto still names it when AH is the last one
      expect(await arrivals(p.client, "ah", p.server.ipv6)).toEqual([p.client.ipv6]);
      expect(await arrivals(p.attacker, "ah", p.server.ipv4), "attacker").toEqual([]);
      await control("ah", "ipsec-auth: ah", p.server.ipv4);
      await control("ah", "ipsec-auth: ah", p.server.ipv6);
    });

    it("GRE over IPv4 and IPv6 arrives from its source", async () => {
      expect(await arrivals(p.client, "gre", p.server.ipv4)).toEqual([p.client.ipv4]);
      expect(await arrivals(p.client, "gre", p.server.ipv6)).toEqual([p.client.ipv6]);
      expect(await arrivals(p.attacker, "gre", p.server.ipv4), "attacker").toEqual([]);
      await control("gre", "tunnel: gre", p.server.ipv4);
    });

    it("SCTP to the declared port arrives, to another port not", async () => {
      expect(await arrivals(p.attacker, "sctp", p.server.ipv4, SCTP_PORT)).toEqual([p.attacker.ipv4]);
      expect(await arrivals(p.attacker, "sctp", p.server.ipv6, SCTP_PORT)).toEqual([p.attacker.ipv6]);
      expect(await arrivals(p.attacker, "sctp", p.server.ipv4, SCTP_PORT + 1), "undeclared port").toEqual([]);
      await control("sctp", "signalling: ports", p.server.ipv4, SCTP_PORT);
    });

    it("IGMP over IPv4 arrives from its source, not from the attacker", async () => {
      expect(await arrivals(p.client, "igmp", p.server.ipv4)).toEqual([p.client.ipv4]);
      expect(await arrivals(p.attacker, "igmp", p.server.ipv4), "attacker").toEqual([]);
      await control("igmp", "multicast: igmp", p.server.ipv4);
    });

    it("VRRP to its groups 224.0.0.18 and ff02::12 arrives from its sources, not to the host's own address", async () => {
      expect(await arrivals(p.client, "vrrp", "224.0.0.18")).toEqual([p.client.ipv4]);
      const v6 = await arrivals(p.client, "vrrp", "ff02::12");
      expect(v6.length, "IPv6 VRRP from the client (sent from its link-local address)").toBe(1);
      expect(v6[0]).toMatch(/^fe80:/);
      expect(await arrivals(p.attacker, "vrrp", "224.0.0.18"), "attacker").toEqual([]);
      expect(await arrivals(p.client, "vrrp", p.server.ipv4), "to the host's own address").toEqual([]);
      await control("vrrp", "ha: vrrp", "224.0.0.18");
      await control("vrrp", "ha: vrrp", "ff02::12");
    });
  },
);
