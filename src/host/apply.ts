import { randomBytes } from "node:crypto";
import type { Connection } from "../model/connection";
import type { Policy } from "../model/policy";
import type { Artefacts } from "../render";
import { managedPaths, type ManagedPaths, type PathOverrides } from "../render/paths";
import { renderUnit } from "../render/systemd";
import { locateNftError } from "../local/nft-check";
import { type AllowOtherTables, deniedButNeeded, otherManagedTables, refusedTables, sysctlClashes, tablesToRelax } from "./coexist";
import { HostOperationError, LockoutRolledBackError, NftRejectedError, OtherTablesError } from "./errors";
import { CAUSE, parseVerdict, STATUS } from "./protocol";
import { describeHostState, stepFailed } from "./verdict";
import type { HostFacts } from "./probe";
import { withRenderedPolicy } from "./policy-session";
import { type RemoteOutput, runStep } from "./remote";
import { HostSession, type SessionStats } from "./ssh";

export interface HostOptions {
  /** Where state and the lock live on the host (tests point them into a per-host /etc). */
  readonly paths?: PathOverrides;
  readonly onLog?: (line: string) => void;
}

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
  /** SSH connections and round trips this apply used (the confirming connection included). */
  readonly stats: SessionStats;
}

export const DEFAULT_CONFIRM_TIMEOUT = 30;

export function pathParams(table: string, paths: ManagedPaths): Record<string, string> {
  return {
    table,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    nftPath: paths.nft,
    sysctlPath: paths.sysctl,
    modprobePath: paths.modprobe,
    unitPath: paths.unit,
    unitLink: paths.unitLink,
  };
}

export function sysctlParam(artefacts: Artefacts): string {
  return artefacts.sysctlSettings.map(([k, v]) => `${k} ${v}\n`).join("");
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
  const files: Record<string, string> = { nft: artefacts.nft, sysctl: artefacts.sysctl, modprobe: artefacts.modprobe, ...(unit ? { unit } : {}) };
  const allowedHelpers = [...new Set(artefacts.rendered.helpers.map((h) => h.type))].join(" ");
  const log = options.onLog ?? (() => undefined);

  await makeRoomBesideOtherTables(session, artefacts, facts, paths, options);
  const out = await runStep(session, {
    main: "apply",
    params: {
      ...pathParams(table, paths),
      token,
      hash: artefacts.hash,
      confirmTimeout: String(confirmTimeout),
      lockWait: String(options.lockWaitSeconds ?? confirmTimeout + 60),
      allowedHelpers,
      sysctl: sysctlParam(artefacts),
    },
    files,
  });
  const nftLines = out.stdout.split("\n").filter((l) => l.startsWith("nft: ")).map((l) => l.slice(5)).join("\n");
  const base = { target: session.target, hash: artefacts.hash, facts, artefacts, warnings: out.warnings };
  const ctx = { table, nftPath: paths.nft, confirmTimeout };
  const details = (lines: readonly string[]) => lines.map((l) => session.redact(l));
  const applied = parseVerdict(out.status);
  switch (applied.word) {
    case STATUS.unchanged:
      log(`${session.target}: unchanged`);
      return { ...base, changed: false, flushedConnections: 0, confirmStats: { connections: 0, roundTrips: 0 } };
    case STATUS.rejected: {
      const located = locateNftError(nftLines, artefacts.nft);
      throw new NftRejectedError(session.target, nftLines, located.line, located.lineText);
    }
    case STATUS.failed: {
      const host = applied.fields.host ?? "";
      // nft refused the table as it loaded it and the guardian put the previous one back exactly.
      if (applied.fields.step === "load-table" && host === STATUS.rolledBack && nftLines) {
        const located = locateNftError(nftLines, artefacts.nft);
        throw new NftRejectedError(session.target, nftLines, located.line, located.lineText);
      }
      throw stepFailed(session.target, `apply (step ${applied.fields.step ?? "unknown"})`, host, details([...out.details, ...nftLines.split("\n").filter(Boolean)]), ctx);
    }
    case STATUS.busy:
      throw new HostOperationError(session.target, `another run holds the lock for table ${table}; try again`);
    case STATUS.armed:
      break;
    default:
      throw new HostOperationError(
        session.target,
        `apply step ended unexpectedly (exit ${out.code}); if it got as far as arming the rollback, the host restores its previous state by itself within ${confirmTimeout}s: ${session.redact(out.stderr.trim())}`,
      );
  }
  log(`${session.target}: applied, rollback armed for ${confirmTimeout}s; proving access with a new connection`);

  const confirmParams = { ...pathParams(table, paths), token, wait: String(confirmTimeout + 30) };
  let confirmStats: SessionStats = { connections: 0, roundTrips: 0 };
  let verdictOut: RemoteOutput | undefined;
  let failure = "";
  try {
    const fresh = await HostSession.open(connection, {
      onLog: options.onLog,
      limits: { dialErrorLimit: Math.min(connection.dialErrorLimit, 3), perDialTimeout: Math.min(connection.perDialTimeout || 10, 10) },
    });
    try {
      verdictOut = await runStep(fresh, { main: "confirm", params: { ...confirmParams, mode: "confirm" } });
    } finally {
      confirmStats = fresh.stats;
      await fresh.close();
    }
  } catch (err) {
    failure = (err as Error).message;
  }
  if (!verdictOut?.status) {
    log(`${session.target}: a new connection failed (${failure}); asking the host for its verdict (it rolls back unless the proof arrived)`);
    try {
      verdictOut = await runStep(session, { main: "confirm", params: { ...confirmParams, mode: "wait" } });
    } catch (err) {
      throw new LockoutRolledBackError(session.target, `a new SSH connection failed (${failure}); the host rolls back by itself within ${confirmTimeout}s (${(err as Error).message})`);
    }
  }
  const verdict = parseVerdict(verdictOut.status);
  const { cause, step } = verdict.fields;
  const restoredExactly = verdict.word === STATUS.rolledBack && verdict.fields.files === undefined;
  if (verdict.word === STATUS.committed) {
    const flushed = Number(verdict.fields.flushed ?? "0");
    const warnings = /no-conntrack-tool/.test(verdictOut.status) ? [...out.warnings, "conntrack tool missing: connections that carry a helper were not flushed"] : out.warnings;
    return { ...base, warnings, changed: true, flushedConnections: Number.isFinite(flushed) ? flushed : 0, confirmStats };
  }
  if (restoredExactly && cause === undefined) throw new LockoutRolledBackError(session.target, failure ? `a new SSH connection failed: ${failure}` : "not confirmed in time");
  const guardianWords: string[] = [STATUS.rolledBack, STATUS.rolledBackToPersisted, STATUS.tableRemoved, STATUS.rollbackFailed];
  if (!guardianWords.includes(verdict.word)) {
    // No verdict of the guardian's (another run removed the transaction, or killed the guardian):
    // this apply was ended from outside, and what the host runs is that other run's doing.
    const { stateText, advice } = describeHostState(verdict.word, ctx);
    throw new HostOperationError(session.target, `apply did not finish: ${verdictOut.status || failure}. ${stateText} What to do: ${advice}`);
  }
  const what =
    cause === CAUSE.commitFailed
      ? `the new ruleset let a new SSH connection in, but persisting it (commit, step ${step ?? "unknown"})`
      : cause !== undefined
        ? `the transaction (${cause})`
        : `the new ruleset would lock you out (${failure ? `a new SSH connection failed: ${failure}` : "not confirmed in time"}); restoring the previous state`;
  throw stepFailed(session.target, what, verdict.word, details(verdictOut.details), ctx);
}

