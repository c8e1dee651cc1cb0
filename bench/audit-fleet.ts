/**
 * The audit of N lab hosts beside our drift check of the same hosts (bench/fleet.ts's workers: a
 * fresh `node` process per operation, all hosts at once). The hosts carry the fleet policy's table
 * (applied first), so the drift check has a table to compare and the audit has one to judge.
 * Connections and round trips per host come from each host's sshd log, as in the fleet bench;
 * the audit's "nothing written" is the fleet bench's no-op write check (inode, size, mtime, ctime
 * of the host's /etc/hardened-nftables, sysctl.d, modprobe.d, systemd and root's home, and the
 * live table with handles), before the first audit and after the last.
 */
import { createLab } from "../test/support/lab";
import { compareSnapshots, fleetPolicy, resetHosts, runOurs, snapshot, sshdCounts, sshdLogSizes } from "./fleet";
import { type Log, median, round } from "./util";

export interface AuditFleetMeasure {
  op: "audit" | "drift-check";
  hosts: number;
  wallMs: number[];
  medianWallMs: number;
  inProcessMs: number[];
  connectionsPerHost: number;
  roundTripsPerHost: number;
  toolConnectionsPerHost: number;
  toolRoundTripsPerHost: number;
}

export interface AuditFleetResult {
  method: Record<string, string | number>;
  measures: AuditFleetMeasure[];
  /** the audit's write check: hosts where anything changed, and what */
  writes: { hosts: number; hostsWithWrites: number; changed: string[]; tableReloaded: boolean }[];
  /** findings per host on the last audit (the fleet policy's table: info only) */
  findingsPerHost: number;
}

export async function runAuditFleet(opts: { sizes: number[]; repeats: number; log: Log }): Promise<AuditFleetResult> {
  const { log } = opts;
  const max = Math.max(...opts.sizes);
  log(`audit: creating a lab of ${max} hosts`);
  const lab = await createLab({ hosts: max, label: "bench-audit" });
  const measures: AuditFleetMeasure[] = [];
  const writes: AuditFleetResult["writes"] = [];
  let findingsPerHost = 0;
  try {
    const policy = fleetPolicy();
    await runOurs("apply", lab.hosts, policy);
    for (const n of opts.sizes) {
      const hosts = lab.hosts.slice(0, n);
      for (const op of ["drift-check", "audit"] as const) {
        const before = op === "audit" ? await Promise.all(hosts.map(snapshot)) : [];
        const wall: number[] = [];
        const inProc: number[] = [];
        let conns = 0;
        let trips = 0;
        let last: Awaited<ReturnType<typeof runOurs>>["results"] = [];
        for (let k = 0; k < opts.repeats; k++) {
          const off = sshdLogSizes(hosts);
          const r = await runOurs(op === "audit" ? "audit" : "observe", hosts, policy);
          const counts = await sshdCounts(hosts, off);
          conns += counts.reduce((a, c) => a + c.connections, 0);
          trips += counts.reduce((a, c) => a + c.sessions, 0);
          wall.push(round(r.wallMs, 0));
          inProc.push(round(r.inProcessMs, 0));
          last = r.results;
        }
        const m: AuditFleetMeasure = {
          op,
          hosts: n,
          wallMs: wall,
          medianWallMs: round(median(wall), 0),
          inProcessMs: inProc,
          connectionsPerHost: conns / (n * opts.repeats),
          roundTripsPerHost: trips / (n * opts.repeats),
          toolConnectionsPerHost: last.reduce((a, x) => a + (x.stats?.connections ?? 0), 0) / n,
          toolRoundTripsPerHost: last.reduce((a, x) => a + (x.stats?.roundTrips ?? 0), 0) / n,
        };
        measures.push(m);
        log(
          `audit: N=${n} ${op}: ${m.medianWallMs} ms (samples ${wall.join(", ")}), ${round(m.connectionsPerHost, 2)} connections and ${round(m.roundTripsPerHost, 2)} round trips per host`,
        );
        if (op === "audit") {
          writes.push({ hosts: n, ...compareSnapshots(before, await Promise.all(hosts.map(snapshot))) });
          findingsPerHost = last.reduce((a, x) => a + (x.findings ?? 0), 0) / n;
        }
      }
    }
    await resetHosts(lab.hosts);
    return {
      method: {
        ours: "auditHost / observePolicy on all N hosts at once (Promise.all), in a fresh `node` process per operation; wall time = process start to exit",
        hosts: "lab hosts carrying the fleet bench's policy (bench/fleet.ts fleetPolicy), applied once before",
        repeats: opts.repeats,
        counting:
          "connections = sshd 'Accepted publickey' lines, round trips = sshd 'Starting session:' lines, per host; tool figures from SessionStats",
        writeCheck:
          "the fleet bench's no-op write check around the audits: inode, size, mtime, ctime under /etc/hardened-nftables, /etc/sysctl.d, /etc/modprobe.d, /etc/systemd, root's home, and `nft -a list table`",
      },
      measures,
      writes,
      findingsPerHost,
    };
  } finally {
    await lab.destroy();
  }
}

export function auditTable(r: AuditFleetResult): string[] {
  const L = [
    "| operation | hosts | median wall ms | samples | connections/host | round trips/host |",
    "|---|---|---|---|---|---|",
  ];
  for (const m of r.measures)
    L.push(
      `| ${m.op} | ${m.hosts} | ${m.medianWallMs} | ${m.wallMs.join(", ")} | ${round(m.connectionsPerHost, 2)} | ${round(m.roundTripsPerHost, 2)} |`,
    );
  L.push(
    "",
    `Audit write check: ${r.writes.map((w) => `N=${w.hosts}: ${w.hostsWithWrites} hosts with writes${w.changed.length ? ` (${w.changed.join(", ")})` : ""}, table reloaded: ${w.tableReloaded ? "yes" : "no"}`).join("; ")}. Findings per host: ${r.findingsPerHost}.`,
  );
  return L;
}
