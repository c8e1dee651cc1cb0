/**
 * The pure half of `diff` and drift observation, without root: the table diff of two listings
 * (src/host/operations/drift.ts), the comparison of what observe.sh read with what the policy renders
 * (src/host/operations/observed.ts), and the report's verdict and text (src/host/operations/drift-report.ts).
 */
import { describe, expect, it } from "vitest";
import { diffTables, ownedElsewhere, ruleTexts, tableFromRuleset } from "../../src/host/operations/drift";
import {
  type DriftReport,
  formatDrift,
  hasRepairableDrift,
  summarizeDrift,
} from "../../src/host/operations/drift-report";
import { compareObserved } from "../../src/host/operations/observed";
import { managedPaths } from "../../src/render/paths";
import { LISTING_JSON, LISTING_TEXT } from "../fixtures/nft-listing";

type Doc = { nftables: Record<string, Record<string, unknown>>[] };

/** The captured listing, edited as someone on the host would have changed the table. */
function live(edit: (doc: Doc) => void, text: (t: string) => string = (t) => t): [string, string] {
  const doc = JSON.parse(LISTING_JSON) as Doc;
  edit(doc);
  return [JSON.stringify(doc), text(LISTING_TEXT)];
}
const rules = (doc: Doc) => doc.nftables.filter((o) => o.rule).map((o) => o.rule!);
const diff = ([json, text]: [string, string]) => diffTables(LISTING_JSON, LISTING_TEXT, json, text);

describe("ownedElsewhere: sets whose elements the kernel or another tool writes", () => {
  it("meters (dynamic), block sets of prefixes (interval,timeout) and of single addresses (a default timeout, no flags line); never a declared set", () => {
    const listing = [
      "table inet t {",
      "\tset meter {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic\n\t}",
      "\tset f2b {\n\t\ttype ipv4_addr\n\t\tflags interval,timeout\n\t\ttimeout 1h\n\t}",
      // nft lists `flags timeout` of a set with a default timeout only as its timeout line
      "\tset crowdsec {\n\t\ttype ipv4_addr\n\t\ttimeout 4h\n\t\telements = { 192.0.2.5 timeout 4h expires 3h }\n\t}",
      "\tset ssh_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 192.0.2.0/24 }\n\t}",
      "}",
    ].join("\n");
    expect([...ownedElsewhere(listing)].sort()).toEqual(["crowdsec", "f2b", "meter"]);
  });
});

describe("ruleTexts: rule lines per chain from a text listing", () => {
  it("takes each chain's rules in order, without its hook line, policy or braces", () => {
    expect(ruleTexts(LISTING_TEXT)).toEqual(
      new Map([
        [
          "input",
          [
            'ct state established accept comment "baseline: established"',
            'tcp dport 22 ip saddr @ssh_v4 accept comment "ssh: control"',
            'tcp dport 80 accept comment "http: control"',
          ],
        ],
      ]),
    );
  });
});

