/**
 * Turns the benchmark results into bench/results/<name>.json (everything, raw samples included)
 * and <name>.md (tables, targets with verdicts and reasons, method), and prints a compact
 * summary with the ratios.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { type AuditFleetResult, auditTable } from "./audit-fleet";
import type { BlockSetsResult } from "./block-sets";
import { type EngineScaleResult, engineScaleMarkdown } from "./engine-scale";
import type { FleetResult, OperationResult, Tool } from "./fleet";
import type { ForwardResult } from "./forward-path";
import type { PacketResult } from "./packet-path";
import type { RenderResult } from "./render-scale";
import type { ScaleResult } from "./scale";
import { type MachineInfo, median, type RatioSummary, round } from "./util";

export interface TargetVerdict {
  id: string;
  target: string;
  measured: string;
  /** "undecided": the measured ratio's confidence interval holds the target (this run cannot tell) */
  met: boolean | "undecided" | "not run";
  /** by how much it was missed (or the margin), and why */
  notes: string;
}

export interface BenchReport {
  schema: 1;
  kind: "full" | "partial";
  flags: { quick: boolean; only: string[] };
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  git: { commit: string; dirtyFiles: number };
  machine: MachineInfo;
  uptimeAfter: string;
  fleet?: FleetResult;
  audit?: AuditFleetResult;
  scale?: ScaleResult;
  blockSets?: BlockSetsResult;
  engineScale?: EngineScaleResult;
  /** when the benchmarks of one report come from more than one run: which, when, at which commit, and why */
  parts?: Record<string, { startedAt: string; git: { commit: string }; durationSeconds: number; why?: string }>;
  packet?: PacketResult;
  forward?: ForwardResult;
  render?: RenderResult;
  errors: { benchmark: string; message: string }[];
  targets: TargetVerdict[];
}

const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? "-" : round(x, digits).toLocaleString("en-US");
const ratio = (x: number | undefined, digits = 1): string =>
  x === undefined || !Number.isFinite(x) ? "-" : `${round(x, digits)}x`;
const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "-" : `${round(x * 100, 1)}%`);

function op(fleet: FleetResult, tool: Tool, o: OperationResult["op"], n: number): OperationResult | undefined {
  return fleet.operations.find((x) => x.tool === tool && x.op === o && x.hosts === n);
}

// ---------------------------------------------------------------- targets

/**
 * A ratio target (at least `min`) measured as paired rounds: met when the median is at or above
 * it and the confidence interval of the median does not reach below it; missed when the whole
 * interval is below; undecided when the interval holds the target.
 */
function ratioVerdict(
  rate: RatioSummary,
  cpu: RatioSummary,
  min: number,
): { met: TargetVerdict["met"]; measured: string; notes: string } {
  const ci = (x: RatioSummary) =>
    `${pct(x.median)} (${Math.round(x.confidence * 100)}% interval of the median ${pct(x.low)}-${pct(x.high)}; min-max ${pct(x.min)}-${pct(x.max)})`;
  const met: TargetVerdict["met"] = rate.low >= min ? true : rate.high < min ? false : "undecided";
  const cpuSide = cpu.low >= min ? "above" : cpu.high < min ? "below" : "holds";
  return {
    met,
    measured: `${ci(rate)} by connection rate over ${rate.n} paired rounds; by CPU time per connection ${ci(cpu)}`,
    notes:
      (met === true
        ? `the whole interval is at or above ${pct(min)}: met beyond this run's noise.`
        : met === false
          ? `the whole interval is below ${pct(min)}: missed beyond this run's noise, by ${fmt((min - rate.median) * 100, 1)} points at the median.`
          : `the interval holds ${pct(min)}: the difference is inside this run's noise (a longer run narrows it).`) +
      ` By CPU time (steal excluded) the interval is ${cpuSide === "holds" ? `around ${pct(min)}` : `${cpuSide} ${pct(min)}`}.`,
  };
}

/**
 * The row of a ratio target of at least 95% (issue 20, 21): "not run" without a measurement;
 * missed whatever the ratios when the run measured fewer prefixes than the target names (`short`:
 * how many it did).
 */
function ratioTarget(
  id: string,
  target: string,
  m: { rate: RatioSummary; cpu: RatioSummary; what: string; short?: string } | undefined,
): TargetVerdict {
  if (!m) return { id, target, measured: "-", met: "not run", notes: "" };
  const v = ratioVerdict(m.rate, m.cpu, 0.95);
  return {
    id,
    target,
    measured: `${m.what}: ${v.measured}`,
    met: m.short !== undefined ? false : v.met,
    notes: (m.short !== undefined ? `only ${m.short} prefixes in this run (--quick); ` : "") + v.notes,
  };
}

