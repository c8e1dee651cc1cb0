/**
 * Two HostFirewalls on one host under the real engine (issue #11 §3): the second table is
 * refused with a message naming the first and nothing changes on the host; with
 * allowOtherTables both apply and each one's modprobe.d file leaves the other's helper loadable;
 * one HostFirewall composed with mergePolicies is the supported way; a renamed table replaces,
 * deleting first.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineProject, engineProject, expectOk } from "../support/engine";
import { HOST_PATHS, listTable } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

/** Two HostFirewalls from config: `base` (ssh) and `app` (ssh, ftp with a scoped helper), optionally allowed to share the host. */
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { HostFirewall, mergePolicies } from "pulumi-hardened-nftables";
const config = new pulumi.Config();
const host = config.requireObject<{ host: string; hostKey: string; hostPaths: { stateRoot: string; runRoot: string } }>("host");
const connection = { host: host.host, hostKey: host.hostKey, privateKey: config.requireSecret("privateKey") };
const mode = config.require("mode"); // "two" | "two-allowed" | "merged" | "renamed"
const base = { exposures: [{ service: "ssh" }] };
// app must admit SSH too: a packet has to pass both tables (without it, app's apply is a lock-out and rolls back)
const app = { exposures: [{ service: "ssh" }, { service: "ftp", helper: "scoped", passivePorts: "50000-50010" }] };
if (mode === "merged" || mode === "renamed") {
  // moving from two tables to one: the new table is applied before the old ones are deleted, so it allows them for the move
  new HostFirewall("web", { ...mergePolicies(base, { exposures: app.exposures.slice(1) }), table: mode === "merged" ? "web" : "web2", connection, hostPaths: host.hostPaths, allowOtherTables: ["base", "app"] } as never);
} else {
  const allow = mode === "two-allowed";
  const b = new HostFirewall("base", { ...base, connection, hostPaths: host.hostPaths, ...(allow ? { allowOtherTables: ["app"] } : {}) } as never);
  new HostFirewall("app", { ...app, connection, hostPaths: host.hostPaths, ...(allow ? { allowOtherTables: ["base"] } : {}) } as never, { dependsOn: [b] });
}
`;

describe.runIf(requireRoot("engine coexist", ["ip", "nft", "sshd", "ssh-keygen"]))(
  "two HostFirewalls on one host, under the real engine",
  () => {
    let lab: Lab;
    let h: LabHost;
    let project: EngineProject;
    const modprobe = (table: string) => path.join(h.etc, `modprobe.d/hardened-nftables-${table}.conf`);
    const etcSnapshot = () =>
      ["hardened-nftables", "modprobe.d", "sysctl.d"]
        .flatMap((d) =>
          fs.existsSync(path.join(h.etc, d)) ? fs.readdirSync(path.join(h.etc, d)).map((f) => `${d}/${f}`) : [],
        )
        .sort();

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-coexist" });
      [h] = lab.hosts as [LabHost];
      project = engineProject("coexist", { files: { "index.ts": PROGRAM } });
      await project.config("privateKey", h.root.privateKey, true);
      await project.config("host", { host: h.ipv4, hostKey: h.hostKey, hostPaths: HOST_PATHS });
    }, 300_000);

    afterAll(async () => {
      if (project) {
        await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
        project.remove();
      }
      await lab?.destroy();
    });

    it("the second table is refused naming the first; nothing of it reaches the host", async () => {
      await project.config("mode", "two");
      const r = await project.pulumi(["up", "--yes"]);
      expect(r.code).not.toBe(0);
      expect(`${r.stdout}\n${r.stderr}`).toContain(
        "refusing to apply table inet app: this host already has table inet base (/etc/hardened-nftables/base.nft",
      );
      expect(await listTable(h, "base")).toContain("tcp dport 22 counter accept");
      expect(await listTable(h, "app")).toBe("");
      expect(etcSnapshot().filter((f) => f.includes("app"))).toEqual([]);
    });

    it("allowed: both apply, and base's deny list leaves the ftp helper app needs loadable", async () => {
      await project.config("mode", "two-allowed");
      expectOk(await project.pulumi(["up", "--yes"]), "up with allowOtherTables");
      expect(await listTable(h, "app")).toMatch(/ct helper set "ftp[^"]*"/);
      expect(fs.readFileSync(modprobe("app"), "utf8")).not.toContain("install nf_conntrack_ftp /bin/false");
      expect(fs.readFileSync(modprobe("base"), "utf8")).not.toContain("install nf_conntrack_ftp /bin/false");
      expect(fs.readFileSync(modprobe("base"), "utf8")).toContain("install nf_conntrack_sip /bin/false");
      // and the pair is stable: a refresh and a preview find nothing to change
      expectOk(await project.pulumi(["preview", "--refresh", "--expect-no-changes"]), "drift check of both tables");
    });

    it("merged into one table with mergePolicies: one table admits both; a renamed table replaces, deleting first", async () => {
      await project.config("mode", "merged");
      expectOk(await project.pulumi(["up", "--yes"]), "up merged");
      expect(await listTable(h, "base")).toBe("");
      expect(await listTable(h, "app")).toBe("");
      const web = await listTable(h, "web");
      expect(web).toContain("tcp dport 22 counter accept");
      expect(web).toMatch(/ct helper set "ftp[^"]*"/);

      await project.config("mode", "renamed");
      const up = expectOk(await project.pulumi(["up", "--yes"]), "up renamed");
      const deleted = up.stdout.indexOf("web-table deleted original");
      expect(deleted).toBeGreaterThan(-1);
      expect(up.stdout.indexOf("web-table created replacement")).toBeGreaterThan(deleted);
      expect(await listTable(h, "web")).toBe("");
      expect(await listTable(h, "web2")).toContain("tcp dport 22 counter accept");
      expectOk(await project.pulumi(["destroy", "--yes"]), "destroy");
      expect(etcSnapshot().filter((f) => !f.startsWith("hardened-nftables/."))).toEqual([]);
    });
  },
);
