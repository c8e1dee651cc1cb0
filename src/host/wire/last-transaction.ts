/**
 * An earlier apply's outcome that no controller read: its controller was killed, lost the host, or
 * its engine went away while the host's guardian decided alone. The host keeps the guardian's
 * result and record until a controller reads them (lib.sh, unreported_transaction); the next
 * apply, diff or refresh reports them, so that what the host did is never lost silently. Pure.
 */
import { parseVerdict, STATUS, type Verdict } from "./protocol";
import { describeHostState } from "./verdict";

export const LAST_TRANSACTION_PREFIX = "hnft-last-transaction ";

export interface LastTransaction {
  /** when that apply started (the host's clock), undefined when the host could not say */
  readonly startedAt?: Date;
  /** the guardian's result: what the host runs since */
  readonly verdict: Verdict;
  /** the guardian's record, line by line (why) */
  readonly record: readonly string[];
}

/** From the `hnft-last-transaction` lines of a step's output; undefined when there are none. */
export function parseLastTransaction(lines: readonly string[]): LastTransaction | undefined {
  let started: number | undefined;
  let result: string | undefined;
  const record: string[] = [];
  for (const raw of lines) {
    const line = raw.startsWith(LAST_TRANSACTION_PREFIX) ? raw.slice(LAST_TRANSACTION_PREFIX.length) : raw;
    const [kind, ...rest] = line.split(" ");
    const value = rest.join(" ");
    if (kind === "started") started = Number(value);
    else if (kind === "result") result = value;
    else if (kind === "record") record.push(value);
  }
  if (result === undefined) return undefined;
  return {
    startedAt: started && Number.isFinite(started) ? new Date(started * 1000) : undefined,
    verdict: parseVerdict(result),
    record,
  };
}

/** One message: which apply, that its controller never read the outcome, what the host runs since and why. */
export function describeLastTransaction(
  last: LastTransaction,
  ctx: { table: string; nftPath: string; confirmTimeout: number },
): string {
  const when = last.startedAt ? ` (started ${last.startedAt.toISOString()})` : "";
  const { word, fields } = last.verdict;
  const how =
    word === STATUS.committed
      ? "the proof of access had arrived, so the host committed it: it runs that apply's table, persisted."
      : fields.cause === undefined && word === STATUS.rolledBack
        ? "no proof of access arrived in time, so the host restored its previous state by itself: it runs the table it had before that apply."
        : describeHostState(word, ctx).stateText;
  const why = last.record.length > 0 ? ` The host's record: ${last.record.join("; ")}.` : "";
  return `an earlier apply of table inet ${ctx.table} on this host${when} ended without its controller (it was interrupted, killed, or lost the host): ${how}${why}`;
}
