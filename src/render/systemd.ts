import type { ManagedPaths } from "./paths";

/**
 * Loads the persisted table at boot. After nftables.service, because Debian's
 * /etc/nftables.conf starts with `flush ruleset`; before the network comes up.
 */
export function renderUnit(table: string, paths: ManagedPaths, nftBinary: string): string {
  return [
    `# pulumi-hardened-nftables: loads table inet ${table} at boot`,
    "[Unit]",
    `Description=hardened-nftables table inet ${table}`,
    "DefaultDependencies=no",
    "After=nftables.service",
    "Before=network-pre.target shutdown.target",
    "Wants=network-pre.target",
    "Conflicts=shutdown.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=${nftBinary} -f ${paths.nft}`,
    "",
    "[Install]",
    "WantedBy=sysinit.target",
    "",
  ].join("\n");
}
