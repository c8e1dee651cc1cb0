import type { z } from "zod";
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

/**
 * The helper whose expectations carry the service's data: related traffic on the data range (or
 * of its extra IP protocols) is accepted only when this helper expected it. It is the first one
 * listed (SIP's udp helper, H.323's Q.931 one, which also reads the tunnelled H.245).
 */
export function expectingHelper(facts: HelperFacts): KernelHelper {
  return facts.helpers[0]!;
}

/** The distinct kernel helper types of a service (SIP's two objects share the type "sip"). */
export function helperTypes(facts: HelperFacts): string[] {
  return [...new Set(facts.helpers.map((h) => h.type))];
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

/** Fields of an exposure type whose values are T (T | undefined for optional fields). */
type FieldsOf<E, T> = { [K in keyof E]-?: E[K] extends T ? K : never }[keyof E] & string;

/** A data range the service needs open instead of a helper's expectations. */
export interface DataRange<F extends string = string> {
  /** The exposure field holding the range. */
  readonly field: F;
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
export interface OriginatedData<F extends string = string> {
  /** The exposure's boolean field that turns these connections on. */
  readonly field: F;
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

/** A catalog service: what the planner needs to know about one protocol, apart from how an exposure chooses its control ports. */
export interface Service {
  readonly service: string;
  readonly title: string;
  readonly data?: DataRange;
  readonly originated?: OriginatedData;
  /** Extra IP protocols that must pass (PPTP's GRE). */
  readonly ipProtocols?: readonly "gre"[];
  readonly helper?: HelperFacts;
  /** What a server must be set to so it stays inside the declared ranges. */
  readonly serverSettings: (data: PortRange | undefined) => string[];
  readonly notes?: readonly string[];
}

/**
 * A catalog service typed by its own exposure schema E: its name is E's `service` literal,
 * `control` reads E's fields, and the data and originated fields must name a port-range and a
 * boolean field of E. A service file describes facts; it does not render anything.
 */
export interface ServiceOf<E> extends Service {
  readonly service: E extends { readonly service: infer S extends string } ? S : never;
  /** Control ports for a given exposure (SIP's depend on `transport`, H.323's on `rasPorts`). */
  readonly control: (exposure: E) => ControlPort[];
  readonly data?: DataRange<FieldsOf<E, PortRange | undefined>>;
  readonly originated?: OriginatedData<FieldsOf<E, boolean>>;
  /** The service as `exposure` uses it (written by {@link defineService}). */
  readonly exposed: (exposure: E) => ExposedService;
}

/** A catalog service as one exposure uses it: what the planner works from. */
export interface ExposedService {
  readonly service: Service;
  readonly controls: readonly ControlPort[];
  /** The exposure's data range, when the service has one and the exposure declares it. */
  readonly dataRange?: PortRange;
  /** Whether the exposure turned on the connections the server originates (FTP activeMode). */
  readonly originatedOn: boolean;
}

/**
 * A service file's service, with the reader of its exposures. E comes from the service's schema;
 * D and O from the field names the service gives, and E must hold a port range at D and a boolean
 * at O, so reading them needs no cast.
 */
export function defineService<
  E extends Partial<Record<D, PortRange>> & Partial<Record<O, boolean>>,
  D extends string = never,
  O extends string = never,
>(
  _schema: z.ZodType<E>,
  facts: Omit<ServiceOf<E>, "exposed"> & { readonly data?: DataRange<D>; readonly originated?: OriginatedData<O> },
): ServiceOf<E> {
  const service: ServiceOf<E> = {
    ...facts,
    exposed: (exposure) => ({
      service,
      controls: facts.control(exposure),
      dataRange: facts.data ? exposure[facts.data.field] : undefined,
      originatedOn: facts.originated ? exposure[facts.originated.field] === true : false,
    }),
  };
  return service;
}

export const single = (port: number): PortRange[] => [{ from: port, to: port }];
