/**
 * The detailed diff of a HostTable: one entry per rule line and file line that is added, removed
 * or moved (the line maps of line-map.ts, key by key), plus the plain inputs that changed. The
 * engine prints exactly these paths, so a preview lists the changed rules one by one.
 */
import { isDeepStrictEqual } from "node:util";
import { HostArgsFields } from "./types";

/** pulumirpc.PropertyDiff.Kind */
export const DIFF_KIND = { add: 0, addReplace: 1, delete: 2, deleteReplace: 3, update: 4, updateReplace: 5 } as const;

export interface PropertyDiff {
  readonly kind: (typeof DIFF_KIND)[keyof typeof DIFF_KIND];
  /** true: compare old and new inputs (not the old outputs) at this path. */
  readonly inputDiff: boolean;
}

type Props = Record<string, unknown>;

const LINE_MAPS = ["rules", "sysctl", "modprobe"] as const;
/** How long the host waits for the proof of access: a change alone is nothing to apply. */
const NOT_APPLIED: readonly string[] = ["confirmTimeoutSeconds"];

/** Inputs whose change means applying again: every argument but the policy (diffed as its lines) and NOT_APPLIED; target follows connection. */
const PLAIN_INPUTS = [...Object.keys(HostArgsFields).filter((key) => !NOT_APPLIED.includes(key)), "target"];

/** Equal as the engine stores them: absent and undefined fields are the same. */
const sameStored = (a: unknown, b: unknown) =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));

/** `rules["tcp dport 22 accept comment \"ssh\""]`: the engine's property path of one map key. */
export function mapKeyPath(property: string, key: string): string {
  return `${property}["${key.replace(/"/g, '\\"')}"]`;
}

function lineMap(value: unknown): Record<string, string> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, string>) : {};
}

function lineMapDiff(property: string, olds: unknown, news: unknown): [string, PropertyDiff][] {
  const [before, after] = [lineMap(olds), lineMap(news)];
  const entries: [string, PropertyDiff][] = [];
  for (const key of Object.keys(after)) {
    if (!(key in before)) entries.push([mapKeyPath(property, key), { kind: DIFF_KIND.add, inputDiff: true }]);
    else if (before[key] !== after[key])
      entries.push([mapKeyPath(property, key), { kind: DIFF_KIND.update, inputDiff: true }]);
  }
  for (const key of Object.keys(before)) {
    if (!(key in after)) entries.push([mapKeyPath(property, key), { kind: DIFF_KIND.delete, inputDiff: true }]);
  }
  return entries;
}

/**
 * `files` are the sysctl and modprobe line maps the new policy renders for the host's recorded
 * kernel (the inputs' own were rendered for no host in particular).
 */
export function detailedDiff(
  olds: Props,
  news: Props,
  files: { sysctl: unknown; modprobe: unknown },
  replaces: readonly string[],
): Record<string, PropertyDiff> {
  const newValues: Props = { ...news, ...files };
  const entries: [string, PropertyDiff][] = LINE_MAPS.flatMap((p) => lineMapDiff(p, olds[p], newValues[p]));
  for (const p of PLAIN_INPUTS) {
    if (replaces.includes(p)) entries.push([p, { kind: DIFF_KIND.updateReplace, inputDiff: true }]);
    else if (p !== "target" && !sameStored(olds[p], news[p]))
      entries.push([p, { kind: DIFF_KIND.update, inputDiff: true }]);
  }
  return Object.fromEntries(entries);
}
