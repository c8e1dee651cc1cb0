export { catalog, serviceNames } from "./catalog";
export { checkInScratchNamespace } from "./local/nft-check";
export { mergePolicies, type PolicyAddition } from "./model/merge";
export {
  type Exposure,
  type ExposureInput,
  ExposureSchema,
  type Policy,
  type PolicyInput,
  PolicySchema,
} from "./model/policy";
export { assertPolicy, formatIssues, PolicyError, parsePolicy } from "./model/validate";
export { type Explanation, type Plan, planPolicy } from "./plan/plan";
export {
  type ConnectionArgs,
  type ExposureArgs,
  HostFirewall,
  type HostFirewallArgs,
  HostFirewallArgsError,
  type HostPaths,
  HostTable,
  type ProbedProfile,
} from "./pulumi";
export { type Artefacts, KernelSupportError, render, renderPlan, renderPolicy } from "./render";
export { managedPaths } from "./render/paths";
export { DEFAULT_PROFILE, type HostProfile, profileForKernel } from "./render/profile";
