import ipaddr from "ipaddr.js";
import { z } from "zod";
import type { Result } from "./issues";

export type Family = "ipv4" | "ipv6";

/** An address prefix in canonical form: host bits cleared, shortest notation. */
export interface Prefix {
  readonly family: Family;
  readonly text: string;
}

const refused = (message: string): Result<Prefix> => ({ ok: false, issues: [{ path: [], message }] });

export function parsePrefix(value: string): Result<Prefix> {
  const input = value.trim();
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let length: number;
  try {
    if (input.includes("/")) {
      [address, length] = ipaddr.parseCIDR(input);
    } else {
      address = ipaddr.parse(input);
      length = address.kind() === "ipv4" ? 32 : 128;
    }
  } catch {
    return refused(`"${value}" is not an IPv4 or IPv6 address or prefix`);
  }
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return refused(`"${value}" is an IPv4-mapped IPv6 address; write the IPv4 prefix instead`);
  }
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).zoneId) {
    return refused(`"${value}" has a zone index, which a firewall set cannot hold`);
  }
  const family: Family = address.kind() === "ipv4" ? "ipv4" : "ipv6";
  const network = networkOf(address, length);
  const bits = family === "ipv4" ? 32 : 128;
  const text = length === bits ? network.toString() : `${network.toString()}/${length}`;
  return { ok: true, value: { family, text } };
}

/** The address with its host bits cleared (what ipaddr's networkAddressFromCIDR does, without printing and parsing it again). */
function networkOf(address: ipaddr.IPv4 | ipaddr.IPv6, length: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const kept = Math.min(8, Math.max(0, length - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - kept)) & 0xff);
  }
  return ipaddr.fromByteArray(bytes);
}

export const PrefixSchema = z
  .string({ error: "expected an address or prefix string" })
  .transform((value, ctx): Prefix => {
    const parsed = parsePrefix(value);
    if (!parsed.ok) {
      for (const issue of parsed.issues) ctx.addIssue({ code: "custom", message: issue.message, input: value });
      return z.NEVER;
    }
    return parsed.value;
  });

/** Numeric [start, end] of a prefix, for merging overlapping prefixes into nft interval sets. */
export function prefixBounds(prefix: Prefix): [bigint, bigint] {
  const [address, length] = prefix.text.includes("/")
    ? ipaddr.parseCIDR(prefix.text)
    : [ipaddr.parse(prefix.text), prefix.family === "ipv4" ? 32 : 128];
  const bytes = address.toByteArray();
  let start = 0n;
  for (const byte of bytes) start = (start << 8n) | BigInt(byte);
  const hostBits = BigInt(bytes.length * 8 - length);
  const end = start | ((1n << hostBits) - 1n);
  return [start, end];
}

/**
 * Removes prefixes covered by others, so an nft interval set without auto-merge accepts them,
 * and sorts them so the rendered set is byte-identical for the same input.
 */
export function minimalPrefixes(prefixes: readonly Prefix[]): Prefix[] {
  const withBounds = prefixes.map((p) => ({ p, bounds: prefixBounds(p) }));
  withBounds.sort((a, b) =>
    a.bounds[0] < b.bounds[0]
      ? -1
      : a.bounds[0] > b.bounds[0]
        ? 1
        : a.bounds[1] > b.bounds[1]
          ? -1
          : a.bounds[1] < b.bounds[1]
            ? 1
            : 0,
  );
  const kept: typeof withBounds = [];
  for (const item of withBounds) {
    const last = kept[kept.length - 1];
    if (last && item.bounds[1] <= last.bounds[1]) continue;
    kept.push(item);
  }
  return kept.map((k) => k.p);
}
