/**
 * The tables and chains container and VM runtimes (and firewalld) create on a host, recognised in
 * what probe reads: `nft list tables`, `nft -j list chains`, and the iptables-legacy chains when
 * the legacy tables are in use (`iptables-legacy-save`, `ip6tables-legacy-save`). Reported, and
 * named as the evidence in apply's refusal to cut running guests off; never touched.
 *
 * Where each name comes from (each runtime's own source or documentation):
 * - Docker through iptables(-nft): chains DOCKER, DOCKER-USER, DOCKER-FORWARD, DOCKER-BRIDGE,
 *   DOCKER-CT, DOCKER-INTERNAL, DOCKER-ISOLATION-STAGE-1/2 in the filter and nat tables
 *   (moby/moby integration/network/bridge/iptablesdoc/generated/new-daemon.md).
 * - Docker 29+ with `--firewall-backend=nftables`: tables `ip docker-bridges`, `ip6 docker-bridges`
 *   (docker/docs content/manuals/engine/network/firewall-nftables.md, "Docker's nftables tables").
 * - Podman's netavark: table `inet netavark` (containers/netavark src/firewall/nft.rs,
 *   `TABLENAME = "netavark"`); its iptables driver's chains NETAVARK_FORWARD, NETAVARK-HOSTPORT-DNAT...
 * - CNI plugins (Podman before netavark, Kubernetes bridge networks): chains CNI-FORWARD,
 *   CNI-HOSTPORT-DNAT, CNI-<id>...
 * - libvirt: tables `ip libvirt_network`, `ip6 libvirt_network` (libvirt src/network/network_nftables.c,
 *   `VIR_NFTABLES_PRIVATE_TABLE "libvirt_network"`); its iptables backend's chains LIBVIRT_INP,
 *   LIBVIRT_OUT, LIBVIRT_FWI, LIBVIRT_FWO, LIBVIRT_FWX, LIBVIRT_PRT.
 * - LXD: table `inet lxd`; Incus: table `inet incus` (lxd/firewall/drivers/drivers_nftables.go and
 *   incus internal/server/firewall/drivers/drivers_nftables.go, `nftablesNamespace`).
 * - kube-proxy in nftables mode: tables `ip kube-proxy`, `ip6 kube-proxy` (kubernetes
 *   pkg/proxy/nftables/proxier.go, `kubeProxyTable = "kube-proxy"`); in iptables mode its chains
 *   KUBE-SERVICES, KUBE-FORWARD, KUBE-NODEPORTS, KUBE-POSTROUTING...
 * - firewalld's nftables backend: table `inet firewalld` (and `inet firewalld_policy_drop`)
 *   (firewalld src/firewall/core/nftables.py, `TABLE_NAME = "firewalld"`).
 */

/** Who created a table or chain. `guests`: the runtime runs containers or VMs (a forward drop cuts them off). */
export interface Runtime {
  readonly key: "docker" | "podman" | "cni" | "libvirt" | "lxd" | "incus" | "kubernetes" | "firewalld";
  readonly name: string;
  readonly guests: boolean;
}

export const RUNTIMES = {
  docker: { key: "docker", name: "Docker", guests: true },
  podman: { key: "podman", name: "Podman", guests: true },
  cni: { key: "cni", name: "CNI", guests: true },
  libvirt: { key: "libvirt", name: "libvirt", guests: true },
  lxd: { key: "lxd", name: "LXD", guests: true },
  incus: { key: "incus", name: "Incus", guests: true },
  kubernetes: { key: "kubernetes", name: "kube-proxy", guests: true },
  firewalld: { key: "firewalld", name: "firewalld", guests: false },
} as const satisfies Record<Runtime["key"], Runtime>;

/** Tables a runtime owns outright, by family and name. */
export const RUNTIME_TABLES: readonly { readonly family: string; readonly table: string; readonly runtime: Runtime }[] =
  [
    { family: "ip", table: "docker-bridges", runtime: RUNTIMES.docker },
    { family: "ip6", table: "docker-bridges", runtime: RUNTIMES.docker },
    { family: "inet", table: "netavark", runtime: RUNTIMES.podman },
    { family: "ip", table: "libvirt_network", runtime: RUNTIMES.libvirt },
    { family: "ip6", table: "libvirt_network", runtime: RUNTIMES.libvirt },
    { family: "inet", table: "lxd", runtime: RUNTIMES.lxd },
    { family: "inet", table: "incus", runtime: RUNTIMES.incus },
    { family: "ip", table: "kube-proxy", runtime: RUNTIMES.kubernetes },
    { family: "ip6", table: "kube-proxy", runtime: RUNTIMES.kubernetes },
    { family: "inet", table: "firewalld", runtime: RUNTIMES.firewalld },
    { family: "inet", table: "firewalld_policy_drop", runtime: RUNTIMES.firewalld },
  ];

/**
 * Chains a runtime adds to the shared iptables tables (filter, nat, mangle, raw: `ip`/`ip6` tables
 * of iptables-nft, or the legacy tables): the exact name, or a prefix ending in "-" or "_".
 */
export const RUNTIME_CHAINS: readonly { readonly chain: string; readonly runtime: Runtime }[] = [
  { chain: "DOCKER", runtime: RUNTIMES.docker },
  { chain: "DOCKER-", runtime: RUNTIMES.docker },
  { chain: "NETAVARK_", runtime: RUNTIMES.podman },
  { chain: "NETAVARK-", runtime: RUNTIMES.podman },
  { chain: "CNI-", runtime: RUNTIMES.cni },
  { chain: "LIBVIRT_", runtime: RUNTIMES.libvirt },
  { chain: "KUBE-", runtime: RUNTIMES.kubernetes },
];