describe("tableFromRuleset: this table from a terse listing of the ruleset and its declared sets' own listings", () => {
  const meta = { metainfo: { version: "1.0.6", json_schema_version: 1 } };
  const ours = [
    { table: { family: "inet", name: "hnft", handle: 1 } },
    { set: { family: "inet", name: "deny_v4", table: "hnft", type: "ipv4_addr", handle: 2, flags: ["interval"] } },
    {
      set: {
        family: "inet",
        name: "crowdsec",
        table: "hnft",
        type: "ipv4_addr",
        handle: 3,
        flags: ["interval", "timeout"],
      },
    },
    { chain: { family: "inet", table: "hnft", name: "input", handle: 4 } },
  ];
  const others = [
    { table: { family: "ip", name: "hnft", handle: 1 } },
    { chain: { family: "ip", table: "hnft", name: "input", handle: 2 } },
    { table: { family: "inet", name: "other", handle: 5 } },
    { set: { family: "inet", name: "deny_v4", table: "other", type: "ipv4_addr", handle: 6 } },
  ];
  const ruleset = JSON.stringify({ nftables: [meta, ...others.slice(0, 2), ...ours, ...others.slice(2)] });
  const elem = [{ prefix: { addr: "192.0.2.0", len: 24 } }];
  const setDoc = (table: string) =>
    JSON.stringify({ nftables: [meta, { set: { family: "inet", name: "deny_v4", table, type: "ipv4_addr", elem } }] });

  it("keeps only this table's objects, and puts each declared set's elements back", () => {
    const doc = JSON.parse(tableFromRuleset(ruleset, `${setDoc("other")}\n${setDoc("hnft")}\n`, "hnft")) as Doc;
    expect(doc.nftables.map((o) => Object.keys(o)[0])).toEqual(["metainfo", "table", "set", "set", "chain"]);
    expect(doc.nftables[2]!.set).toEqual({ ...ours[1]!.set, elem });
    // a block set's elements are never read: it stays as the terse listing has it
    expect(doc.nftables[3]!.set).toEqual(ours[2]!.set);
  });

  it("another table's set of the same name lends this table nothing", () => {
    const doc = JSON.parse(tableFromRuleset(ruleset, setDoc("other"), "hnft")) as Doc;
    expect(doc.nftables[2]!.set).toEqual(ours[1]!.set);
  });

  it("no such table (or nothing listed) is an absent table", () => {
    expect(tableFromRuleset(ruleset, "", "nothere")).toBe("");
    expect(tableFromRuleset("", "", "hnft")).toBe("");
  });
});

describe("diffTables: the candidate against the live table, both listed by the host's nft", () => {
  it("the same table is no drift, whatever the handles", () => {
    const d = diff(
      live((doc) =>
        rules(doc).forEach((r, i) => {
          r.handle = 100 + i;
        }),
      ),
    );
    expect(d).toEqual({
      livePresent: true,
      rules: { added: [], removed: [], changed: [] },
      chains: [],
      sets: [],
      helpers: [],
    });
  });

  it("a rule added by hand is named with its text as the listing prints it", () => {
    const d = diff(
      live(
        (doc) =>
          doc.nftables.push({
            rule: {
              family: "inet",
              table: "t",
              chain: "input",
              handle: 9,
              expr: [
                { match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: 3306 } },
                { accept: null },
              ],
            },
          }),
        (t) =>
          t.replace(
            'tcp dport 80 accept comment "http: control"',
            'tcp dport 80 accept comment "http: control"\n\t\ttcp dport 3306 accept',
          ),
      ),
    );
    expect(d.rules.added).toEqual([{ chain: "input", text: "tcp dport 3306 accept", comment: undefined }]);
    expect(d.rules.removed).toEqual([]);
  });

  it("a rule listed twice on the host is one rule added (rules are counted, not just matched)", () => {
    const d = diff(
      live(
        (doc) => doc.nftables.push({ rule: { ...rules(doc).find((r) => r.comment === "http: control")!, handle: 9 } }),
        (t) =>
          t.replace(
            'tcp dport 80 accept comment "http: control"',
            'tcp dport 80 accept comment "http: control"\n\t\ttcp dport 80 accept comment "http: control"',
          ),
      ),
    );
    expect(d.rules.added).toEqual([
      { chain: "input", text: 'tcp dport 80 accept comment "http: control"', comment: "http: control" },
    ]);
    expect(d.rules.removed).toEqual([]);
    expect(d.rules.changed).toEqual([]);
  });

  it("a rule edited in place (same comment) is one change, before and after; a deleted one is missing", () => {
    const edited = diff(
      live(
        (doc) => {
          const http = rules(doc).find((r) => r.comment === "http: control")!;
          (http.expr as { match?: { right: unknown } }[])[0]!.match!.right = 8080;
        },
        (t) => t.replace("tcp dport 80 accept", "tcp dport 8080 accept"),
      ),
    );
    expect(edited.rules.changed).toEqual([
      {
        chain: "input",
        before: 'tcp dport 80 accept comment "http: control"',
        after: 'tcp dport 8080 accept comment "http: control"',
      },
    ]);
    expect(edited.rules.added).toEqual([]);
    expect(edited.rules.removed).toEqual([]);

    const deleted = diff(
      live(
        (doc) => (doc.nftables = doc.nftables.filter((o) => o.rule?.comment !== "ssh: control")),
        (t) => t.replace(/\n.*ssh: control.*/, ""),
      ),
    );
    expect(deleted.rules.removed).toEqual([
      { chain: "input", text: 'tcp dport 22 ip saddr @ssh_v4 accept comment "ssh: control"', comment: "ssh: control" },
    ]);
  });

  it("a chain's policy, a set's elements and a helper object are compared too", () => {
    const d = diff(
      live((doc) => {
        for (const o of doc.nftables) {
          if (o.chain) o.chain.policy = "accept";
          if (o.set) o.set.elem = [{ prefix: { addr: "198.18.0.0", len: 24 } }, "198.19.0.99"];
        }
        doc.nftables = doc.nftables.filter((o) => !o["ct helper"]);
      }),
    );
    expect(d.chains).toEqual([{ name: "input", change: "policy drop -> accept" }]);
    expect(d.sets).toEqual([{ name: "ssh_v4", added: ["198.19.0.99"], removed: ["198.19.0.1"] }]);
    expect(d.helpers).toEqual([{ name: "ftp-std", change: "missing" }]);
  });

  it("a set the host found the same on both sides is compared by declaration only; any other set with no elements listed is empty", () => {
    const withoutElements = (doc: Doc) => {
      for (const o of doc.nftables) if (o.set) delete o.set.elem;
    };
    const [desiredTerse] = live(withoutElements);
    const same = new Set(["ssh_v4"]);
    expect(diffTables(desiredTerse, LISTING_TEXT, ...live(withoutElements), same).sets).toEqual([]);
    const reflagged = live((doc) => {
      withoutElements(doc);
      for (const o of doc.nftables) if (o.set) o.set.flags = ["interval", "timeout"];
    });
    expect(diffTables(desiredTerse, LISTING_TEXT, ...reflagged, same).sets).toEqual([
      { name: "ssh_v4", added: [], removed: [], change: "type or flags changed" },
    ]);
    // negative control: not named the same, a live set listed without elements is an emptied set
    expect(diffTables(LISTING_JSON, LISTING_TEXT, ...live(withoutElements)).sets).toEqual([
      { name: "ssh_v4", added: [], removed: ["198.18.0.0/24", "198.19.0.1"] },
    ]);
  });

  it("no live table: present is false and every desired rule is missing", () => {
    const d = diffTables(LISTING_JSON, LISTING_TEXT, "", "");
    expect(d.livePresent).toBe(false);
    expect(d.rules.removed).toHaveLength(3);
    expect(d.chains).toEqual([{ name: "input", change: "missing" }]);
  });

  it("a candidate that could not be listed is an error, not an empty diff", () => {
    expect(() => diffTables("", "", LISTING_JSON, LISTING_TEXT)).toThrow(/candidate table could not be listed/);
  });
});

