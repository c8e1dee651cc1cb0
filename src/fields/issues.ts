/**
 * The one result convention of validation: a validated value, or every problem found, each an
 * {@link Issue} (where, and what), kept structured until it is printed with {@link formatIssue}.
 * Effects (connecting, running host steps) fail with typed error classes instead.
 */

/** One problem with some input: where it is, and what is wrong, in words naming no secret. */
export interface Issue {
  /** Where: `["exposures", 2, "passivePorts"]`; the input's root is `[]`. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /**
   * Sibling fields the message names by their bare name ("set without privateKey"): a printer
   * qualifies them (`connection.privateKey`) or names them its own way (`--identity`).
   */
  readonly refs?: readonly string[];
  /** For the few issues a printer words its own way (the CLI's flags). */
  readonly code?: string;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: Issue[] };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const failed = <T = never>(issues: Issue[]): Result<T> => ({ ok: false, issues });

/** `["exposures", 2, "passivePorts"]` -> `exposures[2].passivePorts`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * `path: problem`, the message's references named by `name` (default: qualified with the
 * issue's parent path). `root` names an issue about the whole input.
 */
export function formatIssue(
  issue: Issue,
  root = "policy",
  name: (path: readonly PropertyKey[]) => string = formatPath,
): string {
  let message = issue.message;
  const parent = issue.path.slice(0, -1);
  for (const ref of issue.refs ?? []) message = message.replace(new RegExp(`\\b${ref}\\b`), name([...parent, ref]));
  return `${formatPath(issue.path) || root}: ${message}`;
}

/** One line per issue, duplicates dropped. */
export function formatIssues(issues: readonly Issue[], root = "policy"): string[] {
  return [...new Set(issues.map((i) => formatIssue(i, root)))];
}

/** The issues without repeats: one issue per `keyOf` (by default its whole path and message). */
export function uniqueIssues(
  issues: readonly Issue[],
  keyOf: (issue: Issue) => string = (i) => `${i.path.map(String).join("\0")}\0${i.message}`,
): Issue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = keyOf(issue);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Gathers the issues of several results: `take` returns a result's value, or keeps its issues and returns undefined. */
export function gatherIssues(): { readonly issues: Issue[]; take<T>(result: Result<T>): T | undefined } {
  const issues: Issue[] = [];
  return {
    issues,
    take<T>(result: Result<T>): T | undefined {
      if (result.ok) return result.value;
      issues.push(...result.issues);
      return undefined;
    },
  };
}
