/**
 * The package's name and type tokens, on their own: the plugin names its resources before it
 * loads the model (plugin.ts serves first and loads the rest on the first call that needs it).
 */
export const PACKAGE = "hardened-nftables";
export const HOST_FIREWALL_TOKEN = `${PACKAGE}:index:HostFirewall`;
export const HOST_TABLE_TOKEN = `${PACKAGE}:index:HostTable`;
