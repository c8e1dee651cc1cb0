/**
 * A starting policy for an audited host, from what it listens on and what its ruleset admits now:
 * each listener the ruleset lets in becomes a catalog service where its port is the service's
 * (with the service's data range read from the server's configuration where readable), else a
 * custom exposure, with the sources the admitting rule names. Every guess is a comment in the file.
 */
import { CatalogExposureSchema, exposedService, serviceNames } from "../../catalog";
import type { HostAuditFacts, Listener } from "./findings";
import { type AuditChain, reachingHooks, rulePorts } from "./rules";

export interface ProposedExposure {
  readonly exposure: Readonly<Record<string, unknown>>;
  /** Why it is there, and what was guessed. */
  readonly notes: readonly string[];
}

export interface Proposal {
  readonly exposures: readonly ProposedExposure[];
  /** Listeners left out, and why. */
  readonly skipped: readonly string[];
  /** The policy file, YAML with the notes as comments. */
  readonly yaml: string;
}

/** The catalog services whose control ports need no field: port -> service, per protocol. */
function catalogByPort(): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of serviceNames) {
    const parsed = CatalogExposureSchema.safeParse({ service: name, ...DATA_DEFAULTS[name] });
    if (!parsed.success) continue;
    for (const c of exposedService(parsed.data).controls) {
      for (const r of c.ports)
        if (r.from === r.to && !map.has(`${c.protocol}/${r.from}`)) map.set(`${c.protocol}/${r.from}`, name);
    }
  }
  return map;
}

/** Services that need their data range to be declared: the field and where the server's configuration says it. */
const DATA_DEFAULTS: Record<string, Record<string, string>> = {
  ftp: { passivePorts: "50000-51000" },
  tftp: { dataPorts: "50000-51000" },
};

const LOOPBACK = (a: string) => a === "::1" || a.startsWith("127.");

interface Admission {
  readonly anywhere: boolean;
  readonly sources: readonly string[];
  readonly rule?: string;
  readonly unresolved?: string;
}

/** What the ruleset admits for a listener: from anywhere, from some sources, or not at all (undefined). */
function admission(l: Listener, facts: HostAuditFacts): Admission | undefined {
  const reach = reachingHooks(facts.chains);
  const fromInput = facts.chains.filter(
    (c) => reach.get(c)?.has("input") && (c.source === "nft" || c.table === "filter"),
  );
  const v6 = l.address.includes(":") && l.address !== "::" && l.address !== "*";
  const families = (c: AuditChain) => (c.family === "inet" ? ["ip", "ip6"] : [c.family]);
  const relevant = fromInput.filter((c) => families(c).some((f) => (v6 ? f === "ip6" : true)));
  const filtered =
    relevant.some((c) => c.hook === "input" && c.policy === "drop") ||
    relevant.some((c) =>
      /^(counter( packets \d+ bytes \d+)? )?(drop|reject)\b|-j (DROP|REJECT)\b/.test(c.rules.at(-1)?.text ?? ""),
    );
  if (!filtered) return { anywhere: true, sources: [] };
  const sources: string[] = [];
  for (const c of relevant) {
    for (const r of c.rules) {
      if (!/\baccept\b|-j ACCEPT\b/.test(r.text) || /\bct state\b|--(ct)?state\b/.test(r.text)) continue;
      if (!new RegExp(`\\b${l.proto}\\b|-p ${l.proto}\\b`).test(r.text)) continue;
      if (!rulePorts(r.text)?.some(([a, b]) => l.port >= a && l.port <= b)) continue;
      const src = /\bip6? saddr (\{[^}]*\}|\S+)/.exec(r.text)?.[1] ?? /\s-s (\S+)/.exec(r.text)?.[1];
      if (src === undefined) return { anywhere: true, sources: [], rule: r.text };
      if (src.startsWith("@")) return { anywhere: false, sources: [], rule: r.text, unresolved: src };
      sources.push(
        ...src
          .replace(/[{}]/g, "")
          .split(/[\s,]+/)
          .filter(Boolean),
      );
    }
  }
  return sources.length > 0 ? { anywhere: false, sources: [...new Set(sources)] } : undefined;
}

