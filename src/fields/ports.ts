import { z } from "zod";
import type { Result } from "./issues";

export type Protocol = "tcp" | "udp";

/** An inclusive port range; a single port has from === to. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

const RANGE = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/;
const SINGLE = /^\s*(\d{1,5})\s*$/;

function checkPort(n: number): string | undefined {
  if (!Number.isInteger(n)) return `port ${n} is not a whole number`;
  if (n < 1 || n > 65535) return `port ${n} is outside 1-65535`;
  return undefined;
}

const refused = (message: string): Result<PortRange> => ({ ok: false, issues: [{ path: [], message }] });

/** Parses a number or an "a-b" string. */
export function parsePortSpec(value: number | string): Result<PortRange> {
  if (typeof value === "number") {
    const problem = checkPort(value);
    return problem ? refused(problem) : { ok: true, value: { from: value, to: value } };
  }
  const single = SINGLE.exec(value);
  if (single) return parsePortSpec(Number(single[1]));
  const range = RANGE.exec(value);
  if (!range) return refused(`"${value}" is not a port or a range "a-b"`);
  const from = Number(range[1]);
  const to = Number(range[2]);
  const problem = checkPort(from) ?? checkPort(to);
  if (problem) return refused(problem);
  if (from > to) return refused(`range ${from}-${to} is reversed`);
  return { ok: true, value: { from, to } };
}

/** One port or one inclusive range: 21, "21", "50000-51000". */
export const PortSpec = z
  .union([z.number(), z.string()], { error: 'expected a port number or a range string "a-b"' })
  .transform((value, ctx): PortRange => {
    const parsed = parsePortSpec(value);
    if (!parsed.ok) {
      for (const issue of parsed.issues) ctx.addIssue({ code: "custom", message: issue.message, input: value });
      return z.NEVER;
    }
    return parsed.value;
  });

/** One port spec or a non-empty list of them. */
export const PortList = z
  .union([PortSpec, z.array(PortSpec).min(1, { error: "needs at least one port" })])
  .transform((value): PortRange[] => normalizeRanges(Array.isArray(value) ? value : [value]));

/** Sorts and merges overlapping or adjacent ranges, so output is canonical. */
export function normalizeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.to - b.to);
  const merged: PortRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.from <= last.to + 1) {
      merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, range.to) };
    } else {
      merged.push({ ...range });
    }
  }
  return merged;
}

export function formatRange(range: PortRange): string {
  return range.from === range.to ? `${range.from}` : `${range.from}-${range.to}`;
}

export function formatRanges(ranges: readonly PortRange[]): string {
  return ranges.map(formatRange).join(", ");
}

export function rangesOverlap(a: readonly PortRange[], b: readonly PortRange[]): PortRange | undefined {
  for (const x of a) {
    for (const y of b) {
      const from = Math.max(x.from, y.from);
      const to = Math.min(x.to, y.to);
      if (from <= to) return { from, to };
    }
  }
  return undefined;
}
