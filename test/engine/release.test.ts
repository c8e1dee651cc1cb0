/**
 * The release (issue #23, docs/release.md): `npm run release` once into a directory outside the
 * checkout (or HNFT_RELEASE_DIR, made before), then, with nothing but those artifacts:
 * - every artifact names the same version: package.json, the npm tarball and its `pulumi` field,
 *   the plugin archives, the version the plugin reports and its schema's, the wheel, the sdist,
 *   the Go module proxy and sdk/go, CHANGELOG.md; SHA256SUMS matches the files;
 * - the CLI installs on its own (`npm install -g` of the tarball) and prints the version;
 * - `pulumi plugin install ... --file <archive>`, then `pulumi plugin ls` lists it;
 * - the engine downloads the plugin archive itself from a release server on 127.0.0.1 (automatic
 *   plugin acquisition on, the published URL redirected with PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES);
 * - YAML and TypeScript projects outside the checkout against a lab host: up, a no-op up,
 *   `preview --diff` of a change, drift caught and repaired, destroy.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GO_MODULE, PLUGIN_DOWNLOAD_URL } from "../../src/pulumi/schema";
import { diffLines, engineBinDir, expectOk, REPO, runProcess } from "../support/engine";
import { HOST_PATHS, listTable } from "../support/host-fixtures";
import { createLab, type Lab } from "../support/lab";
import { requireRoot } from "../support/privileges";
import {
  type Consumer,
  type ConsumerHost,
  goConsumer,
  outsideEnv,
  PLUGIN,
  pythonConsumer,
  tsConsumer,
  yamlConsumer,
} from "../support/release-consumers";

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
const TARBALL = `pulumi-hardened-nftables-${VERSION}.tgz`;
const ARCHIVE = `${PLUGIN}-v${VERSION}-linux-amd64.tar.gz`;
const TABLE = "consumer";

describe.runIf(requireRoot("engine release", ["ip", "nft", "sshd", "ssh-keygen", "go", "python3"]))(
  "the release, used from outside the repository",
  () => {
    let outside: string;
    let release: string;
    let bin: string;
    let lab: Lab;

    beforeAll(async () => {
      outside = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-release-"));
      expect(outside.startsWith(REPO)).toBe(false);
      bin = engineBinDir();
      release = process.env.HNFT_RELEASE_DIR ?? path.join(outside, "release");
      if (!process.env.HNFT_RELEASE_DIR) {
        const made = expectOk(
          await runProcess("npm", ["run", "--silent", "release", "--", "--out", release], {
            cwd: REPO,
            env: process.env,
            timeoutMs: 900_000,
          }),
          "npm run release",
        );
        process.stderr.write(`npm run release: ${(made.ms / 1000).toFixed(1)} s\n`);
      }
      lab = await createLab({ hosts: 2, label: "engine-release" });
    }, 1_200_000);

    afterAll(async () => {
      await lab?.destroy();
      if (outside) fs.rmSync(outside, { recursive: true, force: true });
    }, 600_000);

    const hostFor = (i: number): ConsumerHost => {
      const h = lab.hosts[i]!;
      return {
        ipv4: h.ipv4,
        hostKey: h.hostKey,
        privateKey: h.root.privateKey,
        hostPaths: { stateRoot: HOST_PATHS.stateRoot!, runRoot: HOST_PATHS.runRoot! },
      };
    };
    const fileIn = (name: string) => path.join(release, name);

    it("every artifact names the same version, and SHA256SUMS matches them", async () => {
      const sums = fs.readFileSync(fileIn("SHA256SUMS"), "utf8").trim().split("\n");
      const listed = sums.map((l) => l.split(/\s+/)[1]!);
      expect(listed).toEqual(
        expect.arrayContaining([
          TARBALL,
          ARCHIVE,
          `${PLUGIN}-v${VERSION}-linux-arm64.tar.gz`,
          `pulumi_hardened_nftables-${VERSION}-py3-none-any.whl`,
          `pulumi_hardened_nftables-${VERSION}.tar.gz`,
        ]),
      );
      for (const line of sums) {
        const [sum, name] = line.split(/\s+/);
        expect(
          createHash("sha256")
            .update(fs.readFileSync(fileIn(name!)))
            .digest("hex"),
          name,
        ).toBe(sum);
      }

      const npmPackage = JSON.parse(
        execFileSync("tar", ["-xzOf", fileIn(TARBALL), "package/package.json"], { encoding: "utf8" }),
      ) as { version: string; pulumi: unknown };
      expect(npmPackage.version).toBe(VERSION);
      expect(npmPackage.pulumi).toEqual({
        resource: true,
        name: "hardened-nftables",
        version: VERSION,
        server: PLUGIN_DOWNLOAD_URL,
      });

      const plugin = path.join(outside, "plugin");
      fs.mkdirSync(plugin);
      execFileSync("tar", ["-xzf", fileIn(ARCHIVE), "-C", plugin]);
      const schema = JSON.parse(
        expectOk(
          await runProcess(path.join(bin, "pulumi"), ["package", "get-schema", path.join(plugin, PLUGIN)], {
            cwd: outside,
            env: outsideEnv(bin, path.join(outside, "schema-home")),
            timeoutMs: 120_000,
          }),
          "get-schema",
        ).stdout,
      ) as { version: string; pluginDownloadURL: string };
      expect(schema.version).toBe(VERSION);
      expect(schema.pluginDownloadURL).toBe(PLUGIN_DOWNLOAD_URL);

      const wheel = fileIn(`pulumi_hardened_nftables-${VERSION}-py3-none-any.whl`);
      const metadata = execFileSync(
        "python3",
        [
          "-c",
          "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read(next(n for n in z.namelist() if n.endswith('METADATA'))).decode()); print(z.read('pulumi_hardened_nftables/pulumi-plugin.json').decode())",
          wheel,
        ],
        { encoding: "utf8" },
      );
      expect(metadata).toMatch(new RegExp(`^Version: ${VERSION.replace(/\./g, "\\.")}$`, "m"));
      expect(metadata).toContain(`"version": "${VERSION}"`);
      expect(metadata).toContain(`"server": "${PLUGIN_DOWNLOAD_URL}"`);

      const proxy = path.join(release, "goproxy", GO_MODULE, "@v");
      expect(fs.readFileSync(path.join(proxy, "list"), "utf8").trim()).toBe(`v${VERSION}`);
      expect(fs.readFileSync(path.join(proxy, `v${VERSION}.mod`), "utf8")).toContain(`module ${GO_MODULE}\n`);
      const goPlugin = JSON.parse(
        fs.readFileSync(path.join(REPO, "sdk/go/hardenednftables/pulumi-plugin.json"), "utf8"),
      ) as { version: string; server: string };
      expect(goPlugin).toMatchObject({ version: VERSION, server: PLUGIN_DOWNLOAD_URL });

      // the release regenerates sdk/go from the schema: what is committed is what it generates
      expect(execFileSync("git", ["status", "--porcelain", "--", "sdk/go"], { cwd: REPO, encoding: "utf8" })).toBe("");

      expect(fs.readFileSync(path.join(REPO, "CHANGELOG.md"), "utf8")).toMatch(
        new RegExp(`^## ${VERSION.replace(/\./g, "\\.")}\\b`, "m"),
      );
    }, 300_000);

    it("the CLI installs on its own from the tarball and prints the version", async () => {
      const prefix = path.join(outside, "global");
      const env = outsideEnv(bin, path.join(outside, "cli-home"));
      expectOk(
        await runProcess(
          "npm",
          ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", fileIn(TARBALL)],
          { cwd: outside, env, timeoutMs: 600_000 },
        ),
        "npm install -g",
      );
      const r = expectOk(
        await runProcess(path.join(prefix, "bin", "hardened-nftables"), ["--version"], {
          cwd: outside,
          env,
          timeoutMs: 60_000,
        }),
        "--version",
      );
      expect(r.stdout.trim()).toBe(VERSION);
    }, 600_000);

    it("pulumi plugin install --file takes the archive; pulumi plugin ls lists it with its version", async () => {
      const env = outsideEnv(bin, path.join(outside, "install-home"));
      const pulumi = (args: string[]) =>
        runProcess(path.join(bin, "pulumi"), args, { cwd: outside, env, timeoutMs: 120_000 });
      expectOk(
        await pulumi(["plugin", "install", "resource", "hardened-nftables", VERSION, "--file", fileIn(ARCHIVE)]),
        "plugin install",
      );
      const listed = expectOk(await pulumi(["plugin", "ls"]), "plugin ls").stdout;
      expect(listed).toMatch(new RegExp(`hardened-nftables\\s+resource\\s+${VERSION.replace(/\./g, "\\.")}`));
    }, 300_000);

    it("the engine downloads the plugin from the release server by itself (no plugins: entry, nothing installed)", async () => {
      const requests: string[] = [];
      const server = http.createServer((req, res) => {
        requests.push(req.url ?? "");
        // the release's assets under /v<version>/, as a release page serves them
        const name = decodeURIComponent(req.url ?? "").replace(`/v${VERSION}/`, "");
        const file = fileIn(path.basename(name));
        if (!req.url?.startsWith(`/v${VERSION}/`) || !fs.existsSync(file)) return void res.writeHead(404).end();
        // the engine checks the length it was told against what it copied
        res.writeHead(200, { "content-type": "application/gzip", "content-length": fs.statSync(file).size });
        fs.createReadStream(file).pipe(res);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const port = (server.address() as AddressInfo).port;
        const env = {
          ...outsideEnv(bin, path.join(outside, "download-home")),
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "false",
          PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES: `^${PLUGIN_DOWNLOAD_URL.replace(/\/v\$\{VERSION\}$/, "")}=http://127.0.0.1:${port}${PLUGIN_DOWNLOAD_URL.slice(PLUGIN_DOWNLOAD_URL.lastIndexOf("/"))}`,
        };
        const project = await yamlConsumer(path.join(outside, "download"), env, bin, hostFor(0), VERSION);
        expect(fs.readFileSync(path.join(project.dir, "Pulumi.yaml"), "utf8")).not.toContain("plugins:");
        const r = expectOk(await project.pulumi(["preview"]), "preview");
        expect(r.stdout).toContain("hardened-nftables:index:HostTable");
        expect(requests).toContain(`/v${VERSION}/${ARCHIVE}`);
        const listed = expectOk(
          await runProcess(path.join(bin, "pulumi"), ["plugin", "ls"], { cwd: outside, env, timeoutMs: 60_000 }),
          "plugin ls",
        ).stdout;
        expect(listed).toMatch(new RegExp(`hardened-nftables\\s+resource\\s+${VERSION.replace(/\./g, "\\.")}`));
      } finally {
        server.close();
      }
    }, 300_000);

    /** up, no-op up, preview --diff of a change, drift caught and repaired, destroy. */
    async function lifecycle(project: Consumer, i: number): Promise<void> {
      const host = lab.hosts[i]!;
      try {
        expectOk(await project.pulumi(["up"]), "up");
        const table = await listTable(host, TABLE);
        expect(table).toContain("tcp dport 22 counter accept");
        expect(table).toContain("tcp dport 443 counter accept");
        expect(table).not.toContain("tcp dport 80 counter accept");

        expectOk(await project.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes");
        const noop = expectOk(await project.pulumi(["up", "--expect-no-changes"]), "no-op up");
        expect(noop.stdout).not.toMatch(/HostTable.*updated/);

        project.exposeHttp();
        const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview --diff");
        expect(
          diffLines(preview.stdout, "+").some((l) =>
            l.startsWith('chain input: tcp dport 80 counter accept comment "http: web requests"'),
          ),
        ).toBe(true);
        expect(await listTable(host, TABLE)).not.toContain("tcp dport 80 counter accept");
        expectOk(await project.pulumi(["up"]), "up (change)");
        expect(await listTable(host, TABLE)).toContain("tcp dport 80 counter accept");

        await host.sh(`nft add rule inet ${TABLE} input tcp dport 8080 accept`);
        const drift = await project.pulumi(["preview", "--refresh", "--diff", "--expect-no-changes"]);
        expect(drift.code).not.toBe(0);
        expect(diffLines(drift.stdout, "-").some((l) => l.startsWith("chain input: tcp dport 8080 accept"))).toBe(true);
        expectOk(await project.pulumi(["up", "--refresh"]), "up --refresh");
        expect(await listTable(host, TABLE)).not.toContain("tcp dport 8080 accept");
        expect((await project.pulumi(["preview", "--refresh", "--expect-no-changes"])).code).toBe(0);
      } finally {
        const destroyed = await project.pulumi(["destroy"]);
        expectOk(destroyed, "destroy");
        expect(await listTable(host, TABLE)).toBe("");
      }
    }

    /** A project outside the checkout, the plugin installed from the release's archive into its PULUMI_HOME. */
    async function installedEnv(label: string): Promise<NodeJS.ProcessEnv> {
      const env = outsideEnv(bin, path.join(outside, `${label}-home`));
      expectOk(
        await runProcess(
          path.join(bin, "pulumi"),
          ["plugin", "install", "resource", "hardened-nftables", VERSION, "--file", fileIn(ARCHIVE)],
          { cwd: outside, env, timeoutMs: 120_000 },
        ),
        "plugin install",
      );
      return env;
    }

    it("YAML, the plugin alone: up, no-op up, preview --diff, drift repaired, destroy", async () => {
      const project = await yamlConsumer(
        path.join(outside, "yaml"),
        await installedEnv("yaml"),
        bin,
        hostFor(0),
        VERSION,
      );
      await lifecycle(project, 0);
    }, 1_200_000);

    it("TypeScript from the npm tarball (Automation API inline program): up, no-op up, preview --diff, drift repaired, destroy", async () => {
      const project = await tsConsumer(
        path.join(outside, "ts"),
        await installedEnv("ts"),
        bin,
        hostFor(1),
        fileIn(TARBALL),
      );
      const resolved = expectOk(await project.pulumi(["resolve"]), "resolve").stdout.trim();
      expect(resolved.startsWith(path.join(project.dir, "node_modules"))).toBe(true);
      expect(fs.realpathSync(resolved).startsWith(REPO)).toBe(false);
      await lifecycle(project, 1);
    }, 1_200_000);

    it("Python from the wheel in a new virtualenv (Automation API inline program): up, no-op up, preview --diff, drift repaired, destroy", async () => {
      const baseVenv = execFileSync("bash", [path.join(REPO, "tools/engine/python-venv.sh")], {
        encoding: "utf8",
      }).trim();
      expect(baseVenv.startsWith(REPO)).toBe(false);
      const wheel = fileIn(`pulumi_hardened_nftables-${VERSION}-py3-none-any.whl`);
      const project = await pythonConsumer(
        path.join(outside, "python"),
        await installedEnv("python"),
        bin,
        hostFor(0),
        wheel,
        baseVenv,
      );
      const resolved = expectOk(await project.pulumi(["resolve"]), "resolve").stdout.trim();
      expect(resolved.startsWith(path.join(project.dir, "venv"))).toBe(true);
      await lifecycle(project, 0);
    }, 1_200_000);

    it("Go through the release's module proxy (Automation API inline program): up, no-op up, preview --diff, drift repaired, destroy", async () => {
      const project = await goConsumer(path.join(outside, "go"), await installedEnv("go"), bin, hostFor(1), {
        proxy: path.join(release, "goproxy"),
        module: GO_MODULE,
        version: VERSION,
        pinsFrom: {
          mod: path.join(REPO, "examples/go-quickstart/go.mod"),
          sum: path.join(REPO, "examples/go-quickstart/go.sum"),
        },
      });
      const goMod = fs.readFileSync(path.join(project.dir, "go.mod"), "utf8");
      expect(goMod).not.toContain("replace");
      expect(goMod).toContain(`${GO_MODULE} v${VERSION}`);
      expect(expectOk(await project.pulumi(["resolve"]), "resolve").stdout.trim()).toBe(
        `${GO_MODULE} v${VERSION} true`,
      );
      await lifecycle(project, 1);
    }, 1_800_000);
  },
);
