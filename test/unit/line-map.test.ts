import { describe, expect, it } from "vitest";
import { ELEMENT, FIRST, fromLineMap, toLineMap } from "../../src/pulumi/line-map";
import { isSetElementLine, ruleLineGroup } from "../../src/render/rule-lines";

/** The state stores objects with sorted keys: what the provider gets back. */
const throughState = (map: Record<string, string>) =>
  Object.fromEntries(Object.entries(map).sort(([a], [b]) => a.localeCompare(b)));

describe("line maps (what the engine diffs key by key)", () => {
  const rules = [
    "chain input: policy drop",
    "chain forward: policy drop",
    'chain input: tcp dport 22 accept comment "ssh: control"',
    'chain input: tcp dport 443 accept comment "https: control"',
    "set admin_v4: 198.51.100.0/24",
    'chain forward: limit rate 5/minute log prefix "x" comment "log"',
  ];

  it("keys are the lines; values name the line before in the same group", () => {
    expect(toLineMap(rules, ruleLineGroup)).toEqual({
      "chain input: policy drop": FIRST,
      "chain forward: policy drop": FIRST,
      'chain input: tcp dport 22 accept comment "ssh: control"': "after: chain input: policy drop",
      'chain input: tcp dport 443 accept comment "https: control"':
        'after: chain input: tcp dport 22 accept comment "ssh: control"',
      "set admin_v4: 198.51.100.0/24": FIRST,
      'chain forward: limit rate 5/minute log prefix "x" comment "log"': "after: chain forward: policy drop",
    });
  });

  it("a rule inserted in the middle is one new key and one changed value, nothing else", () => {
    const before = toLineMap(rules, ruleLineGroup);
    const inserted = [
      ...rules.slice(0, 3),
      'chain input: tcp dport 80 accept comment "http: control"',
      ...rules.slice(3),
    ];
    const after = toLineMap(inserted, ruleLineGroup);
    const added = Object.keys(after).filter((k) => !(k in before));
    const changed = Object.keys(before).filter((k) => k in after && after[k] !== before[k]);
    expect(added).toEqual(['chain input: tcp dport 80 accept comment "http: control"']);
    expect(changed).toEqual(['chain input: tcp dport 443 accept comment "https: control"']);
  });

  it("a set's elements have no order: one changed prints as one key gone and one key new, nothing else", () => {
    const elements = Array.from({ length: 1000 }, (_, i) => `set bulk_v4: 198.18.${i >> 8}.${i & 255}/32`);
    const lines = ["chain input: policy drop", "set bulk_v4: (declared)", ...elements];
    const before = toLineMap(lines, ruleLineGroup, isSetElementLine);
    expect(before["set bulk_v4: 198.18.0.7/32"]).toBe(ELEMENT);
    expect(before["set bulk_v4: (declared)"]).toBe(FIRST); // a note keeps its place
    const changedLines = [...lines];
    changedLines[500] = "set bulk_v4: 198.19.255.4/32";
    const after = toLineMap(changedLines, ruleLineGroup, isSetElementLine);
    const added = Object.keys(after).filter((k) => !(k in before));
    const removed = Object.keys(before).filter((k) => !(k in after));
    const changed = Object.keys(before).filter((k) => k in after && after[k] !== before[k]);
    expect(added).toEqual(["set bulk_v4: 198.19.255.4/32"]);
    expect(removed).toEqual([lines[500]]);
    expect(changed).toEqual([]);
    // negative control: without `unordered`, the neighbour's link changes with it
    const linked = toLineMap(changedLines, ruleLineGroup);
    const linkedBefore = toLineMap(lines, ruleLineGroup);
    expect(Object.keys(linkedBefore).filter((k) => k in linked && linked[k] !== linkedBefore[k])).toHaveLength(1);
  });

  it("a file's lines come back in order from a map whose keys were sorted, repeated lines included", () => {
    const file = ["# header", "net.b = 1", "", "net.a = 2", "", "net.a = 2"];
    const map = toLineMap(file);
    expect(Object.keys(map)).toHaveLength(6);
    expect(fromLineMap(throughState(map))).toEqual(file);
    expect(fromLineMap({})).toEqual([]);
  });

  it("a line whose link was broken (edited state) is kept, after the ordered ones", () => {
    expect(fromLineMap({ a: FIRST, b: "after: a", z: "after: gone" })).toEqual(["a", "b", "z"]);
  });
});
