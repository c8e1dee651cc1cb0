import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { requireRoot } from "../support/privileges";

const run = promisify(execFile);
const bin = join(__dirname, "../../dist/cli/main.js");
const dir = mkdtempSync(join(tmpdir(), "hnft-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const yamlPolicy = `table: web1
exposures:
  - service: ssh
    sources: [198.51.100.0/24]
  - service: ftp
    passivePorts: 50000-51000
  - service: sip
    rtpPorts: 10000-20000
`;

describe("hardened-nftables render (the compiled bin)", () => {
  it("prints the table, both files and the explanations as text", async () => {
    const r = await cli("render", "--policy", file("p.yaml", yamlPolicy));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("### nftables: /etc/hardened-nftables/web1.nft");
    expect(r.stdout).toContain("table inet web1 {");
    expect(r.stdout).toContain("### sysctl.d: /etc/sysctl.d/60-hardened-nftables-web1.conf");
    expect(r.stdout).toContain("### modprobe.d: /etc/modprobe.d/hardened-nftables-web1.conf");
    expect(r.stdout).toContain("set on the server: vsftpd: pasv_enable=YES, pasv_min_port=50000, pasv_max_port=51000");
  });

  it("prints one JSON object with nft, sysctl, modprobe and explain; JSON policy files work too", async () => {
    const policy = file("p.json", JSON.stringify({ table: "web1", exposures: [{ service: "ssh" }] }));
    const r = await cli("render", "--policy", policy, "--format", "json", "--kernel", "5.15");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(["nft", "sysctl", "modprobe", "explain"]);
    expect(out.sysctl).toContain("net.netfilter.nf_conntrack_helper = 0");
    expect(out.modprobe).toContain("options nf_conntrack nf_conntrack_helper=0");
  });

  it("exits 2 on an invalid policy, one line per problem naming the field", async () => {
    const r = await cli(
      "render",
      "--policy",
      file("bad.yaml", "exposures:\n  - service: ftp\n    passivePorts: 51000-50000\n  - service: telnet\n"),
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("exposures[0].passivePorts: range 51000-50000 is reversed");
    expect(r.stderr).toContain('exposures[1].service: unknown service "telnet"');
  });

  it("--policy repeated composes one table: the first file is the base, each next one adds to it", async () => {
    const base = file(
      "base.yaml",
      "table: fleet\nexposures:\n  - service: ssh\n    sources: [192.0.2.0/24]\nlog:\n  dropped: true\n",
    );
    const web = file(
      "web.yaml",
      "exposures:\n  - service: https\noutput:\n  policy: drop\n  allow:\n    - { name: dns, protocol: udp, ports: 53 }\n",
    );
    const r = await cli("render", "--policy", base, "--policy", web, "--format", "json");
    expect(r.code, r.stderr).toBe(0);
    const nft = (JSON.parse(r.stdout) as { nft: string }).nft;
    expect(nft.match(/^table inet fleet \{$/gm)).toHaveLength(1);
    for (const part of [
      "ip saddr @ssh_v4 tcp dport 22 counter accept",
      "tcp dport 443 counter accept",
      "udp dport 53 counter accept",
      'log prefix "hnft fleet input drop: "',
    ])
      expect(nft).toContain(part);

    const clash = file(
      "clash.yaml",
      "table: app\nexposures:\n  - service: ssh\n    name: admin\nlog:\n  dropped: false\n",
    );
    const bad = await cli("render", "--policy", base, "--policy", web, "--policy", clash);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`invalid policy ${base} + ${web} + ${clash}:`);
    expect(bad.stderr).toContain(
      `${clash} table: "app" conflicts with "fleet" set by ${base} table; one table has one value`,
    );
    expect(bad.stderr).toContain(
      `${clash} log.dropped: false conflicts with true set by ${base} log.dropped; one table has one value`,
    );
  });

  it("exits 2 on bad arguments and unreadable files, and --help works on every command", async () => {
    expect((await cli("render", "--policy", join(dir, "missing.yaml"))).stderr).toContain("--policy: cannot read");
    expect((await cli("render", "--policy", file("p2.yaml", yamlPolicy), "--kernel", "banana")).code).toBe(2);
    expect((await cli("render", "--bogus")).code).toBe(2);
    expect((await cli("render", "--policy", file("p3.yaml", yamlPolicy), "--format", "xml")).stderr).toContain(
      "--format",
    );
    expect((await cli("render", "--help")).stdout).toContain("--kernel X.Y");
    expect((await cli("--help")).stdout).toContain("render");
  });
});

describe.runIf(requireRoot("cli render --check", ["nft", "unshare"]))("render --check", () => {
  it("loads the table with the real nft in a throwaway namespace", async () => {
    const r = await cli("render", "--policy", file("c.yaml", yamlPolicy), "--check");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("nft accepted table inet web1");
  });
});
