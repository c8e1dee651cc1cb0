/**
 * Proof (issue 20): a real Docker daemon (Debian's docker.io) on a lab host, with the table
 * APPLIED THROUGH THE HOST API over SSH, and real connections from lab peers.
 *
 * dockerd runs only inside the server's network namespace, entered with `nsenter --net` (not
 * `ip netns exec`, which remounts /sys and hides the cgroup mounts dockerd needs), with its own
 * data root, exec root, socket and pid file, the vfs driver, and docker0 on 198.18.251.0/24: the
 * lab allocates slots 1..250 of 198.18.<slot>.0/24, so 251 is never a lab network, and docker0 only
 * exists inside the server's namespace. The image is a busybox-static root filesystem imported
 * with `docker import` (no registry is reachable). afterAll stops dockerd and its containerd,
 * unmounts and removes everything, also after a failure, and asserts this machine's own namespace
 * kept no nft table and forwarding off.
 *
 * What is proved:
 * - a published port with an exposure answers the exposure's source and not the attacker; a
 *   published port with no exposure answers nobody; with forward policy accept the attacker gets
 *   through (the bypass, reproduced), and the drop policy closes it again;
 * - an exposure's per-source limit holds on its published port: a burst over the rate from the
 *   attacker (an admitted source here) is cut to the bucket, counted by the forward chain's limit
 *   rule, while the client's new connections keep opening; the same burst without the limit all opens;
 *   a source's budget is one for the host's own port (input) and the published port (forward), and
 *   `connections` counts concurrent connections to a container (negative control without it);
 * - a container reaches a lab peer outside (routed: docker0 to eth0, Docker's masquerade), and two
 *   containers on docker0 reach each other (bridged: it crosses the inet forward hook because
 *   br_netfilter's bridge-nf-call-iptables is 1 in the lab namespace); negative control: with
 *   docker0 not declared (guestInterfaces names another interface, the override of the refusal)
 *   both fail, so the positive checks are not vacuous;
 * - dockerd restarted and a new container started: our table still works and shows no drift;
 * - an apply of ours keeps an established connection to a container.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
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
import { bannerServer, connectBurst, waitListening } from "../support/lab-links";
import { requireRoot } from "../support/privileges";
import {
  applyToServer,
  createProofLab,
  destroyProofLab,
  flushConntrack,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const DOCKER = "/usr/bin/docker";
const BIP = "198.18.251.1/24";
const EXPOSED = 8080;
const UNEXPOSED = 8081;
const LATER = 8082;
const ECHO = 8083;
const EGRESS = 7100;
const IMAGE = "hnft/busybox:1";

describe.runIf(
  requireRoot("proof docker", ["ip", "nft", "sshd", "python3", "nsenter", "dockerd", "containerd", "busybox"]),
)("proof: Docker's published ports obey the exposures; its guests keep their network", () => {
  let p: ProofLab;
  let root: string;
  let daemon: ChildProcess | undefined;
  let peers: LabProcess[] = [];
  let sock: string;

  const docker = (...args: string[]): string =>
    execFileSync(DOCKER, ["-H", `unix://${sock}`, ...args], { encoding: "utf8", timeout: 60_000 }).trim();
  /** A command in a container that may fail: its output, whatever its exit status. */
  const dockerTry = (...args: string[]): string => outputOf(() => docker(...args));

  async function startDockerd(): Promise<void> {
    const dirs = { data: path.join(root, "data"), exec: path.join(root, "x") };
    daemon = spawn(
      "nsenter",
      [
        `--net=/var/run/netns/${p.server.netns}`,
        "dockerd",
        "--data-root",
        dirs.data,
        "--exec-root",
        dirs.exec,
        "-H",
        `unix://${sock}`,
        "--pidfile",
        path.join(root, "dockerd.pid"),
        "--storage-driver",
        "vfs",
        "--bip",
        BIP,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    daemon.stderr?.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    for (let i = 0; i < 150; i++) {
      try {
        docker("info", "--format", "{{.ServerVersion}}");
        return;
      } catch {
        if (daemon.exitCode !== null) throw new Error(`dockerd exited: ${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`dockerd not ready after 30 s: ${log}`);
  }

  async function stopDockerd(): Promise<void> {
    const d = daemon;
    daemon = undefined;
    if (!d || d.exitCode !== null) return;
    const gone = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))]);
    if (d.exitCode === null) d.kill("SIGKILL");
  }

  const policy = (forward: "drop" | "accept", guests = ["docker0"]): ProofPolicy =>
    guestsPolicy(forward, guests, [
      { name: "app", protocol: "tcp", ports: EXPOSED, sources: [p.client.ipv4] },
      { name: "echo", protocol: "tcp", ports: ECHO, sources: [p.client.ipv4] },
    ]);

  beforeAll(async () => {
    p = await createProofLab("proof-docker");
    root = `/run/hnftdk${p.lab.slot}`;
    sock = path.join(root, "docker.sock");
    mkdirSync(root, { recursive: true });
    await startDockerd();
    const rootfs = path.join(root, "rootfs");
    busyboxRootfs(rootfs, "HNFT-CONTAINER");
    execFileSync("sh", ["-c", `tar -C '${rootfs}' -c . | ${DOCKER} -H unix://${sock} import - ${IMAGE}`]);
    docker("run", "-d", "--name", "web", "-p", `${EXPOSED}:80`, IMAGE, "/bin/httpd", "-f", "-p", "80", "-h", "/www");
    docker(
      "run",
      "-d",
      "--name",
      "hidden",
      "-p",
      `${UNEXPOSED}:80`,
      IMAGE,
      "/bin/httpd",
      "-f",
      "-p",
      "80",
      "-h",
      "/www",
    );
    docker("run", "-d", "--name", "echo", "-p", `${ECHO}:81`, IMAGE, "/bin/nc", "-ll", "-p", "81", "-e", "/bin/cat");
    peers.push(bannerServer(p.client, EGRESS, "HNFT-PEER"));
    await waitListening(p.client, "tcp", EGRESS);
  }, 180_000);

  afterAll(async () => {
    for (const s of peers) await s.stop();
    peers = [];
    try {
      await stopDockerd();
    } finally {
      if (root) removeRuntimeRoot(root);
      await destroyProofLab(p, "proof-docker");
    }
    // dockerd ran only in the lab namespace: this machine's own namespace is as it was
    expectHostNamespaceUntouched(root);
  }, 120_000);

  const reach = (who: "client" | "attacker", port: number) => reachFrom(p)(who, port);

  it("a published port with an exposure answers its source, not the attacker; without one, nobody; forward accept is the bypass", async () => {
    await provePublishedPorts(p, policy, { exposed: EXPOSED, unexposed: UNEXPOSED, unexposedClosedAgain: false });
  }, 120_000);

  it("a container reaches a lab peer, and two containers on docker0 reach each other", async () => {
    await applyToServer(p, policy("drop"));
    const hiddenIp = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "hidden");
    const paths = guestPaths(docker, { peer: p.client.ipv4, port: EGRESS, hiddenIp, waitS: 3 });
    expect(paths.toPeer()).toContain("HNFT-PEER");
    expect(hiddenIp).toMatch(/^198\.18\.251\./);
    // busybox-static's wget dies without an /etc in the image: a plain HTTP request through nc
    expect(paths.toContainer()).toContain("HNFT-CONTAINER");
    // the host's own exposure is unchanged
    expect(await reach("client", 22)).toBe("open");
  }, 60_000);

  it("negative control: docker0 not declared (the refusal overridden), a container reaches neither the lab peer nor the other container", async () => {
    // bridged traffic between containers reaches the inet forward hook only through br_netfilter
    expect((await p.server.sh("cat /proc/sys/net/bridge/bridge-nf-call-iptables")).stdout.trim()).toBe("1");
    const hiddenIp = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "hidden");
    const paths = guestPaths(dockerTry, { peer: p.client.ipv4, port: EGRESS, hiddenIp, waitS: 2 });
    // guestInterfaces names an interface this host does not have: the apply's refusal is overridden
    // and forward drops what docker0 sends
    await proveGuestsCutOffUndeclared(p, (guests) => policy("drop", guests), paths, {
      bridge: "docker0",
      banner: "HNFT-CONTAINER",
      containerAgain: true,
    });
  }, 60_000);

  it("an exposure's limit holds on its published port: over the rate the attacker is dropped, the client keeps connecting", async () => {
    const BURST = 10;
    const limited = (limit?: Record<string, unknown>): ProofPolicy =>
      guestsPolicy(
        "drop",
        ["docker0"],
        [
          {
            name: "app",
            protocol: "tcp",
            ports: EXPOSED,
            sources: [p.client.ipv4, p.attacker.ipv4],
            ...(limit ? { limit } : {}),
          },
        ],
      );
    const overLimitPackets = async (): Promise<number> => {
      const listing = (await p.server.sh(`nft list chain inet ${PROOF_TABLE} forward`)).stdout;
      const line = listing.split("\n").find((l) => l.includes("also when DNATed to a guest, over limit"));
      return Number(/counter packets (\d+)/.exec(line ?? "")?.[1] ?? Number.NaN);
    };
    // negative control: the same burst without the limit opens every connection
    await applyToServer(p, limited());
    await flushConntrack(p.server);
    const free = await connectBurst(p.attacker, p.server.ipv4, EXPOSED, BURST);
    expect(free).toEqual({ open: BURST });

    const applied = await applyToServer(p, limited({ rate: "1/minute", burst: 3 }));
    expect(applied.artefacts.nft).toContain(
      `ct status dnat ip saddr @app_v4 meta l4proto tcp ct original proto-dst ${EXPOSED} ct state new update @app_rate_v4 { ip saddr limit rate over 1/minute burst 3 packets } counter drop`,
    );
    await flushConntrack(p.server);
    const over = await connectBurst(p.attacker, p.server.ipv4, EXPOSED, BURST);
    console.info(`published port, limit 1/minute burst 3: attacker's burst of ${BURST}: ${JSON.stringify(over)}`);
    // the bucket starts full with the burst (3) and refills one a minute: the rest are dropped
    expect(over).toEqual({ open: 3, timeout: BURST - 3 });
    // dropped by the forward chain's limit rule, not by anything else
    expect(await overLimitPackets()).toBeGreaterThanOrEqual(BURST - 3);
    // the client's budget is its own: its new connections keep opening
    for (let i = 0; i < 3; i++) expect(await reach("client", EXPOSED), `client connection ${i + 1}`).toBe("open");
    expect(await reach("attacker", EXPOSED), "the attacker is still over its rate").toBe("timeout");
    p.controls.push({
      test: "limit on a published port",
      change: "applied the exposure without its limit",
      observed: `the attacker's burst of ${BURST}: ${JSON.stringify(free)}; with the limit: ${JSON.stringify(over)}`,
    });
  }, 90_000);

  it("the host's own port and the published port share a source's budget; concurrent connections to a container are counted", async () => {
    const HOSTPORT = 7200;
    const sources = [p.client.ipv4, p.attacker.ipv4];
    const host = bannerServer(p.server, HOSTPORT, "HNFT-HOST");
    try {
      await waitListening(p.server, "tcp", HOSTPORT);
      await applyToServer(
        p,
        guestsPolicy(
          "drop",
          ["docker0"],
          [
            // tcp/7200 is served by the host (input), tcp/8080 by a container (forward): one exposure
            {
              name: "app",
              protocol: "tcp",
              ports: [HOSTPORT, EXPOSED],
              sources,
              limit: { rate: "1/minute", burst: 3 },
            },
            { name: "echo", protocol: "tcp", ports: ECHO, sources, limit: { connections: 2 } },
          ],
        ),
      );
      await flushConntrack(p.server);
      // the attacker spends its burst on the host's own port, then the container's is over the rate
      for (let i = 0; i < 3; i++) expect(await reach("attacker", HOSTPORT), `host port ${i + 1}`).toBe("open");
      expect(await reach("attacker", EXPOSED), "published port: the same budget, spent").toBe("timeout");
      expect(await reach("client", EXPOSED), "another source's budget").toBe("open");

      // ct count: two held connections to the echo container, the third is refused, another source's opens
      const held = p.attacker.spawn(
        `exec python3 -u -c '
import socket, time
s = [socket.create_connection(("${p.server.ipv4}", ${ECHO}), timeout=5) for _ in range(2)]
print("HELD", len(s), flush=True)
time.sleep(60)
'`,
      );
      try {
        await new Promise((r) => setTimeout(r, 1500));
        expect(await reach("attacker", ECHO), "a third concurrent connection").toBe("timeout");
        expect(await reach("client", ECHO)).toBe("open");
      } finally {
        await held.stop();
      }
      // negative control: the same two held connections without the limit leave room for a third
      await applyToServer(
        p,
        guestsPolicy("drop", ["docker0"], [{ name: "echo", protocol: "tcp", ports: ECHO, sources }]),
      );
      await flushConntrack(p.server);
      const again = p.attacker.spawn(
        `exec python3 -u -c '
import socket, time
s = [socket.create_connection(("${p.server.ipv4}", ${ECHO}), timeout=5) for _ in range(2)]
time.sleep(60)
'`,
      );
      try {
        await new Promise((r) => setTimeout(r, 1500));
        expect(await reach("attacker", ECHO), "without the limit: a third connection").toBe("open");
      } finally {
        await again.stop();
      }
      p.controls.push({
        test: "connections limit on a published port",
        change: "applied the echo exposure without limit.connections",
        observed: "with two held connections the attacker's third opened",
      });
    } finally {
      await host.stop();
    }
  }, 90_000);

  it("dockerd restarted and a new container: our table works and shows no drift", async () => {
    await applyToServer(p, policy("drop"));
    await stopDockerd();
    await startDockerd();
    docker("start", "web", "hidden", "echo");
    docker("run", "-d", "--name", "later", "-p", `${LATER}:80`, IMAGE, "/bin/httpd", "-f", "-p", "80", "-h", "/www");
    await expectNoDrift(p, policy("drop"));
    expect(await reach("client", EXPOSED)).toBe("open");
    expect(await reach("attacker", EXPOSED)).toBe("timeout");
    expect(await reach("client", LATER)).toBe("timeout");
  }, 120_000);

  it("probe sees docker0; apply refuses, before anything changes, a forward drop without guestInterfaces", async () => {
    await applyToServer(p, policy("drop"));
    // docker0, with the chain dockerd made as its evidence (probe reads the runtimes' own tables too)
    const facts = await probeHost(connectionFor(p.server));
    expect(facts.runtimeTables.map((t) => t.runtime)).toContain("Docker");
    expect(guestInterfacesOf(facts)).toContainEqual({
      name: "docker0",
      runtime: "Docker",
      evidence: expect.stringMatching(/^(table ip6?|ip6?tables-legacy table) nat chain DOCKER$/),
    });
    const { err, before, after } = await applyWithoutGuests(p);
    expect(err).toBeInstanceOf(GuestsCutOffError);
    expect((err as Error).message).toMatch(/docker0 \(Docker: (table ip6?|ip6?tables-legacy table) nat chain DOCKER\)/);
    expect((err as Error).message).toContain("forward.guestInterfaces");
    expect(after).toBe(before);
    expect(await reach("client", EXPOSED)).toBe("open");
    // forward accept is an explicit choice: applied
    expect((await applyToServer(p, policy("accept"))).changed).toBe(true);
  }, 60_000);

  it("an apply of ours keeps an established connection to a container", async () => {
    await applyToServer(p, policy("drop"));
    const go = path.join(root, "go");
    const session = p.client.spawn(
      `exec python3 -u -c '
import os, socket, sys, time
s = socket.create_connection(("${p.server.ipv4}", ${ECHO}), timeout=5)
s.sendall(b"one\\n"); print("R1", s.recv(100).decode().strip(), flush=True)
while not os.path.exists("${go}"): time.sleep(0.1)
s.sendall(b"two\\n"); print("R2", s.recv(100).decode().strip(), flush=True)
'`,
    );
    await new Promise((r) => setTimeout(r, 1500));
    // a changed policy, so the apply replaces the table
    await applyToServer(p, {
      ...policy("drop"),
      exposures: [...policy("drop").exposures, { name: "extra", protocol: "tcp", ports: 9999 }],
    });
    writeFileSync(go, "");
    const out = await session.exited;
    expect(out.stdout).toContain("R1 one");
    expect(out.stdout).toContain("R2 two");
  }, 120_000);
});
