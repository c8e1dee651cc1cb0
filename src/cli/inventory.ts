/**
 * Hosts from an Ansible inventory, INI or YAML, since that is what fleets already have: each
 * host's name, and its ansible_host / ansible_port / ansible_user when set, and its own pinned
 * host key (hardened_nftables_host_key) when set. Groups, children and vars sections only organise
 * hosts; a host listed in several groups is read once.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { UsageError } from "./policy-file";

/** The per-host variable that pins a host's key ("ssh-ed25519 AAAA..." or "SHA256:..."), in place of --host-key. */
export const HOST_KEY_VAR = "hardened_nftables_host_key";

export interface InventoryHost {
  readonly name: string;
  /** [USER@]ADDR[:PORT], as --host takes it. */
  readonly spec: string;
  /** The host's own pinned key ({@link HOST_KEY_VAR}), when the inventory gives one. */
  readonly hostKey?: string;
}

function host(name: string, vars: Readonly<Record<string, unknown>>): InventoryHost {
  const key = vars[HOST_KEY_VAR];
  return { name, spec: spec(name, vars), ...(key !== undefined ? { hostKey: String(key) } : {}) };
}

/** `name k=v k="v w" k='v'` -> its words, quotes removed (Ansible's INI quotes a value with spaces). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /(?:[^\s"']+|"[^"]*"|'[^']*')+/g;
  for (const m of line.matchAll(re)) out.push(m[0]);
  return out;
}

const unquote = (value: string) => value.replace(/"([^"]*)"|'([^']*)'/g, (_m, d, q) => d ?? q);

function spec(name: string, vars: Readonly<Record<string, unknown>>): string {
  const addr = String(vars.ansible_host ?? vars.ansible_ssh_host ?? name);
  const user = vars.ansible_user ?? vars.ansible_ssh_user;
  const port = vars.ansible_port ?? vars.ansible_ssh_port;
  const host = addr.includes(":") && port !== undefined ? `[${addr}]` : addr;
  return `${user !== undefined ? `${String(user)}@` : ""}${host}${port !== undefined ? `:${String(port)}` : ""}`;
}

/** INI: `[group]` sections of `name key=value ...` lines; `[group:vars]` and `[group:children]` hold no hosts. */
export function parseIniInventory(text: string): InventoryHost[] {
  const hosts = new Map<string, InventoryHost>();
  let section = "ungrouped";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[;#].*$/, "").trim();
    if (line === "") continue;
    const head = /^\[([^\]]+)\]$/.exec(line);
    if (head) {
      section = head[1]!;
      continue;
    }
    if (section.includes(":")) continue;
    const [name, ...pairs] = words(line);
    if (!name || /\[.*:.*\]/.test(name))
      throw new Error(`inventory: host ranges like "${name}" are not supported; list the hosts`);
    const vars = Object.fromEntries(
      pairs
        .filter((p) => p.includes("="))
        .map((p) => [p.slice(0, p.indexOf("=")), unquote(p.slice(p.indexOf("=") + 1))]),
    );
    if (!hosts.has(name)) hosts.set(name, host(name, vars));
  }
  return [...hosts.values()];
}

/** YAML: `all: { hosts: { NAME: {vars} }, children: { GROUP: { hosts: ..., children: ... } } }`. */
export function parseYamlInventory(text: string): InventoryHost[] {
  const hosts = new Map<string, InventoryHost>();
  const walk = (group: unknown) => {
    if (group === null || typeof group !== "object") return;
    const g = group as { hosts?: Record<string, unknown>; children?: Record<string, unknown> };
    for (const [name, vars] of Object.entries(g.hosts ?? {})) {
      if (!hosts.has(name)) hosts.set(name, host(name, (vars ?? {}) as Record<string, unknown>));
    }
    for (const child of Object.values(g.children ?? {})) walk(child);
  };
  const doc = parseYaml(text) as unknown;
  if (doc === null || typeof doc !== "object") throw new Error("inventory: expected a YAML mapping of groups");
  for (const group of Object.values(doc)) walk(group);
  return [...hosts.values()];
}

/** YAML when the text parses as a mapping with `hosts` or `children` under a group, else INI. */
export function parseInventory(text: string): InventoryHost[] {
  const looksYaml = /^[A-Za-z0-9_-]+:\s*$/m.test(text) && /^\s+(hosts|children):/m.test(text);
  return looksYaml ? parseYamlInventory(text) : parseIniInventory(text);
}

/** The hosts of the inventory file FILE; a file that cannot be read or parsed is a usage error naming --inventory. */
export function readInventory(file: string): InventoryHost[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--inventory: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseInventory(text);
  } catch (err) {
    throw new UsageError(`--inventory: ${(err as Error).message}`);
  }
}

/** The connection flags for one host: its spec as --host, and its own pinned key, when it has one, as --host-key. */
export function hostFlags<V extends { "host-key"?: string }>(values: V, h: InventoryHost): V & { host: string } {
  return { ...values, host: h.spec, ...(h.hostKey !== undefined ? { "host-key": h.hostKey } : {}) };
}

/**
 * A connection problem of one host of several, named after what gave the value: `--host NAME`
 * for its address, `--inventory NAME hardened_nftables_host_key` for a key the inventory gave.
 */
export function hostIssue<I extends { path: readonly PropertyKey[] }>(issue: I, h: InventoryHost, hosts: number): I {
  if (issue.path[0] === "--host" && hosts > 1) return { ...issue, path: [`--host ${h.name}`] };
  if (issue.path[0] === "--host-key" && h.hostKey !== undefined)
    return { ...issue, path: [`--inventory ${h.name} ${HOST_KEY_VAR}`] };
  return issue;
}
