/**
 * `audit` against hosts configured the way the anchors ship them, with the real packages, inside
 * lab hosts only (never the machine's own firewall):
 * - a hand iptables-legacy ruleset: INPUT policy DROP, `-m state --state RELATED,ESTABLISHED -j
 *   ACCEPT`, and the FTP helper attached to outbound tcp/21 (`-t raw -j CT --helper ftp`);
 * - Debian's ufw, enabled with its defaults, ssh and `ufw allow ftp`. ufw writes /etc/ufw: the lab
 *   host gets its own copy under its /etc overlay (/etc/netns/NAME/ufw, bound over /etc/ufw by
 *   `ip netns exec`), checked before ufw runs, and the machine's /etc/ufw is checked unchanged
 *   after. On this kernel (>= 6.0) nothing assigns a helper by itself and Debian's ufw loads no
 *   helper module (IPT_MODULES=""), so ufw alone is not exploitable: the test adds what makes it
 *   so on a current kernel, a table that attaches the ftp helper to outbound tcp/21.
 * For each: the audit (read only: the host's files keep their inode and mtime, the ruleset is
 * unchanged) reports the related accept as high with the exact rule, and the FTP-helper exploit
 * succeeds. Then the host is adopted (the old manager's rules removed, as the audit's
 * firewall-manager / iptables-legacy findings say, and a HostFirewall policy applied): no high
 * finding, the exploit fails, and ssh and ftp still answer the client.
 * - Debian's firewalld (nftables backend) with the ftp service: it needs D-Bus, which lab hosts
 *   lack, so the exact ruleset it generated for that configuration (test/support/peers/
 *   firewalld-ftp.nft, how it was made is in its header) is loaded. It attaches the ftp helper to
 *   inbound tcp/21 only, so the client-side exploit is recorded there, not claimed.
 * Also: our table alone reports nothing above info; a fleet of three with one unreachable host
 * reports it (exit 5) and audits the other two.
 */
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { main } from "../../src/cli/main";
import { atOrAbove, type Finding } from "../../src/host/audit/findings";
import { propose } from "../../src/host/audit/propose";
import { formatAuditText } from "../../src/host/audit/report";
import { auditHost } from "../../src/host/operations/audit";
import { connectionFor } from "../support/host-fixtures";
import type { LabHost } from "../support/lab";
import { ftpHelperExploit, nftDeleteTable, nftLoad, tcpListener, tcpProbe } from "../support/peers";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const DB_PORT = 3306;
const HELPER_TABLE = "hnftauditforeign";
const OUTBOUND_FTP_HELPER = `table inet ${HELPER_TABLE} {
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

/** The proposal for the audited host: `render --check` passes, and it is what gets applied. */
async function proposal(facts: Parameters<typeof propose>[0]): Promise<ProofPolicy> {
  const p = propose(facts);
  console.info(p.yaml);
  const dir = mkdtempSync(join(tmpdir(), "hnft-propose-"));
  try {
    const file = join(dir, "proposal.yaml");
    writeFileSync(file, p.yaml);
    const err: string[] = [];
    const code = await main(["render", "--policy", file, "--check"], { out: () => undefined, err: (t) => err.push(t) });
    expect(code, err.join("")).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return parseYaml(p.yaml) as ProofPolicy;
}

/** Every file under the host's own /etc and the project's state dirs, with inode and mtime: the audit must change none. */
async function snapshot(host: LabHost): Promise<string> {
  const r = await host.sh(
    `find ${host.etc} /var/lib/hardened-nftables /run/hardened-nftables -xdev -printf '%i %T@ %s %p\\n' 2>/dev/null | sort; nft list ruleset | grep -v 'counter packets'; iptables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'`,
    { allowFail: true },
  );
  return r.stdout;
}

