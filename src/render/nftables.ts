import { formatRange } from "../fields/ports";
import type { Family } from "../fields/prefix";
import type { Opening, Plan, PlannedHelper, PlannedSet } from "../plan/plan";

/** A rule as it stands in the table: chain, statement, and the comment naming what it serves. */
export interface RenderedRule {
  readonly chain: "input" | "forward" | "output";
  readonly statement: string;
  readonly comment: string;
}

export interface RenderedTable {
  readonly table: string;
  /** The whole `nft -f` file: declares, deletes and recreates the table in one transaction. */
  readonly text: string;
  readonly rules: readonly RenderedRule[];
  readonly sets: readonly PlannedSet[];
  readonly helpers: readonly PlannedHelper[];
  readonly chainPolicies: Readonly<Record<string, "accept" | "drop">>;
  /** One line per rule, set element, helper object and chain policy: what `pulumi preview --diff` shows. */
  readonly ruleLines: readonly string[];
}

const ICMP_ERRORS = "icmp type { destination-unreachable, time-exceeded, parameter-problem }";
const ICMPV6_ERRORS = "icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem }";
const ND_IN = "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255";
const ND_OUT = "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report }";

function portMatch(protocol: "tcp" | "udp", direction: "dport" | "sport", ports: Opening["ports"]): string {
  if (ports.length === 0) return `meta l4proto ${protocol}`;
  const list = ports.map(formatRange);
  return `${protocol} ${direction} ${list.length === 1 ? list[0] : `{ ${list.join(", ")} }`}`;
}

function l4Match(opening: Opening): string {
  if (opening.protocol === "gre") return "meta l4proto gre";
  if (opening.toBroadcast) {
    return `${portMatch(opening.protocol, "sport", opening.ports)} ${portMatch(opening.protocol, "dport", opening.ports)} fib daddr type broadcast`;
  }
  return portMatch(opening.protocol, opening.portSide ?? (opening.chain === "input" ? "dport" : "sport"), opening.ports);
}

/** The address matches an opening expands to: one per family it admits, or none for "anyone". */
function peerMatches(opening: Opening): string[] {
  const { peers, family } = opening;
  const field = opening.chain === "input" ? "saddr" : "daddr";
  if (peers.kind === "any") return [family ? `meta nfproto ${family}` : ""];
  const families: Family[] = family ? [family] : ["ipv4", "ipv6"];
  return families
    .filter((f) => peers[f] !== undefined)
    .map((f) => `${f === "ipv4" ? "ip" : "ip6"} ${field} @${peers[f]}`);
}

function openingRules(opening: Opening): RenderedRule[] {
  const verdict =
    opening.kind === "helper" ? `ct helper set "${opening.helperObject}" accept` : "accept";
  const state = opening.kind === "related" ? `ct state related ct helper "${opening.kernelHelper}" ` : "";
  return peerMatches(opening).map((peer) => ({
    chain: opening.chain,
    statement: `${state}${peer ? `${peer} ` : ""}${l4Match(opening)} ${verdict}`,
    comment: opening.comment,
  }));
}

function rule(chain: RenderedRule["chain"], statement: string, comment: string): RenderedRule {
  return { chain, statement, comment };
}

function logRule(chain: RenderedRule["chain"], plan: Plan): RenderedRule[] {
  const log = plan.policy.log;
  if (!log.dropped) return [];
  const prefix = `${log.prefix ?? `hnft ${plan.table}`} ${chain} drop: `;
  return [rule(chain, `limit rate ${log.rate} log prefix "${prefix}" level info`, `log dropped (${log.rate})`)];
}

function inputRules(plan: Plan): RenderedRule[] {
  const { policy } = plan;
  const rules: RenderedRule[] = [
    rule("input", `iif "lo" accept`, "loopback"),
    rule("input", `ip saddr 127.0.0.0/8 drop`, "loopback address from outside"),
    rule("input", `ip6 saddr ::1 drop`, "loopback address from outside"),
    rule("input", `${ND_IN} accept`, "icmpv6 neighbour discovery"),
    rule("input", `icmpv6 type mld-listener-query ip6 saddr fe80::/10 accept`, "icmpv6 multicast listener queries"),
    rule("input", `ct state invalid drop`, "invalid"),
    rule("input", `ct state established accept`, "established"),
    rule("input", `ct state related ${ICMP_ERRORS} accept`, "icmp errors of tracked connections"),
    rule("input", `ct state related ${ICMPV6_ERRORS} accept`, "icmpv6 errors of tracked connections"),
  ];
  if (policy.icmp.echo) {
    rules.push(rule("input", `icmp type echo-request limit rate ${policy.icmp.echoRate} accept`, "icmp echo (rate limited)"));
    rules.push(rule("input", `icmpv6 type echo-request limit rate ${policy.icmp.echoRate} accept`, "icmpv6 echo (rate limited)"));
  }
  if (policy.dhcpv6Client) {
    rules.push(rule("input", `ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept`, "dhcpv6 client"));
  }
  for (const exposure of plan.exposures) {
    for (const opening of exposure.openings) if (opening.chain === "input") rules.push(...openingRules(opening));
  }
  return [...rules, ...logRule("input", plan)];
}

