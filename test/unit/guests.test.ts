/** Which running runtimes a forward drop would cut off, from the interfaces probe reports. */
import { describe, expect, it } from "vitest";
import { guestInterfacesOf, guestsCutOff } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";

const facts = {
  interfaces: ["lo", "eth0", "docker0", "br-3f2a9c1d", "virbr0", "veth12ab", "bridge0"].map((name) => ({
    name,
    addresses: [],
  })),
};
const artefacts = (forward: Record<string, unknown>) =>
  renderPolicy(assertPolicy({ exposures: [{ service: "ssh" }], forward }));

describe("guest runtimes on the host", () => {
  it("recognises Docker's and libvirt's bridges, not other interfaces", () => {
    expect(guestInterfacesOf(facts)).toEqual([
      { name: "docker0", runtime: "Docker" },
      { name: "br-3f2a9c1d", runtime: "Docker, a user-defined network" },
      { name: "virbr0", runtime: "libvirt" },
    ]);
  });

  it("a forward drop without guestInterfaces cuts them off; declared guests or forward accept do not", () => {
    expect(guestsCutOff(artefacts({ policy: "drop" }), facts).map((g) => g.name)).toEqual([
      "docker0",
      "br-3f2a9c1d",
      "virbr0",
    ]);
    expect(guestsCutOff(artefacts({ policy: "drop", guestInterfaces: ["docker0"] }), facts)).toEqual([]);
    expect(guestsCutOff(artefacts({ policy: "accept" }), facts)).toEqual([]);
    expect(guestsCutOff(artefacts({ policy: "drop" }), { interfaces: [{ name: "eth0", addresses: [] }] })).toEqual([]);
  });
});
