/**
 * Shared by the benchmarks: bounded child processes, cleanup on exit and on signals, statistics,
 * address generators (198.18.0.0/15 and 2001:2::/48 only) and a description of the machine.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onCleanup } from "../test/support/exit-cleanup";
import { killGroup } from "../test/support/lab";

export { onCleanup, runCleanups } from "../test/support/exit-cleanup";
export { killGroup };

export const REPO = path.resolve(__dirname, "..");
let dist = path.join(REPO, "dist");
let workers: string | undefined;

/** The worker programs: bench/workers/<name>.ts, each run as a fresh `node` process (runWorker). */
export type WorkerName = "fleet" | "render" | "scale";

/**
 * The built library the child processes load. Other engineers rebuild dist/ while they test, so
 * the benchmark first takes a private copy (a temporary directory holding `dist/`, with
 * `node_modules` and `package.json` linked to the repository's so that dependencies resolve) and
 * removes it at exit. Beside it, the worker programs (bench/workers/*.ts) with their types erased
 * (TypeScript's transpileModule: no type check here, the typecheck covers them), so that a
 * worker's process starts as plain `node` and loads the library as a user's program does.
 */
export function snapshotDist(): string {
  const root = tempDir("hnft-bench-dist-");
  const copy = path.join(root, "dist");
  fs.cpSync(path.join(REPO, "dist"), copy, { recursive: true });
  for (const f of ["index.js", "host/index.js", "host/scripts/apply.sh", "render/index.js", "model/validate.js"]) {
    if (!fs.existsSync(path.join(copy, f))) throw new Error(`dist/${f} is missing: run npm run build first`);
  }
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(root, "node_modules"));
  fs.symlinkSync(path.join(REPO, "package.json"), path.join(root, "package.json"));
  const ts = require("typescript") as typeof import("typescript");
  const out = path.join(root, "workers");
  fs.mkdirSync(out);
  const src = path.join(REPO, "bench", "workers");
  for (const f of fs.readdirSync(src).filter((x) => x.endsWith(".ts"))) {
    const js = ts.transpileModule(fs.readFileSync(path.join(src, f), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: f,
      reportDiagnostics: false,
    }).outputText;
    fs.writeFileSync(path.join(out, f.replace(/\.ts$/, ".js")), js);
  }
  dist = copy;
  workers = out;
  return copy;
}

/**
 * Runs bench/workers/<name>.ts (erased to JavaScript by snapshotDist) in a fresh `node` with the
 * private dist/ as its first argument and `input` as JSON on stdin; returns its JSON answer and
 * the process's wall time.
 */
export async function runWorker<T>(
  name: WorkerName,
  args: readonly string[],
  input: unknown,
  timeoutMs: number,
): Promise<{ out: T; ms: number }> {
  if (!workers) throw new Error("bench: snapshotDist() must run before a worker");
  const res = await exec(process.execPath, [path.join(workers, `${name}.js`), dist, ...args], {
    input: JSON.stringify(input),
    timeoutMs,
  });
  return { out: JSON.parse(res.stdout) as T, ms: res.ms };
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  /** wall time from spawn to exit, milliseconds */
  ms: number;
}

export interface ExecOptions {
  input?: string | Buffer;
  timeoutMs: number;
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command in its own process group; the whole group is killed when the time limit passes. */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    // killed on exit or on a signal too (registered after the temp dirs, so it runs before their removal)
    const unregister = onCleanup(() => killGroup(child.pid, "SIGKILL"));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
    }, opts.timeoutMs);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.stdin.on("error", () => undefined);
    child.on("error", (e) => {
      clearTimeout(timer);
      unregister();
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      unregister();
      const res: ExecResult = {
        code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 255),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: performance.now() - started,
      };
      const line = [cmd, ...args].join(" ").slice(0, 200);
      if (timedOut)
        return reject(new Error(`timed out after ${opts.timeoutMs} ms: ${line}\n${res.stderr.slice(-2000)}`));
      if (res.code !== 0 && !opts.allowFail)
        return reject(new Error(`exit ${res.code}: ${line}\n${(res.stderr || res.stdout).slice(-3000)}`));
      resolve(res);
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A child that runs until stopped (a server); bounded by its own time limit as well. */
export interface Background {
  pid: number;
  exited: Promise<ExecResult>;
  stop(): Promise<ExecResult>;
}

export function background(cmd: string, args: readonly string[], limitMs: number): Background {
  const started = performance.now();
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => err.push(d));
  child.on("error", () => undefined);
  const limit = setTimeout(() => killGroup(child.pid, "SIGKILL"), limitMs);
  const pid = child.pid ?? -1;
  const unregister = onCleanup(() => killGroup(pid, "SIGKILL"));
  const exited = new Promise<ExecResult>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      unregister();
      resolve({
        code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 255),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: performance.now() - started,
      });
    });
  });
  return {
    pid,
    exited,
    stop: async () => {
      killGroup(pid, "SIGTERM");
      const hard = setTimeout(() => killGroup(pid, "SIGKILL"), 2000);
      const r = await exited;
      clearTimeout(hard);
      return r;
    },
  };
}

// ---------------------------------------------------------------- cleanup on exit and signals

/** A private temporary directory, removed at exit whatever happens. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------- the packet tools and their namespaces

/** bench/packet/acceptd.c and connload.c compiled into `dir` (the packet and forward benches). */
export async function compilePacketTools(dir: string): Promise<{ acceptd: string; connload: string }> {
  const out = { acceptd: path.join(dir, "acceptd"), connload: path.join(dir, "connload") };
  for (const name of ["acceptd", "connload"] as const) {
    await exec("cc", ["-O2", "-Wall", "-o", out[name], path.join(__dirname, "packet", `${name}.c`)], {
      timeoutMs: 60_000,
    });
  }
  return out;
}

