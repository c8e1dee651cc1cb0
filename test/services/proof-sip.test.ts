/**
 * Proof (issue #5): SIP with RTP through the RENDERED table, APPLIED THROUGH THE HOST API, with
 * real peers: a SIPp UAS on the server (media pinned with -mp to the start of the declared RTP
 * range; SIPp 3.6.1 echoes RTP on rtpMin and rtpMin+2) and a SIPp UAC on the client that places a
 * real call (INVITE/200/ACK, RTP from a pcap, BYE/200). No conntrack helper (helper "none").
 *
 * Policy: ssh; sip (udp/5060) with rtpPorts 10000-10009.
 *
 * What is proved:
 * - a call completes with media both ways over IPv4 and over IPv6;
 * - media to a port inside the declared range gets through, media to a port outside it is
 *   dropped (udp echo listeners on 10005 and 10050: only 10005 answers), IPv4 and IPv6;
 * - SIPp's UDP remote-control socket (8888, bound on 0.0.0.0 by the UAS) stays unreachable: the
 *   attacker's `q` (SIPp's quit command) does not reach it and the UAS keeps taking calls.
 *   Control for that check: with `udp dport 8888 accept` added to the live table, the same `q`
 *   stops the UAS, so the check can see an open control socket.
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied
 * through the host API, which reports a change, and the call works again):
 * - SIP call (IPv4+IPv6): removed `udp dport 10000-10009 accept comment "sip: RTP media"` -> the
 *   call still completes (signalling is open) but no RTP echo comes back: mediaFlowed false,
 *   0 bytes echoed, over IPv4 and IPv6.
 * - SIP call (IPv4+IPv6): removed `udp dport 5060 accept comment "sip: signalling"` -> the INVITE
 *   is dropped: the UAC times out with no successful call, over IPv4 and IPv6.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  runSippUac,
  type SippUacResult,
  type SippUasHandle,
  sendUdp,
  startSippUas,
  udpEchoListener,
} from "../support/peers";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  negativeControl,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const RTP: [number, number] = [10000, 10009];
const POLICY: ProofPolicy = { exposures: [{ service: "ssh" }, { service: "sip", rtpPorts: `${RTP[0]}-${RTP[1]}` }] };
const CONTROL_PORT = 8888;

describe.runIf(requireRoot("proof sip", ["ip", "nft", "sshd", "vsftpd", "sipp", "in.tftpd", "ss"]))(
  "proof: SIP with RTP through the rendered table applied over SSH",
  () => {
    let p: ProofLab;

    beforeAll(async () => {
      p = await createProofLab("proof-sip");
    }, 120_000);
    beforeEach(async () => void (await applyToServer(p, POLICY)));
    afterEach(async () => afterEachProof(p));
    afterAll(async () => destroyProofLab(p, "proof-sip"));

    /** One UAS per family; each needs its own control port (SIPp binds it on 0.0.0.0). */
    function startUas(ipv6: boolean): Promise<SippUasHandle> {
      return startSippUas(p.server, {
        rtpMin: RTP[0],
        rtpMax: RTP[1],
        ipv6,
        controlPort: ipv6 ? CONTROL_PORT - 1 : CONTROL_PORT,
      });
    }

    /** A call from the client; the IPv4 and IPv6 UACs may run at once (own media and control ports). */
    function call(ipv6: boolean, timeoutMs?: number): Promise<SippUacResult> {
      // 700 ms of RTP is plenty for the echo to come back before the UAC looks at its media socket
      return runSippUac(p.client, p.server, {
        ipv6,
        callMs: 700,
        mediaPort: ipv6 ? 6010 : 6000,
        controlPort: ipv6 ? 8897 : 8898,
        ...(timeoutMs ? { timeoutMs } : {}),
      });
    }

    /** The same call over IPv4 and IPv6 at once: [v4, v6]. */
    function callBoth(timeoutMs?: number): Promise<[SippUacResult, SippUacResult]> {
      return Promise.all([call(false, timeoutMs), call(true, timeoutMs)]);
    }

    async function callsOk(): Promise<void> {
      const [c4, c6] = await callBoth();
      for (const [c, fam] of [
        [c4, "IPv4"],
        [c6, "IPv6"],
      ] as const) {
        expect(c.completed, `${fam}\n${c.output}`).toBe(true);
        expect(c.mediaFlowed, `${fam}: RTP echoed back\n${c.output}`).toBe(true);
        expect(c.echoedBytes).toBeGreaterThan(1000);
      }
    }

    it("a call with media completes over IPv4 and IPv6; removing the RTP rule keeps signalling but kills media, removing signalling kills the call", async () => {
      const u4 = await startUas(false);
      const u6 = await startUas(true);
      try {
        expect(u4.rtpPorts.every((r) => r >= RTP[0] && r <= RTP[1])).toBe(true);
        await callsOk();

        await negativeControl(p, {
          test: "SIP call, RTP rule (IPv4+IPv6)",
          policy: POLICY,
          comment: "sip: RTP media",
          fails: async () => {
            const [c4, c6] = await callBoth();
            return [c4, c6]
              .map((c, i) => {
                const fam = i === 0 ? "IPv4" : "IPv6";
                expect(c.completed, `${fam}: signalling still works\n${c.output}`).toBe(true);
                expect(c.mediaFlowed, `${fam}: no media`).toBe(false);
                expect(c.echoedBytes).toBe(0);
                return `${fam}: call completed, ${c.echoedBytes} bytes of RTP echoed (mediaFlowed false)`;
              })
              .join("; ");
          },
          works: callsOk,
        });

        await negativeControl(p, {
          test: "SIP call, signalling rule (IPv4+IPv6)",
          policy: POLICY,
          comment: "sip: signalling",
          fails: async () => {
            const [c4, c6] = await callBoth(2000);
            return [c4, c6]
              .map((c, i) => {
                const fam = i === 0 ? "IPv4" : "IPv6";
                expect(c.completed, fam).toBe(false);
                expect(c.successfulCalls).toBe(0);
                expect(c.output, `${fam}: the INVITE went unanswered until SIPp gave up`).toMatch(/timed out after/);
                return `${fam}: no call, SIPp timed out (exit ${c.exitCode}, ${c.successfulCalls} successful calls)`;
              })
              .join("; ");
          },
          works: callsOk,
        });
      } finally {
        await u4.stop();
        await u6.stop();
      }
    }, 120_000);

    it("media inside the declared range gets through, media outside it is dropped (IPv4 and IPv6)", async () => {
      const inside = RTP[0] + 5;
      const outside = RTP[1] + 41;
      const listeners = await Promise.all([
        udpEchoListener(p.server, inside),
        udpEchoListener(p.server, inside, { ipv6: true }),
        udpEchoListener(p.server, outside),
        udpEchoListener(p.server, outside, { ipv6: true }),
      ]);
      try {
        for (const ipv6 of [false, true]) {
          const inRange = await sendUdp(p.client, p.server, inside, "rtp-inside", { ipv6 });
          expect(inRange.reply, `IPv${ipv6 ? 6 : 4} to ${inside}`).toBe("rtp-inside");
          const outOfRange = await sendUdp(p.client, p.server, outside, "rtp-outside", { ipv6, waitMs: 800 });
          expect(outOfRange.reply, `IPv${ipv6 ? 6 : 4} to ${outside}`).toBeNull();
          expect(outOfRange.refused).toBe(false); // dropped, not rejected: the listener is there
        }
        expect(listeners[2]!.received()).toEqual([]);
        expect(listeners[3]!.received()).toEqual([]);
      } finally {
        for (const l of listeners) await l.stop();
      }
    }, 60_000);

    it("SIPp's control socket (udp/8888) stays unreachable: the attacker's quit command does not arrive", async () => {
      const uas = await startUas(false);
      try {
        const bound = (await p.server.sh(`ss -Hlun 'sport = :${CONTROL_PORT}'`)).stdout;
        expect(bound, "the UAS really listens on its control port").toMatch(new RegExp(`:${CONTROL_PORT}\\b`));
        for (const ipv6 of [false, true]) {
          const r = await sendUdp(p.attacker, p.server, CONTROL_PORT, "q", { ipv6, waitMs: 300 });
          expect(r.refused).toBe(false);
        }
        await new Promise((r) => setTimeout(r, 500));
        const c = await call(false); // still alive and taking calls
        expect(c.completed, c.output).toBe(true);
        expect(c.mediaFlowed).toBe(true);

        // control for this check: opened, the same datagram stops SIPp
        await p.server.sh(
          `nft insert rule inet ${PROOF_TABLE} input udp dport ${CONTROL_PORT} accept comment '"proof: control socket opened"'`,
        );
        await sendUdp(p.attacker, p.server, CONTROL_PORT, "q", { waitMs: 300 });
        let stopped = false;
        for (let i = 0; i < 40 && !stopped; i++) {
          stopped = (await p.server.sh(`ss -Hlun 'sport = :${CONTROL_PORT}'`)).stdout.trim() === "";
          if (!stopped) await new Promise((r) => setTimeout(r, 100));
        }
        expect(stopped, "with udp/8888 open, the attacker's q quits SIPp").toBe(true);
        expect((await applyToServer(p, POLICY)).changed, "the re-apply removes the added rule").toBe(true);
        p.controls.push({
          test: "SIPp control socket (attack check control)",
          change: `added \`udp dport ${CONTROL_PORT} accept\` to the rendered input chain`,
          observed:
            "the attacker's `q` reached SIPp and the UAS quit (without the added rule it kept taking calls); re-applied via the host API",
        });
      } finally {
        await uas.stop();
      }
    }, 60_000);
  },
);
