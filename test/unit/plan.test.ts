import { describe, expect, it } from "vitest";
import { catalogService, expectingHelper } from "../../src/catalog";
import { assertPolicy } from "../../src/model/validate";
import { type Opening, type Plan, planPolicy } from "../../src/plan/plan";

const plan = (input: unknown): Plan => planPolicy(assertPolicy(input));
const ssh = { service: "ssh" };
const openingsOf = (p: Plan, id: string): readonly Opening[] => p.exposures.find((e) => e.id === id)!.openings;

describe("plan: chains and their baseline", () => {
  it("input drops by default and starts from the baseline; forward drops; no output chain while output is accepted", () => {
    const p = plan({ exposures: [ssh] });
    expect(p.chains.map((c) => [c.name, c.policy])).toEqual([
      ["input", "drop"],
      ["forward", "drop"],
    ]);
    expect(p.chains[0]!.baseline.map((b) => b.kind)).toEqual([
      "loopback",
      "loopback-spoofed",
      "neighbour-discovery",
      "multicast-listener-queries",
      "invalid",
      "established",
      "icmp-errors",
      "echo",
      "dhcpv6-client",
    ]);
    expect(p.chains[0]!.baseline).toContainEqual({ kind: "echo", rate: "10/second" });
    expect(p.chains.every((c) => c.logDropped === undefined)).toBe(true);
  });

  it("echo, the DHCPv6 client and the forward chain follow the policy", () => {
    const p = plan({ exposures: [ssh], icmp: { echo: false }, dhcpv6Client: false, forward: { policy: "accept" } });
    expect(p.chains.map((c) => c.name)).toEqual(["input"]);
    expect(p.chains[0]!.baseline.map((b) => b.kind)).not.toContain("echo");
    expect(p.chains[0]!.baseline.map((b) => b.kind)).not.toContain("dhcpv6-client");
  });

  it("output restricted: an output chain with its own baseline; logging of drops in every dropping chain", () => {
    const p = plan({
      table: "t1",
      exposures: [ssh],
      output: { policy: "drop" },
      log: { dropped: true, rate: "3/minute" },
    });
    const output = p.chains.find((c) => c.name === "output")!;
    expect(output.policy).toBe("drop");
    expect(output.baseline.map((b) => b.kind)).toEqual([
      "loopback",
      "neighbour-discovery",
      "invalid",
      "established",
      "icmp-errors",
    ]);
    expect(p.chains.map((c) => c.logDropped)).toEqual(
      ["input", "forward", "output"].map((chain) => ({ rate: "3/minute", prefix: `hnft t1 ${chain} drop: ` })),
    );
  });

  it("output accepted but a helper attached to this host's own connections (irc): an accepting output chain with no baseline", () => {
    const p = plan({ exposures: [ssh, { service: "irc", helper: "scoped" }] });
    expect(p.chains.find((c) => c.name === "output")).toEqual({
      name: "output",
      policy: "accept",
      baseline: [],
      countDropped: false,
    });
  });
});

