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
  close(): Promise<void>;
}

/** A stack of one HostFirewall per host with `policy`, all hosts reached with the first host's root key. */
export async function engineFleet(
  hosts: LabHost[],
  policy: unknown,
  paths: { stateRoot: string; runRoot: string },
): Promise<EngineFleet> {
  const project: EngineProject = engineProject(`bench-${hosts.length}`);
  const events = path.join(project.dir, "events.jsonl");
  await project.config("privateKey", hosts[0]!.root.privateKey, true);
  await project.config("policy", policy);
  await project.config(
    "hosts",
    hosts.map((h) => ({ name: h.name, host: h.ipv4, user: "root", hostKey: h.hostKey, hostPaths: paths })),
  );
  return {
    async run(op, parallel) {
      fs.rmSync(events, { force: true });
      const args = [
        ...(op === "drift-check" ? ["preview", "--refresh", "--expect-no-changes"] : ["up", "--yes"]),
        ...(parallel ? ["--parallel", String(parallel)] : []),
      ];
      const r = await project.pulumi(args, { env: { HNFT_ENGINE_EVENTS: events }, timeoutMs: 900_000 });
      if (r.code !== 0)
        throw new Error(
          `pulumi ${args.join(" ")} on ${hosts.length} hosts exited ${r.code}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
        );
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
