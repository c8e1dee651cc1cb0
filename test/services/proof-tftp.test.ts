/**
 * Proof (issue #5): TFTP through the RENDERED table, APPLIED THROUGH THE HOST API, with real peers
 * (tftpd-hpa on the server with `--port-range` = the declared dataPorts, the tftp-hpa client on the
 * client host, which has no firewall). No conntrack helper is assigned (kernel >= 6.0: never
 * automatically; helper "none" here).
 *
 * Policy: ssh; tftp with dataPorts 50200-50209; once with output accepted (the default) and once
 * with `output.policy: drop`.
 *
 * What is proved:
 * - a real fetch works over IPv4 and IPv6 and the server's transfer port is inside the declared
 *   range (conntrack shows the data flow the server originated from that range);
 * - the server needs NO inbound data rule (the peer kit's finding): the rendered input chain
 *   opens only udp/69 for TFTP, and the data range is not reachable from the attacker;
 * - with outbound traffic restricted, the rendered output rule for the data range is what lets
 *   the transfer out.
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied
 * through the host API, which reports a change, and the fetch works again):
 * - TFTP (output accepted): removed `udp dport 69 accept comment "tftp: requests"` -> the read
 *   request is dropped: tftp prints `Transfer timed out.` over IPv4 and IPv6, nothing received.
 * - TFTP (output drop): removed (chain output) `udp sport 50200-50209 accept comment "tftp:
 *   transfer sent by the server"` -> the RRQ still reaches tftpd (udp/69 is open) but its first
 *   DATA packet, a new outbound flow from the data range, is dropped: `Transfer timed out.` over
 *   IPv4 and IPv6.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { scan, startTftpd, type TftpdHandle, tftpFetch } from "../support/peers";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  liveComments,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const DATA: [number, number] = [50200, 50209];
const TFTP = { service: "tftp", dataPorts: `${DATA[0]}-${DATA[1]}` };
const POLICY: ProofPolicy = { exposures: [{ service: "ssh" }, TFTP] };
const POLICY_OUTPUT_DROP: ProofPolicy = { exposures: [{ service: "ssh" }, TFTP], output: { policy: "drop" } };

const inRange = (p: number, [a, b]: [number, number]): boolean => p >= a && p <= b;

describe.runIf(requireRoot("proof tftp", ["ip", "nft", "sshd", "vsftpd", "sipp", "in.tftpd", "tftp", "conntrack"]))(
  "proof: TFTP through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let t4: TftpdHandle;
    let t6: TftpdHandle;

    beforeAll(async () => {
      p = await createProofLab("proof-tftp");
    }, 120_000);
    afterEach(async () => afterEachProof(p));
    afterAll(async () => destroyProofLab(p, "proof-tftp"));

    async function servers(): Promise<void> {
      t4 = await startTftpd(p.server, { portRange: DATA });
      t6 = await startTftpd(p.server, { portRange: DATA, ipv6: true });
    }

    async function fetchOk(t: TftpdHandle): Promise<void> {
      const ipv6 = t.address === p.server.ipv6;
      const r = await tftpFetch(p.client, p.server, t.file.name, { ipv6 });
      expect(r.error, `IPv${ipv6 ? 6 : 4}\n${r.output}`).toBeNull();
      expect(r.bytes).toBe(t.file.size);
      expect(r.sha256).toBe(t.file.sha256);
    }

    async function fetchFails(t: TftpdHandle): Promise<string> {
      const ipv6 = t.address === p.server.ipv6;
      const r = await tftpFetch(p.client, p.server, t.file.name, { ipv6, timeoutSec: 2 });
      expect(r.ok, `IPv${ipv6 ? 6 : 4}`).toBe(false);
      expect(r.bytes).toBe(0);
      expect(r.error).toMatch(/timed out/);
      return `IPv${ipv6 ? 6 : 4}: ${r.error}`;
    }

    it("TFTP (output accepted): fetch over IPv4 and IPv6 from the declared range; no inbound data rule", async () => {
      const applied = await applyToServer(p, POLICY);
      expect(
        applied.artefacts.ruleLines.filter((l) => l.startsWith("chain input:") && l.includes(`${DATA[0]}-${DATA[1]}`)),
      ).toEqual([]);
      expect(await liveComments(p.server)).toContain("tftp: requests");
      await servers();
      try {
        await fetchOk(t4);
        await fetchOk(t6);
        // the data flows were originated by the server, from the declared range
        const ct = (await p.server.sh("conntrack -L -p udp 2>/dev/null")).stdout;
        const flows = [...ct.matchAll(/^udp\s+17\s+\d+\s+src=(\S+) dst=\S+ sport=(\d+) dport=\d+ /gm)].filter(
          (m) => m[1] === p.server.ipv4 || m[1] === p.server.ipv6,
        );
        expect(flows.map((m) => m[1])).toEqual(expect.arrayContaining([p.server.ipv4, p.server.ipv6]));
        for (const m of flows) expect(inRange(Number(m[2]), DATA), `server data port ${m[2]}`).toBe(true);
        // ... and the range is not open inbound (the attacker sees it filtered)
        const s = await scan(p.attacker, p.server.ipv4, { udp: [DATA[0], DATA[0] + 4, DATA[1]], timeoutMs: 700 });
        expect(Object.values(s.udp)).toEqual(["filtered", "filtered", "filtered"]);

        await negativeControl(p, {
          test: "TFTP (output accepted), IPv4+IPv6",
          policy: POLICY,
          comment: "tftp: requests",
          fails: async () => (await Promise.all([fetchFails(t4), fetchFails(t6)])).join("; "),
          works: async () => void (await Promise.all([fetchOk(t4), fetchOk(t6)])),
        });
      } finally {
        await t4.stop();
        await t6.stop();
      }
    }, 90_000);

    it("TFTP (output drop): the rendered output rule for the data range lets the transfer out, IPv4 and IPv6", async () => {
      const applied = await applyToServer(p, POLICY_OUTPUT_DROP);
      expect(applied.artefacts.rendered.chainPolicies.output).toBe("drop");
      expect(await liveComments(p.server, "output")).toContain("tftp: transfer sent by the server");
      await servers();
      try {
        await fetchOk(t4);
        await fetchOk(t6);
        await negativeControl(p, {
          test: "TFTP (output drop), IPv4+IPv6",
          policy: POLICY_OUTPUT_DROP,
          comment: "tftp: transfer sent by the server",
          chain: "output",
          fails: async () => {
            await p.server.sh("conntrack -F >/dev/null 2>&1; true");
            const observed = (await Promise.all([fetchFails(t4), fetchFails(t6)])).join("; ");
            // the right reason: the requests got in (udp/69 is open), only the server's DATA could not leave
            const ct = (await p.server.sh("conntrack -L -p udp 2>/dev/null")).stdout;
            for (const addr of [p.server.ipv4, p.server.ipv6])
              expect(ct).toMatch(new RegExp(`dst=${addr.replace(/\./g, "\\.")} sport=\\d+ dport=69 `));
            expect(ct).not.toMatch(
              new RegExp(`^udp\\s+17\\s+\\d+\\s+src=(${p.server.ipv4.replace(/\./g, "\\.")}|${p.server.ipv6}) `, "m"),
            );
            return `${observed} (the RRQs were accepted; no data flow left the server)`;
          },
          works: async () => void (await Promise.all([fetchOk(t4), fetchOk(t6)])),
        });
      } finally {
        await t4.stop();
        await t6.stop();
      }
    }, 90_000);
  },
);
