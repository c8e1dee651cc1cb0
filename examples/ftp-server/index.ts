/**
 * An FTP server: vsftpd in passive mode with a fixed passive range, and a firewall that opens
 * the control port with a SCOPED ftp helper (only this exposure's connections get the helper;
 * only its expected data connections, inside the declared range, are accepted as related).
 *
 * @pulumi/command (1.x) installs the packages and sets vsftpd's passive range beside the
 * component; the firewall waits for it (dependsOn).
 *
 *   pulumi config set host 203.0.113.21
 *   pulumi config set hostKey "ssh-ed25519 AAAA..."
 *   pulumi config set --secret privateKey "$(cat ~/.ssh/id_ed25519)"
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostFirewall } from "pulumi-hardened-nftables";

const config = new pulumi.Config();
const connection = {
  host: config.require("host"),
  user: config.get("user") ?? "root",
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};
const adminSources = config.getObject<string[]>("adminSources") ?? ["192.0.2.0/24", "2001:db8:100::/56"];
const passive = { from: config.getNumber("passiveFrom") ?? 50000, to: config.getNumber("passiveTo") ?? 50100 };

// Packages first: nft for the firewall, vsftpd for the service, conntrack to flush stale helper entries.
const packages = new command.remote.Command("ftp-packages", {
  connection,
  create:
    "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq nftables vsftpd conntrack",
});

// What the server must be set to: the passive range the firewall opens (see docs/services.md).
const vsftpd = new command.remote.Command(
  "vsftpd-passive-range",
  {
    connection,
    create: [
      "set -e",
      "conf=/etc/vsftpd.conf",
      "sed -i '/^pasv_\\(enable\\|min_port\\|max_port\\)=/d' $conf",
      `printf 'pasv_enable=YES\\npasv_min_port=${passive.from}\\npasv_max_port=${passive.to}\\n' >> $conf`,
      "systemctl restart vsftpd",
    ].join("; "),
    triggers: [passive.from, passive.to],
  },
  { dependsOn: [packages] },
);

const firewall = new HostFirewall(
  "ftp",
  {
    connection,
    exposures: [
      { service: "ssh", sources: adminSources },
      { service: "ftp", helper: "scoped", passivePorts: `${passive.from}-${passive.to}` },
    ],
    log: { dropped: true, prefix: "ftp fw" },
  },
  { dependsOn: [packages, vsftpd] },
);

export const ruleLines = firewall.ruleLines;
export const modprobeConf = firewall.modprobeConf;
export const drift = firewall.driftSummary;
