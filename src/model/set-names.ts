/**
 * The names of the sets the renderer makes, in one place: the planner names its sets with these
 * functions, and the policy check refuses a block set that would take one of them.
 */
import type { Family } from "../fields/prefix";

const suffix = (family: Family) => (family === "ipv4" ? "v4" : "v6");

/** The address set of an exposure's (or output.allow entry's) peers. */
export const peerSetName = (id: string, family: Family) => `${id}_${suffix(family)}`;
/** The kernel-filled set a per-source limit keeps its counts in, and the set of its exempt sources. */
export const limitSetName = (id: string, kind: "rate" | "conn" | "exempt", family: Family) =>
  `${id}_${kind}_${suffix(family)}`;
/** The set of deny.sources. */
export const denySetName = (family: Family) => `deny_${suffix(family)}`;

const FAMILIES: readonly Family[] = ["ipv4", "ipv6"];

/** Every name the renderer may give a set, given the exposures' ids and the output.allow names (block sets aside). */
export function renderedSetNames(exposureIds: readonly string[], outputAllowNames: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const family of FAMILIES) {
    names.add(denySetName(family));
    for (const id of exposureIds) {
      names.add(peerSetName(id, family));
      for (const kind of ["rate", "conn", "exempt"] as const) names.add(limitSetName(id, kind, family));
    }
    for (const name of outputAllowNames) names.add(peerSetName(`out-${name}`, family));
  }
  return names;
}
