/**
 * `pulumi` for a project directory of this repository, through the pinned engine
 * (tools/engine/pulumi-engine.sh), for machines without a Node.js language host.
 *
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] up|preview|refresh|destroy [flags]
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] config set KEY [VALUE] [--secret] [--path]
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] stack output [--json] | stack export [--show-secrets]
 *       | stack import [--file F] | stack history | stack ls | stack rm
 *   npm run --silent pulumi -- [--cwd DIR] [--stack NAME] cancel | about | whoami
 *
 * The Go module proxy serves the engine (`pulumi`) but not `pulumi-language-nodejs` (docs/development.md,
 * "The engine"), so the program cannot be started by the CLI itself. Here it runs as an Automation API
 * inline program: this process loads the project's `main` module (TypeScript through tsx) and the
 * real CLI drives it over gRPC. Everything else is the engine's own: the plan, the diff it prints,
 * the state in the project's backend, the provider plugin it starts in the project's
 * directory. Each invocation is one fresh process, like one `pulumi` command.
 *
 * Interrupts behave as the CLI's own: the CLI runs in a process group of its own, and SIGINT or
 * SIGTERM to this process (a terminal's Ctrl-C included) reaches it exactly once per signal
 * received. The first makes it cancel (the step in flight finishes, the stack lock is released),
 * the second makes it terminate at once (it still releases the lock), a third kills it. Without
 * this, this process died on the signal before the CLI could release its lock.
 *
 * Flags: --diff, --refresh, --expect-no-changes, --clear-pending-creates (refresh), --parallel N (the CLI's default is 4 per core),
 * --run-program (up/preview with --refresh: each resource is refreshed as the program declares it,
 * in one pass with one start of the provider plugin, instead of a refresh of the whole state before
 * the program runs; the CLI's own flag), --json
 * (stack output), --yes (accepted; never asks), --file (stack import; stdin without it). The exit
 * status is the CLI's; 130 or 143 when a SIGINT or SIGTERM ended the command.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import {
  CommandError,
  type EngineEvent,
  LocalWorkspace,
  type OutputMap,
  PulumiCommand,
  Stack,
} from "@pulumi/pulumi/automation";
import YAML from "yaml";

const repo = path.resolve(__dirname, "../..");

/**
 * HNFT_ENGINE_EVENTS=FILE appends the engine's events, each with this process's clock in ms when
 * it arrived (the engine's own timestamps are whole seconds): the fleet test and the bench
 * measure from it when each host's step started and ended. The same file gets this process's
 * own milestones as `{at, driver, detail?}` lines (process start, modules loaded, each CLI run,
 * the program loaded, exit): the bench's breakdown of the engine's overhead reads them.
 */
const eventLog = process.env.HNFT_ENGINE_EVENTS;
const onEvent = eventLog
  ? (event: EngineEvent) => fs.appendFileSync(eventLog, `${JSON.stringify({ at: Date.now(), ...event })}\n`)
  : undefined;
function mark(driver: string, detail?: string, at = Date.now()): void {
  if (eventLog) fs.appendFileSync(eventLog, `${JSON.stringify({ at, driver, ...(detail ? { detail } : {}) })}\n`);
}
mark("start", undefined, Math.round(performance.timeOrigin));
mark("loaded");
process.on("exit", () => mark("exit"));

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

interface Program {
  run: () => Promise<OutputMap | Record<string, unknown>>;
  /** loads the libraries the program imports that are known to do nothing on import but define */
  preload: () => void;
}

/**
 * Libraries whose loading the driver may start before the engine runs the program: each only
 * defines classes and functions on import. The CLI spends its first second or so starting (its
 * backend, the state, the secrets' key) and, with --refresh, refreshing every resource before it
 * runs the program; loading these meanwhile takes them off the command's critical path. Any other
 * import is left to the program, which may read the stack's settings as it loads.
 */
const PRELOADABLE = ["pulumi-hardened-nftables", "@pulumi/pulumi"];

function programOf(dir: string, project: ProjectFile): Program {
  const pkgMain = (() => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { main?: string }).main;
    } catch {
      return undefined;
    }
  })();
  const main = path.resolve(dir, project.main ?? pkgMain ?? "index.ts");
  const entry = fs.existsSync(main) && fs.statSync(main).isDirectory() ? path.join(main, "index.ts") : main;
  return {
    run: async () => {
      mark("program-start");
      const exports = { ...(require(entry) as Record<string, unknown>) };
      mark("program-loaded");
      return exports;
    },
    preload: () => {
      let source: string;
      try {
        source = fs.readFileSync(entry, "utf8");
      } catch {
        return; // the program's own load reports it
      }
      const programRequire = createRequire(entry);
      for (const name of PRELOADABLE) {
        if (!source.includes(`"${name}"`) && !source.includes(`'${name}'`)) continue;
        try {
          programRequire(name);
        } catch {
          // not installed or broken: the program's own import fails with the error to show
        }
      }
      mark("preloaded");
    },
  };
}

