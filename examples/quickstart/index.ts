/**
 * Quick start: a hardened firewall on the sandbox host that `npm run sandbox -- up` creates
 * (a real sshd in a network namespace on this machine).
 *
 *   sudo scripts/quickstart.sh   # set-up, a sandbox host, and `pulumi up` of this program
 *   scripts/pulumi up --yes      # again, from the repository root (its Pulumi.yaml runs this program)
 *
 * Without config it asks the sandbox CLI for the connection settings. To target another host:
 *   pulumi config set host 203.0.113.10
 *   pulumi config set hostKey "ssh-ed25519 AAAA..."      # the host's public key (pinned)
 *   pulumi config set privateKeyPath ~/.ssh/id_ed25519    # or: pulumi config set --secret privateKey ...
 *   pulumi config set user admin                          # optional (sudo -n is used when not root)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { HostFirewall, type HostPaths } from "pulumi-hardened-nftables";

interface Target {
  host: string;
  port: number;
  user: string;
  privateKey: pulumi.Output<string>;
  hostKey: string;
  /** The sandbox shares /var and /run with this machine; keep its state inside its own /etc. */
  hostPaths?: HostPaths;
}

function fromSandbox(): Target {
  const repo = path.resolve(__dirname, "..", "..");
  const r = spawnSync("npm", ["run", "--silent", "sandbox", "--", "status", "--json"], { cwd: repo, encoding: "utf8" });
  let s: { status?: string; host?: string; port?: number; user?: string; privateKeyPath?: string; hostKey?: string } =
    {};
  try {
    s = JSON.parse(r.stdout);
  } catch {
    /* not JSON: not running */
  }
  if (s.status !== "up" || !s.host || !s.privateKeyPath || !s.hostKey) {
    throw new Error(
      "no sandbox host: run `npm run sandbox -- up` first (as root), or set the host, hostKey and privateKeyPath config",
    );
  }
  return {
    host: s.host,
    port: s.port ?? 22,
    user: s.user ?? "root",
    privateKey: pulumi.secret(fs.readFileSync(s.privateKeyPath, "utf8")),
    hostKey: s.hostKey,
    hostPaths: { stateRoot: "/etc/hardened-nftables/.state", runRoot: "/etc/hardened-nftables/.run" },
  };
}

function fromConfig(config: pulumi.Config): Target {
  const keyPath = config.get("privateKeyPath");
  return {
    host: config.require("host"),
    port: config.getNumber("port") ?? 22,
    user: config.get("user") ?? "root",
    privateKey: keyPath
      ? pulumi.secret(fs.readFileSync(keyPath.replace(/^~(?=\/)/, process.env.HOME ?? "~"), "utf8"))
      : config.requireSecret("privateKey"),
    hostKey: config.require("hostKey"),
    hostPaths: config.getObject<HostPaths>("hostPaths"),
  };
}

const config = new pulumi.Config();
const target = config.get("host") ? fromConfig(config) : fromSandbox();

const firewall = new HostFirewall("quickstart", {
  connection: {
    host: target.host,
    port: target.port,
    user: target.user,
    privateKey: target.privateKey,
    hostKey: target.hostKey,
  },
  exposures: [
    { service: "ssh" },
    { service: "https" },
    // Passive FTP without any helper: the data range is opened as plain ports.
    { service: "ftp", passivePorts: "50000-50100" },
  ],
  log: { dropped: true },
  ...(target.hostPaths ? { hostPaths: target.hostPaths } : {}),
});

export const table = firewall.table;
export const hostTarget = firewall.target;
export const ruleLines = firewall.ruleLines;
export const hostProfile = firewall.hostProfile;
export const appliedHash = firewall.appliedHash;
export const drift = firewall.driftSummary;
