import { createHash } from "node:crypto";
import type { Prefix } from "../fields/prefix";
import type { Policy } from "../model/policy";
import { assertPolicy } from "../model/validate";
import { type Explanation, type Plan, planPolicy } from "../plan/plan";
import { deniedModules, renderModprobe } from "./modprobe";
import { type RenderedTable, renderNftables } from "./nftables";
import { DEFAULT_PROFILE, type HostProfile, kernelProblems } from "./profile";
import { renderSysctl, sysctlSettings } from "./sysctl";

export interface Artefacts {
  readonly table: string;
  readonly nft: string;
  readonly sysctl: string;
  readonly modprobe: string;
  /** Keys the sysctl file sets, for applying live and reading back. */
  readonly sysctlSettings: readonly [string, string][];
  readonly ruleLines: readonly string[];
  readonly explain: readonly Explanation[];
  readonly warnings: readonly string[];
  readonly profile: HostProfile;
  /** Helper modules the modprobe.d file refuses; observe reports any that are loaded. */
  readonly deniedModules: readonly string[];
  /** Helper modules left out of the deny list because other tables on the host need them (keepLoadable). */
  readonly keptLoadable: readonly string[];
  /** Helper modules this table's scoped exposures need. */
  readonly neededModules: readonly string[];
  /** sha256 over the three files: equal hashes mean nothing to push. */
  readonly hash: string;
  readonly rendered: RenderedTable;
  /** The interfaces and own addresses the policy names: an apply warns about those the host lacks. */
  readonly names: PolicyNames;
}

export interface PolicyNames {
  /** Interface names and trailing-* patterns, of exposures and trustedInterfaces. */
  readonly interfaces: readonly string[];
  readonly destinations: readonly Prefix[];
}

function namesOf(policy: Policy): PolicyNames {
  const interfaces = [...(policy.trustedInterfaces ?? []), ...policy.exposures.flatMap((e) => e.interfaces ?? [])];
  const destinations = policy.exposures.flatMap((e) => e.destinations ?? []);
  return {
    interfaces: [...new Set(interfaces)],
    destinations: [...new Map(destinations.map((d) => [d.text, d])).values()],
  };
}

export class KernelSupportError extends Error {
  readonly code = "unsupported-kernel";
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "KernelSupportError";
  }
}

export interface RenderOptions {
  readonly profile?: HostProfile;
  readonly table?: string;
  /** Helper modules other tables of this project on the same host need: left out of the deny list. */
  readonly keepLoadable?: readonly string[];
}

export function renderPlan(
  plan: Plan,
  profile: HostProfile = DEFAULT_PROFILE,
  keepLoadable: readonly string[] = [],
): Artefacts {
  const rendered = renderNftables(plan);
  const problems = kernelProblems(profile, rendered.helpers.length > 0);
  if (problems.length > 0) throw new KernelSupportError(problems);
  const sysctl = renderSysctl(plan, profile);
  const modprobe = renderModprobe(plan, profile, keepLoadable);
  const hash = createHash("sha256")
    .update(rendered.text)
    .update("\0")
    .update(sysctl)
    .update("\0")
    .update(modprobe)
    .digest("hex");
  return {
    table: plan.table,
    nft: rendered.text,
    sysctl,
    modprobe,
    sysctlSettings: sysctlSettings(plan, profile),
    ruleLines: rendered.ruleLines,
    explain: plan.exposures.map((e) => e.explanation),
    warnings: plan.warnings,
    profile,
    deniedModules: deniedModules(plan, keepLoadable),
    keptLoadable: [...new Set(keepLoadable)].sort(),
    neededModules: plan.neededModules,
    hash,
    rendered,
    names: namesOf(plan.policy),
  };
}

/** policy (already validated) -> artefacts. Pure: the same input gives byte-identical output. */
export function renderPolicy(policy: Policy, options: RenderOptions = {}): Artefacts {
  return renderPlan(planPolicy(policy, options.table), options.profile, options.keepLoadable);
}

/** Validates raw input first; throws PolicyError naming every bad field. */
export function render(input: unknown, options: RenderOptions = {}): Artefacts {
  return renderPolicy(assertPolicy(input), options);
}

export { DEFAULT_PROFILE, type HostProfile } from "./profile";
