import { z } from "zod";
import { CatalogExposureSchema, catalogService, exposedService } from "../catalog";
import {
  Comment,
  commonFields,
  ExposureName,
  exposureFields,
  HELPER_FIELD,
  SERVICE_FIELD,
  Sources,
} from "../fields/exposure";
import { InterfaceList, interfaceCovers } from "../fields/interfaces";
import { Duration, Rate } from "../fields/limit";
import { formatRanges, PortList, type PortRange, type Protocol, rangesOverlap } from "../fields/ports";
import { PrefixSchema } from "../fields/prefix";
import {
  CUSTOM_PROTOCOLS,
  hasPorts,
  IPV4_ONLY_PROTOCOLS,
  type PortlessProtocol,
  type PortProtocol,
} from "../fields/protocols";
import { renderedSetNames } from "./set-names";

/** What output.allow takes (custom exposures take more: fields/protocols.ts). */
const OutputProtocol = z.enum(["tcp", "udp"]);

/** An exposure of no catalog service: the common fields, name required (ports too for tcp, udp and sctp: checked with the other scope checks). */
export const CustomExposureSchema = z.strictObject({
  service: z.literal("custom").optional().meta(SERVICE_FIELD),
  ...commonFields,
  name: exposureFields.name,
  protocol: z.enum(CUSTOM_PROTOCOLS).meta({
    description:
      '"tcp", "udp" or "sctp" (with ports), or an IP protocol accepted whole, without ports: "esp", "ah", "gre", "vrrp" (IP protocol 112, to its group 224.0.0.18 / ff02::12) or "igmp" (IPv4).',
    examples: ["tcp", "sctp", "esp", "vrrp"],
  }),
  helper: z
    .literal("none", { error: '"scoped" needs a kernel conntrack helper; custom exposures have none' })
    .default("none")
    .meta(HELPER_FIELD),
});

export const ExposureSchema = z.union([CatalogExposureSchema, CustomExposureSchema]);

const TABLE_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/** Words nft's scanner reads as keywords where a table name is expected. */
const NFT_KEYWORDS = new Set([
  "ip",
  "ip6",
  "inet",
  "arp",
  "bridge",
  "netdev",
  "table",
  "chain",
  "set",
  "map",
  "rule",
  "element",
  "flowtable",
  "counter",
  "quota",
  "limit",
  "ct",
  "meta",
  "tcp",
  "udp",
  "icmp",
  "icmpv6",
  "add",
  "delete",
  "insert",
  "replace",
  "create",
  "flush",
  "list",
  "reset",
  "describe",
  "export",
  "import",
  "monitor",
  "destroy",
  "define",
  "include",
  "accept",
  "drop",
  "reject",
  "continue",
  "return",
  "jump",
  "goto",
  "queue",
  "log",
  "type",
  "hook",
  "policy",
  "priority",
  "device",
  "devices",
  "comment",
  "handle",
  "position",
  "index",
  "elements",
  "flags",
  "timeout",
  "synproxy",
  "secmark",
  "tunnel",
  "last",
  "all",
  "vmap",
  "counters",
  "quotas",
  "limits",
  "ruleset",
  "tables",
  "chains",
  "sets",
  "maps",
  "meters",
  "flowtables",
  "helpers",
  "helper",
  "th",
  "sctp",
  "dccp",
  "udplite",
  "esp",
  "ah",
  "comp",
  "vlan",
  "ether",
  "ipsec",
  "rt",
  "fib",
  "osf",
  "socket",
  "numgen",
  "jhash",
  "symhash",
  "notrack",
  "dup",
  "fwd",
  "snat",
  "dnat",
  "masquerade",
  "redirect",
  "to",
  "at",
  "in",
  "out",
  "new",
  "established",
  "related",
  "invalid",
  "untracked",
  "state",
  "mark",
  "label",
  "dynamic",
  "constant",
  "interval",
  "timeout",
  "auto-merge",
  "size",
  "gre",
  "gretap",
  "geneve",
  "vxlan",
  "hbh",
  "rt0",
  "rt2",
  "srh",
  "frag",
  "dst",
  "mh",
  "length",
  "version",
  "id",
  "saddr",
  "daddr",
  "sport",
  "dport",
  "protocol",
  "nexthdr",
  "hoplimit",
  "ttl",
]);

