import type { Limit } from "../fields/limit";
import type { Family } from "../fields/prefix";
import { limitSetName } from "../model/set-names";
import { peersFor } from "./peers";
import type { PlannedLimit, PlannedSet } from "./types";

const FAMILIES: readonly Family[] = ["ipv4", "ipv6"];

/**
 * An exposure's per-source limit: a meter set per family and kind (the kernel writes their
 * elements, one per source, expiring), and the exempt sources as declared sets.
 */
export function planLimit(
  id: string,
  limit: Limit,
  families: readonly Family[],
): { limit: PlannedLimit; sets: PlannedSet[] } {
  const exemptSets = peersFor(`${id}_exempt`, limit.exemptSources).sets.map((s) => ({
    ...s,
    name: limitSetName(id, "exempt", s.family),
  }));
  const meters = { ipv4: {}, ipv6: {} } as Record<Family, { rate?: string; conn?: string }>;
  const sets: PlannedSet[] = [...exemptSets];
  for (const family of FAMILIES.filter((f) => families.includes(f))) {
    if (limit.rate) {
      const name = limitSetName(id, "rate", family);
      // The element expires once the source has been quiet for a while; a minute longer than the rate's period.
      sets.push({ name, family, elements: [], owner: "kernel", timeout: meterTimeout(limit.rate), size: 65535 });
      meters[family].rate = name;
    }
    if (limit.connections) {
      const name = limitSetName(id, "conn", family);
      sets.push({ name, family, elements: [], owner: "kernel", size: 65535 });
      meters[family].conn = name;
    }
  }
  const exempt: { ipv4?: string; ipv6?: string } = {};
  for (const s of exemptSets) exempt[s.family] = s.name;
  return {
    limit: {
      rate: limit.rate ? { rate: limit.rate, burst: limit.burst } : undefined,
      connections: limit.connections,
      sourceBits: { ipv4: limit.ipv4Prefix, ipv6: limit.ipv6Prefix },
      exempt,
      meters,
      log: limit.log,
    },
    sets,
  };
}

/** How long a quiet source's meter element lives: the rate's period, and at least a minute. */
function meterTimeout(rate: string): string {
  const unit = rate.split("/")[1];
  return unit === "day" ? "1d" : unit === "hour" ? "1h" : "1m";
}
