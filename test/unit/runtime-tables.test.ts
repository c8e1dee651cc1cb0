/**
 * probe's recognition of the runtimes' own tables and chains, from what the real tools printed:
 * test/fixtures/runtimes/ holds `nft list tables` and `nft -j list chains` of
 * runtime-tables.nft loaded by nft 1.0.6, and iptables-legacy-save / ip6tables-legacy-save of
 * chains made by iptables-legacy 1.8.9 (each in a throwaway network namespace).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { describeRuntimeTable, guestInterfacesOf, guestsCutOff, runtimeTablesOf } from "../../src/host";
import { GuestsCutOffError } from "../../src/host/errors";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";

const FIXTURES = path.join(__dirname, "..", "fixtures", "runtimes");
const read = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const listing = {
  tables: read("nft-list-tables.txt"),
  chains: read("nft-j-list-chains.txt"),
  legacy4: read("iptables-legacy-save.txt"),
  legacy6: read("ip6tables-legacy-save.txt"),
};

describe("the runtimes' tables in nft's and iptables-legacy's listings", () => {
  it("names each runtime by its own table, its chains in iptables' tables, and its legacy chains", () => {
    const found = runtimeTablesOf(listing).map(describeRuntimeTableWithRuntime);
    expect(found).toEqual([
      "Docker: table ip docker-bridges",
      "Docker: table ip6 docker-bridges",
      "Podman: table inet netavark",
      "libvirt: table ip libvirt_network",
      "libvirt: table ip6 libvirt_network",
      "LXD: table inet lxd",
      "Incus: table inet incus",
      "kube-proxy: table ip kube-proxy",
      "kube-proxy: table ip6 kube-proxy",
      "firewalld: table inet firewalld",
      "Docker: table ip filter chain DOCKER",
      "Docker: table ip nat chain DOCKER",
      "Docker: iptables-legacy table nat chain DOCKER",
      "Docker: iptables-legacy table filter chain DOCKER",
      "libvirt: iptables-legacy table filter chain LIBVIRT_FWO",
      "kube-proxy: ip6tables-legacy table filter chain KUBE-FORWARD",
    ]);
    const filter = runtimeTablesOf(listing).find((t) => t.table === "filter" && !t.legacy);
    expect(filter).toMatchObject({ key: "docker", guests: true, family: "ip" });
    // the main chain first, every one of the runtime's chains kept
    expect(filter?.chains).toEqual(["DOCKER", "DOCKER-USER", "DOCKER-FORWARD", "DOCKER-ISOLATION-STAGE-1"]);
    expect(runtimeTablesOf(listing).find((t) => t.key === "firewalld")?.guests).toBe(false);
  });

  it("a host without them: none (iptables' own chains, other tables, this project's table)", () => {
    const plain = {
      tables: "table inet web\ntable ip filter\ntable inet fail2ban\n",
      chains: JSON.stringify({
        nftables: [
          { metainfo: { version: "1.0.6" } },
          { chain: { family: "ip", table: "filter", name: "FORWARD", handle: 1 } },
          { chain: { family: "ip", table: "filter", name: "f2b-sshd", handle: 2 } },
          // a chain named like Docker's in a table that is not iptables': not Docker's
          { chain: { family: "inet", table: "web", name: "DOCKER", handle: 3 } },
        ],
      }),
      legacy4: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
    };
    expect(runtimeTablesOf(plain)).toEqual([]);
    expect(runtimeTablesOf({ tables: "" })).toEqual([]);
  });

  it("an nft without JSON (chains unreadable): the runtimes' own tables are still found", () => {
    expect(runtimeTablesOf({ tables: listing.tables, chains: "Error: JSON support not compiled-in" })).toHaveLength(10);
  });
});

describe("the refusal names each guest interface with its runtime's table", () => {
  const facts = {
    interfaces: ["eth0", "docker0", "br-3f2a9c1d", "virbr0", "cni0"].map((name) => ({ name, addresses: [] })),
    runtimeTables: runtimeTablesOf({ tables: "table ip filter\ntable ip nat\n", chains: listing.chains }),
  };
  it("docker0 (Docker: table ip nat chain DOCKER); no evidence for a runtime whose tables are absent", () => {
    expect(guestInterfacesOf(facts)).toEqual([
      { name: "docker0", runtime: "Docker", evidence: "table ip nat chain DOCKER" },
      { name: "br-3f2a9c1d", runtime: "Docker, a user-defined network", evidence: "table ip nat chain DOCKER" },
      { name: "virbr0", runtime: "libvirt" },
      { name: "cni0", runtime: "Kubernetes, a CNI bridge" },
    ]);
    const withOwnTable = guestInterfacesOf({ ...facts, runtimeTables: runtimeTablesOf(listing) });
    expect(withOwnTable.find((g) => g.name === "virbr0")?.evidence).toBe("table ip libvirt_network");
    // Docker's own nftables table is named before its chains in iptables' tables
    expect(withOwnTable.find((g) => g.name === "docker0")?.evidence).toBe("table ip docker-bridges");
    expect(withOwnTable.find((g) => g.name === "cni0")?.evidence).toBe("table ip kube-proxy");

    const cut = guestsCutOff(renderPolicy(assertPolicy({ exposures: [{ service: "ssh" }] })), facts);
    const message = new GuestsCutOffError("root@198.18.0.10:22", "web", cut).message;
    expect(message).toContain("docker0 (Docker: table ip nat chain DOCKER)");
    expect(message).toContain("virbr0 (libvirt),");
    expect(message).toContain("forward.guestInterfaces");
  });
});

function describeRuntimeTableWithRuntime(t: Parameters<typeof describeRuntimeTable>[0]): string {
  return `${t.runtime}: ${describeRuntimeTable(t)}`;
}
