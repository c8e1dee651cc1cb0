import { parseArgs } from "node:util";
import { guestInterfacesOf } from "../host/operations/guests";
import { probeSession } from "../host/operations/probe";
import { withSession } from "../host/ssh";
import { EXIT } from "./exit-codes";
import { BASE_HOST_OPTIONS, COMMON_HELP, EXIT_HELP, onHost, prepare } from "./host-command";
import type { Io } from "./io";

export const PROBE_HELP = `Usage: hardened-nftables probe --host [USER@]ADDR[:PORT] --host-key KEY [--identity KEYFILE] [options]

Connects once and prints what the host has, as JSON: kernel, nft version, whether the helper
sysctl and module parameter exist, how the table would load at boot, every table present (others'
included, never touched), the tools found, and the interfaces container and VM runtimes created
("guests": docker0, br-*, virbr*, ...; apply refuses a forward drop that would cut them off unless
forward.guestInterfaces is set). Changes nothing.

${COMMON_HELP}

${EXIT_HELP}
`;

export async function probeCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: BASE_HOST_OPTIONS, strict: true });
  if (values.help) {
    io.out(PROBE_HELP);
    return EXIT.ok;
  }
  const prepared = prepare(values, io, { policy: "none" });
  if (typeof prepared === "number") return prepared;
  const { connection, hostOptions } = prepared;
  return onHost(io, connection, async () => {
    const facts = await withSession(connection, (session) => probeSession(session), { onLog: hostOptions.onLog });
    io.out(`${JSON.stringify({ ...facts, guests: guestInterfacesOf(facts) }, null, 2)}\n`);
    return EXIT.ok;
  });
}
