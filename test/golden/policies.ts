/**
 * The representative policies whose renders are kept under test/golden/<name>/. A renderer or
 * planner change shows up in review as a diff of these files; `npm run golden` rewrites them.
 */
import type { ExposureInput, PolicyInput } from "../../src/model/policy";

export interface GoldenCase {
  readonly name: string;
  readonly policy: PolicyInput;
  /** Kernel version the sysctl.d and modprobe.d files are rendered for; the default profile otherwise. */
  readonly kernel?: string;
}

const ssh: ExposureInput = { service: "ssh", sources: ["198.18.0.0/24"] };

export const goldenCases: readonly GoldenCase[] = [
  { name: "ssh-only", policy: { table: "golden", exposures: [ssh] } },
  {
    name: "web",
    policy: { table: "golden", exposures: [ssh, { service: "http" }, { service: "https", http3: true }] },
  },
  {
    name: "ftp-passive",
    policy: { table: "golden", exposures: [ssh, { service: "ftp", passivePorts: "50000-50100" }] },
  },
  {
    name: "ftp-active-output-drop",
    policy: {
      table: "golden",
      exposures: [ssh, { service: "ftp", passivePorts: "50000-50100", activeMode: true, sources: ["198.18.1.0/24", "2001:2:0:1::/64"] }],
      output: { policy: "drop", allow: [{ name: "dns", protocol: "udp", ports: 53, destinations: ["198.18.0.53"] }] },
    },
  },
  {
    name: "sip-scoped",
    policy: {
      table: "golden",
      exposures: [ssh, { service: "sip", transport: "both", rtpPorts: "10000-10999", helper: "scoped", sources: ["198.18.2.0/24"] }],
      output: { policy: "drop" },
    },
  },
  {
    name: "tftp",
    policy: { table: "golden", exposures: [ssh, { service: "tftp", dataPorts: "50200-50299", sources: ["198.18.3.0/24"] }] },
  },
  {
    name: "h323-scoped",
    policy: { table: "golden", exposures: [ssh, { service: "h323", mediaPorts: "5000-5099", helper: "scoped", sources: ["198.18.4.0/24"] }] },
  },
  {
    name: "pptp",
    policy: { table: "golden", exposures: [ssh, { service: "pptp", helper: "scoped", sources: ["198.18.5.0/24", "2001:2:0:5::/64"] }] },
  },
  {
    name: "irc-dcc",
    policy: { table: "golden", exposures: [ssh, { service: "irc", helper: "scoped", dccPorts: "40200-40209", sources: ["198.18.6.0/24"] }] },
  },
  {
    name: "snmp-netbios-sane-amanda",
    policy: {
      table: "golden",
      exposures: [
        ssh,
        { service: "snmp", sources: ["198.18.7.0/24"] },
        { service: "netbios-ns", helper: "scoped", sources: ["198.18.7.0/24"] },
        { service: "sane", dataPorts: "6600-6610", sources: ["198.18.7.0/24"] },
        { service: "amanda", dataPorts: "11000-11100", sources: ["198.18.7.10"] },
      ],
      output: { policy: "drop" },
    },
  },
  {
    name: "custom-rate-log",
    policy: {
      table: "golden",
      exposures: [
        ssh,
        { name: "app", protocol: "tcp", ports: [8080, "8443-8444"], comment: "the app servers" },
        { name: "metrics", protocol: "udp", ports: 9125, sources: ["198.18.8.0/24", "198.18.9.0/24", "198.18.10.1", "198.18.10.2", "198.18.11.0/24"] },
      ],
      icmp: { echo: true, echoRate: "5/second" },
      log: { dropped: true, rate: "10/minute", prefix: "golden" },
      dhcpv6Client: false,
      conntrack: { max: 262144 },
    },
  },
  {
    name: "ipv6-only",
    policy: { table: "golden", exposures: [{ service: "ssh", sources: ["2001:2::/48"] }, { service: "https", sources: ["2001:2:0:1::/64"] }] },
  },
  { name: "allow-nothing", policy: { table: "golden", exposures: [], allowNothing: true, icmp: { echo: false }, forward: { policy: "accept" } } },
  {
    name: "kernel-5.10",
    kernel: "5.10",
    policy: { table: "golden", exposures: [ssh, { service: "ftp", passivePorts: "50000-50100", helper: "scoped" }] },
  },
  {
    name: "kernel-6.1",
    kernel: "6.1",
    policy: { table: "golden", exposures: [ssh, { service: "ftp", passivePorts: "50000-50100", helper: "scoped" }] },
  },
  {
    name: "limits-block-sets",
    policy: {
      table: "golden",
      exposures: [
        { service: "ssh", limit: { rate: "6/minute", burst: 3, connections: 3, exemptSources: ["198.18.0.10", "2001:2::10"], log: true } },
        { service: "https", sources: ["198.18.1.0/24", "2001:2:0:1::/64"], limit: { connections: 20, ipv4Prefix: 24, ipv6Prefix: 56 } },
      ],
      blockSets: [
        { name: "f2b-sshd", family: "ipv4", timeout: "1h", comment: "fail2ban sshd" },
        { name: "crowdsec6", family: "ipv6", timeout: "4h", size: 200000 },
      ],
      deny: { sources: ["203.0.113.0/24", "192.0.2.7", "2001:db8::/32"] },
      log: { dropped: true },
    },
  },
  {
    name: "block-sets-forwarding",
    policy: {
      table: "golden",
      exposures: [ssh],
      blockSets: [{ name: "crowdsec", family: "ipv4", timeout: "4h", prefixes: false }],
      forward: { policy: "accept" },
    },
  },
  {
    // issue 21 wired to issue 19: what goes over a limit is rejected when the policy rejects
    name: "limits-reject",
    policy: {
      table: "golden",
      exposures: [
        { service: "ssh", interfaces: ["eth1"], limit: { rate: "6/minute", burst: 3, connections: 3 } },
        { name: "dns", protocol: "udp", ports: 53, limit: { rate: "50/second", log: true } },
      ],
      denied: "reject",
      log: { dropped: true },
    },
  },
  {
    name: "two-interfaces-trusted-reject",
    policy: {
      table: "golden",
      exposures: [
        { service: "ssh", interfaces: ["eth1"], sources: ["198.18.0.0/24"] },
        { service: "https", http3: true, interfaces: ["eth0"], destinations: ["198.18.12.10", "2001:2:0:12::10"] },
        { service: "http", destinations: ["198.18.12.11"] },
        { name: "metrics", protocol: "tcp", ports: 9100, interfaces: ["eth1", "br-*"] },
      ],
      trustedInterfaces: ["wg0"],
      denied: "reject",
      reversePath: "strict",
    },
  },
  {
    name: "ip-protocols-loose",
    policy: {
      table: "golden",
      exposures: [
        ssh,
        { name: "ipsec", protocol: "esp", sources: ["198.18.13.0/24", "2001:2:0:13::/64"] },
        { name: "ipsec-auth", protocol: "ah", sources: ["198.18.13.0/24"] },
        { name: "tunnel", protocol: "gre", sources: ["198.18.13.1"], interfaces: ["eth0"] },
        { name: "keepalived", protocol: "vrrp", sources: ["198.18.14.0/24"], interfaces: ["eth1"] },
        { name: "multicast", protocol: "igmp", interfaces: ["eth1"] },
        { name: "signalling", protocol: "sctp", ports: [2905, "3868"], sources: ["198.18.15.0/24"] },
      ],
      output: { policy: "drop" },
      reversePath: "loose",
    },
  },
  {
    name: "container-host",
    policy: {
      table: "golden",
      exposures: [
        ssh,
        { name: "app", protocol: "tcp", ports: [8080, "8443-8444"], sources: ["198.18.0.0/24", "2001:2::/64"] },
        { name: "metrics", protocol: "udp", ports: 8125, interfaces: ["eth0"] },
        { service: "dns", interfaces: ["virbr0"] },
        { service: "https", destinations: ["198.18.12.10"] },
      ],
      forward: { policy: "drop", guestInterfaces: ["docker0", "br-*", "virbr0"] },
      log: { dropped: true },
    },
  },
  {
    // the exposures' limits before their published-port accepts too, sharing the input meters
    name: "container-limits",
    policy: {
      table: "golden",
      exposures: [
        { service: "ssh", limit: { rate: "6/minute", burst: 3, connections: 3, exemptSources: ["198.18.0.10"] } },
        {
          name: "app",
          protocol: "tcp",
          ports: 8080,
          sources: ["198.18.0.0/24", "2001:2::/64"],
          limit: { rate: "30/minute", log: true },
        },
      ],
      forward: { policy: "drop", guestInterfaces: ["docker0"] },
      denied: "reject",
    },
  },
];