/** vsftpd's passive range, "a-b", and the line that says it. */
function ftpRange(facts: HostAuditFacts): { range: string; where: string } | undefined {
  const get = (k: string) => facts.ftpConfig.find((l) => new RegExp(`:${k}=`).test(l));
  const min = get("pasv_min_port");
  const max = get("pasv_max_port");
  const value = (l: string | undefined) => (l ? /=(\d+)\s*$/.exec(l)?.[1] : undefined);
  if (!value(min) || !value(max)) return undefined;
  return {
    range: `${value(min)}-${value(max)}`,
    where: `${min!.replace(/:[^:]*=.*$/, "")} pasv_min_port/pasv_max_port`,
  };
}

export function propose(facts: HostAuditFacts): Proposal {
  const byPort = catalogByPort();
  const seen = new Set<string>();
  const exposures: ProposedExposure[] = [];
  const skipped: string[] = [];
  for (const l of facts.listeners) {
    if (LOOPBACK(l.address)) continue;
    const key = `${l.proto}/${l.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const who = `${key}${l.process ? ` (${l.process})` : ""}`;
    const admitted = admission(l, facts);
    if (!admitted) {
      skipped.push(`${who}: listens, but the ruleset admits it from nowhere now`);
      continue;
    }
    const notes: string[] = [];
    let exposure: Record<string, unknown>;
    const service = l.process === "sshd" ? "ssh" : byPort.get(key);
    if (service) {
      exposure = { service };
      if (service === "ssh" && l.port !== 22) exposure.ports = l.port;
      notes.push(`${who} -> catalog service ${service}${l.process === "sshd" ? "" : " (GUESS: by its port)"}`);
      if (service === "ftp") {
        const range = ftpRange(facts);
        exposure.passivePorts = range?.range ?? DATA_DEFAULTS.ftp!.passivePorts;
        notes.push(
          range
            ? `passive range from ${range.where}`
            : "GUESS: passive range not found in the server's configuration; set it to the server's pasv_min_port-pasv_max_port",
        );
      } else if (DATA_DEFAULTS[service]) {
        Object.assign(exposure, DATA_DEFAULTS[service]);
        notes.push(
          `GUESS: ${Object.keys(DATA_DEFAULTS[service]!).join(", ")} not read from the server; set the server's range`,
        );
      }
    } else {
      exposure = { name: customName(l), protocol: l.proto, ports: l.port };
      notes.push(`${who}: no catalog service on this port; a custom exposure (GUESS: name from the process)`);
    }
    if (admitted.anywhere)
      notes.push(
        admitted.rule
          ? `admitted from anywhere now by: ${admitted.rule}`
          : "admitted from anywhere now (input is not filtered by default); GUESS: restrict its sources if it is not meant for everyone",
      );
    else if (admitted.unresolved)
      notes.push(
        `GUESS: admitted now from the set ${admitted.unresolved} (not read); left open to anywhere: fill in sources`,
      );
    else {
      exposure.sources = admitted.sources;
      notes.push(`sources from the rule that admits it now`);
    }
    exposures.push({ exposure, notes });
  }
  return { exposures, skipped, yaml: toYaml(exposures, skipped) };
}

/** A custom exposure's name: lowercase letter first, a-z 0-9 -, at most 24 characters (the policy's rule). */
function customName(l: Listener): string {
  const port = String(l.port);
  const base = (l.process ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^[^a-z]+|-+$/g, "")
    .slice(0, 23 - port.length)
    .replace(/-+$/, "");
  return `${base || l.proto}-${port}`;
}

function yamlValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(yamlValue).join(", ")}]`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(String(v));
}

function toYaml(exposures: readonly ProposedExposure[], skipped: readonly string[]): string {
  const out = [
    "# Proposed by `hardened-nftables audit --propose`: a starting point, to review before applying.",
    "# Each exposure comes from a listening socket the host's ruleset admits now; lines marked GUESS were guessed.",
  ];
  for (const s of skipped) out.push(`# left out: ${s}`);
  if (exposures.length === 0) {
    out.push("# nothing listens and is admitted: SSH too would be closed", "allowNothing: true", "exposures: []");
    return `${out.join("\n")}\n`;
  }
  out.push("exposures:");
  for (const e of exposures) {
    for (const n of e.notes) out.push(`  # ${n}`);
    const entries = Object.entries(e.exposure);
    for (const [i, [k, v]] of entries.entries()) out.push(`${i === 0 ? "  - " : "    "}${k}: ${yamlValue(v)}`);
  }
  return `${out.join("\n")}\n`;
}
