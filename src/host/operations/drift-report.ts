/** What an observation found, as a report: its shape, whether an apply would repair it, and its text. Pure. */

import type { SessionStats } from "../ssh";
import type { TableDiff } from "./drift";
import type { HostFacts } from "./probe";

export interface FileDrift {
  readonly name: string;
  readonly path: string;
  readonly status: "changed" | "missing" | "unexpected";
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export interface DriftReport extends TableDiff {
  readonly target: string;
  readonly table: string;
  /** Nothing differs: table, files, sysctls and helper modules are as the policy renders them. */
  readonly inSync: boolean;
  readonly tablePresent: boolean;
  readonly files: readonly FileDrift[];
  readonly sysctls: readonly { key: string; expected: string; actual: string }[];
  /** Helper modules loaded although the policy denies them (unload or reboot to clear). */
  readonly loadedDeniedModules: readonly string[];
  /** Hash the last committed apply recorded; differs from desiredHash when the policy changed since. */
  readonly appliedHash?: string;
  readonly desiredHash: string;
  /** A rollback guardian is waiting for confirmation right now. */
  readonly armed: boolean;
  /**
   * An earlier apply whose outcome no controller read (it was interrupted, killed, or lost the
   * host): what the host's guardian did, in one message. Reported until the next apply.
   */
  readonly lastTransaction?: string;
  readonly facts: HostFacts;
  readonly stats: SessionStats;
}

type DriftParts = Pick<DriftReport, "tablePresent" | "rules" | "chains" | "sets" | "helpers" | "files" | "sysctls">;

/**
 * Drift an apply repairs: the table, its files and sysctls. A denied helper module that is
 * already loaded is drift too, but no apply can unload it.
 */
export function hasRepairableDrift(report: DriftParts): boolean {
  const r = report.rules;
  return (
    !report.tablePresent ||
    r.added.length +
      r.removed.length +
      r.changed.length +
      report.chains.length +
      report.sets.length +
      report.helpers.length >
      0 ||
    report.files.length > 0 ||
    report.sysctls.length > 0
  );
}

/** One line for a report, e.g. `root@h:22: table inet web drifted: 1 rule(s) added; file(s) ... changed`. */
export function summarizeDrift(
  report: DriftParts & Pick<DriftReport, "target" | "table" | "inSync" | "loadedDeniedModules">,
): string {
  if (report.inSync) return `${report.target}: table inet ${report.table} in sync`;
  const parts: string[] = [];
  if (!report.tablePresent) parts.push("table missing");
  const { added, removed, changed } = report.rules;
  if (added.length) parts.push(`${added.length} rule(s) added`);
  if (removed.length) parts.push(`${removed.length} rule(s) missing`);
  if (changed.length) parts.push(`${changed.length} rule(s) changed`);
  if (report.chains.length) parts.push(`${report.chains.length} chain change(s)`);
  if (report.sets.length) parts.push(`${report.sets.length} set(s) changed`);
  if (report.helpers.length) parts.push(`${report.helpers.length} helper object change(s)`);
  if (report.files.length) parts.push(`file(s) ${report.files.map((f) => `${f.path} ${f.status}`).join(", ")}`);
  if (report.sysctls.length)
    parts.push(`sysctl ${report.sysctls.map((s) => `${s.key}=${s.actual} (want ${s.expected})`).join(", ")}`);
  if (report.loadedDeniedModules.length)
    parts.push(`denied module(s) loaded: ${report.loadedDeniedModules.join(", ")} (unload or reboot)`);
  return `${report.target}: table inet ${report.table} drifted: ${parts.join("; ")}`;
}

/** Human-readable lines for a report: `+` live but not declared, `-` declared but not live, `~` changed. */
export function formatDrift(
  report: Pick<
    DriftReport,
    | "target"
    | "table"
    | "inSync"
    | "tablePresent"
    | "rules"
    | "chains"
    | "sets"
    | "helpers"
    | "files"
    | "sysctls"
    | "loadedDeniedModules"
  >,
): string[] {
  if (report.inSync) return [`${report.target}: table inet ${report.table} in sync`];
  const lines = [`${report.target}: table inet ${report.table} drifted`];
  if (!report.tablePresent) lines.push("  table missing");
  for (const r of report.rules.added) lines.push(`  + ${r.chain}: ${r.text}`);
  for (const r of report.rules.removed) lines.push(`  - ${r.chain}: ${r.text}`);
  for (const r of report.rules.changed) lines.push(`  ~ ${r.chain}: ${r.before}\n      now: ${r.after}`);
  for (const c of report.chains) lines.push(`  chain ${c.name}: ${c.change}`);
  for (const set of report.sets) {
    lines.push(`  set ${set.name}${set.change ? ` (${set.change})` : ""}`);
    for (const e of set.added) lines.push(`    + ${e}`);
    for (const e of set.removed) lines.push(`    - ${e}`);
  }
  for (const h of report.helpers) lines.push(`  ct helper ${h.name}: ${h.change}`);
  for (const f of report.files) {
    lines.push(`  file ${f.path}: ${f.status}`);
    for (const l of f.added) lines.push(`    + ${l}`);
    for (const l of f.removed) lines.push(`    - ${l}`);
  }
  for (const s of report.sysctls) lines.push(`  sysctl ${s.key}: expected ${s.expected}, live ${s.actual}`);
  for (const m of report.loadedDeniedModules) lines.push(`  module ${m}: loaded although denied`);
  return lines;
}
