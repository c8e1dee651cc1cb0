/**
 * Peers for the ICMP side-effect proofs (issue #12, part 3): a router in front of a far host,
 * traceroute, a bulk TCP transfer across a smaller-MTU link, and forged ICMP errors.
 *
 * Topology (routedPath): four lab hosts on the lab's bridge (198.18.S.0/24, 2001:2:0:S::/64).
 *   server (firewalled) --bridge-- router ==veth, MTU 1280== far
 * The router forwards (ip_forward, IPv6 forwarding); the far host sits on its own link
 * (198.19.S.0/24, 2001:2:0:fSSS::/64 with SSS the slot in three digits: inside 198.18.0.0/15 and
 * 2001:2::/48, and no lab slot uses those) and its bridge interface is down, so the server reaches
 * it only through the router. Both ends of the veth live in lab namespaces: it disappears with
 * them when the lab is destroyed, so there is nothing else to clean up.
 *
 * The router-far link has MTU 1280 (IPv6's minimum). The far host stands for a host on a
 * 1500-byte network behind that link: its route back advertises the MSS such a host would
 * (`advmss` 1460 / 1440), so the server's full-size segments meet the small link at the router,
 * which answers with ICMP fragmentation-needed (IPv4, DF is set) or packet-too-big (IPv6).
 *
 * Tools: traceroute (Debian's `traceroute` 2.1: UDP probes to 33434+; the far host's port
 * unreachable ends it), /usr/bin/python3 for the transfer and for forging ICMP errors.
 */
import * as path from "node:path";
import type { LabHost } from "../lab";
import { makeHandle, type PeerHandle, type PeerHost, PYTHON, runIn, startProc, startUntilReady } from "./core";

export interface RoutedPath {
  router: LabHost;
  far: LabHost;
  /** the far host's addresses on the small-MTU link */
  farIpv4: string;
  farIpv6: string;
  /** the router's addresses on the bridge (the first hop seen from the server) */
  routerIpv4: string;
  routerIpv6: string;
  mtu: number;
}

export async function routedPath(server: LabHost, router: LabHost, far: LabHost, slot: number): Promise<RoutedPath> {
  const mtu = 1280;
  const v4 = `198.19.${slot}`;
  const v6 = `2001:2:0:f${String(slot).padStart(3, "0")}`;
  const r = "hnftr0";
  const f = "hnftf0";
  // the veth is created in the router's namespace and its peer moved into the far host's
  await router.sh(
    [
      "set -e",
      `ip link add ${r} mtu ${mtu} type veth peer name ${f} mtu ${mtu} netns ${far.netns}`,
      // no DAD on the new link: a tentative link-local address delays the first neighbour
      // discovery by about a second, and the first probe of a test would go unanswered
      `sysctl -qw net.ipv6.conf.${r}.accept_dad=0`,
      `ip addr add ${v4}.1/24 dev ${r}`,
      `ip addr add ${v6}::1/64 dev ${r} nodad`,
      `ip link set ${r} up`,
      "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
    ].join("\n"),
  );
  await far.sh(
    [
      "set -e",
      "ip link set eth0 down",
      `sysctl -qw net.ipv6.conf.${f}.accept_dad=0`,
      `ip addr add ${v4}.2/24 dev ${f}`,
      `ip addr add ${v6}::2/64 dev ${f} nodad`,
      `ip link set ${f} up`,
      `ip route add default via ${v4}.1 dev ${f} advmss 1460`,
      `ip -6 route add default via ${v6}::1 dev ${f} advmss 1440`,
    ].join("\n"),
  );
  await server.sh(
    [`ip route add ${v4}.0/24 via ${router.ipv4}`, `ip -6 route add ${v6}::/64 via ${router.ipv6}`].join("\n"),
  );
  // the link works both ways before any test uses it (and the neighbour caches are filled): the
  // far host answers a probe from the router (no ping in the lab's packages: traceroute, 1 hop)
  for (const addr of [`${v4}.2`, `${v6}::2`]) {
    const t = await traceroute(router, addr, { maxHops: 1, waitSec: 5 });
    if (t.hops[0] !== addr)
      throw new Error(`routedPath: the far host ${addr} does not answer the router:\n${t.output}`);
  }
  return {
    router,
    far,
    farIpv4: `${v4}.2`,
    farIpv6: `${v6}::2`,
    routerIpv4: router.ipv4,
    routerIpv6: router.ipv6,
    mtu,
  };
}

export interface TracerouteResult {
  /** one entry per hop: the address that answered, or "*" */
  hops: string[];
  output: string;
}

