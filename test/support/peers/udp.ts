import * as os from "node:os";
import { agent, agentOnce } from "./agent";
import { addrOf, type PeerHandle, type PeerHost, startUntilReady, type Target } from "./core";

export interface UdpEchoHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  /** datagrams received so far */
  received(): Array<{ from: string; port: number; bytes: number }>;
}

export async function udpEchoListener(
  host: PeerHost,
  port: number,
  opts: { ipv6?: boolean } = {},
): Promise<UdpEchoHandle> {
  const address = opts.ipv6 ? host.ipv6 : host.ipv4;
  const { proc, stop } = await startUntilReady(host, agent("udp-echo", address, port), {
    cwd: os.tmpdir(),
    label: `udp-echo@${host.name}:${port}`,
  });
  return {
    host,
    address,
    port,
    received: () =>
      proc
        .stdout()
        .split("\n")
        .map((l) => /^RECV (\S+) (\d+) (\d+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ from: m[1]!, port: Number(m[2]), bytes: Number(m[3]) })),
    stop,
  };
}

export interface SendUdpResult {
  sent: boolean;
  localPort: number;
  /** the echo/reply, null if none arrived within waitMs */
  reply: string | null;
  /** ICMP port unreachable came back */
  refused: boolean;
}

/** One datagram from client to server:port; waits waitMs (default 1000) for a reply. */
export async function sendUdp(
  client: PeerHost,
  server: Target,
  port: number,
  payload: string,
  opts: { ipv6?: boolean; waitMs?: number; sourcePort?: number } = {},
): Promise<SendUdpResult> {
  const addr = addrOf(server, opts.ipv6 ?? false);
  const waitMs = opts.waitMs ?? 1000;
  return agentOnce<SendUdpResult>(
    client,
    "send-udp",
    waitMs + 10_000,
    "send-udp",
    addr,
    port,
    payload,
    waitMs,
    opts.sourcePort ?? 0,
  );
}
