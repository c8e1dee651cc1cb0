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
import { formatIssue, formatPath, type Issue } from "../fields/issues";
import { PolicyFields, type PolicyInput, PolicySchema } from "./policy";
import { PolicyError, policyIssues } from "./validate";

/** A part of a composed policy: any policy field, none required (exposures add to the base's). */
export type PolicyAddition = Partial<PolicyInput>;

const LIST_FIELDS = ["exposures", "output.allow"];

/** Each part alone: the policy's fields and types, none required; cross-checks run on the whole. */
const PartSchema = z.strictObject(PolicyFields).partial();

type Path = readonly (string | number)[];
type Origin = { part: number; index: number };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Merges `base` and `additions` into one policy input (defaults not applied, so the result can
 * go wherever a policy input goes: HostFirewall, assertPolicy (then applyPolicy), a YAML file). Throws a PolicyError
 * listing every problem, each naming its field (`additions[0].output.policy: ...`).
 */
export function mergePolicies(base: PolicyInput, ...additions: PolicyAddition[]): PolicyInput {
  const labels = ["base", ...additions.map((_, i) => `additions[${i}]`)];
  return mergeNamedPolicies([base, ...additions], (part, path) =>
    path.length === 0 ? labels[part]! : `${labels[part]}.${formatPath(path)}`,
  );
}

/**
 * The same for parts named by the caller (the CLI names them by file): `where(part, path)` says
 * where a field of a part is, e.g. `app.yaml exposures[1].name`.
 */
export function mergeNamedPolicies(
  parts: readonly unknown[],
  where: (part: number, path: Path) => string,
): PolicyInput {
  const issues: Issue[] = [];
  /** An issue of one part, its path named as the caller names places (`app.yaml exposures[1]`). */
  const issueAt = (part: number, path: Path, message: string): Issue => ({ path: [where(part, path)], message });
  const placed = (part: number, issue: Issue, message: (text: string) => string = (text) => text) =>
    issueAt(part, issue.path as Path, message(issue.message));

  parts.forEach((value, part) => {
    if (!isPlainObject(value)) {
      issues.push(
        issueAt(
          part,
          [],
          `expected a policy object, got ${value === null ? "null" : Array.isArray(value) ? "a list" : typeof value}`,
        ),
      );
      return;
    }
    const checked = PartSchema.safeParse(value);
    if (!checked.success) issues.push(...policyIssues(checked.error.issues, value).map((issue) => placed(part, issue)));
  });
  if (issues.length > 0) throw new PolicyError(issues);

  const merged: Record<string, unknown> = {};
  const setBy = new Map<string, number>();
  const origins = new Map<string, Origin[]>();

  const mergeInto = (target: Record<string, unknown>, value: Record<string, unknown>, at: string[], part: number) => {
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
        issues.push(
          issueAt(
            part,
            path,
            `${JSON.stringify(v)} conflicts with ${JSON.stringify(target[key])} set by ${where(setBy.get(name) ?? 0, path)}; one table has one value`,
          ),
        );
      }
    }
  };
  parts.forEach((value, part) => {
    mergeInto(merged, value as Record<string, unknown>, [], part);
  });
  if (issues.length > 0) throw new PolicyError(issues);

  // Problems only the whole has (two exposures of one name, one port with two helper modes, ...),
  // named where the exposure came from.
  const whole = PolicySchema.safeParse(merged);
  if (!whole.success) {
    const mentions = (text: string) =>
      text.replace(/(?<![\w.\]])(exposures|output\.allow)\[(\d+)\]/g, (all, list: string, n: string) => {
        const origin = origins.get(list)?.[Number(n)];
        return origin ? where(origin.part, [...list.split("."), origin.index]) : all;
      });
    for (const issue of whole.error.issues) {
      const path = issue.path as (string | number)[];
      const listName = LIST_FIELDS.find(
        (l) => path.slice(0, l.split(".").length).join(".") === l && typeof path[l.split(".").length] === "number",
      );
      const depth = listName?.split(".").length ?? 0;
      const origin = listName ? origins.get(listName)?.[path[depth] as number] : undefined;
      if (listName && origin) {
        const relative = [...listName.split("."), origin.index, ...path.slice(depth + 1)];
        issues.push(
          ...policyIssues([{ ...issue, path: relative }], parts[origin.part]).map((found) =>
            placed(origin.part, found, mentions),
          ),
        );
        continue;
      }
      issues.push(
        ...policyIssues([issue], merged).map((found) => ({
          path: ["merged policy"],
          message: mentions(formatIssue(found)),
        })),
      );
    }
    throw new PolicyError(issues);
  }
  return merged as PolicyInput;
}
