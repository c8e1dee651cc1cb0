/**
 * The one-line-per-item form of a table that previews and drift use: `pulumi preview --diff`
 * shows these lines, and the provider's read() rebuilds the live table's lines in the same form.
 * This module is the only one that writes or reads it.
 *
 *   ct helper <name>: type "<type>" protocol <p> l3proto <l3>
 *   set <name>: <element>
 *   chain <name>: policy <accept|drop>
 *   chain <name>: <statement> comment "<comment>"
 *   <group>: (<note>)          a mark drift puts where a line it cannot show stood
 */
import type { PlannedHelper } from "../plan/plan";

export type ParsedRuleLine =
  | { readonly kind: "helper"; readonly name: string }
  | { readonly kind: "set"; readonly name: string; readonly element: string }
  | { readonly kind: "policy"; readonly chain: string; readonly policy: string }
  | { readonly kind: "rule"; readonly chain: string; readonly text: string; readonly comment?: string }
  | { readonly kind: "note"; readonly group: string; readonly note: string };

export const helperGroup = (name: string) => `ct helper ${name}`;
export const setGroup = (name: string) => `set ${name}`;
export const chainGroup = (name: string) => `chain ${name}`;

export const helperLine = (h: PlannedHelper) =>
  `${helperGroup(h.name)}: type "${h.type}" protocol ${h.protocol} l3proto ${h.l3proto}`;
export const setElementLine = (set: string, element: string) => `${setGroup(set)}: ${element}`;
export const policyLine = (chain: string, policy: string) => `${chainGroup(chain)}: policy ${policy}`;
/** A rule as nft lists it: the statement, then its comment. */
export const ruleText = (statement: string, comment: string) => `${statement} comment "${comment}"`;
export const ruleLine = (chain: string, text: string) => `${chainGroup(chain)}: ${text}`;
export const noteLine = (group: string, note: string) => `${group}: (${note})`;

/** Which group a line belongs to: `chain input`, `set admin_v4`, `ct helper ftp-21`. */
export function ruleLineGroup(line: string): string {
  const at = line.indexOf(": ");
  return at < 0 ? line : line.slice(0, at);
}

/** The element of a set's element line (`set <name>: <element>`, a member in no order); undefined for any other line. */
export function setElementOf(line: string): string | undefined {
  const parsed = parseRuleLine(line);
  return parsed?.kind === "set" ? parsed.element : undefined;
}

/** The comment a rule's text ends with, as nft lists it. */
export function commentOf(text: string): string | undefined {
  return / comment "([^"]*)"$/.exec(text)?.[1];
}

export function parseRuleLine(line: string): ParsedRuleLine | undefined {
  const group = ruleLineGroup(line);
  const body = line.slice(group.length + 2);
  if (group === line) return undefined;
  const note = /^\((.*)\)$/.exec(body);
  if (note) return { kind: "note", group, note: note[1]! };
  const [word, name] = [group.slice(0, group.lastIndexOf(" ")), group.slice(group.lastIndexOf(" ") + 1)];
  if (word === "ct helper") return { kind: "helper", name };
  if (word === "set") return { kind: "set", name, element: body };
  if (word !== "chain") return undefined;
  const policy = /^policy (\S+)$/.exec(body);
  if (policy) return { kind: "policy", chain: name, policy: policy[1]! };
  return { kind: "rule", chain: name, text: body, comment: commentOf(body) };
}