export const TableName = z
  .string()
  .regex(TABLE_NAME, { error: "must start with a letter and use only letters, digits, _ and -, at most 64 characters" })
  .refine((name) => !NFT_KEYWORDS.has(name.toLowerCase()), { error: "is an nft keyword; choose another table name" });

export { Rate };

const SET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

export const BlockSetSchema = z.strictObject({
  name: z
    .string()
    .regex(SET_NAME, { error: "must start with a letter and use only letters, digits, _ and -, at most 32 characters" })
    .refine((name) => !NFT_KEYWORDS.has(name.toLowerCase()), { error: "is an nft keyword; choose another set name" })
    .meta({
      description: "Name of the set, as the other tool writes it (fail2ban's nftables action: addr-set-<jail>).",
      examples: ["f2b-sshd"],
    }),
  family: z
    .enum(["ipv4", "ipv6"])
    .meta({ description: '"ipv4" or "ipv6": the addresses the set holds.', examples: ["ipv4"] }),
  timeout: Duration.meta({
    description:
      'How long an element stays unless its writer says otherwise, e.g. "1h" (nft time: a number and s, m, h or d).',
    examples: ["1h"],
  }),
  size: z
    .number()
    .int()
    .min(1, { error: "is below 1" })
    .max(16_777_216, { error: "is above 16777216" })
    .optional()
    .meta({
      description: "Most elements the set holds (1 to 16777216). Left out: nft's default (65535).",
      examples: [200000],
    }),
  comment: Comment.optional().meta({
    description: "Text kept with the set as its nft comment.",
    examples: ["fail2ban sshd"],
  }),
  prefixes: z
    .boolean()
    .default(true)
    .meta({
      description:
        "Whether the set holds prefixes and ranges (nft flags interval,timeout; the default) or single addresses only (flags timeout). Give false for a writer that adds single addresses without an interval end: CrowdSec's firewall bouncer (0.0.25, Debian bookworm) in set-only mode turns each address it adds to an interval set into a range up to the end of the address space.",
      examples: [false],
    }),
});

