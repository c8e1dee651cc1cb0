import { type Family, minimalPrefixes, type Prefix } from "../fields/prefix";
import { peerSetName } from "../model/set-names";
import type { Peers, PlannedSet } from "./types";

/**
 * Sources (or destinations) become one named interval set per family, whatever their number,
 * never an inline list: drift compares a set's elements one by one (`set ssh_v4: 198.18.0.0/24`
 * added or removed), while an inline list is part of the rule's text, so a hand-added prefix
 * would show as a whole rule changed; and the rule reads the same for one prefix or five thousand.
 */
export function peersFor(id: string, prefixes: readonly Prefix[] | undefined): { peers: Peers; sets: PlannedSet[] } {
  if (!prefixes) return { peers: { kind: "any" }, sets: [] };
  const sets: PlannedSet[] = [];
  const peers: { kind: "sets"; ipv4?: string; ipv6?: string } = { kind: "sets" };
  for (const family of ["ipv4", "ipv6"] as const) {
    const members = minimalPrefixes(prefixes.filter((p) => p.family === family));
    if (members.length === 0) continue;
    const name = peerSetName(id, family);
    sets.push({ name, family, elements: members.map((p) => p.text) });
    peers[family] = name;
  }
  return { peers, sets };
}

export function describePeers(prefixes: readonly Prefix[] | undefined, preposition: "from" | "to" = "from"): string {
  if (!prefixes) return preposition === "from" ? "from anywhere" : "to anywhere";
  const shown = prefixes
    .slice(0, 3)
    .map((p) => p.text)
    .join(", ");
  return `${preposition} ${shown}${prefixes.length > 3 ? ` and ${prefixes.length - 3} more` : ""}`;
}

export function familiesOf(peers: Peers): Family[] {
  if (peers.kind === "any") return ["ipv4", "ipv6"];
  return (["ipv4", "ipv6"] as const).filter((f) => peers[f] !== undefined);
}
