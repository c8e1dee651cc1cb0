// A host's nftables firewall and conntrack-helper hardening as declarative state: rendered default-drop, validated with nft -c on the host, applied over SSH with an on-host rollback, observed for drift on refresh.
package hardenednftables
