import { describe, expect, it } from "vitest";
import { formatPrometheus, formatTable, withRates } from "../../src/cli/stats-format";
import { countersFromJson } from "../../src/host/operations/stats";

const rule = (chain: string, comment: string, packets: number, bytes: number) => ({
  rule: {
    family: "inet",
    table: "t",
    chain,
    comment,
    expr: [{ match: {} }, { counter: { packets, bytes } }, { accept: null }],
  },
});
const doc = (rules: object[]) =>
  JSON.stringify({
    nftables: [
      { metainfo: {} },
      { rule: { chain: "input", comment: "established", expr: [{ accept: null }] } },
      ...rules,
    ],
  });

describe("stats: counters from the live table", () => {
  const json = doc([
    rule("input", "blocked: f2b-sshd", 7, 420),
    rule("input", "ssh: remote logins, over limit", 3, 180),
    rule("input", "ssh: remote logins, over limit", 2, 160),
    rule("input", "ssh: remote logins", 10, 600),
    rule("input", "dropped: end of chain", 5, 300),
  ]);

  it("sums an exposure's rules (both families) per kind; rules without a counter are left out", () => {
    expect(countersFromJson(json)).toEqual([
      { chain: "input", kind: "blocked", name: "f2b-sshd", packets: 7, bytes: 420 },
      { chain: "input", kind: "over-limit", name: "ssh", packets: 5, bytes: 340 },
      { chain: "input", kind: "accept", name: "ssh", packets: 10, bytes: 600 },
      { chain: "input", kind: "chain-drop", name: "input", packets: 5, bytes: 300 },
    ]);
    expect(countersFromJson("")).toEqual([]);
  });

  it("rates since the previous sample; none on the first call or when a counter went down (table replaced)", () => {
    const counters = countersFromJson(json);
    const first = withRates({ target: "h", table: "t", present: true, counters }, 10_000, undefined);
    expect(first.rows.every((r) => r.packetRate === undefined)).toBe(true);
    const previous = {
      at: 8_000,
      counters: counters.map((c) =>
        c.kind === "accept" ? { ...c, packets: 4, bytes: 200 } : c.kind === "blocked" ? { ...c, packets: 9 } : c,
      ),
    };
    const second = withRates({ target: "h", table: "t", present: true, counters }, 10_000, previous);
    expect(second.rows.find((r) => r.kind === "accept")).toMatchObject({ packetRate: 3, byteRate: 200 });
    expect(second.rows.find((r) => r.kind === "blocked")!.packetRate).toBeUndefined();
    expect(formatTable([second])).toMatch(/input\s+accept\s+ssh\s+10\s+600\s+3\.00\s+200\.00/);
    const prom = formatPrometheus([second]);
    expect(prom).toContain(
      'hardened_nftables_packets_total{host="h",table="t",chain="input",kind="over-limit",name="ssh"} 5',
    );
    expect(prom).toContain("# TYPE hardened_nftables_bytes_total counter");
    expect(prom).toContain('hardened_nftables_table_present{host="h",table="t"} 1');
  });
});
