export {
  argumentErrors,
  type ConnectionArgs,
  type DeepInput,
  type ExposureArgs,
  HostFirewall,
  type HostFirewallArgs,
  HostFirewallArgsError,
} from "./component";
export { liveFileLines, liveRuleLines } from "./live";
export { describeTarget, tableNameFor } from "./names";
export { DYNAMIC_HOST_TABLE_TYPE, HOST_TABLE_TYPE, HostTable, type HostTableArgs } from "./resource";
export { HOST_FIREWALL_TOKEN, HOST_TABLE_TOKEN, packageSchema } from "./schema";
export type { HostPaths, HostTableInputs, HostTableOutputs, ProbedProfile } from "./types";
export { PACKAGE_VERSION } from "./version";