describe("compareObserved: files, enablement link, sysctls and modules as observe.sh read them", () => {
  const paths = managedPaths("t");
  const artefacts = {
    nft: "table inet t {}\n",
    sysctl: "net.netfilter.nf_conntrack_max = 262144\n",
    modprobe: "install nf_conntrack_ftp /bin/false\n",
    sysctlSettings: [
      ["net.netfilter.nf_conntrack_max", "262144"],
      ["net.netfilter.nf_conntrack_helper", "0"],
    ] as [string, string][],
    deniedModules: ["nf_conntrack_ftp", "nf_conntrack_sip"],
  };
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const inSyncSections = {
    "file nft present": b64(artefacts.nft),
    "file sysctl present": b64(artefacts.sysctl),
    "file modprobe present": b64(artefacts.modprobe),
    "file unit present": b64("[Unit]\n"),
    "unit-link": paths.unit,
    sysctl: "net.netfilter.nf_conntrack_max 262144\nnet.netfilter.nf_conntrack_helper -",
    modules: "nf_conntrack_sane",
  };

  it('a host as rendered shows nothing; a read-only or absent sysctl ("-") is not drift', () => {
    expect(compareObserved(inSyncSections, { artefacts, paths, unit: "[Unit]\n" })).toEqual({
      files: [],
      sysctls: [],
      loadedDeniedModules: [],
    });
  });

  it("names a changed file line by line, a missing one, an unexpected unit and a disabled one", () => {
    const { "file modprobe present": _, ...withoutModprobe } = inSyncSections;
    const found = compareObserved(
      { ...withoutModprobe, "file sysctl present": b64("net.netfilter.nf_conntrack_max = 4096\n"), "unit-link": "" },
      { artefacts, paths, unit: "[Unit]\n" },
    );
    expect(found.files).toEqual([
      {
        name: "sysctl",
        path: paths.sysctl,
        status: "changed",
        added: ["net.netfilter.nf_conntrack_max = 4096"],
        removed: ["net.netfilter.nf_conntrack_max = 262144"],
      },
      { name: "modprobe", path: paths.modprobe, status: "missing", added: [], removed: [] },
      { name: "unit-link", path: paths.unitLink, status: "missing", added: [], removed: [] },
    ]);
    // no systemd on the host: a unit there is unexpected, and so is its link
    const noSystemd = compareObserved(inSyncSections, { artefacts, paths, unit: undefined });
    expect(noSystemd.files.map((f) => [f.name, f.status])).toEqual([
      ["unit", "unexpected"],
      ["unit-link", "unexpected"],
    ]);
  });

  it("the table file the host found the same as the candidate it was sent is in sync without its content", () => {
    const { "file nft present": _, ...rest } = inSyncSections;
    const sameOnHost = { ...rest, "file nft same": "" };
    expect(compareObserved(sameOnHost, { artefacts, paths, unit: "[Unit]\n" }).files).toEqual([]);
    // negative control: neither same nor present is a missing file
    expect(compareObserved(rest, { artefacts, paths, unit: "[Unit]\n" }).files).toEqual([
      { name: "nft", path: paths.nft, status: "missing", added: [], removed: [] },
    ]);
  });

  it("a live sysctl off its value, and a denied module that is loaded", () => {
    const found = compareObserved(
      {
        ...inSyncSections,
        sysctl: "net.netfilter.nf_conntrack_max 4096\nnet.netfilter.nf_conntrack_helper 1",
        modules: "nf_conntrack_ftp\nnf_conntrack_sane",
      },
      { artefacts, paths, unit: "[Unit]\n" },
    );
    expect(found.sysctls).toEqual([
      { key: "net.netfilter.nf_conntrack_max", expected: "262144", actual: "4096" },
      { key: "net.netfilter.nf_conntrack_helper", expected: "0", actual: "1" },
    ]);
    expect(found.loadedDeniedModules).toEqual(["nf_conntrack_ftp"]);
  });
});

