export { HostFirewall, HostFirewallArgsError, argumentErrors, type HostFirewallArgs, type ConnectionArgs, type DeepInput, type ExposureArgs } from "./component";
export { HostTable, HOST_TABLE_TYPE, DYNAMIC_HOST_TABLE_TYPE, type HostTableArgs } from "./resource";
export { HOST_FIREWALL_TOKEN, HOST_TABLE_TOKEN, packageSchema } from "./schema";
export { PACKAGE_VERSION } from "./version";
export { tableNameFor, describeTarget } from "./names";
export { liveRuleLines, liveFileLines } from "./live";
export type { HostPaths, ProbedProfile, HostTableInputs, HostTableOutputs } from "./types";
