/** The result of validating raw input: the value, or one `path: problem` line per problem. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** `["exposures", 2, "passivePorts"]` -> `exposures[2].passivePorts`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}