// ---------------------------------------------------------------- the CLI's process and signals

/** Runs once, just after the next CLI process started (the program's preload). */
let afterSpawn: (() => void) | undefined;
/** The CLI processes running now (one at a time in practice). */
const running = new Set<ChildProcess>();
/** The first interrupt this process received, and how many. */
let interrupted: { signal: NodeJS.Signals; count: number } | undefined;

/**
 * One SIGINT/SIGTERM forwarded per one received: the CLI cancels on the first and terminates on the
 * second (both release the lock: they end the update, not the process); the third kills it. With
 * no CLI running, this process ends as an interrupted command does.
 */
function onSignal(signal: NodeJS.Signals): void {
  interrupted = { signal: interrupted?.signal ?? signal, count: (interrupted?.count ?? 0) + 1 };
  const exitCode = 128 + (os.constants.signals[signal] ?? 2);
  if (running.size === 0) process.exit(exitCode);
  const n = interrupted.count;
  process.stderr.write(
    n === 1
      ? `\nscripts/pulumi: ${signal} received; asking pulumi to cancel: the step in flight finishes and the stack lock is released. Send it again to terminate at once.\n`
      : n === 2
        ? `\nscripts/pulumi: ${signal} received again; asking pulumi to terminate at once. Once more kills it (that may leave the stack locked: \`scripts/pulumi cancel\`).\n`
        : `\nscripts/pulumi: ${signal} received a third time; killing pulumi.\n`,
  );
  for (const child of running) child.kill(n <= 2 ? signal : "SIGKILL");
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

interface CliRun {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs the CLI in a process group of its own (so that a terminal's Ctrl-C reaches it only through
 * onSignal, once), streaming its output. stdin: "inherit" for `stack import` from a pipe.
 */
function runCli(
  command: string,
  args: string[],
  opts: {
    cwd: string;
    env: Record<string, string>;
    onOutput?: (s: string) => void;
    onError?: (s: string) => void;
    stdin?: "inherit" | "ignore";
  },
): Promise<CliRun> {
  const what = ["stack", "config"].includes(args[0] ?? "") ? args.slice(0, 2).join(" ") : (args[0] ?? "");
  mark("cli-start", what);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      detached: true,
      stdio: [opts.stdin ?? "ignore", "pipe", "pipe"],
    });
    running.add(child);
    if (afterSpawn) setImmediate(afterSpawn);
    afterSpawn = undefined;
    const out: string[] = [];
    const err: string[] = [];
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out.push(d);
      opts.onOutput?.(d);
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      err.push(d);
      opts.onError?.(d);
    });
    child.on("error", (e) => {
      running.delete(child);
      reject(e);
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      mark("cli-end", what);
      resolve({
        stdout: out.join(""),
        stderr: err.join(""),
        code: code ?? 128 + (signal ? (os.constants.signals[signal] ?? 1) : 1),
      });
    });
  });
}

// The Automation API's own result and error (internal to its typings): the callers above it, and
// the error handling at the end of this file, read them as they read the ones it makes itself.
const { CommandResult } = require("@pulumi/pulumi/automation/cmd") as {
  CommandResult: new (stdout: string, stderr: string, code: number) => unknown;
};
const { createCommandError } = require("@pulumi/pulumi/automation/errors") as {
  createCommandError: (result: unknown) => Error;
};

/**
 * The Automation API's PulumiCommand runs the CLI in this process's group; this one (the same
 * arguments and environment as its own run()) runs it through runCli, and fails as it does.
 */
function ownProcessGroup(pulumiCommand: PulumiCommand): PulumiCommand {
  const command = pulumiCommand.command;
  Object.assign(pulumiCommand, {
    async run(
      args: string[],
      cwd: string,
      additionalEnv: Record<string, string>,
      onOutput?: (s: string) => void,
      onError?: (s: string) => void,
    ) {
      if (!args.includes("--non-interactive")) args.push("--non-interactive");
      const env: Record<string, string> = { ...additionalEnv, PULUMI_AUTOMATION_API: "true" };
      if (path.isAbsolute(command))
        env.PATH = `${path.dirname(command)}${path.delimiter}${additionalEnv.PATH ?? process.env.PATH ?? ""}`;
      const r = await runCli(command, args, { cwd, env, onOutput, onError });
      const result = new CommandResult(r.stdout, r.stderr, r.code);
      if (r.code !== 0) throw createCommandError(result);
      return result;
    },
  });
  return pulumiCommand;
}

