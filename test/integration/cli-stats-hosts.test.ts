/**
 * `hardened-nftables stats` of the COMPILED bin (`npm run build` first) for two real lab hosts
 * whose sshd host keys differ, each pinned by its own `hardened_nftables_host_key` in an Ansible
 * inventory (INI, the key quoted; YAML, the key's SHA256 fingerprint): both hosts' counters come
 * back in one call. Negative control: the inventory pins h1's key for h2 -> h2 fails alone (exit
 * 5, a host-key message naming h2 on stderr) while h1's counters are still reported.
 */
import { execFile } from "node:child_process";
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyPolicy } from "../../src/host";
import { fingerprintOf } from "../../src/model/connection";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS, TABLE, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const bin = join(__dirname, "../../dist/cli/main.js");

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : -1
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function fingerprintOfLine(line: string): string {
  const key = utils.parseKey(line);
  if (key instanceof Error) throw key;
  return fingerprintOf((Array.isArray(key) ? key[0]! : key).getPublicSSH());
}

describe.runIf(requireRoot("cli stats hosts", ["ip", "sshd", "nft"]))(
  "hardened-nftables stats: many hosts, each with its own pinned host key",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let h2: LabHost;
    let dir: string;

    beforeAll(async () => {
      lab = await createLab({ hosts: 2, label: "cli-stats-hosts" });
      [h1, h2] = lab.hosts as [LabHost, LabHost];
      // one identity for the fleet: h1's root key is authorized on h2 as well
      appendFileSync(join(h2.dir, "authorized_keys", "root"), `${h1.root.publicKey} fleet\n`);
      const policy = assertPolicy({ table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }] });
      for (const h of [h1, h2]) {
        await wipeHost(h);
        await applyPolicy(connectionFor(h), policy, { paths: HOST_PATHS, confirmTimeoutSeconds: 10 });
      }
      dir = mkdtempSync(join(tmpdir(), "hnft-stats-hosts-"));
    }, 120_000);
    afterAll(async () => {
      for (const h of lab ? [h1, h2] : []) await wipeHost(h).catch(() => undefined);
      await lab?.destroy();
    });

    const stats = (inventory: string) =>
      cli([
        "stats",
        "--inventory",
        inventory,
        "--identity",
        h1.root.keyPath,
        "--table",
        TABLE,
        "--format",
        "json",
        "--sample-file",
        join(dir, "stats.json"),
      ]);
    const hostsOf = (json: string) =>
      (JSON.parse(json) as { target: string; present: boolean }[])
        .map((s) => `${s.target}${s.present ? "" : " (no table)"}`)
        .sort();
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };

    it("two hosts with different keys, each pinned in the inventory (INI and YAML): both read in one call", async () => {
      expect(h1.hostKey).not.toBe(h2.hostKey);
      const ini = file(
        "hosts.ini",
        `[fw]\nh1 ansible_host=${h1.ipv4} ansible_user=root hardened_nftables_host_key="${h1.hostKey}"\nh2 ansible_host=${h2.ipv4} ansible_user=root hardened_nftables_host_key="${h2.hostKey}"\n`,
      );
      const r = await stats(ini);
      expect(r.code, r.stderr).toBe(0);
      expect(hostsOf(r.stdout)).toEqual([`root@${h1.ipv4}:22`, `root@${h2.ipv4}:22`].sort());
      const yaml = file(
        "hosts.yaml",
        [
          "all:",
          "  hosts:",
          "    h1:",
          `      ansible_host: ${h1.ipv4}`,
          "      ansible_user: root",
          `      hardened_nftables_host_key: "${fingerprintOfLine(h1.hostKey)}"`,
          "    h2:",
          `      ansible_host: ${h2.ipv4}`,
          "      ansible_user: root",
          `      hardened_nftables_host_key: "${fingerprintOfLine(h2.hostKey)}"`,
          "",
        ].join("\n"),
      );
      const y = await stats(yaml);
      expect(y.code, y.stderr).toBe(0);
      expect(hostsOf(y.stdout)).toEqual([`root@${h1.ipv4}:22`, `root@${h2.ipv4}:22`].sort());
    }, 90_000);

    it("negative control: h1's key pinned for h2 -> h2 fails alone (exit 5, named), h1 still reported", async () => {
      const wrong = file(
        "wrong.ini",
        `h1 ansible_host=${h1.ipv4} ansible_user=root hardened_nftables_host_key="${h1.hostKey}"\nh2 ansible_host=${h2.ipv4} ansible_user=root hardened_nftables_host_key="${h1.hostKey}"\n`,
      );
      const r = await stats(wrong);
      console.info(`cli-stats-hosts: wrong key for h2: exit ${r.code}; stderr: ${r.stderr.trim()}`);
      expect(r.code).toBe(5);
      expect(hostsOf(r.stdout)).toEqual([`root@${h1.ipv4}:22`]);
      expect(r.stderr).toContain(h2.ipv4);
      expect(r.stderr).toMatch(/host key/i);
      expect(r.stderr).not.toContain(`${h1.ipv4}:22: `);
    }, 90_000);
  },
);
