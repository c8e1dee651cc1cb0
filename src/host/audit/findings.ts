/**
 * Judging a host from what the audit script gathered: pure functions from the gathered text to
 * findings, each with its evidence (the rule with its table and chain, the file and line, the
 * knob and its value) and what to do. Nothing here touches a host.
 */
import { driftEvidence, type ManagedTableDrift, managedTableDrift } from "./managed-drift";
import { type AuditChain, type AuditRule, parseIptablesSave, parseNftRuleset, reachingHooks, rulePorts } from "./rules";

export const SEVERITIES = ["info", "low", "medium", "high"] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  /** Stable id, the SARIF rule id: helper-auto-assign, related-accept, ... */
  readonly id: string;
  readonly severity: Severity;
  readonly host: string;
  readonly title: string;
  /** Exact quotes: `inet filter/input line 12: <the rule as nft lists it>`, `/etc/sysctl.conf:4: ...`. */
  readonly evidence: readonly string[];
  readonly remedy: string;
  /** A file and line on the host, when the finding comes from one (SARIF location). */
  readonly location?: { readonly file: string; readonly line: number };
}

export interface Listener {
  readonly proto: "tcp" | "udp";
  readonly address: string;
  readonly port: number;
  readonly process?: string;
}

/** What the audit script printed, by name (its values and sections). */
export interface AuditGathered {
  readonly values: Readonly<Record<string, string>>;
  readonly sections: Readonly<Record<string, string>>;
}

export interface HostAuditFacts {
  readonly kernel: string;
  readonly helperSysctl: string;
  readonly helperParam: string;
  readonly helperModules: readonly string[];
  readonly chains: readonly AuditChain[];
  readonly legacyRuleCount: number;
  readonly conntrackHelpers: readonly string[];
  readonly listeners: readonly Listener[];
  readonly helperSettings: readonly string[];
  readonly bootFlushes: readonly string[];
  readonly managedTables: readonly string[];
  /** Each managed table against the listing its last committed apply recorded. */
  readonly managedDrift: readonly ManagedTableDrift[];
  readonly firewalld: string;
  readonly ufw: string;
  readonly ufwConf: string;
  readonly nftablesService: string;
  readonly docker: string;
  /** vsftpd settings "file:line:key=value". */
  readonly ftpConfig: readonly string[];
}

const lines = (text: string | undefined): string[] =>
  (text ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** `ss -H -l -n -t -u -p` lines. */
export function parseListeners(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of lines(text)) {
    const cols = line.split(/\s+/);
    const proto = cols[0];
    if (proto !== "tcp" && proto !== "udp") continue;
    const local = cols[4] ?? "";
    const m = /^(.*):(\d+)$/.exec(local);
    if (!m) continue;
    const address = m[1]!.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
    const process = /users:\(\("([^"]+)"/.exec(line)?.[1];
    out.push({ proto, address, port: Number(m[2]), ...(process ? { process } : {}) });
  }
  return out;
}

export function factsFromGathered(g: AuditGathered): HostAuditFacts {
  const v = g.values;
  const s = g.sections;
  const legacy = [
    ...parseIptablesSave(s["iptables-legacy-save"] ?? "", "iptables-legacy"),
    ...parseIptablesSave(s["ip6tables-legacy-save"] ?? "", "ip6tables-legacy"),
  ];
  return {
    kernel: v.kernel ?? "",
    helperSysctl: (v.helperSysctl ?? "absent").trim(),
    helperParam: (v.helperParam ?? "absent").trim(),
    helperModules: (v.helperModules ?? "").split(/\s+/).filter(Boolean),
    chains: [...parseNftRuleset(s.ruleset ?? ""), ...legacy],
    legacyRuleCount: legacy.reduce((n, c) => n + c.rules.length, 0),
    conntrackHelpers: lines(s.conntrack),
    listeners: parseListeners(s.listen ?? ""),
    helperSettings: lines(s.settings),
    bootFlushes: lines(s.boot),
    managedTables: lines(s.managed),
    managedDrift: lines(s.managed).map((t) => managedTableDrift(t, s)),
    firewalld: v.firewalld ?? "none",
    ufw: v.ufw ?? "none",
    ufwConf: (v.ufwConf ?? "").trim(),
    nftablesService: v.nftablesService ?? "none",
    docker: v.docker ?? "none",
    ftpConfig: lines(s.ftp),
  };
}