function outputRules(plan: Plan): RenderedRule[] {
  const rules: RenderedRule[] = [
    rule("output", `oif "lo" accept`, "loopback"),
    rule("output", `${ND_OUT} accept`, "icmpv6 neighbour discovery"),
    rule("output", `ct state invalid drop`, "invalid"),
    rule("output", `ct state established accept`, "established"),
    rule("output", `ct state related ${ICMP_ERRORS} accept`, "icmp errors of tracked connections"),
    rule("output", `ct state related ${ICMPV6_ERRORS} accept`, "icmpv6 errors of tracked connections"),
  ];
  for (const exposure of plan.exposures) {
    for (const opening of exposure.openings) if (opening.chain === "output") rules.push(...openingRules(opening));
  }
  for (const allow of plan.outputAllow) for (const opening of allow.openings) rules.push(...openingRules(opening));
  return [...rules, ...logRule("output", plan)];
}

function setBlock(set: PlannedSet): string[] {
  const type = set.family === "ipv4" ? "ipv4_addr" : "ipv6_addr";
  const elements =
    set.elements.length <= 4
      ? [`\t\telements = { ${set.elements.join(", ")} }`]
      : ["\t\telements = {", ...set.elements.map((e, i) => `\t\t\t${e}${i < set.elements.length - 1 ? "," : ""}`), "\t\t}"];
  return [`\tset ${set.name} {`, `\t\ttype ${type}`, "\t\tflags interval", ...elements, "\t}"];
}

function helperBlock(helper: PlannedHelper): string[] {
  return [`\tct helper ${helper.name} {`, `\t\ttype "${helper.type}" protocol ${helper.protocol}`, `\t\tl3proto ${helper.l3proto}`, "\t}"];
}

function chainBlock(name: string, hook: string, policy: "accept" | "drop", rules: readonly RenderedRule[]): string[] {
  return [
    `\tchain ${name} {`,
    `\t\ttype filter hook ${hook} priority filter; policy ${policy};`,
    ...rules.map((r) => `\t\t${r.statement} comment "${r.comment}"`),
    "\t}",
  ];
}

export function renderNftables(plan: Plan): RenderedTable {
  const { table, policy } = plan;
  const sets = [...plan.exposures.flatMap((e) => e.sets), ...plan.outputAllow.flatMap((a) => a.sets)];
  const helpers = plan.exposures.flatMap((e) => e.helpers);
  const input = inputRules(plan);
  const forward = policy.forward.policy === "drop" ? logRule("forward", plan) : undefined;
  // Output accepted: the chain exists only to attach helpers to connections this host makes (irc).
  const outboundHelpers = plan.exposures.flatMap((e) => e.openings.filter((o) => o.chain === "output" && o.kind === "helper"));
  const outputPolicy = policy.output.policy;
  const output = outputPolicy === "drop" ? outputRules(plan) : outboundHelpers.length > 0 ? outboundHelpers.flatMap(openingRules) : undefined;

  const blocks: string[][] = [...helpers.map(helperBlock), ...sets.map(setBlock), chainBlock("input", "input", "drop", input)];
  const chainPolicies: Record<string, "accept" | "drop"> = { input: "drop" };
  if (forward) {
    blocks.push(chainBlock("forward", "forward", "drop", forward));
    chainPolicies.forward = "drop";
  }
  if (output) {
    blocks.push(chainBlock("output", "output", outputPolicy, output));
    chainPolicies.output = outputPolicy;
  }
  const body = blocks.map((b) => b.join("\n")).join("\n\n");
  const text = [
    `# pulumi-hardened-nftables: table inet ${table}`,
    "# Rendered from a policy. Edits made on the host are reported as drift and replaced by the next apply.",
    "# The first two lines make the replacement one atomic transaction whether or not the table exists.",
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    body,
    "}",
    "",
  ].join("\n");

  const rules = [...input, ...(forward ?? []), ...(output ?? [])];
  const ruleLines = [
    ...helpers.map((h) => `ct helper ${h.name}: type "${h.type}" protocol ${h.protocol} l3proto ${h.l3proto}`),
    ...sets.flatMap((s) => s.elements.map((e) => `set ${s.name}: ${e}`)),
    ...Object.entries(chainPolicies).map(([chain, p]) => `chain ${chain}: policy ${p}`),
    ...rules.map((r) => `chain ${r.chain}: ${r.statement} comment "${r.comment}"`),
  ];
  return { table, text, rules, sets, helpers, chainPolicies, ruleLines };
}
