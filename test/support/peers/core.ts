/**
 * The peer kit's core: the lab host as peers see it, temp dirs, and processes started inside a
 * host that are tagged, tracked and killed with all their descendants (see ./index.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onCleanup } from "../exit-cleanup";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The part of lab.ts's LabHost that peers need. */
export interface PeerHost {
  name: string;
  netns: string;
  ipv4: string;
  ipv6: string;
  sh(script: string, opts?: { stdin?: string; allowFail?: boolean; timeoutMs?: number }): Promise<ExecResult>;
}

/** A host, or a literal address. */
export type Target = PeerHost | string;

export interface PeerHandle {
  /** Kills every process this handle started (and their descendants) and removes its files. */
  stop(): Promise<void>;
}

export type PortState = "open" | "closed" | "filtered";

export const PYTHON = "/usr/bin/python3";
const TAG_VAR = "HNFT_PEER_TAG";
const TAG_PREFIX = `hnft-peer-${process.pid}-`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function addrOf(t: Target, ipv6: boolean): string {
  return typeof t === "string" ? t : ipv6 ? t.ipv6 : t.ipv4;
}

function isV6(addr: string): boolean {
  return addr.includes(":");
}

/** host:port for URLs and sipp ("[v6]:port"). */
export function hostPort(addr: string, port: number): string {
  return isV6(addr) ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

const tempDirs = new Set<string>();

export function makeTempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hnft-peers-${label}-`));
  fs.chmodSync(dir, 0o755); // servers drop privileges (ftp, tftp, nobody) and must traverse it
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

export function writeRandomFile(
  dir: string,
  name: string,
  bytes: number,
): { path: string; size: number; sha256: string } {
  const data = randomBytes(bytes);
  const p = path.join(dir, name);
  fs.writeFileSync(p, data, { mode: 0o644 });
  fs.chmodSync(p, 0o644);
  return { path: p, size: bytes, sha256: sha256(data) };
}

export function parseJsonLine<T>(stdout: string): T | undefined {
  const lines = stdout.trim().split("\n").reverse();
  for (const l of lines) {
    const t = l.trim();
    if (t.startsWith("{")) {
      try {
        return JSON.parse(t) as T;
      } catch {
        /* keep looking */
      }
    }
  }
  return undefined;
}

export interface Proc {
  tag: string;
  child: ChildProcess;
  label: string;
  /** output so far (capped) */
  stdout(): string;
  stderr(): string;
  exited: Promise<ExecResult>;
  isRunning(): boolean;
  /** resolves with the first stdout line matching re; rejects on exit or timeout */
  waitLine(re: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<ExecResult>;
}

const liveProcs = new Set<Proc>();
const OUTPUT_CAP = 1 << 20;

function readProcFile(p: string): string | undefined {
  try {
    return fs.readFileSync(p, "latin1");
  } catch {
    return undefined;
  }
}

/** pids whose environment carries the given tag (or any tag of this process with prefix=true) */
function taggedPids(tag: string, prefix = false): number[] {
  const needle = `${TAG_VAR}=${tag}`;
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const env = readProcFile(`/proc/${e}/environ`);
    if (!env) continue;
    for (const kv of env.split("\0")) {
      if (prefix ? kv.startsWith(needle) : kv === needle) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** pid -> {ppid, pgid} for every process */
function processTable(): Map<number, { ppid: number; pgid: number }> {
  const m = new Map<number, { ppid: number; pgid: number }>();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readProcFile(`/proc/${e}/stat`);
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    m.set(Number(e), { ppid: Number(f[1]), pgid: Number(f[2]) });
  }
  return m;
}

function familyOf(root: number): Set<number> {
  const table = processTable();
  const fam = new Set<number>();
  if (table.has(root)) fam.add(root);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of table) {
      if (fam.has(pid)) continue;
      if (fam.has(p.ppid) || p.pgid === root) {
        fam.add(pid);
        grew = true;
      }
    }
  }
  return fam;
}

function killPids(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

function isZombieOrGone(pid: number): boolean {
  const stat = readProcFile(`/proc/${pid}/stat`);
  if (!stat) return true;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
}

/**
 * Start argv inside the host's netns (`ip netns exec`, like lab.ts: the /etc overlay applies),
 * tagged, in its own process group, with cwd = dir.
 */
export function startProc(host: PeerHost, argv: string[], opts: { cwd: string; label: string; stdin?: string }): Proc {
  const tag = `${TAG_PREFIX}${randomBytes(6).toString("hex")}`;
  const child = spawn("ip", ["netns", "exec", host.netns, ...argv], {
    cwd: opts.cwd,
    env: { ...process.env, [TAG_VAR]: tag, LC_ALL: "C" },
    stdio: [opts.stdin !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  const lineWaiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let pending = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    if (out.length < OUTPUT_CAP) out += d;
    pending += d;
    let i: number;
    while ((i = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      for (let k = lineWaiters.length - 1; k >= 0; k--) {
        const w = lineWaiters[k]!;
        if (w.re.test(line)) {
          lineWaiters.splice(k, 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.on("data", (d: string) => {
    if (err.length < OUTPUT_CAP) err += d;
  });
  child.on("error", (e) => {
    err += `\nspawn error: ${e.message}`;
  });
  if (opts.stdin !== undefined) {
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(opts.stdin);
  }
  let running = true;
  const exited = new Promise<ExecResult>((resolve) => {
    child.on("close", (code, signal) => {
      running = false;
      resolve({ code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 255), stdout: out, stderr: err });
    });
  });
  const proc: Proc = {
    tag,
    child,
    label: opts.label,
    stdout: () => out,
    stderr: () => err,
    exited,
    isRunning: () => running,
    waitLine: (re, timeoutMs) => {
      const seen = out.split("\n").find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`${opts.label}: no line matching ${re} within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`),
          );
        }, timeoutMs);
        const waiter = {
          re,
          resolve: (l: string) => {
            cleanup();
            resolve(l);
          },
        };
        const onExit = (r: ExecResult): void => {
          cleanup();
          reject(
            new Error(
              `${opts.label}: exited with ${r.code} before printing ${re}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
            ),
          );
        };
        let done = false;
        const cleanup = (): void => {
          done = true;
          clearTimeout(timer);
          const i = lineWaiters.indexOf(waiter);
          if (i >= 0) lineWaiters.splice(i, 1);
        };
        lineWaiters.push(waiter);
        void exited.then((r) => {
          if (!done) onExit(r);
        });
      });
    },
    stop: async () => {
      await killTree(proc);
      liveProcs.delete(proc);
      return exited;
    },
  };
  liveProcs.add(proc);
  return proc;
}

