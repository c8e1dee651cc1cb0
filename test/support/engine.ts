/**
 * The real Pulumi engine for the engine suites (test/engine/): a project directory per test,
 * a local file backend and PULUMI_HOME in a temp dir, and `pulumi` commands run through
 * tools/engine/run.ts (the pinned CLI drives the program as an Automation API inline program).
 * Each command is its own process, as a user's `pulumi up` is.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onCleanup } from "./exit-cleanup";

export const REPO = path.resolve(__dirname, "../..");
const WORK_ROOT = path.join(REPO, "test/engine/.work");
export const ENGINE_PASSPHRASE = "hnft-engine-state-passphrase";

let engineDir: string | undefined;

/** The directory of the pinned engine (builds it on first use; a cold build takes minutes). */
export function engineBinDir(): string {
  engineDir ??= execFileSync("bash", [path.join(REPO, "tools/engine/pulumi-engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 60 * 60_000,
  }).trim();
  return engineDir;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface EngineProject {
  /** the project directory (a copy of the program, inside the package) */
  readonly dir: string;
  readonly stack: string;
  /** the file backend's directory */
  readonly backend: string;
  /** every byte any command of this project printed, for the secret checks */
  readonly transcript: string[];
  /** `pulumi <args>` for this project and stack */
  pulumi(args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** the same, started: for a test that signals it while it runs */
  startPulumi(args: string[], opts?: RunOptions): RunningCommand;
  /** the pinned CLI itself in the project dir (`pulumi <args> --stack <stack>`), for commands that run no program (import) */
  cli(args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** `pulumi config set KEY VALUE [--secret]` (objects are stored as JSON) */
  config(key: string, value: unknown, secret?: boolean): Promise<void>;
  /** the stack's state (`pulumi stack export`) */
  exportState(): Promise<StackState>;
  remove(): void;
}

export interface RunningCommand {
  /** the command's pid (the leader of its own process group) */
  readonly pid: number;
  readonly done: Promise<CommandResult>;
}

export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

export interface StackState {
  deployment: { resources?: StateResource[] };
}

export interface RunOptions {
  timeoutMs?: number;
  stdin?: string;
  /** more environment for this command (e.g. HNFT_ENGINE_EVENTS) */
  env?: Record<string, string>;
  /** cli() only: pass --stack and --non-interactive (default true; `pulumi plugin` takes neither) */
  stack?: boolean;
}

export interface ProjectOptions {
  /** a project directory to copy instead of test/engine/program (e.g. an example) */
  source?: string;
  /** files to drop in, relative to the project dir */
  files?: Record<string, string>;
  /**
   * Put the project outside this package (in the temp dir), where `pulumi-hardened-nftables`
   * resolves only through the project's node_modules (inside the package, Node's self-reference
   * wins): for a test that swaps the package under the program.
   */
  outsidePackage?: boolean;
}

/** A fresh project (copy of the test program or an example) with its own backend and stack. */
export function engineProject(label: string, opts: ProjectOptions = {}): EngineProject {
  const bin = engineBinDir();
  fs.mkdirSync(WORK_ROOT, { recursive: true });
  const dir = opts.outsidePackage
    ? fs.mkdtempSync(path.join(os.tmpdir(), `hnft-project-${label}-`))
    : fs.mkdtempSync(path.join(WORK_ROOT, `${label}-`));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `hnft-engine-${label}-`));
  const backend = path.join(home, "state");
  const pulumiHome = path.join(home, "pulumi-home");
  fs.mkdirSync(backend);
  fs.mkdirSync(pulumiHome);
  const source = opts.source ?? path.join(REPO, "test/engine/program");
  for (const f of fs.readdirSync(source)) {
    if (f === "node_modules" || f.startsWith(".pulumi") || /^Pulumi\..+\.yaml$/.test(f)) continue;
    fs.cpSync(path.join(source, f), path.join(dir, f), { recursive: true });
  }
  for (const [f, text] of Object.entries(opts.files ?? {})) fs.writeFileSync(path.join(dir, f), text);
  // what `npm install` makes of an example's "pulumi-hardened-nftables": "file:../.." dependency
  fs.mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  fs.symlinkSync(REPO, path.join(dir, "node_modules", "pulumi-hardened-nftables"));
  if (opts.outsidePackage)
    fs.symlinkSync(path.join(REPO, "node_modules", "@pulumi"), path.join(dir, "node_modules", "@pulumi"));
  const remove = () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  };
  const unregister = onCleanup(remove);
  const stack = "test";
  const transcript: string[] = [];
  const env = {
    ...process.env,
    PULUMI_HOME: pulumiHome,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: ENGINE_PASSPHRASE,
    PULUMI_ENGINE_BIN: bin, // tools/engine/run.ts adds the offline settings (no update check, no plugin download)
    NODE_OPTIONS: "",
    FORCE_COLOR: "0",
  };
  const driver = path.join(REPO, "tools/engine/run.ts");
  // as scripts/pulumi runs it: one node process (it takes the signals itself), TypeScript through DRIVER_HOOK
  const driverArgs = (args: string[]) => ["--require", DRIVER_HOOK, driver, "--cwd", dir, "--stack", stack, ...args];

  const pulumi = async (args: string[], o: RunOptions = {}): Promise<CommandResult> => {
    const r = await runProcess(process.execPath, driverArgs(args), {
      cwd: dir,
      env: { ...env, ...o.env },
      stdin: o.stdin,
      timeoutMs: o.timeoutMs ?? 240_000,
    });
    transcript.push(`$ pulumi ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  const startPulumi = (args: string[], o: RunOptions = {}): RunningCommand => {
    const running = startProcess(process.execPath, driverArgs(args), {
      cwd: dir,
      env: { ...env, ...o.env },
      stdin: o.stdin,
      timeoutMs: o.timeoutMs ?? 240_000,
    });
    return {
      pid: running.pid,
      done: running.done.then((r) => {
        transcript.push(`$ pulumi ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
        return r;
      }),
    };
  };

  const cli = async (args: string[], o: RunOptions = {}): Promise<CommandResult> => {
    const r = await runProcess(
      path.join(bin, "pulumi"),
      [...args, ...(o.stack === false ? [] : ["--stack", stack, "--non-interactive"]), "--color", "never"],
      {
        cwd: dir,
        env: {
          ...env,
          PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
          PULUMI_SKIP_UPDATE_CHECK: "true",
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
          ...o.env,
        },
        stdin: o.stdin,
        timeoutMs: o.timeoutMs ?? 240_000,
      },
    );
    transcript.push(`$ pulumi ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  return {
    dir,
    stack,
    backend,
    transcript,
    pulumi,
    startPulumi,
    cli,
    async config(key, value, secret = false) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      const r = await pulumi(["config", "set", key, ...(secret ? ["--secret"] : [])], { stdin: text });
      if (r.code !== 0) throw new Error(`config set ${key} failed (${r.code}): ${r.stderr}`);
    },
    async exportState() {
      const r = await pulumi(["stack", "export"]);
      if (r.code !== 0) throw new Error(`stack export failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as StackState;
    },
    remove() {
      unregister();
      remove();
    },
  };
}

