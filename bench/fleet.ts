/**
 * Fleet operations on N lab hosts (real sshd per network namespace, test/support/lab.ts):
 * first apply, no-op apply and drift check, by this project (applyPolicy / observePolicy, all hosts
 * at once, in a fresh `node` process per operation) and by Ansible (ansible-playbook with a
 * playbook doing the equivalent: template the same nft text with `validate: nft -c -f %s`, load
 * it with `nft -f` from a handler, write sysctl.d and modprobe.d; `--check --diff` for the drift check).
 *
 * Counting, the same way for both tools: every host's sshd logs (LogLevel VERBOSE) one
 * "Accepted publickey" line per SSH connection and one "Starting session:" line per exec or sftp
 * channel, i.e. per remote command; those are the connections and round trips per host.
 * Cross-checks: our own `stats` (from the results), and for Ansible a wrapper around ssh/sftp/scp
 * (ssh_executable etc.) that logs every invocation.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { probeHost } from "../src/host";
import { parseConnection } from "../src/model/connection";
import { assertPolicy, formatIssues } from "../src/model/validate";
import { type Artefacts, renderPolicy } from "../src/render";
import { managedPaths } from "../src/render/paths";
import { shareFirstKey } from "../test/support/engine";
import { createLab, type Lab, type LabHost } from "../test/support/lab";
import { type EngineBreakdown, type EngineRun, engineFleet, summarize } from "./engine-fleet";
import { exec, type Log, median, round, runWorker, sleep, tempDir } from "./util";
import type { FleetAnswer, FleetRequest, WorkerHostResult } from "./workers/fleet";

export type Tool = "ours" | "pulumi" | "pulumi-parallel" | "ansible" | "ansible-defaults";
export type Operation = "apply-first" | "apply-noop" | "drift-check";

export interface OperationResult {
  tool: Tool;
  op: Operation;
  hosts: number;
  /** wall time of the whole process (node / ansible-playbook), one per repetition */
  wallMs: number[];
  medianWallMs: number;
  /** ours only: time inside the process, after Node started and loaded the library */
  inProcessMs?: number[];
  /** from the hosts' sshd logs, per host (mean over hosts and repetitions) */
  connectionsPerHost: number;
  roundTripsPerHost: number;
  /** what the tool itself reports, per host: our SessionStats; Ansible: ssh/sftp/scp invocations */
  toolConnectionsPerHost?: number;
  toolRoundTripsPerHost?: number;
  /** hosts the tool reported as changed (last repetition) */
  changedHosts: number;
  /** drift check: hosts reported in sync (last repetition) */
  inSyncHosts?: number;
  /** pulumi only: wall time minus the host span, per repetition (Node, program, plan, state, CLI) */
  engineOverheadMs?: number[];
  /** pulumi only: first HostTable step start to last HostTable step end, per repetition (SSH + host + provider) */
  hostSpanMs?: number[];
  medianEngineOverheadMs?: number;
  /** pulumi only: one more run of the command, traced, cut into the stretches of its critical path */
  breakdown?: EngineBreakdown;
}

export interface NoopWriteCheck {
  tool: Tool;
  hosts: number;
  hostsWithWrites: number;
  /** paths (host-neutral) whose inode, size, mtime or ctime changed, and whether the table was reloaded */
  changed: string[];
  tableReloaded: boolean;
}

export interface FleetResult {
  method: Record<string, string | number | boolean | string[]>;
  operations: OperationResult[];
  noopWrites: NoopWriteCheck[];
  identicalBytes: { tool: Tool; hosts: number; identical: boolean }[];
}

export interface FleetOptions {
  sizes: number[];
  /** repetitions of the no-op apply and the drift check (the first apply runs once per size) */
  repeats: number;
  /** also run Ansible with its defaults (forks=5, no pipelining, interpreter discovery) at the largest size */
  ansibleDefaults: boolean;
  /** also run the operations through the real Pulumi engine (tools/engine/pulumi-engine.sh) */
  engine: boolean;
  log: Log;
}

const TABLE = "bench";
/** Lab hosts share /var and /run; only /etc is per host. */
const PATHS = { stateRoot: "/etc/hardened-nftables/.state", runRoot: "/etc/hardened-nftables/.run" } as const;

