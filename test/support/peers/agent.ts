/**
 * The stdlib-only Python agent (scripts/agent.py) that probes, listens, scans and plays the
 * exploit actors inside a lab host: one command per run, its result one JSON line on stdout.
 */
import * as path from "node:path";
import { type PeerHost, PYTHON, parseJsonLine, runIn } from "./core";

const AGENT_SCRIPT = path.join(__dirname, "scripts", "agent.py");

/** The argv that runs one agent command. */
export function agent(...args: Array<string | number>): string[] {
  return [PYTHON, AGENT_SCRIPT, ...args.map(String)];
}

export async function agentOnce<T>(
  host: PeerHost,
  label: string,
  timeoutMs: number,
  ...args: Array<string | number>
): Promise<T> {
  const r = await runIn(host, agent(...args), { timeoutMs, label });
  const v = parseJsonLine<T>(r.stdout);
  if (v === undefined) {
    throw new Error(
      `${label} on ${host.name}: no result (exit ${r.code}${r.timedOut ? ", timed out" : ""})\n${r.stdout}\n${r.stderr}`,
    );
  }
  return v;
}
