import type { PortRange, Protocol } from "../fields/ports";

/** A kernel conntrack helper as nft names it in `ct helper` objects and `ct helper "x"` matches. */
export interface KernelHelper {
  /** nft `type "..."` of the helper object, and the name `ct helper "..."` matches. */
  readonly type: string;
  readonly protocol: Protocol;
  /** Suffix of the helper object's name, e.g. `ftp` gives object `<exposure>-ftp`. */
  readonly objectSuffix: string;
  /**
   * Which connections on the control port the helper must be attached to. "inbound" (default):
   * connections peers make to this host. "outbound": connections this host makes; the kernel irc
   * helper reads only what the side that opened the connection sends and expects the DCC
   * connection back to that side, so on connections peers make to this host it expects
   * connections to those peers, never to this host.
   */
  readonly attach?: "inbound" | "outbound";
}

export interface HelperFacts {
  readonly helpers: readonly KernelHelper[];
  readonly module: string;
  readonly natModule?: string;
  /** pptp, irc, netbios-ns and snmp helpers exist only for IPv4. */
  readonly ipv4Only: boolean;
  /** What the kernel helper does not handle that current servers do: warned about when "scoped" is chosen. */
  readonly scopedWarning?: string;
}

/** One control opening, before `ports` overrides and per-exposure fields are applied. */
export interface ControlPort {
  readonly protocol: Protocol;
  readonly ports: readonly PortRange[];
  readonly label: string;
  /** A fixed control is not moved by the exposure's `ports` (H.323 RAS has its own `rasPorts`). */
  readonly fixed?: boolean;
  /** The server also sends new packets from this port (SIP requests to phones): allowed out when output is restricted. */
  readonly outbound?: boolean;
  /**
   * The server also sends from this port to the same port on its subnets' broadcast addresses
   * (NetBIOS name registration and queries): allowed out when output is restricted.
   */
  readonly broadcasts?: boolean;
}

/** A data range the service needs open instead of a helper's expectations. */
export interface DataRange {
  readonly field: string;
  readonly protocol: Protocol;
  readonly label: string;
  /**
   * inbound: peers open connections to this range (FTP passive, RTP);
   * outbound: the server sends first from this range, and replies come back as established (TFTP).
   */
  readonly direction: "inbound" | "outbound";
  /** The server also sends from this range (RTP both ways): allowed out when output is restricted. */
  readonly bidirectional?: boolean;
}

/**
 * Connections the server itself opens to its clients from a fixed source port, offered when the
 * exposure's boolean `field` is true (active FTP: the server connects from tcp/20 to the port the
 * client named). With output accepted they need no rule; with output restricted they are allowed
 * out to the exposure's sources.
 */
export interface OriginatedData {
  readonly field: string;
  readonly protocol: Protocol;
  /** Source port(s) of the server's connections. */
  readonly ports: readonly PortRange[];
  readonly label: string;
  /** Server settings that make it connect from exactly these ports. */
  readonly serverSettings: readonly string[];
  /** What the operator must know, by whether the field is set and whether output is restricted. */
  readonly notes: {
    readonly enabledOutputAccepted: string;
    readonly enabledOutputRestricted: string;
    readonly disabledOutputAccepted: string;
    readonly disabledOutputRestricted: string;
  };
}

/**
 * Everything the planner needs to know about one protocol. A service file describes facts;
 * it does not render anything.
 */
export interface ServiceDefinition {
  readonly service: string;
  readonly title: string;
  /** Control ports for a given exposure (SIP's depend on `transport`, H.323's on `rasPorts`). */
  readonly control: (exposure: Record<string, unknown>) => ControlPort[];
  readonly data?: DataRange;
  readonly originated?: OriginatedData;
  /** Extra IP protocols that must pass (PPTP's GRE). */
  readonly ipProtocols?: readonly ("gre")[];
  readonly helper?: HelperFacts;
  /** What a server must be set to so it stays inside the declared ranges. */
  readonly serverSettings: (data: PortRange | undefined) => string[];
  readonly notes?: readonly string[];
}

export const single = (port: number): PortRange[] => [{ from: port, to: port }];
