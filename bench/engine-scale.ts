/**
 * Scale through the real Pulumi engine (issue #24, "Scale"), `--only engine-scale`:
 *
 * 1. Fleets in one stack: N lab hosts (one HostFirewall each, test/engine/program's shape), for N
 *    in e.g. 30, 100, 300: `pulumi up` (first), a no-op `pulumi up`, and the drift check
 *    `pulumi preview --refresh --expect-no-changes`. A lab slot holds at most 200 hosts (one /24
 *    per slot, 198.18.<slot>.(10+i)); a larger fleet spans several slots, one bridge each, all in
 *    198.18.0.0/15, every host reached with the first host's key. Per command: wall time, the peak
 *    resident memory (VmHWM) of the provider plugin, of the `pulumi` CLI (the engine) and of the
 *    program's process (tools/engine/run.ts), and the state file's size after it.
 * 2. One host with N source prefixes (e.g. 100,000) on one exposure: `pulumi preview`, `pulumi up`,
 *    the drift check, then one prefix changed and `pulumi preview --diff`: what it prints (lines,
 *    bytes, the changed prefix's lines) beside the same measures.
 *
 * And the limits of this machine that bound a fleet (open files, processes, inotify, pids,
 * memory, what one sshd per host costs).
 *
 * Peak memory: every 200 ms the descendants of the command's process are listed from /proc
 * (parent links, so another bench or suite running at the same time is never counted) and their
 * VmHWM read; a process's last reading is its peak (VmHWM never decreases).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { type EngineProject, engineProject, shareFirstKey } from "../test/support/engine";
import { createLab, type Lab, type LabHost } from "../test/support/lab";
import { scalePrefixes } from "./scale";
import { type Log, round, runCleanups } from "./util";

const PATHS = { stateRoot: "/etc/hardened-nftables/.state", runRoot: "/etc/hardened-nftables/.run" } as const;
/** Hosts per lab slot for fleets that need more than one (the lab's own maximum is 200). */
const HOSTS_PER_SLOT = 150;