interface OpenStack {
  stack: Stack;
  /** runs the pinned CLI itself, for what the Automation API does not have or does differently (it exports with --show-secrets) */
  cli(args: string[], opts?: { stdin?: "inherit"; stack?: false }): Promise<number>;
  /** loads the program's libraries ahead (see PRELOADABLE) */
  preload(): void;
}

const { parseAndValidatePulumiVersion } = require("@pulumi/pulumi/automation/cmd") as {
  parseAndValidatePulumiVersion: (min: unknown, current: string, optOut: boolean) => unknown;
};
const { minimumVersion } = require("@pulumi/pulumi/automation/minimumVersion") as { minimumVersion: unknown };

/**
 * The CLI in `bin`, as PulumiCommand.get() makes it, without its `pulumi version` run when the
 * directory is the pinned engine's (tools/engine/pulumi-engine.sh builds it into .../<version>-<pin>/bin
 * and checks that `pulumi version` prints that version): one process fewer per command.
 */
async function pulumiCommandIn(bin: string): Promise<PulumiCommand> {
  const pinned = /\/(v\d+\.\d+\.\d+)-[0-9a-f]{12}\/bin\/?$/.exec(bin)?.[1];
  if (!pinned) {
    mark("cli-start", "version");
    const command = await PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: false });
    mark("cli-end", "version");
    return command;
  }
  const version = parseAndValidatePulumiVersion(minimumVersion, pinned, false);
  const Command = PulumiCommand as unknown as new (command: string, version: unknown) => PulumiCommand;
  return new Command(path.join(bin, "pulumi"), version);
}

/**
 * Whether a file backend (file://DIR, as backendUrl() resolves it) holds the stack: its checkpoint
 * in the project-scoped layout (.pulumi/stacks/<project>/<stack>.json, or .gz/.zst) or the legacy
 * one. Other backends, and names with an organization, are not looked up (undefined).
 */
function fileBackendHasStack(backend: string | undefined, projectName: string, stackName: string): boolean | undefined {
  if (!backend?.startsWith("file://") || backend.includes("?") || stackName.includes("/")) return undefined;
  const stacks = path.join(backend.slice("file://".length), ".pulumi", "stacks");
  return [path.join(stacks, projectName), stacks].some((d) =>
    ["", ".gz", ".zst"].some((ext) => fs.existsSync(path.join(d, `${stackName}.json${ext}`))),
  );
}

async function openStack(dir: string, stackName: string): Promise<OpenStack> {
  const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
  const bin = engineBinDir();
  const pulumiCommand = ownProcessGroup(await pulumiCommandIn(bin));
  const backend = backendUrl(project, dir);
  const envVars: Record<string, string> = {
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
    ...(backend ? { PULUMI_BACKEND_URL: backend } : {}),
  };
  const program = programOf(dir, project);
  const workspace = await LocalWorkspace.create({ workDir: dir, pulumiCommand, envVars, program: program.run });
  // Every command below names the stack (--stack): `pulumi stack select` only proves that it exists,
  // or creates it. A file backend that holds its checkpoint needs neither: one process fewer.
  let stack: Stack;
  if (fileBackendHasStack(backend, project.name, stackName)) {
    const select = workspace.selectStack;
    workspace.selectStack = async () => {};
    try {
      stack = await Stack.select(stackName, workspace);
    } finally {
      workspace.selectStack = select;
    }
  } else {
    stack = await Stack.createOrSelect(stackName, workspace);
  }
  const cli = async (args: string[], opts: { stdin?: "inherit"; stack?: false } = {}) => {
    const r = await runCli(
      path.join(bin, "pulumi"),
      [...args, ...(opts.stack === false ? [] : ["--stack", stackName]), "--non-interactive"],
      {
        cwd: dir,
        env: envVars,
        onOutput: write,
        onError: writeError,
        stdin: opts.stdin,
      },
    );
    return r.code;
  };
  return { stack, cli, preload: program.preload };
}

