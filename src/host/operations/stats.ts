/**
 * The table's counters, read live (`nft -t -j list ruleset`, this table's rules, with values): what each exposure accepted,
 * what its limits refused, what each block set dropped and what each chain dropped at its end.
 * Counter values live only here and in the stats command's local file: never in state, drift or
 * preview (those compare `nft -s` listings, which carry no values).
 */

import type { Connection } from "../../model/connection";
import { HostOperationError } from "../errors";
import { type HostSession, withSession } from "../ssh";
import { runStep } from "../wire/remote";
import { tableFromRuleset } from "./drift";

/** What a counted rule is, from its comment: `<exposure>: ...`, `..., over limit`, `blocked: <set>`, `dropped: end of chain`. */
export type CounterKind = "accept" | "over-limit" | "blocked" | "chain-drop";

export interface Counter {
  readonly chain: string;
  readonly kind: CounterKind;
  /** The exposure's id, the block set's name, or the chain's name for its final drop. */
  readonly name: string;
  readonly packets: number;
  readonly bytes: number;
}

export interface TableCounters {
  readonly target: string;
  readonly table: string;
  readonly present: boolean;
  /** Summed per chain, kind and name (an exposure's rules for both families count as one). */
  readonly counters: readonly Counter[];
}

function classify(comment: string, chain: string): { kind: CounterKind; name: string } | undefined {
  if (comment === "dropped: end of chain") return { kind: "chain-drop", name: chain };
  const blocked = /^blocked: (.+)$/.exec(comment);
  if (blocked) return { kind: "blocked", name: blocked[1]! };
  const id = /^([a-z][a-z0-9-]*): /.exec(comment)?.[1];
  if (!id) return undefined;
  return { kind: / over limit$/.test(comment) ? "over-limit" : "accept", name: id };
}

/** The counters of an `nft -j list table` document, summed per chain, kind and name. Pure. */
export function countersFromJson(json: string): Counter[] {
  if (!json.trim()) return [];
  const doc = JSON.parse(json) as { nftables: Record<string, unknown>[] };
  const sums = new Map<string, Counter>();
  for (const obj of doc.nftables) {
    const rule = obj.rule as { chain: string; comment?: string; expr: Record<string, unknown>[] } | undefined;
    if (!rule?.comment) continue;
    const counter = rule.expr.find((e) => "counter" in e)?.counter as { packets: number; bytes: number } | undefined;
    const what = counter ? classify(rule.comment, rule.chain) : undefined;
    if (!counter || !what) continue;
    const key = `${rule.chain}\0${what.kind}\0${what.name}`;
    const before = sums.get(key);
    sums.set(key, {
      chain: rule.chain,
      ...what,
      packets: (before?.packets ?? 0) + counter.packets,
      bytes: (before?.bytes ?? 0) + counter.bytes,
    });
  }
  return [...sums.values()];
}

export async function statsOnSession(session: HostSession, table: string): Promise<TableCounters> {
  const out = await runStep(session, { main: "stats", params: { table } });
  if (out.code !== 0)
    throw new HostOperationError(session.target, `stats failed: ${session.redact(out.stderr.trim())}`);
  const json = tableFromRuleset(out.sections.counters ?? "", "", table);
  return { target: session.target, table, present: json.trim() !== "", counters: countersFromJson(json) };
}

/** Reads one host's counters on its own connection (one round trip). */
export function tableStats(
  connection: Connection,
  table: string,
  options: { onLog?: (line: string) => void } = {},
): Promise<TableCounters> {
  return withSession(connection, (session) => statsOnSession(session, table), { onLog: options.onLog });
}
