/** Before the apply step: room for this table beside other tables of this project on the host (see coexist.ts). */
import type { Artefacts } from "../../render";
import { HostOperationError, OtherTablesError } from "../errors";
import type { HostSession } from "../ssh";
import { STATUS } from "../wire/protocol";
import { runStep } from "../wire/remote";
import {
  type AllowOtherTables,
  deniedButNeeded,
  otherManagedTables,
  refusedTables,
  sysctlClashes,
  tablesToRelax,
} from "./coexist";
import type { HostFacts } from "./probe";

export interface MakeRoomOptions {
  readonly allowOtherTables?: AllowOtherTables;
  /** Seconds to wait for each other table's lock. */
  readonly lockWaitSeconds: number;
  readonly onLog?: (line: string) => void;
}

/**
 * Before anything changes: refuses when another table of this project is on the host and the
 * caller did not allow it. When allowed, this table's deny list must leave the others' modules
 * loadable (render with keepLoadable), and the others' deny lists stop refusing the modules this
 * table needs.
 */
export async function makeRoomBesideOtherTables(
  session: HostSession,
  artefacts: Artefacts,
  facts: HostFacts,
  runDir: string,
  options: MakeRoomOptions,
): Promise<void> {
  const table = artefacts.table;
  const others = otherManagedTables(facts, table);
  if (others.length === 0) return;
  const refused = refusedTables(others, options.allowOtherTables);
  if (refused.length > 0) throw new OtherTablesError(session.target, table, refused);
  const sysctls = sysctlClashes(artefacts, facts, table);
  if (sysctls.length > 0) {
    const list = sysctls
      .map((c) => `${c.key} = ${c.value}, but table inet ${c.table}'s sysctl.d file sets ${c.theirs}`)
      .join("; ");
    throw new HostOperationError(
      session.target,
      `table inet ${table} would set ${list}: the host has one value; give both policies the same one (or set it in one of them). Nothing was changed.`,
    );
  }
  const clash = deniedButNeeded(artefacts, facts, table);
  if (clash.length > 0) {
    throw new HostOperationError(
      session.target,
      `table inet ${table} was rendered to refuse ${clash.join(", ")}, which another table of this project on the host needs; render it with keepLoadable: modulesOtherTablesNeed(facts, table). Nothing was changed.`,
    );
  }
  const relax = tablesToRelax(artefacts, facts, table);
  if (relax.length === 0) return;
  const modules = [...new Set(relax.flatMap((r) => r.modules))].sort();
  const out = await runStep(session, {
    main: "coexist",
    params: {
      runDir,
      lockWait: String(options.lockWaitSeconds),
      modules: modules.join(" "),
      tables: relax.map((r) => r.table).join(" "),
    },
  });
  const relaxed = out.stdout
    .split("\n")
    .filter((l) => l.startsWith("relaxed "))
    .map((l) => l.slice(8));
  if (out.status !== STATUS.relaxed) {
    const done =
      relaxed.length > 0
        ? `; already relaxed: ${relaxed.map((t) => `table inet ${t}`).join(", ")}`
        : "; no file was changed";
    throw new HostOperationError(
      session.target,
      `could not leave ${modules.join(", ")} loadable in the other tables' modprobe.d files (${out.status || `exit ${out.code}`})${done}; table inet ${table} was not applied: ${session.redact(out.stderr.trim())}`,
    );
  }
  for (const t of relaxed) {
    (options.onLog ?? (() => undefined))(
      `${session.target}: table inet ${t}'s modprobe.d file no longer refuses ${modules.join(", ")} (table inet ${table} needs them)`,
    );
  }
}
