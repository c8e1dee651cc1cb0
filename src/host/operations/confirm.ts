/**
 * The second half of an apply: proves over a NEW connection that the applied ruleset still lets
 * the operator in, and reads the guardian's verdict (committed, or what the host restored).
 */
import type { Connection } from "../../model/connection";
import type { ManagedPaths } from "../../render/paths";
import { HostOperationError, LockoutRolledBackError } from "../errors";
import { HostSession, type SessionStats } from "../ssh";
import { pathParams } from "../wire/params";
import { CAUSE, parseVerdict, STATUS } from "../wire/protocol";
import { type RemoteOutput, runStep } from "../wire/remote";
import { describeHostState, stepFailed } from "../wire/verdict";

export interface ProofContext {
  readonly table: string;
  readonly paths: ManagedPaths;
  /** The apply's transaction token: the proof confirms that transaction only. */
  readonly token: string;
  readonly confirmTimeout: number;
  readonly onLog?: (line: string) => void;
}

export interface Committed {
  /** Connections whose helper the policy no longer allows, deleted after commit. */
  readonly flushedConnections: number;
  readonly conntrackToolMissing: boolean;
  /** The confirming connection's own connections and round trips. */
  readonly stats: SessionStats;
}

/**
 * Resolves when the guardian committed; otherwise throws what the host did instead
 * (LockoutRolledBackError when it restored the previous state exactly, HostStepFailedError else).
 */
export async function proveAccessAndCommit(
  session: HostSession,
  connection: Connection,
  ctx: ProofContext,
): Promise<Committed> {
  const stateCtx = { table: ctx.table, nftPath: ctx.paths.nft, confirmTimeout: ctx.confirmTimeout };
  const { out: verdictOut, failure, stats: confirmStats } = await askForVerdict(session, connection, ctx);
  const verdict = parseVerdict(verdictOut.status);
  const { cause, step } = verdict.fields;
  const restoredExactly = verdict.word === STATUS.rolledBack && verdict.fields.files === undefined;
  if (verdict.word === STATUS.committed) {
    const flushed = Number(verdict.fields.flushed ?? "0");
    return {
      flushedConnections: Number.isFinite(flushed) ? flushed : 0,
      conntrackToolMissing: /no-conntrack-tool/.test(verdictOut.status),
      stats: confirmStats,
    };
  }
  if (restoredExactly && cause === undefined)
    throw new LockoutRolledBackError(
      session.target,
      failure ? `a new SSH connection failed: ${failure}` : "not confirmed in time",
    );
  const guardianWords: string[] = [
    STATUS.rolledBack,
    STATUS.rolledBackToPersisted,
    STATUS.tableRemoved,
    STATUS.rollbackFailed,
  ];
  if (!guardianWords.includes(verdict.word)) {
    // No verdict of the guardian's (another run removed the transaction, or killed the guardian):
    // this apply was ended from outside, and what the host runs is that other run's doing.
    const { stateText, advice } = describeHostState(verdict.word, stateCtx);
    throw new HostOperationError(
      session.target,
      `apply did not finish: ${verdictOut.status || failure}. ${stateText} What to do: ${advice}`,
    );
  }
  const what =
    cause === CAUSE.commitFailed
      ? `the new ruleset let a new SSH connection in, but persisting it (commit, step ${step ?? "unknown"})`
      : cause !== undefined
        ? `the transaction (${cause})`
        : `the new ruleset would lock you out (${failure ? `a new SSH connection failed: ${failure}` : "not confirmed in time"}); restoring the previous state`;
  throw stepFailed(
    session.target,
    what,
    verdict.word,
    verdictOut.details.map((l) => session.redact(l)),
    stateCtx,
  );
}

/**
 * The proof: the confirm step over a NEW connection. When that connection fails, the open session
 * waits for the guardian's verdict instead (it rolls back unless the proof arrived).
 */
async function askForVerdict(
  session: HostSession,
  connection: Connection,
  ctx: ProofContext,
): Promise<{ out: RemoteOutput; failure: string; stats: SessionStats }> {
  const { table, paths, token, confirmTimeout } = ctx;
  const log = ctx.onLog ?? (() => undefined);
  const confirmParams = { ...pathParams(table, paths), token, wait: String(confirmTimeout + 30) };
  let stats: SessionStats = { connections: 0, roundTrips: 0 };
  let verdictOut: RemoteOutput | undefined;
  let failure = "";
  try {
    const fresh = await HostSession.open(connection, {
      onLog: ctx.onLog,
      limits: {
        dialErrorLimit: Math.min(connection.dialErrorLimit, 3),
        perDialTimeout: Math.min(connection.perDialTimeout || 10, 10),
      },
    });
    try {
      verdictOut = await runStep(fresh, { main: "confirm", params: { ...confirmParams, mode: "confirm" } });
    } finally {
      stats = fresh.stats;
      await fresh.close();
    }
  } catch (err) {
    failure = (err as Error).message;
  }
  if (!verdictOut?.status) {
    log(
      `${session.target}: a new connection failed (${failure}); asking the host for its verdict (it rolls back unless the proof arrived)`,
    );
    try {
      verdictOut = await runStep(session, { main: "confirm", params: { ...confirmParams, mode: "wait" } });
    } catch (err) {
      throw new LockoutRolledBackError(
        session.target,
        `a new SSH connection failed (${failure}); the host rolls back by itself within ${confirmTimeout}s (${(err as Error).message})`,
      );
    }
  }
  return { out: verdictOut, failure, stats };
}
