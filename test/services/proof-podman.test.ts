/**
 * Proof (issue 20): Podman (Debian's podman 4.3, rootful, netavark) on a lab host, with the table
 * APPLIED THROUGH THE HOST API over SSH, and real connections from lab peers.
 *
 * Every podman command runs inside the server's network namespace (`nsenter --net`, as for
 * dockerd: `ip netns exec` remounts /sys), so netavark creates podman0 and writes its iptables-nft
 * rules (`table ip nat`, `table ip filter`, chains NETAVARK-*) there and nowhere else. Its state is
 * its own: --root, --runroot, --tmpdir, --network-config-dir, runc's --root, a containers.conf
 * (CONTAINERS_CONF) with the cgroupfs manager, a file events log, and podman0 on 198.18.252.0/24
 * (lab slots are 1..250, Docker's proof uses 251). Containers run the busybox-static root
 * filesystem directly (`--rootfs`: no image, no registry). What it cannot keep to itself is
 * removed in afterAll if it was not there before: netavark's IPAM database under
 * /run/containers/networks, podman's lock segment /dev/shm/libpod_lock, the containers' network
 * namespaces under /run/netns and the cgroupfs directories libpod_parent. afterAll also asserts
 * this machine's own namespace kept no nft table and forwarding off.
 *
 * Measured here (and why the flags): crun 1.8.1 refuses this machine's hybrid cgroup layout
 * ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"), so runc is the
 * runtime; podman's default RLIMIT_NOFILE and RLIMIT_NPROC exceed what this machine lets a process
 * raise ("setrlimit `RLIMIT_NOFILE`: Operation not permitted"), so each container gets --ulimit.
 *
 * What is proved, as for Docker:
 * - a published port with an exposure answers the exposure's source and not the attacker; one with
 *   no exposure answers nobody; with forward policy accept the attacker gets through (the bypass,
 *   reproduced), and the drop policy closes it again;
 * - a container reaches a lab peer and another container (negative control: podman0 not declared,
 *   both fail);
 * - podman rewrites its rules (`podman network reload --all`, a new container): our table still
 *   works and shows no drift;
 * - probe names podman0 a Podman guest network, and apply refuses a forward drop without
 *   guestInterfaces before anything changes.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuestsCutOffError, guestInterfacesOf, probeHost } from "../../src/host";
import {
  applyWithoutGuests,
  busyboxRootfs,
  expectHostNamespaceUntouched,
  expectNoDrift,
  guestPaths,
  guestsPolicy,
  outputOf,
  proveGuestsCutOffUndeclared,
  provePublishedPorts,
  reachFrom,
  removeRuntimeRoot,
} from "../support/containers";
import { connectionFor } from "../support/host-fixtures";
import type { LabProcess } from "../support/lab";
import { bannerServer, waitListening } from "../support/lab-links";
import { requireRoot } from "../support/privileges";
import {
  applyToServer,
  createProofLab,
  destroyProofLab,
  flushConntrack,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const SUBNET = "198.18.252.0/24";
const EXPOSED = 8080;
const UNEXPOSED = 8081;
const LATER = 8082;
const EGRESS = 7100;
/** What podman writes outside its own directories; removed afterwards when it was not there before. */
const SHARED = ["/run/containers/networks", "/dev/shm/libpod_lock"];
const CGROUP_ROOT = "/sys/fs/cgroup";

/** The cgroupfs directories named libpod_parent, deepest first. */
function libpodCgroups(): string[] {
  let out = "";
  try {
    out = execFileSync("find", [CGROUP_ROOT, "-type", "d", "-path", "*/libpod_parent*"], { encoding: "utf8" });
  } catch {} // no cgroupfs here
  return out
    .split("\n")
    .filter(Boolean)
    .sort((a, b) => b.length - a.length);
}

