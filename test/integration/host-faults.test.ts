/**
 * Faults during apply on a real lab host (issue #3 §8): the controller's connection dies at each
 * step, sshd goes away before the proof, the controller vanishes between steps. The host ends
 * fully old or fully new, never mixed, and the next apply converges.
 *
 * Timing is made deterministic by running applyOnSession on a session wrapper that acts at the
 * exact step (the n-th remote run), and by watching the host for the transaction's own files.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  applyOnSession,
  applyPolicy,
  ConnectionError,
  type HostFacts,
  HostSession,
  LockoutRolledBackError,
  observePolicy,
  probeSession,
} from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { type Artefacts, renderPolicy } from "../../src/render";
import {
  ALT_POLICY,
  BASE_POLICY,
  connectionFor,
  expectRejects,
  guardianAlive,
  HOST_PATHS,
  hostSnapshot,
  intercept,
  lockFree,
  MANAGED,
  TABLE,
  waitFor,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const CONFIRM = 5;
const TXN = `${MANAGED.runDir}/${TABLE}.txn`;

/** pids of the sshd processes serving established connections on the host (its netns only). */
async function sshdSessionPids(h: LabHost): Promise<number[]> {
  const r = await h.sh("ss -tnpH state established '( sport = :22 )'");
  return [...new Set([...r.stdout.matchAll(/"sshd",pid=(\d+)/g)].map((m) => Number(m[1])))];
}

