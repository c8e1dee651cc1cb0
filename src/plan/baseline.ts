import type { Policy } from "../model/policy";
import type { BaselineRule, PlannedChain } from "./types";

function logDropped(policy: Policy, table: string, chain: PlannedChain["name"]): PlannedChain["logDropped"] {
  const { log } = policy;
  return log.dropped ? { rate: log.rate, prefix: `${log.prefix ?? `hnft ${table}`} ${chain} drop: ` } : undefined;
}

function inputBaseline(policy: Policy): BaselineRule[] {
  return [
    { kind: "loopback" },
    { kind: "loopback-spoofed" },
    { kind: "neighbour-discovery" },
    { kind: "multicast-listener-queries" },
    { kind: "invalid" },
    { kind: "established" },
    { kind: "icmp-errors" },
    ...(policy.icmp.echo ? [{ kind: "echo" as const, rate: policy.icmp.echoRate }] : []),
    ...(policy.dhcpv6Client ? [{ kind: "dhcpv6-client" as const }] : []),
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
 * The chains a table has. Input always drops by default. Forward exists only to drop (a host
 * firewall routes nothing). Output exists when restricted, or, while accepted, only to attach
 * helpers to connections this host makes (irc).
 */
export function plannedChains(policy: Policy, table: string, attachesOutboundHelpers: boolean): PlannedChain[] {
  const chains: PlannedChain[] = [
    { name: "input", policy: "drop", baseline: inputBaseline(policy), logDropped: logDropped(policy, table, "input") },
  ];
  if (policy.forward.policy === "drop")
    chains.push({ name: "forward", policy: "drop", baseline: [], logDropped: logDropped(policy, table, "forward") });
  if (policy.output.policy === "drop") {
    chains.push({
      name: "output",
      policy: "drop",
      baseline: OUTPUT_BASELINE,
      logDropped: logDropped(policy, table, "output"),
    });
  } else if (attachesOutboundHelpers) {
    chains.push({ name: "output", policy: "accept", baseline: [] });
  }
  return chains;
}
