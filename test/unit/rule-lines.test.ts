import { describe, expect, it } from "vitest";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import {
  helperLine,
  noteLine,
  parseRuleLine,
  policyLine,
  ruleLine,
  ruleLineGroup,
  setElementLine,
  setGroup,
} from "../../src/render/rule-lines";
import { goldenCases } from "../golden/policies";

describe("rule lines: one module writes and reads them", () => {
  it("every line of every golden render reads back as what wrote it", () => {
    for (const c of goldenCases) {
      const artefacts = renderPolicy(assertPolicy(c.policy));
      const { helpers, sets, chainPolicies, rules } = artefacts.rendered;
      const rewritten = artefacts.ruleLines.map((line) => {
        const parsed = parseRuleLine(line);
        expect(parsed, line).toBeDefined();
        switch (parsed!.kind) {
          case "helper":
            return helperLine(helpers.find((h) => h.name === parsed!.name)!);
          case "set":
            expect(sets.find((s) => s.name === parsed!.name)!.elements).toContain(parsed!.element);
            return setElementLine(parsed!.name, parsed!.element);
          case "policy":
            expect(chainPolicies[parsed!.chain]).toBe(parsed!.policy);
            return policyLine(parsed!.chain, parsed!.policy);
          case "rule":
            expect(rules.some((r) => r.chain === parsed!.chain && r.comment === parsed!.comment)).toBe(true);
            return ruleLine(parsed!.chain, parsed!.text);
          case "note":
            // The one note a render holds: the declaration of a set whose elements the kernel or another tool writes.
            expect(sets.find((s) => setGroup(s.name) === parsed!.group)?.owner ?? "policy").not.toBe("policy");
            return line;
          default:
            throw new Error(`unknown line kind: ${line}`);
        }
      });
      expect(rewritten).toEqual(artefacts.ruleLines);
    }
  });

  it("reads drift's notes, comments and groups", () => {
    expect(parseRuleLine(noteLine("chain output", "not declared"))).toEqual({
      kind: "note",
      group: "chain output",
      note: "not declared",
    });
    expect(parseRuleLine('chain input: tcp dport 22 accept comment "ssh: control"')).toEqual({
      kind: "rule",
      chain: "input",
      text: 'tcp dport 22 accept comment "ssh: control"',
      comment: "ssh: control",
    });
    expect(parseRuleLine("chain input: tcp dport 8080 accept")).toEqual({
      kind: "rule",
      chain: "input",
      text: "tcp dport 8080 accept",
      comment: undefined,
    });
    expect(parseRuleLine("chain forward: policy drop")).toEqual({ kind: "policy", chain: "forward", policy: "drop" });
    expect(ruleLineGroup("ct helper ftp-helper: (changed on the host)")).toBe("ct helper ftp-helper");
    expect(parseRuleLine("no group here")).toBeUndefined();
  });
});
