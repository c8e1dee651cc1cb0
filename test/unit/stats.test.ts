import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseInventory } from "../../src/cli/inventory";
import { statsCommand } from "../../src/cli/stats";
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

describe("stats: many hosts, each with its own pinned key", () => {
  const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
  const FP_B = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
  it("the inventory's hardened_nftables_host_key: quoted in INI (a key has a space), or a fingerprint; YAML too", () => {
    const ini = `[fw]\na ansible_host=198.18.0.10 hardened_nftables_host_key="${KEY_A}"\nb ansible_host=198.18.0.11 hardened_nftables_host_key=${FP_B} ansible_port=2222\nc\n`;
    expect(parseInventory(ini)).toEqual([
      { name: "a", spec: "198.18.0.10", hostKey: KEY_A },
      { name: "b", spec: "198.18.0.11:2222", hostKey: FP_B },
      { name: "c", spec: "c" },
    ]);
    const yaml = `all:\n  hosts:\n    a:\n      ansible_host: 198.18.0.10\n      hardened_nftables_host_key: "${KEY_A}"\n    c:\n`;
    expect(parseInventory(yaml)).toEqual([
      { name: "a", spec: "198.18.0.10", hostKey: KEY_A },
      { name: "c", spec: "c" },
    ]);
  });

  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), "hnft-stats-unit-"));
    const sampleFile = join(dir, "stats.json");
    const code = await statsCommand([...args, "--sample-file", sampleFile], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    }).catch((e: Error) => `${e.name}: ${e.message}`);
    return { code, out: out.join(""), err: err.join(""), sampled: existsSync(sampleFile) };
  };
  const inventory = (text: string) => {
    const file = join(mkdtempSync(join(tmpdir(), "hnft-inv-")), "hosts.ini");
    writeFileSync(file, text);
    return file;
  };

  it("a bad key in the inventory is refused before any connection, named after the host and the variable", async () => {
    // 198.18.255.254 answers nothing: a connection attempt would hang, not return 2 at once
    const file = inventory(
      `a ansible_host=198.18.255.254 hardened_nftables_host_key="${KEY_A}"\nb ansible_host=198.18.255.253 hardened_nftables_host_key="ssh-ed25519 not-a-key"\n`,
    );
    const r = await run(["--inventory", file, "--identity", "/dev/null"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--inventory b hardened_nftables_host_key");
    expect(r.err).not.toContain("--inventory a");
    expect(r.sampled).toBe(false);
  });

  it("audit reads the same variable through the same parser: a bad key there is named after the host and the variable", async () => {
    const { auditCommand } = await import("../../src/cli/audit");
    const file = inventory(
      `a ansible_host=198.18.255.254 hardened_nftables_host_key="${KEY_A}"\nb ansible_host=198.18.255.253 hardened_nftables_host_key="ssh-ed25519 not-a-key"\n`,
    );
    const err: string[] = [];
    process.env.HNFT_UNIT_PASSWORD = "unit-password";
    const code = await auditCommand(["--inventory", file, "--password-env", "HNFT_UNIT_PASSWORD"], {
      out: () => undefined,
      err: (t) => err.push(t),
    });
    delete process.env.HNFT_UNIT_PASSWORD;
    expect(code).toBe(2);
    expect(err.join("")).toContain("--inventory b hardened_nftables_host_key");
    expect(err.join("")).not.toContain("--inventory a");
  });

  it("a host without a key of its own needs --host-key; no host at all, or an unreadable inventory, is a usage error naming the flag", async () => {
    const file = inventory(
      `a ansible_host=198.18.255.254 hardened_nftables_host_key=${FP_B}\nb ansible_host=198.18.255.253\n`,
    );
    process.env.HNFT_UNIT_PASSWORD = "unit-password";
    const r = await run(["--inventory", file, "--password-env", "HNFT_UNIT_PASSWORD"]);
    delete process.env.HNFT_UNIT_PASSWORD;
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--host-key: required/);
    expect(r.err).not.toContain("unit-password");
    expect(r.sampled).toBe(false);
    expect((await run([])).code).toMatch(/--host or --inventory: at least one host is required/);
    expect((await run(["--inventory", "/nonexistent/hosts.ini"])).code).toMatch(/--inventory: cannot read/);
  });
});
