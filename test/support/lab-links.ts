/**
 * Extra interfaces and addresses for lab hosts (issue 19's proofs: a server with a public and a
 * private interface, several addresses on one). A private link is a veth pair created directly
 * between two lab namespaces, so nothing is added to the machine's own namespace and it goes
 * away with the lab's namespaces. Addresses stay inside 198.18.0.0/15.
 */
import * as path from "node:path";
import type { LabHost } from "./lab";

/** The Python these helpers run (with the peers' scripts). */
const SCRIPTS = path.join(__dirname, "peers", "scripts");

export interface PrivateLink {
  /** Interface name on both ends. */
  readonly ifname: string;
  readonly a: { readonly host: LabHost; readonly ipv4: string };
  readonly b: { readonly host: LabHost; readonly ipv4: string };
  /** The private network, e.g. 198.19.<slot>.0/24. */
  readonly network: string;
}

/** A point-to-point private network between two lab hosts: `ifname` on both, 198.19.<slot>.1 and .2/24. */
export async function linkPrivately(a: LabHost, b: LabHost, slot: number, ifname = "eth1"): Promise<PrivateLink> {
  const [aIp, bIp] = [`198.19.${slot}.1`, `198.19.${slot}.2`];
  await a.sh(
    [
      `ip link add ${ifname} netns ${a.netns} type veth peer name ${ifname} netns ${b.netns}`,
      `ip addr add ${aIp}/24 dev ${ifname}`,
      `ip link set ${ifname} up`,
      `ip -n ${b.netns} addr add ${bIp}/24 dev ${ifname}`,
      `ip -n ${b.netns} link set ${ifname} up`,
    ].join(" && "),
  );
  return { ifname, a: { host: a, ipv4: aIp }, b: { host: b, ipv4: bIp }, network: `198.19.${slot}.0/24` };
}

/** Adds `address` (with its prefix length) to `dev` of `host`. */
export async function addAddress(host: LabHost, address: string, dev = "eth0"): Promise<void> {
  await host.sh(`ip addr add ${address} dev ${dev}`);
}

/**
 * The kernel's own reverse-path filter (rp_filter) of the host's namespace, off, so that what the
 * proofs observe is the table's fib rule and nothing else (new namespaces start with 0; this makes
 * it explicit on every interface).
 */
export async function kernelRpFilterOff(host: LabHost): Promise<void> {
  await host.sh('for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done');
}

/** A Python one-shot run on a lab host that prints one JSON line. */
async function pyJson<T>(
  host: LabHost,
  script: string,
  args: readonly (string | number)[],
  timeoutMs = 20_000,
): Promise<T> {
  const quoted = args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(" ");
  const r = await host.sh(`python3 ${script} ${quoted}`, { timeoutMs });
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
}

const CONNECT = path.join(SCRIPTS, "lab-connect.py");

export interface ConnectResult {
  /** open, reset (a TCP RST), timeout, or the errno an ICMP error gave (EHOSTUNREACH for administratively prohibited) */
  readonly result: string;
  readonly ms: number;
  readonly banner: string;
}

/** One TCP connect from `host` (optionally from source address `from`), timed. */
export function connectFrom(
  host: LabHost,
  dst: string,
  port: number,
  o: { timeoutS?: number; from?: string } = {},
): Promise<ConnectResult> {
  return pyJson<ConnectResult>(host, CONNECT, [dst, port, o.timeoutS ?? 2, o.from ?? ""]);
}

const DATAGRAM = path.join(SCRIPTS, "lab-datagram.py");

/** One UDP datagram from `host` (optionally from `from`), waiting for a reply or an ICMP error, timed. */
export function datagramFrom(
  host: LabHost,
  dst: string,
  port: number,
  o: { timeoutS?: number; from?: string } = {},
): Promise<ConnectResult> {
  return pyJson<ConnectResult>(host, DATAGRAM, [dst, port, o.timeoutS ?? 2, o.from ?? ""]);
}

/** A TCP server on every address of `host` that sends `banner` to each connection. */
export function bannerServer(host: LabHost, port: number, banner: string) {
  return host.spawn(
    `exec python3 -u ${path.join(SCRIPTS, "lab-banner-server.py")} ${port} '${banner.replace(/'/g, `'\\''`)}'`,
  );
}

/** A UDP receiver on every address of `host` that prints `RECV <source>` per datagram. */
export function datagramLog(host: LabHost, port: number) {
  return host.spawn(`exec python3 -u ${path.join(SCRIPTS, "lab-datagram-log.py")} ${port}`);
}

/** Waits until something listens on `port` (tcp or udp) in the host's namespace. */
export async function waitListening(host: LabHost, proto: "tcp" | "udp", port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await host.sh(`ss -H -ln${proto === "tcp" ? "t" : "u"} 'sport = :${port}'`, { allowFail: true });
    if (r.stdout.trim() !== "") return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`nothing listens on ${proto}/${port} on ${host.name}`);
}

const BURST = path.join(SCRIPTS, "lab-burst.py");

/** `count` TCP connects from `host` at the same moment; how many ended how (open, reset, timeout, errno). */
export function connectBurst(host: LabHost, dst: string, port: number, count: number): Promise<Record<string, number>> {
  return pyJson<Record<string, number>>(host, BURST, [dst, port, count]);
}
