import { allHelperModules } from "../catalog";
import type { Plan } from "../plan/plan";
import type { HostProfile } from "./profile";

/**
 * Helper modules no scoped exposure needs: refused by modprobe so nothing can load them on demand.
 * `keepLoadable`: modules other tables of this project on the same host need (modprobe.d is
 * host-wide, so one table's deny list would break the other's helper).
 */
export function deniedModules(plan: Plan, keepLoadable: readonly string[] = []): string[] {
  return allHelperModules.filter((m) => !plan.neededModules.includes(m) && !keepLoadable.includes(m));
}

export function renderModprobe(plan: Plan, profile: HostProfile, keepLoadable: readonly string[] = []): string {
  const lines = [`# pulumi-hardened-nftables: conntrack helper modules for table inet ${plan.table}`];
  if (profile.helperModuleParam) {
    lines.push("# Automatic helper assignment off from the moment nf_conntrack loads.");
    lines.push("options nf_conntrack nf_conntrack_helper=0");
  }
  lines.push("# Helper modules no scoped exposure needs are refused. Never a 'ports' option: it renames helpers.");
  for (const module of deniedModules(plan, keepLoadable)) lines.push(`install ${module} /bin/false`);
  if (plan.neededModules.length > 0) lines.push(`# Allowed for scoped exposures: ${plan.neededModules.join(", ")}`);
  return `${lines.join("\n")}\n`;
}
