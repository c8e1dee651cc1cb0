/**
 * The documentation of every property the provider's schema declares, by the type it belongs to.
 * schema.ts refuses to build a schema with a field that has no entry here, so a field added to
 * the policy model (src/model, src/catalog) cannot reach the generated SDKs undocumented.
 */

export const EXPOSURE_DOCS: Record<string, string> = {
  service:
    'What is exposed: a catalog service ("ssh", "http", "https", "dns", "smtp", "submission", "imaps", "ntp", "ftp", "tftp", "sip", "h323", "pptp", "irc", "netbios-ns", "snmp", "sane", "amanda") or "custom" (then name, protocol and ports are required). Left out: custom.',
  name: "Name of the exposure (a-z, 0-9 and -, at most 24 characters, starting with a letter); rules, sets and helper objects are named after it. Default: the service name.",
  protocol:
    'Custom exposures only: "tcp", "udp" or "sctp" (with ports), or an IP protocol accepted whole, without ports: "esp", "ah", "gre", "vrrp" (to its group 224.0.0.18 / ff02::12) or "igmp" (IPv4).',
  ports:
    'Ports: a number, a range string "a-b", or a list of them. Required for custom exposures; for a catalog service it moves the service\'s control port(s).',
  sources: "Addresses or prefixes (IPv4 or IPv6) allowed to connect. Left out: any source.",
  comment: "Text added to the exposure's rules as an nft comment (printable ASCII without quotes, backslashes or $, at most 64 characters).",
  helper:
    '"none" (default): fixed port ranges, no conntrack helper. "scoped": a ct helper object attached only to this exposure\'s control connections from its sources (services with a kernel helper only).',
  http3: "https only: also open udp/443 for HTTP/3 (QUIC).",
  passivePorts: 'ftp only: the passive data range the server is configured with, a range string "a-b" (required).',
  activeMode: "ftp only: allow active-mode data connections the server opens from tcp/20 (needed when output is restricted).",
  dataPorts: 'tftp (required), sane and amanda: the fixed data range the server is configured with, a range string "a-b" or a port.',
  transport: 'sip only: signalling transport, "udp" (default), "tcp" or "both".',
  rtpPorts: 'sip only: the RTP media range the server is configured with, a range string "a-b".',
  rasPorts: "h323 only: the RAS port(s) of a gatekeeper, a port, range or list.",
  mediaPorts: 'h323 only: the media range the endpoint is configured with, a range string "a-b".',
  dccPorts: 'irc only: the DCC range the server or bouncer is configured with, a range string "a-b".',
  // issue 19 (also on the zod fields' .meta; one of the two goes when the docs move there)
  interfaces:
    'Accept only what arrives on these interfaces (names as nft matches them, at most 15 bytes; a trailing * matches every name starting so, e.g. "br-*"). Left out: any interface.',
  destinations: "Accept only what is addressed to these of the host's own addresses or prefixes (IPv4 or IPv6, unicast). Left out: any of its addresses.",
};

export const POLICY_DOCS: Record<string, string> = {
  exposures: "What the host offers to the network: one entry per service (see Exposure). Empty only with allowNothing: true.",
  allowNothing: "true to accept an empty exposure list: the table then opens nothing, SSH included.",
  forward: "Policy of the forward chain.",
  output: "Policy of the output chain and, when it drops, what may leave.",
  icmp: "Echo requests (ping) and their rate limit.",
  log: "Logging of dropped packets.",
  conntrack: "Connection-tracking limits.",
  dhcpv6Client: "Accept DHCPv6 replies to this host's own client (udp 547 -> 546). Default true.",
  // issue 19 (also on the zod fields' .meta; one of the two goes when the docs move there)
  trustedInterfaces:
    "Interfaces everything arriving on is accepted (a private management network, a VPN), before any exposure. Names as in exposures[].interfaces.",
  denied:
    '"drop" (default): refused packets are dropped silently. "reject": TCP is answered with a reset and everything else with ICMP/ICMPv6 administratively prohibited, at most 10/second, never to broadcast or multicast.',
  reversePath:
    '"strict": drop packets whose source would not be routed back out of the interface they came in on; "loose": drop only sources with no route back at all; "off" (default): no check in the table.',
};

export const NESTED_DOCS: Record<string, Record<string, string>> = {
  ForwardPolicy: { policy: '"drop" (default) or "accept".' },
  OutputPolicy: {
    policy: '"accept" (default) or "drop".',
    allow: "With policy drop: the connections this host may open (established replies always pass).",
  },
  OutputAllow: {
    name: "Name of the allowance (a-z, 0-9 and -, at most 24 characters).",
    protocol: '"tcp" or "udp".',
    ports: 'Destination ports: a number, a range string "a-b", or a list of them.',
    destinations: "Addresses or prefixes it may connect to. Left out: any destination.",
    comment: "Text added to the rule as an nft comment.",
  },
  IcmpPolicy: {
    echo: "Answer echo requests (ping). Default true.",
    echoRate: 'Rate limit of accepted echo requests, e.g. "10/second" (default).',
  },
  LogPolicy: {
    dropped: "Log dropped packets (rate limited). Default false.",
    rate: 'Rate limit of the log, e.g. "5/minute" (default).',
    prefix: "Log prefix (1-48 characters of letters, digits, space and ._:()/=#-).",
  },
  ConntrackPolicy: { max: "nf_conntrack_max written to sysctl.d (1024 to 67108864). Left out: the kernel's value." },
  HostPaths: {
    stateRoot: "Directory of the on-host state. Default /var/lib/hardened-nftables.",
    runRoot: "Directory of the on-host lock and rollback guardian. Default /run/hardened-nftables.",
  },
  ProbedProfile: {
    kernel: '"major.minor" of the host\'s kernel: what the sysctl.d/modprobe.d rendering depends on.',
    kernelRelease: "`uname -r` as the host reports it.",
    nftVersion: "`nft --version` of the host.",
    helperSysctl: "The kernel still has net.netfilter.nf_conntrack_helper (automatic helper assignment).",
    helperModuleParam: "nf_conntrack takes the nf_conntrack_helper module parameter.",
  },
};

