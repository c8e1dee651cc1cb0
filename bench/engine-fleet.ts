/**
 * Fleet operations through the real Pulumi engine, on the same lab hosts as the other tools:
 * what users run, `pulumi up` (first and no-op) and the drift check `pulumi preview --refresh
 * --expect-no-changes`, each one `scripts/pulumi`-style command (tools/engine/run.ts under the pinned
 * CLI, test/engine/program with one HostFirewall per host).
 *
 * The engine's own overhead is reported apart from SSH and host time: tools/engine/run.ts logs every
 * engine event with this machine's clock (HNFT_ENGINE_EVENTS), so the host span is from the first
 * HostTable step starting to the last one ending (SSH, the host's steps, the provider), and the
 * engine overhead is the rest of the command's wall time (Node and the program starting, the
 * plan, the state written, the CLI exiting).
 *
 * Where that time goes: `profile()` runs one more command with every clock on, and breakdown()
 * cuts its wall time into the stretches of the critical path, from the driver's own milestones
 * (tools/engine/run.ts writes them into the same events file), the engine's events, the CLI's gRPC
 * trace (PULUMI_DEBUG_GRPC: every call to the plugin and the program, timestamped) and the
 * provider plugin's launches (the project's plugin path is a wrapper that stamps the time and execs
 * the package's bin/ launcher). The trace makes that one command slower than the timed ones; its
 * figures are for the proportions.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type EngineProject, engineProject, hostStepSpans } from "../test/support/engine";
import type { LabHost } from "../test/support/lab";
import { median, round } from "./util";

export type EngineOperation = "apply-first" | "apply-noop" | "drift-check";

export interface EngineRun {
  wallMs: number;
  /** first HostTable step start to last HostTable step end */
  hostSpanMs: number;
  engineOverheadMs: number;
}

export interface EngineFleet {
  /** `parallel`: the CLI's --parallel (its default is 4 per core: 8 on this machine) */
  run(op: EngineOperation, parallel?: number): Promise<EngineRun>;
  /** the same command once more, traced, cut into the stretches of its critical path */
  profile(op: EngineOperation): Promise<EngineBreakdown>;
  close(): Promise<void>;
}

/**
 * One command's wall time cut at its milestones, in order (ms; they add up to wallMs), and the
 * pieces that run beside them: each start of the provider plugin (launched to its first RPC), the
 * program's own load, the driver's extra CLI runs.
 */
export interface EngineBreakdown {
  wallMs: number;
  stretches: { name: string; ms: number }[];
  /** each launch of the provider plugin: from its exec to the engine's first RPC to it (Handshake) */
  pluginStartMs: number[];
  /** the CLI runs of the driver besides the command itself (version, stack select, outputs, history) */
  extraCliRuns: { what: string; ms: number }[];
  /** the program's require() (its libraries, then its resources declared) once the engine ran it */
  programLoadMs?: number;
}

const HOST_TABLE = "hardened-nftables:index:HostTable";

