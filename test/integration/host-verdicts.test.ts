/**
 * Verdicts that cannot lie (issue #11 §2), each failure injected for real on a lab host:
 * the backup of the previous table unloadable at rollback time during a lock-out apply, the
 * persisted table's directory read-only at commit, the disk full under the state and the run
 * directories, the controller (a child process running the CLI) killed between apply and proof.
 * After each: what the error and the guardian's record say is what the host runs, a NEW SSH
 * connection gets in, and the next apply converges (a change, then a no-op).
 *
 * Mounts (read-only binds, small tmpfs) are made over SSH as root, so they live in the mount
 * namespace of the lab host's sshd, which its sessions and the guardian share; they vanish with
 * that sshd at the latest.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyPolicy, HostStepFailedError, LockoutRolledBackError, observePolicy } from "../../src/host";
import { CAUSE, STATUS } from "../../src/host/wire/protocol";
import { assertPolicy } from "../../src/model/validate";
import { onCleanup } from "../support/exit-cleanup";
import {
  ALT_POLICY,
  BASE_POLICY,
  connectionFor,
  expectRejects,
  guardianAlive,
  HOST_PATHS,
  hostSnapshot,
  LOCKOUT_POLICY,
  listTable,
  lockFree,
  MANAGED,
  runOverNewSession,
  TABLE,
  waitFor,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const CONFIRM = 5;
const TXN = `${MANAGED.runDir}/${TABLE}.txn`;
const HNFT_DIR = "/etc/hardened-nftables";
const STATE_ROOT = `${HNFT_DIR}/.state`;
const bin = join(__dirname, "../../dist/cli/main.js");
const EXIT_STEP_FAILED = 7;

describe.runIf(requireRoot("host verdicts", ["ip", "sshd", "nft", "mount", "umount"]))(
  "host layer: verdicts that cannot lie",
  () => {
    let lab: Lab;
    let h1: LabHost;
    let dir: string;
    let committedTable: string;
    let committedSnapshot: Awaited<ReturnType<typeof hostSnapshot>>;
    /** Mount points made in sshd's namespace by the current test, innermost last. */
    let mounts: string[] = [];

    const overSsh = (script: string) => runOverNewSession(h1, script);

    async function unmountAll(): Promise<void> {
      for (const m of [...mounts].reverse())
        await overSsh(`umount '${m}' 2>/dev/null || umount -l '${m}' 2>/dev/null || true`).catch(() => undefined);
      mounts = [];
    }

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "host-verdicts" });
      [h1] = lab.hosts as [LabHost];
      dir = mkdtempSync(join(tmpdir(), "hnft-verdicts-"));
      onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    });
    afterAll(async () => {
      await unmountAll();
      await lab?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(async () => {
      await h1.startSshd();
      await wipeHost(h1);
      const r = await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      expect(r.changed).toBe(true);
      committedTable = await listTable(h1);
      committedSnapshot = await hostSnapshot(h1);
    });
    afterEach(async () => {
      await unmountAll();
    });

    const result = async () => (await h1.sh(`cat ${TXN}/result 2>/dev/null || echo none`)).stdout.trim();
    const record = async () => (await h1.sh(`cat ${TXN}/record 2>/dev/null || true`)).stdout;

    async function settled(): Promise<void> {
      await waitFor("the guardian to finish", async () => !(await guardianAlive(h1)), (CONFIRM + 15) * 1000);
      await waitFor("the host lock", () => lockFree(h1), 10_000);
    }

    /** A new SSH connection gets in and runs a command. */
    async function reachable(): Promise<void> {
      expect((await overSsh("echo in")).stdout.trim()).toBe("in");
    }

    /** A normal apply changes the host to ALT_POLICY, the next is a no-op, observe is in sync. */
    async function converges(): Promise<void> {
      await reachable();
      const first = await applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      expect(first.changed).toBe(true);
      const second = await applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      expect(second.changed).toBe(false);
      const report = await observePolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS });
      expect(report.inSync).toBe(true);
      expect(report.appliedHash).toBe(first.hash);
      expect(await result()).toBe(`${STATUS.committed} flushed=0`);
    }

    /** Makes a file nft cannot read back, and shows it: nft -c of it fails on the host. */
    async function spoil(path: string): Promise<void> {
      expect((await h1.sh(`nft -c -f '${path}' >/dev/null 2>&1 && echo loads || echo refused`)).stdout.trim()).toBe(
        "loads",
      );
      await h1.sh(`sed -i '3a\\\tthis line is not something nft can read back' '${path}'`);
      expect((await h1.sh(`nft -c -f '${path}' >/dev/null 2>&1 && echo loads || echo refused`)).stdout.trim()).toBe(
        "refused",
      );
    }

    /** The hand edit that tells the live table (and so its backup) apart from the committed file. */
    async function handEdit(): Promise<void> {
      await h1.sh(`nft add rule inet ${TABLE} input tcp dport 8443 counter accept comment '"by hand"'`);
      expect(await listTable(h1)).toContain("by hand");
    }

    it("lock-out, backup unloadable: the host loads the last committed table file, and the error and the record say so", async () => {
      await handEdit();
      const pending = applyPolicy(connectionFor(h1), assertPolicy(LOCKOUT_POLICY), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
      const outcome = expectRejects(pending, HostStepFailedError);
      await waitFor("the guardian", () => guardianAlive(h1), 20_000);
      await spoil(`${TXN}/backup/table.nft`);
      // the fallback itself is loadable: the copy of the committed file taken before this apply
      expect((await h1.sh(`nft -c -f ${TXN}/backup/nft >/dev/null 2>&1 && echo loads`)).stdout.trim()).toBe("loads");
      const err = await outcome;
      console.log(`lock-out with the backup unloadable: ${err.name}:\n${err.message}`);
      expect(err).not.toBeInstanceOf(LockoutRolledBackError);
      expect(err.hostState).toBe(STATUS.rolledBackToPersisted);
      expect(err.message).toContain("the new ruleset would lock you out");
      expect(err.message).toContain(`loaded the last committed table file instead (${MANAGED.nft}`);
      expect(err.message).toMatch(
        /guardian: loading the backup of the previous table .* failed: .*(syntax error|Error)/,
      );
      expect(err.message).toContain("What to do:");
      await settled();
      expect(await result()).toBe(STATUS.rolledBackToPersisted);
      expect(await record()).toMatch(/loading the backup of the previous table .*failed/);
      expect(await record()).toContain("loaded the last committed table file instead");
      // the host runs the committed table, not the hand-edited one it had, and not the lock-out table
      expect(await listTable(h1)).toBe(committedTable);
      expect(await listTable(h1)).not.toContain("by hand");
      expect((await hostSnapshot(h1)).files).toEqual(committedSnapshot.files);
      await converges();
    });

    it("lock-out, backup and committed file both unloadable: the CLI exits 7 and says the table was deleted; it was", async () => {
      const lockout = join(dir, "lockout.json");
      writeFileSync(lockout, JSON.stringify(LOCKOUT_POLICY));
      const child = cli(["apply", "--policy", lockout, "--confirm-timeout", String(CONFIRM)]);
      await waitFor("the guardian", () => guardianAlive(h1), 20_000);
      await spoil(`${TXN}/backup/table.nft`);
      await spoil(`${TXN}/backup/nft`);
      const r = await child.done;
      console.log(`apply with both tables unloadable: exit ${r.code}, stderr:\n${r.stderr}`);
      expect(r.code, r.stderr).toBe(EXIT_STEP_FAILED);
      expect(r.stderr).toContain("the new ruleset would lock you out");
      expect(r.stderr).toContain(`so the host deleted table inet ${TABLE}`);
      expect(r.stderr).toContain("NOT filtered by this project");
      expect(r.stderr).toMatch(/guardian: loading the last committed table file .* failed/);
      expect(r.stderr).toContain("What to do: apply again as soon as possible");
      expect(r.stderr).not.toContain("rolled back\n");
      await settled();
      expect(await result()).toBe(STATUS.tableRemoved);
      expect(await record()).toContain(`deleted table inet ${TABLE}`);
      expect(await listTable(h1)).toBe("");
      await converges();
    });

    it("the persisted table's directory read-only at commit: not `committed`; the host rolled back and the error says why", async () => {
      // read-only bind of the table's directory; the run and state roots inside it stay writable
      const ro = await overSsh(
        [
          "set -e",
          `mount --bind ${HNFT_DIR} ${HNFT_DIR}`,
          `mount -o remount,bind,ro ${HNFT_DIR}`,
          `mount --bind ${MANAGED.runDir} ${MANAGED.runDir}`,
          `mount -o remount,bind,rw ${MANAGED.runDir}`,
          `mount --bind ${STATE_ROOT} ${STATE_ROOT}`,
          `mount -o remount,bind,rw ${STATE_ROOT}`,
          `touch ${HNFT_DIR}/probe 2>&1 || true`,
        ].join("\n"),
      );
      mounts.push(HNFT_DIR, MANAGED.runDir, STATE_ROOT);
      expect(ro.stdout).toContain("Read-only file system"); // the control: the directory really is read-only
      const err = await expectRejects(
        applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS, confirmTimeoutSeconds: CONFIRM }),
        HostStepFailedError,
      );
      expect(err.hostState).toBe(STATUS.rolledBack);
      console.log(`table directory read-only at commit: ${err.name}:\n${err.message}`);
      expect(err.step).toContain("commit, step install-table");
      expect(err.message).toContain("let a new SSH connection in, but persisting it");
      expect(err.message).toContain(`writing ${MANAGED.nft}`);
      expect(err.message).toContain("Read-only file system");
      expect(err.message).toContain("it runs its previous table");
      await settled();
      expect(await result()).toBe(`${STATUS.rolledBack} cause=${CAUSE.commitFailed} step=install-table`);
      expect(await result()).not.toContain(STATUS.committed);
      expect(await listTable(h1)).toBe(committedTable);
      expect((await hostSnapshot(h1)).files).toEqual(committedSnapshot.files);
      await unmountAll();
      await converges();
    });

    it("disk full under the state directory at commit: not `committed`; rolled back, state as before", async () => {
      const stateBefore = (
        await h1.sh(`cat ${MANAGED.stateDir}/applied.hash; md5sum < ${MANAGED.stateDir}/applied.listing`)
      ).stdout;
      const full = await overSsh(
        [
          "set -e",
          "keep=$(mktemp -d)",
          `cp -a ${STATE_ROOT}/. "$keep"/`,
          `mount -t tmpfs -o size=256k,mode=0755 hnft-full ${STATE_ROOT}`,
          `cp -a "$keep"/. ${STATE_ROOT}/`,
          'rm -rf "$keep"',
          `dd if=/dev/zero of=${STATE_ROOT}/filler bs=4k 2>/dev/null || true`,
          `dd if=/dev/zero of=${STATE_ROOT}/probe bs=4k count=1 2>&1 || true`,
          `df -k ${STATE_ROOT} | tail -n 1`,
        ].join("\n"),
      );
      mounts.push(STATE_ROOT);
      expect(full.stdout).toContain("No space left on device"); // the control: it really is full
      const err = await expectRejects(
        applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS, confirmTimeoutSeconds: CONFIRM }),
        HostStepFailedError,
      );
      expect(err.hostState).toBe(STATUS.rolledBack);
      expect(err.step).toContain("commit, step record-state");
      expect(err.message).toContain(`writing ${MANAGED.stateDir}`);
      await settled();
      expect(await result()).toBe(`${STATUS.rolledBack} cause=${CAUSE.commitFailed} step=record-state`);
      expect(await listTable(h1)).toBe(committedTable);
      expect((await hostSnapshot(h1)).files).toEqual(committedSnapshot.files);
      // the recorded state is the previous one, whole (read in sshd's namespace, where the tmpfs is)
      expect(
        (await overSsh(`cat ${MANAGED.stateDir}/applied.hash; md5sum < ${MANAGED.stateDir}/applied.listing`)).stdout,
      ).toBe(stateBefore);
      await unmountAll();
      await converges();
    });

    it("disk full under the run directory: the backup cannot be written, so nothing is applied and the error says unchanged", async () => {
      const before = await hostSnapshot(h1);
      const full = await overSsh(
        [
          "set -e",
          `mount -t tmpfs -o size=64k,mode=0755 hnft-full ${MANAGED.runDir}`,
          `dd if=/dev/zero of=${MANAGED.runDir}/filler bs=4k 2>/dev/null || true`,
          `dd if=/dev/zero of=${MANAGED.runDir}/probe bs=4k count=1 2>&1 || true`,
        ].join("\n"),
      );
      mounts.push(MANAGED.runDir);
      expect(full.stdout).toContain("No space left on device");
      const err = await expectRejects(
        applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS, confirmTimeoutSeconds: CONFIRM }),
        HostStepFailedError,
      );
      expect(err.hostState).toBe(STATUS.unchanged);
      expect(err.step).toBe("apply (step backup)");
      expect(err.message).toContain("No space left on device");
      expect(err.message).toContain("The host is unchanged");
      // no guardian was started (its pid file would be in the full directory)
      expect(
        (await overSsh(`ls ${TXN} 2>/dev/null; [ -f ${TXN}/guardian.pid ] && echo armed || echo not-armed`)).stdout,
      ).toContain("not-armed");
      expect(await hostSnapshot(h1)).toEqual(before);
      await unmountAll();
      await converges();
    });

    it("a managed file's directory read-only after the rollback was armed: the guardian rolls back at once, and the error says so", async () => {
      const ro = await overSsh(
        [
          "set -e",
          "mount --bind /etc/modprobe.d /etc/modprobe.d",
          "mount -o remount,bind,ro /etc/modprobe.d",
          "touch /etc/modprobe.d/probe 2>&1 || true",
        ].join("\n"),
      );
      mounts.push("/etc/modprobe.d");
      expect(ro.stdout).toContain("Read-only file system");
      const err = await expectRejects(
        applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS, confirmTimeoutSeconds: CONFIRM }),
        HostStepFailedError,
      );
      expect(err.step).toBe("apply (step install-files)");
      expect(err.hostState).toBe(STATUS.rolledBack);
      expect(err.message).toContain("Read-only file system");
      expect(err.message).toContain("it runs its previous table");
      // the step did not wait for the confirm timeout: the guardian was told to roll back now
      expect(await guardianAlive(h1)).toBe(false);
      expect(await result()).toBe(`${STATUS.rolledBack} cause=${CAUSE.applyFailed}`);
      expect(await listTable(h1)).toBe(committedTable);
      expect((await hostSnapshot(h1)).files).toEqual(committedSnapshot.files);
      await unmountAll();
      await converges();
    });

    it("the controller killed (SIGKILL) between apply and proof: the guardian rolls back by itself", async () => {
      const policy = join(dir, "alt.json");
      writeFileSync(policy, JSON.stringify(ALT_POLICY));
      // Once the child's first connection is up, new connections to sshd are held back, so the
      // child cannot deliver its proof before it is killed: the kill is between apply and proof.
      const hold =
        "table inet hnft_test_hold {\n chain input {\n  type filter hook input priority -10; policy accept;\n  tcp dport 22 ct state new drop\n }\n}";
      onCleanup(() => void h1.sh("nft delete table inet hnft_test_hold 2>/dev/null || true").catch(() => undefined));
      const child = cli(["apply", "--policy", policy, "--confirm-timeout", String(CONFIRM), "-v"], {
        onLine: async (line) => {
          if (/: connected in \d+ ms/.test(line) && !child.held) {
            child.held = true;
            await h1.sh(`nft -f - <<'EOF'\n${hold}\nEOF`);
          }
          if (line.includes("rollback armed")) child.kill();
        },
      });
      const r = await child.done;
      expect(r.signal).toBe("SIGKILL");
      expect(r.stderr).toContain("rollback armed");
      await h1.sh("nft delete table inet hnft_test_hold");
      // killed with the new table live and the guardian armed: no proof ever reached the host
      expect((await h1.sh(`ls ${TXN} | grep -c '^confirm\\.' || true`)).stdout.trim()).toBe("0");
      await settled();
      expect(await result()).toBe(STATUS.rolledBack);
      expect(await listTable(h1)).toBe(committedTable);
      expect((await hostSnapshot(h1)).files).toEqual(committedSnapshot.files);
      await converges();
    });

    interface Child {
      done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
      kill: () => void;
      held: boolean;
    }

    /** The compiled bin against h1, as a child process (stderr lines go to onLine as they come). */
    function cli(args: string[], opts: { onLine?: (line: string) => Promise<void> } = {}): Child {
      const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
      const proc = spawn(
        process.execPath,
        [
          bin,
          ...args,
          "--host",
          `root@${h1.ipv4}`,
          "--identity",
          h1.root.keyPath,
          "--host-key",
          h1.hostKey,
          "--state-root",
          HOST_PATHS.stateRoot!,
          "--run-root",
          HOST_PATHS.runRoot!,
        ],
        { env, stdio: ["ignore", "pipe", "pipe"] },
      );
      const unregister = onCleanup(() => proc.kill("SIGKILL"));
      let stdout = "";
      let stderr = "";
      let partial = "";
      let chain = Promise.resolve();
      const failures: unknown[] = [];
      proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      proc.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        partial += d.toString();
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          chain = chain.then(() => opts.onLine?.(line)).catch((err: unknown) => void failures.push(err));
        }
      });
      const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
        (resolve) => {
          proc.on("close", (code, signal) => {
            unregister();
            void chain.then(() =>
              resolve({
                code,
                signal,
                stdout,
                stderr: failures.length ? `${stderr}\ntest hook failed: ${failures.map(String).join("; ")}` : stderr,
              }),
            );
          });
        },
      );
      return { done, kill: () => proc.kill("SIGKILL"), held: false };
    }
  },
);
