/**
 * How the engine finds the hardened-nftables provider plugin, each way docs/provider.md documents,
 * under the real engine (a preview: the plugin's check runs, no host is contacted):
 * - the project's `plugins.providers` path (what the examples and the test program use),
 * - `pulumi-resource-hardened-nftables` on PATH,
 * - `pulumi plugin install resource hardened-nftables <version> --file <the launcher>`, which then
 *   runs the package installed in the project,
 * and, as the control, none of them: the preview fails naming the missing plugin.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import YAML from "yaml";
import { PACKAGE_VERSION } from "../../src/pulumi/version";
import { type EngineProject, engineProject, expectOk, REPO } from "../support/engine";
import { TEST_HOST_KEY } from "../support/keys";

vi.setConfig({ testTimeout: 240_000 });

const LAUNCHER_DIR = path.join(REPO, "bin");
const created = "hardened-nftables:index:HostTable";

describe("the engine finds the provider plugin", () => {
  let project: EngineProject | undefined;
  afterEach(() => project?.remove());

  /** A project for one HostFirewall (never contacted: preview only), its Pulumi.yaml without `plugins` unless kept. */
  async function projectFor(label: string, keepPluginsSection: boolean): Promise<EngineProject> {
    const p = engineProject(label, { outsidePackage: true });
    if (!keepPluginsSection) {
      const file = path.join(p.dir, "Pulumi.yaml");
      const settings = YAML.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
      delete settings.plugins;
      fs.writeFileSync(file, YAML.stringify(settings));
    }
    await p.config("password", "discovery-password-1", true);
    await p.config("hosts", [{ name: "web", host: "198.18.0.1", hostKey: TEST_HOST_KEY }]);
    await p.config("policy", { table: "web", exposures: [{ service: "ssh" }] });
    return p;
  }

  /** PATH without this package's bin directory (a developer's shell may have it). */
  const pathWithout = () =>
    (process.env.PATH ?? "")
      .split(path.delimiter)
      .filter((d) => path.resolve(d) !== LAUNCHER_DIR)
      .join(path.delimiter);

  it("from the project's plugins.providers path", async () => {
    project = await projectFor("discover-project", true);
    const r = expectOk(await project.pulumi(["preview"], { env: { PATH: pathWithout() } }), "preview");
    expect(r.stdout).toContain(created);
  });

  it("from PATH", async () => {
    project = await projectFor("discover-path", false);
    const r = expectOk(
      await project.pulumi(["preview"], { env: { PATH: `${LAUNCHER_DIR}${path.delimiter}${pathWithout()}` } }),
      "preview",
    );
    expect(r.stdout).toContain(created);
  });

  it("installed with pulumi plugin install --file, running the package the project installed", async () => {
    project = await projectFor("discover-install", false);
    const launcher = path.join(LAUNCHER_DIR, "pulumi-resource-hardened-nftables");
    expectOk(
      await project.cli(["plugin", "install", "resource", "hardened-nftables", PACKAGE_VERSION, "--file", launcher], {
        stack: false,
        env: { PATH: pathWithout() },
      }),
      "plugin install",
    );
    const listed = expectOk(await project.cli(["plugin", "ls"], { stack: false }), "plugin ls");
    expect(listed.stdout).toMatch(
      new RegExp(`hardened-nftables\\s+resource\\s+${PACKAGE_VERSION.replace(/\./g, "\\.")}`),
    );
    const r = expectOk(await project.pulumi(["preview"], { env: { PATH: pathWithout() } }), "preview");
    expect(r.stdout).toContain(created);
  });

  it("none of them: the preview fails naming the plugin it did not find", async () => {
    project = await projectFor("discover-none", false);
    const r = await project.pulumi(["preview"], { env: { PATH: pathWithout() } });
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("pulumi-resource-hardened-nftables");
  });
});
