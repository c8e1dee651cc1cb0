/**
 * The words and exit codes of the host scripts, read from the one file that defines them
 * (scripts/status.env, which lib.sh sources). A key the TypeScript needs and the file lacks is
 * an error when this module loads, not a verdict misread later.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const STATUS_FILE = join(__dirname, "..", "scripts", "status.env");

/** `KEY=value` lines; comments and blank lines ignored; anything else is refused. */
export function parseStatusFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^([A-Z][A-Z0-9_]*)=([a-z0-9-]+)$/.exec(line);
    if (!m) throw new Error(`${STATUS_FILE}:${i + 1}: expected KEY=value (a-z, 0-9, -), got "${line}"`);
    if (m[1]! in out) throw new Error(`${STATUS_FILE}:${i + 1}: ${m[1]} defined twice`);
    out[m[1]!] = m[2]!;
  });
  return out;
}

const STATUS_KEYS = {
  unchanged: "STATUS_UNCHANGED",
  armed: "STATUS_ARMED",
  busy: "STATUS_BUSY",
  rejected: "STATUS_REJECTED",
  failed: "STATUS_FAILED",
  badParameter: "STATUS_BAD_PARAMETER",
  removed: "STATUS_REMOVED",
  partlyRemoved: "STATUS_PARTLY_REMOVED",
  pending: "STATUS_PENDING",
  gone: "STATUS_GONE",
  aborted: "STATUS_ABORTED",
  noTransaction: "STATUS_NO_TRANSACTION",
  relaxed: "STATUS_RELAXED",
  partlyRelaxed: "STATUS_PARTLY_RELAXED",
  committed: "STATUS_COMMITTED",
  rolledBack: "STATUS_ROLLED_BACK",
  rolledBackToPersisted: "STATUS_ROLLED_BACK_PERSISTED",
  tableRemoved: "STATUS_TABLE_REMOVED",
  rollbackFailed: "STATUS_ROLLBACK_FAILED",
} as const;

const CAUSE_KEYS = {
  commitFailed: "CAUSE_COMMIT_FAILED",
  applyFailed: "CAUSE_APPLY_FAILED",
  guardianFailed: "CAUSE_GUARDIAN_FAILED",
} as const;

const EXIT_KEYS = {
  ok: "EXIT_OK",
  rejected: "EXIT_REJECTED",
  noTransaction: "EXIT_NO_TRANSACTION",
  busy: "EXIT_BUSY",
  failed: "EXIT_FAILED",
  badParameter: "EXIT_BAD_PARAMETER",
  noTempDir: "EXIT_NO_TEMP_DIR",
  noUnpack: "EXIT_NO_UNPACK",
} as const;

/** Every key of status.env the TypeScript reads (the unit test checks the file has no others). */
export const USED_KEYS: readonly string[] = [
  ...Object.values(STATUS_KEYS),
  ...Object.values(CAUSE_KEYS),
  ...Object.values(EXIT_KEYS),
];

function pick<K extends string>(
  defs: Record<string, string>,
  keys: Record<K, string>,
  what: string,
): Record<K, string> {
  const missing = Object.values<string>(keys).filter((k) => !(k in defs));
  if (missing.length > 0) throw new Error(`${STATUS_FILE}: ${what} missing: ${missing.join(", ")}`);
  return Object.fromEntries(Object.entries<string>(keys).map(([name, key]) => [name, defs[key]!])) as Record<K, string>;
}

const defs = parseStatusFile(readFileSync(STATUS_FILE, "utf8"));

export const STATUS = pick(defs, STATUS_KEYS, "status words");
export const CAUSE = pick(defs, CAUSE_KEYS, "causes");
export const HOST_EXIT = Object.fromEntries(
  Object.entries(pick(defs, EXIT_KEYS, "exit codes")).map(([k, v]) => {
    if (!/^[0-9]+$/.test(v))
      throw new Error(`${STATUS_FILE}: ${EXIT_KEYS[k as keyof typeof EXIT_KEYS]} is not a number: ${v}`);
    return [k, Number(v)];
  }),
) as Record<keyof typeof EXIT_KEYS, number>;

/** A verdict line: its word, then `key=value` fields; other words (free text) are dropped. */
export interface Verdict {
  readonly word: string;
  readonly fields: Readonly<Record<string, string>>;
}

export function parseVerdict(line: string): Verdict {
  const [word = "", ...rest] = line.trim().split(/\s+/);
  const fields: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { word, fields };
}
