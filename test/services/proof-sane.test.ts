/**
 * Proof (issue #12): SANE through the RENDERED table, APPLIED THROUGH THE HOST API, with real
 * peers: saned (sane-utils) with libsane's `test` backend on the server, `scanimage` (net backend)
 * on the client, a bare attacker. Control tcp/6566; the scan data connection goes from the client
 * to the port saned announces from its `data_portrange` (inbound, like passive FTP).
 *
 * Policy: ssh; sane from the client's addresses only, helper "none" with dataPorts 40000-40009;
 * then the same with helper "scoped" (the kernel's sane helper, IPv4 and IPv6) and dataPorts
 * 40100-40109.
 *
 * What is proved:
 * - helper none: a scan over IPv4 and over IPv6 completes (a P5 image of the test backend), the
 *   data port saned used is inside the declared range, no expectation is created; the attacker
 *   (not in sources) finds tcp/6566 and the data range filtered, the client finds them open;
 * - helper scoped: scans over IPv4 and IPv6 complete with the data connection RELATED (the sane
 *   helper is attached to the control connection, expectations are created and matched); a direct
 *   connection to a declared data port that no scan announced is filtered, for the client too.
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied
 * through the host API, which reports a change, and the scan works again):
 * - helper none: removed `tcp dport 40000-40009 accept comment "sane: scan data"` (v4 and v6
 *   rules) -> saned announces data port 40000, the data connection is dropped, scanimage hangs
 *   until killed (IPv4 and IPv6).
 * - helper none: removed `tcp dport 6566 accept comment "sane: control"` -> `open of device
 *   net:...:test:0 failed: Error during device I/O` (IPv4 and IPv6).
 * - helper scoped: removed `ct state related ct helper "sane" ... tcp dport 40100-40109 accept
 *   comment "sane: scan data, expected by helper sane"` -> the helper still creates the
 *   expectations and the data SYNs match them, yet the scan hangs (IPv4 and IPv6).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tcpListener, tcpProbe } from "../support/peers";
import { SANE_PORT, type SanedHandle, scanimage, startSaned } from "../support/peers/sane";
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

const DATA: [number, number] = [40000, 40009];
const SCOPED_DATA: [number, number] = [40100, 40109];
const inRange = (port: number, [a, b]: [number, number]): boolean => port >= a && port <= b;

describe.runIf(requireRoot("proof sane", ["ip", "nft", "sshd", "saned", "scanimage", "conntrack", "ss"]))(
  "proof: SANE (saned + scanimage) through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let none: ProofPolicy;
    let scoped: ProofPolicy;

    beforeAll(async () => {
      p = await createProofLab("proof-sane");
      const sources = [p.client.ipv4, p.client.ipv6];
      none = { exposures: [{ service: "ssh" }, { service: "sane", sources, dataPorts: `${DATA[0]}-${DATA[1]}` }] };
      scoped = {
        exposures: [
          { service: "ssh" },
          { service: "sane", sources, helper: "scoped", dataPorts: `${SCOPED_DATA[0]}-${SCOPED_DATA[1]}` },
        ],
      };
    }, 120_000);
    afterEach(async () => afterEachProof(p));
    afterAll(async () => destroyProofLab(p, "proof-sane"));

    async function scanOk(saned: SanedHandle, ipv6: boolean, range: [number, number]): Promise<void> {
      const before = saned.dataPortsUsed().length;
      const r = await scanimage(p.client, p.server, { ipv6 });
      expect(r.error, `scan over ${ipv6 ? "IPv6" : "IPv4"}`).toBeNull();
      expect(r.format).toBe("P5");
      expect(r.bytes).toBe(1554);
      const used = saned.dataPortsUsed().slice(before);
      expect(used.length).toBe(1);
      expect(inRange(used[0]!, range), `data port ${used[0]}`).toBe(true);
    }

    async function scanFails(saned: SanedHandle, ipv6: boolean, expectAnnounced: boolean): Promise<string> {
      const before = saned.dataPortsUsed().length;
      const r = await scanimage(p.client, p.server, { ipv6, timeoutMs: 15_000 });
      expect(r.ok).toBe(false);
      expect(r.bytes < 100).toBe(true);
      const used = saned.dataPortsUsed().slice(before);
      if (expectAnnounced) expect(used.length, "saned announced a data port (control worked)").toBe(1);
      else expect(used).toEqual([]);
      return `${ipv6 ? "IPv6" : "IPv4"}: ${expectAnnounced ? `data port ${used[0]} announced, ` : ""}scanimage: ${r.error!.split("\n").pop()}`;
    }

    it("helper none: scans over IPv4 and IPv6 through the declared data range; the attacker is filtered", async () => {
      await applyToServer(p, none);
      const v4 = await startSaned(p.server, { dataPorts: DATA });
      const v6 = await startSaned(p.server, { dataPorts: DATA, ipv6: true });
      try {
        const before = await expectStats(p.server);
        await scanOk(v4, false, DATA);
        await scanOk(v6, true, DATA);
        expect(await expectStats(p.server), "no helper: no expectation").toEqual(before);

        // a source that is not admitted: control and data range filtered; the client gets through
        const data4 = await tcpListener(p.server, DATA[0] + 5);
        for (const addr of [p.server.ipv4, p.server.ipv6]) {
          expect((await tcpProbe(p.attacker, addr, SANE_PORT, 1000)).state).toBe("filtered");
        }
        expect((await tcpProbe(p.attacker, p.server.ipv4, data4.port, 1000)).state).toBe("filtered");
        expect((await tcpProbe(p.client, p.server.ipv4, data4.port, 1000)).state).toBe("open");
        await data4.stop();

        await negativeControl(p, {
          test: "SANE scan data (helper none), IPv4+IPv6",
          policy: none,
          comment: "sane: scan data",
          fails: async () => (await Promise.all([scanFails(v4, false, true), scanFails(v6, true, true)])).join("; "),
          works: async () => {
            await scanOk(v4, false, DATA);
            await scanOk(v6, true, DATA);
          },
        });
        await negativeControl(p, {
          test: "SANE control tcp/6566 (helper none), IPv4+IPv6",
          policy: none,
          comment: "sane: control",
          fails: async () => (await Promise.all([scanFails(v4, false, false), scanFails(v6, true, false)])).join("; "),
          works: async () => {
            await scanOk(v4, false, DATA);
            await scanOk(v6, true, DATA);
          },
        });
      } finally {
        await v4.stop();
        await v6.stop();
      }
    }, 180_000);

    it("helper scoped: the sane helper expects the data connection, IPv4 and IPv6; nothing else opens the range", async () => {
      const applied = await applyToServer(p, scoped);
      expect(applied.artefacts.nft).toMatch(/type "sane" protocol tcp/);
      const v4 = await startSaned(p.server, { dataPorts: SCOPED_DATA });
      const v6 = await startSaned(p.server, { dataPorts: SCOPED_DATA, ipv6: true });
      try {
        const s0 = await expectStats(p.server);
        await scanOk(v4, false, SCOPED_DATA);
        await scanOk(v6, true, SCOPED_DATA);
        const s1 = await expectStats(p.server);
        expect(s1.create - s0.create, "one expectation per scan").toBeGreaterThanOrEqual(2);
        expect(s1.matched - s0.matched, "each data connection matched its expectation").toBe(2);
        const ct = (await p.server.sh(`conntrack -L -p tcp --dport ${SANE_PORT} 2>/dev/null`)).stdout
          .trim()
          .split("\n");
        expect(ct.length).toBeGreaterThanOrEqual(2);
        for (const l of ct) expect(l).toContain("helper=sane");

        // a data port no scan announced: no expectation, so filtered for the admitted client too
        const direct = await tcpListener(p.server, SCOPED_DATA[0] + 5);
        expect((await tcpProbe(p.client, p.server.ipv4, direct.port, 1000)).state).toBe("filtered");
        expect((await tcpProbe(p.attacker, p.server.ipv4, SANE_PORT, 1000)).state).toBe("filtered");
        expect(direct.accepted()).toEqual([]);
        await direct.stop();

        await negativeControl(p, {
          test: "SANE scan data (helper scoped), IPv4+IPv6",
          policy: scoped,
          comment: "sane: scan data, expected by helper sane",
          fails: async () => {
            const a = await expectStats(p.server);
            const observed = (await Promise.all([scanFails(v4, false, true), scanFails(v6, true, true)])).join("; ");
            const b = await expectStats(p.server);
            expect(b.create, "the helper still expects the data connections").toBeGreaterThan(a.create);
            return `${observed} (expectations created +${b.create - a.create}, matched +${b.matched - a.matched})`;
          },
          works: async () => {
            await scanOk(v4, false, SCOPED_DATA);
            await scanOk(v6, true, SCOPED_DATA);
          },
        });
      } finally {
        await v4.stop();
        await v6.stop();
      }
    }, 180_000);
  },
);
