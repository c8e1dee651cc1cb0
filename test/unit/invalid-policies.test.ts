import { describe, expect, it } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import { parsePolicy } from "../../src/model/validate";
import { invalidPolicies } from "../fixtures/invalid-policies";

describe("invalid policies are rejected with a message naming the field", () => {
  for (const c of invalidPolicies) {
    it(c.title, () => {
      const result = parsePolicy(c.policy);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      const line = formatIssues(result.issues).find((e) => e.startsWith(`${c.path}: `));
      expect(line, `no error for ${c.path} in:\n${formatIssues(result.issues).join("\n")}`).toBeDefined();
      expect(line).toContain(c.says);
    });
  }

  it("reports every problem, one line each", () => {
    const result = parsePolicy({
      table: "bad name",
      exposures: [
        { service: "ftp", passivePorts: "51000-50000" },
        { service: "nope" },
        { service: "ssh", sources: ["1.2.3.4/40"] },
      ],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatIssues(result.issues)).toEqual([
      expect.stringMatching(/^table: /),
      "exposures[0].passivePorts: range 51000-50000 is reversed",
      expect.stringMatching(/^exposures\[1\]\.service: unknown service "nope"/),
      expect.stringMatching(/^exposures\[2\]\.sources\[0\]: /),
    ]);
  });
});
