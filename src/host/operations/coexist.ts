/**
 * Several tables of this project on one host. nftables runs every table's input chain and a drop
 * in any of them is final, so two tables admit only what both admit; and modprobe.d is host-wide,
 * so one table's deny list can refuse a helper module another table needs. Applying next to
 * another table is therefore refused unless the caller allows it; when allowed, no table's deny
 * list may refuse a module another one needs.
 */
import type { Artefacts } from "../../render";
import type { HostFacts, ManagedTable } from "./probe";

/** true: any other table; a list: exactly these tables (e.g. the old name during a rename). */
export type AllowOtherTables = boolean | readonly string[];

export function otherManagedTables(facts: Pick<HostFacts, "managedTables">, table: string): ManagedTable[] {
  return facts.managedTables.filter((t) => t.table !== table);
}

/** The other tables the caller did not allow. */
export function refusedTables(others: readonly ManagedTable[], allow: AllowOtherTables | undefined): ManagedTable[] {
  if (allow === true) return [];
  const allowed = Array.isArray(allow) ? allow : [];
  return others.filter((t) => !allowed.includes(t.table));
}

/** Helper modules the other tables' scoped exposures need: this table must leave them loadable. */
export function modulesOtherTablesNeed(facts: Pick<HostFacts, "managedTables">, table: string): string[] {
  return [...new Set(otherManagedTables(facts, table).flatMap((t) => t.neededModules))].sort();
}

/** Modules this table's artefacts refuse although another table needs them (rendered without keepLoadable). */
export function deniedButNeeded(
  artefacts: Pick<Artefacts, "deniedModules">,
  facts: Pick<HostFacts, "managedTables">,
  table: string,
): string[] {
  const needed = modulesOtherTablesNeed(facts, table);
  return artefacts.deniedModules.filter((m) => needed.includes(m));
}

/** Other tables whose deny list refuses a module this table needs, with those modules. */
export function tablesToRelax(
  artefacts: Pick<Artefacts, "neededModules">,
  facts: Pick<HostFacts, "managedTables">,
  table: string,
): { table: string; modules: string[] }[] {
  return otherManagedTables(facts, table)
    .map((t) => ({ table: t.table, modules: t.deniedModules.filter((m) => artefacts.neededModules.includes(m)) }))
    .filter((t) => t.modules.length > 0);
}

/** Host-wide settings this table's sysctl.d file makes that another table's file sets to another value. */
export function sysctlClashes(
  artefacts: Pick<Artefacts, "sysctlSettings">,
  facts: Pick<HostFacts, "managedTables">,
  table: string,
): { key: string; value: string; table: string; theirs: string }[] {
  return otherManagedTables(facts, table).flatMap((t) =>
    artefacts.sysctlSettings
      .filter(([key, value]) => t.sysctls[key] !== undefined && t.sysctls[key] !== value)
      .map(([key, value]) => ({ key, value, table: t.table, theirs: t.sysctls[key]! })),
  );
}