export function evaluateTargets(
  r: Pick<BenchReport, "fleet" | "packet" | "render" | "forward" | "blockSets">,
): TargetVerdict[] {
  const out: TargetVerdict[] = [];

  // 1. drift check of 30 hosts at least 5x faster than Ansible's check mode
  if (r.fleet) {
    const n = Math.max(...r.fleet.operations.map((o) => o.hosts));
    const ours = op(r.fleet, "ours", "drift-check", n);
    const ans = op(r.fleet, "ansible", "drift-check", n);
    if (ours && ans) {
      const x = ans.medianWallMs / ours.medianWallMs;
      const startup = ours.inProcessMs ? ours.medianWallMs - Math.min(...ours.inProcessMs) : undefined;
      out.push({
        id: "drift-check-5x",
        target: "no-op drift check of 30 hosts at least 5x faster than Ansible's check mode",
        measured: `${n} hosts: ours ${fmt(ours.medianWallMs)} ms, Ansible --check --diff (forks=${n}, pipelining) ${fmt(ans.medianWallMs)} ms: ${ratio(x)}`,
        met: x >= 5 && n >= 30,
        notes:
          (n < 30 ? `only ${n} hosts in this run (--quick); ` : "") +
          (x >= 5
            ? `margin ${ratio(x / 5, 2)} over the target. Ours: 1 connection and ${fmt(ours.roundTripsPerHost, 1)} round trips per host; Ansible: ${fmt(ans.connectionsPerHost, 1)} connection and ${fmt(ans.roundTripsPerHost, 1)} round trips per host, plus a Python worker per fork on the controller.`
            : `missed by ${ratio(5 / x, 2)} (needs ${fmt(ans.medianWallMs / 5)} ms or less). Ours spends ~${fmt(startup)} ms starting Node and loading the library; the rest is one connection and ${fmt(ours.roundTripsPerHost, 1)} round trips per host, the observe step loading the candidate table into a throwaway namespace twice (JSON and text).`),
      });
    }
  } else
    out.push({
      id: "drift-check-5x",
      target: "no-op drift check of 30 hosts at least 5x faster than Ansible's check mode",
      measured: "-",
      met: "not run",
      notes: "",
    });

  // 1b. the same drift check as users run it: `pulumi preview --refresh --expect-no-changes`
  if (r.fleet?.operations.some((o) => o.tool === "pulumi")) {
    const n = Math.max(...r.fleet.operations.filter((o) => o.tool === "pulumi").map((o) => o.hosts));
    const pul = op(r.fleet, "pulumi", "drift-check", n);
    const par = op(r.fleet, "pulumi-parallel", "drift-check", n);
    const ans = op(r.fleet, "ansible", "drift-check", n);
    if (pul && ans) {
      const x = ans.medianWallMs / pul.medianWallMs;
      const xp = par ? ans.medianWallMs / par.medianWallMs : undefined;
      out.push({
        id: "engine-drift-check-5x",
        target:
          "`pulumi preview --refresh --expect-no-changes` of 30 hosts at least 5x faster than Ansible's check mode",
        measured:
          `${n} hosts: engine ${fmt(pul.medianWallMs)} ms with the CLI's default --parallel 8 (${ratio(x)})` +
          (par ? `, ${fmt(par.medianWallMs)} ms with --parallel ${n} (${ratio(xp)})` : "") +
          `; Ansible --check --diff ${fmt(ans.medianWallMs)} ms`,
        // what users run: the CLI's default parallelism decides; --parallel N is reported beside it
        met: x >= 5 && n >= 30,
        notes:
          (n < 30 ? `only ${n} hosts in this run (--quick); ` : "") +
          `stretch target 8x ${x >= 8 ? "met" : "not met"} at the default --parallel; ` +
          `engine's own overhead ${fmt(pul.medianEngineOverheadMs)} ms per command (Node and the inline program starting, the Automation API's extra CLI calls, the plan, the state); host span (first refresh step start to last end) ${fmt(median(pul.hostSpanMs ?? []))} ms at --parallel 8` +
          (par ? `, ${fmt(median(par.hostSpanMs ?? []))} ms at --parallel ${n}` : "") +
          `; ${fmt(pul.connectionsPerHost, 1)} connection and ${fmt(pul.roundTripsPerHost, 1)} round trips per host.`,
      });
    }
  }

  // 2. a no-op apply that writes nothing on any host
  if (r.fleet) {
    const ours = r.fleet.noopWrites.filter((w) => w.tool === "ours");
    const bad = ours.filter((w) => w.hostsWithWrites > 0);
    const changed = [...new Set(bad.flatMap((w) => w.changed))];
    const reloaded = ours.some((w) => w.tableReloaded);
    const ansible = r.fleet.noopWrites.filter((w) => w.tool === "ansible");
    const ansibleChanged = [...new Set(ansible.flatMap((w) => w.changed))];
    const lockOnly = changed.length > 0 && changed.every((c) => /\.run\/[^ ]+\.lock \((mtime|ctime|\+)+\)$/.test(c));
    out.push({
      id: "noop-writes-nothing",
      target: "a no-op apply writes nothing on any host",
      measured: ours
        .map(
          (w) =>
            `${w.hostsWithWrites} of ${w.hosts} host${w.hosts === 1 ? "" : "s"} written to${w.tableReloaded ? ", table reloaded" : ""}`,
        )
        .join("; "),
      met: bad.length === 0 && !reloaded,
      notes:
        (bad.length === 0 && !reloaded
          ? "no managed file, state file or run file changed inode, size, mtime or ctime, and the table kept its handles (not reloaded)."
          : `missed: ${changed.join(", ")}${reloaded ? "; the table was reloaded" : ""}. ` +
            (lockOnly
              ? 'Only the 0-byte lock file: apply.sh opens it with `exec 9>"$lock"` (O_TRUNC), which updates its mtime/ctime even when it is empty. Nothing managed is written and the table is not reloaded; `exec 9>>"$lock"` (append, no truncation) would make the no-op apply write nothing at all.'
              : "")) +
        ` Both tools also write transient files outside the managed paths (ours: the bundle in a mktemp dir under /tmp, removed on exit).` +
        (ansible.length > 0
          ? ` Ansible's no-op run for comparison: ${ansibleChanged.length ? ansibleChanged.join(", ") : "nothing"}.`
          : ""),
    });
  } else
    out.push({
      id: "noop-writes-nothing",
      target: "a no-op apply writes nothing on any host",
      measured: "-",
      met: "not run",
      notes: "",
    });

  // 2b. the same through the engine: a no-op `pulumi up`
  if (r.fleet?.noopWrites.some((w) => w.tool === "pulumi")) {
    const pul = r.fleet.noopWrites.filter((w) => w.tool === "pulumi");
    const bad = pul.filter((w) => w.hostsWithWrites > 0 || w.tableReloaded);
    out.push({
      id: "engine-noop-writes-nothing",
      target: "a no-op `pulumi up` writes nothing on any host",
      measured: pul
        .map(
          (w) =>
            `${w.hostsWithWrites} of ${w.hosts} host${w.hosts === 1 ? "" : "s"} written to${w.tableReloaded ? ", table reloaded" : ""}`,
        )
        .join("; "),
      met: bad.length === 0,
      notes:
        bad.length === 0
          ? "the engine found no change, so the provider was not called to apply: no file touched, no table reloaded."
          : `changed: ${[...new Set(bad.flatMap((w) => w.changed))].join(", ")}`,
    });
  }

  // 3. with 10,000 prefixes at least 90% of the no-firewall connection rate
  if (r.packet) {
    const v = (id: string) => r.packet!.variants.find((x) => x.id === id);
    const largest = Math.max(...r.packet.variants.filter((x) => x.kind === "rendered").map((x) => x.prefixes));
    const big = v(`rendered-${largest}`);
    const zero = v("rendered-0");
    const hand0 = v("per-rule-0");
    const handBig = v(`per-rule-${largest}`);
    const none = v("none");
    if (big && none) {
      const met = big.ratioToNone >= 0.9;
      const spread = (x: typeof big) => `${fmt(x.minRate)}-${fmt(x.maxRate)}`;
      const prefixCost = zero ? zero.ratioToNone - big.ratioToNone : undefined;
      out.push({
        id: "packet-90pct",
        target: `with ${fmt(largest)} prefixes, at least 90% of the no-firewall connection rate`,
        measured: `${fmt(big.medianRate)} vs ${fmt(none.medianRate)} new connections/s: ${pct(big.ratioToNone)} (0 prefixes: ${pct(zero?.ratioToNone)}; hand-written one rule per prefix: ${pct(handBig?.ratioToNone)})`,
        met: largest >= 10_000 ? met : false,
        notes:
          (largest < 10_000 ? `only up to ${largest} prefixes in this run; ` : "") +
          (met
            ? `margin ${fmt((big.ratioToNone - 0.9) * 100, 1)} points.`
            : `missed by ${fmt((0.9 - big.ratioToNone) * 100, 1)} points.`) +
          (zero && prefixCost !== undefined
            ? (prefixCost > 0.02
                ? ` The prefixes account for ${fmt(prefixCost * 100, 1)} points (0 vs ${fmt(largest)} prefixes in the same ruleset: one interval-set lookup per new connection, O(log n))`
                : ` The prefixes cost nothing measurable: the same ruleset with 0 prefixes reaches ${pct(zero.ratioToNone)} (one interval-set lookup per new connection, O(log n))`) +
              `; what separates any stateful ruleset from no firewall is connection tracking (an entry created on each SYN, destroyed after the RST) and the rules ahead of the allow rule` +
              (hand0
                ? ` (the minimal hand-written stateful ruleset, 3 rules, reaches ${pct(hand0.ratioToNone)}; measured against it, the rendered ruleset with ${fmt(largest)} prefixes reaches ${pct(big.medianRate / hand0.medianRate)})`
                : "") +
              "."
            : "") +
          (handBig
            ? ` One rule per prefix falls to ${pct(handBig.ratioToNone)}: ${fmt(handBig.rules)} rules evaluated in order for every new connection.`
            : "") +
          ` Run-to-run spread (min-max of ${big.runs.length} rounds): none ${spread(none)}, rendered ${spread(big)} conn/s; this VM shares 2 cores with other work and the hypervisor steals time (see the steal column), so differences of a few points are within noise.` +
          ` Measured by CPU time instead of wall time (steal excluded): ${fmt(none.medianCpuMicrosPerConnection, 1)} µs per connection without a firewall, ${fmt(big.medianCpuMicrosPerConnection, 1)} µs with ${fmt(largest)} prefixes${zero ? `, ${fmt(zero.medianCpuMicrosPerConnection, 1)} µs with 0` : ""}: ${pct(big.cpuRatioToNone)} of the no-firewall rate at equal CPU${big.cpuRatioToNone >= 0.9 ? " (the target met on this measure)" : ""}.`,
      });
    }
  } else
    out.push({
      id: "packet-90pct",
      target: "with 10,000 prefixes, at least 90% of the no-firewall connection rate",
      measured: "-",
      met: "not run",
      notes: "",
    });

  // 3b. issue 21: a per-source limit, a 100,000-prefix deny list and block set cost at most 5% of the rate
  const ratioTargets: [string, string, string][] = [
    [
      "packet-limit-95pct",
      "limit",
      "new-connection rate with a per-source limit on the admitted port at least 95% of without (issue 21)",
    ],
    [
      "packet-deny-95pct",
      "deny",
      "new-connection rate with a 100,000-prefix deny list at least 95% of without (issue 21)",
    ],
    [
      "packet-blockset-95pct",
      "blockset",
      "new-connection rate with a block set of 100,000 elements at least 95% of without (issue 21)",
    ],
  ];
  for (const [id, ratioId, target] of ratioTargets) {
    const x = r.packet?.ratios?.find((y) => y.id === ratioId);
    const blocked = Number(r.packet?.method.blockedPrefixes ?? 0);
    const small = ratioId !== "limit" && blocked < 100_000;
    out.push(
      ratioTarget(
        id,
        target,
        x && {
          rate: x.rate,
          cpu: x.cpu,
          what: `${x.variant} / ${x.baseline}`,
          ...(small ? { short: fmt(blocked) } : {}),
        },
      ),
    );
  }

  // 3c. issue 20: the forward path through a published port with 10,000 source prefixes
  {
    const target =
      "connection rate through a published (DNATed) port with 10,000 source prefixes at least 95% of the DNAT alone (issue 20)";
    const f = r.forward;
    out.push(
      ratioTarget(
        "forward-95pct",
        target,
        f && {
          rate: f.ratio,
          cpu: f.cpuRatio,
          what: `${fmt(f.medianOurs)} vs ${fmt(f.medianDnatOnly)} new connections/s (medians)`,
          ...(f.sources < 10_000 ? { short: fmt(f.sources) } : {}),
        },
      ),
    );
  }

  // 3d. issue 21: an apply with 100,000 block-set elements at most 10% longer, every element kept
  {
    const target =
      "an apply with block sets holding 100,000 elements keeps them and takes at most 10% longer (issue 21)";
    const b = r.blockSets;
    if (b && b.measures.length >= 2) {
      const none = b.measures[0]!;
      const full = b.measures[b.measures.length - 1]!;
      const kept = full.keptMin >= full.elements;
      const met = b.ratio <= 1.1 && kept && full.elements >= 100_000;
      out.push({
        id: "blockset-apply-10pct",
        target,
        measured: `${fmt(full.elements)} elements: median apply ${fmt(full.medianApplyMs)} ms vs ${fmt(none.medianApplyMs)} ms empty (${ratio(b.ratio, 3)}); fewest elements kept after an apply ${fmt(full.keptMin)}`,
        met,
        notes:
          (full.elements < 100_000 ? `only ${fmt(full.elements)} elements in this run (--quick); ` : "") +
          (kept ? "every element kept across every apply; " : `elements lost: ${fmt(full.elements - full.keptMin)}; `) +
          (b.ratio <= 1.1
            ? `margin ${fmt((1.1 - b.ratio) * 100, 1)} points.`
            : `missed by ${fmt((b.ratio - 1.1) * 100, 1)} points (samples ${full.applyMs.join(", ")} ms vs ${none.applyMs.join(", ")} ms).`),
      });
    } else out.push({ id: "blockset-apply-10pct", target, measured: "-", met: "not run", notes: "" });
  }

  // 4. render of 10,000 prefixes under one second
  if (r.render) {
    const sizes = r.render.measures.filter((m) => m.shape === "prefixes");
    const m = sizes.find((x) => x.size === Math.max(...sizes.map((s) => s.size)));
    if (m) {
      const worst = Math.max(m.firstCallTotalMs, m.warmTotalMs);
      const met = worst < 1000 && m.size >= 10_000;
      out.push({
        id: "render-1s",
        target: "render of 10,000 prefixes under one second",
        measured: `${fmt(m.size)} prefixes: ${fmt(m.firstCallTotalMs)} ms in a fresh process (parse ${fmt(m.coldParseMs)} + render ${fmt(m.coldRenderMs)}), ${fmt(m.warmTotalMs)} ms warm; peak RSS ${fmt(m.peakRssMiB, 1)} MiB`,
        met,
        notes:
          (m.size < 10_000 ? `only ${m.size} prefixes in this run; ` : "") +
          (worst < 1000
            ? `margin ${ratio(1000 / worst, 2)}. Validation (zod, address parsing) is ${pct(m.coldParseMs / m.firstCallTotalMs)} of the first call.`
            : `missed by ${fmt(worst - 1000)} ms. Validation (zod, address parsing) is ${pct(m.coldParseMs / m.firstCallTotalMs)} of the first call.`),
      });
    }
  } else
    out.push({
      id: "render-1s",
      target: "render of 10,000 prefixes under one second",
      measured: "-",
      met: "not run",
      notes: "",
    });
  return out;
}

