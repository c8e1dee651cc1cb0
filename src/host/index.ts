/** The host layer: everything that touches a machine, over one SSH connection per operation. */

export { type Connection, type ConnectionInput, ConnectionSchema, parseConnection, redact } from "../model/connection";
export {
  DEFAULT_CONFIRM_TIMEOUT,
  HostOptionsError,
  type HostOptionsInput,
  HostOptionsSchema,
  parseHostOptions,
} from "../model/host-options";
export { type ManagedPaths, managedPaths, type PathOverrides } from "../render/paths";
export {
  atOrAbove,
  type Finding,
  factsFromGathered,
  type HostAuditFacts,
  judge,
  SEVERITIES,
  type Severity,
} from "./audit/findings";
export { type Proposal, type ProposedExposure, propose } from "./audit/propose";
export { auditJson, auditSarif, formatAuditText } from "./audit/report";
export {
  GuestsCutOffError,
  HostOperationError,
  HostStepFailedError,
  LockoutRolledBackError,
  LostContactError,
  NftRejectedError,
  OtherTablesError,
} from "./errors";
export {
  type ApplyOptions,
  type ApplyPolicyOptions,
  type ApplyResult,
  applyOnSession,
  applyPolicy,
} from "./operations/apply";
export { auditFleet, auditHost, auditSession, type FleetResult, type HostAudit } from "./operations/audit";
export { type AllowOtherTables, modulesOtherTablesNeed, otherManagedTables } from "./operations/coexist";
export {
  type DriftReport,
  type FileDrift,
  formatDrift,
  hasRepairableDrift,
  summarizeDrift,
} from "./operations/drift-report";
export { type GuestInterface, guestInterfacesOf, guestsCutOff, RUNTIME_INTERFACES } from "./operations/guests";
export { observeOnSession, observePolicy } from "./operations/observe";
export { type HostFacts, type ManagedTable, probeHost, probeSession } from "./operations/probe";
export { type RemoveResult, removeOnSession, removeTable } from "./operations/remove";
export {
  describeRuntimeTable,
  RUNTIME_CHAINS,
  RUNTIME_TABLES,
  RUNTIMES,
  type RuntimeTable,
  runtimeTablesOf,
} from "./operations/runtime-tables";
export {
  type Counter,
  type CounterKind,
  countersFromJson,
  statsOnSession,
  type TableCounters,
  tableStats,
} from "./operations/stats";
export { ConnectionError, HostKeyMismatchError, HostSession, type SessionStats, withSession } from "./ssh";
export type { HostOptions } from "./wire/params";
