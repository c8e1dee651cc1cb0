import { parseArgs } from "node:util";
import { type ApplyResult, applyPolicy } from "../host/operations/apply";
import { CONFIRM_TIMEOUT_BOUNDS, DEFAULT_CONFIRM_TIMEOUT } from "../model/host-options";
import { EXIT } from "./exit-codes";
import { COMMON_HELP, EXIT_HELP, onHost, prepare, TABLE_HELP, TABLE_HOST_OPTIONS } from "./host-command";
import { type Io, outputFormat } from "./io";
import { UsageError } from "./policy-file";

export const APPLY_HELP = `Usage: hardened-nftables apply --policy FILE --host [USER@]ADDR[:PORT] --host-key KEY [--identity KEYFILE]
                              [--confirm-timeout S] [--table NAME] [--format text|json] [--allow-other-tables] [options]

Pushes a policy to one host: renders it for the host's kernel, lets the host's nft check it,
backs up the table, files and sysctls, arms an on-host rollback, applies, then proves access
over a NEW SSH connection. Only that proof commits (persists) the change; without it the host
restores the previous state by itself after --confirm-timeout seconds. Nothing is written when
the host already matches.

  --confirm-timeout S         seconds the host waits for the proof before it rolls back
                              (${CONFIRM_TIMEOUT_BOUNDS.min}-${CONFIRM_TIMEOUT_BOUNDS.max}, default ${DEFAULT_CONFIRM_TIMEOUT})
  --format F                  text (default): a short summary; json: target, table, changed, hash,
                              flushedConnections, facts, warnings, stats
  --allow-other-tables        apply although another table of this project is on the host (refused
                              by default: two tables admit only what both admit; merge the policies
                              into one table instead where you can). The helper modules each table
                              needs stay loadable in every table's modprobe.d file

${TABLE_HELP}

${COMMON_HELP}

${EXIT_HELP}
`;

/** The ApplyResult without the bulky artefacts. */
export function applySummary(result: ApplyResult): Record<string, unknown> {
  return {
    target: result.target,
    table: result.artefacts.table,
    changed: result.changed,
    hash: result.hash,
    flushedConnections: result.flushedConnections,
    facts: result.facts,
    warnings: result.warnings,
    stats: result.stats,
  };
}

export function applyText(result: ApplyResult): string {
  const lines = [
    result.changed
      ? `${result.target}: table inet ${result.artefacts.table} changed (confirmed over a new connection, persisted)`
      : `${result.target}: table inet ${result.artefacts.table} unchanged (the host already matches; nothing written)`,
    `  hash: ${result.hash}`,
  ];
  if (result.changed) lines.push(`  flushed connections: ${result.flushedConnections}`);
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  lines.push(
    `  ${result.stats.connections} SSH connection${result.stats.connections === 1 ? "" : "s"}, ${result.stats.roundTrips} round trip${result.stats.roundTrips === 1 ? "" : "s"}`,
  );
  return `${lines.join("\n")}\n`;
}

export async function applyCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...TABLE_HOST_OPTIONS,
      "confirm-timeout": { type: "string" },
      format: { type: "string", default: "text" },
      "allow-other-tables": { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.out(APPLY_HELP);
    return EXIT.ok;
  }
  const format = outputFormat(values.format);
  const prepared = prepare(values, io, { policy: "required", flags: values });
  if (typeof prepared === "number") return prepared;
  const { connection, policy, table, hostOptions } = prepared;
  if (policy === undefined) throw new UsageError("--policy: required");
  return onHost(io, connection, async () => {
    const result = await applyPolicy(connection, policy, {
      ...hostOptions,
      table,
    });
    io.out(format === "json" ? `${JSON.stringify(applySummary(result), null, 2)}\n` : applyText(result));
    return EXIT.ok;
  });
}