// ---------------------------------------------------------------- markdown

const verdict = (m: TargetVerdict["met"]): string =>
  m === true ? "**met**" : m === false ? "**missed**" : m === "undecided" ? "**undecided** (within noise)" : "not run";

function fleetTables(f: FleetResult): string[] {
  const lines: string[] = [];
  const sizes = [...new Set(f.operations.map((o) => o.hosts))].sort((a, b) => a - b);
  lines.push(
    "| hosts | operation | ours: wall ms | Ansible: wall ms | Ansible / ours | ours: connections / round trips per host | Ansible: connections / round trips per host |",
    "|---:|---|---:|---:|---:|---|---|",
  );
  for (const n of sizes) {
    for (const o of ["apply-first", "apply-noop", "drift-check"] as const) {
      const a = op(f, "ours", o, n);
      const b = op(f, "ansible", o, n);
      if (!a && !b) continue;
      lines.push(
        `| ${n} | ${o} | ${fmt(a?.medianWallMs)} | ${fmt(b?.medianWallMs)} | ${a && b ? ratio(b.medianWallMs / a.medianWallMs) : "-"} | ${a ? `${fmt(a.connectionsPerHost, 2)} / ${fmt(a.roundTripsPerHost, 2)}` : "-"} | ${b ? `${fmt(b.connectionsPerHost, 2)} / ${fmt(b.roundTripsPerHost, 2)}` : "-"} |`,
      );
    }
  }
  if (f.operations.some((o) => o.tool === "pulumi")) {
    lines.push(
      "",
      "Through the real Pulumi engine (`pulumi up`, a no-op `pulumi up`, `pulumi preview --refresh --expect-no-changes`), beside ours and Ansible in the same run; the engine's own overhead (wall time minus the span of the host steps) apart from SSH and host time:",
      "",
      "| hosts | operation | pulumi: wall ms | engine overhead ms | host span ms | ours: wall ms | Ansible: wall ms | Ansible / pulumi | pulumi: connections / round trips per host |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    );
    for (const n of sizes) {
      for (const [tool, o] of [
        ["pulumi", "apply-first"],
        ["pulumi", "apply-noop"],
        ["pulumi", "drift-check"],
        ["pulumi-parallel", "drift-check"],
      ] as const) {
        const p = op(f, tool, o, n);
        if (!p) continue;
        const a = op(f, "ours", o, n);
        const b = op(f, "ansible", o, n);
        lines.push(
          `| ${n} | ${o}${tool === "pulumi-parallel" ? ` (--parallel ${n})` : ""} | ${fmt(p.medianWallMs)} | ${fmt(p.medianEngineOverheadMs)} | ${fmt(median(p.hostSpanMs ?? []))} | ${fmt(a?.medianWallMs)} | ${fmt(b?.medianWallMs)} | ${b ? ratio(b.medianWallMs / p.medianWallMs) : "-"} | ${fmt(p.connectionsPerHost, 2)} / ${fmt(p.roundTripsPerHost, 2)} |`,
        );
      }
    }
  }
  const traced = f.operations.filter((o) => o.tool === "pulumi" && o.breakdown);
  if (traced.length > 0) {
    lines.push(
      "",
      "Where an engine command's time goes: one more run of each command with every clock on (the driver's milestones, the engine's events, the CLI's gRPC trace, the plugin's launches), its wall time cut at its milestones in order (ms; the trace slows that run, so read the proportions), then what ran beside them:",
      "",
    );
    for (const o of traced) {
      const b = o.breakdown!;
      lines.push(
        `- ${o.hosts} host(s), ${o.op}, ${fmt(b.wallMs)} ms: ${b.stretches.map((x) => `${x.name} ${fmt(x.ms)}`).join("; ")}.`,
        `  Provider plugin start-up (its exec to the engine's first call), per launch: ${b.pluginStartMs.map((x) => fmt(x)).join(", ") || "none"} ms; the program loaded (its libraries, its resources declared) in ${fmt(b.programLoadMs)} ms; the driver's extra CLI runs: ${b.extraCliRuns.map((x) => `${x.what} ${fmt(x.ms)}`).join(", ") || "none"}.`,
      );
    }
  }
  const defaults = f.operations.filter((o) => o.tool === "ansible-defaults");
  if (defaults.length > 0) {
    lines.push("", "Ansible with its defaults (forks=5, pipelining off, interpreter discovery), for reference:", "");
    lines.push(
      "| hosts | operation | wall ms | vs ours | connections / round trips per host |",
      "|---:|---|---:|---:|---|",
    );
    for (const d of defaults) {
      const a = op(f, "ours", d.op, d.hosts);
      lines.push(
        `| ${d.hosts} | ${d.op} | ${fmt(d.medianWallMs)} | ${a ? ratio(d.medianWallMs / a.medianWallMs) : "-"} | ${fmt(d.connectionsPerHost, 2)} / ${fmt(d.roundTripsPerHost, 2)} |`,
      );
    }
  }
  lines.push("", "Samples (ms; the first apply runs once per size, the no-op operations are repeated):", "");
  lines.push(
    "| tool | hosts | operation | wall samples | ours: inside the process | tool's own count per host (connections / round trips) | changed hosts | in sync |",
    "|---|---:|---|---|---|---|---:|---:|",
  );
  for (const o of f.operations) {
    lines.push(
      `| ${o.tool} | ${o.hosts} | ${o.op} | ${o.wallMs.map((x) => fmt(x)).join(", ")} | ${o.inProcessMs ? o.inProcessMs.map((x) => fmt(x)).join(", ") : "-"} | ${o.toolConnectionsPerHost !== undefined ? fmt(o.toolConnectionsPerHost, 2) : "-"} / ${fmt(o.toolRoundTripsPerHost, 2)} | ${o.changedHosts} | ${o.inSyncHosts ?? "-"} |`,
    );
  }
  lines.push("", "No-op apply: what changed on the hosts (inode, size, mtime, ctime; table handles):", "");
  lines.push("| tool | hosts | hosts with writes | table reloaded | changed |", "|---|---:|---:|---|---|");
  for (const w of f.noopWrites)
    lines.push(
      `| ${w.tool} | ${w.hosts} | ${w.hostsWithWrites} | ${w.tableReloaded ? "yes" : "no"} | ${w.changed.join("<br>") || "nothing"} |`,
    );
  lines.push(
    "",
    "Reading these: the lab's hosts are namespaces on the controller's own 2 cores, so every remote command (Ansible's Python modules, our shell steps and `nft` runs) competes with the controller for the same CPU. At N = 10 and 30 the wall time therefore measures the total work of the controller and all hosts together; on a real fleet each host does its share on its own CPU, and N = 1 is the closest to the latency one would see. Round trips per host do not depend on this.",
  );
  lines.push(
    "",
    `Identical bytes on the hosts (nft, sysctl.d, modprobe.d sha256 equal to the renderer's): ${f.identicalBytes.map((x) => `${x.tool}@${x.hosts}: ${x.identical ? "yes" : "NO"}`).join(", ")}`,
  );
  return lines;
}

function packetTable(p: PacketResult): string[] {
  const lines = [
    "| ruleset | prefixes | input rules | median new connections/s | min - max | vs no firewall | CPU µs per connection | at equal CPU vs no firewall | CPU busy / steal (median over rounds, cpu0 cpu1) |",
    "|---|---:|---:|---:|---|---:|---:|---:|---|",
  ];
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[s.length >> 1] ?? NaN;
  };
  for (const v of p.variants) {
    const busy = [0, 1].map((c) => med(v.runs.map((r) => r.cpu.busy[c] ?? NaN)));
    const steal = [0, 1].map((c) => med(v.runs.map((r) => r.cpu.steal[c] ?? NaN)));
    lines.push(
      `| ${v.kind === "none" ? "no firewall" : v.kind === "rendered" ? (/^rendered-/.test(v.id) ? "rendered (interval set)" : `rendered, ${v.id}`) : "hand-written, one rule per prefix"} | ${fmt(v.prefixes)} | ${v.kind === "none" ? "-" : fmt(v.rules)} | ${fmt(v.medianRate)} | ${fmt(v.minRate)} - ${fmt(v.maxRate)} | ${pct(v.ratioToNone)} | ${fmt(v.medianCpuMicrosPerConnection, 1)} | ${pct(v.cpuRatioToNone)} | ${busy.map((b) => pct(b)).join(" ")} / ${steal.map((s) => pct(s)).join(" ")} |`,
    );
  }
  return lines;
}

