/**
 * Proof (issue 20), libvirt-style: a bridge virbr0 on the server with dnsmasq serving DHCP and DNS
 * to a guest namespace behind it (no VM needed: the guest's side is what a VM's NIC would be), NAT
 * out through a table of its own as libvirt writes one, and our table APPLIED THROUGH THE HOST API
 * with forward.guestInterfaces and interface-scoped exposures for dns and dhcp on the bridge.
 *
 * The guest network is 198.18.252.0/24: the lab allocates 198.18.<slot>.0/24 for slots 1..250
 * only, and the bridge exists only inside the server's namespace. The guest namespace is ours:
 * afterAll deletes it, also after a failure.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabProcess } from "../support/lab";
import { bannerServer, waitListening } from "../support/lab-links";
import { requireRoot } from "../support/privileges";
import { applyToServer, createProofLab, destroyProofLab, type ProofLab, type ProofPolicy } from "../support/proof";

const NET = "198.18.252";
const EGRESS = 7100;

describe.runIf(requireRoot("proof libvirt-style", ["ip", "nft", "sshd", "python3", "dnsmasq", "busybox"]))(
  "proof: a libvirt-style bridge: the guest gets its lease, resolves and reaches out through the table",
  () => {
    let p: ProofLab;
    let guest = "";
    let peers: LabProcess[] = [];

    const inGuest = (script: string): string => {
      try {
        return execFileSync("ip", ["netns", "exec", guest, "sh", "-c", `${script} 2>&1`], {
          encoding: "utf8",
          timeout: 20_000,
        });
      } catch (e) {
        return `${(e as { stdout?: string }).stdout ?? ""} FAILED`;
      }
    };

    const policy = (dns: boolean): ProofPolicy => ({
      exposures: [
        { service: "ssh" },
        { name: "dhcp", protocol: "udp", ports: 67, interfaces: ["virbr0"] },
        ...(dns ? [{ service: "dns", interfaces: ["virbr0"] }] : []),
      ],
      forward: { policy: "drop", guestInterfaces: ["virbr*"] },
    });

    beforeAll(async () => {
      p = await createProofLab("proof-libvirt");
      guest = `hnftg${p.lab.slot}`;
      execFileSync("ip", ["netns", "add", guest]);
      await p.server.sh(
        [
          "ip link add virbr0 type bridge",
          `ip addr add ${NET}.1/24 dev virbr0`,
          "ip link set virbr0 up",
          `ip link add vnet0 type veth peer name eth0 netns ${guest}`,
          "ip link set vnet0 master virbr0 up",
          "sysctl -qw net.ipv4.ip_forward=1",
          // libvirt's own NAT table, as it writes one
          `nft add table ip libvirtlike`,
          `nft add chain ip libvirtlike postrouting '{ type nat hook postrouting priority srcnat; }'`,
          `nft add rule ip libvirtlike postrouting ip saddr ${NET}.0/24 ip daddr != ${NET}.0/24 masquerade`,
        ].join(" && "),
      );
      inGuest("ip link set lo up && ip link set eth0 up");
      peers.push(
        p.server.spawn(
          `exec dnsmasq -k --conf-file=/dev/null --bind-interfaces --interface=virbr0 --except-interface=lo --listen-address=${NET}.1 --dhcp-range=${NET}.10,${NET}.20,1h --dhcp-leasefile=/dev/null --no-resolv --no-hosts --address=/peer.hnft.test/${p.client.ipv4} -u root`,
        ),
      );
      await waitListening(p.server, "udp", 67);
      peers.push(bannerServer(p.client, EGRESS, "HNFT-PEER"));
      await waitListening(p.client, "tcp", EGRESS);
    }, 120_000);

    afterAll(async () => {
      for (const s of peers) await s.stop();
      peers = [];
      try {
        if (guest) execFileSync("ip", ["netns", "delete", guest]);
      } finally {
        await destroyProofLab(p, "proof-libvirt");
      }
      expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(guest);
    });

    it("the guest gets its lease, resolves through dnsmasq and reaches a lab peer; without the dns exposure it cannot resolve", async () => {
      const applied = await applyToServer(p, policy(true));
      expect(applied.artefacts.nft).toContain(`iifname "virbr0" udp dport 53 counter accept`);
      const lease = inGuest("busybox udhcpc -i eth0 -n -q -f -t 4 -T 1 -s /bin/true");
      const address = /lease of (\S+) obtained/.exec(lease)?.[1];
      expect(address, lease).toMatch(new RegExp(`^${NET.replace(/\./g, "\\.")}\\.(1\\d|20)$`));
      inGuest(`ip addr add ${address}/24 dev eth0 && ip route add default via ${NET}.1`);
      expect(inGuest(`busybox nslookup peer.hnft.test ${NET}.1`)).toContain(p.client.ipv4);
      expect(inGuest(`busybox nc -w 3 ${p.client.ipv4} ${EGRESS} </dev/null`)).toContain("HNFT-PEER");

      await applyToServer(p, policy(false));
      expect(inGuest(`busybox timeout 4 busybox nslookup peer.hnft.test ${NET}.1`)).not.toContain(p.client.ipv4);
      p.controls.push({
        test: "dns exposure on virbr0",
        change: "applied without it",
        observed: "the guest's lookup through dnsmasq failed",
      });
    }, 90_000);
  },
);
