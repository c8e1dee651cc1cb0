/**
 * Extra interfaces and addresses for lab hosts (issue 19's proofs: a server with a public and a
 * private interface, several addresses on one). A private link is a veth pair created directly
 * between two lab namespaces, so nothing is added to the machine's own namespace and it goes
 * away with the lab's namespaces. Addresses stay inside 198.18.0.0/15.
 */
import type { LabHost } from "./lab";

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
  await host.sh("for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > \"$f\"; done");
}

/** A Python one-shot run on a lab host that prints one JSON line. */
async function pyJson<T>(host: LabHost, script: string, args: readonly (string | number)[], timeoutMs = 20_000): Promise<T> {
  const quoted = args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(" ");
  const r = await host.sh(`python3 -c '${script.replace(/'/g, `'\\''`)}' ${quoted}`, { timeoutMs });
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
}

const CONNECT = `
import errno, json, socket, sys, time
dst, port, timeout, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(timeout)
if src: s.bind((src, 0))
t = time.monotonic()
banner = ""
try:
    s.connect((dst, port))
    result = "open"
    try:
        banner = s.recv(128).decode("latin-1").strip()
    except OSError:
        pass
except socket.timeout:
    result = "timeout"
except ConnectionRefusedError:
    result = "reset"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e))
print(json.dumps({"result": result, "ms": round((time.monotonic() - t) * 1000, 1), "banner": banner}))
`;

export interface ConnectResult {
  /** open, reset (a TCP RST), timeout, or the errno an ICMP error gave (EHOSTUNREACH for administratively prohibited) */
  readonly result: string;
  readonly ms: number;
  readonly banner: string;
}

/** One TCP connect from `host` (optionally from source address `from`), timed. */
export function connectFrom(host: LabHost, dst: string, port: number, o: { timeoutS?: number; from?: string } = {}): Promise<ConnectResult> {
  return pyJson<ConnectResult>(host, CONNECT, [dst, port, o.timeoutS ?? 2, o.from ?? ""]);
}

const DATAGRAM = `
import errno, json, socket, sys, time
dst, port, timeout, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(timeout)
if src: s.bind((src, 0))
s.connect((dst, port))
t = time.monotonic()
try:
    s.send(b"hnft-datagram\\n")
    s.recv(512)
    result = "reply"
except socket.timeout:
    result = "timeout"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e))
print(json.dumps({"result": result, "ms": round((time.monotonic() - t) * 1000, 1), "banner": ""}))
`;

/** One UDP datagram from `host` (optionally from `from`), waiting for a reply or an ICMP error, timed. */
export function datagramFrom(host: LabHost, dst: string, port: number, o: { timeoutS?: number; from?: string } = {}): Promise<ConnectResult> {
  return pyJson<ConnectResult>(host, DATAGRAM, [dst, port, o.timeoutS ?? 2, o.from ?? ""]);
}

/** A TCP server on every address of `host` that sends `banner` to each connection. */
export function bannerServer(host: LabHost, port: number, banner: string) {
  const script = `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", ${port})); s.listen(16)
print("READY", flush=True)
while True:
    c, a = s.accept(); c.sendall(b"${banner}\\n"); c.close()`;
  return host.spawn(`exec python3 -c '${script}'`);
}

/** A UDP receiver on every address of `host` that prints `RECV <source>` per datagram. */
export function datagramLog(host: LabHost, port: number) {
  const script = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", ${port}))
print("READY", flush=True)
while True:
    d, a = s.recvfrom(2048); print("RECV", a[0], flush=True)`;
  return host.spawn(`exec python3 -u -c '${script}'`);
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

const BURST = `
import collections, errno, json, socket, sys, threading
dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = collections.Counter()
start = threading.Barrier(count)
def attempt():
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.8)
    start.wait()
    try:
        s.connect((dst, port)); results["open"] += 1
    except socket.timeout:
        results["timeout"] += 1
    except ConnectionRefusedError:
        results["reset"] += 1
    except OSError as e:
        results[errno.errorcode.get(e.errno, str(e))] += 1
threads = [threading.Thread(target=attempt) for _ in range(count)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(dict(results)))
`;

/** `count` TCP connects from `host` at the same moment; how many ended how (open, reset, timeout, errno). */
export function connectBurst(host: LabHost, dst: string, port: number, count: number): Promise<Record<string, number>> {
  return pyJson<Record<string, number>>(host, BURST, [dst, port, count]);
}