function ratioCells(x: RatioSummary): string {
  return `${pct(x.median)} | ${pct(x.low)} - ${pct(x.high)} (${Math.round(x.confidence * 100)}%) | ${pct(x.min)} - ${pct(x.max)}`;
}

function packetRatioTable(p: PacketResult): string[] {
  if (!p.ratios?.length) return [];
  const lines = [
    "",
    "Paired ratios (variant over its baseline in the same round, the order alternating between rounds; median over rounds, the interval of the median, min - max):",
    "",
    "| what | variant / baseline | rounds | by rate: median | interval of the median | min - max | by CPU time: median | interval of the median | min - max |",
    "|---|---|---:|---:|---|---|---:|---|---|",
  ];
  for (const x of p.ratios)
    lines.push(
      `| ${x.what} | ${x.variant} / ${x.baseline} | ${x.rate.n} | ${ratioCells(x.rate)} | ${ratioCells(x.cpu)} |`,
    );
  return lines;
}

function forwardTable(f: ForwardResult): string[] {
  const row = (v: "dnat-only" | "ours", label: string) => {
    const runs = f.runs[v];
    return `| ${label} | ${fmt(median(runs.map((x) => x.rate)))} | ${fmt(f.minMax[v][0])} - ${fmt(f.minMax[v][1])} | ${fmt(median(runs.map((x) => x.cpuMicrosPerConnection)), 1)} | ${runs.map((x) => fmt(x.rate)).join(", ")} |`;
  };
  return [
    "| ruleset | median new connections/s | min - max | CPU µs per connection (median) | samples |",
    "|---|---:|---|---:|---|",
    row("dnat-only", "the runtime's DNAT alone"),
    row("ours", `the DNAT + our table (${fmt(f.sources)} source prefixes)`),
    "",
    "| ratio (ours / DNAT alone) | rounds | median | interval of the median | min - max |",
    "|---|---:|---:|---|---|",
    `| by connection rate | ${f.ratio.n} | ${ratioCells(f.ratio)} |`,
    `| by CPU time per connection | ${f.cpuRatio.n} | ${ratioCells(f.cpuRatio)} |`,
  ];
}

