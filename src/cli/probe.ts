import { parseArgs } from "node:util";
import { type GuestInterface, guestInterfacesOf } from "../host/operations/guests";
import { type HostFacts, probeSession } from "../host/operations/probe";
import { describeRuntimeTable } from "../host/operations/runtime-tables";
import { withSession } from "../host/ssh";
import { EXIT } from "./exit-codes";
import { BASE_HOST_OPTIONS, COMMON_HELP, EXIT_HELP, onHost, prepare } from "./host-command";
import { type Io, outputFormat } from "./io";

export const PROBE_HELP = `Usage: hardened-nftables probe --host [USER@]ADDR[:PORT] --host-key KEY [--identity KEYFILE]
                              [--format json|text] [options]

Connects once and prints what the host has: kernel, nft version, whether the helper sysctl and
module parameter exist, how the table would load at boot, every table present (others' included,
never touched), the tools found, the tables and chains of container and VM runtimes and firewalld
("runtimeTables": Docker's DOCKER chains or ip docker-bridges, inet netavark, ip libvirt_network,
inet lxd, inet incus, ip kube-proxy, inet firewalld, iptables-legacy chains), and the interfaces
the runtimes created ("guests": docker0, br-*, virbr*, ...; apply refuses a forward drop that would
cut them off unless forward.guestInterfaces is set). Changes nothing.

  --format F                  json (default) or text (a short summary)

${COMMON_HELP}

${EXIT_HELP}
`;

export async function probeCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...BASE_HOST_OPTIONS, format: { type: "string", default: "json" } },
    strict: true,
  });
  if (values.help) {
    io.out(PROBE_HELP);
    return EXIT.ok;
  }
  const format = outputFormat(values.format);
  const prepared = prepare(values, io, { policy: "none" });
  if (typeof prepared === "number") return prepared;
  const { connection, hostOptions } = prepared;
  return onHost(io, connection, async () => {
    const facts = await withSession(connection, (session) => probeSession(session), { onLog: hostOptions.onLog });
    const guests = guestInterfacesOf(facts);
    io.out(
      format === "json"
        ? `${JSON.stringify({ ...facts, guests }, null, 2)}\n`
        : `${probeText(facts, guests).join("\n")}\n`,
    );
    return EXIT.ok;
  });
}

/** The text summary: one fact per line, the runtimes' tables and the guests' interfaces one per line. */
export function probeText(facts: HostFacts, guests: readonly GuestInterface[]): string[] {
  return [
    `kernel ${facts.kernel}, nft ${facts.nftVersion || "unknown"} (${facts.nftBinary}), init ${facts.init}, netfilter ${facts.netfilter}`,
    `tables: ${facts.tables.map((t) => t.replace(/^table /, "")).join(", ") || "none"}`,
    `managed tables: ${facts.managedTables.map((t) => t.table).join(", ") || "none"}`,
    ...(facts.runtimeTables.length === 0
      ? ["runtimes: none found"]
      : facts.runtimeTables.map((t) => `runtime ${t.runtime}: ${describeRuntimeTable(t)}`)),
    ...(guests.length === 0
      ? ["guests: none"]
      : guests.map((g) => `guests: ${g.name} (${g.runtime}${g.evidence ? `: ${g.evidence}` : ""})`)),
  ];
}
