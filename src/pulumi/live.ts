/**
 * What is live on a host, in the same line format as the desired inputs, derived from a
 * {@link DriftReport}: the desired lines minus what is missing, plus what was added by hand.
 * Pure. The provider's read() writes these lines back into the stored inputs, so the next
 * `pulumi preview --diff` shows the drift line by line (and wants an update that removes it).
 */
import type { DriftReport, FileDrift } from "../host/operations/drift-report";
import {
  chainGroup,
  commentOf,
  helperGroup,
  noteLine,
  parseRuleLine,
  policyLine,
  ruleLine,
  setElementLine,
  setGroup,
} from "../render/rule-lines";

type TableDrift = Pick<DriftReport, "tablePresent" | "rules" | "chains" | "sets" | "helpers">;

/** Lines of a file's content, without the empty line after the final newline. */
export function contentLines(content: string): string[] {
  const lines = content.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

const isRuleOf = (chain: string) => (line: string) => {
  const parsed = parseRuleLine(line);
  return parsed?.kind === "rule" && parsed.chain === chain;
};
const isPolicyOf = (chain: string) => (line: string) => {
  const parsed = parseRuleLine(line);
  return parsed?.kind === "policy" && parsed.chain === chain;
};
const inGroup = (group: string) => (line: string) => line.startsWith(`${group}: `);

/** Index of the desired line a rule the host lacks stands for: same text, else same comment. */
function findRemoved(
  lines: readonly (string | undefined)[],
  chain: string,
  text: string,
  comment: string | undefined,
): number {
  const exact = lines.indexOf(ruleLine(chain, text));
  if (exact >= 0) return exact;
  if (comment === undefined) return -1;
  return lines.findIndex((l) => l !== undefined && isRuleOf(chain)(l) && commentOf(l) === comment);
}

/** Position after the last line of `chain` (its rules, else its policy line), or the end. */
function afterChain(lines: readonly string[], chain: string): number {
  let at = -1;
  lines.forEach((l, i) => {
    if (inGroup(chainGroup(chain))(l)) at = i;
  });
  return at < 0 ? lines.length : at + 1;
}

/**
 * The table's lines as they are live. `desired` are the rendered rule lines (`ct helper ...`,
 * `set <name>: <element>`, `chain <name>: policy ...`, `chain <name>: <rule>`).
 */
export function liveRuleLines(desired: readonly string[], report: TableDrift): string[] {
  if (!report.tablePresent) return [];
  const lines: (string | undefined)[] = [...desired];
  const replace = (index: number, line: string | undefined) => {
    if (index >= 0) lines[index] = line;
  };

  for (const h of report.helpers) {
    const index = lines.findIndex((l) => l !== undefined && inGroup(helperGroup(h.name))(l));
    if (h.change === "missing") replace(index, undefined);
    else if (h.change === "changed") replace(index, noteLine(helperGroup(h.name), "changed on the host"));
    else lines.unshift(noteLine(helperGroup(h.name), "not declared"));
  }
  for (const set of report.sets) {
    for (const e of set.removed) replace(lines.indexOf(setElementLine(set.name, e)), undefined);
    // A set others fill has one line, its declaration: gone with the set.
    if (set.change === "missing")
      replace(
        lines.findIndex((l) => l?.startsWith(`${setGroup(set.name)}: (`)),
        undefined,
      );
    const lastOfSet = lines.reduce<number>(
      (at, l, i) => (l !== undefined && inGroup(setGroup(set.name))(l) ? i : at),
      -1,
    );
    const extra = set.added.map((e) => setElementLine(set.name, e));
    if (set.change && set.change !== "missing") extra.push(noteLine(setGroup(set.name), set.change));
    if (extra.length > 0) lines.splice(lastOfSet >= 0 ? lastOfSet + 1 : 0, 0, ...extra);
  }
  for (const c of report.chains) {
    const policyIndex = lines.findIndex((l) => l !== undefined && isPolicyOf(c.name)(l));
    const policyChange = /^policy (\S+) -> (\S+)$/.exec(c.change);
    if (c.change === "missing") replace(policyIndex, undefined);
    else if (policyChange) replace(policyIndex, policyLine(c.name, policyChange[2]!));
    else if (c.change === "unexpected") lines.push(noteLine(chainGroup(c.name), "not declared"));
    else lines.splice(policyIndex >= 0 ? policyIndex + 1 : lines.length, 0, noteLine(chainGroup(c.name), c.change));
  }
  for (const r of report.rules.removed) replace(findRemoved(lines, r.chain, r.text, r.comment), undefined);
  for (const r of report.rules.changed) {
    const comment = commentOf(r.before);
    const index = findRemoved(lines, r.chain, r.before, comment);
    if (index >= 0) lines[index] = ruleLine(r.chain, r.after);
    else lines.push(ruleLine(r.chain, r.after));
  }
  const kept = lines.filter((l): l is string => l !== undefined);
  for (const r of report.rules.added) kept.splice(afterChain(kept, r.chain), 0, ruleLine(r.chain, r.text));
  return kept;
}

/** A managed file's lines as they are live: missing -> [], changed -> desired minus removed plus added. */
export function liveFileLines(desired: readonly string[], drift: FileDrift | undefined): string[] {
  if (!drift) return [...desired];
  if (drift.status === "missing") return [];
  const removed = new Set(drift.removed);
  return [...desired.filter((l) => !removed.has(l)), ...drift.added];
}
