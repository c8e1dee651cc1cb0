/**
 * keepalived (Debian's) as a VRRP peer inside a lab namespace: its own configuration, pid files
 * and log under the lab host's private dir, in the foreground (killed with the lab), VRRP only.
 * The machine's own keepalived service stays disabled (scripts/setup.sh).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { LabHost, LabProcess } from "../lab";

export interface KeepalivedOptions {
  readonly state: "MASTER" | "BACKUP";
  readonly priority: number;
  /** The virtual address with its length, e.g. 198.18.7.200/24. */
  readonly virtualAddress: string;
  readonly routerId?: number;
  readonly dev?: string;
}

export interface Keepalived {
  readonly process: LabProcess;
  readonly config: string;
}

export function startKeepalived(host: LabHost, o: KeepalivedOptions): Keepalived {
  const dir = path.join(host.dir, "keepalived");
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "keepalived.conf");
  fs.writeFileSync(
    config,
    [
      "global_defs {",
      `  router_id hnft-${host.name}`,
      "  vrrp_garp_master_delay 1",
      "}",
      "vrrp_instance hnft {",
      `  state ${o.state}`,
      `  interface ${o.dev ?? "eth0"}`,
      `  virtual_router_id ${o.routerId ?? 51}`,
      `  priority ${o.priority}`,
      "  advert_int 1",
      `  virtual_ipaddress { ${o.virtualAddress} }`,
      "}",
      "",
    ].join("\n"),
  );
  const pid = (name: string) => path.join(dir, `${name}.pid`);
  const process = host.spawn(
    `exec keepalived --vrrp --dont-fork --log-console --log-detail --use-file ${config} --pid ${pid("keepalived")} --vrrp_pid ${pid("vrrp")} --checkers_pid ${pid("checkers")}`,
  );
  return { process, config };
}

/** Whether `host` holds `address` (without its length) on `dev` now. */
export async function holds(host: LabHost, address: string, dev = "eth0"): Promise<boolean> {
  const r = await host.sh(`ip -o -4 addr show dev ${dev}`);
  return r.stdout.includes(` ${address}/`);
}

/** Polls until `host` holds (or no longer holds) `address`; returns the time it took, or undefined on time-out. */
export async function waitHolds(
  host: LabHost,
  address: string,
  want: boolean,
  timeoutMs: number,
): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if ((await holds(host, address)) === want) return Math.round(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}
