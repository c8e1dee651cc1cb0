import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Issue } from "../fields/issues";
import { atOrAbove, SEVERITIES, type Severity } from "../host/audit/findings";
import { propose } from "../host/audit/propose";
import { auditJson, auditSarif, formatAuditText } from "../host/audit/report";
import { auditFleet } from "../host/operations/audit";
import { ConnectionError, HostKeyMismatchError } from "../host/ssh";
import { type Connection, redact } from "../model/connection";
import { hostRootProblem } from "../model/host-options";
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionFromFlags } from "./connection-flags";
import { EXIT } from "./exit-codes";
import { hostFlags, hostIssue, type InventoryHost, readInventory } from "./inventory";
import { type Io, printIssues } from "./io";
import { UsageError } from "./policy-file";

export const AUDIT_HELP = `Usage: hardened-nftables audit (--host [USER@]ADDR[:PORT] ... | --inventory FILE) --host-key KEY [options]

Reads each host over one SSH connection (one round trip) and writes nothing on it; judges what
it found: helper auto-assignment, helper modules and rules that attach helpers, connections that
carry one, related accepts not limited to ICMP errors or a scoped helper (nft and iptables-legacy),
input not filtered by default per family, listeners admitted from anywhere, what would undo a
table of this project (flush ruleset at boot, firewalld/ufw, legacy rules), published container
ports. Each finding has a severity, its evidence and what to do. A host that cannot be reached is
reported and the others are audited.

  --host SPEC                 repeat it for several hosts
  --inventory FILE            an Ansible inventory, INI or YAML (ansible_host, ansible_port and
                              ansible_user are read; the connection flags apply to every host;
                              a host's hardened_nftables_host_key pins its own key in place of
                              --host-key)
  --concurrency N             hosts audited at once (default 8)
  --format F                  text (default), json or sarif
  --fail-on SEVERITY          exit 1 when a finding is at or above it: info, low, medium, high
                              (default high)
  --propose DIR               also write DIR/HOST.yaml per audited host: a starting policy from
                              what it listens on and what its ruleset admits now (catalog
                              services where the port fits, the rest custom; guesses commented)
  --state-root DIR            where the hosts record their last committed apply, to judge a
                              managed table's drift against (default /var/lib/hardened-nftables)

${CONNECTION_HELP}

Output:
  -v, --verbose               progress lines on stderr (never contain secrets)
  -h, --help                  this text

Exit codes: 0 no finding at or above --fail-on, 1 such findings, 2 invalid arguments (nothing
contacted), 5 a host could not be reached (the others are still audited and reported), 6 a host
could not be audited (not root, sudo refused, nft missing).
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  host: { type: "string", multiple: true },
  inventory: { type: "string" },
  concurrency: { type: "string", default: "8" },
  format: { type: "string", default: "text" },
  "fail-on": { type: "string", default: "high" },
  propose: { type: "string" },
  "state-root": { type: "string" },
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export async function auditCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) {
    io.out(AUDIT_HELP);
    return EXIT.ok;
  }
  const format = values.format;
  if (format !== "text" && format !== "json" && format !== "sarif")
    throw new UsageError(`--format: expected text, json or sarif, got "${format}"`);
  const failOn = values["fail-on"] as Severity;
  if (!SEVERITIES.includes(failOn))
    throw new UsageError(`--fail-on: expected one of ${SEVERITIES.join(", ")}, got "${values["fail-on"]}"`);
  if (!/^[1-9][0-9]{0,3}$/.test(values.concurrency))
    throw new UsageError(`--concurrency: expected a number from 1, got "${values.concurrency}"`);
  const specs: InventoryHost[] = (values.host ?? []).map((h) => ({ name: h, spec: h }));
  if (values.inventory !== undefined) specs.push(...readInventory(values.inventory));
  if (specs.length === 0) throw new UsageError("--host or --inventory: at least one host is required");
  const stateRoot = values["state-root"];
  const rootProblem = stateRoot === undefined ? undefined : hostRootProblem(stateRoot);
  if (rootProblem) throw new UsageError(`--state-root: ${rootProblem}`);

  const issues: Issue[] = [];
  const targets: { name: string; connection: Connection }[] = [];
  for (const s of specs) {
    const connection = connectionFromFlags(hostFlags(values, s));
    if (connection.ok) targets.push({ name: s.name, connection: connection.value });
    else issues.push(...connection.issues.map((i) => hostIssue(i, s, specs.length)));
  }
  if (issues.length > 0) {
    printIssues(io, "invalid arguments", issues);
    return EXIT.invalidPolicy;
  }
  const secrets = targets.map((t) => t.connection);
  const clean = (text: string) => secrets.reduce((t, c) => redact(t, c), text);
  const onLog = values.verbose ? (line: string) => io.err(`${clean(line)}\n`) : undefined;

  const results = await auditFleet(targets, {
    concurrency: Number(values.concurrency),
    ...(onLog ? { onLog } : {}),
    ...(stateRoot === undefined ? {} : { stateRoot }),
  });
  const text =
    format === "json"
      ? JSON.stringify(auditJson(results), null, 2)
      : format === "sarif"
        ? JSON.stringify(auditSarif(results, version()), null, 2)
        : formatAuditText(results);
  io.out(`${clean(text)}\n`);

  if (values.propose !== undefined) {
    mkdirSync(values.propose, { recursive: true });
    for (const r of results) {
      if (!("audit" in r)) continue;
      const file = join(values.propose, `${r.host.replace(/[^A-Za-z0-9_.-]/g, "_")}.yaml`);
      writeFileSync(file, propose(r.audit.facts).yaml);
      io.err(`${clean(`${r.host}: proposed policy written to ${file}`)}\n`);
    }
  }

  const unreachable = results.filter(
    (r) => "error" in r && (r.error instanceof ConnectionError || r.error instanceof HostKeyMismatchError),
  );
  const failedHosts = results.filter((r) => "error" in r);
  for (const r of failedHosts)
    io.err(
      `${clean(`${r.host}: not audited: ${(r as { error: unknown }).error instanceof Error ? (r as { error: Error }).error.message : String((r as { error: unknown }).error)}`)}\n`,
    );
  if (unreachable.length > 0) return EXIT.connection;
  if (failedHosts.length > 0) return EXIT.hostFailed;
  const findings = results.flatMap((r) => ("audit" in r ? r.audit.findings : []));
  return atOrAbove(findings, failOn).length > 0 ? EXIT.drift : EXIT.ok;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(`${__dirname}/../../package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
