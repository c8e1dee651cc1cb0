/**
 * The rules of a host, as the audit reads them: `nft list ruleset` and `iptables-legacy-save`
 * output parsed into one shape, each rule with where it came from (table, chain, line), so a
 * finding can quote it exactly.
 */

export interface AuditRule {
  /** "nft" (any table nft lists, iptables-nft's included) or "iptables-legacy" / "ip6tables-legacy". */
  readonly source: "nft" | "iptables-legacy" | "ip6tables-legacy";
  /** nft: "inet filter"; legacy: "filter" / "nat". */
  readonly table: string;
  /** ip, ip6, inet, arp, bridge, netdev; legacy: ip or ip6. */
  readonly family: string;
  readonly chain: string;
  /** The chain's hook when it is a base chain (input, forward, prerouting...). */
  readonly hook?: string;
  readonly text: string;
  /** 1-based line in the listing it came from. */
  readonly line: number;
}

export interface AuditChain {
  readonly source: AuditRule["source"];
  readonly table: string;
  readonly family: string;
  readonly chain: string;
  readonly hook?: string;
  /** accept or drop for a base chain. */
  readonly policy?: string;
  readonly rules: readonly AuditRule[];
}

/** `nft list ruleset` text: tables, chains with hook and policy, and their rules. */
export function parseNftRuleset(text: string): AuditChain[] {
  const chains: AuditChain[] = [];
  let family = "";
  let table = "";
  let current: { chain: string; hook?: string; policy?: string; rules: AuditRule[] } | undefined;
  let depth = 0;
  let skipDepth = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const tableMatch = /^table\s+(\S+)\s+(\S+)\s*\{$/.exec(line);
    if (tableMatch && depth === 0) {
      family = tableMatch[1]!;
      table = tableMatch[2]!;
      depth = 1;
      return;
    }
    const chainMatch = /^chain\s+(\S+)\s*\{$/.exec(line);
    if (chainMatch && depth === 1) {
      current = { chain: chainMatch[1]!, rules: [] };
      depth = 2;
      return;
    }
    if (depth === 1 && line.endsWith("{")) {
      // sets, maps, flowtables, ct helper objects: skipped to their closing brace
      skipDepth = 1;
      depth = 3;
      return;
    }
    if (depth === 3) {
      skipDepth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
      if (skipDepth <= 0) depth = 1;
      return;
    }
    if (line === "}") {
      if (depth === 2 && current) {
        chains.push({
          source: "nft",
          table: `${family} ${table}`,
          family,
          chain: current.chain,
          ...hookOf(current),
          rules: current.rules,
        });
        current = undefined;
      }
      depth = Math.max(0, depth - 1);
      return;
    }
    if (depth === 2 && current) {
      const hook = /^type\s+\S+\s+hook\s+(\S+)\b.*?(?:policy\s+(accept|drop);)?\s*$/.exec(line);
      if (hook) {
        current.hook = hook[1]!;
        if (hook[2]) current.policy = hook[2];
        return;
      }
      if (/^(comment|devices|device)\b/.test(line)) return;
      current.rules.push({
        source: "nft",
        table: `${family} ${table}`,
        family,
        chain: current.chain,
        text: line,
        line: i + 1,
        ...(current.hook ? { hook: current.hook } : {}),
      });
    }
  });
  return chains;
}

function hookOf(c: { hook?: string; policy?: string }): { hook?: string; policy?: string } {
  return { ...(c.hook ? { hook: c.hook } : {}), ...(c.policy ? { policy: c.policy } : {}) };
}

const LEGACY_HOOKS: Record<string, string> = {
  INPUT: "input",
  OUTPUT: "output",
  FORWARD: "forward",
  PREROUTING: "prerouting",
  POSTROUTING: "postrouting",
};

