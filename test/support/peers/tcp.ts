import * as os from "node:os";
import { agent, agentOnce } from "./agent";
import { type PeerHandle, type PeerHost, type PortState, startUntilReady } from "./core";

export interface TcpListenerHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  banner: string;
  /** peers that connected so far */
  accepted(): Array<{ from: string; port: number }>;
}

/** A TCP listener that sends a banner line to every connection and closes it. */
export async function tcpListener(
  host: PeerHost,
  port: number,
  opts: { ipv6?: boolean; banner?: string } = {},
): Promise<TcpListenerHandle> {
  const address = opts.ipv6 ? host.ipv6 : host.ipv4;
  const banner = opts.banner ?? `HNFT-LISTENER-${host.name}-${port}`;
  const { proc, stop } = await startUntilReady(host, agent("tcp-listen", address, port, banner), {
    cwd: os.tmpdir(),
    label: `tcp-listen@${host.name}:${port}`,
  });
  return {
    host,
    address,
    port,
    banner,
    accepted: () =>
      proc
        .stdout()
        .split("\n")
        .map((l) => /^ACCEPT (\S+) (\d+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ from: m[1]!, port: Number(m[2]) })),
    stop,
  };
}

export interface ProbeResult {
  state: PortState;
  /** timeout / refused / errno name */
  detail?: string;
  /** TCP: first bytes the server sent (open ports) */
  banner?: string;
  /** UDP: the reply */
  reply?: string;
  ms?: number;
}

/** open = handshake completed; closed = RST; filtered = no answer (or ICMP unreachable other than port). */
export function tcpProbe(client: PeerHost, addr: string, port: number, timeoutMs = 1500): Promise<ProbeResult> {
  return agentOnce<ProbeResult>(client, "tcp-probe", timeoutMs + 10_000, "tcp-probe", addr, port, timeoutMs);
}

/** open = a reply came back; closed = ICMP port unreachable; filtered = nothing (open|filtered). */
export function udpProbe(
  client: PeerHost,
  addr: string,
  port: number,
  timeoutMs = 1500,
  payload = "hnft-probe\n",
): Promise<ProbeResult> {
  return agentOnce<ProbeResult>(client, "udp-probe", timeoutMs + 10_000, "udp-probe", addr, port, timeoutMs, payload);
}

export interface ScanResult {
  tcp: Record<number, PortState>;
  udp: Record<number, PortState>;
}

/** Sampled scan: every port probed in parallel (64 at a time) from the client. */
export async function scan(
  client: PeerHost,
  addr: string,
  ports: { tcp?: number[]; udp?: number[]; timeoutMs?: number },
): Promise<ScanResult> {
  const timeoutMs = ports.timeoutMs ?? 800;
  const tcp = ports.tcp ?? [];
  const udp = ports.udp ?? [];
  const batches = Math.ceil((tcp.length + udp.length) / 64) || 1;
  const raw = await agentOnce<{ tcp: Record<string, PortState>; udp: Record<string, PortState> }>(
    client,
    "scan",
    batches * (timeoutMs + 2000) + 10_000,
    "scan",
    addr,
    timeoutMs,
    tcp.join(","),
    udp.join(","),
  );
  const conv = (r: Record<string, PortState>): Record<number, PortState> =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [Number(k), v])) as Record<number, PortState>;
  return { tcp: conv(raw.tcp), udp: conv(raw.udp) };
}
