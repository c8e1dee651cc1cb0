import { describe, expect, it } from "vitest";
import type { PolicyInput } from "../../src/model/policy";
import { render } from "../../src/render";

const rules = (policy: PolicyInput, chain = "input") =>
  render({ table: "t", ...policy })
    .rendered.rules.filter((r) => r.chain === chain)
    .map((r) => `${r.statement} # ${r.comment}`);

describe("interfaces, destinations, trusted interfaces, protocols, reject and reverse path in the rendered rules", () => {
  it("a rule per interface and per family both the sources and the destinations have", () => {
    const input = rules({
      exposures: [
        {
          service: "ssh",
          interfaces: ["eth0", "wg*"],
          sources: ["198.18.0.0/24", "2001:2::/64"],
          destinations: ["198.18.0.10"],
        },
      ],
    });
    expect(input.filter((r) => r.includes("tcp dport 22"))).toEqual([
      'iifname "eth0" ip saddr @ssh_v4 ip daddr @ssh_dst_v4 tcp dport 22 counter accept # ssh: remote logins',
      'iifname "wg*" ip saddr @ssh_v4 ip daddr @ssh_dst_v4 tcp dport 22 counter accept # ssh: remote logins',
    ]);
  });

  it("trusted interfaces come after the baseline and before every exposure", () => {
    const input = rules({ exposures: [{ service: "ssh" }], trustedInterfaces: ["wg0"] });
    const trusted = input.indexOf('iifname "wg0" accept # trustedInterfaces: wg0');
    expect(trusted).toBeGreaterThan(input.findIndex((r) => r.startsWith("ct state established")));
    expect(trusted).toBeLessThan(input.findIndex((r) => r.includes("tcp dport 22")));
  });

  it("the reverse-path check comes before connection state; reject closes the chain, after the log", () => {
    const input = rules({
      exposures: [{ service: "ssh" }],
      reversePath: "loose",
      denied: "reject",
      log: { dropped: true },
    });
    expect(input.findIndex((r) => r.startsWith("fib saddr oif missing counter drop"))).toBeLessThan(
      input.findIndex((r) => r.startsWith("ct state invalid")),
    );
    // every refusal is counted; what the rate leaves unanswered ends in the counted drop
    expect(input.slice(-6).map((r) => r.split(" # ")[0])).toEqual([
      'limit rate 5/minute log prefix "hnft t input drop: " level info',
      "meta pkttype != host counter drop",
      "fib daddr type { broadcast, multicast } counter drop",
      "meta l4proto tcp limit rate 10/second counter reject with tcp reset",
      "limit rate 10/second counter reject with icmpx admin-prohibited",
      "counter drop",
    ]);
    expect(
      rules({ exposures: [{ service: "ssh" }] }).some((r) => r.includes("reject") || r.includes("fib saddr")),
    ).toBe(false);
  });

  it("VRRP goes to its group in both directions; IGMP is IPv4 only", () => {
    const policy: PolicyInput = {
      exposures: [
        { service: "ssh" },
        { name: "ha", protocol: "vrrp", sources: ["198.18.0.0/24"] },
        { name: "m", protocol: "igmp" },
      ],
      output: { policy: "drop" },
    };
    expect(rules(policy).filter((r) => r.includes("vrrp") || r.includes("igmp"))).toEqual([
      "ip saddr @ha_v4 ip daddr 224.0.0.18 meta l4proto vrrp counter accept # ha: vrrp",
      "meta nfproto ipv4 meta l4proto igmp counter accept # m: igmp",
    ]);
    expect(rules(policy, "output").filter((r) => r.includes("vrrp"))).toEqual([
      "ip daddr 224.0.0.18 meta l4proto vrrp counter accept # ha: vrrp sent by this host",
    ]);
    const fromPeers: PolicyInput = {
      exposures: [{ service: "ssh" }, { name: "m", protocol: "igmp", sources: ["198.18.0.0/24"] }],
      output: { policy: "drop" },
    };
    expect(rules(fromPeers).filter((r) => r.includes("igmp"))).toEqual([
      "ip saddr @m_v4 meta l4proto igmp counter accept # m: igmp",
    ]);
    // reports go to groups, not to the admitted peers
    expect(rules(fromPeers, "output").filter((r) => r.includes("igmp"))).toEqual([
      "meta nfproto ipv4 meta l4proto igmp counter accept # m: igmp sent by this host",
    ]);
    expect(
      rules({ exposures: [{ service: "ssh" }, { name: "ha", protocol: "vrrp" }] }).filter((r) => r.includes("vrrp")),
    ).toEqual([
      "ip daddr 224.0.0.18 meta l4proto vrrp counter accept # ha: vrrp",
      "ip6 daddr ff02::12 meta l4proto vrrp counter accept # ha: vrrp",
    ]);
  });

  it("SCTP takes ports like TCP and UDP; the whole-protocol ones are matched without", () => {
    const input = rules({
      exposures: [
        { service: "ssh" },
        { name: "s", protocol: "sctp", ports: [2905, "3000-3001"] },
        { name: "e", protocol: "esp" },
        { name: "g", protocol: "gre", interfaces: ["eth0"] },
      ],
    });
    expect(input.filter((r) => /sctp|esp|gre/.test(r))).toEqual([
      "sctp dport { 2905, 3000-3001 } counter accept # s: ports",
      "meta l4proto esp counter accept # e: esp",
      'iifname "eth0" meta l4proto gre counter accept # g: gre',
    ]);
  });

  it("what goes over a per-source limit is rejected when the policy rejects, dropped otherwise", () => {
    const limited = (denied: "drop" | "reject", log = false): string[] =>
      rules({
        exposures: [
          { service: "ssh", limit: { rate: "6/minute", log } },
          { name: "d", protocol: "udp", ports: 53, limit: { connections: 3, log } },
        ],
        denied,
      })
        .filter((r) => r.includes("over limit"))
        .map((r) => r.split(" counter ")[1] ?? r);
    expect(limited("reject")).toEqual([
      "reject with tcp reset # ssh: remote logins, over limit",
      "reject with tcp reset # ssh: remote logins, over limit",
      "reject with icmpx admin-prohibited # d: ports, over limit",
      "reject with icmpx admin-prohibited # d: ports, over limit",
    ]);
    expect(limited("drop").every((r) => r.startsWith("drop # "))).toBe(true);
    // with log, the over-limit chain logs and then refuses the same way
    const chain = render({
      table: "t",
      exposures: [{ service: "ssh", limit: { rate: "6/minute", log: true } }],
      denied: "reject",
    }).rendered.rules.filter((r) => r.chain === "over_limit");
    expect(chain.map((r) => r.statement).slice(1)).toEqual([
      "meta l4proto tcp reject with tcp reset",
      "reject with icmpx admin-prohibited",
    ]);
  });

  it("without an SSH exposure, the lock-out warning names trusted interfaces when there are some", () => {
    const { warnings } = render({ exposures: [{ service: "https" }], trustedInterfaces: ["wg0"] });
    expect(warnings).toContain(
      "No exposure opens tcp/22: unless SSH comes in over a trusted interface or listens on another declared port, an apply will be rolled back as a lock-out.",
    );
  });
});
