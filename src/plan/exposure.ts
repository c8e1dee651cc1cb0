import { type ExposedService, expectingHelper, exposedService, type HelperFacts } from "../catalog";
import type { DataRange, KernelHelper } from "../catalog/types";
import { formatRange, formatRanges, type PortRange } from "../fields/ports";
import type { Family } from "../fields/prefix";
import { IPV4_ONLY_PROTOCOLS, type PortlessProtocol, VRRP_GROUP } from "../fields/protocols";
import {
  type ControlOpening,
  controlOpenings,
  type Exposure,
  exposureService,
  isCustom,
  portlessProtocol,
} from "../model/policy";
import { explanationOf } from "./explain";
import { planLimit } from "./limit";
import { describePeers, familiesOf, peersFor } from "./peers";
import type { ExposureContext, ExposurePlan, LocalAddresses, Opening, PlannedHelper, PlannedSet } from "./types";

/** Openings and the sentences saying what they open, for one concern of an exposure. */
interface Part {
  readonly openings: Opening[];
  readonly opens: string[];
}

const part = (openings: Opening[] = [], opens: string[] = []): Part => ({ openings, opens });

function commentFor(ctx: ExposureContext, label: string): string {
  const note = ctx.exposure.comment;
  return note ? `${ctx.id}: ${label} (${note})` : `${ctx.id}: ${label}`;
}

const helperObjectName = (ctx: ExposureContext, kernel: KernelHelper) => `${ctx.id}-${kernel.objectSuffix}`;

const ipv4OnlyFamily = (helper: HelperFacts): Family | undefined => (helper.ipv4Only ? "ipv4" : undefined);

function kernelHelperFor(ctx: ExposureContext, protocol: ControlOpening["protocol"]): KernelHelper | undefined {
  return ctx.scoped?.helpers.find((h) => h.protocol === protocol);
}

/** The scoped helper objects the exposure's control ports use, once each. */
function plannedHelpers(ctx: ExposureContext, controls: readonly ControlOpening[]): PlannedHelper[] {
  const helpers: PlannedHelper[] = [];
  for (const control of controls) {
    const kernel = kernelHelperFor(ctx, control.protocol);
    if (!kernel || helpers.some((h) => h.name === helperObjectName(ctx, kernel))) continue;
    helpers.push({
      name: helperObjectName(ctx, kernel),
      type: kernel.type,
      protocol: kernel.protocol,
      l3proto: ctx.scoped!.ipv4Only ? "ip" : "inet",
    });
  }
  return helpers;
}

/** A control port open to new connections, no helper. */
function plainControl(ctx: ExposureContext, control: ControlOpening): Part {
  return part(
    [
      {
        chain: "input",
        kind: "new",
        protocol: control.protocol,
        ports: control.ports,
        peers: ctx.peers,
        comment: commentFor(ctx, control.label),
      },
    ],
    [`${control.protocol}/${formatRanges(control.ports)} (${control.label}) ${ctx.where}`],
  );
}

/** A control port whose incoming connections get the scoped helper; IPv6 peers of an IPv4-only helper get the port without it. */
function inboundHelperControl(
  ctx: ExposureContext,
  control: ControlOpening,
  kernel: KernelHelper,
  helper: HelperFacts,
): Part {
  const openings: Opening[] = [
    {
      chain: "input",
      kind: "helper",
      protocol: kernel.protocol,
      ports: control.ports,
      peers: ctx.peers,
      family: ipv4OnlyFamily(helper),
      helperObject: helperObjectName(ctx, kernel),
      kernelHelper: kernel.type,
      comment: commentFor(ctx, `${control.label}, helper ${kernel.type}`),
    },
  ];
  if (helper.ipv4Only && ctx.families.includes("ipv6")) {
    openings.push({
      chain: "input",
      kind: "new",
      protocol: control.protocol,
      ports: control.ports,
      peers: ctx.peers,
      family: "ipv6",
      comment: commentFor(ctx, `${control.label} (IPv6, no helper)`),
    });
  }
  return part(openings, [
    `${control.protocol}/${formatRanges(control.ports)} (${control.label}) ${ctx.where}, with the ${kernel.type} helper attached`,
  ]);
}

