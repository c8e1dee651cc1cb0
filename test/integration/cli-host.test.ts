/**
 * The host commands of the COMPILED bin (`npm run build` first) against a real lab host:
 * probe, apply (twice), diff (in sync, then after a hand-made change), lock-out rollback, a wrong
 * host key, an invalid policy that never connects, the operator user through sudo, remove.
 */
import { execFile, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintOf } from "../../src/model/connection";
import { createLab, type Lab, type LabHost, OPERATOR_PASSWORD } from "../support/lab";
import { requireRoot } from "../support/privileges";

const bin = join(__dirname, "../../dist/cli/main.js");
const PASSPHRASE = "cli-host-passphrase-Vb8";
const STATE = ["--state-root", "/etc/hardened-nftables/.state", "--run-root", "/etc/hardened-nftables/.run"];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the compiled bin; no agent in the environment unless `env` adds one. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { SSH_AUTH_SOCK: _agent, ...base } = process.env;
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...base, ...env }, timeout: 150_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) });
      },
    );
  });
}

const policyYaml = (exposures: string) => `table: web1\nexposures:\n${exposures}`;
const WITH_SSH = policyYaml("  - service: ssh\n  - service: ftp\n    passivePorts: 50000-50100\n");
const WITHOUT_SSH = policyYaml("  - service: https\n");

function fingerprintOfLine(line: string): string {
  const key = utils.parseKey(line);
  if (key instanceof Error) throw key;
  return fingerprintOf((Array.isArray(key) ? key[0]! : key).getPublicSSH());
}