function blockSetsTable(b: BlockSetsResult): string[] {
  const lines = [
    "| elements in the block set | median apply ms | samples ms | fewest elements kept after an apply |",
    "|---:|---:|---|---:|",
  ];
  for (const m of b.measures)
    lines.push(
      `| ${fmt(m.elements)} | ${fmt(m.medianApplyMs)} | ${m.applyMs.map((x) => fmt(x)).join(", ")} | ${fmt(m.keptMin)} |`,
    );
  lines.push("", `Median apply with the most elements / with none: ${ratio(b.ratio, 3)}.`);
  return lines;
}

function renderTable(r: RenderResult): string[] {
  const lines = [
    "| shape | size | first parse + render ms (parse / render) | warm parse + render ms (parse / render) | peak RSS MiB (+ over loaded process) | nft bytes | rule lines |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const m of r.measures) {
    lines.push(
      `| ${m.shape} | ${fmt(m.size)} | ${fmt(m.firstCallTotalMs, 1)} (${fmt(m.coldParseMs, 1)} / ${fmt(m.coldRenderMs, 1)}) | ${fmt(m.warmTotalMs, 1)} (${fmt(m.warmParseMs, 1)} / ${fmt(m.warmRenderMs, 1)}) | ${fmt(m.peakRssMiB, 1)} (+${fmt(m.renderPeakMiB, 1)}) | ${fmt(m.nftBytes)} | ${fmt(m.ruleLines)} |`,
    );
  }
  return lines;
}

