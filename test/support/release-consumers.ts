/**
 * Projects of an operator's infra repository, for test/engine/release.test.ts: made in a temporary
 * directory outside the checkout, installing only from a release directory (`npm run release`),
 * run by the pinned engine (`pulumi`, `pulumi-language-yaml`) with their own PULUMI_HOME and file
 * backend. Nothing of the checkout is on PATH, NODE_PATH or in the projects.
 *
 * - YAML: Pulumi.yaml alone; the plugin installed from the release's archive.
 * - TypeScript: `npm install <the release's tarball>`; the program runs as an Automation API inline
 *   program from the installed `@pulumi/pulumi/automation` (no Node.js language host can be built
 *   here: docs/languages.md), a run.js of the project's own.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type CommandResult, ENGINE_PASSPHRASE, expectOk, REPO, runProcess } from "./engine";

export const PLUGIN = "pulumi-resource-hardened-nftables";

export interface ConsumerHost {
  readonly ipv4: string;
  readonly hostKey: string;
  readonly privateKey: string;
  readonly hostPaths: { stateRoot: string; runRoot: string };
}

export interface Consumer {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  /** up | preview | refresh | destroy with --diff, --refresh, --expect-no-changes */
  pulumi(args: string[]): Promise<CommandResult>;
  /** the policy change of the lifecycle: http exposed beside ssh and https */
  exposeHttp(): void;
}

/** The environment of a project outside the checkout: the engine, node, the system; nothing else. */
export function outsideEnv(engineBin: string, home: string): NodeJS.ProcessEnv {
  const system = (process.env.PATH ?? "").split(path.delimiter).filter((d) => d && !path.resolve(d).startsWith(REPO));
  const env: NodeJS.ProcessEnv = {
    HOME: process.env.HOME,
    PATH: [engineBin, path.dirname(process.execPath), ...system].join(path.delimiter),
    PULUMI_HOME: path.join(home, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(home, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: ENGINE_PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_ENGINE_BIN: engineBin,
    FORCE_COLOR: "0",
    npm_config_cache: process.env.npm_config_cache ?? path.join(process.env.HOME ?? "/root", ".npm"),
  };
  fs.mkdirSync(path.join(home, "pulumi-home"), { recursive: true });
  fs.mkdirSync(path.join(home, "state"), { recursive: true });
  return env;
}

const yamlProgram = (host: ConsumerHost) => `name: yaml-consumer
runtime: yaml
config:
  privateKey:
    type: string
    secret: true
resources:
  consumer:
    type: hardened-nftables:index:HostFirewall
    properties:
      connection:
        host: ${host.ipv4}
        hostKey: ${host.hostKey}
        privateKey: \${privateKey}
      exposures:
        - service: ssh
        - service: https
      hostPaths:
        stateRoot: ${host.hostPaths.stateRoot}
        runRoot: ${host.hostPaths.runRoot}
    options:
      version: VERSION
      pluginDownloadURL: https://github.com/hardened-nftables/pulumi-hardened-nftables/releases/download/v$\${VERSION}
outputs:
  table: \${consumer.table}
`;

async function initStack(dir: string, env: NodeJS.ProcessEnv, engineBin: string, host: ConsumerHost): Promise<void> {
  const pulumi = path.join(engineBin, "pulumi");
  expectOk(
    await runProcess(pulumi, ["stack", "init", "test", "--cwd", dir], { cwd: dir, env, timeoutMs: 60_000 }),
    "stack init",
  );
  expectOk(
    await runProcess(pulumi, ["config", "set", "--secret", "privateKey", "--stack", "test", "--cwd", dir], {
      cwd: dir,
      env,
      stdin: host.privateKey,
      timeoutMs: 60_000,
    }),
    "config set privateKey",
  );
}

/** A YAML project: Pulumi.yaml only (the plugin comes from PULUMI_HOME: installed or downloaded). */
export async function yamlConsumer(
  dir: string,
  env: NodeJS.ProcessEnv,
  engineBin: string,
  host: ConsumerHost,
  version: string,
): Promise<Consumer> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "Pulumi.yaml");
  fs.writeFileSync(file, yamlProgram(host).replace("version: VERSION", `version: ${version}`));
  await initStack(dir, env, engineBin, host);
  return {
    dir,
    env,
    pulumi: (args) =>
      runProcess(
        path.join(engineBin, "pulumi"),
        [
          ...args,
          ...(["up", "destroy"].includes(args[0]!) ? ["--yes"] : []),
          "--stack",
          "test",
          "--cwd",
          dir,
          "--color",
          "never",
        ],
        {
          cwd: dir,
          env,
          timeoutMs: 300_000,
        },
      ),
    exposeHttp() {
      fs.writeFileSync(
        file,
        fs
          .readFileSync(file, "utf8")
          .replace("        - service: https\n", "        - service: https\n        - service: http\n"),
      );
    },
  };
}

