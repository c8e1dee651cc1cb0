/**
 * Proof (issue #12): IRC with DCC through the RENDERED table, APPLIED THROUGH THE HOST API, with
 * the real IRC server ngircd and two scripted IRC clients that make a real DCC SEND transfer
 * (support/peers/irc.ts: irssi and WeeChat cannot be scripted reliably; the clients speak the IRC client
 * protocol to ngircd and DCC over real sockets).
 *
 * What the irc exposure serves: tcp/6667 for the clients of an IRC server on this host, and the
 * DCC range for DCC offers made by IRC clients on this host (the peer connects to the offering
 * side). The kernel irc helper (IPv4 only) reads only the side that OPENED the IRC connection and
 * expects the DCC connection back to that side, from any source. So with helper "scoped" it is
 * attached to this host's own connections to IRC servers (output chain); attached to inbound
 * clients, as the project rendered it before this proof, it would expect connections to those
 * clients and never open anything on this host (src/catalog/irc.ts, KernelHelper.attach).
 *
 * helper "none" (IPv4 and IPv6): ngircd on the server; the sender runs on the server (connects
 * to ngircd on the server's own address) and offers a file from a port of dccPorts 40200-40209;
 * the receiver on the client (admitted by sources) gets the offer through ngircd over tcp/6667
 * and downloads the file from the server. The attacker (not in sources) reaches neither tcp/6667
 * nor the DCC range.
 *
 * helper "scoped" (IPv4): ngircd on the client host (an IRC server elsewhere); the sender on the
 * firewalled server connects out to it, the irc helper attached there expects the DCC connection
 * (expect_create), the receiver's connection is RELATED and accepted only from sources: the same
 * offer made to a receiver on the attacker host is expected by the helper (its expectations accept
 * any source) yet filtered by the table.
 *
 * Why the helper is attached on the way out (last test): with the old inbound assignment inserted
 * into the live table, a DCC offer made by the CLIENT through ngircd on the server creates an
 * expectation that is matched by the server's own connection OUT to the client.
 *
 * Negative controls (removed from the live table -> observed failure; re-applied -> works):
 * - helper none: `tcp dport 40200-40209 accept comment "irc: DCC"` (v4 and v6 rules) -> the offer
 *   is relayed by ngircd, the DCC connection times out (IPv4 and IPv6);
 * - helper none: `tcp dport 6667 accept comment "irc: client connections"` -> the client cannot
 *   connect to ngircd (timed out, IPv4 and IPv6);
 * - scoped: `ct state related ct helper "irc" ip saddr @irc_v4 tcp dport 40300-40309 accept
 *   comment "irc: DCC, expected by helper irc"` -> expectation created and matched, DCC dropped;
 * - scoped: `ip daddr @irc_v4 tcp dport 6667 ct helper set "irc-helper" accept comment "irc:
 *   connections from this host, helper irc"` (chain output) -> IRC still works, no expectation,
 *   DCC dropped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tcpListener, tcpProbe } from "../support/peers";
import { type DccTransfer, dccTransfer, IRC_PORT, ircRegister, startNgircd } from "../support/peers/irc";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  expectStats,
  negativeControl,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const DCC: [number, number] = [40200, 40209];
const SCOPED_DCC: [number, number] = [40300, 40309];

describe.runIf(requireRoot("proof irc", ["ip", "nft", "sshd", "ngircd", "conntrack", "ss"]))(
  "proof: IRC with DCC (ngircd + DCC SEND) through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let none: ProofPolicy;
    let scoped: ProofPolicy;

    beforeAll(async () => {
      p = await createProofLab("proof-irc");
      none = {
        exposures: [
          { service: "ssh" },
          { service: "irc", sources: [p.client.ipv4, p.client.ipv6], dccPorts: `${DCC[0]}-${DCC[1]}` },
        ],
      };
      scoped = {
        exposures: [
          { service: "ssh" },
          { service: "irc", helper: "scoped", sources: [p.client.ipv4], dccPorts: `${SCOPED_DCC[0]}-${SCOPED_DCC[1]}` },
        ],
      };
    }, 120_000);
    afterEach(async () => afterEachProof(p));
    afterAll(async () => destroyProofLab(p, "proof-irc"));

    function expectDone(t: DccTransfer, from: string, what: string): void {
      expect(t.error, what).toBeNull();
      expect(t.ok, what).toBe(true);
      expect(t.sha256Matches, what).toBe(true);
      expect(t.sender?.accepted, what).toBe(true);
      expect(t.sender?.from, what).toBe(from);
    }

    function expectDccDropped(t: DccTransfer, port: number, what: string): string {
      expect(t.offer?.port, `${what}: the offer came through the IRC server`).toBe(port);
      expect(t.ok, what).toBe(false);
      expect(t.error, what).toMatch(/timed out/);
      expect(t.sender?.accepted, what).toBe(false);
      return `${what}: offer for port ${port} relayed by ngircd, ${t.error}`;
    }

    it("helper none: a DCC SEND from the server to the client through the declared range, IPv4 and IPv6", async () => {
      await applyToServer(p, none);
      const ngircd = await startNgircd(p.server);
      try {
        const send = (ipv6: boolean, port: number, connectMs?: number): Promise<DccTransfer> =>
          dccTransfer({
            ircServer: ipv6 ? p.server.ipv6 : p.server.ipv4,
            sender: p.server,
            receiver: p.client,
            senderAddress: ipv6 ? p.server.ipv6 : p.server.ipv4,
            dccPort: port,
            nicks: ipv6 ? ["alice6", "bob6"] : ["alice4", "bob4"],
            ...(connectMs ? { connectMs } : {}),
          });
        const before = await expectStats(p.server);
        expectDone(await send(false, DCC[0] + 5), p.client.ipv4, "IPv4");
        expectDone(await send(true, DCC[0] + 6), p.client.ipv6, "IPv6");
        expect(await expectStats(p.server), "no helper: no expectation").toEqual(before);

        // not admitted: the attacker reaches neither the IRC server nor the DCC range
        for (const addr of [p.server.ipv4, p.server.ipv6]) {
          expect((await ircRegister(p.attacker, addr, "mallory")).registered, addr).toBe(false);
        }
        const dcc = await tcpListener(p.server, DCC[0] + 7);
        expect((await tcpProbe(p.attacker, p.server.ipv4, dcc.port, 1000)).state).toBe("filtered");
        expect((await tcpProbe(p.client, p.server.ipv4, dcc.port, 1000)).state).toBe("open");
        await dcc.stop();

        await negativeControl(p, {
          test: "IRC DCC (helper none), IPv4+IPv6",
          policy: none,
          comment: "irc: DCC",
          fails: async () => {
            const [v4, v6] = await Promise.all([send(false, DCC[0] + 5, 3000), send(true, DCC[0] + 6, 3000)]);
            return `${expectDccDropped(v4, DCC[0] + 5, "IPv4")}; ${expectDccDropped(v6, DCC[0] + 6, "IPv6")}`;
          },
          works: async () => {
            expectDone(await send(false, DCC[0] + 5), p.client.ipv4, "IPv4");
            expectDone(await send(true, DCC[0] + 6), p.client.ipv6, "IPv6");
          },
        });
        await negativeControl(p, {
          test: "IRC client connections tcp/6667 (helper none), IPv4+IPv6",
          policy: none,
          comment: "irc: client connections",
          fails: async () => {
            const r = await Promise.all([
              ircRegister(p.client, p.server.ipv4, "bob4"),
              ircRegister(p.client, p.server.ipv6, "bob6"),
            ]);
            for (const x of r) expect(x.registered).toBe(false);
            return r.map((x) => x.error).join("; ");
          },
          works: async () => {
            expect((await ircRegister(p.client, p.server.ipv4, "bob4")).registered).toBe(true);
            expect((await ircRegister(p.client, p.server.ipv6, "bob6")).registered).toBe(true);
          },
        });
        expect(ngircd.log()).toMatch(/ready/);
      } finally {
        await ngircd.stop();
      }
    }, 180_000);

    it("helper scoped (IPv4): the irc helper on the server's connection to an IRC server expects the DCC connection; only sources get it", async () => {
      const applied = await applyToServer(p, scoped);
      expect(applied.artefacts.nft).toContain(
        `ip daddr @irc_v4 tcp dport ${IRC_PORT} counter ct helper set "irc-helper" accept`,
      );
      const ngircd = await startNgircd(p.client);
      try {
        const send = (
          receiver: typeof p.client,
          port: number,
          nicks: [string, string],
          connectMs?: number,
        ): Promise<DccTransfer> =>
          dccTransfer({
            ircServer: p.client.ipv4,
            sender: p.server,
            receiver,
            senderAddress: p.server.ipv4,
            dccPort: port,
            nicks,
            ...(connectMs ? { connectMs } : {}),
          });

        const s0 = await expectStats(p.server);
        expectDone(await send(p.client, SCOPED_DCC[0] + 5, ["alice", "bob"]), p.client.ipv4, "IPv4 scoped");
        const s1 = await expectStats(p.server);
        expect(s1.create - s0.create, "the helper expected the DCC connection").toBe(1);
        expect(s1.matched - s0.matched, "the DCC connection matched it (RELATED)").toBe(1);

        // the attacker, a user of the same IRC server, gets an offer: the helper expects it (any
        // source), its SYN matches the expectation, and the table drops it (not in sources)
        const t = await send(p.attacker, SCOPED_DCC[0] + 6, ["alice", "mallory"], 3000);
        const s2 = await expectStats(p.server);
        expectDccDropped(t, SCOPED_DCC[0] + 6, "attacker");
        expect(s2.create - s1.create).toBe(1);
        expect(s2.matched - s1.matched).toBe(1);

        // a DCC port no offer announced: filtered for the admitted client too
        const direct = await tcpListener(p.server, SCOPED_DCC[0] + 7);
        expect((await tcpProbe(p.client, p.server.ipv4, direct.port, 1000)).state).toBe("filtered");
        expect(direct.accepted()).toEqual([]);
        await direct.stop();

        await negativeControl(p, {
          test: "IRC DCC (helper scoped, IPv4)",
          policy: scoped,
          comment: "irc: DCC, expected by helper irc",
          fails: async () => {
            const a = await expectStats(p.server);
            const observed = expectDccDropped(
              await send(p.client, SCOPED_DCC[0] + 5, ["alice", "bob"], 3000),
              SCOPED_DCC[0] + 5,
              "IPv4",
            );
            const b = await expectStats(p.server);
            expect(b.create - a.create, "still expected by the helper").toBe(1);
            expect(b.matched - a.matched, "and matched").toBe(1);
            return `${observed} (expectation created and matched)`;
          },
          works: async () =>
            expectDone(await send(p.client, SCOPED_DCC[0] + 5, ["alice", "bob"]), p.client.ipv4, "IPv4 scoped"),
        });
        await negativeControl(p, {
          test: "IRC helper assignment on the server's own IRC connection (helper scoped, IPv4)",
          policy: scoped,
          chain: "output",
          comment: "irc: connections from this host, helper irc",
          fails: async () => {
            const a = await expectStats(p.server);
            const observed = expectDccDropped(
              await send(p.client, SCOPED_DCC[0] + 5, ["alice", "bob"], 3000),
              SCOPED_DCC[0] + 5,
              "IPv4",
            );
            const b = await expectStats(p.server);
            expect(b.create, "no helper attached: no expectation").toBe(a.create);
            return `IRC still works (output policy accept), no expectation created; ${observed}`;
          },
          works: async () =>
            expectDone(await send(p.client, SCOPED_DCC[0] + 5, ["alice", "bob"]), p.client.ipv4, "IPv4 scoped"),
        });
      } finally {
        await ngircd.stop();
      }
    }, 180_000);

    it("why not inbound: the irc helper attached to a client's connection to this host's IRC server expects connections to that client", async () => {
      await applyToServer(p, scoped);
      // the assignment as rendered before this proof: on inbound connections to tcp/6667
      await p.server.sh(
        `nft insert rule inet ${PROOF_TABLE} input ip saddr ${p.client.ipv4} tcp dport ${IRC_PORT} ct helper set '"irc-helper"' accept`,
      );
      const ngircd = await startNgircd(p.server);
      try {
        const s0 = await expectStats(p.server);
        // the client offers a file; the receiver is on the server
        const t = await dccTransfer({
          ircServer: p.server.ipv4,
          sender: p.client,
          receiver: p.server,
          senderAddress: p.client.ipv4,
          dccPort: SCOPED_DCC[0] + 8,
        });
        expectDone(t, p.server.ipv4, "client offers, server receives");
        const s1 = await expectStats(p.server);
        expect(s1.create - s0.create, "the helper on the inbound connection created an expectation").toBe(1);
        expect(s1.matched - s0.matched, "matched by the server's own connection OUT to the client").toBe(1);
        const ct = (await p.server.sh(`conntrack -L -p tcp --dport ${SCOPED_DCC[0] + 8} 2>/dev/null`)).stdout;
        expect(ct).toContain(`src=${p.server.ipv4} dst=${p.client.ipv4} `);
      } finally {
        await ngircd.stop();
        await applyToServer(p, scoped);
      }
    }, 90_000);
  },
);
