/**
 * Proof (issue 21): per-source limits of the RENDERED table APPLIED THROUGH THE HOST API, against
 * the lab server's real sshd.
 *
 * What is proved:
 * - brute force: the attacker runs real `ssh` login attempts in a loop (BatchMode, a user it has
 *   no key for: each attempt is a new connection that sshd refuses). With `limit: { rate:
 *   "6/minute", burst: 2 }` on ssh the first two reach sshd (`Permission denied`), most of the rest
 *   are dropped before it (the connection times out); meanwhile the client's new connections still
 *   get sshd's banner; after 11 s without attempts (one token every 10 s) the attacker's next
 *   attempt reaches sshd again. The limit rule's counter counts what it dropped.
 * - concurrent connections: with `connections: 2`, the attacker's third concurrent connection to
 *   tcp/22 is refused while its first two stay open, and the client connects meanwhile.
 * The test process (the controller) is exempt (exemptSources), as the docs tell a deployer to be.
 *
 * - reject on the wire: under `denied: "reject"` the attacker's ssh attempts over the limit are
 *   answered at once with a TCP reset (ssh: "Connection refused"), and its UDP datagrams over the
 *   limit of a UDP exposure with an ICMP administratively-prohibited error (a connected UDP socket
 *   gets EHOSTUNREACH; under the limit nothing listens, so the server's own port-unreachable
 *   gives ECONNREFUSED); the same policy under `denied: "drop"` lets them time out.
 *
 * Negative control: the over-limit rules deleted from the live table -> the attacker's attempts
 * all reach sshd; re-applied through the host API, refused again.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  deleteRuleByComment,
  destroyProofLab,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

/** One real ssh login attempt from `from`: "reached" when sshd answered, "dropped" when the connection timed out. */
const SSH_ATTEMPT = (target: string) =>
  `ssh -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR nobody@${target} true 2>&1; true`;

/** Whether tcp/22 of `target` answers with sshd's banner within 2 s (a new connection each call). */
const BANNER = (target: string) =>
  `timeout 2 bash -c 'exec 3<>/dev/tcp/${target}/22; head -c 7 <&3' 2>/dev/null || true`;

