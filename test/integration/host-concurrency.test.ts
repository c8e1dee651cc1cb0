/**
 * Concurrent applies to one host (issue #3 §8): the host lock, held by the guardian until it has
 * committed or rolled back, serializes them; the end state is exactly one policy, never a mix,
 * and each run gets its own verdict.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ApplyResult,
  applyOnSession,
  applyPolicy,
  HostOperationError,
  HostSession,
  LockoutRolledBackError,
  observePolicy,
  probeSession,
  type RemoveResult,
  removeTable,
} from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import {
  ALT_POLICY,
  BASE_POLICY,
  connectionFor,
  contents,
  guardianAlive,
  HOST_PATHS,
  intercept,
  LOCKOUT_POLICY,
  listTable,
  lockFree,
  managedFiles,
  TABLE,
  waitFor,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const CONFIRM = 5;

describe.runIf(requireRoot("host concurrency", ["ip", "sshd", "nft"]))("host layer: concurrent applies", () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  /** table listing and files of each policy applied alone (on the twin host h2). */
  const alone = new Map<unknown, { table: string; files: Record<string, string | null> }>();

  beforeAll(async () => {
    lab = await createLab({ hosts: 2, label: "host-concurrency" });
    [h1, h2] = lab.hosts as [LabHost, LabHost];
    for (const policy of [BASE_POLICY, ALT_POLICY]) {
      await wipeHost(h2);
      await applyPolicy(connectionFor(h2), assertPolicy(policy), { paths: HOST_PATHS });
      alone.set(policy, { table: await listTable(h2), files: contents(await managedFiles(h2)) });
    }
    expect(alone.get(BASE_POLICY)!.table).not.toBe(alone.get(ALT_POLICY)!.table);
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  beforeEach(async () => {
    await wipeHost(h1);
  });

  const apply = (policy: unknown, log?: string[]) =>
    applyPolicy(connectionFor(h1), assertPolicy(policy), {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: CONFIRM,
      onLog: (l) => log?.push(`${Date.now()} ${l}`),
    });
  const stateOf = async () => ({ table: await listTable(h1), files: contents(await managedFiles(h1)) });

  it("two applies started together both succeed, one after the other; the host ends as exactly one of them", async () => {
    const [a, b] = await Promise.all([apply(BASE_POLICY), apply(ALT_POLICY)]);
    expect(a.changed).toBe(true);
    expect(b.changed).toBe(true);
    const end = await stateOf();
    const winner = end.table === alone.get(ALT_POLICY)!.table ? ALT_POLICY : BASE_POLICY;
    expect(end).toEqual(alone.get(winner));
    const report = await observePolicy(connectionFor(h1), assertPolicy(winner), { paths: HOST_PATHS });
    expect(report.inSync).toBe(true);
    expect(report.appliedHash).toBe((winner === ALT_POLICY ? b : a).hash);
    expect(await lockFree(h1)).toBe(true);
  });

  it("the second waits on the lock the first's guardian holds until it has committed", async () => {
    // the first run is held between its apply step and its proof for HOLD ms (armed, lock held)
    const HOLD = 2500;
    const session = await HostSession.open(connectionFor(h1));
    const facts = await probeSession(session);
    const artefacts = renderPolicy(assertPolicy(BASE_POLICY), { profile: facts.profile });
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let armed: () => void = () => undefined;
    const isArmed = new Promise<void>((r) => (armed = r));
    const wrapped = intercept(session, async (n, run) => {
      const r = await run();
      if (n === 1) {
        armed();
        await held;
      }
      return r;
    });
    const first = applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: 30,
    });
    await isArmed;
    expect(await lockFree(h1)).toBe(false);
    const secondLog: string[] = [];
    const second = apply(ALT_POLICY, secondLog);
    let secondSettled = false;
    void second.then(
      () => (secondSettled = true),
      () => (secondSettled = true),
    );
    await new Promise((r) => setTimeout(r, HOLD));
    // still waiting: the first's table is live, the second has not touched anything
    expect(secondSettled).toBe(false);
    expect(await listTable(h1)).toBe(alone.get(BASE_POLICY)!.table);
    expect(await guardianAlive(h1)).toBe(true);
    release();
    const a = await first;
    await session.close();
    const b = await second;
    expect(a.changed && b.changed).toBe(true);
    // the second's apply step (its 2nd run) was blocked in flock for most of the hold
    const step = secondLog.map((l) => /run #2 exit 0 in (\d+) ms/.exec(l)).find(Boolean);
    expect(Number(step![1])).toBeGreaterThan(HOLD / 2);
    expect(await stateOf()).toEqual(alone.get(ALT_POLICY));
    expect((await observePolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS })).inSync).toBe(true);
  });

  it("each run gets its own verdict: a good apply followed closely by a lock-out", async () => {
    // The lock-out run takes the lock the moment the first guardian commits. The first run's
    // confirming step must still report the first transaction, not the one that replaced it.
    for (let round = 0; round < 4; round++) {
      await wipeHost(h1);
      const first = apply(ALT_POLICY);
      await waitFor("the first apply to arm its rollback", () => guardianAlive(h1), 10_000);
      const second = apply(LOCKOUT_POLICY);
      const [a, b] = await Promise.allSettled([first, second]);
      expect(a.status === "fulfilled" ? "committed" : String((a as PromiseRejectedResult).reason)).toBe("committed");
      expect((a as PromiseFulfilledResult<ApplyResult>).value.changed).toBe(true);
      expect(b.status).toBe("rejected");
      expect((b as PromiseRejectedResult).reason).toBeInstanceOf(LockoutRolledBackError);
      expect(await stateOf()).toEqual(alone.get(ALT_POLICY));
    }
  });

  it("a remove while an apply is armed ends it (the apply learns at once) and removes everything", async () => {
    const first = apply(BASE_POLICY);
    await waitFor("the apply to arm its rollback", () => guardianAlive(h1), 10_000);
    const removed = removeTable(connectionFor(h1), TABLE, { paths: HOST_PATHS });
    const t0 = Date.now();
    const results = await Promise.allSettled([first, removed]);
    // remove kills an armed guardian (so its apply cannot be confirmed) or runs after the commit;
    // either way the apply learns it at once instead of waiting out its confirmation window
    expect(Date.now() - t0).toBeLessThan(CONFIRM * 1000);
    expect(results[1].status).toBe("fulfilled");
    if (results[0].status === "rejected") {
      expect(results[0].reason).toBeInstanceOf(HostOperationError);
      // which word depends on when the remove got there: before the proof first looked for the
      // transaction (no-transaction), while it waited (gone), or after killing the guardian (aborted)
      expect(String(results[0].reason)).toMatch(
        /apply did not finish: (aborted \(the guardian ended without a verdict|gone \(the transaction was removed|no-transaction)/,
      );
      expect((results[1] as PromiseFulfilledResult<RemoveResult>).value.removed).toContain("guardian");
    }
    expect(await listTable(h1)).toBe("");
    expect(Object.values(contents(await managedFiles(h1))).every((c) => c === null)).toBe(true);
    expect(await guardianAlive(h1)).toBe(false);
    await waitFor("the lock", () => lockFree(h1), 10_000);
  });
});
