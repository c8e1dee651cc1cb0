/**
 * The host's own addresses an exposure is scoped to. Only unicast host addresses and prefixes
 * make sense there: a multicast or broadcast destination is never "this host's address", and a
 * prefix covering them (0.0.0.0/0, ::/0) is "any destination", which leaving the field out says.
 */
import { z } from "zod";
import { type Prefix, PrefixSchema, prefixBounds } from "./prefix";

const NOT_UNICAST: Record<Prefix["family"], { range: Prefix; what: string }[]> = {
  ipv4: [
    { range: { family: "ipv4", text: "224.0.0.0/4" }, what: "multicast" },
    { range: { family: "ipv4", text: "255.255.255.255" }, what: "the broadcast address" },
    { range: { family: "ipv4", text: "0.0.0.0" }, what: "the unspecified address" },
    { range: { family: "ipv4", text: "127.0.0.0/8" }, what: "loopback (accepted before any exposure)" },
  ],
  ipv6: [
    { range: { family: "ipv6", text: "ff00::/8" }, what: "multicast" },
    { range: { family: "ipv6", text: "::" }, what: "the unspecified address" },
    { range: { family: "ipv6", text: "::1" }, what: "loopback (accepted before any exposure)" },
  ],
};

/** Why `prefix` is not a unicast host address or prefix, or undefined. */
export function destinationProblem(prefix: Prefix): string | undefined {
  const [start, end] = prefixBounds(prefix);
  for (const { range, what } of NOT_UNICAST[prefix.family]) {
    const [from, to] = prefixBounds(range);
    if (start <= to && from <= end)
      return `"${prefix.text}" is or covers ${what}; a destination must be a unicast address or prefix of this host`;
  }
  return undefined;
}

export const DestinationSchema = PrefixSchema.superRefine((prefix, ctx) => {
  const problem = destinationProblem(prefix);
  if (problem) ctx.addIssue({ code: "custom", message: problem, input: prefix.text });
});

export const Destinations = z
  .array(DestinationSchema)
  .min(1, { error: "is empty; leave it out to accept on any of this host's addresses" });
