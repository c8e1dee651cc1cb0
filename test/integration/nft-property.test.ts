import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkInScratchNamespace } from "../../src/local/nft-check";
import { parsePolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { policyArbitrary } from "../support/policy-arbitrary";
import { requireRoot } from "../support/privileges";
import { assertHardened } from "../support/ruleset-invariants";

describe.runIf(requireRoot("nft property", ["nft", "unshare"]))("random valid policies load into the real nft", () => {
  it("every rendered table loads, lists with input policy drop, and is hardened", async () => {
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(policyArbitrary, async (input) => {
        const parsed = parsePolicy(input);
        if (!parsed.ok) return;
        const artefacts = renderPolicy(parsed.value);
        assertHardened(artefacts);
        const result = await checkInScratchNamespace(artefacts.nft, { list: artefacts.table });
        expect(result.error, artefacts.nft).toBe("");
        const listing = JSON.parse(result.listing!) as {
          nftables: Record<string, { name?: string; policy?: string }>[];
        };
        expect(listing.nftables.find((o) => o.chain?.name === "input")?.chain?.policy).toBe("drop");
        loaded++;
      }),
      { numRuns: 120, seed: 20261121 },
    );
    // A fixed seed keeps the sample the same on every run; about half of random drafts are valid.
    expect(loaded).toBeGreaterThan(40);
  }, 180_000);
});
