/** Where each artefact lives on a host. Everything the project owns is named after its table. */
export interface ManagedPaths {
  readonly nft: string;
  readonly sysctl: string;
  readonly modprobe: string;
  readonly stateDir: string;
}

export function managedPaths(table: string): ManagedPaths {
  return {
    nft: `/etc/hardened-nftables/${table}.nft`,
    sysctl: `/etc/sysctl.d/60-hardened-nftables-${table}.conf`,
    modprobe: `/etc/modprobe.d/hardened-nftables-${table}.conf`,
    stateDir: `/var/lib/hardened-nftables/${table}`,
  };
}
