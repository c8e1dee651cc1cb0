import { describe, expect, it } from "vitest";
import { mergePolicies, PolicyError, parsePolicy, renderPolicy } from "../../src";

const BASE = {
  table: "fleet",
  exposures: [{ service: "ssh" as const, sources: ["192.0.2.0/24"] }],
  log: { dropped: true },
};

function problems(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).errors;
  }
  throw new Error("expected a PolicyError");
}

describe("mergePolicies: a base policy plus additions, one table", () => {
  it("adds up exposures and output.allow, merges objects field by field, keeps the base's table", () => {
    const merged = mergePolicies(
      BASE,
      {
        exposures: [{ service: "http" }, { service: "https", http3: true }],
        output: { policy: "drop", allow: [{ name: "dns", protocol: "udp", ports: 53 }] },
      },
      {
        exposures: [{ name: "pg", protocol: "tcp", ports: 5432 }],
        output: { allow: [{ name: "ntp", protocol: "udp", ports: 123 }] },
        conntrack: { max: 131072 },
      },
    );
    expect(merged).toEqual({
      table: "fleet",
      exposures: [
        { service: "ssh", sources: ["192.0.2.0/24"] },
        { service: "http" },
        { service: "https", http3: true },
        { name: "pg", protocol: "tcp", ports: 5432 },
      ],
      log: { dropped: true },
      output: {
        policy: "drop",
        allow: [
          { name: "dns", protocol: "udp", ports: 53 },
          { name: "ntp", protocol: "udp", ports: 123 },
        ],
      },
      conntrack: { max: 131072 },
    });
    // The result is a policy input like any other: it validates and renders one table with every opening.
    const parsed = parsePolicy(merged);
    expect(parsed.ok).toBe(true);
    const nft = renderPolicy(parsed.ok ? parsed.value : (undefined as never)).nft;
    expect(nft).toContain("table inet fleet {");
    for (const port of [
      "tcp dport 22",
      "tcp dport 80",
      "tcp dport 443",
      "udp dport 443",
      "tcp dport 5432",
      "udp dport 53",
      "udp dport 123",
    ])
      expect(nft).toContain(port);
    // The inputs are not modified.
    expect(BASE.exposures).toHaveLength(1);
  });

  it("the same value set twice is not a conflict; no additions returns the base", () => {
    expect(mergePolicies(BASE, { table: "fleet", log: { dropped: true } }).table).toBe("fleet");
    expect(mergePolicies(BASE)).toEqual(BASE);
  });

  it("a field set to two values fails, naming the field in both parts", () => {
    expect(
      problems(() =>
        mergePolicies(
          { ...BASE, output: { policy: "accept" } },
          { table: "app", output: { policy: "drop" } },
          { log: { dropped: false } },
        ),
      ),
    ).toEqual([
      'additions[0].table: "app" conflicts with "fleet" set by base.table; one table has one value',
      'additions[0].output.policy: "drop" conflicts with "accept" set by base.output.policy; one table has one value',
      "additions[1].log.dropped: false conflicts with true set by base.log.dropped; one table has one value",
    ]);
    // Between two additions, the first one that set it is named.
    expect(
      problems(() => mergePolicies(BASE, { icmp: { echoRate: "5/second" } }, { icmp: { echoRate: "20/second" } })),
    ).toEqual([
      'additions[1].icmp.echoRate: "20/second" conflicts with "5/second" set by additions[0].icmp.echoRate; one table has one value',
    ]);
  });

  it("problems only the whole has name the exposures where they came from", () => {
    expect(
      problems(() =>
        mergePolicies(
          { table: "fleet", exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100" }] },
          { exposures: [{ service: "ftp", helper: "scoped", passivePorts: "50000-50100" }] },
        ),
      ),
    ).toEqual([
      'additions[0].exposures[0].ports: tcp/21 is also exposed by base.exposures[1] with helper "none"; one port cannot have two helper modes',
    ]);
    expect(
      problems(() =>
        mergePolicies(
          { table: "fleet", exposures: [{ name: "pg", protocol: "tcp", ports: 5432 }] },
          { exposures: [{ service: "ssh" }, { name: "pg", protocol: "tcp", ports: 5433 }] },
        ),
      ),
    ).toEqual(['additions[0].exposures[1].name: "pg" is already used by base.exposures[0]']);
    expect(problems(() => mergePolicies({ table: "fleet", exposures: [] }, {}))).toEqual([
      "merged policy: exposures: is empty; set allowNothing: true to render a table that opens nothing (SSH included)",
    ]);
  });

  it("problems inside a part are named at their place in that part, before merging", () => {
    expect(
      problems(() =>
        mergePolicies(BASE, { exposures: [{ service: "ftp", passivePorts: "9-2" }], bogus: 1 } as never, null as never),
      ),
    ).toEqual([
      "additions[0].exposures[0].passivePorts: range 9-2 is reversed",
      "additions[0].bogus: unknown field",
      "additions[1]: expected a policy object, got null",
    ]);
    expect(
      problems(() => mergePolicies({ ...BASE, table: "ip" }, { exposures: [{ service: "nope" }] } as never)),
    ).toEqual([
      "base.table: is an nft keyword; choose another table name",
      expect.stringMatching(/^additions\[0\]\.exposures\[0\]\.service: unknown service "nope"/),
    ]);
  });
});
