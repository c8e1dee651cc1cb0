/**
 * HostFirewall resources from stack config, so one program serves every engine test:
 *   hosts    JSON list of { name, host, port?, user?, hostKey, hostPaths?, confirmTimeoutSeconds? }
 *   policy   JSON policy (table, exposures, ...) applied to every host
 *   privateKey, privateKeyPassword, password   secrets (config --secret), used when set
 */
import * as pulumi from "@pulumi/pulumi";
import { HostFirewall, type HostFirewallArgs } from "pulumi-hardened-nftables";

interface HostEntry {
  name: string;
  host: string;
  port?: number;
  user?: string;
  hostKey: string;
  hostPaths?: HostFirewallArgs["hostPaths"];
  confirmTimeoutSeconds?: number;
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostEntry[]>("hosts");
const policy = config.requireObject<Omit<HostFirewallArgs, "connection">>("policy");
const privateKey = config.getSecret("privateKey");
const privateKeyPassword = config.getSecret("privateKeyPassword");
const password = config.getSecret("password");

const firewalls = hosts.map(
  (h) =>
    new HostFirewall(h.name, {
      ...policy,
      connection: {
        host: h.host,
        port: h.port,
        user: h.user,
        hostKey: h.hostKey,
        ...(privateKey ? { privateKey } : {}),
        ...(privateKeyPassword ? { privateKeyPassword } : {}),
        ...(password ? { password } : {}),
      },
      ...(h.hostPaths ? { hostPaths: h.hostPaths } : {}),
      ...(h.confirmTimeoutSeconds ? { confirmTimeoutSeconds: h.confirmTimeoutSeconds } : {}),
    }),
);

export const tables = firewalls.map((f) => f.table);
export const targets = firewalls.map((f) => f.target);
export const ruleLines = firewalls.map((f) => f.ruleLines);
export const renderedTables = firewalls.map((f) => f.renderedTable);
export const sysctlConfs = firewalls.map((f) => f.sysctlConf);
export const modprobeConfs = firewalls.map((f) => f.modprobeConf);
export const hostProfiles = firewalls.map((f) => f.hostProfile);
export const appliedHashes = firewalls.map((f) => f.appliedHash);
export const inSync = firewalls.map((f) => f.inSync);
export const drift = firewalls.map((f) => f.drift);
export const driftSummaries = firewalls.map((f) => f.driftSummary);
export const warnings = firewalls.map((f) => f.warnings);
