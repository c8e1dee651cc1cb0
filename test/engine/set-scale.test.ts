/**
 * A set of 20,000 source prefixes under the real engine (issue #24, "Scale"): `pulumi up`, the
 * drift check, then one prefix changed: `pulumi preview --diff` prints that prefix's two lines
 * (one `-`, one `+`, two unchanged elements of context either side), not the set; the `up` that follows puts exactly that change on the host. A
 * prefix added on the host by hand: the drift check fails and names that prefix alone (the
 * refresh's own display prints no set: the live lines are kept in the stored inputs only). The
 * state holds each prefix at most 3 times (no predecessor links between a set's elements).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { diffLines, type EngineProject, engineProject, expectOk } from "../support/engine";
import { HOST_PATHS } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

vi.setConfig({ testTimeout: 300_000 });

const TABLE = "big";
const N = 20_000;
/** N distinct non-adjacent prefixes: 30% IPv4 /32 in 198.18.0.0/15 (every 4th address), 70% IPv6 /96 in 2001:2::/48. */
function prefixes(n: number): string[] {
  const v4 = Math.round(n * 0.3);
  const out: string[] = [];
  const base = (198 << 24) | (18 << 16);
  for (let i = 0; i < v4; i++) {
    const a = (base + i * 4) >>> 0;
    out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/32`);
  }
  for (let i = 0; i < n - v4; i++)
    out.push(`2001:2:0:${(i >> 12).toString(16)}:${((i & 0xfff) * 2).toString(16)}::/96`);
  return out;
}

/** Stack outputs that stay small: the default test program exports the whole rendered table. */
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { HostFirewall } from "pulumi-hardened-nftables";
const config = new pulumi.Config();
// a policy of 100,000 prefixes does not fit one argument of \`pulumi config set\` (E2BIG): read from a file
const policyFile = config.get("policyFile");
const h = config.requireObject<{ host: string; hostKey: string; hostPaths: object }>("host");
const fw = new HostFirewall("big", {
  ...((policyFile ? JSON.parse(fs.readFileSync(policyFile, "utf8")) : config.requireObject<Record<string, unknown>>("policy")) as object),
  connection: { host: h.host, user: "root", hostKey: h.hostKey, privateKey: config.requireSecret("privateKey") },
  hostPaths: h.hostPaths,
} as never);
export const inSync = fw.inSync;
`;

const policyWith = (sources: string[]) => ({
  table: TABLE,
  exposures: [{ service: "ssh" }, { name: "bulk", protocol: "tcp", ports: 8443, sources }],
});

describe.runIf(requireRoot("engine set scale", ["ip", "nft", "sshd", "ssh-keygen"]))(
  "a set of 20,000 prefixes under the real engine",
  () => {
    let lab: Lab;
    let host: LabHost;
    let project: EngineProject;
    let policyFile: string;
    const sources = prefixes(N);
    const k = 12_345; // an IPv6 one
    const removed = sources[k]!;
    const added = "2001:2:ffff:1::/64";

    /** Is `element` in the host's set `set`? */
    const hostHas = async (set: string, element: string) =>
      (await host.sh(`nft get element inet ${TABLE} ${set} '{ ${element} }'`, { allowFail: true })).code === 0;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-set-scale" });
      [host] = lab.hosts as [LabHost];
      project = engineProject("set-scale", { files: { "index.ts": PROGRAM } });
      await project.config("privateKey", host.root.privateKey, true);
      await project.config("host", { host: host.ipv4, hostKey: host.hostKey, hostPaths: HOST_PATHS });
      policyFile = path.join(project.dir, "policy.json");
      fs.writeFileSync(policyFile, JSON.stringify(policyWith(sources)));
      await project.config("policyFile", policyFile);
      expectOk(await project.pulumi(["up", "--yes"], { timeoutMs: 600_000 }), "pulumi up");
    }, 900_000);

    afterAll(async () => {
      if (project) {
        await project.pulumi(["destroy", "--yes"], { timeoutMs: 600_000 }).catch(() => undefined);
        project.remove();
      }
      await lab?.destroy();
    });

    it("the drift check of the applied set passes, and the state holds each prefix at most 3 times", async () => {
      expect(await hostHas("bulk_v6", removed)).toBe(true);
      expectOk(await project.pulumi(["preview", "--refresh", "--expect-no-changes"]), "drift check");
      const exported = await project.exportState();
      const state = JSON.stringify(exported);
      // HostTable's inputs: the policy's JSON text and the set's line; its outputs: the policy's
      // text (the rule lines are kept in the inputs alone); the component's rendered table and
      // rule lines are not stored (its other outputs are)
      const count = (s: string) => state.split(s).length - 1;
      expect(count(`${removed}\\"`)).toBe(2); // in the policy's text, quoted inside it
      expect(count(removed)).toBe(3);
      const table = exported.deployment.resources?.find((r) => r.type === "hardened-nftables:index:HostTable");
      // the set is one key, its elements one a line
      const rules = (table?.inputs?.rules ?? {}) as Record<string, string>;
      expect(rules["set bulk_v6"]?.split("\n")).toContain(removed);
      expect(table?.outputs).not.toHaveProperty("rules");
      expect(table?.outputs).toHaveProperty("sysctl");
      const component = exported.deployment.resources?.find((r) => r.type === "hardened-nftables:index:HostFirewall");
      expect(component?.outputs?.inSync).toBe(true);
      expect(component?.outputs).not.toHaveProperty("renderedTable");
      // no element is any other line's predecessor
      expect(state).not.toContain(`after: set bulk_v6: `);
    });

    it("one prefix changed: preview --diff prints its two lines with a little context, not the set", async () => {
      const changed = [...sources];
      changed[k] = added;
      fs.writeFileSync(policyFile, JSON.stringify(policyWith(changed)));
      const r = expectOk(await project.pulumi(["preview", "--diff"]), "preview --diff");
      expect(diffLines(r.stdout, "+")).toEqual([added]);
      expect(diffLines(r.stdout, "-")).toEqual([removed]);
      // proportional: a few dozen lines of frame, nowhere near one per element
      expect(r.stdout.split("\n").length).toBeLessThan(60);
      // the engine's line diff shows two unchanged elements either side of each change, no more
      const unchangedShown = sources.filter((p, i) => i !== k && r.stdout.includes(`${p}\n`));
      expect(unchangedShown.length).toBeGreaterThan(0);
      expect(unchangedShown.length).toBeLessThanOrEqual(8);

      expectOk(await project.pulumi(["up", "--yes"], { timeoutMs: 600_000 }), "pulumi up");
      expect(await hostHas("bulk_v6", added)).toBe(true);
      expect(await hostHas("bulk_v6", removed)).toBe(false);
      expect(await hostHas("bulk_v6", sources[k + 1]!)).toBe(true);
    });

    it("a prefix added on the host by hand: the drift check fails and names it alone", async () => {
      const byHand = "2001:2:fffe::/64";
      await host.sh(`nft add element inet ${TABLE} bulk_v6 '{ ${byHand} }'`);
      const r = await project.pulumi(["preview", "--refresh", "--diff", "--expect-no-changes"]);
      expect(r.code).not.toBe(0);
      // the refresh records the drift (its outputs: drift, driftSummary, inSync; the live lines go
      // to the inputs alone, so the refresh prints no set), and the update would remove the prefix:
      // one `-` element line and the set's count going back; no other element of the set changes
      // (the `+ [n]: ...` lines are the drift output the refresh recorded)
      const elementLines = (xs: string[]) => xs.filter((l) => !l.startsWith("| ") && !/^(\w+|\[\d+\]): /.test(l));
      expect(elementLines(diffLines(r.stdout, "-"))).toEqual([byHand]);
      expect(elementLines(diffLines(r.stdout, "+"))).toEqual([]);
      expect(diffLines(r.stdout, "+").filter((l) => /^\| \d+ elements$/.test(l))).toHaveLength(1);
      expect(r.stdout).toMatch(/table inet big drifted/);
      expect(r.stdout.split("\n").length).toBeLessThan(80);
    });
  },
);
