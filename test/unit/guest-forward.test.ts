/**
 * forward.guestInterfaces: with forward policy drop, the forward chain admits what guests send,
 * their replies, and published ports only through the exposures (their original destination port
 * and client address, as set lookups); without it, the chain only drops.
 */
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { blanketRelatedAccepts } from "../support/ruleset-invariants";

function forwardRules(input: unknown): string[] {
  const parsed = parsePolicy(input);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed));
  const nft = renderPolicy(parsed.value).nft;
  const chain = nft.slice(nft.indexOf("\tchain forward {"));
  return chain
    .slice(0, chain.indexOf("\n\t}"))
    .split("\n")
    .slice(2)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

const ssh = { service: "ssh", sources: ["198.18.0.0/24"] };
const guests = { policy: "drop", guestInterfaces: ["docker0", "br-*"] };

describe("forward chain with guest interfaces", () => {
  it("without guest interfaces the forward chain admits nothing: it drops (and counts) everything", () => {
    expect(forwardRules({ exposures: [ssh, { name: "app", protocol: "tcp", ports: 8080 }] })).toEqual([
      'counter drop comment "dropped: end of chain"',
    ]);
  });

  it("guests send out and between each other, replies return, published ports by the exposure's original port and sources", () => {
    const rules = forwardRules({
      exposures: [ssh, { name: "app", protocol: "tcp", ports: 8080, sources: ["198.18.5.0/24"] }],
      forward: guests,
    });
    expect(rules).toContain('iifname "docker0" accept comment "guestInterfaces: docker0, what its guests send"');
    expect(rules).toContain('iifname "br-*" accept comment "guestInterfaces: br-*, what its guests send"');
    expect(rules).toContain('ct state established accept comment "established"');
    expect(rules).toContain(
      'ct status dnat ip saddr @app_v4 meta l4proto tcp ct original proto-dst 8080 counter accept comment "app: ports, also when DNATed to a guest"',
    );
    // nothing admits a DNATed connection to a port no exposure opens, and no blanket related accept
    expect(rules.filter((r) => r.includes("ct status dnat") && !r.includes("proto-dst"))).toEqual([]);
    expect(blanketRelatedAccepts(rules.join("\n"))).toEqual([]);
  });

  it("sources are one set lookup: 10,000 prefixes add no rule", () => {
    const sources = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const few = forwardRules({
      exposures: [ssh, { name: "app", protocol: "tcp", ports: 8080, sources: sources.slice(0, 1) }],
      forward: guests,
    });
    const many = forwardRules({
      exposures: [ssh, { name: "app", protocol: "tcp", ports: 8080, sources }],
      forward: guests,
    });
    expect(many).toEqual(few);
  });

  it("exposures scoped to this host's own addresses admit no published port (the DNATed destination is the guest's)", () => {
    const rules = forwardRules({
      exposures: [ssh, { service: "https", destinations: ["198.18.12.10"] }],
      forward: guests,
    });
    expect(rules.some((r) => r.includes("https"))).toBe(false);
  });

  it("with forward policy accept the chain is left out and a warning says guestInterfaces has no effect", () => {
    const parsed = parsePolicy({ exposures: [ssh], forward: { policy: "accept", guestInterfaces: ["docker0"] } });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const rendered = renderPolicy(parsed.value);
    expect(rendered.nft).not.toContain("chain forward");
    expect(rendered.warnings.join("\n")).toContain("forward.guestInterfaces has no effect");
  });
});
