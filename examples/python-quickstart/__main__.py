"""Quick start in Python: a hardened firewall on one host reached over SSH.

Set-up (docs/languages.md): `pulumi package add <path to pulumi-resource-hardened-nftables>` writes the
SDK into sdks/hardened-nftables; `pulumi install` makes ./venv with it. Then:

    pulumi config set host 198.18.0.10
    pulumi config set hostKey "ssh-ed25519 AAAA..."          # the host's public key (pinned)
    pulumi config set --secret privateKey < ~/.ssh/id_ed25519
    pulumi config set user admin                             # optional (sudo -n is used when not root)
    pulumi up

The sandbox host of this repository (`npm run sandbox -- up`) prints these values with
`npm run --silent sandbox -- status --json`; it shares /var and /run with this machine, so also
set hostPaths (--path hostPaths.stateRoot /etc/hardened-nftables/.state, and .runRoot).
"""

import pulumi
import pulumi_hardened_nftables as hnft

config = pulumi.Config()
host_paths = config.get_object("hostPaths")

firewall = hnft.HostFirewall(
    "quickstart",
    connection=hnft.ConnectionArgs(
        host=config.require("host"),
        port=config.get_int("port") or 22,
        user=config.get("user") or "root",
        private_key=config.require_secret("privateKey"),
        host_key=config.require("hostKey"),
    ),
    exposures=[
        hnft.ExposureArgs(service="ssh"),
        hnft.ExposureArgs(service="https"),
        # Passive FTP without any helper: the data range is opened as plain ports.
        hnft.ExposureArgs(service="ftp", passive_ports="50000-50100"),
    ],
    log=hnft.LogPolicyArgs(dropped=True),
    host_paths=hnft.HostPathsArgs(state_root=host_paths.get("stateRoot"), run_root=host_paths.get("runRoot"))
    if host_paths
    else None,
)

pulumi.export("table", firewall.table)
pulumi.export("hostTarget", firewall.target)
pulumi.export("ruleLines", firewall.rule_lines)
pulumi.export("hostProfile", firewall.host_profile)
pulumi.export("appliedHash", firewall.applied_hash)
pulumi.export("drift", firewall.drift_summary)
