import { describe, expect, it } from "vitest";
import { catalog, serviceNames } from "../../src/catalog";
import { formatIssues } from "../../src/fields/issues";
import { checkInScratchNamespace } from "../../src/local/nft-check";
import { parsePolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { requireRoot } from "../support/privileges";
import { assertHardened } from "../support/ruleset-invariants";

/** Minimal valid fields per service (data ranges where required or meaningful). */
const extra: Record<string, Record<string, unknown>> = {
  ftp: { passivePorts: "50000-51000", activeMode: true },
  tftp: { dataPorts: "50100-50200" },
  sip: { rtpPorts: "10000-20000", transport: "both" },
  h323: { mediaPorts: "5000-5500" },
  irc: { dccPorts: "59000-59100" },
  sane: { dataPorts: "6600-6610" },
  amanda: { dataPorts: "11000-11100" },
  https: { http3: true },
};

const sourceVariants: Record<string, string[] | undefined> = {
  anywhere: undefined,
  ipv4: ["198.51.100.0/24", "203.0.113.7"],
  ipv6: ["2001:db8::/32"],
  both: ["198.51.100.0/24", "2001:db8:1::/48"],
};

interface Case {
  title: string;
  policy: unknown;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const service of serviceNames) {
    const found = catalog.get(service)!;
    const modes = found.helper ? ["none", "scoped"] : ["none"];
    for (const helper of modes) {
      for (const [variant, sources] of Object.entries(sourceVariants)) {
        const exposure = { service, helper, ...(extra[service] ?? {}), ...(sources ? { sources } : {}) };
        const policy = {
          table: "loadtest",
          exposures: service === "ssh" ? [exposure] : [{ service: "ssh" }, exposure],
          output: { policy: "drop" },
          log: { dropped: true },
        };
        const parsed = parsePolicy(policy);
        if (!parsed.ok) {
          // The only combination the model refuses here: an IPv4-only helper with IPv6-only sources.
          expect(
            found.helper?.ipv4Only && helper === "scoped" && variant === "ipv6",
            formatIssues(parsed.issues).join("\n"),
          ).toBe(true);
          continue;
        }
        out.push({ title: `${service} helper=${helper} sources=${variant}`, policy });
      }
    }
  }
  return out;
}

interface NftJson {
  nftables: Record<string, Record<string, unknown>>[];
}

describe.runIf(requireRoot("nft load matrix", ["nft", "unshare"]))(
  "the real nft loads and lists every rendered table",
  () => {
    const all = cases();

    it("covers every catalog service, both helper modes and both families", () => {
      expect(new Set(all.map((c) => c.title.split(" ")[0])).size).toBe(serviceNames.length);
      expect(all.length).toBeGreaterThan(100);
    });

    for (const c of all) {
      it(c.title, async () => {
        const parsed = parsePolicy(c.policy);
        if (!parsed.ok) throw new Error(formatIssues(parsed.issues).join("\n"));
        const artefacts = renderPolicy(parsed.value);
        assertHardened(artefacts);
        const result = await checkInScratchNamespace(artefacts.nft, { list: "loadtest" });
        expect(result.error).toBe("");
        const listing = JSON.parse(result.listing!) as NftJson;
        const objects = listing.nftables;
        const chains = objects.filter((o) => o.chain).map((o) => o.chain as { name: string; policy: string });
        expect(chains.find((ch) => ch.name === "input")?.policy).toBe("drop");
        const rules = objects.filter((o) => o.rule).map((o) => o.rule as { chain: string; comment?: string });
        expect(rules.length).toBe(artefacts.rendered.rules.length);
        for (const rule of rules) expect(rule.comment, JSON.stringify(rule)).toBeTruthy();
        const helpers = objects
          .filter((o) => o["ct helper"])
          .map((o) => o["ct helper"] as { name: string; type: string; l3proto: string });
        expect(helpers.map((h) => `${h.name}/${h.type}/${h.l3proto}`).sort()).toEqual(
          artefacts.rendered.helpers.map((h) => `${h.name}/${h.type}/${h.l3proto}`).sort(),
        );
        const sets = objects.filter((o) => o.set).map((o) => (o.set as { name: string }).name);
        expect(sets.sort()).toEqual(artefacts.rendered.sets.map((s) => s.name).sort());
      });
    }

    it("reports nft's error with the offending line", async () => {
      const broken =
        'table inet broken {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 ct helper set "missing" accept\n\t}\n}\n';
      const result = await checkInScratchNamespace(broken);
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(/Error/);
      expect(result.line).toBe(4);
      expect(result.lineText).toContain('ct helper set "missing"');
    });
  },
);