describe.runIf(requireRoot("proof podman", ["ip", "nft", "sshd", "python3", "nsenter", "podman", "runc", "busybox"]))(
  "proof: Podman's published ports obey the exposures; its guests keep their network",
  () => {
    let p: ProofLab;
    let root: string;
    let peers: LabProcess[] = [];
    const before = {
      shared: [] as string[],
      netns: new Set<string>(),
      cgroups: false,
    };

    const podman = (...args: string[]): string =>
      execFileSync(
        "nsenter",
        [
          `--net=/var/run/netns/${p.server.netns}`,
          "podman",
          "--root",
          path.join(root, "root"),
          "--runroot",
          path.join(root, "runroot"),
          "--tmpdir",
          path.join(root, "tmp"),
          "--network-config-dir",
          path.join(root, "net"),
          "--storage-driver",
          "vfs",
          "--cgroup-manager",
          "cgroupfs",
          "--events-backend",
          "file",
          "--runtime",
          "/usr/sbin/runc",
          "--runtime-flag",
          `root=${path.join(root, "runc")}`,
          ...args,
        ],
        {
          encoding: "utf8",
          timeout: 60_000,
          env: { ...process.env, CONTAINERS_CONF: path.join(root, "containers.conf") },
        },
      ).trim();
    /** A command that may fail: its output, whatever its exit status. */
    const podmanTry = (...args: string[]): string => outputOf(() => podman(...args));
    const run = (name: string, port: number) =>
      podman(
        "run",
        "-d",
        "--name",
        name,
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "-p",
        `${port}:80`,
        "--rootfs",
        path.join(root, "rootfs"),
        "/bin/httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
      );

    /** Every process started from our directories (conmon, the containers), the mounts, then what podman shared. */
    function cleanUp(): void {
      removeRuntimeRoot(root);
      for (const name of readdirSync("/run/netns"))
        if (name.startsWith("netns-") && !before.netns.has(name))
          execFileSync("ip", ["netns", "delete", name], { stdio: "ignore" });
      for (const f of SHARED) if (!before.shared.includes(f)) rmSync(f, { recursive: true, force: true });
      if (!before.shared.includes("/run/containers/networks"))
        try {
          execFileSync("rmdir", ["/run/containers"], { stdio: "ignore" });
        } catch {} // not empty: another tool's
      if (!before.cgroups)
        for (const dir of libpodCgroups())
          try {
            execFileSync("rmdir", [dir], { stdio: "ignore" });
          } catch {} // still in use
    }

    const policy = (forward: "drop" | "accept", guests = ["podman*"]): ProofPolicy =>
      guestsPolicy(forward, guests, [{ name: "app", protocol: "tcp", ports: EXPOSED, sources: [p.client.ipv4] }]);

    beforeAll(async () => {
      before.shared = SHARED.filter((f) => existsSync(f));
      before.netns = new Set(readdirSync("/run/netns"));
      before.cgroups = libpodCgroups().length > 0;
      p = await createProofLab("proof-podman");
      root = `/run/hnftpm${p.lab.slot}`;
      for (const dir of ["root", "runroot", "tmp", "net", "runc", "rootfs/bin", "rootfs/www"])
        mkdirSync(path.join(root, dir), { recursive: true });
      writeFileSync(
        path.join(root, "containers.conf"),
        [
          "[containers]",
          'netns = "bridge"',
          "[engine]",
          'cgroup_manager = "cgroupfs"',
          'events_logger = "file"',
          `events_logfile_path = "${path.join(root, "events.log")}"`,
          `tmp_dir = "${path.join(root, "tmp")}"`,
          `static_dir = "${path.join(root, "root/libpod")}"`,
          `volume_path = "${path.join(root, "root/volumes")}"`,
          "[network]",
          'network_backend = "netavark"',
          `network_config_dir = "${path.join(root, "net")}"`,
          `default_subnet = "${SUBNET}"`,
          "",
        ].join("\n"),
      );
      busyboxRootfs(path.join(root, "rootfs"), "HNFT-PODMAN");
      run("web", EXPOSED);
      run("hidden", UNEXPOSED);
      peers.push(bannerServer(p.client, EGRESS, "HNFT-PEER"));
      await waitListening(p.client, "tcp", EGRESS);
    }, 180_000);

    afterAll(async () => {
      for (const s of peers) await s.stop();
      peers = [];
      try {
        if (root) podmanTry("rm", "-f", "-t", "0", "-a");
      } finally {
        if (root) cleanUp();
        await destroyProofLab(p, "proof-podman");
      }
      // podman ran only in the lab namespace: this machine's own namespace is as it was
      expectHostNamespaceUntouched(root);
      for (const f of SHARED) if (!before.shared.includes(f)) expect(existsSync(f), f).toBe(false);
    }, 120_000);

    const reach = (who: "client" | "attacker", port: number) => reachFrom(p)(who, port);

    it("podman publishes through netavark's DNAT on podman0, in the lab namespace only", async () => {
      const ruleset = (await p.server.sh("nft list ruleset")).stdout;
      expect(ruleset).toMatch(new RegExp(`tcp dport ${EXPOSED} .*dnat to 198\\.18\\.252\\.\\d+:80`));
      expect(ruleset).toContain("NETAVARK_FORWARD");
      expect((await p.server.sh("ip -br link show podman0")).stdout).toContain("podman0");
      expect(execFileSync("nft", ["list", "tables"], { encoding: "utf8" }).trim()).toBe("");
    });

    it("a published port with an exposure answers its source, not the attacker; without one, nobody; forward accept is the bypass", async () => {
      await provePublishedPorts(p, policy, { exposed: EXPOSED, unexposed: UNEXPOSED, unexposedClosedAgain: true });
    }, 120_000);

    it("a container reaches a lab peer and another container; with podman0 not declared, neither", async () => {
      const hiddenIp = podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "hidden");
      expect(hiddenIp).toMatch(/^198\.18\.252\./);
      const paths = guestPaths(podmanTry, { peer: p.client.ipv4, port: EGRESS, hiddenIp, waitS: 2 });
      await applyToServer(p, policy("drop"));
      expect(paths.toPeer()).toContain("HNFT-PEER");
      expect(paths.toContainer()).toContain("HNFT-PODMAN");
      // negative control: guestInterfaces names an interface this host lacks (the refusal overridden)
      await proveGuestsCutOffUndeclared(p, (guests) => policy("drop", guests), paths, {
        bridge: "podman0",
        banner: "HNFT-PODMAN",
        containerAgain: false,
      });
    }, 90_000);

    it("podman rewrites its rules (network reload, a new container): our table works and shows no drift", async () => {
      await applyToServer(p, policy("drop"));
      const natBefore = (await p.server.sh("nft list table ip nat")).stdout;
      podman("network", "reload", "--all");
      run("later", LATER);
      const natAfter = (await p.server.sh("nft list table ip nat")).stdout;
      expect(natAfter).not.toBe(natBefore);
      expect(natAfter).toContain(`tcp dport ${LATER}`);
      await expectNoDrift(p, policy("drop"));
      await flushConntrack(p.server);
      expect(await reach("client", EXPOSED)).toBe("open");
      expect(await reach("attacker", EXPOSED)).toBe("timeout");
      expect(await reach("client", LATER)).toBe("timeout");
    }, 120_000);

    it("probe sees podman0; apply refuses, before anything changes, a forward drop without guestInterfaces", async () => {
      await applyToServer(p, policy("drop"));
      // the evidence is netavark's own table or chains (its iptables driver writes NETAVARK_* chains)
      expect(guestInterfacesOf(await probeHost(connectionFor(p.server)))).toContainEqual({
        name: "podman0",
        runtime: "Podman",
        evidence: expect.stringMatching(/netavark|NETAVARK/),
      });
      const { err, before, after } = await applyWithoutGuests(p);
      expect(err).toBeInstanceOf(GuestsCutOffError);
      expect((err as Error).message).toMatch(/podman0 \(Podman: [^)]*(netavark|NETAVARK)[^)]*\)/);
      expect(after).toBe(before);
      expect(await reach("client", EXPOSED)).toBe("open");
    }, 60_000);
  },
);
