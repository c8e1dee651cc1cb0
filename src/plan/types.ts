import type { ExposedService, HelperFacts } from "../catalog";
import type { PortRange } from "../fields/ports";
import type { Family } from "../fields/prefix";
import type { PortlessProtocol, PortProtocol } from "../fields/protocols";
import type { Exposure, Policy } from "../model/policy";

/** Who a rule admits: anyone, or the members of per-family address sets. */
export type Peers = { kind: "any" } | { kind: "sets"; ipv4?: string; ipv6?: string };

export interface PlannedSet {
  readonly name: string;
  readonly family: Family;
  /** The declared elements; none for a set whose elements the kernel or another tool writes. */
  readonly elements: readonly string[];
  /**
   * Who writes the elements: the policy (default: declared state, drift compares them), the
   * kernel (a per-source limit's meter) or another tool (a block set). Only the declaration of a
   * kernel's or another tool's set is state; its elements are never drift and survive applies.
   */
  readonly owner?: "policy" | "kernel" | "others";
  /** Elements expire after this long (nft time, e.g. "1h"). */
  readonly timeout?: string;
  readonly size?: number;
  readonly comment?: string;
  /** A block set of single addresses (flags timeout), not of prefixes and ranges (flags interval,timeout). */
  readonly singleAddresses?: boolean;
}

/** A per-source limit of an exposure, with the sets it needs. */
export interface PlannedLimit {
  readonly rate?: { readonly rate: string; readonly burst?: number };
  readonly connections?: number;
  /** Prefix length that makes one source, per family. */
  readonly sourceBits: Readonly<Record<Family, number>>;
  /** Sets of the sources the limit skips, per family. */
  readonly exempt: { readonly ipv4?: string; readonly ipv6?: string };
  /** The meter sets, per family: [rate, connections]. */
  readonly meters: Readonly<Record<Family, { readonly rate?: string; readonly conn?: string }>>;
  readonly log: boolean;
}

export interface PlannedHelper {
  readonly name: string;
  readonly type: string;
  readonly protocol: "tcp" | "udp";
  readonly l3proto: "inet" | "ip";
}

/** Names of the sets of this host's own addresses an exposure is scoped to, per family. */
export interface LocalAddresses {
  readonly ipv4?: string;
  readonly ipv6?: string;
}

interface OpeningBase {
  readonly chain: "input" | "output";
  readonly protocol: PortProtocol | PortlessProtocol;
  /** Destination ports for input, source ports for output unless portSide says otherwise; empty = any port. */
  readonly ports: readonly PortRange[];
  readonly portSide?: "dport" | "sport";
  readonly peers: Peers;
  /** Restricts an opening to one family where a helper exists only for IPv4. */
  readonly family?: Family;
  /** The interfaces it arrives on (input) or leaves by (output), one rule each; absent = any. */
  readonly interfaces?: readonly string[];
  /** Sets of this host's own addresses it is addressed to (input) or sent from (output); absent = any. */
  readonly local?: LocalAddresses;
  /** A multicast group it is sent to, in both chains (VRRP's); absent = none. */
  readonly group?: { readonly ipv4: string; readonly ipv6: string };
  readonly comment: string;
}

/** Opens a port to new connections. */
export interface NewOpening extends OpeningBase {
  readonly kind: "new";
}

/** Opens a control port and assigns the exposure's scoped helper object to its connections. */
export interface HelperOpening extends OpeningBase {
  readonly kind: "helper";
  readonly protocol: "tcp" | "udp";
  readonly helperObject: string;
  readonly kernelHelper: string;
}

/** Accepts only the related traffic the named kernel helper expects. */
export interface RelatedOpening extends OpeningBase {
  readonly kind: "related";
  readonly kernelHelper: string;
}

/** Output only, IPv4 only: from `ports` to the same ports on a broadcast address of a local subnet. */
export interface BroadcastOpening {
  readonly kind: "broadcast";
  readonly chain: "output";
  readonly protocol: "tcp" | "udp";
  readonly ports: readonly PortRange[];
  readonly comment: string;
}

/**
 * Forward only: connections a container or VM runtime DNATs to a guest (a published port), matched
 * by the port the client asked for (the original destination) and the client's address, as the
 * input opening of the same exposure matches them.
 */
