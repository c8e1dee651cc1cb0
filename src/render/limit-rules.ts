/**
 * How nft spells an exposure's per-source limits: before each of its input openings, a rule per
 * family and kind that counts the source in a kernel-filled set and refuses what goes over.
 */
import ipaddr from "ipaddr.js";
import type { Family } from "../fields/prefix";
import type { PlannedLimit } from "../plan/plan";

/** The source as one meter element: the address, or its network when a source is a prefix. */
function sourceKey(family: Family, bits: number): string {
  const field = family === "ipv4" ? "ip saddr" : "ip6 saddr";
  if (bits === (family === "ipv4" ? 32 : 128)) return field;
  const mask =
    family === "ipv4" ? ipaddr.IPv4.subnetMaskFromPrefixLength(bits) : ipaddr.IPv6.subnetMaskFromPrefixLength(bits);
  return `${field} & ${mask.toString()}`;
}

/**
 * The verdict for what goes over a limit. THE single place where `reject` plugs in once the
 * policy can say that denied traffic is rejected (issue 19's `denied`): until then, drop.
 * With log on, the refusal goes to the over-limit chain, which logs (rate limited) and drops.
 */
export function overLimitVerdict(limit: PlannedLimit): string {
  return limit.log ? `goto ${OVER_LIMIT_CHAIN}` : "drop";
}

export const OVER_LIMIT_CHAIN = "over_limit";

/** The statements that refuse an opening's over-limit sources, per family it admits. */
export function limitStatements(limit: PlannedLimit, peer: string, family: Family, l4: string): string[] {
  const exempt = limit.exempt[family];
  const field = family === "ipv4" ? "ip saddr" : "ip6 saddr";
  // An opening for any source names no family: the meter's key does.
  const prefix = [exempt ? `${field} != @${exempt}` : "", peer, l4, "ct state new"].filter(Boolean).join(" ");
  const key = sourceKey(family, limit.sourceBits[family]);
  const meters = limit.meters[family];
  const out: string[] = [];
  if (limit.rate && meters.rate) {
    const burst = limit.rate.burst !== undefined ? ` burst ${limit.rate.burst} packets` : "";
    out.push(
      `${prefix} update @${meters.rate} { ${key} limit rate over ${limit.rate.rate}${burst} } counter ${overLimitVerdict(limit)}`,
    );
  }
  if (limit.connections && meters.conn) {
    out.push(
      `${prefix} add @${meters.conn} { ${key} ct count over ${limit.connections} } counter ${overLimitVerdict(limit)}`,
    );
  }
  return out;
}
