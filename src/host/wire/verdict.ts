/**
 * What a host's verdict means for the operator: the state the host is really in after a step
 * failed, and what to do. Pure: the words come from status.env (./protocol).
 */
import { HostStepFailedError } from "../errors";
import { STATUS } from "./protocol";

export interface StateContext {
  readonly table: string;
  /** The persisted table file on the host. */
  readonly nftPath: string;
  readonly confirmTimeout: number;
}

/** The host's state in one sentence, and the advice that goes with it. */
export function describeHostState(word: string, ctx: StateContext): { stateText: string; advice: string } {
  const again = "fix the cause named above, then apply again (the next apply starts from this state).";
  switch (word) {
    case STATUS.unchanged:
      return {
        stateText: "The host is unchanged: nothing was written and the previous table, files and sysctls are in place.",
        advice: again,
      };
    case STATUS.rolledBack:
      return {
        stateText:
          "The host rolled back: it runs its previous table, with its previous files and sysctls, as before this apply.",
        advice: again,
      };
    case STATUS.rolledBackToPersisted:
      return {
        stateText:
          `The backup of the previous table could not be loaded, so the host loaded the last committed table file instead (${ctx.nftPath} as it was before this apply): ` +
          `table inet ${ctx.table} is the one of the last successful apply, without changes made on the host since; the previous files and sysctls are back.`,
        advice: `check the host with \`hardened-nftables diff\`, fix the cause named above, then apply again.`,
      };
    case STATUS.tableRemoved:
      return {
        stateText:
          `Neither the backup of the previous table nor the last committed table file could be loaded, so the host deleted table inet ${ctx.table}: ` +
          "it is NOT filtered by this project now, only as closed as its other tables make it; the previous files and sysctls are back.",
        advice:
          "apply again as soon as possible (a good policy reinstalls the table), after fixing the cause named above.",
      };
    case STATUS.rollbackFailed:
      return {
        stateText: `The host could neither restore nor delete table inet ${ctx.table}: the table that failed may still be live and may block SSH.`,
        advice: `reach the host another way (console) and run \`nft delete table inet ${ctx.table}\`, or \`hardened-nftables remove\` if SSH still works.`,
      };
    case STATUS.armed:
      return {
        stateText: `The new table is live and the rollback is still armed: the host restores its previous state by itself within ${ctx.confirmTimeout}s.`,
        advice: "wait for the rollback, check the host with `hardened-nftables diff`, then apply again.",
      };
    default:
      return {
        stateText: `The host's state is not known (its last word was "${word || "none"}"): the table that was being applied may be live and not persisted.`,
        advice:
          "check the host with `hardened-nftables diff` (or `nft list table inet " +
          ctx.table +
          "` on it), then apply again.",
      };
  }
}

export function stepFailed(
  target: string,
  step: string,
  word: string,
  details: readonly string[],
  ctx: StateContext,
): HostStepFailedError {
  const { stateText, advice } = describeHostState(word, ctx);
  return new HostStepFailedError(target, step, word, details, stateText, advice);
}