/** What the driver, the engine and the plugin wrapper recorded for one command, on this machine's clock. */
export function breakdown(
  wallMs: number,
  files: { events: string; grpc?: string; launches?: string },
): EngineBreakdown {
  const lines = (f?: string) =>
    f && fs.existsSync(f)
      ? fs
          .readFileSync(f, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
  const events = lines(files.events) as ({ at: number; driver?: string; detail?: string } & Record<string, unknown>)[];
  const marks = events.filter((e) => e.driver);
  const at = (name: string, detail?: string) =>
    marks.find((m) => m.driver === name && (detail === undefined || m.detail === detail))?.at;
  const start = at("start") ?? 0;
  // the command's own CLI run is the last one to start (the others come before it or, in the old
  // Automation API path, after it ends: outputs and history)
  const cliStarts = marks.filter((m) => m.driver === "cli-start");
  const cliEnds = marks.filter((m) => m.driver === "cli-end");
  const engineEvent = (key: string) => events.filter((e) => e[key] !== undefined);
  const prelude = engineEvent("preludeEvent")[0]?.at;
  const mainStarts = cliStarts.filter((m) => prelude !== undefined && m.at <= prelude);
  const main = mainStarts[mainStarts.length - 1];
  const mainEnd = main ? cliEnds[cliStarts.indexOf(main)]?.at : undefined;
  // the host steps by kind (a drift check refreshes every host, then previews: its provider plugin
  // starts again and the program runs between the two), each kind's first start and last end
  const phases = new Map<string, { first: number; last: number }>();
  for (const e of events) {
    for (const key of ["resourcePreEvent", "resOutputsEvent"] as const) {
      const md = (e[key] as { metadata?: { type?: string; op?: string } } | undefined)?.metadata;
      if (md?.type !== HOST_TABLE) continue;
      const p = phases.get(md.op ?? "?") ?? { first: e.at, last: e.at };
      phases.set(md.op ?? "?", { first: Math.min(p.first, e.at), last: Math.max(p.last, e.at) });
    }
  }
  const summary = engineEvent("summaryEvent")[0]?.at;
  const exit = at("exit");
  const cut: [string, number | undefined][] = [
    ["Node and the driver's modules loaded", at("loaded")],
    ["the driver's extra CLI runs and set-up, to the command's CLI started", main?.at],
    ["CLI start-up (backend, state, secrets key, plugins) to the deployment's start", prelude],
  ];
  for (const [op, p] of [...phases].sort((a, b) => a[1].first - b[1].first)) {
    cut.push([`to the first host step "${op}" (plugin start, program)`, p.first]);
    cut.push([`host steps "${op}" (first start to last end)`, p.last]);
  }
  cut.push(
    ["after the hosts: outputs, state written, summary", summary],
    ["CLI exit", mainEnd],
    ["driver exit", exit],
    ["process end (as the caller saw it)", start + wallMs],
  );
  const stretches: { name: string; ms: number }[] = [];
  let prev = start;
  for (const [name, t] of cut) {
    if (t === undefined || t < prev) continue;
    stretches.push({ name, ms: t - prev });
    prev = t;
  }
  // plugin start-ups: each launch (wrapper stamp, ns) to the next Handshake the engine sent
  const launches = (files.launches && fs.existsSync(files.launches) ? fs.readFileSync(files.launches, "utf8") : "")
    .split("\n")
    .filter(Boolean)
    .map((l) => Number(BigInt(l.trim()) / 1_000_000n));
  const handshakes = lines(files.grpc)
    .filter((r) => String(r.method).endsWith("/Handshake") && r.progress === "request_started")
    .map((r) => Date.parse(String(r.timestamp)))
    .sort((a, b) => a - b);
  const pluginStartMs = launches.map((l) => {
    const h = handshakes.find((x) => x >= l);
    return h === undefined ? Number.NaN : h - l;
  });
  // the driver runs one CLI at a time: the i-th start ends at the i-th end
  const extraCliRuns = cliStarts
    .map((m, i) => ({ m, ms: (cliEnds[i]?.at ?? m.at) - m.at }))
    .filter(({ m }) => m !== main)
    .map(({ m, ms }) => ({ what: m.detail ?? "?", ms }));
  const ps = at("program-start");
  const pl = at("program-loaded");
  return {
    wallMs,
    stretches,
    pluginStartMs,
    extraCliRuns,
    ...(ps !== undefined && pl !== undefined ? { programLoadMs: pl - ps } : {}),
  };
}

/** A stack of one HostFirewall per host with `policy`, all hosts reached with the first host's root key. */
export async function engineFleet(
  hosts: LabHost[],
  policy: unknown,
  paths: { stateRoot: string; runRoot: string },
): Promise<EngineFleet> {
  const project: EngineProject = engineProject(`bench-${hosts.length}`);
  const events = path.join(project.dir, "events.jsonl");
  const grpc = path.join(project.dir, "grpc.jsonl");
  const launches = path.join(project.dir, "plugin-launches.txt");
  // the plugin as the engine finds it, behind a wrapper that stamps each launch (profile() only)
  const wrapperDir = path.join(project.dir, "plugin-timing");
  fs.mkdirSync(wrapperDir);
  fs.writeFileSync(
    path.join(wrapperDir, "pulumi-resource-hardened-nftables"),
    `#!/bin/sh\n[ -z "$HNFT_PLUGIN_LAUNCHES" ] || date +%s%N >>"$HNFT_PLUGIN_LAUNCHES"\nexec "${path.join(project.dir, "node_modules/pulumi-hardened-nftables/bin/pulumi-resource-hardened-nftables")}" "$@"\n`,
    { mode: 0o755 },
  );
  const yamlFile = path.join(project.dir, "Pulumi.yaml");
  fs.writeFileSync(
    yamlFile,
    fs
      .readFileSync(yamlFile, "utf8")
      .replace("path: ./node_modules/pulumi-hardened-nftables/bin", "path: ./plugin-timing"),
  );
  await project.config("privateKey", hosts[0]!.root.privateKey, true);
  await project.config("policy", policy);
  await project.config(
    "hosts",
    hosts.map((h) => ({ name: h.name, host: h.ipv4, user: "root", hostKey: h.hostKey, hostPaths: paths })),
  );
  const command = async (op: EngineOperation, parallel: number | undefined, env: Record<string, string>) => {
    for (const f of [events, grpc, launches]) fs.rmSync(f, { force: true });
    const args = [
      ...(op === "drift-check" ? ["preview", "--refresh", "--expect-no-changes"] : ["up", "--yes"]),
      ...(parallel ? ["--parallel", String(parallel)] : []),
    ];
    const r = await project.pulumi(args, { env: { HNFT_ENGINE_EVENTS: events, ...env }, timeoutMs: 900_000 });
    if (r.code !== 0)
      throw new Error(
        `pulumi ${args.join(" ")} on ${hosts.length} hosts exited ${r.code}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
      );
    return r;
  };
  return {
    async profile(op) {
      try {
        const r = await command(op, undefined, { PULUMI_DEBUG_GRPC: grpc, HNFT_PLUGIN_LAUNCHES: launches });
        return breakdown(r.ms, { events, grpc, launches });
      } finally {
        // the trace holds every call's payload, the provider's inputs with the deploy key among them
        fs.rmSync(grpc, { force: true });
      }
    },
    async run(op, parallel) {
      const r = await command(op, parallel, {});
      const spans = hostStepSpans(events);
      const hostSpanMs =
        spans.length > 0 ? Math.max(...spans.map((x) => x.end)) - Math.min(...spans.map((x) => x.start)) : 0;
      return { wallMs: r.ms, hostSpanMs, engineOverheadMs: r.ms - hostSpanMs };
    },
    async close() {
      await project.pulumi(["destroy", "--yes"], { timeoutMs: 900_000 });
      project.remove();
    },
  };
}

export const summarize = (runs: EngineRun[]) => ({
  engineOverheadMs: runs.map((r) => round(r.engineOverheadMs, 0)),
  hostSpanMs: runs.map((r) => round(r.hostSpanMs, 0)),
  medianEngineOverheadMs: median(runs.map((r) => r.engineOverheadMs)),
});