/** SIGTERM the tagged processes, the group and descendants; SIGKILL whatever is left after a grace period. */
async function killTree(proc: Proc, graceMs = 1500): Promise<void> {
  const root = proc.child.pid;
  const collect = (): Set<number> => {
    const s = new Set<number>(taggedPids(proc.tag));
    if (root) for (const p of familyOf(root)) s.add(p);
    return s;
  };
  let victims = collect();
  if (root) {
    try {
      process.kill(-root, "SIGTERM");
    } catch {
      /* group gone */
    }
  }
  killPids(victims, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    victims = collect();
    if ([...victims].every(isZombieOrGone)) break;
    await sleep(20);
  }
  for (let round = 0; round < 50; round++) {
    victims = collect();
    const alive = [...victims].filter((p) => !isZombieOrGone(p));
    if (alive.length === 0) break;
    if (root) {
      try {
        process.kill(-root, "SIGKILL");
      } catch {
        /* group gone */
      }
    }
    killPids(alive, "SIGKILL");
    await sleep(20);
  }
  // the direct child is reaped by node; wait for it (bounded)
  await Promise.race([proc.exited, sleep(3000)]);
}

/** Run argv to completion inside the host (tagged; killed with its descendants on timeout). */
export async function runIn(
  host: PeerHost,
  argv: string[],
  opts: { timeoutMs: number; label: string; stdin?: string; cwd?: string },
): Promise<ExecResult & { timedOut: boolean; ms: number }> {
  const t0 = Date.now();
  const proc = startProc(host, argv, {
    cwd: opts.cwd ?? os.tmpdir(),
    label: opts.label,
    ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void killTree(proc, 200);
  }, opts.timeoutMs);
  const r = await proc.exited;
  clearTimeout(timer);
  // leftovers (background grandchildren) never outlive a one-shot
  if (taggedPids(proc.tag).length > 0) await killTree(proc, 200);
  liveProcs.delete(proc);
  return { ...r, timedOut, ms: Date.now() - t0 };
}

/** Kill every process any peer handle of this test process started; remove every temp dir. */
export async function stopAllPeers(): Promise<void> {
  for (const p of [...liveProcs]) await p.stop();
  for (const pid of taggedPids(TAG_PREFIX, true)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const d of [...tempDirs]) removeTempDir(d);
}

/** pids of peer processes of this test process that are still alive (for "nothing survives" checks). */
export function leftoverPeerPids(): number[] {
  return taggedPids(TAG_PREFIX, true).filter((p) => !isZombieOrGone(p));
}

// Killed on exit and on SIGINT/SIGTERM/SIGHUP, like the lab itself.
onCleanup(() => {
  for (const p of liveProcs) {
    try {
      if (p.child.pid) process.kill(-p.child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const pid of taggedPids(TAG_PREFIX, true)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A handle over a set of processes and temp dirs, stoppable once (idempotent). */
export function makeHandle(procs: Proc[], dirs: string[], extra?: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      for (const p of procs) await p.stop();
      if (extra) await extra();
      for (const d of dirs) removeTempDir(d);
    })();
    return stopping;
  };
}

/**
 * Starts a peer that prints READY once it listens, and waits for that line; a peer that does not
 * get there is stopped (with its temp dirs) before the error is thrown.
 */
export async function startUntilReady(
  host: PeerHost,
  argv: string[],
  opts: { cwd: string; label: string; dirs?: string[]; timeoutMs?: number },
): Promise<{ proc: Proc; stop: () => Promise<void> }> {
  const proc = startProc(host, argv, opts);
  const stop = makeHandle([proc], opts.dirs ?? []);
  try {
    await proc.waitLine(/^READY$/, opts.timeoutMs ?? 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, stop };
}

/** Wait until a socket is listening (tcp) or bound (udp) on port in the host; fail fast if proc died. */
export async function waitBound(
  host: PeerHost,
  proto: "tcp" | "udp",
  port: number,
  proc: Proc,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const flag = proto === "tcp" ? "-Hltn" : "-Hlun";
  for (;;) {
    if (!proc.isRunning()) {
      const r = await proc.exited;
      throw new Error(
        `${proc.label} exited (${r.code}) before binding ${proto}/${port}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
      );
    }
    const r = await host.sh(`ss ${flag} 'sport = :${port}'`, { allowFail: true, timeoutMs: 5000 });
    if (r.stdout.trim().length > 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `${proc.label}: nothing bound on ${proto}/${port} after ${timeoutMs} ms\nstderr:\n${proc.stderr()}`,
      );
    await sleep(25);
  }
}

/** Whether the machine (whose /etc/passwd every lab host shares) has this user. */
export function userExists(name: string): boolean {
  const passwd = readProcFile("/etc/passwd") ?? "";
  return passwd.split("\n").some((l) => l.startsWith(`${name}:`));
}