export async function traceroute(
  from: PeerHost,
  addr: string,
  opts: { maxHops?: number; waitSec?: number } = {},
): Promise<TracerouteResult> {
  const argv = [
    "traceroute",
    ...(addr.includes(":") ? ["-6"] : ["-4"]),
    "-n",
    "-q",
    "1",
    "-w",
    String(opts.waitSec ?? 1),
    "-m",
    String(opts.maxHops ?? 2),
    addr,
  ];
  const r = await runIn(from, argv, { timeoutMs: 30_000, label: `traceroute@${from.name}` });
  const hops = r.stdout
    .split("\n")
    .map((l) => /^\s*\d+\s+(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => m[1]!);
  return { hops, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Drops the server's learned path MTUs (IPv4 next-hop exceptions, IPv6 cached routes). */
export async function flushPathMtu(host: PeerHost): Promise<void> {
  await host.sh("ip route flush cache; ip -6 route flush cache");
}

/** The path MTU the host has learned towards addr (`ip route get`), or null when none is cached. */
export async function learnedMtu(host: PeerHost, addr: string): Promise<number | null> {
  const r = await host.sh(`ip ${addr.includes(":") ? "-6 " : ""}route get ${addr}`);
  const m = /\bmtu (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

const SINK_SCRIPT = path.join(__dirname, "scripts", "icmp-tcp-sink.py");

const SEND_SCRIPT = path.join(__dirname, "scripts", "icmp-send.py");

export interface SinkHandle extends PeerHandle {
  /** transfers received so far */
  received(): Array<{ from: string; bytes: number; sha256: string }>;
}

/** A TCP sink on the far host: reads each connection to its end and reports its size and hash. */
export async function tcpSink(host: PeerHost, addr: string, port: number): Promise<SinkHandle> {
  const { proc, stop } = await startUntilReady(host, [PYTHON, SINK_SCRIPT, addr, String(port)], {
    cwd: "/",
    label: `tcp-sink@${host.name}`,
  });
  return {
    received: () =>
      proc
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { from: string; bytes: number; sha256: string }),
    stop,
  };
}

export interface BulkSendResult {
  ok: boolean;
  bytes: number;
  sha256: string;
  /** the MSS the connection started with (from the far host's SYN-ACK) */
  mss?: number;
  /** the path MTU the socket ended with */
  pathMtu: number | null;
  error?: string;
}

/** Connects from `from` to addr:port and sends `size` random bytes (a tracked outbound TCP connection). */
export async function bulkSend(
  from: PeerHost,
  addr: string,
  port: number,
  size: number,
  timeoutSec: number,
): Promise<BulkSendResult> {
  const r = await runIn(from, [PYTHON, SEND_SCRIPT, addr, String(port), String(size), String(timeoutSec)], {
    timeoutMs: timeoutSec * 1000 + 10_000,
    label: `bulk-send@${from.name}`,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`bulk-send on ${from.name}: no result (exit ${r.code})\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line) as BulkSendResult;
}

// ---------------------------------------------------------------- forged ICMP errors

/**
 * Watcher on the firewalled host: sends one UDP datagram per family from `sport` to the peer's
 * `dport` (conntrack then tracks that flow), prints READY, then reports every ICMP/ICMPv6
 * destination-unreachable with the forged code (administratively prohibited: 13 for ICMP, 1 for
 * ICMPv6; the peer's own port-unreachable for the datagram has another code) that reaches a raw
 * socket, i.e. that the table let in. It ends when it has seen the related error for both families
 * (their embedded destination port is `dport`) or after `timeout` seconds.
 */
const WATCH_SCRIPT = path.join(__dirname, "scripts", "icmp-watch.py");

/** Forger on the other host: ICMP errors "about" a UDP packet server:sport -> me:dport. */
const FORGE_SCRIPT = path.join(__dirname, "scripts", "icmp-forge.py");

export interface IcmpErrorProbe {
  /** the forged errors that reached the watcher's raw sockets, in arrival order */
  seen: Array<{ family: 4 | 6; dport: number }>;
}

/**
 * The watcher on `server` opens a UDP flow server:sport -> attacker:trackedPort (v4 and v6); the
 * forger on `attacker` then sends, in this order, destination-unreachable errors about
 * server:sport -> attacker:unrelatedPort (no such flow) and about the tracked flow, for both
 * families. Both travel the same link in order, so once the related error has arrived the
 * unrelated one, sent before it, either arrived too or was dropped.
 */
export async function forgedIcmpErrors(
  server: PeerHost,
  attacker: PeerHost,
  o: { sport: number; trackedPort: number; unrelatedPort: number; timeoutSec: number },
): Promise<IcmpErrorProbe> {
  const watch = startProc(
    server,
    [PYTHON, WATCH_SCRIPT, attacker.ipv4, attacker.ipv6, String(o.sport), String(o.trackedPort), String(o.timeoutSec)],
    {
      cwd: "/",
      label: `icmp-watch@${server.name}`,
    },
  );
  const stop = makeHandle([watch], []);
  try {
    await watch.waitLine(/^READY$/, 10_000);
    const forged = await runIn(
      attacker,
      [
        PYTHON,
        FORGE_SCRIPT,
        server.ipv4,
        server.ipv6,
        attacker.ipv4,
        attacker.ipv6,
        String(o.sport),
        `${o.unrelatedPort},${o.trackedPort}`,
      ],
      { timeoutMs: 10_000, label: `icmp-forge@${attacker.name}` },
    );
    if (!forged.stdout.includes("SENT"))
      throw new Error(`icmp-forge on ${attacker.name} failed (exit ${forged.code}):\n${forged.stderr}`);
    const done = await watch.exited;
    const line = done.stdout.split("\n").find((l) => l.startsWith("{"));
    if (!line)
      throw new Error(`icmp-watch on ${server.name}: no result (exit ${done.code})\n${done.stdout}\n${done.stderr}`);
    return JSON.parse(line) as IcmpErrorProbe;
  } finally {
    await stop();
  }
}
