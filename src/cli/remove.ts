import { parseArgs } from "node:util";
import { removeTable } from "../host/operations/remove";
import { redact } from "../model/connection";
import { EXIT } from "./exit-codes";
import { COMMON_HELP, EXIT_HELP, onHost, prepare, TABLE_HELP, TABLE_HOST_OPTIONS } from "./host-command";
import type { Io } from "./io";

export const REMOVE_HELP = `Usage: hardened-nftables remove --policy FILE --host [USER@]ADDR[:PORT] --host-key KEY [--identity KEYFILE] [options]
       hardened-nftables remove --table NAME --host ... (without a policy file)

Deletes this project's table, its persisted files, its boot unit and state, and any armed rollback,
and nothing else (other tables stay). The table name comes from the policy's "table", or --table.
The helper stays off: the live sysctl keeps its value until reboot.

${TABLE_HELP}

${COMMON_HELP}

${EXIT_HELP}
`;

export async function removeCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: TABLE_HOST_OPTIONS, strict: true });
  if (values.help) {
    io.out(REMOVE_HELP);
    return EXIT.ok;
  }
  const prepared = prepare(values, io, { policy: "table-or-policy" });
  if (typeof prepared === "number") return prepared;
  const { connection, table, hostOptions } = prepared;
  return onHost(io, connection, async () => {
    const result = await removeTable(connection, table, hostOptions);
    const lines = result.removed.length > 0 ? result.removed.map((r) => `  removed ${r}`) : ["  nothing to remove"];
    io.out(`${redact([`${result.target}: table inet ${table}`, ...lines].join("\n"), connection)}\n`);
    return EXIT.ok;
  });
}
