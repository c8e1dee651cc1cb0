/**
 * Adoption under the real engine: `pulumi import hardened-nftables:index:HostTable web-table
 * root@<host>:22/web` takes over a table made by hand on a lab host. The engine hands the plugin's
 * read() nothing but the id; the connection comes from HNFT_IMPORT_CONNECTION. The program then
 * declares HostFirewall "web" (its child web-table adopts the imported resource through its
 * alias): the preview shows the difference between the live table and the declared policy line by
 * line, `up` converges the host, and the drift check passes.
 *
 * `pulumi import` loads the project's language plugin (and asks it for nothing but the plugins
 * a program needs); no Node.js language host is available here, so this TypeScript project names
 * test/support/language-stand-in. The second suite does the same in a YAML project with the real
 * YAML language host.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import YAML from "yaml";
import { diffLines, type EngineProject, engineProject, expectOk, REPO, sshdConnections } from "../support/engine";
import { type LanguageProject, languageProject } from "../support/engine-languages";
import { HOST_PATHS, listTable } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

vi.setConfig({ testTimeout: 240_000 });

const TABLE = "web";
const TYPE = "hardened-nftables:index:HostTable";
const HAND_MADE = `table inet ${TABLE} {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    tcp dport 22 accept
    tcp dport 8080 accept
  }
}
`;

describe.runIf(requireRoot("engine import", ["ip", "nft", "sshd", "ssh-keygen"]))(
  "pulumi import of a HostTable",
  () => {
    let lab: Lab;
    let h: LabHost;
    let project: EngineProject;
    let id: string;
    const importEnv = () => ({
      HNFT_IMPORT_CONNECTION: JSON.stringify({ hostKey: h.hostKey, privateKey: h.root.privateKey }),
    });

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-import" });
      [h] = lab.hosts as [LabHost];
      project = engineProject("import");
      const file = path.join(project.dir, "Pulumi.yaml");
      const settings = YAML.parse(fs.readFileSync(file, "utf8")) as { plugins: Record<string, unknown> };
      settings.plugins.languages = [{ name: "nodejs", path: path.join(REPO, "test/support/language-stand-in") }];
      fs.writeFileSync(file, YAML.stringify(settings));
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
      await project.config("policy", { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }] });
      await h.sh("nft -f -", { stdin: HAND_MADE });
      id = `root@${h.ipv4}:22/${TABLE}`;
    }, 300_000);

    afterAll(async () => {
      if (project) {
        await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
        project.remove();
      }
      await h?.sh(`nft delete table inet ${TABLE}`, { allowFail: true });
      await lab?.destroy();
    });

    it("a malformed id, or no connection in the environment, is refused naming what is wrong, before any connection", async () => {
      const before = sshdConnections(h);
      const bad = await project.cli(
        ["import", TYPE, "web-table", `root@${h.ipv4}:22`, "--yes", "--generate-code=false"],
        { env: importEnv() },
      );
      expect(bad.code).not.toBe(0);
      expect(`${bad.stdout}${bad.stderr}`).toContain("expected [user@]host[:port]/table");
      const bare = await project.cli(["import", TYPE, "web-table", id, "--yes", "--generate-code=false"]);
      expect(bare.code).not.toBe(0);
      expect(`${bare.stdout}${bare.stderr}`).toContain("HNFT_IMPORT_CONNECTION");
      expect(sshdConnections(h)).toBe(before);
    });

    it("import reads the live table; the next preview shows it against the declared policy; up converges; the drift check passes", async () => {
      const r = expectOk(
        await project.cli(["import", TYPE, "web-table", id, "--yes", "--generate-code=false"], { env: importEnv() }),
        "pulumi import",
      );
      expect(r.stdout).toMatch(/= +hardened-nftables:index:HostTable +web-table +imported/);
      const state = await project.exportState();
      const imported = (state.deployment.resources ?? []).find((res) => res.type === TYPE)!;
      expect(imported.id).toBe(id);
      expect(Object.keys(imported.inputs?.rules ?? {})).toContain("chain input: tcp dport 8080 accept");
      expect(JSON.stringify(state)).not.toContain(h.root.privateKey.split("\n")[1]!);
      expect(await listTable(h, TABLE)).toContain("tcp dport 8080 accept"); // reading changed nothing

      const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview after the import");
      expect(preview.stdout).toMatch(/~ hardened-nftables:index:HostTable: \(update\)/);
      expect(preview.stdout).not.toMatch(/HostTable: \((replace|create|delete)\)/);
      expect(diffLines(preview.stdout, "-")).toContain("chain input: tcp dport 8080 accept");
      expect(diffLines(preview.stdout, "+")).toContain(
        'chain input: tcp dport 443 counter accept comment "https: web requests over TLS"',
      );

      expectOk(await project.pulumi(["up", "--yes"]), "up after the import");
      const live = await listTable(h, TABLE);
      expect(live).not.toContain("8080");
      expect(live).toContain('tcp dport 443 counter accept comment "https: web requests over TLS"');
      const after = await project.exportState();
      const types = (after.deployment.resources ?? []).map((res) => `${res.type} ${res.urn.split("::").pop()}`);
      expect(types.filter((t) => t.startsWith(TYPE))).toEqual([`${TYPE} web-table`]);
      expect((after.deployment.resources ?? []).find((res) => res.type === TYPE)!.urn).toContain(
        "HostFirewall$hardened-nftables:index:HostTable::web-table",
      );
      expectOk(
        await project.pulumi(["preview", "--refresh", "--expect-no-changes"]),
        "the drift check after the convergence",
      );
    });
  },
);

/**
 * The same adoption with a real language host: a YAML project (examples/yaml-quickstart) run by
 * the real `pulumi` CLI and pulumi-language-yaml, no stand-in. Its HostFirewall "quickstart"
 * adopts the imported top-level "quickstart-table".
 */
