/**
 * A managed table's drift since its last committed apply, from what the audit gathered: the
 * listing the guardian recorded at commit (reloaded by the host's nft into a throwaway namespace,
 * so both sides are lists by the same binary) against the live table. The comparison is diff's
 * own (../operations/drift.ts), so audit and diff name drift the same way. Pure.
 */
import { diffTables, type TableDiff } from "../operations/drift";
import { formatDrift } from "../operations/drift-report";

export type ManagedTableDrift =
  | { readonly table: string; readonly state: "in-sync" }
  | { readonly table: string; readonly state: "drifted"; readonly diff: TableDiff; readonly tablePresent: boolean }
  /** No record to compare with (no committed apply, another state root) or it did not reload. */
  | { readonly table: string; readonly state: "unrecorded"; readonly reason: string };

export function managedTableDrift(table: string, sections: Readonly<Record<string, string>>): ManagedTableDrift {
  const recordedText = sections[`recorded-text ${table}`] ?? "";
  const recordedJson = sections[`recorded-json ${table}`] ?? "";
  if (!recordedText.trim())
    return {
      table,
      state: "unrecorded",
      reason: `no listing recorded by a committed apply in STATE-ROOT/${table}/applied.listing (--state-root, default /var/lib/hardened-nftables)`,
    };
  if (!recordedJson.trim())
    return { table, state: "unrecorded", reason: "the recorded listing could not be reloaded by this host's nft" };
  const { livePresent, ...diff } = diffTables(
    recordedJson,
    recordedText,
    sections[`live-json ${table}`] ?? "",
    sections[`live-text ${table}`] ?? "",
  );
  const r = diff.rules;
  const differs =
    r.added.length + r.removed.length + r.changed.length + diff.chains.length + diff.sets.length + diff.helpers.length >
    0;
  if (livePresent && !differs) return { table, state: "in-sync" };
  return { table, state: "drifted", diff, tablePresent: livePresent };
}

/** The drift as `diff` prints it, without its heading line: `+ input: tcp dport 8080 accept`, ... */
export function driftEvidence(host: string, drift: Extract<ManagedTableDrift, { state: "drifted" }>): string[] {
  return formatDrift({
    target: host,
    table: drift.table,
    inSync: false,
    tablePresent: drift.tablePresent,
    ...drift.diff,
    files: [],
    sysctls: [],
    loadedDeniedModules: [],
  })
    .slice(1)
    .map((l) => l.trim());
}