/**
 * Before anything changes: refuses when another table of this project is on the host and the
 * caller did not allow it. When allowed, this table's deny list must leave the others' modules
 * loadable (render with keepLoadable), and the others' deny lists stop refusing the modules this
 * table needs.
 */
async function makeRoomBesideOtherTables(session: HostSession, artefacts: Artefacts, facts: HostFacts, paths: ManagedPaths, options: ApplyOptions): Promise<void> {
  const table = artefacts.table;
  const others = otherManagedTables(facts, table);
  if (others.length === 0) return;
  const refused = refusedTables(others, options.allowOtherTables);
  if (refused.length > 0) throw new OtherTablesError(session.target, table, refused);
  const sysctls = sysctlClashes(artefacts, facts, table);
  if (sysctls.length > 0) {
    const list = sysctls.map((c) => `${c.key} = ${c.value}, but table inet ${c.table}'s sysctl.d file sets ${c.theirs}`).join("; ");
    throw new HostOperationError(session.target, `table inet ${table} would set ${list}: the host has one value; give both policies the same one (or set it in one of them). Nothing was changed.`);
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
    params: { runDir: paths.runDir, lockWait: String(options.lockWaitSeconds ?? (options.confirmTimeoutSeconds ?? DEFAULT_CONFIRM_TIMEOUT) + 60), modules: modules.join(" "), tables: relax.map((r) => r.table).join(" ") },
  });
  const relaxed = out.stdout.split("\n").filter((l) => l.startsWith("relaxed ")).map((l) => l.slice(8));
  if (out.status !== STATUS.relaxed) {
    const done = relaxed.length > 0 ? `; already relaxed: ${relaxed.map((t) => `table inet ${t}`).join(", ")}` : "; no file was changed";
    throw new HostOperationError(session.target, `could not leave ${modules.join(", ")} loadable in the other tables' modprobe.d files (${out.status || `exit ${out.code}`})${done}; table inet ${table} was not applied: ${session.redact(out.stderr.trim())}`);
  }
  for (const t of relaxed) {
    (options.onLog ?? (() => undefined))(`${session.target}: table inet ${t}'s modprobe.d file no longer refuses ${modules.join(", ")} (table inet ${table} needs them)`);
  }
}

export interface ApplyPolicyOptions extends ApplyOptions {
  readonly table?: string;
}

/** Probes, renders the validated policy with the host's own profile and applies: one connection plus the proof. */
export async function applyPolicy(connection: Connection, policy: Policy, options: ApplyPolicyOptions = {}): Promise<ApplyResult> {
  return withRenderedPolicy(connection, policy, options, async (session, artefacts, facts) => {
    const { confirmStats, ...rest } = await applyOnSession(session, connection, artefacts, facts, options);
    return { ...rest, stats: addStats(session.stats, confirmStats) };
  });
}
