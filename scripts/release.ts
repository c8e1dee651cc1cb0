/**
 * `npm run release [-- --out DIR]`: every artifact of this version, from the built checkout, into one
 * directory (default release/), nothing published (docs/release.md):
 *   pulumi-hardened-nftables-<v>.tgz                           the npm package (`npm pack`)
 *   pulumi-resource-hardened-nftables-v<v>-linux-<arch>.tar.gz  the provider plugin, as the engine downloads it
 *   pulumi_hardened_nftables-<v>-py3-none-any.whl, ...-<v>.tar.gz  the Python SDK (wheel, sdist)
 *   goproxy/                                                   the Go SDK (sdk/go, committed) as a GOPROXY=file:// tree
 *   SHA256SUMS                                                 sha256 of every file above
 * Intermediate files go to DIR/.cache; the engine tools and the Python virtualenv are cached where
 * tools/engine keeps them.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { GO_MODULE } from "../src/pulumi/schema";

const REPO = path.resolve(__dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { name: string; version: string };
const VERSION = pkg.version;
const PLUGIN = "pulumi-resource-hardened-nftables";
/** What the archive holds is JavaScript run by `node`: the same archive serves both architectures. */
const PLUGIN_PLATFORMS = ["linux-amd64", "linux-arm64"] as const;

const outArg = process.argv.indexOf("--out");
const OUT = path.resolve(outArg > 0 ? process.argv[outArg + 1]! : path.join(REPO, "release"));
const CACHE = path.join(OUT, ".cache");

