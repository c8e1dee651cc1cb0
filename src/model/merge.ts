/**
 * Policies compose in the model, not on the host: a base policy plus additions become ONE table.
 * (Two tables on one host admit only what both admit: nftables runs every input chain, and a
 * drop in any of them is final.)
 *
 * Lists add up (`exposures`, `output.allow`); objects merge field by field; any other field may
 * be set by several parts only to the same value, or the merge fails naming the field and both
 * parts. Problems inside a part are named at their place in that part
 * (`additions[1].exposures[0].passivePorts: ...`).
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { formatPath } from "./issues";
import { PolicyFields, PolicySchema, type PolicyInput } from "./policy";
import { formatIssues, PolicyError } from "./validate";

/** A part of a composed policy: any policy field, none required (exposures add to the base's). */
export type PolicyAddition = Partial<PolicyInput>;

const LIST_FIELDS = ["exposures", "output.allow"];

/** Each part alone: the policy's fields and types, none required; cross-checks run on the whole. */
const PartSchema = z.strictObject(PolicyFields).partial();

type Path = readonly (string | number)[];
type Origin = { part: Path; index: number };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Merges `base` and `additions` into one policy input (defaults not applied, so the result can
 * go wherever a policy goes: HostFirewall, applyPolicy, a YAML file). Throws a PolicyError
 * listing every problem, each naming its field.
 */
export function mergePolicies(base: PolicyInput, ...additions: PolicyAddition[]): PolicyInput {
  const parts: { path: Path; value: unknown }[] = [{ path: ["base"], value: base }, ...additions.map((value, i) => ({ path: ["additions", i] as Path, value }))];
  const wrapped = { base, additions };
  const errors: string[] = [];

  for (const part of parts) {
    if (!isPlainObject(part.value)) {
      errors.push(`${formatPath(part.path)}: expected a policy object, got ${part.value === null ? "null" : Array.isArray(part.value) ? "a list" : typeof part.value}`);
      continue;
    }
    const checked = PartSchema.safeParse(part.value);
    if (!checked.success) errors.push(...formatIssues(checked.error.issues, wrapped, part.path));
  }
  if (errors.length > 0) throw new PolicyError(errors);

  const merged: Record<string, unknown> = {};
  const setBy = new Map<string, Path>();
  const origins = new Map<string, Origin[]>();

  const mergeInto = (target: Record<string, unknown>, value: Record<string, unknown>, at: string[], part: Path) => {
    for (const [key, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const path = [...at, key];
      const name = path.join(".");
      if (LIST_FIELDS.includes(name)) {
        const list = (target[key] as unknown[] | undefined) ?? [];
        const added = v as unknown[];
        origins.set(name, [...(origins.get(name) ?? []), ...added.map((_, index) => ({ part, index }))]);
        target[key] = [...list, ...added];
      } else if (isPlainObject(v) && (target[key] === undefined || isPlainObject(target[key]))) {
        target[key] ??= {};
        mergeInto(target[key] as Record<string, unknown>, v, path, part);
      } else if (target[key] === undefined) {
        target[key] = v;
        setBy.set(name, part);
      } else if (!isDeepStrictEqual(target[key], v)) {
        const first = setBy.get(name) ?? ["base"];
        errors.push(`${formatPath([...part, ...path])}: ${JSON.stringify(v)} conflicts with ${JSON.stringify(target[key])} set by ${formatPath([...first, ...path])}; one table has one value`);
      }
    }
  };
  for (const part of parts) mergeInto(merged, part.value as Record<string, unknown>, [], part.path);
  if (errors.length > 0) throw new PolicyError(errors);

  // Problems only the whole has (two exposures of one name, one port with two helper modes, ...),
  // named where the exposure came from.
  const whole = PolicySchema.safeParse(merged);
  if (!whole.success) {
    for (const issue of whole.error.issues) {
      const path = issue.path as (string | number)[];
      const listName = LIST_FIELDS.find((l) => path.slice(0, l.split(".").length).join(".") === l && typeof path[l.split(".").length] === "number");
      if (listName) {
        const depth = listName.split(".").length;
        const origin = origins.get(listName)?.[path[depth] as number];
        if (origin) {
          const relative = [...listName.split("."), origin.index, ...path.slice(depth + 1)];
          errors.push(...formatIssues([{ ...issue, path: relative }], wrapped, origin.part).map((line) => renumber(line, listName, origins)));
          continue;
        }
      }
      errors.push(...formatIssues([issue], merged).map((line) => `merged policy: ${renumber(line, "exposures", origins)}`));
    }
    throw new PolicyError(errors);
  }
  return merged as PolicyInput;
}

/** Messages that mention another exposure by its merged index (`exposures[3]`) name its part instead. */
function renumber(line: string, listName: string, origins: Map<string, Origin[]>): string {
  const list = origins.get(listName) ?? [];
  const pattern = new RegExp(`(?<![\\w.\\]])${listName.replace(".", "\\.")}\\[(\\d+)\\]`, "g");
  // The path at the start of the line is already the part's own; only later mentions are merged indexes.
  const colon = line.indexOf(": ");
  if (colon < 0) return line;
  const head = line.slice(0, colon + 2);
  const rest = line.slice(colon + 2).replace(pattern, (whole, n: string) => {
    const origin = list[Number(n)];
    return origin ? `${formatPath(origin.part)}.${listName}[${origin.index}]` : whole;
  });
  return head + rest;
}
