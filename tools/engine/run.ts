/**
 * `pulumi` for a project directory of this repository, through the pinned engine
 * (tools/engine/pulumi-engine.sh), for machines without a Node.js language host.
 *
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] up|preview|refresh|destroy [flags]
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] config set KEY [VALUE] [--secret] [--path]
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] stack output [--json] | stack export [--show-secrets] | stack rm
 *
 * The Go module proxy serves the engine (`pulumi`) but not `pulumi-language-nodejs` (docs/development.md,
 * "The engine"), so the program cannot be started by the CLI itself. Here it runs as an Automation API
 * inline program: this process loads the project's `main` module (TypeScript through tsx) and the
 * real CLI drives it over gRPC. Everything else is the engine's own: the plan, the diff it prints,
 * the state in the project's backend, the provider plugin it starts in the project's
 * directory. Each invocation is one fresh process, like one `pulumi` command.
 *
 * Flags: --diff, --refresh, --expect-no-changes, --parallel N (the CLI's default is 4 per core), --json
 * (stack output), --yes (accepted; never asks). The exit status is the CLI's.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import {
  CommandError,
  type EngineEvent,
  LocalWorkspace,
  type OutputMap,
  PulumiCommand,
  type Stack,
} from "@pulumi/pulumi/automation";
import YAML from "yaml";

const repo = path.resolve(__dirname, "../..");

interface ProjectFile {
  name: string;
  main?: string;
  backend?: { url?: string };
}

/** PULUMI_ENGINE_BIN names the engine directory outright (the tests set it once for all runs). */
function engineBinDir(): string {
  if (process.env.PULUMI_ENGINE_BIN) return process.env.PULUMI_ENGINE_BIN;
  return execFileSync("bash", [path.join(repo, "tools", "engine", "pulumi-engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

/** file://./x in Pulumi.yaml is relative to the directory pulumi runs in, as the CLI reads it. */
function backendUrl(project: ProjectFile, dir: string): string | undefined {
  const url = process.env.PULUMI_BACKEND_URL ?? project.backend?.url;
  if (!url?.startsWith("file://")) return url;
  const local = url.slice("file://".length);
  const absolute = path.resolve(dir, local.replace(/^~(?=\/)/, process.env.HOME ?? "~"));
  fs.mkdirSync(absolute, { recursive: true });
  return `file://${absolute}`;
}

function programOf(dir: string, project: ProjectFile): () => Promise<OutputMap | Record<string, unknown>> {
  const pkgMain = (() => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { main?: string }).main;
    } catch {
      return undefined;
    }
  })();
  const main = path.resolve(dir, project.main ?? pkgMain ?? "index.ts");
  const entry = fs.existsSync(main) && fs.statSync(main).isDirectory() ? path.join(main, "index.ts") : main;
  return async () => ({ ...(require(entry) as Record<string, unknown>) });
}

interface OpenStack {
  stack: Stack;
  /** runs the pinned CLI itself, for what the Automation API does differently (it exports with --show-secrets) */
  cli(args: string[]): string;
}

async function openStack(dir: string, stackName: string): Promise<OpenStack> {
  const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
  const bin = engineBinDir();
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: false });
  const backend = backendUrl(project, dir);
  const envVars: Record<string, string> = {
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
    ...(backend ? { PULUMI_BACKEND_URL: backend } : {}),
  };
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, projectName: project.name, program: programOf(dir, project) },
    { workDir: dir, pulumiCommand, envVars },
  );
  const cli = (args: string[]) =>
    execFileSync(path.join(bin, "pulumi"), [...args, "--stack", stackName], {
      cwd: dir,
      env: { ...process.env, ...envVars },
      encoding: "utf8",
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "inherit"],
    });
  return { stack, cli };
}

const write = (text: string) => process.stdout.write(text);

/**
 * HNFT_ENGINE_EVENTS=FILE appends the engine's events, each with this process's clock in ms when
 * it arrived (the engine's own timestamps are whole seconds): the fleet test and the bench
 * measure from it when each host's step started and ended.
 */
