export { HostFirewall, HostFirewallArgsError, argumentErrors, type HostFirewallArgs, type ConnectionArgs, type DeepInput, type ExposureArgs } from "./component";
export { HostTable, HOST_TABLE_MODULE, HOST_TABLE_TYPE, type HostTableArgs } from "./resource";
export { hostTableProvider } from "./provider";
export { providerVersion } from "./version";
export { tableNameFor, describeTarget } from "./names";
export { liveRuleLines, liveFileLines } from "./live";
export type { HostPaths, ProbedProfile, HostTableInputs, HostTableOutputs } from "./types";
