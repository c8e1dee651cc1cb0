/**
 * The second half of an apply: proves over a NEW connection that the applied ruleset still lets
 * the operator in, and reads the guardian's verdict (committed, or what the host restored).
 */
import type { Connection } from "../../model/connection";
import type { ManagedPaths } from "../../render/paths";
import { HostOperationError, LockoutRolledBackError, LostContactError } from "../errors";
import { HostSession, type SessionStats } from "../ssh";
import { pathParams } from "../wire/params";
import { CAUSE, parseVerdict, STATUS } from "../wire/protocol";
import { type RemoteOutput, runStep } from "../wire/remote";
import { describeHostState, stepFailed } from "../wire/verdict";
import { type ContactSeen, lostContact, watchContact } from "./contact";

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
 * (LockoutRolledBackError when it restored the previous state exactly after a new connection failed
 * while the applying session answered, LostContactError when the host could not be reached at all,
 * HostStepFailedError else).
 */
export async function proveAccessAndCommit(
  session: HostSession,
  connection: Connection,
  ctx: ProofContext,
): Promise<Committed> {
  const stateCtx = { table: ctx.table, nftPath: ctx.paths.nft, confirmTimeout: ctx.confirmTimeout };
  const { out: verdictOut, failure, stats: confirmStats, seen } = await askForVerdict(session, connection, ctx);
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
  const guardianWords: string[] = [
    STATUS.rolledBack,
    STATUS.rolledBackToPersisted,
    STATUS.tableRemoved,
    STATUS.rollbackFailed,
  ];
  if (restoredExactly && cause === undefined && lostContact(seen)) {
    // the proof could not travel: the guardian rolled back for want of a proof, not because the ruleset failed one
    // (a rollback that could not restore exactly stays a failed step, exit 7, below, naming the lost contact)
    const { stateText } = describeHostState(verdict.word, stateCtx);
    throw new LostContactError(
      session.target,
      silentSeconds(seen),
      verdict.word,
      verdictOut.details.map((l) => session.redact(l)),
      stateText,
    );
  }
  if (restoredExactly && cause === undefined)
    throw new LockoutRolledBackError(
      session.target,
      failure ? `a new SSH connection failed: ${failure}` : "not confirmed in time",
    );
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
        : lostContact(seen)
          ? `the proof of access (lost contact with the host: no answer for ${silentSeconds(seen)}s, so the new ruleset was not judged); restoring the previous state`
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
): Promise<{ out: RemoteOutput; failure: string; stats: SessionStats; seen: ContactSeen }> {
  const contact = watchContact(session);
  try {
    const asked = await askForVerdictWatched(session, connection, ctx, contact.stop);
    return { ...asked, seen: contact.stop() };
  } finally {
    contact.stop();
  }
}

const silentSeconds = (seen: ContactSeen) => Math.round(seen.longestSilenceMs / 1000);

async function askForVerdictWatched(
  session: HostSession,
  connection: Connection,
  ctx: ProofContext,
  contactSoFar: () => ContactSeen,
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
      const seen = contactSoFar();
      if (lostContact(seen)) {
        throw new LostContactError(
          session.target,
          silentSeconds(seen),
          "",
          [],
          `The host restores its previous state by itself within ${confirmTimeout}s of the apply (no proof of access reached it); \`hardened-nftables diff\` or \`pulumi preview --refresh\` shows what it runs once it is reachable.`,
        );
      }
      throw new LockoutRolledBackError(
        session.target,
        `a new SSH connection failed (${failure}); the host rolls back by itself within ${confirmTimeout}s (${(err as Error).message})`,
      );
    }
  }
  return { out: verdictOut, failure, stats };
}
