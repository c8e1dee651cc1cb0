/** The host layer: everything that touches a machine, over one SSH connection per operation. */
export { HostSession, withSession, ConnectionError, HostKeyMismatchError, type SessionStats } from "./ssh";
export { ConnectionSchema, parseConnection, redact, type Connection, type ConnectionInput } from "../model/connection";
export { probeHost, probeSession, type HostFacts, type ManagedTable } from "./probe";
export { modulesOtherTablesNeed, otherManagedTables, type AllowOtherTables } from "./coexist";
export { applyPolicy, applyOnSession, DEFAULT_CONFIRM_TIMEOUT, type ApplyOptions, type ApplyPolicyOptions, type ApplyResult } from "./apply";
export type { HostOptions } from "./params";
export { observePolicy, observeOnSession } from "./observe";
export { formatDrift, summarizeDrift, hasRepairableDrift, type DriftReport, type FileDrift } from "./drift-report";
export { removeTable, removeOnSession, type RemoveResult } from "./remove";
export { NftRejectedError, LockoutRolledBackError, LostContactError, HostOperationError, HostStepFailedError, OtherTablesError } from "./errors";
export { managedPaths, type ManagedPaths, type PathOverrides } from "../render/paths";