const write = (text: string) => process.stdout.write(text);
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
      "clear-pending-creates": { type: "boolean" },
      secret: { type: "boolean" },
      path: { type: "boolean" },
      json: { type: "boolean" },
      yes: { type: "boolean", short: "y" },
      file: { type: "string" },
      "skip-preview": { type: "boolean" },
      "show-secrets": { type: "boolean" },
      "run-program": { type: "boolean" },
      parallel: { type: "string", short: "p" },
    },
  });
  const dir = path.resolve(values.cwd ?? process.cwd());
  const stackName = values.stack ?? process.env.PULUMI_STACK ?? "dev";
  const { stack, cli, preload } = await openStack(dir, stackName);
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
  // the commands that run the program (refresh and destroy do not): its libraries load while the CLI starts
  if (command === "up" || command === "preview") afterSpawn = preload;
  if (command === "up" || command === "refresh" || command === "destroy") {
    // After these, the Automation API reads the stack's outputs (`stack output --json`, then again
    // with --show-secrets) and its last update (`stack history`) into the result it returns. This
    // command prints what the CLI printed and uses neither: three processes fewer, each of which
    // loads the whole state and, for the secrets, derives the passphrase key again.
    Object.assign(stack, { outputs: async () => ({}), info: async () => undefined });
  }
  switch (command) {
    case "up":
      await stack.up({
        ...common,
        diff: values.diff,
        refresh: values.refresh,
        ...(values["run-program"] ? { runProgram: true } : {}),
        expectNoChanges: values["expect-no-changes"],
      });
      return 0;
    case "preview":
      await stack.preview({
        ...common,
        diff: values.diff,
        refresh: values.refresh,
        ...(values["run-program"] ? { runProgram: true } : {}),
        expectNoChanges: values["expect-no-changes"],
      });
      return 0;
    case "refresh":
      // --clear-pending-creates: what the CLI names when a killed run left a create half-done
      await stack.refresh({
        ...common,
        expectNoChanges: values["expect-no-changes"],
        clearPendingCreates: values["clear-pending-creates"],
      });
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
        return cli(["stack", "export", ...(values["show-secrets"] ? ["--show-secrets"] : [])]);
      }
      if (sub === "import") {
        // the recovery after a run left the state behind the host: export, edit, import
        return cli(["stack", "import", ...(values.file ? ["--file", values.file] : [])], {
          stdin: values.file ? undefined : "inherit",
        });
      }
      if (sub === "history") return cli(["stack", "history"]);
      if (sub === "ls") return cli(["stack", "ls"]);
      if (sub === "rm") {
        await stack.workspace.removeStack(stackName, { force: true });
        return 0;
      }
      throw new Error(
        "usage: stack output [--json] | stack export [--show-secrets] | stack import [--file F] | stack history | stack ls | stack rm",
      );
    case "cancel":
      // `pulumi cancel`: removes the lock a killed run left (the local backend keeps it as a file)
      return cli(["cancel", "--yes"]);
    case "about":
      return cli(["about"]);
    case "whoami":
      return cli(["whoami", "--verbose"], { stack: false });
    default:
      throw new Error(
        "usage: [--cwd DIR] [--stack NAME] up|preview|refresh|destroy|config set|stack output [--json]|stack export [--show-secrets]|stack import [--file F]|stack history|stack ls|stack rm|cancel|about|whoami",
      );
  }
}

/** After an interrupt, one line that says how the command ended and what to do about it. */
function reportInterrupt(code: number): number {
  if (!interrupted) return code;
  const { signal, count } = interrupted;
  if (code === 0) {
    // the signal came as the command ended: nothing was cancelled
    process.stderr.write(`scripts/pulumi: ${signal} received, but pulumi had already finished the command (exit 0).\n`);
    return 0;
  }
  const exit = 128 + (os.constants.signals[signal] ?? 2);
  process.stderr.write(
    count === 1
      ? `scripts/pulumi: interrupted by ${signal}; pulumi cancelled the update after the step in flight (exit ${code}) and released the stack lock. \`scripts/pulumi up\` continues from the recorded state.\n`
      : `scripts/pulumi: interrupted by ${signal} ${count} times; pulumi was ${count === 2 ? "terminated" : "killed"} (exit ${code}). If a command reports the stack locked, run \`scripts/pulumi cancel\`; then \`scripts/pulumi preview --refresh\` shows what the host runs.\n`,
  );
  return exit;
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = reportInterrupt(code);
  },
  (err: unknown) => {
    if (err instanceof CommandError) {
      // End as `pulumi` would: its stdout and stderr were streamed as they came; the exit status
      // is the CLI's (the Automation API keeps it on the execa error it wraps).
      const result = (
        err as unknown as { commandResult: { stderr: string; code: number; err?: { exitCode?: number } } }
      ).commandResult;
      if (!streamedErrors) process.stderr.write(result.stderr.endsWith("\n") ? result.stderr : `${result.stderr}\n`);
      process.exitCode = reportInterrupt(result.err?.exitCode ?? (result.code > 0 ? result.code : 1));
      return;
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
