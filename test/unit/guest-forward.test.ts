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

  it("an exposure's limit stands before its published-port accept, on the input chain's meters, only for DNATed connections", () => {
    const limited = {
      name: "app",
      protocol: "tcp",
      ports: 8080,
      sources: ["198.18.5.0/24"],
      limit: { rate: "6/minute", burst: 3, connections: 4, exemptSources: ["198.18.5.9"] },
    };
    const rules = forwardRules({ exposures: [ssh, limited], forward: guests });
    const accept = rules.findIndex((r) => r.startsWith("ct status dnat ip saddr @app_v4") && r.includes("accept"));
    const limits = rules.filter((r) => r.includes("over limit"));
    expect(limits).toEqual([
      'ip saddr != @app_exempt_v4 ct status dnat ip saddr @app_v4 meta l4proto tcp ct original proto-dst 8080 ct state new update @app_rate_v4 { ip saddr limit rate over 6/minute burst 3 packets } counter drop comment "app: ports, also when DNATed to a guest, over limit"',
      'ip saddr != @app_exempt_v4 ct status dnat ip saddr @app_v4 meta l4proto tcp ct original proto-dst 8080 ct state new add @app_conn_v4 { ip saddr ct count over 4 } counter drop comment "app: ports, also when DNATed to a guest, over limit"',
    ]);
    expect(rules.indexOf(limits[1]!)).toBe(accept - 1);
    // the same meters as input: one budget per source and exposure
    const parsed = parsePolicy({ exposures: [ssh, limited], forward: guests });
    if (!parsed.ok) throw new Error("invalid");
    const nft = renderPolicy(parsed.value).nft;
    expect(nft.match(/set app_rate_v4 \{/g)).toHaveLength(1);
    expect(nft).toContain("tcp dport 8080 ct state new update @app_rate_v4 {");
    // without guests, the forward chain has no limit rule
    expect(forwardRules({ exposures: [ssh, limited] }).filter((r) => r.includes("over limit"))).toEqual([]);
  });

  it("over a limit on a published port: a TCP reset with denied reject, the over-limit chain with log", () => {
    const app = (limit: object) => ({ name: "app", protocol: "tcp", ports: 8080, limit });
    const rejecting = forwardRules({ exposures: [ssh, app({ rate: "6/minute" })], forward: guests, denied: "reject" });
    expect(rejecting.filter((r) => r.includes("over limit"))).toEqual([
      'ct status dnat meta l4proto tcp ct original proto-dst 8080 ct state new update @app_rate_v4 { ip saddr limit rate over 6/minute } counter reject with tcp reset comment "app: ports, also when DNATed to a guest, over limit"',
      'ct status dnat meta l4proto tcp ct original proto-dst 8080 ct state new update @app_rate_v6 { ip6 saddr & ffff:ffff:ffff:ffff:: limit rate over 6/minute } counter reject with tcp reset comment "app: ports, also when DNATed to a guest, over limit"',
    ]);
    const logging = forwardRules({ exposures: [ssh, app({ rate: "6/minute", log: true })], forward: guests });
    expect(logging.filter((r) => r.includes("over limit")).every((r) => r.includes("counter goto over_limit "))).toBe(
      true,
    );
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
