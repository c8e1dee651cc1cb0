/**
 * Drift compares a live rule with the rendered one as text, so every rule the renderer can emit
 * for interfaces, destinations, trusted interfaces, IP protocols beyond TCP and UDP, reject and
 * reverse-path filtering must read, character for character, as nft lists it: otherwise a legal
 * policy would show drift forever. Each construct is loaded into a throwaway namespace and the
 * listing compared line by line, in order.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ruleTexts } from "../../src/host/operations/drift";
import type { PolicyInput } from "../../src/model/policy";
import { render } from "../../src/render";
import { ruleText } from "../../src/render/rule-lines";
import { requireRoot } from "../support/privileges";

const ssh = { service: "ssh" as const };

const cases: Record<string, PolicyInput> = {
  "interfaces, one and several, with a wildcard": {
    exposures: [
      ssh,
      { service: "http", interfaces: ["eth1"] },
      { service: "https", http3: true, interfaces: ["eth0", "br-*", "wg0"] },
    ],
  },
  "interfaces with sources of both families, output restricted": {
    exposures: [ssh, { service: "dns", interfaces: ["eth1", "veth*"], sources: ["198.18.0.0/24", "2001:2::/64"] }],
    output: { policy: "drop" },
  },
  "destinations: IPv4, IPv6, both, with and without sources": {
    exposures: [
      ssh,
      { service: "http", destinations: ["198.18.0.10"] },
      { service: "https", destinations: ["198.18.0.10", "2001:2::10/128", "198.18.1.0/24"] },
      {
        name: "api",
        protocol: "tcp",
        ports: 8443,
        sources: ["198.18.2.0/24", "2001:2:0:2::/64"],
        destinations: ["2001:2::10"],
        interfaces: ["eth0"],
      },
    ],
  },
  "scoped helpers with interfaces and destinations": {
    exposures: [
      ssh,
      {
        service: "ftp",
        passivePorts: "50000-50100",
        helper: "scoped",
        activeMode: true,
        interfaces: ["eth1"],
        destinations: ["198.18.0.10"],
      },
      { service: "irc", helper: "scoped", dccPorts: "40000-40010", interfaces: ["eth1"], sources: ["198.18.0.0/24"] },
      { service: "pptp", helper: "scoped", interfaces: ["ppp*"], sources: ["198.18.5.0/24", "2001:2:0:5::/64"] },
    ],
    output: { policy: "drop" },
  },
  "interface names with every character allowed, at the longest": {
    exposures: [
      ssh,
      { service: "http", interfaces: ["eth0.100", "p+q", "_u-v", "Veth9*", "123456789012345", "12345678901234*"] },
    ],
  },
  "trusted interfaces": { exposures: [ssh], trustedInterfaces: ["wg0", "br-*", "eth1"] },
  "every protocol beyond tcp and udp, output restricted": {
    exposures: [
      ssh,
      { name: "sig", protocol: "sctp", ports: [2905, "3000-3010"] },
      { name: "sig1", protocol: "sctp", ports: 9899, sources: ["198.18.0.0/24"], interfaces: ["eth1"] },
      { name: "ipsec", protocol: "esp", sources: ["198.18.0.0/24", "2001:2::/64"] },
      { name: "auth", protocol: "ah", interfaces: ["eth0"] },
      { name: "auth2", protocol: "ah", sources: ["198.18.0.0/24", "2001:2::/64"] },
      { name: "tunnel", protocol: "gre", sources: ["198.18.9.1"] },
      { name: "ha", protocol: "vrrp", sources: ["198.18.0.0/24"], interfaces: ["eth1"] },
      { name: "ha6", protocol: "vrrp" },
      { name: "mcast", protocol: "igmp" },
      { name: "mcast2", protocol: "igmp", sources: ["198.18.0.0/24"], interfaces: ["eth1"] },
    ],
    output: { policy: "drop" },
  },
  "reject, with and without logging": { exposures: [ssh], denied: "reject" },
  "reject after the log": { exposures: [ssh], denied: "reject", log: { dropped: true } },
  "reverse path strict": { exposures: [ssh], reversePath: "strict" },
  "reverse path loose": { exposures: [ssh], reversePath: "loose", trustedInterfaces: ["wg0"], denied: "reject" },
};

function listed(nft: string, table: string): string {
  return execFileSync(
    "unshare",
    ["-n", "sh", "-c", 'nft -f /dev/stdin && nft -s list table inet "$1"', "nft-text", table],
    { input: nft, encoding: "utf8" },
  );
}

describe.runIf(requireRoot("rendered rules as nft lists them", ["nft", "unshare"]))(
  "every scoping rule reads as nft lists it",
  () => {
    for (const [title, policy] of Object.entries(cases)) {
      it(title, () => {
        const artefacts = render({ table: "scoping", ...policy });
        const live = ruleTexts(listed(artefacts.nft, "scoping"));
        for (const chain of new Set(artefacts.rendered.rules.map((r) => r.chain))) {
          const rendered = artefacts.rendered.rules
            .filter((r) => r.chain === chain)
            .map((r) => ruleText(r.statement, r.comment));
          expect(live.get(chain), `chain ${chain}`).toEqual(rendered);
        }
      });
    }

    it("covers every construct", () => {
      const all = Object.values(cases)
        .flatMap((p) => render({ table: "scoping", ...p }).rendered.rules.map((r) => r.statement))
        .join("\n");
      for (const needle of [
        "iifname",
        "oifname",
        "ip daddr @",
        "ip6 daddr @",
        "ip saddr @",
        "sctp dport",
        "meta l4proto esp",
        "meta l4proto ah",
        "ip saddr @auth2_v4 meta l4proto ah",
        "meta l4proto gre",
        "meta l4proto vrrp",
        "224.0.0.18",
        "ff02::12",
        "meta l4proto igmp",
        "reject with tcp reset",
        "reject with icmpx",
        "fib saddr . iif oif missing",
        "fib saddr oif missing",
        '"br-*"',
        "ct helper set",
        'ct helper "',
      ]) {
        expect(all, needle).toContain(needle);
      }
    });
  },
);
