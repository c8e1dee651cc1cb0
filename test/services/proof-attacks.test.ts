/**
 * Proof (issue #5): what an attacker host gets from the server when the RENDERED table is
 * APPLIED THROUGH THE HOST API: the FTP helper exploit of conntrack.md section 5, a sampled TCP and
 * UDP scan, and source restrictions. The client is the legitimate peer, the attacker any other
 * host on the same network.
 *
 * What is proved:
 * - the FTP helper exploit (the victim's process connects out to the attacker's tcp/21 and, after
 *   one earlier line, sends `PORT <victim>,12,234`): against the vulnerable baseline (ftp helper on
 *   outbound tcp/21 + blanket `ct state established,related accept`) the helper creates the
 *   expectation and the attacker reaches a fake database on tcp/3306 that no rule opens. Against
 *   the table the project renders for an ftp exposure, with helper "none" and with helper "scoped",
 *   it fails: no helper is attached to the outbound connection, so no expectation, and the
 *   attacker's SYN to 3306 is dropped. Defence in depth: even with an ftp helper attached to
 *   outbound tcp/21 by ANOTHER table (the expectation is created), the rendered table still drops
 *   the related connection, because it accepts related traffic only for ICMP errors and, when
 *   scoped, for the declared passive range;
 * - a scan from the attacker (200 TCP + 50 UDP ports over IPv4, including 3306, 5432, 6379, 8080,
 *   11211, 53, 161; a smaller sample over IPv6): every undeclared port is closed or filtered
 *   (all filtered: the input policy is drop), the undeclared listeners (fake databases on
 *   3306/5432/6379/8080/11211, udp echo on 53/161/11211) see no connection or datagram, and the
 *   declared ones (ssh, http on tcp/80, ntp on udp/123) answer;
 * - sources: ssh limited to the test process and the client, and a custom tcp/9000 limited to
 *   the client's /32 and /128, admit the client (IPv4 and IPv6) and refuse the attacker.
 *
 * Negative controls (rule removed from the live table -> observed failure; then re-applied
 * through the host API, which reports a change, and it works again):
 * - scan: removed `tcp dport 80 accept comment "http: web requests"` -> tcp/80 shows filtered to the
 *   attacker's scan over IPv4 and IPv6, the listener sees nothing.
 * - sources: removed `ip saddr @admin_v4 tcp dport 9000 accept` and `ip6 saddr @admin_v6 tcp dport
 *   9000 accept` (comment "admin: ports") -> the client's connection to tcp/9000 is filtered over
 *   IPv4 and IPv6.
 * - exploit (the control runs the other way: the fix is a rule that is absent): with the other
 *   table's helper attached, inserting `ct state related accept` into the rendered input chain lets
 *   the attacker reach tcp/3306 (exploit succeeds); re-applied through the host API, refused again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  baselineVulnerableRuleset,
  type ExploitResult,
  ftpHelperExploit,
  nftDeleteTable,
  nftLoad,
  type PeerHandle,
  type ScanResult,
  scan,
  type TcpListenerHandle,
  tcpListener,
  type UdpEchoHandle,
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
  samplePorts,
} from "../support/proof";

const BASELINE_TABLE = "hnftbaseline";
const FOREIGN_TABLE = "hnftforeign";
const DB_PORT = 3306;

const ftpPolicy = (helper: "none" | "scoped"): ProofPolicy => ({
  exposures: [{ service: "ssh" }, { service: "ftp", helper, passivePorts: "50000-50009" }],
});

/** Another table on the victim that attaches the ftp helper to outbound tcp/21 and filters nothing. */
const FOREIGN_HELPER = `table inet ${FOREIGN_TABLE}
delete table inet ${FOREIGN_TABLE}
table inet ${FOREIGN_TABLE} {
  ct helper ftp-out {
    type "ftp" protocol tcp
    l3proto ip
  }
  chain output {
    type filter hook output priority filter; policy accept;
    tcp dport 21 ct helper set "ftp-out"
  }
}
`;