/** The test program's shape without the fleet-sized stack outputs (a user exports what they read). */
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { HostFirewall } from "pulumi-hardened-nftables";
const config = new pulumi.Config();
// a policy of 100,000 prefixes does not fit one argument of \`pulumi config set\` (E2BIG): read from a file
const policyFile = config.get("policyFile");
const hosts = config.requireObject<{ name: string; host: string; user: string; hostKey: string; hostPaths?: object }[]>("hosts");
const policy = (policyFile ? JSON.parse(fs.readFileSync(policyFile, "utf8")) : config.requireObject<Record<string, unknown>>("policy"));
const privateKey = config.requireSecret("privateKey");
const firewalls = hosts.map(
  (h) => new HostFirewall(h.name, { ...(policy as object), connection: { host: h.host, user: h.user, hostKey: h.hostKey, privateKey }, ...(h.hostPaths ? { hostPaths: h.hostPaths } : {}) } as never),
);
export const inSync = pulumi.all(firewalls.map((f) => f.inSync)).apply((xs) => xs.filter(Boolean).length);
`;

export interface Peaks {
  /** MiB, the highest VmHWM of any provider plugin process of the command */
  pluginMiB: number;
  /** MiB, the `pulumi` CLI (the engine) */
  engineMiB: number;
  /** MiB, the program's process (tools/engine/run.ts: the Automation API inline program) */
  programMiB: number;
}

export interface EngineScaleRun extends Peaks {
  op: "preview" | "apply-first" | "apply-noop" | "drift-check" | "preview-diff-one-changed";
  wallMs: number;
  /** bytes of the stack's state file after the command */
  stateBytes: number;
}

export interface FleetScale {
  hosts: number;
  slots: number;
  labSetupMs: number;
  runs: EngineScaleRun[];
}

export interface PrefixScale {
  prefixes: number;
  runs: EngineScaleRun[];
  /** what `pulumi preview --diff` printed after one prefix changed */
  diff: { lines: number; bytes: number; changedLines: string[]; mentionsOfOtherPrefixes: number; head: string };
  /** the compact JSON of the host's HostTable and HostFirewall in `pulumi stack export` */
  stateResourceBytes: { hostTableInputs: number; hostTableOutputs: number; hostFirewallOutputs: number };
}

export interface MachineLimits {
  cpus: number;
  memTotalMiB: number;
  openFilesSoft: string;
  maxUserProcesses: string;
  pidMax: number;
  threadsMax: number;
  inotifyMaxUserInstances: number;
  inotifyMaxUserWatches: number;
  /** resident memory of one idle lab sshd (KiB) */
  sshdRssKiB: number;
  notes: string[];
}

export interface EngineScaleResult {
  method: Record<string, string>;
  /** a size that failed (the others are still reported) */
  errors: { part: string; message: string }[];
  limits: MachineLimits;
  fleets: FleetScale[];
  prefixes: PrefixScale[];
}

// ---------------------------------------------------------------- peak memory by process tree

function readProc(pid: string, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

function descendants(root: number): string[] {
  const parent = new Map<string, string>();
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = readProc(pid, "stat");
    if (!stat) continue;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ")"
    const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
    if (ppid) parent.set(pid, ppid);
  }
  const out: string[] = [];
  for (const pid of parent.keys()) {
    for (let p: string | undefined = pid, hops = 0; p && p !== "0" && hops < 64; p = parent.get(p), hops++) {
      if (p === String(root)) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

type Role = keyof Peaks;
function roleOf(cmdline: string): Role | undefined {
  if (/pulumi-resource-hardened-nftables|plugin-main\.js/.test(cmdline)) return "pluginMiB";
  if (/tools\/engine\/run\.ts/.test(cmdline)) return "programMiB";
  if (/(^|\/)pulumi\0/.test(cmdline)) return "engineMiB";
  return undefined;
}

/** Samples the tree under `root` until stopped; returns each role's highest VmHWM in MiB. */
function peakSampler(root: number): { stop(): Peaks } {
  const last = new Map<string, { role: Role; kib: number }>();
  const sample = () => {
    for (const pid of [String(root), ...descendants(root)]) {
      const cmdline = readProc(pid, "cmdline");
      const role = cmdline === undefined ? undefined : roleOf(cmdline);
      if (!role) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readProc(pid, "status") ?? "");
      if (hwm) last.set(pid, { role, kib: Number(hwm[1]) });
    }
  };
  const timer = setInterval(sample, 200);
  sample();
  return {
    stop() {
      clearInterval(timer);
      const peaks: Peaks = { pluginMiB: 0, engineMiB: 0, programMiB: 0 };
      for (const { role, kib } of last.values()) peaks[role] = Math.max(peaks[role], round(kib / 1024, 1));
      return peaks;
    },
  };
}

// ---------------------------------------------------------------- one engine command, measured

function stateFile(project: EngineProject): string | undefined {
  const stacks = path.join(project.backend, ".pulumi", "stacks");
  const walk = (dir: string): string | undefined => {
    for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        const found = walk(p);
        if (found) return found;
      } else if (e.name === `${project.stack}.json`) return p;
    }
    return undefined;
  };
  return walk(stacks);
}

const stateBytes = (project: EngineProject): number => {
  const file = stateFile(project);
  return file ? fs.statSync(file).size : 0;
};

async function measured(
  project: EngineProject,
  op: EngineScaleRun["op"],
  args: string[],
  log: Log,
  opts: { allowChanges?: boolean } = {},
): Promise<{ run: EngineScaleRun; stdout: string }> {
  const running = project.startPulumi(args, { timeoutMs: 3_600_000 });
  const sampler = peakSampler(running.pid);
  const r = await running.done;
  const peaks = sampler.stop();
  if (r.code !== 0 && !opts.allowChanges)
    throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  const run: EngineScaleRun = { op, wallMs: r.ms, stateBytes: stateBytes(project), ...peaks };
  log(
    `engine-scale:   ${op}: ${(r.ms / 1000).toFixed(1)} s; peak MiB plugin ${peaks.pluginMiB}, engine ${peaks.engineMiB}, program ${peaks.programMiB}; state ${(run.stateBytes / 1024).toFixed(0)} KiB`,
  );
  return { run, stdout: r.stdout };
}

// ---------------------------------------------------------------- limits

function sshdRss(pid: number | undefined): number {
  const rss = pid ? /VmRSS:\s+(\d+) kB/.exec(readProc(String(pid), "status") ?? "") : null;
  return rss ? Number(rss[1]) : 0;
}

function limitsOf(sshdRssKiB: number): MachineLimits {
  const num = (file: string) => Number(fs.readFileSync(file, "utf8").trim());
  const limits = fs.readFileSync("/proc/self/limits", "utf8");
  const limit = (name: string) => {
    const m = new RegExp(`^${name}\\s+(\\S+)\\s+(\\S+)`, "m").exec(limits);
    return m ? `${m[1]} (hard ${m[2]})` : "?";
  };
  const mem = /MemTotal:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  return {
    cpus: fs.readFileSync("/proc/cpuinfo", "utf8").match(/^processor\s/gm)?.length ?? 0,
    memTotalMiB: mem ? Math.round(Number(mem[1]) / 1024) : 0,
    openFilesSoft: limit("Max open files"),
    maxUserProcesses: limit("Max processes"),
    pidMax: num("/proc/sys/kernel/pid_max"),
    threadsMax: num("/proc/sys/kernel/threads-max"),
    inotifyMaxUserInstances: num("/proc/sys/fs/inotify/max_user_instances"),
    inotifyMaxUserWatches: num("/proc/sys/fs/inotify/max_user_watches"),
    sshdRssKiB,
    notes: [
      "a lab slot is one /24 on one bridge: 198.18.<slot>.(10+i), at most 200 hosts (test/support/lab.ts MAX_HOSTS; the /24 itself ends at 244); a Linux bridge takes at most 1,024 ports",
      "larger fleets span several slots (250 slots in 198.18.0.0/15), so addressing is not the limit",
    ],
  };
}

// ---------------------------------------------------------------- 1. fleets

async function labsFor(n: number): Promise<{ labs: Lab[]; hosts: LabHost[] }> {
  const labs: Lab[] = [];
  try {
    for (let left = n; left > 0; left -= HOSTS_PER_SLOT)
      labs.push(await createLab({ hosts: Math.min(left, HOSTS_PER_SLOT), label: `bench-engine-scale-${n}` }));
  } catch (e) {
    await Promise.all(labs.map((l) => l.destroy()));
    throw e;
  }
  const hosts = labs.flatMap((l) => l.hosts);
  shareFirstKey(hosts);
  return { labs, hosts };
}

const FLEET_POLICY = { exposures: [{ service: "ssh" }, { service: "https" }] };

async function fleetScale(n: number, log: Log): Promise<FleetScale & { sshdRssKiB: number }> {
  const t0 = Date.now();
  log(`engine-scale: ${n} hosts: creating the lab (${Math.ceil(n / HOSTS_PER_SLOT)} slot(s))`);
  const { labs, hosts } = await labsFor(n);
  const labSetupMs = Date.now() - t0;
  const sshdRssKiB = sshdRss(Number(fs.readFileSync(path.join(hosts[0]!.dir, "sshd.pid"), "utf8").trim()) || undefined);
  const project = engineProject(`scale-${n}`, { files: { "index.ts": PROGRAM } });
  const runs: EngineScaleRun[] = [];
  try {
    await project.config("privateKey", hosts[0]!.root.privateKey, true);
    await project.config("policy", FLEET_POLICY);
    await project.config(
      "hosts",
      hosts.map((h, i) => ({ name: `h${i + 1}`, host: h.ipv4, user: "root", hostKey: h.hostKey, hostPaths: PATHS })),
    );
    log(`engine-scale: ${n} hosts: lab ready in ${(labSetupMs / 1000).toFixed(1)} s`);
    runs.push((await measured(project, "apply-first", ["up", "--yes"], log)).run);
    runs.push((await measured(project, "apply-noop", ["up", "--yes"], log)).run);
    runs.push((await measured(project, "drift-check", ["preview", "--refresh", "--expect-no-changes"], log)).run);
  } finally {
    const d = await project.pulumi(["destroy", "--yes"], { timeoutMs: 3_600_000 });
    if (d.code !== 0) log(`engine-scale: ${n} hosts: destroy exited ${d.code} (the labs go anyway)`);
    project.remove();
    await Promise.all(labs.map((l) => l.destroy()));
  }
  return { hosts: n, slots: labs.length, labSetupMs, runs, sshdRssKiB };
}

// ---------------------------------------------------------------- 2. prefixes

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function prefixScale(n: number, log: Log): Promise<PrefixScale> {
  log(`engine-scale: one host, ${n} source prefixes`);
  const lab = await createLab({ hosts: 1, label: "bench-engine-prefixes" });
  const [h] = lab.hosts as [LabHost];
  const project = engineProject(`prefixes-${n}`, { files: { "index.ts": PROGRAM } });
  const sources = scalePrefixes(n);
  const policy = (s: string[]) => ({
    exposures: [{ service: "ssh" }, { name: "bulk", protocol: "tcp", ports: 8443, sources: s }],
  });
  const runs: EngineScaleRun[] = [];
  try {
    await project.config("privateKey", h.root.privateKey, true);
    await project.config("hosts", [{ name: "big", host: h.ipv4, user: "root", hostKey: h.hostKey, hostPaths: PATHS }]);
    const policyFile = path.join(project.dir, "policy.json");
    fs.writeFileSync(policyFile, JSON.stringify(policy(sources)));
    await project.config("policyFile", policyFile);
    runs.push((await measured(project, "preview", ["preview"], log)).run);
    runs.push((await measured(project, "apply-first", ["up", "--yes"], log)).run);
    runs.push((await measured(project, "apply-noop", ["up", "--yes"], log)).run);
    runs.push((await measured(project, "drift-check", ["preview", "--refresh", "--expect-no-changes"], log)).run);
    const state = await project.exportState();
    const size = (type: string, part: "inputs" | "outputs") =>
      JSON.stringify(state.deployment.resources?.find((r) => r.type === type)?.[part] ?? {}).length;
    const stateResourceBytes = {
      hostTableInputs: size("hardened-nftables:index:HostTable", "inputs"),
      hostTableOutputs: size("hardened-nftables:index:HostTable", "outputs"),
      hostFirewallOutputs: size("hardened-nftables:index:HostFirewall", "outputs"),
    };
    // one prefix replaced by another outside the list
    const changed = [...sources];
    const k = Math.floor(n / 2);
    const replaced = changed[k]!;
    changed[k] = "198.19.255.4/32";
    fs.writeFileSync(policyFile, JSON.stringify(policy(changed)));
    const { run, stdout } = await measured(project, "preview-diff-one-changed", ["preview", "--diff"], log);
    runs.push(run);
    const lines = stdout.split("\n");
    // nft lists an IPv4 /32 as the bare address
    const changedLines = lines.filter((l) => l.includes(replaced) || l.includes("198.19.255.4")).map((l) => l.trim());
    // a neighbour of the changed prefix printed too (a successor link) counts, any other prefix too
    const others = sources.filter((_, i) => i !== k && (i === k - 1 || i === k + 1 || i % 997 === 0));
    const mentionsOfOtherPrefixes = lines.filter((l) =>
      others.some((p) => new RegExp(`${escapeRe(p)}\\b`).test(l)),
    ).length;
    const diff = {
      lines: lines.length,
      bytes: Buffer.byteLength(stdout),
      changedLines,
      mentionsOfOtherPrefixes,
      head: stdout.slice(0, 4000),
    };
    log(
      `engine-scale:   preview --diff after one prefix changed: ${diff.lines} lines, ${diff.bytes} bytes; ${changedLines.length} line(s) name the changed prefix, ${mentionsOfOtherPrefixes} name a sampled unchanged one`,
    );
    return { prefixes: n, runs, diff, stateResourceBytes };
  } finally {
    const d = await project.pulumi(["destroy", "--yes"], { timeoutMs: 3_600_000 });
    if (d.code !== 0) log(`engine-scale: prefixes: destroy exited ${d.code} (the lab goes anyway)`);
    project.remove();
    await lab.destroy();
  }
}

// ---------------------------------------------------------------- entry

export async function runEngineScale(opts: {
  hosts: number[];
  prefixes: number[];
  log: Log;
}): Promise<EngineScaleResult> {
  const fleets: FleetScale[] = [];
  const errors: EngineScaleResult["errors"] = [];
  const failed = (part: string, e: unknown) => {
    const message = (e as Error).stack ?? String(e);
    opts.log(`engine-scale: ${part} FAILED: ${message}`);
    errors.push({ part, message });
  };
  let limits: MachineLimits | undefined;
  for (const n of opts.hosts) {
    try {
      const { sshdRssKiB, ...f } = await fleetScale(n, opts.log);
      limits ??= limitsOf(sshdRssKiB);
      fleets.push(f);
    } catch (e) {
      failed(`${n} hosts`, e);
    }
  }
  const prefixes: PrefixScale[] = [];
  for (const n of opts.prefixes) {
    try {
      prefixes.push(await prefixScale(n, opts.log));
    } catch (e) {
      failed(`${n} prefixes`, e);
    }
  }
  if (errors.length > 0 && fleets.length + prefixes.length === 0)
    throw new Error(`engine-scale: every part failed:\n${errors.map((x) => x.message).join("\n")}`);
  return {
    method: {
      fleet:
        "N lab hosts (real sshd per network namespace; 150 per lab slot beyond that), one HostFirewall each with ssh + https, one stack, the pinned engine via tools/engine/run.ts; pulumi up, a no-op pulumi up, pulumi preview --refresh --expect-no-changes, each once, the CLI's default --parallel",
      prefixes:
        "one lab host, ssh + one tcp/8443 exposure with N source prefixes (30% IPv4 /32, 70% IPv6 /96, none adjacent); pulumi preview, up, no-op up, drift check; then prefix N/2 replaced and pulumi preview --diff: its output's lines and bytes, and the lines naming the changed prefix",
      memory:
        "VmHWM of each process under the command (parent links from /proc, sampled every 200 ms): the provider plugin, the pulumi CLI, the program's process",
      state: "bytes of the stack's checkpoint file in the local file backend after each command",
    },
    errors,
    limits: limits ?? limitsOf(0),
    fleets,
    prefixes,
  };
}

/** `sudo npx tsx bench/engine-scale.ts [--hosts 30,100] [--prefixes 100000] [--out FILE]`: one part alone, JSON out. */
if (require.main === module) {
  const { values } = parseArgs({
    options: { hosts: { type: "string" }, prefixes: { type: "string" }, out: { type: "string" } },
  });
  const list = (v: string | undefined) => (v ? v.split(",").filter(Boolean).map(Number) : []);
  const started = Date.now();
  const log: Log = (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  runEngineScale({ hosts: list(values.hosts), prefixes: list(values.prefixes), log })
    .then((r) => {
      if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(r, null, 2)}\n`);
      console.log(engineScaleMarkdown(r).join("\n"));
    })
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    })
    .finally(runCleanups);
}