const eventLog = process.env.HNFT_ENGINE_EVENTS;
const onEvent = eventLog
  ? (event: EngineEvent) => fs.appendFileSync(eventLog, `${JSON.stringify({ at: Date.now(), ...event })}\n`)
  : undefined;
let streamedErrors = false;
const writeError = (text: string) => {
  streamedErrors = true;
  process.stderr.write(text);
};

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      cwd: { type: "string" },
      stack: { type: "string", short: "s" },
      diff: { type: "boolean" },
      refresh: { type: "boolean" },
      "expect-no-changes": { type: "boolean" },
      secret: { type: "boolean" },
      path: { type: "boolean" },
      json: { type: "boolean" },
      yes: { type: "boolean", short: "y" },
      "skip-preview": { type: "boolean" },
      "show-secrets": { type: "boolean" },
      parallel: { type: "string", short: "p" },
    },
  });
  const dir = path.resolve(values.cwd ?? process.cwd());
  const stackName = values.stack ?? process.env.PULUMI_STACK ?? "dev";
  const { stack, cli } = await openStack(dir, stackName);
  const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
  if (parallel !== undefined && !(Number.isInteger(parallel) && parallel > 0))
    throw new Error(`--parallel: expected a whole number above 0, got "${values.parallel}"`);
  const common = {
    onOutput: write,
    onError: writeError,
    onEvent,
    color: "never" as const,
    ...(parallel ? { parallel } : {}),
  };
  const [command, sub, ...rest] = positionals;
  switch (command) {
    case "up":
      await stack.up({
        ...common,
        diff: values.diff,
        refresh: values.refresh,
        expectNoChanges: values["expect-no-changes"],
      });
      return 0;
    case "preview":
      await stack.preview({
        ...common,
        diff: values.diff,
        refresh: values.refresh,
        expectNoChanges: values["expect-no-changes"],
      });
      return 0;
    case "refresh":
      await stack.refresh({ ...common, expectNoChanges: values["expect-no-changes"] });
      return 0;
    case "destroy":
      await stack.destroy({ ...common });
      return 0;
    case "config": {
      // Like `pulumi config set`: without VALUE it is read from stdin (keeps secrets off argv).
      if (sub !== "set" || rest.length < 1 || rest.length > 2)
        throw new Error("usage: config set KEY [VALUE] [--secret] [--path]");
      const value = rest[1] ?? fs.readFileSync(0, "utf8").replace(/\n$/, "");
      await stack.setConfig(rest[0]!, { value, secret: values.secret ?? false }, values.path ?? false);
      return 0;
    }
    case "stack":
      if (sub === "output") {
        const outputs = await stack.outputs();
        const plain = Object.fromEntries(
          Object.entries(outputs).map(([k, v]) => [k, v.secret && !values.json ? "[secret]" : v.value]),
        );
        write(
          values.json
            ? `${JSON.stringify(plain, null, 2)}\n`
            : Object.entries(plain)
                .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
                .join(""),
        );
        return 0;
      }
      if (sub === "export") {
        // as `pulumi stack export` prints it: secrets stay encrypted
        write(cli(["stack", "export", ...(values["show-secrets"] ? ["--show-secrets"] : [])]));
        return 0;
      }
      if (sub === "rm") {
        await stack.workspace.removeStack(stackName, { force: true });
        return 0;
      }
      throw new Error("usage: stack output [--json] | stack export | stack rm");
    default:
      throw new Error(
        `usage: [--cwd DIR] [--stack NAME] up|preview|refresh|destroy|config set|stack output|stack export|stack rm`,
      );
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CommandError) {
      // End as `pulumi` would: its stdout and stderr were streamed as they came; the exit status
      // is the CLI's (the Automation API keeps it on the execa error it wraps).
      const result = (
        err as unknown as { commandResult: { stderr: string; code: number; err?: { exitCode?: number } } }
      ).commandResult;
      if (!streamedErrors) process.stderr.write(result.stderr.endsWith("\n") ? result.stderr : `${result.stderr}\n`);
      process.exitCode = result.err?.exitCode ?? (result.code > 0 ? result.code : 1);
      return;
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
