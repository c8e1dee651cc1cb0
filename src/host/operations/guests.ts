/**
 * Container and VM runtimes on the host, recognised by the interfaces they create. nftables runs
 * every table's forward chain and a drop in any of them is final, so a table whose forward chain
 * drops, with no guest networks declared, cuts every running guest off: refused before anything
 * changes, naming the interfaces and the field to set. Declaring forward.guestInterfaces (any
 * list: the operator has decided) or forward.policy accept overrides it. The runtime's own tables
 * (runtime-tables.ts), when probe found them, are named beside each interface as the evidence.
 */
import { interfaceCovers } from "../../fields/interfaces";
import type { Artefacts } from "../../render";
import type { HostFacts } from "./probe";
import { describeRuntimeTable, type Runtime } from "./runtime-tables";

/** Interface name patterns the runtimes create, with who creates them and whose tables show it. */
export const RUNTIME_INTERFACES: readonly {
  readonly pattern: string;
  readonly runtime: string;
  readonly tablesOf: readonly Runtime["key"][];
}[] = [
  { pattern: "docker0", runtime: "Docker", tablesOf: ["docker"] },
  { pattern: "br-*", runtime: "Docker, a user-defined network", tablesOf: ["docker"] },
  { pattern: "podman*", runtime: "Podman", tablesOf: ["podman", "cni"] },
  { pattern: "virbr*", runtime: "libvirt", tablesOf: ["libvirt"] },
  { pattern: "lxdbr*", runtime: "LXD", tablesOf: ["lxd"] },
  { pattern: "incusbr*", runtime: "Incus", tablesOf: ["incus"] },
  { pattern: "cni0", runtime: "Kubernetes, a CNI bridge", tablesOf: ["kubernetes", "cni"] },
];

export interface GuestInterface {
  readonly name: string;
  readonly runtime: string;
  /** The runtime's table or chain probe found on the host ("table ip nat chain DOCKER"), if any. */
  readonly evidence?: string;
}

/** The host's interfaces a container or VM runtime created, each with its runtime's table when probe found one. */
export function guestInterfacesOf(
  facts: Pick<HostFacts, "interfaces"> & Partial<Pick<HostFacts, "runtimeTables">>,
): GuestInterface[] {
  return facts.interfaces.flatMap((i) => {
    const known = RUNTIME_INTERFACES.find((r) => interfaceCovers(r.pattern, i.name));
    if (!known) return [];
    // the runtime's own nftables table first, then its chains in a shared table, nftables before legacy
    const tables = (facts.runtimeTables ?? [])
      .filter((t) => known.tablesOf.includes(t.key))
      .sort((a, b) => Number(a.legacy) - Number(b.legacy) || a.chains.length - b.chains.length);
    const evidence = tables[0] ? describeRuntimeTable(tables[0]) : undefined;
    return [{ name: i.name, runtime: known.runtime, ...(evidence ? { evidence } : {}) }];
  });
}

/** The runtime interfaces whose guests this table's forward drop would cut off. */
export function guestsCutOff(
  artefacts: Pick<Artefacts, "names">,
  facts: Pick<HostFacts, "interfaces"> & Partial<Pick<HostFacts, "runtimeTables">>,
): GuestInterface[] {
  const drop = artefacts.names.forwardDrop;
  if (!drop || drop.guestInterfaces) return [];
  return guestInterfacesOf(facts);
}