function scaleTable(r: ScaleResult): string[] {
  const fw = r.firewalldReloadMs;
  const lines = [
    "| prefixes | nft bytes | render ms | apply over SSH ms (whole safe apply) | no-op apply ms | observe ms | peak RSS MiB | on the host: nft -c ms | on the host: nft -f ms |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const m of r.measures) {
    lines.push(
      `| ${fmt(m.prefixes)} | ${fmt(m.nftBytes)} | ${fmt(m.renderMs)} | ${fmt(m.applyMs)}${m.changed ? "" : " (unchanged!)"} | ${fmt(m.noopApplyMs)}${m.noopChanged ? " (changed!)" : ""} | ${fmt(m.observeMs)}${m.inSync ? "" : " (drift!)"} | ${fmt(m.peakRssMiB, 1)} | ${fmt(m.hostCheckMs)} | ${fmt(m.hostLoadMs)} |`,
    );
  }
  lines.push(
    "",
    `Beside firewalld's published reload of ${fmt(fw.entries)} set entries: ${fmt(fw.fromMs)}-${fmt(fw.toMs)} ms (firewalld PR #1544).`,
  );
  return lines;
}

function methodList(method: Record<string, unknown>): string[] {
  return Object.entries(method).map(([k, v]) => `- ${k}: ${Array.isArray(v) ? v.join("; ") : String(v)}`);
}

