import { describe, expect, it } from "vitest";
import { normalizeRanges, parsePortSpec } from "../../src/fields/ports";
import { minimalPrefixes, type Prefix, parsePrefix } from "../../src/fields/prefix";
import { controlOpenings, exposureIds } from "../../src/model/policy";
import { assertPolicy, PolicyError, parsePolicy } from "../../src/model/validate";

describe("ports", () => {
  it("parses numbers, numeric strings and inclusive ranges", () => {
    expect(parsePortSpec(21)).toEqual({ ok: true, value: { from: 21, to: 21 } });
    expect(parsePortSpec("21")).toEqual({ ok: true, value: { from: 21, to: 21 } });
    expect(parsePortSpec("50000-51000")).toEqual({ ok: true, value: { from: 50000, to: 51000 } });
    expect(parsePortSpec(" 1 - 65535 ")).toEqual({ ok: true, value: { from: 1, to: 65535 } });
    expect(parsePortSpec("7-7")).toEqual({ ok: true, value: { from: 7, to: 7 } });
  });
  it("merges overlapping and adjacent ranges into canonical order", () => {
    expect(
      normalizeRanges([
        { from: 90, to: 95 },
        { from: 80, to: 80 },
        { from: 81, to: 85 },
        { from: 94, to: 99 },
      ]),
    ).toEqual([
      { from: 80, to: 85 },
      { from: 90, to: 99 },
    ]);
  });
});

describe("prefixes", () => {
  it("canonicalises host bits and notation", () => {
    expect(parsePrefix("198.51.100.7/24")).toEqual({ ok: true, value: { family: "ipv4", text: "198.51.100.0/24" } });
    expect(parsePrefix("198.51.100.7")).toEqual({ ok: true, value: { family: "ipv4", text: "198.51.100.7" } });
    expect(parsePrefix("2001:DB8:0:0::1/32")).toEqual({ ok: true, value: { family: "ipv6", text: "2001:db8::/32" } });
    expect(parsePrefix("0.0.0.0/0")).toEqual({ ok: true, value: { family: "ipv4", text: "0.0.0.0/0" } });
  });
  it("drops prefixes covered by wider ones, so nft interval sets never see overlaps", () => {
    const p = (t: string): Prefix => {
      const r = parsePrefix(t);
      if (!r.ok) throw new Error(r.issues[0]!.message);
      return r.value;
    };
    const kept = minimalPrefixes([
      p("10.1.0.0/16"),
      p("10.0.0.0/8"),
      p("192.0.2.1"),
      p("192.0.2.0/30"),
      p("198.51.100.0/24"),
    ]);
    expect(kept.map((k) => k.text)).toEqual(["10.0.0.0/8", "192.0.2.0/30", "198.51.100.0/24"]);
  });
});

describe("policy model", () => {
  it("accepts the policy file example of docs/cli.md and fills defaults", () => {
    const policy = assertPolicy({
      exposures: [
        { service: "ssh", sources: ["198.51.100.0/24"] },
        { service: "ftp", passivePorts: "50000-51000" },
        { service: "sip", rtpPorts: "10000-20000" },
      ],
    });
    expect(policy.forward.policy).toBe("drop");
    expect(policy.output.policy).toBe("accept");
    expect(policy.icmp).toEqual({ echo: true, echoRate: "10/second" });
    expect(policy.exposures[1]).toMatchObject({
      service: "ftp",
      helper: "none",
      passivePorts: { from: 50000, to: 51000 },
    });
    expect(policy.exposures[2]).toMatchObject({ transport: "udp" });
  });

  it("accepts an empty exposure list only with allowNothing", () => {
    expect(parsePolicy({ exposures: [], allowNothing: true }).ok).toBe(true);
    expect(parsePolicy({ exposures: [] }).ok).toBe(false);
  });

  it("treats the same port with different sources as a union, not a conflict", () => {
    expect(
      parsePolicy({
        exposures: [
          { service: "ssh", sources: ["198.51.100.0/24"] },
          { service: "ssh", sources: ["203.0.113.0/24"] },
        ],
      }).ok,
    ).toBe(true);
  });

  it("lets ports override the primary control port only", () => {
    const policy = assertPolicy({
      exposures: [
        { service: "h323", ports: 11720 },
        { service: "sip", transport: "both", ports: 5070 },
        { service: "dns", ports: 5353 },
      ],
    });
    expect(controlOpenings(policy.exposures[0]!)).toMatchObject([
      { protocol: "tcp", ports: [{ from: 11720, to: 11720 }] },
      { protocol: "udp", ports: [{ from: 1719, to: 1719 }] },
    ]);
    expect(controlOpenings(policy.exposures[1]!).map((c) => `${c.protocol}/${c.ports[0]!.from}`)).toEqual([
      "udp/5070",
      "tcp/5070",
    ]);
    expect(controlOpenings(policy.exposures[2]!).map((c) => `${c.protocol}/${c.ports[0]!.from}`)).toEqual([
      "udp/5353",
      "tcp/5353",
    ]);
  });

  it("names exposures after their service, numbering repeats", () => {
    const policy = assertPolicy({
      exposures: [{ service: "ssh" }, { service: "ssh", ports: 2222 }, { name: "db", protocol: "tcp", ports: 5432 }],
    });
    expect(exposureIds(policy.exposures)).toEqual(["ssh", "ssh-2", "db"]);
  });

  it("throws a PolicyError listing every line", () => {
    expect(() => assertPolicy({ exposures: [{ service: "nope" }] })).toThrow(PolicyError);
    try {
      assertPolicy({ exposures: [{ service: "ftp" }] });
    } catch (err) {
      expect((err as PolicyError).errors).toEqual(["exposures[0].passivePorts: is required"]);
    }
  });
});
