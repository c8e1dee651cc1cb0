import { parseArgs } from "node:util";
import { type TableCounters, tableStats } from "../host/operations/stats";
import { parseHostKey } from "../model/host-key";
import { EXIT } from "./exit-codes";
import { COMMON_HELP, EXIT_HELP, type HostFlagValues, onHost, prepare, TABLE_HOST_OPTIONS } from "./host-command";
import { hostFlags, hostIssue, type InventoryHost, readInventory } from "./inventory";
import { type Io, printIssues } from "./io";
import { UsageError } from "./policy-file";
import {
  defaultSampleFile,
  formatJson,
  formatPrometheus,
  formatTable,
  type HostStats,
  readSamples,
  sampleKey,
  withRates,
  writeSamples,
} from "./stats-format";

export const STATS_HELP = `Usage: hardened-nftables stats (--host [USER@]ADDR[:PORT] ... | --inventory FILE) --host-key KEY [--identity KEYFILE] [options]

Reads the table's counters on each host (in parallel): per exposure what it accepted and what its
limits refused, per block set what it dropped, per chain what it dropped at its end; packets,
bytes, and the rate since the last call (the last sample of each host and table is kept in
--sample-file). Changes nothing on the hosts. With several hosts, the other connection flags
apply to each; each host pins its own key with hardened_nftables_host_key in --inventory (else
--host-key applies to it). A host that cannot be reached (or shows another key) is reported on
stderr and the others are read.

  --host SPEC                 repeat it for several hosts
  --inventory FILE            an Ansible inventory, INI or YAML (ansible_host, ansible_port,
                              ansible_user, and hardened_nftables_host_key: the host's own key,
                              "ssh-ed25519 AAAA..." quoted in INI, or "SHA256:...")
  --table NAME                the table (default: hardened; or the policy's with --policy)
  --policy FILE               take the table name from a policy
  --format F                  table (default), json, or prometheus (node_exporter textfile format)
  --sample-file FILE          where the last sample is kept
                              (default $XDG_STATE_HOME/hardened-nftables/stats.json,
                              else ~/.local/state/hardened-nftables/stats.json)

${COMMON_HELP}

${EXIT_HELP}
`;

const STATS_OPTIONS = {
  ...TABLE_HOST_OPTIONS,
  host: { type: "string", multiple: true },
  inventory: { type: "string" },
  format: { type: "string", default: "table" },
  "sample-file": { type: "string" },
} as const;

const FORMATS = { table: formatTable, json: formatJson, prometheus: formatPrometheus } as const;

export async function statsCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: STATS_OPTIONS, strict: true });
  if (values.help) {
    io.out(STATS_HELP);
    return EXIT.ok;
  }
  const format = FORMATS[values.format as keyof typeof FORMATS];
  if (!format) throw new UsageError(`--format: "${values.format}" is not one of table, json, prometheus`);
  const hosts: InventoryHost[] = (values.host ?? []).map((h) => ({ name: h, spec: h }));
  if (values.inventory !== undefined) hosts.push(...readInventory(values.inventory));
  if (hosts.length === 0) throw new UsageError("--host or --inventory: at least one host is required");
  // every host's flags are checked before any connection; a key the inventory gave is named after it
  const keyIssues = hosts.flatMap((h) => {
    const key = h.hostKey === undefined ? undefined : parseHostKey(h.hostKey);
    return key && !key.ok ? key.issues.map((i) => hostIssue({ ...i, path: ["--host-key"] }, h, hosts.length)) : [];
  });
  if (keyIssues.length > 0) {
    printIssues(io, "invalid arguments", keyIssues);
    return EXIT.invalidPolicy;
  }
  const prepared = [];
  for (const h of hosts) {
    const one = prepare(hostFlags(values, h) as HostFlagValues, io, { policy: values.policy ? "required" : "none" });
    if (typeof one === "number") return one;
    prepared.push(one);
  }
  const file = values["sample-file"] ?? defaultSampleFile();
  const samples = readSamples(file);
  const results: (HostStats | number)[] = await Promise.all(
    prepared.map(({ connection, table, hostOptions }) => {
      let read: TableCounters | undefined;
      return onHost(io, connection, async () => {
        read = await tableStats(connection, table, { onLog: hostOptions.onLog });
        return EXIT.ok;
      }).then((code) => {
        if (!read) return code;
        const at = Date.now();
        const key = sampleKey(read.target, read.table);
        const stats = withRates(read, at, samples[key]);
        samples[key] = { at, counters: read.counters };
        return stats;
      });
    }),
  );
  const stats = results.filter((r): r is HostStats => typeof r !== "number");
  if (stats.length > 0) writeSamples(file, samples);
  io.out(format(stats));
  const failures = results.filter((r): r is number => typeof r === "number");
  return failures.length > 0 ? Math.max(...failures) : EXIT.ok;
}
