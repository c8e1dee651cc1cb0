/**
 * The policy parsed and rendered once per resource and kind of host within one plugin process.
 *
 * A `pulumi up --refresh` calls check, read, diff and update for every host, and each rendered the
 * same policy again (3-4 parses and renders per resource; a fleet's hosts mostly share one policy
 * and one kernel profile). The key is everything the render reads: the policy as given (keys in
 * any order: the state hands objects back reordered), the table, the host profile and the modules
 * kept loadable for other tables. Only successes are kept (a bad policy is parsed again and
 * reports its own errors), in a small LRU so a long-lived plugin holds a few renders at most.
 * Callers treat the artefacts as read-only (their type says so).
 */
import { createHash } from "node:crypto";
import type { Issue } from "../fields/issues";
import type { Policy } from "../model/policy";
import { parsePolicy } from "../model/validate";
import type { Artefacts, HostProfile } from "../render";

/** Distinct renders kept: kinds of host x policies of one run, not hosts. */
export const RENDER_MEMO_SIZE = 16;

const parsed = new Map<string, Policy>();
const rendered = new Map<string, Artefacts>();

/** JSON with object keys sorted: equal for values the engine hands back in another key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

const digest = (text: string): string => createHash("sha256").update(text).digest("hex");

function remember<T>(map: Map<string, T>, key: string, value: T): T {
  map.delete(key);
  map.set(key, value);
  while (map.size > RENDER_MEMO_SIZE) map.delete(map.keys().next().value as string);
  return value;
}

function recall<T>(map: Map<string, T>, key: string): T | undefined {
  const hit = map.get(key);
  if (hit !== undefined) remember(map, key, hit);
  return hit;
}

/** The key of a policy input and its table. */
export function policyKey(policyInput: unknown, table: unknown): string {
  return digest(stableJson({ policy: policyInput ?? null, table: table ?? null }));
}

/** `parse()` once per policy key; failures are not kept. */
export function memoParse<E>(
  key: string,
  parse: () => { ok: true; value: Policy } | { ok: false; issues: E },
): { ok: true; value: Policy } | { ok: false; issues: E } {
  const hit = recall(parsed, key);
  if (hit) return { ok: true, value: hit };
  const result = parse();
  if (result.ok) remember(parsed, key, result.value);
  return result;
}

/** `render()` once per policy key, profile and kept-loadable modules. */
export function memoRender(
  key: string,
  profile: HostProfile,
  keepLoadable: readonly string[],
  render: () => Artefacts,
): Artefacts {
  const full = digest(stableJson({ key, profile, keepLoadable }));
  return recall(rendered, full) ?? remember(rendered, full, render());
}

/** Forget every render (tests). */
export function clearRenderMemo(): void {
  parsed.clear();
  rendered.clear();
}

/**
 * A policy input (an object, or its JSON text: what HostFirewall passes HostTable) with its table,
 * parsed once per key in this process: the program's component and the plugin both ask for it
 * more than once per resource, and 100,000 prefixes take a second to parse.
 */
export function parsedPolicyInput(
  policyInput: unknown,
  table: unknown,
  key = policyKey(policyInput, table),
): { ok: true; value: Policy } | { ok: false; issues: Issue[] } {
  return memoParse(key, () => {
    const policy = policyValue(policyInput);
    return policy.ok ? parsePolicy({ ...(policy.value as object), table }) : policy;
  });
}

function policyValue(input: unknown): { ok: true; value: unknown } | { ok: false; issues: Issue[] } {
  if (typeof input !== "string") return { ok: true, value: input };
  try {
    return { ok: true, value: JSON.parse(input) };
  } catch (err) {
    return {
      ok: false,
      issues: [{ path: [], message: `the policy's JSON text does not parse: ${(err as Error).message}` }],
    };
  }
}
