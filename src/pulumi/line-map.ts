/**
 * Lines in the shape the Pulumi engine diffs well.
 *
 * The engine diffs an array index by index: one rule inserted in the middle of a chain prints
 * as every later rule changed (`~ [19]: old => new`, `+ [20]: ...`). It diffs an object key by
 * key. A LineMap has one key per line, the line itself, and as its value the line before it in
 * the same group (a chain, a set, a helper object, a file), so `pulumi preview --diff` prints an
 * added rule as one `+` line, a removed one as one `-` line, and a move as a `~` of the rule's
 * predecessor. A set's elements have no order: an element's value is {@link ELEMENT}, not a link,
 * so one prefix changed among 100,000 prints as one `-` and one `+` line (no neighbour's link
 * changing with it) and the state holds each element once per map, not twice. Pure.
 */
export type LineMap = Record<string, string>;

export const FIRST = "(first)";
/** The value of a line that has no place in an order (a set's element). */
export const ELEMENT = "(element)";
const AFTER = "after: ";
const DUPLICATE = / \(#\d+\)$/;

/**
 * One key per line; a repeated line gets ` (#n)` so no line is lost. `groupOf` names a line's group
 * (for rule lines: render/rule-lines.ts ruleLineGroup); `unordered` lines (a set's elements) get
 * {@link ELEMENT} and are no line's predecessor.
 */
export function toLineMap(
  lines: readonly string[],
  groupOf: (line: string) => string = () => "",
  unordered: (line: string) => boolean = () => false,
): LineMap {
  const map: LineMap = {};
  const lastOfGroup = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const line of lines) {
    const n = (seen.get(line) ?? 0) + 1;
    seen.set(line, n);
    const key = n === 1 ? line : `${line} (#${n})`;
    if (unordered(line)) {
      map[key] = ELEMENT;
      continue;
    }
    const group = groupOf(line);
    const previous = lastOfGroup.get(group);
    map[key] = previous === undefined ? FIRST : `${AFTER}${previous}`;
    lastOfGroup.set(group, key);
  }
  return map;
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