/** `inet filter/input line 12: <the rule as nft lists it>` (legacy: `iptables-legacy filter/INPUT line 9: -A ...`). */
export function quote(rule: AuditRule): string {
  const where = rule.source === "nft" ? `${rule.table}/${rule.chain}` : `${rule.source} ${rule.table}/${rule.chain}`;
  return `${where} line ${rule.line}: ${rule.text}`;
}

const kernelBefore6 = (kernel: string): boolean => {
  const m = /^(\d+)\./.exec(kernel);
  return m !== null && Number(m[1]) < 6;
};

const isManaged = (rule: { table: string; source: string }, facts: HostAuditFacts) =>
  rule.source === "nft" && facts.managedTables.some((t) => rule.table === `inet ${t}`);

/** A related accept limited to ICMP errors or to one scoped helper is safe; anything else is not. */
export function isBlanketRelatedAccept(rule: AuditRule): boolean {
  const t = rule.text;
  if (rule.source === "nft") {
    if (!/\bct state\b[^a-z]*[^;]*\brelated\b/.test(t) || !/\baccept\b/.test(t)) return false;
    return !/\bicmp(v6)? type\b|\bl4proto (\{[^}]*\}|icmp|ipv6-icmp)|\bip6? protocol icmp|\bct helper "/.test(t);
  }
  if (!/--(ct)?state\s+\S*RELATED/.test(t) || !/-j ACCEPT\b/.test(t)) return false;
  return !/-p (icmp|ipv6-icmp|icmpv6)\b|-m helper\b/.test(t);
}

export function isHelperAttach(rule: AuditRule): boolean {
  return rule.source === "nft" ? /\bct helper set\b/.test(rule.text) : /-j CT\b.*--helper\b/.test(rule.text);
}

const isFilterInput = (c: AuditChain) => c.hook === "input" && (c.source === "nft" || c.table === "filter");
const families = (c: AuditChain): Array<"ip" | "ip6"> =>
  c.family === "inet" ? ["ip", "ip6"] : c.family === "ip" ? ["ip"] : c.family === "ip6" ? ["ip6"] : [];

/** Whether a base input chain drops what no rule admits (policy drop, or a last rule that drops or rejects everything). */
function chainFilters(c: AuditChain): boolean {
  if (c.policy === "drop") return true;
  const last = c.rules.at(-1)?.text ?? "";
  return /^(counter( packets \d+ bytes \d+)? )?(drop|reject)\b/.test(last) || /^-A \S+ -j (DROP|REJECT)\b/.test(last);
}

const LOOPBACK = (address: string) => address === "127.0.0.1" || address === "::1" || address.startsWith("127.");

/** Whether some accept rule in a filtering input chain of this family admits the port from any source. */
function admittedFromAnywhere(l: Listener, chains: readonly AuditChain[], family: "ip" | "ip6"): AuditRule | undefined {
  const reach = reachingHooks(chains);
  const fromInput = (c: AuditChain) =>
    reach.get(c)?.has("input") === true && (c.source === "nft" || c.table === "filter");
  for (const c of chains.filter((c) => fromInput(c) && families(c).includes(family))) {
    for (const r of c.rules) {
      if (!/\baccept\b|-j ACCEPT\b/.test(r.text)) continue;
      if (/\b(saddr|iifname|iif)\b|\s-s\s|\s-i\s/.test(r.text)) continue;
      if (!new RegExp(`\\b${l.proto}\\b|-p ${l.proto}\\b`).test(r.text)) continue;
      const ports = rulePorts(r.text);
      if (ports?.some(([a, b]) => l.port >= a && l.port <= b)) return r;
    }
  }
  return undefined;
}

