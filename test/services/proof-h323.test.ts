/**
 * Proof (issue #12): H.323 through the RENDERED table, APPLIED THROUGH THE HOST API. No H.323 peer
 * is packaged in Debian, so the call is scripted (support/peers/h323.ts): a Q.931 SETUP/CONNECT over
 * TPKT on tcp/1720 whose CONNECT carries an H.225.0 fastStart OpenLogicalChannel announcing the
 * callee's media address and port (ASN.1 PER, hand-encoded after the kernel's own decoder
 * tables), then media datagrams from the caller to that port, echoed by the callee. RAS (udp/1719)
 * is proved with a UDP echo listener (reachability only: no RAS message is exchanged).
 *
 * Policy: ssh; h323 from the client's addresses, mediaPorts 40400-40409; helper "none", then
 * helper "scoped" (Q.931 and RAS helper objects; IPv4 and IPv6).
 *
 * What is proved:
 * - helper none: the call connects and 3 of 3 media datagrams come back on IPv4 and IPv6, no
 *   expectation is created; RAS answers; the attacker (not in sources) gets no answer on tcp/1720,
 *   udp/1719 or the media port;
 * - helper scoped: the kernel Q.931 helper decodes the CONNECT and creates the RTP and RTCP
 *   expectations (seen in /proc/net/nf_conntrack_expect between CONNECT and the first media
 *   datagram: `proto=17 src=<client> dst=<server> sport=0 dport=40404 Q.931`), the media flow
 *   matches the RTP one and passes as RELATED, IPv4 and IPv6; media to a port of the declared range
 *   that no call announced is dropped, for the admitted client too.
 *
 * Negative controls (removed from the live table -> observed failure; re-applied -> works):
 * - helper none: `udp dport 40400-40409 accept comment "h323: media"` -> the call connects, 0 of
 *   3 media datagrams come back (IPv4 and IPv6);
 * - helper none: `tcp dport 1720 accept comment "h323: Q.931 signalling"` -> the call cannot
 *   connect (timed out, IPv4 and IPv6);
 * - helper none: `udp dport 1719 accept comment "h323: RAS"` -> no RAS answer;
 * - helper scoped: `ct state related ct helper "Q.931" ... udp dport 40400-40409 accept comment
 *   "h323: media, expected by helper Q.931"` -> the expectations are created and the media
 *   matches them, yet 0 of 3 come back (IPv4 and IPv6).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sendUdp, tcpProbe, udpEchoListener } from "../support/peers";
import {
  type H323CalleeHandle,
  type H323CallResult,
  h323Call,
  Q931_PORT,
  RAS_PORT,
  startH323Callee,
} from "../support/peers/h323";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  expectStats,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const MEDIA: [number, number] = [40400, 40409];
const V4_MEDIA = 40404;
const V6_MEDIA = 40406;

function full6(a: string): string {
  const [head, tail] = a.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => g.padStart(4, "0")).join(":");
}

describe.runIf(requireRoot("proof h323", ["ip", "nft", "sshd", "conntrack", "ss"]))(
  "proof: H.323 (scripted Q.931 fastStart call) through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let none: ProofPolicy;
    let scoped: ProofPolicy;

    beforeAll(async () => {
      p = await createProofLab("proof-h323");
      const sources = [p.client.ipv4, p.client.ipv6];
      none = { exposures: [{ service: "ssh" }, { service: "h323", sources, mediaPorts: `${MEDIA[0]}-${MEDIA[1]}` }] };
      scoped = {
        exposures: [
          { service: "ssh" },
          { service: "h323", sources, helper: "scoped", mediaPorts: `${MEDIA[0]}-${MEDIA[1]}` },
        ],
      };
    }, 120_000);
    afterEach(async () => afterEachProof(p));
    afterAll(async () => destroyProofLab(p, "proof-h323"));

    const fam = (c: H323CalleeHandle): string => (c.address.includes(":") ? "IPv6" : "IPv4");

    function expectCall(r: H323CallResult, callee: H323CalleeHandle): void {
      expect(r.error, fam(callee)).toBeNull();
      expect(r.connected).toBe(true);
      expect(r.announced).toEqual({ address: callee.address, port: callee.mediaPort });
      expect({ sent: r.sent, received: r.received }, `${fam(callee)} media`).toEqual({ sent: 3, received: 3 });
    }

    function expectMediaDropped(r: H323CallResult, callee: H323CalleeHandle): string {
      expect(r.connected, `${fam(callee)}: the call itself connects`).toBe(true);
      expect({ sent: r.sent, received: r.received }, `${fam(callee)} media`).toEqual({ sent: 3, received: 0 });
      return `${fam(callee)}: call connected, media to ${callee.mediaPort}: 0 of 3 came back`;
    }

    it("helper none: call and media over IPv4 and IPv6 on the declared ports; RAS reachable; the attacker is filtered", async () => {
      await applyToServer(p, none);
      const v4 = await startH323Callee(p.server, { mediaPort: V4_MEDIA });
      const v6 = await startH323Callee(p.server, { mediaPort: V6_MEDIA, ipv6: true });
      const ras4 = await udpEchoListener(p.server, RAS_PORT);
      const ras6 = await udpEchoListener(p.server, RAS_PORT, { ipv6: true });
      try {
        const call = (c: H323CalleeHandle, timeoutMs?: number): Promise<H323CallResult> =>
          h323Call(p.client, c.address, timeoutMs ? { timeoutMs } : {});
        const ras = (from: typeof p.client, ipv6: boolean) =>
          sendUdp(from, p.server, RAS_PORT, "hnft-ras", { ipv6, waitMs: 1000 });
        const before = await expectStats(p.server);
        expectCall(await call(v4), v4);
        expectCall(await call(v6), v6);
        expect(await expectStats(p.server), "no helper: no expectation").toEqual(before);
        expect((await ras(p.client, false)).reply).toBe("hnft-ras");
        expect((await ras(p.client, true)).reply).toBe("hnft-ras");

        // not admitted
        for (const addr of [p.server.ipv4, p.server.ipv6])
          expect((await tcpProbe(p.attacker, addr, Q931_PORT, 1000)).state).toBe("filtered");
        expect((await ras(p.attacker, false)).reply).toBeNull();
        expect((await sendUdp(p.attacker, p.server, V4_MEDIA, "hnft-media", { waitMs: 1000 })).reply).toBeNull();
        expect(v4.mediaFrom()).not.toContain(p.attacker.ipv4);

        await negativeControl(p, {
          test: "H.323 media (helper none), IPv4+IPv6",
          policy: none,
          comment: "h323: media",
          fails: async () => {
            const [a, b] = await Promise.all([call(v4), call(v6)]);
            return `${expectMediaDropped(a, v4)}; ${expectMediaDropped(b, v6)}`;
          },
          works: async () => {
            expectCall(await call(v4), v4);
            expectCall(await call(v6), v6);
          },
        });
        await negativeControl(p, {
          test: "H.323 Q.931 signalling tcp/1720 (helper none), IPv4+IPv6",
          policy: none,
          comment: "h323: Q.931 signalling",
          fails: async () => {
            const r = await Promise.all([call(v4, 1000), call(v6, 1000)]);
            for (const x of r) expect(x.connected).toBe(false);
            return r.map((x) => x.error).join("; ");
          },
          works: async () => {
            expectCall(await call(v4), v4);
            expectCall(await call(v6), v6);
          },
        });
        await negativeControl(p, {
          test: "H.323 RAS udp/1719 (helper none), IPv4+IPv6",
          policy: none,
          comment: "h323: RAS",
          fails: async () => {
            const r = await Promise.all([ras(p.client, false), ras(p.client, true)]);
            for (const x of r) expect(x.reply).toBeNull();
            return "no answer from the RAS listener (IPv4 and IPv6)";
          },
          works: async () => {
            expect((await ras(p.client, false)).reply).toBe("hnft-ras");
            expect((await ras(p.client, true)).reply).toBe("hnft-ras");
          },
        });
      } finally {
        for (const h of [v4, v6, ras4, ras6]) await h.stop();
      }
    }, 180_000);

    it("helper scoped: the Q.931 helper expects the announced media (IPv4 and IPv6); only that flow passes", async () => {
      const applied = await applyToServer(p, scoped);
      expect(applied.artefacts.nft).toMatch(/type "Q\.931" protocol tcp/);
      const v4 = await startH323Callee(p.server, { mediaPort: V4_MEDIA });
      const v6 = await startH323Callee(p.server, { mediaPort: V6_MEDIA, ipv6: true });
      try {
        const readExpect = async (): Promise<string> => (await p.server.sh("cat /proc/net/nf_conntrack_expect")).stdout;
        const call = (c: H323CalleeHandle): Promise<H323CallResult> =>
          h323Call(p.client, c.address, { onConnected: readExpect });
        const expectLine = (c: H323CalleeHandle, from: string, port: number): RegExp => {
          // the kernel prints IPv6 addresses unabbreviated (2001:0002:0000:...)
          const shown = (a: string): string => (a.includes(":") ? full6(a) : a).replace(/\./g, "\\.");
          return new RegExp(
            `l3proto = ${c.address.includes(":") ? 10 : 2} proto=17 src=${shown(from)} dst=${shown(c.address)} sport=0 dport=${port} Q\\.931`,
          );
        };

        for (const [c, from] of [
          [v4, p.client.ipv4],
          [v6, p.client.ipv6],
        ] as const) {
          const s0 = await expectStats(p.server);
          const r = await call(c);
          expectCall(r, c);
          expect(r.expectations, `${fam(c)}: RTP expected before any media`).toMatch(expectLine(c, from, c.mediaPort));
          expect(r.expectations, `${fam(c)}: RTCP expected`).toMatch(expectLine(c, from, c.mediaPort + 1));
          const s1 = await expectStats(p.server);
          expect(s1.create - s0.create, "RTP and RTCP expectations").toBe(2);
          expect(s1.matched - s0.matched, "the media flow matched the RTP expectation").toBe(1);
        }

        // media to a declared port no call announced: no expectation, dropped for the client too
        const stray = await udpEchoListener(p.server, MEDIA[0] + 8);
        expect((await sendUdp(p.client, p.server, stray.port, "hnft-stray", { waitMs: 1000 })).reply).toBeNull();
        expect(stray.received()).toEqual([]);
        await stray.stop();

        await negativeControl(p, {
          test: "H.323 media (helper scoped), IPv4+IPv6",
          policy: scoped,
          comment: "h323: media, expected by helper Q.931",
          fails: async () => {
            const a = await expectStats(p.server);
            const r4 = await call(v4);
            const r6 = await call(v6);
            const b = await expectStats(p.server);
            expect(r4.expectations).toMatch(expectLine(v4, p.client.ipv4, V4_MEDIA));
            expect(r6.expectations).toMatch(expectLine(v6, p.client.ipv6, V6_MEDIA));
            expect(b.create - a.create).toBe(4);
            expect(b.matched - a.matched).toBe(2);
            return `${expectMediaDropped(r4, v4)}; ${expectMediaDropped(r6, v6)} (RTP and RTCP expected, media matched the expectation)`;
          },
          works: async () => {
            expectCall(await call(v4), v4);
            expectCall(await call(v6), v6);
          },
        });
      } finally {
        await v4.stop();
        await v6.stop();
      }
    }, 180_000);
  },
);