/** A plausible host policy: SSH from the lab network, web open, two allow-listed services. */
export function fleetPolicy(): unknown {
  const admins = Array.from({ length: 20 }, (_, i) => `198.18.${200 + (i % 50)}.${(i * 8) % 256}/29`);
  return {
    table: TABLE,
    exposures: [
      { service: "ssh", sources: ["198.18.0.0/15", "2001:2::/48"] },
      { service: "http" },
      { service: "https", http3: true },
      { name: "metrics", protocol: "tcp", ports: 9100, sources: admins },
      {
        name: "postgres",
        protocol: "tcp",
        ports: 5432,
        sources: ["198.19.10.0/24", "198.19.11.0/24", "2001:2:0:10::/64"],
      },
    ],
  };
}

// ---------------------------------------------------------------- our side: one node process per operation

// The worker (bench/workers/fleet.ts) runs in a fresh `node`: it reads the request on stdin and runs
// the operation on every host at once.
export type { WorkerHostResult } from "./workers/fleet";

function connectionInput(h: LabHost): Record<string, string> {
  return { host: h.ipv4, user: "root", privateKey: h.root.privateKey, hostKey: h.hostKey };
}

export async function runOurs(
  op: "apply" | "observe" | "audit",
  hosts: LabHost[],
  policy: unknown,
): Promise<{ wallMs: number; inProcessMs: number; results: WorkerHostResult[] }> {
  const req: FleetRequest = { op, policy, paths: PATHS, hosts: hosts.map(connectionInput) };
  const { out, ms } = await runWorker<FleetAnswer>("fleet", [], req, 300_000);
  const failed = out.results.filter((r) => !r.ok);
  if (failed.length > 0) throw new Error(`fleet: ${op} failed on ${failed.length} host(s): ${failed[0]!.error}`);
  return { wallMs: ms, inProcessMs: out.opMs, results: out.results };
}

// ---------------------------------------------------------------- Ansible side

interface AnsibleSetup {
  dir: string;
  templates: { nft: string; sysctl: string; modprobe: string };
}

