import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { elementsOf, FIRST, foldedElements, fromLineMap, setElements, toLineMap } from "../../src/pulumi/line-map";
import { ruleLineGroup, setElementOf } from "../../src/render/rule-lines";

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

  it("a set's elements are one key, one element a line, sorted; its notes keep their own keys", () => {
    const map = toLineMap(
      ["chain input: policy drop", "set admin_v4: 198.51.100.9", "set admin_v4: (declared)", "set admin_v4: 10.0.0.1"],
      ruleLineGroup,
      setElementOf,
    );
    expect(map).toEqual({
      "chain input: policy drop": FIRST,
      "set admin_v4: (declared)": FIRST,
      "set admin_v4": "| 2 elements\n10.0.0.1\n198.51.100.9\n",
    });
    expect(elementsOf(map["set admin_v4"]!)).toEqual(["10.0.0.1", "198.51.100.9"]);
    expect(setElements(["198.18.0.1"])).toBe("| 1 element\n198.18.0.1\n");
  });

  it("one element changed among 1,000 changes that set's value by exactly that line, and no other key", () => {
    const elements = Array.from({ length: 1000 }, (_, i) => `set bulk_v4: 198.18.${i >> 8}.${i & 255}/32`);
    const lines = ["chain input: policy drop", ...elements];
    const before = toLineMap(lines, ruleLineGroup, setElementOf);
    const changedLines = [...lines];
    changedLines[500] = "set bulk_v4: 198.19.255.4/32";
    const after = toLineMap(changedLines, ruleLineGroup, setElementOf);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    const [was, now] = [elementsOf(before["set bulk_v4"]!), elementsOf(after["set bulk_v4"]!)];
    expect(was.filter((e) => !now.includes(e))).toEqual([lines[500]!.slice("set bulk_v4: ".length)]);
    expect(now.filter((e) => !was.includes(e))).toEqual(["198.19.255.4/32"]);
    // the order the lines came in is not the value's (a refresh appends what it found at the end)
    expect(toLineMap([...lines].reverse(), ruleLineGroup, setElementOf)).toEqual(before);
  });

  it("a stored map of an older release (one key per element) folds to the same map", () => {
    const lines = [
      "chain input: policy drop",
      "set a_v4: 198.18.0.9/32",
      "set a_v4: 198.18.0.1/32",
      "set a_v4: (declared)",
    ];
    const today = toLineMap(lines, ruleLineGroup, setElementOf);
    const linked = throughState(toLineMap(lines, ruleLineGroup)); // 0.2.0: elements linked to each other
    const valued = {
      "chain input: policy drop": FIRST,
      "set a_v4: (declared)": FIRST,
      "set a_v4: 198.18.0.9/32": "(element)",
      "set a_v4: 198.18.0.1/32": "(element)",
    };
    expect(foldedElements(valued, ruleLineGroup, setElementOf)).toEqual(today);
    expect(foldedElements(today, ruleLineGroup, setElementOf)).toBe(today);
    // 0.2.0's note linked to an element keeps its (old) value: only element keys are folded
    expect(Object.keys(foldedElements(linked, ruleLineGroup, setElementOf)).sort()).toEqual(Object.keys(today).sort());
  });

  it("a set's value is neither JSON nor YAML (the engine would print a decoded value whole)", () => {
    const value = setElements(["198.51.100.0/24", "2001:2::/96", "203.0.113.9"]);
    expect(() => JSON.parse(value)).toThrow();
    expect(() => YAML.parse(value)).toThrow();
    expect(() => YAML.parse(setElements([]))).toThrow();
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