describe("the drift report: what an apply repairs, and its text", () => {
  const clean = {
    target: "root@198.18.0.1:22",
    table: "t",
    inSync: true,
    tablePresent: true,
    rules: { added: [], removed: [], changed: [] },
    chains: [],
    sets: [],
    helpers: [],
    files: [],
    sysctls: [],
    loadedDeniedModules: [],
  } satisfies Partial<DriftReport>;

  it("in sync: nothing to repair, one line", () => {
    expect(hasRepairableDrift(clean)).toBe(false);
    expect(summarizeDrift(clean)).toBe("root@198.18.0.1:22: table inet t in sync");
    expect(formatDrift(clean)).toEqual(["root@198.18.0.1:22: table inet t in sync"]);
  });

  it("a loaded denied module is drift no apply repairs; a rule added by hand is", () => {
    const loaded = { ...clean, inSync: false, loadedDeniedModules: ["nf_conntrack_ftp"] };
    expect(hasRepairableDrift(loaded)).toBe(false);
    expect(formatDrift(loaded)).toContain("  module nf_conntrack_ftp: loaded although denied");
    const added = {
      ...clean,
      inSync: false,
      rules: { added: [{ chain: "input", text: "tcp dport 3306 accept" }], removed: [], changed: [] },
    };
    expect(hasRepairableDrift(added)).toBe(true);
    expect(summarizeDrift(added)).toContain("1 rule(s) added");
    expect(formatDrift(added)).toEqual([
      "root@198.18.0.1:22: table inet t drifted",
      "  + input: tcp dport 3306 accept",
    ]);
  });
});