const TCP_COMMON = [
  21, 23, 25, 53, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 993, 995, 1433, 1521, 1723, 2049, 2121, 2375, 3306,
  3389, 5060, 5432, 5900, 5984, 6379, 6443, 8000, 8080, 8443, 8888, 9000, 9200, 9300, 11211, 27017, 50000, 50005,
];
const UDP_COMMON = [53, 67, 69, 111, 137, 161, 500, 514, 1194, 1900, 4500, 5060, 5353, 8888, 10000, 11211, 51820];
const DECLARED_TCP = [22, 80];
const DECLARED_UDP = [123];
const SCAN_POLICY: ProofPolicy = { exposures: [{ service: "ssh" }, { service: "http" }, { service: "ntp" }] };

describe.runIf(requireRoot("proof attacks", ["ip", "nft", "sshd", "vsftpd", "sipp", "in.tftpd", "conntrack"]))(
  "proof: attacks against the rendered table applied over SSH",
  () => {
    let p: ProofLab;

    beforeAll(async () => {
      p = await createProofLab("proof-attacks");
    }, 120_000);
    afterEach(async () => afterEachProof(p, [BASELINE_TABLE, FOREIGN_TABLE]));
    afterAll(async () => destroyProofLab(p, "proof-attacks"));

    const exploit = (connectTimeoutMs = 1500): Promise<ExploitResult> =>
      ftpHelperExploit(p.server, p.attacker, { victimListenPort: DB_PORT, connectTimeoutMs });

    function expectRefused(r: ExploitResult, why: string): void {
      expect(
        r.attackerSaw.some((l) => l.startsWith("PORT ")),
        `${why}: the PORT line was sent`,
      ).toBe(true);
      expect(r.attackerConnected, `${why}: ${JSON.stringify(r.probe)}`).toBe(false);
      expect(r.probe.state, why).toBe("filtered");
    }

    it("FTP helper exploit: succeeds against the vulnerable baseline, fails against the rendered table (helper none and scoped), even with a helper attached by another table", async () => {
      // the baseline alone on the victim (an earlier test may have left the project's table)
      await nftDeleteTable(p.server, PROOF_TABLE);
      await nftLoad(p.server, baselineVulnerableRuleset(BASELINE_TABLE));
      const base = await exploit(3000);
      expect(base.expectationCreated, base.expectations).toBe(true);
      expect(base.attackerConnected, JSON.stringify(base.probe)).toBe(true);
      await nftDeleteTable(p.server, BASELINE_TABLE);

      for (const helper of ["none", "scoped"] as const) {
        const applied = await applyToServer(p, ftpPolicy(helper));
        expect(applied.changed).toBe(true);
        expect(applied.artefacts.nft).not.toMatch(/ct state (established,)?related accept/);
        const r = await exploit();
        expect(r.expectationCreated, `helper ${helper}: no helper on the outbound connection\n${r.expectations}`).toBe(
          false,
        );
        expectRefused(r, `helper ${helper}`);

        // defence in depth: another table attaches the ftp helper to outbound tcp/21
        await nftLoad(p.server, FOREIGN_HELPER);
        const f = await exploit();
        expect(f.expectationCreated, `helper ${helper}: the other table's helper expects it\n${f.expectations}`).toBe(
          true,
        );
        expectRefused(f, `helper ${helper}, foreign helper`);
        if (helper === "none") await nftDeleteTable(p.server, FOREIGN_TABLE);
      }

      // control: the blanket related accept, added to the rendered table, is what the exploit needs
      await p.server.sh(
        `nft insert rule inet ${PROOF_TABLE} input ct state related accept comment '"proof: blanket related accept"'`,
      );
      const open = await exploit(3000);
      expect(open.expectationCreated).toBe(true);
      expect(open.attackerConnected, JSON.stringify(open.probe)).toBe(true);
      const again = await applyToServer(p, ftpPolicy("scoped"));
      expect(again.changed).toBe(true);
      const closed = await exploit();
      expect(closed.expectationCreated).toBe(true);
      expectRefused(closed, "after the re-apply");
      p.controls.push({
        test: "FTP helper exploit (foreign helper attached, helper scoped)",
        change: "added `ct state related accept` to the rendered input chain",
        observed: `the attacker reached tcp/${DB_PORT} (banner read); re-applied via the host API: ${closed.probe.state} again`,
      });
    }, 120_000);

    it("scan from the attacker: every undeclared TCP/UDP port closed or filtered, undeclared listeners unreachable, declared ones answer", async () => {
      const applied = await applyToServer(p, SCAN_POLICY);
      const handles: PeerHandle[] = [];
      try {
        const undeclaredTcp: TcpListenerHandle[] = await Promise.all([
          ...[3306, 5432, 6379, 8080, 11211].map((port) => tcpListener(p.server, port, { banner: `FAKE-DB-${port}` })),
          tcpListener(p.server, 3306, { ipv6: true }),
          tcpListener(p.server, 5432, { ipv6: true }),
        ]);
        const undeclaredUdp: UdpEchoHandle[] = await Promise.all([
          ...[53, 161, 11211].map((port) => udpEchoListener(p.server, port)),
          udpEchoListener(p.server, 53, { ipv6: true }),
        ]);
        const [http4, http6] = await Promise.all([
          tcpListener(p.server, 80, { banner: "HTTP-DECLARED" }),
          tcpListener(p.server, 80, { ipv6: true, banner: "HTTP-DECLARED" }),
        ]);
        const [ntp4, ntp6] = await Promise.all([
          udpEchoListener(p.server, 123),
          udpEchoListener(p.server, 123, { ipv6: true }),
        ]);
        handles.push(...undeclaredTcp, ...undeclaredUdp, http4, http6, ntp4, ntp6);

        const tcp4 = samplePorts([...TCP_COMMON, ...DECLARED_TCP], 200, 0x5eed);
        const udp4 = samplePorts([...UDP_COMMON, ...DECLARED_UDP], 50, 0xbeef);
        const tcp6 = samplePorts([22, 80, 3306, 5432, 6379, 8080], 40, 0xcafe);
        const udp6 = samplePorts([53, 123, 161], 10, 0xf00d);
        const [s4, s6] = await Promise.all([
          scan(p.attacker, p.server.ipv4, { tcp: tcp4, udp: udp4, timeoutMs: 700 }),
          scan(p.attacker, p.server.ipv6, { tcp: tcp6, udp: udp6, timeoutMs: 700 }),
        ]);

        for (const [s, tcp, udp, fam] of [
          [s4, tcp4, udp4, "IPv4"],
          [s6, tcp6, udp6, "IPv6"],
        ] as const) {
          expect(Object.keys(s.tcp).length).toBe(tcp.length);
          expect(Object.keys(s.udp).length).toBe(udp.length);
          for (const port of tcp) {
            const want = DECLARED_TCP.includes(port) ? "open" : "filtered";
            expect(s.tcp[port], `${fam} tcp/${port}`).toBe(want);
          }
          for (const port of udp) {
            const want = DECLARED_UDP.includes(port) ? "open" : "filtered";
            expect(s.udp[port], `${fam} udp/${port}`).toBe(want);
          }
        }
        for (const h of undeclaredTcp) expect(h.accepted(), `listener tcp/${h.port} ${h.address}`).toEqual([]);
        for (const h of undeclaredUdp) expect(h.received(), `listener udp/${h.port} ${h.address}`).toEqual([]);
        expect(http4.accepted().map((a) => a.from)).toContain(p.attacker.ipv4);
        expect(http6.accepted().map((a) => a.from)).toContain(p.attacker.ipv6);
        expect(applied.artefacts.ruleLines.some((l) => /3306|5432|6379|8080|11211/.test(l))).toBe(false);

        await negativeControl(p, {
          test: "scan: declared http listener",
          policy: SCAN_POLICY,
          comment: "http: web requests",
          fails: async () => {
            const before = http4.accepted().length + http6.accepted().length;
            const [f4, f6] = await Promise.all([
              scan(p.attacker, p.server.ipv4, { tcp: [22, 80], timeoutMs: 700 }),
              scan(p.attacker, p.server.ipv6, { tcp: [22, 80], timeoutMs: 700 }),
            ]);
            expect(f4.tcp).toEqual({ 22: "open", 80: "filtered" });
            expect(f6.tcp).toEqual({ 22: "open", 80: "filtered" });
            expect(http4.accepted().length + http6.accepted().length).toBe(before);
            return `tcp/80 ${f4.tcp[80]} over IPv4 and ${f6.tcp[80]} over IPv6 (tcp/22 still open); the listener saw no connection`;
          },
          works: async () => {
            const [w4, w6] = await Promise.all([
              scan(p.attacker, p.server.ipv4, { tcp: [80] }),
              scan(p.attacker, p.server.ipv6, { tcp: [80] }),
            ]);
            expect([w4.tcp, w6.tcp]).toEqual([{ 80: "open" }, { 80: "open" }]);
          },
        });
        const counts = (r: Record<number, string>): Record<string, number> =>
          Object.values(r).reduce<Record<string, number>>((acc, st) => {
            acc[st] = (acc[st] ?? 0) + 1;
            return acc;
          }, {});
        console.info(
          `proof-attacks scan: IPv4 tcp ${JSON.stringify(counts(s4.tcp))} udp ${JSON.stringify(counts(s4.udp))}; IPv6 tcp ${JSON.stringify(counts(s6.tcp))} udp ${JSON.stringify(counts(s6.udp))}`,
        );
      } finally {
        for (const h of handles) await h.stop();
      }
    }, 120_000);

    it("sources: ssh and a custom port limited to the client admit the client and refuse the attacker (IPv4 and IPv6)", async () => {
      const policy: ProofPolicy = {
        exposures: [
          { service: "ssh", sources: [`${p.lab.controllerIpv4}/32`, `${p.client.ipv4}/32`, `${p.client.ipv6}/128`] },
          { name: "admin", protocol: "tcp", ports: 9000, sources: [`${p.client.ipv4}/32`, `${p.client.ipv6}/128`] },
        ],
      };
      // the apply itself proves the test process (the controller) still gets in over SSH
      const applied = await applyToServer(p, policy);
      expect(applied.changed).toBe(true);
      const [admin4, admin6] = await Promise.all([
        tcpListener(p.server, 9000, { banner: "ADMIN" }),
        tcpListener(p.server, 9000, { ipv6: true, banner: "ADMIN" }),
      ]);
      try {
        /** tcp/22 and tcp/9000 of the server as `from` sees them: [IPv4, IPv6] */
        const reach = (from: "client" | "attacker"): Promise<ScanResult[]> =>
          Promise.all(
            [p.server.ipv4, p.server.ipv6].map((addr) => scan(p[from], addr, { tcp: [22, 9000], timeoutMs: 1000 })),
          );
        const clientOk = async (): Promise<void> => {
          const [v4, v6] = await reach("client");
          expect([v4!.tcp, v6!.tcp], "client: tcp/22 and tcp/9000 over IPv4 and IPv6").toEqual([
            { 22: "open", 9000: "open" },
            { 22: "open", 9000: "open" },
          ]);
        };
        await clientOk();
        const [a4, a6] = await reach("attacker");
        expect([a4!.tcp, a6!.tcp], "attacker: tcp/22 and tcp/9000 over IPv4 and IPv6").toEqual([
          { 22: "filtered", 9000: "filtered" },
          { 22: "filtered", 9000: "filtered" },
        ]);
        expect(admin4.accepted().map((a) => a.from)).toEqual([p.client.ipv4]);
        expect(admin6.accepted().map((a) => a.from)).toEqual([p.client.ipv6]);

        await negativeControl(p, {
          test: "sources: tcp/9000 limited to the client (IPv4+IPv6)",
          policy,
          comment: "admin: ports",
          fails: async () => {
            const [v4, v6] = await reach("client");
            expect([v4!.tcp, v6!.tcp]).toEqual([
              { 22: "open", 9000: "filtered" },
              { 22: "open", 9000: "filtered" },
            ]);
            return `the client's tcp/9000 ${v4!.tcp[9000]} over IPv4 and ${v6!.tcp[9000]} over IPv6 (its tcp/22 still open)`;
          },
          works: clientOk,
        });
      } finally {
        await admin4.stop();
        await admin6.stop();
      }
    }, 90_000);
  },
);