describe.runIf(requireRoot("engine import (YAML)", ["ip", "nft", "sshd", "ssh-keygen"]))(
  "pulumi import of a HostTable into a YAML project",
  () => {
    const YAML_TABLE = "quickstart";
    let lab: Lab;
    let h: LabHost;
    let project: LanguageProject;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-import-yaml" });
      [h] = lab.hosts as [LabHost];
      project = await languageProject("yaml", "import-yaml", path.join(REPO, "examples", "yaml-quickstart"));
      await project.config("host", h.ipv4);
      await project.config("hostKey", h.hostKey);
      await project.config("privateKey", h.root.privateKey, { secret: true });
      await project.config("hostPaths.stateRoot", HOST_PATHS.stateRoot!, { path: true });
      await project.config("hostPaths.runRoot", HOST_PATHS.runRoot!, { path: true });
      await h.sh("nft -f -", { stdin: HAND_MADE.replace(`table inet ${TABLE} `, `table inet ${YAML_TABLE} `) });
    }, 300_000);

    afterAll(async () => {
      if (project) {
        await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
        project.remove();
      }
      await h?.sh(`nft delete table inet ${YAML_TABLE}`, { allowFail: true });
      await lab?.destroy();
    });

    it("import reads the live table; the preview shows it against the YAML program's policy; up converges; the drift check passes", async () => {
      const id = `root@${h.ipv4}:22/${YAML_TABLE}`;
      const env = { HNFT_IMPORT_CONNECTION: JSON.stringify({ hostKey: h.hostKey, privateKey: h.root.privateKey }) };
      const r = expectOk(
        await project.pulumi(["import", TYPE, "quickstart-table", id, "--yes", "--generate-code=false"], env),
        "pulumi import (YAML)",
      );
      expect(r.stdout).toMatch(/= +hardened-nftables:index:HostTable +quickstart-table +imported/);
      expect(await listTable(h, YAML_TABLE)).toContain("tcp dport 8080 accept"); // reading changed nothing

      const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview after the import (YAML)");
      expect(preview.stdout).toMatch(/~ hardened-nftables:index:HostTable: \(update\)/);
      expect(preview.stdout).not.toMatch(/HostTable: \((replace|create|delete)\)/);
      expect(diffLines(preview.stdout, "-")).toContain("chain input: tcp dport 8080 accept");
      expect(
        diffLines(preview.stdout, "+").some((l) => l.startsWith("chain input: tcp dport 50000-50100 counter accept")),
      ).toBe(true);

      expectOk(await project.pulumi(["up", "--yes"]), "up after the import (YAML)");
      const live = await listTable(h, YAML_TABLE);
      expect(live).not.toContain("8080");
      expect(live).toContain("tcp dport 50000-50100 counter accept");
      const state = await project.exportState();
      expect(
        (state.deployment.resources ?? []).filter((res) => res.type === TYPE).map((res) => res.urn.split("::").pop()),
      ).toEqual(["quickstart-table"]);
      expectOk(
        await project.pulumi(["preview", "--refresh", "--expect-no-changes"]),
        "the drift check after the convergence (YAML)",
      );
    });
  },
);