const TS_RUNNER = `// Runs this project's program through the Automation API of the installed @pulumi/pulumi.
const path = require("node:path");
const { LocalWorkspace, PulumiCommand } = require("@pulumi/pulumi/automation");
const [command, ...flags] = process.argv.slice(2);
(async () => {
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(process.env.PULUMI_ENGINE_BIN) });
  const stack = await LocalWorkspace.selectStack(
    { stackName: "test", projectName: "ts-consumer", program: async () => require("./index.js")() },
    { workDir: __dirname, pulumiCommand },
  );
  const opts = { onOutput: (s) => process.stdout.write(s), diff: flags.includes("--diff"), refresh: flags.includes("--refresh"), expectNoChanges: flags.includes("--expect-no-changes") };
  if (command === "resolve") return console.log(require.resolve("pulumi-hardened-nftables"));
  if (command === "up") await stack.up(opts);
  else if (command === "preview") await stack.preview(opts);
  else if (command === "destroy") await stack.destroy(opts);
  else throw new Error("unknown command " + command);
})().catch((e) => { process.stderr.write(String(e && e.message || e) + "\\n"); process.exit(1); });
`;

/** A TypeScript (JavaScript) project: the npm package installed from the release's tarball. */
export async function tsConsumer(
  dir: string,
  env: NodeJS.ProcessEnv,
  engineBin: string,
  host: ConsumerHost,
  tarball: string,
): Promise<Consumer> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: ts-consumer\nruntime: nodejs\n");
  fs.writeFileSync(
    path.join(dir, "package.json"),
    `${JSON.stringify({ name: "ts-consumer", private: true, main: "index.js" })}\n`,
  );
  fs.writeFileSync(path.join(dir, "exposures.json"), JSON.stringify([{ service: "ssh" }, { service: "https" }]));
  fs.writeFileSync(
    path.join(dir, "index.js"),
    `const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const { HostFirewall } = require("pulumi-hardened-nftables");
module.exports = () => {
  const config = new pulumi.Config();
  const fw = new HostFirewall("consumer", {
    connection: { host: ${JSON.stringify(host.ipv4)}, hostKey: ${JSON.stringify(host.hostKey)}, privateKey: config.requireSecret("privateKey") },
    exposures: JSON.parse(fs.readFileSync(__dirname + "/exposures.json", "utf8")),
    hostPaths: ${JSON.stringify(host.hostPaths)},
  });
  return { table: fw.table };
};
`,
  );
  fs.writeFileSync(path.join(dir, "run.js"), TS_RUNNER);
  expectOk(
    await runProcess("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], {
      cwd: dir,
      env,
      timeoutMs: 600_000,
    }),
    "npm install <tarball>",
  );
  await initStack(dir, env, engineBin, host);
  return {
    dir,
    env,
    pulumi: (args) =>
      runProcess(process.execPath, [path.join(dir, "run.js"), ...args], { cwd: dir, env, timeoutMs: 300_000 }),
    exposeHttp() {
      fs.writeFileSync(
        path.join(dir, "exposures.json"),
        JSON.stringify([{ service: "ssh" }, { service: "https" }, { service: "http" }]),
      );
    },
  };
}

const PY_RUNNER = `"""Runs this project's __main__.py through the Automation API of the installed pulumi package."""
import os, runpy, sys
from pulumi import automation as auto

command, flags = sys.argv[1], sys.argv[2:]
here = os.path.dirname(os.path.abspath(__file__))
if command == "resolve":
    import pulumi_hardened_nftables
    print(pulumi_hardened_nftables.__file__)
    sys.exit(0)
stack = auto.select_stack(
    stack_name="test",
    project_name="py-consumer",
    program=lambda: runpy.run_path(os.path.join(here, "__main__.py"), run_name="__main__"),
    opts=auto.LocalWorkspaceOptions(work_dir=here, pulumi_command=auto.PulumiCommand(root=os.path.dirname(os.environ["PULUMI_ENGINE_BIN"]))),
)
common = {"on_output": lambda t: (sys.stdout.write(t + "\\n"), sys.stdout.flush()), "color": "never"}
checks = {"diff": "--diff" in flags, "refresh": "--refresh" in flags, "expect_no_changes": "--expect-no-changes" in flags}
try:
    if command == "up":
        stack.up(**common, **checks)
    elif command == "preview":
        stack.preview(**common, **checks)
    else:
        stack.destroy(**common)
except auto.errors.CommandError as e:
    sys.stderr.write(str(e) + "\\n")
    sys.exit(1)
`;

