import type { ValidHostPaths } from "../model/host-options";

/** Where each artefact lives on a host. Everything the project owns is named after its table. */
export interface ManagedPaths {
  readonly nft: string;
  readonly sysctl: string;
  readonly modprobe: string;
  /** systemd unit that loads the persisted table at boot, and its enablement link. */
  readonly unit: string;
  readonly unitLink: string;
  /** What the last committed apply recorded (hash, listing): /var/lib by default. */
  readonly stateDir: string;
  /** Lock and the armed transaction: /run by default, so a reboot forgets them. */
  readonly runDir: string;
}

/** The state and run roots (the host options' `hostPaths`, model/host-options.ts). */
export type PathOverrides = Readonly<ValidHostPaths>;

export function managedPaths(table: string, overrides: PathOverrides = {}): ManagedPaths {
  const unitName = `hardened-nftables-${table}.service`;
  return {
    nft: `/etc/hardened-nftables/${table}.nft`,
    sysctl: `/etc/sysctl.d/60-hardened-nftables-${table}.conf`,
    modprobe: `/etc/modprobe.d/hardened-nftables-${table}.conf`,
    unit: `/etc/systemd/system/${unitName}`,
    unitLink: `/etc/systemd/system/sysinit.target.wants/${unitName}`,
    stateDir: `${overrides.stateRoot ?? "/var/lib/hardened-nftables"}/${table}`,
    runDir: overrides.runRoot ?? "/run/hardened-nftables",
  };
}