describe.runIf(requireRoot("audit anchors", ["ip", "nft", "sshd", "conntrack", "iptables-legacy", "ufw"]))(
  "audit: anchors' rulesets in lab hosts, the exploit, adoption",
  () => {
    let p: ProofLab;
    let ftp: Awaited<ReturnType<typeof tcpListener>> | undefined;

    beforeAll(async () => {
      p = await createProofLab("audit-anchors");
    }, 120_000);
    afterEach(async () => {
      ftp = undefined;
      // what a failed test may leave: legacy rules, and ufw (only ever through the host's own /etc/ufw)
      await p.server.sh("iptables-legacy -P INPUT ACCEPT; iptables-legacy -F; iptables-legacy -t raw -F; true", {
        allowFail: true,
      });
      if (existsSync(join(p.server.etc, "ufw", "ufw.conf")))
        await p.server.sh("ufw disable >/dev/null 2>&1; true", { allowFail: true });
      await afterEachProof(p, [HELPER_TABLE, PROOF_TABLE, "firewalld"]);
    });
    afterAll(async () => destroyProofLab(p, "audit-anchors"));

    const exploit = (connectTimeoutMs = 2000) =>
      ftpHelperExploit(p.server, p.attacker, { victimListenPort: DB_PORT, connectTimeoutMs });
    const audit = async (host: LabHost = p.server) => {
      const before = await snapshot(host);
      const a = await auditHost(connectionFor(host));
      expect(a.stats).toEqual({ connections: 1, roundTrips: 1 });
      expect(await snapshot(host), "the audit wrote nothing").toBe(before);
      expect(before).toMatch(new RegExp(`^\\d+ [\\d.]+ \\d+ ${host.etc}/`, "m")); // the snapshot did list the host's files
      console.info(formatAuditText([{ host: host.name, audit: a }]));
      return a;
    };
    const high = (fs: readonly Finding[]) => atOrAbove(fs, "high");
    /** ssh and the ftp control port answer the client. */
    const servicesAnswer = async () => {
      const [ssh, ctl] = await Promise.all([
        tcpProbe(p.client, p.server.ipv4, 22),
        tcpProbe(p.client, p.server.ipv4, 21),
      ]);
      expect(ssh.state, "ssh from the client").toBe("open");
      expect(ctl.state, "ftp from the client").toBe("open");
    };

    it("iptables-legacy with RELATED,ESTABLISHED accept and the FTP helper: high with the exact rule, exploitable; adopted: no high, exploit fails, services answer", async () => {
      await nftDeleteTable(p.server, PROOF_TABLE);
      // the FTP server's own configuration, where the proposal reads the passive range
      writeFileSync(
        join(p.server.etc, "vsftpd.conf"),
        "listen=YES\npasv_enable=YES\npasv_min_port=50000\npasv_max_port=50009\n",
      );
      await p.server.stopSshd();
      await p.server.startSshd();
      await p.server.sh(
        [
          "iptables-legacy -A INPUT -i lo -j ACCEPT",
          "iptables-legacy -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
          "iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT",
          "iptables-legacy -A INPUT -p tcp --dport 21 -j ACCEPT",
          "iptables-legacy -P INPUT DROP",
          "iptables-legacy -t raw -A OUTPUT -p tcp --dport 21 -j CT --helper ftp",
        ].join(" && "),
      );
      ftp = await tcpListener(p.server, 21, { banner: "220 audit lab ftp" });
      await servicesAnswer();

      const a = await audit();
      const related = a.findings.find((f) => f.id === "related-accept");
      expect(related?.severity).toBe("high");
      expect(related?.evidence[0]).toMatch(
        /^iptables-legacy filter\/INPUT line \d+: -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT$/,
      );
      expect(related?.evidence[1]).toMatch(/-A OUTPUT -p tcp -m tcp --dport 21 -j CT --helper ftp/);
      expect(a.findings.map((f) => f.id)).toEqual(
        expect.arrayContaining(["helper-attached", "iptables-legacy", "input-open"]),
      );
      const open = await exploit(3000);
      expect(open.expectationCreated, open.expectations).toBe(true);
      expect(open.attackerConnected, JSON.stringify(open.probe)).toBe(true);

      // adoption: the legacy rules go (the audit says they would undo the table), the proposal is applied
      const proposed = await proposal(a.facts);
      expect(proposed.exposures).toHaveLength(2);
      expect(proposed.exposures).toEqual(
        expect.arrayContaining([{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50009" }]),
      );
      await p.server.sh("iptables-legacy -P INPUT ACCEPT && iptables-legacy -F && iptables-legacy -t raw -F");
      await applyToServer(p, proposed);
      const after = await audit();
      expect(high(after.findings), JSON.stringify(after.findings, null, 2)).toEqual([]);
      const closed = await exploit();
      expect(closed.attackerConnected, JSON.stringify(closed.probe)).toBe(false);
      await servicesAnswer();
      await ftp.stop();
    }, 180_000);

    it("Debian's ufw (own /etc/ufw in the lab host), defaults + ssh + ftp, a helper on outbound ftp: high with ufw's exact rule, exploitable; ufw disabled and adopted: no high, exploit fails, services answer", async () => {
      await nftDeleteTable(p.server, PROOF_TABLE);
      const machineConf = statSync("/etc/ufw/ufw.conf");
      const machineText = readFileSync("/etc/ufw/ufw.conf", "utf8");
      const own = join(p.server.etc, "ufw");
      cpSync("/etc/ufw", own, { recursive: true });
      // sshd must see the overlay too (its mount namespace is made when it starts)
      await p.server.stopSshd();
      await p.server.startSshd();
      const inode = (await p.server.sh("stat -c %i /etc/ufw/ufw.conf")).stdout.trim();
      expect(inode, "the lab host's /etc/ufw is its own copy").toBe(String(statSync(join(own, "ufw.conf")).ino));
      expect(inode).not.toBe(String(machineConf.ino));

      await p.server.sh("ufw allow 22/tcp >/dev/null && ufw allow ftp >/dev/null && ufw --force enable");
      await nftLoad(p.server, OUTBOUND_FTP_HELPER);
      ftp = await tcpListener(p.server, 21, { banner: "220 audit lab ftp" });
      await servicesAnswer();

      const a = await audit();
      const related = a.findings.filter((f) => f.id === "related-accept");
      expect(related.map((f) => f.severity)).toContain("high");
      expect(related[0]?.evidence[0]).toMatch(
        /^ip filter\/ufw-before-input line \d+: ct state related,established counter packets \d+ bytes \d+ accept$/,
      );
      expect(a.findings.find((f) => f.id === "firewall-manager")?.evidence[0]).toMatch(/ENABLED=yes/);
      const open = await exploit(3000);
      expect(open.expectationCreated, open.expectations).toBe(true);
      expect(open.attackerConnected, JSON.stringify(open.probe)).toBe(true);

      const proposed = await proposal(a.facts);
      expect(proposed.exposures).toEqual(
        expect.arrayContaining([{ service: "ssh" }, expect.objectContaining({ service: "ftp" })]),
      );
      await p.server.sh("ufw disable >/dev/null");
      await applyToServer(p, proposed);
      const after = await audit();
      expect(high(after.findings), JSON.stringify(after.findings, null, 2)).toEqual([]);
      // the other table's helper still attaches (reported, medium): ours accepts no related traffic for it
      expect(after.findings.find((f) => f.id === "helper-attached")?.severity).toBe("medium");
      const closed = await exploit();
      expect(closed.expectationCreated, closed.expectations).toBe(true);
      expect(closed.attackerConnected, JSON.stringify(closed.probe)).toBe(false);
      await servicesAnswer();
      await ftp.stop();

      // the machine's own ufw never moved
      expect(readFileSync("/etc/ufw/ufw.conf", "utf8")).toBe(machineText);
      expect(statSync("/etc/ufw/ufw.conf").mtimeMs).toBe(machineConf.mtimeMs);
    }, 180_000);

    it("firewalld's own nftables ruleset for the ftp service (generated once, loaded as listed): high with its exact rule; adopted: no high, services answer", async () => {
      await nftDeleteTable(p.server, PROOF_TABLE);
      await nftLoad(p.server, readFileSync(join(__dirname, "../support/peers/firewalld-ftp.nft"), "utf8"));
      ftp = await tcpListener(p.server, 21, { banner: "220 audit lab ftp" });
      await servicesAnswer();

      const a = await audit();
      const related = a.findings.filter((f) => f.id === "related-accept");
      expect(related.map((f) => f.severity)).toContain("high");
      expect(related[0]?.evidence[0]).toMatch(
        /^inet firewalld\/filter_INPUT line \d+: ct state \{ established, related \} accept$/,
      );
      expect(related[0]?.evidence[1]).toMatch(
        /^helper attached by inet firewalld\/filter_IN_public_allow line \d+: tcp dport 21 ct helper set "helper-ftp-tcp"$/,
      );
      // firewalld attaches the helper to inbound ftp only: the client-side exploit (the victim's own
      // outbound tcp/21) gets no helper, so it is not this host's exploit; recorded, not claimed
      const r = await exploit(2000);
      console.info(
        `firewalld ruleset, client-side FTP exploit: expectation ${r.expectationCreated}, attacker connected ${r.attackerConnected}`,
      );

      const proposed = await proposal(a.facts);
      expect(proposed.exposures).toEqual(
        expect.arrayContaining([{ service: "ssh" }, expect.objectContaining({ service: "ftp" })]),
      );
      await nftDeleteTable(p.server, "firewalld");
      await applyToServer(p, proposed);
      const after = await audit();
      expect(high(after.findings), JSON.stringify(after.findings, null, 2)).toEqual([]);
      await servicesAnswer();
      await ftp.stop();
    }, 180_000);

    it("false-positive control: our table, nothing exposed but ssh: nothing above info", async () => {
      await applyToServer(p, { exposures: [{ service: "ssh" }] });
      const a = await audit();
      expect(atOrAbove(a.findings, "low"), JSON.stringify(a.findings, null, 2)).toEqual([]);
      expect(a.findings.map((f) => f.id)).toContain("managed-table");
    }, 120_000);

    it("CLI: a fleet of three with one unreachable: that one reported (exit 5), the other two audited; --format sarif", async () => {
      const dir = mkdtempSync(join(tmpdir(), "hnft-audit-"));
      try {
        const inventory = join(dir, "hosts.ini");
        writeFileSync(
          inventory,
          `[lab]\nserver ansible_host=${p.server.ipv4}\nclient ansible_host=${p.client.ipv4}\ngone ansible_host=198.18.${p.lab.slot}.250\n`,
        );
        // one identity for the fleet, as an inventory run has: the client also trusts the server's root key
        appendFileSync(join(p.client.dir, "authorized_keys", "root"), `${p.server.root.publicKey} audit-fleet\n`);
        const out: string[] = [];
        const err: string[] = [];
        const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
        const code = await main(
          [
            "audit",
            "--inventory",
            inventory,
            "--identity",
            p.server.root.keyPath,
            "--insecure-ignore-host-key",
            "--dial-attempts",
            "1",
            "--dial-timeout",
            "3",
            "--format",
            "sarif",
            "--propose",
            join(dir, "proposals"),
          ],
          io,
        );
        const sarif = JSON.parse(out.join("")) as {
          runs: [
            {
              results: { properties: { host: string } }[];
              invocations: { toolExecutionNotifications: { message: { text: string } }[] }[];
            },
          ];
        };
        expect(code, err.join("")).toBe(5);
        expect(err.join("")).toMatch(/^gone: not audited: /m);
        expect(err.join("")).not.toMatch(/^(server|client): not audited/m);
        expect(sarif.runs[0].invocations).toHaveLength(1);
        expect(sarif.runs[0].invocations[0]?.toolExecutionNotifications[0]?.message.text).toMatch(/^gone: /);
        expect(new Set(sarif.runs[0].results.map((r) => r.properties.host))).toEqual(new Set(["server", "client"]));
        // a proposal per audited host, none for the unreachable one; each one renders
        expect(readdirSync(join(dir, "proposals")).sort()).toEqual(["client.yaml", "server.yaml"]);
        for (const f of ["client.yaml", "server.yaml"]) {
          expect(readFileSync(join(dir, "proposals", f), "utf8")).toMatch(/^ {2}- service: "ssh"$/m);
          expect(
            await main(["render", "--policy", join(dir, "proposals", f)], {
              out: () => undefined,
              err: (t) => err.push(t),
            }),
            err.join(""),
          ).toBe(0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  },
);