/**
 * A Python project: a new virtualenv with the release's wheel installed (`pip install --no-index`),
 * on top of `pulumi` from PyPI (the virtualenv tools/engine/python-venv.sh caches outside the
 * checkout, seen through a .pth file, as no index is reachable from the test).
 */
export async function pythonConsumer(
  dir: string,
  env: NodeJS.ProcessEnv,
  engineBin: string,
  host: ConsumerHost,
  wheel: string,
  baseVenv: string,
): Promise<Consumer> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    "name: py-consumer\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n",
  );
  fs.writeFileSync(path.join(dir, "exposures.json"), JSON.stringify(["ssh", "https"]));
  fs.writeFileSync(
    path.join(dir, "__main__.py"),
    `import json, os
import pulumi
import pulumi_hardened_nftables as hnft

config = pulumi.Config()
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "exposures.json")) as f:
    services = json.load(f)
firewall = hnft.HostFirewall(
    "consumer",
    connection=hnft.ConnectionArgs(host=${JSON.stringify(host.ipv4)}, host_key=${JSON.stringify(host.hostKey)}, private_key=config.require_secret("privateKey")),
    exposures=[hnft.ExposureArgs(service=s) for s in services],
    host_paths=hnft.HostPathsArgs(state_root=${JSON.stringify(host.hostPaths.stateRoot)}, run_root=${JSON.stringify(host.hostPaths.runRoot)}),
)
pulumi.export("table", firewall.table)
`,
  );
  fs.writeFileSync(path.join(dir, "run.py"), PY_RUNNER);
  expectOk(
    await runProcess("/usr/bin/python3", ["-m", "venv", path.join(dir, "venv")], { cwd: dir, env, timeoutMs: 120_000 }),
    "python3 -m venv",
  );
  const python = path.join(dir, "venv", "bin", "python");
  const site = execFileSync(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], {
    encoding: "utf8",
  }).trim();
  const baseSite = execFileSync(
    path.join(baseVenv, "bin", "python"),
    ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
    { encoding: "utf8" },
  ).trim();
  fs.writeFileSync(path.join(site, "pulumi-from-pypi.pth"), `${baseSite}\n`);
  expectOk(
    await runProcess(python, ["-m", "pip", "install", "--no-index", "--disable-pip-version-check", wheel], {
      cwd: dir,
      env,
      timeoutMs: 300_000,
    }),
    "pip install <wheel>",
  );
  await initStack(dir, env, engineBin, host);
  return {
    dir,
    env,
    pulumi: (args) => runProcess(python, [path.join(dir, "run.py"), ...args], { cwd: dir, env, timeoutMs: 300_000 }),
    exposeHttp() {
      fs.writeFileSync(path.join(dir, "exposures.json"), JSON.stringify(["ssh", "https", "http"]));
    },
  };
}

