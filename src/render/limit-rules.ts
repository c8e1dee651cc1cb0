/**
 * How nft spells an exposure's per-source limits: before each of its input openings and published
 * ports (forward), a rule per family and kind that counts the source in a kernel-filled set and
 * refuses what goes over.
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
 * The verdict for what goes over a limit: dropped, or, when the policy says `denied: "reject"`,
 * answered at once (a TCP reset, else ICMP administratively prohibited) so a client over its
 * limit fails fast instead of retrying into silence. With log on, the refusal goes to the
 * over-limit chain, which logs (rate limited) and then refuses the same way.
 */
export function overLimitVerdict(limit: PlannedLimit, reject: boolean, l4: string): string {
  if (limit.log) return `goto ${OVER_LIMIT_CHAIN}`;
  return refusal(reject, l4);
}

/** Drop, or reject as the chain's end does (tcp reset for TCP, icmpx admin-prohibited otherwise). */
export function refusal(reject: boolean, l4: string): string {
  if (!reject) return "drop";
  // tcp: "tcp dport 22", a portless "meta l4proto tcp", or a published port's "meta l4proto tcp ct original ..."
  return l4.startsWith("tcp ") || l4 === "meta l4proto tcp" || l4.startsWith("meta l4proto tcp ")
    ? "reject with tcp reset"
    : "reject with icmpx admin-prohibited";
}

export const OVER_LIMIT_CHAIN = "over_limit";

/** The statements that refuse an opening's over-limit sources, per family it admits. */
export function limitStatements(
  limit: PlannedLimit,
  peer: string,
  family: Family,
  l4: string,
  reject: boolean,
): string[] {
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
      `${prefix} update @${meters.rate} { ${key} limit rate over ${limit.rate.rate}${burst} } counter ${overLimitVerdict(limit, reject, l4)}`,
    );
  }
  if (limit.connections && meters.conn) {
    out.push(
      `${prefix} add @${meters.conn} { ${key} ct count over ${limit.connections} } counter ${overLimitVerdict(limit, reject, l4)}`,
    );
  }
  return out;
}
