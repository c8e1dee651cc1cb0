/**
 * Every construct the renderer writes is spelled exactly as `nft list` prints it back. Drift
 * compares text: the host's listing of the live table against the listing of the candidate, and
 * `pulumi preview --diff` shows rendered rule lines beside lines read from a live listing; a rule
 * the renderer spells differently from nft would show as changed on every preview. So each
 * rendered table (the golden cases, and one per catalog service, helper mode and address family)
 * is loaded into a throwaway namespace, listed with `nft -s list table`, and every line of every
 * helper object, set and chain is compared with the rendered one, character for character.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalog, serviceNames } from "../../src/catalog";
import { ruleTexts } from "../../src/host/operations/drift";
import { checkInScratchNamespace } from "../../src/local/nft-check";
import type { PolicyInput } from "../../src/model/policy";
import { parsePolicy } from "../../src/model/validate";
import { type Artefacts, renderPolicy } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";
import { ruleText } from "../../src/render/rule-lines";
import { goldenCases } from "../golden/policies";
import { GOLDEN_DIR } from "../golden/render-golden";
import { blockMismatches, listInScratchNamespace, tableBlocks } from "../support/nft-text";
import { requireRoot } from "../support/privileges";

interface Case {
  readonly title: string;
  readonly policy: PolicyInput;
  readonly kernel?: string;
}

/** Minimal data ranges per service, so every opening a service has is rendered. */
const extra: Record<string, Record<string, unknown>> = {
  ftp: { passivePorts: "50000-51000", activeMode: true },
  tftp: { dataPorts: "50100-50200" },
  sip: { rtpPorts: "10000-20000", transport: "both" },
  h323: { mediaPorts: "5000-5500" },
  irc: { dccPorts: "59000-59100" },
  sane: { dataPorts: "6600-6610" },
  amanda: { dataPorts: "11000-11100" },
  https: { http3: true },
};

const sourceVariants: Record<string, string[] | undefined> = {
  anywhere: undefined,
  ipv4: ["198.18.0.0/24", "198.18.1.7"],
  ipv6: ["2001:2::/48"],
  both: ["198.18.0.0/24", "2001:2:0:1::/64", "198.18.2.1", "198.18.3.0/24", "198.18.4.0/24"],
};

/** One table per catalog service, helper mode and address family; output restricted and drops logged. */
function serviceCases(): Case[] {
  const out: Case[] = [];
  for (const service of serviceNames) {
    const modes = catalog.get(service)!.helper ? ["none", "scoped"] : ["none"];
    for (const helper of modes) {
      for (const [variant, sources] of Object.entries(sourceVariants)) {
        const exposure = { service, helper, ...(extra[service] ?? {}), ...(sources ? { sources } : {}) };
        const policy = {
          table: "listing",
          exposures: service === "ssh" ? [exposure] : [{ service: "ssh" }, exposure],
          output: { policy: "drop" },
          log: { dropped: true },
        } as PolicyInput;
        // The model refuses an IPv4-only helper with IPv6-only sources; nft-load.test.ts checks that.
        if (parsePolicy(policy).ok) out.push({ title: `${service} helper=${helper} sources=${variant}`, policy });
      }
    }
  }
  return out;
}

/** The policy-wide choices the service matrix holds fixed. */
const settingCases: Case[] = [
  {
    title: "forward accepted, output accepted, no echo, no DHCPv6, log with prefix",
    policy: {
      table: "listing",
      exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100", helper: "scoped" }],
      forward: { policy: "accept" },
      icmp: { echo: false },
      dhcpv6Client: false,
      log: { dropped: true, rate: "3/hour", prefix: "hnft: drop" },
    },
  },
  {
    title: "output allow to both families, custom exposures with port lists",
    policy: {
      table: "listing",
      exposures: [
        { service: "ssh", sources: ["2001:2::/48"] },
        { name: "app", protocol: "tcp", ports: [8080, "8443-8444", 9000], sources: ["198.18.0.0/15"] },
        { name: "stats", protocol: "udp", ports: 8125 },
      ],
      output: {
        policy: "drop",
        allow: [
          { name: "dns", protocol: "udp", ports: 53, destinations: ["198.18.0.53", "2001:2::53"] },
          { name: "web", protocol: "tcp", ports: [80, 443] },
        ],
      },
      icmp: { echo: true, echoRate: "100/day" },
    },
  },
];

const cases: Case[] = [
  ...goldenCases.map((c) => ({ title: `golden ${c.name}`, policy: c.policy, kernel: c.kernel })),
  ...settingCases,
  ...serviceCases(),
];