/** The shared tables iptables uses (`iptables-nft` creates them as ip/ip6 tables of these names). */
const IPTABLES_TABLES = new Set(["filter", "nat", "mangle", "raw", "security"]);

/** One table of a runtime, or one shared iptables table holding a runtime's chains. */
export interface RuntimeTable {
  /** "Docker", "libvirt", ... */
  readonly runtime: string;
  readonly key: Runtime["key"];
  /** Whether the runtime runs guests (containers, VMs) whose forwarding a drop would cut. */
  readonly guests: boolean;
  /** "ip", "ip6", "inet"; with legacy, the iptables family ("ip" for iptables, "ip6" for ip6tables). */
  readonly family: string;
  readonly table: string;
  /** The runtime's chains in a shared iptables table (the runtime's own tables: none listed). */
  readonly chains: readonly string[];
  /** true: an iptables-legacy table (not nftables). */
  readonly legacy: boolean;
}

function chainRuntime(chain: string): Runtime | undefined {
  return RUNTIME_CHAINS.find((c) =>
    c.chain.endsWith("-") || c.chain.endsWith("_") ? chain.startsWith(c.chain) : chain === c.chain,
  )?.runtime;
}

/** "table ip nat chain DOCKER", "table inet netavark", "iptables-legacy table filter chain DOCKER". */
export function describeRuntimeTable(t: RuntimeTable): string {
  const where = t.legacy
    ? `${t.family === "ip6" ? "ip6tables" : "iptables"}-legacy table ${t.table}`
    : `table ${t.family} ${t.table}`;
  return t.chains.length > 0 ? `${where} chain ${t.chains[0]}` : where;
}

/** `nft list tables` lines ("table ip nat") as [family, name]. */
function tablesOf(listing: string): [string, string][] {
  return listing
    .split("\n")
    .map((l) => /^\s*table\s+(\S+)\s+(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!]);
}

/** `nft -j list chains` as [family, table, chain]; anything else (an nft without JSON) gives none. */
function chainsOfJson(json: string): [string, string, string][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return [];
  }
  const items = (parsed as { nftables?: unknown })?.nftables;
  if (!Array.isArray(items)) return [];
  return items.flatMap((item) => {
    const c = (item as { chain?: { family?: unknown; table?: unknown; name?: unknown } })?.chain;
    return c && typeof c.family === "string" && typeof c.table === "string" && typeof c.name === "string"
      ? [[c.family, c.table, c.name] as [string, string, string]]
      : [];
  });
}

/** `iptables-legacy-save` output as [table, chain] ("*nat" opens a table, ":DOCKER - [0:0]" names a chain). */
function chainsOfSave(save: string): [string, string][] {
  const out: [string, string][] = [];
  let table = "";
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    else if (line.startsWith(":") && table) {
      const chain = line.slice(1).split(/\s+/)[0];
      if (chain) out.push([table, chain]);
    }
  }
  return out;
}

function byRuntimeAndTable(
  found: readonly { runtime: Runtime; family: string; table: string; chain?: string; legacy: boolean }[],
): RuntimeTable[] {
  const tables = new Map<
    string,
    { runtime: Runtime; family: string; table: string; chains: string[]; legacy: boolean }
  >();
  for (const f of found) {
    const id = `${f.runtime.key} ${f.legacy} ${f.family} ${f.table}`;
    const entry = tables.get(id) ?? {
      runtime: f.runtime,
      family: f.family,
      table: f.table,
      chains: [],
      legacy: f.legacy,
    };
    tables.set(id, entry);
    if (f.chain && !entry.chains.includes(f.chain)) entry.chains.push(f.chain);
  }
  return [...tables.values()].map((t) => ({
    runtime: t.runtime.name,
    key: t.runtime.key,
    guests: t.runtime.guests,
    family: t.family,
    table: t.table,
    // the runtime's main chain first ("DOCKER" before "DOCKER-USER"), then by name
    chains: t.chains.sort((a, b) => a.length - b.length || a.localeCompare(b)),
    legacy: t.legacy,
  }));
}

/**
 * The runtimes' tables among what the host listed: `tables` is `nft list tables`, `chains` is
 * `nft -j list chains` (empty when nft has no JSON: the runtimes' own tables are still found),
 * `legacy4`/`legacy6` are `iptables-legacy-save`/`ip6tables-legacy-save` (empty when the legacy
 * tables are not in use).
 */
export function runtimeTablesOf(listing: {
  readonly tables: string;
  readonly chains?: string;
  readonly legacy4?: string;
  readonly legacy6?: string;
}): RuntimeTable[] {
  const found: { runtime: Runtime; family: string; table: string; chain?: string; legacy: boolean }[] = [];
  for (const [family, table] of tablesOf(listing.tables)) {
    const own = RUNTIME_TABLES.find((t) => t.family === family && t.table === table);
    if (own) found.push({ runtime: own.runtime, family, table, legacy: false });
  }
  for (const [family, table, chain] of chainsOfJson(listing.chains ?? "")) {
    if ((family !== "ip" && family !== "ip6") || !IPTABLES_TABLES.has(table)) continue;
    const runtime = chainRuntime(chain);
    if (runtime) found.push({ runtime, family, table, chain, legacy: false });
  }
  for (const [family, save] of [
    ["ip", listing.legacy4 ?? ""],
    ["ip6", listing.legacy6 ?? ""],
  ] as const) {
    for (const [table, chain] of chainsOfSave(save)) {
      const runtime = chainRuntime(chain);
      if (runtime) found.push({ runtime, family, table, chain, legacy: true });
    }
  }
  return byRuntimeAndTable(found);
}
