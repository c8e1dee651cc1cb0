/**
 * A SIP PBX (Asterisk, FreeSWITCH...): signalling on udp+tcp/5060 from the trunk provider and
 * the office, RTP media on a FIXED range, no conntrack helper at all (helper "none": the RTP range
 * is opened as plain ports, so nothing parses SIP to open ports on the fly).
 * Outbound traffic is restricted to what the PBX needs.
 *
 * The PBX must use the same range: Asterisk rtp.conf rtpstart=10000 / rtpend=20000
 * (exported below as `serverSettings`).
 */
import * as pulumi from "@pulumi/pulumi";
import { HostFirewall, type HostPaths } from "pulumi-hardened-nftables";

const config = new pulumi.Config();
const trunk = config.getObject<string[]>("trunkSources") ?? ["203.0.113.0/26", "2001:db8:5::/48"];
const office = config.getObject<string[]>("officeSources") ?? ["198.51.100.0/24"];
const rtp = { from: 10000, to: 20000 };
// Only for hosts whose /var or /run is shared or read-only: where the host keeps its state and lock.
const hostPaths = config.getObject<HostPaths>("hostPaths");

const firewall = new HostFirewall("pbx", {
  connection: {
    host: config.require("host"),
    user: config.get("user") ?? "root",
    privateKey: config.requireSecret("privateKey"),
    hostKey: config.require("hostKey"),
  },
  table: "pbx",
  exposures: [
    { service: "ssh", sources: office },
    { service: "sip", name: "sip-trunk", transport: "both", sources: trunk, rtpPorts: `${rtp.from}-${rtp.to}` },
    { service: "sip", name: "sip-office", transport: "udp", sources: office, rtpPorts: `${rtp.from}-${rtp.to}` },
  ],
  output: {
    policy: "drop",
    allow: [
      { name: "dns", protocol: "udp", ports: 53 },
      { name: "ntp", protocol: "udp", ports: 123 },
      { name: "apt", protocol: "tcp", ports: [80, 443] },
      { name: "rtp-out", protocol: "udp", ports: `${rtp.from}-${rtp.to}`, comment: "media towards phones and trunk" },
    ],
  },
  conntrack: { max: 262144 },
  log: { dropped: true, rate: "10/minute" },
  ...(hostPaths ? { hostPaths } : {}),
});

export const serverSettings = [`Asterisk rtp.conf: rtpstart=${rtp.from}, rtpend=${rtp.to}`];
export const ruleLines = firewall.ruleLines;
export const sysctlConf = firewall.sysctlConf;
export const drift = firewall.driftSummary;