/** Markdown section (bench/report.ts includes it). */
export function engineScaleMarkdown(r: EngineScaleResult): string[] {
  const L: string[] = ["## Scale through the engine (`bench/engine-scale.ts`)", ""];
  for (const e of r.errors) L.push(`**${e.part} failed**: ${e.message.split("\n")[0]}`, "");
  const row = (label: string, x: EngineScaleRun, per = 1) =>
    `| ${label} | ${x.op} | ${round(x.wallMs / 1000, 1)} | ${x.pluginMiB} | ${x.engineMiB} | ${x.programMiB} | ${round(x.stateBytes / 1024, 0)} | ${round(x.stateBytes / 1024 / per, 1)} |`;
  if (r.fleets.length > 0) {
    L.push(
      "| hosts | command | wall s | plugin peak MiB | engine peak MiB | program peak MiB | state KiB | state KiB per host |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const f of r.fleets) for (const x of f.runs) L.push(row(String(f.hosts), x, f.hosts));
    L.push("");
  }
  if (r.prefixes.length > 0) {
    L.push(
      "| prefixes | command | wall s | plugin peak MiB | engine peak MiB | program peak MiB | state KiB | |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const p of r.prefixes) for (const x of p.runs) L.push(row(String(p.prefixes), x));
    L.push("");
    for (const p of r.prefixes)
      L.push(
        `${p.prefixes} prefixes, one changed: \`pulumi preview --diff\` printed ${p.diff.lines} lines (${p.diff.bytes} bytes); lines naming the changed prefixes: ${p.diff.changedLines.map((l) => `\`${l}\``).join(", ")}; lines naming a sampled unchanged prefix: ${p.diff.mentionsOfOtherPrefixes}. HostTable inputs ${p.stateResourceBytes.hostTableInputs} bytes, outputs ${p.stateResourceBytes.hostTableOutputs}, HostFirewall outputs ${p.stateResourceBytes.hostFirewallOutputs} (compact JSON).`,
        "",
      );
  }
  const l = r.limits;
  L.push(
    `Limits: ${l.cpus} CPUs, ${l.memTotalMiB} MiB; open files ${l.openFilesSoft}, processes ${l.maxUserProcesses}, pid_max ${l.pidMax}, threads-max ${l.threadsMax}, inotify instances ${l.inotifyMaxUserInstances}, watches ${l.inotifyMaxUserWatches}; one idle lab sshd ${l.sshdRssKiB} KiB resident. ${l.notes.join("; ")}.`,
    "",
  );
  return L;
}
