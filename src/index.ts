export { PolicySchema, ExposureSchema, type Policy, type PolicyInput, type Exposure, type ExposureInput } from "./model/policy";
export { parsePolicy, assertPolicy, PolicyError, formatIssues } from "./model/validate";
export { catalog, serviceNames } from "./catalog";
export { planPolicy, type Plan, type Explanation } from "./plan/plan";
export { render, renderPolicy, renderPlan, KernelSupportError, type Artefacts } from "./render";
export { profileForKernel, DEFAULT_PROFILE, type HostProfile } from "./render/profile";
export { managedPaths } from "./render/paths";
export { checkInScratchNamespace } from "./local/nft-check";
export { HostFirewall, HostFirewallArgsError, HostTable, type HostFirewallArgs, type ConnectionArgs, type ExposureArgs, type HostPaths, type ProbedProfile } from "./pulumi";