/** Every finding for one host, most severe first. */
export function judge(host: string, facts: HostAuditFacts): Finding[] {
  const out: Finding[] = [];
  const add = (f: Omit<Finding, "host">) => out.push({ host, ...f });
  const rules = facts.chains.flatMap((c) => c.rules);

  // Helpers: what can attach one, what does, and what carries one now.
  const autoAssign =
    kernelBefore6(facts.kernel) &&
    (facts.helperSysctl === "1" || facts.helperParam === "1" || facts.helperParam === "Y");
  if (autoAssign) {
    const setting = facts.helperSettings.find((s) => /nf_conntrack_helper\s*=?\s*1\b/.test(s));
    add({
      id: "helper-auto-assign",
      severity: "high",
      title:
        "automatic helper assignment is on: every connection to a helper's port gets the helper, whatever the ruleset says",
      evidence: [
        `kernel ${facts.kernel}`,
        ...(facts.helperSysctl === "1" ? ["net.netfilter.nf_conntrack_helper = 1"] : []),
        ...(facts.helperParam === "1" || facts.helperParam === "Y"
          ? [`nf_conntrack parameter nf_conntrack_helper = ${facts.helperParam}`]
          : []),
        ...(setting ? [setting] : []),
      ],
      remedy:
        "set net.netfilter.nf_conntrack_helper = 0 (sysctl.d) and options nf_conntrack nf_conntrack_helper=0 (modprobe.d); a HostFirewall does both",
      ...(setting ? { location: fileLine(setting) } : {}),
    });
  }
  const helperModules = facts.helperModules.filter((m) =>
    /^nf_(conntrack|nat)_(ftp|sip|h323|irc|tftp|amanda|pptp|snmp|netbios_ns|sane|broadcast)/.test(m),
  );
  if (helperModules.length > 0) {
    add({
      id: "helper-modules-loaded",
      severity: facts.managedTables.length > 0 ? "info" : "low",
      title: "connection-tracking helper modules are loaded",
      evidence: helperModules.map((m) => `module ${m} loaded`),
      remedy:
        "deny the modules no scoped exposure needs (install MODULE /bin/false in modprobe.d); a HostFirewall writes that list",
    });
  }
  const attaching = rules.filter(isHelperAttach);
  const foreignAttach = attaching.filter((r) => !isManaged(r, facts));
  for (const r of foreignAttach) {
    add({
      id: "helper-attached",
      severity: "medium",
      title: "a rule attaches a connection-tracking helper",
      evidence: [quote(r)],
      remedy:
        'attach a helper only to traffic of a scoped exposure and accept its related traffic only for that helper\'s range (ct helper "NAME"), as a HostFirewall does',
    });
  }
  for (const r of attaching.filter((r) => isManaged(r, facts))) {
    add({
      id: "helper-attached-scoped",
      severity: "info",
      title: "this project's table attaches a scoped helper",
      evidence: [quote(r)],
      remedy: "none: its related accept is limited to that helper",
    });
  }
  if (facts.conntrackHelpers.length > 0) {
    add({
      id: "helper-connections",
      severity: "medium",
      title: `${facts.conntrackHelpers.length} tracked connection(s) carry a helper right now`,
      evidence: facts.conntrackHelpers.slice(0, 5).map((l) => `conntrack: ${l}`),
      remedy:
        "after the helper is no longer attached, flush these (conntrack -D --helper NAME); apply of a HostFirewall does it",
    });
  }

  // Related accepts: high when a helper can attach (by the kernel or by a rule).
  const helperCanAttach = autoAssign || foreignAttach.length > 0;
  const reach = reachingHooks(facts.chains);
  // A related accept matters where inbound traffic passes: chains reached from input or forward
  // (ufw's before-output has one too: it opens nothing). A chain nothing reaches is judged as if reached.
  const inbound = (r: AuditRule) => {
    const chain = facts.chains.find((c) => c.rules.includes(r));
    const hooks = chain ? reach.get(chain) : undefined;
    return !hooks || hooks.size === 0 || hooks.has("input") || hooks.has("forward") || hooks.has("prerouting");
  };
  for (const r of rules.filter((r) => isBlanketRelatedAccept(r) && inbound(r))) {
    add({
      id: "related-accept",
      severity: helperCanAttach ? "high" : "medium",
      title: helperCanAttach
        ? "blanket related accept while a helper can attach: a forged FTP PORT or SIP message opens any port"
        : "blanket related accept: any helper attached later (a module load, a rule, another tool) opens ports through it",
      evidence: [
        quote(r),
        ...(helperCanAttach
          ? [autoAssign ? "helper auto-assignment is on" : `helper attached by ${quote(foreignAttach[0]!)}`]
          : []),
      ],
      remedy:
        'accept related only for ICMP errors, and for each helper only the traffic its exposure scopes (ct state related ct helper "ftp" ... ); a HostFirewall renders exactly that',
    });
  }

  // Input filtering per family, and what listens from anywhere.
  for (const family of ["ip", "ip6"] as const) {
    const inputs = facts.chains.filter((c) => isFilterInput(c) && families(c).includes(family));
    const filtered = inputs.some(chainFilters);
    const exposed = facts.listeners.filter(
      (l) =>
        !LOOPBACK(l.address) &&
        (family === "ip6"
          ? l.address.includes(":") || l.address === "*"
          : !l.address.includes(":") || l.address === "*" || l.address === "::"),
    );
    if (!filtered) {
      add({
        id: "input-open",
        severity: exposed.length > 0 ? "medium" : "low",
        title: `${family === "ip" ? "IPv4" : "IPv6"} input is not filtered by default: what no rule refuses is accepted`,
        evidence:
          inputs.length === 0
            ? [`no ${family === "ip" ? "IPv4" : "IPv6"} input base chain in any table`]
            : inputs.map(
                (c) =>
                  `${c.source === "nft" ? c.table : `${c.source} ${c.table}`}/${c.chain}: hook input, policy ${c.policy ?? "accept"}`,
              ),
        remedy: "a default-drop input chain for both families (an inet table: a HostFirewall's)",
      });
      for (const l of exposed) {
        add({
          id: "listener-open",
          severity: "medium",
          title: `${l.proto}/${l.port} listens on ${l.address}${l.process ? ` (${l.process})` : ""} and ${family === "ip" ? "IPv4" : "IPv6"} admits it from anywhere`,
          evidence: [`listening ${l.proto} ${l.address}:${l.port}${l.process ? ` ${l.process}` : ""}`],
          remedy: "declare it as an exposure with the sources that need it, or bind it to loopback",
        });
      }
    } else {
      for (const l of exposed) {
        const rule = admittedFromAnywhere(l, facts.chains, family);
        if (rule && !isManaged(rule, facts)) {
          add({
            id: "listener-open",
            severity: "info",
            title: `${l.proto}/${l.port} (${l.process ?? "listener"}) is admitted from anywhere over ${family === "ip" ? "IPv4" : "IPv6"}`,
            evidence: [`listening ${l.proto} ${l.address}:${l.port}`, quote(rule)],
            remedy: "if it is not meant for everyone, restrict its sources",
          });
        }
      }
    }
  }

  // What will undo a managed table.
  const flushAtBoot = facts.bootFlushes.length > 0 && /^enabled/.test(facts.nftablesService);
  for (const f of flushAtBoot ? facts.bootFlushes : []) {
    add({
      id: "boot-flush",
      severity: facts.managedTables.length > 0 ? "medium" : "low",
      title: "nftables.service loads a ruleset with `flush ruleset` at boot: any table loaded before it is gone",
      evidence: [f, `nftables.service ${facts.nftablesService}`],
      remedy:
        "replace `flush ruleset` with `destroy table`/`delete table` of its own tables, or disable nftables.service when a HostFirewall owns the firewall",
      location: fileLine(f),
    });
  }
  for (const [tool, state] of [
    ["firewalld", facts.firewalld],
    ["ufw", facts.ufw],
  ] as const) {
    const enabled =
      /^enabled/.test(state) || / active$/.test(state) || (tool === "ufw" && /^yes$/i.test(facts.ufwConf));
    if (!enabled) continue;
    add({
      id: "firewall-manager",
      severity: "medium",
      title: `${tool} is enabled: it rewrites its own rules at every reload and keeps its blanket related accept`,
      evidence: [
        `${tool}.service ${state}${tool === "ufw" && facts.ufwConf ? `, /etc/ufw/ufw.conf ENABLED=${facts.ufwConf}` : ""}`,
      ],
      remedy: `disable ${tool} when a HostFirewall owns the host's firewall (two managers each accept what the other refuses)`,
    });
  }
  if (facts.legacyRuleCount > 0) {
    add({
      id: "iptables-legacy",
      severity: "medium",
      title: `${facts.legacyRuleCount} iptables-legacy rule(s): evaluated beside nft's tables and invisible to nft`,
      evidence: facts.chains
        .filter((c) => c.source !== "nft")
        .flatMap((c) => c.rules)
        .slice(0, 5)
        .map(quote),
      remedy:
        "move them into nftables (iptables-legacy-save | iptables-restore-translate) or remove them; a packet must pass both",
    });
  }

  // Published container ports: DNAT before any filter that only guards input.
  const dnat = rules.filter(
    (r) =>
      (r.hook === "prerouting" || r.chain.startsWith("DOCKER") || /^-A DOCKER\b/.test(r.text)) &&
      /\bdnat\b|-j DNAT\b/.test(r.text),
  );
  const forwardFilter = facts.chains.some(
    (c) => c.hook === "forward" && chainFilters(c) && !/docker/i.test(c.chain) && !isManaged(c, facts),
  );
  for (const r of dnat.slice(0, 20)) {
    add({
      id: "published-port",
      severity: forwardFilter ? "low" : "medium",
      title: "a published (DNAT) port is forwarded before any input filter sees it",
      evidence: [quote(r)],
      remedy:
        "filter forwarded traffic too (a forward chain, or the runtime's DOCKER-USER chain), or publish on 127.0.0.1 only",
    });
  }

  for (const t of facts.managedTables) {
    const drift = facts.managedDrift.find((d) => d.table === t);
    if (drift?.state === "drifted")
      add({
        id: "managed-table-drift",
        severity: "medium",
        title: `table inet ${t} of this project drifted from its last apply`,
        evidence: driftEvidence(host, drift),
        remedy:
          "re-apply its policy (hardened-nftables apply --policy ITS-POLICY --host ..., or pulumi up --refresh), or fold the change into the policy",
      });
    else
      add({
        id: "managed-table",
        severity: "info",
        title:
          drift?.state === "in-sync"
            ? `table inet ${t} of this project is in sync with its last apply`
            : `table inet ${t} of this project is on the host`,
        evidence: [
          `/etc/hardened-nftables/${t}.nft`,
          ...(drift?.state === "unrecorded" ? [`drift not judged: ${drift.reason}`] : []),
        ],
        remedy:
          drift?.state === "in-sync"
            ? "nothing; diff --policy also tells whether the policy changed since"
            : "check its drift with: hardened-nftables diff --policy ITS-POLICY --host ...",
      });
  }
  return out.sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity));
}

function fileLine(s: string): { file: string; line: number } | undefined {
  const m = /^([^:]+):(\d+):/.exec(s);
  return m ? { file: m[1]!, line: Number(m[2]) } : undefined;
}

export function atOrAbove(findings: readonly Finding[], severity: Severity): Finding[] {
  return findings.filter((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(severity));
}
