import { parseArgs } from "node:util";
import { GuestsCutOffError } from "../host/errors";
import { formatDrift } from "../host/operations/drift-report";
import { guestsCutOff } from "../host/operations/guests";
import { observePolicy } from "../host/operations/observe";
import { redact } from "../model/connection";
import { renderPolicy } from "../render";
import { EXIT } from "./exit-codes";
import { COMMON_HELP, EXIT_HELP, onHost, prepare, TABLE_HELP, TABLE_HOST_OPTIONS } from "./host-command";
import { type Io, outputFormat } from "./io";
import { UsageError } from "./policy-file";

export const DIFF_HELP = `Usage: hardened-nftables diff --policy FILE --host [USER@]ADDR[:PORT] --host-key KEY [--identity KEYFILE]
                             [--table NAME] [--format text|json] [options]

Compares the host with what the policy renders for its kernel: the live table rule by rule (the
candidate is loaded into a throwaway namespace on the host, so both sides come from the same nft),
the persisted files, the sysctls and the helper modules. Changes nothing.
Lines: "+" live but not declared, "-" declared but not live, "~" changed.
Exits 6 with apply's own refusal when the policy's forward drop would cut off running container or
VM guests (docker0, br-*, virbr*...; forward.guestInterfaces not set), as apply would.

  --format F                  text (default) or json (the whole drift report)

${TABLE_HELP}

${COMMON_HELP}

${EXIT_HELP}
`;

export async function diffCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...TABLE_HOST_OPTIONS, format: { type: "string", default: "text" } },
    strict: true,
  });
  if (values.help) {
    io.out(DIFF_HELP);
    return EXIT.ok;
  }
  const format = outputFormat(values.format);
  const prepared = prepare(values, io, { policy: "required" });
  if (typeof prepared === "number") return prepared;
  const { connection, policy, table, hostOptions } = prepared;
  if (policy === undefined) throw new UsageError("--policy: required");
  return onHost(io, connection, async () => {
    const report = await observePolicy(connection, policy, { ...hostOptions, table });
    const text =
      format === "json"
        ? JSON.stringify(report, null, 2)
        : [
            ...formatDrift(report),
            ...(report.armed ? ["  note: an apply is waiting for confirmation right now (its rollback is armed)"] : []),
            ...(report.lastTransaction ? [`  note: ${report.lastTransaction}`] : []),
            ...(report.appliedHash && report.appliedHash !== report.desiredHash
              ? [`  note: the last committed apply was of another policy (hash ${report.appliedHash})`]
              : []),
            ...report.facts.managedTables
              .filter((t) => t.table !== report.table)
              .map(
                (t) =>
                  `  note: table inet ${t.table} of this project is also on this host: a packet must pass both tables`,
              ),
          ].join("\n");
    io.out(`${redact(text, connection)}\n`);
    // what apply would refuse, said here before anyone runs it (the same message and exit code)
    const cut = guestsCutOff(renderPolicy(policy, { table }), report.facts);
    if (cut.length > 0) throw new GuestsCutOffError(report.target, report.table, cut);
    return report.inSync ? EXIT.ok : EXIT.drift;
  });
}
