/**
 * Proof (issue #12, part 3): the ICMP side effects of the RENDERED table, APPLIED THROUGH THE HOST
 * API. The table never accepts related traffic wholesale: only ICMP/ICMPv6 errors that conntrack
 * relates to a connection of the host (`ct state related icmp type { destination-unreachable,
 * time-exceeded, parameter-problem }`, and for ICMPv6 the same plus packet-too-big). This file
 * shows that this is enough for traceroute and path MTU discovery, and that an error about no
 * connection of the host does not get in.
 *
 * Lab: server (firewalled; policy: ssh only, output accepted), router (forwards), far host behind
 * the router on a link with MTU 1280 (support/peers/icmp.ts), attacker on the server's bridge.
 *
 * What is proved:
 * - traceroute from the server to the far host (UDP probes) gets the router's time-exceeded and the
 *   far host's port-unreachable: hops = [router, far], IPv4 and IPv6;
 * - path MTU discovery: 1 MiB sent over a TCP connection the server opened to the far host arrives
 *   whole (sha256) although the connection started with a 1500-byte path (MSS 1448 / 1428 with
 *   timestamps); the server learned the path MTU 1280 (socket IP_MTU/IPV6_MTU and `ip route get`),
 *   from the router's fragmentation-needed (IPv4) / packet-too-big (IPv6). The learned MTU is
 *   flushed first, so every run has to discover it;
 * - forged destination-unreachable errors from the attacker about a UDP flow the server really
 *   has reach the server's raw sockets; the same errors about a flow it does not have (sent
 *   first, on the same link) do not, IPv4 and IPv6.
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied
 * through the host API, which reports a change, and the operation works again):
 * - removed `ct state related icmp type { destination-unreachable, time-exceeded,
 *   parameter-problem } accept` (comment "icmp errors of tracked connections", chain input) ->
 *   IPv4 traceroute hops are `*`, while IPv6 still traces; the IPv4 transfer stalls (socket timeout,
 *   the path MTU stays 1500: the black hole PMTUD exists to avoid); the forged IPv4 error about the
 *   tracked flow no longer arrives either.
 * - removed the ICMPv6 twin (comment "icmpv6 errors of tracked connections") -> the same for IPv6,
 *   IPv4 unaffected.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLab, type LabHost } from "../support/lab";
import {
  bulkSend,
  flushPathMtu,
  forgedIcmpErrors,
  learnedMtu,
  type RoutedPath,
  routedPath,
  tcpSink,
  traceroute,
} from "../support/peers/icmp";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  destroyProofLab,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const POLICY: ProofPolicy = { exposures: [{ service: "ssh" }] };
const V4_ERRORS = "icmp errors of tracked connections";
const V6_ERRORS = "icmpv6 errors of tracked connections";
const SINK_PORT = 5001;
const SIZE = 1 << 20;

type Family = "IPv4" | "IPv6";

describe.runIf(requireRoot("proof icmp", ["ip", "nft", "sshd", "traceroute", "conntrack"]))(
  "proof: ICMP side effects through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let path: RoutedPath;
    let far: LabHost;

    beforeAll(async () => {
      const lab = await createLab({ hosts: 4, label: "proof-icmp" });
      const [server, router, attacker, farHost] = lab.hosts as [LabHost, LabHost, LabHost, LabHost];
      p = { lab, server, client: router, attacker, controls: [], timings: {} };
      far = farHost;
      path = await routedPath(server, router, far, lab.slot);
      expect((await applyToServer(p, POLICY)).changed).toBe(true);
    }, 120_000);
    afterEach(async () => {
      await afterEachProof(p);
      await applyToServer(p, POLICY);
    });
    afterAll(async () => destroyProofLab(p, "proof-icmp"));

    const farOf = (f: Family): string => (f === "IPv4" ? path.farIpv4 : path.farIpv6);
    const routerOf = (f: Family): string => (f === "IPv4" ? path.routerIpv4 : path.routerIpv6);

    async function traceOk(f: Family): Promise<void> {
      const t = await traceroute(p.server, farOf(f));
      expect(t.hops, `${f}:\n${t.output}`).toEqual([routerOf(f), farOf(f)]);
    }

    async function traceFails(f: Family): Promise<string> {
      const t = await traceroute(p.server, farOf(f));
      expect(t.hops, `${f}:\n${t.output}`).toEqual(["*", "*"]);
      return `${f} traceroute hops: ${t.hops.join(" ")}`;
    }

    it("traceroute from the firewalled host: time-exceeded and port-unreachable come back, IPv4 and IPv6; negative controls", async () => {
      await traceOk("IPv4");
      await traceOk("IPv6");
      await negativeControl(p, {
        test: "traceroute IPv4",
        policy: POLICY,
        comment: V4_ERRORS,
        fails: async () => {
          const observed = await traceFails("IPv4");
          await traceOk("IPv6");
          return `${observed}; IPv6 still traced`;
        },
        works: async () => traceOk("IPv4"),
      });
      await negativeControl(p, {
        test: "traceroute IPv6",
        policy: POLICY,
        comment: V6_ERRORS,
        fails: async () => {
          const observed = await traceFails("IPv6");
          await traceOk("IPv4");
          return `${observed}; IPv4 still traced`;
        },
        works: async () => traceOk("IPv6"),
      });
    }, 120_000);

    it("path MTU discovery across the 1280-byte link for a TCP connection the host opened, IPv4 and IPv6; negative controls", async () => {
      const sinks = [await tcpSink(far, path.farIpv4, SINK_PORT), await tcpSink(far, path.farIpv6, SINK_PORT)];
      try {
        const transferOk = async (f: Family): Promise<void> => {
          await flushPathMtu(p.server);
          expect(await learnedMtu(p.server, farOf(f)), `${f}: no path MTU learned before the transfer`).toBeNull();
          const r = await bulkSend(p.server, farOf(f), SINK_PORT, SIZE, 20);
          expect(r.error, f).toBeUndefined();
          expect(r.ok).toBe(true);
          // the connection started with the MSS of a 1500-byte path, and ended with the link's MTU
          expect(r.mss!, `${f} initial MSS`).toBeGreaterThan(path.mtu - (f === "IPv4" ? 40 : 60));
          expect(r.pathMtu, `${f} socket path MTU`).toBe(path.mtu);
          expect(await learnedMtu(p.server, farOf(f)), `${f} route`).toBe(path.mtu);
          // all of it arrived (the sink reports each connection when it ends; a failed one may end later)
          expect(sinks[f === "IPv4" ? 0 : 1]!.received()).toContainEqual({
            from: f === "IPv4" ? p.server.ipv4 : p.server.ipv6,
            bytes: SIZE,
            sha256: r.sha256,
          });
        };
        const transferFails = async (f: Family): Promise<string> => {
          await flushPathMtu(p.server);
          expect(await learnedMtu(p.server, farOf(f))).toBeNull();
          const r = await bulkSend(p.server, farOf(f), SINK_PORT, SIZE, 4);
          expect(r.ok, f).toBe(false);
          expect(r.error).toMatch(/timed out/);
          expect(r.pathMtu, `${f}: the path MTU was never learned`).toBe(1500);
          expect(sinks[f === "IPv4" ? 0 : 1]!.received().some((g) => g.sha256 === r.sha256)).toBe(false);
          return `${f}: ${r.error} after connecting (MSS ${r.mss}), socket path MTU still ${r.pathMtu}`;
        };

        await transferOk("IPv4");
        await transferOk("IPv6");
        await negativeControl(p, {
          test: "path MTU discovery IPv4",
          policy: POLICY,
          comment: V4_ERRORS,
          fails: async () => {
            const observed = await transferFails("IPv4");
            await transferOk("IPv6");
            return `${observed}; IPv6 transfer still completes`;
          },
          works: async () => transferOk("IPv4"),
        });
        await negativeControl(p, {
          test: "path MTU discovery IPv6",
          policy: POLICY,
          comment: V6_ERRORS,
          fails: async () => {
            const observed = await transferFails("IPv6");
            await transferOk("IPv4");
            return `${observed}; IPv4 transfer still completes`;
          },
          works: async () => transferOk("IPv6"),
        });
      } finally {
        for (const s of sinks) await s.stop();
      }
    }, 180_000);

    it("an ICMP error about no connection of the host is dropped; one about a tracked flow gets in, IPv4 and IPv6; negative controls", async () => {
      const o = { sport: 40123, trackedPort: 40124, unrelatedPort: 40125 };
      const probe = async (timeoutSec: number) =>
        (await forgedIcmpErrors(p.server, p.attacker, { ...o, timeoutSec })).seen;
      const expectOnlyRelated = async (): Promise<void> => {
        const seen = await probe(10);
        expect([...seen].sort((a, b) => a.family - b.family)).toEqual([
          { family: 4, dport: o.trackedPort },
          { family: 6, dport: o.trackedPort },
        ]);
      };
      await expectOnlyRelated();

      for (const [comment, lost, kept] of [
        [V4_ERRORS, 4, 6],
        [V6_ERRORS, 6, 4],
      ] as const) {
        await negativeControl(p, {
          test: `forged ICMP errors, IPv${lost}`,
          policy: POLICY,
          comment,
          fails: async () => {
            const seen = await probe(3);
            expect(seen).toEqual([{ family: kept, dport: o.trackedPort }]);
            return `the IPv${lost} error about the tracked flow no longer arrives; IPv${kept}'s still does`;
          },
          works: expectOnlyRelated,
        });
      }
    }, 120_000);
  },
);
