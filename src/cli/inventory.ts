/**
 * Hosts from an Ansible inventory, INI or YAML, since that is what fleets already have: each
 * host's name, and its ansible_host / ansible_port / ansible_user when set. Groups, children and
 * vars sections only organise hosts; a host listed in several groups is audited once.
 */
import { parse as parseYaml } from "yaml";

export interface InventoryHost {
  readonly name: string;
  /** [USER@]ADDR[:PORT], as --host takes it. */
  readonly spec: string;
}

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
    const [name, ...pairs] = line.split(/\s+/);
    if (!name || /\[.*:.*\]/.test(name))
      throw new Error(`inventory: host ranges like "${name}" are not supported; list the hosts`);
    const vars = Object.fromEntries(pairs.map((p) => p.split("=", 2)).filter((kv) => kv.length === 2));
    if (!hosts.has(name)) hosts.set(name, { name, spec: spec(name, vars) });
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
      if (!hosts.has(name)) hosts.set(name, { name, spec: spec(name, (vars ?? {}) as Record<string, unknown>) });
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