const run = (cmd: string, args: string[], cwd = REPO, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

const timings: string[] = [];
function step<T>(name: string, f: () => T): T {
  const start = Date.now();
  const r = f();
  timings.push(`${name} ${((Date.now() - start) / 1000).toFixed(1)} s`);
  return r;
}

/** The engine's bin directory (pulumi, gen-sdk), built or cached by tools/engine/pulumi-engine.sh. */
const engineBin = () => run("bash", [path.join(REPO, "tools/engine/pulumi-engine.sh")]).trim();

function npmPackage(): string {
  run("npm", ["run", "--silent", "build"]);
  const name = `${pkg.name}-${VERSION}.tgz`;
  run("npm", ["pack", "--silent", "--pack-destination", OUT]);
  return path.join(OUT, name);
}

/**
 * The plugin archive, one file per platform (the same bytes: JavaScript run by `node` >= 22):
 *   pulumi-resource-hardened-nftables   the executable the engine starts, a /bin/sh launcher
 *   dist/pulumi/plugin.js                the plugin and every dependency in one file (esbuild)
 *   dist/scripts/                        the host scripts it sends (read beside the code, as in dist/host)
 *   package.json                         name and version (the plugin reports this version)
 * A single file starts faster and is a tenth of the size of node_modules (docs/release.md has the figures).
 */
function pluginArchives(): string[] {
  const stage = path.join(CACHE, "plugin");
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(path.join(stage, "dist", "pulumi"), { recursive: true });
  run(path.join(REPO, "node_modules", ".bin", "esbuild"), [
    "scripts/plugin-bundle-entry.js",
    "--bundle",
    "--minify",
    "--platform=node",
    "--target=node22",
    // optional native speed-ups ssh2 loads inside try/catch: without them it uses its JavaScript code
    "--external:cpu-features",
    "--external:*.node",
    "--log-level=error",
    `--outfile=${path.join(stage, "dist", "pulumi", "plugin.js")}`,
  ]);
  fs.cpSync(path.join(REPO, "dist", "host", "scripts"), path.join(stage, "dist", "scripts"), { recursive: true });
  fs.writeFileSync(
    path.join(stage, "package.json"),
    `${JSON.stringify({ name: pkg.name, version: VERSION }, null, 2)}\n`,
  );
  fs.writeFileSync(
    path.join(stage, PLUGIN),
    `#!/bin/sh
# The hardened-nftables provider plugin ${VERSION}: node (>= 22, on PATH) on the bundle beside this script.
here=$(dirname "$(readlink -f "$0")")
command -v node >/dev/null 2>&1 || { echo "${PLUGIN}: needs Node.js >= 22 on PATH" >&2; exit 1; }
exec node "$here/dist/pulumi/plugin.js" "$@"
`,
    { mode: 0o755 },
  );
  const archive = path.join(CACHE, "plugin.tar.gz");
  // fixed owner and times: the same inputs make the same archive
  run("sh", [
    "-c",
    'tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - -C "$1" . | gzip -n > "$2"',
    "tar",
    stage,
    archive,
  ]);
  return PLUGIN_PLATFORMS.map((platform) => {
    const named = path.join(OUT, `${PLUGIN}-v${VERSION}-${platform}.tar.gz`);
    fs.copyFileSync(archive, named);
    return named;
  });
}

/** The Python SDK `pulumi package add` would generate, built into a wheel and an sdist offline. */
function pythonSdk(bin: string, schema: string): string[] {
  const src = path.join(CACHE, "python-sdk");
  fs.rmSync(src, { recursive: true, force: true });
  run(path.join(bin, "gen-sdk"), ["-language", "python", "-schema", schema, "-out", src], CACHE);
  const venv = run("bash", [path.join(REPO, "tools/engine/python-venv.sh")]).trim();
  // one process each: setuptools keeps state between the two builds
  for (const build of ["build_sdist", "build_wheel"]) {
    run(
      path.join(venv, "bin", "python"),
      ["-c", `import sys; from setuptools import build_meta as b; b.${build}(sys.argv[1])`, OUT],
      src,
    );
  }
  const names = [`pulumi_hardened_nftables-${VERSION}-py3-none-any.whl`, `pulumi_hardened_nftables-${VERSION}.tar.gz`];
  for (const name of names)
    if (!fs.existsSync(path.join(OUT, name))) throw new Error(`the Python build wrote no ${name}`);
  return names.map((name) => path.join(OUT, name));
}

/** sdk/go (committed) regenerated from the schema, and a GOPROXY=file:// tree serving it as v<version>. */
function goSdk(bin: string, schema: string): string {
  const dir = path.join(REPO, "sdk", "go");
  fs.rmSync(dir, { recursive: true, force: true });
  run(path.join(bin, "gen-sdk"), ["-language", "go", "-schema", schema, "-out", dir], CACHE);
  if (!fs.existsSync(path.join(dir, "go.mod"))) throw new Error("gen-sdk wrote no sdk/go/go.mod");
  const proxy = path.join(OUT, "goproxy");
  const at = path.join(proxy, GO_MODULE, "@v");
  fs.rmSync(proxy, { recursive: true, force: true });
  fs.mkdirSync(at, { recursive: true });
  fs.writeFileSync(path.join(at, "list"), `v${VERSION}\n`);
  fs.writeFileSync(
    path.join(at, `v${VERSION}.info`),
    `${JSON.stringify({ Version: `v${VERSION}`, Time: "2026-01-01T00:00:00Z" })}\n`,
  );
  fs.copyFileSync(path.join(dir, "go.mod"), path.join(at, `v${VERSION}.mod`));
  // the module zip: every file under the prefix module@version/, as `go mod download` expects
  run("python3", [
    "-c",
    `import os, sys, zipfile
src, out, prefix = sys.argv[1:4]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in sorted(os.walk(src)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            info = zipfile.ZipInfo(prefix + "/" + os.path.relpath(p, src), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, open(p, "rb").read())`,
    dir,
    path.join(at, `v${VERSION}.zip`),
    `${GO_MODULE}@v${VERSION}`,
  ]);
  return proxy;
}

function main(): void {
  const start = Date.now();
  fs.mkdirSync(CACHE, { recursive: true });
  for (const f of fs.readdirSync(OUT))
    if (f !== ".cache") fs.rmSync(path.join(OUT, f), { recursive: true, force: true });
  const tarball = step("npm pack (with build)", npmPackage);
  const archives = step("plugin archives", pluginArchives);
  const bin = step("engine tools", engineBin);
  const schema = path.join(CACHE, "schema.json");
  fs.copyFileSync(path.join(REPO, "provider", "schema.json"), schema);
  const python = step("python sdk", () => pythonSdk(bin, schema));
  const proxy = step("go sdk", () => goSdk(bin, schema));
  const files = [
    tarball,
    ...archives,
    ...python,
    ...fs.readdirSync(path.join(proxy, GO_MODULE, "@v")).map((f) => path.join(proxy, GO_MODULE, "@v", f)),
  ];
  fs.writeFileSync(path.join(OUT, "SHA256SUMS"), files.map((f) => `${sha256(f)}  ${path.relative(OUT, f)}\n`).join(""));
  process.stderr.write(
    `release ${VERSION}: ${timings.join(", ")}; total ${((Date.now() - start) / 1000).toFixed(1)} s\n`,
  );
  process.stdout.write(`${OUT}\n`);
}

main();
