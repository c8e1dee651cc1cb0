import type { Policy } from "../model/policy";
import type { BaselineRule, PlannedChain, PlannedSet } from "./types";

function logDropped(policy: Policy, table: string, chain: PlannedChain["name"]): PlannedChain["logDropped"] {
  const { log } = policy;
  return log.dropped ? { rate: log.rate, prefix: `${log.prefix ?? `hnft ${table}`} ${chain} drop: ` } : undefined;
}

const blocked = (sets: readonly PlannedSet[]): BaselineRule[] => (sets.length > 0 ? [{ kind: "blocked", sets }] : []);

/**
 * Rejecting is for input only: the forward chain routes nothing, and what the output chain drops
 * already fails at once in the sending program (EPERM). The rate bounds what a scan can make the
 * host send.
 */
const REJECT_RATE = "10/second";
function rejectDenied(policy: Policy): Pick<PlannedChain, "rejectDenied"> {
  return policy.denied === "reject" ? { rejectDenied: { rate: REJECT_RATE } } : {};
}

function inputBaseline(policy: Policy, blockSets: readonly PlannedSet[]): BaselineRule[] {
  return [
    { kind: "loopback" },
    { kind: "loopback-spoofed" },
    { kind: "neighbour-discovery" },
    { kind: "multicast-listener-queries" },
    // after loopback and neighbour discovery (duplicate address detection comes from ::, which
    // has no route back), before connection state, so a spoofed packet matches nothing else
    ...(policy.reversePath !== "off" ? [{ kind: "reverse-path" as const, mode: policy.reversePath }] : []),
    { kind: "invalid" },
    { kind: "established" },
    ...blocked(blockSets),
    { kind: "icmp-errors" },
    ...(policy.icmp.echo ? [{ kind: "echo" as const, rate: policy.icmp.echoRate }] : []),
    ...(policy.dhcpv6Client ? [{ kind: "dhcpv6-client" as const }] : []),
    ...(policy.trustedInterfaces ?? []).map((name) => ({ kind: "trusted-interface" as const, name })),
  ];
}

/**
 * With guest networks: what the guests send is forwarded (out, and between guests on a bridge),
 * replies and their ICMP errors return, nothing related beyond those errors (a helper's expected
 * connection would otherwise pass unchecked). Without: nothing, the chain only drops.
 */
function forwardBaseline(policy: Policy, blockSets: readonly PlannedSet[]): BaselineRule[] {
  const guests = policy.forward.guestInterfaces;
  if (!guests) return [];
  return [
    { kind: "invalid" },
    { kind: "established" },
    // published ports are reached from outside: blocked sources are dropped before any of them
    ...blocked(blockSets),
    { kind: "icmp-errors" },
    ...guests.map((name) => ({ kind: "guest-interface" as const, name })),
  ];
}

const OUTPUT_BASELINE: readonly BaselineRule[] = [
  { kind: "loopback" },
  { kind: "neighbour-discovery" },
  { kind: "invalid" },
  { kind: "established" },
  { kind: "icmp-errors" },
];

/**
 * The chains a table has. Input always drops by default. Forward exists to drop, but for the
 * guests of declared container and VM networks. Output exists when restricted, or, while accepted, only to attach
 * helpers to connections this host makes (irc).
 */
export function plannedChains(
  policy: Policy,
  table: string,
  attachesOutboundHelpers: boolean,
  blockSets: readonly PlannedSet[],
): PlannedChain[] {
  const chains: PlannedChain[] = [
    {
      name: "input",
      policy: "drop",
      baseline: inputBaseline(policy, blockSets),
      logDropped: logDropped(policy, table, "input"),
      ...rejectDenied(policy),
      countDropped: true,
    },
  ];
  if (policy.forward.policy === "drop") {
    chains.push({
      name: "forward",
      policy: "drop",
      baseline: forwardBaseline(policy, blockSets),
      logDropped: logDropped(policy, table, "forward"),
      countDropped: true,
    });
  } else if (blockSets.length > 0) {
    // The host forwards: its blocked sources are dropped there too; the rest is left to the other tables.
    chains.push({
      name: "forward",
      policy: "accept",
      baseline: [{ kind: "established" }, ...blocked(blockSets)],
      countDropped: false,
    });
  }
  if (policy.output.policy === "drop") {
    chains.push({
      name: "output",
      policy: "drop",
      baseline: OUTPUT_BASELINE,
      logDropped: logDropped(policy, table, "output"),
      countDropped: true,
    });
  } else if (attachesOutboundHelpers) {
    chains.push({ name: "output", policy: "accept", baseline: [], countDropped: false });
  }
  return chains;
}
