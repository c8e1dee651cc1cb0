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
  expectOk(await runProcess(pulumi, ["stack", "init", "test", "--cwd", dir], { cwd: dir, env, timeoutMs: 60_000 }), "stack init");
  expectOk(
    await runProcess(pulumi, ["config", "set", "--secret", "privateKey", "--stack", "test", "--cwd", dir], { cwd: dir, env, stdin: host.privateKey, timeoutMs: 60_000 }),
    "config set privateKey",
  );
}

/** A YAML project: Pulumi.yaml only (the plugin comes from PULUMI_HOME: installed or downloaded). */
export async function yamlConsumer(dir: string, env: NodeJS.ProcessEnv, engineBin: string, host: ConsumerHost, version: string): Promise<Consumer> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "Pulumi.yaml");
  fs.writeFileSync(file, yamlProgram(host).replace("version: VERSION", `version: ${version}`));
  await initStack(dir, env, engineBin, host);
  return {
    dir,
    env,
    pulumi: (args) =>
      runProcess(path.join(engineBin, "pulumi"), [...args, ...(["up", "destroy"].includes(args[0]!) ? ["--yes"] : []), "--stack", "test", "--cwd", dir, "--color", "never"], {
        cwd: dir,
        env,
        timeoutMs: 300_000,
      }),
    exposeHttp() {
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("        - service: https\n", "        - service: https\n        - service: http\n"));
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
export async function tsConsumer(dir: string, env: NodeJS.ProcessEnv, engineBin: string, host: ConsumerHost, tarball: string): Promise<Consumer> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: ts-consumer\nruntime: nodejs\n");
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ name: "ts-consumer", private: true, main: "index.js" })}\n`);
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
  expectOk(await runProcess("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: dir, env, timeoutMs: 600_000 }), "npm install <tarball>");
  await initStack(dir, env, engineBin, host);
  return {
    dir,
    env,
    pulumi: (args) => runProcess(process.execPath, [path.join(dir, "run.js"), ...args], { cwd: dir, env, timeoutMs: 300_000 }),
    exposeHttp() {
      fs.writeFileSync(path.join(dir, "exposures.json"), JSON.stringify([{ service: "ssh" }, { service: "https" }, { service: "http" }]));
    },
  };
}