const LOG_PREFIX = /^[A-Za-z0-9 ._:()/=#-]{1,48}$/;

export const OutputAllowSchema = z.strictObject({
  name: ExposureName.meta({
    description: "Name of the allowance (a-z, 0-9 and -, at most 24 characters).",
    examples: ["dns-out"],
  }),
  protocol: OutputProtocol.meta({ description: '"tcp" or "udp".', examples: ["udp"] }),
  ports: PortList.meta({
    description: 'Destination ports: a number, a range string "a-b", or a list of them.',
    examples: [53],
  }),
  destinations: Sources.optional().meta({
    description: "Addresses or prefixes it may connect to. Left out: any destination.",
    examples: [["198.51.100.53"]],
  }),
  comment: Comment.optional().meta({
    description: "Text added to the rule as an nft comment.",
    examples: ["resolver"],
  }),
});

/** The policy's fields, each with its description: the plugin's schema and docs/reference.md are generated from them. */
export const PolicyFields = {
  table: TableName.optional().meta({
    description:
      "Name of the `table inet` the policy renders. Left out: the front end's (HostFirewall: the resource name; the CLI: --table, else hardened).",
    examples: ["web"],
  }),
  exposures: z.array(ExposureSchema).meta({
    description:
      "What the host offers to the network: one entry per service (see Exposure). Empty only with allowNothing: true.",
    examples: [[{ service: "ssh", sources: ["198.51.100.0/24"] }, { service: "https" }]],
  }),
  allowNothing: z
    .boolean()
    .default(false)
    .meta({
      description: "true to accept an empty exposure list: the table then opens nothing, SSH included.",
      examples: [true],
    }),
  forward: z
    .strictObject({
      policy: z
        .enum(["drop", "accept"])
        .default("drop")
        .meta({ description: '"drop" (default) or "accept".', examples: ["accept"] }),
      guestInterfaces: InterfaceList.optional().meta({
        description:
          'The host\'s container and VM networks, as interface names (a trailing * matches every name starting so: "br-*", "veth*"). With policy drop, what their guests send is forwarded (out, and between guests), replies return, and connections a runtime DNATs to a guest (published ports) are admitted by the exposures whose port and sources match the port and address the client used; nothing else is forwarded. Left out: this host forwards nothing.',
        examples: [["docker0", "br-*"], ["virbr0"]],
      }),
    })
    .default({ policy: "drop" })
    .meta({
      description: "Policy of the forward chain, and the container and VM networks it serves.",
      examples: [{ policy: "accept" }, { policy: "drop", guestInterfaces: ["docker0", "br-*"] }],
    }),
  output: z
    .strictObject({
      policy: z
        .enum(["accept", "drop"])
        .default("accept")
        .meta({ description: '"accept" (default) or "drop".', examples: ["drop"] }),
      allow: z.array(OutputAllowSchema).default([]).meta({
        description: "With policy drop: the connections this host may open (established replies always pass).",
      }),
    })
    .default({ policy: "accept", allow: [] })
    .meta({
      description: "Policy of the output chain and, when it drops, what may leave.",
      examples: [{ policy: "drop", allow: [{ name: "dns-out", protocol: "udp", ports: 53 }] }],
    }),
  icmp: z
    .strictObject({
      echo: z
        .boolean()
        .default(true)
        .meta({ description: "Answer echo requests (ping). Default true.", examples: [false] }),
      echoRate: Rate.default("10/second").meta({
        description: 'Rate limit of accepted echo requests, e.g. "10/second" (default).',
        examples: ["5/second"],
      }),
    })
    .default({ echo: true, echoRate: "10/second" })
    .meta({
      description: "Echo requests (ping) and their rate limit.",
      examples: [{ echo: true, echoRate: "5/second" }],
    }),
  log: z
    .strictObject({
      dropped: z
        .boolean()
        .default(false)
        .meta({ description: "Log dropped packets (rate limited). Default false.", examples: [true] }),
      rate: Rate.default("5/minute").meta({
        description: 'Rate limit of the log, e.g. "5/minute" (default).',
        examples: ["30/minute"],
      }),
      prefix: z
        .string()
        .regex(LOG_PREFIX, { error: "must be 1-48 characters of letters, digits, space and ._:()/=#-" })
        .optional()
        .meta({
          description: "Log prefix (1-48 characters of letters, digits, space and ._:()/=#-).",
          examples: ["hnft drop: "],
        }),
    })
    .default({ dropped: false, rate: "5/minute" })
    .meta({ description: "Logging of dropped packets.", examples: [{ dropped: true, rate: "30/minute" }] }),
  conntrack: z
    .strictObject({
      max: z
        .number()
        .int()
        .min(1024, { error: "is below 1024" })
        .max(67_108_864, { error: "is above 67108864" })
        .optional()
        .meta({
          description: "nf_conntrack_max written to sysctl.d (1024 to 67108864). Left out: the kernel's value.",
          examples: [262144],
        }),
    })
    .default({})
    .meta({ description: "Connection-tracking limits.", examples: [{ max: 262144 }] }),
  blockSets: z
    .array(BlockSetSchema)
    .default([])
    .meta({
      description:
        "Sets whose elements another tool writes (fail2ban, CrowdSec's bouncer in set-only mode, a script's `nft add element`): their sources are dropped on input (and forward while it drops) right after loopback and established traffic, before any exposure. Their elements survive every apply and rollback and are never drift.",
      examples: [[{ name: "f2b-sshd", family: "ipv4", timeout: "1h", comment: "fail2ban sshd" }]],
    }),
  deny: z
    .strictObject({
      sources: z
        .array(PrefixSchema)
        .default([])
        .meta({
          description:
            "Addresses or prefixes always dropped (a block list: 100,000 prefixes are fine), declared like any other set.",
          examples: [["203.0.113.0/24"]],
        }),
    })
    .default({ sources: [] })
    .meta({
      description: "Sources dropped before any exposure, as declared state.",
      examples: [{ sources: ["203.0.113.0/24"] }],
    }),
  dhcpv6Client: z
    .boolean()
    .default(true)
    .meta({
      description: "Accept DHCPv6 replies to this host's own client (udp 547 -> 546). Default true.",
      examples: [false],
    }),
  trustedInterfaces: InterfaceList.optional().meta({
    description:
      "Interfaces everything arriving on is accepted (a private management network, a VPN), before any exposure. Names as in exposures[].interfaces.",
    examples: [["wg0"], ["eth1", "tailscale0"]],
  }),
  denied: z
    .enum(["drop", "reject"])
    .default("drop")
    .meta({
      description:
        '"drop" (default): refused packets are dropped silently. "reject": TCP is answered with a reset and everything else with ICMP/ICMPv6 administratively prohibited, at most 10/second, never to broadcast or multicast.',
      examples: ["reject"],
    }),
  reversePath: z
    .enum(["strict", "loose", "off"])
    .default("off")
    .meta({
      description:
        '"strict": drop packets whose source would not be routed back out of the interface they came in on; "loose": drop only sources with no route back at all; "off" (default): no check in the table.',
      examples: ["strict", "loose"],
    }),
};

export const PolicySchema = z.strictObject(PolicyFields).superRefine((policy, ctx) => {
  for (const problem of crossChecks(policy))
    ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
});

export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type Exposure = z.output<typeof ExposureSchema>;
export type ExposureInput = z.input<typeof ExposureSchema>;
export type CustomExposure = z.output<typeof CustomExposureSchema>;
export type OutputAllow = z.output<typeof OutputAllowSchema>;

export interface ControlOpening {
  protocol: Protocol | PortProtocol;
  ports: PortRange[];
  label: string;
  /** The server also sends new packets from these ports (allowed out when output is restricted). */
  outbound?: boolean;
  /** The server also broadcasts from these ports to the same ports (allowed out when output is restricted). */
  broadcasts?: boolean;
}

export function isCustom(exposure: Exposure): exposure is CustomExposure {
  return exposure.service === undefined || exposure.service === "custom";
}

/** Control openings after `ports` overrides: the single place that decides which ports a control uses. */
export function controlOpenings(exposure: Exposure): ControlOpening[] {
  if (isCustom(exposure))
    return hasPorts(exposure.protocol)
      ? [{ protocol: exposure.protocol, ports: exposure.ports ?? [], label: "ports" }]
      : [];
  return exposedService(exposure).controls.map((control) => {
    const overridden = exposure.ports !== undefined && !control.fixed;
    return {
      protocol: control.protocol,
      ports: overridden ? exposure.ports! : [...control.ports],
      label: control.label,
      outbound: control.outbound,
      broadcasts: control.broadcasts,
    };
  });
}

/** The IP protocol a custom exposure accepts whole (esp, vrrp, ...), if it is one. */
export function portlessProtocol(exposure: Exposure): PortlessProtocol | undefined {
  return isCustom(exposure) && !hasPorts(exposure.protocol) ? exposure.protocol : undefined;
}

export function exposureService(exposure: Exposure): string {
  return isCustom(exposure) ? "custom" : exposure.service;
}

/** The id every rule, set and helper object of an exposure is named after. */
export function exposureIds(exposures: readonly Exposure[]): string[] {
  const counts = new Map<string, number>();
  return exposures.map((exposure) => {
    const base = exposure.name ?? exposureService(exposure);
    const seen = (counts.get(base) ?? 0) + 1;
    counts.set(base, seen);
    return seen === 1 ? base : `${base}-${seen}`;
  });
}

interface Problem {
  path: (string | number)[];
  message: string;
}

function crossChecks(policy: z.output<z.ZodObject<typeof PolicyFields>>): Problem[] {
  const problems: Problem[] = [];
  const { exposures } = policy;
  if (exposures.length === 0 && !policy.allowNothing) {
    problems.push({
      path: ["exposures"],
      message: "is empty; set allowNothing: true to render a table that opens nothing (SSH included)",
    });
  }

  const explicitNames = new Map<string, number>();
  exposures.forEach((exposure, index) => {
    if (!exposure.name) return;
    const first = explicitNames.get(exposure.name);
    if (first !== undefined) {
      problems.push({
        path: ["exposures", index, "name"],
        message: `"${exposure.name}" is already used by exposures[${first}]`,
      });
    } else explicitNames.set(exposure.name, index);
  });
  const ids = exposureIds(exposures);
  ids.forEach((id, index) => {
    const clash = explicitNames.get(id);
    if (clash !== undefined && clash !== index && !exposures[index]!.name) {
      problems.push({
        path: ["exposures", index],
        message: `its generated name "${id}" clashes with exposures[${clash}].name; give it a name`,
      });
    }
  });

  problems.push(...scopeChecks(policy));

  const seenControls: { index: number; protocol: Protocol | PortProtocol; ports: PortRange[]; helper: string }[] = [];
  exposures.forEach((exposure, index) => {
    const helper = exposure.helper ?? "none";
    for (const control of controlOpenings(exposure)) {
      for (const earlier of seenControls) {
        if (earlier.protocol !== control.protocol || earlier.helper === helper) continue;
        const overlap = rangesOverlap(earlier.ports, control.ports);
        if (overlap) {
          problems.push({
            path: ["exposures", index, "ports"],
            message: `${control.protocol}/${formatRanges([overlap])} is also exposed by exposures[${earlier.index}] with helper "${earlier.helper}"; one port cannot have two helper modes`,
          });
        }
      }
      seenControls.push({ index, protocol: control.protocol, ports: control.ports, helper });
    }
  });

  const reserved = renderedSetNames(
    exposureIds(exposures),
    policy.output.allow.map((a) => a.name),
  );
  const blockNames = new Map<string, number>();
  policy.blockSets.forEach((set, index) => {
    if (reserved.has(set.name)) {
      problems.push({
        path: ["blockSets", index, "name"],
        message: `"${set.name}" is a set the table makes itself; choose another name`,
      });
    }
    const first = blockNames.get(set.name);
    if (first !== undefined)
      problems.push({
        path: ["blockSets", index, "name"],
        message: `"${set.name}" is already used by blockSets[${first}]`,
      });
    else blockNames.set(set.name, index);
  });

  exposures.forEach((exposure, index) => {
    if (isCustom(exposure) || exposure.helper !== "scoped") return;
    const service = catalogService(exposure.service);
    if (service.helper?.ipv4Only && exposure.sources?.every((s) => s.family === "ipv6")) {
      problems.push({
        path: ["exposures", index, "sources"],
        message: `the ${exposure.service} helper exists only for IPv4, and every source is IPv6; use helper "none" or add IPv4 sources`,
      });
    }
  });
  return problems;
}

/** The checks of the fields that scope exposures to protocols, interfaces and the host's addresses. */
function scopeChecks(policy: z.output<z.ZodObject<typeof PolicyFields>>): Problem[] {
  const problems: Problem[] = [];
  const trusted = policy.trustedInterfaces ?? [];
  policy.exposures.forEach((exposure, index) => {
    const at = (field: string) => ["exposures", index, field];
    if (isCustom(exposure)) {
      const { protocol } = exposure;
      if (hasPorts(protocol) && exposure.ports === undefined)
        problems.push({ path: at("ports"), message: `is required for protocol ${protocol}` });
      if (!hasPorts(protocol) && exposure.ports !== undefined) {
        problems.push({
          path: at("ports"),
          message: `protocol ${protocol} has no ports; leave ports out (the whole protocol is accepted)`,
        });
      }
      if ((protocol === "vrrp" || protocol === "igmp") && exposure.destinations) {
        problems.push({
          path: at("destinations"),
          message: `${protocol} is sent to multicast groups, not to this host's addresses; leave destinations out`,
        });
      }
      const ipv4Only = (IPV4_ONLY_PROTOCOLS as readonly string[]).includes(protocol);
      if (ipv4Only && exposure.sources?.every((s) => s.family === "ipv6")) {
        problems.push({ path: at("sources"), message: `${protocol} exists only for IPv4, and every source is IPv6` });
      }
    }
    const sourceFamilies = new Set((exposure.sources ?? []).map((s) => s.family));
    if (exposure.sources && exposure.destinations && !exposure.destinations.some((d) => sourceFamilies.has(d.family))) {
      problems.push({
        path: at("destinations"),
        message:
          "has no address of the families of sources (IPv4 sources reach IPv4 destinations only): no packet could match",
      });
    }
    const covered = exposure.interfaces?.filter((name) => trusted.some((t) => interfaceCovers(t, name)));
    if (exposure.interfaces && covered && covered.length === exposure.interfaces.length) {
      problems.push({
        path: at("interfaces"),
        message: `${covered.map((c) => `"${c}"`).join(", ")} ${covered.length === 1 ? "is" : "are"} already trusted (trustedInterfaces accepts everything arriving there): the exposure would change nothing; remove it or the trusted interface`,
      });
    }
  });
  return problems;
}