describe.runIf(requireRoot("proof limits", ["ip", "nft", "sshd", "ssh", "bash", "conntrack"]))(
  "proof: per-source limits applied over SSH",
  () => {
    let p: ProofLab;

    beforeAll(async () => {
      p = await createProofLab("proof-limits");
    }, 120_000);
    afterEach(async () => afterEachProof(p));
    afterAll(async () => destroyProofLab(p, "proof-limits"));

    const exempt = () => [p.lab.controllerIpv4, p.lab.controllerIpv6];
    const attempts = async (n: number): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = (await p.attacker.sh(SSH_ATTEMPT(p.server.ipv4), { allowFail: true })).stdout;
        out.push(
          /Permission denied/.test(r)
            ? "reached"
            : /timed out/i.test(r)
              ? "dropped"
              : /Connection refused/.test(r)
                ? "refused"
                : `other: ${r.trim()}`,
        );
      }
      return out;
    };
    /** The compiled CLI's `stats` for the server, as JSON (a sample file of this test's own). */
    const sampleFile = join(mkdtempSync(join(tmpdir(), "hnft-stats-")), "stats.json");
    const stats = (format = "json"): Promise<{ code: number; stdout: string }> =>
      new Promise((resolve) => {
        const args = [
          "stats",
          "--host",
          `root@${p.server.ipv4}`,
          "--identity",
          p.server.root.keyPath,
          "--host-key",
          p.server.hostKey,
          "--table",
          PROOF_TABLE,
          "--format",
          format,
          "--sample-file",
          sampleFile,
        ];
        execFile(
          process.execPath,
          [join(__dirname, "../../dist/cli/main.js"), ...args],
          { timeout: 60_000 },
          (err, stdout) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout }),
        );
      });
    const row = (json: string, kind: string, name: string) =>
      (
        JSON.parse(json) as {
          rows: { chain: string; kind: string; name: string; packets: number; packetRate?: number }[];
        }[]
      )[0]!.rows.find((r) => r.chain === "input" && r.kind === kind && r.name === name);
    const clientBanner = async () => (await p.client.sh(BANNER(p.server.ipv4), { allowFail: true })).stdout;
    const overLimitPackets = async (): Promise<number> => {
      const listing = (await p.server.sh(`nft list chain inet ${PROOF_TABLE} input`)).stdout;
      return listing
        .split("\n")
        .filter((l) => l.includes("over limit"))
        .reduce((sum, l) => sum + Number(/counter packets (\d+)/.exec(l)?.[1] ?? 0), 0);
    };

    it("brute force: after the burst the attacker's new connections are dropped, the client's still work, and after the period the attacker gets through again", async () => {
      const policy: ProofPolicy = {
        exposures: [{ service: "ssh", limit: { rate: "6/minute", burst: 2, exemptSources: exempt() } }],
      };
      expect((await applyToServer(p, policy)).changed).toBe(true);
      const before = await stats();
      expect(before.code).toBe(0);
      const acceptedBefore = row(before.stdout, "accept", "ssh")!.packets;
      const first = await attempts(8);
      console.info(`proof-limits brute force: ${JSON.stringify(first)}`);
      expect(first.slice(0, 2)).toEqual(["reached", "reached"]);
      const dropped = first.filter((r) => r === "dropped").length;
      expect(dropped).toBeGreaterThanOrEqual(4);
      expect(first.every((r) => r === "reached" || r === "dropped")).toBe(true);
      // the client is another source: its own bucket
      expect(await clientBanner()).toBe("SSH-2.0");
      // each dropped attempt is a SYN and its retransmissions: counted by the limit rule
      expect(await overLimitPackets()).toBeGreaterThanOrEqual(dropped);
      // stats counts what was sent: each dropped attempt is its SYN and one retransmission within the
      // 2 s connect timeout (2 packets, 3 at most); each reached one, and the client's, one SYN accepted
      const after = await stats();
      expect(after.code).toBe(0);
      const refused = row(after.stdout, "over-limit", "ssh")!;
      expect(refused.packets).toBeGreaterThanOrEqual(dropped * 2);
      expect(refused.packets).toBeLessThanOrEqual(dropped * 3);
      expect(refused.packetRate).toBeGreaterThan(0);
      const reachedCount = first.filter((r) => r === "reached").length;
      // the controller's own new connections (apply's proof, the stats calls) are counted too
      expect(row(after.stdout, "accept", "ssh")!.packets - acceptedBefore).toBeGreaterThanOrEqual(reachedCount + 1);
      expect(row(after.stdout, "accept", "ssh")!.packets - acceptedBefore).toBeLessThanOrEqual(reachedCount + 1 + 3);
      const prom = await stats("prometheus");
      expect(prom.stdout).toMatch(
        new RegExp(
          `hardened_nftables_packets_total\\{host="root@${p.server.ipv4.replace(/\./g, "\\.")}:22",table="${PROOF_TABLE}",chain="input",kind="over-limit",name="ssh"\\} \\d+`,
        ),
      );
      console.info(`proof-limits stats: over-limit ${refused.packets} packets for ${dropped} dropped attempts`);
      // a token every 10 s: after 11 s quiet, the attacker reaches sshd again
      await new Promise((r) => setTimeout(r, 11_000));
      expect(await attempts(1)).toEqual(["reached"]);

      // negative control: without the over-limit rules every attempt reaches sshd
      await deleteRuleByComment(p.server, PROOF_TABLE, "ssh: remote logins, over limit");
      expect(await attempts(6)).toEqual(Array(6).fill("reached"));
      p.controls.push({
        test: "brute force",
        change: "removed the ssh over-limit rule",
        observed: "6 of 6 attempts reached sshd",
      });
      expect((await applyToServer(p, policy)).changed).toBe(true);
      const again = await attempts(6);
      expect(again.filter((r) => r === "dropped").length).toBeGreaterThanOrEqual(3);
    }, 180_000);

    it("over the limit under denied: reject the attacker gets a TCP reset and an ICMP error at once; under denied: drop it times out", async () => {
      const exposures = [
        { service: "ssh", limit: { rate: "6/minute", burst: 2, exemptSources: exempt() } },
        { name: "udpsvc", protocol: "udp", ports: 5999, limit: { rate: "6/minute", burst: 2 } },
      ];
      // one datagram from a new socket (a new source port: a new connection each time); what comes back in 2 s
      const udp = async (n: number): Promise<string[]> => {
        const py = [
          "import socket,errno",
          "out=[]",
          `for i in range(${n}):`,
          "  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)",
          `  s.connect(("${p.server.ipv4}",5999)); s.send(b"x")`,
          "  try: s.recv(10); out.append('answered')",
          "  except socket.timeout: out.append('timeout')",
          "  except OSError as e: out.append(errno.errorcode.get(e.errno,str(e.errno)))",
          "  s.close()",
          "print(' '.join(out))",
        ].join("\n");
        return (await p.attacker.sh("python3 -", { stdin: py, allowFail: true, timeoutMs: 60_000 })).stdout
          .trim()
          .split(" ");
      };
      /** `n` ssh attempts then `n` datagrams, timed and logged under `label`. */
      const timedTries = async (label: string, n: number) => {
        let t0 = performance.now();
        const tcp = await attempts(n);
        const tcpMs = Math.round((performance.now() - t0) / n);
        t0 = performance.now();
        const datagrams = await udp(n);
        const udpMs = Math.round(performance.now() - t0);
        console.info(
          `proof-limits ${label}: ssh ${JSON.stringify(tcp)} (${tcpMs} ms per attempt); udp ${JSON.stringify(datagrams)} (${udpMs} ms for ${n})`,
        );
        return { tcp, datagrams };
      };
      const rejecting: ProofPolicy = { exposures, denied: "reject" };
      expect((await applyToServer(p, rejecting)).changed).toBe(true);
      const { tcp, datagrams } = await timedTries("reject", 6);
      expect(tcp.slice(0, 2)).toEqual(["reached", "reached"]);
      expect(tcp.slice(2)).toEqual(Array(4).fill("refused"));
      // under the limit no one listens on 5999: the server's kernel answers port unreachable
      expect(datagrams.slice(0, 2)).toEqual(["ECONNREFUSED", "ECONNREFUSED"]);
      // over it, the limit's reject: administratively prohibited
      expect(datagrams.slice(2)).toEqual(Array(4).fill("EHOSTUNREACH"));
      expect(await clientBanner()).toBe("SSH-2.0");

      // negative control: the same limits under denied: drop time out (the table is new: full buckets again)
      expect((await applyToServer(p, { exposures, denied: "drop" })).changed).toBe(true);
      const { tcp: tcpDropped, datagrams: udpDropped } = await timedTries("drop", 4);
      expect(tcpDropped).toEqual(["reached", "reached", "dropped", "dropped"]);
      expect(udpDropped).toEqual(["ECONNREFUSED", "ECONNREFUSED", "timeout", "timeout"]);
      p.controls.push({
        test: "reject on the wire",
        change: 'the same limits under denied: "drop"',
        observed: "over the limit ssh and udp time out instead of a reset / admin-prohibited",
      });
    }, 120_000);

    it("concurrent connections: the attacker's third is refused while its two stay open; the client connects meanwhile", async () => {
      const policy: ProofPolicy = {
        exposures: [{ service: "ssh", limit: { connections: 2, exemptSources: exempt() } }],
      };
      expect((await applyToServer(p, policy)).changed).toBe(true);
      const target = p.server.ipv4;
      const held = await p.attacker.sh(
        [
          "bash -c '",
          `exec 3<>/dev/tcp/${target}/22; exec 4<>/dev/tcp/${target}/22;`,
          'a=$(head -c 7 <&3); b=$(head -c 7 <&4); echo "held $a $b";',
          `if timeout 3 bash -c "exec 5<>/dev/tcp/${target}/22; head -c 7 <&5"; then echo " third open"; else echo "third refused"; fi;`,
          "'",
        ].join(" "),
        { allowFail: true, timeoutMs: 20_000 },
      );
      // and while the attacker held two, the client (another source) connected
      const banner = await clientBanner();
      console.info(`proof-limits connections: ${held.stdout.trim().replace(/\n/g, " | ")}; client: ${banner}`);
      expect(held.stdout).toContain("held SSH-2.0 SSH-2.0");
      expect(held.stdout).toContain("third refused");
      expect(banner).toBe("SSH-2.0");
      expect(await overLimitPackets()).toBeGreaterThanOrEqual(1);
    }, 90_000);
  },
);
