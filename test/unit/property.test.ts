import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";
import { policyArbitrary } from "../support/policy-arbitrary";
import { blanketRelatedAccepts, inputPolicies } from "../support/ruleset-invariants";

describe("any valid policy renders a hardened table", () => {
  it("never a blanket related accept, input policy always drop, deterministic", () => {
    let valid = 0;
    let scoped = 0;
    fc.assert(
      fc.property(policyArbitrary, fc.constantFrom("4.19", "5.10", "6.1", "6.18"), (input, kernel) => {
        const parsed = parsePolicy(input);
        if (!parsed.ok) return;
        valid++;
        const { exposures, trustedInterfaces } = parsed.value;
        if (
          trustedInterfaces ||
          exposures.some(
            (e) => e.interfaces || e.destinations || ("protocol" in e && !["tcp", "udp"].includes(e.protocol)),
          )
        )
          scoped++;
        const a = renderPolicy(parsed.value, { profile: profileForKernel(kernel) });
        expect(blanketRelatedAccepts(a.nft)).toEqual([]);
        expect(inputPolicies(a.nft)).toEqual(["type filter hook input priority filter; policy drop;"]);
        const again = parsePolicy(structuredClone(input));
        expect(again.ok && renderPolicy(again.value, { profile: profileForKernel(kernel) }).hash).toBe(a.hash);
      }),
      { numRuns: 400, seed: 20261121 },
    );
    expect(valid).toBeGreaterThan(200);
    // interfaces, destinations, trusted interfaces and protocols beyond tcp and udp are exercised too
    expect(scoped).toBeGreaterThan(50);
  });
});
