/**
 * Interfaces and destinations a policy names that the host does not have (yet). An apply warns
 * and goes on: containers, VPNs and VRRP create their interfaces and addresses after the firewall
 * loads, and nft matches interface names, not indexes, so the rules take effect when they appear.
 */
import ipaddr from "ipaddr.js";
import { interfaceCovers } from "../../fields/interfaces";
import { prefixBounds } from "../../fields/prefix";
import type { PolicyNames } from "../../render";
import type { HostInterface } from "./probe";

function addressValue(cidr: string): { family: "ipv4" | "ipv6"; value: bigint } | undefined {
  const text = cidr.split("/")[0]!;
  if (!ipaddr.isValid(text)) return undefined;
  const address = ipaddr.parse(text);
  let value = 0n;
  for (const byte of address.toByteArray()) value = (value << 8n) | BigInt(byte);
  return { family: address.kind() === "ipv4" ? "ipv4" : "ipv6", value };
}

export function absentNameWarnings(names: PolicyNames, interfaces: readonly HostInterface[]): string[] {
  const warnings: string[] = [];
  // a host whose probe reported no interface at all (no /sys, no ip) tells nothing either way
  if (interfaces.length === 0) return warnings;
  for (const name of names.interfaces) {
    if (interfaces.some((i) => interfaceCovers(name, i.name))) continue;
    warnings.push(
      `interface "${name}" is not on the host (it has ${interfaces.map((i) => i.name).join(", ")}): its rules match nothing until it appears`,
    );
  }
  const addresses = interfaces.flatMap((i) => i.addresses.map(addressValue)).filter((a) => a !== undefined);
  for (const destination of names.destinations) {
    const [from, to] = prefixBounds(destination);
    if (addresses.some((a) => a.family === destination.family && from <= a.value && a.value <= to)) continue;
    warnings.push(
      `destination ${destination.text} is none of the host's addresses: its rules match nothing until the host has it`,
    );
  }
  return warnings;
}
