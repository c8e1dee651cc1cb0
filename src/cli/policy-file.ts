import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { formatPath, type Result } from "../fields/issues";
import { mergeNamedPolicies } from "../model/merge";
import type { Policy } from "../model/policy";
import { PolicyError, parsePolicy } from "../model/validate";

/** Reads a policy file as JSON or YAML (JSON is YAML, but JSON errors read better from JSON.parse). */
export function readPolicyFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`--policy: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const trimmed = text.trimStart();
  try {
    return trimmed.startsWith("{") || trimmed.startsWith("[") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(`--policy: ${path} is not valid JSON or YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}

/**
 * One policy from one or more `--policy` files: the first is the base, each next one adds to it
 * (one table; see mergePolicies). Problems of the composition name the file and the field.
 */
export function readPolicyFiles(files: readonly string[]): Result<unknown> {
  const inputs = files.map(readPolicyFile);
  if (inputs.length === 1) return { ok: true, value: inputs[0] };
  try {
    return {
      ok: true,
      value: mergeNamedPolicies(inputs, (i, path) => `${files[i]}${path.length > 0 ? ` ${formatPath(path)}` : ""}`),
    };
  } catch (err) {
    if (err instanceof PolicyError) return { ok: false, issues: [...err.issues] };
    throw err;
  }
}

/** The validated policy of one or more `--policy` files. */
export function policyFromFiles(files: readonly string[]): Result<Policy> {
  const read = readPolicyFiles(files);
  return read.ok ? parsePolicy(read.value) : read;
}

export class UsageError extends Error {
  readonly code = "usage";
}