/** A control port open to peers, with the helper attached to this host's own connections to it (irc). */
function outboundHelperControl(
  ctx: ExposureContext,
  control: ControlOpening,
  kernel: KernelHelper,
  helper: HelperFacts,
): Part {
  const ports = `${control.protocol}/${formatRanges(control.ports)}`;
  return part(
    [
      {
        chain: "input",
        kind: "new",
        protocol: control.protocol,
        ports: control.ports,
        peers: ctx.peers,
        comment: commentFor(ctx, control.label),
      },
      {
        chain: "output",
        kind: "helper",
        protocol: kernel.protocol,
        ports: control.ports,
        portSide: "dport",
        peers: ctx.peers,
        family: ipv4OnlyFamily(helper),
        helperObject: helperObjectName(ctx, kernel),
        kernelHelper: kernel.type,
        comment: commentFor(ctx, `connections from this host, helper ${kernel.type}`),
      },
    ],
    [
      `${ports} (${control.label}) ${ctx.where}`,
      `the ${kernel.type} helper is attached to this host's own connections to ${ports} ${ctx.where.replace(/^from/, "of")}`,
    ],
  );
}

/** What the server itself sends from a control port, when output is restricted. */
function serverSends(ctx: ExposureContext, control: ControlOpening): Part {
  if (!ctx.outputRestricted) return part();
  const sent = part();
  if (control.outbound) {
    sent.openings.push({
      chain: "output",
      kind: "new",
      protocol: control.protocol,
      ports: control.ports,
      peers: ctx.peers,
      comment: commentFor(ctx, `${control.label} sent by the server`),
    });
  }
  if (control.broadcasts && control.protocol !== "sctp") {
    sent.openings.push({
      chain: "output",
      kind: "broadcast",
      protocol: control.protocol,
      ports: control.ports,
      comment: commentFor(ctx, `${control.label} broadcasts`),
    });
    sent.opens.push(
      `${control.protocol}/${formatRanges(control.ports)} (${control.label}) broadcasts out to the same port`,
    );
  }
  return sent;
}

function controlPart(ctx: ExposureContext, control: ControlOpening): Part {
  const kernel = kernelHelperFor(ctx, control.protocol);
  const opened =
    kernel?.attach === "outbound"
      ? outboundHelperControl(ctx, control, kernel, ctx.scoped!)
      : kernel
        ? inboundHelperControl(ctx, control, kernel, ctx.scoped!)
        : plainControl(ctx, control);
  return merge([opened, serverSends(ctx, control)]);
}

/** The declared data range: opened, or accepted only as the scoped helper's expectations, or sent by the server. */
function dataPart(ctx: ExposureContext, data: DataRange, range: PortRange): Part {
  const ports = [range];
  const where = `${data.protocol}/${formatRange(range)}`;
  const result = part();
  if (data.direction === "inbound" && ctx.scoped) {
    const kernel = expectingHelper(ctx.scoped);
    result.openings.push({
      chain: "input",
      kind: "related",
      protocol: data.protocol,
      ports,
      peers: ctx.peers,
      kernelHelper: kernel.type,
      family: ipv4OnlyFamily(ctx.scoped),
      comment: commentFor(ctx, `${data.label}, expected by helper ${kernel.type}`),
    });
    result.opens.push(`${where} (${data.label}) only for connections the ${kernel.type} helper expects`);
  } else if (data.direction === "inbound") {
    result.openings.push({
      chain: "input",
      kind: "new",
      protocol: data.protocol,
      ports,
      peers: ctx.peers,
      comment: commentFor(ctx, data.label),
    });
    result.opens.push(`${where} (${data.label}) ${ctx.where}`);
  } else {
    result.opens.push(`${where} (${data.label}) leaves the server; the client's answers return as established traffic`);
  }
  if (ctx.outputRestricted && (data.direction === "outbound" || data.bidirectional)) {
    const comment = commentFor(ctx, `${data.label} sent by the server`);
    result.openings.push(
      ctx.scoped && data.direction === "outbound"
        ? {
            chain: "output",
            kind: "related",
            protocol: data.protocol,
            ports,
            peers: ctx.peers,
            kernelHelper: expectingHelper(ctx.scoped).type,
            comment,
          }
        : { chain: "output", kind: "new", protocol: data.protocol, ports, peers: ctx.peers, comment },
    );
  }
  return result;
}

