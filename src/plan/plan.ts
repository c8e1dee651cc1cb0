import { catalogService } from "../catalog";
import { formatRanges } from "../fields/ports";
import { hasPorts, type PortProtocol } from "../fields/protocols";
import { controlOpenings, exposureIds, type OutputAllow, type Policy } from "../model/policy";
import { denySetName } from "../model/set-names";
import { plannedChains } from "./baseline";
import { planExposure } from "./exposure";
import { peersFor } from "./peers";
import type { ExposurePlan, OpeningGroup, Plan, PlannedSet, PublishedOpening } from "./types";

export type * from "./types";

export const DEFAULT_TABLE = "hardened";

function planOutputAllow(allow: OutputAllow): OpeningGroup {
  const id = `out-${allow.name}`;
  const { peers, sets } = peersFor(id, allow.destinations);
  const label = `to ${allow.protocol}/${formatRanges(allow.ports)}`;
  return {
    id,
    title: `output.allow ${label}`,
    sets,
    openings: [
      {
        chain: "output",
        kind: "new",
        protocol: allow.protocol,
        ports: allow.ports,
        portSide: "dport",
        peers,
        comment: allow.comment ? `${id}: ${label} (${allow.comment})` : `${id}: ${label}`,
      },
    ],
  };
}

function warnings(policy: Policy, exposures: readonly ExposurePlan[]): string[] {
  const out: string[] = [];
  const opensSsh = policy.exposures.some((e) =>
    controlOpenings(e).some((c) => c.protocol === "tcp" && c.ports.some((r) => r.from <= 22 && 22 <= r.to)),
  );
  if (!opensSsh && policy.trustedInterfaces) {
    out.push(
      "No exposure opens tcp/22: unless SSH comes in over a trusted interface or listens on another declared port, an apply will be rolled back as a lock-out.",
    );
  } else if (!opensSsh)
    out.push(
      "No exposure opens tcp/22: unless SSH listens on another declared port, an apply will be rolled back as a lock-out.",
    );
  if (policy.forward.policy === "accept" && policy.forward.guestInterfaces)
    out.push("forward.guestInterfaces has no effect while forward.policy is accept: every forwarded packet passes.");
  if (policy.output.policy !== "drop" && policy.output.allow.length > 0)
    out.push("output.allow has no effect while output.policy is accept.");
  for (const e of exposures) {
    const facts = e.explanation.helper === "scoped" ? catalogService(e.service).helper : undefined;
    if (facts?.scopedWarning) out.push(`${e.id}: ${facts.scopedWarning}`);
  }
  return out;
}

/**
 * The forward openings of an exposure on a host with guest networks: each port opening of the
 * input chain also admits what a runtime DNATs to a guest when the client asked for that port.
 * Exposures scoped to this host's own addresses are left out (a DNATed packet's destination is
 * the guest's), as are helper and portless openings: what no rule admits stays dropped.
 */
function withPublished(plan: ExposurePlan): ExposurePlan {
  const published: PublishedOpening[] = plan.openings.flatMap((o) =>
    o.chain === "input" && o.kind === "new" && hasPorts(o.protocol) && !o.local && !o.group
      ? [
          {
            kind: "published" as const,
            chain: "forward" as const,
            protocol: o.protocol as PortProtocol,
            ports: o.ports,
            peers: o.peers,
            ...(o.family ? { family: o.family } : {}),
            ...(o.interfaces ? { interfaces: o.interfaces } : {}),
            comment: `${o.comment}, also when DNATed to a guest`,
          },
        ]
      : [],
  );
  return published.length > 0 ? { ...plan, openings: [...plan.openings, ...published] } : plan;
}

/** The sets dropped early: the policy's block sets (elements written by other tools), then deny.sources (declared). */
function plannedBlockSets(policy: Policy): PlannedSet[] {
  const owned: PlannedSet[] = policy.blockSets.map((b) => ({
    name: b.name,
    family: b.family,
    elements: [],
    owner: "others",
    timeout: b.timeout,
    ...(b.size !== undefined ? { size: b.size } : {}),
    ...(b.comment !== undefined ? { comment: b.comment } : {}),
    ...(b.prefixes === false ? { singleAddresses: true } : {}),
  }));
  const denied = peersFor("deny", policy.deny.sources.length > 0 ? policy.deny.sources : undefined).sets.map((s) => ({
    ...s,
    name: denySetName(s.family),
  }));
  return [...owned, ...denied];
}

/** policy -> plan: every chain, baseline rule, opening, set and helper object the table will hold, and why. Pure. */
export function planPolicy(policy: Policy, fallbackTable = DEFAULT_TABLE): Plan {
  const table = policy.table ?? fallbackTable;
  const outputRestricted = policy.output.policy === "drop";
  const ids = exposureIds(policy.exposures);
  const guests = policy.forward.policy === "drop" && policy.forward.guestInterfaces !== undefined;
  const exposures = policy.exposures
    .map((exposure, index) => planExposure(exposure, ids[index]!, outputRestricted))
    .map((e) => (guests ? withPublished(e) : e));
  const attachesOutboundHelpers = exposures.some((e) =>
    e.openings.some((o) => o.chain === "output" && o.kind === "helper"),
  );
  const blockSets = plannedBlockSets(policy);
  const limitLog = exposures.some((e) => e.limit?.log)
    ? { rate: policy.log.rate, prefix: `${policy.log.prefix ?? `hnft ${table}`} limit: ` }
    : undefined;
  return {
    table,
    policy,
    chains: plannedChains(policy, table, attachesOutboundHelpers, blockSets),
    blockSets,
    ...(limitLog ? { limitLog } : {}),
    exposures,
    outputAllow: outputRestricted ? policy.output.allow.map(planOutputAllow) : [],
    neededModules: [...new Set(exposures.flatMap((e) => e.modules))].sort(),
    warnings: warnings(policy, exposures),
  };
}