const goProgram = (
  host: ConsumerHost,
  module: string,
) => `// A program of an operator's repository, run through the Automation API of the SDK it requires.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	hnft "${module}/hardenednftables"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

var dir, _ = os.Getwd()

func program(ctx *pulumi.Context) error {
	var services []string
	data, err := os.ReadFile(filepath.Join(dir, "exposures.json"))
	if err == nil {
		err = json.Unmarshal(data, &services)
	}
	if err != nil {
		return err
	}
	exposures := hnft.ExposureArray{}
	for _, s := range services {
		exposures = append(exposures, hnft.ExposureArgs{Service: pulumi.StringPtr(s)})
	}
	firewall, err := hnft.NewHostFirewall(ctx, "consumer", &hnft.HostFirewallArgs{
		Connection: hnft.ConnectionArgs{
			Host:       pulumi.String(${JSON.stringify(host.ipv4)}),
			HostKey:    pulumi.StringPtr(${JSON.stringify(host.hostKey)}),
			PrivateKey: config.New(ctx, "").RequireSecret("privateKey"),
		},
		Exposures: exposures,
		HostPaths: hnft.HostPathsArgs{StateRoot: pulumi.StringPtr(${JSON.stringify(host.hostPaths.stateRoot)}), RunRoot: pulumi.StringPtr(${JSON.stringify(host.hostPaths.runRoot)})},
	})
	if err != nil {
		return err
	}
	ctx.Export("table", firewall.Table)
	return nil
}

func main() {
	ctx := context.Background()
	command, flags := os.Args[1], map[string]bool{}
	for _, f := range os.Args[2:] {
		flags[f] = true
	}
	if command == "resolve" {
		// the SDK module as built in: its version, and no replace (a path on this machine)
		info, _ := debug.ReadBuildInfo()
		for _, d := range info.Deps {
			if d.Path == "${module}" {
				fmt.Println(d.Path, d.Version, d.Replace == nil)
			}
		}
		return
	}
	engine := os.Getenv("PULUMI_ENGINE_BIN")
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(engine)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stack, err := auto.SelectStackInlineSource(ctx, "test", "go-consumer", program, auto.WorkDir(dir), auto.Pulumi(cli))
	if err == nil {
		switch command {
		case "up":
			opts := []optup.Option{optup.ProgressStreams(os.Stdout), optup.Color("never")}
			if flags["--refresh"] {
				opts = append(opts, optup.Refresh())
			}
			if flags["--expect-no-changes"] {
				opts = append(opts, optup.ExpectNoChanges())
			}
			_, err = stack.Up(ctx, opts...)
		case "preview":
			opts := []optpreview.Option{optpreview.ProgressStreams(os.Stdout), optpreview.Color("never")}
			if flags["--diff"] {
				opts = append(opts, optpreview.Diff())
			}
			if flags["--refresh"] {
				opts = append(opts, optpreview.Refresh())
			}
			if flags["--expect-no-changes"] {
				opts = append(opts, optpreview.ExpectNoChanges())
			}
			_, err = stack.Preview(ctx, opts...)
		default:
			_, err = stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout), optdestroy.Color("never"))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`;

/**
 * A Go project: go.mod requires the SDK module at the release's version, fetched through the
 * release's module proxy (GOPROXY=file://...); the engine SDK's own dependencies come from the
 * module cache already on this machine (a second file:// proxy), nothing from the network.
 */
export async function goConsumer(
  dir: string,
  env: NodeJS.ProcessEnv,
  engineBin: string,
  host: ConsumerHost,
  o: { proxy: string; module: string; version: string; pinsFrom: { mod: string; sum: string } },
): Promise<Consumer> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: go-consumer\nruntime: go\n");
  fs.writeFileSync(path.join(dir, "exposures.json"), JSON.stringify(["ssh", "https"]));
  fs.writeFileSync(path.join(dir, "main.go"), goProgram(host, o.module));
  // go.mod and go.sum as `go mod tidy` leaves them online: the requirements of the Go quick start
  // (every indirect one listed, so the offline build needs no module outside the machine's cache)
  // with the SDK at the release's version instead of its replace by a local path
  const pinned = fs
    .readFileSync(o.pinsFrom.mod, "utf8")
    .replace(/^module .*$/m, "module go-consumer")
    .replace(/^replace .*$/gm, "")
    .replace(new RegExp(`^(\\s*${o.module.replace(/\./g, "\\.")}) v\\S+`, "m"), `$1 v${o.version}`);
  fs.writeFileSync(path.join(dir, "go.mod"), pinned);
  fs.copyFileSync(o.pinsFrom.sum, path.join(dir, "go.sum"));
  const gomodcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const goEnv: NodeJS.ProcessEnv = {
    ...env,
    GOPROXY: `file://${o.proxy},file://${gomodcache}/cache/download`,
    GOSUMDB: "off",
    GOFLAGS: "-mod=mod",
    GOCACHE: execFileSync("go", ["env", "GOCACHE"], { encoding: "utf8" }).trim(),
    GOPATH: execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(),
  };
  // the release's module must come from its proxy: a copy already in the module cache would hide a broken one
  fs.rmSync(path.join(gomodcache, "cache/download", o.module), { recursive: true, force: true });
  fs.rmSync(path.join(gomodcache, `${o.module}@v${o.version}`), { recursive: true, force: true });
  // `go build -mod=mod` adds the go.sum lines of what the build needs (tidy would also want every
  // test dependency of the SDK's dependencies, which no offline cache holds)
  const program = path.join(dir, "consumer");
  expectOk(
    await runProcess("go", ["build", "-o", program, "."], { cwd: dir, env: goEnv, timeoutMs: 1_200_000 }),
    "go build",
  );
  await initStack(dir, env, engineBin, host);
  return {
    dir,
    env: goEnv,
    pulumi: (args) => runProcess(program, args, { cwd: dir, env, timeoutMs: 300_000 }),
    exposeHttp() {
      fs.writeFileSync(path.join(dir, "exposures.json"), JSON.stringify(["ssh", "https", "http"]));
    },
  };
}
