/**
 * A stack created by the last release with the dynamic provider (HostTable typed
 * `pulumi-nodejs:dynamic/hardened-nftables:HostTable`, its code serialized into the state) moves
 * to the provider plugin by a plain `pulumi up` with the new package: the HostTable's alias finds
 * the old state, the engine accepts the change of provider without a replace (the plugin
 * implements no DiffConfig: pkg/resource/deploy/step_generator.go providerChanged), and the
 * plugin's diff sees only the counters 0.3.0 puts on every accept rule: one in-place update
 * rewrites the rule lines (the ruleset is the same but for them; the sysctl and modprobe files are
 * written again with the same content), the state holds no code afterwards, and the next preview and up touch nothing.
 *
 * The old release is built from this repository's history: the first parent of the commit that deleted
 * src/pulumi/provider.ts (the dynamic provider) on the main line, compiled against the same node_modules.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { type EngineProject, engineProject, expectOk, REPO } from "../support/engine";
import { HOST_PATHS, listRulesetWithHandles } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const TABLE = "migrate";
const POLICY = { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }] };
const OLD_TYPE = "pulumi-nodejs:dynamic/hardened-nftables:HostTable";
const NEW_TYPE = "hardened-nftables:index:HostTable";

/** The last commit whose package had the dynamic provider. */
function lastDynamicRelease(): string {
  const deleted = execFileSync(
    "git",
    ["-C", REPO, "log", "-1", "--first-parent", "--format=%H", "--diff-filter=D", "--", "src/pulumi/provider.ts"],
    { encoding: "utf8" },
  ).trim();
  if (!deleted)
    throw new Error("git history has no commit deleting src/pulumi/provider.ts (a shallow clone? fetch the history)");
  return `${deleted}^1`;
}

/** That release, compiled as its own `npm run build` does, in `dir`, sharing this checkout's node_modules. */
function buildOldRelease(dir: string): string {
  const rev = lastDynamicRelease();
  fs.mkdirSync(dir, { recursive: true });
  execFileSync("sh", [
    "-c",
    `git -C '${REPO}' archive '${rev}' package.json tsconfig.json tsconfig.build.json src | tar -x -C '${dir}'`,
  ]);
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  execFileSync(path.join(REPO, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], { cwd: dir, stdio: "inherit" });
  fs.cpSync(path.join(dir, "src/host/scripts"), path.join(dir, "dist/host/scripts"), { recursive: true });
  expect(fs.existsSync(path.join(dir, "dist/pulumi/provider.js"))).toBe(true);
  return rev;
}