describe.runIf(requireRoot("cli host", ["ip", "sshd", "nft"]))(
  "hardened-nftables probe/apply/diff/remove (the compiled bin, a lab host)",
  () => {
    let lab: Lab;
    let h: LabHost;
    let bastion: LabHost;
    let dir: string;
    let rootKey: string;
    let bastionKey: string;
    let operatorKey: string;
    let encryptedKey: string;
    let policy: string;
    let lockout: string;
    const timings: Record<string, number> = {};
    const secrets: string[] = [];

    const target = (...extra: string[]) => [
      "--host",
      `root@${h.ipv4}`,
      "--identity",
      rootKey,
      "--host-key",
      h.hostKey,
      ...STATE,
      ...extra,
    ];
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    /** Every secret, and every key body line, is absent from both streams. */
    const expectNoSecrets = (r: CliResult) => {
      for (const s of secrets) {
        expect(r.stdout.includes(s), "secret on stdout").toBe(false);
        expect(r.stderr.includes(s), "secret on stderr").toBe(false);
      }
    };
    const tableListing = async () => (await h.sh("nft -s list table inet web1", { allowFail: true })).stdout;

    beforeAll(async () => {
      lab = await createLab({ hosts: 2, label: "cli-host" });
      [h, bastion] = lab.hosts as [LabHost, LabHost];
      dir = mkdtempSync(join(tmpdir(), "hnft-cli-host-"));
      rootKey = file("root_ed25519", h.root.privateKey);
      bastionKey = file("bastion_ed25519", bastion.root.privateKey);
      operatorKey = file("operator_ed25519", h.operator.privateKey);
      // An encrypted copy of the operator's key: --passphrase-env
      encryptedKey = file("operator_enc", h.operator.privateKey);
      const p = spawnSync("ssh-keygen", ["-q", "-p", "-N", PASSPHRASE, "-P", "", "-f", encryptedKey]);
      expect(p.status, p.stderr.toString()).toBe(0);
      chmodSync(encryptedKey, 0o600);
      policy = file("web1.yaml", WITH_SSH);
      lockout = file("lockout.yaml", WITHOUT_SSH);
      for (const k of [h.root.privateKey, h.operator.privateKey, readFileSync(encryptedKey, "utf8")]) {
        secrets.push(
          k.trim(),
          ...k
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l.length >= 8 && !l.startsWith("-----")),
        );
      }
      secrets.push(PASSPHRASE, OPERATOR_PASSWORD);
    });

    afterAll(async () => {
      await lab?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (Object.keys(timings).length > 0) console.log(`cli host timings (ms): ${JSON.stringify(timings)}`);
    });

    it("probe prints the host facts as JSON (IPv4, and IPv6 in brackets with a port)", async () => {
      const r = await cli(["probe", "--host", `root@${h.ipv4}`, "--identity", rootKey, "--host-key", h.hostKey]);
      timings.probe = r.ms;
      expect(r.code, r.stderr).toBe(0);
      const facts = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(facts.kernel).toMatch(/^\d+\.\d+/);
      expect(facts.nftVersion).toMatch(/^\d+\.\d+/);
      expect(facts.tools).toEqual(expect.arrayContaining(["flock", "setsid", "tar", "cmp"]));
      // a lab host runs no container or VM runtime
      expect(facts.guests).toEqual([]);

      const v6 = await cli(["probe", "--host", `root@[${h.ipv6}]:22`, "--identity", rootKey, "--host-key", h.hostKey]);
      expect(v6.code, v6.stderr).toBe(0);
      expect(JSON.parse(v6.stdout)).toMatchObject({ kernel: facts.kernel });
      const bare = await cli(["probe", "--host", h.ipv6, "--identity", rootKey, "--host-key", h.hostKey]);
      expect(bare.code, bare.stderr).toBe(0);
    });

    it("probe through --proxy: the bastion's own key and host key; no agent", async () => {
      const r = await cli([
        "probe",
        "--host",
        `root@${h.ipv4}`,
        "--identity",
        rootKey,
        "--host-key",
        h.hostKey,
        "--proxy",
        `root@${bastion.ipv4}`,
        "--proxy-identity",
        bastionKey,
        "--proxy-host-key",
        bastion.hostKey,
        "-v",
      ]);
      timings.probeViaProxy = r.ms;
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveProperty("kernel");
      expect(r.stderr).toContain("through the proxy");
      const wrong = await cli([
        "probe",
        "--host",
        `root@${h.ipv4}`,
        "--identity",
        rootKey,
        "--host-key",
        h.hostKey,
        "--proxy",
        `root@${bastion.ipv4}`,
        "--proxy-identity",
        bastionKey,
        "--proxy-host-key",
        h.hostKey,
      ]);
      expect(wrong.code).toBe(5);
      expect(wrong.stderr).toContain(`host key mismatch for proxy ${bastion.ipv4}:22`);
    });

    it("apply exits 0 and changes the host; a second apply reports unchanged", async () => {
      const first = await cli(["apply", "--policy", policy, ...target()]);
      timings.applyChanged = first.ms;
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`^root@${h.ipv4.replace(/\./g, "\\.")}:22: table inet web1 changed`));
      expect(first.stdout).toMatch(/hash: [0-9a-f]{16,}/);
      expect(first.stdout).toContain("flushed connections: 0");
      expect(first.stdout).toMatch(/2 SSH connections, \d+ round trips/);
      expect(await tableListing()).toContain("tcp dport 22");
      expect((await h.sh("cat /etc/hardened-nftables/web1.nft")).stdout).toContain("table inet web1");

      const second = await cli(["apply", "--policy", policy, ...target(), "--format", "json"]);
      timings.applyUnchanged = second.ms;
      expect(second.code, second.stderr).toBe(0);
      const out = JSON.parse(second.stdout) as Record<string, unknown>;
      expect(out).toMatchObject({
        changed: false,
        table: "web1",
        target: `root@${h.ipv4}:22`,
        stats: { connections: 1 },
      });
      expect(Object.keys(out).sort()).toEqual([
        "changed",
        "facts",
        "flushedConnections",
        "hash",
        "stats",
        "table",
        "target",
        "warnings",
      ]);
      expect(second.stdout).not.toContain("artefacts");
      expect(first.stdout).toContain(String(out.hash));
    });

    it("diff exits 0 when the host is in sync", async () => {
      const r = await cli(["diff", "--policy", policy, ...target()]);
      timings.diffInSync = r.ms;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`root@${h.ipv4}:22: table inet web1 in sync\n`);
    });

    it("a rule added by hand makes diff exit 1 and show it (text and JSON); apply repairs it", async () => {
      await h.sh("nft add rule inet web1 input tcp dport 4444 accept");
      const r = await cli(["diff", "--policy", policy, ...target()]);
      timings.diffDrift = r.ms;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toContain("table inet web1 drifted");
      expect(r.stdout).toContain("  + input: tcp dport 4444 accept");

      const j = await cli(["diff", "--policy", policy, ...target(), "--format", "json"]);
      expect(j.code, j.stderr).toBe(1);
      const report = JSON.parse(j.stdout) as { inSync: boolean; rules: { added: { chain: string; text: string }[] } };
      expect(report.inSync).toBe(false);
      expect(report.rules.added).toEqual([expect.objectContaining({ chain: "input", text: "tcp dport 4444 accept" })]);

      const repaired = await cli(["apply", "--policy", policy, ...target()]);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(repaired.stdout).toContain("table inet web1 changed");
      expect(await tableListing()).not.toContain("4444");
      expect((await cli(["diff", "--policy", policy, ...target()])).code).toBe(0);
    });

    it("a policy without ssh and --confirm-timeout 5 exits 4, and the previous table is back", async () => {
      const before = await tableListing();
      const persisted = async () =>
        (await h.sh("cat /etc/hardened-nftables/web1.nft /etc/hardened-nftables/.state/web1/applied.hash")).stdout;
      const persistedBefore = await persisted();
      const r = await cli(["apply", "--policy", lockout, ...target("--confirm-timeout", "5")]);
      timings.applyLockout = r.ms;
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(4);
      expect(r.stderr).toContain("the new ruleset would lock you out; rolled back");
      expect(r.stdout).toBe("");
      expect(await tableListing()).toBe(before);
      expect(before).toContain("tcp dport 22");
      expect(await persisted()).toBe(persistedBefore);
      // The sysctl.d and modprobe.d files and the state are back too: the old policy is in sync.
      const d = await cli(["diff", "--policy", policy, ...target()]);
      expect(d.code, d.stdout).toBe(0);
    });

    it("after the rollback, applying the old policy again finds nothing to change", async () => {
      const r = await cli(["apply", "--policy", policy, ...target()]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("table inet web1 unchanged");
    });

    it("a wrong --host-key exits 5 and names both fingerprints", async () => {
      const wrong = utils.generateKeyPairSync("ed25519").public;
      const r = await cli(["probe", "--host", `root@${h.ipv4}`, "--identity", rootKey, "--host-key", wrong]);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toContain("host key mismatch");
      expect(r.stderr).toContain(fingerprintOfLine(wrong));
      expect(r.stderr).toContain(fingerprintOfLine(h.hostKey));
      expect(r.stdout).toBe("");
      // A pinned fingerprint works as well as the key line.
      const fp = await cli([
        "probe",
        "--host",
        `root@${h.ipv4}`,
        "--identity",
        rootKey,
        "--host-key",
        fingerprintOfLine(h.hostKey),
      ]);
      expect(fp.code, fp.stderr).toBe(0);
    });

    it("an invalid policy exits 2 before any connection (nothing listens on the address)", async () => {
      const bad = file(
        "bad.yaml",
        policyYaml("  - service: ssh\n  - service: https\n  - service: ftp\n    passivePorts: 51000-50000\n"),
      );
      const args = ["--host", "root@198.18.250.250", "--identity", rootKey, "--host-key", h.hostKey, ...STATE];
      for (const command of ["apply", "diff", "remove"]) {
        const r = await cli([command, "--policy", bad, ...args]);
        timings[`invalid-${command}`] = r.ms;
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain("exposures[2].passivePorts: range 51000-50000 is reversed");
        expect(r.stdout).toBe("");
        expect(r.ms).toBeLessThan(5000);
      }
      // Bad connection flags: named by flag, no secret, no connection.
      const missing = await cli([
        "apply",
        "--policy",
        policy,
        "--host",
        "root@198.18.250.250",
        "--identity",
        join(dir, "nope"),
        "--host-key",
        "ssh-ed25519 AAAA",
      ]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`--identity: cannot read ${join(dir, "nope")}: ENOENT`);
      expect(missing.stderr).toContain("--host-key: not an OpenSSH public key line");
      expect(missing.ms).toBeLessThan(5000);
      const encrypted = await cli([
        "probe",
        "--host",
        "198.18.250.250",
        "--identity",
        encryptedKey,
        "--host-key",
        h.hostKey,
      ]);
      expect(encrypted.code).toBe(2);
      expect(encrypted.stderr).toContain("--passphrase-env: required: --identity is encrypted");
      const wrongPass = await cli(
        [
          "probe",
          "--host",
          "198.18.250.250",
          "--identity",
          encryptedKey,
          "--passphrase-env",
          "PP",
          "--host-key",
          h.hostKey,
        ],
        { PP: "not-it" },
      );
      expect(wrongPass.code).toBe(2);
      expect(wrongPass.stderr).toContain("--passphrase-env: cannot decrypt --identity");
      expectNoSecrets(missing);
      expectNoSecrets(encrypted);
    });

    it("the operator user works through sudo (key, encrypted key, password), and nothing secret is printed", async () => {
      const op = ["--host", `${h.operator.user}@${h.ipv4}`, "--host-key", h.hostKey, ...STATE];
      const diff = await cli(["diff", "--policy", policy, "--identity", operatorKey, "--sudo", ...op]);
      timings.diffOperatorSudo = diff.ms;
      expect(diff.code, diff.stderr).toBe(0);
      const apply = await cli(
        ["apply", "--policy", policy, "--identity", encryptedKey, "--passphrase-env", "HNFT_PP", "-v", ...op],
        { HNFT_PP: PASSPHRASE },
      );
      expect(apply.code, apply.stderr).toBe(0);
      expect(apply.stdout).toContain(`${h.operator.user}@${h.ipv4}:22: table inet web1 unchanged`);
      expect(apply.stderr).toContain("connecting");
      expectNoSecrets(apply);
      const probe = await cli(
        ["probe", "--host", `${h.operator.user}@${h.ipv4}`, "--host-key", h.hostKey, "--password-env", "HNFT_PW", "-v"],
        { HNFT_PW: OPERATOR_PASSWORD },
      );
      expect(probe.code, probe.stderr).toBe(0);
      expect(JSON.parse(probe.stdout)).toHaveProperty("nftVersion");
      expectNoSecrets(probe);
      // Without sudo the operator is not root: a host step failure, exit 6.
      const noSudo = await cli([
        "probe",
        "--no-sudo",
        "--identity",
        operatorKey,
        "--host",
        `${h.operator.user}@${h.ipv4}`,
        "--host-key",
        h.hostKey,
      ]);
      expect(noSudo.code).toBe(6);
      expect(noSudo.stderr).toContain("host steps need root");
    });

    it("remove exits 0 and the table, its files and its state are gone", async () => {
      const r = await cli(["remove", "--policy", policy, ...target()]);
      timings.remove = r.ms;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("removed table inet web1");
      expect(r.stdout).toContain("removed /etc/hardened-nftables/web1.nft");
      expect((await h.sh("nft list table inet web1", { allowFail: true })).code).not.toBe(0);
      expect((await h.sh("ls -A /etc/hardened-nftables/.state")).stdout.trim()).toBe("");
      const again = await cli(["remove", "--table", "web1", ...target()]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("nothing to remove");
      const d = await cli(["diff", "--policy", policy, ...target()]);
      expect(d.code).toBe(1);
      expect(d.stdout).toContain("table missing");
    });
  },
);