/** `iptables-legacy-save` / `ip6tables-legacy-save` text: built-in chains carry their hook and policy. */
export function parseIptablesSave(text: string, source: "iptables-legacy" | "ip6tables-legacy"): AuditChain[] {
  const family = source === "iptables-legacy" ? "ip" : "ip6";
  const chains = new Map<
    string,
    { table: string; chain: string; hook?: string; policy?: string; rules: AuditRule[] }
  >();
  let table = "";
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith("*")) {
      table = line.slice(1);
      return;
    }
    const decl = /^:(\S+)\s+(\S+)/.exec(line);
    if (decl) {
      const hook = LEGACY_HOOKS[decl[1]!];
      chains.set(`${table}/${decl[1]}`, {
        table,
        chain: decl[1]!,
        ...(hook ? { hook } : {}),
        ...(decl[2] !== "-" ? { policy: decl[2]!.toLowerCase() } : {}),
        rules: [],
      });
      return;
    }
    const rule = /^-A\s+(\S+)\s*(.*)$/.exec(line);
    if (rule) {
      const key = `${table}/${rule[1]}`;
      const chain = chains.get(key) ?? { table, chain: rule[1]!, rules: [] };
      chains.set(key, chain);
      chain.rules.push({
        source,
        table,
        family,
        chain: chain.chain,
        text: line,
        line: i + 1,
        ...(chain.hook ? { hook: chain.hook } : {}),
      });
    }
  });
  return [...chains.values()].map((c) => ({ source, family, ...c }));
}

/** Ports a rule names after `dport` (single, list, set, range), or undefined when it names none. */
export function rulePorts(text: string): Array<[number, number]> | undefined {
  const nft = /\bdport\s+(\{[^}]*\}|\S+)/.exec(text);
  const legacy = /--dports?\s+(\S+)/.exec(text);
  const spec = nft?.[1] ?? legacy?.[1];
  if (spec === undefined) return undefined;
  const out: Array<[number, number]> = [];
  for (const part of spec
    .replace(/[{}]/g, "")
    .split(/[\s,]+/)
    .filter(Boolean)) {
    const m = /^(\d+)(?:[-:](\d+))?$/.exec(part);
    if (m) out.push([Number(m[1]), Number(m[2] ?? m[1])]);
    else if (NAMED_PORTS[part] !== undefined) out.push([NAMED_PORTS[part]!, NAMED_PORTS[part]!]);
  }
  return out;
}

/** The service names nft and iptables print instead of numbers (nft -n is not used: ufw's names stay readable). */
const NAMED_PORTS: Record<string, number> = {
  ftp: 21,
  "ftp-data": 20,
  ssh: 22,
  smtp: 25,
  domain: 53,
  http: 80,
  https: 443,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  submission: 587,
  sip: 5060,
  tftp: 69,
  ntp: 123,
};

/**
 * The hooks each chain is reached from: a base chain its own hook, a regular chain every hook of
 * the chains that jump or go to it (same table), transitively. A chain nothing reaches has none.
 */
export function reachingHooks(chains: readonly AuditChain[]): Map<AuditChain, Set<string>> {
  const key = (c: { source: string; table: string; chain: string }) => `${c.source}|${c.table}|${c.chain}`;
  const byKey = new Map(chains.map((c) => [key(c), c]));
  const hooks = new Map<AuditChain, Set<string>>(chains.map((c) => [c, new Set(c.hook ? [c.hook] : [])]));
  const targets = (r: AuditRule): string[] => {
    const re = r.source === "nft" ? /\b(?:jump|goto)\s+(\S+)/g : /\s-[jg]\s+(\S+)/g;
    return [...r.text.matchAll(re)].map((m) => m[1]!.replace(/^"|"$/g, ""));
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const c of chains) {
      const from = hooks.get(c)!;
      if (from.size === 0) continue;
      for (const r of c.rules) {
        for (const t of targets(r)) {
          const target = byKey.get(key({ source: c.source, table: c.table, chain: t }));
          if (!target) continue;
          const to = hooks.get(target)!;
          for (const h of from) {
            if (!to.has(h)) {
              to.add(h);
              changed = true;
            }
          }
        }
      }
    }
  }
  return hooks;
}
