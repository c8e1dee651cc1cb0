/**
 * A private host reached only through a bastion (SSH proxy jump, as @pulumi/command's
 * `connection.proxy`). Both get a firewall: the bastion admits SSH from the office, the private
 * host admits SSH only from the bastion's inside address. Host keys of both hops are pinned.
 *
 *   pulumi config set bastionHost 203.0.113.5      pulumi config set bastionHostKey "ssh-ed25519 ..."
 *   pulumi config set bastionInside 10.0.0.5        pulumi config set privateHost 10.0.0.20
 *   pulumi config set privateHostKey "ssh-ed25519 ..."
 *   pulumi config set --secret privateKey "$(cat ~/.ssh/id_ed25519)"
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostFirewall } from "pulumi-hardened-nftables";

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const office = config.getObject<string[]>("officeSources") ?? ["198.51.100.0/24"];
const bastionInside = config.require("bastionInside");

const bastion = {
  host: config.require("bastionHost"),
  user: config.get("bastionUser") ?? "jump",
  privateKey,
  hostKey: config.require("bastionHostKey"),
};
const inner = {
  host: config.require("privateHost"),
  user: config.get("privateUser") ?? "admin", // not root: the host steps run through sudo -n
  privateKey,
  hostKey: config.require("privateHostKey"),
  proxy: bastion,
};

const bastionFirewall = new HostFirewall("bastion", {
  connection: { ...bastion, user: config.get("bastionAdminUser") ?? "root" },
  exposures: [{ service: "ssh", sources: office }],
});

// @pulumi/command through the same proxy: make sure nft is there before the firewall is applied.
const nftables = new command.remote.Command("inner-nftables", {
  connection: inner,
  create:
    "sudo -n sh -c 'command -v nft >/dev/null || (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq nftables)'",
});

const innerFirewall = new HostFirewall(
  "inner",
  {
    connection: inner,
    exposures: [
      { service: "ssh", sources: [bastionInside] },
      { service: "https", sources: ["10.0.0.0/8"] },
    ],
    output: {
      policy: "drop",
      allow: [
        { name: "dns", protocol: "udp", ports: 53 },
        { name: "apt", protocol: "tcp", ports: [80, 443] },
      ],
    },
  },
  // The bastion's table first: a mistake there must roll back before the inner host is touched.
  { dependsOn: [bastionFirewall, nftables] },
);

export const bastionTarget = bastionFirewall.target;
export const innerTarget = innerFirewall.target;
export const drift = [bastionFirewall.driftSummary, innerFirewall.driftSummary];