describe.runIf(requireRoot("engine migration", ["ip", "nft", "sshd", "ssh-keygen", "git"]))(
  "a stack of the dynamic-provider release moves to the plugin",
  () => {
    let lab: Lab;
    let h: LabHost;
    let project: EngineProject;
    let oldDir: string;
    const link = () => path.join(project.dir, "node_modules", "pulumi-hardened-nftables");
    let projectFile: string;
    /** The package the program gets, and the project file its release documents (the old one names no plugin). */
    const usePackage = (dir: string) => {
      fs.rmSync(link());
      fs.symlinkSync(dir, link());
      const settings = YAML.parse(projectFile) as Record<string, unknown>;
      if (dir !== REPO) delete settings.plugins;
      fs.writeFileSync(path.join(project.dir, "Pulumi.yaml"), YAML.stringify(settings));
    };
    const fileInodes = () =>
      [
        "hardened-nftables/migrate.nft",
        "sysctl.d/60-hardened-nftables-migrate.conf",
        "modprobe.d/hardened-nftables-migrate.conf",
      ]
        .map((f) => `${f} ${fs.statSync(path.join(h.etc, f)).ino} ${fs.statSync(path.join(h.etc, f)).mtimeMs}`)
        .join("\n");

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-migration" });
      [h] = lab.hosts as [LabHost];
      project = engineProject("migration", { outsidePackage: true });
      projectFile = fs.readFileSync(path.join(project.dir, "Pulumi.yaml"), "utf8");
      oldDir = path.join(project.dir, ".old-release");
      buildOldRelease(oldDir);
      await project.config("privateKey", h.root.privateKey, true);
      await project.config("hosts", [
        {
          name: "web",
          host: h.ipv4,
          user: "root",
          hostKey: h.hostKey,
          hostPaths: HOST_PATHS,
          confirmTimeoutSeconds: 8,
        },
      ]);
      await project.config("policy", POLICY);
    }, 600_000);

    afterAll(async () => {
      if (project) {
        await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
        project.remove();
      }
      await lab?.destroy();
    });

    it("up with the new package updates the table once, in place, to count its rules; the state holds the plugin's resource and no code; the next preview is empty", async () => {
      usePackage(oldDir);
      expectOk(await project.pulumi(["up", "--yes"]), "up with the dynamic-provider release");
      const before = await project.exportState();
      const oldTable = (before.deployment.resources ?? []).find((r) => r.type === OLD_TYPE);
      expect(oldTable, "the old release created a dynamic HostTable").toBeDefined();
      expect(String(oldTable!.inputs?.__provider)).toContain("provider-impl.js");
      const handles = await listRulesetWithHandles(h);
      const sideFiles = () =>
        ["sysctl.d/60-hardened-nftables-migrate.conf", "modprobe.d/hardened-nftables-migrate.conf"].map((f) =>
          fs.readFileSync(path.join(h.etc, f), "utf8"),
        );
      const sideBefore = sideFiles();
      expect(handles).toContain(`table inet ${TABLE}`);

      usePackage(REPO);
      // 0.3.0 counts every exposure's accepts (issue 21), so the first up after the upgrade
      // rewrites the rule lines, once, in place: an update, never a replacement; what else the
      // table holds (chains, sets, the other files' content) is as the old release left it
      const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview with the plugin");
      const tableLines = (out: string) => out.split("\n").filter((l) => l.includes("HostTable"));
      expect(tableLines(preview.stdout).join("\n")).not.toMatch(/replace|delete|create/);
      const up = expectOk(await project.pulumi(["up", "--yes"]), "up with the plugin");
      expect(tableLines(up.stdout).join("\n")).not.toMatch(/replace|delete|create/);
      expect(up.stdout).toMatch(/1 updated/);

      // the host: the same ruleset but for the counters on the rules and the counted drop ending
      // each chain (which drops what the chain's policy dropped before)
      const END = 'counter drop comment "dropped: end of chain"';
      const uncounted = (listing: string) =>
        listing
          .replace(/ # handle \d+/g, "")
          .replace(/ counter(?= )/g, "")
          .split("\n")
          .filter((l) => l.trim() !== "" && !l.includes("dropped: end of chain"))
          .join("\n");
      const counted = await listRulesetWithHandles(h);
      expect(counted).toMatch(/tcp dport 22 counter accept/);
      expect(counted.split("\n").filter((l) => l.includes(END))).toHaveLength(2);
      expect(uncounted(counted)).toBe(uncounted(handles));
      // an apply writes its files whole: the sysctl and modprobe files are rewritten, unchanged
      expect(sideFiles()).toEqual(sideBefore);
      const afterUpgrade = { handles: counted, inodes: fileInodes() };

      const after = await project.exportState();
      const types = (after.deployment.resources ?? []).map((r) => r.type);
      expect(types).toContain(NEW_TYPE);
      expect(types).not.toContain(OLD_TYPE);
      expect(types.some((t) => t.startsWith("pulumi:providers:pulumi-nodejs"))).toBe(false);
      const table = (after.deployment.resources ?? []).find((r) => r.type === NEW_TYPE)!;
      expect(table.inputs?.__provider).toBeUndefined();
      expect(table.id).toBe(oldTable!.id);

      expectOk(await project.pulumi(["preview", "--expect-no-changes", "--diff"]), "the next preview is empty");
      // a refresh reads the host through the plugin: in sync, and what the old release stored is gone
      expectOk(await project.pulumi(["refresh", "--yes"]), "refresh with the plugin");
      const refreshed = (await project.exportState()).deployment.resources?.find((r) => r.type === NEW_TYPE);
      expect(JSON.stringify(refreshed)).not.toMatch(/__provider|provider-impl/);
      expectOk(await project.pulumi(["preview", "--refresh", "--expect-no-changes"]), "the drift check passes");
      // from then on nothing touches the host: not a rule re-added, not a file rewritten
      expect(await listRulesetWithHandles(h)).toBe(afterUpgrade.handles);
      expect(fileInodes()).toBe(afterUpgrade.inodes);
    }, 600_000);
  },
);
