import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";

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

export class UsageError extends Error {
  readonly code = "usage";
}
