/**
 * The audit: one connection and one round trip per host (the audit script), nothing written;
 * judging happens here, from the gathered text (../audit/findings.ts).
 */
import type { Connection } from "../../model/connection";
import { type Finding, factsFromGathered, type HostAuditFacts, judge } from "../audit/findings";
import { HostOperationError } from "../errors";
import { type HostSession, withSession } from "../ssh";
import { runStep } from "../wire/remote";

export interface HostAudit {
  /** The target as given (user@host:port, no secret). */
  readonly host: string;
  readonly facts: HostAuditFacts;
  readonly findings: readonly Finding[];
  /** SSH connections and round trips this audit took (1 and 1). */
  readonly stats: { readonly connections: number; readonly roundTrips: number };
}

export async function auditSession(
  session: HostSession,
  host: string = session.target,
): Promise<Omit<HostAudit, "stats">> {
  const out = await runStep(session, { main: "audit", params: {} });
  if (out.code !== 0)
    throw new HostOperationError(session.target, `audit failed: ${session.redact(out.stderr.trim())}`);
  if (out.values.uid !== "0")
    throw new HostOperationError(
      session.target,
      "the audit needs root (it reads every table and conntrack): log in as root or set sudo: true with passwordless sudo",
    );
  if (!out.values.nft)
    throw new HostOperationError(
      session.target,
      "nft is not installed: nothing to audit the ruleset with (Debian/Ubuntu: apt-get install nftables)",
    );
  const facts = factsFromGathered(out);
  return { host, facts, findings: judge(host, facts) };
}

/** Audits one host on its own connection, closing it afterwards. */
export async function auditHost(
  connection: Connection,
  options: { host?: string; onLog?: (line: string) => void } = {},
): Promise<HostAudit> {
  return withSession(
    connection,
    async (session) => {
      const result = await auditSession(session, options.host ?? session.target);
      return { ...result, stats: { ...session.stats } };
    },
    { onLog: options.onLog },
  );
}

export type FleetResult =
  | { readonly host: string; readonly audit: HostAudit }
  | { readonly host: string; readonly error: unknown };

/**
 * Audits many hosts, at most `concurrency` at a time; a host that fails (unreachable, not root)
 * is reported with its error and the others go on. Results keep the order of `targets`.
 */
export async function auditFleet(
  targets: readonly { readonly name: string; readonly connection: Connection }[],
  options: { concurrency?: number; onLog?: (line: string) => void } = {},
): Promise<FleetResult[]> {
  const results: FleetResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i]!;
      try {
        results[i] = { host: t.name, audit: await auditHost(t.connection, { host: t.name, onLog: options.onLog }) };
      } catch (error) {
        results[i] = { host: t.name, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, targets.length)) }, worker));
  return results;
}