/** `args` run inside network namespace `ns` (`ip netns exec`). */
export function nsExec(ns: string, args: string[], timeoutMs = 60_000, input?: string): Promise<ExecResult> {
  return exec("ip", ["netns", "exec", ns, ...args], { timeoutMs, ...(input !== undefined ? { input } : {}) });
}

/**
 * Kills the server's process group and deletes the namespaces (their veths with them). Synchronous:
 * also runs from the exit and signal handlers.
 */
export function removeNamespaces(serverPid: number | undefined, names: readonly string[]): void {
  killGroup(serverPid, "SIGKILL");
  for (const ns of names) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore", timeout: 30_000 });
}

/** connload's arguments: `connload DST PORT CONCURRENCY WARMUP_S DURATION_S MAX_CONNECTIONS [BIND_ADDR]`. */
export function connloadArgs(
  connload: string,
  to: { host: string; port: number },
  run: { concurrency: number; warmup: number; seconds: number; max: number; from?: string },
): string[] {
  return [
    connload,
    to.host,
    String(to.port),
    String(run.concurrency),
    String(run.warmup),
    String(run.seconds),
    String(run.max),
    ...(run.from !== undefined ? [run.from] : []),
  ];
}

// ---------------------------------------------------------------- statistics

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- addresses

/**
 * `n` distinct, non-overlapping, non-adjacent IPv4 prefixes from 198.18.0.0/15, in ascending
 * order, mixing /32, /31 and /30 (one every 8 addresses: 198.18.0.0 .. about 198.19.56.0 for 10,000).
 * `v6Every` > 0 replaces every v6Every-th one by an IPv6 prefix from 2001:2::/48.
 */
export function prefixes(n: number, v6Every = 0): string[] {
  const base = (198 << 24) | (18 << 16);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (v6Every > 0 && i % v6Every === v6Every - 1) {
      out.push(`2001:2:0:${(i >> 8).toString(16)}:${(i & 0xff).toString(16)}::/80`);
      continue;
    }
    const a = (base + i * 8) >>> 0;
    const len = [32, 31, 30][i % 3]!;
    out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`);
  }
  return out;
}

// ---------------------------------------------------------------- machine

export interface MachineInfo {
  date: string;
  host: string;
  kernel: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** `uptime` output: load averages (other engineers' test runs share the machine) */
  uptime: string;
  loadavg: number[];
  versions: Record<string, string>;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "";
}

export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString(),
    host: os.hostname(),
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "?",
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    uptime: firstLine("uptime", []),
    loadavg: os.loadavg().map((x) => round(x, 2)),
    versions: {
      node: process.version,
      nft: firstLine("nft", ["--version"]),
      openssh: firstLine("ssh", ["-V"]),
      ansible: firstLine("ansible-playbook", ["--version"]),
    },
  };
}

export function uptime(): string {
  return firstLine("uptime", []);
}

export function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v "$1"`, "sh", cmd], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export type Log = (line: string) => void;

// ---------------------------------------------------------------- paired ratios

/**
 * A ratio measured as pairs (B over A in the same round, the two runs next to each other, their
 * order alternating between rounds): the median of the per-round ratios, a distribution-free
 * confidence interval of that median (order statistics of the binomial, about 95%; with fewer
 * than 6 rounds it is min-max and covers less), and the min and max.
 */
export interface RatioSummary {
  n: number;
  median: number;
  low: number;
  high: number;
  /** the interval's coverage, e.g. 0.96 */
  confidence: number;
  min: number;
  max: number;
}

function binomialCdfHalf(n: number, k: number): number {
  // P(X <= k), X ~ Binomial(n, 1/2)
  let c = 1;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += c;
    c = (c * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

export function ratioSummary(ratios: readonly number[]): RatioSummary {
  const s = [...ratios].filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { n, median: NaN, low: NaN, high: NaN, confidence: 0, min: NaN, max: NaN };
  // the largest k with P(X < k) <= 2.5%: [x(k), x(n-k+1)] (1-based) covers the median with >= 95%
  let k = 1;
  while (k + 1 <= n - k && binomialCdfHalf(n, k) <= 0.025) k++;
  return {
    n,
    median: round(median(s), 4),
    low: round(s[k - 1]!, 4),
    high: round(s[n - k]!, 4),
    confidence: round(1 - 2 * binomialCdfHalf(n, k - 1), 3),
    min: round(s[0]!, 4),
    max: round(s[n - 1]!, 4),
  };
}

// ---------------------------------------------------------------- CPU time

/** USER_HZ: the unit of /proc/stat */
export const CLOCK_TICKS = 100;

/** Per-CPU counters from /proc/stat: busy (user+nice+system+irq+softirq), steal and total jiffies. */
export function cpuTimes(): { busy: number; steal: number; total: number }[] {
  return fs
    .readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
      return {
        busy: user + nice + system + irq + softirq,
        steal,
        total: user + nice + system + idle + iowait + irq + softirq + steal,
      };
    });
}

/** Between two cpuTimes(): each CPU's busy and steal share, and the busy CPU seconds of all CPUs. */
export function cpuBetween(
  before: ReturnType<typeof cpuTimes>,
  after: ReturnType<typeof cpuTimes>,
): { busy: number[]; steal: number[]; busySeconds: number } {
  const ticks = after.reduce((a, x, i) => a + x.busy - (before[i]?.busy ?? 0), 0);
  return {
    busy: after.map((a, i) => round((a.busy - before[i]!.busy) / Math.max(1, a.total - before[i]!.total), 2)),
    steal: after.map((a, i) => round((a.steal - before[i]!.steal) / Math.max(1, a.total - before[i]!.total), 2)),
    busySeconds: ticks / CLOCK_TICKS,
  };
}
