import { randomBytes } from "node:crypto";
import { locateNftError } from "../../local/nft-error";
import type { Connection } from "../../model/connection";
import { DEFAULT_CONFIRM_TIMEOUT } from "../../model/host-options";
import type { Policy } from "../../model/policy";
import type { Artefacts } from "../../render";
import { managedPaths } from "../../render/paths";
import { renderUnit } from "../../render/systemd";
import { HostOperationError, NftRejectedError } from "../errors";
import type { HostSession, SessionStats } from "../ssh";
import { describeLastTransaction, parseLastTransaction } from "../wire/last-transaction";
import { checkedOptions, type HostOptions, pathParams, sysctlParam } from "../wire/params";
import { parseVerdict, STATUS } from "../wire/protocol";
import { type RemoteOutput, runStep } from "../wire/remote";
import { type StateContext, stepFailed } from "../wire/verdict";
import { absentNameWarnings } from "./absent-names";
import type { AllowOtherTables } from "./coexist";
import { proveAccessAndCommit } from "./confirm";
import { makeRoomBesideOtherTables } from "./make-room";
import { withRenderedPolicy } from "./policy-session";
import type { HostFacts } from "./probe";

export interface ApplyOptions extends HostOptions {
  /** Seconds the host waits for proof of access before it restores the previous state. */
  readonly confirmTimeoutSeconds?: number;
  /** Seconds to wait for another run's lock on the same host and table. */
  readonly lockWaitSeconds?: number;
  /**
   * Apply although other tables of this project are on the host (true: any; a list: these).
   * Refused by default: two tables admit only what both admit (see coexist.ts).
   */
  readonly allowOtherTables?: AllowOtherTables;
}

export interface ApplyResult {
  readonly target: string;
  /** false: the host already matched; nothing was written and the table was not reloaded. */
  readonly changed: boolean;
  readonly hash: string;
  readonly facts: HostFacts;
  readonly artefacts: Artefacts;
  /** Connections whose helper the policy no longer allows, deleted after commit. */
  readonly flushedConnections: number;
  readonly warnings: readonly string[];
  /** An earlier apply whose outcome no controller read, as the host recorded it (also among the warnings). */
  readonly lastTransaction?: string;
  /** SSH connections and round trips this apply used (the confirming connection included). */
  readonly stats: SessionStats;
}

function addStats(a: SessionStats, b: SessionStats): SessionStats {
  return { connections: a.connections + b.connections, roundTrips: a.roundTrips + b.roundTrips };
}

/**
 * Applies rendered artefacts on an open session: check on the target kernel, back up, arm the
 * on-host rollback, apply, prove access over a NEW connection, commit. The artefacts must have
 * been rendered with this host's profile (see applyPolicy).
 */
