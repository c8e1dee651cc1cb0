/** The host layer: everything that touches a machine, over one SSH connection per operation. */
export { HostSession, withSession, ConnectionError, HostKeyMismatchError, type SessionStats } from "./ssh";
export { ConnectionSchema, parseConnection, redact, type Connection, type ConnectionInput } from "../model/connection";
export { probeHost, probeSession, type HostFacts, type ManagedTable } from "./operations/probe";
export { modulesOtherTablesNeed, otherManagedTables, type AllowOtherTables } from "./operations/coexist";
export { DEFAULT_CONFIRM_TIMEOUT, HostOptionsError, HostOptionsSchema, parseHostOptions } from "../model/host-options";
export { applyPolicy, applyOnSession, type ApplyOptions, type ApplyPolicyOptions, type ApplyResult } from "./operations/apply";
export type { HostOptions } from "./wire/params";
export { observePolicy, observeOnSession } from "./operations/observe";
export { formatDrift, summarizeDrift, hasRepairableDrift, type DriftReport, type FileDrift } from "./operations/drift-report";
export { removeTable, removeOnSession, type RemoveResult } from "./operations/remove";
export { NftRejectedError, LockoutRolledBackError, HostOperationError, HostStepFailedError, OtherTablesError } from "./errors";
export { managedPaths, type ManagedPaths, type PathOverrides } from "../render/paths";
export { tableStats, statsOnSession, countersFromJson, type Counter, type CounterKind, type TableCounters } from "./operations/stats";
