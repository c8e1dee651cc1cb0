/**
 * The real-peer kit (test/support/peers/) proves itself on a lab of three hosts with NO
 * firewall: every server answers a real client, media flows, GRE passes, a scan sees an open
 * listener. Then the project's headline regression pair: the ftp-helper exploit of
 * conntrack.md section 5 succeeds against the vulnerable baseline (blanket related accept) and
 * fails once that line is `ct state established accept`. Plus the TFTP finding (which side needs
 * an inbound rule when output is accepted).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLab, type Lab, type LabHost } from "../support/lab";
import {
  baselineVulnerableRuleset,
  ftpFetch,
  ftpHelperExploit,
  greTunnel,
  leftoverPeerPids,
  nftDeleteTable,
  nftLoad,
  runSippUac,
  scan,
  sendUdp,
  startSippUas,
  startTftpd,
  startVsftpd,
  stopAllPeers,
  tcpListener,
  tcpProbe,
  tftpFetch,
  udpEchoListener,
  udpProbe,
} from "../support/peers";
import { requireRoot } from "../support/privileges";

const TABLE = "hnftpeers";
const PASV: [number, number] = [50000, 50009];
const TFTP_RANGE: [number, number] = [50100, 50109];
const RTP: [number, number] = [10000, 10009];

const inRange = (p: number, [a, b]: [number, number]): boolean => p >= a && p <= b;

describe.runIf(
  requireRoot("peers", [
    "ip",
    "nft",
    "vsftpd",
    "sipp",
    "in.tftpd",
    "tftp",
    "curl",
    "conntrack",
    "ss",
    "/usr/bin/python3",
  ]),
)("real peers on a 3-host lab without firewall", () => {
  let lab: Lab;
  let server: LabHost;
  let client: LabHost;
  let attacker: LabHost;

  beforeAll(async () => {
    lab = await createLab({ hosts: 3, label: "peers" });
    [server, client, attacker] = lab.hosts as [LabHost, LabHost, LabHost];
  }, 120_000);

  afterEach(async () => {
    // every test stops its own handles; nothing may survive
    const left = leftoverPeerPids();
    await stopAllPeers();
    expect(left).toEqual([]);
    for (const h of lab.hosts) await nftDeleteTable(h, TABLE);
  });

  afterAll(async () => {
    await stopAllPeers();
    await lab?.destroy();
  });

  it("vsftpd: passive LIST + RETR over IPv4 (EPSV and PASV) and IPv6, data ports inside pasv_min/max", async () => {
    const v4 = await startVsftpd(server, { pasvMin: PASV[0], pasvMax: PASV[1] });
    const v6 = await startVsftpd(server, { pasvMin: PASV[0], pasvMax: PASV[1], ipv6: true });
    try {
      for (const [h, ipv6, extended] of [
        [v4, false, true],
        [v4, false, false],
        [v6, true, true],
      ] as const) {
        const r = await ftpFetch(client, server, { file: h.file.name, ipv6, extended });
        expect(r.error).toBeNull();
        expect(r.ok).toBe(true);
        expect(r.listing).toContain(h.file.name);
        expect(r.bytes).toBe(h.file.size);
        expect(r.sha256).toBe(h.file.sha256);
        expect(r.dataPorts.length).toBe(2); // LIST + RETR
        for (const p of r.dataPorts) expect(inRange(p, PASV), `data port ${p}`).toBe(true);
      }
    } finally {
      await v4.stop();
      await v6.stop();
    }
  }, 60_000);

  it("vsftpd: active mode (PORT and EPRT), client data port pinned", async () => {
    const v4 = await startVsftpd(server, { pasvMin: PASV[0], pasvMax: PASV[1] });
    try {
      for (const extended of [false, true]) {
        const r = await ftpFetch(client, server, {
          file: v4.file.name,
          passive: false,
          extended,
          activePortRange: [40000, 40009],
        });
        expect(r.error).toBeNull();
        expect(r.sha256).toBe(v4.file.sha256);
        expect(r.dataPorts.length).toBe(2);
        for (const p of r.dataPorts) expect(inRange(p, [40000, 40009])).toBe(true);
      }
    } finally {
      await v4.stop();
    }
  }, 60_000);

  it("tftpd-hpa: fetch over IPv4 and IPv6; a missing file is an error, not an empty success", async () => {
    const t4 = await startTftpd(server, { portRange: TFTP_RANGE });
    const t6 = await startTftpd(server, { portRange: TFTP_RANGE, ipv6: true });
    try {
      for (const [h, ipv6] of [
        [t4, false],
        [t6, true],
      ] as const) {
        const r = await tftpFetch(client, server, h.file.name, { ipv6 });
        expect(r.error).toBeNull();
        expect(r.bytes).toBe(h.file.size);
        expect(r.sha256).toBe(h.file.sha256);
      }
      const missing = await tftpFetch(client, server, "no-such-file");
      expect(missing.ok).toBe(false);
      expect(missing.error).toMatch(/File not found/);
    } finally {
      await t4.stop();
      await t6.stop();
    }
  }, 60_000);

  it("TFTP finding: server with output accepted needs only udp/69 in (v4+v6); an established-only client needs the server's range", async () => {
    const t4 = await startTftpd(server, { portRange: TFTP_RANGE });
    const t6 = await startTftpd(server, { portRange: TFTP_RANGE, ipv6: true });
    const base = (extra: string): string => `table inet ${TABLE}
delete table inet ${TABLE}
table inet ${TABLE} {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established accept
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
    tcp dport 22 accept
${extra}
  }
  chain output {
    type filter hook output priority filter; policy accept;
  }
}
`;
    try {
      // server side: inbound only udp/69 and established
      await nftLoad(server, base("    udp dport 69 accept"));
      for (const [h, ipv6] of [
        [t4, false],
        [t6, true],
      ] as const) {
        const r = await tftpFetch(client, server, h.file.name, { ipv6 });
        expect(r.error, `server-side firewall, ipv6=${ipv6}`).toBeNull();
        expect(r.sha256).toBe(h.file.sha256);
      }
      const ct = (await server.sh("conntrack -L -p udp 2>/dev/null", { allowFail: true })).stdout;
      // the data flows were created by the server (original direction server:P -> client), P in the range
      const dataFlows = [...ct.matchAll(/^udp\s+17\s+\d+\s+src=(\S+) dst=\S+ sport=(\d+) dport=\d+ src=/gm)].filter(
        (m) => m[1] === server.ipv4 || m[1] === server.ipv6,
      );
      // one per transfer (more only if a slow first DATA made the client retransmit its RRQ)
      expect(dataFlows.map((m) => m[1]).sort()).toEqual(expect.arrayContaining([server.ipv4, server.ipv6]));
      for (const m of dataFlows) expect(inRange(Number(m[2]), TFTP_RANGE), `server source port ${m[2]}`).toBe(true);
      await nftDeleteTable(server, TABLE);

      // client side: established only -> the DATA from server:P is NEW for the client, dropped
      await nftLoad(client, base(""));
      for (const ipv6 of [false, true]) {
        const r = await tftpFetch(client, server, t4.file.name, { ipv6, timeoutSec: 2 });
        expect(r.ok, `client established-only, ipv6=${ipv6}`).toBe(false);
        expect(r.error).toMatch(/timed out/);
      }
      // ... and passes once the server's port range is accepted from the server
      await nftLoad(
        client,
        base(
          `    ip saddr ${server.ipv4} udp sport ${TFTP_RANGE[0]}-${TFTP_RANGE[1]} accept\n    ip6 saddr ${server.ipv6} udp sport ${TFTP_RANGE[0]}-${TFTP_RANGE[1]} accept`,
        ),
      );
      for (const ipv6 of [false, true]) {
        const r = await tftpFetch(client, server, t4.file.name, { ipv6 });
        expect(r.error, `client with server range, ipv6=${ipv6}`).toBeNull();
      }
    } finally {
      await nftDeleteTable(server, TABLE);
      await nftDeleteTable(client, TABLE);
      await t4.stop();
      await t6.stop();
    }
  }, 90_000);

  it("sipp: a real call with RTP over UDP/IPv4 and TCP/IPv6; without RTP no media is reported", async () => {
    const u4 = await startSippUas(server, { rtpMin: RTP[0], rtpMax: RTP[1] });
    try {
      const call = await runSippUac(client, server, { rtp: true });
      expect(call.completed, call.output).toBe(true);
      expect(call.mediaFlowed, call.output).toBe(true);
      expect(call.echoedBytes).toBeGreaterThan(1000);
      const silent = await runSippUac(client, server, { rtp: false });
      expect(silent.completed, silent.output).toBe(true);
      expect(silent.mediaFlowed).toBe(false);
    } finally {
      await u4.stop();
    }
    const t6 = await startSippUas(server, { rtpMin: RTP[0], rtpMax: RTP[1], transport: "t1", ipv6: true });
    try {
      const call = await runSippUac(client, server, { transport: "t1", ipv6: true });
      expect(call.completed, call.output).toBe(true);
      expect(call.mediaFlowed, call.output).toBe(true);
    } finally {
      await t6.stop();
    }
  }, 60_000);

  it("udp: sendUdp gets its echo from udpEchoListener (v4, v6); a port without listener is closed", async () => {
    const e4 = await udpEchoListener(server, 12000);
    const e6 = await udpEchoListener(server, 12000, { ipv6: true });
    try {
      const r4 = await sendUdp(client, server, 12000, "media-v4");
      expect(r4.reply).toBe("media-v4");
      const r6 = await sendUdp(client, server, 12000, "media-v6", { ipv6: true, sourcePort: 12001 });
      expect(r6.reply).toBe("media-v6");
      expect(r6.localPort).toBe(12001);
      expect(e4.received()).toEqual([{ from: client.ipv4, port: r4.localPort, bytes: 8 }]);
      expect(e6.received()).toEqual([{ from: client.ipv6, port: 12001, bytes: 8 }]);
      const none = await sendUdp(client, server, 12002, "nobody");
      expect(none.reply).toBeNull();
      expect(none.refused).toBe(true);
    } finally {
      await e4.stop();
      await e6.stop();
    }
  }, 30_000);

  it("GRE (ip protocol 47): a ping through a tunnel between two hosts", async () => {
    const gre = await greTunnel(server, client);
    try {
      const r = await gre.ping(3, 1000);
      expect(r).toEqual({ sent: 3, received: 3 });
      console.info(`GRE mode: ${gre.mode}${gre.kernelUnavailable ? ` (kernel: ${gre.kernelUnavailable})` : ""}`);
    } finally {
      await gre.stop();
    }
    expect((await server.sh("ip link show hnftgre0", { allowFail: true })).code).not.toBe(0);
  }, 30_000);

  it("scan: an open listener shows open, other ports closed (v4 and v6), single probes agree", async () => {
    const l4 = await tcpListener(server, 8080);
    const l6 = await tcpListener(server, 8443, { ipv6: true });
    const u = await udpEchoListener(server, 5353);
    try {
      const s4 = await scan(client, server.ipv4, { tcp: [22, 8080, 8443, 9], udp: [5353, 5354] });
      expect(s4).toEqual({
        tcp: { 22: "open", 8080: "open", 8443: "closed", 9: "closed" },
        udp: { 5353: "open", 5354: "closed" },
      });
      const s6 = await scan(client, server.ipv6, { tcp: [22, 8080, 8443], udp: [5353] });
      expect(s6).toEqual({ tcp: { 22: "open", 8080: "closed", 8443: "open" }, udp: { 5353: "closed" } });
      const p = await tcpProbe(client, server.ipv4, 8080);
      expect(p.state).toBe("open");
      expect(p.banner).toContain(l4.banner);
      expect(l4.accepted().map((a) => a.from)).toContain(client.ipv4);
      expect((await udpProbe(client, server.ipv4, 5353)).state).toBe("open");
      expect((await udpProbe(client, server.ipv4, 5354)).state).toBe("closed");
    } finally {
      await l4.stop();
      await l6.stop();
      await u.stop();
    }
  }, 30_000);

  it("ftp helper exploit: SUCCEEDS against the vulnerable baseline (blanket related accept)", async () => {
    await nftLoad(server, baselineVulnerableRuleset(TABLE));
    const r = await ftpHelperExploit(server, attacker, { victimListenPort: 3306 });
    expect(r.attackerSaw).toContain("USER anonymous");
    expect(r.attackerSaw.some((l) => l.startsWith(`PORT ${server.ipv4.replace(/\./g, ",")},12,234`))).toBe(true);
    expect(r.expectationCreated, r.expectations).toBe(true);
    expect(r.attackerConnected, JSON.stringify(r.probe)).toBe(true);
    // control: the same port is closed to the attacker without the trick (nothing opens 3306)
    const db = await tcpListener(server, 3306);
    try {
      expect((await tcpProbe(attacker, server.ipv4, 3306, 1500)).state).toBe("filtered");
    } finally {
      await db.stop();
    }
  }, 60_000);

  it("ftp helper exploit: FAILS once the related accept is `ct state established accept`", async () => {
    const fixed = baselineVulnerableRuleset(TABLE, { blanketRelated: false });
    expect(fixed).toContain("ct state established accept");
    expect(fixed).not.toMatch(/related/);
    // exactly one line differs from the vulnerable baseline
    const a = baselineVulnerableRuleset(TABLE).split("\n");
    const b = fixed.split("\n");
    expect(a.filter((l, i) => l !== b[i])).toEqual(["    ct state established,related accept"]);
    await nftLoad(server, fixed);
    const r = await ftpHelperExploit(server, attacker, { victimListenPort: 3306 });
    // the helper still sees the PORT command and creates the expectation ...
    expect(r.expectationCreated, r.expectations).toBe(true);
    // ... but nothing accepts the related connection
    expect(r.attackerConnected).toBe(false);
    expect(r.probe.state).toBe("filtered");
  }, 60_000);

  it("ftp helper exploit, control: no helper assigned -> no expectation, attacker refused even with the blanket related accept", async () => {
    const noHelper = baselineVulnerableRuleset(TABLE, { assignHelper: false });
    expect(noHelper).not.toMatch(/ct helper set/);
    await nftLoad(server, noHelper);
    const r = await ftpHelperExploit(server, attacker, { victimListenPort: 3306 });
    expect(r.attackerSaw.some((l) => l.startsWith("PORT "))).toBe(true);
    expect(r.expectationCreated, r.expectations).toBe(false);
    expect(r.attackerConnected).toBe(false);
  }, 60_000);
});
