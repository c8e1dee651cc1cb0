/**
 * Observe leaves equal sets' elements on the host (issue #24): each declared set is listed on the
 * live table and on the candidate and compared there; elements travel only for the sets that
 * differ, and those are still reported element by element.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyPolicy, type DriftReport, HostSession, observeOnSession, probeSession } from "../../src/host";
import { parseOutput } from "../../src/host/wire/remote";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { connectionFor, HOST_PATHS, intercept, TABLE, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const V4 = 3000;
const V6 = 2000;
/** Distinct, non-adjacent prefixes (so nft keeps each as listed): /32s in 198.18.0.0/15, /96s in 2001:2::/48. */
const v4 = Array.from({ length: V4 }, (_, i) => {
  const a = ((198 << 24) | (18 << 16)) + i * 4;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/32`;
});
const v6 = Array.from(
  { length: V6 },
  (_, i) => `2001:2:0:${(i >> 12).toString(16)}:${((i & 0xfff) * 2).toString(16)}::/96`,
);
const policy = assertPolicy({
  table: TABLE,
  exposures: [{ service: "ssh" }, { name: "bulk", protocol: "tcp", ports: 8443, sources: [...v4, ...v6] }],
});
const opts = { paths: HOST_PATHS, confirmTimeoutSeconds: 10 };
/** An element of each set as nft lists it (JSON and text): the needles of "no section carries an element". */
const V4_ELEMENT = "198.18.0.4";
const V6_ELEMENT = "2001:2:0:0:2::";

/** Sections of the observe step that carry the table (not the managed files, which hold the rendered file). */
const TABLE_SECTIONS = [
  "live-json",
  "live-sets-json",
  "live-text",
  "desired-json",
  "desired-sets-json",
  "desired-text",
];

describe.runIf(requireRoot("observe sets", ["ip", "sshd", "nft", "unshare"]))(
  "host layer: observe compares sets on the host",
  () => {
    let lab: Lab;
    let h1: LabHost;

    /** The report, and the observe step's sections as the host sent them. */
    const observe = async (): Promise<{
      report: DriftReport | Omit<DriftReport, "stats">;
      sections: Record<string, string>;
    }> => {
      const session = await HostSession.open(connectionFor(h1));
      try {
        const facts = await probeSession(session);
        const artefacts = renderPolicy(policy, { profile: facts.profile });
        let stdout = "";
        const recording = intercept(session, async (_n, run) => {
          const r = await run();
          stdout = r.stdout;
          return r;
        });
        const report = await observeOnSession(recording, artefacts, facts, { paths: HOST_PATHS });
        return { report, sections: { ...parseOutput(0, stdout, "").sections } };
      } finally {
        await session.close();
      }
    };
    const tableBytes = (sections: Record<string, string>) =>
      TABLE_SECTIONS.reduce((n, k) => n + Buffer.byteLength(sections[k] ?? ""), 0);

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "observe-sets" });
      [h1] = lab.hosts as [LabHost];
    });
    afterAll(async () => {
      await lab?.destroy();
    });
    beforeEach(async () => {
      await wipeHost(h1);
      expect((await applyPolicy(connectionFor(h1), policy, opts)).changed).toBe(true);
    });

    /** The listing the guardian recorded at commit gone: the table is listed and compared again. */
    const forgetCommittedListing = () => h1.sh(`rm -f ${HOST_PATHS.stateRoot}/${TABLE}/applied.listing`);

    it("in sync as committed: the host says so, and nothing of the table is listed, loaded or shipped", async () => {
      const { report, sections } = await observe();
      expect(report.inSync).toBe(true);
      expect(report.tablePresent).toBe(true);
      expect(sections).toHaveProperty("table-as-applied");
      for (const k of TABLE_SECTIONS) expect(sections).not.toHaveProperty(k);
      // the table file, the same as the candidate the step uploaded, is not shipped back either
      expect(sections).toHaveProperty("file nft same");
      expect(sections).not.toHaveProperty("file nft present");
    });

    it("a rule added by hand is not the table as committed: listed, compared and named", async () => {
      await h1.sh(`nft insert rule inet ${TABLE} input tcp dport 9999 accept`);
      const { report, sections } = await observe();
      expect(sections).not.toHaveProperty("table-as-applied");
      expect(report.inSync).toBe(false);
      expect(report.rules.added.map((r) => r.text)).toEqual(["tcp dport 9999 accept"]);
    });

    it("in sync: both sets named the same, and no section carries an element", async () => {
      await forgetCommittedListing();
      const { report, sections } = await observe();
      expect(sections).not.toHaveProperty("table-as-applied");
      expect(report.inSync).toBe(true);
      expect(report.sets).toEqual([]);
      expect(sections["sets-same"]?.split("\n").sort()).toEqual(["set bulk_v4", "set bulk_v6"]);
      expect(sections["live-sets-json"]).toBe("");
      expect(sections["desired-sets-json"]).toBe("");
      for (const k of TABLE_SECTIONS) {
        expect(sections[k]).not.toContain(V4_ELEMENT);
        expect(sections[k]).not.toContain(V6_ELEMENT);
      }
      // 5,000 prefixes are ~100 kB in each of the four listings that used to carry them
      expect(tableBytes(sections)).toBeLessThan(20_000);
    });

    it("an element added by hand to one set is named alone; only that set's elements travel", async () => {
      await h1.sh(`nft add element inet ${TABLE} bulk_v6 '{ 2001:db8::/96 }'`);
      const { report, sections } = await observe();
      expect(report.inSync).toBe(false);
      expect(report.sets).toEqual([{ name: "bulk_v6", added: ["2001:db8::/96"], removed: [] }]);
      expect(sections["sets-same"]).toBe("set bulk_v4");
      expect(sections["live-sets-json"]).toContain("2001:db8::");
      // the needles are real: the differing set's elements are in its listings, JSON and text
      expect(sections["desired-sets-json"]).toContain(V6_ELEMENT);
      expect(sections["live-text"]).toContain("2001:db8::/96");
      expect(sections["desired-text"]).toContain(`${V6_ELEMENT}/96`);
      for (const k of TABLE_SECTIONS) expect(sections[k]).not.toContain(V4_ELEMENT);
    });

    it("an element removed by hand is named alone", async () => {
      await h1.sh(`nft delete element inet ${TABLE} bulk_v4 '{ ${V4_ELEMENT}/32 }'`);
      const { report, sections } = await observe();
      expect(report.sets).toEqual([{ name: "bulk_v4", added: [], removed: [V4_ELEMENT] }]);
      expect(sections["sets-same"]).toBe("set bulk_v6");
    });

    it("a set emptied by hand is drift: every declared element removed (the elements travel again)", async () => {
      await h1.sh(`nft flush set inet ${TABLE} bulk_v4`);
      const { report, sections } = await observe();
      expect(report.inSync).toBe(false);
      expect(report.sets).toHaveLength(1);
      expect(report.sets[0]).toMatchObject({ name: "bulk_v4", added: [] });
      expect(report.sets[0]!.removed).toHaveLength(V4);
      expect(sections["sets-same"]).toBe("set bulk_v6");
      // negative control for the in-sync checks: a set that differs is shipped in full
      expect(sections["desired-sets-json"]).toContain(V4_ELEMENT);
      expect(tableBytes(sections)).toBeGreaterThan(20_000);
    });
  },
);
