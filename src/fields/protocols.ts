/** IP protocols a custom exposure may name: with ports (tcp, udp, sctp), or whole (the rest). */
export const PORT_PROTOCOLS = ["tcp", "udp", "sctp"] as const;
export const PORTLESS_PROTOCOLS = ["esp", "ah", "gre", "vrrp", "igmp"] as const;
export const CUSTOM_PROTOCOLS = [...PORT_PROTOCOLS, ...PORTLESS_PROTOCOLS] as const;

export type PortProtocol = (typeof PORT_PROTOCOLS)[number];
export type PortlessProtocol = (typeof PORTLESS_PROTOCOLS)[number];
export type CustomProtocol = (typeof CUSTOM_PROTOCOLS)[number];

export const hasPorts = (protocol: CustomProtocol): protocol is PortProtocol =>
  (PORT_PROTOCOLS as readonly string[]).includes(protocol);

/**
 * Where VRRP (IP protocol 112) is always sent: its advertisements go to this link-local group
 * (RFC 5798), never to a host's own address, so an exposure of it matches the group.
 */
export const VRRP_GROUP = { ipv4: "224.0.0.18", ipv6: "ff02::12" } as const;

/** IGMP exists only for IPv4 (IPv6 has MLD, inside ICMPv6). */
export const IPV4_ONLY_PROTOCOLS: readonly PortlessProtocol[] = ["igmp"];