/** A part's section of the markdown: its heading, its tables, then its method. */
function section(heading: string, tables: string[], method: Record<string, unknown>): string[] {
  return [heading, "", ...tables, "", "Method:", "", ...methodList(method), ""];
}

export function markdown(r: BenchReport): string {
  const L: string[] = [];
  L.push(
    `# Benchmark results${r.kind === "partial" ? " (partial run)" : ""}`,
    "",
    `Generated by \`npm run bench\`${r.flags.quick ? " --quick" : ""}${r.flags.only.length ? ` --only ${r.flags.only.join(",")}` : ""} on ${r.startedAt} in ${fmt(r.durationSeconds)} s (commit ${r.git.commit.slice(0, 10)}${r.git.dirtyFiles ? `, ${r.git.dirtyFiles} tracked files modified in the tree` : ", clean tree"}). See bench/README.md for what each benchmark measures.`,
    "",
    `Machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Linux ${r.machine.kernel}; ${r.machine.versions.node}, ${r.machine.versions.nft}, ${r.machine.versions.openssh}, ${r.machine.versions.ansible}.`,
    "",
    `Load: before \`${r.machine.uptime}\`; after \`${r.uptimeAfter}\`. The machine is shared (other engineers' test suites run on the same 2 cores) and is a VM whose hypervisor steals CPU time, so absolute figures move from run to run; the ratios come from runs interleaved on the same hosts in the same process.`,
    ...(r.parts
      ? [
          "",
          "This report joins runs: " +
            Object.entries(r.parts)
              .map(
                ([what, p]) =>
                  `${what} from ${p.startedAt} at ${p.git.commit.slice(0, 12)} (${p.durationSeconds} s)${p.why ? `: ${p.why}` : ""}`,
              )
              .join("; ") +
            ".",
        ]
      : []),
    "",
    "## Targets",
    "",
    "| target | measured | verdict | by how much, and why |",
    "|---|---|---|---|",
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${verdict(t.met)} | ${t.notes} |`),
    "",
  );
  if (r.errors.length)
    L.push("## Errors", "", ...r.errors.map((e) => `- ${e.benchmark}: ${e.message.split("\n")[0]}`), "");
  if (r.fleet)
    L.push(...section("## 1. Fleet operations (this project vs Ansible)", fleetTables(r.fleet), r.fleet.method));
  if (r.packet)
    L.push(
      ...section(
        "## 2. Packet path: new TCP connections per second",
        [...packetTable(r.packet), ...packetRatioTable(r.packet)],
        r.packet.method,
      ),
    );
  if (r.forward)
    L.push(
      ...section("## 2a. Forward path through a published port (issue 20)", forwardTable(r.forward), r.forward.method),
    );
  if (r.blockSets)
    L.push(
      ...section(
        "## 2b. Block sets at scale: an apply while another tool's elements are in the set (issue 21)",
        blockSetsTable(r.blockSets),
        r.blockSets.method,
      ),
    );
  if (r.render) L.push(...section("## 3. Render scale", renderTable(r.render), r.render.method));
  if (r.audit) L.push(...section("## Audit beside the drift check", auditTable(r.audit), r.audit.method));
  if (r.scale)
    L.push(
      ...section("## 4. Scale end to end: rendered, checked and applied over SSH", scaleTable(r.scale), r.scale.method),
    );
  if (r.engineScale) L.push(...engineScaleMarkdown(r.engineScale));
  return `${L.join("\n")}\n`;
}

// ---------------------------------------------------------------- stdout

export function summary(r: BenchReport): string {
  const L: string[] = [];
  if (r.fleet) {
    L.push("fleet (median wall ms)          ours    ansible   ratio   RT/host ours  ansible");
    for (const o of r.fleet.operations.filter((x) => x.tool === "ours")) {
      const a = op(r.fleet, "ansible", o.op, o.hosts);
      L.push(
        `  N=${String(o.hosts).padEnd(3)} ${o.op.padEnd(12)}  ${fmt(o.medianWallMs).padStart(8)} ${fmt(a?.medianWallMs).padStart(9)} ${(a ? ratio(a.medianWallMs / o.medianWallMs) : "-").padStart(7)}   ${fmt(o.roundTripsPerHost, 1).padStart(6)} ${fmt(a?.roundTripsPerHost, 1).padStart(8)}`,
      );
    }
    if (r.fleet.operations.some((x) => x.tool === "pulumi")) {
      L.push("fleet through the engine (median wall ms)   pulumi  (engine)   ansible   ratio");
      for (const o of r.fleet.operations.filter((x) => x.tool === "pulumi" || x.tool === "pulumi-parallel")) {
        const a = op(r.fleet, "ansible", o.op, o.hosts);
        L.push(
          `  N=${String(o.hosts).padEnd(3)} ${(o.tool === "pulumi-parallel" ? `${o.op} -p${o.hosts}` : o.op).padEnd(12)}  ${fmt(o.medianWallMs).padStart(8)} ${`(${fmt(o.medianEngineOverheadMs)})`.padStart(10)} ${fmt(a?.medianWallMs).padStart(9)} ${(a ? ratio(a.medianWallMs / o.medianWallMs) : "-").padStart(7)}`,
        );
      }
    }
  }
  if (r.packet) {
    L.push("packet path (median)          new conn/s   vs none   CPU us/conn   vs none at equal CPU");
    for (const v of r.packet.variants)
      L.push(
        `  ${v.id.padEnd(22)} ${fmt(v.medianRate).padStart(12)} ${pct(v.ratioToNone).padStart(9)} ${fmt(v.medianCpuMicrosPerConnection, 1).padStart(12)} ${pct(v.cpuRatioToNone).padStart(10)}`,
      );
  }
  if (r.packet?.ratios?.length) {
    L.push("packet path, paired ratios       by rate (interval)            by CPU time (interval)");
    for (const x of r.packet.ratios)
      L.push(
        `  ${`${x.variant}/${x.baseline}`.padEnd(26)} ${pct(x.rate.median).padStart(7)} (${pct(x.rate.low)}-${pct(x.rate.high)})  ${pct(x.cpu.median).padStart(7)} (${pct(x.cpu.low)}-${pct(x.cpu.high)})`,
      );
  }
  if (r.forward) {
    const f = r.forward;
    L.push(
      `forward path: DNAT alone ${fmt(f.medianDnatOnly)} conn/s, with our table (${fmt(f.sources)} prefixes) ${fmt(f.medianOurs)}; paired ratio ${pct(f.ratio.median)} (${pct(f.ratio.low)}-${pct(f.ratio.high)}), by CPU time ${pct(f.cpuRatio.median)} (${pct(f.cpuRatio.low)}-${pct(f.cpuRatio.high)})`,
    );
  }
  if (r.blockSets) {
    L.push(
      `block sets: apply ${r.blockSets.measures.map((m) => `${fmt(m.elements)} elements ${fmt(m.medianApplyMs)} ms (kept ${fmt(m.keptMin)})`).join(", ")}; ratio ${ratio(r.blockSets.ratio, 3)}`,
    );
  }
  if (r.render) {
    L.push("render (ms: first call / warm, peak RSS MiB)");
    for (const m of r.render.measures)
      L.push(
        `  ${m.shape.padEnd(10)} ${fmt(m.size).padStart(7)}  ${fmt(m.firstCallTotalMs, 1).padStart(8)} / ${fmt(m.warmTotalMs, 1).padStart(7)}  ${fmt(m.peakRssMiB, 1).padStart(6)}`,
      );
  }
  if (r.scale) {
    L.push("scale (ms)      render    apply   no-op  observe  peak MiB  host nft -c  nft -f");
    for (const m of r.scale.measures)
      L.push(
        `  ${fmt(m.prefixes).padStart(8)} ${fmt(m.renderMs).padStart(8)} ${fmt(m.applyMs).padStart(8)} ${fmt(m.noopApplyMs).padStart(7)} ${fmt(m.observeMs).padStart(8)} ${fmt(m.peakRssMiB, 1).padStart(9)} ${fmt(m.hostCheckMs).padStart(12)} ${fmt(m.hostLoadMs).padStart(7)}`,
      );
    L.push(
      `  firewalld reload of ${fmt(r.scale.firewalldReloadMs.entries)} entries (published): ${fmt(r.scale.firewalldReloadMs.fromMs)}-${fmt(r.scale.firewalldReloadMs.toMs)} ms`,
    );
  }
  L.push("targets");
  for (const t of r.targets)
    L.push(
      `  [${t.met === true ? "met" : t.met === false ? "MISSED" : t.met === "undecided" ? "undecided" : "not run"}] ${t.target}: ${t.measured}`,
    );
  return L.join("\n");
}

export function writeReport(r: BenchReport, dir: string, name: string): { md: string; json: string } {
  fs.mkdirSync(dir, { recursive: true });
  const md = path.join(dir, `${name}.md`);
  const json = path.join(dir, `${name}.json`);
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(md, markdown(r));
  return { md, json };
}

/** `tsx bench/report.ts bench/results/latest.json`: re-evaluates the targets and rewrites the markdown beside it. */
if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: tsx bench/report.ts <results.json>");
    process.exit(2);
  }
  const r = JSON.parse(fs.readFileSync(file, "utf8")) as BenchReport;
  r.targets = evaluateTargets(r);
  writeReport(r, path.dirname(file), path.basename(file, ".json"));
  console.log(summary(r));
}
