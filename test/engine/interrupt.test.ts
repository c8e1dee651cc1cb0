/**
 * Interrupted and partitioned runs under the real engine (issue #17): `pulumi up` (engine/run.ts,
 * as scripts/pulumi runs it) interrupted by SIGINT, by SIGTERM twice and by SIGKILL at the moment
 * the host has armed the change, and the host's link cut for longer than the confirmation window
 * and for a short blip inside it.
 *
 * The moment is made deterministic on the lab host's sshd: every login goes through an
 * AuthorizedKeysCommand that, while a hold is on, lets the run's first connection in (the session
 * that probes and applies) and holds every later one (the proof of access) until the test lets it
 * go; it marks when it holds one, and that is after the apply step armed the change.
 *
 * After each: the host runs exactly the old or exactly the new table and a new SSH connection gets
 * in; no process of the run is left (nothing runs in the project's directory); the stack is not
 * locked, or `pulumi cancel` through the wrapper unlocks it; the output says what happened; the
 * next `up` converges and the drift check passes; no secret was printed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EngineProject, engineProject, expectOk, type RunningCommand } from "../support/engine";
import { HOST_PATHS, listTable, runOverNewSession, waitFor } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

vi.setConfig({ testTimeout: 240_000 });

const TABLE = "engine";
const CONFIRM = 8;
const A = { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }] };
const B = { table: TABLE, exposures: [{ service: "ssh" }, { service: "http" }, { service: "smtp" }] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(requireRoot("engine interrupts", ["ip", "nft", "sshd"]))(
  "interrupted and partitioned runs under the real engine",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let project: EngineProject;
    let holdDir: string;
    let txn: string;
    let locks: string;
    let secrets: string[];
    /** the table each policy makes on the host (listed once it was applied) */
    const tables = new Map<object, string>();
    let current: object = A;

    /** Holds every login but the run's first from now on, until released. */
    function hold(): void {
      fs.rmSync(path.join(holdDir, "first"), { force: true });
      fs.rmSync(path.join(holdDir, "held"), { force: true });
      fs.writeFileSync(path.join(holdDir, "on"), "");
    }
    const release = () => fs.rmSync(path.join(holdDir, "on"), { force: true });
    /** The proof of access is being held: the apply step armed the change (its new table is live). */
    const armed = () =>
      waitFor("the proof of access held (the change armed)", () => fs.existsSync(path.join(holdDir, "held")), 120_000);

    const result = (): string => {
      try {
        return fs.readFileSync(path.join(txn, "result"), "utf8").trim();
      } catch {
        return "";
      }
    };
    const guardianArmed = (): boolean =>
      fs.existsSync(path.join(txn, "guardian.pid")) && !fs.existsSync(path.join(txn, "result"));

    /** Processes whose working directory is the project's: the wrapper, the CLI and the provider plugin of a run. */
    function runProcesses(): string[] {
      const found: string[] = [];
      for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        try {
          if (fs.readlinkSync(`/proc/${pid}/cwd`) === project.dir)
            found.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").slice(0, 160)}`);
        } catch {
          /* gone, or not ours to read */
        }
      }
      return found;
    }
    const noRunLeft = () =>
      waitFor(`no process of the run left (${runProcesses().join("; ")})`, () => runProcesses().length === 0, 15_000);

    const lockFiles = (): string[] => {
      const out: string[] = [];
      const walk = (d: string) => {
        if (!fs.existsSync(d)) return;
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else if (e.name.endsWith(".json")) out.push(path.join(d, e.name)); // beside each, the blob store's .attrs
        }
      };
      walk(locks);
      return out;
    };

    /** The host runs exactly the table of `policy`, and a NEW connection gets in. */
    async function hostRuns(policy: object): Promise<void> {
      expect(await listTable(h1, TABLE)).toBe(tables.get(policy));
      expect((await runOverNewSession(h1, "echo in")).stdout.trim()).toBe("in");
    }

    /** The next up converges (a change or none), and the drift check passes. */
    async function converges(policy: object): Promise<string> {
      await project.config("policy", policy);
      const up = expectOk(await project.pulumi(["up", "--yes"]), "the next up");
      expectOk(await project.pulumi(["preview", "--refresh", "--expect-no-changes", "--diff"]), "drift check");
      await hostRuns(policy);
      current = policy;
      return `${up.stdout}\n${up.stderr}`;
    }

    /** `up` of the other policy, started with the proof of access held: resolves once the host armed it. */
    async function upHeld(): Promise<{ run: RunningCommand; from: object; to: object }> {
      const from = current;
      const to = current === A ? B : A;
      await project.config("policy", to);
      hold();
      const run = project.startPulumi(["up", "--yes"]);
      const ended = run.done.then((r) => {
        throw new Error(`up ended (exit ${r.code}) before the host armed the change:\n${printed(r)}`);
      });
      await Promise.race([armed(), ended]);
      ended.catch(() => undefined);
      expect(guardianArmed()).toBe(true);
      return { run, from, to };
    }

    const printed = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-interrupt" });
      h1 = lab.hosts[0]!;
      txn = path.join(h1.etc, "hardened-nftables/.run", `${TABLE}.txn`);
      // Every login through the command (AuthorizedKeysFile none: a key found in a file skips it).
      holdDir = path.join(h1.dir, "hold");
      fs.mkdirSync(holdDir, { mode: 0o755 });
      const command = path.join(h1.dir, "hold-logins.sh");
      fs.writeFileSync(
        command,
        [
          "#!/bin/sh",
          "# sshd runs this per key check, from the connection's own monitor process ($PPID)",
          `d=${holdDir}`,
          'if [ -f "$d/on" ]; then',
          '  if ( set -C; echo "$PPID" >"$d/first" ) 2>/dev/null || [ "$(cat "$d/first")" = "$PPID" ]; then :; else',
          '    : >"$d/held"',
          '    i=0; while [ -f "$d/on" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done',
          "  fi",
          "fi",
          `cat '${path.join(h1.dir, "authorized_keys")}'/"$1"`,
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
      const sshdConfig = path.join(h1.dir, "sshd_config"); // the lab writes it there (test/support/lab.ts)
      const config = fs.readFileSync(sshdConfig, "utf8").replace(/^AuthorizedKeysFile .*$/m, "AuthorizedKeysFile none");
      fs.writeFileSync(
        sshdConfig,
        `${config.trimEnd()}\nAuthorizedKeysCommand ${command} %u\nAuthorizedKeysCommandUser root\n`,
      );
      await h1.stopSshd();
      await h1.startSshd();

      project = engineProject("interrupt");
      locks = path.join(project.backend, ".pulumi", "locks");
      const key = h1.root.privateKey;
      secrets = key
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length >= 8 && !l.startsWith("-----"));
      await project.config("privateKey", key, true);
      await project.config("hosts", [
        {
          name: "web",
          host: h1.ipv4,
          user: "root",
          hostKey: h1.hostKey,
          hostPaths: HOST_PATHS,
          confirmTimeoutSeconds: CONFIRM,
        },
      ]);
      for (const policy of [B, A]) {
        await project.config("policy", policy);
        expectOk(await project.pulumi(["up", "--yes"]), "baseline up");
        tables.set(policy, await listTable(h1, TABLE));
      }
      current = A;
    }, 600_000);

    afterAll(async () => {
      release();
      if (project) {
        if (process.env.HNFT_ENGINE_TRANSCRIPT)
          fs.writeFileSync(process.env.HNFT_ENGINE_TRANSCRIPT, project.transcript.join("\n"));
        await project.pulumi(["cancel"]).catch(() => undefined);
        await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
        project.remove();
      }
      await lab?.destroy();
    });

    it("SIGINT while the change is armed: pulumi finishes the step in flight (the proof goes through: committed), cancels, releases the lock; exit 130", async () => {
      const { run, to } = await upHeld();
      process.kill(-run.pid, "SIGINT"); // as a terminal's Ctrl-C: the wrapper's whole process group
      await sleep(1_000);
      release();
      const r = await run.done;
      expect(r.code, printed(r)).toBe(130);
      expect(printed(r)).toContain("SIGINT received; asking pulumi to cancel");
      expect(printed(r)).toMatch(/interrupted by SIGINT; pulumi cancelled the update after the step in flight/);
      expect(result()).toMatch(/^committed/);
      await hostRuns(to);
      await noRunLeft();
      expect(lockFiles()).toEqual([]);
      await converges(to);
    });

    it("SIGTERM twice while the change is armed: pulumi terminates at once; the host rolls back by itself; no lock; the next up reports what the host did and converges", async () => {
      const { run, from, to } = await upHeld();
      process.kill(run.pid, "SIGTERM"); // a service manager's stop, to the wrapper alone
      await sleep(500);
      process.kill(run.pid, "SIGTERM");
      const r = await run.done;
      expect(r.code, printed(r)).toBe(143);
      expect(printed(r)).toMatch(/SIGTERM received again; asking pulumi to terminate at once/);
      await noRunLeft();
      release();
      await waitFor("the guardian's verdict", () => result() !== "", (CONFIRM + 10) * 1000);
      expect(result()).toBe("rolled-back");
      await hostRuns(from);
      expect(lockFiles()).toEqual([]);
      const out = await converges(to);
      expect(out).toContain("ended without its controller");
      expect(out).toContain("no proof of access arrived in time, so the host restored its previous state by itself");
    });

    it("SIGKILL of the wrapper and the CLI while the change is armed: the plugin stops, the host rolls back by itself; `pulumi cancel` unlocks; refresh and up report what the host did", async () => {
      const { run, from, to } = await upHeld();
      const cli = fs
        .readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
            return /^\d+ \(pulumi\) \S+ (\d+)/.exec(stat)?.[1] === String(run.pid);
          } catch {
            return false;
          }
        })
        .map(Number);
      expect(cli.length).toBe(1);
      process.kill(-run.pid, "SIGKILL");
      process.kill(cli[0]!, "SIGKILL");
      await run.done;
      // the plugin notices its engine is gone (within a second) and ends; its sessions close with it
      await noRunLeft();
      expect(guardianArmed()).toBe(true); // the host decides alone now
      release();
      await waitFor("the guardian's verdict", () => result() !== "", (CONFIRM + 10) * 1000);
      expect(result()).toBe("rolled-back");
      await hostRuns(from);
      // a killed CLI cannot release its lock: one documented command does
      expect(lockFiles().length).toBe(1);
      expectOk(await project.pulumi(["cancel"]), "pulumi cancel");
      expect(lockFiles()).toEqual([]);
      const refreshed = expectOk(await project.pulumi(["preview", "--refresh"]), "preview --refresh after the kill");
      expect(printed(refreshed)).toContain("ended without its controller");
      const out = await converges(to);
      expect(out).toContain("ended without its controller");
      expect(out).toContain("no proof of access arrived in time, so the host restored its previous state by itself");
    });

    it("the host's link down for longer than the window: lost contact, not a lock-out; the host rolls back by itself; the next up converges", async () => {
      const { run, from, to } = await upHeld();
      await ipLink(h1.veth, "down");
      try {
        release();
        await sleep((CONFIRM + 4) * 1000);
      } finally {
        await ipLink(h1.veth, "up");
      }
      const r = await run.done;
      expect(r.code, printed(r)).not.toBe(0);
      expect(printed(r)).toMatch(
        /lost contact with the host while it waited for the proof of access: no answer for \d+s/,
      );
      expect(printed(r)).toContain("The new ruleset was not judged");
      expect(printed(r)).not.toContain("would lock you out");
      expect(result()).toBe("rolled-back");
      await hostRuns(from);
      await noRunLeft();
      expect(lockFiles()).toEqual([]);
      await converges(to);
    });

    it("a blip of the host's link inside the window: the proof arrives late but in time; committed", async () => {
      const { run, to } = await upHeld();
      await ipLink(h1.veth, "down");
      try {
        release();
        await sleep(2_000);
      } finally {
        await ipLink(h1.veth, "up");
      }
      const r = await run.done;
      expect(r.code, printed(r)).toBe(0);
      expect(result()).toMatch(/^committed/);
      await hostRuns(to);
      await noRunLeft();
      expect(lockFiles()).toEqual([]);
      await converges(to);
    });

    it("no secret in anything printed", () => {
      const all = project.transcript.join("\n");
      for (const s of secrets) expect(all).not.toContain(s);
    });
  },
);

async function ipLink(dev: string, state: "up" | "down"): Promise<void> {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync("ip", ["link", "set", dev, state], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip link set ${dev} ${state}: ${r.stderr}`);
}