export interface PublishedOpening extends Omit<OpeningBase, "chain" | "local" | "group" | "portSide"> {
  readonly kind: "published";
  readonly chain: "forward";
  readonly protocol: PortProtocol;
}

/** One accept in the ruleset, in protocol terms. */
export type Opening = NewOpening | HelperOpening | RelatedOpening | BroadcastOpening | PublishedOpening;

/**
 * The rules every table starts its chains with, before any exposure: what they are is decided
 * here, how nft spells them is the renderer's business.
 */
export type BaselineRule =
  | { readonly kind: "loopback" }
  | { readonly kind: "loopback-spoofed" }
  | { readonly kind: "neighbour-discovery" }
  | { readonly kind: "multicast-listener-queries" }
  | { readonly kind: "invalid" }
  | { readonly kind: "established" }
  | { readonly kind: "blocked"; readonly sets: readonly PlannedSet[] }
  | { readonly kind: "icmp-errors" }
  | { readonly kind: "echo"; readonly rate: string }
  | { readonly kind: "dhcpv6-client" }
  | { readonly kind: "reverse-path"; readonly mode: "strict" | "loose" }
  | { readonly kind: "trusted-interface"; readonly name: string }
  | { readonly kind: "guest-interface"; readonly name: string };

export interface PlannedChain {
  readonly name: "input" | "forward" | "output";
  readonly policy: "accept" | "drop";
  readonly baseline: readonly BaselineRule[];
  /** Rate-limited logging of what falls through to the drop policy. */
  readonly logDropped?: { readonly rate: string; readonly prefix: string };
  /** What falls through is dropped by a counted rule (a chain whose policy drops). */
  readonly countDropped: boolean;
  /** What falls through is answered (TCP reset, ICMP administratively prohibited) at most at this rate, then dropped. */
  readonly rejectDenied?: { readonly rate: string };
}

export interface Explanation {
  readonly exposure: string;
  readonly service: string;
  readonly helper: "none" | "scoped";
  readonly opens: readonly string[];
  readonly why: string;
  readonly serverSettings: readonly string[];
  readonly notes: readonly string[];
}

/** The openings, sets and helper objects of one exposure (or one output.allow entry). */
export interface OpeningGroup {
  readonly id: string;
  /** What the group is, for the comment line above its rules. */
  readonly title: string;
  readonly openings: readonly Opening[];
  readonly sets: readonly PlannedSet[];
}

export interface ExposurePlan extends OpeningGroup {
  readonly service: string;
  readonly limit?: PlannedLimit;
  readonly helpers: readonly PlannedHelper[];
  readonly modules: readonly string[];
  readonly explanation: Explanation;
}

export interface Plan {
  readonly table: string;
  readonly policy: Policy;
  /** input always; forward when its policy is drop; output when restricted or when it attaches helpers. */
  readonly chains: readonly PlannedChain[];
  readonly exposures: readonly ExposurePlan[];
  readonly outputAllow: readonly OpeningGroup[];
  /** Helper and NAT helper modules some scoped exposure needs; every other one is denied. */
  readonly neededModules: readonly string[];
  /** Block sets and the deny set, dropped early on input (and forward). */
  readonly blockSets: readonly PlannedSet[];
  /** The log of over-limit refusals, when some limit logs. */
  readonly limitLog?: { readonly rate: string; readonly prefix: string };
  readonly warnings: readonly string[];
}

/** What every part of one exposure's plan is derived from. */
export interface ExposureContext {
  readonly id: string;
  readonly exposure: Exposure;
  /** The catalog service the exposure uses; absent for a custom port exposure. */
  readonly exposed?: ExposedService;
  /** The service's helper facts when the exposure asked for helper "scoped" and the service has one. */
  readonly scoped?: HelperFacts;
  readonly peers: Peers;
  /** The address sets `peers` names. */
  readonly sets: readonly PlannedSet[];
  readonly families: readonly Family[];
  /** "from anywhere", "from 198.18.0.0/24": where the exposure's peers are, in words. */
  readonly where: string;
  readonly outputRestricted: boolean;
}