const CONNECTION_FIELD_DOCS: Record<string, string> = {
  host: "Host name or IP address to connect to.",
  port: "SSH port. Default 22.",
  user: 'User to log in as. Default "root"; any other user runs the host steps through sudo.',
  password: "Password of the user (secret).",
  privateKey: "Text of a private key, PEM or OpenSSH format (secret).",
  privateKeyPassword: "Passphrase of the private key (secret).",
  agentSocketPath: "Path of an ssh-agent socket to authenticate with.",
  dialErrorLimit: "Attempts to connect before giving up; -1 for unlimited. Default 10.",
  perDialTimeout: "Seconds each attempt may take. Default 15.",
  hostKey: 'The host\'s public key ("ssh-ed25519 AAAA...") or its "SHA256:..." fingerprint. Required unless insecureIgnoreHostKey is true.',
  insecureIgnoreHostKey: "Connect without checking the host key. Default false.",
};

NESTED_DOCS.ProxyConnection = CONNECTION_FIELD_DOCS;
NESTED_DOCS.Connection = {
  ...CONNECTION_FIELD_DOCS,
  proxy: "A bastion to jump through (same fields, without proxy and sudo).",
  sudo: "Run the host steps through sudo. Default: true unless user is root.",
};

/** Arguments of HostFirewall besides the policy's own fields, and of HostTable. */
export const ARGUMENT_DOCS: Record<string, string> = {
  connection: "How to reach the host over SSH. Stored as a secret: password, privateKey and privateKeyPassword never appear in previews, logs or state in clear.",
  table: "Name of the `table inet` this resource owns. HostFirewall's default: the resource name, made a safe nft identifier.",
  policy: "The firewall policy (every field of HostFirewall's policy arguments).",
  hostPaths: "Where state and the lock live on the host.",
  confirmTimeoutSeconds: "Seconds the host waits for a NEW SSH connection to prove access after an apply before it rolls back (5-600, default 30).",
  allowOtherTables:
    "Another table of this project already on the host is refused (two tables admit only what both admit). true allows any, a list allows exactly those tables.",
};

/** Outputs of HostFirewall. */
export const FIREWALL_OUTPUT_DOCS: Record<string, string> = {
  table: "Name of the table inet the component owns.",
  target: "`user@host:port` (and ` via` the proxy): never secret.",
  renderedTable: "The whole nft file (rendered in the program: known at preview).",
  ruleLines: "One line per rule, set element, helper object and chain policy.",
  sysctlConf: "The sysctl.d file as applied (rendered for the host's probed kernel).",
  modprobeConf: "The modprobe.d file as applied (rendered for the host's probed kernel).",
  hostProfile: "What the provider learned from the host: kernel, `uname -r`, nft version, helper switches.",
  appliedHash: "sha256 of the applied table, sysctl.d and modprobe.d files.",
  inSync: "false after a refresh found drift that an apply would repair.",
  drift: "Drift found by the last refresh, one line per difference ([] after an apply).",
  driftSummary: 'One line: "... in sync" or "... drifted: 1 rule(s) added; ...".',
  warnings: "Warnings of the last apply (e.g. conntrack tool missing).",
};

/** Outputs of HostTable besides its arguments. */
export const TABLE_OUTPUT_DOCS: Record<string, string> = {
  target: FIREWALL_OUTPUT_DOCS.target!,
  rules: 'The table\'s lines, one key per rule, set element, helper object and chain policy; the value names the line before it in its chain or set ("(first)" or "after: <line>"), so a preview diffs rule by rule.',
  sysctl: "The sysctl.d file, one key per line (value: the line before it).",
  modprobe: "The modprobe.d file, one key per line (value: the line before it).",
  drift: FIREWALL_OUTPUT_DOCS.drift!,
  hostProfile: FIREWALL_OUTPUT_DOCS.hostProfile!,
  appliedHash: FIREWALL_OUTPUT_DOCS.appliedHash!,
  inSync: FIREWALL_OUTPUT_DOCS.inSync!,
  driftSummary: FIREWALL_OUTPUT_DOCS.driftSummary!,
  warnings: FIREWALL_OUTPUT_DOCS.warnings!,
  keptLoadable: "Helper modules left out of the deny list because other tables on the host need them.",
};
