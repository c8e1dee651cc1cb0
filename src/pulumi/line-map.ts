/**
 * Lines in the shape the Pulumi engine diffs well.
 *
 * The engine diffs an array index by index: one rule inserted in the middle of a chain prints
 * as every later rule changed (`~ [19]: old => new`, `+ [20]: ...`). It diffs an object key by
 * key. A LineMap has one key per line, the line itself, and as its value the line before it in
 * the same group (a chain, a helper object, a file), so `pulumi preview --diff` prints an added
 * rule as one `+` line, a removed one as one `-` line, and a move as a `~` of the rule's
 * predecessor.
 *
 * A set's elements have no order and may be 100,000: they are one key per set (the group, `set
 * bulk_v6`) whose value is {@link setElements}, the elements one a line, sorted. A map of one key per
 * element cost the engine and the plugin a map entry per element in every message and every copy
 * of the state (a 100,000-prefix drift check took 38 s); a string is one value. The engine prints a
 * changed multi-line string as a line diff with two lines of context (pkg/backend/display
 * object_diff.go printTextDiff), so one prefix changed among 100,000 prints as one `-` and one `+`
 * line beside four unchanged neighbours. Pure.
 */
export type LineMap = Record<string, string>;

export const FIRST = "(first)";
/** The value of a set element's own key in the line maps of 0.2.0 and earlier builds of 0.3.0. */
const LEGACY_ELEMENT = "(element)";
const AFTER = "after: ";
const DUPLICATE = / \(#\d+\)$/;

function collect(sets: Map<string, string[]>, group: string, member: string): void {
  const elements = sets.get(group);
  if (elements) elements.push(member);
  else sets.set(group, [member]);
}

/**
 * A set's value: a first line that says how many, then the elements one a line, sorted. The first line
 * starts with `|` followed by text, which neither YAML nor JSON accepts: before it prints a changed
 * string, the engine tries to decode it as JSON or YAML to diff the decoded values, and a list of
 * addresses one a line is valid YAML (one long folded scalar, which it would print whole, and its
 * duplicate-key check is quadratic in the number of lines); so it prints the line diff at once.
 */
export function setElements(elements: readonly string[]): string {
  // one order whatever the order they came in (the state's sorted keys, a refresh's additions at the end)
  const sorted = [...elements].sort();
  // every line ends in a newline: the engine's line diff tells "x" from "x\n", so without it the
  // last element would print as changed whenever another one sorts after it
  return `${[`| ${sorted.length} element${sorted.length === 1 ? "" : "s"}`, ...sorted].join("\n")}\n`;
}

/** The elements of a {@link setElements} value. */
export function elementsOf(value: string): string[] {
  return value.split("\n").slice(1, -1);
}

/**
 * One key per line; a repeated line gets ` (#n)` so no line is lost. `groupOf` names a line's group
 * (for rule lines: render/rule-lines.ts ruleLineGroup); `element` gives the element of a set's
 * element line, whose group is then one key with all its elements ({@link setElements}).
 */
export function toLineMap(
  lines: readonly string[],
  groupOf: (line: string) => string = () => "",
  element: (line: string) => string | undefined = () => undefined,
): LineMap {
  const map: LineMap = {};
  const lastOfGroup = new Map<string, string>();
  const seen = new Map<string, number>();
  const sets = new Map<string, string[]>();
  for (const line of lines) {
    const member = element(line);
    if (member !== undefined) {
      collect(sets, groupOf(line), member);
      continue;
    }
    const n = (seen.get(line) ?? 0) + 1;
    seen.set(line, n);
    const key = n === 1 ? line : `${line} (#${n})`;
    const group = groupOf(line);
    const previous = lastOfGroup.get(group);
    map[key] = previous === undefined ? FIRST : `${AFTER}${previous}`;
    lastOfGroup.set(group, key);
  }
  for (const [group, elements] of sets) map[group] = setElements(elements);
  return map;
}

/**
 * A stored map in today's shape: a map of 0.2.0 (one key per element, linked to its neighbour) or
 * of an earlier build of 0.3.0 (one key per element, valued "(element)") gets one key per set, so
 * the first diff after an upgrade compares like with like and shows no change that is none.
 */
export function foldedElements(
  map: LineMap,
  groupOf: (line: string) => string,
  element: (line: string) => string | undefined,
): LineMap {
  const lines = Object.keys(map);
  if (!lines.some((key) => map[key] === LEGACY_ELEMENT || element(key) !== undefined)) return map;
  const out: LineMap = {};
  const sets = new Map<string, string[]>();
  for (const key of lines) {
    const member = element(key.replace(DUPLICATE, ""));
    if (member === undefined) out[key] = map[key]!;
    else collect(sets, groupOf(key), member);
  }
  for (const [group, elements] of sets) out[group] = setElements(elements);
  return out;
}

/**
 * The lines of a one-group map (a file) in order. The engine stores objects with sorted keys, so
 * the order is rebuilt from the predecessor links; a line whose link is broken (edited state)
 * follows in key order rather than being dropped.
 */
export function fromLineMap(map: LineMap): string[] {
  const successor = new Map<string, string>();
  const firsts: string[] = [];
  for (const [key, value] of Object.entries(map)) {
    if (value === FIRST) firsts.push(key);
    else if (value.startsWith(AFTER)) successor.set(value.slice(AFTER.length), key);
  }
  const ordered: string[] = [];
  const placed = new Set<string>();
  for (const first of firsts.sort()) {
    for (let key: string | undefined = first; key !== undefined && !placed.has(key); key = successor.get(key)) {
      placed.add(key);
      ordered.push(key);
    }
  }
  for (const key of Object.keys(map).sort()) if (!placed.has(key)) ordered.push(key);
  return ordered.map((key) => key.replace(DUPLICATE, ""));
}