export async function applyOnSession(
  session: HostSession,
  connection: Connection,
  artefacts: Artefacts,
  facts: HostFacts,
  options: ApplyOptions = {},
): Promise<Omit<ApplyResult, "stats"> & { confirmStats: SessionStats }> {
  const table = artefacts.table;
  const paths = managedPaths(table, options.paths);
  const confirmTimeout = options.confirmTimeoutSeconds ?? DEFAULT_CONFIRM_TIMEOUT;
  const token = randomBytes(12).toString("hex");
  const unit = facts.init.startsWith("systemd") ? renderUnit(table, paths, facts.nftBinary) : undefined;
  const files: Record<string, string> = {
    nft: artefacts.nft,
    sysctl: artefacts.sysctl,
    modprobe: artefacts.modprobe,
    ...(unit ? { unit } : {}),
  };
  const allowedHelpers = [...new Set(artefacts.rendered.helpers.map((h) => h.type))].join(" ");
  const log = options.onLog ?? (() => undefined);

  const lockWaitSeconds = options.lockWaitSeconds ?? confirmTimeout + 60;
  await makeRoomBesideOtherTables(session, artefacts, facts, paths.runDir, {
    allowOtherTables: options.allowOtherTables,
    lockWaitSeconds,
    onLog: options.onLog,
  });
  const out = await runStep(session, {
    main: "apply",
    params: {
      ...pathParams(table, paths),
      token,
      hash: artefacts.hash,
      confirmTimeout: String(confirmTimeout),
      lockWait: String(lockWaitSeconds),
      allowedHelpers,
      sysctl: sysctlParam(artefacts),
    },
    files,
  });
  const last = parseLastTransaction(out.lastTransaction);
  const lastWarning = last ? [describeLastTransaction(last, { table, nftPath: paths.nft, confirmTimeout })] : [];
  const base = {
    target: session.target,
    hash: artefacts.hash,
    facts,
    artefacts,
    warnings: [...lastWarning, ...absentNameWarnings(artefacts.names, facts.interfaces), ...out.warnings],
    ...(lastWarning[0] ? { lastTransaction: lastWarning[0] } : {}),
  };
  if (!armedByApplyStep(session, out, artefacts, { table, nftPath: paths.nft, confirmTimeout })) {
    log(`${session.target}: unchanged`);
    return { ...base, changed: false, flushedConnections: 0, confirmStats: { connections: 0, roundTrips: 0 } };
  }
  log(`${session.target}: applied, rollback armed for ${confirmTimeout}s; proving access with a new connection`);

  const confirmed = await proveAccessAndCommit(session, connection, {
    table,
    paths,
    token,
    confirmTimeout,
    onLog: options.onLog,
  });
  const warnings = confirmed.conntrackToolMissing
    ? [...base.warnings, "conntrack tool missing: connections that carry a helper were not flushed"]
    : base.warnings;
  return {
    ...base,
    warnings,
    changed: true,
    flushedConnections: confirmed.flushedConnections,
    confirmStats: confirmed.stats,
  };
}

/**
 * The apply step's verdict: true when the new table is live with the rollback armed, false when the
 * host already matched. Anything else throws what the host now runs (or the candidate's nft error).
 */
function armedByApplyStep(session: HostSession, out: RemoteOutput, artefacts: Artefacts, ctx: StateContext): boolean {
  const nftLines = out.stdout
    .split("\n")
    .filter((l) => l.startsWith("nft: "))
    .map((l) => l.slice(5))
    .join("\n");
  const rejected = () => {
    const located = locateNftError(nftLines, artefacts.nft);
    return new NftRejectedError(session.target, nftLines, located.line, located.lineText);
  };
  const applied = parseVerdict(out.status);
  switch (applied.word) {
    case STATUS.unchanged:
      return false;
    case STATUS.armed:
      return true;
    case STATUS.rejected:
      throw rejected();
    case STATUS.failed: {
      const host = applied.fields.host ?? "";
      // nft refused the table as it loaded it and the guardian put the previous one back exactly.
      if (applied.fields.step === "load-table" && host === STATUS.rolledBack && nftLines) throw rejected();
      const details = [...out.details, ...nftLines.split("\n").filter(Boolean)].map((l) => session.redact(l));
      throw stepFailed(session.target, `apply (step ${applied.fields.step ?? "unknown"})`, host, details, ctx);
    }
    case STATUS.busy:
      throw new HostOperationError(session.target, `another run holds the lock for table ${ctx.table}; try again`);
    default:
      throw new HostOperationError(
        session.target,
        `apply step ended unexpectedly (exit ${out.code}); if it got as far as arming the rollback, the host restores its previous state by itself within ${ctx.confirmTimeout}s: ${session.redact(out.stderr.trim())}`,
      );
  }
}

export interface ApplyPolicyOptions extends ApplyOptions {
  readonly table?: string;
}

/**
 * Probes, renders the validated policy with the host's own profile and applies: one connection plus
 * the proof. Invalid options throw HostOptionsError before any connection.
 */
export async function applyPolicy(
  connection: Connection,
  policy: Policy,
  given: ApplyPolicyOptions = {},
): Promise<ApplyResult> {
  const options = checkedOptions(given);
  return withRenderedPolicy(connection, policy, options, async (session, artefacts, facts) => {
    const { confirmStats, ...rest } = await applyOnSession(session, connection, artefacts, facts, options);
    return { ...rest, stats: addStats(session.stats, confirmStats) };
  });
}
