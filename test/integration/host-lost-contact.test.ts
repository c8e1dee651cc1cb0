/**
 * Lock-out or lost contact (issue #17), on a real lab host: the host's link (the lab veth's
 * root-namespace end) cut right after the apply step armed the change, for longer than the window
 * and for a blip inside it; and the outcome of an apply whose controller vanished, kept on the host
 * until a controller reads it, reported by the next observe (not marked) and the next apply (marked).
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  applyOnSession,
  applyPolicy,
  HostSession,
  LostContactError,
  observePolicy,
  probeSession,
} from "../../src/host";
import { STATUS } from "../../src/host/wire/protocol";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import {
  ALT_POLICY,
  BASE_POLICY,
  connectionFor,
  expectRejects,
  guardianAlive,
  HOST_PATHS,
  intercept,
  MANAGED,
  TABLE,
  waitFor,
  wipeHost,
} from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const CONFIRM = 5;
const TXN = `${MANAGED.runDir}/${TABLE}.txn`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function link(dev: string, state: "up" | "down"): void {
  const r = spawnSync("ip", ["link", "set", dev, state], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip link set ${dev} ${state}: ${r.stderr}`);
}

describe.runIf(requireRoot("host lost contact", ["ip", "sshd", "nft"]))("host layer: lock-out or lost contact", () => {
  let lab: Lab;
  let h1: LabHost;

  beforeAll(async () => {
    lab = await createLab({ hosts: 1, label: "host-lost-contact" });
    [h1] = lab.hosts as [LabHost];
  });
  afterAll(async () => {
    if (h1) link(h1.veth, "up");
    await lab?.destroy();
  });
  beforeEach(async () => {
    await wipeHost(h1);
    expect(
      (
        await applyPolicy(connectionFor(h1), assertPolicy(BASE_POLICY), {
          paths: HOST_PATHS,
          confirmTimeoutSeconds: CONFIRM,
        })
      ).changed,
    ).toBe(true);
  });

  /** applyOnSession of ALT_POLICY, with `cut` run on the host's link right after the apply step armed it. */
  async function applyWithCut(cut: () => Promise<void>) {
    const session = await HostSession.open(connectionFor(h1));
    const facts = await probeSession(session);
    const artefacts = renderPolicy(assertPolicy(ALT_POLICY), { profile: facts.profile });
    const wrapped = intercept(session, async (n, run) => {
      const r = await run();
      if (n === 1) {
        expect(r.stdout).toContain(`hnft-status ${STATUS.armed}`);
        void cut();
      }
      return r;
    });
    try {
      return await applyOnSession(wrapped, connectionFor(h1), artefacts, facts, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: CONFIRM,
      });
    } finally {
      await session.close();
    }
  }

  it("the link down for longer than the window: LostContactError (not a lock-out), with the guardian's word; the host rolled back", async () => {
    const t0 = performance.now();
    const err = await expectRejects(
      applyWithCut(async () => {
        link(h1.veth, "down");
        await sleep((CONFIRM + 4) * 1000);
        link(h1.veth, "up");
      }),
      LostContactError,
    );
    expect(err.silentSeconds).toBeGreaterThanOrEqual(5);
    expect(err.hostState).toBe(STATUS.rolledBack);
    expect(err.message).toContain("The new ruleset was not judged");
    expect(err.message).not.toContain("lock you out");
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect((await h1.sh(`cat ${TXN}/result`)).stdout.trim()).toBe(STATUS.rolledBack);
    expect((await observePolicy(connectionFor(h1), assertPolicy(BASE_POLICY), { paths: HOST_PATHS })).inSync).toBe(
      true,
    );
  });

  it("a blip of 2 s inside the window: the proof arrives; committed", async () => {
    const r = await applyWithCut(async () => {
      link(h1.veth, "down");
      await sleep(2_000);
      link(h1.veth, "up");
    });
    expect(r.changed).toBe(true);
    expect((await h1.sh(`cat ${TXN}/result`)).stdout.trim()).toMatch(/^committed/);
  });

  it("an apply whose controller vanished after arming: observe reports the host's record without marking it; the next apply reports it once", async () => {
    const session = await HostSession.open(connectionFor(h1));
    const facts = await probeSession(session);
    const artefacts = renderPolicy(assertPolicy(ALT_POLICY), { profile: facts.profile });
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
    await waitFor("the guardian's verdict", async () => !(await guardianAlive(h1)), (CONFIRM + 10) * 1000);
    for (let i = 0; i < 2; i++) {
      const report = await observePolicy(connectionFor(h1), assertPolicy(BASE_POLICY), { paths: HOST_PATHS });
      expect(report.lastTransaction).toMatch(
        /^an earlier apply of table inet hnft on this host \(started [^)]+\) ended without its controller .*no proof of access arrived in time, so the host restored its previous state by itself/,
      );
    }
    const next = await applyPolicy(connectionFor(h1), assertPolicy(ALT_POLICY), {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: CONFIRM,
    });
    expect(next.lastTransaction).toContain("ended without its controller");
    expect(next.warnings).toContain(next.lastTransaction);
    const after = await observePolicy(connectionFor(h1), assertPolicy(ALT_POLICY), { paths: HOST_PATHS });
    expect(after.lastTransaction).toBeUndefined();
    expect(after.inSync).toBe(true);
  });
});