/** A scoped helper of a service without a data range: what it expects is accepted on any port (pptp's GRE, snmp's traps). */
function expectationsPart(ctx: ExposureContext, exposed: ExposedService, helper: HelperFacts): Part {
  const kernel = expectingHelper(helper);
  const protocols = exposed.service.ipProtocols ?? [kernel.protocol];
  return part(
    protocols.map((protocol) => ({
      chain: "input",
      kind: "related",
      protocol,
      ports: [],
      peers: ctx.peers,
      kernelHelper: kernel.type,
      family: ipv4OnlyFamily(helper),
      comment: commentFor(ctx, `${protocol} expected by helper ${kernel.type}`),
    })),
  );
}

/** Extra IP protocols (PPTP's GRE): open, or with a scoped IPv4-only helper open for IPv6 peers only. */
function ipProtocolPart(ctx: ExposureContext, protocol: "gre"): Part {
  const result = part();
  if (!ctx.scoped) {
    result.openings.push({
      chain: "input",
      kind: "new",
      protocol,
      ports: [],
      peers: ctx.peers,
      comment: commentFor(ctx, protocol),
    });
    result.opens.push(`ip protocol ${protocol} ${ctx.where}`);
  } else if (ctx.scoped.ipv4Only && ctx.families.includes("ipv6")) {
    result.openings.push({
      chain: "input",
      kind: "new",
      protocol,
      ports: [],
      peers: ctx.peers,
      family: "ipv6",
      comment: commentFor(ctx, `${protocol} (IPv6, no helper)`),
    });
  } else {
    return result;
  }
  if (ctx.outputRestricted)
    result.openings.push({
      chain: "output",
      kind: "new",
      protocol,
      ports: [],
      peers: ctx.peers,
      comment: commentFor(ctx, `${protocol} sent by the server`),
    });
  return result;
}

/** Connections the server opens itself (FTP active mode), when the exposure turned them on. */
function originatedPart(ctx: ExposureContext, exposed: ExposedService): Part {
  const { originated } = exposed.service;
  if (!originated || !exposed.originatedOn) return part();
  const from = `${originated.protocol}/${formatRanges(originated.ports)}`;
  if (!ctx.outputRestricted)
    return part([], [`${from} (${originated.label}): the server's connections leave under output policy accept`]);
  return part(
    [
      {
        chain: "output",
        kind: "new",
        protocol: originated.protocol,
        ports: originated.ports,
        peers: ctx.peers,
        comment: commentFor(ctx, `${originated.label} from ${from}`),
      },
    ],
    [`${from} (${originated.label}): new connections out ${describePeers(ctx.exposure.sources, "to")}`],
  );
}

function merge(parts: readonly Part[]): Part {
  return part(
    parts.flatMap((p) => p.openings),
    parts.flatMap((p) => p.opens),
  );
}

/** What a catalog service opens beyond its control ports. */
function servicePart(ctx: ExposureContext, exposed: ExposedService): Part {
  const { data, ipProtocols } = exposed.service;
  const parts: Part[] = [];
  if (data && exposed.dataRange) parts.push(dataPart(ctx, data, exposed.dataRange));
  else if (ctx.scoped && !data) parts.push(expectationsPart(ctx, exposed, ctx.scoped));
  for (const protocol of ipProtocols ?? []) parts.push(ipProtocolPart(ctx, protocol));
  parts.push(originatedPart(ctx, exposed));
  return merge(parts);
}