describe("plan: openings by kind", () => {
  it("new: a plain service opens its control port to its sources' sets", () => {
    const p = plan({ exposures: [{ service: "ssh", sources: ["198.18.0.0/24", "2001:2::/48"] }] });
    expect(openingsOf(p, "ssh")).toEqual([
      {
        chain: "input",
        kind: "new",
        protocol: "tcp",
        ports: [{ from: 22, to: 22 }],
        peers: { kind: "sets", ipv4: "ssh_v4", ipv6: "ssh_v6" },
        comment: "ssh: remote logins",
      },
    ]);
    expect(p.exposures[0]!.sets.map((s) => [s.name, s.elements])).toEqual([
      ["ssh_v4", ["198.18.0.0/24"]],
      ["ssh_v6", ["2001:2::/48"]],
    ]);
  });

  it("helper and related: scoped ftp assigns its helper object on the control port and accepts only expected data", () => {
    const p = plan({ exposures: [ssh, { service: "ftp", helper: "scoped", passivePorts: "50000-50100" }] });
    const [control, data] = openingsOf(p, "ftp");
    expect(control).toMatchObject({
      chain: "input",
      kind: "helper",
      protocol: "tcp",
      helperObject: "ftp-helper",
      kernelHelper: "ftp",
    });
    expect(data).toMatchObject({
      chain: "input",
      kind: "related",
      protocol: "tcp",
      ports: [{ from: 50000, to: 50100 }],
      kernelHelper: "ftp",
    });
    expect(p.exposures[1]!.helpers).toEqual([{ name: "ftp-helper", type: "ftp", protocol: "tcp", l3proto: "inet" }]);
    expect(p.neededModules).toEqual(["nf_conntrack_ftp", "nf_nat_ftp"]);
  });

  it("helper none: the same ftp opens its passive range to new connections, and needs no module", () => {
    const p = plan({ exposures: [ssh, { service: "ftp", passivePorts: "50000-50100" }] });
    expect(openingsOf(p, "ftp").map((o) => o.kind)).toEqual(["new", "new"]);
    expect(p.neededModules).toEqual([]);
  });

  it("broadcast: netbios-ns with output restricted sends its own broadcasts", () => {
    const p = plan({ exposures: [ssh, { service: "netbios-ns" }], output: { policy: "drop" } });
    expect(openingsOf(p, "netbios-ns")).toContainEqual({
      chain: "output",
      kind: "broadcast",
      protocol: "udp",
      ports: [{ from: 137, to: 137 }],
      comment: "netbios-ns: name service broadcasts",
    });
  });

  it("outbound helper: scoped irc attaches its helper to this host's connections to the control port", () => {
    const p = plan({ exposures: [ssh, { service: "irc", helper: "scoped", dccPorts: "40200-40209" }] });
    expect(openingsOf(p, "irc")).toContainEqual(
      expect.objectContaining({
        chain: "output",
        kind: "helper",
        portSide: "dport",
        family: "ipv4",
        helperObject: "irc-helper",
      }),
    );
    expect(openingsOf(p, "irc")[0]).toMatchObject({ chain: "input", kind: "new", protocol: "tcp" });
  });

  it("an IPv4-only helper: IPv4 peers get the helper and its expectations, IPv6 peers the ports and GRE without it", () => {
    const p = plan({
      exposures: [ssh, { service: "pptp", helper: "scoped", sources: ["198.18.5.0/24", "2001:2:0:5::/64"] }],
    });
    expect(openingsOf(p, "pptp").map((o) => [o.kind, o.protocol, "family" in o ? o.family : undefined])).toEqual([
      ["helper", "tcp", "ipv4"],
      ["new", "tcp", "ipv6"],
      ["related", "gre", "ipv4"],
      ["new", "gre", "ipv6"],
    ]);
    expect(p.exposures[1]!.explanation.notes).toContain(
      "The pptp helper exists only for IPv4: IPv6 clients get the ports without it.",
    );
  });

  it("tftp with output restricted: the server's first data packet is related to the request when scoped, new otherwise", () => {
    const out = (helper: string) =>
      openingsOf(
        plan({ exposures: [ssh, { service: "tftp", helper, dataPorts: "50200-50299" }], output: { policy: "drop" } }),
        "tftp",
      ).filter((o) => o.chain === "output");
    expect(out("scoped")).toEqual([
      expect.objectContaining({ kind: "related", protocol: "udp", kernelHelper: "tftp" }),
    ]);
    expect(out("none")).toEqual([expect.objectContaining({ kind: "new", protocol: "udp" })]);
  });

  it("output.allow entries become their own group with a destination port", () => {
    const p = plan({
      exposures: [ssh],
      output: { policy: "drop", allow: [{ name: "dns", protocol: "udp", ports: 53, destinations: ["198.18.0.53"] }] },
    });
    expect(p.outputAllow).toEqual([
      {
        id: "out-dns",
        title: "output.allow to udp/53",
        sets: [{ name: "out-dns_v4", family: "ipv4", elements: ["198.18.0.53"] }],
        openings: [
          {
            chain: "output",
            kind: "new",
            protocol: "udp",
            ports: [{ from: 53, to: 53 }],
            portSide: "dport",
            peers: { kind: "sets", ipv4: "out-dns_v4" },
            comment: "out-dns: to udp/53",
          },
        ],
      },
    ]);
  });
});

describe("plan: the helper that carries data, and the explanation", () => {
  it("names the expecting helper: SIP's udp helper, H.323's Q.931 one", () => {
    expect(expectingHelper(catalogService("sip").helper!).type).toBe("sip");
    expect(expectingHelper(catalogService("h323").helper!).type).toBe("Q.931");
    const p = plan({ exposures: [ssh, { service: "h323", helper: "scoped", mediaPorts: "5000-5099" }] });
    expect(openingsOf(p, "h323").filter((o) => o.kind === "related")).toEqual([
      expect.objectContaining({ kernelHelper: "Q.931", protocol: "udp" }),
    ]);
  });

  it("scoped SIP: its two helper objects share one kernel helper, named once", () => {
    const p = plan({
      exposures: [ssh, { service: "sip", transport: "both", helper: "scoped", rtpPorts: "10000-10999" }],
    });
    expect(p.exposures[1]!.helpers.map((h) => h.name)).toEqual(["sip-udp", "sip-tcp"]);
    expect(p.exposures[1]!.explanation.why).toContain("the kernel sip helper is attached");
    expect(p.exposures[1]!.explanation.why).not.toContain("sip/sip");
    expect(p.exposures[1]!.title).toBe("SIP signalling with RTP media");
  });
});
