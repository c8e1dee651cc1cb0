/**
 * HNFT_PLUGIN_TRACE=FILE: the plugin appends one JSON line per event to FILE, for the bench and
 * for profiling (bench/README.md): when the process started and when it served (its start-up,
 * reported on its own line), and each RPC of HostTable (check, diff, read, create, update,
 * delete) with its start and end. Times are this machine's clock in ms (Date.now()), like
 * tools/engine/run.ts's HNFT_ENGINE_EVENTS. Nothing else is written: no inputs, no outputs, no
 * connection (the URN names the resource only). Unset (the default), nothing is written at all.
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";

export type TraceEvent =
  | { event: "serving"; pid: number; processStart: number; at: number; startupMs: number }
  | { event: "rpc"; pid: number; rpc: string; urn: string; start: number; end: number; ok: boolean };

const file = (): string | undefined => process.env.HNFT_PLUGIN_TRACE || undefined;

function append(e: TraceEvent): void {
  const f = file();
  if (!f) return;
  try {
    fs.appendFileSync(f, `${JSON.stringify(e)}\n`);
  } catch {
    /* a trace that cannot be written is no failure of the plugin */
  }
}

/** The plugin serves (its port printed): start-up is the time since the node process started. */
export function traceServing(): void {
  if (!file()) return;
  const startupMs = performance.now();
  append({
    event: "serving",
    pid: process.pid,
    processStart: Math.round(performance.timeOrigin),
    at: Date.now(),
    startupMs: Math.round(startupMs),
  });
}

/** Runs `fn` (one RPC on `urn`) and records its span. */
export async function traced<T>(rpc: string, urn: string, fn: () => Promise<T>): Promise<T> {
  if (!file()) return fn();
  const start = Date.now();
  let ok = false;
  try {
    const result = await fn();
    ok = true;
    return result;
  } finally {
    append({ event: "rpc", pid: process.pid, rpc, urn, start, end: Date.now(), ok });
  }
}

/** Reads a trace file back (bench, tests). */
export function readTrace(path: string): TraceEvent[] {
  if (!fs.existsSync(path)) return [];
  return fs
    .readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as TraceEvent);
}
