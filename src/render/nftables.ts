import { formatRange } from "../fields/ports";
import type { Family } from "../fields/prefix";
import { hasPorts, type PortProtocol } from "../fields/protocols";
import type {
  BaselineRule,
  ExposurePlan,
  Opening,
  OpeningGroup,
  Plan,
  PlannedChain,
  PlannedHelper,
  PlannedLimit,
  PlannedSet,
} from "../plan/plan";
import { limitStatements, OVER_LIMIT_CHAIN, refusal } from "./limit-rules";
import { helperLine, noteLine, policyLine, ruleLine, ruleText, setElementLine, setGroup } from "./rule-lines";

/** A rule as it stands in the table: chain, statement, and the comment naming what it serves. */
export interface RenderedRule {
  readonly chain: "input" | "forward" | "output" | typeof OVER_LIMIT_CHAIN;
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

/**
 * Rules under a `#` heading. The heading is a comment of the file only: the kernel does not keep
 * it, so it never shows in listings or drift; rule comments, which it keeps, stay as they were.
 */
interface Section {
  readonly heading?: string;
  readonly rules: readonly RenderedRule[];
}

type Chain = RenderedRule["chain"];

// Type lists in the order nft lists them (by type number): the rendered text must be the listed
// text, character for character (test/integration/nft-listing.test.ts).
const ICMP_ERRORS = "icmp type { destination-unreachable, time-exceeded, parameter-problem }";
const ICMPV6_ERRORS = "icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem }";
const ND_IN =
  "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255";
// in type order (mld-listener-report is 131): nft lists set elements so, and drift compares the text
const ND_OUT =
  "icmpv6 type { mld-listener-report, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report }";

const rule = (chain: Chain, statement: string, comment: string): RenderedRule => ({ chain, statement, comment });

/** How nft spells each baseline rule in a chain. */
function baselineRules(chain: Chain, baseline: BaselineRule): RenderedRule[] {
  switch (baseline.kind) {
    case "loopback":
      return [rule(chain, chain === "input" ? `iif "lo" accept` : `oif "lo" accept`, "loopback")];
    case "loopback-spoofed":
      return [
        rule(chain, `ip saddr 127.0.0.0/8 drop`, "loopback address from outside"),
        rule(chain, `ip6 saddr ::1 drop`, "loopback address from outside"),
      ];
    case "neighbour-discovery":
      return [rule(chain, `${chain === "input" ? ND_IN : ND_OUT} accept`, "icmpv6 neighbour discovery")];
    case "multicast-listener-queries":
      return [
        rule(chain, `icmpv6 type mld-listener-query ip6 saddr fe80::/10 accept`, "icmpv6 multicast listener queries"),
      ];
    case "invalid":
      return [rule(chain, `ct state invalid drop`, "invalid")];
    case "established":
      return [rule(chain, `ct state established accept`, "established")];
    case "blocked":
      return baseline.sets.map((s) =>
        rule(chain, `${s.family === "ipv4" ? "ip" : "ip6"} saddr @${s.name} counter drop`, `blocked: ${s.name}`),
      );
    case "icmp-errors":
      return [
        rule(chain, `ct state related ${ICMP_ERRORS} accept`, "icmp errors of tracked connections"),
        rule(chain, `ct state related ${ICMPV6_ERRORS} accept`, "icmpv6 errors of tracked connections"),
      ];
    case "echo":
      return [
        rule(chain, `icmp type echo-request limit rate ${baseline.rate} accept`, "icmp echo (rate limited)"),
        rule(chain, `icmpv6 type echo-request limit rate ${baseline.rate} accept`, "icmpv6 echo (rate limited)"),
      ];
    case "dhcpv6-client":
      return [rule(chain, `ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept`, "dhcpv6 client")];
    case "reverse-path":
      // strict looks the source up as if routed out of the interface it came in on, loose anywhere;
      // the counter (no values with nft -s, so drift ignores them) shows how many were dropped
      return [
        rule(
          chain,
          `fib saddr ${baseline.mode === "strict" ? ". iif " : ""}oif missing counter drop`,
          `reversePath ${baseline.mode}: source not routed back ${baseline.mode === "strict" ? "out of the interface it came in on" : "at all"}`,
        ),
      ];
    case "trusted-interface":
      return [rule(chain, `iifname "${baseline.name}" accept`, `trustedInterfaces: ${baseline.name}`)];
    case "guest-interface":
      return [
        rule(chain, `iifname "${baseline.name}" accept`, `guestInterfaces: ${baseline.name}, what its guests send`),
      ];
  }
}

/** The end of an input chain that rejects: answered at once, rate limited, never to broadcast or multicast. */
function rejectRules(chain: Chain, rate: string): RenderedRule[] {
  return [
    rule(chain, `meta pkttype != host counter drop`, "denied reject: not to broadcast or multicast"),
    rule(chain, `fib daddr type { broadcast, multicast } counter drop`, "denied reject: not to broadcast or multicast"),
    rule(
      chain,
      `meta l4proto tcp limit rate ${rate} counter reject with tcp reset`,
      `denied reject: tcp reset (${rate})`,
    ),
    rule(
      chain,
      `limit rate ${rate} counter reject with icmpx admin-prohibited`,
      `denied reject: administratively prohibited (${rate})`,
    ),
  ];
}

function portMatch(protocol: PortProtocol, direction: "dport" | "sport", ports: Opening["ports"]): string {
  if (ports.length === 0) return `meta l4proto ${protocol}`;
  const list = ports.map(formatRange);
  return `${protocol} ${direction} ${list.length === 1 ? list[0] : `{ ${list.join(", ")} }`}`;
}

type AddressedOpening = Exclude<Opening, { kind: "broadcast" }>;

/**
 * The port the client asked for, before the runtime's DNAT rewrote it to the guest's: nft wants
 * the protocol stated first (it cannot infer it for a conntrack field), and one port or range a
 * rule (nft 1.0.6 lists an anonymous set of them as "0x1f90 [invalid type]", which drift could
 * not compare).
 */
function originalPortMatches(protocol: PortProtocol, ports: Opening["ports"]): string[] {
  if (ports.length === 0) return [`meta l4proto ${protocol}`];
  return ports.map((r) => `meta l4proto ${protocol} ct original proto-dst ${formatRange(r)}`);
}

function l4Matches(opening: AddressedOpening): string[] {
  return opening.kind === "published" ? originalPortMatches(opening.protocol, opening.ports) : [l4Match(opening)];
}

function l4Match(opening: Exclude<AddressedOpening, { kind: "published" }>): string {
  if (!hasPorts(opening.protocol)) return `meta l4proto ${opening.protocol}`;
  return portMatch(
    opening.protocol,
    opening.portSide ?? (opening.chain === "input" ? "dport" : "sport"),
    opening.ports,
  );
}

/**
 * The address matches an opening expands to: one per family it admits, or one for "anyone", with
 * the families each covers (a limit's meter is per family). Peers are the source of what comes in
 * and the destination of what goes out; the host's own addresses (local) the other way round; a
 * multicast group is always the destination.
 */
function peerMatches(opening: AddressedOpening): { text: string; families: Family[] }[] {
  const { peers, family } = opening;
  const local = opening.kind === "published" ? undefined : opening.local;
  const group = opening.kind === "published" ? undefined : opening.group;
  // forwarded as received: the client is the source
  const input = opening.chain !== "output";
  if (peers.kind === "any" && !local && !group)
    return [{ text: family ? `meta nfproto ${family}` : "", families: family ? [family] : ["ipv4", "ipv6"] }];
  const families: Family[] = family ? [family] : ["ipv4", "ipv6"];
  return families
    .filter((f) => (peers.kind === "any" || peers[f] !== undefined) && (!local || local[f] !== undefined))
    .map((f) => {
      const ip = f === "ipv4" ? "ip" : "ip6";
      const text = [
        // what goes out to a group is addressed to the group, not to the peers
        peers.kind === "sets" && (input || !group) ? `${ip} ${input ? "saddr" : "daddr"} @${peers[f]}` : "",
        local ? `${ip} ${input ? "daddr" : "saddr"} @${local[f]}` : "",
        group ? `${ip} daddr ${group[f]}` : "",
      ]
        .filter((m) => m !== "")
        .join(" ");
      return { text, families: [f] };
    });
}

/** One match per interface the opening is scoped to (a rule each: nft lists an anonymous set of names in an order of its own). */
function interfaceMatches(opening: AddressedOpening): string[] {
  if (!opening.interfaces) return [""];
  return opening.interfaces.map((name) => `${opening.chain === "output" ? "oifname" : "iifname"} "${name}"`);
}

/** An opening's accept rules, each counted; before them, the exposure's limits on new connections from its sources. */
function openingRules(opening: Opening, limit: PlannedLimit | undefined, reject: boolean): RenderedRule[] {
  if (opening.kind === "broadcast") {
    const { protocol, ports } = opening;
    return [
      rule(
        "output",
        `meta nfproto ipv4 ${portMatch(protocol, "sport", ports)} ${portMatch(protocol, "dport", ports)} fib daddr type broadcast counter accept`,
        opening.comment,
      ),
    ];
  }
  const verdict =
    opening.kind === "helper" ? `counter ct helper set "${opening.helperObject}" accept` : "counter accept";
  const state =
    opening.kind === "related"
      ? `ct state related ct helper "${opening.kernelHelper}" `
      : opening.kind === "published"
        ? "ct status dnat "
        : "";
  // Limits count the new connections an exposure admits: to this host's own services (input) and,
  // with the same meters, to a port a runtime published (forward). The budget per source is the
  // exposure's, not the path's: DNAT is decided before routing, so each connection crosses exactly
  // one of the two hooks and is counted once, and a client gets no second budget because a
  // container, not the host, serves the port (separate meters would double it, and a port moved
  // into a container would quietly lose its limit). `ct status dnat` keeps what guests or routed
  // peers open to the same port number out of the source's count.
  const limited =
    limit && (opening.chain === "input" || opening.kind === "published") && opening.kind !== "related"
      ? limit
      : undefined;
  return interfaceMatches(opening).flatMap((iface) =>
    peerMatches(opening).flatMap((peer) => {
      const matches = [iface, peer.text].filter((m) => m !== "").join(" ");
      const limitMatches = [state.trim(), matches].filter((m) => m !== "").join(" ");
      return l4Matches(opening).flatMap((l4) => [
        ...(limited
          ? peer.families.flatMap((f) =>
              limitStatements(limited, limitMatches, f, l4, reject).map((text) =>
                rule(opening.chain, text, `${opening.comment}, over limit`),
              ),
            )
          : []),
        rule(opening.chain, `${state}${matches ? `${matches} ` : ""}${l4} ${verdict}`, opening.comment),
      ]);
    }),
  );
}

function groupSection(chain: Chain, group: OpeningGroup | ExposurePlan, reject: boolean): Section {
  const scoped = "explanation" in group && group.explanation.helper === "scoped" ? ", helper scoped" : "";
  const limit = "limit" in group ? group.limit : undefined;
  return {
    heading: `${group.id}: ${group.title}${scoped}`,
    rules: group.openings.filter((o) => o.chain === chain).flatMap((o) => openingRules(o, limit, reject)),
  };
}

/**
 * Why the forward chain drops, said where a reader of the table meets it: the table's drop
 * applies whatever other tables accept, so it also ends container and VM networking.
 */
const FORWARD_DROP = [
  "This host routes nothing: every forwarded packet is dropped, whatever another table accepts,",
  "so Docker's, libvirt's and LXD's bridged guests lose their network too. If this host routes or",
  "runs such guests, declare their interfaces in forward.guestInterfaces; if it routes, set",
  'forward: { policy: "accept" }: this chain is then left out and forwarding left to other tables.',
];

/** Why the forward chain admits what it does when the host declares guest networks. */
const FORWARD_GUESTS = [
  "Container and VM networks (forward.guestInterfaces): what their guests send is forwarded,",
  "replies and their ICMP errors return, and nothing else but the published ports below:",
  "an exposure admits a connection DNATed to a guest when the port the client asked for",
  "(ct original proto-dst) and the client's address match it. Everything else is dropped.",
];

function baselineHeading(chain: PlannedChain): string | undefined {
  if (chain.name === "forward") return (chain.baseline.length > 0 ? FORWARD_GUESTS : FORWARD_DROP).join("\n");
  if (chain.baseline.length > 0)
    return "baseline, before any exposure: loopback, IPv6 neighbour discovery, connection state, ICMP";
  if (chain.name === "output" && chain.policy === "accept")
    return "output is accepted: this chain only attaches helpers to connections this host makes";
  return undefined;
}

/** Whether the policy answers what it denies (`denied: "reject"`), which its input chain carries. */
function rejectsDenied(plan: Plan): boolean {
  return plan.chains.some((c) => c.name === "input" && c.rejectDenied !== undefined);
}

function chainSections(plan: Plan, chain: PlannedChain): Section[] {
  const groups = chain.name === "output" ? [...plan.exposures, ...plan.outputAllow] : plan.exposures;
  const trusted = chain.baseline.filter((b) => b.kind === "trusted-interface");
  const sections: Section[] = [
    {
      heading: baselineHeading(chain),
      rules: chain.baseline.filter((b) => b.kind !== "trusted-interface").flatMap((b) => baselineRules(chain.name, b)),
    },
    {
      heading: "trustedInterfaces: everything arriving on them is accepted",
      rules: trusted.flatMap((b) => baselineRules(chain.name, b)),
    },
    // over a limit is refused as the policy's input chain refuses (denied), on either path: the
    // over-limit chain that logs is one for both, and a client of a published port fails as fast
    ...groups.map((g) => groupSection(chain.name, g, rejectsDenied(plan))),
  ];
  if (chain.logDropped) {
    const { rate, prefix } = chain.logDropped;
    sections.push({
      heading: `everything else: logged (at most ${rate}), then dropped by the chain's policy`,
      rules: [rule(chain.name, `limit rate ${rate} log prefix "${prefix}" level info`, `log dropped (${rate})`)],
    });
  }
  if (chain.rejectDenied) {
    sections.push({
      heading: `denied: "reject": what is left is answered at once (at most ${chain.rejectDenied.rate}), counted`,
      rules: rejectRules(chain.name, chain.rejectDenied.rate),
    });
  }
  if (chain.countDropped) {
    sections.push({
      heading: "everything else: counted and dropped",
      rules: [rule(chain.name, "counter drop", "dropped: end of chain")],
    });
  }
  // The first section keeps its heading even without rules: it says why the chain exists.
  return sections.filter((s, i) => s.rules.length > 0 || (i === 0 && s.heading !== undefined));
}

/**
 * The flags line of a set as nft lists it; none for a block set of single addresses (nft lists
 * `flags timeout` of a set with a default timeout only as its `timeout` line).
 */
function setFlags(set: PlannedSet): string | undefined {
  if (set.owner === "kernel") return set.timeout ? "dynamic,timeout" : "dynamic";
  if (set.owner === "others" && set.singleAddresses) return set.timeout ? undefined : "timeout";
  if (set.owner === "others") return "interval,timeout";
  return "interval";
}

function setBlock(set: PlannedSet): string[] {
  const type = set.family === "ipv4" ? "ipv4_addr" : "ipv6_addr";
  const head = [`\tset ${set.name} {`, `\t\ttype ${type}`, ...(set.size !== undefined ? [`\t\tsize ${set.size}`] : [])];
  if ((set.owner ?? "policy") !== "policy") {
    // No elements: the kernel (a limit's meter) or another tool (a block set) writes them.
    return [
      ...head,
      ...(setFlags(set) !== undefined ? [`\t\tflags ${setFlags(set)}`] : []),
      ...(set.timeout ? [`\t\ttimeout ${set.timeout}`] : []),
      ...(set.comment ? [`\t\tcomment "${set.comment}"`] : []),
      "\t}",
    ];
  }
  const elements =
    set.elements.length <= 4
      ? [`\t\telements = { ${set.elements.join(", ")} }`]
      : [
          "\t\telements = {",
          ...set.elements.map((e, i) => `\t\t\t${e}${i < set.elements.length - 1 ? "," : ""}`),
          "\t\t}",
        ];
  return [...head, `\t\tflags ${setFlags(set)}`, ...elements, "\t}"];
}

function helperBlock(helper: PlannedHelper): string[] {
  return [
    `\tct helper ${helper.name} {`,
    `\t\ttype "${helper.type}" protocol ${helper.protocol}`,
    `\t\tl3proto ${helper.l3proto}`,
    "\t}",
  ];
}

function chainBlock(
  chain: { name: string; policy: string; regular?: boolean },
  sections: readonly Section[],
): string[] {
  return [
    `\tchain ${chain.name} {`,
    ...(chain.regular ? [] : [`\t\ttype filter hook ${chain.name} priority filter; policy ${chain.policy};`]),
    ...sections.flatMap((s) => [
      ...(s.heading ? s.heading.split("\n").map((line) => `\t\t# ${line}`) : []),
      ...s.rules.map((r) => `\t\t${ruleText(r.statement, r.comment)}`),
    ]),
    "\t}",
  ];
}

/**
 * Where a limit that logs sends what goes over: a regular chain that logs at the policy's log
 * rate, then refuses (the verdict's single place: see overLimitVerdict).
 */
function overLimitSection(plan: Plan): Section | undefined {
  if (!plan.limitLog) return undefined;
  const { rate, prefix } = plan.limitLog;
  const reject = rejectsDenied(plan);
  return {
    heading: `over a per-source limit: logged (at most ${rate}), then ${reject ? "rejected" : "dropped"}`,
    rules: [
      rule(OVER_LIMIT_CHAIN, `limit rate ${rate} log prefix "${prefix}" level info`, `log over limit (${rate})`),
      ...(reject
        ? [rule(OVER_LIMIT_CHAIN, `meta l4proto tcp ${refusal(true, "meta l4proto tcp")}`, "over limit")]
        : []),
      rule(OVER_LIMIT_CHAIN, refusal(reject, ""), "over limit"),
    ],
  };
}

/** A set's lines for preview and drift: its elements, or for a set others write one line declaring it (its elements are never drift). */
function setLines(set: PlannedSet): string[] {
  if ((set.owner ?? "policy") === "policy") return set.elements.map((e) => setElementLine(set.name, e));
  const what = set.owner === "kernel" ? "elements written by the kernel" : "elements written by other tools";
  const details = [
    set.family,
    ...(set.timeout ? [`timeout ${set.timeout}`] : []),
    ...(set.size !== undefined ? [`size ${set.size}`] : []),
    what,
  ];
  return [noteLine(setGroup(set.name), details.join(", "))];
}

export function renderNftables(plan: Plan): RenderedTable {
  const { table } = plan;
  const sets = [
    ...plan.blockSets,
    ...plan.exposures.flatMap((e) => e.sets),
    ...plan.outputAllow.flatMap((a) => a.sets),
  ];
  const helpers = plan.exposures.flatMap((e) => e.helpers);
  const chains = plan.chains.map((chain) => ({ chain, sections: chainSections(plan, chain) }));
  const overLimit = overLimitSection(plan);

  const blocks: string[][] = [
    ...helpers.map(helperBlock),
    ...sets.map(setBlock),
    // Before the chains that go to it, so that a listing shows it where the file has it.
    ...(overLimit ? [chainBlock({ name: OVER_LIMIT_CHAIN, policy: "drop", regular: true }, [overLimit])] : []),
    ...chains.map((c) => chainBlock(c.chain, c.sections)),
  ];
  const text = [
    `# pulumi-hardened-nftables: table inet ${table}`,
    "# Rendered from a policy. Edits made on the host are reported as drift and replaced by the next apply.",
    "# The first two lines make the replacement one atomic transaction whether or not the table exists.",
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    blocks.map((b) => b.join("\n")).join("\n\n"),
    "}",
    "",
  ].join("\n");

  const chainPolicies: Record<string, "accept" | "drop"> = Object.fromEntries(
    plan.chains.map((c) => [c.name, c.policy]),
  );
  const rules = [...chains.flatMap((c) => c.sections.flatMap((s) => s.rules)), ...(overLimit?.rules ?? [])];
  const ruleLines = [
    ...helpers.map(helperLine),
    ...sets.flatMap(setLines),
    ...plan.chains.map((c) => policyLine(c.name, c.policy)),
    ...rules.map((r) => ruleLine(r.chain, ruleText(r.statement, r.comment))),
  ];
  return { table, text, rules, sets, helpers, chainPolicies, ruleLines };
}
