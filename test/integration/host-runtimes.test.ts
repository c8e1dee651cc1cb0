/**
 * probe recognises the container and VM runtimes' own tables and chains on a real host (issue #20):
 * a lab host gets the tables each runtime creates, loaded by the real nft from
 * test/fixtures/runtimes/runtime-tables.nft (names and hooks as each runtime's source spells them,
 * every base chain accept), Docker's and libvirt's chains made by the real iptables-legacy, and a
 * bridge named docker0; probe over SSH names each runtime, its table and chain, and docker0 with
 * its evidence, in the host API and in the CLI's JSON and text output, and changes nothing (the
 * ruleset's handles are the same after). Negative control: the same host before, with none of
 * them, names none.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeRuntimeTable, guestInterfacesOf, probeHost } from "../../src/host";
import { connectionFor, listRulesetWithHandles } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const bin = join(__dirname, "../../dist/cli/main.js");
const RUNTIME_TABLES = readFileSync(join(__dirname, "../fixtures/runtimes/runtime-tables.nft"), "utf8");

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe.runIf(requireRoot("host runtimes", ["ip", "sshd", "nft", "iptables-legacy", "iptables-legacy-save"]))(
  "probe names the runtimes' tables",
  () => {
    let lab: Lab;
    let h: LabHost;
    let dir: string;
    let keyFile: string;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "host-runtimes" });
      h = lab.hosts[0]!;
      dir = mkdtempSync(join(tmpdir(), "hnft-runtimes-"));
      keyFile = join(dir, "root_ed25519");
      writeFileSync(keyFile, h.root.privateKey, { mode: 0o600 });
    }, 120_000);
    /** The CLI's arguments that reach the lab host as root with its key, pinning its host key. */
    const hostArgs = () => ["--host", `root@${h.ipv4}`, "--identity", keyFile, "--host-key", h.hostKey];

    afterAll(async () => {
      // the tables, chains and bridge live in the host's namespace: they go with it
      await lab?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("a host without runtimes: none named (negative control)", async () => {
      const facts = await probeHost(connectionFor(h));
      expect(facts.runtimeTables).toEqual([]);
      expect(guestInterfacesOf(facts)).toEqual([]);
    });

    it("each runtime's table and chains, and docker0 with its evidence; probe changes nothing", async () => {
      await h.sh("nft -f -", { stdin: RUNTIME_TABLES });
      await h.sh(
        "iptables-legacy -N DOCKER && iptables-legacy -t nat -N DOCKER && iptables-legacy -N LIBVIRT_FWO && ip link add docker0 type bridge",
      );
      const before = await listRulesetWithHandles(h);

      const facts = await probeHost(connectionFor(h));
      const named = facts.runtimeTables.map((t) => `${t.runtime}: ${describeRuntimeTable(t)}`);
      expect(named).toEqual(
        expect.arrayContaining([
          "Docker: table ip docker-bridges",
          "Docker: table ip nat chain DOCKER",
          "Docker: table ip filter chain DOCKER",
          "Docker: iptables-legacy table filter chain DOCKER",
          "Docker: iptables-legacy table nat chain DOCKER",
          "Podman: table inet netavark",
          "libvirt: table ip libvirt_network",
          "libvirt: table ip6 libvirt_network",
          "libvirt: iptables-legacy table filter chain LIBVIRT_FWO",
          "LXD: table inet lxd",
          "Incus: table inet incus",
          "kube-proxy: table ip kube-proxy",
          "kube-proxy: table ip6 kube-proxy",
          "firewalld: table inet firewalld",
        ]),
      );
      expect(guestInterfacesOf(facts)).toEqual([
        { name: "docker0", runtime: "Docker", evidence: "table ip docker-bridges" },
      ]);
      expect(await listRulesetWithHandles(h)).toBe(before);

      const json = await cli(["probe", ...hostArgs()]);
      expect(json.code, json.stderr).toBe(0);
      const out = JSON.parse(json.stdout) as { runtimeTables: { runtime: string }[]; guests: unknown[] };
      expect(new Set(out.runtimeTables.map((t) => t.runtime))).toEqual(
        new Set(["Docker", "Podman", "libvirt", "LXD", "Incus", "kube-proxy", "firewalld"]),
      );
      expect(out.guests).toEqual([{ name: "docker0", runtime: "Docker", evidence: "table ip docker-bridges" }]);

      const text = await cli(["probe", ...hostArgs(), "--format", "text"]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain("runtime Docker: table ip nat chain DOCKER\n");
      expect(text.stdout).toContain("runtime libvirt: iptables-legacy table filter chain LIBVIRT_FWO\n");
      expect(text.stdout).toContain("guests: docker0 (Docker: table ip docker-bridges)\n");
      expect(await listRulesetWithHandles(h)).toBe(before);
    });

    it("the CLI's diff says apply's refusal (exit 6, docker0 with its evidence, the field to set); with guestInterfaces it does not", async () => {
      const policyFile = (name: string, forward: Record<string, unknown>) => {
        const file = join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify({ table: "runtimes", exposures: [{ service: "ssh" }], forward }));
        return file;
      };
      const diff = (file: string) =>
        cli([
          "diff",
          "--policy",
          file,
          ...hostArgs(),
          "--state-root",
          "/etc/hardened-nftables/.state",
          "--run-root",
          "/etc/hardened-nftables/.run",
        ]);
      const before = await listRulesetWithHandles(h);
      const refused = await diff(policyFile("drop", { policy: "drop" }));
      expect(refused.code, refused.stderr).toBe(6);
      expect(refused.stderr).toContain(
        "refusing to apply table inet runtimes: this host runs guests on docker0 (Docker: table ip docker-bridges)",
      );
      expect(refused.stderr).toContain('Set forward.guestInterfaces (e.g. ["docker0"])');
      // declared: the drift of a table not applied yet (exit 1), no refusal
      const declared = await diff(policyFile("declared", { policy: "drop", guestInterfaces: ["docker0"] }));
      expect(declared.code, declared.stderr).toBe(1);
      expect(`${declared.stdout}${declared.stderr}`).not.toContain("refusing");
      expect(await listRulesetWithHandles(h)).toBe(before);
    });
  },
);
