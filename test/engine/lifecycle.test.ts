/**
 * HostFirewall under the real Pulumi engine (issue #10 §2): `pulumi up`, `preview --diff`,
 * `preview --refresh --expect-no-changes`, `up --refresh`, a lock-out, an invalid policy, a
 * replace and `destroy`, against real lab hosts, with a local file backend. Every command is the
 * pinned CLI in its own process (tools/engine/run.ts), and the assertions read what it printed, what it
 * stored and what is on the host.
 *
 * The connection carries every kind of secret (an encrypted key, its passphrase, a password): the
 * last test reads every byte printed and the exported state for them.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  diffLines,
  type EngineProject,
  engineProject,
  expectOk,
  REPO,
  type StateResource,
  sshdConnections,
} from "../support/engine";
import { HOST_PATHS, listRulesetWithHandles, listTable, runOverNewSession } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

// Several engine commands per test, each starting the provider plugin: minutes on a loaded 2-core machine.
vi.setConfig({ testTimeout: 240_000 });

const TABLE = "engine";
const PASSPHRASE = "hnft-engine-passphrase-Tq47";
const SSH_HTTPS = { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }] };
const SSH_HTTP_SMTP = { table: TABLE, exposures: [{ service: "ssh" }, { service: "http" }, { service: "smtp" }] };
const LOCKOUT = { table: TABLE, exposures: [{ service: "https" }] };

const managed = (table: string) => ({
  nft: `/etc/hardened-nftables/${table}.nft`,
  sysctl: `/etc/sysctl.d/60-hardened-nftables-${table}.conf`,
  modprobe: `/etc/modprobe.d/hardened-nftables-${table}.conf`,
  unit: `/etc/systemd/system/hardened-nftables-${table}.service`,
  unitLink: `/etc/systemd/system/sysinit.target.wants/hardened-nftables-${table}.service`,
});

function hostEntry(host: LabHost, extra: Record<string, unknown> = {}) {
  return {
    name: "web",
    host: host.ipv4,
    user: "root",
    hostKey: host.hostKey,
    hostPaths: HOST_PATHS,
    confirmTimeoutSeconds: 8,
    ...extra,
  };
}

/** Which managed files exist on the host (a link counts as present, wherever it points). */
const presentFiles = (host: LabHost, table: string): string[] =>
  Object.values(managed(table)).filter((p) => {
    try {
      fs.lstatSync(path.join(host.etc, p.replace(/^\/etc\//, "")));
      return true;
    } catch {
      return false;
    }
  });

/** `inode mtime-ns` of every managed file: a rewrite changes it even with the same content. */
async function fileIdentities(host: LabHost, table: string): Promise<string> {
  const files = Object.values(managed(table)).join(" ");
  return (await host.sh(`stat -c '%n %i %.9Y %s' ${files} 2>&1`, { allowFail: true })).stdout;
}

/** The part of a preview that describes the planned step for the host table (not the refresh before it). */
const plannedStep = (out: string): string => {
  const at = out.search(/^ +[~+-]+ ?hardened-nftables:index:HostTable: \((update|replace|create|delete)\)/m);
  return at < 0 ? "" : out.slice(at);
};

const HOST_TABLE = "hardened-nftables:index:HostTable";

describe.runIf(requireRoot("engine lifecycle", ["ip", "nft", "sshd", "ssh-keygen"]))(
  "HostFirewall under the real engine",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let h2: LabHost;
    let project: EngineProject;
    let tmp: string;
    let encKey: string;
    let secrets: string[];

    beforeAll(async () => {
      lab = await createLab({ hosts: 2, label: "engine-lifecycle" });
      [h1, h2] = lab.hosts as [LabHost, LabHost];
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-engine-keys-"));
      const keyPath = path.join(tmp, "enc_ed25519");
      expect(
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "engine@test", "-f", keyPath]).status,
      ).toBe(0);
      encKey = fs.readFileSync(keyPath, "utf8");
      for (const h of [h1, h2]) {
        await h.sh(`cat >> '${path.join(h.dir, "authorized_keys", "root")}'`, {
          stdin: fs.readFileSync(`${keyPath}.pub`, "utf8"),
        });
        fs.mkdirSync(path.join(h.etc, "systemd", "system"), { recursive: true }); // a systemd host: the apply installs its boot unit
      }
      const keyLines = encKey
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length >= 8 && !l.startsWith("-----"));
      secrets = [PASSPHRASE, h1.operator.password!, ...keyLines];

      project = engineProject("lifecycle");
      await project.config("privateKey", encKey, true);
      await project.config("privateKeyPassword", PASSPHRASE, true);
      await project.config("password", h1.operator.password!, true);
      await project.config("hosts", [hostEntry(h1)]);
    }, 600_000);

    afterAll(async () => {
      if (project) {
        if (process.env.HNFT_ENGINE_TRANSCRIPT)
          fs.writeFileSync(process.env.HNFT_ENGINE_TRANSCRIPT, project.transcript.join("\n"));
        // leave nothing behind on the lab hosts even when a test failed half-way
        await project.pulumi(["destroy"]).catch(() => undefined);
        project.remove();
      }
      await lab?.destroy();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("an invalid policy: preview fails naming the field, and the host's sshd saw no connection", async () => {
      await project.config("policy", {
        table: TABLE,
        exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "51000-50000" }],
      });
      const before = sshdConnections(h1);
      const r = await project.pulumi(["preview", "--diff"]);
      expect(r.code).not.toBe(0);
      expect(`${r.stdout}\n${r.stderr}`).toContain("exposures[1].passivePorts: range 51000-50000 is reversed");
      expect(sshdConnections(h1)).toBe(before);
      expect(await listTable(h1, TABLE)).toBe("");
    });

    it("up creates the table, its files and the boot unit; the outputs are as documented", async () => {
      await project.config("policy", SSH_HTTPS);
      const r = expectOk(await project.pulumi(["up", "--yes"]), "up");
      expect(r.stdout).toMatch(/\+ +hardened-nftables:index:HostFirewall web creating/);
      expect(r.stdout).toContain(`+  ${HOST_TABLE} web-table created`);
      expect(r.stdout).toMatch(/\+ 3 created/);

      const table = await listTable(h1, TABLE);
      expect(table).toContain("tcp dport 22 counter accept");
      expect(table).toContain("tcp dport 443 counter accept");
      expect(presentFiles(h1, TABLE)).toEqual(Object.values(managed(TABLE)));
      expect(
        fs.readlinkSync(path.join(h1.etc, `systemd/system/sysinit.target.wants/hardened-nftables-${TABLE}.service`)),
      ).toBe(managed(TABLE).unit);
      expect(fs.readFileSync(path.join(h1.etc, `systemd/system/hardened-nftables-${TABLE}.service`), "utf8")).toContain(
        `/etc/hardened-nftables/${TABLE}.nft`,
      );

      const out = JSON.parse(expectOk(await project.pulumi(["stack", "output", "--json"]), "stack output").stdout);
      const kernel = os.release().split(".").slice(0, 2).join(".");
      expect(out.tables).toEqual([TABLE]);
      expect(out.targets).toEqual([`root@${h1.ipv4}:22`]);
      expect(out.ruleLines[0]).toContain(
        'chain input: tcp dport 443 counter accept comment "https: web requests over TLS"',
      );
      expect(out.renderedTables[0]).toContain(`table inet ${TABLE} {`);
      expect(out.hostProfiles[0]).toMatchObject({ kernel, kernelRelease: os.release() });
      expect(out.appliedHashes[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(out.inSync).toEqual([true]);
      expect(out.drift).toEqual([[]]);
      expect(out.driftSummaries[0]).toBe(`root@${h1.ipv4}:22: table inet ${TABLE} in sync`);
      expect(out.modprobeConfs[0]).toContain("install nf_conntrack_ftp /bin/false");
    });

    it("a policy change: preview --diff prints the changed rule lines one by one, then up applies it", async () => {
      await project.config("policy", SSH_HTTP_SMTP);
      const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview --diff");
      const added = diffLines(plannedStep(preview.stdout), "+");
      const removed = diffLines(plannedStep(preview.stdout), "-");
      // exactly the rule lines that change, one per line; nothing else of the table
      expect(added.filter((l) => l.startsWith("chain "))).toEqual([
        'chain input: tcp dport 25 counter accept comment "smtp: mail from other servers"',
        'chain input: tcp dport 80 counter accept comment "http: web requests"',
      ]);
      expect(removed.filter((l) => l.startsWith("chain "))).toEqual([
        'chain input: tcp dport 443 counter accept comment "https: web requests over TLS"',
      ]);
      expect(preview.stdout).toContain(`~ ${HOST_TABLE}: (update)`);
      expect(preview.stdout).toMatch(/~ 1 to update/);
      expect(await listTable(h1, TABLE)).toContain("tcp dport 443 counter accept"); // a preview changes nothing

      expectOk(await project.pulumi(["up", "--yes"]), "up");
      const table = await listTable(h1, TABLE);
      expect(table).toContain("tcp dport 80 counter accept");
      expect(table).toContain("tcp dport 25 counter accept");
      expect(table).not.toContain("tcp dport 443 counter accept");
    });

    it("a no-op up reports no changes and writes nothing on the host (rule handles and inodes kept)", async () => {
      const handles = await listRulesetWithHandles(h1);
      const files = await fileIdentities(h1, TABLE);
      expect(files.split("\n").filter(Boolean)).toHaveLength(5);
      const r = expectOk(await project.pulumi(["up", "--yes"]), "no-op up");
      expect(r.stdout).toMatch(/Resources:\n +3 unchanged\n\nDuration/);
      expect(r.stdout).not.toContain("web-table updat");
      expect(await listRulesetWithHandles(h1)).toBe(handles);
      expect(await fileIdentities(h1, TABLE)).toBe(files);
    });

    it("drift by hand (a rule, a sysctl.d line): preview --refresh --expect-no-changes fails showing it; up --refresh repairs; the check passes again", async () => {
      await h1.sh(`nft add rule inet ${TABLE} input tcp dport 8080 accept`);
      await h1.sh(`echo 'net.ipv4.tcp_syncookies = 0' >> ${managed(TABLE).sysctl}`);
      const check = await project.pulumi(["preview", "--refresh", "--expect-no-changes", "--diff"]);
      expect(check.code).not.toBe(0);
      expect(`${check.stdout}\n${check.stderr}`).toMatch(/no changes were expected/i);
      // the hand-made lines are live, not declared: the update the check wants removes them
      const step = plannedStep(check.stdout);
      expect(diffLines(step, "-")).toEqual(
        expect.arrayContaining(["chain input: tcp dport 8080 accept", "net.ipv4.tcp_syncookies = 0"]),
      );
      expect(diffLines(step, "+").filter((l) => l.startsWith("chain "))).toEqual([]);
      // the same check in one pass (--run-program: each resource refreshed as the program declares it)
      // finds the same drift
      const onePass = await project.pulumi(["preview", "--refresh", "--run-program", "--expect-no-changes", "--diff"]);
      expect(onePass.code).not.toBe(0);
      expect(`${onePass.stdout}\n${onePass.stderr}`).toMatch(/no changes were expected/i);
      expect(diffLines(plannedStep(onePass.stdout), "-")).toEqual(
        expect.arrayContaining(["chain input: tcp dport 8080 accept", "net.ipv4.tcp_syncookies = 0"]),
      );

      // one provider process serves the refresh and the update: one pooled SSH session, plus the
      // new connection that proves access = 2 connections
      const accepted = () => (fs.readFileSync(h1.sshdLog, "utf8").match(/Accepted publickey for root/g) ?? []).length;
      const before = accepted();
      expectOk(await project.pulumi(["up", "--refresh", "--yes"]), "up --refresh");
      expect(accepted() - before).toBe(2);
      expect(await listTable(h1, TABLE)).not.toContain("8080");
      expect(fs.readFileSync(path.join(h1.etc, `sysctl.d/60-hardened-nftables-${TABLE}.conf`), "utf8")).not.toContain(
        "tcp_syncookies",
      );

      const again = expectOk(
        await project.pulumi(["preview", "--refresh", "--expect-no-changes", "--diff"]),
        "drift check after repair",
      );
      expect(again.stdout).not.toContain("8080");
      expectOk(
        await project.pulumi(["preview", "--refresh", "--run-program", "--expect-no-changes"]),
        "one-pass drift check after repair",
      );
    });

    it("a lock-out policy: up fails with the rollback message, the host keeps its table, the stack keeps the previous state", async () => {
      const before = await listTable(h1, TABLE);
      const stateBefore = hostTableOf(await project.exportState());
      await project.config("policy", LOCKOUT);
      const r = await project.pulumi(["up", "--yes"]);
      expect(r.code).not.toBe(0);
      expect(`${r.stdout}\n${r.stderr}`).toContain(
        `the new ruleset would lock you out of root@${h1.ipv4}:22; rolled back`,
      );
      expect(await listTable(h1, TABLE)).toBe(before);
      const stateAfter = hostTableOf(await project.exportState());
      // the applied table's lines live in HostTable's stored inputs (its outputs do not repeat them)
      const rulesBefore = stateBefore.inputs?.rules as Record<string, string> | undefined;
      expect(Object.keys(rulesBefore ?? {})).toContain(
        'chain input: tcp dport 22 counter accept comment "ssh: remote logins"',
      );
      expect(stateAfter.inputs?.rules).toEqual(rulesBefore);
      const again = await project.pulumi(["preview", "--expect-no-changes", "--diff"]);
      expect(again.code).not.toBe(0);
      expect(diffLines(plannedStep(again.stdout), "-")).toContain(
        'chain input: tcp dport 22 counter accept comment "ssh: remote logins"',
      );
      await project.config("policy", SSH_HTTP_SMTP);
      expectOk(await project.pulumi(["preview", "--expect-no-changes"]), "preview back on the applied policy");
    });

    it("a commit that fails on the host: the update fails with the host's own account (step, state, what to do); the next up converges", async () => {
      const before = await listTable(h1, TABLE);
      // the table's directory read-only (its run and state roots inside stay writable), made over
      // SSH so it lives in the lab sshd's mount namespace, where the host steps run
      const dir = "/etc/hardened-nftables";
      const mount = await runOverNewSession(
        h1,
        [
          "set -e",
          `mount --bind ${dir} ${dir}`,
          `mount -o remount,bind,ro ${dir}`,
          `mount --bind ${HOST_PATHS.runRoot} ${HOST_PATHS.runRoot}`,
          `mount -o remount,bind,rw ${HOST_PATHS.runRoot}`,
          `mount --bind ${HOST_PATHS.stateRoot} ${HOST_PATHS.stateRoot}`,
          `mount -o remount,bind,rw ${HOST_PATHS.stateRoot}`,
          `touch ${dir}/probe 2>&1 || true`,
        ].join("\n"),
      );
      try {
        expect(mount.stdout).toContain("Read-only file system"); // the control: it really is read-only
        await project.config("policy", SSH_HTTPS);
        const r = await project.pulumi(["up", "--yes"]);
        expect(r.code).not.toBe(0);
        const printed = `${r.stdout}\n${r.stderr}`;
        expect(printed).toContain(
          `root@${h1.ipv4}:22: the new ruleset let a new SSH connection in, but persisting it (commit, step install-table) failed`,
        );
        expect(printed).toContain("Read-only file system");
        expect(printed).toContain("What to do:");
        expect(await listTable(h1, TABLE)).toBe(before); // rolled back, as the message says
      } finally {
        await runOverNewSession(
          h1,
          [HOST_PATHS.stateRoot, HOST_PATHS.runRoot, dir]
            .map((m) => `umount '${m}' 2>/dev/null || umount -l '${m}'`)
            .join("; "),
        );
      }
      expectOk(await project.pulumi(["up", "--yes"]), "up after the fault");
      expect(await listTable(h1, TABLE)).toContain("tcp dport 443 counter accept");
      await project.config("policy", SSH_HTTP_SMTP);
      expectOk(await project.pulumi(["up", "--yes"]), "back to the policy the later tests expect");
    });

    it("a change of host replaces, deleting first; destroy removes what it created and leaves a foreign table", async () => {
      await project.config("hosts", [hostEntry(h2)]);
      const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview of a host change");
      expect(preview.stdout).toContain(`+-${HOST_TABLE}: (replace)`);
      expect(preview.stdout).toMatch(/\+-1 to replace/);
      const up = expectOk(await project.pulumi(["up", "--yes"]), "up (replace)");
      const deleted = up.stdout.indexOf(`-- ${HOST_TABLE} web-table deleted original`);
      const created = up.stdout.indexOf(`++ ${HOST_TABLE} web-table created replacement`);
      expect(deleted).toBeGreaterThan(-1);
      expect(created).toBeGreaterThan(deleted);
      expect(await listTable(h1, TABLE)).toBe("");
      expect(presentFiles(h1, TABLE)).toEqual([]);
      expect(await listTable(h2, TABLE)).toContain("tcp dport 80 counter accept");

      await h2.sh(
        "nft add table inet foreign; nft add chain inet foreign input '{ type filter hook input priority 10; policy accept; }'; nft add rule inet foreign input tcp dport 9090 counter accept",
      );
      const foreign = await listTable(h2, "foreign");
      const destroy = expectOk(await project.pulumi(["destroy", "--yes"]), "destroy");
      expect(destroy.stdout).toContain(`-  ${HOST_TABLE} web-table deleted`);
      expect(await listTable(h2, TABLE)).toBe("");
      expect(presentFiles(h2, TABLE)).toEqual([]);
      expect(await listTable(h2, "foreign")).toBe(foreign);
      expect((await project.exportState()).deployment.resources ?? []).toEqual([]);
    });

    it("no secret (key, passphrase, password) in any output of any command, nor in the state, also after a refresh rewrote the inputs", async () => {
      // one more refresh and up over a live table, so the state holds inputs a refresh wrote
      await project.config("hosts", [hostEntry(h1)]);
      expectOk(await project.pulumi(["up", "--yes"]), "up");
      await h1.sh(`nft add rule inet ${TABLE} input udp dport 9999 accept`);
      expectOk(await project.pulumi(["refresh", "--yes"]), "refresh");
      const state = await project.exportState();
      const table = hostTableOf(state);
      expect(Object.keys(table.inputs?.rules ?? {})).toContain("chain input: udp dport 9999 accept");
      expect(isSecretValue(table.inputs?.connection)).toBe(true);
      expect(isSecretValue(table.outputs?.connection)).toBe(true);
      // no code in the state: the provider is the plugin, named by a provider reference
      expect(table.inputs?.__provider).toBeUndefined();
      expect(JSON.stringify(table)).not.toContain(REPO);
      expect(JSON.stringify(table)).not.toMatch(/require\(|PRIVATE KEY/);
      const stateText = JSON.stringify(state);
      const printed = project.transcript.join("\n");
      expect(printed).toContain("would lock you out"); // the error texts are part of what is checked
      for (const s of secrets) {
        expect(stateText.includes(s), `stack export shows a secret (${s.slice(0, 6)}...)`).toBe(false);
        expect(printed.includes(s), `command output shows a secret (${s.slice(0, 6)}...)`).toBe(false);
      }
      // negative control: the secrets are in the state, encrypted; decrypted, the same check finds them
      const shown = expectOk(
        await project.pulumi(["stack", "export", "--show-secrets"]),
        "stack export --show-secrets",
      ).stdout;
      expect(shown.includes(PASSPHRASE) && shown.includes(h1.operator.password!)).toBe(true);
      expectOk(await project.pulumi(["destroy", "--yes"]), "destroy");
    });
  },
);

function hostTableOf(state: { deployment: { resources?: StateResource[] } }): StateResource {
  const found = (state.deployment.resources ?? []).find((r) => r.type === "hardened-nftables:index:HostTable");
  if (!found) throw new Error("no HostTable in the state");
  return found;
}

/** A value the state stores encrypted: {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": ...}. */
function isSecretValue(value: unknown): boolean {
  const v = value as Record<string, unknown> | undefined;
  return (
    v?.["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270" && typeof v.ciphertext === "string"
  );
}
