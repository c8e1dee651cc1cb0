import type { Connection } from "../../model/connection";
import { managedPaths } from "../../render/paths";
import { HostOperationError } from "../errors";
import { HostSession, type SessionStats } from "../ssh";
import { checkedOptions, type HostOptions, pathParams } from "../wire/params";
import { parseVerdict, STATUS } from "../wire/protocol";
import { runStep } from "../wire/remote";

export interface RemoveResult {
  readonly target: string;
  /** What was deleted: the table, files, enablement link, an armed guardian. */
  readonly removed: readonly string[];
  readonly stats: SessionStats;
}

/**
 * Deletes the project's table, its files, its state and any armed rollback, and nothing else.
 * The helper stays off: the live sysctl keeps its value until reboot, and kernels >= 6.0 have
 * no automatic assignment to turn back on.
 */
export async function removeOnSession(
  session: HostSession,
  table: string,
  options: HostOptions & { lockWaitSeconds?: number } = {},
): Promise<string[]> {
  const out = await runStep(session, {
    main: "remove",
    params: {
      ...pathParams(table, managedPaths(table, options.paths)),
      lockWait: String(options.lockWaitSeconds ?? 90),
    },
  });
  const verdict = parseVerdict(out.status);
  if (verdict.word === STATUS.busy)
    throw new HostOperationError(session.target, `another run holds the lock for table ${table}`);
  if (verdict.word === STATUS.failed) {
    const removed = out.stdout
      .split("\n")
      .filter((l) => l.startsWith("removed "))
      .map((l) => l.slice("removed ".length));
    throw new HostOperationError(
      session.target,
      `remove failed at step ${verdict.fields.step ?? "unknown"}; removed so far: ${removed.join(", ") || "nothing"}; run remove again once the cause is fixed:\n${out.details.map((d) => `  ${session.redact(d)}`).join("\n")}`,
    );
  }
  if (verdict.word !== STATUS.removed)
    throw new HostOperationError(
      session.target,
      `remove failed (exit ${out.code}): ${session.redact(out.stderr.trim())}`,
    );
  return out.stdout
    .split("\n")
    .filter((l) => l.startsWith("removed "))
    .map((l) => l.slice("removed ".length));
}

/** Invalid options (the table included) throw HostOptionsError before any connection. */
export async function removeTable(
  connection: Connection,
  table: string,
  given: HostOptions & { lockWaitSeconds?: number } = {},
): Promise<RemoveResult> {
  const options = checkedOptions({ ...given, table });
  const session = await HostSession.open(connection, { onLog: options.onLog });
  try {
    const removed = await removeOnSession(session, table, options);
    return { target: session.target, removed, stats: session.stats };
  } finally {
    await session.close();
  }
}