function render(c: Case): Artefacts {
  const parsed = parsePolicy(c.policy);
  if (!parsed.ok) throw new Error(`${c.title}: ${JSON.stringify(parsed.issues)}`);
  return renderPolicy(parsed.value, c.kernel ? { profile: profileForKernel(c.kernel) } : {});
}

/** What differs between a rendered file and nft's listing of it once loaded. */
async function mismatches(nftText: string, table: string): Promise<{ listing: string; differences: string[] }> {
  const listed = await listInScratchNamespace(nftText, table);
  expect(listed.error).toBe("");
  expect(listed.ok).toBe(true);
  return {
    listing: listed.listing,
    differences: blockMismatches(tableBlocks(nftText, table), tableBlocks(listed.listing, table)),
  };
}

describe.runIf(requireRoot("rendered tables against nft's listing", ["nft", "unshare"]))(
  "what the renderer writes is what nft lists",
  () => {
    it("the cases cover every construct the renderer emits", () => {
      const rendered = cases.map(render);
      const statements = rendered.flatMap((a) => a.rendered.rules.map((r) => `${r.chain}: ${r.statement}`));
      const constructs: Record<string, RegExp> = {
        "input, forward and output chains": /^forward: /,
        "output chain rules": /^output: /,
        "IPv4 source set": /ip saddr @\S+_v4 /,
        "IPv6 source set": /ip6 saddr @\S+_v6 /,
        "IPv4 destination set": /ip daddr @/,
        "IPv6 destination set": /ip6 daddr @/,
        "one family without a set": /meta nfproto ipv[46] /,
        "port list": /dport \{ \d/,
        "port range": /dport \d+-\d+ /,
        "source port": / sport \d/,
        "helper attached": /counter ct helper set "[^"]+" accept$/,
        "related to a kernel helper": /^\w+: ct state related ct helper "[^"]+" /,
        GRE: /meta l4proto gre/,
        broadcast: /fib daddr type broadcast counter accept$/,
        "counted accept": / counter accept$/,
        "per-source rate meter (IPv4)": /update @\S+_rate_v4 \{ ip saddr limit rate over \d+\/\w+ burst \d+ packets \}/,
        "per-source rate meter (IPv6 /64)": /update @\S+_rate_v6 \{ ip6 saddr & ffff:ffff:ffff:ffff:: limit rate over/,
        "per-source connection count with a prefix":
          /add @\S+_conn_v4 \{ ip saddr & 255\.255\.255\.0 ct count over \d+ \} counter drop$/,
        "exempt sources": /ip6? saddr != @\S+_exempt_v[46] /,
        "per-source rate meter on a published port":
          /^forward: .*ct status dnat .*ct original proto-dst \d+ ct state new update @\S+_rate_v4 \{ ip saddr limit rate over/,
        "per-source connection count on a published port":
          /^forward: .*ct status dnat .*ct original proto-dst \d+ ct state new add @\S+_conn_v4 \{ ip saddr ct count over \d+ \} counter reject with tcp reset$/,
        "published port over the limit to the logging chain": /^forward: .*ct status dnat .* counter goto over_limit$/,
        "over the limit to the logging chain": /counter goto over_limit$/,
        "over the limit rejected (denied: reject)": /update @\S+ \{ [^}]+ \} counter reject with tcp reset$/,
        "over-limit chain rejecting": /^over_limit: reject with icmpx admin-prohibited$/,
        "counted rate-limited reject at the chain's end": /^input: limit rate \d+\/\w+ counter reject with icmpx/,
        "block set drop": /^(input|forward): ip6? saddr @[\w-]+ counter drop$/,
        "counted final drop": /^(input|forward|output): counter drop$/,
        "ICMP errors": /ct state related icmp type \{/,
        "ICMPv6 errors": /ct state related icmpv6 type \{/,
        "echo rate limit": /icmp type echo-request limit rate \d+\/\w+ accept/,
        "neighbour discovery": /icmpv6 type \{ nd-router-solicit/,
        "hop limit": /ip6 hoplimit 255/,
        "log with a limit": /limit rate \d+\/\w+ log prefix "[^"]*" level info/,
        loopback: /iif "lo" accept/,
        "loopback on output": /oif "lo" accept/,
        "DHCPv6 client": /udp sport 547 udp dport 546/,
        invalid: /ct state invalid drop/,
      };
      const missing = Object.entries(constructs)
        .filter(([, re]) => !statements.some((s) => re.test(s)))
        .map(([name]) => name);
      expect(missing).toEqual([]);
      expect(rendered.some((a) => a.rendered.helpers.length > 0)).toBe(true);
      expect(rendered.some((a) => a.rendered.sets.some((s) => s.elements.length > 4))).toBe(true);
      expect(new Set(rendered.flatMap((a) => a.rendered.helpers.map((h) => h.type))).size).toBeGreaterThan(5);
    });

    for (const c of cases) {
      it(c.title, async () => {
        const artefacts = render(c);
        const { listing, differences } = await mismatches(artefacts.nft, artefacts.table);
        expect(differences).toEqual([]);
        // what drift reads from a listing is, rule for rule, what the renderer wrote
        const listedRules = ruleTexts(listing);
        for (const chain of new Set(artefacts.rendered.rules.map((r) => r.chain))) {
          const rendered = artefacts.rendered.rules
            .filter((r) => r.chain === chain)
            .map((r) => ruleText(r.statement, r.comment));
          expect(listedRules.get(chain), chain).toEqual(rendered);
        }
      });
    }

    it("the golden files on disk load into the real nft", async () => {
      for (const c of goldenCases) {
        const result = await checkInScratchNamespace(readFileSync(join(GOLDEN_DIR, c.name, "table.nft"), "utf8"));
        expect(result.error, c.name).toBe("");
        expect(result.ok, c.name).toBe(true);
      }
    });

    it("list_declared lists a table whose sets are all declared in one nft run: byte for byte the sets listed one by one", () => {
      // lib.sh's list_declared (what apply records at commit and observe compares) against the
      // per-set listing spliced into the terse one, for every case; the whole-table path is taken
      // exactly where no set is a meter or a block set
      const scripts = join(__dirname, "../../src/host/scripts");
      const script = `set -e
B=$1 table=$2
nft -f "$B/table.nft"
. "$B/lib.sh"
list_declared >"$B/listed"
nft -t -s list ruleset >"$B/ruleset"
table_of_ruleset "$B/ruleset" >"$B/terse"
declared_sets "$B/terse" >"$B/names"
: >"$B/sets"
while read -r kind name; do nft -s list "$kind" inet "$table" "$name" >>"$B/sets"; done <"$B/names"
if [ -s "$B/names" ]; then splice_sets "$B/sets" "$B/terse" >"$B/spliced"; else cp "$B/terse" "$B/spliced"; fi`;
      const paths = { whole: 0, perSet: 0 };
      for (const c of cases) {
        const artefacts = render(c);
        const dir = mkdtempSync(join(tmpdir(), "hnft-list-declared-"));
        try {
          for (const f of ["lib.sh", "status.env"]) copyFileSync(join(scripts, f), join(dir, f));
          writeFileSync(join(dir, "table.nft"), artefacts.nft);
          const r = spawnSync("unshare", ["-n", "sh", "-c", script, "sh", dir, artefacts.table], { encoding: "utf8" });
          expect(r.stderr, c.title).toBe("");
          expect(r.status, c.title).toBe(0);
          const listed = readFileSync(join(dir, "listed"), "utf8");
          expect(listed, c.title).toBe(readFileSync(join(dir, "spliced"), "utf8"));
          expect(listed, c.title).toContain(`table inet ${artefacts.table} {`);
          const owners = readFileSync(join(dir, "declared.owners"), "utf8").split("\n").filter(Boolean);
          const allDeclared = owners.length > 0 && owners.every((o) => o.startsWith("declared "));
          if (allDeclared) paths.whole++;
          else if (owners.length > 0) paths.perSet++;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      // both paths ran: the comparison is not vacuous for either
      expect(paths.whole).toBeGreaterThan(10);
      expect(paths.perSet).toBeGreaterThan(2);
    });

    it("a construct spelled otherwise than nft lists it is caught (negative control)", async () => {
      const artefacts = render(cases[0]!);
      // nft accepts these spellings and lists them in its own: a renderer that wrote them would drift
      const respelled = artefacts.nft
        .replace("ct state established accept", "ct state { established } accept")
        .replace(/tcp dport 22 /, "tcp dport ssh ");
      expect(respelled).not.toBe(artefacts.nft);
      const { differences } = await mismatches(respelled, artefacts.table);
      expect(differences).toContainEqual(
        expect.stringContaining('rendered "ct state { established } accept comment \\"established\\""'),
      );
      expect(differences.some((d) => d.includes("tcp dport ssh "))).toBe(true);
    });
  },
);
