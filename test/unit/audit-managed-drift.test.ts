/**
 * A managed table against the listing its last committed apply recorded, judged with diff's own
 * comparison. The fixtures are what nft 1.0.6 printed for a small table before and after a rule
 * and a set element were added by hand.
 */
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main";
import { factsFromGathered, judge } from "../../src/host/audit/findings";
import { managedTableDrift } from "../../src/host/audit/managed-drift";

const RECORDED_JSON =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "hardened", "handle": 1}}, {"set": {"family": "inet", "name": "ssh_v4", "table": "hardened", "type": "ipv4_addr", "handle": 2, "flags": ["interval"], "elem": [{"prefix": {"addr": "198.18.0.0", "len": 24}}]}}, {"chain": {"family": "inet", "table": "hardened", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 5, "comment": "ssh", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@ssh_v4"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}}]}';
const RECORDED_TEXT =
  'table inet hardened {\n\tset ssh_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 198.18.0.0/24 }\n\t}\n\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tiifname "lo" accept\n\t\tct state established,related accept\n\t\tip saddr @ssh_v4 tcp dport 22 accept comment "ssh"\n\t}\n}\n';
const LIVE_JSON =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "hardened", "handle": 1}}, {"set": {"family": "inet", "name": "ssh_v4", "table": "hardened", "type": "ipv4_addr", "handle": 2, "flags": ["interval"], "elem": [{"prefix": {"addr": "198.18.0.0", "len": 24}}, {"prefix": {"addr": "198.18.9.0", "len": 24}}]}}, {"chain": {"family": "inet", "table": "hardened", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 5, "comment": "ssh", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@ssh_v4"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "hardened", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"accept": null}]}}]}';
const LIVE_TEXT =
  'table inet hardened {\n\tset ssh_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 198.18.0.0/24, 198.18.9.0/24 }\n\t}\n\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tiifname "lo" accept\n\t\tct state established,related accept\n\t\tip saddr @ssh_v4 tcp dport 22 accept comment "ssh"\n\t\ttcp dport 8080 accept\n\t}\n}\n';

const sections = (liveJson: string, liveText: string, recordedJson = RECORDED_JSON, recordedText = RECORDED_TEXT) => ({
  managed: "hardened",
  "recorded-json hardened": recordedJson,
  "recorded-text hardened": recordedText,
  "live-json hardened": liveJson,
  "live-text hardened": liveText,
});
// only the managed-table findings: without a ruleset section the host has other findings (an open input)
const audit = (s: Record<string, string>) =>
  judge("h1", factsFromGathered({ values: {}, sections: s })).filter((f) => f.id.startsWith("managed-table"));

describe("audit: a managed table's drift since its last apply", () => {
  it("a rule and a set element added by hand: a medium managed-table-drift quoting them as diff prints them", () => {
    const drift = managedTableDrift("hardened", sections(LIVE_JSON, LIVE_TEXT));
    expect(drift.state).toBe("drifted");
    const finding = audit(sections(LIVE_JSON, LIVE_TEXT)).find((f) => f.id === "managed-table-drift");
    expect(finding?.severity).toBe("medium");
    expect(finding?.evidence).toEqual(["+ input: tcp dport 8080 accept", "set ssh_v4", "+ 198.18.9.0/24"]);
    expect(finding?.remedy).toContain("hardened-nftables apply");
  });

  it("the live table as recorded: in sync, info only", () => {
    expect(managedTableDrift("hardened", sections(RECORDED_JSON, RECORDED_TEXT)).state).toBe("in-sync");
    const findings = audit(sections(RECORDED_JSON, RECORDED_TEXT));
    expect(findings.map((f) => `${f.severity} ${f.id}`)).toEqual(["info managed-table"]);
    expect(findings[0]?.title).toContain("in sync with its last apply");
  });

  it("the table deleted by hand: drift, the table missing and its rules with it", () => {
    const finding = audit(sections("", "")).find((f) => f.id === "managed-table-drift");
    expect(finding?.evidence).toEqual(expect.arrayContaining(["table missing", '- input: iifname "lo" accept']));
  });

  it("no record (no committed apply, or a listing this nft cannot reload): not judged, and said so", () => {
    const none = audit(sections(LIVE_JSON, LIVE_TEXT, "", ""));
    expect(none.map((f) => f.id)).toEqual(["managed-table"]);
    expect(none[0]?.evidence[1]).toMatch(/^drift not judged: no listing recorded/);
    const unloadable = managedTableDrift("hardened", sections(LIVE_JSON, LIVE_TEXT, "", RECORDED_TEXT));
    expect(unloadable).toMatchObject({ state: "unrecorded", reason: expect.stringContaining("could not be reloaded") });
  });

  it("audit --state-root that the host scripts would refuse: exit 2 naming the flag, before any connection", async () => {
    let err = "";
    // 192.0.2.1 (TEST-NET-1) would time out if it were contacted
    const code = await main(
      ["audit", "--host", "root@192.0.2.1", "--insecure-ignore-host-key", "--state-root", "var/lib/../x"],
      { out: () => undefined, err: (t) => void (err += t) },
    );
    expect(code).toBe(2);
    expect(err).toContain("--state-root: must be an absolute path");
  });
});
