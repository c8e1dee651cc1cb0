/**
 * A refresh in one round trip (issue #24): the host probes, then observes with the artefacts the
 * caller expected (rendered for the profile the state recorded); a host whose facts render
 * something else is observed again with those.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  applyPolicy,
  type HostSession,
  observeOnSession,
  observePolicy,
  probeSession,
  withSession,
} from "../../src/host";
import { probeAndObserveOnSession } from "../../src/host/operations/observe";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import type { HostProfile } from "../../src/render/profile";
import { connectionFor, HOST_PATHS, TABLE, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const policy = assertPolicy({
  table: TABLE,
  exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100" }],
});
const options = { paths: HOST_PATHS };
/** A kernel with the helper switch (before 6.0): it renders sysctl.d and modprobe.d differently. */
const OLD_KERNEL: HostProfile = { kernel: "5.10", helperSysctl: true, helperModuleParam: true };

describe.runIf(requireRoot("probe and observe", ["ip", "sshd", "nft", "unshare"]))(
  "host layer: probe and observe in one round trip",
  () => {
    let lab: Lab;
    let h1: LabHost;

    const onSession = <T>(step: (session: HostSession) => Promise<T>) => withSession(connectionFor(h1), step);

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "probe-observe" });
      [h1] = lab.hosts as [LabHost];
    });
    afterAll(async () => {
      await lab?.destroy();
    });
    beforeEach(async () => {
      await wipeHost(h1);
      expect((await applyPolicy(connectionFor(h1), policy, options)).changed).toBe(true);
    });

    it("a host as expected: one round trip, the same facts and findings as the two steps", async () => {
      // the host API's drift check: probe, then observe, two round trips
      const { stats, ...twoSteps } = await observePolicy(connectionFor(h1), policy, options);
      expect(stats.roundTrips).toBe(2);
      const expected = renderPolicy(policy, { profile: twoSteps.facts.profile });
      const oneStep = await onSession(async (session) => {
        const observed = await probeAndObserveOnSession(session, expected, () => expected, options);
        return { ...observed, roundTrips: session.stats.roundTrips };
      });
      expect(oneStep.roundTrips).toBe(1);
      expect(oneStep.artefacts).toBe(expected);
      expect(oneStep.report.inSync).toBe(true);
      expect(oneStep.facts).toEqual(twoSteps.facts);
      expect(oneStep.report).toEqual(twoSteps);
    });

    it("drift is found in the one round trip: a rule added by hand is named", async () => {
      await h1.sh(`nft insert rule inet ${TABLE} input tcp dport 9999 accept`);
      const { report, roundTrips } = await onSession(async (session) => {
        const facts = await probeSession(session);
        const expected = renderPolicy(policy, { profile: facts.profile });
        const before = session.stats.roundTrips;
        const observed = await probeAndObserveOnSession(session, expected, () => expected, options);
        return { ...observed, roundTrips: session.stats.roundTrips - before };
      });
      expect(roundTrips).toBe(1);
      expect(report.inSync).toBe(false);
      expect(report.rules.added.map((r) => r.text)).toEqual(["tcp dport 9999 accept"]);
    });

    it("a host found otherwise than expected is observed again with what its facts render", async () => {
      const wrong = renderPolicy(policy, { profile: OLD_KERNEL });
      const { observed, roundTrips, wrongReport } = await onSession(async (session) => {
        const facts = await probeSession(session);
        // negative control: what observe finds with the expected artefacts of the wrong kernel
        const wrongReport = await observeOnSession(session, wrong, facts, options);
        const before = session.stats.roundTrips;
        const observed = await probeAndObserveOnSession(
          session,
          wrong,
          (f) => renderPolicy(policy, { profile: f.profile }),
          options,
        );
        return { observed, wrongReport, roundTrips: session.stats.roundTrips - before };
      });
      expect(observed.artefacts.hash).not.toBe(wrong.hash);
      expect(wrongReport.inSync).toBe(false);
      expect(roundTrips).toBe(2);
      expect(observed.report.inSync).toBe(true);
      expect(observed.report.desiredHash).toBe(observed.artefacts.hash);
    });

    it("a login that is not root is refused as the probe refuses it, before any finding", async () => {
      const expected = renderPolicy(policy, { profile: OLD_KERNEL });
      await expect(
        withSession(connectionFor(h1, "operator", { sudo: false }), (session) =>
          probeAndObserveOnSession(session, expected, () => expected, options),
        ),
      ).rejects.toThrow(/host steps need root/);
    });
  },
);
