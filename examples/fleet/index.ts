/**
 * One policy over many hosts, with per-host overrides. Every host gets its own HostFirewall
 * (one dynamic resource each): Pulumi applies them in parallel, each with its own on-host
 * rollback, and `pulumi preview --refresh --expect-no-changes` checks the whole fleet for drift.
 *
 *   pulumi config set --path 'hosts[0].name' web1
 *   pulumi config set --path 'hosts[0].host' 203.0.113.11
 *   pulumi config set --path 'hosts[0].hostKey' "ssh-ed25519 AAAA..."
 *   pulumi config set --path 'hosts[0].role' web
 *   pulumi config set --secret privateKey "$(cat ~/.ssh/fleet_ed25519)"
 */
import * as pulumi from "@pulumi/pulumi";
import { type ExposureArgs, HostFirewall, type HostFirewallArgs, type HostPaths } from "pulumi-hardened-nftables";

interface FleetHost {
  name: string;
  host: string;
  hostKey: string;
  role: "web" | "db" | "mail";
  user?: string;
}

const config = new pulumi.Config();
const hosts = config.requireObject<FleetHost[]>("hosts");
const privateKey = config.requireSecret("privateKey");
const admin = config.getObject<string[]>("adminSources") ?? ["192.0.2.0/24"];
const appNet = config.getObject<string[]>("appSources") ?? ["10.20.0.0/16"];
// Only for hosts whose /var or /run is shared or read-only: where each keeps its state and lock.
const hostPaths = config.getObject<HostPaths>("hostPaths");

/** Policy fields a role may override; its exposures are added to the base ones. */
type Override = Omit<Partial<HostFirewallArgs>, "exposures" | "connection"> & { exposures?: ExposureArgs[] };

/** What every host has. */
const base = {
  table: "fleet",
  exposures: [
    { service: "ssh", sources: admin },
    { service: "ntp", sources: appNet },
  ] as ExposureArgs[],
  log: { dropped: true, rate: "5/minute" },
};

/** Per-role additions and overrides. */
const overrides: Record<FleetHost["role"], Override> = {
  web: { exposures: [{ service: "http" }, { service: "https", http3: true }] },
  db: {
    exposures: [{ name: "postgres", protocol: "tcp", ports: 5432, sources: appNet, comment: "app servers only" }],
    output: { policy: "drop", allow: [{ name: "dns", protocol: "udp", ports: 53 }] },
  },
  mail: {
    exposures: [{ service: "smtp" }, { service: "submission" }, { service: "imaps" }],
    conntrack: { max: 131072 },
  },
};

const firewalls = hosts.map((h) => {
  const extra = overrides[h.role];
  return new HostFirewall(`fw-${h.name}`, {
    ...base,
    ...extra,
    exposures: [...base.exposures, ...(extra.exposures ?? [])],
    connection: { host: h.host, user: h.user ?? "root", privateKey, hostKey: h.hostKey },
    ...(hostPaths ? { hostPaths } : {}),
  });
});

export const drift = Object.fromEntries(hosts.map((h, i) => [h.name, firewalls[i]!.driftSummary]));
export const kernels = Object.fromEntries(
  hosts.map((h, i) => [h.name, firewalls[i]!.hostProfile.apply((p) => p?.kernelRelease)]),
);
