/**
 * SNMP peers for the proofs (issue #12): Net-SNMP's `snmpd` as the agent inside a lab host and
 * `snmpget` as the manager, from the Debian packages snmpd and snmp (Net-SNMP 5.9.3).
 *
 * - The agent runs in the foreground (`-f`), logs to its own file (`-Lf`), ignores the machine's
 *   /etc/snmp (`-C -c CONF`) and keeps its persistent state in a temp dir (SNMP_PERSISTENT_DIR),
 *   so nothing of the machine's own snmpd (if any) is read or written.
 * - The community answers ANY source (`rocommunity COMM default`, `rocommunity6 COMM default`): the
 *   agent itself filters nothing, so a source that gets no answer was filtered by the table.
 * - MIBs: Debian ships almost none (they are non-free); without MIBS/MIBDIRS pointing at an empty
 *   dir, every tool prints pages of "Cannot find module" warnings. OIDs are numeric (`-On`).
 * - The agent binds one address per family (`udp:ADDR:161,udp6:[ADDR]:161`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  makeHandle,
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  removeTempDir,
  runIn,
  startProc,
  waitBound,
} from "./core";

/** sysName.0 */
export const SYS_NAME_OID = "1.3.6.1.2.1.1.5.0";

export interface SnmpdHandle extends PeerHandle {
  host: PeerHost;
  community: string;
  sysName: string;
  log(): string;
}

export interface SnmpdOptions {
  community?: string;
  sysName?: string;
}

function mibEnv(dir: string): string[] {
  const mibs = path.join(dir, "mibs");
  fs.mkdirSync(mibs, { recursive: true });
  return ["env", "MIBS=", `MIBDIRS=${mibs}`, `SNMP_PERSISTENT_DIR=${path.join(dir, "persist")}`];
}

export async function startSnmpd(host: PeerHost, opts: SnmpdOptions = {}): Promise<SnmpdHandle> {
  const community = opts.community ?? "hnftproof";
  const sysName = opts.sysName ?? `hnft-snmp-${host.name}`;
  const dir = makeTempDir("snmpd");
  const conf = path.join(dir, "snmpd.conf");
  const logFile = path.join(dir, "snmpd.log");
  fs.writeFileSync(
    conf,
    [`rocommunity ${community} default`, `rocommunity6 ${community} default`, `sysName ${sysName}`, ""].join("\n"),
    { mode: 0o600 },
  );
  const proc = startProc(
    host,
    [
      ...mibEnv(dir),
      "/usr/sbin/snmpd",
      "-f",
      "-C",
      "-c",
      conf,
      "-Lf",
      logFile,
      "-p",
      path.join(dir, "snmpd.pid"),
      `udp:${host.ipv4}:161,udp6:[${host.ipv6}]:161`,
    ],
    { cwd: dir, label: `snmpd@${host.name}` },
  );
  const stop = makeHandle([proc], [dir]);
  try {
    await waitBound(host, "udp", 161, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host,
    community,
    sysName,
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""),
    stop,
  };
}

export interface SnmpGetResult {
  ok: boolean;
  /** the value as snmpget prints it, e.g. `STRING: "hnft-snmp-h1"` */
  value: string | null;
  /** snmpget's error (e.g. `Timeout: No Response from udp:...`) */
  error: string | null;
}

/** One SNMPv2c GET from `client` to `addr`:161 (one try, `timeoutSec` long). */
export async function snmpGet(
  client: PeerHost,
  addr: string,
  opts: { community: string; oid?: string; timeoutSec?: number },
): Promise<SnmpGetResult> {
  const oid = opts.oid ?? SYS_NAME_OID;
  const timeoutSec = opts.timeoutSec ?? 2;
  const dir = makeTempDir("snmpget");
  try {
    const target = addr.includes(":") ? `udp6:[${addr}]:161` : `udp:${addr}:161`;
    const r = await runIn(
      client,
      [
        ...mibEnv(dir),
        "snmpget",
        "-v2c",
        "-c",
        opts.community,
        "-On",
        "-t",
        String(timeoutSec),
        "-r",
        "0",
        target,
        oid,
      ],
      { timeoutMs: timeoutSec * 1000 + 10_000, label: `snmpget@${client.name}`, cwd: os.tmpdir() },
    );
    const m = new RegExp(`^\\.${oid.replace(/\./g, "\\.")} = (.+)$`, "m").exec(r.stdout);
    if (r.code === 0 && m) return { ok: true, value: m[1]!.trim(), error: null };
    // the first run in a fresh persistent dir says "Created directory: ..." first
    const said = `${r.stderr}\n${r.stdout}`.split("\n").filter((l) => l.trim() && !l.startsWith("Created directory"));
    return { ok: false, value: null, error: said[0]?.trim() ?? `snmpget exit ${r.code}` };
  } finally {
    removeTempDir(dir);
  }
}
