/**
 * npm run bench [-- --only fleet|audit|packet|forward|render|scale|blocksets|engine-scale[,...]] [-- --quick] [-- --out DIR]
 *
 * Runs the benchmarks in one process, side by side on the same machine and lab hosts, writes
 * bench/results/latest.{md,json} (a full run) or bench/results/partial.{md,json} (--quick or
 * --only; git ignores those), or DIR/{latest,partial}.{md,json} with --out, and prints the figures
 * with their ratios. See bench/README.md.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { runAuditFleet } from "./audit-fleet";
import { runBlockSets } from "./block-sets";
import { runEngineScale } from "./engine-scale";
import { runFleet } from "./fleet";
import { runForwardPath } from "./forward-path";
import { runPacketPath } from "./packet-path";
import { runRenderScale } from "./render-scale";
import { type BenchReport, evaluateTargets, summary, writeReport } from "./report";
import { runScale } from "./scale";
import { machineInfo, REPO, runCleanups, snapshotDist, uptime, which } from "./util";

type Bench = "fleet" | "audit" | "packet" | "forward" | "render" | "scale" | "blocksets" | "engine-scale";
const ALL: Bench[] = ["render", "packet", "forward", "fleet", "audit", "scale", "blocksets", "engine-scale"];

interface Args {
  only: Bench[];
  quick: boolean;
  /** where the report goes (default bench/results) */
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: [], quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") args.quick = true;
    else if (a === "--out" || a.startsWith("--out=")) {
      const value = a === "--out" ? argv[++i] : a.slice("--out=".length);
      if (!value) usage("--out needs a directory");
      args.out = path.resolve(value);
    } else if (a === "--only" || a.startsWith("--only=")) {
      const value = a === "--only" ? argv[++i] : a.slice("--only=".length);
      for (const v of (value ?? "").split(",").filter(Boolean)) {
        if (!ALL.includes(v as Bench)) usage(`unknown benchmark "${v}"`);
        args.only.push(v as Bench);
      }
      if (args.only.length === 0) usage(`--only needs one or more of ${ALL.join(", ")}`);
    } else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument "${a}"`);
  }
  return args;
}

function usage(problem?: string): never {
  if (problem) console.error(`bench: ${problem}`);
  console.error(`usage: npm run bench [-- --only ${ALL.join("|")}[,...]] [-- --quick] [-- --out DIR]`);
  process.exit(problem ? 2 : 0);
}

/** What each benchmark needs on this machine, and the Debian package that provides it. */
const NEEDS: Record<Bench, { cmd: string; pkg: string }[]> = {
  render: [],
  packet: [
    { cmd: "cc", pkg: "gcc" },
    { cmd: "taskset", pkg: "util-linux" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
  ],
  forward: [
    { cmd: "cc", pkg: "gcc" },
    { cmd: "taskset", pkg: "util-linux" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
  ],
  fleet: [
    { cmd: "ansible-playbook", pkg: "ansible-core" },
    { cmd: "ssh", pkg: "openssh-client" },
    { cmd: "sftp", pkg: "openssh-client" },
    { cmd: "ssh-keygen", pkg: "openssh-client" },
    { cmd: "/usr/sbin/sshd", pkg: "openssh-server" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
    { cmd: "flock", pkg: "util-linux" },
    { cmd: "python3", pkg: "python3" },
    { cmd: "go", pkg: "golang (the Pulumi engine is built from its Go modules)" },
  ],
  audit: [
    { cmd: "/usr/sbin/sshd", pkg: "openssh-server" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
  ],
  blocksets: [
    { cmd: "/usr/sbin/sshd", pkg: "openssh-server" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
  ],
  "engine-scale": [
    { cmd: "ssh-keygen", pkg: "openssh-client" },
    { cmd: "/usr/sbin/sshd", pkg: "openssh-server" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
    { cmd: "go", pkg: "golang (the Pulumi engine is built from its Go modules)" },
  ],
  scale: [
    { cmd: "ssh-keygen", pkg: "openssh-client" },
    { cmd: "/usr/sbin/sshd", pkg: "openssh-server" },
    { cmd: "nft", pkg: "nftables" },
    { cmd: "ip", pkg: "iproute2" },
    { cmd: "unshare", pkg: "util-linux" },
  ],
};

function checkPrerequisites(benches: Bench[]): void {
  const problems: string[] = [];
  const packages = new Set<string>();
  for (const b of benches) {
    for (const need of NEEDS[b]) {
      if (!which(need.cmd)) {
        problems.push(`${b}: \`${need.cmd}\` not found (Debian package ${need.pkg})`);
        packages.add(need.pkg);
      }
    }
  }
  if (benches.some((b) => b !== "render") && process.getuid?.() !== 0) {
    problems.push(
      "every benchmark but render creates network namespaces and needs root (sudo npm run bench, or --only render)",
    );
  }
  if ((benches.includes("packet") || benches.includes("forward")) && !which("conntrack"))
    console.error(
      "bench: note: `conntrack` (Debian package conntrack) not found: conntrack tables are not flushed between packet-path runs",
    );
  if (problems.length > 0) {
    console.error(`bench: missing prerequisites:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    if (packages.size > 0) console.error(`install them with:\n  apt-get install ${[...packages].join(" ")}`);
    process.exit(3);
  }
}

function gitInfo(): BenchReport["git"] {
  const rev = spawnSync("git", ["rev-parse", "HEAD"], { cwd: REPO, encoding: "utf8" });
  const status = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO, encoding: "utf8" });
  return { commit: rev.stdout.trim() || "unknown", dirtyFiles: status.stdout.split("\n").filter(Boolean).length };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const benches = args.only.length > 0 ? ALL.filter((b) => args.only.includes(b)) : ALL;
  checkPrerequisites(benches);
  snapshotDist();
  const started = Date.now();
  const log = (line: string): void =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  const machine = machineInfo();
  log(`machine: ${machine.cpus} CPUs, Linux ${machine.kernel}; ${machine.uptime}`);

  const report: BenchReport = {
    schema: 1,
    kind: args.quick || args.only.length > 0 ? "partial" : "full",
    flags: { quick: args.quick, only: args.only },
    startedAt: new Date(started).toISOString(),
    finishedAt: "",
    durationSeconds: 0,
    git: gitInfo(),
    machine,
    uptimeAfter: "",
    errors: [],
    targets: [],
  };
  const q = args.quick;
  for (const b of benches) {
    log(`---- ${b}`);
    try {
      if (b === "render") {
        report.render = await runRenderScale({
          sizes: q ? [10, 1000] : [10, 1000, 10_000],
          shapes: q ? ["prefixes", "exposures"] : ["prefixes", "exposures", "both"],
          iterations: q ? 3 : 7,
          log,
        });
      } else if (b === "packet") {
        report.packet = await runPacketPath({
          sizes: q ? [0, 1000] : [0, 1000, 10_000],
          rounds: q ? 2 : 16,
          warmupSeconds: q ? 0.1 : 0.3,
          durationSeconds: q ? 0.3 : 1.5,
          concurrency: 8,
          pin: true,
          blockedPrefixes: q ? 1000 : 100_000,
          log,
        });
      } else if (b === "forward") {
        report.forward = await runForwardPath({
          rounds: q ? 2 : 16,
          seconds: q ? 0.3 : 2,
          sources: q ? 1000 : 10_000,
          concurrency: 64,
          log,
        });
      } else if (b === "blocksets") {
        report.blockSets = await runBlockSets({ sizes: q ? [0, 1000] : [0, 100_000], rounds: q ? 2 : 7, log });
      } else if (b === "scale") {
        report.scale = await runScale({ sizes: q ? [2000] : [12_000, 100_000], log });
      } else if (b === "engine-scale") {
        report.engineScale = await runEngineScale({
          hosts: q ? [3] : [30, 100, 300],
          prefixes: q ? [2_000] : [100_000],
          log,
        });
      } else if (b === "audit") {
        report.audit = await runAuditFleet({ sizes: q ? [2] : [1, 10, 30], repeats: q ? 1 : 3, log });
      } else {
        report.fleet = await runFleet({
          sizes: q ? [2] : [1, 10, 30],
          repeats: q ? 1 : 3,
          ansibleDefaults: !q,
          engine: true,
          log,
        });
      }
    } catch (e) {
      const message = (e as Error).stack ?? String(e);
      log(`${b} FAILED: ${message}`);
      report.errors.push({ benchmark: b, message });
    }
  }
  report.finishedAt = new Date().toISOString();
  report.durationSeconds = Math.round((Date.now() - started) / 1000);
  report.uptimeAfter = uptime();
  report.targets = evaluateTargets(report);
  const dir = args.out ?? path.join(REPO, "bench", "results");
  const files = writeReport(report, dir, report.kind === "full" ? "latest" : "partial");
  console.log(`\n${summary(report)}\n`);
  console.log(
    `wrote ${path.relative(process.cwd(), files.md)} and ${path.relative(process.cwd(), files.json)} (${report.durationSeconds} s)`,
  );
  if (report.errors.length > 0) process.exitCode = 1;
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(runCleanups);
