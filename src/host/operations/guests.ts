/**
 * Container and VM runtimes on the host, recognised by the interfaces they create. nftables runs
 * every table's forward chain and a drop in any of them is final, so a table whose forward chain
 * drops, with no guest networks declared, cuts every running guest off: refused before anything
 * changes, naming the interfaces and the field to set. Declaring forward.guestInterfaces (any
 * list: the operator has decided) or forward.policy accept overrides it.
 */
import { interfaceCovers } from "../../fields/interfaces";
import type { Artefacts } from "../../render";
import type { HostFacts } from "./probe";

/** Interface name patterns the runtimes create, with who creates them. */
export const RUNTIME_INTERFACES: readonly { readonly pattern: string; readonly runtime: string }[] = [
  { pattern: "docker0", runtime: "Docker" },
  { pattern: "br-*", runtime: "Docker (a user-defined network)" },
  { pattern: "podman*", runtime: "Podman" },
  { pattern: "virbr*", runtime: "libvirt" },
  { pattern: "lxdbr*", runtime: "LXD" },
  { pattern: "incusbr*", runtime: "Incus" },
  { pattern: "cni0", runtime: "Kubernetes (a CNI bridge)" },
];

export interface GuestInterface {
  readonly name: string;
  readonly runtime: string;
}

/** The host's interfaces a container or VM runtime created. */
export function guestInterfacesOf(facts: Pick<HostFacts, "interfaces">): GuestInterface[] {
  return facts.interfaces.flatMap((i) => {
    const known = RUNTIME_INTERFACES.find((r) => interfaceCovers(r.pattern, i.name));
    return known ? [{ name: i.name, runtime: known.runtime }] : [];
  });
}

/** The runtime interfaces whose guests this table's forward drop would cut off. */
export function guestsCutOff(
  artefacts: Pick<Artefacts, "names">,
  facts: Pick<HostFacts, "interfaces">,
): GuestInterface[] {
  const drop = artefacts.names.forwardDrop;
  if (!drop || drop.guestInterfaces) return [];
  return guestInterfacesOf(facts);
}
