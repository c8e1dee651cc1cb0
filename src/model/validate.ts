import type { z } from "zod";
import { serviceNames } from "../catalog";
import { formatIssues, formatPath, type Issue, type Result } from "../fields/issues";
import { type Policy, PolicySchema } from "./policy";

export { formatIssues, type Issue, type Result } from "../fields/issues";

/** Thrown where a caller wants an exception; `errors` holds one `path: problem` line per issue. */
export class PolicyError extends Error {
  readonly code = "invalid-policy";
  readonly errors: string[];
  constructor(readonly issues: readonly Issue[]) {
    const errors = formatIssues(issues);
    super(`invalid policy:\n${errors.map((e) => `  ${e}`).join("\n")}`);
    this.errors = errors;
    this.name = "PolicyError";
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key as string];
  }
  return current;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

/** Turns zod issues into ours, worded for people, picking the union branch the user meant. */
export function policyIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  prefix: readonly PropertyKey[] = [],
): Issue[] {
  const found: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    const at = (message: string, where: readonly PropertyKey[] = path): Issue => ({ path: where, message });
    const missing = ["invalid_type", "invalid_union", "invalid_value"].includes(issue.code);
    if (missing && valueAt(input, path) === undefined && path.length > 0) {
      found.push(at("is required"));
      continue;
    }
    switch (issue.code) {
      case "invalid_union": {
        const branches = issue.errors;
        if ((issue as { note?: string }).note === "No matching discriminator") {
          found.push(
            at(
              `unknown service ${JSON.stringify(valueAt(input, path))} (known: ${serviceNames.join(", ")}; or give name, protocol and ports for a custom exposure)`,
            ),
          );
          break;
        }
        if (branches.length === 2 && isExposurePath(path)) {
          const value = valueAt(input, path);
          if (value === null || typeof value !== "object" || Array.isArray(value)) {
            found.push(at(`expected an object with a service (or name, protocol and ports), got ${describe(value)}`));
            break;
          }
          const service = (value as Record<string, unknown>).service;
          const branch = service !== undefined && service !== "custom" ? branches[0]! : branches[1]!;
          found.push(...policyIssues(branch, input, path));
          break;
        }
        found.push(...policyIssues(likeliestBranch(branches), input, path));
        break;
      }
      case "unrecognized_keys":
        for (const key of issue.keys) found.push(at("unknown field", [...path, key]));
        break;
      case "invalid_type":
        if (valueAt(input, path) === undefined) found.push(at("is required"));
        else found.push(at(`expected ${issue.expected}, got ${describe(valueAt(input, path))}`));
        break;
      case "invalid_value":
        if (/^Invalid (input|option): /.test(issue.message)) {
          found.push(
            at(`${issue.message.replace(/^Invalid (input|option): /, "")}, got ${describe(valueAt(input, path))}`),
          );
        } else found.push(at(issue.message));
        break;
      default:
        found.push(at(issue.message));
    }
  }
  return unique(found);
}

/** Issues once each (a union's branches can report the same problem twice). */
export function unique(issues: readonly Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${formatPath(i.path)}\0${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The branch that got past the type check: the one whose problems are about the value, not its type. */
function likeliestBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] {
  let best = branches[0] ?? [];
  let bestScore = Number.POSITIVE_INFINITY;
  for (const branch of branches) {
    const score = branch.filter((i) => i.path.length === 0 && isTypeMismatch(i)).length * 100 + branch.length;
    if (score < bestScore) {
      best = branch;
      bestScore = score;
    }
  }
  return best;
}

function isTypeMismatch(issue: z.core.$ZodIssue): boolean {
  if (issue.code === "invalid_type") return true;
  if (issue.code !== "invalid_union") return false;
  return issue.errors.every((branch) => branch.some((i) => i.path.length === 0 && isTypeMismatch(i)));
}

function isExposurePath(path: readonly PropertyKey[]): boolean {
  return path.length === 2 && path[0] === "exposures" && typeof path[1] === "number";
}

export function parsePolicy(input: unknown): Result<Policy> {
  const result = PolicySchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: policyIssues(result.error.issues, input) };
}

export function assertPolicy(input: unknown): Policy {
  const parsed = parsePolicy(input);
  if (!parsed.ok) throw new PolicyError(parsed.issues);
  return parsed.value;
}
