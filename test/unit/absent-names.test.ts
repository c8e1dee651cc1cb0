import { describe, expect, it } from "vitest";
import { absentNameWarnings } from "../../src/host/operations/absent-names";
import { interfacesFromOutput } from "../../src/host/operations/probe";
import { render } from "../../src/render";

// as the probe prints them on a lab host: /sys/class/net, then `ip -o addr show | awk`
const SECTION = [
  "link eth0",
  "link eth1",
  "link lo",
  "addr lo 127.0.0.1/8",
  "addr eth0 198.18.7.11/24",
  "addr eth0 198.18.7.100/24",
  "addr eth1 198.19.7.1/24",
  "addr eth0 2001:2:0:7::11/64",
  "addr eth0 fe80::1/64",
].join("\n");

describe("the host's interfaces and the names a policy uses", () => {
  const host = interfacesFromOutput(SECTION);

  it("the probe's section reads as interfaces with their addresses", () => {
    expect(host).toEqual([
      { name: "eth0", addresses: ["198.18.7.11/24", "198.18.7.100/24", "2001:2:0:7::11/64", "fe80::1/64"] },
      { name: "eth1", addresses: ["198.19.7.1/24"] },
      { name: "lo", addresses: ["127.0.0.1/8"] },
    ]);
  });

  it("warns about each interface and destination the host lacks, not about those it has", () => {
    const { names } = render({
      exposures: [
        { service: "ssh", interfaces: ["eth0", "wg0"] },
        {
          service: "https",
          interfaces: ["br-*"],
          destinations: ["198.18.7.100", "198.18.7.0/24", "2001:2:0:7::11", "198.18.8.1", "2001:2:0:9::/64"],
        },
      ],
      trustedInterfaces: ["eth*", "tun0"],
    });
    expect(absentNameWarnings(names, host)).toEqual([
      'interface "tun0" is not on the host (it has eth0, eth1, lo): its rules match nothing until it appears',
      'interface "wg0" is not on the host (it has eth0, eth1, lo): its rules match nothing until it appears',
      'interface "br-*" is not on the host (it has eth0, eth1, lo): its rules match nothing until it appears',
      "destination 198.18.8.1 is none of the host's addresses: its rules match nothing until the host has it",
      "destination 2001:2:0:9::/64 is none of the host's addresses: its rules match nothing until the host has it",
    ]);
  });

  it("says nothing when the probe found no interface at all", () => {
    const { names } = render({ exposures: [{ service: "ssh", interfaces: ["wg0"] }] });
    expect(absentNameWarnings(names, [])).toEqual([]);
  });
});