/** what scripts/pulumi preloads for the driver's TypeScript (and the program's): tools/engine/ts-require.cjs */
export const DRIVER_HOOK = path.join(REPO, "tools/engine/ts-require.cjs");

/** Runs a command in its own process group (killed whole at the timeout), collecting its output. */
export function runProcess(
  file: string,
  args: readonly string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; stdin?: string; timeoutMs: number },
): Promise<CommandResult> {
  return startProcess(file, args, o).done;
}

/** runProcess, with the pid while it runs. */
export function startProcess(
  file: string,
  args: readonly string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; stdin?: string; timeoutMs: number },
): RunningCommand {
  let pid = 0;
  const done = new Promise<CommandResult>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    pid = child.pid ?? 0;
    // a command that exits without reading its input closes the pipe: EPIPE is then no failure of
    // ours (its exit status says how it ended), but unhandled it would fail the whole run
    child.stdin.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") reject(err);
    });
    child.stdin.end(o.stdin ?? "");
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, o.timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { pid, done };
}

/** Fails with the command's whole output when it did not exit 0. */
export function expectOk(r: CommandResult, what: string): CommandResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

const HOST_TABLE_TYPE = "hardened-nftables:index:HostTable";

interface TimedEvent {
  at: number;
  resourcePreEvent?: { metadata: { urn: string; type: string } };
  resOutputsEvent?: { metadata: { urn: string; type: string } };
}

/**
 * When each host's step ran, from an HNFT_ENGINE_EVENTS file (tools/engine/run.ts stamps every engine
 * event with this machine's clock): per HostTable resource, its first step's start and its last step's end in ms.
 */
export function hostStepSpans(eventsFile: string): { urn: string; start: number; end: number }[] {
  const spans = new Map<string, { start?: number; end?: number }>();
  for (const line of fs.readFileSync(eventsFile, "utf8").trim().split("\n")) {
    const e = JSON.parse(line) as TimedEvent;
    const pre = e.resourcePreEvent?.metadata;
    const done = e.resOutputsEvent?.metadata;
    // a command may run several steps per host (a drift check: refresh, then same): first start, last end
    if (pre?.type === HOST_TABLE_TYPE) {
      const s = spans.get(pre.urn);
      spans.set(pre.urn, { ...s, start: Math.min(s?.start ?? e.at, e.at) });
    }
    if (done?.type === HOST_TABLE_TYPE) {
      const s = spans.get(done.urn);
      spans.set(done.urn, { ...s, end: Math.max(s?.end ?? e.at, e.at) });
    }
  }
  return [...spans]
    .filter(([, s]) => s.start !== undefined && s.end !== undefined)
    .map(([urn, s]) => ({ urn, start: s.start!, end: s.end! }));
}

/** Every host accepts the first host's root key: one deploy key for a fleet, as one config secret holds. */
export function shareFirstKey(hosts: readonly { dir: string; root: { publicKey: string } }[]): void {
  const key = hosts[0]!.root.publicKey.trim();
  for (const h of hosts.slice(1)) {
    const file = path.join(h.dir, "authorized_keys", "root");
    if (!fs.readFileSync(file, "utf8").split("\n").includes(key)) fs.appendFileSync(file, `${key}\n`);
  }
}

/** sshd's count of connections a lab host accepted so far (its log): "no connection was made" checks. */
export const sshdConnections = (host: { sshdLog: string }): number =>
  (fs.readFileSync(host.sshdLog, "utf8").match(/Connection from /g) ?? []).length;

/**
 * The rule and file lines `pulumi preview --diff` printed as added (+) or removed (-): the keys
 * of the resource's line maps (src/pulumi/line-map.ts), without the predecessor value.
 */
export const diffLines = (out: string, marker: "+" | "-"): string[] =>
  out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${marker} `))
    .map((l) => l.slice(2).replace(/\s*: "(after: .*|\(first\)|\(element\))"$/, ""));
