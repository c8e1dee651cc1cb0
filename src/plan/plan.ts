import { serviceDefinition } from "../catalog";
import type { KernelHelper } from "../catalog/types";
import { type PortRange, formatRange, formatRanges } from "../fields/ports";
import { type Exposure, type Policy, controlOpenings, exposureIds, exposureService, isCustom } from "../model/policy";
import { type Family, type Prefix, minimalPrefixes } from "../fields/prefix";

/** Who a rule admits: anyone, or the members of per-family address sets. */
export type Peers = { kind: "any" } | { kind: "sets"; ipv4?: string; ipv6?: string };

export interface PlannedSet {
  readonly name: string;
  readonly family: Family;
  readonly elements: readonly string[];
}

export interface PlannedHelper {
  readonly name: string;
  readonly type: string;
  readonly protocol: "tcp" | "udp";
  readonly l3proto: "inet" | "ip";
}

/**
 * One accept in the ruleset, in protocol terms. `new` opens a port; `helper` opens a port and
 * assigns the scoped helper object; `related` accepts only what that kernel helper expects.
 */
export interface Opening {
  readonly chain: "input" | "output";
  readonly kind: "new" | "helper" | "related";
  readonly protocol: "tcp" | "udp" | "gre";
  /** Destination ports for input, source ports for output unless portSide says otherwise; empty = any port. */
  readonly ports: readonly PortRange[];
  readonly portSide?: "dport" | "sport";
  readonly peers: Peers;
  /** Restricts an opening to one family where a helper exists only for IPv4. */
  readonly family?: Family;
  /** Output only: to a broadcast address (of a local subnet), from `ports` to the same ports. */
  readonly toBroadcast?: boolean;
  readonly helperObject?: string;
  readonly kernelHelper?: string;
  readonly comment: string;
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

export interface ExposurePlan {
  readonly id: string;
  readonly service: string;
  readonly openings: readonly Opening[];
  readonly sets: readonly PlannedSet[];
  readonly helpers: readonly PlannedHelper[];
  readonly modules: readonly string[];
  readonly explanation: Explanation;
}

export interface Plan {
  readonly table: string;
  readonly policy: Policy;
  readonly exposures: readonly ExposurePlan[];
  readonly outputAllow: readonly { openings: readonly Opening[]; sets: readonly PlannedSet[] }[];
  /** Helper and NAT helper modules some scoped exposure needs; every other one is denied. */
  readonly neededModules: readonly string[];
  readonly warnings: readonly string[];
}

export const DEFAULT_TABLE = "hardened";

function peersFor(id: string, prefixes: readonly Prefix[] | undefined): { peers: Peers; sets: PlannedSet[] } {
  if (!prefixes) return { peers: { kind: "any" }, sets: [] };
  const sets: PlannedSet[] = [];
  const peers: { kind: "sets"; ipv4?: string; ipv6?: string } = { kind: "sets" };
  for (const family of ["ipv4", "ipv6"] as const) {
    const members = minimalPrefixes(prefixes.filter((p) => p.family === family));
    if (members.length === 0) continue;
    const name = `${id}_${family === "ipv4" ? "v4" : "v6"}`;
    sets.push({ name, family, elements: members.map((p) => p.text) });
    peers[family] = name;
  }
  return { peers, sets };
}

function describePeers(prefixes: readonly Prefix[] | undefined, preposition: "from" | "to" = "from"): string {
  if (!prefixes) return preposition === "from" ? "from anywhere" : "to anywhere";
  const shown = prefixes.slice(0, 3).map((p) => p.text).join(", ");
  return `${preposition} ${shown}${prefixes.length > 3 ? ` and ${prefixes.length - 3} more` : ""}`;
}

function familiesOf(peers: Peers): Family[] {
  if (peers.kind === "any") return ["ipv4", "ipv6"];
  return (["ipv4", "ipv6"] as const).filter((f) => peers[f] !== undefined);
}

function commentFor(id: string, label: string, userComment: string | undefined): string {
  return userComment ? `${id}: ${label} (${userComment})` : `${id}: ${label}`;
}

function planExposure(exposure: Exposure, id: string, outputRestricted: boolean): ExposurePlan {
  const service = exposureService(exposure);
  const definition = isCustom(exposure) ? undefined : serviceDefinition(exposure.service);
  const scoped = exposure.helper === "scoped" && definition?.helper !== undefined;
  const helperFacts = scoped ? definition!.helper! : undefined;
  const { peers, sets } = peersFor(id, exposure.sources);
  const families = familiesOf(peers);
  const openings: Opening[] = [];
  const helpers: PlannedHelper[] = [];
  const opens: string[] = [];
  const where = describePeers(exposure.sources);
  const comment = (label: string) => commentFor(id, label, exposure.comment);

  const helperFor = (protocol: "tcp" | "udp"): KernelHelper | undefined =>
    helperFacts?.helpers.find((h) => h.protocol === protocol);

  for (const control of controlOpenings(exposure)) {
    const kernel = helperFor(control.protocol);
    if (kernel?.attach === "outbound") {
      const name = `${id}-${kernel.objectSuffix}`;
      if (!helpers.some((h) => h.name === name)) {
        helpers.push({ name, type: kernel.type, protocol: kernel.protocol, l3proto: helperFacts!.ipv4Only ? "ip" : "inet" });
      }
      openings.push({ chain: "input", kind: "new", protocol: control.protocol, ports: control.ports, peers, comment: comment(control.label) });
      openings.push({
        chain: "output", kind: "helper", protocol: control.protocol, ports: control.ports, portSide: "dport", peers,
        family: helperFacts!.ipv4Only ? "ipv4" : undefined,
        helperObject: name, kernelHelper: kernel.type, comment: comment(`connections from this host, helper ${kernel.type}`),
      });
      opens.push(`${control.protocol}/${formatRanges(control.ports)} (${control.label}) ${where}`);
      opens.push(`the ${kernel.type} helper is attached to this host's own connections to ${control.protocol}/${formatRanges(control.ports)} ${where.replace(/^from/, "of")}`);
    } else if (kernel) {
      const name = `${id}-${kernel.objectSuffix}`;
      if (!helpers.some((h) => h.name === name)) {
        helpers.push({ name, type: kernel.type, protocol: kernel.protocol, l3proto: helperFacts!.ipv4Only ? "ip" : "inet" });
      }
      const ipv6WithoutHelper = helperFacts!.ipv4Only && families.includes("ipv6");
      openings.push({
        chain: "input", kind: "helper", protocol: control.protocol, ports: control.ports, peers,
        family: helperFacts!.ipv4Only ? "ipv4" : undefined,
        helperObject: name, kernelHelper: kernel.type, comment: comment(`${control.label}, helper ${kernel.type}`),
      });
      if (ipv6WithoutHelper) {
        openings.push({ chain: "input", kind: "new", protocol: control.protocol, ports: control.ports, peers, family: "ipv6", comment: comment(`${control.label} (IPv6, no helper)`) });
      }
      opens.push(`${control.protocol}/${formatRanges(control.ports)} (${control.label}) ${where}, with the ${kernel.type} helper attached`);
    } else {
      openings.push({ chain: "input", kind: "new", protocol: control.protocol, ports: control.ports, peers, comment: comment(control.label) });
      opens.push(`${control.protocol}/${formatRanges(control.ports)} (${control.label}) ${where}`);
    }
    if (control.outbound && outputRestricted) {
      openings.push({ chain: "output", kind: "new", protocol: control.protocol, ports: control.ports, peers, comment: comment(`${control.label} sent by the server`) });
    }
    if (control.broadcasts && outputRestricted) {
      openings.push({
        chain: "output", kind: "new", protocol: control.protocol, ports: control.ports, peers: { kind: "any" }, family: "ipv4",
        toBroadcast: true, comment: comment(`${control.label} broadcasts`),
      });
      opens.push(`${control.protocol}/${formatRanges(control.ports)} (${control.label}) broadcasts out to the same port`);
    }
  }

  const data = definition?.data;
  const dataRange = data ? ((exposure as Record<string, unknown>)[data.field] as PortRange | undefined) : undefined;
  if (data && dataRange) {
    const ports = [dataRange];
    const range = `${data.protocol}/${formatRange(dataRange)}`;
    if (data.direction === "inbound") {
      if (helperFacts) {
        const kernel = helperFacts.helpers[0]!;
        openings.push({
          chain: "input", kind: "related", protocol: data.protocol, ports, peers, kernelHelper: kernel.type,
          family: helperFacts.ipv4Only ? "ipv4" : undefined, comment: comment(`${data.label}, expected by helper ${kernel.type}`),
        });
        opens.push(`${range} (${data.label}) only for connections the ${kernel.type} helper expects`);
      } else {
        openings.push({ chain: "input", kind: "new", protocol: data.protocol, ports, peers, comment: comment(data.label) });
        opens.push(`${range} (${data.label}) ${where}`);
      }
    } else {
      opens.push(`${range} (${data.label}) leaves the server; the client's answers return as established traffic`);
    }
    if (outputRestricted && (data.direction === "outbound" || data.bidirectional)) {
      const kind = helperFacts && data.direction === "outbound" ? "related" : "new";
      openings.push({
        chain: "output", kind, protocol: data.protocol, ports, peers,
        kernelHelper: kind === "related" ? helperFacts!.helpers[0]!.type : undefined,
        comment: comment(`${data.label} sent by the server`),
      });
    }
  } else if (helperFacts && !data) {
    const kernel = helperFacts.helpers[0]!;
    for (const protocol of definition?.ipProtocols ?? [kernel.protocol]) {
      openings.push({
        chain: "input", kind: "related", protocol, ports: [], peers, kernelHelper: kernel.type,
        family: helperFacts.ipv4Only ? "ipv4" : undefined, comment: comment(`${protocol} expected by helper ${kernel.type}`),
      });
    }
  }

  for (const protocol of definition?.ipProtocols ?? []) {
    if (helperFacts) {
      if (!helperFacts.ipv4Only || !families.includes("ipv6")) continue;
      openings.push({ chain: "input", kind: "new", protocol, ports: [], peers, family: "ipv6", comment: comment(`${protocol} (IPv6, no helper)`) });
    } else {
      openings.push({ chain: "input", kind: "new", protocol, ports: [], peers, comment: comment(protocol) });
      opens.push(`ip protocol ${protocol} ${where}`);
    }
    if (outputRestricted) openings.push({ chain: "output", kind: "new", protocol, ports: [], peers, comment: comment(`${protocol} sent by the server`) });
  }

  const originated = definition?.originated;
  const originatedOn = originated !== undefined && (exposure as Record<string, unknown>)[originated.field] === true;
  if (originated && originatedOn) {
    const from = `${originated.protocol}/${formatRanges(originated.ports)}`;
    if (outputRestricted) {
      openings.push({ chain: "output", kind: "new", protocol: originated.protocol, ports: originated.ports, peers, comment: comment(`${originated.label} from ${from}`) });
      opens.push(`${from} (${originated.label}): new connections out ${describePeers(exposure.sources, "to")}`);
    } else {
      opens.push(`${from} (${originated.label}): the server's connections leave under output policy accept`);
    }
  }

  const notes: string[] = [...(definition?.notes ?? [])];
  if (originated) {
    const n = originated.notes;
    notes.push(originatedOn ? (outputRestricted ? n.enabledOutputRestricted : n.enabledOutputAccepted) : outputRestricted ? n.disabledOutputRestricted : n.disabledOutputAccepted);
  }
  if (helperFacts?.ipv4Only && families.includes("ipv6")) {
    notes.push(`The ${helperFacts.helpers[0]!.type} helper exists only for IPv4: IPv6 clients get the ports without it.`);
  }
  if (data && !dataRange) notes.push(`No ${data.field} given: nothing opens for ${data.label}.`);
  if (helperFacts?.scopedWarning) notes.push(helperFacts.scopedWarning);

  const why = !definition
    ? "a custom port exposure"
    : scoped
      ? `helper "scoped": the kernel ${helperFacts!.helpers.map((h) => h.type).join("/")} helper is attached only to ${helperFacts!.helpers.every((h) => h.attach === "outbound") ? "connections this host makes to " : ""}this service's control port(s), and related traffic is accepted only for that helper towards this host${dataRange ? " on the declared range" : ""}`
      : definition.helper
        ? `helper "none": no conntrack helper; ${dataRange ? "the fixed range the server is set to use opens instead" : "only the control port opens"}`
        : "no conntrack helper involved";

  return {
    id,
    service,
    openings,
    sets,
    helpers,
    modules: helperFacts ? [helperFacts.module, ...(helperFacts.natModule ? [helperFacts.natModule] : [])] : [],
    explanation: {
      exposure: id,
      service,
      helper: scoped ? "scoped" : "none",
      opens,
      why,
      serverSettings: definition ? [...definition.serverSettings(dataRange), ...(originatedOn ? originated!.serverSettings : [])] : [],
      notes,
    },
  };
}

export function planPolicy(policy: Policy, fallbackTable = DEFAULT_TABLE): Plan {
  const outputRestricted = policy.output.policy === "drop";
  const ids = exposureIds(policy.exposures);
  const exposures = policy.exposures.map((exposure, index) => planExposure(exposure, ids[index]!, outputRestricted));
  const outputAllow = outputRestricted
    ? policy.output.allow.map((allow) => {
        const id = `out-${allow.name}`;
        const { peers, sets } = peersFor(id, allow.destinations);
        return {
          sets,
          openings: [{ chain: "output" as const, kind: "new" as const, protocol: allow.protocol, ports: allow.ports, portSide: "dport" as const, peers, comment: commentFor(id, `to ${allow.protocol}/${formatRanges(allow.ports)}`, allow.comment) }],
        };
      })
    : [];
  const warnings: string[] = [];
  const opensSsh = policy.exposures.some((e) =>
    controlOpenings(e).some((c) => c.protocol === "tcp" && c.ports.some((r) => r.from <= 22 && 22 <= r.to)),
  );
  if (!opensSsh) warnings.push("No exposure opens tcp/22: unless SSH listens on another declared port, an apply will be rolled back as a lock-out.");
  if (!outputRestricted && policy.output.allow.length > 0) warnings.push("output.allow has no effect while output.policy is accept.");
  for (const e of exposures) {
    const facts = e.explanation.helper === "scoped" ? serviceDefinition(e.service)?.helper : undefined;
    if (facts?.scopedWarning) warnings.push(`${e.id}: ${facts.scopedWarning}`);
  }
  return {
    table: policy.table ?? fallbackTable,
    policy,
    exposures,
    outputAllow,
    neededModules: [...new Set(exposures.flatMap((e) => e.modules))].sort(),
    warnings,
  };
}