/** SIGKILL those sshd processes (what a crash or an OOM kill of the session looks like). */
async function killSessions(h: LabHost, except: readonly number[] = []): Promise<number[]> {
  const pids = (await sshdSessionPids(h)).filter((p) => !except.includes(p));
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe.runIf(requireRoot("host faults", ["ip", "sshd", "nft", "ss"]))("host layer: faults during apply", () => {
  let lab: Lab;
  let h1: LabHost;
  let oldState: Awaited<ReturnType<typeof hostSnapshot>>;
  let oldHash: string;

  beforeAll(async () => {
    lab = await createLab({ hosts: 1, label: "host-faults" });
    [h1] = lab.hosts as [LabHost];
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  beforeEach(async () => {
    await h1.startSshd();
    await wipeHost(h1);
    const r = await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: CONFIRM,
    });
    expect(r.changed).toBe(true);
    oldHash = r.hash;
    oldState = await hostSnapshot(h1);
  });

  /** Opens a session, probes and renders ALT_POLICY with the host's profile. */
  async function prepare(): Promise<{ session: HostSession; facts: HostFacts; artefacts: Artefacts }> {
    const session = await HostSession.open(connectionFor(h1));
    const facts = await probeSession(session);
    const artefacts = renderPolicy(assertPolicy(ALT_POLICY), { profile: facts.profile });
    return { session, facts, artefacts };
  }

  /** Wait until the armed transaction has ended (committed or rolled back) and the lock is free. */
  async function settled(): Promise<string> {
    await waitFor("the guardian to finish", async () => !(await guardianAlive(h1)), (CONFIRM + 10) * 1000);
    await waitFor("the host lock", () => lockFree(h1), 5000);
    return (await h1.sh(`cat ${TXN}/result 2>/dev/null || echo none`)).stdout.trim();
  }

  async function expectOld(): Promise<void> {
    expect(await hostSnapshot(h1)).toEqual(oldState);
    const report = await observePolicy(connectionFor(h1), assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
    expect(report.inSync).toBe(true);
    expect(report.appliedHash).toBe(oldHash);
  }

  async function expectNew(hash: string): Promise<void> {
    const report = await observePolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS });
    expect(report.inSync).toBe(true);
    expect(report.appliedHash).toBe(hash);
  }

  /** The next apply converges: a real change (or a no-op if already new), then observe is in sync. */
  async function converges(): Promise<void> {
    const r = await applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: CONFIRM,
    });
    await expectNew(r.hash);
    expect(await lockFree(h1)).toBe(true);
    expect(await guardianAlive(h1)).toBe(false);
  }

  it("connection lost before the apply step reaches the host: nothing changes", async () => {
    const { session, facts, artefacts } = await prepare();
    const wrapped = intercept(session, async (n, run) => {
      if (n === 1) {
        expect((await killSessions(h1)).length).toBeGreaterThan(0);
        await waitFor("the connection to drop", async () => (await sshdSessionPids(h1)).length === 0);
      }
      return run();
    });
    await expectRejects(
      applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      }),
      ConnectionError,
    );
    await session.close();
    expect(await guardianAlive(h1)).toBe(false);
    expect(await lockFree(h1)).toBe(true);
    await expectOld();
    await converges();
  });

  it("connection lost while the apply step runs (rollback already armed): the host rolls back by itself", async () => {
    const { session, facts, artefacts } = await prepare();
    let killed: number[] = [];
    const wrapped = intercept(session, async (n, run) => {
      if (n !== 1) return run();
      const pending = run().then(
        () => undefined,
        () => undefined,
      );
      // the moment the guardian exists on the host, the connection dies; whatever the step printed is lost
      await waitFor("the guardian", () => guardianAlive(h1), 10_000);
      killed = await killSessions(h1);
      await pending;
      throw new ConnectionError(
        `connection to ${session.target} lost while running a command`,
        "closed",
        `${h1.ipv4}:22`,
      );
    });
    await expectRejects(
      applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      }),
      ConnectionError,
    );
    expect(killed.length).toBeGreaterThan(0);
    await session.close();
    expect(await settled()).toBe("rolled-back");
    await expectOld();
    await converges();
  });

  it("sshd stopped after the rollback was armed: no proof is possible, the host rolls back and the controller says so", async () => {
    const { session, facts, artefacts } = await prepare();
    const logs: string[] = [];
    const wrapped = intercept(session, async (n, run) => {
      const r = await run();
      if (n === 1) {
        expect(r.stdout).toContain("hnft-status armed");
        await h1.stopSshd(); // the listener goes; this session (its own process) lives on
      }
      return r;
    });
    const t0 = performance.now();
    const err = await expectRejects(
      applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
        onLog: (l) => logs.push(l),
      }),
      LockoutRolledBackError,
    );
    expect(performance.now() - t0).toBeLessThan((CONFIRM + 10) * 1000);
    expect(err.reason).toMatch(/a new SSH connection failed: cannot reach/);
    expect(logs.some((l) => /a new connection failed .*asking the host for its verdict/.test(l))).toBe(true);
    expect(session.stats.roundTrips).toBe(3); // probe, apply, wait for the verdict on the surviving session
    // the confirming connection's own dial attempts are logged too (they explain the delay)
    expect(logs.filter((l) => new RegExp(`root@${h1.ipv4}:22: connecting \\(attempt \\d/3\\)`).test(l)).length).toBe(3);
    await session.close();
    await h1.startSshd();
    expect(await settled()).toBe("rolled-back");
    await expectOld();
    await converges();
  });

  it("controller gone right after the apply step (session destroyed before the proof): rolled back; an apply started meanwhile waits for the lock and converges", async () => {
    const { session, facts, artefacts } = await prepare();
    const wrapped = intercept(session, async (_n, run) => {
      const r = await run();
      expect(r.stdout).toContain("hnft-status armed");
      await session.close();
      throw new Error("controller crashed");
    });
    await expect(
      applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      }),
    ).rejects.toThrow("controller crashed");
    // armed right now: the new table is live, observe says so, and the lock is held
    const armed = await observePolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS });
    expect(armed.armed).toBe(true);
    expect(armed.rules).toEqual({ added: [], removed: [], changed: [] });
    expect(await lockFree(h1)).toBe(false);
    // a new apply now must wait for the guardian (it holds the lock), then apply over the restored state
    const t0 = performance.now();
    const next = await applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: CONFIRM,
    });
    expect(performance.now() - t0).toBeGreaterThan(2000);
    expect(next.changed).toBe(true);
    await expectNew(next.hash);
    // and the rollback really happened in between: the old state's hash was restored before it
    const log = (await h1.sh(`cat ${TXN}/backup/state/applied.hash`)).stdout.trim();
    expect(log).toBe(oldHash);
  });

  it("controller gone right after the apply step, nothing else: the host is fully old after the timeout", async () => {
    const { session, facts, artefacts } = await prepare();
    const wrapped = intercept(session, async (_n, run) => {
      await run();
      await session.close();
      throw new Error("controller crashed");
    });
    await expect(
      applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      }),
    ).rejects.toThrow("controller crashed");
    expect(await settled()).toBe("rolled-back");
    await expectOld();
    await converges();
  });

  it("the confirming connection dies after it delivered the proof: committed, and the controller still learns it", async () => {
    const { session, facts, artefacts } = await prepare();
    let original: number[] = [];
    let killer: Promise<number[]> | undefined;
    const logs: string[] = [];
    const wrapped = intercept(session, async (n, run) => {
      if (n === 1) original = await sshdSessionPids(h1);
      const r = await run();
      if (n === 1) {
        // as soon as the proof file exists, kill every sshd session but the original one
        killer = (async () => {
          await waitFor(
            "the proof",
            async () => (await h1.sh(`ls ${TXN} | grep -c '^confirm\\.' || true`)).stdout.trim() === "1",
            10_000,
          );
          return killSessions(h1, original);
        })();
      }
      return r;
    });
    const result = await applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: CONFIRM,
      onLog: (l) => logs.push(l),
    });
    const killed = await killer;
    await session.close();
    // the kill landed while the confirming step ran: the controller fell back to asking on the original session
    expect(killed?.length).toBeGreaterThan(0);
    expect(logs.some((l) => /a new connection failed \(connection to .* lost while running a command/.test(l))).toBe(
      true,
    );
    expect(result.changed).toBe(true);
    expect(await settled()).toBe("committed flushed=0");
    await expectNew(result.hash);
    await converges();
  });

  it("the original connection dies while waiting for the host's verdict: the error says the host rolls back, and it does", async () => {
    const { session, facts, artefacts } = await prepare();
    const wrapped = intercept(session, async (n, run) => {
      if (n === 1) {
        const r = await run();
        await h1.stopSshd();
        return r;
      }
      // the wait for the verdict: the connection drops as it starts
      const pending = run();
      await killSessions(h1);
      return pending;
    });
    const err = await expectRejects(
      applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      }),
      LockoutRolledBackError,
    );
    expect(err.reason).toMatch(/rolls back by itself within 5s/);
    await session.close();
    await h1.startSshd();
    expect(await settled()).toBe("rolled-back");
    await expectOld();
    await converges();
  });
});
