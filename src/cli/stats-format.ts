/**
 * The stats command's arithmetic and output: rates since the last sample (kept in a local file),
 * and the three formats (table, JSON, Prometheus text for node_exporter's textfile collector). Pure
 * but for the sample file's read and write.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Counter, TableCounters } from "../host/operations/stats";

export interface Row extends Counter {
  /** Packets and bytes per second since the last call for this host and table; undefined without one (or after the table was replaced). */
  readonly packetRate?: number;
  readonly byteRate?: number;
}

export interface HostStats {
  readonly target: string;
  readonly table: string;
  readonly present: boolean;
  readonly rows: readonly Row[];
}

interface Sample {
  readonly at: number;
  readonly counters: readonly Counter[];
}

/** Where the last sample of each host and table is kept: $XDG_STATE_HOME/hardened-nftables/stats.json. */
export function defaultSampleFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return join(base, "hardened-nftables", "stats.json");
}

export function readSamples(file: string): Record<string, Sample> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, Sample>;
  } catch {
    return {};
  }
}

/** Written beside and renamed: hosts read in parallel end in one write. */
export function writeSamples(file: string, samples: Record<string, Sample>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(samples));
  renameSync(`${file}.tmp`, file);
}

const keyOf = (c: Pick<Counter, "chain" | "kind" | "name">) => `${c.chain}\0${c.kind}\0${c.name}`;
export const sampleKey = (target: string, table: string) => `${target} ${table}`;

export function withRates(now: TableCounters, at: number, previous: Sample | undefined): HostStats {
  const before = new Map((previous?.counters ?? []).map((c) => [keyOf(c), c]));
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  const rows = now.counters.map((c): Row => {
    const p = before.get(keyOf(c));
    // a counter that went down belongs to a table replaced since: no rate across it
    if (!p || seconds <= 0 || c.packets < p.packets || c.bytes < p.bytes) return c;
    return { ...c, packetRate: (c.packets - p.packets) / seconds, byteRate: (c.bytes - p.bytes) / seconds };
  });
  rows.sort((a, b) => a.chain.localeCompare(b.chain) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  return { target: now.target, table: now.table, present: now.present, rows };
}

const rate = (r: number | undefined) => (r === undefined ? "-" : r.toFixed(2));

export function formatTable(stats: readonly HostStats[]): string {
  const lines: string[] = [];
  for (const s of stats) {
    lines.push(`${s.target}: table inet ${s.table}${s.present ? "" : " absent"}`);
    if (!s.present) continue;
    const header = ["chain", "kind", "name", "packets", "bytes", "packets/s", "bytes/s"];
    const body = s.rows.map((r) => [
      r.chain,
      r.kind,
      r.name,
      String(r.packets),
      String(r.bytes),
      rate(r.packetRate),
      rate(r.byteRate),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    for (const row of [header, ...body])
      lines.push(`  ${row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")}`);
  }
  return `${lines.join("\n")}\n`;
}

export function formatJson(stats: readonly HostStats[]): string {
  return `${JSON.stringify(stats, null, 2)}\n`;
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The Prometheus text exposition format, as node_exporter's textfile collector reads it (*.prom). */
export function formatPrometheus(stats: readonly HostStats[]): string {
  const out: string[] = [
    "# HELP hardened_nftables_packets_total Packets counted by a rule of the table (accepted by an exposure, refused by its limit, dropped by a block set or at a chain's end).",
    "# TYPE hardened_nftables_packets_total counter",
  ];
  const labels = (s: HostStats, r: Row) =>
    `host="${label(s.target)}",table="${label(s.table)}",chain="${label(r.chain)}",kind="${r.kind}",name="${label(r.name)}"`;
  for (const s of stats)
    for (const r of s.rows) out.push(`hardened_nftables_packets_total{${labels(s, r)}} ${r.packets}`);
  out.push(
    "# HELP hardened_nftables_bytes_total Bytes counted by a rule of the table.",
    "# TYPE hardened_nftables_bytes_total counter",
  );
  for (const s of stats) for (const r of s.rows) out.push(`hardened_nftables_bytes_total{${labels(s, r)}} ${r.bytes}`);
  out.push(
    "# HELP hardened_nftables_table_present 1 when the table exists on the host.",
    "# TYPE hardened_nftables_table_present gauge",
  );
  for (const s of stats)
    out.push(
      `hardened_nftables_table_present{host="${label(s.target)}",table="${label(s.table)}"} ${s.present ? 1 : 0}`,
    );
  return `${out.join("\n")}\n`;
}