/** A custom exposure of a whole IP protocol (esp, vrrp, ...): accepted from its peers, and sent to them when output is restricted. */
function portlessPart(ctx: ExposureContext, protocol: PortlessProtocol): Part {
  const family = (IPV4_ONLY_PROTOCOLS as readonly string[]).includes(protocol) ? ("ipv4" as const) : undefined;
  const group = protocol === "vrrp" ? VRRP_GROUP : undefined;
  const to = group ? ` to ${group.ipv4} / ${group.ipv6}` : "";
  const result = part(
    [
      {
        chain: "input",
        kind: "new",
        protocol,
        ports: [],
        peers: ctx.peers,
        family,
        group,
        comment: commentFor(ctx, protocol),
      },
    ],
    [`ip protocol ${protocol}${to} ${ctx.where}`],
  );
  if (ctx.outputRestricted) {
    // IGMP reports go to multicast groups, never to the peers the exposure admits
    const receivers = protocol === "igmp" ? ({ kind: "any" } as const) : ctx.peers;
    result.openings.push({
      chain: "output",
      kind: "new",
      protocol,
      ports: [],
      peers: receivers,
      family,
      group,
      comment: commentFor(ctx, `${protocol} sent by this host`),
    });
    result.opens.push(`ip protocol ${protocol}${to} sent by this host`);
  }
  return result;
}

/** The sets of this host's own addresses an exposure is scoped to: `<id>_dst_v4`, `<id>_dst_v6`. */
function localSets(id: string, exposure: Exposure): { local?: LocalAddresses; sets: PlannedSet[] } {
  if (!exposure.destinations) return { sets: [] };
  const { peers, sets } = peersFor(`${id}_dst`, exposure.destinations);
  return peers.kind === "sets" ? { local: { ipv4: peers.ipv4, ipv6: peers.ipv6 }, sets } : { sets };
}

/** Interfaces and own addresses apply to every opening of the exposure (broadcasts leave to the subnets, unscoped). */
function scoped(
  openings: readonly Opening[],
  interfaces: readonly string[] | undefined,
  local: LocalAddresses | undefined,
): Opening[] {
  if (!interfaces && !local) return [...openings];
  return openings.map((o) =>
    o.kind === "broadcast" ? o : { ...o, ...(interfaces ? { interfaces } : {}), ...(local ? { local } : {}) },
  );
}

function whereOf(exposure: Exposure): string {
  const on = exposure.interfaces ? ` on ${exposure.interfaces.join(", ")}` : "";
  const to = exposure.destinations ? ` ${describePeers(exposure.destinations, "to")}` : "";
  return `${describePeers(exposure.sources)}${on}${to}`;
}

function contextOf(exposure: Exposure, id: string, outputRestricted: boolean): ExposureContext {
  const exposed = isCustom(exposure) ? undefined : exposedService(exposure);
  const { peers, sets } = peersFor(id, exposure.sources);
  return {
    id,
    exposure,
    exposed,
    scoped: exposure.helper === "scoped" ? exposed?.service.helper : undefined,
    peers,
    sets,
    families: familiesOf(peers),
    where: whereOf(exposure),
    outputRestricted,
  };
}

export function planExposure(exposure: Exposure, id: string, outputRestricted: boolean): ExposurePlan {
  const ctx = contextOf(exposure, id, outputRestricted);
  const controls = controlOpenings(exposure);
  const whole = portlessProtocol(exposure);
  const planned = merge([
    ...controls.map((control) => controlPart(ctx, control)),
    ...(ctx.exposed ? [servicePart(ctx, ctx.exposed)] : []),
    ...(whole ? [portlessPart(ctx, whole)] : []),
  ]);
  const service = exposureService(exposure);
  const limited = exposure.limit ? planLimit(id, exposure.limit, ctx.families) : undefined;
  const local = localSets(id, exposure);
  return {
    id,
    service,
    ...(limited ? { limit: limited.limit } : {}),
    title: isCustom(exposure)
      ? whole
        ? `custom ${whole}`
        : `custom ${exposure.protocol} ports`
      : ctx.exposed!.service.title,
    openings: scoped(planned.openings, exposure.interfaces, local.local),
    sets: [...ctx.sets, ...local.sets, ...(limited?.sets ?? [])],
    helpers: plannedHelpers(ctx, controls),
    modules: ctx.scoped ? [ctx.scoped.module, ...(ctx.scoped.natModule ? [ctx.scoped.natModule] : [])] : [],
    explanation: explanationOf(ctx, service, planned.opens),
  };
}
