import type { Plan } from "../plan/plan";
import { type HostProfile, kernelAtLeast } from "./profile";

export const HELPER_SYSCTL = "net.netfilter.nf_conntrack_helper";
export const CONNTRACK_MAX_SYSCTL = "net.netfilter.nf_conntrack_max";

/** Keys and values the sysctl.d file sets, in file order: also what apply sets live and observe reads back. */
export function sysctlSettings(plan: Plan, profile: HostProfile): [string, string][] {
  const settings: [string, string][] = [];
  if (profile.helperSysctl) settings.push([HELPER_SYSCTL, "0"]);
  if (plan.policy.conntrack.max !== undefined) settings.push([CONNTRACK_MAX_SYSCTL, String(plan.policy.conntrack.max)]);
  return settings;
}

export function renderSysctl(plan: Plan, profile: HostProfile): string {
  const lines = [`# pulumi-hardened-nftables: conntrack settings for table inet ${plan.table}`];
  if (profile.helperSysctl) {
    lines.push("# Automatic helper assignment off: helpers attach only where the ruleset says so.");
  } else if (kernelAtLeast(profile.kernel, 6, 0)) {
    lines.push("# Linux 6.0 removed automatic helper assignment and its sysctl: there is nothing to switch off.");
  } else {
    lines.push("# This kernel has no nf_conntrack_helper sysctl.");
  }
  for (const [key, value] of sysctlSettings(plan, profile)) lines.push(`${key} = ${value}`);
  return `${lines.join("\n")}\n`;
}