function writeAnsibleFiles(dir: string, artefacts: Artefacts): AnsibleSetup {
  const paths = managedPaths(TABLE);
  fs.mkdirSync(path.join(dir, "templates"), { recursive: true });
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
  // the templates' sources are the bytes our renderer produced (no Jinja markup in them)
  const templates = {
    nft: path.join(dir, "templates", "bench.nft.j2"),
    sysctl: path.join(dir, "templates", "sysctl.conf.j2"),
    modprobe: path.join(dir, "templates", "modprobe.conf.j2"),
  };
  fs.writeFileSync(templates.nft, artefacts.nft);
  fs.writeFileSync(templates.sysctl, artefacts.sysctl);
  fs.writeFileSync(templates.modprobe, artefacts.modprobe);
  for (const [name, file] of Object.entries(templates)) {
    const text = fs.readFileSync(file, "utf8");
    if (/\{\{|\{%|\{#/.test(text))
      throw new Error(`fleet: the ${name} text contains Jinja markup; it would not template to identical bytes`);
  }
  fs.writeFileSync(
    path.join(dir, "playbook.yml"),
    [
      "# The equivalent of applyPolicy in Ansible: template the rendered files, validate the ruleset",
      "# on the target with nft -c before it is moved into place, load it when it changed.",
      "- hosts: fleet",
      "  gather_facts: false",
      "  tasks:",
      "    - name: nftables ruleset",
      "      ansible.builtin.template:",
      `        src: ${templates.nft}`,
      `        dest: ${paths.nft}`,
      '        mode: "0644"',
      "        validate: nft -c -f %s",
      "      notify: load ruleset",
      "    - name: sysctl.d",
      "      ansible.builtin.template:",
      `        src: ${templates.sysctl}`,
      `        dest: ${paths.sysctl}`,
      '        mode: "0644"',
      "      notify: apply sysctl",
      "    - name: modprobe.d",
      "      ansible.builtin.template:",
      `        src: ${templates.modprobe}`,
      `        dest: ${paths.modprobe}`,
      '        mode: "0644"',
      "  handlers:",
      "    - name: load ruleset",
      `      ansible.builtin.command: nft -f ${paths.nft}`,
      "    - name: apply sysctl",
      `      ansible.builtin.command: sysctl -p ${paths.sysctl}`,
      "",
    ].join("\n"),
  );
  for (const tool of ["ssh", "sftp", "scp"]) {
    const wrapper = path.join(dir, "bin", tool);
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\n# counts invocations for the benchmark, then runs the real ${tool}\necho ${tool} >>"$HNFT_BENCH_CALLS"\nexec /usr/bin/${tool} "$@"\n`,
      { mode: 0o755 },
    );
  }
  return { dir, templates };
}

/** Per host, from the default callback's PLAY RECAP: `name : ok=3 changed=1 unreachable=0 failed=0 ...`. */
export function playRecap(stdout: string): Record<string, { changed: number; failures: number; unreachable: number }> {
  const recap = stdout.split(/^PLAY RECAP \**$/m)[1] ?? "";
  const out: Record<string, { changed: number; failures: number; unreachable: number }> = {};
  for (const line of recap.split("\n")) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const n = (k: string) => Number(new RegExp(`\\b${k}=(\\d+)`).exec(m[2]!)?.[1] ?? NaN);
    out[m[1]!] = { changed: n("changed"), failures: n("failed"), unreachable: n("unreachable") };
  }
  return out;
}

export const ANSIBLE_SSH_ARGS = (knownHosts: string): string =>
  `-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`;

async function runAnsible(
  setup: AnsibleSetup,
  lab: Lab,
  hosts: LabHost[],
  variant: "tuned" | "defaults",
  check: boolean,
): Promise<{ wallMs: number; changedHosts: number; invocations: number }> {
  const run = fs.mkdtempSync(path.join(setup.dir, "run-"));
  const cp = path.join(run, "cp");
  fs.mkdirSync(cp);
  const calls = path.join(run, "calls");
  fs.writeFileSync(calls, "");
  const forks = variant === "tuned" ? Math.max(1, hosts.length) : 5;
  fs.writeFileSync(
    path.join(run, "ansible.cfg"),
    [
      "[defaults]",
      `inventory = ${path.join(run, "inventory.ini")}`,
      `forks = ${forks}`,
      "host_key_checking = True",
      `interpreter_python = ${variant === "tuned" ? "/usr/bin/python3" : "auto_silent"}`,
      "retry_files_enabled = False",
      `local_tmp = ${path.join(run, "local-tmp")}`,
      "timeout = 30",
      "[ssh_connection]",
      `ssh_executable = ${path.join(setup.dir, "bin", "ssh")}`,
      `sftp_executable = ${path.join(setup.dir, "bin", "sftp")}`,
      `scp_executable = ${path.join(setup.dir, "bin", "scp")}`,
      `ssh_args = ${ANSIBLE_SSH_ARGS(lab.knownHostsPath)}`,
      `control_path_dir = ${cp}`,
      `pipelining = ${variant === "tuned" ? "True" : "False"}`,
      "",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(run, "inventory.ini"),
    [
      "[fleet]",
      ...hosts.map(
        (h) => `${h.name} ansible_host=${h.ipv4} ansible_user=root ansible_ssh_private_key_file=${h.root.keyPath}`,
      ),
      "",
    ].join("\n"),
  );
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: path.join(run, "ansible.cfg"),
    ANSIBLE_HOME: path.join(run, "home"),
    // the default callback: its PLAY RECAP is in every Ansible (the json callback is not in ansible-core)
    ANSIBLE_STDOUT_CALLBACK: "default",
    ANSIBLE_NOCOLOR: "1",
    HNFT_BENCH_CALLS: calls,
  };
  try {
    const args = [path.join(setup.dir, "playbook.yml"), ...(check ? ["--check", "--diff"] : [])];
    const res = await exec("ansible-playbook", args, { env, cwd: run, timeoutMs: 600_000, allowFail: true });
    const stats = playRecap(res.stdout);
    if (Object.keys(stats).length === 0)
      throw new Error(
        `fleet: ansible-playbook printed no PLAY RECAP (exit ${res.code}):\n${res.stdout.slice(-2000)}\n${res.stderr.slice(-3000)}`,
      );
    const bad = Object.entries(stats).filter(([, s]) => s.failures > 0 || s.unreachable > 0);
    if (res.code !== 0 || bad.length > 0 || Object.keys(stats).length !== hosts.length) {
      throw new Error(
        `fleet: ansible-playbook failed (exit ${res.code}, ${bad.length} failed hosts):\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-2000)}`,
      );
    }
    const invocations = fs.readFileSync(calls, "utf8").split("\n").filter(Boolean).length;
    return { wallMs: res.ms, changedHosts: Object.values(stats).filter((s) => s.changed > 0).length, invocations };
  } finally {
    // stop the ControlPersist masters, so that the next run starts cold like ours
    for (const sock of fs.readdirSync(cp)) {
      await exec("/usr/bin/ssh", ["-o", `ControlPath=${path.join(cp, sock)}`, "-O", "exit", "bench-master"], {
        timeoutMs: 10_000,
        allowFail: true,
      });
    }
  }
}

// ---------------------------------------------------------------- host-side evidence

export function sshdLogSizes(hosts: LabHost[]): number[] {
  return hosts.map((h) => fs.statSync(h.sshdLog).size);
}

/** Connections and channels each host's sshd logged since `offsets`. */
export async function sshdCounts(
  hosts: LabHost[],
  offsets: number[],
): Promise<{ connections: number; sessions: number }[]> {
  await sleep(150); // sshd writes its log lines as it goes; let the last ones land
  return hosts.map((h, i) => {
    const fd = fs.openSync(h.sshdLog, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - offsets[i]!));
      fs.readSync(fd, buf, 0, buf.length, offsets[i]!);
      const lines = buf.toString("utf8").split("\n");
      return {
        connections: lines.filter((l) => l.startsWith("Accepted publickey for ")).length,
        sessions: lines.filter((l) => l.startsWith("Starting session: ")).length,
      };
    } finally {
      fs.closeSync(fd);
    }
  });
}

/**
 * Everything the host owns that either tool could write, plus the live table with handles (a
 * reload renumbers them); the counters' values are left out: the operation's own SSH connection
 * counts in the exposure's counter without anything being written.
 */
export async function snapshot(h: LabHost): Promise<{ files: Map<string, string>; table: string }> {
  const dirs = ["/etc/hardened-nftables", "/etc/sysctl.d", "/etc/modprobe.d", "/etc/systemd", h.root.home];
  const out = await h.sh(
    `for d in ${dirs.map((d) => `'${d}'`).join(" ")}; do find "$d" -printf '%p\\t%i %s %T@ %C@\\n' 2>/dev/null; done; echo '::table::'; nft -a list table inet ${TABLE} 2>&1 | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'`,
    { timeoutMs: 60_000 },
  );
  const [files = "", table = ""] = out.stdout.split("::table::\n");
  const map = new Map<string, string>();
  for (const line of files.split("\n").filter(Boolean)) {
    const [p = "", meta = ""] = line.split("\t");
    map.set(p.replace(h.root.home, "~root"), meta);
  }
  return { files: map, table };
}

export function compareSnapshots(
  before: Awaited<ReturnType<typeof snapshot>>[],
  after: Awaited<ReturnType<typeof snapshot>>[],
): { hostsWithWrites: number; changed: string[]; tableReloaded: boolean } {
  const changed = new Set<string>();
  let hostsWithWrites = 0;
  let tableReloaded = false;
  before.forEach((b, i) => {
    const a = after[i]!;
    let wrote = false;
    for (const p of new Set([...b.files.keys(), ...a.files.keys()])) {
      const x = b.files.get(p);
      const y = a.files.get(p);
      if (x === y) continue;
      wrote = true;
      changed.add(
        x === undefined ? `${p} (created)` : y === undefined ? `${p} (removed)` : `${p} (${describeChange(x, y)})`,
      );
    }
    if (a.table !== b.table) {
      wrote = true;
      tableReloaded = true;
    }
    if (wrote) hostsWithWrites++;
  });
  return { hostsWithWrites, changed: [...changed].sort(), tableReloaded };
}

function describeChange(before: string, after: string): string {
  const [i1, s1, m1, c1] = before.split(" ");
  const [i2, s2, m2, c2] = after.split(" ");
  const what: string[] = [];
  if (i1 !== i2) what.push("inode");
  if (s1 !== s2) what.push("size");
  if (m1 !== m2) what.push("mtime");
  if (c1 !== c2) what.push("ctime");
  return what.join("+");
}

export async function resetHosts(hosts: LabHost[]): Promise<void> {
  const p = managedPaths(TABLE, PATHS);
  await Promise.all(
    hosts.map((h) =>
      h.sh(
        [
          `nft delete table inet ${TABLE} 2>/dev/null`,
          `rm -rf /etc/hardened-nftables/* /etc/hardened-nftables/.[!.]* '${p.sysctl}' '${p.modprobe}' '${p.unit}' '${p.unitLink}' '${h.root.home}/.ansible'`,
          "true",
        ].join("; "),
        { timeoutMs: 60_000 },
      ),
    ),
  );
}

async function identicalBytes(hosts: LabHost[], artefacts: Artefacts): Promise<boolean> {
  const p = managedPaths(TABLE);
  const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
  const expected = [sha(artefacts.nft), sha(artefacts.sysctl), sha(artefacts.modprobe)].join(" ");
  const got = await Promise.all(
    hosts.map((h) =>
      h.sh(`sha256sum '${p.nft}' '${p.sysctl}' '${p.modprobe}' | cut -d' ' -f1 | tr '\\n' ' '`, {
        timeoutMs: 30_000,
        allowFail: true,
      }),
    ),
  );
  return got.every((g) => g.stdout.trim() === expected);
}

// ---------------------------------------------------------------- the benchmark

export async function runFleet(opts: FleetOptions): Promise<FleetResult> {
  const { log } = opts;
  const maxHosts = Math.max(...opts.sizes);
  log(`fleet: creating a lab of ${maxHosts} hosts`);
  const lab = await createLab({ hosts: maxHosts, label: "bench-fleet" });
  const operations: OperationResult[] = [];
  const noopWrites: NoopWriteCheck[] = [];
  const identical: FleetResult["identicalBytes"] = [];
  try {
    const policyInput = fleetPolicy();
    const policy = assertPolicy(policyInput);
    const first = lab.hosts[0]!;
    const parsed = parseConnection(connectionInput(first));
    if (!parsed.ok) throw new Error(formatIssues(parsed.issues).join("; "));
    const facts = await probeHost(parsed.value);
    const artefacts = renderPolicy(policy, { profile: facts.profile });
    const setup = writeAnsibleFiles(tempDir("hnft-bench-ansible-"), artefacts);

    const record = (r: Omit<OperationResult, "medianWallMs">): void => {
      const full = { ...r, medianWallMs: round(median(r.wallMs), 0) } as OperationResult;
      operations.push(full);
      log(
        `fleet: N=${r.hosts} ${r.tool} ${r.op}: ${full.medianWallMs} ms (samples ${r.wallMs.map((x) => round(x, 0)).join(", ")}), ${round(r.connectionsPerHost, 2)} connections and ${round(r.roundTripsPerHost, 2)} round trips per host, ${r.changedHosts} changed`,
      );
      const b = r.breakdown;
      if (b)
        log(
          `fleet: N=${r.hosts} ${r.tool} ${r.op} traced, ${b.wallMs} ms: ${b.stretches.map((x) => `${x.name} ${x.ms}`).join("; ")}; plugin start-up ${b.pluginStartMs.join(", ")} ms; program load ${b.programLoadMs ?? "-"} ms; extra CLI runs ${b.extraCliRuns.map((x) => `${x.what} ${x.ms}`).join(", ") || "none"}`,
        );
    };
    const perHost = (counts: { connections: number; sessions: number }[][], n: number) => ({
      connectionsPerHost: counts.flat().reduce((a, c) => a + c.connections, 0) / (n * counts.length),
      roundTripsPerHost: counts.flat().reduce((a, c) => a + c.sessions, 0) / (n * counts.length),
    });

    for (const n of opts.sizes) {
      const hosts = lab.hosts.slice(0, n);

      // ---- ours
      await resetHosts(hosts);
      {
        const off = sshdLogSizes(hosts);
        const r = await runOurs("apply", hosts, policyInput);
        const counts = await sshdCounts(hosts, off);
        if (r.results.some((x) => x.hash !== artefacts.hash))
          throw new Error("fleet: a host rendered different artefacts than the Ansible templates hold");
        record({
          tool: "ours",
          op: "apply-first",
          hosts: n,
          wallMs: [r.wallMs],
          inProcessMs: [round(r.inProcessMs, 0)],
          ...perHost([counts], n),
          toolConnectionsPerHost: r.results.reduce((a, x) => a + x.stats!.connections, 0) / n,
          toolRoundTripsPerHost: r.results.reduce((a, x) => a + x.stats!.roundTrips, 0) / n,
          changedHosts: r.results.filter((x) => x.changed).length,
        });
        identical.push({ tool: "ours", hosts: n, identical: await identicalBytes(hosts, artefacts) });
      }
      for (const op of ["apply-noop", "drift-check"] as const) {
        const before = op === "apply-noop" ? await Promise.all(hosts.map(snapshot)) : [];
        const wall: number[] = [];
        const inProc: number[] = [];
        const counts: { connections: number; sessions: number }[][] = [];
        let last: WorkerHostResult[] = [];
        for (let k = 0; k < opts.repeats; k++) {
          const off = sshdLogSizes(hosts);
          const r = await runOurs(op === "apply-noop" ? "apply" : "observe", hosts, policyInput);
          counts.push(await sshdCounts(hosts, off));
          wall.push(r.wallMs);
          inProc.push(round(r.inProcessMs, 0));
          last = r.results;
        }
        record({
          tool: "ours",
          op,
          hosts: n,
          wallMs: wall,
          inProcessMs: inProc,
          ...perHost(counts, n),
          toolConnectionsPerHost: last.reduce((a, x) => a + x.stats!.connections, 0) / n,
          toolRoundTripsPerHost: last.reduce((a, x) => a + x.stats!.roundTrips, 0) / n,
          changedHosts: last.filter((x) => x.changed).length,
          ...(op === "drift-check" ? { inSyncHosts: last.filter((x) => x.inSync).length } : {}),
        });
        if (op === "apply-noop")
          noopWrites.push({
            tool: "ours",
            hosts: n,
            ...compareSnapshots(before, await Promise.all(hosts.map(snapshot))),
          });
      }

      // ---- the same operations through the real Pulumi engine
      if (opts.engine) {
        await resetHosts(hosts);
        shareFirstKey(hosts);
        const fleet = await engineFleet(hosts, policyInput, PATHS);
        try {
          for (const op of ["apply-first", "apply-noop", "drift-check"] as const) {
            const before = op === "apply-noop" ? await Promise.all(hosts.map(snapshot)) : [];
            const runs: EngineRun[] = [];
            const counts: { connections: number; sessions: number }[][] = [];
            for (let k = 0; k < (op === "apply-first" ? 1 : opts.repeats); k++) {
              const off = sshdLogSizes(hosts);
              runs.push(await fleet.run(op));
              counts.push(await sshdCounts(hosts, off));
            }
            // the first apply cannot run twice; the others once more, traced (not among the samples)
            const traced = op === "apply-first" ? undefined : await fleet.profile(op);
            record({
              tool: "pulumi",
              op,
              hosts: n,
              wallMs: runs.map((r) => round(r.wallMs, 0)),
              ...perHost(counts, n),
              ...summarize(runs),
              ...(traced ? { breakdown: traced } : {}),
              changedHosts: op === "apply-first" ? n : 0,
              ...(op === "drift-check" ? { inSyncHosts: n } : {}), // --expect-no-changes passed
            });
            if (op === "apply-noop")
              noopWrites.push({
                tool: "pulumi",
                hosts: n,
                ...compareSnapshots(before, await Promise.all(hosts.map(snapshot))),
              });
          }
          // the CLI runs 8 resource operations at once by default (4 per core); a fleet is run with --parallel N
          if (n > 8) {
            const runs: EngineRun[] = [];
            const counts: { connections: number; sessions: number }[][] = [];
            for (let k = 0; k < opts.repeats; k++) {
              const off = sshdLogSizes(hosts);
              runs.push(await fleet.run("drift-check", n));
              counts.push(await sshdCounts(hosts, off));
            }
            record({
              tool: "pulumi-parallel",
              op: "drift-check",
              hosts: n,
              wallMs: runs.map((r) => round(r.wallMs, 0)),
              ...perHost(counts, n),
              ...summarize(runs),
              changedHosts: 0,
              inSyncHosts: n,
            });
          }
        } finally {
          await fleet.close();
        }
      }

      // ---- Ansible (tuned: forks = N, pipelining), then with its defaults at the largest size
      const variants: ["ansible" | "ansible-defaults", "tuned" | "defaults"][] = [["ansible", "tuned"]];
      if (opts.ansibleDefaults && n === maxHosts) variants.push(["ansible-defaults", "defaults"]);
      for (const [tool, variant] of variants) {
        await resetHosts(hosts);
        {
          const off = sshdLogSizes(hosts);
          const r = await runAnsible(setup, lab, hosts, variant, false);
          const counts = await sshdCounts(hosts, off);
          record({
            tool,
            op: "apply-first",
            hosts: n,
            wallMs: [r.wallMs],
            ...perHost([counts], n),
            toolRoundTripsPerHost: r.invocations / n,
            changedHosts: r.changedHosts,
          });
          identical.push({ tool, hosts: n, identical: await identicalBytes(hosts, artefacts) });
        }
        for (const op of ["apply-noop", "drift-check"] as const) {
          const before = op === "apply-noop" ? await Promise.all(hosts.map(snapshot)) : [];
          const wall: number[] = [];
          const counts: { connections: number; sessions: number }[][] = [];
          let changedHosts = 0;
          let invocations = 0;
          const repeats = variant === "defaults" ? 1 : opts.repeats;
          for (let k = 0; k < repeats; k++) {
            const off = sshdLogSizes(hosts);
            const r = await runAnsible(setup, lab, hosts, variant, op === "drift-check");
            counts.push(await sshdCounts(hosts, off));
            wall.push(r.wallMs);
            changedHosts = r.changedHosts;
            invocations = r.invocations;
          }
          record({
            tool,
            op,
            hosts: n,
            wallMs: wall,
            ...perHost(counts, n),
            toolRoundTripsPerHost: invocations / n,
            changedHosts,
            ...(op === "drift-check" ? { inSyncHosts: n - changedHosts } : {}),
          });
          if (op === "apply-noop")
            noopWrites.push({ tool, hosts: n, ...compareSnapshots(before, await Promise.all(hosts.map(snapshot))) });
        }
      }
    }
    await resetHosts(lab.hosts);
    return {
      method: {
        policy:
          "ssh (from 198.18.0.0/15, 2001:2::/48), http, https+http3, metrics (20 prefixes), postgres (3 prefixes)",
        labHosts: maxHosts,
        repeats: opts.repeats,
        ours: "applyPolicy / observePolicy on all N hosts at once (Promise.all), in a fresh `node` process per operation; wall time = process start to exit",
        pulumi:
          "the real Pulumi engine (tools/engine/pulumi-engine.sh, v3.276.0) through tools/engine/run.ts: one HostFirewall per host (test/engine/program), `pulumi up` (first, then no-op) and `pulumi preview --refresh --expect-no-changes`, each a fresh process, with the CLI's default parallelism (8 here: 4 per core) and, above 8 hosts, the drift check again with --parallel N (tool pulumi-parallel); engine overhead = wall time minus the span from the first host step starting to the last ending (engine events timed by the driver)",
        oursPaths: `stateRoot ${PATHS.stateRoot}, runRoot ${PATHS.runRoot} (lab hosts share /var and /run)`,
        ansible: `ansible-playbook ${fs.readFileSync(path.join(setup.dir, "playbook.yml"), "utf8").length} B playbook: template nft (validate: nft -c -f %s) + sysctl.d + modprobe.d, handlers nft -f and sysctl -p; gather_facts false; drift check = --check --diff`,
        ansibleTuned: "forks = N, pipelining = True, interpreter_python = /usr/bin/python3",
        ansibleDefaults:
          "forks = 5, pipelining = False, interpreter_python = auto_silent (discovery); at the largest N only, each operation once",
        ansibleSsh: `ssh_args = ${ANSIBLE_SSH_ARGS("<lab known_hosts>")}; host_key_checking = True; a fresh control_path_dir per ansible-playbook run and its masters stopped (ssh -O exit) afterwards, so every run starts cold like ours`,
        counting:
          "connections = sshd 'Accepted publickey' lines, round trips = sshd 'Starting session:' lines (one per exec or sftp channel), per host, from every host's sshd log (LogLevel VERBOSE); tool figures: our SessionStats, Ansible's ssh/sftp/scp wrapper invocations",
        noopCheck:
          "before/after the no-op applies: inode, size, mtime and ctime of everything under /etc/hardened-nftables (state and run dirs included), /etc/sysctl.d, /etc/modprobe.d, /etc/systemd and root's home on every host, and `nft -a list table` (handles change when a table is reloaded)",
      },
      operations,
      noopWrites,
      identicalBytes: identical,
    };
  } finally {
    await lab.destroy();
  }
}
